// `kvmbed reproduce NAME | --list`.
#include "absl/strings/str_cat.h"
#include "tools/commands.h"

namespace kvmbed {

int ReproduceCommand(const std::vector<std::string>& args) {
  return BadInput("reproduce: no scenario is available in this build yet");
}

}  // namespace kvmbed
