#!/usr/bin/env bash
# End-to-end checks of the kvmbed command line: exit codes (0 clean, 1 found,
# 2 bad input), error messages that name file, field and fix, the event log,
# and libvirt round trips through the CLI.
set -uo pipefail
KVMBED="$1"
CONFIGS="$(dirname "$2")"
T="${TEST_TMPDIR:-/tmp}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

expect_rc "bad profile path" 2 "$KVMBED" run /nonexistent.yaml
expect_grep "missing file is named" "/nonexistent.yaml" "$T/err"

printf 'name: t\nvcpus: 4\ntopology: {sockets: 1, cores: 3, threads: 1}\nmemory: 64M\nduration: 1s\n' >"$T/bad.yaml"
expect_rc "topology mismatch" 2 "$KVMBED" run "$T/bad.yaml"
expect_grep "error names file:line, field and fix" "bad.yaml:[0-9]+:[0-9]+: topology: .*make the product" "$T/err"

expect_rc "unknown command" 2 "$KVMBED" frobnicate
expect_rc "unknown fault" 2 "$KVMBED" run --inject-fault=bogus
expect_rc "negative duration" 2 "$KVMBED" run --duration=-1s

# Bazel runs this test through tools/kvm_test.sh, which finds real KVM (here
# or in a nested L1) or reports the test skipped: without /dev/kvm here the
# KVM half cannot run, and that is a failure, not a pass.
if [ ! -w /dev/kvm ]; then
  fail "no usable /dev/kvm: run this test through tools/kvm_test.sh (bazel test does)"
else
  expect_rc "default profile runs clean" 0 "$KVMBED" run --duration=500ms --events="$T/ev.jsonl"
  expect_grep "summary says success" "^run: SUCCESS" "$T/out"
  expect_grep "every vCPU online" "all vCPUs online" "$T/out"
  for ty in run_start smp_start smp_end vm_summary run_end; do
    expect_grep "event log has $ty" "\"type\":\"$ty\"" "$T/ev.jsonl"
  done
  if python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$T/ev.jsonl" 2>/dev/null ||
     ! command -v python3 >/dev/null; then pass "event log parses"; else fail "event log parses"; fi

  expect_rc "report renders the run's log" 0 "$KVMBED" report "$T/ev.jsonl" --output="$T/ev.html"
  expect_grep "report is HTML with the VM table" "seed|default" "$T/ev.html"
  printf '{"t":0,"type":"run_start"}\nnot json\n{"t":1,"type":"run_end"}\n' >"$T/badlog.jsonl"
  expect_rc "malformed log line is bad input" 2 "$KVMBED" report "$T/badlog.jsonl"
  expect_grep "bad log line named" "badlog.jsonl:2" "$T/err"

  expect_rc "triple fault is a clean failure" 1 "$KVMBED" run --inject-fault=triple --fault-vcpu=1 --duration=2s
  if grep -q "^kvm: svm" "$T/out"; then
    # AMD SVM: KVM INITs the vCPU after a shutdown intercept; the RIP is lost.
    expect_grep "triple fault on SVM says the RIP is lost" "reset state, not the fault's: on AMD SVM" "$T/err"
  else
    expect_grep "triple fault reported with symbolized RIP" "RIP [0-9a-f]+ kvmbed_fault_triple\+0x[0-9a-f]+/0x[0-9a-f]+" "$T/err"
  fi

  expect_rc "bench ipi prints percentiles and the kvm-unit-tests figure" 0 "$KVMBED" bench ipi --iterations=50
  expect_grep "bench ipi p50/p99 in cycles and us" "p50 [0-9]+ cycles \([0-9.]+ us\).*p99" "$T/out"
  expect_grep "bench ipi ends with the vmexit-style line" "^ipi [0-9]+$" "$T/out"
  expect_rc "bench boot" 0 "$KVMBED" bench boot --vcpus=8 --runs=2
  expect_grep "bench boot prints median and RSS" "median .* peak RSS" "$T/out"

  expect_rc "seed guest A without fold names the fix" 2 "$KVMBED" run "$CONFIGS/seed-guest-a.yaml"
  expect_grep "fold hint" "--fold-cpus" "$T/err"
  expect_rc "seed guest A folded boots 56 vCPUs" 0 "$KVMBED" run "$CONFIGS/seed-guest-a.yaml" --fold-cpus --duration=300ms
  expect_grep "56 vCPUs online" "VM seed-guest-a: 56 vCPUs.*all vCPUs online" "$T/out"
fi

expect_rc "reproduce --list" 0 "$KVMBED" reproduce --list
expect_grep "list names lost-host-ipi and its commit" "^lost-host-ipi +3a83f677 " "$T/out"
expect_grep "list names pvspinlock-kick" "^pvspinlock-kick +76eaca031f0a " "$T/out"
expect_grep "list names offline-csd-flush" "^offline-csd-flush +8d056c48e486 " "$T/out"
expect_grep "list names muxed-ipi-wakelist" "^muxed-ipi-wakelist +9fb1b36ca1 " "$T/out"
expect_rc "muxed-ipi-wakelist: buggy hangs, fixed clean" 0 "$KVMBED" reproduce 9fb1b36ca1
expect_grep "the stuck task is named" "stuck in TASK_WAKING" "$T/out"
expect_grep "the wakelist fixed phase prints the bound" "p < 3/N" "$T/out"
expect_rc "unknown scenario is bad input" 2 "$KVMBED" reproduce no-such-bug
expect_rc "scenario 1 natively is refused (x86 keeps stores in order)" 2 "$KVMBED" reproduce 3a83f677 --scenario=1 --mode=native
expect_rc "lost-host-ipi scenario 1 (emulated): buggy hangs, fixed clean" 0 "$KVMBED" reproduce 3a83f677 --scenario=1 --fixed-doorbells=100000 --events="$T/repro.jsonl"
expect_grep "the report shows the ignored doorbell" "host_ipi == 0: doorbell taken as the guest's" "$T/out"
expect_grep "the fixed phase prints the bound" "p < 3/N" "$T/out"
expect_grep "the event log has the LOST stall" '"verdict":"lost"' "$T/repro.jsonl"
printf 'name: r\nvcpus: 2\nmemory: 64M\nreproduce:\n  scenario: lost-host-ipi\n  fixed_operations: 50000\n  lost_host_ipi: {shape: 2}\n' >"$T/lhi.yaml"
expect_rc "lost-host-ipi from a PROFILE (shape 2, emulated)" 0 "$KVMBED" reproduce lost-host-ipi "$T/lhi.yaml"
expect_grep "the profile's shape picks scenario 2's buggy model" "buggy kernel model v5.4,mb-after-clear=off,demux=peek" "$T/out"
# The phase stops at the first check past the bound; concurrent senders may
# add a few doorbells before every modelled CPU sees the stop.
expect_grep "the profile's fixed_operations bound the fixed phase" "N=500[0-9][0-9] doorbells" "$T/out"
expect_rc "a fixed model that is not fixed fails the run" 1 "$KVMBED" reproduce 3a83f677 --scenario=1 --fixed-model=v5.3 --fixed-doorbells=300000

expect_rc "export libvirt" 0 "$KVMBED" profile export --libvirt "$CONFIGS/seed-guest-a.yaml" --output="$T/a.xml"
expect_grep "export has vcpupin" "<vcpupin vcpu=.55. cpuset=.108-111./>" "$T/a.xml"
expect_rc "import libvirt" 0 "$KVMBED" profile import "$T/a.xml" --output="$T/a.yaml"
expect_rc "imported profile checks (folded)" 0 "$KVMBED" profile check "$T/a.yaml" --fold-cpus
printf '<domain><name>x</name><vcpu>2</vcpu>' >"$T/broken.xml"
expect_rc "broken XML" 2 "$KVMBED" profile import "$T/broken.xml"
expect_grep "broken XML named" "broken.xml" "$T/err"

finish
