#!/usr/bin/env bash
# Runs one KVM test (a gtest binary or a shell test) on real VMX/SVM KVM:
# directly where this machine has it, otherwise inside a nested L1 under
# QEMU TCG (tools/nested_kvm.sh), where kvm_amd is real. Used by the
# kvm_cc_test and kvm_sh_test rules of tools/kvm_test.bzl, so a plain
# `bazel test //...` runs every KVM test on every x86 machine.
#
#   tools/kvm_test.sh TEST [ARG...]
#
# KVMBED_TEST_KVM chooses: auto (default: direct on vmx/svm, nested
# otherwise), host (direct on whatever /dev/kvm is, kvm_pvm included),
# nested (always in the L1). When neither is possible the test is reported
# skipped, with the reason, never passed.
#
# The first line of output names the KVM the test ran on:
#   kvmbed-test-kvm: svm nested (L1 under QEMU TCG)
set -uo pipefail
# In Bazel the script runs from the runfiles tree, where its companions sit
# under tools/; by hand, beside it.
if [ -n "${TEST_SRCDIR:-}" ] && [ -f "$TEST_SRCDIR/${TEST_WORKSPACE:-kvmbed}/tools/kvm_flavour.sh" ]; then
  here="$TEST_SRCDIR/${TEST_WORKSPACE:-kvmbed}/tools"
else
  here=$(dirname "${BASH_SOURCE[0]}")
fi
. "$here/kvm_flavour.sh"

test_bin=${1:?usage: kvm_test.sh TEST [ARG...]}
shift
name=${TEST_TARGET:-$test_bin}
choice=${KVMBED_TEST_KVM:-auto}

skip() {
  echo "kvmbed-test-kvm: none (skipped: $1)"
  if [ -n "${XML_OUTPUT_FILE:-}" ]; then
    local msg=${1//&/&amp;}; msg=${msg//</&lt;}; msg=${msg//\"/&quot;}
    cat > "$XML_OUTPUT_FILE" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<testsuites><testsuite name="$name" tests="1" skipped="1"><testcase name="kvm" classname="$name"><skipped message="$msg"/></testcase></testsuite></testsuites>
XML
  fi
  exit 0
}

flavour=$(kvm_flavour)
nested=$(kvm_nested)
run_here=0
case "$choice" in
  host) [ "$flavour" != none ] || skip "KVMBED_TEST_KVM=host but /dev/kvm is absent or not writable"
        run_here=1 ;;
  auto) case "$flavour" in vmx|svm) run_here=1 ;; esac
        # Already inside the L1: never nest twice.
        [ -n "${KVMBED_NESTED:-}" ] && [ "$flavour" != none ] && run_here=1 ;;
  nested) [ -n "${KVMBED_NESTED:-}" ] && run_here=1 ;;
  *) echo "kvm_test.sh: KVMBED_TEST_KVM='$choice': use auto, host or nested" >&2; exit 2 ;;
esac

if [ "$run_here" -eq 1 ]; then
  where="$flavour $nested"
  [ -n "${KVMBED_NESTED:-}" ] && where="$where (L1 under QEMU TCG)"
  echo "kvmbed-test-kvm: $where"
  exec "$test_bin" "$@"
fi

[ -z "${KVMBED_NESTED:-}" ] || skip "inside the L1 /dev/kvm is '$flavour'"
why="this machine's KVM is '$flavour'"
"$here/nested_kvm.sh" --probe >/dev/null 2>&1 ||
  skip "$why and the nested L1 cannot be built ($("$here/nested_kvm.sh" --probe 2>&1 | tr '\n' ' ')); run tools/setup.sh"

# Leave the L1 two minutes less than Bazel gives the test, so that a hang
# ends with the L1's own account of it (every CPU's and task's stack, gdb's
# backtrace of the test's threads, QEMU's registers of each L1 CPU with the
# L1 function it is in: nested_kvm.sh) rather than a bare Bazel timeout.
budget=$(( ${TEST_TIMEOUT:-1800} - 120 ))
[ "$budget" -gt 60 ] || budget=60
rw=()
for d in "${TEST_TMPDIR:-}" "${TEST_UNDECLARED_OUTPUTS_DIR:-}" \
         "$(dirname "${XML_OUTPUT_FILE:-/nonexistent/x}")"; do
  [ -n "$d" ] && [ -d "$d" ] && rw+=(--rw "$d")
done
console="${TEST_UNDECLARED_OUTPUTS_DIR:-${TEST_TMPDIR:-/tmp}}/l1-console.log"
echo "kvmbed-test-kvm: $why here; running in a nested L1 (console: $console)"
"$here/nested_kvm.sh" --quiet --timeout "$budget" --console "$console" "${rw[@]}" -- \
  "$here/kvm_test.sh" "$test_bin" "$@"
rc=$?
# A wedged L1 (every L1 CPU stuck in the L1 kernel with interrupts off, as
# multi-threaded TCG did) fails the test, loudly: it must be seen, not retried.
[ "$rc" -eq 125 ] && echo "kvmbed-test-kvm: the nested L1 failed under the test (exit 125; console: $console)"
exit "$rc"
