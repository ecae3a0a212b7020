#!/usr/bin/env bash
# Quick start, command 1: install dependencies, build ward (Release, g++,
# Ninja) into build/, and run the demo, build/bin/ward-demo.
#   bash scripts/demo.sh [ward-demo arguments...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/deps.sh

echo "== configure build/ (Release, g++, Ninja)"
gen=(-G Ninja)  # an existing build/ keeps its generator (CMake cannot switch in place)
if [[ -f build/CMakeCache.txt ]] && ! grep -qx 'CMAKE_GENERATOR:INTERNAL=Ninja' build/CMakeCache.txt; then
  gen=()
fi
cmake -S . -B build "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ \
  -DWARD_WERROR=OFF -DWARD_SANITIZE= -DWARD_BUILD_TESTS=ON -DWARD_BUILD_BENCHMARKS=ON \
  -DWARD_BUILD_EXAMPLES=ON
echo "== build"
cmake --build build -j2

if [[ ! -x build/bin/ward-demo ]]; then
  echo "demo.sh: build/bin/ward-demo was not built (is examples/ward-demo.cpp there?)" >&2
  exit 1
fi
echo "== build/bin/ward-demo $*"
exec build/bin/ward-demo "$@"
