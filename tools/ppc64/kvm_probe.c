// kvm_probe: checks that KVM on a ppc64le (Book3S) host can create a VM and
// vCPUs and run guest code, and how long a guest exit to userspace takes.
//
//   kvm_probe [hv|pr|default] [vcpus] [hcalls] [seq|par]
//
// The guest is a few hand-encoded little-endian instructions in real mode:
// each vCPU puts its id in r4, then loops: spin kSpin times on CTR, load the
// loop hcall number into r3 and execute "sc 1" (a hypercall, which KVM returns
// to userspace as KVM_EXIT_PAPR_HCALL because no kernel handler knows the
// number). Every interrupt vector from 0x100 to 0x1ff0 holds a stub that
// reports the vector with a second hcall number, so a guest that takes an
// interrupt instead says which one.
//
// seq (default) runs the vCPUs one after the other from the main thread; par
// runs each in its own thread at once while the main thread kicks them with
// SIGUSR1 every 500 us, so that a host CPU running a vCPU gets host IPIs.
//
// Output: lines "kvm_probe: KEY VALUE"; the last is "kvm_probe: verdict
// PASS" or "kvm_probe: verdict FAIL <reason>". Exit 0 on PASS, 1 on FAIL.
// Needs a ppc64 host: it uses the powerpc KVM structures.

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifndef KVM_VM_PPC_HV
#define KVM_VM_PPC_HV 1
#endif
#ifndef KVM_VM_PPC_PR
#define KVM_VM_PPC_PR 2
#endif

enum {
  kGuestMemBytes = 64 << 20,
  kEntry = 0x10000,       // first vCPU's entry; each next one 0x100 further
  kHcallLoop = 0x7e01,    // the entry loop's hcall number
  kHcallVector = 0x7e02,  // an interrupt stub's hcall number
  kMaxVcpus = 8,
  kSpin = 2000,           // CTR spin iterations between two hcalls
};

// MSR bits (64-bit numbering from the right).
static const uint64_t kMsrSf = 1ull << 63;
static const uint64_t kMsrMe = 1ull << 12;
static const uint64_t kMsrLe = 1ull << 0;
// Guest-radix bit of a partition table entry's second doubleword.
static const uint64_t kPatbGr = 1ull << 63;

static uint32_t li(int rd, int16_t imm) {  // addi rd, 0, imm
  return (14u << 26) | ((uint32_t)rd << 21) | (uint16_t)imm;
}
static const uint32_t kSc1 = 0x44000022;       // sc LEV=1
static const uint32_t kMtctrR5 = 0x7ca903a6;   // mtspr CTR, r5
static const uint32_t kBdnzSelf = 0x42000000;  // bdnz . (bc 16,0,0)
static uint32_t branch(int32_t offset) {  // b offset (relative)
  return (18u << 26) | ((uint32_t)offset & 0x03fffffc);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fail(const char *what) {
  printf("kvm_probe: verdict FAIL %s: %s (errno %d)\n", what, strerror(errno),
         errno);
  fflush(stdout);
  return 1;
}

static void check_cap(int fd, const char *name, long cap) {
  int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);
  printf("kvm_probe: cap %s %d\n", name, r);
}

static void put(uint8_t *mem, uint64_t gpa, uint32_t insn) {
  memcpy(mem + gpa, &insn, sizeof(insn));  // host and guest are both LE
}

struct vcpu_ctx {
  int index;
  int fd;
  struct kvm_run *run;
  long hcalls;
  long interrupted;  // KVM_RUN returns with EINTR (kicks)
  int result;        // 0 ok, 1 failed
  int done;
};

static int running;  // vCPU threads not yet finished

static void on_kick(int sig) { (void)sig; }

// Runs vCPU c until it has made c->hcalls loop hypercalls. Returns 0 on
// success, else prints a FAIL verdict and returns 1.
static int run_vcpu(struct vcpu_ctx *c) {
  int i = c->index;
  struct kvm_run *r = c->run;
  double start = now_s();
  for (long n = 0; n < c->hcalls;) {
    if (ioctl(c->fd, KVM_RUN, 0) < 0) {
      if (errno == EINTR) {
        c->interrupted++;
        continue;
      }
      int err = errno;
      printf("kvm_probe: vcpu %d KVM_RUN #%ld failed, exit_reason %u\n", i, n,
             r->exit_reason);
      errno = err;
      return fail("KVM_RUN");
    }
    if (r->exit_reason != KVM_EXIT_PAPR_HCALL) {
      struct kvm_regs regs;
      ioctl(c->fd, KVM_GET_REGS, &regs);
      printf("kvm_probe: vcpu %d exit_reason %u pc 0x%llx msr 0x%llx "
             "hw_reason 0x%llx\n", i, r->exit_reason,
             (unsigned long long)regs.pc, (unsigned long long)regs.msr,
             (unsigned long long)r->hw.hardware_exit_reason);
      printf("kvm_probe: verdict FAIL unexpected exit %u on vcpu %d\n",
             r->exit_reason, i);
      return 1;
    }
    if (r->papr_hcall.nr != kHcallLoop) {
      struct kvm_regs regs;
      ioctl(c->fd, KVM_GET_REGS, &regs);
      printf("kvm_probe: vcpu %d hcall 0x%llx r4 0x%llx srr0 0x%llx "
             "srr1 0x%llx\n", i, (unsigned long long)r->papr_hcall.nr,
             (unsigned long long)regs.gpr[4], (unsigned long long)regs.srr0,
             (unsigned long long)regs.srr1);
      printf("kvm_probe: verdict FAIL guest took interrupt vector 0x%llx "
             "on vcpu %d\n", (unsigned long long)regs.gpr[4], i);
      return 1;
    }
    if (n == 0) {
      struct kvm_regs regs;
      if (ioctl(c->fd, KVM_GET_REGS, &regs) < 0) return fail("KVM_GET_REGS");
      if (regs.gpr[4] != (uint64_t)i) {
        printf("kvm_probe: verdict FAIL vcpu %d reported r4 %llu\n", i,
               (unsigned long long)regs.gpr[4]);
        return 1;
      }
      printf("kvm_probe: vcpu %d first hcall 0x%llx r4 %llu pc 0x%llx\n", i,
             (unsigned long long)r->papr_hcall.nr,
             (unsigned long long)regs.gpr[4], (unsigned long long)regs.pc);
    }
    r->papr_hcall.ret = 0;
    n++;
  }
  double secs = now_s() - start;
  printf("kvm_probe: vcpu %d ran %ld hcall exits in %.3f s (%.1f us each), "
         "%ld EINTR\n", i, c->hcalls, secs, secs * 1e6 / c->hcalls,
         c->interrupted);
  return 0;
}

static void *vcpu_thread(void *arg) {
  struct vcpu_ctx *c = arg;
  c->result = run_vcpu(c);
  __atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
  __atomic_fetch_sub(&running, 1, __ATOMIC_ACQ_REL);
  return NULL;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "default";
  int nvcpus = argc > 2 ? atoi(argv[2]) : 1;
  long hcalls = argc > 3 ? atol(argv[3]) : 1000;
  const char *how = argc > 4 ? argv[4] : "seq";
  int parallel = strcmp(how, "par") == 0;
  unsigned long vm_type = 0;
  if (strcmp(mode, "hv") == 0) vm_type = KVM_VM_PPC_HV;
  else if (strcmp(mode, "pr") == 0) vm_type = KVM_VM_PPC_PR;
  else if (strcmp(mode, "default") != 0) {
    fprintf(stderr, "usage: kvm_probe [hv|pr|default] [vcpus] [hcalls] [seq|par]\n");
    return 2;
  }
  if (nvcpus < 1 || nvcpus > kMaxVcpus || hcalls < 1 ||
      (!parallel && strcmp(how, "seq") != 0)) {
    fprintf(stderr, "kvm_probe: vcpus must be 1..%d, hcalls >= 1\n", kMaxVcpus);
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);

  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) return fail("open /dev/kvm");
  printf("kvm_probe: api_version %d\n", ioctl(kvm, KVM_GET_API_VERSION, 0));
  check_cap(kvm, "PPC_HIOR(pr)", KVM_CAP_PPC_HIOR);
  check_cap(kvm, "PPC_SMT", KVM_CAP_PPC_SMT);
  check_cap(kvm, "PPC_MMU_RADIX", KVM_CAP_PPC_MMU_RADIX);
  check_cap(kvm, "PPC_MMU_HASH_V3", KVM_CAP_PPC_MMU_HASH_V3);
  check_cap(kvm, "PPC_IRQ_XIVE", KVM_CAP_PPC_IRQ_XIVE);
  check_cap(kvm, "PPC_NESTED_HV", KVM_CAP_PPC_NESTED_HV);
  check_cap(kvm, "NR_VCPUS", KVM_CAP_NR_VCPUS);

  double t0 = now_s();
  int vm = ioctl(kvm, KVM_CREATE_VM, vm_type);
  if (vm < 0) return fail("KVM_CREATE_VM");
  printf("kvm_probe: create_vm ok type %lu (%s)\n", vm_type, mode);

  // A radix host that cannot run hash (HPT) guests next to radix ones
  // (POWER9 before DD2.2) only runs radix guests; kvm-hv then makes new VMs
  // radix itself, and saying so here keeps the probe explicit. In real mode
  // a radix guest needs no process table, only the partition-scoped tree
  // KVM keeps.
  int can_radix = ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_PPC_MMU_RADIX);
  int can_hash = ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_PPC_MMU_HASH_V3);
  if (can_radix > 0 && can_hash <= 0) {
    struct kvm_ppc_mmuv3_cfg cfg = {
        .flags = KVM_PPC_MMUV3_RADIX | KVM_PPC_MMUV3_GTSE,
        .process_table = kPatbGr,
    };
    if (ioctl(vm, KVM_PPC_CONFIGURE_V3_MMU, &cfg) < 0)
      return fail("KVM_PPC_CONFIGURE_V3_MMU radix");
    printf("kvm_probe: guest mmu radix\n");
  } else {
    printf("kvm_probe: guest mmu default (radix cap %d, hash v3 cap %d)\n",
           can_radix, can_hash);
  }

  uint8_t *mem = mmap(NULL, kGuestMemBytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) return fail("mmap guest memory");
  // Interrupt stubs: li r4, vector; li r3, kHcallVector; sc 1; b .
  for (uint64_t v = 0x100; v < 0x2000; v += 0x20) {
    put(mem, v, li(4, (int16_t)v));
    put(mem, v + 4, li(3, kHcallVector));
    put(mem, v + 8, kSc1);
    put(mem, v + 12, branch(0));
  }
  // Entry of vCPU i: li r4, i; then loop: spin kSpin times on CTR
  // (li r5, kSpin; mtctr r5; bdnz .), li r3, kHcallLoop; sc 1; b loop.
  for (int i = 0; i < nvcpus; i++) {
    uint64_t e = kEntry + 0x100 * i;
    put(mem, e, li(4, (int16_t)i));
    put(mem, e + 4, li(5, kSpin));
    put(mem, e + 8, kMtctrR5);
    put(mem, e + 12, kBdnzSelf);
    put(mem, e + 16, li(3, kHcallLoop));
    put(mem, e + 20, kSc1);
    put(mem, e + 24, branch(-20));
  }
  struct kvm_userspace_memory_region region = {
      .slot = 0,
      .guest_phys_addr = 0,
      .memory_size = kGuestMemBytes,
      .userspace_addr = (uint64_t)(uintptr_t)mem,
  };
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
    return fail("KVM_SET_USER_MEMORY_REGION");

  int mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (mmap_size <= 0) return fail("KVM_GET_VCPU_MMAP_SIZE");
  int vcpu[kMaxVcpus];
  struct kvm_run *run[kMaxVcpus];
  struct vcpu_ctx ctx[kMaxVcpus];
  memset(ctx, 0, sizeof(ctx));
  running = nvcpus;
  for (int i = 0; i < nvcpus; i++) {
    vcpu[i] = ioctl(vm, KVM_CREATE_VCPU, (unsigned long)i);
    if (vcpu[i] < 0) return fail("KVM_CREATE_VCPU");
    run[i] = mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                  vcpu[i], 0);
    if (run[i] == MAP_FAILED) return fail("mmap kvm_run");
    // kvm-hv only runs PAPR (sPAPR guest) vCPUs; kvm-pr runs both.
    struct kvm_enable_cap papr = {.cap = KVM_CAP_PPC_PAPR};
    if (ioctl(vcpu[i], KVM_ENABLE_CAP, &papr) < 0)
      return fail("KVM_ENABLE_CAP PPC_PAPR");
    struct kvm_regs regs;
    if (ioctl(vcpu[i], KVM_GET_REGS, &regs) < 0) return fail("KVM_GET_REGS");
    printf("kvm_probe: vcpu %d created, reset pc 0x%llx msr 0x%llx\n", i,
           (unsigned long long)regs.pc, (unsigned long long)regs.msr);
    regs.pc = kEntry + 0x100 * i;
    regs.msr = kMsrSf | kMsrMe | kMsrLe;
    if (ioctl(vcpu[i], KVM_SET_REGS, &regs) < 0) return fail("KVM_SET_REGS");
    ctx[i].index = i;
    ctx[i].fd = vcpu[i];
    ctx[i].run = run[i];
    ctx[i].hcalls = hcalls;
  }
  printf("kvm_probe: setup_seconds %.3f\n", now_s() - t0);

  if (!parallel) {
    // One after the other from this thread: each runs guest code.
    for (int i = 0; i < nvcpus; i++)
      if (run_vcpu(&ctx[i]) != 0) return 1;
  } else {
    // One thread per vCPU, all in KVM_RUN at once, while this thread kicks
    // them with a signal every 500 us: a kick of a vCPU that is in the guest
    // on another host CPU is a host IPI to that CPU.
    struct sigaction sa = {.sa_handler = on_kick};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) < 0) return fail("sigaction");
    pthread_t tid[kMaxVcpus];
    for (int i = 0; i < nvcpus; i++)
      if (pthread_create(&tid[i], NULL, vcpu_thread, &ctx[i]) != 0)
        return fail("pthread_create");
    long kicks = 0;
    double start = now_s();
    while (__atomic_load_n(&running, __ATOMIC_ACQUIRE) > 0) {
      for (int i = 0; i < nvcpus; i++)
        if (!__atomic_load_n(&ctx[i].done, __ATOMIC_ACQUIRE)) {
          pthread_kill(tid[i], SIGUSR1);
          kicks++;
        }
      usleep(500);
    }
    int failed = 0;
    long interrupted = 0;
    for (int i = 0; i < nvcpus; i++) {
      pthread_join(tid[i], NULL);
      failed |= ctx[i].result;
      interrupted += ctx[i].interrupted;
    }
    printf("kvm_probe: parallel %d vcpus, %ld kicks sent, %ld KVM_RUN "
           "returned EINTR, %.3f s\n", nvcpus, kicks, interrupted,
           now_s() - start);
    if (failed) return 1;
  }
  printf("kvm_probe: verdict PASS %d vcpu(s) ran guest code under %s KVM\n",
         nvcpus, mode);
  return 0;
}
