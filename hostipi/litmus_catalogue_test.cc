// The catalogue runner against kvmbed's own POWER litmus subset
// (hostipi/litmus_ppc, herd syntax, written for kvmbed), and, when a copy of
// herdtools7's POWER campaign is given, against the whole campaign.
#include "hostipi/litmus_catalogue.h"

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <sys/stat.h>

#include "gtest/gtest.h"
#include "hostipi/herd_litmus.h"

namespace kvmbed {
namespace hostipi {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool IsDir(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool IsFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

constexpr char kSubset[] = "hostipi/litmus_ppc";

// Every test of the subset: the explorer proves the expected verdict (no
// state limit hit), the sampled mode never shows a forbidden outcome and
// shows every allowed one (load buffering and coherence detours included).
TEST(PpcSubset, ExplorerProvesEveryVerdictAndSampledIsNeverWeaker) {
  const std::string table = ReadFile(std::string(kSubset) + "/expected");
  ASSERT_FALSE(table.empty()) << "cannot read " << kSubset << "/expected";
  CatalogueOptions o;
  o.dir = kSubset;
  o.expect = ParseHerdAllowed(table);
  o.seen_on_hardware = ParseHerdSeenOnHardware(table);
  o.iterations = 30000;
  o.max_states = 2000000;
  absl::StatusOr<CatalogueResult> r = RunCatalogue(o);
  ASSERT_TRUE(r.ok()) << r.status();
  const CatalogueSummary m = Summarize(*r);
  constexpr int kTests = 32;
  EXPECT_EQ(m.files, kTests);
  EXPECT_EQ(m.converted, kTests) << RenderCatalogue(*r);
  EXPECT_EQ(m.unsupported, 0);
  EXPECT_EQ(m.no_expectation, 0);
  EXPECT_EQ(m.agree, kTests) << RenderCatalogue(*r);
  EXPECT_EQ(m.undecided, 0);
  EXPECT_TRUE(m.disagreements.empty()) << RenderCatalogue(*r);
  EXPECT_EQ(m.sampled, kTests);
  EXPECT_TRUE(m.forbidden_seen.empty()) << RenderCatalogue(*r);
  // The run is seeded, so this is exact; the rarest (seed 1) is
  // Z6.3+lwsyncs, 25 in 30 000, then RWC+lwsync+sync, 110.
  for (const std::string& n : m.allowed_unseen) {
    ADD_FAILURE() << n << " is allowed and was never sampled\n" << RenderCatalogue(*r);
  }
  EXPECT_EQ(m.allowed, 18);
  EXPECT_EQ(m.allowed_seen, 18);
  // Families the subset must cover, each with an allowed or forbidden row.
  std::set<std::string> names;
  for (const CatalogueRow& row : r->rows) names.insert(row.name);
  for (const char* n : {"IRIW+addrs", "WRC+addrs", "WRC+lwsync+addr", "WWC", "Z6.3+lwsyncs",
                        "W+RWC+lwsyncs", "RWC+lwsync+sync", "RWC+syncs", "LB", "LB+datas",
                        "LB+ctrls", "LB+data+po", "LB+isync+po", "S+lwsync+po", "S+lwsync+data",
                        "Z6.2+po+addr+lwsync", "MP+lwsync+fri-rfi-addr", "LB+data+fri-rfi-data",
                        "MP+lwsync+addr", "MP+lwsync+ctrl", "MP+lwsync+ctrlisync",
                        "WRC+data+lwsync", "MP+lwsync+data-po-ctrlisync",
                        "MP+lwsync+addr-po-ctrlisync", "MP+lwsync+addr-posrr-addr",
                        "MP+lwsync+detour-posrr-addr", "WRC+sync+addr", "IRIW+syncs"}) {
    EXPECT_TRUE(names.count(n)) << n;
  }
}

// The whole herdtools7 POWER campaign, from a copy outside the repository:
//   bazel test //hostipi:litmus_catalogue_test --test_env=KVMBED_HERD_PPC=DIR
// DIR holding ppc.allowed and the unpacked campaign (power-tests/ or
// campaign/power-tests/). Without it the test fails, saying why.
// Sampled only (the explorer's figures come from the bench, which takes
// hours on the whole campaign).
TEST(HerdCampaign, SampledModeMeetsTheTargets) {
  const char* env = std::getenv("KVMBED_HERD_PPC");
  // Without a campaign there is nothing to measure: that is a failure, not
  // a pass (the target is manual, so CI never runs it without one).
  ASSERT_TRUE(env != nullptr && *env != '\0')
      << "no herdtools7 POWER campaign given: set KVMBED_HERD_PPC to a directory "
         "holding ppc.allowed and power-tests/ (--test_env=KVMBED_HERD_PPC=DIR)";
  const std::string base = env;
  std::string dir = base + "/power-tests";
  if (!IsDir(dir)) dir = base + "/campaign/power-tests";
  ASSERT_TRUE(IsDir(dir) && IsFile(base + "/ppc.allowed"))
      << "KVMBED_HERD_PPC=" << base << " has no ppc.allowed and power-tests/ (or campaign/power-tests/)";
  const std::string table = ReadFile(base + "/ppc.allowed");
  CatalogueOptions o;
  o.dir = dir;
  o.expect = ParseHerdAllowed(table);
  o.seen_on_hardware = ParseHerdSeenOnHardware(table);
  o.iterations = 20000;  // plus the default rare_iterations for allowed tests not seen
  o.max_states = 0;
  absl::StatusOr<CatalogueResult> r = RunCatalogue(o);
  ASSERT_TRUE(r.ok()) << r.status();
  const CatalogueSummary m = Summarize(*r);
  const std::string summary = RenderCatalogue(*r, /*rows=*/false);
  ASSERT_GT(m.sampled, 1000) << summary;
  EXPECT_TRUE(m.forbidden_seen.empty()) << summary;
  // Floors just under the measured run (README: 3 037 / 3 282 = 92.5 %
  // and 2 380 / 2 509 = 94.9 %; the run is seeded, only the per-share time
  // budget can cut it short): they catch regressions; the 95 % target is
  // not met yet (coherence detours the storage model cannot order, README
  // "The herdtools7 catalogue"). In permille.
  EXPECT_GE(m.allowed_seen * 1000, m.allowed * 924) << summary;
  EXPECT_GE(m.hardware_seen * 1000, m.hardware * 947) << summary;
}

}  // namespace
}  // namespace hostipi
}  // namespace kvmbed
