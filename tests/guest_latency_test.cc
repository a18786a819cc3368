// KVM integration: the guest plane's `ipi_latency` events (runner/smp_run.h)
// are what the report reads. Two VMs run the torture workload with an event
// log, as `kvmbed run`/`soak` do; report/run_data must parse the log into one
// guest-plane histogram per VM equal to the run's own, and the rendered page
// must draw them (its latency section was empty for soak logs before).
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/event_log.h"
#include "runner/run_spec.h"
#include "gtest/gtest.h"
#include "report/render.h"
#include "report/run_data.h"
#include "runner/smp_run.h"
#include "vmm/test_vm.h"

namespace kvmbed {
namespace {

TEST(GuestLatencyTest, GuestIpiLatencyEventsParseAndRender) {
  KVMBED_SKIP_WITHOUT_KVM();
  RunSpec run;
  run.name = "lat";
  run.duration = absl::Seconds(1);
  run.guest.workload = GuestWorkload::kTorture;
  run.guest.ops_per_vcpu = 0;  // until the run ends
  run.guest.csd_timeout = absl::Seconds(5);
  run.guest.stat_interval = absl::Milliseconds(200);  // periodic events too
  for (const char* name : {"a", "b"}) {
    VmSpec vm = vmm::PinnedTestVm("smp", 2);
    vm.name = name;
    run.vms.push_back(vm);
  }
  const std::string path = absl::StrCat(::testing::TempDir(), "/guest_latency.jsonl");
  std::vector<runner::SmpRunResult> results;
  {
    auto log = EventLog::Open(path);
    ASSERT_TRUE(log.ok()) << log.status();
    (*log)->Emit("run_start", {{"profile", "test"}, {"name", "lat"}, {"kvm", "test"},
                               {"kvm_nested", false}, {"duration_s", 1}, {"vms", 2},
                               {"cpus_folded", false}});
    std::string text;
    auto r = runner::RunGuestWorkloads(run, [&](const std::string& t) { text += t; }, log->get());
    ASSERT_TRUE(r.ok()) << r.status();
    results = *r;
    (*log)->Emit("run_end", {{"exit_code", 0}, {"signal", 0}});
    ASSERT_TRUE((*log)->status().ok()) << (*log)->status();
  }
  ASSERT_EQ(results.size(), 2u);

  absl::StatusOr<report::RunData> data = report::ReadRunLog(path);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_TRUE(data->unknown_types.empty());
  for (size_t i = 0; i < results.size(); ++i) {
    const std::string vm = run.vms[i].name;
    const hostplane::LatencyHistogram& want = results[i].stats.latency;
    ASSERT_GT(want.count, 0) << "VM " << vm << " measured no csd wait";
    const report::Histogram* got = nullptr;
    for (const report::Histogram& h : data->histograms) {
      if (h.plane == "guest" && h.vm == vm) got = &h;
    }
    ASSERT_NE(got, nullptr) << "no guest ipi_latency event for VM " << vm;
    // The last event per (plane, vm) is the run's total.
    EXPECT_EQ(got->count, static_cast<uint64_t>(want.count)) << vm;
    EXPECT_DOUBLE_EQ(got->max_ns, static_cast<double>(want.max_ns)) << vm;
    EXPECT_DOUBLE_EQ(got->sum_ns, static_cast<double>(want.sum_ns)) << vm;
    uint64_t in_buckets = 0;
    for (const auto& [upper, n] : got->buckets) in_buckets += n;
    EXPECT_EQ(in_buckets, got->count) << vm;
  }
  EXPECT_GE(data->type_counts["ipi_latency"], 4) << "periodic and final events, per VM";

  const std::string html = report::RenderHtml(*data);
  EXPECT_FALSE(absl::StrContains(html, "No ipi_latency events")) << "latency section is empty";
  EXPECT_TRUE(absl::StrContains(html, "guest plane, vm a"));
  EXPECT_TRUE(absl::StrContains(html, "guest plane, vm b"));
  EXPECT_TRUE(absl::StrContains(html, "data-kind=\"latency\""));
}

}  // namespace
}  // namespace kvmbed
