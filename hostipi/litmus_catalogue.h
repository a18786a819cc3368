// Running a directory of herdtools7 POWER .litmus files through the
// explorer and the sampled emulated-power mode, against herd's expectations
// (`kvmbed bench litmus-catalogue DIR --expect=ppc.allowed`).
//
// Threading: runs on the caller's thread.
#ifndef KVMBED_HOSTIPI_LITMUS_CATALOGUE_H_
#define KVMBED_HOSTIPI_LITMUS_CATALOGUE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hostipi/power_litmus.h"

namespace kvmbed {
namespace hostipi {

struct CatalogueRow;

// RunOptions knobs of one share of a test's sampled iterations.
struct SamplingKnobs {
  double drain;  // drain_probability
  double stale;  // stale_load_probability
  double drop;   // coherence_drop_probability
  int skew;      // LitmusOptions::start_skew
  double slow;   // slow_store_probability
  bool swarm = false;  // LitmusOptions::swarm: the fields above are ignored
};
// The knob settings the catalogue splits each test's iterations over.
const std::vector<SamplingKnobs>& CatalogueKnobs();

struct CatalogueOptions {
  std::string dir;
  std::map<std::string, Verdict> expect;  // from ParseHerdAllowed
  std::set<std::string> seen_on_hardware; // from ParseHerdSeenOnHardware
  int64_t iterations = 10000;             // sampled iterations per test
                                          // (0: explorer only), split over
                                          // CatalogueKnobs()
  int64_t max_states = 300000;            // explorer states per test (0: sampled only)
  int limit = 0;                          // tests to run (0 = all), in name order
  uint64_t seed = 1;
  // Stop a test's sampling at its first interesting outcome: only seen or
  // not matters, so the budget goes to the tests not seen yet (and to the
  // forbidden ones, which must never be seen and always run in full).
  bool stop_when_seen = true;
  // Tests with an `allowed` expectation that `iterations` did not show get
  // this many more swarm iterations (seed + the number of knob settings),
  // stopping at the first sighting: the budget goes where the rare
  // allowed outcomes are. The forbidden tests get `iterations` only. 0: none.
  int64_t rare_iterations = 60000;
  // Called with each row as soon as it is done (streaming output).
  std::function<void(const CatalogueRow&)> on_row;
};

struct CatalogueRow {
  std::string name;
  Verdict expect = Verdict::kUnknown;
  bool hardware = false;  // ppc.allowed: observed on POWER hardware
  std::string explorer;   // "allowed" / "forbidden" / "limit"
  int64_t states = 0;
  bool sampled = false;   // the sampled runner could take it
  int64_t seen = 0;       // sampled: times the condition held
  int64_t iterations = 0;
  bool rare = false;      // took the rare_iterations run too
};

struct CatalogueResult {
  std::vector<CatalogueRow> rows;
  int files = 0;
  std::map<std::string, int> unsupported;  // reason -> tests
  absl::Duration wall_time;
};

absl::StatusOr<CatalogueResult> RunCatalogue(const CatalogueOptions& o);

// The counts RenderCatalogue's summary line prints.
struct CatalogueSummary {
  int files = 0, converted = 0, unsupported = 0;
  // Explorer against the expectation (tests with one, explorer run).
  int agree = 0, undecided = 0, no_expectation = 0;
  std::vector<std::string> disagreements;
  // Sampled emulated-power, tests with an expectation.
  int sampled = 0, allowed = 0, allowed_seen = 0, hardware = 0, hardware_seen = 0, forbidden = 0;
  std::vector<std::string> forbidden_seen;  // must stay empty
  std::vector<std::string> allowed_unseen;
  std::map<std::string, int> missed_families;
};
CatalogueSummary Summarize(const CatalogueResult& r);
// One line per test (the header, then FormatCatalogueRow), then the
// summary; rows=false: the summary only.
std::string RenderCatalogue(const CatalogueResult& r, bool rows = true);
std::string CatalogueHeader();
std::string FormatCatalogueRow(const CatalogueRow& row);

}  // namespace hostipi
}  // namespace kvmbed

#endif  // KVMBED_HOSTIPI_LITMUS_CATALOGUE_H_
