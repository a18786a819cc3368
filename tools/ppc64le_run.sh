#!/usr/bin/env bash
# ppc64le_run.sh: runs a ppc64le binary from `bazel build --config=ppc64le`
# on this x86-64 host under QEMU's user-mode emulator (Debian's qemu-user),
# with Debian's ppc64el C library (libc6-ppc64el-cross) and the libraries of
# tools/ppc64le_sysroot.sh. `bazel test --config=ppc64le` runs every test
# through it (.bazelrc). User-mode emulation has no /dev/kvm for ppc64le and
# no POWER memory ordering (it runs on the host's), so it checks only what
# does not depend on either.
#
#   tools/ppc64le_run.sh BINARY [ARGS...]
set -euo pipefail
sysroot=/var/cache/kvmbed/ppc64le-sysroot
if ! command -v qemu-ppc64le >/dev/null; then
  echo "ppc64le_run: qemu-ppc64le is missing; run: apt-get install -y qemu-user" >&2
  exit 2
fi
exec nice -n 15 qemu-ppc64le -L /usr/powerpc64le-linux-gnu \
  -E "LD_LIBRARY_PATH=$sysroot/usr/lib/powerpc64le-linux-gnu" "$@"
