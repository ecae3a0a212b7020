#!/usr/bin/env bash
# root.engines.podman_rootless: rootless podman (through conmon) drives the
# ward runtime as an ordinary user, the way every non-root podman user runs
# containers (issue #15).
#
#   WARD_BIN=/abs/path/to/ward bash tests/engines/podman_rootless.sh
#
# Started as root, it becomes a real unprivileged user (uid 65534, or
# $WARD_ROOTLESS_UID, which must have a name in /etc/passwd) with its own
# ranges in /etc/subuid and /etc/subgid, so that podman maps 65536 ids through
# newuidmap/newgidmap as it does for a user account, and runs as that user:
# `run --rm` (output, exit status, pid 1, root in the container is the user
# outside), `run -d` then `exec` and `stop`, `rm`; nothing is left behind.
#
# Touches nothing global: it runs in a mount and pid namespace of its own, in
# which /etc/subuid, /etc/subgid and /dev/shm are private copies (a bind over
# the host's files, a tmpfs), so the host's files are never written, and every
# process podman leaves (its rootless pause process, conmons) dies with the
# namespace. podman's storage, runroot, config and XDG_RUNTIME_DIR live in one
# temporary folder, removed on exit; the runtime keeps its state where a
# rootless runtime does, under $XDG_RUNTIME_DIR.
#
# Exit status: 0 when every check passed; 77 (ctest: skipped; a line
# "WARD-SKIP: reason") when not root, podman, conmon, newuidmap or a static
# busybox is missing, or rootless podman cannot work on this host with runc
# either (checked first with runc when it is installed); 1 when a check failed.
set -uo pipefail

prog=podman_rootless.sh
engine=podman-rootless
command -v podman >/dev/null || { echo "WARD-SKIP: podman is not installed (bash scripts/deps.sh)"; exit 77; }
for t in newuidmap newgidmap; do
  command -v $t >/dev/null || { echo "WARD-SKIP: $t is not installed (uidmap: bash scripts/deps.sh)"; exit 77; }
done

if [[ -z ${WARD_PODMAN_ROOTLESS_NS:-} ]]; then
  [[ $(id -u) -eq 0 ]] || { echo "WARD-SKIP: $prog needs root to set up its user (uid $(id -u))"; exit 77; }
  # /etc/subuid and /etc/subgid must exist to be covered by a bind; a machine
  # without them gets empty ones, removed again afterwards.
  made=()
  for f in /etc/subuid /etc/subgid; do
    [[ -e $f ]] || { : >"$f" && made+=("$f"); }
  done
  WARD_PODMAN_ROOTLESS_NS=1 unshare --mount --propagation private --pid --fork --mount-proc \
    "$BASH" "${BASH_SOURCE[0]}" "$@"
  rc=$?
  for f in "${made[@]}"; do rm -f "$f"; done
  exit $rc
fi
[[ $(readlink /proc/self/ns/mnt) != "$(readlink /proc/1/ns/mnt)" || $$ -eq 1 ]] ||
  { echo "FAIL: WARD_PODMAN_ROOTLESS_NS is set but this is the host's mount namespace"; exit 1; }
mount -t tmpfs -o mode=1777,size=64m ward-podman-shm /dev/shm ||
  { echo "FAIL: cannot mount a private tmpfs on /dev/shm"; exit 1; }
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
conmon=$(command -v conmon || ls /usr/libexec/podman/conmon /usr/bin/conmon 2>/dev/null | head -n1)
[[ -n $conmon ]] || skip "conmon is not installed (bash scripts/deps.sh)"

uid=${WARD_ROOTLESS_UID:-65534}
user=$(getent passwd "$uid" | cut -d: -f1)
[[ -n $user ]] || skip "uid $uid has no name in /etc/passwd (podman looks its ranges up by name)"
gid=$(getent passwd "$uid" | cut -d: -f4)

# The user's own ranges, in private copies of the files.
for f in subuid subgid; do
  grep -v -e "^$user:" -e "^$uid:" "/etc/$f" >"$tmp/$f"
  echo "$user:300000:65536" >>"$tmp/$f"
  mount --bind "$tmp/$f" "/etc/$f" || die "cannot bind a private /etc/$f"
done

image=localhost/ward-busybox:latest
name=ward-rootless-test-$$
home=$tmp/home
mkdir -p "$home" "$tmp/run" "$tmp/tmp"
chmod 0700 "$tmp/run"
# The runtime binary must be reachable by the user: a copy in $tmp.
cp "$WARD_BIN" "$tmp/ward" && chmod 0755 "$tmp/ward"

cat >"$tmp/containers.conf" <<EOF
[containers]
default_ulimits = []
netns = "none"
log_driver = "k8s-file"
pids_limit = 0

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$tmp/events.log"
tmp_dir = "$tmp/tmp"
conmon_path = ["$conmon"]
num_locks = 128
runtime_supports_json = ["ward", "runc", "crun"]
EOF
cat >"$tmp/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$home/storage"
runroot = "$tmp/run/storage"
EOF
echo 'unqualified-search-registries = []' >"$tmp/registries.conf"
chown -R "$uid:$gid" "$tmp"
chmod 0755 "$tmp"

# podman as the user; $1 the runtime.
P=$tmp/podman
cat >"$P" <<EOF
#!/bin/sh
rt=\$1; shift
exec setpriv --reuid=$uid --regid=$gid --clear-groups \\
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$home" USER="$user" LOGNAME="$user" \\
  XDG_RUNTIME_DIR="$tmp/run" TMPDIR="$tmp/tmp" \\
  CONTAINERS_CONF="$tmp/containers.conf" CONTAINERS_STORAGE_CONF="$tmp/storage.conf" \\
  CONTAINERS_REGISTRIES_CONF="$tmp/registries.conf" \\
  podman --runtime "\$rt" --cgroup-manager cgroupfs --events-backend file "\$@"
EOF
chmod 0755 "$P"

cleanup_engine() {
  [[ -x $P ]] && timeout -k 5 20 "$P" "$tmp/ward" rm --all --force --time 0 >/dev/null 2>&1
  kill_tmp_processes
}

diagnostics() {
  local f
  for f in $(find "$home" "$tmp/run" -name oci-log -o -name ctr.log 2>/dev/null); do
    echo "---- ${f//$tmp/\$tmp}"
    tail -n 30 "$f"
  done
}

echo "$prog: runtime $WARD_BIN (as $tmp/ward), user $user ($uid:$gid)"
echo "$prog: $(podman --version), $("$conmon" --version 2>/dev/null | head -n1)"

make_rootfs "$tmp/rootfs" || die "cannot make the rootfs"
tar -C "$tmp/rootfs" -cf "$tmp/rootfs.tar" . || die "tar of the rootfs failed"
chown "$uid:$gid" "$tmp/rootfs.tar"
if ! imp=$(timeout -k 5 60 "$P" "$tmp/ward" import --change 'CMD ["/bin/sh"]' "$tmp/rootfs.tar" "$image" 2>&1); then
  skip "rootless podman cannot work on this host: podman import: $(tail -n 3 <<<"$imp" | tr '\n' ' ')"
fi
echo "-- image $image imported as $user"
# Rootless podman itself must work here: with runc, when it is installed.
if runc=$(command -v runc) &&
  ! r=$(timeout -k 5 60 "$P" "$runc" run --rm --network none "$image" echo hi 2>&1); then
  skip "rootless podman cannot run a container here with runc either: $(tail -n 3 <<<"$r" | tr '\n' ' ')"
fi

run=("$P" "$tmp/ward" run --network none)

section "1. rootless run --rm: output, exit status, pid 1, ids"
check "run --rm: output of echo" 0 '^hi$' "${run[@]}" --rm "$image" echo hi ||
  skip_all "rootless podman cannot run a container with this runtime"
check "run --rm: the process's exit status" 7 '^$' "${run[@]}" --rm "$image" sh -c 'exit 7'
# root in the container, the user outside: uid_map maps 0 to the user and
# 1-65536 to its subordinate range (newuidmap).
check "run --rm: pid 1, root inside mapped to the user and its range" 0 \
  $'^1 0\n +0 +'"$uid"$' +1\n +1 +300000 +65536$' \
  "${run[@]}" --rm "$image" sh -c 'echo $$ $(id -u); cat /proc/self/uid_map'

section "2. rootless run -d: exec, stop, rm"
check "run -d" 0 '^[0-9a-f]{64}$' \
  "${run[@]}" -d --name "$name" "$image" \
  sh -c 'trap "exit 0" TERM; echo started; while :; do sleep 1 & wait $!; done' ||
  skip_section "run -d failed"
check "the runtime keeps its state under \$XDG_RUNTIME_DIR/ward, the user's" 0 \
  "^$uid [0-9a-f]{64}\$" sh -c "echo \$(stat -c %u '$tmp/run/ward') \$(ls '$tmp/run/ward')"
check "exec: output" 0 '^in$' "$P" "$tmp/ward" exec "$name" echo in
check "exec: same pid namespace" 0 '^sh--c-trap' \
  "$P" "$tmp/ward" exec "$name" sh -c "tr '\\0' - </proc/1/cmdline"
check "stop (SIGTERM, handled)" 0 "^$name$" "$P" "$tmp/ward" stop --time 10 "$name"
check "inspect: exited 0 after stop" 0 '^exited 0$' \
  "$P" "$tmp/ward" inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$name"
check "rm" 0 "^$name$" "$P" "$tmp/ward" rm "$name"
check "ps -a: gone" 0 '^$' "$P" "$tmp/ward" ps -a --format '{{.Names}}'
# The runtime's state of the removed containers is gone with them.
check "nothing left in the runtime's state directory" 0 '^$' \
  sh -c "ls -A '$tmp/run/ward' 2>/dev/null || true"

finish
