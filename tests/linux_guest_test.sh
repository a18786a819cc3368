#!/usr/bin/env bash
# End-to-end checks of `kvmbed run` with a real Linux guest (Debian's
# /boot/vmlinuz-* and tools/linux_initramfs.sh's busybox + stress-ng
# archive), on 4 vCPUs; the third argument picks the scenario (one boot
# each, so each is its own test):
#   1. clean: boot, stress-ng with IPI-heavy stressors for 10 s: exit 0, init's
#      status 0, the guest powered itself off;
#   2. panic: echo c > /proc/sysrq-trigger: exit 1 with the panic report;
#   3. withhold: vCPU 2 withheld from KVM_RUN for 35 s under IPI-heavy stress: exit 1
#      with a csd (RIP sampling) or lockup report naming vcpu-2.
set -uo pipefail
KVMBED="$1"
INITRAMFS_SH="$2"
SCENARIO="$3"
T="${TEST_TMPDIR:-/tmp}"
fails=0
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1"; fails=$((fails + 1)); }
expect_rc() {  # name want rc out
  if [ "$3" -eq "$2" ]; then pass "$1 (exit $3)"; else
    fail "$1: exit $3, want $2"; tail -40 "$4" | sed 's/^/  | /'; fi
}
expect_grep() {  # name pattern file
  if grep -qE -- "$2" "$3"; then pass "$1"; else fail "$1: /$2/ not in $3"; tail -30 "$3" | sed 's/^/  | /'; fi
}

INITRD=$(KVMBED_LINUX_CACHE="$T/cache" "$INITRAMFS_SH")
if [ ! -s "$INITRD" ]; then echo "FAIL: tools/linux_initramfs.sh gave no archive"; exit 1; fi

profile() {  # name commands-yaml [extra guest lines]
  cat > "$T/$1.yaml" <<Y
name: $1
vcpus: 4
topology: {sockets: 1, cores: 4, threads: 1}
memory: 1G
guest:
  kernel: default
  initrd: $INITRD
  console_log: $T/$1.console
  timeout: 800s
  commands:
$2
$3
Y
}

case "$SCENARIO" in
clean)
profile clean "    - stress-ng --tlb-shootdown 2 --membarrier 1 --cpu 1 --timeout 10s --metrics-brief"
"$KVMBED" --nested=no run --events="$T/clean.jsonl" "$T/clean.yaml" > "$T/clean.out" 2>&1
rc=$?
expect_rc "clean run" 0 $rc "$T/clean.out"
expect_grep "clean: guest powered off with status 0" "end poweroff, status 0" "$T/clean.out"
expect_grep "clean: init saw 4 CPUs" "kvmbed-init: start 4 cpus" "$T/clean.console"
expect_grep "clean: stress-ng ran" "tlb-shootdown" "$T/clean.console"
expect_grep "clean: boot event" '"type":"linux_boot"' "$T/clean.jsonl"
;;
panic)
profile panic "    - echo c > /proc/sysrq-trigger"
"$KVMBED" --nested=no run --events="$T/panic.jsonl" "$T/panic.yaml" > "$T/panic.out" 2>&1
rc=$?
expect_rc "sysrq crash" 1 $rc "$T/panic.out"
expect_grep "panic: report" "kvmbed: linux panic \(console\)" "$T/panic.out"
expect_grep "panic: kernel's words" "Kernel panic - not syncing" "$T/panic.out"
expect_grep "panic: hypervisor facts" "vcpu-3 apic 3: thread .*mp_state" "$T/panic.out"
expect_grep "panic: stall event" '"plane":"linux"' "$T/panic.jsonl"
expect_grep "panic: VM reset itself" "end reset" "$T/panic.out"
;;
withhold)
profile withhold "    - stress-ng --tlb-shootdown 3 --membarrier 2 --timeout 45s --metrics-brief" \
  "  withhold: {vcpu: 2, after: 3s, for: 35s}
  csd_threshold: 4s"
"$KVMBED" --nested=no run --events="$T/withhold.jsonl" "$T/withhold.yaml" > "$T/withhold.out" 2>&1
rc=$?
expect_rc "withheld vCPU" 1 $rc "$T/withhold.out"
expect_grep "withhold: a stall report" "kvmbed: linux (csd|soft_lockup|rcu_stall)" "$T/withhold.out"
expect_grep "withhold: names vcpu-2" "waits for: vcpu-2 \(withheld" "$T/withhold.out"
expect_grep "withhold: culprit" "culprit vcpu-2" "$T/withhold.out"
;;
*) echo "FAIL: unknown scenario '$SCENARIO' (clean, panic, withhold)"; exit 1 ;;
esac

echo "$fails failed"
[ "$fails" -eq 0 ]
