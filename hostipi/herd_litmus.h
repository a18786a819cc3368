// Reading POWER litmus tests in herdtools7's .litmus syntax into kvmbed's
// litmus form (power_litmus.h), and herd's ppc.allowed expectation table.
//
// Supported: 32-bit loads and stores (lwz, lwzx, stw, stwx), li, addi,
// xor (a register xor-ed with itself is 0 carrying a dependency), mr,
// cmpw/cmpwi followed by beq/bne to the very next label (a control
// dependency), lwsync, sync, isync; an init block of `T:rN=loc` and `loc=v`;
// and a final `exists` that is a conjunction of `T:rN=v` / `loc=v`. Anything
// else (eieio, lwarx/stwcx., 64-bit or indexed arithmetic beyond the
// dependency idioms, disjunctions, negations, real control flow) is
// reported as unsupported, naming the item.
//
// Threading: plain functions.
#ifndef KVMBED_HOSTIPI_HERD_LITMUS_H_
#define KVMBED_HOSTIPI_HERD_LITMUS_H_

#include <map>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "hostipi/power_litmus.h"

namespace kvmbed {
namespace hostipi {

// One .litmus file's text. Unsupported tests give kUnimplemented.
absl::StatusOr<ParsedLitmus> ConvertHerdPowerLitmus(const std::string& text);

// herdtools7's ppc.allowed table ("NAME | Ok|No ..."): the first verdict
// column (the model's) per test name.
std::map<std::string, Verdict> ParseHerdAllowed(const std::string& text);
// The same table's second column: the tests observed on POWER hardware.
std::set<std::string> ParseHerdSeenOnHardware(const std::string& text);

}  // namespace hostipi
}  // namespace kvmbed

#endif  // KVMBED_HOSTIPI_HERD_LITMUS_H_
