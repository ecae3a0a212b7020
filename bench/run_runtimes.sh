#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `ward run` against `runc run` and `crun run`, side by side: one busybox
# bundle, /bin/true, many runs of each in alternation, plus a bare spawn of
# /bin/true as the floor and each runtime's peak RSS (bench/runtimes.py).
#
#   bench/run_runtimes.sh
#
# Environment:
#   WARD       the ward binary to measure; if unset, ward is built (Release)
#              in BUILD_DIR (default: build-bench) and build-bench/bin/ward used
#   BUILD_DIR  build directory for that (default: <repo>/build-bench)
#   JOBS       parallel compile jobs (default: 2)
#   ROUNDS     rounds of the alternating loop (default: 300); each round runs
#              every runtime and both floors once, in a shuffled order
#   RSS_ROUNDS rounds of the peak-RSS loop, the same under /usr/bin/time
#              (default: 30)
#   HYPERFINE_ROUNDS  rounds of the hyperfine cross-check (default: 3; 0: off):
#              each round runs `hyperfine -N` on ward, runc and crun in turn
#   KEEP=1     keep the temporary directory (bundle, --root dirs, stderr logs)
#   TMPBASE    where that directory is made (default: /dev/shm, a tmpfs)
#   WARD_BASELINE  another ward binary, run in every round of the loop too
#              (`ward run`, baseline binary): the effect of a change
# Results: printed (Markdown tables), and JSON in bench/results/ (not in git).
# Installs with apt-get, quietly and only if missing: runc crun hyperfine
# busybox-static (and time). Run as root, on an idle machine if you can:
# other CPU work shows in the spread (the load average and the busy processes
# seen are printed with the results). No SCHED_FIFO option: runc cannot put a
# realtime task into the cpu cgroup it makes on a cgroup-v1 host
# (cgroup.procs: EINVAL, no cpu.rt_runtime_us).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ $(id -u) -ne 0 ]]; then
  echo "run_runtimes.sh: needs root (runc, crun and ward run rootful containers)" >&2
  exit 1
fi

# ---- tools
missing=()
command -v runc >/dev/null || missing+=(runc)
command -v crun >/dev/null || missing+=(crun)
command -v hyperfine >/dev/null || missing+=(hyperfine)
dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
[[ -x /usr/bin/time ]] || missing+=(time)
if ((${#missing[@]})); then
  echo "installing ${missing[*]} (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null; }
fi
busybox=/bin/busybox
[[ -x $busybox ]] || busybox=$(command -v busybox)
if ldd "$busybox" >/dev/null 2>&1; then
  echo "run_runtimes.sh: $busybox is not static (package busybox-static)" >&2
  exit 1
fi

# ---- ward
if [[ -z ${WARD:-} ]]; then
  build=${BUILD_DIR:-$root/build-bench}
  if [[ ! -f $build/CMakeCache.txt ]]; then
    gen=()
    command -v ninja >/dev/null && gen=(-G Ninja)
    cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
      -DWARD_BUILD_TESTS=OFF -DWARD_BUILD_BENCHMARKS=OFF >/dev/null
  fi
  echo "building ward (Release) in $build" >&2
  cmake --build "$build" --target ward_runtime -j"${JOBS:-2}" >/dev/null
  WARD=$build/bin/ward
fi
WARD=$(realpath "$WARD")

# ---- the bundle: static busybox, its applets as symlinks, `ward spec`
# The bundle and the three --root directories: on a tmpfs, as /run (every
# runtime's default root) is on a usual Linux host. On this project's VMs /run
# and /tmp are ext4 mounted with `discard`, where removing a directory (each
# runtime removes its container's state directory) waits for a synchronous
# discard: 0.15-0.2 ms on an idle machine, several ms under load.
tmpbase=${TMPBASE:-/dev/shm}
tmp=$(mktemp -d "$tmpbase/ward-runtimes.XXXXXX")
cleanup() {
  if [[ ${KEEP:-0} == 1 ]]; then
    echo "kept $tmp" >&2
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT
bundle=$tmp/bundle
mkdir -p "$bundle/rootfs/bin"
cp "$busybox" "$bundle/rootfs/bin/busybox"
for applet in $("$busybox" --list); do
  [[ $applet == busybox ]] || ln -s busybox "$bundle/rootfs/bin/$applet"
done
"$WARD" spec --bundle "$bundle"
# The container runs /bin/true (busybox's applet) without a terminal; all
# else is ward spec's, and all three runtimes read this same file. But
# ociVersion: crun 1.8.1 refuses any version without "1.0" in it ("unknown
# version specified"), and ward spec writes the newest it knows (1.2.x).
python3 - "$bundle/config.json" <<'EOF'
import json, sys
path = sys.argv[1]
with open(path) as f:
    c = json.load(f)
c["ociVersion"] = "1.0.2"
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
with open(path, "w") as f:
    json.dump(c, f, indent=4)
EOF

# ---- they all accept it
crun_ns=(unshare -m -C sh -c 'mount -t cgroup2 none /sys/fs/cgroup && exec "$@"' crun-ns)
"$WARD" --root "$tmp/check-ward" run --bundle "$bundle" check-ward
runc --root "$tmp/check-runc" run --bundle "$bundle" check-runc
"${crun_ns[@]}" crun --root "$tmp/check-crun" --cgroup-manager=disabled run --bundle "$bundle" \
  check-crun
echo "ward, runc and crun each ran the bundle's /bin/true (exit 0)" >&2

mkdir -p "$root/bench/results"
[[ -f $root/bench/results/.gitignore ]] || printf '*\n!.gitignore\n' >"$root/bench/results/.gitignore"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$root/bench/results/runtimes-$stamp.json

echo "## $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, kernel $(uname -r)"
echo "ward: $WARD ($("$WARD" --version | head -1)); $(runc --version | head -1); $(crun --version | head -1)"
echo "bundle and --root directories under $tmp ($(stat -f -c %T "$tmp"))"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
baseline=()
[[ -n ${WARD_BASELINE:-} ]] && baseline=(--ward-baseline "$(realpath "$WARD_BASELINE")")
python3 "$root/bench/runtimes.py" --ward "$WARD" --bundle "$bundle" --tmp "$tmp" \
  --rounds "${ROUNDS:-300}" --rss-rounds "${RSS_ROUNDS:-30}" --out "$out" "${baseline[@]}"
echo
echo "JSON: $out"

# ---- cross-check with hyperfine: rounds of `hyperfine -N`, one runtime after
# the other (crun's hyperfine runs inside crun's mount namespace, so crun is
# exec'd directly there too). Each invocation reuses one container id: `run`
# removes the container when it ends.
hf_rounds=${HYPERFINE_ROUNDS:-3}
if ((hf_rounds > 0)); then
  echo
  echo "hyperfine -N --warmup 3 --runs 40, $hf_rounds rounds (median ms per round):"
  hf() {  # name, then the command as one string
    local name=$1 cmd=$2 json=$tmp/hf-$1-$r.json
    shift 2
    "$@" hyperfine -N --warmup 3 --runs 40 --style none --export-json "$json" "$cmd" \
      >/dev/null 2>"$tmp/hf-$name-$r.err" || { cat "$tmp/hf-$name-$r.err" >&2; return 1; }
    python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["results"][0]["median"]*1e3, 2))' "$json"
  }
  printf '| round | ward | runc | crun | runc/ward | crun/ward |\n|---|---:|---:|---:|---:|---:|\n'
  for ((r = 1; r <= hf_rounds; r++)); do
    w=$(hf ward "$WARD --root $tmp/hf-ward run --bundle $bundle hf-ward-$r")
    rc=$(hf runc "runc --root $tmp/hf-runc run --bundle $bundle hf-runc-$r")
    cr=$(hf crun "crun --root $tmp/hf-crun --cgroup-manager=disabled run --bundle $bundle hf-crun-$r" \
      "${crun_ns[@]}")
    python3 -c 'import sys; r,w,rc,cr=sys.argv[1:]; w,rc,cr=map(float,(w,rc,cr)); print(f"| {r} | {w:.2f} | {rc:.2f} | {cr:.2f} | {rc/w:.2f} | {cr/w:.2f} |")' \
      "$r" "$w" "$rc" "$cr"
  done
fi
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
