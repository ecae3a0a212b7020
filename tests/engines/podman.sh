#!/usr/bin/env bash
# root.engines.podman: podman (through conmon) drives the ward runtime.
#
#   WARD_BIN=/abs/path/to/ward bash tests/engines/podman.sh
#
# Checks, each printed with its command: `run --rm` (output, exit status,
# pid 1 and hostname), `run -d` then `exec` (output, exit status, pid
# namespace, `exec -t`), `ps`, `inspect`, `logs`, `stop` (SIGTERM handled, and
# SIGTERM ignored then SIGKILL: exit 137), `rm`, and `run -t` (a pty whose
# master ward sends to conmon over --console-socket).
#
# A private podman that touches nothing global: everything it keeps lives in
# one temporary folder, removed on exit: storage (--root/--runroot, vfs
# driver), libpod's tmp dir, the events file (--events-backend file), network
# configs, and the containers.conf, storage.conf and registries.conf podman is
# pointed at (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF,
# CONTAINERS_REGISTRIES_CONF), so nothing in /etc or /var is read or written.
# containers.conf has `default_ulimits = []` (podman's default nofile ulimit
# needs CAP_SYS_RESOURCE, missing on this host), keeps podman's default
# pids_limit (2048: on a hybrid-cgroup host it lands in the v1 pids
# hierarchy, checked from the host), and names the runtime in
# runtime_supports_json, so podman passes it --log <userdata>/oci-log
# --log-format json as it does runc and reads its errors from there.
# Containers run with --network none under their own cgroup parent,
# /ward-engine-test-<pid>, removed on exit. The runtime keeps its state where
# it does for a real podman, in its default --root (/run/ward for ward): podman
# does not pass --runtime-flag on to the `podman container cleanup` it leaves
# to conmon, so a private --root would not be seen by that cleanup's `delete`.
#
# The image is localhost/ward-busybox, imported (`podman import`) from a rootfs
# tarball made here: the static /bin/busybox of busybox-static and a symlink
# per applet.
#
# Exit status: 0 when every check passed (ward's known failures, marked with
# known_failure, are printed but not counted: see common.sh); 77 (ctest: skipped; a line
# "WARD-SKIP: reason") when not root, podman, conmon or a static busybox is
# missing, or podman cannot work on this host (`podman info` or `podman
# import` fail: neither runs the OCI runtime); 1 when a check failed, after
# printing the command, its output, the runtime's --log files and the
# containers' logs. Environment: see tests/engines/common.sh.
set -uo pipefail

prog=podman.sh
engine=podman
command -v podman >/dev/null || { echo "WARD-SKIP: podman is not installed (bash scripts/deps.sh)"; exit 77; }

# podman keeps its locks in one shared-memory file, /dev/shm/libpod_lock, sized
# by num_locks when first made, and nothing configures that path. A file made
# here for 128 locks would break the machine's own podman afterwards ("failed to
# open 2048 locks"; issue #13). So the test runs in a mount namespace of its own
# with a private tmpfs on /dev/shm, and then checks that the host's
# /dev/shm/libpod_lock is as it was (absent, or the same inode and size).
if [[ -z ${WARD_PODMAN_PRIVATE_SHM:-} ]]; then
  [[ $(id -u) -eq 0 ]] || { echo "WARD-SKIP: $prog needs root (uid $(id -u))"; exit 77; }
  lock_before=$(stat -c '%i %s' /dev/shm/libpod_lock 2>/dev/null || echo absent)
  WARD_PODMAN_PRIVATE_SHM=1 unshare --mount --propagation private "$BASH" "${BASH_SOURCE[0]}" "$@"
  rc=$?
  lock_after=$(stat -c '%i %s' /dev/shm/libpod_lock 2>/dev/null || echo absent)
  if [[ $lock_after != "$lock_before" ]]; then
    echo "FAIL: the host's /dev/shm/libpod_lock changed ($lock_before -> $lock_after): the test left podman state behind"
    exit 1
  fi
  exit $rc
fi
# Only ever in the namespace made above: never over the host's /dev/shm.
[[ $(readlink /proc/self/ns/mnt) != "$(readlink /proc/1/ns/mnt)" ]] ||
  { echo "FAIL: WARD_PODMAN_PRIVATE_SHM is set but this is the host's mount namespace"; exit 1; }
mount -t tmpfs -o mode=1777,size=64m ward-podman-shm /dev/shm ||
  { echo "FAIL: cannot mount a private tmpfs on /dev/shm"; exit 1; }
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
conmon=$(command -v conmon || ls /usr/libexec/podman/conmon /usr/bin/conmon 2>/dev/null | head -n1)
[[ -n $conmon ]] || skip "conmon is not installed (bash scripts/deps.sh)"

# WARD_PODMAN_CGROUP_MANAGER=systemd: podman's systemd cgroup manager, for a
# host whose pid 1 is systemd with its system bus (scripts/vm-run.sh --init
# systemd): podman passes --systemd-cgroup and a cgroupsPath
# "wardenginetest.slice:libpod:ID" to the runtime, which makes the
# container's cgroup a transient scope of that name (and podman puts conmon
# in a scope of its own). Default: cgroupfs, containers under /ward-engine-test-PID.
cgroup_manager=${WARD_PODMAN_CGROUP_MANAGER:-cgroupfs}
case $cgroup_manager in
  cgroupfs) cgroup_parent=/ward-engine-test-$$ parent_flag=$cgroup_parent ;;
  systemd) cgroup_parent=/wardenginetest.slice parent_flag=wardenginetest.slice ;;
  *) die "WARD_PODMAN_CGROUP_MANAGER=$cgroup_manager: cgroupfs or systemd" ;;
esac
image=localhost/ward-busybox:latest
name=ward-engine-test-$$
P=$tmp/podman  # podman with the private setup (a script, so that timeout(1) can run it)

cleanup_engine() {
  [[ -x $P ]] && timeout -k 5 20 "$P" rm --all --force --time 0 >/dev/null 2>&1
  kill_cgroup_tree "$cgroup_parent"  # what podman could not stop
  kill_tmp_processes                 # conmons, runtimes, containers of this setup
  runtime_forget                     # what podman could not delete
  kill_cgroup_tree "$cgroup_parent"
}

# What explains a failure: the runtime's --log files, the containers' logs,
# podman's events.
diagnostics() {
  local f
  for f in $(find "$tmp/root" "$tmp/runroot" -name oci-log 2>/dev/null); do
    echo "---- runtime log ${f//$tmp/\$tmp}"
    tail -n 40 "$f"
  done
  for f in $(find "$tmp/root" "$tmp/runroot" -name ctr.log 2>/dev/null); do
    echo "---- container log ${f//$tmp/\$tmp}"
    tail -n 20 "$f"
  done
  if [[ -s $tmp/events.log ]]; then
    echo "---- podman events (last 10)"
    tail -n 10 "$tmp/events.log"
  fi
}

# ------------------------------------------------------------------ podman setup

make_runtime_wrapper
mkdir -p "$tmp"/{root,runroot,tmp,networks,cni}
cat >"$tmp/containers.conf" <<EOF
[containers]
default_ulimits = []
netns = "none"
log_driver = "k8s-file"

[engine]
cgroup_manager = "$cgroup_manager"
events_logger = "file"
events_logfile_path = "$tmp/events.log"
tmp_dir = "$tmp/tmp"
image_copy_tmp_dir = "$tmp/tmp"
conmon_path = ["$conmon"]
num_locks = 128
runtime_supports_json = ["$(basename "$WARD_BIN")", "runc", "crun"]

[network]
network_config_dir = "$tmp/networks"
cni_plugin_dirs = ["$tmp/cni"]
EOF
cat >"$tmp/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$tmp/root"
runroot = "$tmp/runroot"
EOF
echo 'unqualified-search-registries = []' >"$tmp/registries.conf"
export CONTAINERS_CONF=$tmp/containers.conf
export CONTAINERS_STORAGE_CONF=$tmp/storage.conf
export CONTAINERS_REGISTRIES_CONF=$tmp/registries.conf

cat >"$P" <<EOF
#!/bin/sh
export TMPDIR="$tmp/tmp"  # else podman import stages the tarball in /var/tmp
exec podman --root "$tmp/root" --runroot "$tmp/runroot" --storage-driver vfs \\
  --tmpdir "$tmp/tmp" --cgroup-manager $cgroup_manager --events-backend file \\
  --runtime "$runtime" "\$@"
EOF
chmod +x "$P"

echo "$prog: runtime $WARD_BIN, podman's cgroup manager $cgroup_manager"
echo "$prog: $(podman --version), $("$conmon" --version 2>/dev/null | head -n1)"
echo "$prog: podman's state in $tmp"

# podman itself must work here; nothing before the checks runs the runtime.
if ! info=$(timeout -k 5 "$step_timeout" "$P" info 2>&1); then
  skip "podman cannot work on this host: podman info: $(tail -n 3 <<<"$info" | tr '\n' ' ')"
fi
make_rootfs "$tmp/rootfs" || die "cannot make the rootfs in $tmp/rootfs"
tar -C "$tmp/rootfs" -cf "$tmp/rootfs.tar" . || die "tar of the rootfs failed"
# The import copies the image through containers/image, which as root records
# blob digests in /var/lib/containers/cache (not configurable in podman 4.3):
# it runs in a mount namespace of its own, with a tmpfs on /var/lib.
if ! imp=$(timeout -k 5 "$step_timeout" unshare --mount --propagation private -- \
  sh -c 'mount -t tmpfs -o mode=0755 tmpfs /var/lib && exec "$@"' sh \
  "$P" import --change 'CMD ["/bin/sh"]' "$tmp/rootfs.tar" "$image" 2>&1); then
  skip "podman cannot work on this host: podman import: $(tail -n 3 <<<"$imp" | tr '\n' ' ')"
fi
echo "-- image $image imported ($(tail -n1 <<<"$imp" | head -c 19))"

run=("$P" run --network none --cgroup-parent "$parent_flag")

# ------------------------------------------------------------------ checks

section "1. foreground run: create + start through conmon, output, exit status, --rm"
check "run --rm: output of echo" 0 '^hi$' \
  "${run[@]}" --rm "$image" echo hi ||
  skip_all "podman cannot run a container with this runtime"
check "run --rm: the process's exit status" 7 '^$' \
  "${run[@]}" --rm "$image" sh -c 'exit 7'
check "run --rm: pid 1, the container's hostname" 0 '^1 [0-9a-f]{12}$' \
  "${run[@]}" --rm "$image" sh -c 'echo $$ $(hostname)'
# podman's default: its seccomp profile, no CAP_SYS_ADMIN, noNewPrivileges
# false. The filter must go on before the capabilities are dropped (as with
# runc), so that no_new_privs stays off and set-user-ID programs work.
check "run --rm: seccomp filter on, no_new_privs off" 0 '^NoNewPrivs:[[:space:]]+0 Seccomp:[[:space:]]+2$' \
  "${run[@]}" --rm "$image" sh -c 'echo $(grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status)'

section "2. detached container: exec, ps, logs, stop (SIGTERM handled), rm"
check "run -d" 0 '^[0-9a-f]{64}$' \
  "${run[@]}" -d --name "$name" "$image" \
  sh -c 'trap "echo stopping; exit 0" TERM; echo started; while :; do sleep 1 & wait $!; done' ||
  skip_section "run -d failed"
check "exec: output" 0 '^in$' "$P" exec "$name" echo in
check "exec: exit status" 3 '^$' "$P" exec "$name" sh -c 'exit 3'
check "exec: same pid namespace (sees pid 1's cmdline)" 0 '^sh--c-trap' \
  "$P" exec "$name" sh -c "tr '\\0' - </proc/1/cmdline"
check "ps: shows the container running" 0 "(^|"$'\n'")$name Up" \
  "$P" ps --format '{{.Names}} {{.Status}}'
check "inspect: running" 0 '^running$' "$P" inspect --format '{{.State.Status}}' "$name"
check "podman's default pids limit 2048 lands in the container's pids cgroup" 0 '^v[12]:2048$' \
  bash -c 'cgroup_value "$@"' _ "$("$P" inspect --format '{{.State.Pid}}' "$name" 2>/dev/null)" \
  pids pids.max pids.max
if [[ $cgroup_manager == systemd ]]; then
  check "systemd: the container is in the active scope libpod-ID.scope of its slice" 0 \
    '^0::/wardenginetest\.slice/libpod-[0-9a-f]{64}\.scope active$' \
    bash -c 'c=$(cat /proc/"$1"/cgroup); u=${c##*/}; echo "$c $(systemctl show --value -p ActiveState "$u")"' \
    _ "$("$P" inspect --format '{{.State.Pid}}' "$name" 2>/dev/null)"
fi
check "logs" 0 '^started$' "$P" logs "$name"
check "stop (SIGTERM, handled)" 0 "^$name$" "$P" stop --time 10 "$name"
check "inspect: exited 0 after stop" 0 '^exited 0$' \
  "$P" inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$name"
check "logs after stop" 0 $'^started\nstopping$' "$P" logs "$name"
check "rm" 0 "^$name$" "$P" rm "$name"
check "ps -a: gone" 0 '^$' "$P" ps -a --format '{{.Names}}'

section "3. SIGKILL: pid 1 without a TERM handler ignores SIGTERM; stop falls back"
check "run -d" 0 '^[0-9a-f]{64}$' \
  "${run[@]}" -d --name "$name-k" "$image" sleep 1000 ||
  skip_section "run -d failed"
check "stop --time 1 (SIGTERM ignored, then SIGKILL)" 0 "resorting to SIGKILL.*"$'\n'"$name-k$" \
  "$P" stop --time 1 "$name-k"
check "inspect: exited 137" 0 '^exited 137$' \
  "$P" inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$name-k"
check "rm" 0 "^$name-k$" "$P" rm "$name-k"

# The runtime sends the pty master to conmon over --console-socket. The
# process must see a terminal on stdin and stdout, as its controlling
# terminal (/dev/tty opens), and ttyname(3) (what tty(1) prints) must find it
# in the container's /dev/pts, as with runc.
section "4. terminals: run -t, exec -t"
# The pty must come from the container's own devpts (ward opens its
# /dev/pts/ptmx inside, as runc does), or ttyname(3) fails and tty(1)
# prints "not a tty".
check "run -t: stdin and stdout are a terminal" 0 '^terminal$' \
  "${run[@]}" --rm -t "$image" sh -c 'test -t 0 && test -t 1 && echo terminal'
check "run -t: it is the controlling terminal (/dev/tty)" 0 '^ctty$' \
  "${run[@]}" --rm -t "$image" sh -c 'echo ctty >/dev/tty'
check "run -t: tty(1) names it, /dev/pts/N of the container" 0 '^/dev/pts/[0-9]+$' \
  "${run[@]}" --rm -t "$image" tty
check "run -d (for exec -t)" 0 '^[0-9a-f]{64}$' \
  "${run[@]}" -d --name "$name-t" "$image" sleep 1000 ||
  skip_section "run -d failed"
check "exec -t: stdin and stdout are a terminal" 0 '^terminal$' \
  "$P" exec -t "$name-t" sh -c 'test -t 0 && test -t 1 && echo terminal'
check "exec -t: tty(1) names it, /dev/pts/N of the container" 0 '^/dev/pts/[0-9]+$' \
  "$P" exec -t "$name-t" tty
check "rm -f" 0 "^$name-t$" "$P" rm -f --time 0 "$name-t"

finish
