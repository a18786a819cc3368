// The x2APIC MSRs the guest programs (Intel SDM vol. 3, "x2APIC Register
// Address Space"): the one list, for bring-up, the timers and the IPIs.
#ifndef KVMBED_GUEST_X2APIC_H_
#define KVMBED_GUEST_X2APIC_H_

#include "guest/abi.h"

namespace kvmbed {
namespace guest {

constexpr abi::u32 kMsrApicBase = 0x1b;         // IA32_APIC_BASE (x2APIC enable)
constexpr abi::u32 kX2apicId = 0x802;           // local APIC id
constexpr abi::u32 kX2apicEoi = 0x80b;          // end of interrupt (write 0)
constexpr abi::u32 kX2apicSvr = 0x80f;          // spurious vector, software enable
constexpr abi::u32 kX2apicIcr = 0x830;          // interrupt command (one 64-bit write)
constexpr abi::u32 kX2apicLvtTimer = 0x832;     // LVT timer: vector and mode
constexpr abi::u32 kX2apicTimerInit = 0x838;    // timer initial count
constexpr abi::u32 kX2apicTimerDiv = 0x83e;     // timer divide configuration

}  // namespace guest
}  // namespace kvmbed

#endif  // KVMBED_GUEST_X2APIC_H_
