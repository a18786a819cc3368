#!/usr/bin/env bash
# End-to-end checks of `kvmbed soak` on the seed profile folded to this host
# and scaled down (--scale 0.05): exit codes (0 clean, 1 stall found, 2 bad
# input / event log failure), the event log (parses, has the docs/events.md
# types, `kvmbed report` renders it), JUnit XML, SIGINT (orderly stop,
# summary, run_end) and kill -9 (every line but possibly the last parses).
#
# "Stall found" twice: the guest-plane fault injection (--drop-ipi-fraction
# on vCPU 1 of each VM), and the buggy host kernel model on the host plane
# (2b); the profile's fixed host model must stay clean.
set -uo pipefail
KVMBED="$1"
PROFILE="$2"
T="${TEST_TMPDIR:-/tmp}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Every line of $1 parses as JSON with t and type; with $2=cut the last may not.
log_parses() {
  python3 - "$1" "${2:-whole}" <<'PY'
import json, sys
lines = open(sys.argv[1], encoding="utf-8", errors="strict").read().split("\n")
if lines and lines[-1] == "":
    lines.pop()
bad = []
for i, l in enumerate(lines):
    try:
        e = json.loads(l)
        assert isinstance(e["t"], (int, float)) and isinstance(e["type"], str)
    except Exception as ex:
        bad.append((i + 1, str(ex)))
if bad and sys.argv[2] == "cut" and bad == [(len(lines), bad[-1][1])]:
    bad = []
print("lines", len(lines), "bad", bad)
sys.exit(1 if bad else 0)
PY
}
SOAK=("$KVMBED" soak "$PROFILE" --fold-cpus --scale=0.05 --csd-timeout=2s --soft-lockup=10s)

# Bad input: exit 2, nothing run.
"${SOAK[@]}" --duration=1s --scale=0 >"$T/out" 2>"$T/err"; expect_exit "bad --scale" 2 $?
expect_grep "bad --scale is named" "scale" "$T/err"
"$KVMBED" soak /nonexistent.yaml >"$T/out" 2>"$T/err"; expect_exit "missing profile" 2 $?
"$KVMBED" soak "$PROFILE" --fold-cpus --duration=1s >"$T/out" 2>"$T/err"; expect_exit "seed at scale 1 does not fit" 2 $?
expect_grep "error says how to fit (--scale)" "vms\[0\]\.guest\.stress: .*--scale" "$T/err"

# Bazel runs this test through tools/kvm_test.sh, which finds real KVM (here
# or in a nested L1) or reports the test skipped: without /dev/kvm here the
# soak cannot run, and that is a failure, not a pass.
if [ ! -w /dev/kvm ]; then
  fail "no usable /dev/kvm: run this test through tools/kvm_test.sh (bazel test does)"
  echo "$fails failed"; exit 1
fi

# 1. Clean short soak: exit 0, log parses and renders, JUnit passes.
"${SOAK[@]}" --duration=5s --events="$T/clean.jsonl" --junit="$T/clean.xml" >"$T/out" 2>"$T/err"
expect_exit "clean soak" 0 $?
expect_grep "summary per VM" "^== VM guest-a: clean ==" "$T/out"
expect_grep "summary per vCPU" "^ +55 yes +0-1" "$T/out"
expect_grep "host stress ran and reported" "^== host stress: ok ==" "$T/out"
expect_grep "stress-ng metrics in the summary" "^  cpu +bogo-ops +[0-9]+" "$T/out"
if log_parses "$T/clean.jsonl"; then pass "clean log parses"; else fail "clean log parses"; fi
for ty in run_start vm_online status heartbeats host_stress vm_summary run_end; do
  expect_grep "clean log has $ty" "\"type\":\"$ty\"" "$T/clean.jsonl"
done
expect_grep "host_stress event holds stress-ng's metrics" '"stressor":"vm".*"type":"host_stress"' "$T/clean.jsonl"
expect_grep "run_end exit 0" '"exit_code":0.*"type":"run_end"|"type":"run_end".*"exit_code":0' "$T/clean.jsonl"
expect_grep "guest ipi_latency event per VM" '"plane":"guest".*"type":"ipi_latency".*"vm":"guest-a"' "$T/clean.jsonl"
expect_grep "guest ipi_latency event has buckets" '"buckets":\[\[[0-9]+,[0-9]+\].*"plane":"guest"' "$T/clean.jsonl"
expect_grep "JUnit: 10 cases, no failure" 'testsuites name="kvmbed" tests="10" failures="0" errors="0"' "$T/clean.xml"
"$KVMBED" report "$T/clean.jsonl" --output="$T/clean.html" >"$T/out" 2>"$T/err"
expect_exit "report renders the clean soak" 0 $?
expect_grep "page names both VMs" "guest-b" "$T/clean.html"
expect_grep "page holds the guest latency plot" '<h3>guest plane, vm guest-a</h3><svg class="plot" id="lat[0-9]+" data-kind="latency"' "$T/clean.html"

# 1b. A stress-ng that cannot start (it refuses its options: exit 1) is a
# host error: exit 2, never "stall found".
mkdir -p "$T/badbin"
printf '#!/bin/sh\necho "stress-ng: error: refusing to run" >&2\nexit 1\n' >"$T/badbin/stress-ng"
chmod +x "$T/badbin/stress-ng"
PATH="$T/badbin:$PATH" "${SOAK[@]}" --duration=3s --events="$T/nostress.jsonl" >"$T/out" 2>"$T/err"
expect_exit "stress-ng that cannot start" 2 $?
expect_grep "its verdict is a host error" "^soak: host error \(exit 2\)" "$T/out"
expect_grep "the summary says why" "host error: host stress: stress-ng could not start: exit status 1" "$T/out"
expect_grep "run_end exit 2" '"exit_code":2.*"type":"run_end"|"type":"run_end".*"exit_code":2' "$T/nostress.jsonl"

# 2. Stall found (fault injection): exit 1, a lost stall in the log and JUnit.
"${SOAK[@]}" --duration=6s --fault-vcpu=1 --drop-ipi-fraction=1 --events="$T/lost.jsonl" \
  --junit="$T/lost.xml" >"$T/out" 2>"$T/err"
expect_exit "soak with dropped IPIs finds the stall" 1 $?
expect_grep "stall event with verdict lost" '"type":"stall".*"verdict":"lost"|"verdict":"lost".*"type":"stall"' "$T/lost.jsonl"
expect_grep "kernel-style report printed" "csd: Detected non-responsive CSD lock" "$T/out"
expect_grep "run_end says lost IPI" '"verdict":"lost IPI"' "$T/lost.jsonl"
expect_grep "JUnit failure of type lost_ipi" 'failure .*type="lost_ipi"' "$T/lost.xml"
if log_parses "$T/lost.jsonl"; then pass "stall log parses"; else fail "stall log parses"; fi
"$KVMBED" report "$T/lost.jsonl" --output="$T/lost.html" >"$T/out" 2>"$T/err"
expect_exit "report renders the stall log" 0 $?
expect_grep "page holds the stall report" "Detected non-responsive CSD lock" "$T/lost.html"

# 2b. The host plane (the profile's hostipi: section, emulated-power store
# buffers on the vCPU threads). The buggy kernel model (no barrier after the
# clear of host_ipi) loses a host IPI: exit 1, a LOST host-plane stall in the
# log, stopped early by --stop-on-lost (measured: 10-23 s after the plane
# starts, at load 30-55; 150 s is the cap, not the expectation). The fixed
# model runs clean.
"${SOAK[@]}" --duration=150s --kernel-model=v5.3,demux=peek --stop-on-lost --events="$T/hb.jsonl" \
  --junit="$T/hb.xml" >"$T/out" 2>"$T/err"
expect_exit "buggy host kernel model loses an IPI" 1 $?
expect_grep "host-plane stall with verdict lost" '"plane":"host".*"type":"stall".*"verdict":"lost"' "$T/hb.jsonl"
expect_grep "the report says why: doorbell taken with host_ipi==0" "took its last doorbell in the guest with host_ipi==0" "$T/out"
expect_grep "stopped at the first lost stall" '"reason":"stop_on_lost".*"type":"stop_requested"' "$T/hb.jsonl"
expect_grep "run_end says lost host IPI" '"verdict":"lost host IPI"' "$T/hb.jsonl"
expect_grep "JUnit failure for the host plane" 'failure .*type="lost_host_ipi"' "$T/hb.xml"
if log_parses "$T/hb.jsonl"; then pass "buggy host-plane log parses"; else fail "buggy host-plane log parses"; fi
"${SOAK[@]}" --duration=8s --kernel-model=v5.4,demux=peek --events="$T/hp.jsonl" >"$T/out" 2>"$T/err"
expect_exit "fixed host kernel model runs clean" 0 $?
expect_grep "host plane started with the model" '"kernel_model":"v5.4,demux=peek".*"mode":"emulated-power".*"type":"hostipi_start"' "$T/hp.jsonl"
expect_grep "fixed model buffered stores too" '"stores_buffered":[1-9]' "$T/hp.jsonl"
expect_grep "host-plane latency histogram for the report" '"plane":"host".*"type":"ipi_latency"' "$T/hp.jsonl"
expect_grep "run_start names the kernel model" '"kernel_model":"v5.4,demux=peek".*"type":"run_start"' "$T/hp.jsonl"
"${SOAK[@]}" --duration=5s --kernel-model=v9.9 --host-stress=false >"$T/out" 2>"$T/err"
expect_exit "unknown kernel model is bad input" 2 $?
expect_grep "unknown model named" "v9.9" "$T/err"

# 3. SIGINT: orderly stop, summary, run_end with the signal, exit 0 (clean so far).
"${SOAK[@]}" --duration=5m --events="$T/int.jsonl" >"$T/out" 2>"$T/err" &
pid=$!
for _ in $(seq 1 300); do grep -q '"type":"status".*"vms_online":2' "$T/int.jsonl" 2>/dev/null && break; sleep 0.1; done
sleep 1
kill -INT "$pid"
wait "$pid"; expect_exit "SIGINT stops in order, clean so far" 0 $?
expect_grep "summary after SIGINT" "^stopped by signal 2 after" "$T/out"
expect_grep "per-VM summary after SIGINT" "^== VM guest-b" "$T/out"
expect_grep "run_end with signal 2" '"signal":2' "$T/int.jsonl"
if log_parses "$T/int.jsonl"; then pass "SIGINT log parses"; else fail "SIGINT log parses"; fi

# 4. kill -9: the log is intact up to the kill; stress-ng does not outlive us.
"${SOAK[@]}" --duration=5m --events="$T/k9.jsonl" >"$T/out" 2>"$T/err" &
pid=$!
for _ in $(seq 1 300); do grep -q '"type":"heartbeats"' "$T/k9.jsonl" 2>/dev/null && break; sleep 0.1; done
sleep 1
kill -9 "$pid"
wait "$pid" 2>/dev/null
if log_parses "$T/k9.jsonl" cut; then pass "log intact after kill -9"; else fail "log intact after kill -9"; fi
if grep -q '"type":"run_end"' "$T/k9.jsonl"; then fail "no run_end after kill -9"; else pass "no run_end after kill -9"; fi
sleep 2
if pgrep -f "$T/k9.jsonl.stress-ng.yaml" >/dev/null; then fail "stress-ng outlived kill -9"; else pass "stress-ng died with kvmbed"; fi

# 5. Event log write error (a full disk: /dev/full): stop in order, say so, exit 2.
"${SOAK[@]}" --duration=1m --host-stress=false --events=/dev/full --junit="$T/full.xml" >"$T/out" 2>"$T/err"
expect_exit "full disk stops the run" 2 $?
expect_grep "says the log failed and the run stopped" "event log .*No space left on device.*stopped in order" "$T/err"
expect_grep "summary still printed" "^== VM guest-a" "$T/out"
expect_grep "JUnit records the log error" 'error .*type="event_log"' "$T/full.xml"


# 6. The event log's disk fills up in the middle of a soak: writes start
# failing after the VMs are running. Must hold: exit 2; an error naming the
# file and the errno; the run stops in order (summary printed, well before
# --duration, stress-ng gone); every line in the log parses and the log ends
# with a complete line (base/event_log.h cuts a partial one off); JUnit,
# written elsewhere, records the log error.
# Status events every 200 ms make the log grow ~2 KB/s, so the 12 KiB file
# size limit (6a) or 16 KiB tmpfs (6b) fills a few seconds into the run (boot
# and the first events take ~2 KiB).
# $1 name, $2 log, $3 junit, $4 errno name, $5 out (stdout+stderr)
check_log_failed_midrun() {
  local name="$1" log="$2" xml="$3" errname="$4" out="$5"
  expect_grep "$name: error names the file and the errno" \
    "event log failed: writing event log $log: .*\($errname, errno [0-9]+\)" "$out"
  expect_grep "$name: error says the run stopped in order" "stopped in order" "$out"
  expect_grep "$name: the failure came mid-run (VMs were online)" '"type":"vm_online"' "$log"
  expect_grep "$name: said while running" "the event log failed .*stopping the run in order" "$out"
  expect_grep "$name: summary still printed" "^== VM guest-a" "$out"
  expect_grep "$name: verdict line" "^soak: event log failed \(exit 2\)" "$out"
  if log_parses "$log"; then pass "$name: every line parses"; else fail "$name: every line parses"; fi
  if [ -s "$log" ] && [ "$(tail -c1 "$log" | od -An -c | tr -d ' ')" = '\n' ]; then
    pass "$name: log ends with a complete line"
  else
    fail "$name: log ends with a complete line"; tail -c 200 "$log" | od -c | tail -5
  fi
  if grep -q '"type":"run_end"' "$log"; then fail "$name: no run_end past the failure"; else
    pass "$name: no run_end past the failure"; fi
  expect_grep "$name: JUnit records the log error" \
    "<error message=\"[^\"]*$errname[^\"]*\" type=\"event_log\"" "$xml"
}

# 6a. A file size limit (ulimit -f 12 = 12 KiB): write() cuts a line short,
# then fails with EFBIG; kvmbed ignores SIGXFSZ (else it would die of it).
# The limit holds for every file kvmbed writes, so this uses a small profile
# without guest or host --io stress (the guest's io worker writes scratch
# files through the VMM, which the limit would fail first: a guest/VMM error,
# exit 1). stdout and stderr go through a pipe (the limit is on files); the
# JUnit XML and stress-ng's files stay under the limit.
cat >"$T/loglimit.yaml" <<'YAML'
name: log-limit
duration: 2m
host_stress: {cpu: 1, vm: 1, vm_bytes: 16M}
vms:
  - name: guest-a
    vcpus: 4
    topology: {sockets: 1, cores: 4, threads: 1}
    memory: 1G
    guest:
      workload: torture
      stress: {cpu: 2, vm: 1, vm_bytes: 16M}
YAML
SECONDS=0
( ulimit -f 12 && exec "$KVMBED" soak "$T/loglimit.yaml" --csd-timeout=2s --soft-lockup=10s \
    --duration=2m --status-interval=200ms --events="$T/fsz.jsonl" --junit="$T/fsz.xml" 2>&1 ) | cat >"$T/out"
rc=${PIPESTATUS[0]}
took=$SECONDS
cp "$T/out" "$T/err"
expect_exit "file size limit mid-run stops the run (not SIGXFSZ, 153)" 2 "$rc"
check_log_failed_midrun "ulimit -f" "$T/fsz.jsonl" "$T/fsz.xml" EFBIG "$T/out"
expect_grep "ulimit -f: the partial line was cut off" "partial last line was cut off" "$T/out"
if [ "$(stat -c %s "$T/fsz.jsonl")" -le 12288 ]; then pass "ulimit -f: log within the limit"; else
  fail "ulimit -f: log larger than the limit"; fi
if [ "$took" -lt 100 ]; then pass "ulimit -f: stopped early (${took}s of a 2m run)"; else
  fail "ulimit -f: ran ${took}s, the 2m run did not stop on the log failure"; fi
expect_grep "ulimit -f: host stress stopped in order" "^== host stress: ok ==" "$T/out"
sleep 1
if pgrep -f "$T/fsz.jsonl.stress-ng.yaml" >/dev/null; then fail "ulimit -f: stress-ng outlived the run"; else
  pass "ulimit -f: stress-ng is gone"; fi

# 6b. A real ENOSPC: the log on a 16 KiB tmpfs (needs root and mount).
MNT="$T/tinyfs"
mkdir -p "$MNT"
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: 6b tmpfs ENOSPC: not root (mount -t tmpfs needs it)"
elif ! mount -t tmpfs -o size=16k kvmbed-soak-test "$MNT" 2>"$T/mnt.err"; then
  echo "SKIP: 6b tmpfs ENOSPC: cannot mount a tmpfs here: $(cat "$T/mnt.err")"
else
  # Other processes' stress-ng --io workers open every mount point for
  # syncfs(), so a plain umount may find it busy: detach lazily then.
  unmount_tiny() { umount "$MNT" 2>/dev/null || umount -l "$MNT"; }
  trap unmount_tiny EXIT
  SECONDS=0
  "${SOAK[@]}" --duration=2m --status-interval=200ms --host-stress=false \
    --events="$MNT/full.jsonl" --junit="$T/enospc.xml" >"$T/out" 2>"$T/err"
  rc=$?
  took=$SECONDS
  cp "$MNT/full.jsonl" "$T/enospc.jsonl"
  unmount_tiny && trap - EXIT
  cat "$T/err" >>"$T/out"
  expect_exit "full tmpfs mid-run stops the run" 2 "$rc"
  # The log was at $MNT/full.jsonl; the messages name that path.
  sed -i "s#$MNT/full.jsonl#$T/enospc.jsonl#g" "$T/out"
  check_log_failed_midrun "tmpfs ENOSPC" "$T/enospc.jsonl" "$T/enospc.xml" ENOSPC "$T/out"
  if [ "$took" -lt 100 ]; then pass "tmpfs ENOSPC: stopped early (${took}s of a 2m run)"; else
    fail "tmpfs ENOSPC: ran ${took}s, the 2m run did not stop on the log failure"; fi
fi

finish
