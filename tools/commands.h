// The kvmbed subcommands. Each returns the process exit code
// (base/exit_codes.h).
#ifndef KVMBED_TOOLS_COMMANDS_H_
#define KVMBED_TOOLS_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "base/exit_codes.h"

namespace kvmbed {

// `kvmbed run [PROFILE]`
int RunCommand(const std::vector<std::string>& args);
// `kvmbed bench boot|...`
int BenchCommand(const std::vector<std::string>& args);
// `kvmbed reproduce NAME | --list`
int ReproduceCommand(const std::vector<std::string>& args);
// `kvmbed report RUN.jsonl`
int ReportCommand(const std::vector<std::string>& args);
// `kvmbed profile import|export ...`
int ProfileCommand(const std::vector<std::string>& args);

// `kvmbed soak PROFILE` (tools/soak_cmd.cc)
int SoakCommand(const std::vector<std::string>& args);
// `kvmbed bench soak-overhead|soak-rss PROFILE`
int SoakBenchCommand(const std::string& which, const std::vector<std::string>& args);

// Prints "kvmbed: <message>" to stderr and returns kExitBadInput.
int BadInput(const absl::Status& status);
int BadInput(const std::string& message);

}  // namespace kvmbed

#endif  // KVMBED_TOOLS_COMMANDS_H_
