#!/usr/bin/env bash
# Compile time of a one-line Sandbox program (issue #12): for each include
# directory given (default: this tree's include/), the lines the preprocessor
# produces and the median of N (default 5) wall-clock compile+link times with
# g++ and clang++ at -std=c++20 -O2. Runs are interleaved across the
# directories so a busy machine slows them alike; CPU time (user+sys of the
# compiler and linker) is reported beside wall time, as it is the steadier of
# the two on a loaded machine. "ward lines" are the preprocessed lines that
# come from ward's own headers.
#   bash bench/compile_time.sh [-n N] [INCLUDE_DIR...]
# Before/after: git archive <commit> include | tar -x -C /tmp/old; then
#   bash bench/compile_time.sh /tmp/old/include include
set -euo pipefail
n=5
if [[ ${1:-} == -n ]]; then n=$2; shift 2; fi
here=$(cd "$(dirname "$0")/.." && pwd)
dirs=("$@")
[[ ${#dirs[@]} -gt 0 ]] || dirs=("$here/include")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/one.cpp" <<'CPP'
#include <ward/ward.hpp>
int main() { return ward::Sandbox({"/bin/true"}).spawn().wait().exit_code(); }
CPP
for cxx in g++ clang++; do
  declare -A times=() cpu=()
  for ((i = 0; i < n; i++)); do
    for d in "${dirs[@]}"; do
      s=$(date +%s%N)
      c=$( { /usr/bin/time -f '%U %S' "$cxx" -std=c++20 -O2 -I"$d" "$tmp/one.cpp" -o "$tmp/one"; } 2>&1 | tail -1)
      e=$(date +%s%N)
      times[$d]+="$(((e - s) / 1000000)) "
      cpu[$d]+="$(awk '{printf "%d", ($1 + $2) * 1000}' <<<"$c") "
    done
  done
  for d in "${dirs[@]}"; do
    "$cxx" -std=c++20 -O2 -I"$d" -E "$tmp/one.cpp" >"$tmp/one.i"
    lines=$(wc -l <"$tmp/one.i")
    # Line markers (# N "file") say whose text follows.
    own=$(awk -v d="$d/ward/" '/^# [0-9]+ "/ { f = (index($3, d) == 2); next } f { n++ } END { print n + 0 }' "$tmp/one.i")
    # shellcheck disable=SC2086  # lists of numbers
    med=$(printf '%s\n' ${times[$d]} | sort -n | sed -n "$(((n + 1) / 2))p")
    # shellcheck disable=SC2086
    cmed=$(printf '%s\n' ${cpu[$d]} | sort -n | sed -n "$(((n + 1) / 2))p")
    printf '%-8s %s\n  %d lines (%d ward lines)  median wall %d ms, cpu %d ms  (wall: %s; cpu: %s)\n' \
      "$cxx" "$d" "$lines" "$own" "$med" "$cmed" "${times[$d]% }" "${cpu[$d]% }"
  done
  unset times cpu
done
