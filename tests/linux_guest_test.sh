#!/usr/bin/env bash
# End-to-end checks of `kvmbed run` with a real Linux guest (Debian's
# /boot/vmlinuz-* and tools/linux_initramfs.sh's busybox + stress-ng
# archive), small enough for a nested L1 under TCG (512M, 2-3 vCPUs, a few
# seconds of stress); the third argument picks the scenario (one boot
# each, so each is its own test):
#   1. clean: 2 vCPUs, stress-ng with IPI-heavy stressors for 5 s: exit 0,
#      init's status 0, the guest powered itself off;
#   2. panic: 2 vCPUs, echo c > /proc/sysrq-trigger: exit 1 with the panic
#      report, the VM reset itself;
#   3. withhold: 3 vCPUs, vCPU 2 withheld from KVM_RUN for 25 s while the
#      others run IPI-heavy stress: exit 1 with a csd (RIP sampling) or lockup
#      report naming vcpu-2.
set -uo pipefail
KVMBED="$1"
INITRAMFS_SH="$2"
SCENARIO="$3"
T="${TEST_TMPDIR:-/tmp}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

INITRD=$(KVMBED_LINUX_CACHE="$T/cache" "$INITRAMFS_SH")
if [ ! -s "$INITRD" ]; then echo "FAIL: tools/linux_initramfs.sh gave no archive"; exit 1; fi

# The guest's own time limit: a boot to init takes 40-100 s in the nested
# L1 on a loaded 2-core host; 420 s leaves room for that and the stress, and
# ends a hung guest well inside the test's budget.
profile() {  # name vcpus commands-yaml [extra guest lines]
  cat > "$T/$1.yaml" <<Y
name: $1
vcpus: $2
topology: {sockets: 1, cores: $2, threads: 1}
memory: 512M
guest:
  kernel: default
  initrd: $INITRD
  console_log: $T/$1.console
  timeout: 420s
  commands:
$3
${4:-}
Y
}
# Every scenario's run says how long it took; the output names the time.
timed_run() {  # name
  local s=$(date +%s)
  "$KVMBED" --nested=no run --events="$T/$1.jsonl" "$T/$1.yaml" > "$T/$1.out" 2>&1
  rc=$?
  echo "$1: kvmbed run exit $rc after $(( $(date +%s) - s )) s"
}

case "$SCENARIO" in
clean)
profile clean 2 "    - stress-ng --tlb-shootdown 1 --membarrier 1 --cpu 1 --timeout 5s --metrics-brief"
timed_run clean
expect_exit "clean run" 0 $rc "$T/clean.out"
expect_grep "clean: guest powered off with status 0" "end poweroff, status 0" "$T/clean.out"
expect_grep "clean: no report" "^run: SUCCESS" "$T/clean.out"
expect_grep "clean: init saw 2 CPUs" "kvmbed-init: start 2 cpus" "$T/clean.console"
expect_grep "clean: stress-ng counted tlb-shootdown ops" "stress-ng: metrc: .* tlb-shootdown +[1-9][0-9]* " "$T/clean.console"
expect_grep "clean: stress-ng counted membarrier ops" "stress-ng: metrc: .* membarrier +[1-9][0-9]* " "$T/clean.console"
expect_grep "clean: stress-ng completed" "stress-ng: info: .* successful run completed" "$T/clean.console"
expect_grep "clean: init's commands ended with 0" "kvmbed-init: exit 0" "$T/clean.console"
expect_grep "clean: boot event" '"type":"linux_boot"' "$T/clean.jsonl"
# A long IPI wait nobody owes (ipi_wait_long) is logged but is no stall.
if grep '"type":"stall"' "$T/clean.jsonl" | grep -q '"fatal":true'; then
  fail "clean: a fatal stall event in $T/clean.jsonl"
else
  pass "clean: no fatal stall event"
fi
;;
panic)
profile panic 2 "    - echo c > /proc/sysrq-trigger"
timed_run panic
expect_exit "sysrq crash" 1 $rc "$T/panic.out"
expect_grep "panic: report" "kvmbed: linux panic \(console\)" "$T/panic.out"
expect_grep "panic: kernel's words" "Kernel panic - not syncing: sysrq triggered crash" "$T/panic.out"
expect_grep "panic: hypervisor facts" "vcpu-1 apic 1: thread .*mp_state" "$T/panic.out"
expect_grep "panic: irqchip state" "IOAPIC: " "$T/panic.out"
expect_grep "panic: stall event" '"plane":"linux".*"kind":"panic"|"kind":"panic".*"plane":"linux"' "$T/panic.jsonl"
expect_grep "panic: VM reset itself" "end reset" "$T/panic.out"
;;
withhold)
# Besides the stress, a 35 s loop that flips a static key (schedstats): each flip
# patches kernel text, and the patching waits in smp_call_function_many for
# every online CPU, the withheld one included, so vCPU 2 owes an IPI while it
# is out whatever the guest scheduled on it.
profile withhold 3 "    - (end=\$((\$(date +%s) + 35)); while [ \$(date +%s) -lt \$end ]; do echo 1 > /proc/sys/kernel/sched_schedstats; echo 0 > /proc/sys/kernel/sched_schedstats; done) &
    - stress-ng --tlb-shootdown 2 --membarrier 1 --timeout 20s --metrics-brief
    - wait" \
  "  withhold: {vcpu: 2, after: 2s, for: 25s}
  csd_threshold: 4s"
timed_run withhold
expect_exit "withheld vCPU" 1 $rc "$T/withhold.out"
expect_grep "withhold: a stall report" "kvmbed: linux (csd|soft_lockup|rcu_stall)" "$T/withhold.out"
expect_grep "withhold: names vcpu-2" "waits for: vcpu-2 \(withheld" "$T/withhold.out"
expect_grep "withhold: vcpu-2 shown withheld" "vcpu-2 apic 2: thread withheld" "$T/withhold.out"
expect_grep "withhold: culprit" "culprit vcpu-2" "$T/withhold.out"
# The reports' first lines, for whoever reads the log of a passing run too.
grep -E "^kvmbed: linux|^  waits for:|^linux guest: end" "$T/withhold.out" | sed 's/^/  | /'
;;
*) echo "FAIL: unknown scenario '$SCENARIO' (clean, panic, withhold)"; exit 1 ;;
esac

finish
