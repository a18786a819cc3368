// The ring-3 #GP trap-and-emulate stub of the guest SMP code (guest/smp.cc).
// Its interrupt stubs are with the others in start.S.
#define KVMBED_FUNC(name) .globl name; .type name, @function; name:
#define KVMBED_END(name) .size name, . - name

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
  pushq %rax
  pushq %rbx
  pushq %rcx
  pushq %rdx
  pushq %rsi
  pushq %rdi
  pushq %rbp
  pushq %r8
  pushq %r9
  pushq %r10
  pushq %r11
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, %rdi
  call smp_emulate_gp
  testl %eax, %eax
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %r11
  popq %r10
  popq %r9
  popq %r8
  popq %rbp
  popq %rdi
  popq %rsi
  popq %rdx
  popq %rcx
  popq %rbx
  popq %rax
  jz 2f
  addq $8, %rsp             // the error code
  iretq
2:
  jmp exc_stub_13
KVMBED_END(smp_gp_stub)

  .section .note.GNU-stack, "", @progbits
