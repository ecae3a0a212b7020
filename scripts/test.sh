#!/usr/bin/env bash
# Quick start, command 2 (and what CI runs through .ci/run): installs
# dependencies, then builds and tests ward three ways:
#   build/        g++,     RelWithDebInfo, -Werror, benchmarks too
#   build-clang/  clang++, RelWithDebInfo, -Werror
#   build-asan/   clang++, Debug, -fsanitize=address,undefined
# Each runs every test of the tiers in WARD_TEST_LABELS with ctest. The last
# line of output is exactly
#   ward: N passed, N failed, N skipped
# summed over the three builds. Exit status is non-zero if anything failed.
#
# Environment:
#   WARD_TEST_LABELS  tiers to run (default "unit root rootless attack vm")
#   WARD_VM_BUILDS    builds that run the vm tier (default "gcc")
#   WARD_JOBS         parallelism of builds and ctest (default 2)
#   WARD_BUILDS       subset of builds to run (default "gcc clang asan")
#
# The vm tier (one test, vm.root_and_vm_tiers) boots a cgroup-v2-only kernel
# under qemu/TCG (scripts/vm-run.sh) and runs the root and vmonly tiers of that
# build inside it. It runs only in the builds named in WARD_VM_BUILDS, by
# default the first (gcc) build: TCG is slow and keeps both cores busy, and
# the clang/asan builds add little for what the VM checks (kernel behaviour,
# not compiler behaviour), so they would only add CI time. When no selected
# build runs it, deps.sh is not asked for qemu.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
root=$(pwd)

labels=${WARD_TEST_LABELS:-"unit root rootless attack vm"}
vm_builds=${WARD_VM_BUILDS:-gcc}
jobs=${WARD_JOBS:-2}
builds=${WARD_BUILDS:-"gcc clang asan"}

# labels_for <build>: the tiers that build runs (vm only in WARD_VM_BUILDS).
labels_for() {
  local l out=()
  for l in $labels; do
    if [[ $l == vm && " $vm_builds " != *" $1 "* ]]; then continue; fi
    out+=("$l")
  done
  echo "${out[*]}"
}
# label_regex_for <labels...>: ctest -L takes a regex; anchor it so label
# "root" does not also select "rootless" (nor "vm" select "vmonly").
label_regex_for() { echo "^($(IFS='|'; echo "$*"))\$"; }

total_passed=0 total_failed=0 total_skipped=0
problems=()
digest=$(mktemp)
trap 'rm -f "$digest"' EXIT
start_all=$SECONDS

section() {
  echo
  echo "================================================================================"
  echo "== $*"
  echo "================================================================================"
}

# junit_report <build> <junit.xml>: prints "passed failed skipped", and
# appends to $digest, for each failed test, its name and the part of its
# output that says why. The summary prints the digest last, so whoever reads
# only the tail of a long CI log still sees the cause. For the vm tier (one
# test wrapping a whole ctest run in the VM), that is the inner run's failing
# tests and the output printed with each of them.
junit_report() {
  python3 - "$1" "$2" "$digest" <<'PY'
import re
import sys
import xml.etree.ElementTree as ET
build, path, digest = sys.argv[1], sys.argv[2], sys.argv[3]
MAX = 80  # lines per failed test
passed = failed = skipped = 0
with open(digest, "a") as why:
    for tc in ET.parse(path).getroot().iter("testcase"):
        status = tc.get("status")
        skip = tc.find("skipped")
        if status == "run":
            passed += 1
            continue
        if status == "disabled" or (
                status == "notrun" and skip is not None
                and skip.get("message", "").startswith("SKIP_")):
            skipped += 1  # WARD_SKIP (SKIP_REGULAR_EXPRESSION_MATCHED) or disabled
            continue
        failed += 1  # failed, timed out, crashed, or could not run at all
        out = (tc.findtext("system-out") or "").splitlines()
        print(f"--- {build}: {tc.get('name')} ({status})", file=why)
        bad = [i for i, l in enumerate(out)
               if re.search(r"\*\*\*(Failed|Timeout|Exception)|Not Run", l)]
        if bad:
            # A wrapped ctest run: each failing inner test and what followed
            # it up to the next test result line.
            shown = []
            for i in bad:
                j = i + 1
                while j < len(out) and not re.match(r"\s*\d+/\d+ Test +#", out[j]):
                    j += 1
                shown += out[i:j]
            out = shown
        if len(out) > MAX:
            print(f"    ({len(out) - MAX} earlier lines left out)", file=why)
            out = out[-MAX:]
        for line in out:
            print("    " + line, file=why)
print(passed, failed, skipped)
PY
}

# host_state: every cgroup directory of every hierarchy and every mount point
# of the host's mount namespace, one per line, sorted. The tests leave both
# as they found them: each build's ctest runs between two of these readings,
# and a line only the second has fails that build ("left behind"), so a test
# or a ward code path that leaks a cgroup or a mount fails here instead of
# filling the machine. (A refused Cgroups::create once left a set of cgroups
# per run: test "cgroups: a leftover whose processes sit in a child cgroup is
# never taken over".) Nothing else may make cgroups or mounts on the host
# while the tests run, except a service manager in its own cgroups, which
# come and go with logins and jobs and are left out: systemd's units
# (*.slice, *.scope, *.service; it removes an emptied scope itself) and the
# job cgroups of the agent of this project's CI machines (/process_api/).
# Mount points are kept as often as they are listed (no -u), so a mount
# stacked on an existing mount point counts too.
host_state() {
  {
    find /sys/fs/cgroup -mindepth 1 -type d 2>/dev/null |
      grep -Ev '/[^/]+[.](slice|scope|service)(/|$)|/process_api(/|$)' | sed 's/^/cgroup /'
    awk '{print "mount " $5}' /proc/self/mountinfo
  } | LC_ALL=C sort
}
# run_build <name> <dir> <cmake args...>
run_build() {
  local name=$1 dir=$2
  shift 2
  local start=$SECONDS
  local build_labels label_regex
  build_labels=$(labels_for "$name")
  # shellcheck disable=SC2086
  label_regex=$(label_regex_for $build_labels)
  section "$name: $dir ($*)"

  # Ninja for new build trees; an existing tree keeps its generator (CMake
  # refuses to switch generators in place).
  local gen=(-G Ninja)
  if [[ -f $dir/CMakeCache.txt ]]; then
    local old_gen
    old_gen=$(sed -n 's/^CMAKE_GENERATOR:INTERNAL=//p' "$dir/CMakeCache.txt")
    if [[ -n $old_gen && $old_gen != Ninja ]]; then
      echo "-- $name: note: $dir was configured with '$old_gen'; keeping it"
      gen=()
    fi
  fi
  if ! cmake -S "$root" -B "$dir" "${gen[@]}" "$@"; then
    problems+=("$name: configure failed")
    total_failed=$((total_failed + 1))
    return
  fi
  echo "-- $name: build"
  if ! cmake --build "$dir" -j "$jobs"; then
    problems+=("$name: build failed")
    total_failed=$((total_failed + 1))
    return
  fi

  if [[ -z $build_labels ]]; then
    echo "-- $name: no tiers selected for this build (WARD_TEST_LABELS='$labels'); nothing to run"
    return
  fi
  local junit="$root/$dir/ctest-junit.xml"
  rm -f "$junit"
  echo "-- $name: ctest -L '$label_regex'"
  local not_selected
  not_selected=$(ctest --test-dir "$dir" -N -LE "$label_regex" | sed -n 's/^Total Tests: //p')
  if [[ ${not_selected:-0} != 0 ]]; then
    echo "-- $name: note: $not_selected tests carry none of the labels '$build_labels' and are not run"
  fi
  local before after left
  before=$(host_state)
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" --no-tests=error \
    -L "$label_regex" --output-junit "$junit"
  local rc=$?
  after=$(host_state)
  left=$(LC_ALL=C comm -13 <(echo "$before") <(echo "$after"))

  local p=0 f=0 s=0
  if [[ -f $junit ]]; then
    read -r p f s < <(junit_report "$name" "$junit") || { p=0 f=0 s=0; }
  fi
  if [[ $rc -ne 0 && $f -eq 0 ]]; then
    f=1  # ctest failed without a failing test (no tests found, crash, ...)
    problems+=("$name: ctest exited $rc")
  elif [[ $f -ne 0 ]]; then
    problems+=("$name: $f tests failed")
  fi
  if [[ -n $left ]]; then
    echo "-- $name: its tests left behind on the host:"
    printf '     %s\n' "${left//$'\n'/$'\n     '}"
    {
      echo "--- $name: left behind on the host by its tests (cgroup directories, mount points):"
      head -40 <<<"$left" | while IFS= read -r l; do echo "    $l"; done
    } >>"$digest"
    problems+=("$name: its tests left $(echo "$left" | wc -l) cgroup(s)/mount(s) behind")
    f=$((f + 1))
  fi
  total_passed=$((total_passed + p))
  total_failed=$((total_failed + f))
  total_skipped=$((total_skipped + s))
  echo "-- $name: $p passed, $f failed, $s skipped ($((SECONDS - start)) s)"
}

section "dependencies"
deps_args=()
for b in $builds; do
  [[ " $(labels_for "$b") " == *" vm "* ]] && deps_args=(--vm)  # qemu, cpio, busybox-static
done
if ! bash scripts/deps.sh "${deps_args[@]}"; then
  echo "ward: 0 passed, 1 failed, 0 skipped"
  exit 1
fi

for b in $builds; do
  case $b in
    gcc)
      run_build gcc build \
        -DCMAKE_CXX_COMPILER=g++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DWARD_WERROR=ON -DWARD_SANITIZE= \
        -DWARD_BUILD_TESTS=ON -DWARD_BUILD_EXAMPLES=ON -DWARD_BUILD_BENCHMARKS=ON ;;
    clang)
      run_build clang build-clang \
        -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DWARD_WERROR=ON -DWARD_SANITIZE= \
        -DWARD_BUILD_TESTS=ON -DWARD_BUILD_EXAMPLES=ON -DWARD_BUILD_BENCHMARKS=OFF ;;
    asan)
      # Sanitizer reports are fatal (-fno-sanitize-recover=all), with stacks.
      UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
      ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:check_initialization_order=1} \
      run_build asan build-asan \
        -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug \
        -DWARD_WERROR=OFF -DWARD_SANITIZE=address,undefined \
        -DWARD_BUILD_TESTS=ON -DWARD_BUILD_EXAMPLES=ON -DWARD_BUILD_BENCHMARKS=OFF ;;
    *)
      problems+=("unknown build '$b' in WARD_BUILDS")
      total_failed=$((total_failed + 1)) ;;
  esac
done

section "summary ($((SECONDS - start_all)) s)"
if [[ -s $digest ]]; then
  echo "Why they failed (the output of each failed test, shortened):"
  cat "$digest"
  echo
fi
for p in "${problems[@]}"; do echo "FAILED: $p"; done
echo "ward: $total_passed passed, $total_failed failed, $total_skipped skipped"
[[ $total_failed -eq 0 ]]
