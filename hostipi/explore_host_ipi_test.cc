#include "hostipi/explore_host_ipi.h"

#include <cstdio>

#include "gtest/gtest.h"

namespace kvmbed {
namespace hostipi {
namespace {

HostIpiExploreResult ExploreModel(const std::string& model, int cpus, int ipis) {
  HostIpiExploreOptions o;
  o.model = *KernelModel::Parse(model);
  o.cpus = cpus;
  o.ipis = ipis;
  absl::StatusOr<HostIpiExploreResult> r = ExploreLostHostIpi(o);
  EXPECT_TRUE(r.ok()) << r.status();
  std::fputs(RenderHostIpiExplore(*r).c_str(), stdout);
  return *r;
}

TEST(ExploreHostIpi, V53LosesAnIpi) {
  HostIpiExploreResult r = ExploreModel("v5.3", 2, 2);
  EXPECT_TRUE(r.lost);
}

TEST(ExploreHostIpi, V53PeekLosesAnIpi) {
  HostIpiExploreResult r = ExploreModel("v5.3,demux=peek", 2, 2);
  EXPECT_TRUE(r.lost);
}

TEST(ExploreHostIpi, V54IsProvenClean) {
  HostIpiExploreResult r = ExploreModel("v5.4", 2, 2);
  EXPECT_FALSE(r.lost);
  EXPECT_TRUE(r.complete);
}

}  // namespace
}  // namespace hostipi
}  // namespace kvmbed
