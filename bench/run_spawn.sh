#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Run the spawn benchmarks (bench/spawn.cpp) with repetitions, keep the JSON
# in bench/results/ (not in git), and print the medians and target ratios.
#
#   bench/run_spawn.sh [extra Google Benchmark flags...]
#
# Environment: BUILD_DIR (default: build), REPS (default: 5), OUT (default:
# bench/results/spawn-<UTC date and time>.json), WARD_BENCH_SETTLE_MS (pause
# after making a parent's memory resident, default 3000), RT=1 (run under
# `chrt -f 10`: SCHED_FIFO shields the measurement from other CPU-bound
# work on a shared machine; it does not change the kernel paths measured).
# Run as root: the namespace benchmarks skip otherwise.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build}
bin=$build/bin/ward_bench_spawn
reps=${REPS:-5}

if [[ ! -x $bin || ! -x $build/bin/ward_static_true ]]; then
  if [[ -f $build/CMakeCache.txt ]]; then
    echo "building ward_bench_spawn in $build" >&2
    cmake --build "$build" --target ward_bench_spawn ward_static_true -j"$(nproc)"
  else
    cat >&2 <<EOF
$bin is missing. Configure and build first, e.g.:
  cmake -S $root -B $build -DCMAKE_BUILD_TYPE=RelWithDebInfo
  cmake --build $build --target ward_bench_spawn ward_static_true -j\$(nproc)
EOF
    exit 1
  fi
fi

mkdir -p "$root/bench/results"
[[ -f $root/bench/results/.gitignore ]] || printf '*\n!.gitignore\n' >"$root/bench/results/.gitignore"
out=${OUT:-$root/bench/results/spawn-$(date -u +%Y%m%dT%H%M%SZ).json}

if [[ $(id -u) -ne 0 ]]; then
  echo "note: not root; the namespace benchmarks will be skipped" >&2
fi
echo "kernel $(uname -r), $(nproc) CPUs; writing $out" >&2

prefix=()
sched=other
if [[ ${RT:-0} == 1 ]]; then
  prefix=(chrt -f 10)
  sched=fifo10
fi
"${prefix[@]}" "$bin" \
  --benchmark_repetitions="$reps" \
  --benchmark_report_aggregates_only=true \
  --benchmark_out="$out" \
  --benchmark_out_format=json \
  --benchmark_context=kernel="$(uname -r)" \
  --benchmark_context=sched="$sched" \
  --benchmark_context=loadavg_start="$(cut -d' ' -f1-3 /proc/loadavg)" \
  "$@"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

echo
python3 "$root/bench/ratios.py" "$out"
