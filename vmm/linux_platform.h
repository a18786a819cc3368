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
};

}  // namespace vmm
}  // namespace kvmbed

#endif  // KVMBED_VMM_LINUX_PLATFORM_H_
