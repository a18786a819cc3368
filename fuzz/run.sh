#!/usr/bin/env bash
# Builds kvmbed's libFuzzer targets with clang-14 (ASan + UBSan, libFuzzer
# from libclang-rt-14-dev) and runs each for SECONDS (default 60) on a copy
# of its seed corpus (fuzz/corpus/NAME). Crashes and hangs land in
# $OUT/artifacts; add each to fuzz/corpus/NAME/ as a regression case (the
# //fuzz:NAME_fuzzer_replay_test tests replay the corpus with the ordinary
# toolchain).
# With RUNS=N in the environment, each target also stops after N executions.
# Each target's result is also written as JUnit ($OUT/NAME.xml: a finding is
# a failed case, with the fuzzer's report), and the script exits 1 when any
# target found something.
#   fuzz/run.sh [SECONDS] [NAME...]     NAME: profile libvirt report parsers elf
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${1:-60}"; shift || true
NAMES=("$@"); [ ${#NAMES[@]} -gt 0 ] || NAMES=(profile libvirt report parsers elf)
OUT="${OUT:-/tmp/kvmbed-fuzz}"
CXX="${CXX:-clang++-14}"
mkdir -p "$OUT/artifacts"
found=0

# The generated list of shipped profiles comes from its Bazel rule.
bazel build //configs:shipped_profiles >/dev/null 2>&1
SHIPPED="$(bazel info output_path 2>/dev/null)/k8-fastbuild/bin/configs/shipped_profiles.cc"

# System libraries: the link list of //third_party:system.BUILD.
LIBS=$(grep -oE '"-l[^"]+"' third_party/system.BUILD | tr -d '"' | grep -v -E 'gtest|gmock|benchmark' | sort -u)

sources() {
  case "$1" in
    # Every library file of configs/ (the profile loader is several files).
    profile|libvirt) echo $(ls configs/*.cc | grep -v '_test\.cc$') base/cpuset.cc \
                          hostipi/kernel_model.cc hostipi/ordering_mode.cc runner/guest_workload.cc \
                          base/input.cc "$SHIPPED" ;;
    report) echo report/run_data.cc report/render.cc base/input.cc base/event_schema.cc ;;
    parsers) echo base/cpuset.cc hostipi/kernel_model.cc ;;
    elf) echo vmm/elf.cc vmm/guest_memory.cc vmm/kvm.cc ;;
  esac
}

for name in "${NAMES[@]}"; do
  bin="$OUT/${name}_fuzzer"
  # shellcheck disable=SC2046
  "$CXX" -std=c++17 -O1 -g -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    "fuzz/${name}_fuzzer.cc" $(sources "$name") $LIBS -o "$bin"
  work="$OUT/corpus-$name"
  mkdir -p "$work"
  cp -n "fuzz/corpus/$name"/* "$work"/ 2>/dev/null || true
  echo "== $name: ${SECONDS_EACH}s"
  t0=$(date +%s)
  frc=0
  "$bin" -max_total_time="$SECONDS_EACH" ${RUNS:+-runs="$RUNS"} -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$OUT/artifacts/${name}-" "$work" 2>"$OUT/$name.log" || frc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$name.log" | tail -1)
  echo "$name: ${execs:-?} executions in $(( $(date +%s) - t0 ))s"
  if [ "$frc" -ne 0 ]; then
    found=1
    echo "$name: the fuzzer stopped on a finding (exit $frc); see $OUT/$name.log and $OUT/artifacts"
    grep -m 5 -E "^==[0-9]+==ERROR|^SUMMARY|ALARM|Test unit written" "$OUT/$name.log" | sed 's/^/  /' || true
    report=$( (grep -E "^==[0-9]+==ERROR|^SUMMARY|ALARM|Test unit written" "$OUT/$name.log" || true) | head -20 |
             sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g; s/"/\&quot;/g' || true)
    failure="<failure message=\"fuzzer exit $frc\">$report</failure>"
  else
    failure=""
  fi
  cat >"$OUT/$name.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<testsuites><testsuite name="fuzz" tests="1"><testcase name="${name}_fuzzer" classname="fuzz" time="$(( $(date +%s) - t0 ))">$failure</testcase></testsuite></testsuites>
XML
done
exit "$found"
