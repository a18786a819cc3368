// The profile's `hostipi:` section (RunSpec::hostipi).
#include <string>

#include "absl/strings/match.h"
#include "configs/profile.h"
#include "gtest/gtest.h"

namespace kvmbed {
namespace {

absl::StatusOr<RunSpec> Load(const std::string& hostipi) {
  ProfileOptions o;
  o.check_host_cpus = false;
  return LoadProfileFromString(
      "name: t\nvcpus: 2\nmemory: 64M\n" + hostipi, "hp.yaml", o);
}

TEST(HostIpiProfileTest, AbsentSectionLeavesThePlaneOff) {
  auto r = Load("");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->hostipi.enabled);
}

TEST(HostIpiProfileTest, FullSection) {
  auto r = Load(
      "hostipi:\n"
      "  kernel_model: v5.4,mb-after-clear=off,demux=peek\n"
      "  ordering: emulated-power\n"
      "  store_hold: 50ms\n"
      "  senders: {ksmd_threads: 2, ksmd_cpus: \"0-1\", ksmd_pause: 100us, vcpu_exit_calls: false,\n"
      "            exit_call_probability: 0.25, resched_fraction: 0.75}\n"
      "  stall_threshold: 300ms\n"
      "  resend_on_stall: true\n"
      "  seed: 7\n");
  ASSERT_TRUE(r.ok()) << r.status();
  const HostIpiSpec& h = r->hostipi;
  EXPECT_TRUE(h.enabled);  // a section without `enabled:` asks for the plane
  EXPECT_EQ(h.kernel_model.ToString(), "v5.4,mb-after-clear=off,demux=peek");
  EXPECT_FALSE(h.kernel_model.mb_after_clear);
  EXPECT_EQ(h.kernel_model.demux, hostipi::DemuxRead::kPeek);
  EXPECT_EQ(h.ordering, hostipi::OrderingMode::kEmulatedPower);
  EXPECT_EQ(h.store_hold, absl::Milliseconds(50));
  EXPECT_EQ(h.ksmd_threads, 2);
  EXPECT_EQ(h.ksmd_cpus, (std::vector<int>{0, 1}));
  EXPECT_EQ(h.ksmd_pause, absl::Microseconds(100));
  EXPECT_FALSE(h.vcpu_exit_calls);
  EXPECT_DOUBLE_EQ(h.exit_call_probability, 0.25);
  EXPECT_DOUBLE_EQ(h.resched_fraction, 0.75);
  EXPECT_EQ(h.stall_threshold, absl::Milliseconds(300));
  EXPECT_TRUE(h.resend_on_stall);
  EXPECT_EQ(h.seed, 7u);
  // Zero threshold = calibrate.
  auto d = Load("hostipi: {enabled: true}\n");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->hostipi.stall_threshold, absl::ZeroDuration());
}

void ExpectError(const std::string& section, const std::string& where,
                 const std::string& field, const std::string& fix) {
  auto r = Load(section);
  ASSERT_FALSE(r.ok()) << section;
  const std::string m(r.status().message());
  EXPECT_TRUE(absl::StrContains(m, where)) << m;
  EXPECT_TRUE(absl::StrContains(m, field)) << m;
  EXPECT_TRUE(absl::StrContains(m, fix)) << m;
}

TEST(HostIpiProfileTest, ErrorsNameFileLineFieldAndFix) {
  ExpectError("hostipi:\n  ordering: tso\n", "hp.yaml:5:", "hostipi.ordering",
              "emulated-power");
  // Profiles take the canonical spellings only (flags also take other cases).
  ExpectError("hostipi:\n  ordering: emulated_power\n", "hp.yaml:5:", "hostipi.ordering",
              "emulated-power");
  ExpectError("hostipi:\n  ordering: Native\n", "hp.yaml:5:", "hostipi.ordering", "native");
  ExpectError("hostipi:\n  ordering: emulated-power\n  store_hold: 5s\n", "hp.yaml:6:",
              "hostipi.store_hold", "1ms");
  ExpectError("hostipi:\n  store_hold: 1ms\n", "hp.yaml:5:", "hostipi.store_hold",
              "ordering: emulated-power");
  ExpectError("hostipi:\n  kernel_model: v5.3,demux=fast\n", "hp.yaml:5:",
              "hostipi.kernel_model", "demux=xchg");
  ExpectError("hostipi:\n  kernel_model: v9\n", "hp.yaml:5:", "hostipi.kernel_model", "v5.4");
  ExpectError("hostipi:\n  senders: {ksmd_threads: 0, vcpu_exit_calls: false}\n", "hp.yaml:5:",
              "hostipi.senders", "ksmd_threads: 1");
  ExpectError("hostipi:\n  senders: {resched_fraction: 2}\n", "hp.yaml:5:",
              "hostipi.senders.resched_fraction", "0 to 1");
  ExpectError("hostipi:\n  senders: {ksmd_threads: 99}\n", "hp.yaml:5:",
              "hostipi.senders.ksmd_threads", "8");
  ExpectError("hostipi:\n  stall_threshold: 0s\n", "hp.yaml:5:", "hostipi.stall_threshold",
              "200ms");
  ExpectError("hostipi:\n  resend: true\n", "hp.yaml:5:", "hostipi.resend",
              "resend_on_stall");
  ExpectError("hostipi:\n  senders: {ksmd_cpus: \"x\"}\n", "hp.yaml:5:",
              "hostipi.senders.ksmd_cpus", "");
  ExpectError("hostipi:\n  enabled: maybe\n", "hp.yaml:5:", "hostipi.enabled", "true or false");
}

}  // namespace
}  // namespace kvmbed
