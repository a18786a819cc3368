#include "runner/linux_run.h"

#include <glob.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "base/event_log.h"
#include "base/input.h"
#include "base/status_macros.h"
#include "vmm/guest_memory.h"
#include "vmm/guest_page_walk.h"
#include "vmm/kvm.h"
#include "vmm/linux_boot.h"
#include "vmm/linux_platform.h"
#include "vmm/vcpu_hooks.h"
#include "vmm/vcpu_thread.h"
#include "vmm/x86_setup.h"
#include "watch/linux_console.h"
#include "watch/linux_ipi_wait.h"

namespace kvmbed {
namespace runner {
namespace {

std::atomic<bool> g_stop{false};

absl::Status Bad(const std::string& field, const std::string& what, const std::string& fix) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what, "; ", fix));
}

std::string NewestHostKernel() {
  glob_t g;
  std::string path;
  if (glob("/boot/vmlinuz-*", 0, nullptr, &g) == 0 && g.gl_pathc > 0) {
    path = g.gl_pathv[g.gl_pathc - 1];
  }
  globfree(&g);
  return path;
}

// An initramfs, in bulk and bounded (a byte-wise read took over 20 s in a
// nested L1): it must fit in the guest's RAM anyway.
absl::StatusOr<std::vector<uint8_t>> ReadInitramfs(const std::string& path, uint64_t max_bytes) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFileCapped(path, max_bytes, "initramfs"));
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

// Initramfs formats the kernel unpacks: cpio (newc/crc) or compressed.
bool LooksLikeInitramfs(const std::vector<uint8_t>& b) {
  auto starts = [&](const char* m, size_t n) {
    return b.size() >= n && std::memcmp(b.data(), m, n) == 0;
  };
  return starts("070701", 6) || starts("070702", 6) || starts("\x1f\x8b", 2) ||
         starts("\x28\xb5\x2f\xfd", 4) || starts("\xfd" "7zXZ", 5) || starts("BZh", 3) ||
         starts("\x02\x21\x4c\x18", 4) || starts("\x89LZO", 4) || starts("\x5d\x00\x00", 3);
}

// One-file newc cpio archive holding /kvmbed/commands (appended to the
// initramfs: the kernel unpacks concatenated archives in order).
std::vector<uint8_t> CommandsArchive(const std::string& script) {
  std::vector<uint8_t> out;
  auto pad4 = [&] { while (out.size() % 4) out.push_back(0); };
  auto entry = [&](const std::string& name, uint32_t mode, const std::string& data) {
    std::string h = absl::StrFormat(
        "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", 0, mode, 0, 0, 1, 0,
        static_cast<uint32_t>(data.size()), 0, 0, 0, 0, static_cast<uint32_t>(name.size() + 1),
        0);
    out.insert(out.end(), h.begin(), h.end());
    out.insert(out.end(), name.begin(), name.end());
    out.push_back(0);
    pad4();
    out.insert(out.end(), data.begin(), data.end());
    pad4();
  };
  entry("kvmbed", 040755, "");
  entry("kvmbed/commands", 0100755, script);
  entry("TRAILER!!!", 0, "");
  while (out.size() % 512) out.push_back(0);
  return out;
}

// Runs tools/linux_initramfs.sh (found next to the binary's runfiles or in
// the working directory) and returns the path it prints.
absl::StatusOr<std::string> DefaultInitramfs() {
  std::vector<std::string> candidates;
  if (const char* e = getenv("KVMBED_LINUX_INITRAMFS_SH")) candidates.push_back(e);
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    std::string s(self, static_cast<size_t>(n));
    candidates.push_back(s + ".runfiles/kvmbed/tools/linux_initramfs.sh");
  }
  if (const char* rf = getenv("RUNFILES_DIR")) {
    candidates.push_back(absl::StrCat(rf, "/kvmbed/tools/linux_initramfs.sh"));
  }
  candidates.push_back("tools/linux_initramfs.sh");
  for (const std::string& c : candidates) {
    if (access(c.c_str(), X_OK) != 0) continue;
    FILE* p = popen(("'" + c + "'").c_str(), "r");
    if (p == nullptr) continue;
    char line[4096] = {};
    std::string path;
    while (fgets(line, sizeof(line), p) != nullptr) path = std::string(absl::StripTrailingAsciiWhitespace(line));
    int rc = pclose(p);
    if (rc != 0 || path.empty()) {
      return Bad("guest.initrd", absl::StrCat("not given, and ", c, " failed (status ", rc, ")"),
                 "install busybox-static, stress-ng and cpio (tools/setup.sh) or set "
                 "guest.initrd to an initramfs");
    }
    return path;
  }
  return Bad("guest.initrd", "not given, and tools/linux_initramfs.sh was not found",
             "run tools/linux_initramfs.sh and set guest.initrd to the path it prints");
}


}  // namespace

void RequestLinuxRunStop() { g_stop.store(true); }

std::string DefaultLinuxCmdline() {
  // nokaslr: RIPs match a System.map; panic=-1 + reboot=k: a panic resets
  // through the i8042 and the VM ends; acpi=off: the MP table describes the
  // CPUs; no_timer_check: KVM's PIT needs no IO-APIC timer probe; quiet:
  // the console shows errors and worse (every report watched is one), so
  // boot pays for fewer UART exits.
  return "console=ttyS0 quiet reboot=k panic=-1 nokaslr acpi=off "
         "pci=off no_timer_check tsc=reliable mitigations=off i8042.noaux i8042.nopnp "
         "i8042.dumbkbd rdinit=/init";
}


namespace {

// A symbol table: sorted (address, name); a RIP belongs to the last symbol at
// or below it, when the next symbol is above it.
class Symbols {
 public:
  void Add(uint64_t addr, const std::string& name) {
    absl::MutexLock l(&mu_);
    syms_.emplace_back(addr, name);
    sorted_ = false;
  }
  // "func+0x1a" or "" when unknown.
  std::string Lookup(uint64_t rip) {
    absl::MutexLock l(&mu_);
    if (!sorted_) {
      std::sort(syms_.begin(), syms_.end());
      sorted_ = true;
    }
    auto it = std::upper_bound(syms_.begin(), syms_.end(),
                               std::make_pair(rip, std::string("\xff")));
    if (it == syms_.begin() || it == syms_.end()) return "";
    --it;
    // From kallsyms only the IPI-wait and idle functions and the symbol
    // after each are known: a RIP far past a known symbol is unknown, not
    // that symbol plus a big offset. A full System.map bounds every RIP.
    if (!full_ && rip - it->first > 0x2000) return "";
    return absl::StrFormat("%s+0x%x", it->second, rip - it->first);
  }
  size_t size() {
    absl::MutexLock l(&mu_);
    return syms_.size();
  }
  void SetFull() {
    absl::MutexLock l(&mu_);
    full_ = true;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::pair<uint64_t, std::string>> syms_ ABSL_GUARDED_BY(mu_);
  bool sorted_ ABSL_GUARDED_BY(mu_) = true;
  bool full_ ABSL_GUARDED_BY(mu_) = false;
};

absl::Status LoadSystemMap(const std::string& path, Symbols* syms) {
  std::ifstream f(path);
  if (!f) {
    return Bad("guest.system_map", absl::StrCat(path, ": cannot open (", std::strerror(errno), ")"),
               "give the System.map of the kernel build, or leave system_map out");
  }
  std::string line;
  int n = 0;
  while (std::getline(f, line)) {
    char type = 0;
    char name[256];
    unsigned long long addr = 0;
    if (std::sscanf(line.c_str(), "%llx %c %255s", &addr, &type, name) == 3) {
      if (type == 't' || type == 'T' || type == 'w' || type == 'W') {
        syms->Add(addr, name);
        ++n;
      }
    }
  }
  syms->SetFull();
  if (n < 100) {
    return Bad("guest.system_map",
               absl::StrCat(path, " has only ", n, " text symbols (Debian's /boot/System.map is a "
                            "stub)"),
               "give the System.map of your kernel build, or leave it out: kvmbed then reads "
               "the symbols it needs from the guest's /proc/kallsyms");
  }
  return absl::OkStatus();
}

bool IsIpiWait(const std::string& sym) {
  return absl::StartsWith(sym, "csd_lock_wait+") ||
         absl::StartsWith(sym, "smp_call_function_many_cond+") ||
         absl::StartsWith(sym, "smp_call_function_single+") ||
         absl::StartsWith(sym, "generic_exec_single+");
}

// What the hypervisor knows about one vCPU at one instant.
struct VcpuFacts {
  bool answered = false;
  kvm_regs regs{};
  uint64_t cr3 = 0;
  uint32_t mp_state = 0;
  std::vector<int> irr, isr;
  std::deque<std::string> last_exits;
  bool withheld = false;
};

const char* MpStateName(uint32_t s) {
  switch (s) {
    case KVM_MP_STATE_RUNNABLE: return "runnable";
    case KVM_MP_STATE_UNINITIALIZED: return "uninitialized";
    case KVM_MP_STATE_INIT_RECEIVED: return "init_received";
    case KVM_MP_STATE_HALTED: return "halted";
    case KVM_MP_STATE_SIPI_RECEIVED: return "sipi_received";
    default: return "other";
  }
}

std::vector<int> Vectors(const kvm_lapic_state& l, int base) {
  std::vector<int> v;
  for (int i = 0; i < 8; ++i) {
    uint32_t word;
    std::memcpy(&word, &l.regs[base + i * 0x10], 4);
    for (int b = 0; b < 32; ++b) {
      if (word & (1u << b)) v.push_back(i * 32 + b);
    }
  }
  return v;
}

std::string VecList(const std::vector<int>& v) {
  std::vector<std::string> s;
  for (int x : v) s.push_back(absl::StrFormat("0x%02x", x));
  return s.empty() ? "-" : absl::StrJoin(s, ",");
}

// The words on a vCPU's stack (from RSP, up to `bytes`) that point into the
// kernel image (the top 1 GiB less the modules area); with the kernel's
// System.map, or /proc/kallsyms of the same kernel booted with nokaslr,
// they are its backtrace.
std::string KernelStackWords(const vmm::GuestMemory& mem, const VcpuFacts& f, size_t bytes) {
  std::vector<std::string> words;
  for (size_t off = 0; off < bytes; off += 8) {
    absl::StatusOr<uint64_t> pa = vmm::GuestVirtToPhys(mem, f.cr3, f.regs.rsp + off);
    if (!pa.ok()) break;
    absl::StatusOr<uint64_t> w = mem.ReadAs<uint64_t>(*pa);
    if (!w.ok()) break;
    if (*w >= 0xffffffff80000000ull && *w < 0xffffffffc0000000ull) {
      words.push_back(absl::StrFormat("%x", *w));
    }
  }
  return words.empty() ? "-" : absl::StrJoin(words, " ");
}

// The per-vCPU hooks: answer snapshot requests in the vCPU's own thread
// (KVM vCPU ioctls belong to it), record the last exits, and withhold the
// vCPU from KVM_RUN when the fault says so.
class LinuxHooks : public vmm::VcpuHooks {
 public:
  explicit LinuxHooks(int n) : slots_(n) {}
  void Bind(std::vector<vmm::Vcpu*> vcpus) { vcpus_ = std::move(vcpus); }

  void AfterExit(int vcpu, uint32_t reason, bool) override {
    Slot& s = slots_[vcpu];
    {
      absl::MutexLock l(&s.mu);
      s.facts.last_exits.push_back(vmm::ExitReasonName(reason));
      if (s.facts.last_exits.size() > 6) s.facts.last_exits.pop_front();
    }
    if (s.want.exchange(false)) Answer(vcpu);
  }

  void BeforeEntry(int vcpu) override {
    if (vcpu != withhold_vcpu_) return;
    absl::Time start = withhold_start_.load() == 0 ? absl::InfiniteFuture()
                                                   : absl::FromUnixNanos(withhold_start_.load());
    if (absl::Now() < start || withheld_done_) return;
    withholding_.store(true);
    absl::Time until = start + withhold_for_;
    while (absl::Now() < until && !g_stop.load() && !stop_.load()) {
      if (slots_[vcpu].want.exchange(false)) Answer(vcpu);
      absl::SleepFor(absl::Milliseconds(5));
    }
    withholding_.store(false);
    withheld_done_ = true;
  }

  // Asks every vCPU thread for a snapshot; the caller kicks them.
  void Request(int vcpu) {
    Slot& s = slots_[vcpu];
    absl::MutexLock l(&s.mu);
    s.facts.answered = false;
    s.want.store(true);
  }
  VcpuFacts Get(int vcpu) {
    Slot& s = slots_[vcpu];
    absl::MutexLock l(&s.mu);
    return s.facts;
  }

  void SetWithhold(int vcpu, absl::Duration d) {
    withhold_vcpu_ = vcpu;
    withhold_for_ = d;
  }
  void StartWithholdAt(absl::Time t) { withhold_start_.store(absl::ToUnixNanos(t)); }
  bool Withholding() const { return withholding_.load(); }
  int withhold_vcpu() const { return withhold_vcpu_; }
  void Stop() { stop_.store(true); }

 private:
  struct Slot {
    std::atomic<bool> want{false};
    absl::Mutex mu;
    VcpuFacts facts ABSL_GUARDED_BY(mu);
  };
  void Answer(int vcpu) {
    vmm::Vcpu* v = vcpus_[vcpu];
    VcpuFacts f;
    if (auto r = v->GetRegs(); r.ok()) f.regs = *r;
    if (auto sr = v->GetSregs(); sr.ok()) f.cr3 = sr->cr3;
    if (auto m = v->GetMpState(); m.ok()) f.mp_state = m->mp_state;
    kvm_lapic_state lapic{};
    if (ioctl(v->fd(), KVM_GET_LAPIC, &lapic) == 0) {
      f.irr = Vectors(lapic, 0x200);
      f.isr = Vectors(lapic, 0x100);
    }
    Slot& s = slots_[vcpu];
    absl::MutexLock l(&s.mu);
    f.last_exits = s.facts.last_exits;
    f.withheld = withholding_.load() && vcpu == withhold_vcpu_;
    f.answered = true;
    s.facts = f;
  }

  std::vector<Slot> slots_;
  std::vector<vmm::Vcpu*> vcpus_;
  int withhold_vcpu_ = -1;
  absl::Duration withhold_for_;
  std::atomic<int64_t> withhold_start_{0};
  std::atomic<bool> withholding_{false};
  bool withheld_done_ = false;  // the withheld vCPU's own thread only
  std::atomic<bool> stop_{false};
};

class LinuxExits : public vmm::VcpuExitHandler {
 public:
  explicit LinuxExits(vmm::LinuxPlatform* p) : platform_(p) {}
  absl::StatusOr<bool> HandleExit(vmm::Vcpu& vcpu, uint32_t reason) override {
    kvm_run* run = vcpu.RunState();
    switch (reason) {
      case KVM_EXIT_IO: {
        uint8_t* data = reinterpret_cast<uint8_t*>(run) + run->io.data_offset;
        for (uint32_t i = 0; i < run->io.count; ++i) {
          platform_->HandleIo(run->io.port, run->io.direction == KVM_EXIT_IO_IN, run->io.size,
                              data + i * run->io.size);
        }
        return !ended_.load();
      }
      case KVM_EXIT_MMIO:
        if (!run->mmio.is_write) std::memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
        return !ended_.load();
      case KVM_EXIT_SHUTDOWN:
        platform_->Shutdown();
        return false;
      case KVM_EXIT_SYSTEM_EVENT:
        platform_->Shutdown();
        return false;
      case KVM_EXIT_HLT:
        return !ended_.load();
      case KVM_EXIT_FAIL_ENTRY:
        return absl::InternalError(absl::StrCat(
            "vcpu-", vcpu.id(), ": KVM_EXIT_FAIL_ENTRY, hardware reason 0x",
            absl::Hex(run->fail_entry.hardware_entry_failure_reason)));
      case KVM_EXIT_INTERNAL_ERROR:
        return absl::InternalError(absl::StrCat("vcpu-", vcpu.id(),
                                                ": KVM_EXIT_INTERNAL_ERROR suberror ",
                                                run->internal.suberror));
      default:
        return absl::InternalError(absl::StrCat("vcpu-", vcpu.id(), ": unexpected exit ",
                                                vmm::ExitReasonName(reason)));
    }
  }
  void OnVcpuStopped(int vcpu, const absl::Status& status) override {
    absl::MutexLock l(&mu_);
    if (!status.ok() && error_.ok()) error_ = status;
    (void)vcpu;
  }
  void SetEnded() { ended_.store(true); }
  absl::Status error() {
    absl::MutexLock l(&mu_);
    return error_;
  }

 private:
  vmm::LinuxPlatform* platform_;
  std::atomic<bool> ended_{false};
  absl::Mutex mu_;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
};

// Thread state from /proc: R (running or runnable), S (sleeping), ... and
// the host CPU it last ran on.
std::pair<char, int> ThreadState(pid_t tid) {
  std::ifstream f(absl::StrCat("/proc/self/task/", tid, "/stat"));
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t close = s.rfind(')');
  if (close == std::string::npos) return {'?', -1};
  std::istringstream rest(s.substr(close + 2));
  std::vector<std::string> fields;
  std::string x;
  while (rest >> x) fields.push_back(x);
  // fields[0] is field 3 (state); processor is field 39.
  if (fields.size() < 37) return {'?', -1};
  return {fields[0][0], std::atoi(fields[36].c_str())};
}

}  // namespace

absl::StatusOr<LinuxRunResult> RunLinuxGuest(const RunSpec& spec, const LinuxGuestSpec& lg,
                                             EventLog* events) {
  g_stop.store(false);
  if (spec.vms.size() != 1) {
    return Bad("vms", absl::StrCat(spec.vms.size(), " VMs with a Linux guest"),
               "a Linux guest profile has one VM");
  }
  const VmSpec& vm = spec.vms[0];
  const int n = vm.vcpus;
  if (vm.memory_bytes < (256ull << 20)) {
    return Bad("memory", absl::StrCat(vm.memory_bytes >> 20, "M is too little for a Linux guest"),
               "give at least memory: 512M");
  }

  // Inputs first: every bad file or field is exit 2 before any KVM work.
  std::string kernel_path = lg.kernel == "default" || lg.kernel.empty() ? NewestHostKernel() : lg.kernel;
  if (kernel_path.empty()) {
    return Bad("guest.kernel", "default: no /boot/vmlinuz-* on this machine",
               "apt-get install linux-image-amd64, or give guest.kernel: PATH/TO/bzImage");
  }
  std::vector<uint8_t> image;
  absl::StatusOr<vmm::BzImageInfo> info = vmm::ReadBzImage(kernel_path, &image);
  if (!info.ok()) return Bad("guest.kernel", std::string(info.status().message()), "see docs/linux-guests.md");
  std::string initrd_path = lg.initrd;
  if (initrd_path.empty()) { ASSIGN_OR_RETURN(initrd_path, DefaultInitramfs()); }
  absl::StatusOr<std::vector<uint8_t>> initrd = ReadInitramfs(initrd_path, vm.memory_bytes);
  if (!initrd.ok()) {
    return Bad("guest.initrd", std::string(initrd.status().message()),
               "give an initramfs (tools/linux_initramfs.sh prints one)");
  }
  if (!LooksLikeInitramfs(*initrd)) {
    return Bad("guest.initrd", absl::StrCat(initrd_path, " is not an initramfs (no cpio or "
                                            "compression magic)"),
               "give a cpio archive, e.g. the one tools/linux_initramfs.sh prints");
  }
  std::string cmdline = lg.cmdline.empty() ? DefaultLinuxCmdline() : lg.cmdline;
  if (!absl::StrContains(cmdline, "console=ttyS0")) {
    return Bad("guest.cmdline", "has no console=ttyS0, so kvmbed could not watch the console",
               "add console=ttyS0 (or leave guest.cmdline out for the default)");
  }
  for (char c : cmdline) {
    if (c == '\n' || c == '\0' || static_cast<unsigned char>(c) < 0x20) {
      return Bad("guest.cmdline", "contains a control character", "write it on one line");
    }
  }
  if (cmdline.size() > info->cmdline_size) {
    return Bad("guest.cmdline", absl::StrCat(cmdline.size(), " bytes; ", kernel_path,
                                             " accepts at most ", info->cmdline_size),
               "shorten it");
  }
  if (lg.withhold_vcpu >= n || lg.withhold_vcpu == 0) {
    if (lg.withhold_vcpu != -1) {
      return Bad("guest.withhold.vcpu", absl::StrCat(lg.withhold_vcpu, " is not an AP of ", n, " vCPUs"),
                 absl::StrCat("give 1..", n - 1, " (vCPU 0 boots the guest)"));
    }
  }
  Symbols syms;
  if (!lg.system_map.empty()) RETURN_IF_ERROR(LoadSystemMap(lg.system_map, &syms));

  std::string script = "set -x\n";
  for (const std::string& c : lg.commands) absl::StrAppend(&script, c, "\n");
  if (lg.commands.empty()) script = "stress-ng --cpu $(nproc) --timeout 5s --metrics-brief\n";
  std::vector<uint8_t> rd = *initrd;
  while (rd.size() % 4) rd.push_back(0);
  std::vector<uint8_t> extra = CommandsArchive(script);
  rd.insert(rd.end(), extra.begin(), extra.end());

  std::FILE* console_file = nullptr;
  if (!lg.console_log.empty()) {
    console_file = std::fopen(lg.console_log.c_str(), "w");
    if (console_file == nullptr) {
      return Bad("guest.console_log", absl::StrCat(lg.console_log, ": ", std::strerror(errno)),
                 "give a writable path");
    }
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> console_closer(
      console_file, [](std::FILE* f) { return f ? std::fclose(f) : 0; });

  // The machine.
  ASSIGN_OR_RETURN(std::unique_ptr<vmm::Kvm> kvm, vmm::Kvm::Open());
  ASSIGN_OR_RETURN(std::unique_ptr<vmm::Vm> vmfd, vmm::Vm::Create(*kvm));
  RETURN_IF_ERROR(vmm::CreateLinuxPit(*vmfd));
  ASSIGN_OR_RETURN(std::unique_ptr<vmm::GuestMemory> mem,
                   vmm::GuestMemory::Create(vm.memory_bytes));
  RETURN_IF_ERROR(mem->Register(*vmfd));
  ASSIGN_OR_RETURN(vmm::LinuxLayout layout, vmm::LoadLinux(*mem, *info, image, rd, cmdline));
  ASSIGN_OR_RETURN(vmm::ApicTopology topo, vmm::MakeApicTopology(vm.topology, n));
  std::vector<uint32_t> apic_ids;
  for (int i = 0; i < n; ++i) apic_ids.push_back(topo.ApicId(i));
  RETURN_IF_ERROR(vmm::WriteMpTable(*mem, vmm::kLinuxMpTableGpa, apic_ids));
  ASSIGN_OR_RETURN(vmm::CpuidTable base, vmm::BaseGuestCpuid(*kvm));
  const bool tsc_deadline = kvm->CheckExtension(KVM_CAP_TSC_DEADLINE_TIMER) > 0;
  std::vector<std::unique_ptr<vmm::Vcpu>> vcpus;
  std::vector<vmm::Vcpu*> raw;
  for (int i = 0; i < n; ++i) {
    ASSIGN_OR_RETURN(auto v, vmm::Vcpu::Create(*vmfd, i, static_cast<int>(apic_ids[i])));
    vmm::CpuidTable cpuid = vmm::CpuidForVcpu(base, apic_ids[i], topo);
    vmm::FitCpuidForLinux(cpuid, tsc_deadline);
    RETURN_IF_ERROR(v->SetCpuid(cpuid));
    raw.push_back(v.get());
    vcpus.push_back(std::move(v));
  }
  RETURN_IF_ERROR(vmm::SetupLinuxBootVcpu(*vcpus[0], layout));

  // The watchers.
  LinuxRunResult result;
  const absl::Time t0 = absl::Now();
  absl::Mutex qmu;
  std::vector<watch::LinuxConsoleEvent> pending;  // guarded by qmu
  std::atomic<int64_t> init_start_ns{0};
  // Console reports that have begun (their title line seen). A report is
  // complete only at its end marker, the next report or its 60th line, but
  // its hypervisor facts are those of the watch loop's first snapshot after
  // its title: what the vCPUs were doing when the kernel spoke.
  std::atomic<int> titles_seen{0};
  watch::LinuxConsoleWatcher watcher([&](const watch::LinuxConsoleEvent& e) {
    absl::MutexLock l(&qmu);
    pending.push_back(e);
  });
  absl::Mutex console_mu;
  std::string line_buf;
  auto on_line = [&](const std::string& line) {
    uint64_t addr;
    std::string name;
    if (watch::ParseSymbolLine(line, &addr, &name)) syms.Add(addr, name);
    if (absl::StrContains(line, "kvmbed-init: start") && init_start_ns.load() == 0) {
      init_start_ns.store(absl::ToUnixNanos(absl::Now()));
    }
    if (!watch::ClassifyLinuxLine(line).kind.empty()) titles_seen.fetch_add(1);
  };
  absl::Notification ended;
  vmm::GuestEnd end_how = vmm::GuestEnd::kRunning;
  int end_status = -1;
  absl::Mutex end_mu;
  vmm::LinuxPlatform platform(
      vmfd.get(),
      [&](char c) {
        absl::MutexLock l(&console_mu);
        if (console_file) {
          std::fputc(c, console_file);
          if (c == '\n') std::fflush(console_file);
        }
        watcher.Feed(c);
        if (c == '\n') {
          on_line(line_buf);
          line_buf.clear();
        } else if (c != '\r' && line_buf.size() < 4096) {
          line_buf.push_back(c);
        }
      },
      [&](vmm::GuestEnd how, int status) {
        {
          absl::MutexLock l(&end_mu);
          end_how = how;
          end_status = status;
        }
        if (!ended.HasBeenNotified()) ended.Notify();
      });
  LinuxExits exits(&platform);
  LinuxHooks hooks(n);
  hooks.Bind(raw);
  if (lg.withhold_vcpu > 0) hooks.SetWithhold(lg.withhold_vcpu, lg.withhold_for);

  std::vector<std::unique_ptr<vmm::VcpuThread>> threads;
  for (int i = 0; i < n; ++i) {
    std::vector<int> aff = i < static_cast<int>(vm.vcpu_affinity.size()) ? vm.vcpu_affinity[i]
                                                                          : spec.host_cpus;
    threads.push_back(std::make_unique<vmm::VcpuThread>(raw[i], aff, &exits, &hooks));
  }
  for (auto& t : threads) RETURN_IF_ERROR(t->Start());
  for (auto& t : threads) RETURN_IF_ERROR(t->WaitPinned());
  events->Emit("linux_boot", {{"kernel", kernel_path},
                              {"kernel_version", info->kernel_version},
                              {"boot_protocol", absl::StrFormat("%d.%02d", info->version >> 8, info->version & 0xff)},
                              {"initrd", initrd_path},
                              {"cmdline", cmdline},
                              {"vcpus", n}});

  // Snapshot of every vCPU, formatted as the report's hypervisor facts.
  struct Snapshot {
    std::vector<VcpuFacts> facts;
    std::vector<std::string> sym;
    std::vector<char> tstate;
    std::vector<int> host_cpu;
    std::vector<bool> in_guest;
  };
  auto take = [&](absl::Duration wait) {
    Snapshot s;
    for (int i = 0; i < n; ++i) hooks.Request(i);
    for (auto& t : threads) t->Kick();
    absl::Time deadline = absl::Now() + wait;
    for (int i = 0; i < n; ++i) {
      while (!hooks.Get(i).answered && absl::Now() < deadline && !threads[i]->Finished()) {
        absl::SleepFor(absl::Microseconds(200));
      }
    }
    for (int i = 0; i < n; ++i) {
      VcpuFacts f = hooks.Get(i);
      s.sym.push_back(f.answered ? syms.Lookup(f.regs.rip) : "");
      s.facts.push_back(std::move(f));
      auto [st, cpu] = ThreadState(threads[i]->Stats().tid);
      s.tstate.push_back(st);
      s.host_cpu.push_back(cpu);
      s.in_guest.push_back(threads[i]->InGuest());
    }
    return s;
  };
  auto facts_text = [&](const Snapshot& s, bool stacks) {
    std::string out = "hypervisor facts at report time:\n";
    for (int i = 0; i < n; ++i) {
      const VcpuFacts& f = s.facts[i];
      std::string thread;
      if (f.withheld) {
        thread = "withheld (not entering KVM_RUN: fault injection)";
      } else if (s.in_guest[i] && f.mp_state == KVM_MP_STATE_HALTED) {
        thread = "halted in KVM";
      } else if (s.in_guest[i] && s.tstate[i] == 'R') {
        thread = "inside KVM_RUN";
      } else if (s.tstate[i] == 'R') {
        thread = "runnable";
      } else {
        thread = absl::StrCat("state ", std::string(1, s.tstate[i]));
      }
      absl::StrAppendFormat(
          &out, "  vcpu-%d apic %u: thread %s, host CPU %d, mp_state %s, RIP %s%s%s, IRR %s, ISR %s, last exits %s\n",
          i, apic_ids[i], thread, s.host_cpu[i], MpStateName(f.mp_state),
          f.answered ? absl::StrFormat("0x%x", f.regs.rip) : "?",
          s.sym[i].empty() ? "" : " ", s.sym[i], VecList(f.irr), VecList(f.isr),
          f.last_exits.empty() ? "-" : absl::StrJoin(f.last_exits, ","));
      if (stacks && f.answered && f.mp_state != KVM_MP_STATE_HALTED) {
        absl::StrAppendFormat(&out, "    vcpu-%d RSP 0x%x, kernel addresses on its stack: %s\n", i,
                              f.regs.rsp, KernelStackWords(*mem, f, 1024));
      }
    }
    absl::StrAppend(&out, vmm::DescribeIrqChips(*vmfd));
    return out;
  };
  // The vCPU-level csd watch over the RIP samples (watch/linux_ipi_wait.h).
  const absl::Duration period = absl::Seconds(1.0 / lg.sample_hz);
  watch::IpiWaitOptions wait_opts;
  wait_opts.threshold = lg.csd_threshold;
  wait_opts.grace = std::max(absl::Seconds(1), 3 * period);
  wait_opts.owed_after = std::max(absl::Seconds(1), 3 * period);
  watch::IpiWaitTracker ipi_wait(n, wait_opts);
  int found = 0;
  // `cpu`: the vCPU that reports or waits (-1: unknown); `named`: the CPUs
  // the kernel's own report names as the ones waited for (an RCU stall's
  // stalled CPUs).
  auto report = [&](const std::string& kind, const std::string& source, int cpu,
                    const std::vector<std::string>& lines, bool fatal,
                    const Snapshot* at = nullptr, const std::vector<int>& named = {},
                    double waited_s = -1) {
    Snapshot s = at != nullptr ? *at : take(absl::Milliseconds(300));
    // Whom it waits for: a vCPU withheld in this snapshot, else one the
    // kernel names, else one the sampling watch says owes an answer.
    int target = -1;
    std::string why;
    for (int i = 0; i < n && target < 0; ++i) {
      const bool is_named = named.empty() || std::find(named.begin(), named.end(), i) != named.end();
      if (i != cpu && s.facts[i].withheld && is_named) {
        target = i;
        why = "withheld from KVM_RUN";
      }
    }
    for (int i : named) {
      if (target >= 0 || i < 0 || i >= n) continue;
      target = i;
      const absl::Time last = ipi_wait.LastWithheld(i);
      why = last == absl::InfinitePast()
                ? "the kernel's report names it"
                : absl::StrFormat("withheld from KVM_RUN until %.1f s before this report; the kernel's "
                                  "report names it",
                                  absl::ToDoubleSeconds(absl::Now() - last));
    }
    if (target < 0) {
      const watch::IpiOwer owed = ipi_wait.Owing(cpu);
      target = owed.vcpu;
      why = owed.Why();
    }
    std::string text = absl::StrCat("kvmbed: linux ", kind, " (", source, ")",
                                    cpu >= 0 ? absl::StrCat(" on vcpu-", cpu) : "", "\n");
    for (const std::string& l : lines) absl::StrAppend(&text, "  | ", l, "\n");
    if (target >= 0) {
      absl::StrAppend(&text, "  waits for: vcpu-", target, " (", why, ")\n");
      if (fatal && result.culprit.empty()) result.culprit = absl::StrCat("vcpu-", target);
    }
    absl::StrAppend(&text, facts_text(s, kind == "hang"));
    std::fprintf(stdout, "%s", text.c_str());
    std::fflush(stdout);
    nlohmann::json vcpu_facts = nlohmann::json::array();
    for (int i = 0; i < n; ++i) {
      vcpu_facts.push_back({{"vcpu", i},
                            {"rip", s.facts[i].regs.rip},
                            {"symbol", s.sym[i]},
                            {"mp_state", MpStateName(s.facts[i].mp_state)},
                            {"host_cpu", s.host_cpu[i]},
                            {"withheld", s.facts[i].withheld},
                            {"irr", s.facts[i].irr},
                            {"isr", s.facts[i].isr}});
    }
    nlohmann::json stall = {{"plane", "linux"},
                            {"kind", kind},
                            {"source", source},
                            {"waiter", cpu},
                            {"target", target},
                            {"reason", target >= 0 ? why : std::string()},
                            {"fatal", fatal},
                            {"vcpus", vcpu_facts},
                            {"report", text}};
    if (waited_s >= 0) stall["wait_ns"] = static_cast<int64_t>(waited_s * 1e9);
    events->Emit("stall", stall);
    if (fatal) {
      ++found;
      result.stall_kinds.push_back(kind);
    }
  };

  // The watch loop: console reports, RIP sampling, the end.
  // Snapshots taken at the start of console reports, keyed by the report's
  // number (reports complete in the order they begin). A report that
  // completes before the loop's next snapshot takes its own.
  std::deque<std::pair<int, Snapshot>> title_snaps;
  int titles_snapped = 0;
  int console_reports = 0;
  auto console_report = [&](const watch::LinuxConsoleEvent& e) {
    const int number = console_reports++;
    while (!title_snaps.empty() && title_snaps.front().first < number) title_snaps.pop_front();
    if (title_snaps.empty() || title_snaps.front().first != number) {
      report(e.kind, "console", e.cpu, e.lines, e.fatal, nullptr, watch::RcuStalledCpus(e));
      return;
    }
    Snapshot at = std::move(title_snaps.front().second);
    title_snaps.pop_front();
    report(e.kind, "console", e.cpu, e.lines, e.fatal, &at, watch::RcuStalledCpus(e));
  };
  absl::Time deadline = t0 + lg.timeout;
  bool timed_out = false;
  while (!ended.WaitForNotificationWithTimeout(period)) {
    if (g_stop.load()) break;
    if (absl::Now() > deadline) {
      timed_out = true;
      break;
    }
    bool all_done = true;
    for (auto& t : threads) all_done = all_done && t->Finished();
    if (all_done) break;
    if (init_start_ns.load() != 0 && result.boot_to_init_s < 0) {
      result.boot_to_init_s = absl::ToDoubleSeconds(absl::FromUnixNanos(init_start_ns.load()) - t0);
      events->Emit("linux_init", {{"boot_to_init_s", result.boot_to_init_s}});
      if (lg.withhold_vcpu > 0) {
        hooks.StartWithholdAt(absl::FromUnixNanos(init_start_ns.load()) + lg.withhold_after);
      }
    }
    std::vector<watch::LinuxConsoleEvent> evs;
    {
      absl::MutexLock l(&qmu);
      evs.swap(pending);
    }
    for (const auto& e : evs) console_report(e);
    // RIP sampling.
    Snapshot s = take(std::min(period, absl::Milliseconds(100)));
    ++result.rip_samples;
    for (const int seen = titles_seen.load(); titles_snapped < seen; ++titles_snapped) {
      if (titles_snapped >= console_reports) title_snaps.emplace_back(titles_snapped, s);
    }
    std::vector<watch::VcpuIpiSample> samples(n);
    for (int i = 0; i < n; ++i) {
      const VcpuFacts& f = s.facts[i];
      samples[i].answered = f.answered;
      samples[i].in_ipi_wait = f.answered && IsIpiWait(s.sym[i]);
      samples[i].withheld = f.withheld;
      samples[i].call_function_pending = absl::c_any_of(f.irr, [](int v) { return v == 0xfb || v == 0xfc; });
      samples[i].where = s.sym[i];
    }
    for (const watch::IpiWaitVerdict& v : ipi_wait.Feed(absl::Now(), samples)) {
      // A csd stall when some vCPU owes the answer. A vCPU that merely
      // sends IPIs back to back is sampled in the wait too: that is
      // reported, but does not fail the run.
      report(v.kind, "rip-sampling", v.waiter,
             {absl::StrFormat("vcpu-%d has been in %s for %.1f s (RIP sampled at %.0f Hz)", v.waiter,
                              v.where, v.waited_s, lg.sample_hz)},
             v.fatal, &s, {}, v.waited_s);
    }
  }
  // Let the console's last lines arrive, then stop every vCPU.
  exits.SetEnded();
  hooks.Stop();
  {
    absl::MutexLock l(&console_mu);
    watcher.Flush();
  }
  std::vector<watch::LinuxConsoleEvent> evs;
  {
    absl::MutexLock l(&qmu);
    evs.swap(pending);
  }
  for (const auto& e : evs) console_report(e);
  if (timed_out) {
    report("hang", "timeout", -1,
           {absl::StrCat("the guest did not power off within ", absl::FormatDuration(lg.timeout))},
           true);
  }
  for (auto& t : threads) t->RequestStop();
  for (auto& t : threads) t->Join();
  absl::Status err = exits.error();

  {
    absl::MutexLock l(&end_mu);
    switch (end_how) {
      case vmm::GuestEnd::kPowerOff: result.end = "poweroff"; break;
      case vmm::GuestEnd::kReset: result.end = "reset"; break;
      case vmm::GuestEnd::kShutdown: result.end = "shutdown"; break;
      case vmm::GuestEnd::kRunning: result.end = timed_out ? "timeout" : "stopped"; break;
    }
    result.guest_status = end_status;
  }
  if (!err.ok()) {
    std::fprintf(stdout, "kvmbed: vCPU error: %s\n", std::string(err.message()).c_str());
    ++found;
    result.stall_kinds.push_back("vcpu_error");
  }
  if (result.end == "poweroff" && result.guest_status != 0 && found == 0) {
    std::fprintf(stdout, "kvmbed: the guest's commands ended with status %d\n", result.guest_status);
    ++found;
    result.stall_kinds.push_back("commands_failed");
  }
  if ((result.end == "reset" || result.end == "shutdown") && found == 0) {
    std::fprintf(stdout, "kvmbed: the guest %s without powering off\n", result.end.c_str());
    ++found;
    result.stall_kinds.push_back(result.end);
  }
  result.exit_code = found > 0 ? 1 : 0;
  events->Emit("linux_end", {{"end", result.end},
                             {"guest_status", result.guest_status},
                             {"boot_to_init_s", result.boot_to_init_s},
                             {"rip_samples", result.rip_samples},
                             {"symbols", syms.size()},
                             {"culprit", result.culprit},
                             {"stalls", result.stall_kinds}});
  std::printf("linux guest: end %s, status %d, boot to init %.2f s, %llu RIP samples, %zu symbols%s%s\n",
              result.end.c_str(), result.guest_status, result.boot_to_init_s,
              static_cast<unsigned long long>(result.rip_samples), syms.size(),
              result.culprit.empty() ? "" : ", culprit ", result.culprit.c_str());
  return result;
}

}  // namespace runner
}  // namespace kvmbed
