# Sourced by tests/engines/*.sh: what the engine tests share.
#
# Before sourcing, set `prog` (the script's name, for messages) and
# `engine` (a word: the temporary folder is ${TMPDIR:-/tmp}/ward-engine-<engine>.XXXXXX).
# After sourcing: WARD_BIN is absolute, `busybox` is a static busybox, `tmp`
# is the script's temporary folder and `step_timeout` is set; the script
# defines `cleanup_engine` (called first by the EXIT trap, in any state) and
# `diagnostics` (called when a check fails), calls `make_rootfs DIR` and
# `make_runtime_wrapper`, then `section`, `check` (and `known_failure`,
# `skip_section`, `skip_all`) and lastly `finish`.
#
# Environment (both scripts):
#   WARD_BIN             the runtime (required; any runc-compatible binary
#                        works, e.g. /usr/sbin/runc for comparison)
#   WARD_ENGINE_TIMEOUT  seconds one engine command may take (default 30)
#   WARD_ENGINE_BUDGET   seconds all the checks may take (default 180), so
#                        that a hang fails here, with diagnostics and cleanup,
#                        before ctest's own timeout kills the script
#   WARD_ENGINE_TRACE=1  put a wrapper between the engine and WARD_BIN that
#                        records every runtime command line and exit status;
#                        printed at the end and on failure
#   WARD_ENGINE_KEEP=1   keep the temporary folder (its path is printed)
#   WARD_ENGINE_STRICT=1 count ward's known failures (see known_failure)
#   WARD_IN_VM           set inside scripts/vm-run.sh's VM: the engine tests
#                        skip there unless WARD_ENGINES_IN_VM=1 (slow under
#                        TCG, and the host's root tier runs them)

skip() {
  echo "WARD-SKIP: $*"
  exit 77
}
die() {
  echo "$prog: error: $*" >&2
  exit 1
}

[[ -n ${WARD_BIN:-} ]] || die "WARD_BIN is not set (the runtime to test)"
[[ -f $WARD_BIN && -x $WARD_BIN ]] ||
  die "WARD_BIN=$WARD_BIN is not an executable file (build ward_runtime first)"
WARD_BIN=$(readlink -f "$WARD_BIN")
[[ $(id -u) -eq 0 ]] || skip "$prog needs root (uid $(id -u))"
if [[ -n ${WARD_IN_VM:-} && ${WARD_ENGINES_IN_VM:-0} != 1 ]]; then
  skip "engine tests run on the host, not in the VM (WARD_ENGINES_IN_VM=1 runs them here)"
fi
busybox=$(command -v busybox || true)
[[ -n $busybox ]] || skip "busybox is not installed (busybox-static: bash scripts/deps.sh)"
busybox=$(readlink -f "$busybox")
[[ $(ldd "$busybox" 2>&1) == *"not a dynamic executable"* ]] ||
  skip "$busybox is not statically linked (install busybox-static)"
step_timeout=${WARD_ENGINE_TIMEOUT:-30}
deadline=$((SECONDS + ${WARD_ENGINE_BUDGET:-180}))

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ward-engine-$engine.XXXXXX") || die "mktemp failed"

# The EXIT trap: the script's cleanup_engine (containers, daemons, mounts,
# cgroups), then the folder. Also on failure, INT and TERM.
cleanup_all() {
  local rc=$?
  trap - EXIT INT TERM
  if declare -F cleanup_engine >/dev/null; then cleanup_engine; fi
  # Whatever is still mounted under the folder, deepest first.
  local m
  for m in $(findmnt -rn -o TARGET | grep -F "$tmp/" | sort -r); do
    umount -l "$m" 2>/dev/null
  done
  if [[ ${WARD_ENGINE_KEEP:-0} == 1 ]]; then
    echo "$prog: kept $tmp"
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# kill_cgroup_tree NAME: SIGKILL every process in the cgroup NAME (a path
# relative to the hierarchy roots, e.g. /ward-engine-test-123) in every
# hierarchy, then remove its cgroups, deepest first.
kill_cgroup_tree() {
  local name=$1 d pid
  for d in /sys/fs/cgroup/*"$name" /sys/fs/cgroup"$name"; do
    [[ -d $d ]] || continue
    for pid in $(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null); do
      kill -9 "$pid" 2>/dev/null
    done
  done
  sleep 0.2
  for d in /sys/fs/cgroup/*"$name" /sys/fs/cgroup"$name"; do
    [[ -d $d ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  return 0
}

# kill_tmp_processes: SIGKILL the processes whose command line names the
# temporary folder (conmon, shims, daemons started by this script).
kill_tmp_processes() {
  local pid
  for pid in $(pgrep -f -- "$tmp/" 2>/dev/null); do
    [[ $pid == "$$" ]] || kill -9 "$pid" 2>/dev/null
  done
  return 0
}

# runtime_forget [GLOBAL-FLAGS...]: `WARD_BIN delete --force` of every
# container of the runtime (in its default --root, or the one given) whose
# bundle is in the temporary folder: what the engine failed to delete.
runtime_forget() {
  local id
  for id in $(timeout 5 "$WARD_BIN" "$@" list -q 2>/dev/null); do
    [[ $(timeout 5 "$WARD_BIN" "$@" state "$id" 2>/dev/null) == *"\"$tmp/"* ]] || continue
    echo "$prog: cleanup: $WARD_BIN ${*:+$* }delete --force $id"
    timeout 5 "$WARD_BIN" "$@" delete --force "$id" >/dev/null 2>&1
  done
  return 0
}

# make_rootfs DIR: a busybox root filesystem (static /bin/busybox, a symlink
# per applet, the usual empty directories).
make_rootfs() {
  local dir=$1 a
  mkdir -p "$dir/bin" "$dir"/{dev,proc,sys,tmp,etc,root,run,var} || return 1
  cp "$busybox" "$dir/bin/busybox" || return 1
  for a in $("$busybox" --list); do
    [[ -e $dir/bin/$a ]] || ln -s busybox "$dir/bin/$a"
  done
  echo "root:x:0:0:root:/root:/bin/sh" >"$dir/etc/passwd"
  echo "root:x:0:" >"$dir/etc/group"
}

# make_runtime_wrapper: sets `runtime`, the path the engine is given: WARD_BIN,
# or with WARD_ENGINE_TRACE=1 a wrapper with the same basename (engines decide
# things on the runtime's name) that logs to $tmp/runtime-calls.log.
runtime=
make_runtime_wrapper() {
  runtime=$WARD_BIN
  [[ ${WARD_ENGINE_TRACE:-0} == 1 ]] || return 0
  mkdir -p "$tmp/trace"
  runtime=$tmp/trace/$(basename "$WARD_BIN")
  cat >"$runtime" <<EOF
#!/bin/bash
{ printf '%s %s %s' "\$(date +%T.%N)" "\$\$" "$WARD_BIN"; printf ' %q' "\$@"; echo; } >>"$tmp/runtime-calls.log"
"$WARD_BIN" "\$@"
rc=\$?
echo "\$(date +%T.%N) \$\$ -> exit \$rc" >>"$tmp/runtime-calls.log"
exit \$rc
EOF
  chmod +x "$runtime"
}

show_trace() {
  if [[ -s $tmp/runtime-calls.log ]]; then
    echo "---- runtime command lines ($tmp/runtime-calls.log)"
    cat "$tmp/runtime-calls.log"
  fi
}

# check DESC RC REGEX CMD...: runs CMD (with a timeout, stdin /dev/null); it
# must exit RC and its output (stdout and stderr, CRs removed) must match the
# extended regex REGEX. Otherwise prints what happened and the script's
# diagnostics, counts the failure and returns 1: the script goes on, so one
# run shows every failing check, and `finish` exits 1. The output is left in
# `out`.
#
# Checks come in sections (`section TITLE`). When a check that the rest of
# its section needs fails, `check ... || skip_section REASON` makes the
# section's remaining checks "not run"; `|| skip_all REASON` does that for
# every later section too (nothing can work when the first container does
# not run), so a broken runtime fails in seconds, not in one timeout per
# check.
#
# `known_failure REASON` marks the next check as failing for a known,
# reported reason (an expected failure): its failure is printed as KNOWN
# FAILURE and does not fail the script, and its passing is printed as
# UNEXPECTED PASS and fails it, so that the mark is removed with the fix.
# Marks apply to ward only (WARD_BIN named ward).
# WARD_ENGINE_STRICT=1 counts known failures as failures. `CHECK_TIMEOUT=N
# check ...` gives one check a shorter timeout than WARD_ENGINE_TIMEOUT.
out=
checks=0
failed=()
not_run=0
known=()
known_reason=
# The marks are ward's: with another runtime (runc, for comparison) every
# check must pass.
known_failure() { [[ $(basename "$WARD_BIN") != ward ]] || known_reason=$*; }
skip_reason=
skip_all_reason=
section() {
  skip_reason=$skip_all_reason
  echo
  echo "== $*"
}
skip_section() { skip_reason=$*; }

# cgroup_value PID CONTROLLER V1FILE V2FILE: prints "v1:VALUE" or "v2:VALUE",
# the file of CONTROLLER's cgroup of process PID (from /proc/PID/cgroup) in
# the hierarchy that holds CONTROLLER on this host: a v1 hierarchy whose
# line names it, else the unified one. Read from the host, so a container's
# own view (its cgroup namespace, its /sys/fs/cgroup) does not matter.
cgroup_value() {
  local pid=$1 ctl=$2 f1=$3 f2=$4 line ctrls path mnt
  [[ $pid =~ ^[0-9]+$ ]] || { echo "no pid: '$pid'"; return 1; }
  while IFS= read -r line; do
    ctrls=${line#*:}
    ctrls=${ctrls%%:*}
    path=${line#*:*:}
    if [[ ,$ctrls, == *,$ctl,* ]]; then
      mnt=$(findmnt -rn -t cgroup -o TARGET,OPTIONS | awk -v c="$ctl" '{n=split($2,o,","); for(i=1;i<=n;i++) if(o[i]==c){print $1; exit}}')
      [[ -n $mnt ]] || { echo "no v1 mount for $ctl"; return 1; }
      echo "v1:$(cat "$mnt$path/$f1")"
      return
    fi
  done <"/proc/$pid/cgroup"
  path=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
  mnt=$(findmnt -rn -t cgroup2 -o TARGET | head -n1)
  echo "v2:$(cat "$mnt$path/$f2")"
}
# check runs its command under timeout(1), which cannot run a function: a
# check uses it as `bash -c 'cgroup_value "$@"' _ PID ...`.
export -f cgroup_value
skip_all() {
  skip_all_reason=$*
  skip_reason=$*
}
check() {
  local desc=$1 want_rc=$2 want=$3 rc limit=${CHECK_TIMEOUT:-$step_timeout} xfail=$known_reason
  shift 3
  known_reason=
  [[ ${WARD_ENGINE_STRICT:-0} == 1 ]] && xfail=
  checks=$((checks + 1))
  if [[ -n $skip_reason ]]; then
    echo "-- $desc: not run ($skip_reason)"
    not_run=$((not_run + 1))
    return 1
  fi
  echo "-- $desc"
  echo "   \$ ${*//$tmp/\$tmp}"
  ((deadline - SECONDS < limit)) && limit=$((deadline - SECONDS))
  if ((limit < 1)); then
    echo "FAILED: $desc: not run, out of time (WARD_ENGINE_BUDGET)"
    failed+=("$desc (out of time)")
    return 1
  fi
  # Into a file, not $(...): a process the command leaves behind (a
  # container process, a shim) may hold the output open, and $(...) would
  # wait for it past the timeout.
  timeout -k 5 "$limit" "$@" >"$tmp/out" 2>&1 </dev/null
  rc=$?
  out=$(tr -d '\r' <"$tmp/out")
  if [[ -n $xfail ]] && [[ $rc -ne $want_rc || ! $out =~ $want ]]; then
    echo "   KNOWN FAILURE: exit $rc$([[ $rc -eq 124 ]] && echo " (timed out after ${limit}s)"), output: $(head -c 300 <<<"$out" | tr '\n' '|')"
    echo "   known because: $xfail"
    known+=("$desc: $xfail")
    return 1
  fi
  if [[ -n $xfail ]]; then
    echo "UNEXPECTED PASS: $desc: marked as a known failure ($xfail), but it passes: remove the mark"
    failed+=("$desc (unexpected pass: remove its known_failure mark)")
    return 0
  fi
  if [[ $rc -ne $want_rc ]] || ! [[ $out =~ $want ]]; then
    echo "FAILED: $desc"
    echo "   command: $*"
    echo "   expected: exit $want_rc, output matching /$want/"
    echo "   got: exit $rc$([[ $rc -eq 124 ]] && echo " (timed out after ${limit}s)"), output:"
    sed 's/^/   | /' <<<"$out"
    if [[ $rc -eq 124 ]]; then
      echo "---- processes of this setup still there (the command itself was killed)"
      ps -eo pid,ppid,stat,wchan:24,args | grep -F -- "$tmp/" | grep -v grep | cut -c1-300
    fi
    if declare -F diagnostics >/dev/null; then diagnostics; fi
    [[ ${WARD_ENGINE_TRACE:-0} == 1 ]] ||
      echo "---- (WARD_ENGINE_TRACE=1 records every runtime command line the engine runs)"
    failed+=("$desc")
    return 1
  fi
  echo "   ok: exit $rc, output: $(head -c 300 <<<"$out" | tr '\n' '|')"
}

# finish: the summary line; exits 0 when every check passed, 1 otherwise.
finish() {
  show_trace
  echo
  if [[ ${#known[@]} -gt 0 ]]; then
    echo "$prog: ${#known[@]} known failures (not counted; WARD_ENGINE_STRICT=1 counts them):"
    printf '  - %s\n' "${known[@]}"
  fi
  if [[ ${#failed[@]} -eq 0 && $not_run -eq 0 ]]; then
    echo "$prog: $((checks - ${#known[@]})) of $checks checks passed, ${#known[@]} known failures"
    exit 0
  fi
  echo "$prog: of $checks checks, $((checks - ${#failed[@]} - not_run - ${#known[@]})) passed," \
    "${#failed[@]} FAILED, $not_run not run (after a failure they needed), ${#known[@]} known failures:"
  printf '  - %s\n' "${failed[@]}"
  exit 1
}
