// Entry point and interrupt stubs of the kvmbed guest (see guest/abi.h).
// Every vCPU enters at _start in long mode with RDI = vCPU id,
// RSI = BootParams GPA and RSP = top of its own stack.

#include "asm.h"

  .section .text.entry, "ax"
  .code64
KVMBED_FUNC(_start)
  cld
  xorl %ebp, %ebp
  call guest_main
1:
  cli
  hlt
  jmp 1b
KVMBED_END(_start)

  .text
// Exception stubs build a uniform frame: 15 GPRs, vector, error code, then
// the CPU's RIP/CS/RFLAGS/RSP/SS. guest_exception(frame) never returns.
.macro EXC_NOERR vec
KVMBED_FUNC(exc_stub_\vec)
  pushq $0
  pushq $\vec
  jmp exc_common
KVMBED_END(exc_stub_\vec)
.endm
.macro EXC_ERR vec
KVMBED_FUNC(exc_stub_\vec)
  pushq $\vec
  jmp exc_common
KVMBED_END(exc_stub_\vec)
.endm

EXC_NOERR 0
EXC_NOERR 1
EXC_NOERR 2
EXC_NOERR 3
EXC_NOERR 4
EXC_NOERR 5
EXC_NOERR 6
EXC_NOERR 7
EXC_ERR 8
EXC_NOERR 9
EXC_ERR 10
EXC_ERR 11
EXC_ERR 12
EXC_ERR 13
EXC_ERR 14
EXC_NOERR 15
EXC_NOERR 16
EXC_ERR 17
EXC_NOERR 18
EXC_NOERR 19
EXC_NOERR 20
EXC_ERR 21
EXC_NOERR 22
EXC_NOERR 23
EXC_NOERR 24
EXC_NOERR 25
EXC_NOERR 26
EXC_NOERR 27
EXC_NOERR 28
EXC_ERR 29
EXC_ERR 30
EXC_NOERR 31

KVMBED_FUNC(exc_common)
  SAVE_GPRS
  movq %rsp, %rdi
  call guest_exception
2:
  cli
  hlt
  jmp 2b
KVMBED_END(exc_common)

// External interrupts: save the caller-saved registers, call the C handler,
// return with iretq. The handler sends EOI itself.
.macro IRQ_STUB vec, handler
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

IRQ_STUB 32, guest_timer_irq
IRQ_STUB 255, guest_spurious_irq
// guest/smp.cc
IRQ_STUB 251, guest_call_function_irq
IRQ_STUB 253, guest_reschedule_irq
IRQ_STUB 240, guest_on_cpu_irq
// guest/pvspinlock.cc and guest/hotplug.cc (the reproduce scenarios)
IRQ_STUB 226, pv_kick_irq
IRQ_STUB 227, pv_io_irq
IRQ_STUB 228, hotplug_tick_irq

  .section .rodata
  .balign 8
  .globl exc_stub_table
  .type exc_stub_table, @object
exc_stub_table:
  .quad exc_stub_0, exc_stub_1, exc_stub_2, exc_stub_3
  .quad exc_stub_4, exc_stub_5, exc_stub_6, exc_stub_7
  .quad exc_stub_8, exc_stub_9, exc_stub_10, exc_stub_11
  .quad exc_stub_12, exc_stub_13, exc_stub_14, exc_stub_15
  .quad exc_stub_16, exc_stub_17, exc_stub_18, exc_stub_19
  .quad exc_stub_20, exc_stub_21, exc_stub_22, exc_stub_23
  .quad exc_stub_24, exc_stub_25, exc_stub_26, exc_stub_27
  .quad exc_stub_28, exc_stub_29, exc_stub_30, exc_stub_31
  .size exc_stub_table, . - exc_stub_table

  .section .note.GNU-stack, "", @progbits
