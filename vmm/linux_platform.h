// The least a stock SMP Linux kernel needs besides KVM's in-kernel irqchip
// and PIT: an MP table naming every vCPU's APIC id, a 16550 UART at 0x3f8
// (output only, IRQ 4), the i8042's reset line (reboot=k) and a power-off
// port through which the guest's init reports its exit status.
#ifndef KVMBED_VMM_LINUX_PLATFORM_H_
#define KVMBED_VMM_LINUX_PLATFORM_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "vmm/i8042.h"
#include "vmm/kvm.h"

namespace kvmbed {
namespace vmm {

class GuestMemory;
class Vm;

// The guest writes its status byte here to power off (init does
// `printf '\ooo' | dd of=/dev/port bs=1 seek=1264 count=1`).
constexpr uint16_t kPowerOffPort = 0x4f0;

// Writes an MP floating pointer and configuration table (spec 1.4) at
// `gpa`: one processor entry per APIC id (the first is the boot CPU), an
// ISA bus, the IOAPIC at 0xfec00000 and ISA IRQs 0-15 on IOAPIC pins 0-15
// (KVM's default routing), LINT0 ExtINT and LINT1 NMI.
absl::Status WriteMpTable(GuestMemory& mem, uint64_t gpa,
                          const std::vector<uint32_t>& apic_ids);

// Creates the in-kernel PIT (KVM_CREATE_PIT2); the irqchip already exists.
absl::Status CreateLinuxPit(Vm& vm);

// Fits one vCPU's CPUID table (vmm::CpuidForVcpu's) to a Linux guest, as
// other VMMs' default CPU models do; KVM_GET_SUPPORTED_CPUID leaves these to
// the VMM:
//  - the hypervisor bit (leaf 1 ECX[31]), without which Linux ignores KVM's
//    leaves 0x40000000-1: no kvmclock, so it calibrates the TSC against the
//    PIT, which fails when the guest runs slowly (nested, loaded host), marks
//    the TSC unstable and keeps time with jiffies from PIT ticks;
//  - the TSC-deadline LAPIC timer (leaf 1 ECX[24]) when KVM emulates it
//    (KVM_CAP_TSC_DEADLINE_TIMER: `tsc_deadline`).
//  With both, ARAT (leaf 6, which KVM reports) and the TSC rate from kvmclock,
//  Linux needs no PIT: it stops it at boot and never takes IRQ 0.
//  - of KVM's paravirtual features (leaf 0x40000001 EAX) only kvmclock
//    (CLOCKSOURCE, CLOCKSOURCE2, CLOCKSOURCE_STABLE_BIT) and NOP_IO_DELAY:
//    IPIs, TLB shootdowns, spinlocks and EOIs take the native paths, through
//    the LAPIC, that the kernels kvmbed reproduces lockups of use on bare
//    metal (no PV send-IPI hypercall, no PV TLB flush that skips preempted
//    vCPUs, no PV spinlock halt/kick, no PV EOI, no async page faults);
//  - no 5-level paging (leaf 7 ECX[16], LA57): 4 levels.
// The PIT matters in the nested L1 under QEMU's TCG (docs/linux-guests.md).
void FitCpuidForLinux(CpuidTable& cpuid, bool tsc_deadline);

// The in-kernel 8259s' and IOAPIC's state (KVM_GET_IRQCHIP), for reports:
// each PIC's IMR, IRR, ISR and vector base; each IOAPIC pin that is unmasked
// or has its IRR set, with vector, trigger and destination. A VM ioctl: safe
// from any thread.
std::string DescribeIrqChips(const Vm& vm);

// How the guest ended.
enum class GuestEnd { kRunning, kPowerOff, kReset, kShutdown };

// Port I/O devices shared by all vCPU threads.
class LinuxPlatform {
 public:
  // `console` gets every byte the guest writes to the UART. `end` is called
  // once when the guest powers off, resets or triple-faults.
  LinuxPlatform(Vm* vm, std::function<void(char)> console,
                std::function<void(GuestEnd, int status)> end);

  // Handles one KVM_EXIT_IO: `data` is the kvm_run data area.
  void HandleIo(uint16_t port, bool in, uint8_t size, uint8_t* data);
  void Shutdown();  // KVM_EXIT_SHUTDOWN (triple fault)

 private:
  uint8_t UartIn(int reg) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UartOut(int reg, uint8_t v) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UpdateUartIrq() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void End(GuestEnd how, int status);

  Vm* const vm_;
  std::function<void(char)> console_;
  std::function<void(GuestEnd, int)> end_;
  absl::Mutex mu_;
  uint8_t ier_ ABSL_GUARDED_BY(mu_) = 0;
  uint8_t lcr_ ABSL_GUARDED_BY(mu_) = 0;
  uint8_t mcr_ ABSL_GUARDED_BY(mu_) = 0;
  uint8_t scr_ ABSL_GUARDED_BY(mu_) = 0;
  uint8_t dll_ ABSL_GUARDED_BY(mu_) = 0x0c;
  uint8_t dlm_ ABSL_GUARDED_BY(mu_) = 0;
  bool thre_pending_ ABSL_GUARDED_BY(mu_) = true;
  int irq_level_ ABSL_GUARDED_BY(mu_) = -1;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  I8042 i8042_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vmm
}  // namespace kvmbed

#endif  // KVMBED_VMM_LINUX_PLATFORM_H_
