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
#                                       (default: every fuzzer of fuzz/BUILD)
#   fuzz/run.sh --list [NAME...]        prints each fuzzer's sources, as Bazel has them
set -euo pipefail
cd "$(dirname "$0")/.."
LIST=0
if [ "${1:-}" = "--list" ]; then LIST=1; shift; else SECONDS_EACH="${1:-60}"; shift || true; fi
NAMES=("$@")
if [ ${#NAMES[@]} -eq 0 ]; then
  # Every fuzzer fuzz/BUILD defines (FUZZERS).
  mapfile -t NAMES < <(bazel query --noshow_progress 'tests(//fuzz:all)' 2>/dev/null |
                       sed -n 's|^//fuzz:\(.*\)_fuzzer_replay_test$|\1|p')
  [ ${#NAMES[@]} -gt 0 ] || { echo "fuzz/run.sh: bazel query finds no //fuzz:*_fuzzer_replay_test" >&2; exit 2; }
fi
OUT="${OUT:-/tmp/kvmbed-fuzz}"
CXX="${CXX:-clang++-14}"
found=0

mkdir -p "$OUT/artifacts"

# System libraries: the link list of //third_party:system.BUILD.
LIBS=$(grep -oE '"-l[^"]+"' third_party/system.BUILD | tr -d '"' | grep -v -E 'gtest|gmock|benchmark' | sort -u)

# The sources of fuzzer NAME are what Bazel links into //fuzz:NAME_fuzzer_replay_test:
# every .cc of this repository in its deps (no toolchain), less fuzz/'s own files
# (the entry point is fuzz/NAME_fuzzer.cc; replay_main.cc is the replay's main).
# Generated sources (genrule outputs such as the shipped-profile list) are built
# and taken from bazel-bin.
# Nothing is listed by hand, so a library that gains a .cc cannot be left out; a
# target Bazel does not know, or a listed file that is absent, stops the script
# (exit 2) naming the target.
BIN="$(bazel info bazel-bin 2>/dev/null)" || { echo "fuzz/run.sh: bazel info bazel-bin failed" >&2; exit 2; }
sources() {
  local target="//fuzz:$1_fuzzer_replay_test" labels generated label path
  labels=$(bazel query --noshow_progress --noimplicit_deps \
             "kind('source file', deps($target)) except //fuzz:*" 2>/dev/null) &&
  generated=$(bazel query --noshow_progress --noimplicit_deps \
                "labels(outs, kind(genrule, deps($target)) except //fuzz:*)" 2>/dev/null) || {
    echo "fuzz/run.sh: $1: bazel query of $target failed (is '$1' a key of FUZZERS in fuzz/BUILD?)" >&2
    return 2
  }
  generated=$(echo "$generated" | grep -E '^//[^:]*:[^:]*\.cc$' || true)
  if [ -n "$generated" ]; then
    # shellcheck disable=SC2086
    bazel build --noshow_progress $generated >/dev/null 2>&1 ||
      { echo "fuzz/run.sh: $1: building the generated sources of $target failed:" $generated >&2; return 2; }
  fi
  local out=()
  for label in $(echo "$labels" | grep -E '^//[^:]*:[^:]*\.(cc|c)$') $generated; do
    path="${label#//}"; path="${path/://}"; path="${path#/}"
    if echo "$generated" | grep -qxF "$label"; then path="$BIN/$path"; fi
    [ -f "$path" ] || { echo "fuzz/run.sh: $1: $path, a source of $target, is missing" >&2; return 2; }
    out+=("$path")
  done
  [ ${#out[@]} -gt 0 ] || { echo "fuzz/run.sh: $1: Bazel lists no sources for $target" >&2; return 2; }
  echo "${out[@]}"
}

if [ "$LIST" = 1 ]; then
  for name in "${NAMES[@]}"; do
    srcs=$(sources "$name") || exit 2
    echo "$name: fuzz/${name}_fuzzer.cc $srcs"
  done
  exit 0
fi

for name in "${NAMES[@]}"; do
  bin="$OUT/${name}_fuzzer"
  srcs=$(sources "$name") || exit 2
  # shellcheck disable=SC2086
  "$CXX" -std=c++17 -O1 -g -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    "fuzz/${name}_fuzzer.cc" $srcs $LIBS -o "$bin"
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
