#include "vmm/i8042.h"

#include "gtest/gtest.h"

namespace kvmbed {
namespace vmm {
namespace {

constexpr uint16_t kData = I8042::kDataPort;
constexpr uint16_t kCmd = I8042::kCommandPort;

// What Linux's i8042 driver does to read a reply: poll the status for
// "output buffer full", then read the data port.
int ReadReply(I8042& k) {
  for (int i = 0; i < 4; ++i) {
    if (k.Read(kCmd) & 0x01) return k.Read(kData);
  }
  return -1;
}

TEST(I8042, IdleControllerHasNothingToReadAndNeverBlocksWrites) {
  I8042 k;
  EXPECT_EQ(k.Read(kCmd) & 0x03, 0);  // output empty, input empty: writes go at once
  EXPECT_NE(k.Read(kCmd) & 0x04, 0);  // the system flag: the self-test ran
  EXPECT_EQ(ReadReply(k), -1);
}

TEST(I8042, CommandByteReadsBackWhatWasWritten) {
  I8042 k;
  EXPECT_FALSE(k.Write(kCmd, 0x20));
  EXPECT_EQ(ReadReply(k), 0x65);
  EXPECT_EQ(k.Read(kCmd) & 0x01, 0);  // read once, gone
  EXPECT_FALSE(k.Write(kCmd, 0x60));
  EXPECT_FALSE(k.Write(kData, 0x74));
  EXPECT_EQ(k.command_byte(), 0x74);
  k.Write(kCmd, 0x20);
  EXPECT_EQ(ReadReply(k), 0x74);
  // Port enables and disables show in it.
  k.Write(kCmd, 0xae);
  EXPECT_EQ(k.command_byte() & 0x10, 0);
  k.Write(kCmd, 0xad);
  EXPECT_EQ(k.command_byte() & 0x10, 0x10);
  k.Write(kCmd, 0xa8);
  EXPECT_EQ(k.command_byte() & 0x20, 0);
  k.Write(kCmd, 0xa7);
  EXPECT_EQ(k.command_byte() & 0x20, 0x20);
}

TEST(I8042, SelfTestsPassAndThereIsNoAuxPort) {
  I8042 k;
  k.Write(kCmd, 0xaa);
  EXPECT_EQ(ReadReply(k), 0x55);
  k.Write(kCmd, 0xab);
  EXPECT_EQ(ReadReply(k), 0x00);
  k.Write(kCmd, 0xa9);
  EXPECT_EQ(ReadReply(k), 0xff);
}

TEST(I8042, KeyboardAcknowledgesAndAnswersResetAndIdentify) {
  I8042 k;
  k.Write(kData, 0xf4);  // enable scanning
  EXPECT_EQ(ReadReply(k), 0xfa);
  k.Write(kData, 0xff);
  EXPECT_EQ(ReadReply(k), 0xfa);
  EXPECT_EQ(ReadReply(k), 0xaa);
  k.Write(kData, 0xf2);
  EXPECT_EQ(ReadReply(k), 0xfa);
  EXPECT_EQ(ReadReply(k), 0xab);
  EXPECT_EQ(ReadReply(k), 0x83);
  EXPECT_EQ(ReadReply(k), -1);
  // A command that was waiting for its byte takes it; the keyboard does not.
  k.Write(kCmd, 0x60);
  k.Write(kData, 0xf4);
  EXPECT_EQ(k.command_byte(), 0xf4);
  EXPECT_EQ(ReadReply(k), -1);
}

TEST(I8042, ResetLine) {
  I8042 k;
  EXPECT_TRUE(k.Write(kCmd, 0xfe));   // reboot=k
  EXPECT_TRUE(k.Write(kCmd, 0xf0));   // every line low, reset among them
  EXPECT_FALSE(k.Write(kCmd, 0xff));  // no line pulsed
  k.Write(kCmd, 0xd0);
  EXPECT_EQ(ReadReply(k), 0x03);
  k.Write(kCmd, 0xd1);
  EXPECT_FALSE(k.Write(kData, 0x03));  // A20 and reset high: nothing happens
  k.Write(kCmd, 0xd1);
  EXPECT_TRUE(k.Write(kData, 0x02));   // reset low
}

TEST(I8042, OutputQueueIsBounded) {
  I8042 k;
  for (int i = 0; i < 100; ++i) k.Write(kCmd, 0x20);
  int n = 0;
  while (ReadReply(k) >= 0) ++n;
  EXPECT_EQ(n, 16);
}

}  // namespace
}  // namespace vmm
}  // namespace kvmbed
