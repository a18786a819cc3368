// The one list of `kvmbed reproduce` scenarios. A new scenario is one file
// in scenarios/ plus one line here.
#include "scenarios/scenario.h"

namespace kvmbed {
namespace scenarios {

const Scenario& LostHostIpiScenario();
const Scenario& MuxedIpiWakelistScenario();
const Scenario& PvSpinlockKickScenario();
const Scenario& OfflineCsdFlushScenario();

const std::vector<const Scenario*>& Registry() {
  static const auto* registry = new std::vector<const Scenario*>{
      &LostHostIpiScenario(),       // 3a83f677, host plane
      &MuxedIpiWakelistScenario(),  // 9fb1b36ca1, host plane
      &PvSpinlockKickScenario(),    // 76eaca031f0a, guest plane
      &OfflineCsdFlushScenario(),   // 8d056c48e486, guest plane
  };
  return *registry;
}

}  // namespace scenarios
}  // namespace kvmbed
