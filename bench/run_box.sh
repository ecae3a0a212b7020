#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ward-box against bubblewrap and firejail doing the same work, side by side
# (issue #16): /bin/true in new user, pid, mount, net, ipc and uts
# namespaces with the host's /usr and /etc read-only, /bin /lib* as the host
# has them, its own /proc, a read-only /sys, a /dev, a private /tmp and no
# network, many runs of each in alternation (a shuffled order every round),
# plus a bare spawn of /bin/true as the floor.
#
#   bench/run_box.sh
#
# Environment:
#   WARD_BOX   the ward-box binary; if unset, built (Release) in BUILD_DIR
#              (default: <repo>/build-bench) and BUILD_DIR/bin/ward-box used
#   ROUNDS     rounds (default: 300; firejail, ~50 ms a run, every 5th round)
#   AS_USER    a uid to run ward-box and bwrap as (setpriv), e.g. 65534:
#              the unprivileged case (firejail is set-user-ID root anyway)
# Installs with apt-get, quietly and only if missing: bubblewrap firejail.
# Prints a Markdown table (median, p10, p90 in microseconds, and each
# tool's median over ward-box's). Run as root on an idle machine if you
# can: the load average is printed with the results.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ $(id -u) -ne 0 ]]; then
  echo "run_box.sh: run as root (it installs packages; AS_USER measures an unprivileged caller)" >&2
  exit 1
fi
missing=()
command -v bwrap >/dev/null || missing+=(bubblewrap)
command -v firejail >/dev/null || missing+=(firejail)
if ((${#missing[@]})); then
  echo "installing ${missing[*]} (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null; }
fi

if [[ -z ${WARD_BOX:-} ]]; then
  build=${BUILD_DIR:-$root/build-bench}
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DWARD_BUILD_TESTS=OFF \
    -DWARD_BUILD_EXAMPLES=ON -DWARD_BUILD_BENCHMARKS=OFF >/dev/null
  cmake --build "$build" -j "${JOBS:-2}" --target ward-box >/dev/null
  WARD_BOX=$build/bin/ward-box
fi
# The kernel's part alone (bench/ns_floor.cpp): the same namespaces and an
# exec, no setup.
floor_bin=${BUILD_DIR:-$root/build-bench}/ward_ns_floor
mkdir -p "$(dirname "$floor_bin")"
"${CXX:-c++}" -std=c++20 -O2 -static "$root/bench/ns_floor.cpp" -o "$floor_bin"

# /bin, /sbin, /lib*: symlinks where the host has them (merged /usr), binds
# otherwise, as ward-box does.
links=()
for top in /bin /sbin /lib /lib32 /lib64 /libx32; do
  if [[ -L $top ]]; then
    links+=(--symlink "$(readlink "$top")" "$top")
  elif [[ -d $top ]]; then
    links+=(--ro-bind "$top" "$top")
  fi
done

export WARD_BOX WARD_NS_FLOOR=$floor_bin ROUNDS=${ROUNDS:-300} AS_USER=${AS_USER:-}
export BWRAP_ARGS="--unshare-user --unshare-pid --unshare-net --unshare-ipc --unshare-uts \
--ro-bind /usr /usr ${links[*]} --ro-bind /etc /etc --proc /proc --ro-bind /sys /sys --dev /dev \
--tmpfs /tmp --cap-drop ALL --die-with-parent --new-session"
exec python3 - <<'EOF'
import os, random, shlex, statistics, subprocess, time

rounds = int(os.environ["ROUNDS"])
user = os.environ["AS_USER"]
as_user = (["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", "--"]
           if user else [])
tools = {
    "ward-box": as_user + [os.environ["WARD_BOX"], "--", "/bin/true"],
    "bwrap": as_user + ["bwrap"] + shlex.split(os.environ["BWRAP_ARGS"]) + ["/bin/true"],
    "firejail": ["firejail", "--quiet", "--noprofile", "--noroot", "--net=none", "--private-tmp",
                 "--private-dev", "--read-only=/", "--caps.drop=all", "--nonewprivs",
                 "--seccomp", "/bin/true"],
    "namespaces alone (ward_ns_floor)": as_user + [os.environ["WARD_NS_FLOOR"], "/bin/true"],
    "/bin/true (floor)": as_user + ["/bin/true"],
}
for name, argv in tools.items():  # each must work before it is timed
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise SystemExit(f"{name} failed ({r.returncode}): {r.stderr.decode()[-500:]}")
times = {n: [] for n in tools}
for i in range(rounds):
    order = [n for n in tools if n != "firejail" or i % 5 == 0]
    random.shuffle(order)
    for n in order:
        t0 = time.perf_counter_ns()
        subprocess.run(tools[n], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times[n].append((time.perf_counter_ns() - t0) / 1000)
base = statistics.median(times["ward-box"])
print(f"ward-box against bubblewrap and firejail: /bin/true, {rounds} rounds"
      f"{', as uid ' + user if user else ', as root'}; load average {os.getloadavg()[0]:.2f}")
print()
print("| tool | runs | median us | p10 | p90 | median / ward-box |")
print("|---|---|---|---|---|---|")
for n, ts in times.items():
    q = statistics.quantiles(ts, n=10)
    m = statistics.median(ts)
    print(f"| {n} | {len(ts)} | {m:.0f} | {q[0]:.0f} | {q[-1]:.0f} | {m / base:.2f} |")
EOF
