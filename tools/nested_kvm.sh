#!/usr/bin/env bash
# nested_kvm.sh: runs one command on a real SVM KVM, on any x86 machine.
#
# Where the host has no usable /dev/kvm (none at all, or a paravirtual KVM
# without VMX/SVM), QEMU's TCG still emulates an AMD CPU with SVM and nested
# paging. This script boots Debian's own kernel as such an L1 under
# qemu-system-x86_64 -accel tcg -cpu max, loads kvm and kvm_amd there, shares
# this machine's / read-only (with a tmpfs overlay on top, so the command can
# write anywhere without touching the host), mounts the --rw directories
# writable at their own paths, and runs the command in a chroot with the
# caller's working directory and environment. The command's stdout and stderr
# come back on this terminal; its exit code is this script's exit code.
#
#   tools/nested_kvm.sh [options] -- COMMAND [ARG...]
#
#   --timeout SECONDS   kill the L1 after this long: exit 124 (default 1800)
#   --cpus N            L1 vCPUs (default: $KVMBED_NESTED_CPUS, else this
#                       host's CPU count, at most 8). Give 1 for Linux guests:
#                       QEMU TCG's round robin between L1 CPUs can deliver an
#                       interrupt the L1 injected twice (docs/linux-guests.md)
#   --mem SIZE          L1 memory, QEMU syntax (default 4G)
#   --rw DIR            share DIR read-write at the same path (repeatable)
#   --console FILE      keep the L1 kernel's console log here
#   --tcg-thread MODE   QEMU TCG threading: single (default) or multi
#   --quiet             print nothing of our own unless something fails
#   --prepare           only build (or check) the cached L1 initramfs
#   --probe             print the L1 kernel and cache paths, exit 0 if usable
#
# Exit codes: the command's own; 124 on timeout; 125 when the L1 could not
# run the command (no QEMU, no kernel, boot failure) or wedged under it
# (every L1 CPU stuck in the L1 kernel with interrupts off): the console tail
# says which. On a timeout the console log also gets the L1's stacks (sysrq),
# gdb's backtrace of the command's threads, and QEMU's registers of each L1
# CPU with the L1 function it is in. Everything it needs comes from Debian packages that tools/setup.sh
# installs: qemu-system-x86, linux-image-amd64, busybox-static.
#
# The L1 kernel and its modules are those of the newest linux-image-*-amd64
# installed (/boot/vmlinuz-V with /lib/modules/V). The initramfs is built once
# per kernel version and script revision and cached in $KVMBED_NESTED_CACHE
# (default /var/cache/kvmbed/nested).
set -euo pipefail

timeout_s=1800
cpus=$(nproc); [ "$cpus" -gt 8 ] && cpus=8
cpus=${KVMBED_NESTED_CPUS:-$cpus}
mem=4G
rw_dirs=()
console_log=""
quiet=0
mode=run
cache_root=${KVMBED_NESTED_CACHE:-/var/cache/kvmbed/nested}
# Single-threaded TCG by default: with thread=multi the L1 kernel wedged in
# about half of the KVM test runs on a loaded 2-core host, every L1 CPU in
# its int3 handler (asm_exc_int3 / exc_int3) with interrupts off, i.e. in
# the kernel's int3-based live text patching. With thread=single, no wedge in
# the same tests, and they ran faster on 2 shared cores.
tcg_thread=${KVMBED_NESTED_TCG_THREAD:-single}

die() { echo "nested_kvm: $*" >&2; exit 125; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --timeout) timeout_s=${2:?--timeout takes seconds}; shift 2 ;;
    --timeout=*) timeout_s=${1#*=}; shift ;;
    --cpus) cpus=${2:?--cpus takes a count}; shift 2 ;;
    --cpus=*) cpus=${1#*=}; shift ;;
    --mem) mem=${2:?--mem takes a size}; shift 2 ;;
    --mem=*) mem=${1#*=}; shift ;;
    --rw) rw_dirs+=("${2:?--rw takes a directory}"); shift 2 ;;
    --rw=*) rw_dirs+=("${1#*=}"); shift ;;
    --console) console_log=${2:?--console takes a file}; shift 2 ;;
    --console=*) console_log=${1#*=}; shift ;;
    --tcg-thread) tcg_thread=${2:?--tcg-thread takes single or multi}; shift 2 ;;
    --tcg-thread=*) tcg_thread=${1#*=}; shift ;;
    --quiet) quiet=1; shift ;;
    --prepare) mode=prepare; shift ;;
    --probe) mode=probe; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    -*) echo "nested_kvm: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) break ;;
  esac
done
case "$timeout_s" in ''|*[!0-9]*) echo "nested_kvm: --timeout '$timeout_s' is not a whole number of seconds" >&2; exit 2 ;; esac
case "$tcg_thread" in single|multi) ;; *) echo "nested_kvm: --tcg-thread '$tcg_thread': use single or multi" >&2; exit 2 ;; esac
case "$cpus" in ''|*[!0-9]*|0) echo "nested_kvm: --cpus '$cpus' is not a positive count" >&2; exit 2 ;; esac
if [ "$mode" = run ] && [ $# -eq 0 ]; then
  echo "nested_kvm: no command given: tools/nested_kvm.sh [options] -- COMMAND [ARG...]" >&2
  exit 2
fi
for d in "${rw_dirs[@]+"${rw_dirs[@]}"}"; do
  [ -d "$d" ] || { echo "nested_kvm: --rw '$d' is not a directory" >&2; exit 2; }
done

say() { [ "$quiet" -eq 1 ] || echo "nested_kvm: $*" >&2; }

# ---- the L1 kernel: the newest Debian amd64 kernel with its modules --------
pick_kernel() {
  local v best=""
  for v in $(ls /lib/modules 2>/dev/null | sort -V); do
    [ -f "/boot/vmlinuz-$v" ] && [ -f "/lib/modules/$v/modules.dep" ] && best=$v
  done
  echo "$best"
}
kver=$(pick_kernel)
qemu=$(command -v qemu-system-x86_64 || true)
# The initramfs has no libc: busybox must be the static one.
busybox=""
for b in /bin/busybox /usr/bin/busybox; do
  [ -x "$b" ] && ! readelf -l "$b" 2>/dev/null | grep -q 'program interpreter' && { busybox=$b; break; }
done
missing=()
[ -n "$kver" ] || missing+=("a kernel (/boot/vmlinuz-V with /lib/modules/V: Debian package linux-image-amd64)")
[ -n "$qemu" ] || missing+=("qemu-system-x86_64 (Debian package qemu-system-x86)")
[ -n "$busybox" ] || missing+=("busybox (Debian package busybox-static)")
if [ ${#missing[@]} -gt 0 ]; then
  [ "$mode" = probe ] && { printf 'missing: %s\n' "${missing[@]}"; exit 1; }
  die "cannot build the L1: missing $(IFS=';'; echo "${missing[*]}"). Run tools/setup.sh as root."
fi

# The initramfs: busybox, the modules that bring up 9p and KVM, and an init
# that mounts the shared root and runs /ctl/run.sh. Cached per kernel version
# and per revision of this script.
MODULES=(virtio_pci 9pnet_virtio 9p overlay kvm kvm_amd)
rev=$(sha256sum "$0" | cut -c1-12)
cache="$cache_root/$kver-$rev"
initrd="$cache/initrd.cpio.gz"

build_initrd() {
  local stage mods dep m f
  mkdir -p "$cache_root"
  stage=$(mktemp -d "$cache_root/.stage.XXXXXX")
  mkdir -p "$stage"/{bin,dev,proc,sys,mnt/lower,mnt/upper,mnt/root,ctl,lib/modules}
  cp "$busybox" "$stage/bin/busybox"
  for f in sh mount umount insmod mkdir chroot poweroff cat echo sleep stty mknod ls dmesg; do
    ln -s busybox "$stage/bin/$f"
  done
  # Modules in dependency order (modules.dep lists a module's dependencies,
  # deepest last); each is stored uncompressed because busybox insmod wants
  # plain ELF objects.
  mods=()
  add_mod() {
    local name=$1 line path deps d
    line=$(grep -E "/${name//_/[-_]}\.ko(\.xz|\.zst|\.gz)?:" "/lib/modules/$kver/modules.dep" | head -1) ||
      die "module $name is not in /lib/modules/$kver/modules.dep"
    path=${line%%:*}; deps=${line#*:}
    for d in $(echo "$deps" | tr ' ' '\n' | tac); do add_path "$d"; done
    add_path "$path"
  }
  add_path() {
    local p=$1 x
    for x in "${mods[@]+"${mods[@]}"}"; do [ "$x" = "$p" ] && return 0; done
    mods+=("$p")
  }
  for m in "${MODULES[@]}"; do add_mod "$m"; done
  : > "$stage/lib/modules/order"
  for f in "${mods[@]}"; do
    local src="/lib/modules/$kver/$f" out
    out="$stage/lib/modules/$(basename "${f%.xz}")"; out=${out%.zst}; out=${out%.gz}
    case "$f" in
      *.xz) xz -dc "$src" > "$out" ;;
      *.zst) zstd -qdc "$src" > "$out" ;;
      *.gz) gzip -dc "$src" > "$out" ;;
      *) cp "$src" "$out" ;;
    esac
    basename "$out" >> "$stage/lib/modules/order"
  done
  cat > "$stage/init" <<'INIT'
#!/bin/sh
# L1 init: load modules, overlay a tmpfs on the host's shared /, run the
# command in a chroot, report its exit code, power off.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
fail() { echo "nested_kvm-init: $*"; echo "KVMBED_NESTED_EXIT=125"; poweroff -f; }
while read -r m; do
  insmod "/lib/modules/$m" || fail "insmod $m failed"
done < /lib/modules/order
opts=trans=virtio,version=9p2000.L,msize=512000,cache=loose
mount -t 9p -o "$opts" ctl /ctl || fail "mounting the control share failed"
mount -t 9p -o "$opts,ro" hostroot /mnt/lower || fail "mounting the host root failed"
mount -t tmpfs -o mode=0755 upper /mnt/upper
mkdir -p /mnt/upper/u /mnt/upper/w
mount -t overlay -o lowerdir=/mnt/lower,upperdir=/mnt/upper/u,workdir=/mnt/upper/w overlay /mnt/root ||
  fail "overlay mount failed"
R=/mnt/root
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t devtmpfs dev $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts devpts $R/dev/pts
mount -t tmpfs tmpfs $R/dev/shm
mount -t tmpfs tmpfs $R/run
i=0
while [ -f /ctl/rw$i ]; do
  dir=$(cat /ctl/rw$i)
  mount -t 9p -o "$opts" rw$i "$R$dir" || fail "mounting rw share $i at $dir failed"
  i=$((i + 1))
done
mkdir -p $R/run/kvmbed-nested
mount --bind /ctl $R/run/kvmbed-nested
[ -c /dev/kvm ] || fail "/dev/kvm did not appear after loading kvm_amd"
# The L1 kernel's text symbols (it boots with nokaslr), so that the host can
# name the functions QEMU shows the L1 CPUs in if the L1 wedges.
grep -i ' [tw] ' /proc/kallsyms > /ctl/kallsyms 2>/dev/null
stty -F /dev/ttyS1 raw -echo 2>/dev/null
stty -F /dev/ttyS2 raw -echo 2>/dev/null
echo "KVMBED_NESTED_READY"
# A clean environment: run.sh sets the caller's. run.sh execs the command, so
# $pid is the command itself.
chroot $R /usr/bin/env -i /bin/bash /run/kvmbed-nested/run.sh </dev/null >/dev/ttyS1 2>/dev/ttyS2 &
pid=$!
# The host asks for an orderly stop by creating /ctl/stop (its SIGINT or
# SIGTERM): pass it on as that signal, so the command keeps what it measured.
# When the host's time limit runs out it first asks, through /ctl/sysrq,
# for the kernel's view of every CPU and task on the console.
(
  while [ ! -f /ctl/stop ]; do
    if [ -f /ctl/sysrq ]; then
      echo 8 > /proc/sys/kernel/printk
      for k in $(cat /ctl/sysrq); do echo "$k" > /proc/sysrq-trigger; sleep 1; done
      rm -f /ctl/sysrq
      # And the user-space side of the command's threads, where gdb exists.
      if [ -x $R/usr/bin/gdb ]; then
        echo "KVMBED_NESTED_GDB pid $pid"
        chroot $R /usr/bin/gdb -p $pid -batch -nx -ex "info threads" -ex "thread apply all bt" 2>&1
      fi
      echo "KVMBED_NESTED_SYSRQ_DONE"
    fi
    sleep 0.3
  done
  kill -"$(cat /ctl/stop)" $pid 2>/dev/null
) &
watcher=$!
wait $pid
rc=$?
kill $watcher 2>/dev/null
echo "$rc" > /ctl/exit_code
echo "KVMBED_NESTED_EXIT=$rc"
poweroff -f
INIT
  chmod +x "$stage/init"
  (cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) > "$stage.cpio.gz"
  mkdir -p "$cache"
  mv "$stage.cpio.gz" "$initrd"
  rm -rf "$stage"
}

if [ ! -s "$initrd" ]; then
  mkdir -p "$cache_root"
  (
    flock 9
    if [ ! -s "$initrd" ]; then
      say "building the L1 initramfs for $kver in $cache"
      build_initrd
      # Initramfs images of earlier revisions of this script are stale.
      for old in "$cache_root/$kver"-*; do [ "$old" = "$cache" ] || rm -rf "$old"; done
    fi
  ) 9>"$cache_root/.lock"
fi

if [ "$mode" = probe ]; then
  echo "kernel: /boot/vmlinuz-$kver"
  echo "initrd: $initrd"
  echo "qemu: $qemu"
  exit 0
fi
[ "$mode" = prepare ] && { say "L1 ready: /boot/vmlinuz-$kver, $initrd"; exit 0; }

# ---- one run ----------------------------------------------------------------
ctl=$(mktemp -d /tmp/kvmbed-nested.XXXXXX)
qemu_pid=""
cleanup() {
  [ -n "$qemu_pid" ] && kill -9 "$qemu_pid" 2>/dev/null
  rm -rf "$ctl"
}
trap cleanup EXIT
# SIGINT or SIGTERM here becomes the same signal to the command in the L1,
# which then ends in order (kvmbed keeps its summary and event log); the L1
# gets a minute for that before it is killed.
start=$(date +%s)
deadline=$((start + timeout_s))
stopping=""
request_stop() {
  [ -n "$stopping" ] && return
  stopping=$1
  echo "$1" > "$ctl/stop"
  local grace=$(( $(date +%s) + 60 ))
  [ "$grace" -lt "$deadline" ] && deadline=$grace
  say "SIG$1: passed on to the command in the L1"
}
trap 'request_stop INT' INT
trap 'request_stop TERM' TERM

# The command runs where the caller is, with the caller's environment (less
# what belongs to this machine's session, not to the command).
{
  echo 'set +e'
  while IFS= read -r -d '' kv; do
    k=${kv%%=*}
    case "$k" in
      ''|*[!A-Za-z0-9_]*|BASH_FUNC_*|SHLVL|_|PWD|OLDPWD|TERM|TERMCAP|SSH_*|DISPLAY|XDG_*) continue ;;
    esac
    printf 'export %s=%q\n' "$k" "${kv#*=}"
  done < <(env -0)
  printf 'export KVMBED_NESTED=1\n'
  printf 'cd %q || exit 125\n' "$PWD"
  printf 'exec'; printf ' %q' "$@"; printf '\n'
} > "$ctl/run.sh"

# Sends HMP commands to QEMU's monitor socket and prints the answers.
qemu_monitor() {
  python3 - "$ctl/monitor" "$@" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
def drain():
    out, end = b"", time.time() + 10
    while time.time() < end and not out.endswith(b"(qemu) "):
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        out += chunk
    return out.decode(errors="replace")
drain()
for cmd in sys.argv[2:]:
    s.sendall(cmd.encode() + b"\n")
    print("== QEMU monitor: " + cmd)
    print(drain().replace("(qemu) ", ""))
PY
}

# "CPU#n RIP=... in function+off (IF=0|1, CPL n)" for each CPU of an
# `info registers -a` dump, with the L1 kernel's symbols.
symbolize_rips() {
  python3 - "$1" "$2" <<'PY'
import bisect, re, sys
regs = open(sys.argv[1], errors="replace").read()
syms = []
try:
    for line in open(sys.argv[2]):
        p = line.split()
        if len(p) >= 3:
            syms.append((int(p[0], 16), p[2]))
except OSError:
    pass
syms.sort()
addrs = [a for a, _ in syms]
for cpu, body in re.findall(r"\nCPU#(\d+)\n(.*?)(?=\nCPU#|\Z)", regs, re.S):
    rip = re.search(r"RIP=([0-9a-f]+) RFL=([0-9a-f]+).*?CPL=(\d)", body)
    cr3 = re.search(r"CR3=([0-9a-f]+)", body)
    if not rip:
        continue
    ip, fl = int(rip.group(1), 16), int(rip.group(2), 16)
    i = bisect.bisect_right(addrs, ip) - 1
    where = "%s+0x%x" % (syms[i][1], ip - addrs[i]) if i >= 0 and ip - addrs[i] < 1 << 20 else "?"
    print("nested_kvm: L1 CPU#%s RIP=%x %s IF=%d CPL=%s CR3=%s" % (
        cpu, ip, where, (fl >> 9) & 1, rip.group(3), cr3.group(1) if cr3 else "?"))
PY
}

virtfs=(-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
        -virtfs "local,path=$ctl,mount_tag=ctl,security_model=none,multidevs=remap")
i=0
for d in "${rw_dirs[@]+"${rw_dirs[@]}"}"; do
  abs=$(cd "$d" && pwd -P)
  echo "$abs" > "$ctl/rw$i"
  virtfs+=(-virtfs "local,path=$abs,mount_tag=rw$i,security_model=none,multidevs=remap")
  i=$((i + 1))
done

console=${console_log:-$ctl/console.log}
# The command's stderr comes back through a FIFO, so that stdout and stderr
# stay apart as they would on the host.
# (QEMU's pipe chardev writes to PATH.out and reads the guest's input from
# PATH.in; opened alone, PATH would be read back by QEMU itself.)
mkfifo "$ctl/stderr.in" "$ctl/stderr.out"
cat "$ctl/stderr.out" >&2 &
stderr_pid=$!

say "booting L1 (QEMU TCG, $tcg_thread-threaded, -cpu max: SVM with nested paging; $cpus vCPUs, $mem) on /boot/vmlinuz-$kver"
# ttyS0 is the L1 kernel's console (a file); ttyS1 carries the command's
# stdout to ours, ttyS2 its stderr.
# QEMU sits in its own session, so that a terminal's SIGINT reaches only
# this script (which passes it on in order), and dies with this script.
setsid setpriv --pdeathsig KILL -- "$qemu" -accel "tcg,thread=$tcg_thread" -cpu max -smp "$cpus" -m "$mem" \
  -nodefaults -display none -no-reboot \
  -monitor "unix:$ctl/monitor,server=on,wait=off" \
  -kernel "/boot/vmlinuz-$kver" -initrd "$initrd" \
  -append "console=ttyS0 quiet loglevel=4 panic=-1 oops=panic nokaslr tsc=unstable softlockup_all_cpu_backtrace=1 sysrq_always_enabled" \
  -serial "file:$console" -serial stdio -chardev "pipe,id=err,path=$ctl/stderr" -serial chardev:err \
  "${virtfs[@]}" </dev/null &
qemu_pid=$!

rc=""
while kill -0 "$qemu_pid" 2>/dev/null; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    if [ -n "$stopping" ]; then
      echo "nested_kvm: the command did not end within 60s of SIG$stopping; killing the L1" >&2
    else
      # Blocked tasks, a backtrace of every CPU, every task, and gdb's
      # backtrace of the command's threads, on the console (if the L1 can
      # still run its init), before the kill: up to 90 s.
      echo "w l t" > "$ctl/sysrq"
      for _ in $(seq 180); do
        grep -q KVMBED_NESTED_SYSRQ_DONE "$console" 2>/dev/null && break
        sleep 0.5
      done
      # QEMU's own view: which mode and instruction each L1 CPU is in (a CPU
      # in the nested guest shows the guest's CR3 and RIP).
      qemu_monitor "info cpus" "info registers -a" > "$ctl/registers" 2>&1 || true
      cat "$ctl/registers" >> "$console"
      symbolize_rips "$ctl/registers" "$ctl/kallsyms" | tee -a "$console" > "$ctl/rips"
      cat "$ctl/rips" >&2
      # Every L1 CPU in the L1 kernel with interrupts off: the L1 itself is
      # wedged (no timer can fire there, so it cannot even report it), which
      # is not the command's doing. Say so, and exit 125, not 124.
      if [ -s "$ctl/rips" ] && ! grep -qv ' IF=0 CPL=0 ' "$ctl/rips"; then
        l1_wedged=1
      fi
      echo "nested_kvm: timeout after ${timeout_s}s; the L1 console (all of it: $console) ends:" >&2
    fi
    tail -n 60 "$console" >&2 || true
    kill -9 "$qemu_pid" 2>/dev/null; wait "$qemu_pid" 2>/dev/null || true
    qemu_pid=""
    [ -n "$stopping" ] && { [ "$stopping" = INT ] && exit 130; exit 143; }
    if [ -n "${l1_wedged:-}" ]; then
      echo "nested_kvm: the L1 kernel itself is wedged: every L1 CPU is in its kernel with interrupts off (above)" >&2
      exit 125
    fi
    exit 124
  fi
  sleep 0.5
done
wait "$qemu_pid" || true
qemu_pid=""
wait "$stderr_pid" 2>/dev/null || true
[ -f "$ctl/exit_code" ] && rc=$(cat "$ctl/exit_code")
if [ -z "$rc" ]; then
  echo "nested_kvm: the L1 ended without running the command; its console ends:" >&2
  tail -n 40 "$console" >&2 || true
  exit 125
fi
if grep -qE 'soft lockup|Kernel panic|BUG:|Oops|rcu_.*(stall|detected)' "$console"; then
  echo "nested_kvm: the L1 kernel reported problems while the command ran:" >&2
  grep -E -A3 'soft lockup|Kernel panic|BUG:|Oops|rcu_.*(stall|detected)' "$console" | head -40 >&2
fi
say "command exited $rc after $(( $(date +%s) - start ))s in the L1"
exit "$rc"
