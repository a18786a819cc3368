#include "hostipi/workload.h"

namespace kvmbed {
namespace hostipi {

std::vector<CpuBody> MakeWorkload(HostIpiPlane& plane,
                                  const WorkloadOptions& options) {
  const int n = plane.options().num_cpus;
  const int num_stress = std::max(0, std::min(options.num_stress, n));
  const uint64_t all = n >= 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1;
  std::vector<CpuBody> bodies;
  for (int cpu = 0; cpu < n; ++cpu) {
    const uint64_t others = all & ~(uint64_t{1} << cpu);
    const uint64_t seed = options.seed * 0x100000001b3ull + cpu * 0x9e37ull + 1;
    // Picks a random vCPU host CPU other than `self`, or -1.
    auto pick_vcpu = [n, num_stress](SplitMix64& rng, int self) {
      const int count = n - num_stress - (self >= num_stress ? 1 : 0);
      if (count <= 0) return -1;
      int k = static_cast<int>(rng.Below(count));
      for (int c = num_stress; c < n; ++c) {
        if (c == self) continue;
        if (k-- == 0) return c;
      }
      return -1;
    };
    auto check_budget = [&plane, options](CpuMemory& mem) {
      if (options.stop_after_doorbells > 0 &&
          plane.TotalDoorbells() >= options.stop_after_doorbells &&
          options.request_stop) {
        options.request_stop();
      }
      return !mem.StopRequested();
    };
    if (cpu < num_stress) {
      // ksmd-like: in host mode, calls every other host CPU and waits.
      bodies.push_back([&plane, options, others, seed, pick_vcpu,
                        check_budget](CpuMemory& mem) {
        plane.Attach(mem);
        SplitMix64 rng(seed);
        uint64_t info = 0xc000000000000000ull | (uint64_t(mem.cpu()) << 32);
        while (check_budget(mem)) {
          if (rng.Uniform() < options.resched_probability) {
            const int t = pick_vcpu(rng, mem.cpu());
            for (int k = 0; k < options.resched_burst && t >= 0; ++k) {
              plane.SendReschedule(mem, t);
            }
          }
          if (!plane.CallFunctionMany(mem, others, kDoNothing, ++info, true)) {
            break;
          }
          for (int64_t i = 0; i < options.stress_pause && !mem.StopRequested();
               ++i) {
            plane.InterruptPoint(mem);
            mem.Relax();
          }
        }
      });
    } else {
      // A vCPU host CPU: guest, own exits (page faults) that may call others.
      bodies.push_back([&plane, options, others, seed, pick_vcpu,
                        check_budget](CpuMemory& mem) {
        plane.Attach(mem);
        SplitMix64 rng(seed);
        uint64_t info = 0xc008000000000000ull | (uint64_t(mem.cpu()) << 32);
        const int64_t slice = std::max<int64_t>(options.guest_slice, 1);
        while (check_budget(mem)) {
          const int64_t run = 1 + static_cast<int64_t>(rng.Below(2 * slice));
          if (plane.RunGuest(mem, run) == HostIpiPlane::GuestExit::kStop) break;
          // kvmppc_book3s_hv_page_fault(): may need the other CPUs.
          if (rng.Uniform() < options.fault_call_probability) {
            if (rng.Uniform() < options.resched_probability) {
              const int t = pick_vcpu(rng, mem.cpu());
              if (t >= 0) plane.SendReschedule(mem, t);
            }
            if (!plane.CallFunctionMany(mem, others, kFlushTlb, ++info, true)) {
              break;
            }
          }
          plane.InterruptPoint(mem);
        }
      });
    }
  }
  return bodies;
}

}  // namespace hostipi
}  // namespace kvmbed
