#!/usr/bin/env bash
# The kvmbed input contract from the command line, without /dev/kvm: every
# bad input exits 2 with an error naming the file or flag and the fix; help
# exits 0; no input is read forever, echoed whole, or overwritten; nothing a
# user gives is silently ignored. Fails (exit 1) when any rule is broken.
set -uo pipefail
KVMBED="$1"
CONFIGS="$(dirname "$2")"
T="${TEST_TMPDIR:-$(mktemp -d)}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CMD_TIMEOUT=60  # no input may be read forever: a hang is a failure

# ---- flags: 2 for a bad flag, 0 for help ----
expect_rc "unknown flag" 2 "$KVMBED" run --frobnicate
expect_grep "unknown flag is named" "unknown flag --frobnicate" "$T/err"
expect_rc "flag without a value" 2 "$KVMBED" run --duration
expect_grep "missing value is named" "--duration needs a value" "$T/err"
expect_rc "ill-formed value" 2 "$KVMBED" profile check --duration=10
expect_grep "ill-formed value names flag and fix" "--duration=10: .*e\.g\. --duration=10s" "$T/err"
expect_rc "infinite duration" 2 "$KVMBED" profile check --duration=inf
expect_grep "infinite duration is named" "--duration=inf: give a finite duration" "$T/err"
expect_rc "non-finite number" 2 "$KVMBED" soak "$CONFIGS/default.yaml" --scale=nan
expect_rc "ill-formed bool" 2 "$KVMBED" profile check --fold-cpus=maybe
expect_rc "--help" 0 "$KVMBED" --help
expect_grep "--help prints usage" "^usage: kvmbed COMMAND" "$T/out"
expect_no_grep "--help has no absl noise" "No flags matched" "$T/out"
expect_rc "-h" 0 "$KVMBED" run -h
expect_rc "--helpfull" 0 "$KVMBED" --helpfull
expect_grep "--helpfull lists kvmbed's flags" "fold_cpus" "$T/out"
expect_rc "help" 0 "$KVMBED" help

# ---- flags that do not apply are refused by name ----
expect_rc "--mode on muxed-ipi-wakelist" 2 "$KVMBED" reproduce muxed-ipi-wakelist --mode=native
expect_grep "refused flag named with what applies" "--mode does not apply to reproduce muxed-ipi-wakelist.*--cpus" "$T/err"
expect_rc "--host-ordering without a host plane" 2 "$KVMBED" soak "$CONFIGS/default.yaml" --host-ordering=native
expect_grep "host-plane flag refused, fix named" "--host-ordering does not apply.*no host plane.*--kernel-model" "$T/err"
# An unknown ordering or kernel model from a flag is refused naming the field (the
# option is typed from there on, so this is the only place it can be refused).
expect_rc "unknown --host-ordering" 2 "$KVMBED" soak "$CONFIGS/default.yaml" --kernel-model=v5.4 --host-ordering=tso
expect_grep "unknown ordering named with field and fix" 'hostipi.ordering: unknown memory-ordering mode "tso": use "native" or "emulated-power".*--host-ordering' "$T/err"
expect_rc "unknown --kernel-model site" 2 "$KVMBED" soak "$CONFIGS/default.yaml" --kernel-model=v5.3,demux=fast
expect_grep "unknown model site named with field and fix" "hostipi.kernel_model: .*demux=xchg" "$T/err"
expect_rc "--store-hold on the model plane" 2 "$KVMBED" reproduce lost-host-ipi --store-hold=1ms
expect_rc "--libvirt on profile check" 2 "$KVMBED" profile check "$CONFIGS/default.yaml" --libvirt
expect_rc "--events on report" 2 "$KVMBED" report "$T/none.jsonl" --events="$T/e.jsonl"
expect_rc "flags on reproduce --list" 2 "$KVMBED" reproduce --list --json
expect_rc "reproduce --list still works" 0 "$KVMBED" reproduce --list

# ---- stdout write errors ----
if [ -w /dev/full ]; then
  for cmd in "profile check $CONFIGS/default.yaml" "profile export --libvirt $CONFIGS/default.yaml" \
             "reproduce --list" "help" "--help"; do
    # shellcheck disable=SC2086
    timeout 60 "$KVMBED" $cmd >/dev/full 2>"$T/err"; rc=$?
    if [ "$rc" -eq 2 ]; then pass "stdout full: $cmd (exit 2)"; else fail "stdout full: $cmd: exit $rc, want 2"; fi
    expect_grep "stdout full: $cmd: said on stderr" "writing to standard output failed" "$T/err"
  done
else
  echo "SKIP: /dev/full is absent"
fi

# ---- bounded input ----
expect_rc "profile check /dev/zero" 2 "$KVMBED" profile check /dev/zero
expect_grep "/dev/zero profile stops at the cap" "/dev/zero: the profile is larger than 1 MiB" "$T/err"
expect_rc "profile import /dev/zero" 2 "$KVMBED" profile import /dev/zero
expect_grep "/dev/zero domain stops at the cap" "/dev/zero: the domain XML is larger than" "$T/err"
expect_rc "report /dev/zero" 2 "$KVMBED" report /dev/zero --output="$T/z.html"
expect_grep "/dev/zero log stops at the line cap" "/dev/zero:1: the line is longer than" "$T/err"
head -c 2000000 /dev/zero | tr '\0' 'x' >"$T/huge"
{ printf 'name: t\nvcpus: 2\nmemory: '; head -c 900000 "$T/huge"; printf '\n'; } >"$T/bigvalue.yaml"
expect_rc "huge value" 2 "$KVMBED" profile check "$T/bigvalue.yaml"
expect_small "huge value is quoted as an excerpt" "$T/err" 1000
{ cat "$CONFIGS/default.yaml"; printf '# '; cat "$T/huge"; printf '\n'; } >"$T/big.yaml"
expect_rc "2 MB profile" 2 "$KVMBED" profile check "$T/big.yaml"
expect_grep "2 MB profile named" "big.yaml: the profile is larger than 1 MiB" "$T/err"

# ---- no silent acceptance ----
{ cat "$CONFIGS/default.yaml"; printf -- '---\nname: other\n'; } >"$T/two.yaml"
expect_rc "second YAML document" 2 "$KVMBED" profile check "$T/two.yaml"
expect_grep "second document named" "two.yaml:[0-9]+:[0-9]+: .*second YAML document" "$T/err"
printf 'name: t\nvcpus: 257\nmemory: 64M\n' >"$T/vcpus.yaml"
expect_rc "257 vCPUs" 2 "$KVMBED" profile check "$T/vcpus.yaml" --fold-cpus
expect_grep "vCPU limit is the guest's" "vcpus.yaml:2:8: vcpus: 257 is out of range; use a number from 1 to 256" "$T/err"
printf 'name: t\nvcpus: 2\nmemory: 1000T\n' >"$T/mem.yaml"
expect_rc "memory far beyond host RAM" 2 "$KVMBED" profile check "$T/mem.yaml"
expect_grep "memory error gives the host's RAM" "mem.yaml:3:9: memory: 1000T is far beyond this host's RAM \([0-9]+[MG]\)" "$T/err"
printf "<domain><name>a</name><memory unit='MiB'>64</memory><vcpu>2</vcpu></domain>\n<domain><name>b</name></domain>\n" >"$T/two.xml"
expect_rc "second root <domain>" 2 "$KVMBED" profile import "$T/two.xml"
expect_grep "second root named" "two.xml:2: <domain>: a second root element" "$T/err"

# ---- injection and data loss ----
nl_name="$T/x
duration: 999h #.xml"
printf "<domain><name>a</name><memory unit='MiB'>64</memory><vcpu>2</vcpu></domain>\n" >"$nl_name"
expect_rc "import a file name with a newline" 0 "$KVMBED" profile import "$nl_name" --output="$T/nl.yaml"
expect_no_grep "no key injected through the file name" "^duration:" "$T/nl.yaml"
expect_rc "the imported profile checks" 0 "$KVMBED" profile check "$T/nl.yaml"
expect_no_grep "no 999h duration" "999h" "$T/out"
mkdir -p "$T/a-->b"
cp "$CONFIGS/default.yaml" "$T/a-->b/p.yaml"
expect_rc "export a profile whose path holds -->" 0 "$KVMBED" profile export --libvirt "$T/a-->b/p.yaml" --output="$T/p.xml"
expect_rc "the exported XML is well-formed (imports back)" 0 "$KVMBED" profile import "$T/p.xml"
if command -v xmllint >/dev/null; then
  if xmllint --noout "$T/p.xml" 2>"$T/err"; then pass "xmllint accepts the export"; else fail "xmllint rejects the export"; fi
fi
printf '{"t":0,"type":"run_start"}\n{"t":1,"type":"run_end","exit_code":0}\n' >"$T/log.jsonl"
cp "$T/log.jsonl" "$T/log.orig"
expect_rc "report over its own log" 2 "$KVMBED" report "$T/log.jsonl" --output="$T/log.jsonl"
expect_grep "same-file refusal names the output" "--output=.*log.jsonl is the input file" "$T/err"
expect_rc "report over its own log by another path" 2 "$KVMBED" report "$T/log.jsonl" --output="$T/./../$(basename "$T")/log.jsonl"
ln -sf "$T/log.jsonl" "$T/link.jsonl"
expect_rc "report over its own log through a symlink" 2 "$KVMBED" report "$T/link.jsonl" --output="$T/log.jsonl"
if cmp -s "$T/log.jsonl" "$T/log.orig"; then pass "the log is untouched"; else fail "the log was overwritten"; fi
expect_rc "profile import over its XML" 2 "$KVMBED" profile import "$T/p.xml" --output="$T/p.xml"
expect_rc "run --events over its profile" 2 "$KVMBED" run "$T/a-->b/p.yaml" --events="$T/a-->b/p.yaml"
if cmp -s "$T/a-->b/p.yaml" "$CONFIGS/default.yaml"; then pass "the profile is untouched"; else
  fail "the profile was overwritten"; fi
expect_rc "report to another file still works" 0 "$KVMBED" report "$T/log.jsonl" --output="$T/log.html"

# ---- the event log: no crash, no hang ----
printf '{"t":0,"type":"run_start"}\n{"t":1e400,"type":"status"}\n' >"$T/e400.jsonl"
expect_rc "1e400 on the last line is tolerated" 0 "$KVMBED" report "$T/e400.jsonl" --output="$T/e400.html"
printf '{"t":0,"type":"run_start"}\n{"t":1e400,"type":"status"}\n{"t":2,"type":"run_end","exit_code":0}\n' >"$T/e400m.jsonl"
expect_rc "1e400 in the middle is bad input" 2 "$KVMBED" report "$T/e400m.jsonl" --output="$T/e400.html"
expect_grep "1e400 line named" "e400m.jsonl:2: not valid JSON" "$T/err"
s='"elapsed_s":1,"ipis":5,"ipis_per_s":1,"csd_waits":1,"max_wait_ns":1e300,"stalls_lost":0,"stalls_slow":0'
printf '{"t":0,"type":"status",%s}\n{"t":1e300,"type":"status",%s}\n' "$s" "$s" >"$T/hugetime.jsonl"
expect_rc "a huge t renders (no hang)" 0 "$KVMBED" report "$T/hugetime.jsonl" --output="$T/hugetime.html"
expect_small "a huge t gives a small page" "$T/hugetime.html" 2000000

finish
