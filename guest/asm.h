// Assembler helpers shared by the guest's .S files (start.S, smp_entry.S).
// Included by the C preprocessor; nothing here is C.
#ifndef KVMBED_GUEST_ASM_H_
#define KVMBED_GUEST_ASM_H_

#define KVMBED_FUNC(name) .globl name; .type name, @function; name:
#define KVMBED_END(name) .size name, . - name

// Saves / restores all 15 general-purpose registers in the order of the
// register frame the C exception handlers take (RSP points at r15 after
// SAVE_GPRS): rax first, r15 last.
.macro SAVE_GPRS
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
.endm

.macro RESTORE_GPRS
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
.endm

#endif  // KVMBED_GUEST_ASM_H_
