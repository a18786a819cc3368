#!/usr/bin/env bash
# Renders a synthetic seed-like run and loads the page in headless Chromium
# (Debian package `chromium`). The page's own script sets
# body[data-rendered] to "ok N" only when all N plots it declares laid out
# with a real size and the heat map's hover read-out answered a synthetic
# mouse move; this test checks that, that the stall report's <script>
# did not run, and that a screenshot is produced (kept in the test's
# undeclared outputs: bazel-testlogs/report/chromium_test/test.outputs/).
set -euo pipefail
tool="$1"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
out="${TEST_UNDECLARED_OUTPUTS_DIR:-$tmp}"

skip() {
  echo "SKIPPED: $1"
  if [ -n "${XML_OUTPUT_FILE:-}" ]; then
    cat > "$XML_OUTPUT_FILE" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<testsuites><testsuite name="report_chromium" tests="1" skipped="1"><testcase name="renders_in_headless_chromium" classname="report"><skipped message="$1"/></testcase></testsuite></testsuites>
XML
  fi
  exit 0
}

browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || skip "chromium is not installed (apt-get install -y chromium)"

"$tool" synth "$tmp/run.jsonl" 120 1 >/dev/null
"$tool" render "$tmp/run.jsonl" "$tmp/run.html" >/dev/null

chrome() {
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-dev-shm-usage --user-data-dir="$(mktemp -d -p "$tmp")" "$@" 2>"$tmp/chrome.err"
}

chrome --dump-dom "file://$tmp/run.html" > "$tmp/dom.html" || {
  cat "$tmp/chrome.err"; echo "FAIL: chromium --dump-dom failed"; exit 1; }
want=$(grep -o 'data-plots="[0-9]*"' "$tmp/run.html" | head -1 | grep -o '[0-9]*')
got=$(grep -o 'data-rendered="[^"]*"' "$tmp/dom.html" | head -1 || true)
echo "plots declared: $want; chromium says: $got"
echo "hover read-out on the first heat-map cell: $(grep -o 'data-readout="[^"]*"' "$tmp/dom.html" || echo none)"
[ "$want" -ge 6 ] || { echo "FAIL: expected at least 6 plots, page declares $want"; exit 1; }
[ "$got" = "data-rendered=\"ok $want\"" ] || { echo "FAIL: page did not render every plot"; exit 1; }
grep -q '<title>kvmbed report: seed-soak</title>' "$tmp/dom.html" || {
  echo "FAIL: the page title changed: a stall report's script ran"; exit 1; }
grep -q 'pwned' "$tmp/dom.html" && ! grep -q "&lt;script&gt;document.title=" "$tmp/dom.html" && {
  echo "FAIL: the stall report text was not shown escaped"; exit 1; }

chrome --window-size=1024,3200 --screenshot="$out/report.png" "file://$tmp/run.html" >/dev/null || {
  cat "$tmp/chrome.err"; echo "FAIL: chromium --screenshot failed"; exit 1; }
size=$(stat -c %s "$out/report.png")
echo "screenshot: $out/report.png ($size bytes)"
[ "$size" -gt 50000 ] || { echo "FAIL: screenshot is suspiciously small"; exit 1; }
cp "$tmp/run.html" "$out/report.html"
echo "PASS"
