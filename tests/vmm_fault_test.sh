#!/usr/bin/env bash
# Faults the VMM must survive, injected into `kvmbed run` on real KVM:
#   1. guest RAM cannot be allocated (ulimit -v);
#   2. a KVM ioctl fails (KVMBED_KVM_FAULT, the seam in vmm/kvm.h): at set-up
#      (KVM_CREATE_VCPU) and mid-run (KVM_RUN);
#   3. a vCPU cannot be pinned: its host CPU is outside the CPU set (taskset)
#      or offline;
#   4. the event log's disk fills: /dev/full, and a file size limit reached
#      mid-run (ulimit -f).
# Each must exit 2 (a host or environment error; 1 means "stall found"),
# never die of a signal, say what failed and how to fix it, and leave an
# event log whose every line is a complete JSON event, with the measured
# summary kept (on stdout, and in the log where the log still works).
set -uo pipefail
KVMBED="$1"
DEFAULT="$2"
T="${TEST_TMPDIR:-/tmp}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# The error, for the record.
show() { grep -m 3 '^kvmbed: ' "$T/err" | cut -c 1-400 | sed 's/^/  stderr| /'; }
# Every line of the log is one complete JSON object with a type; the types
# given must be there.
expect_log() {  # name log type...
  local name=$1 log=$2; shift 2
  if python3 - "$log" "$@" <<'PY'
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
if lines[-1] != "":
    sys.exit("last line is incomplete: %r" % lines[-1][:80])
types = [json.loads(l)["type"] for l in lines[:-1]]
missing = [t for t in sys.argv[2:] if t not in types]
if missing:
    sys.exit("missing %s in %s" % (missing, types))
PY
  then pass "$name: log intact, has ${*:-its lines}"; else fail "$name: log not intact"; fi
}

if [ ! -w /dev/kvm ]; then
  fail "no usable /dev/kvm: run this test through tools/kvm_test.sh (bazel test does)"
  echo "$fails failed"; exit 1
fi
RUN=("$KVMBED" run --duration=1s)

# 1. Guest RAM cannot be allocated: 2 GiB of guest RAM under a 1 GiB
# address-space limit.
sed 's/^memory: .*/memory: 2G/' "$DEFAULT" >"$T/big.yaml"
( ulimit -v 1048576 && exec "${RUN[@]}" "$T/big.yaml" --events="$T/ram.jsonl" ) >"$T/out" 2>"$T/err"
expect_exit "guest RAM allocation fails" 2 $?
show
expect_grep "RAM: says what and how to fix" "cannot allocate 2048 MiB of guest RAM: .*Cannot allocate memory.*ulimit -v" "$T/err"
expect_log "RAM" "$T/ram.jsonl" run_start

# 2a. A KVM ioctl fails at set-up: the third vCPU cannot be created.
KVMBED_KVM_FAULT=KVM_CREATE_VCPU:3:ENOMEM "${RUN[@]}" --events="$T/vcpu.jsonl" >"$T/out" 2>"$T/err"
expect_exit "KVM_CREATE_VCPU fails" 2 $?
expect_grep "KVM_CREATE_VCPU: named, injected" "KVM_CREATE_VCPU vCPU [0-9]+ .*\(injected by KVMBED_KVM_FAULT\): Cannot allocate memory" "$T/err"
show
expect_log "KVM_CREATE_VCPU" "$T/vcpu.jsonl" run_start

# 2b. KVM_RUN fails while the VM runs: the run stops in order, the summary
# of what ran is kept, and the verdict is a host error, not a stall. The
# torture workload hardly leaves the guest (a few KVM_RUNs per vCPU); one
# stress-io worker exits to the VMM for every write, so the 60th KVM_RUN
# comes after the VM is online.
cp "$DEFAULT" "$T/io.yaml" && echo "  stress: {io: 1}" >>"$T/io.yaml"
KVMBED_KVM_FAULT=KVM_RUN:60:EIO "${RUN[@]}" "$T/io.yaml" --events="$T/run.jsonl" >"$T/out" 2>"$T/err"
expect_exit "KVM_RUN fails mid-run" 2 $?
expect_grep "KVM_RUN: named, injected" "KVM_RUN vCPU [0-3] \(injected by KVMBED_KVM_FAULT\): Input/output error" "$T/err"
expect_grep "KVM_RUN: summary kept" "^VM default: 4 vCPUs" "$T/out"
expect_grep "KVM_RUN: verdict" "^run: host error \(exit 2\)" "$T/out"
expect_log "KVM_RUN" "$T/run.jsonl" run_start vm_summary run_end
expect_grep "KVM_RUN: run_end says exit 2" '"exit_code":2' "$T/run.jsonl"
expect_grep "KVM_RUN: failed after the VM was online" '"type":"vm_online"' "$T/run.jsonl"
show

# 3a. A vCPU's host CPU is outside the CPU set: the default profile pins
# vCPUs 2-3 to CPU 1.
taskset -c 0 "${RUN[@]}" --events="$T/pin.jsonl" >"$T/out" 2>"$T/err"
expect_exit "vCPU CPU outside the CPU set" 2 $?
show
expect_grep "pin: names the CPU and the fix" "CPU 1 is not on this host.*--fold-cpus|host CPU\(s\) 1 not in this process's CPU set" "$T/err"

# 3b. The same CPU offline (needs root in the L1; CPU 1 is back online after).
online=/sys/devices/system/cpu/cpu1/online
if [ -w "$online" ] && echo 0 >"$online" 2>/dev/null; then
  "${RUN[@]}" --events="$T/off.jsonl" >"$T/out" 2>"$T/err"; rc=$?
  echo 1 >"$online"
  expect_exit "vCPU CPU offline" 2 $rc
  show
  expect_grep "offline: names the CPU" "CPU 1 is not on this host|host CPU\(s\) 1 offline" "$T/err"
else
  echo "SKIP: 3b offline CPU: cannot write $online"
fi

# 4a. The log's disk is full from the start (/dev/full).
"${RUN[@]}" --events=/dev/full >"$T/out" 2>"$T/err"
expect_exit "event log on a full disk" 2 $?
show
expect_grep "full: ENOSPC named" "writing event log /dev/full: No space left on device \(ENOSPC, errno 28\)" "$T/err"
expect_grep "full: summary kept" "^VM default: 4 vCPUs" "$T/out"
expect_grep "full: verdict" "^run: event log failed \(exit 2\)" "$T/out"

# 4b. The log fills mid-run: a 2 KiB file size limit cuts a line short, then
# write() fails with EFBIG (SIGXFSZ is ignored). stdout goes through a pipe,
# which the limit does not touch.
( ulimit -f 2 && exec "${RUN[@]}" --events="$T/fsz.jsonl" 2>"$T/err" ) | cat >"$T/out"
expect_exit "event log fills mid-run" 2 "${PIPESTATUS[0]}"
show
expect_grep "fills: EFBIG named" "writing event log .*fsz.jsonl: File too large \(EFBIG, errno 27\) after [0-9]+ events" "$T/err"
expect_grep "fills: summary kept" "^VM default: 4 vCPUs" "$T/out"
expect_log "fills" "$T/fsz.jsonl" run_start
if [ "$(stat -c %s "$T/fsz.jsonl")" -le 2048 ]; then pass "fills: log within the limit"; else
  fail "fills: log larger than the limit"; fi

finish
