#include "vmm/linux_platform.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "vmm/guest_memory.h"
#include "vmm/kvm.h"

namespace kvmbed {
namespace vmm {
namespace {

uint8_t Checksum(const uint8_t* p, size_t n) {
  uint8_t sum = 0;
  for (size_t i = 0; i < n; ++i) sum = static_cast<uint8_t>(sum + p[i]);
  return static_cast<uint8_t>(-sum);
}

void Put16(std::vector<uint8_t>& b, size_t o, uint16_t v) {
  b[o] = v & 0xff;
  b[o + 1] = v >> 8;
}
void Put32(std::vector<uint8_t>& b, size_t o, uint32_t v) {
  Put16(b, o, v & 0xffff);
  Put16(b, o + 2, v >> 16);
}

constexpr uint32_t kIoApicAddr = 0xfec00000;
constexpr uint32_t kLapicAddr = 0xfee00000;

}  // namespace

absl::Status WriteMpTable(GuestMemory& mem, uint64_t gpa,
                          const std::vector<uint32_t>& apic_ids) {
  for (uint32_t id : apic_ids) {
    if (id > 254) {
      return absl::InvalidArgumentError(absl::StrCat(
          "APIC id ", id, " does not fit an MP table (ids 0-254); use fewer vCPUs or a "
          "smaller topology"));
    }
  }
  uint8_t ioapic_id = 0;
  for (uint32_t id : apic_ids) ioapic_id = std::max<uint8_t>(ioapic_id, static_cast<uint8_t>(id + 1));
  // Header (44) + processors (20 each) + bus + ioapic + 16 irqs + 2 lints (8 each).
  std::vector<uint8_t> t(44);
  uint16_t entries = 0;
  for (size_t i = 0; i < apic_ids.size(); ++i) {
    std::vector<uint8_t> e(20, 0);
    e[0] = 0;  // processor
    e[1] = static_cast<uint8_t>(apic_ids[i]);
    e[2] = 0x14;  // LAPIC version
    e[3] = 0x01 | (i == 0 ? 0x02 : 0);  // enabled, boot processor
    Put32(e, 4, 0x600);                 // family 6
    Put32(e, 8, 0x201);                 // FPU, APIC
    t.insert(t.end(), e.begin(), e.end());
    ++entries;
  }
  std::vector<uint8_t> bus = {1, 0, 'I', 'S', 'A', ' ', ' ', ' '};
  t.insert(t.end(), bus.begin(), bus.end());
  ++entries;
  std::vector<uint8_t> io(8, 0);
  io[0] = 2;
  io[1] = ioapic_id;
  io[2] = 0x11;
  io[3] = 1;
  Put32(io, 4, kIoApicAddr);
  t.insert(t.end(), io.begin(), io.end());
  ++entries;
  for (uint8_t irq = 0; irq < 16; ++irq) {
    if (irq == 2) continue;  // the cascade
    std::vector<uint8_t> e = {3, 0, 0, 0, 0, irq, ioapic_id, irq};
    t.insert(t.end(), e.begin(), e.end());
    ++entries;
  }
  std::vector<uint8_t> lint0 = {4, 3, 0, 0, 0, 0, 0xff, 0};  // ExtINT on LINT0
  std::vector<uint8_t> lint1 = {4, 1, 0, 0, 0, 0, 0xff, 1};  // NMI on LINT1
  t.insert(t.end(), lint0.begin(), lint0.end());
  t.insert(t.end(), lint1.begin(), lint1.end());
  entries += 2;
  std::memcpy(t.data(), "PCMP", 4);
  Put16(t, 4, static_cast<uint16_t>(t.size()));
  t[6] = 4;  // spec 1.4
  std::memcpy(&t[8], "KVMBED  ", 8);
  std::memcpy(&t[16], "LINUX-GUEST ", 12);
  Put16(t, 34, entries);
  Put32(t, 36, kLapicAddr);
  t[7] = Checksum(t.data(), t.size());

  std::vector<uint8_t> fp(16, 0);
  std::memcpy(fp.data(), "_MP_", 4);
  Put32(fp, 4, static_cast<uint32_t>(gpa + 16));
  fp[8] = 1;  // length in paragraphs
  fp[9] = 4;
  fp[10] = Checksum(fp.data(), fp.size());
  RETURN_IF_ERROR(mem.Write(gpa, fp.data(), fp.size()));
  return mem.Write(gpa + 16, t.data(), t.size());
}

std::string DescribeIrqChips(const Vm& vm) {
  std::string out;
  const char* names[] = {"8259 master", "8259 slave"};
  for (uint32_t chip = KVM_IRQCHIP_PIC_MASTER; chip <= KVM_IRQCHIP_PIC_SLAVE; ++chip) {
    kvm_irqchip c{};
    c.chip_id = chip;
    if (ioctl(vm.fd(), KVM_GET_IRQCHIP, &c) < 0) {
      absl::StrAppend(&out, "  ", names[chip], ": KVM_GET_IRQCHIP failed: ", std::strerror(errno),
                      "\n");
      continue;
    }
    const kvm_pic_state& p = c.chip.pic;
    absl::StrAppendFormat(&out, "  %s: vector base 0x%02x, IMR 0x%02x, IRR 0x%02x, ISR 0x%02x%s\n",
                          names[chip], p.irq_base, p.imr, p.irr, p.isr,
                          p.auto_eoi ? ", auto-EOI" : "");
  }
  kvm_irqchip c{};
  c.chip_id = KVM_IRQCHIP_IOAPIC;
  if (ioctl(vm.fd(), KVM_GET_IRQCHIP, &c) < 0) {
    absl::StrAppend(&out, "  IOAPIC: KVM_GET_IRQCHIP failed: ", std::strerror(errno), "\n");
    return out;
  }
  const kvm_ioapic_state& io = c.chip.ioapic;
  std::string pins;
  for (int pin = 0; pin < KVM_IOAPIC_NUM_PINS; ++pin) {
    const auto& f = io.redirtbl[pin].fields;
    const bool irr = (io.irr >> pin) & 1;
    if (f.mask && !irr) continue;
    absl::StrAppendFormat(&pins, "; pin %d: vector 0x%02x %s%s%s dest 0x%02x%s", pin, f.vector,
                          f.trig_mode ? "level" : "edge", f.mask ? " masked" : "",
                          f.delivery_mode == 7 ? " ExtINT" : "", f.dest_id,
                          irr ? " IRR" : (f.remote_irr ? " remote-IRR" : ""));
  }
  absl::StrAppend(&out, "  IOAPIC: ", pins.empty() ? "every pin masked" : pins.substr(2), "\n");
  return out;
}

absl::Status CreateLinuxPit(Vm& vm) {
  kvm_pit_config cfg{};
  if (ioctl(vm.fd(), KVM_CREATE_PIT2, &cfg) < 0) {
    return absl::ErrnoToStatus(errno, "KVM_CREATE_PIT2");
  }
  // Drop PIT ticks the guest missed instead of re-injecting them: a guest
  // slowed down (nested, TCG, a withheld boot vCPU) otherwise spends its time
  // catching up on timer interrupts. Linux keeps time with kvmclock/TSC.
  kvm_reinject_control rc{};
  rc.pit_reinject = 0;
  if (ioctl(vm.fd(), KVM_REINJECT_CONTROL, &rc) < 0) {
    return absl::ErrnoToStatus(errno, "KVM_REINJECT_CONTROL");
  }
  return absl::OkStatus();
}

void FitCpuidForLinux(CpuidTable& cpuid, bool tsc_deadline) {
  if (kvm_cpuid_entry2* l1 = cpuid.Find(1)) {
    l1->ecx |= 1u << 31;
    if (tsc_deadline) l1->ecx |= 1u << 24;
  }
  if (kvm_cpuid_entry2* l7 = cpuid.Find(7, 0)) l7->ecx &= ~(1u << 16);
  // KVM_FEATURE_CLOCKSOURCE (0), NOP_IO_DELAY (1), CLOCKSOURCE2 (3),
  // CLOCKSOURCE_STABLE_BIT (24).
  constexpr uint32_t kKvmclockOnly = (1u << 0) | (1u << 1) | (1u << 3) | (1u << 24);
  if (kvm_cpuid_entry2* pv = cpuid.Find(0x40000001)) pv->eax &= kKvmclockOnly;
}

LinuxPlatform::LinuxPlatform(Vm* vm, std::function<void(char)> console,
                             std::function<void(GuestEnd, int)> end)
    : vm_(vm), console_(std::move(console)), end_(std::move(end)) {}

void LinuxPlatform::End(GuestEnd how, int status) {
  {
    absl::MutexLock l(&mu_);
    if (ended_) return;
    ended_ = true;
  }
  end_(how, status);
}

void LinuxPlatform::Shutdown() { End(GuestEnd::kShutdown, -1); }

// 16550 registers: 0 RBR/THR (DLL with DLAB), 1 IER (DLM), 2 IIR/FCR, 3 LCR,
// 4 MCR, 5 LSR, 6 MSR, 7 SCR. Transmission is instant, nothing is received.
uint8_t LinuxPlatform::UartIn(int reg) {
  const bool dlab = lcr_ & 0x80;
  switch (reg) {
    case 0: return dlab ? dll_ : 0;
    case 1: return dlab ? dlm_ : ier_;
    case 2:
      if ((ier_ & 0x02) && thre_pending_) {
        thre_pending_ = false;  // reading IIR clears the THR-empty interrupt
        UpdateUartIrq();
        return 0x02;
      }
      return 0x01;  // no interrupt pending
    case 3: return lcr_;
    case 4: return mcr_;
    case 5: return 0x60;  // THR empty, transmitter empty
    case 6:
      if (mcr_ & 0x10) {  // loopback: modem outputs read back as inputs
        return static_cast<uint8_t>(((mcr_ & 0x02) << 3) | ((mcr_ & 0x01) << 5) |
                                    ((mcr_ & 0x04) << 4) | ((mcr_ & 0x08) << 4));
      }
      return 0xb0;  // DCD, DSR, CTS
    default: return scr_;
  }
}

void LinuxPlatform::UartOut(int reg, uint8_t v) {
  const bool dlab = lcr_ & 0x80;
  switch (reg) {
    case 0:
      if (dlab) {
        dll_ = v;
      } else {
        if (!(mcr_ & 0x10)) console_(static_cast<char>(v));
        thre_pending_ = true;
      }
      break;
    case 1:
      if (dlab) {
        dlm_ = v;
      } else {
        if ((v & 0x02) && !(ier_ & 0x02)) thre_pending_ = true;
        ier_ = v & 0x0f;
      }
      break;
    case 3: lcr_ = v; break;
    case 4: mcr_ = v & 0x1f; break;
    case 7: scr_ = v; break;
    default: break;
  }
  UpdateUartIrq();
}

void LinuxPlatform::UpdateUartIrq() {
  int level = ((ier_ & 0x02) && thre_pending_) ? 1 : 0;
  if (level == irq_level_) return;
  irq_level_ = level;
  kvm_irq_level irq{};
  irq.irq = 4;
  irq.level = static_cast<uint32_t>(level);
  ioctl(vm_->fd(), KVM_IRQ_LINE, &irq);
}

void LinuxPlatform::HandleIo(uint16_t port, bool in, uint8_t size, uint8_t* data) {
  if (port >= 0x3f8 && port < 0x400 && size == 1) {
    absl::MutexLock l(&mu_);
    if (in) {
      data[0] = UartIn(port - 0x3f8);
    } else {
      UartOut(port - 0x3f8, data[0]);
    }
    return;
  }
  if (port == kPowerOffPort && !in) {
    End(GuestEnd::kPowerOff, data[0]);
    return;
  }
  if ((port == I8042::kDataPort || port == I8042::kCommandPort) && size == 1) {
    bool reset = false;
    {
      absl::MutexLock l(&mu_);
      if (in) {
        data[0] = i8042_.Read(port);
      } else {
        reset = i8042_.Write(port, data[0]);
      }
    }
    if (reset) End(GuestEnd::kReset, -1);  // reboot=k
    return;
  }
  if (in) {
    // The CMOS reads as 0 (no update in progress); every other absent
    // device floats high.
    uint8_t fill = (port == 0x60 || port == 0x64 || port == 0x71) ? 0x00 : 0xff;
    std::memset(data, fill, size);
  }
}

}  // namespace vmm
}  // namespace kvmbed
