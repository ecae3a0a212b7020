#!/usr/bin/env bash
# Quick start, command 1: install dependencies, build ward (Release, g++,
# Ninja) into build/, run the library demo, build/bin/ward-demo, and a busybox
# container through the OCI runtime, build/bin/ward. It builds only those two
# programs (two targets, about a minute on two cores), so the demo shows as soon
# as they exist; the tests and benchmarks are scripts/test.sh's business.
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
echo "== build (ward-demo and the runtime only)"
cmake --build build -j2 --target ward-demo ward_runtime

if [[ ! -x build/bin/ward-demo ]]; then
  echo "demo.sh: build/bin/ward-demo was not built (is examples/ward-demo.cpp there?)" >&2
  exit 1
fi
echo "== build/bin/ward-demo $*"
build/bin/ward-demo "$@"

# A real container through the OCI runtime, build/bin/ward, as an engine
# would run it: a busybox rootfs, `ward spec`'s config, `ward run`.
bundle=$(mktemp -d /tmp/ward-demo-bundle.XXXXXX)
state=$(mktemp -d /tmp/ward-demo-state.XXXXXX)
trap 'rm -rf --one-file-system "$bundle" "$state"' EXIT
busybox=$(command -v busybox)
mkdir -p "$bundle/rootfs/bin"
cp "$busybox" "$bundle/rootfs/bin/busybox"
for applet in sh ls cat id hostname ps grep head; do ln -s busybox "$bundle/rootfs/bin/$applet"; done
build/bin/ward spec --bundle "$bundle"
python3 - "$bundle/config.json" <<'PY'
import json, sys
path = sys.argv[1]
cfg = json.load(open(path))
cfg["process"]["terminal"] = False
cfg["process"]["args"] = ["sh", "-c",
    "echo \"hostname: $(hostname)\"; echo \"my pid:   $$\"; id; "
    "echo \"/:        $(ls / | tr '\\n' ' ')\"; grep -E '^Cap(Eff|Bnd)' /proc/self/status; "
    "echo processes:; ps; "
    "echo \"writing /: $(touch /x 2>&1 || true)\""]
json.dump(cfg, open(path, "w"), indent=2)
PY
echo "== build/bin/ward run (a busybox container: own namespaces, pivot_root, read-only root, 3 capabilities)"
build/bin/ward --root "$state" run --bundle "$bundle" ward-demo-$$
