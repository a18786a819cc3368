#!/usr/bin/env bash
# Installs everything kvmbed needs to build, test and run, from Debian
# packages only. Idempotent: safe to run any number of times.
set -euo pipefail

PACKAGES=(
  bazel-bootstrap bazel-rules-java   # Bazel 4.2.3 and its rules, offline
  g++ binutils                       # host toolchain; objcopy embeds the guest
  libabsl-dev                        # Abseil 20220623
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  libyaml-cpp-dev                    # profiles
  nlohmann-json3-dev                 # events (JSON lines)
  libtinyxml2-dev                    # libvirt domain XML
  stress-ng                          # host stress plane
  chromium fonts-dejavu-core         # `kvmbed report` pages are checked headless
  python3                            # tests parse the JSON-lines event log
  # The nested L1 (tools/nested_kvm.sh): real SVM KVM under QEMU TCG where
  # this machine has no VMX/SVM KVM of its own.
  qemu-system-x86 linux-image-amd64 busybox-static cpio
  # Sanitizer runtimes (--config=asan, --config=tsan), libFuzzer (fuzz/run.sh)
  # and xmllint (contract_test checks exported XML with it).
  libasan8 libubsan1 libtsan2 clang-14 libclang-rt-14-dev libxml2-utils
)

if [ "$(id -u)" -ne 0 ]; then
  echo "tools/setup.sh: must run as root (it installs Debian packages)" >&2
  exit 2
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
echo "tools/setup.sh: ${#PACKAGES[@]} packages present"
