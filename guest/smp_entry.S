// Interrupt stubs of the guest SMP vectors (guest/smp.cc): save the
// caller-saved registers, call the C handler (which sends EOI), iretq.
#define KVMBED_FUNC(name) .globl name; .type name, @function; name:
#define KVMBED_END(name) .size name, . - name

  .text
  .code64
.macro SMP_IRQ_STUB vec, handler
KVMBED_FUNC(irq_stub_\vec)
  pushq %rax
  pushq %rcx
  pushq %rdx
  pushq %rsi
  pushq %rdi
  pushq %r8
  pushq %r9
  pushq %r10
  pushq %r11
  call \handler
  popq %r11
  popq %r10
  popq %r9
  popq %r8
  popq %rdi
  popq %rsi
  popq %rdx
  popq %rcx
  popq %rax
  iretq
KVMBED_END(irq_stub_\vec)
.endm

SMP_IRQ_STUB 251, guest_call_function_irq
SMP_IRQ_STUB 253, guest_reschedule_irq
SMP_IRQ_STUB 240, guest_on_cpu_irq

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
