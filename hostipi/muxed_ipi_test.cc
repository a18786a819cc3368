#include "hostipi/muxed_ipi.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "hostipi/memory_model.h"

namespace kvmbed {
namespace hostipi {
namespace {

KernelModel Model(DemuxRead demux, bool message_pass_mb = true) {
  KernelModel m;
  m.demux = demux;
  m.message_pass_mb = message_pass_mb;
  return m;
}

// Runs `body` as the only CPU of a native memory system.
void OnOneCpu(const std::function<void(CpuMemory&)>& body) {
  RunOptions o;
  o.mode = OrderingMode::kNative;
  std::unique_ptr<MemorySystem> sys = MemorySystem::Create(o);
  ASSERT_TRUE(sys->Run({body}, absl::Seconds(10)).ok());
}

TEST(MuxedIpi, MessageNamesAndBits) {
  EXPECT_STREQ(IpiMessageName(kReschedule), "RESCHEDULE");
  EXPECT_STREQ(IpiMessageName(kNumMessages), "?");
  EXPECT_EQ(MessageBits(0x0100'0001), (1u << kCallFunction) | (1u << kNmiIpi));
  EXPECT_EQ(MessageBitsToString(0), "none");
  EXPECT_EQ(MessageBitsToString(0b11), "CALL_FUNCTION|RESCHEDULE");
  EXPECT_EQ(NameMessageStore("ipi_message[3].byte1=1"),
            "ipi_message[3].RESCHEDULE=1");
  EXPECT_EQ(NameMessageStore("ipi_message[3].byte7=1"), "ipi_message[3].byte7=1");
  EXPECT_EQ(NameMessageStore("host_ipi[2]=1"), "host_ipi[2]=1");
}

TEST(MuxedIpi, DoorbellValuesNameTheirSender) {
  EXPECT_EQ(DoorbellSender(0), -1);
  EXPECT_EQ(DoorbellSender(DoorbellValue(0, 1)), 0);
  EXPECT_EQ(DoorbellSender(DoorbellValue(63, 12345)), 63);
  EXPECT_NE(DoorbellValue(1, 7), DoorbellValue(1, 8));
  EXPECT_NE(DoorbellValue(1, 7), DoorbellValue(2, 7));
}

TEST(MuxedIpi, SetMessageThenDemuxTakesItAndClears) {
  for (DemuxRead demux : {DemuxRead::kXchg, DemuxRead::kXchgRelaxed, DemuxRead::kPeek}) {
    SharedWord messages;
    std::vector<DemuxTake> takes;
    bool buffered = true;
    OnOneCpu([&](CpuMemory& mem) {
      buffered = SetMessage(mem, messages, kReschedule, Model(demux));
      SetMessage(mem, messages, kCallFunction, Model(demux));
      Demux(mem, messages, Model(demux), DemuxEntry::kWithMb,
            [&](const DemuxTake& t) { takes.push_back(t); });
    });
    SCOPED_TRACE(DemuxReadName(demux));
    EXPECT_FALSE(buffered) << "a native store is in memory for its own CPU";
    ASSERT_EQ(takes.size(), 1u);
    EXPECT_TRUE(takes[0].first);
    EXPECT_FALSE(takes[0].peeked_zero);
    EXPECT_EQ(takes[0].bits, (1u << kReschedule) | (1u << kCallFunction));
    EXPECT_EQ(messages.value.load(), 0u);
  }
}

TEST(MuxedIpi, DemuxLoopsWhileAMessageArrivesDuringTheHandler) {
  SharedWord messages;
  std::vector<DemuxTake> takes;
  OnOneCpu([&](CpuMemory& mem) {
    SetMessage(mem, messages, kCallFunction, Model(DemuxRead::kXchg));
    Demux(mem, messages, Model(DemuxRead::kXchg), DemuxEntry::kRelaxed,
          [&](const DemuxTake& t) {
            takes.push_back(t);
            // Another sender's message lands while the first is handled.
            if (takes.size() == 1) mem.StoreByte(messages, kReschedule, 1);
          });
  });
  ASSERT_EQ(takes.size(), 2u);
  EXPECT_EQ(takes[0].bits, 1u << kCallFunction);
  EXPECT_FALSE(takes[1].first);
  EXPECT_EQ(takes[1].bits, 1u << kReschedule);
}

TEST(MuxedIpi, PeekThatSeesNothingSkipsTheXchgAndReturns) {
  SharedWord messages;
  std::vector<DemuxTake> takes;
  OnOneCpu([&](CpuMemory& mem) {
    Demux(mem, messages, Model(DemuxRead::kPeek), DemuxEntry::kRelaxed,
          [&](const DemuxTake& t) { takes.push_back(t); });
  });
  ASSERT_EQ(takes.size(), 1u);
  EXPECT_TRUE(takes[0].peeked_zero);
  EXPECT_EQ(takes[0].bits, 0u);
  // xchg and xchg_local always read (and clear), even when nothing is set.
  takes.clear();
  OnOneCpu([&](CpuMemory& mem) {
    Demux(mem, messages, Model(DemuxRead::kXchg), DemuxEntry::kRelaxed,
          [&](const DemuxTake& t) { takes.push_back(t); });
  });
  ASSERT_EQ(takes.size(), 1u);
  EXPECT_FALSE(takes[0].peeked_zero);
}

// Without smp_mb() before the message store, the emulated POWER memory
// system may keep the earlier store (the work the IPI announces) buffered
// after the message store is visible; with it, never. This is the
// store->store half of 9fb1b36.
TEST(MuxedIpi, MessagePassMbOrdersEarlierStoresBeforeTheMessage) {
  for (bool mb : {false, true}) {
    int reordered = 0;
    for (uint64_t seed = 1; seed <= 300; ++seed) {
      SharedWord work, messages;
      RunOptions o;
      o.mode = OrderingMode::kEmulatedPower;
      o.seed = seed;
      std::unique_ptr<MemorySystem> sys = MemorySystem::Create(o);
      uint64_t seen_work = 1, seen_bits = 0;
      ASSERT_TRUE(sys->Run({[&](CpuMemory& mem) {
                              mem.Store(work, 1);
                              SetMessage(mem, messages, kReschedule,
                                         Model(DemuxRead::kXchg, mb));
                            },
                            [&](CpuMemory& mem) {
                              for (int i = 0; i < 64 && seen_bits == 0; ++i) {
                                seen_bits = MessageBits(mem.Load(messages));
                                mem.Relax();
                              }
                              mem.FullBarrier();
                              seen_work = mem.Load(work);
                            }},
                           absl::Seconds(10))
                      .ok());
      if (seen_bits != 0 && seen_work == 0) ++reordered;
    }
    SCOPED_TRACE(mb ? "message-pass-mb" : "no mb");
    if (mb) {
      EXPECT_EQ(reordered, 0);
    } else {
      EXPECT_GT(reordered, 0);
    }
  }
}

}  // namespace
}  // namespace hostipi
}  // namespace kvmbed
