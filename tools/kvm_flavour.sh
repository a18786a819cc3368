# Sourced by the KVM test runner and .ci/run: what KVM this machine has.
#
# kvm_flavour prints one word: vmx or svm (hardware KVM: kvm_intel or
# kvm_amd), pvm (a paravirtual KVM without VMX/SVM), other (a /dev/kvm of
# unknown kind), none (no usable /dev/kvm). kvm_nested prints "nested" when
# this kernel itself runs under a hypervisor, "bare" otherwise.
# vmm/kvm.h DetectKvmHost() answers the same questions for kvmbed itself; keep the
# two in step.
kvm_flavour() {
  if [ ! -c /dev/kvm ] || [ ! -w /dev/kvm ]; then echo none; return; fi
  if [ -d /sys/module/kvm_intel ]; then echo vmx
  elif [ -d /sys/module/kvm_amd ]; then echo svm
  elif [ -d /sys/module/kvm_pvm ] || ! grep -qwE 'vmx|svm' /proc/cpuinfo; then echo pvm
  else echo other
  fi
}

kvm_nested() {
  if grep -qw hypervisor /proc/cpuinfo; then echo nested; else echo bare; fi
}
