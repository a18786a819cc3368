#include "hostipi/muxed_ipi.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kvmbed {
namespace hostipi {
namespace {

const char* const kMessageNames[kNumMessages] = {"CALL_FUNCTION", "RESCHEDULE",
                                                 "TICK_BROADCAST", "NMI_IPI"};

}  // namespace

const char* IpiMessageName(int message) {
  return message >= 0 && message < kNumMessages ? kMessageNames[message] : "?";
}

uint64_t MessageBits(uint64_t word) {
  uint64_t bits = 0;
  for (int m = 0; m < kNumMessages; ++m) {
    if ((word >> (8 * m)) & 0xff) bits |= uint64_t{1} << m;
  }
  return bits;
}

std::string MessageBitsToString(uint64_t bits) {
  std::vector<std::string> parts;
  for (int m = 0; m < kNumMessages; ++m) {
    if (bits & (uint64_t{1} << m)) parts.push_back(kMessageNames[m]);
  }
  return parts.empty() ? "none" : absl::StrJoin(parts, "|");
}

std::string NameMessageStore(const std::string& store) {
  if (!absl::StartsWith(store, "ipi_message[")) return store;
  const size_t at = store.find(".byte");
  if (at == std::string::npos || at + 5 >= store.size()) return store;
  const int byte = store[at + 5] - '0';
  if (byte < 0 || byte >= kNumMessages) return store;
  return absl::StrCat(store.substr(0, at + 1), kMessageNames[byte],
                      store.substr(at + 6));
}

bool SetMessage(CpuMemory& mem, SharedWord& messages, IpiMessage message,
                const KernelModel& model) {
  if (model.message_pass_mb) mem.FullBarrier();
  mem.StoreByte(messages, message, 1);
  return !(MessageBits(messages.value.load(std::memory_order_relaxed)) &
           (uint64_t{1} << message));
}

uint64_t DoorbellValue(int sender_cpu, uint64_t sequence) {
  return (static_cast<uint64_t>(sender_cpu + 1) << 48) | sequence;
}

int DoorbellSender(uint64_t value) { return static_cast<int>(value >> 48) - 1; }

void Demux(CpuMemory& mem, SharedWord& messages, const KernelModel& model,
           DemuxEntry entry, absl::FunctionRef<void(const DemuxTake&)> handle) {
  if (entry == DemuxEntry::kWithMb) mem.FullBarrier();  // order any irq clear
  bool first = true;
  for (;;) {
    DemuxTake take;
    take.first = first;
    first = false;
    if (model.demux == DemuxRead::kPeek) {
      take.peeked_zero = mem.Load(messages) == 0;
    }
    if (!take.peeked_zero) {
      // xchg() is fully ordered (release and acquire); xchg_local() is not.
      take.bits = MessageBits(
          mem.Exchange(messages, 0, model.demux != DemuxRead::kXchgRelaxed));
    }
    handle(take);
    if (take.peeked_zero) return;
    if (mem.Load(messages) == 0) return;  // while (READ_ONCE(messages))
    if (mem.StopRequested()) return;
  }
}

}  // namespace hostipi
}  // namespace kvmbed
