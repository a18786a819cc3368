#!/usr/bin/env bash
# linux_initramfs.sh: builds the initramfs kvmbed boots Linux guests with,
# from Debian packages only (busybox-static, stress-ng and the shared
# libraries stress-ng needs), and prints its path.
#
#   tools/linux_initramfs.sh [--force]
#
# The archive (gzip'd cpio, newc) is cached in $KVMBED_LINUX_CACHE (default
# /var/cache/kvmbed/linux) under a name that changes with this script and
# with the package versions. Its /init:
#   - mounts /proc, /sys and /dev (devtmpfs),
#   - prints "kvmbed-sym: ADDR TYPE NAME" for the kernel functions kvmbed's
#     RIP sampling looks for (from /proc/kallsyms, so KASLR does not matter),
#   - prints "kvmbed-init: start", runs /kvmbed/commands (kvmbed appends a
#     small second archive holding it; without one, a short stress-ng run),
#   - prints "kvmbed-init: exit N" and powers the VM off with status N by
#     writing it to I/O port 0x4f0 through /dev/port.
# Exit codes: 0 with the path on stdout; 2 when a package is missing (the
# message names it and the apt-get command).
set -euo pipefail

cache=${KVMBED_LINUX_CACHE:-/var/cache/kvmbed/linux}
force=0
[ "${1:-}" = "--force" ] && force=1

for p in busybox-static stress-ng cpio; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    echo "linux_initramfs: package $p is not installed; run: apt-get install -y $p (or tools/setup.sh)" >&2
    exit 2
  fi
done

versions=$(dpkg-query -W -f='${Package}=${Version}\n' busybox-static stress-ng)
key=$( (cat "$0"; echo "$versions") | sha256sum | cut -c1-16)
out="$cache/initramfs-$key.cpio.gz"
if [ "$force" = 0 ] && [ -s "$out" ]; then
  echo "$out"
  exit 0
fi
mkdir -p "$cache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,kvmbed,lib64,lib/x86_64-linux-gnu}
cp /bin/busybox "$root/bin/busybox"
cp /usr/bin/stress-ng "$root/usr/bin/stress-ng"
# stress-ng's shared libraries, resolved by the dynamic loader.
ldd /usr/bin/stress-ng | awk '/=> \//{print $3} /^\t\/lib64/{print $1}' | while read -r lib; do
  dest="$root$lib"
  mkdir -p "$(dirname "$dest")"
  cp -L "$lib" "$dest"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"

cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# The functions whose RIP means "waiting for an IPI's answer", and the next
# symbol after each (its end).
awk 'BEGIN { split("smp_call_function_many_cond smp_call_function_single generic_exec_single csd_lock_wait on_each_cpu_cond_mask native_flush_tlb_multi flush_tlb_mm_range membarrier_private_expedited synchronize_rcu default_idle native_safe_halt pv_native_safe_halt _stext _etext", w, " "); for (i in w) want[w[i]] = 1 }
     nxt { print "kvmbed-sym: " $1 " " $2 " " $3; nxt = 0 }
     ($3 in want) { print "kvmbed-sym: " $1 " " $2 " " $3; nxt = 1 }' /proc/kallsyms
echo "kvmbed-init: start $(nproc) cpus"
status=0
if [ -f /kvmbed/commands ]; then
  sh /kvmbed/commands || status=$?
else
  stress-ng --cpu "$(nproc)" --timeout 5s --metrics-brief || status=$?
fi
echo "kvmbed-init: exit $status"
[ "$status" -gt 255 ] && status=255
printf "\\$(printf %o "$status")" | dd of=/dev/port bs=1 seek=1264 count=1 2>/dev/null
# Only reached when the port write did not end the VM.
poweroff -f
INIT
chmod +x "$root/init"

(cd "$root" && find . -print0 | sort -z | cpio --null -o -H newc --quiet -R 0:0) | gzip -6 > "$work/out.cpio.gz"
mv "$work/out.cpio.gz" "$out"
echo "$out"
