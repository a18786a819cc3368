#!/usr/bin/env bash
# ppc64_feasibility.sh: can KVM run on an emulated POWER host built only from
# Debian packages? Boots Debian's ppc64el kernel under qemu-system-ppc64 (TCG),
# loads KVM inside it and runs tools/ppc64/kvm_probe.c, which creates a VM and
# vCPUs and runs guest code with KVM_RUN.
#
#   tools/ppc64_feasibility.sh [--machine powernv9|pseries|pseries-nested]
#                              [--smp N] [--vcpus N] [--hcalls N]
#                              [--parallel] [--append KERNEL_ARGS]
#                              [--timeout SECONDS] [WORKDIR]
#
# --parallel runs the probe's vCPUs in threads at once and kicks them with
# signals (host IPIs to the CPUs running them); --append adds host kernel
# arguments, e.g. "xive=off" to make a powernv9 host use OPAL's XICS
# emulation (icp-opal) instead of XIVE.
#
# Machines:
#   powernv9        bare-metal POWER9 with skiboot (OPAL); the kernel is the
#                   hypervisor, so kvm-hv is the module to load (default).
#   pseries         a PAPR logical partition (SLOF); no hypervisor mode, so
#                   only kvm-pr could run there.
#   pseries-nested  a PAPR partition with QEMU's nested-HV capability on;
#                   kvm-hv then runs as a nested hypervisor via H_ENTER_NESTED.
#
# WORKDIR (default /var/tmp/kvmbed-ppc64) receives the downloaded .deb files,
# the extracted kernel, the probe, the initramfs and boot-<machine>.log. It is
# reused: a second run downloads and builds nothing that is already there.
# Packages it installs with apt-get when missing: qemu-system-ppc,
# qemu-system-data (skiboot.lid, slof.bin), gcc-powerpc64le-linux-gnu,
# libc6-dev-ppc64el-cross, cpio; it adds the ppc64el dpkg architecture so that
# `apt-get download` can fetch linux-image-powerpc64le's kernel and
# busybox-static for ppc64el (downloaded, never installed).
#
# The last line is "ppc64-feasibility: verdict PASS|FAIL ..."; exit 0 on PASS,
# 1 on FAIL, 2 on a usage or setup error.
set -euo pipefail

machine=powernv9
smp=1
vcpus=2
hcalls=1000
timeout_s=1800
how=seq
extra=
work=/var/tmp/kvmbed-ppc64
while [ $# -gt 0 ]; do
  case "$1" in
    --machine) machine=$2; shift 2 ;;
    --smp) smp=$2; shift 2 ;;
    --vcpus) vcpus=$2; shift 2 ;;
    --hcalls) hcalls=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --parallel) how=par; shift ;;
    --append) extra=$2; shift 2 ;;
    -h|--help) sed -n '2,36p' "$0"; exit 0 ;;
    -*) echo "ppc64-feasibility: unknown option $1" >&2; exit 2 ;;
    *) work=$1; shift ;;
  esac
done
case "$machine" in
  powernv9|pseries|pseries-nested) ;;
  *) echo "ppc64-feasibility: unknown machine $machine" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
say() { echo "ppc64-feasibility: $*"; }
die() { say "verdict FAIL $*"; exit 1; }

# --- packages -------------------------------------------------------------
apt_get() {
  # apt may be locked by another user of the machine: wait for it.
  local i
  for i in $(seq 1 30); do
    if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=60 "$@"; then
      return 0
    fi
    sleep 10
  done
  return 1
}
need=()
for p in qemu-system-ppc qemu-system-data gcc-powerpc64le-linux-gnu \
         libc6-dev-ppc64el-cross cpio; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || need+=("$p")
done
updated=0
if ! dpkg --print-foreign-architectures | grep -qx ppc64el; then
  dpkg --add-architecture ppc64el
  apt_get update -q >/dev/null || { say "apt-get update failed"; exit 2; }
  updated=1
fi
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  apt_get install -y -q --no-install-recommends "${need[@]}" >/dev/null \
    || { say "apt-get install ${need[*]} failed"; exit 2; }
fi

mkdir -p "$work/debs"
kpkg=$(apt-cache depends linux-image-powerpc64le:ppc64el 2>/dev/null \
       | awk '/Depends: linux-image-/{sub(":ppc64el","",$2); print $2; exit}')
if [ -z "$kpkg" ] && [ "$updated" = 0 ]; then
  apt_get update -q >/dev/null || true
  kpkg=$(apt-cache depends linux-image-powerpc64le:ppc64el 2>/dev/null \
         | awk '/Depends: linux-image-/{sub(":ppc64el","",$2); print $2; exit}')
fi
[ -n "$kpkg" ] || { say "no linux-image-powerpc64le:ppc64el in apt's lists"; exit 2; }
(
  cd "$work/debs"
  ls "${kpkg}"_*_ppc64el.deb >/dev/null 2>&1 || apt-get download -q "$kpkg:ppc64el"
  ls busybox-static_*_ppc64el.deb >/dev/null 2>&1 || apt-get download -q busybox-static:ppc64el
) 2>&1 | grep -v "couldn't be accessed by user '_apt'" || true
kdeb=$(ls "$work/debs/${kpkg}"_*_ppc64el.deb | tail -1)
bdeb=$(ls "$work/debs"/busybox-static_*_ppc64el.deb | tail -1)
say "kernel package $(basename "$kdeb")"
say "busybox package $(basename "$bdeb")"
say "qemu $(qemu-system-ppc64 --version | head -1)"
say "firmware $(dpkg -S /usr/share/qemu/skiboot.lid 2>/dev/null | cut -d: -f1) ships /usr/share/qemu/skiboot.lid and slof.bin"

kroot="$work/kernel"
# Unpacked files keep the package's dates, so a stamp names what is there.
if [ "$(cat "$kroot.stamp" 2>/dev/null)" != "$(basename "$kdeb")" ]; then
  rm -rf "$kroot"; mkdir -p "$kroot"; dpkg-deb -x "$kdeb" "$kroot"
  basename "$kdeb" > "$kroot.stamp"
fi
vmlinux=$(ls "$kroot"/boot/vmlinux-* | head -1)
kver=${vmlinux##*/vmlinux-}
config="$kroot/boot/config-$kver"
say "kernel $kver: $(grep -E '^(# )?CONFIG_KVM_BOOK3S_64_(HV|PR)[ =]' "$config" | tr '\n' ' ')"
grep -q '^CONFIG_KVM_BOOK3S_64_PR=' "$config" \
  || say "kernel $kver has no kvm-pr (CONFIG_KVM_BOOK3S_64_PR is not in its config)"

# --- probe and initramfs ----------------------------------------------------
probe="$work/kvm_probe"
if [ ! -x "$probe" ] || [ "$here/ppc64/kvm_probe.c" -nt "$probe" ]; then
  powerpc64le-linux-gnu-gcc -static -O2 -Wall -Wextra -pthread -o "$probe" \
    "$here/ppc64/kvm_probe.c"
fi

init_src=$(cat <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "ppc64-init: start uptime $(cut -d' ' -f1 /proc/uptime)"
echo "ppc64-init: cpu $(grep -m1 '^cpu' /proc/cpuinfo | cut -d: -f2) platform $(grep -m1 '^platform' /proc/cpuinfo | cut -d: -f2) mmu $(grep -m1 '^MMU' /proc/cpuinfo | cut -d: -f2) cpus $(grep -c '^processor' /proc/cpuinfo)"
m=/lib/modules/kvm
if insmod $m/kvm.ko; then echo "ppc64-init: insmod kvm ok"; else echo "ppc64-init: insmod kvm failed"; fi
loaded=
for mod in kvm-hv kvm-pr; do
  [ -f $m/$mod.ko ] || { echo "ppc64-init: no $mod.ko in this kernel"; continue; }
  if out=$(insmod $m/$mod.ko 2>&1); then
    echo "ppc64-init: insmod $mod ok"; loaded="$loaded $mod"
  else
    echo "ppc64-init: insmod $mod failed: $out"
  fi
done
dmesg -c | grep -iE 'kvm|hv mode|hypervisor|xive|xics|icp' | sed 's/^/ppc64-dmesg: /'
echo "ppc64-init: modules loaded:${loaded:- none} uptime $(cut -d' ' -f1 /proc/uptime)"
ls -l /dev/kvm 2>&1 | sed 's/^/ppc64-init: /'
rc=1
if [ -c /dev/kvm ]; then
  for mode in ${probe_modes:-default}; do
    echo "ppc64-init: probe $mode start uptime $(cut -d' ' -f1 /proc/uptime)"
    /kvm_probe $mode ${probe_vcpus:-2} ${probe_hcalls:-1000} ${probe_how:-seq}
    r=$?
    echo "ppc64-init: probe $mode exit $r uptime $(cut -d' ' -f1 /proc/uptime)"
    [ $r = 0 ] && rc=0
    dmesg -c | tail -n 20 | sed 's/^/ppc64-dmesg-after: /'
  done
fi
echo "ppc64-init: done rc=$rc uptime $(cut -d' ' -f1 /proc/uptime)"
sync
poweroff -f
INIT
)
initrd="$work/initramfs.cpio.gz"
key=$( (echo "$init_src"; sha256sum "$probe" "$bdeb" "$vmlinux") | sha256sum | cut -c1-16)
if [ ! -s "$initrd" ] || [ "$(cat "$initrd.key" 2>/dev/null)" != "$key" ]; then
  root="$work/initramfs"
  rm -rf "$root"; mkdir -p "$root"/{bin,sbin,proc,sys,dev,lib/modules/kvm}
  dpkg-deb --fsys-tarfile "$bdeb" | tar -x -O ./bin/busybox > "$root/bin/busybox"
  chmod 755 "$root/bin/busybox"
  cp "$probe" "$root/kvm_probe"
  find "$kroot/lib/modules/$kver/kernel/arch/powerpc/kvm" -name '*.ko' \
    -exec cp {} "$root/lib/modules/kvm/" \;
  echo "$init_src" > "$root/init"; chmod 755 "$root/init"
  (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$initrd.tmp"
  mv "$initrd.tmp" "$initrd"; echo "$key" > "$initrd.key"
fi

# --- boot -------------------------------------------------------------------
append="console=hvc0 panic=-1 $extra probe_vcpus=$vcpus probe_hcalls=$hcalls probe_how=$how"
case "$machine" in
  powernv9)
    qemu_args=(-M powernv9 -cpu power9 -m 2G)
    append="$append probe_modes=\"default hv\"" ;;
  pseries)
    qemu_args=(-M pseries -cpu power9 -m 2G)
    append="$append probe_modes=\"default pr\"" ;;
  pseries-nested)
    qemu_args=(-M pseries,cap-nested-hv=on -cpu power9 -m 2G)
    append="$append probe_modes=\"default hv\"" ;;
esac
log="$work/boot-$machine.log"
say "booting $machine (-smp $smp, TCG), probe $how, kernel args: $append"
say "log $log"
start=${EPOCHREALTIME/./}
stamp() {  # seconds since $start, two decimals
  local us=$(( ${EPOCHREALTIME/./} - start ))
  printf '%d.%02d' $((us / 1000000)) $((us % 1000000 / 10000))
}
set +e
timeout --foreground -k 10 "$timeout_s" nice -n 15 qemu-system-ppc64 \
  "${qemu_args[@]}" -smp "$smp" -accel tcg -nographic -no-reboot \
  -kernel "$vmlinux" -initrd "$initrd" -append "$append" \
  </dev/null 2>&1 | while IFS= read -r line; do
    printf '[%8s] %s\n' "$(stamp)" "${line%$'\r'}"
  done > "$log"
qrc=${PIPESTATUS[0]}
set -e
elapsed=$(stamp)
say "qemu exited $qrc after ${elapsed%.*} s"
grep -E 'ppc64-init|ppc64-dmesg|kvm_probe|Kernel panic|Oops|OPAL v|Linux version|xive|XICS|icp|BUG|WARNING|lockup|stall' "$log" | sed 's/^/  /' | head -200

first() { grep -m1 -E "$1" "$log" | sed -E 's/^\[ *([0-9.]+)\].*/\1/'; }
t_kernel=$(first 'Linux version' || true)
t_init=$(first 'ppc64-init: start' || true)
say "time to kernel start ${t_kernel:-never} s, to /init ${t_init:-never} s, total ${elapsed%.*} s"
[ "$qrc" = 124 ] && die "$machine: no poweroff within $timeout_s s (see $log)"
if grep -q 'kvm_probe: verdict PASS' "$log"; then
  say "verdict PASS $machine: $(grep -m1 'kvm_probe: verdict PASS' "$log" | sed 's/.*verdict PASS //')"
  exit 0
fi
reason=$(grep -m1 -E 'kvm_probe: verdict FAIL|insmod kvm-hv failed' "$log" | sed -E 's/^\[ *[0-9.]+\] //' || true)
die "$machine: ${reason:-no probe result (see $log)}"
