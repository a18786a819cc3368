// The senders and receivers of the seed (001/003): host stress threads that
// behave like ksmd (smp_call_function_many on the other host CPUs, in host
// mode), and vCPU host CPUs that run a guest, take guest exits of their own
// (the KVM page-fault path) and, while handling one, call other host CPUs
// and wait. RESCHEDULE and CALL_FUNCTION are interleaved.
//
// Threading: MakeWorkload() returns one CpuBody per modelled CPU; each body
// runs on its own CPU's thread/coroutine. Randomness is a per-CPU seeded
// PRNG, so emulated runs replay exactly.
#ifndef KVMBED_HOSTIPI_WORKLOAD_H_
#define KVMBED_HOSTIPI_WORKLOAD_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "hostipi/host_ipi.h"
#include "hostipi/memory_model.h"

namespace kvmbed {
namespace hostipi {

struct WorkloadOptions {
  // CPUs [0, num_stress) are ksmd-like host stress threads; the others are
  // vCPU host CPUs. The plane's num_cpus is the total.
  int num_stress = 1;
  // Mean Relax() iterations a guest runs between exits of its own.
  int64_t guest_slice = 200;
  // Probability that handling a guest exit calls the other host CPUs.
  double fault_call_probability = 0.5;
  // Probability of a RESCHEDULE to a vCPU CPU just before each call.
  double resched_probability = 0.5;
  // RESCHEDULEs sent back to back when one is sent (several wake-ups).
  int resched_burst = 1;
  // Relax() iterations (interrupt points) between a stress thread's calls.
  int64_t stress_pause = 8;
  uint64_t seed = 1;
  // Stop the run (request_stop) once this many doorbells were sent; 0 = no.
  int64_t stop_after_doorbells = 0;
  std::function<void()> request_stop;
};

// One body per CPU of `plane`. The plane must outlive the run.
std::vector<CpuBody> MakeWorkload(HostIpiPlane& plane,
                                  const WorkloadOptions& options);

// A splitmix64 PRNG (deterministic across platforms and libraries).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n), n > 0.
  uint64_t Below(uint64_t n) { return Next() % n; }

 private:
  uint64_t state_;
};

}  // namespace hostipi
}  // namespace kvmbed

#endif  // KVMBED_HOSTIPI_WORKLOAD_H_
