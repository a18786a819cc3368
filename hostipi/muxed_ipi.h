// powerpc's muxed IPI, modelled once for every scenario that sends one
// (arch/powerpc/kernel/smp.c):
//
//   sender    smp_muxed_ipi_set_message(): [smp_mb() from 9fb1b36 on]; a
//             plain byte store of the message into the target's
//             ipi_message word; then the platform's cause_ipi (a doorbell
//             or an interrupt controller write), which the caller models.
//   receiver  smp_ipi_demux(): mb() "order any irq clear", then
//             smp_ipi_demux_relaxed(): do { all = xchg(&messages, 0);
//             handle every message in all } while (READ_ONCE(messages)).
//             The POWER9 doorbell path (doorbell_exception since v4.13)
//             calls smp_ipi_demux_relaxed() directly, so the mb() is the
//             entry's choice, not the kernel version's.
//
// The read itself follows KernelModel::demux: the fully ordered xchg(), the
// unordered xchg_local() of kernels before 9fb1b36, or a plain load
// ("peek") that skips the xchg when it sees no message and returns.
//
// Both the host_ipi plane (hostipi/host_ipi.h) and the wake_list scenario
// (hostipi/wakelist.h) send and take their IPIs through these functions, so
// the two cannot drift apart.
//
// Threading: every function runs on the modelled CPU that `mem` belongs to.
#ifndef KVMBED_HOSTIPI_MUXED_IPI_H_
#define KVMBED_HOSTIPI_MUXED_IPI_H_

#include <cstdint>
#include <string>

#include "absl/functional/function_ref.h"
#include "hostipi/kernel_model.h"
#include "hostipi/memory_model.h"

namespace kvmbed {
namespace hostipi {

// powerpc's muxed IPI messages (PPC_MSG_*), one byte each in ipi_message.
enum IpiMessage : int {
  kCallFunction = 0,
  kReschedule = 1,
  kTickBroadcast = 2,
  kNmiIpi = 3,
};
constexpr int kNumMessages = 4;
// "CALL_FUNCTION", ...
const char* IpiMessageName(int message);
// The messages set in an ipi_message word (byte m non-zero) as bits (bit m).
uint64_t MessageBits(uint64_t word);
// "CALL_FUNCTION|RESCHEDULE" for a bit set (bit m = message m), "none" for 0.
std::string MessageBitsToString(uint64_t bits);

// A buffered store as the memory system names it, with an ipi_message byte
// named by its message: "ipi_message[3].byte1=1" ->
// "ipi_message[3].RESCHEDULE=1". Other names come back unchanged.
std::string NameMessageStore(const std::string& store);

// smp_muxed_ipi_set_message(): the smp_mb() before the store when
// `model.message_pass_mb`, then the byte store. Returns true when memory
// does not hold the byte right after the store, i.e. it waits in this CPU's
// store buffer. Only the emulated memory system answers that reliably (one
// OS thread: nothing runs in between); callers in other modes ignore it.
bool SetMessage(CpuMemory& mem, SharedWord& messages, IpiMessage message,
                const KernelModel& model);

// A doorbell latch value: unique per (sender, sequence number), so a
// receiver tells a new doorbell from the one it took last.
uint64_t DoorbellValue(int sender_cpu, uint64_t sequence);
// The sender of a latch value; -1 for the initial 0.
int DoorbellSender(uint64_t value);

enum class DemuxEntry {
  kWithMb,   // smp_ipi_demux(): mb() first
  kRelaxed,  // smp_ipi_demux_relaxed(): straight to the read
};

// What one read of the demux loop took.
struct DemuxTake {
  uint64_t bits = 0;         // messages taken (bit m = message m)
  bool peeked_zero = false;  // demux=peek saw no message and skipped the xchg
  bool first = false;        // the first read of this demux
};

// The demux loop on this CPU's `messages`: reads per `model.demux` and
// calls `handle` with each read, then loops while a plain re-read finds a
// message. It returns after a peek that saw none, and when the memory
// system asks to stop.
void Demux(CpuMemory& mem, SharedWord& messages, const KernelModel& model,
           DemuxEntry entry, absl::FunctionRef<void(const DemuxTake&)> handle);

}  // namespace hostipi
}  // namespace kvmbed

#endif  // KVMBED_HOSTIPI_MUXED_IPI_H_
