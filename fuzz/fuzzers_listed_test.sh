#!/usr/bin/env bash
# fuzz/run.sh builds the fuzzers outside Bazel with the sources Bazel links
# into each //fuzz:NAME_fuzzer_replay_test. This checks the two ends of that:
# every fuzz/NAME_fuzzer.cc has a replay test (a key of FUZZERS in fuzz/BUILD,
# passed as the arguments), every key has its NAME_fuzzer.cc, and run.sh lists
# no library source by hand (which Bazel's list would silently outgrow).
# Fails (exit 1) naming what is wrong.
set -uo pipefail
dir="$(dirname "${BASH_SOURCE[0]}")"
keys=" $* "
rc=0
for f in "$dir"/*_fuzzer.cc; do
  name="$(basename "$f" _fuzzer.cc)"
  case "$keys" in
    *" $name "*) echo "PASS: $name has //fuzz:${name}_fuzzer_replay_test" ;;
    *) echo "FAIL: fuzz/${name}_fuzzer.cc has no FUZZERS entry in fuzz/BUILD, so run.sh cannot build it"; rc=1 ;;
  esac
done
for name in "$@"; do
  if [ -f "$dir/${name}_fuzzer.cc" ]; then
    echo "PASS: FUZZERS[$name] has fuzz/${name}_fuzzer.cc"
  else
    echo "FAIL: FUZZERS[$name] in fuzz/BUILD has no fuzz/${name}_fuzzer.cc"; rc=1
  fi
done
# A hand-written source list names files of other folders: dir/file.cc.
hand=$(grep -v '^\s*#' "$dir/run.sh" | grep -oE '\b(base|configs|guest|hostipi|hostplane|report|runner|scenarios|tools|vmm|watch)/[A-Za-z0-9_/]+\.(cc|c)\b' || true)
if [ -n "$hand" ]; then
  echo "FAIL: fuzz/run.sh lists sources by hand (take them from bazel query instead):" $hand; rc=1
else
  echo "PASS: fuzz/run.sh takes every library source from Bazel"
fi
exit "$rc"
