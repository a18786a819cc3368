// The ring-3 #GP trap-and-emulate stub of the guest SMP code (guest/smp.cc).
// Its interrupt stubs are with the others in start.S.
#include "asm.h"

  .text
  .code64

// #GP from ring 3: trap-and-emulate the few privileged instructions the SMP
// code uses (wrmsr, rdmsr, out, cli, sti, hlt) so the op loop can run in
// ring 3, which kvm_pvm runs natively (it emulates ring 0, and delivers
// neither `int n` nor SYSCALL from guest user mode to our ring 0).
// Anything else, or a #GP in ring 0, goes to the ordinary exception path.
KVMBED_FUNC(smp_gp_stub)
  testb $3, 16(%rsp)        // the CS the CPU pushed (after error code, RIP)
  jz 2f
  SAVE_GPRS
  movq %rsp, %rdi
  call smp_emulate_gp
  testl %eax, %eax
  RESTORE_GPRS
  jz 2f
  addq $8, %rsp             // the error code
  iretq
2:
  jmp exc_stub_13
KVMBED_END(smp_gp_stub)

  .section .note.GNU-stack, "", @progbits
