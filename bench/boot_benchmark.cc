// Google Benchmark: VM creation -> every vCPU online, for 4 and 56 vCPUs.
//   bazel run -c opt //bench:boot_benchmark
// Reports manual time per boot and the peak RSS as a counter.
#include "benchmark/benchmark.h"
#include "bench/boot_bench.h"
#include "vmm/kvm.h"

namespace kvmbed {
namespace bench {
namespace {

void BM_Boot(benchmark::State& state) {
  if (!vmm::Kvm::Available()) {
    state.SkipWithError("/dev/kvm is absent or not usable");
    return;
  }
  BootBenchOptions opts;
  opts.vcpus = static_cast<int>(state.range(0));
  opts.runs = 1;
  long rss = 0;
  for (auto _ : state) {
    auto r = RunBootBench(opts);
    if (!r.ok()) {
      state.SkipWithError(std::string(r.status().message()).c_str());
      return;
    }
    state.SetIterationTime(absl::ToDoubleSeconds(r->samples[0]));
    rss = r->peak_rss_kib;
  }
  state.counters["peak_rss_kib"] = static_cast<double>(rss);
}
BENCHMARK(BM_Boot)->Arg(4)->Arg(56)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(10);

}  // namespace
}  // namespace bench
}  // namespace kvmbed

BENCHMARK_MAIN();
