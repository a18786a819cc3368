#!/usr/bin/env bash
# `kvmbed run` with a Linux guest and bad input: exit 2 before any KVM work,
# naming the profile field, the file and the fix. Needs no KVM.
set -uo pipefail
KVMBED="$1"
T="${TEST_TMPDIR:-/tmp}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
check() {  # name guest-lines pattern...
  local name="$1" lines="$2"; shift 2
  cat > "$T/$name.yaml" <<Y
name: $name
vcpus: 2
memory: 512M
guest:
$lines
Y
  "$KVMBED" --nested=no run "$T/$name.yaml" > "$T/$name.out" 2>&1
  local rc=$?
  if [ $rc -ne 2 ]; then fail "$name: exit $rc, want 2"; sed 's/^/  | /' "$T/$name.out" | tail; return; fi
  for p in "$@"; do
    if ! grep -qE -- "$p" "$T/$name.out"; then fail "$name: /$p/ not in the message"; sed 's/^/  | /' "$T/$name.out"; return; fi
  done
  pass "$name (exit 2)"
}
head -c 100000 /dev/urandom > "$T/garbage.bin"
printf 'not an archive' > "$T/notcpio.img"
check missing_kernel "  kernel: $T/nope/bzImage" "guest.kernel" "$T/nope/bzImage" "bzImage"
check garbage_kernel "  kernel: $T/garbage.bin" "guest.kernel" "HdrS" "garbage.bin"
check missing_initrd "  kernel: default
  initrd: $T/nope.cpio" "guest.initrd" "nope.cpio" "initramfs"
check bad_initrd "  kernel: default
  initrd: $T/notcpio.img" "guest.initrd" "not an initramfs"
check no_console "  kernel: default
  initrd: $T/notcpio.img
  cmdline: quiet" "guest.(initrd|cmdline)"
printf '070701' > "$T/tiny.cpio"
check bad_cmdline "  kernel: default
  initrd: $T/tiny.cpio
  cmdline: quiet nokaslr" "guest.cmdline" "console=ttyS0"
check bad_withhold "  kernel: default
  initrd: $T/tiny.cpio
  withhold: {vcpu: 0}" "guest.withhold.vcpu"
check bad_duration "  kernel: default
  csd_threshold: soon" "guest.csd_threshold" "5s"
"$KVMBED" --nested=no run --guest-kernel="$T/garbage.bin" "$T/bad_cmdline.yaml" > "$T/flag.out" 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q "garbage.bin" "$T/flag.out"; then pass "--guest-kernel overrides (exit 2)"; else fail "--guest-kernel: exit $rc"; cat "$T/flag.out"; fi
finish
