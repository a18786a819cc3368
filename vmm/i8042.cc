#include "vmm/i8042.h"

#include <cstddef>

namespace kvmbed {
namespace vmm {
namespace {

constexpr uint8_t kStatusOutputFull = 0x01;
constexpr uint8_t kStatusSystem = 0x04;
constexpr uint8_t kStatusUnlocked = 0x10;
constexpr uint8_t kCtrSystem = 0x04;
constexpr uint8_t kCtrKbdDisabled = 0x10;
constexpr uint8_t kCtrAuxDisabled = 0x20;
constexpr size_t kMaxQueued = 16;

}  // namespace

void I8042::Reply(uint8_t b) {
  if (out_.size() < kMaxQueued) out_.push_back(b);
}

uint8_t I8042::Read(uint16_t port) {
  if (port == kCommandPort) {
    return static_cast<uint8_t>((out_.empty() ? 0 : kStatusOutputFull) |
                                ((ctr_ & kCtrSystem) ? kStatusSystem : 0) | kStatusUnlocked);
  }
  if (port != kDataPort || out_.empty()) return 0;
  const uint8_t b = out_.front();
  out_.pop_front();
  return b;
}

bool I8042::Write(uint16_t port, uint8_t v) {
  if (port == kCommandPort) {
    pending_ = 0;
    switch (v) {
      case 0x20: Reply(ctr_); return false;                  // read the command byte
      case 0x60: pending_ = v; return false;                 // write it: next data byte
      case 0xa7: ctr_ |= kCtrAuxDisabled; return false;      // disable the aux port
      case 0xa8: ctr_ &= ~kCtrAuxDisabled; return false;     // enable it
      case 0xa9: Reply(0xff); return false;                  // aux interface test: no aux port
      case 0xaa: Reply(0x55); return false;                  // controller self-test passed
      case 0xab: Reply(0x00); return false;                  // keyboard interface test passed
      case 0xad: ctr_ |= kCtrKbdDisabled; return false;      // disable the keyboard port
      case 0xae: ctr_ &= ~kCtrKbdDisabled; return false;     // enable it
      case 0xd0: Reply(output_port_); return false;          // read the output port
      case 0xd1: pending_ = v; return false;                 // write it: next data byte
      default: break;
    }
    // 0xf0-0xff pulse output-port lines low for a moment: bit 0 is reset.
    return (v & 0xf0) == 0xf0 && (v & 0x01) == 0;
  }
  if (port != kDataPort) return false;
  const uint8_t cmd = pending_;
  pending_ = 0;
  if (cmd == 0x60) {
    ctr_ = v;
    return false;
  }
  if (cmd == 0xd1) {
    output_port_ = v;
    return (v & 0x01) == 0;
  }
  // A byte for the keyboard: it acknowledges; reset passes its self-test;
  // identify answers as an MF2 keyboard; echo echoes.
  switch (v) {
    case 0xee: Reply(0xee); break;
    case 0xff: Reply(0xfa); Reply(0xaa); break;
    case 0xf2: Reply(0xfa); Reply(0xab); Reply(0x83); break;
    default: Reply(0xfa); break;
  }
  return false;
}

}  // namespace vmm
}  // namespace kvmbed
