// Interrupt stubs of the reproduce scenarios (guest/pvspinlock.cc,
// guest/hotplug.cc): save the caller-saved registers, call the C handler
// (which sends EOI), iretq.
#define KVMBED_FUNC(name) .globl name; .type name, @function; name:
#define KVMBED_END(name) .size name, . - name

  .text
  .code64
.macro REPRO_IRQ_STUB vec, handler
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

REPRO_IRQ_STUB 226, pv_kick_irq
REPRO_IRQ_STUB 227, pv_io_irq
REPRO_IRQ_STUB 228, hotplug_tick_irq

  .section .note.GNU-stack, "", @progbits
