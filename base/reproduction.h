// The output contract every `kvmbed reproduce NAME` scenario shares: run the
// buggy kernel model until the hang, explain it, then run the fixed model
// with the same load for a budget and bound the per-operation hang
// probability (rule of three: p < 3/N at 95% when N operations stayed
// clean). pass = the buggy model hung and the fixed one did not.
//
// Scenarios fill a Reproduction; RenderReproduction/ReproductionToJson are
// the one text and JSON form the CLI prints and logs.
#ifndef KVMBED_BASE_REPRODUCTION_H_
#define KVMBED_BASE_REPRODUCTION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace kvmbed {

struct ReproductionPhase {
  bool ran = false;
  std::string kernel_model;  // e.g. "v5.3" or "kick=first"
  bool hung = false;         // the hang was detected (with its evidence)
  double seconds = 0;        // wall time of the phase
  double seconds_to_hang = 0;
  int64_t operations = 0;    // doorbells, wake-ups, unlocks... (see unit)
  int64_t operations_to_hang = 0;
  int64_t hangs = 0;         // detected hangs (LOST / deadlock), fixed must be 0
  int64_t slow = 0;          // waits past the threshold that cleared by themselves
  std::string report;        // the first hang's full report (or empty)
};

struct Reproduction {
  std::string name;        // "muxed-ipi-wakelist"
  std::string commit;      // "9fb1b36ca1"
  std::string bug;         // one line
  std::string fix;         // one line
  std::string unit = "operations";  // what `operations` counts
  ReproductionPhase buggy;
  ReproductionPhase fixed;
  std::vector<std::string> notes;  // warnings, parameters worth knowing
  // A scenario with a fuller form of its own (lost-host-ipi's model plane
  // prints its workload, threshold and per-phase counters) sets these;
  // RenderReproduction and ReproductionToJson then return them as they are.
  std::string rendered;
  nlohmann::json rendered_json;

  // 3/N for the fixed phase when it stayed clean, else 0.
  double PBound() const;
  // buggy.hung && fixed.ran && fixed.hangs == 0.
  bool Pass() const;
};

// Several lines: the buggy phase with its report, the fixed phase with
// "0 hangs in N <unit>: p < 3/N = ..." and a last line "reproduce NAME: PASS|FAIL".
std::string RenderReproduction(const Reproduction& r);
// One JSON object (for the event log and CI).
nlohmann::json ReproductionToJson(const Reproduction& r);

}  // namespace kvmbed

#endif  // KVMBED_BASE_REPRODUCTION_H_
