#!/usr/bin/env bash
# ppc64le_sysroot.sh: sets up what `bazel build --config=ppc64le` needs:
# Debian's ppc64le cross compiler (installed with apt-get) and the ppc64el
# builds of the libraries kvmbed links (Abseil, GoogleTest, Google
# Benchmark, yaml-cpp, tinyxml2), downloaded with `apt-get download` and
# unpacked, not installed, into the sysroot the toolchain in
# toolchains/ppc64le links against.
#
#   tools/ppc64le_sysroot.sh [--force]
#
# Idempotent: does nothing when the sysroot matches the installed amd64
# packages' versions (their headers in /usr/include serve both
# architectures, so the versions must agree). Prints the sysroot's path.
# Exit 0 on success, 2 when a package cannot be had.
set -euo pipefail

sysroot=/var/cache/kvmbed/ppc64le-sysroot  # toolchains/ppc64le/cc_toolchain_config.bzl
force=0
[ "${1:-}" = "--force" ] && force=1

say() { echo "ppc64le_sysroot: $*" >&2; }
apt_get() {
  local i
  for i in $(seq 1 30); do
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=60 "$@" && return 0
    sleep 10
  done
  return 1
}

need=()
for p in g++-powerpc64le-linux-gnu libc6-dev-ppc64el-cross; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || need+=("$p")
done
if ! dpkg --print-foreign-architectures | grep -qx ppc64el; then
  dpkg --add-architecture ppc64el
  apt_get update -q >/dev/null || { say "apt-get update failed"; exit 2; }
fi
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  apt_get install -y -q --no-install-recommends "${need[@]}" >/dev/null \
    || { say "apt-get install ${need[*]} failed"; exit 2; }
fi

# -dev package and the runtime library package its .so links point to.
dev_pkgs="libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev libyaml-cpp-dev libtinyxml2-dev"
pkgs=()
for dev in $dev_pkgs; do
  v=$(dpkg-query -W -f='${Version}' "$dev" 2>/dev/null || true)
  if [ -z "$v" ]; then
    say "$dev (amd64) is not installed; run tools/setup.sh first"
    exit 2
  fi
  pkgs+=("$dev:ppc64el=$v")
  for dep in $(apt-cache show "$dev:ppc64el=$v" 2>/dev/null \
      | awk -F': ' '/^Depends:/{print $2; exit}' | tr ',' '\n' \
      | awk '{print $1}' | grep -E '^lib(absl|benchmark|yaml-cpp|tinyxml2)[0-9a-z.-]*$' || true); do
    pkgs+=("$dep:ppc64el=$v")
  done
done
key=$(printf '%s\n' "${pkgs[@]}" | sha256sum | cut -c1-16)
if [ "$force" = 0 ] && [ "$(cat "$sysroot/.key" 2>/dev/null)" = "$key" ]; then
  echo "$sysroot"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
say "downloading ${pkgs[*]}"
(cd "$work" && apt-get download -q "${pkgs[@]}" 2>&1 \
  | grep -v "couldn't be accessed by user '_apt'" >&2) \
  || { say "apt-get download failed"; exit 2; }
rm -rf "$sysroot.tmp"
mkdir -p "$sysroot.tmp"
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$sysroot.tmp"; done
echo "$key" > "$sysroot.tmp/.key"
rm -rf "$sysroot"
mv "$sysroot.tmp" "$sysroot"
echo "$sysroot"
