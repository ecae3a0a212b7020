#!/usr/bin/env bash
# Runs a command as root inside a real cgroup-v2-only Linux (Debian's 6.1
# kernel) under qemu, for what this hybrid-cgroup host cannot do itself
# (memory/pids/cpu/io limits through cgroup v2). See "A real cgroup-v2 kernel
# under qemu" in /work/shared/ENVIRONMENT.md.
#
#   scripts/vm-run.sh [options] -- COMMAND [ARGS...]
#
# Options:
#   --timeout SECONDS       kill the VM when COMMAND has run this long (exit 124;
#                           default 0 = no limit). Boot time does not count.
#   --boot-timeout SECONDS  give up when COMMAND has not started this long after
#                           qemu was launched (exit 125; default 300)
#   --workdir DIR           share DIR read-write; the guest sees it at
#                           /run/ward-vm-work ($WARD_VM_WORKDIR). Default: a
#                           scratch folder removed afterwards.
#   --env NAME=VALUE        set a variable for COMMAND (repeatable)
#   --cgroup NAME           the cgroup (under /sys/fs/cgroup) that pid 1 and
#                           COMMAND run in: default "init", a leaf as on a
#                           systemd host (the no-internal-process rule then
#                           applies to it: its children get no controllers);
#                           "/" keeps them in the root cgroup, which is exempt
#   --init shell|systemd    what runs as pid 1: "shell" (default) is the
#                           script described below, which runs COMMAND
#                           itself; "systemd" boots the host's systemd
#                           (/lib/systemd/systemd) with the system bus
#                           (dbus.socket/dbus.service) and runs COMMAND as
#                           the unit ward-vm-command.service (Delegate=yes),
#                           for tests against a real systemd: see "With
#                           --init systemd" below
#   --skip-if-unavailable   when qemu or the kernel cannot be obtained, print
#                           "WARD-SKIP: <reason>" and exit 77 (for ctest) instead
#                           of failing with 125
#   --prepare               only download/build the cached kernel + initramfs
#
# What the guest looks like:
#   - the host's / shared read-only over 9p, with a tmpfs overlay on top, so the
#     whole host tree (build trees under /tmp included) is visible and writable
#     copy-on-write; nothing written there reaches the host. Only the work
#     folder is written through to the host.
#   - fresh /proc, /sys, /dev (devtmpfs, devpts, /dev/shm), a tmpfs on /run;
#     cgroup2 alone at /sys/fs/cgroup (nsdelegate,memory_recursiveprot, as
#     systemd mounts it), controllers cpuset cpu io memory hugetlb pids enabled
#     in the root's cgroup.subtree_control, COMMAND in the leaf cgroup /init
#     (--cgroup; WARD_VM_CGROUP). An empty cgroup /ward-test with those
#     controllers enabled for its children is a delegated subtree for tests:
#     WARD_TEST_CGROUP=/sys/fs/cgroup/ward-test.
#   - lo up, no other network. COMMAND runs as root (pid 1's child) in the
#     host's current directory (under the work folder: the same place under
#     /run/ward-vm-work), stdin /dev/null, environment: PATH, HOME=/tmp,
#     WARD_IN_VM=1, WARD_VM_WORKDIR, WARD_TEST_CGROUP, LANG=C.UTF-8, plus the
#     host's CI, WARD_*, CTEST_* and *SAN_OPTIONS variables and --env.
#
# With --init systemd: the same root, shares and output, but pid 1 is
# systemd 252 booted to ward-vm.target: the system bus (dbus.socket,
# dbus.service) and COMMAND's unit, without sysinit.target (udev, hwdb and
# the rest take minutes under TCG); the host's fstab is emptied in the
# overlay, so no host disk is waited for. systemd owns /sys/fs/cgroup (no /init or /ward-test
# cgroups, WARD_TEST_CGROUP unset); COMMAND starts once
# org.freedesktop.systemd1 is on the system bus, with WARD_VM_INIT=systemd.
# Needs the overlay module (a writable root for the units).
#
# Output: COMMAND's stdout and stderr are streamed to this script's stdout and
# stderr through two virtio-serial ports (each a FIFO on the host), so they
# are neither mixed with kernel messages nor with each other, and arrive as
# they are written. The serial console (kernel, init) goes to a log whose tail
# is printed when the VM fails.
#
# Exit status: COMMAND's; 124 on --timeout; 125 when the VM failed (qemu
# missing, kernel not obtainable, boot timeout, guest died), with a line
# "vm-run: error: ..." saying what failed.
#
# Cache: ${WARD_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ward-vm} holds the
# kernel, the few modules needed and the initramfs; only the first run
# downloads (apt-get download linux-image-<version>, the version that
# linux-image-amd64 depends on). WARD_VM_KERNEL=<version> (e.g.
# 6.1.0-56-amd64) picks another. qemu, cpio and busybox-static come from
# `scripts/deps.sh --vm`.
#
# Other knobs: WARD_VM_MEM (MiB, default 2048), WARD_VM_CPUS (default 2),
# WARD_VM_QEMU (the qemu binary, default qemu-system-x86_64).
set -uo pipefail

prog=vm-run
timeout=0
boot_timeout=300
workdir=
skip_unavailable=0
prepare_only=0
extra_env=()
cgroup=${WARD_VM_CGROUP:-init}
init=shell

usage() {
  sed -n '2,/^set -uo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" >&2
  exit 125
}

while [[ $# -gt 0 ]]; do
  case $1 in
    --timeout) timeout=${2:?}; shift 2 ;;
    --timeout=*) timeout=${1#*=}; shift ;;
    --boot-timeout) boot_timeout=${2:?}; shift 2 ;;
    --boot-timeout=*) boot_timeout=${1#*=}; shift ;;
    --workdir) workdir=${2:?}; shift 2 ;;
    --workdir=*) workdir=${1#*=}; shift ;;
    --env) extra_env+=("${2:?}"); shift 2 ;;
    --env=*) extra_env+=("${1#*=}"); shift ;;
    --cgroup) cgroup=${2:?}; shift 2 ;;
    --cgroup=*) cgroup=${1#*=}; shift ;;
    --init) init=${2:?}; shift 2 ;;
    --init=*) init=${1#*=}; shift ;;
    --skip-if-unavailable) skip_unavailable=1; shift ;;
    --prepare) prepare_only=1; shift ;;
    --) shift; break ;;
    -h|--help) usage ;;
    *) echo "$prog: unknown option '$1' (the command goes after --)" >&2; exit 125 ;;
  esac
done
if [[ $prepare_only -eq 0 && $# -eq 0 ]]; then
  echo "$prog: no command given: $prog [options] -- COMMAND [ARGS...]" >&2
  exit 125
fi
[[ $timeout =~ ^[0-9]+$ && $boot_timeout =~ ^[0-9]+$ ]] || {
  echo "$prog: --timeout and --boot-timeout take whole seconds" >&2; exit 125; }
[[ $init == shell || $init == systemd ]] ||
  { echo "$prog: --init takes shell or systemd, not '$init'" >&2; exit 125; }
if [[ $init == systemd && ! -x /lib/systemd/systemd ]]; then
  if [[ $skip_unavailable -eq 1 ]]; then
    echo "WARD-SKIP: --init systemd: /lib/systemd/systemd is not installed (apt-get install systemd)"
    exit 77
  fi
  echo "$prog: --init systemd: /lib/systemd/systemd is not installed" >&2
  exit 125
fi
for e in "${extra_env[@]}"; do
  [[ $e =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || { echo "$prog: --env wants NAME=VALUE, not '$e'" >&2; exit 125; }
done

die() {  # VM failure
  echo "$prog: error: $*" >&2
  exit 125
}
unavailable() {  # qemu or the kernel cannot be obtained here
  if [[ $skip_unavailable -eq 1 ]]; then
    echo "WARD-SKIP: cgroup-v2 VM unavailable: $*"
    exit 77
  fi
  die "$*"
}
now() { echo "${EPOCHREALTIME/,/.}"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------------------
# Scratch space and cleanup: no qemu (or reader) left behind, no temp dirs.
# ---------------------------------------------------------------------------
tmp=
qemu_pid=
reader_pids=()
# shellcheck disable=SC2317  # invoked through trap
cleanup() {
  local p
  if [[ -n $qemu_pid ]] && kill -0 "$qemu_pid" 2>/dev/null; then
    kill -TERM "$qemu_pid" 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$qemu_pid" 2>/dev/null
    wait "$qemu_pid" 2>/dev/null
  fi
  for p in "${reader_pids[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  [[ -n $tmp && -d $tmp ]] && rm -rf -- "$tmp"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------
qemu=$(command -v "${WARD_VM_QEMU:-qemu-system-x86_64}") ||
  unavailable "qemu missing: ${WARD_VM_QEMU:-qemu-system-x86_64} not found (install qemu-system-x86: bash scripts/deps.sh --vm)"
busybox=
for b in /bin/busybox /usr/bin/busybox; do
  if [[ -x $b ]] && ! ldd "$b" >/dev/null 2>&1; then busybox=$b; break; fi  # static only
done
[[ -n $busybox ]] || unavailable "no static busybox (install busybox-static: bash scripts/deps.sh --vm)"
command -v cpio >/dev/null || unavailable "cpio not found (install it: bash scripts/deps.sh --vm)"

# ---------------------------------------------------------------------------
# Kernel, modules, initramfs (cached)
# ---------------------------------------------------------------------------
cache=${WARD_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ward-vm}
mkdir -p "$cache" || unavailable "cannot create the cache folder $cache"
exec 9>"$cache/.lock"
flock -w 1800 9 || die "timed out waiting for the lock on $cache (another vm-run preparing it?)"

# Modules the guest needs, by name; their dependencies come from modules.dep.
# Required: virtio PCI transport and 9p over virtio (the shares). Optional:
# overlay (writable root; without it the root stays read-only with a tmpfs on
# /tmp) and virtio_console (output ports; without it output goes to files
# shown after the run).
required_modules=(virtio_pci 9pnet_virtio 9p)
optional_modules=(overlay virtio_console)

download_kernel() {  # download_kernel <version> <dest>
  local kver=$1 dest=$2 dl
  dl=$(mktemp -d "$cache/download.XXXXXX") || return 1
  echo "$prog: downloading linux-image-$kver (first run only) into $cache" >&2
  if ! (cd "$dl" && apt-get -q -o APT::Sandbox::User=root download "linux-image-$kver" >&2); then
    rm -rf -- "$dl"
    echo "$prog: apt-get download linux-image-$kver failed" >&2
    return 1
  fi
  local deb
  deb=$(find "$dl" -maxdepth 1 -name "linux-image-${kver}_*.deb" | head -n1)
  if [[ -z $deb ]] || ! dpkg -x "$deb" "$dl/x"; then
    rm -rf -- "$dl"
    echo "$prog: unpacking linux-image-$kver failed" >&2
    return 1
  fi
  local mdir="$dl/x/lib/modules/$kver" vmlinuz="$dl/x/boot/vmlinuz-$kver"
  if [[ ! -f $vmlinuz || ! -d $mdir/kernel ]]; then
    rm -rf -- "$dl"
    echo "$prog: linux-image-$kver has no boot/vmlinuz-$kver or lib/modules/$kver/kernel" >&2
    return 1
  fi

  # Resolve the load order: every module after the modules it depends on.
  # (Debian's package ships no modules.dep, its postinst runs depmod; read
  # each module's own "depends=" from its .modinfo instead, no kmod needed.)
  local -A path_of=() seen=()
  local f base
  while IFS= read -r f; do
    base=${f##*/}
    base=${base%%.ko*}
    path_of[${base//-/_}]=${f#"$mdir"/}
  done < <(find "$mdir/kernel" -name '*.ko*')
  unpack_module() {  # unpack_module <path under mdir>: the module, decompressed, on stdout
    # busybox insmod does not decompress: the initramfs gets plain .ko files.
    case $1 in
      *.ko) cat "$mdir/$1" ;;
      *.ko.xz) xz -dc "$mdir/$1" ;;
      *.ko.zst) zstd -qdc "$mdir/$1" ;;
      *.ko.gz) gzip -dc "$mdir/$1" ;;
      *) return 1 ;;
    esac
  }
  local order=()
  visit() {  # visit <module name>
    local m=${1//-/_} d
    [[ -n ${seen[$m]:-} ]] && return 0
    seen[$m]=1
    [[ -n ${path_of[$m]:-} ]] || return 0  # built in
    for d in $(unpack_module "${path_of[$m]}" | tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' ' '); do
      visit "$d"
    done
    order+=("$m")
  }
  local name builtin_list=() missing_optional=()
  for name in "${required_modules[@]}" "${optional_modules[@]}"; do
    if [[ -n ${path_of[$name]:-} ]]; then
      visit "$name"
    elif grep -Eq "/${name}\.ko(\.[a-z]+)?\$" "$mdir/modules.builtin" 2>/dev/null; then
      builtin_list+=("$name")
    elif [[ " ${required_modules[*]} " == *" $name "* ]]; then
      rm -rf -- "$dl"
      echo "$prog: kernel $kver has no module $name and does not build it in" >&2
      return 1
    else
      missing_optional+=("$name")
    fi
  done

  local stage="$dest.new" m
  rm -rf -- "$stage"
  mkdir -p "$stage/modules"
  cp "$vmlinuz" "$stage/vmlinuz"
  cp "$dl/x/boot/config-$kver" "$stage/config" 2>/dev/null
  : >"$stage/modules.load"
  for m in "${order[@]}"; do
    unpack_module "${path_of[$m]}" >"$stage/modules/$m.ko" ||
      { rm -rf -- "$dl" "$stage"; echo "$prog: cannot unpack module ${path_of[$m]}" >&2; return 1; }
    echo "$m.ko" >>"$stage/modules.load"
  done
  {
    echo "built-in (not loaded): ${builtin_list[*]:-none}"
    echo "unavailable optional modules: ${missing_optional[*]:-none}"
  } >"$stage/modules.info"
  rm -rf -- "$dl" "$dest"
  mv "$stage" "$dest"
}

kver=${WARD_VM_KERNEL:-}
if [[ -z $kver && -f $cache/current ]]; then
  kver=$(<"$cache/current")
  [[ -f $cache/$kver/vmlinuz ]] || kver=
fi
if [[ -z $kver ]]; then
  resolve() { apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n 's/^ *Depends: linux-image-\([0-9][^ ]*-amd64\)$/\1/p' | head -n1; }
  kver=$(resolve)
  if [[ -z $kver && $(id -u) -eq 0 ]]; then
    echo "$prog: apt-cache does not know linux-image-amd64; running apt-get update" >&2
    apt-get -q -o DPkg::Lock::Timeout=600 update >&2
    kver=$(resolve)
  fi
  [[ -n $kver ]] ||
    unavailable "kernel not found: apt-cache depends linux-image-amd64 names no linux-image-*-amd64 (set WARD_VM_KERNEL?)"
fi
kdir=$cache/$kver
if [[ ! -f $kdir/vmlinuz || ! -f $kdir/modules.load ]]; then
  t_dl=$(now)
  download_kernel "$kver" "$kdir" || unavailable "kernel not found: could not obtain linux-image-$kver"
  echo "$prog: kernel $kver cached in $kdir ($(elapsed "$t_dl") s)" >&2
fi
[[ -n ${WARD_VM_KERNEL:-} ]] || echo "$kver" >"$cache/current"

# Stage 1: /init of the initramfs (busybox). Mounts the host root and the
# shares, builds the new root, then switch_root (not chroot: CLONE_NEWUSER
# fails with EPERM under a chroot) into stage 2, which lives on the control
# share and is written per run by this script.
read -r -d '' stage1 <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
fail() {
  echo "ward-vm stage1: FAILED: $*" >/dev/console
  echo o >/proc/sysrq-trigger
  sleep 60
}
mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev
while read -r m; do
  insmod "/lib/modules/$m" || fail "insmod $m"
done </lib/modules/modules.load
p9='trans=virtio,version=9p2000.L,msize=262144'
mkdir -p /lower /rw /newroot
# The host root never changes under us during a run: cache=loose makes
# executing programs and reading headers over 9p much faster.
mount -t 9p -o "$p9,ro,cache=loose" host /lower || fail "mount 9p host root"
if grep -qw overlay /proc/filesystems; then
  mount -t tmpfs -o mode=0755 tmpfs /rw || fail "tmpfs for the overlay"
  mkdir -p /rw/upper /rw/work
  mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot ||
    fail "overlay root"
  overlay=1
else
  mount --move /lower /newroot || fail "move host root"
  overlay=0
fi
n=/newroot
mount --move /proc $n/proc && mount --move /sys $n/sys && mount --move /dev $n/dev ||
  fail "moving /proc /sys /dev into the new root"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs $n/run || fail "tmpfs on /run"
[ $overlay = 1 ] || mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs $n/tmp || fail "tmpfs on /tmp"
mkdir -p $n/dev/pts $n/dev/shm
mount -t devpts -o nosuid,noexec,gid=5,mode=620,ptmxmode=666 devpts $n/dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs $n/dev/shm
mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate,memory_recursiveprot none $n/sys/fs/cgroup ||
  mount -t cgroup2 none $n/sys/fs/cgroup || fail "mount cgroup2"
mkdir -p $n/run/ward-vm $n/run/ward-vm-work
mount -t 9p -o "$p9" ctl $n/run/ward-vm || fail "mount 9p control share"
mount -t 9p -o "$p9" work $n/run/ward-vm-work || fail "mount 9p work share"
[ -x $n/run/ward-vm/stage2 ] || fail "no stage2 on the control share"
exec switch_root $n /run/ward-vm/stage2
fail "switch_root"
INIT

key=$( { printf '%s\n' "$stage1"; sha256sum "$busybox" "$kdir/modules.load" "$kdir"/modules/*.ko; } |
  sha256sum | cut -c1-16)
initrd=$kdir/initramfs-$key.cpio.gz
if [[ ! -f $initrd ]]; then
  ird=$(mktemp -d "$cache/initramfs.XXXXXX") || die "cannot create a scratch folder in $cache"
  mkdir -p "$ird"/{bin,proc,sys,dev,lib/modules}
  cp "$busybox" "$ird/bin/busybox"
  cp "$kdir"/modules/*.ko "$kdir/modules.load" "$ird/lib/modules/"
  printf '%s\n' "$stage1" >"$ird/init"
  chmod 0755 "$ird/init"
  if ! (cd "$ird" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -1) \
      >"$initrd.tmp"; then
    rm -rf -- "$ird" "$initrd.tmp"
    die "building the initramfs failed"
  fi
  rm -rf -- "$ird"
  rm -f "$kdir"/initramfs-*.cpio.gz
  mv "$initrd.tmp" "$initrd"
fi
flock -u 9
exec 9>&-

if [[ $prepare_only -eq 1 ]]; then
  echo "$prog: ready: kernel $kdir/vmlinuz, initramfs $initrd ($(tr '\n' ';' <"$kdir/modules.info"))"
  exit 0
fi

# ---------------------------------------------------------------------------
# Per-run control share: stage 2, the exit status, the "started" marker.
# ---------------------------------------------------------------------------
# Sweep folders left by runs that were SIGKILLed (their qemu died with them:
# --pdeathsig below, but no trap runs on SIGKILL).
for old in "${TMPDIR:-/tmp}"/ward-vm.*/owner; do
  [[ -f $old ]] || continue
  owner=$(<"$old")
  if ! grep -qs 'vm-run' "/proc/$owner/cmdline"; then rm -rf -- "${old%/owner}"; fi
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ward-vm.XXXXXX") || die "cannot create a temp folder"
echo $$ >"$tmp/owner"
ctl=$tmp/ctl
mkdir -p "$ctl"
if [[ -z $workdir ]]; then
  workdir=$tmp/work
fi
mkdir -p "$workdir" || die "cannot create the work folder $workdir"
workdir=$(cd "$workdir" && pwd -P)

envs=(
  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  HOME=/tmp USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb LANG=C.UTF-8
  WARD_IN_VM=1 WARD_VM_WORKDIR=/run/ward-vm-work
)
while IFS= read -r name; do
  case $name in
    CI|WARD_*|CTEST_*|ASAN_OPTIONS|UBSAN_OPTIONS|LSAN_OPTIONS|TSAN_OPTIONS|MSAN_OPTIONS)
      # The guest sets these itself (a host cgroup path means nothing there).
      [[ $name == WARD_IN_VM || $name == WARD_VM_WORKDIR || $name == WARD_TEST_CGROUP ]] ||
        envs+=("$name=${!name}") ;;
  esac
done < <(compgen -e)
envs+=("${extra_env[@]}")

{
  echo '#!/bin/bash'
  echo '# ward-vm stage 2 (pid 1 after switch_root), generated by scripts/vm-run.sh'
  # The current directory, as the guest sees it: inside the work folder it is
  # the write-through share, anywhere else the (overlaid) host root.
  guest_cwd=$(pwd -P)
  case $guest_cwd/ in
    "$workdir"/*) guest_cwd=/run/ward-vm-work${guest_cwd#"$workdir"} ;;
  esac
  printf 'cwd=%q\n' "$guest_cwd"
  printf 'cgroup=%q\n' "${cgroup#/}"
  printf 'init=%q\n' "$init"
  printf 'envs=('; printf ' %q' "${envs[@]}"; printf ' )\n'
  printf 'cmd=('; printf ' %q' "$@"; printf ' )\n'
  cat <<'STAGE2'
ctl=/run/ward-vm
exec </dev/null >/dev/console 2>&1

# --init systemd, first pass (pid 1): units for COMMAND, then systemd takes
# over pid 1; systemd runs this same script again as ward-vm-command.service.
if [[ $init == systemd && $$ == 1 ]]; then
  fail() { echo "ward-vm stage2: FAILED: $*"; sync; echo o >/proc/sysrq-trigger; sleep 60; }
  grep -q '^overlay / ' /proc/mounts || fail "--init systemd needs a writable root (overlay module)"
  u=/run/systemd/system
  mkdir -p $u || fail "mkdir $u"
  # Only what COMMAND needs: the system bus and COMMAND's unit, none of
  # sysinit.target (udev, hwdb, tmpfiles, ...: minutes under TCG).
  cat >$u/ward-vm.target <<'UNIT'
[Unit]
Description=ward vm: COMMAND under systemd
DefaultDependencies=no
Requires=ward-vm-command.service
UNIT
  for d in dbus.socket dbus.service; do
    mkdir -p $u/$d.d && printf '[Unit]\nDefaultDependencies=no\n' >$u/$d.d/ward-vm.conf
  done
  cat >$u/ward-vm-command.service <<'UNIT'
[Unit]
Description=ward vm COMMAND
DefaultDependencies=no
Requires=dbus.socket
Wants=dbus.service
After=dbus.socket dbus.service
[Service]
Type=simple
ExecStart=/run/ward-vm/stage2
Environment=WARD_VM_STAGE=command
TimeoutStartSec=infinity
Delegate=yes
StandardInput=null
StandardOutput=null
StandardError=null
UNIT
  # The host's fstab names the host's disks: systemd would wait for them.
  : >/etc/fstab
  # A guest identity of its own (the host's is in the read-only lower layer).
  rm -f /etc/machine-id && : >/etc/machine-id
  exec /lib/systemd/systemd --unit=ward-vm.target --log-target=console --show-status=false
  fail "exec /lib/systemd/systemd"
fi
poweroff() { sync; echo o >/proc/sysrq-trigger; sleep 60; }
trap poweroff EXIT

# Output ports (virtio-serial); files on the control share if there are none.
out=$ctl/stdout err=$ctl/stderr
for _ in $(seq 50); do
  for p in /sys/class/virtio-ports/*; do
    [ -r "$p/name" ] || continue
    case $(cat "$p/name") in
      ward.stdout) [ -c "/dev/${p##*/}" ] && out=/dev/${p##*/} ;;
      ward.stderr) [ -c "/dev/${p##*/}" ] && err=/dev/${p##*/} ;;
    esac
  done
  [[ $out == /dev/* && $err == /dev/* ]] && break
  sleep 0.1
done
# A virtio port can be open only once: open each once, hand out copies.
exec 3>"$out" 4>"$err" 2>&4
warn() { echo "ward-vm: warning: $*" >&2; }

# cgroup v2: this process into a leaf, so the root can delegate controllers
# (no internal processes); then enable the controllers for the children.
cg=/sys/fs/cgroup
if [[ $init == systemd ]]; then
  cgroup=  # systemd owns the tree: no /init, no /ward-test
  envs+=("WARD_VM_INIT=systemd")
  # COMMAND starts once systemd is on the system bus.
  for _ in $(seq 300); do
    busctl --system status org.freedesktop.systemd1 >/dev/null 2>&1 && break
    sleep 0.1
  done
  busctl --system status org.freedesktop.systemd1 >/dev/null 2>&1 ||
    warn "org.freedesktop.systemd1 is not on the system bus after 30 s"
fi
if [[ -n $cgroup ]]; then
  mkdir -p "$cg/$cgroup" && echo $$ >"$cg/$cgroup/cgroup.procs" || warn "cannot move into $cg/$cgroup"
fi
if [[ $init != systemd ]]; then
  for c in cpuset cpu io memory hugetlb pids; do
    echo "+$c" >$cg/cgroup.subtree_control 2>/dev/null || warn "cannot enable cgroup controller $c"
  done
fi
# A delegated subtree for tests, as a container manager would hand one out:
# ward-test holds no process, so (unlike the leaf COMMAND runs in) it may
# give its children every controller the root gives it. Tests create their
# cgroups below it ($WARD_TEST_CGROUP; tests/common/cgroup_util.hpp).
if [[ $init == systemd ]]; then
  :
elif mkdir -p $cg/ward-test; then
  for c in $(cat $cg/cgroup.subtree_control); do
    echo "+$c" >$cg/ward-test/cgroup.subtree_control 2>/dev/null ||
      warn "cannot enable cgroup controller $c in $cg/ward-test"
  done
  envs+=("WARD_TEST_CGROUP=$cg/ward-test")
else
  warn "cannot create $cg/ward-test (WARD_TEST_CGROUP left unset)"
fi

ip link set lo up 2>/dev/null || warn "cannot bring up lo"
hostname ward-vm 2>/dev/null

cd -- "$cwd" 2>/dev/null || { warn "cannot cd to $cwd; running in /"; cd /; }
cat /proc/uptime >$ctl/started
env -i "${envs[@]}" "${cmd[@]}" >&3 2>&4 3>&- 4>&-
rc=$?
echo "$rc" >$ctl/rc.tmp && mv $ctl/rc.tmp $ctl/rc
exec 2>/dev/console 3>&- 4>&-
STAGE2
} >"$ctl/stage2"
chmod 0755 "$ctl/stage2"

# ---------------------------------------------------------------------------
# Boot
# ---------------------------------------------------------------------------
for f in out err; do mkfifo "$tmp/$f.in" "$tmp/$f.out" || die "mkfifo failed"; done
cat "$tmp/out.out" &
reader_pids+=($!)
cat "$tmp/err.out" >&2 &
reader_pids+=($!)

mem=${WARD_VM_MEM:-2048}
cpus=${WARD_VM_CPUS:-2}
# shellcheck disable=SC2054  # the commas are qemu's option syntax
qemu_args=(
  -accel tcg -cpu max -m "$mem" -smp "$cpus"
  -nodefaults -display none -no-reboot -monitor none
  -serial "file:$tmp/console.log"
  -kernel "$kdir/vmlinuz" -initrd "$initrd"
  -append "console=ttyS0 loglevel=1 quiet panic=-1 rdinit=/init"
  -virtfs "local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap"
  -virtfs "local,path=$ctl,mount_tag=ctl,security_model=none"
  -virtfs "local,path=$workdir,mount_tag=work,security_model=none"
  -device virtio-serial-pci
  -chardev "pipe,id=out,path=$tmp/out" -device virtserialport,chardev=out,name=ward.stdout
  -chardev "pipe,id=err,path=$tmp/err" -device virtserialport,chardev=err,name=ward.stderr
)
t0=$(now)
# --pdeathsig: qemu dies with this script even if it is SIGKILLed (ctest timeout).
setpriv --pdeathsig KILL -- "$qemu" "${qemu_args[@]}" </dev/null >"$tmp/qemu.log" 2>&1 &
qemu_pid=$!

console_tail() {
  echo "$prog: --- last lines of the guest console ---" >&2
  tail -n 25 "$tmp/console.log" 2>/dev/null | tr -d '\r' | sed 's/^/  | /' >&2
  if [[ -s $tmp/qemu.log ]]; then
    echo "$prog: --- qemu ---" >&2
    tail -n 10 "$tmp/qemu.log" | sed 's/^/  | /' >&2
  fi
}
stop_qemu() {
  kill -TERM "$qemu_pid" 2>/dev/null
  for _ in $(seq 20); do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$qemu_pid" 2>/dev/null
  wait "$qemu_pid" 2>/dev/null
  qemu_pid=
}

started=0 t_cmd='' outcome='' qemu_rc=
note_started() {  # prints the boot-time line once the guest has written "started"
  [[ $started -eq 0 && -f $ctl/started ]] || return 0
  started=1
  t_cmd=$(stat -c %.3Y "$ctl/started")  # written just before the command starts
  echo "$prog: booted kernel $kver (tcg, $cpus cpus, $mem MiB) in" \
    "$(awk -v a="$t0" -v b="$t_cmd" 'BEGIN { printf "%.1f", b - a }') s" >&2
}
while kill -0 "$qemu_pid" 2>/dev/null; do
  note_started
  if [[ $started -eq 0 ]] && awk -v a="$t0" -v b="$(now)" -v t="$boot_timeout" 'BEGIN { exit !(b - a > t) }'; then
    outcome=boot_timeout
    break
  fi
  if [[ $started -eq 1 && $timeout -gt 0 ]] &&
      awk -v a="$t_cmd" -v b="$(now)" -v t="$timeout" 'BEGIN { exit !(b - a > t) }'; then
    outcome=timeout
    break
  fi
  sleep 0.2
done
if [[ -n $outcome ]]; then
  stop_qemu
else
  wait "$qemu_pid"
  qemu_rc=$?
  qemu_pid=
fi
note_started

# Let the readers drain the FIFOs (EOF once qemu is gone), then stop them.
for p in "${reader_pids[@]}"; do
  for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
done
for p in "${reader_pids[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
reader_pids=()
# No virtio_console in the guest: output went to files.
[[ -f $ctl/stdout ]] && cat "$ctl/stdout"
[[ -f $ctl/stderr ]] && cat "$ctl/stderr" >&2

case $outcome in
  boot_timeout)
    console_tail
    die "boot timeout: the command had not started ${boot_timeout} s after qemu was launched" ;;
  timeout)
    echo "$prog: timeout: the command ran longer than $timeout s; VM killed" >&2
    exit 124 ;;
esac
if [[ -f $ctl/rc ]]; then
  rc=$(<"$ctl/rc")
  echo "$prog: command exited $rc after $(elapsed "${t_cmd:-$t0}") s (total $(elapsed "$t0") s)" >&2
  exit "$rc"
fi
console_tail
if [[ $started -eq 0 ]]; then
  die "the VM stopped before the command started (qemu exit status $qemu_rc); see the console above"
fi
die "the VM stopped without reporting the command's exit status (qemu exit status $qemu_rc)"
