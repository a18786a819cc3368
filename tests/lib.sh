# Helpers of the shell tests (sourced; needs bash). Each check prints one
# PASS/FAIL line; `finish` prints the count and is the test's exit status.
# A failing check shows what was seen: the command's stderr/stdout, or the
# file that was searched (the last 20 lines, each cut at 400 characters).
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   T=...                            scratch directory ($T/out, $T/err)
#   CMD_TIMEOUT=60                   expect_rc stops a command after this
#                                    (a hang is a failure; 0, the default,
#                                    waits for ever)

fails=0
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1"; fails=$((fails + 1)); }

# The last lines of file $1, each prefixed with $2.
show_tail() { tail -n 20 "$1" 2>/dev/null | cut -c 1-400 | sed "s/^/$2/"; }

# expect_exit NAME WANT GOT [FILE]: GOT (an exit status already taken) is
# WANT; a failure shows FILE, or $T/err and $T/out.
expect_exit() {
  if [ "$3" -eq "$2" ]; then pass "$1 (exit $3)"; else
    fail "$1: exit $3, want $2"
    if [ -n "${4:-}" ]; then show_tail "$4" '  | '; else
      show_tail "$T/err" '  err| '; show_tail "$T/out" '  out| '; fi
  fi
}

# expect_rc NAME WANT CMD...: runs CMD (stdout to $T/out, stderr to $T/err)
# and checks its exit status; 124 means CMD_TIMEOUT ran out.
expect_rc() {
  local name=$1 want=$2; shift 2
  timeout "${CMD_TIMEOUT:-0}" "$@" >"$T/out" 2>"$T/err"
  expect_exit "$name" "$want" $?
}

# expect_grep NAME PATTERN FILE: FILE has a line matching the ERE.
expect_grep() {
  if grep -qE -- "$2" "$3"; then pass "$1"; else
    fail "$1: /$2/ not in $3"; show_tail "$3" '  | '; fi
}

# expect_no_grep NAME PATTERN FILE: no line of FILE matches the ERE.
expect_no_grep() {
  if grep -qE -- "$2" "$3"; then
    fail "$1: /$2/ found in $3"; grep -E -- "$2" "$3" | head -3 | cut -c 1-400 | sed 's/^/  | /'
  else pass "$1"; fi
}

# expect_small NAME FILE MAX_BYTES: FILE is at most MAX_BYTES long.
expect_small() {
  local n; n=$(wc -c <"$2")
  if [ "$n" -le "$3" ]; then pass "$1 ($n bytes)"; else fail "$1: $n bytes > $3"; fi
}

# The summary line; the test's exit status (0 when nothing failed).
finish() {
  echo "${0##*/}: $fails failed"
  [ "$fails" -eq 0 ]
}
