// kvmbed's own litmus format, its suite with POWER's (and, for two-CPU
// shapes, x86-TSO's) verdicts, and the bridges from a test to the
// exhaustive POWER explorer (power_model.h) and to the sampled runner
// (litmus.h).
//
// The format, one test per text:
//
//   name MP+lwsync+addr
//   P0: W x 1; lwsync; W y 1
//   P1: R y r0; R x r1 addr=r0
//   exists 1:r0=1 & 1:r1=0
//
// Instructions: `W loc value [data=rA,rB] [addr=rA]` (a store of a
// constant; data= makes it depend on registers without changing the value),
// `R loc rN [addr=rA]`, `lwsync`, `sync`, `isync`, `ctrl rN` (a conditional
// branch on rN to the next instruction: a control dependency),
// `xchg loc value rN` (relaxed atomic exchange). Locations are named by
// their first use and start at 0; registers are r0..r3 per CPU and start at
// 0. `exists` is a conjunction of `T:rN=v` and `loc=v` (final memory).
//
// Threading: plain functions.
#ifndef KVMBED_HOSTIPI_POWER_LITMUS_H_
#define KVMBED_HOSTIPI_POWER_LITMUS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "hostipi/litmus.h"
#include "hostipi/power_model.h"

namespace kvmbed {
namespace hostipi {

enum class Verdict { kAllowed, kForbidden, kUnknown };
// "allowed" / "forbidden" / "?".
const char* VerdictName(Verdict v);

struct ParsedLitmus {
  std::string name;
  power::Program program;
  struct Atom {
    int thread = -1;  // -1: a final memory location
    int index = 0;    // register or location
    int64_t value = 0;
  };
  std::vector<Atom> exists;
  // True if a final state meets every atom of `exists`.
  bool Matches(const power::Final& f) const;
};

absl::StatusOr<ParsedLitmus> ParseLitmus(const std::string& text);

struct SuiteEntry {
  std::string text;      // the test in the format above
  Verdict power;         // POWER's verdict (herdtools7's ppc.allowed, model column)
  Verdict tso;           // x86-TSO's (lwsync read as no fence, sync as mfence);
                         // kUnknown when not a two-CPU shape
};
// The suite (about 90 tests).
const std::vector<SuiteEntry>& LitmusSuite();

// The explorer's answer for one test.
struct ExploredLitmus {
  std::string name;
  bool reachable = false;   // some execution ends meeting `exists`
  power::ExploreResult result;
};
absl::StatusOr<ExploredLitmus> ExploreLitmus(const ParsedLitmus& t, int window = 8);

// The same test for the sampled runner (litmus.h): at most 4 CPUs, 6
// locations and 4 registers per CPU. Address dependencies and ctrl+isync
// become CpuMemory::LoadAfter(). Instructions are issued out of order where
// POWER allows (a later load or store before earlier pending ones, chosen
// by CpuMemory::Pick(): load buffering), never past a barrier, a
// same-location access, an unknown address or its own addr/data sources;
// a store never passes a branch whose register is unknown (ctrl).
absl::StatusOr<LitmusTest> ToSampledTest(const ParsedLitmus& t);

// The final state of the explorer that corresponds to a sampled outcome.
bool SampledOutcomeReachable(const ParsedLitmus& t, const power::ExploreResult& r,
                             const LitmusOutcome& o);

}  // namespace hostipi
}  // namespace kvmbed

#endif  // KVMBED_HOSTIPI_POWER_LITMUS_H_
