// The i8042 keyboard controller as far as a Linux guest without a keyboard
// needs it: the status and data ports, the controller's own commands (read
// and write the command byte, self-test, interface test, enable/disable the
// ports, read and write the output port) and the reset line (`reboot=k`).
// Behind the keyboard port sits a keyboard that acknowledges every command
// and never has a key to report.
//
// Without it every status read returned 0: the kernel's driver waited for
// its CTR read to arrive until it timed out, over ten thousand port reads,
// each a VM exit (about 12 s of a nested boot), before it gave up with
// "Can't read CTR while initializing i8042".
//
// No interrupts: the guest polls the replies to its commands, and no key
// ever arrives. Pure state: unit-tested without /dev/kvm. Not thread-safe;
// its owner serializes port accesses.
#ifndef KVMBED_VMM_I8042_H_
#define KVMBED_VMM_I8042_H_

#include <cstdint>
#include <deque>

namespace kvmbed {
namespace vmm {

class I8042 {
 public:
  static constexpr uint16_t kDataPort = 0x60;
  static constexpr uint16_t kCommandPort = 0x64;  // status on read

  // The guest reads `port`.
  uint8_t Read(uint16_t port);
  // The guest writes `value` to `port`; true when that pulses the CPU reset
  // line (command 0xfe and its kin, or an output-port write with bit 0 clear).
  bool Write(uint16_t port, uint8_t value);

  uint8_t command_byte() const { return ctr_; }

 private:
  void Reply(uint8_t b);
  // Keyboard interrupt on, system flag, keyboard-to-scancode-set-1
  // translation on, the absent aux port disabled (a BIOS's usual value).
  uint8_t ctr_ = 0x65;
  uint8_t output_port_ = 0x03;  // reset line high, A20 on
  uint8_t pending_ = 0;         // a controller command waiting for its data byte
  std::deque<uint8_t> out_;     // the output buffer and what queues behind it
};

}  // namespace vmm
}  // namespace kvmbed

#endif  // KVMBED_VMM_I8042_H_
