#include "vmm/machine.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "vmm/x86_setup.h"

namespace kvmbed {
namespace vmm {

namespace {

constexpr size_t kMaxConsoleLines = 1000;
constexpr uint64_t k2M = 2ull << 20;

constexpr auto kStateNames = MakeEnumNames<uint32_t>(
    {{abi::kStateOff, "off"}, {abi::kStateBooting, "booting"}, {abi::kStateOnline, "online"},
     {abi::kStateStopped, "stopped"}});

const char* StateName(uint32_t state) { return kStateNames.Name(state, "invalid"); }

std::string GuestText(const abi::Message& m) {
  return std::string(m.text, std::min<uint32_t>(m.text_len, abi::kMessageText));
}

}  // namespace

Machine::Machine(const VmSpec& spec, const MachineOptions& options)
    : spec_(spec), options_(options), create_start_(absl::Now()) {}

Machine::~Machine() { Shutdown(); }

absl::StatusOr<std::unique_ptr<Machine>> Machine::Create(
    const VmSpec& spec, const MachineOptions& options) {
  const std::string vm = spec.name.empty() ? "<unnamed VM>" : spec.name;
  auto bad = [&](const std::string& msg) {
    return absl::InvalidArgumentError(absl::StrCat("VM ", vm, ": ", msg));
  };
  if (spec.vcpus < 1 || spec.vcpus > abi::kMaxVcpus) {
    return bad(absl::StrCat("VmSpec.vcpus = ", spec.vcpus, ": must be 1..",
                            abi::kMaxVcpus, " (guest/abi.h kMaxVcpus)"));
  }
  if (spec.vcpu_affinity.size() != static_cast<size_t>(spec.vcpus)) {
    return bad(absl::StrCat("VmSpec.vcpu_affinity has ", spec.vcpu_affinity.size(),
                            " entries for ", spec.vcpus,
                            " vCPUs: give one host CPU set per vCPU"));
  }
  const long host_cpus = sysconf(_SC_NPROCESSORS_CONF);
  for (int i = 0; i < spec.vcpus; ++i) {
    if (spec.vcpu_affinity[i].empty()) {
      return bad(absl::StrCat("VmSpec.vcpu_affinity[", i,
                              "] is empty: every vCPU needs at least one host CPU"));
    }
    for (int c : spec.vcpu_affinity[i]) {
      if (c < 0 || c >= CPU_SETSIZE || (host_cpus > 0 && c >= host_cpus)) {
        return bad(absl::StrCat("VmSpec.vcpu_affinity[", i, "] names host CPU ", c,
                                " but this host has CPUs 0-", host_cpus - 1,
                                ": fix the vcpupin cpuset (or use --fold-cpus)"));
      }
    }
  }
  if (spec.memory_bytes < abi::kMinMemoryBytes || spec.memory_bytes % k2M != 0) {
    return bad(absl::StrCat("VmSpec.memory_bytes = ", spec.memory_bytes,
                            ": must be a multiple of 2 MiB and at least ",
                            abi::kMinMemoryBytes >> 20, " MiB"));
  }
  if (options.fault != abi::kFaultNone &&
      (options.fault_vcpu < 0 || options.fault_vcpu >= spec.vcpus)) {
    return bad(absl::StrCat("MachineOptions.fault_vcpu = ", options.fault_vcpu,
                            " is not a vCPU of this VM"));
  }
  if (options.vcpu_workload.size() > static_cast<size_t>(spec.vcpus)) {
    return bad(absl::StrCat("MachineOptions.vcpu_workload has ",
                            options.vcpu_workload.size(), " entries for ",
                            spec.vcpus, " vCPUs"));
  }
  if (options.heartbeat_period <= absl::ZeroDuration() ||
      options.poll_period <= absl::ZeroDuration()) {
    return bad("MachineOptions.heartbeat_period and poll_period must be > 0");
  }
  absl::StatusOr<ApicTopology> topo = MakeApicTopology(spec.topology, spec.vcpus);
  if (!topo.ok()) return bad(std::string(topo.status().message()));
  if (options.guest_elf.empty()) {
    return bad("MachineOptions.guest_elf is empty: pass the guest ELF (runner/ and scenarios/ "
               "pass //guest:image's guest::Image())");
  }
  std::unique_ptr<Machine> m(new Machine(spec, options));
  RETURN_IF_ERROR(m->Build());
  m->created_at_ = absl::Now();
  return m;
}

absl::Status Machine::Build() {
  ASSIGN_OR_RETURN(kvm_, Kvm::Open());
  if (spec_.vcpus > kvm_->max_vcpus()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "VM ", spec_.name, ": VmSpec.vcpus = ", spec_.vcpus,
        " exceeds KVM_CAP_MAX_VCPUS = ", kvm_->max_vcpus(), " on this host"));
  }
  ASSIGN_OR_RETURN(ApicTopology topo, MakeApicTopology(spec_.topology, spec_.vcpus));
  for (int i = 0; i < spec_.vcpus; ++i) apic_ids_.push_back(topo.ApicId(i));
  if (static_cast<int>(apic_ids_.back()) >= kvm_->max_vcpu_id()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "VM ", spec_.name, ": VmSpec.topology needs APIC id ", apic_ids_.back(),
        " but KVM_CAP_MAX_VCPU_ID is ", kvm_->max_vcpu_id(), " on this host"));
  }
  ASSIGN_OR_RETURN(memory_, GuestMemory::Create(spec_.memory_bytes));
  if (options_.hugepages || options_.mergeable) {
    RETURN_IF_ERROR(memory_->Advise(options_.hugepages, options_.mergeable));
  }
  ASSIGN_OR_RETURN(vm_, Vm::Create(*kvm_));
  RETURN_IF_ERROR(memory_->Register(*vm_));

  ASSIGN_OR_RETURN(ElfImage elf, ElfImage::Parse(options_.guest_elf, "guest ELF"));
  elf_ = std::make_unique<ElfImage>(std::move(elf));
  RETURN_IF_ERROR(elf_->Load(*memory_, abi::kImageBase, abi::kImageLimit));
  RETURN_IF_ERROR(WriteBootTables(*memory_, spec_.vcpus));

  abi::BootParams bp{};
  bp.magic = abi::kBootMagic;
  bp.abi_version = abi::kAbiVersion;
  bp.num_vcpus = static_cast<uint32_t>(spec_.vcpus);
  bp.memory_bytes = spec_.memory_bytes;
  bp.workload = options_.workload;
  bp.fault = options_.fault;
  bp.fault_vcpu = static_cast<uint32_t>(options_.fault_vcpu);
  // KVM's x2APIC timer counts at its APIC bus frequency, 1 GHz by default
  // (KVM_CAP_X86_APIC_BUS_CYCLES_NS = 1): one tick per nanosecond.
  bp.heartbeat_ticks = static_cast<uint64_t>(
      absl::ToInt64Nanoseconds(options_.heartbeat_period));
  auto tsc = vm_->TscKhz();
  bp.tsc_khz = tsc.ok() ? *tsc : 0;
  bp.sockets = static_cast<uint32_t>(spec_.topology.sockets);
  bp.cores = static_cast<uint32_t>(spec_.topology.cores);
  bp.threads = static_cast<uint32_t>(spec_.topology.threads);
  for (int i = 0; i < spec_.vcpus; ++i) bp.apic_id[i] = apic_ids_[i];
  for (int i = 0; i < abi::kMaxVcpus; ++i) {
    bp.vcpu_workload[i] = i < static_cast<int>(options_.vcpu_workload.size())
                              ? options_.vcpu_workload[i]
                              : abi::kWorkloadDefault;
  }
  RETURN_IF_ERROR(memory_->Write(abi::kBootParamsGpa, &bp, sizeof(bp)));

  ASSIGN_OR_RETURN(uint8_t * status,
                   memory_->Translate(abi::kStatusGpa,
                                      abi::kMaxVcpus * sizeof(abi::VcpuStatus)));
  status_ = reinterpret_cast<abi::VcpuStatus*>(status);

  ASSIGN_OR_RETURN(CpuidTable base, BaseGuestCpuid(*kvm_));
  for (int i = 0; i < spec_.vcpus; ++i) {
    ASSIGN_OR_RETURN(std::unique_ptr<Vcpu> vcpu,
                     Vcpu::Create(*vm_, i, static_cast<int>(apic_ids_[i])));
    RETURN_IF_ERROR(SetupLongModeVcpu(*vcpu, CpuidForVcpu(base, apic_ids_[i], topo),
                                      elf_->entry()));
    vcpus_.push_back(std::move(vcpu));
  }
  for (int i = 0; i < spec_.vcpus; ++i) {
    threads_.push_back(std::make_unique<VcpuThread>(
        vcpus_[i].get(), spec_.vcpu_affinity[i],
        static_cast<VcpuExitHandler*>(this), options_.hooks));
  }
  return absl::OkStatus();
}

absl::Status Machine::Start() {
  // Spawn all, then wait for all: waiting per thread would serialise on the
  // scheduler latency of each new thread (~2.5 ms each with 56 on 2 CPUs).
  absl::Status status;
  for (auto& t : threads_) {
    status = t->Start();
    if (!status.ok()) break;
  }
  for (auto& t : threads_) {
    absl::Status s = t->WaitPinned();
    if (status.ok() && !s.ok() && s.code() != absl::StatusCode::kFailedPrecondition) status = s;
  }
  if (!status.ok()) StopAll();
  started_at_ = absl::Now();
  return status;
}

abi::VcpuStatus Machine::StatusOf(int i) const {
  abi::VcpuStatus s{};
  if (status_ == nullptr || i < 0 || i >= abi::kMaxVcpus) return s;
  s.state = __atomic_load_n(&status_[i].state, __ATOMIC_ACQUIRE);
  s.apic_id = __atomic_load_n(&status_[i].apic_id, __ATOMIC_RELAXED);
  s.heartbeat = __atomic_load_n(&status_[i].heartbeat, __ATOMIC_RELAXED);
  return s;
}

bool Machine::AllOnline() const {
  for (int i = 0; i < num_vcpus(); ++i) {
    if (StatusOf(i).state != abi::kStateOnline) return false;
  }
  return true;
}

bool Machine::AllFinished() const {
  for (const auto& t : threads_) {
    if (!t->Finished()) return false;
  }
  return !threads_.empty();
}

absl::Status Machine::FirstError() const {
  absl::MutexLock lock(&mu_);
  return first_error_;
}

void Machine::SampleHostCpus() {
  for (auto& t : threads_) t->SampleHostCpu();
}

absl::Status Machine::WaitOnline(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Time next_sample = absl::Now();
  for (;;) {
    if (failed_.load(std::memory_order_acquire)) return FirstError();
    if (stop_requested_.load(std::memory_order_relaxed)) {
      return absl::CancelledError(absl::StrCat(
          "VM ", spec_.name, ": stop requested before every vCPU was online"));
    }
    if (AllOnline()) {
      online_at_ = absl::Now();
      SampleHostCpus();
      return absl::OkStatus();
    }
    absl::Time now = absl::Now();
    if (now >= deadline) {
      std::vector<std::string> late;
      for (int i = 0; i < num_vcpus(); ++i) {
        uint32_t st = StatusOf(i).state;
        if (st != abi::kStateOnline) late.push_back(absl::StrCat(i, " (", StateName(st), ")"));
      }
      return absl::DeadlineExceededError(absl::StrCat(
          "VM ", spec_.name, ": ", late.size(), " of ", num_vcpus(),
          " vCPUs not online after ", absl::FormatDuration(timeout), ": vCPU ",
          absl::StrJoin(late, ", ")));
    }
    if (now >= next_sample) {
      SampleHostCpus();
      next_sample = now + options_.poll_period;
    }
    absl::SleepFor(absl::Microseconds(100));
  }
}

absl::Status Machine::Run(absl::Duration duration) {
  const absl::Time deadline = absl::Now() + duration;
  for (;;) {
    SampleHostCpus();
    if (failed_.load(std::memory_order_acquire)) return FirstError();
    if (stop_requested_.load(std::memory_order_relaxed)) return absl::OkStatus();
    if (AllFinished()) return absl::OkStatus();  // every vCPU sent kMsgDone
    absl::Time now = absl::Now();
    if (now >= deadline) return absl::OkStatus();
    absl::SleepFor(std::min(options_.poll_period, deadline - now));
  }
}

void Machine::StopAll() {
  // In order: ask every vCPU to stop (kick), then join them in order.
  for (auto& t : threads_) t->RequestStop();
  for (auto& t : threads_) t->Join();
}

VmSummary Machine::Shutdown() {
  if (shut_down_) return final_summary_;
  SampleHostCpus();
  StopAll();
  final_summary_ = Snapshot();
  if (online_at_ != absl::InfinitePast()) {
    final_summary_.run_time = absl::Now() - online_at_;
  }
  shut_down_ = true;
  // Release everything now: no fd, mapping or thread outlives Shutdown().
  threads_.clear();
  vcpus_.clear();
  vm_.reset();
  status_ = nullptr;
  memory_.reset();
  kvm_.reset();
  return final_summary_;
}

VmSummary Machine::Snapshot() const {
  if (shut_down_) return final_summary_;
  VmSummary s;
  s.name = spec_.name;
  s.vcpus = spec_.vcpus;
  s.memory_bytes = spec_.memory_bytes;
  s.all_online = online_at_ != absl::InfinitePast();
  if (s.all_online) {
    s.boot_time = online_at_ - create_start_;
    s.create_time = created_at_ - create_start_;
    s.start_time = started_at_ - created_at_;
  }
  for (int i = 0; i < num_vcpus(); ++i) {
    VcpuSummary v;
    v.id = i;
    v.pinned = i < static_cast<int>(spec_.vcpu_pinned.size()) && spec_.vcpu_pinned[i];
    v.affinity_requested = spec_.vcpu_affinity[i];
    if (i < static_cast<int>(threads_.size())) {
      VcpuThreadStats st = threads_[i]->Stats();
      v.affinity_in_force = st.affinity_in_force;
      v.ran_on = st.ran_on;
      v.exits = st.exits;
      v.kicks = st.kicks_seen;
    }
    abi::VcpuStatus gs = StatusOf(i);
    v.heartbeats = gs.heartbeat;
    v.state = StateName(gs.state);
    v.apic_id = gs.apic_id;
    if (i < static_cast<int>(apic_ids_.size())) v.expected_apic_id = apic_ids_[i];
    s.vcpu.push_back(std::move(v));
  }
  absl::MutexLock lock(&mu_);
  s.console = console_;
  s.error = first_error_;
  return s;
}

void Machine::OnVcpuStopped(int vcpu, const absl::Status& status) {
  if (status.ok()) return;
  {
    absl::MutexLock lock(&mu_);
    if (first_error_.ok()) first_error_ = status;
  }
  failed_.store(true, std::memory_order_release);
  KLOG(Error, "vCPU %d stopped: %s", vcpu, status.message());
}

std::string FormatRegisters(const VcpuRegisters& v, const ElfImage* elf) {
  const kvm_regs& r = v.regs;
  const kvm_sregs& s = v.sregs;
  std::string out = absl::StrFormat(
      "  RIP %016x %s\n"
      "  RSP %016x RFLAGS %016x\n"
      "  RAX %016x RBX %016x RCX %016x RDX %016x\n"
      "  RSI %016x RDI %016x RBP %016x R8  %016x\n"
      "  R9  %016x R10 %016x R11 %016x R12 %016x\n"
      "  R13 %016x R14 %016x R15 %016x",
      r.rip, elf != nullptr ? elf->Symbolize(r.rip) : "", r.rsp, r.rflags, r.rax,
      r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.r8, r.r9, r.r10, r.r11, r.r12,
      r.r13, r.r14, r.r15);
  absl::StrAppendFormat(
      &out,
      "\n  CR0 %016x CR2 %016x CR3 %016x CR4 %016x EFER %x\n"
      "  CS %04x SS %04x GDT %x/%x IDT %x/%x",
      s.cr0, s.cr2, s.cr3, s.cr4, s.efer, s.cs.selector, s.ss.selector,
      s.gdt.base, s.gdt.limit, s.idt.base, s.idt.limit);
  return out;
}

bool Machine::RegistersWereReset(Vcpu& vcpu) {
  auto regs = vcpu.GetRegs();
  auto sregs = vcpu.GetSregs();
  // The x86 reset vector: CS selector 0xf000 with RIP 0xfff0, in real mode.
  return regs.ok() && sregs.ok() && regs->rip == 0xfff0 && sregs->cs.selector == 0xf000 &&
         (sregs->cr0 & 1) == 0;
}

std::string Machine::RegisterDump(Vcpu& vcpu) {
  auto regs = vcpu.GetRegs();
  auto sregs = vcpu.GetSregs();
  if (!regs.ok()) return absl::StrCat("  (no registers: ", regs.status().message(), ")");
  if (!sregs.ok()) return absl::StrCat("  (no sregs: ", sregs.status().message(), ")");
  return FormatRegisters(VcpuRegisters{*regs, *sregs}, elf_.get());
}

absl::StatusOr<std::string> Machine::DescribeVcpu(int i, absl::Duration timeout) {
  if (shut_down_ || i < 0 || i >= static_cast<int>(threads_.size())) {
    return absl::OutOfRangeError(absl::StrCat("no running vCPU ", i));
  }
  ASSIGN_OR_RETURN(VcpuRegisters regs, threads_[i]->CaptureRegisters(timeout));
  return FormatRegisters(regs, elf_.get());
}

absl::Status Machine::VcpuError(Vcpu& vcpu, const std::string& what) {
  return absl::AbortedError(absl::StrCat("VM ", spec_.name, " vCPU ", vcpu.id(),
                                         ": ", what, "\n", RegisterDump(vcpu)));
}

absl::StatusOr<bool> Machine::HandleExit(Vcpu& vcpu, uint32_t reason) {
  kvm_run* run = vcpu.RunState();
  switch (reason) {
    case KVM_EXIT_IO: {
      const auto& io = run->io;
      const uint8_t* data = reinterpret_cast<const uint8_t*>(run) + io.data_offset;
      uint64_t value = 0;
      if (io.size <= sizeof(value)) std::memcpy(&value, data, io.size);
      if (io.port == abi::kPortMessage && io.direction == KVM_EXIT_IO_OUT &&
          io.size == 4 && io.count == 1) {
        return HandleMessage(vcpu, static_cast<uint32_t>(value));
      }
      return VcpuError(
          vcpu, absl::StrFormat("unknown port I/O: %s port 0x%x size %d count %d%s "
                                "(the ABI has only outl to port 0x%x)",
                                io.direction == KVM_EXIT_IO_OUT ? "out" : "in",
                                io.port, io.size, io.count,
                                io.direction == KVM_EXIT_IO_OUT
                                    ? absl::StrFormat(" value 0x%x", value)
                                    : "",
                                abi::kPortMessage));
    }
    case KVM_EXIT_MMIO:
      return VcpuError(
          vcpu, absl::StrFormat("MMIO %s of %d bytes at GPA 0x%x: no guest RAM "
                                "or device there (see the memory map in guest/abi.h)",
                                run->mmio.is_write ? "write" : "read",
                                run->mmio.len, run->mmio.phys_addr));
    case KVM_EXIT_SHUTDOWN: {
      std::string what =
          "triple fault (KVM_EXIT_SHUTDOWN): the guest could not deliver an exception "
          "(bad IDT, stack or GDT)";
      if (RegistersWereReset(vcpu)) {
        // AMD SVM: the VMCB is undefined after a shutdown intercept, so KVM
        // INITs the vCPU before it returns to us; the fault's state is gone.
        absl::StrAppend(&what,
                        "; the registers below are the vCPU's reset state, not the "
                        "fault's: on AMD SVM, KVM re-initialises a vCPU after a shutdown "
                        "intercept, so the faulting RIP is lost (Intel VMX and kvm_pvm "
                        "keep it)");
      }
      return VcpuError(vcpu, what);
    }
    case KVM_EXIT_INTERNAL_ERROR: {
      std::vector<std::string> data;
      for (uint32_t i = 0; i < run->internal.ndata && i < 16; ++i) {
        data.push_back(absl::StrFormat("0x%x", run->internal.data[i]));
      }
      return VcpuError(vcpu, absl::StrCat("KVM internal error, suberror ",
                                          run->internal.suberror,
                                          run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
                                              ? " (emulation failure)"
                                              : "",
                                          ", data [", absl::StrJoin(data, " "), "]"));
    }
    case KVM_EXIT_FAIL_ENTRY:
      return VcpuError(
          vcpu, absl::StrFormat("VM entry failed (KVM_EXIT_FAIL_ENTRY), hardware "
                                "reason 0x%x on host CPU %d",
                                run->fail_entry.hardware_entry_failure_reason,
                                run->fail_entry.cpu));
    case KVM_EXIT_HLT:
      return VcpuError(vcpu,
                       "unexpected KVM_EXIT_HLT: the in-kernel irqchip should "
                       "handle HLT");
    case KVM_EXIT_SYSTEM_EVENT:
      return VcpuError(vcpu, absl::StrCat("guest system event type ",
                                          run->system_event.type,
                                          " (reset/shutdown/crash)"));
    default:
      return VcpuError(vcpu, absl::StrCat("unexpected exit ", ExitReasonName(reason)));
  }
}

absl::StatusOr<bool> Machine::HandleMessage(Vcpu& vcpu, uint32_t gpa) {
  // Copy the message out first: the guest cannot change it under us, and a
  // bad GPA cannot reach outside guest RAM.
  absl::StatusOr<abi::Message> read = memory_->ReadAs<abi::Message>(gpa);
  if (!read.ok()) {
    return VcpuError(vcpu, absl::StrCat("message at a bad address: ",
                                        read.status().message()));
  }
  const abi::Message& m = *read;
  if (m.text_len > abi::kMessageText) {
    return VcpuError(vcpu, absl::StrCat("message text_len ", m.text_len, " > ",
                                        abi::kMessageText));
  }
  if (m.vcpu != static_cast<uint32_t>(vcpu.id())) {
    return VcpuError(vcpu, absl::StrCat("message claims vCPU ", m.vcpu,
                                        " but came from vCPU ", vcpu.id()));
  }
  if (m.type == abi::kMsgReport && options_.on_report) return options_.on_report(vcpu, m);
  switch (m.type) {
    case abi::kMsgConsole:
    case abi::kMsgReport: {
      std::string line = absl::StrCat("[vCPU ", vcpu.id(), "] ", GuestText(m));
      if (options_.log_console) KLOG(Info, "%s", line);
      absl::MutexLock lock(&mu_);
      if (console_.size() < kMaxConsoleLines) console_.push_back(std::move(line));
      return true;
    }
    case abi::kMsgDone:
      return false;
    case abi::kMsgFatal:
      return VcpuError(vcpu, absl::StrCat("guest gave up: ", GuestText(m)));
    case abi::kMsgException: {
      const uint64_t* a = m.args;
      std::string what = absl::StrFormat(
          "guest exception %s (vector %d, error code 0x%x) at RIP 0x%x %s\n"
          "  guest frame: RSP %016x RFLAGS %016x CS %x SS %x CR2 %016x\n"
          "  RAX %016x RBX %016x RCX %016x RDX %016x\n"
          "  RSI %016x RDI %016x RBP %016x R8  %016x\n"
          "  R9  %016x R10 %016x R11 %016x R12 %016x\n"
          "  R13 %016x R14 %016x R15 %016x\n"
          "  reported from (exception handler state):",
          GuestText(m), a[abi::kExcVector], a[abi::kExcErrorCode], a[abi::kExcRip],
          elf_->Symbolize(a[abi::kExcRip]), a[abi::kExcRsp], a[abi::kExcRflags],
          a[abi::kExcCs], a[abi::kExcSs], a[abi::kExcCr2], a[abi::kExcRax],
          a[abi::kExcRbx], a[abi::kExcRcx], a[abi::kExcRdx], a[abi::kExcRsi],
          a[abi::kExcRdi], a[abi::kExcRbp], a[abi::kExcR8], a[abi::kExcR9],
          a[abi::kExcR10], a[abi::kExcR11], a[abi::kExcR12], a[abi::kExcR13],
          a[abi::kExcR14], a[abi::kExcR15]);
      return VcpuError(vcpu, what);
    }
    default:
      return VcpuError(vcpu, absl::StrCat("unknown message type ", m.type));
  }
}

absl::StatusOr<abi::Fault> ParseGuestFault(const std::string& name) {
  if (name.empty()) return abi::kFaultNone;
  if (std::optional<abi::Fault> f = kGuestFaultNames.Parse(name)) return *f;
  return absl::InvalidArgumentError(absl::StrCat("unknown guest fault '", name, "'; use one of ",
                                                 kGuestFaultNames.Joined(", ")));
}

absl::StatusOr<VmSummary> RunVm(const VmSpec& spec, absl::Duration duration,
                                const MachineOptions& options,
                                absl::Duration boot_timeout) {
  ASSIGN_OR_RETURN(std::unique_ptr<Machine> m, Machine::Create(spec, options));
  absl::Status s = m->Start();
  if (s.ok()) s = m->WaitOnline(boot_timeout);
  if (s.ok()) s = m->Run(duration);
  VmSummary summary = m->Shutdown();
  if (!s.ok() && summary.error.ok()) summary.error = s;
  return summary;
}

std::string FormatSummary(const VmSummary& s) {
  std::string out = absl::StrFormat(
      "VM %s: %d vCPUs, %d MiB, %s, boot %s (create %s, threads %s, guest %s), "
      "ran %s\n",
      s.name, s.vcpus, s.memory_bytes >> 20,
      s.all_online ? "all vCPUs online" : "NOT all online",
      s.all_online ? absl::FormatDuration(s.boot_time) : "-",
      absl::FormatDuration(s.create_time), absl::FormatDuration(s.start_time),
      absl::FormatDuration(s.boot_time - s.create_time - s.start_time),
      absl::FormatDuration(s.run_time));
  absl::StrAppendFormat(&out, "%5s %-6s %-14s %-14s %-10s %-8s %5s %11s %7s  %s\n",
                        "vCPU", "pinned", "affinity", "in force", "ran on", "state",
                        "apic", "heartbeats", "kicks", "exits");
  for (const VcpuSummary& v : s.vcpu) {
    std::vector<std::string> exits;
    for (const auto& e : v.exits) {
      exits.push_back(absl::StrCat(absl::StripPrefix(e.first, "KVM_EXIT_"), ":", e.second));
    }
    absl::StrAppendFormat(&out, "%5d %-6s %-14s %-14s %-10s %-8s %5d %11d %7d  %s\n",
                          v.id, v.pinned ? "yes" : "no",
                          FormatCpuList(v.affinity_requested),
                          FormatCpuList(v.affinity_in_force), FormatCpuList(v.ran_on),
                          v.state, v.apic_id, v.heartbeats, v.kicks,
                          exits.empty() ? "-" : absl::StrJoin(exits, " "));
  }
  if (!s.error.ok()) absl::StrAppend(&out, "ERROR: ", s.error.message(), "\n");
  return out;
}

}  // namespace vmm
}  // namespace kvmbed
