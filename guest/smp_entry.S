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

  .section .note.GNU-stack, "", @progbits
