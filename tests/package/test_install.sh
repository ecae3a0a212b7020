#!/usr/bin/env bash
# Packaging test (ctest: package.install_consumer, label unit).
#
# 1. Configures a fresh build of the ward source tree (tests, benches and
#    examples off) and installs it into a scratch prefix with
#    `cmake --install --prefix` (not the configure-time prefix).
# 2. Builds tests/package/consumer with find_package(ward CONFIG REQUIRED)
#    against that prefix, and runs it.
# 3. Builds the same main.cpp with `c++ -std=c++20 $(pkg-config --cflags ward)`
#    and runs it. Without pkg-config this half prints "WARD-SKIP: ..." and
#    exits 77, which ctest counts as skipped (SKIP_RETURN_CODE 77).
#
# Usage: test_install.sh [--cmake CMAKE] [--cxx CXX] [--generator GEN]
# $PKG_CONFIG overrides the pkg-config binary.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
cmake=cmake
cxx=${CXX:-c++}
generator=
while [[ $# -gt 0 ]]; do
  case $1 in
    --cmake) cmake=$2; shift 2 ;;
    --cxx) cxx=$2; shift 2 ;;
    --generator) generator=$2; shift 2 ;;
    *) echo "test_install.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done
gen_args=()
[[ -n $generator ]] && gen_args=(-G "$generator")

expected=$(sed -n 's/^#define WARD_VERSION_STRING "\(.*\)"$/\1/p' "$src/include/ward/version.hpp")
[[ -n $expected ]] || { echo "cannot read WARD_VERSION_STRING from version.hpp" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ward-package.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

check_output() {  # check_output <what> <binary>
  local out
  out=$("$2")
  echo "$1 printed: $out"
  if [[ $out != "ward $expected" ]]; then
    echo "FAIL: $1 printed '$out', expected 'ward $expected'" >&2
    exit 1
  fi
}

echo "== install ward $expected from $src into $prefix"
"$cmake" -S "$src" -B "$tmp/ward-build" "${gen_args[@]}" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_INSTALL_PREFIX=/nonexistent/configure-time-prefix \
  -DWARD_BUILD_TESTS=OFF -DWARD_BUILD_BENCHMARKS=OFF -DWARD_BUILD_EXAMPLES=OFF >"$tmp/configure.log" ||
  { cat "$tmp/configure.log"; exit 1; }
# Installed with --prefix, unlike the configure-time prefix above: the
# package files must not depend on CMAKE_INSTALL_PREFIX at configure time.
"$cmake" --install "$tmp/ward-build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; exit 1; }
for f in include/ward/ward.hpp include/ward/version.hpp include/ward/oci.hpp include/ward/oci/json.hpp \
         share/cmake/ward/wardConfig.cmake share/cmake/ward/wardConfigVersion.cmake \
         share/cmake/ward/wardTargets.cmake share/pkgconfig/ward.pc; do
  [[ -f $prefix/$f ]] || { echo "FAIL: $f was not installed" >&2; cat "$tmp/install.log"; exit 1; }
done
if [[ -e $prefix/single_include || -e $prefix/include/single_include ]]; then
  echo "FAIL: single_include/ was installed" >&2; exit 1
fi
if grep -rq configure-time-prefix "$prefix"; then
  echo "FAIL: installed files refer to the configure-time prefix:" >&2
  grep -rl configure-time-prefix "$prefix" >&2
  exit 1
fi
echo "installed $(find "$prefix" -type f | wc -l) files"

echo "== CMake consumer: find_package(ward CONFIG REQUIRED) with CMAKE_PREFIX_PATH=$prefix"
"$cmake" -S "$here/consumer" -B "$tmp/consumer-build" "${gen_args[@]}" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF
found_dir=$(sed -n 's/^ward_DIR:PATH=//p' "$tmp/consumer-build/CMakeCache.txt")
if [[ $found_dir != "$prefix/share/cmake/ward" ]]; then
  echo "FAIL: the consumer found ward in '$found_dir', not in $prefix/share/cmake/ward" >&2
  exit 1
fi
"$cmake" --build "$tmp/consumer-build"
check_output "CMake consumer" "$tmp/consumer-build/ward_consumer"

echo "== pkg-config consumer: $cxx -std=c++20 \$(pkg-config --cflags ward) main.cpp"
pkg_config=${PKG_CONFIG:-pkg-config}
if ! command -v "$pkg_config" >/dev/null 2>&1; then
  echo "WARD-SKIP: pkg-config missing (the CMake half passed)"
  exit 77  # ctest: SKIP_RETURN_CODE 77
fi
cflags=$(PKG_CONFIG_PATH="$prefix/share/pkgconfig" "$pkg_config" --cflags ward)
echo "pkg-config --cflags ward: $cflags"
pc_version=$(PKG_CONFIG_PATH="$prefix/share/pkgconfig" "$pkg_config" --modversion ward)
[[ $pc_version == "$expected" ]] || { echo "FAIL: ward.pc says version $pc_version" >&2; exit 1; }
# shellcheck disable=SC2086  # cflags is a list of words
"$cxx" -std=c++20 $cflags "$here/consumer/main.cpp" -o "$tmp/pc-consumer"
check_output "pkg-config consumer" "$tmp/pc-consumer"

echo "PASS: ward installs and is usable through CMake and pkg-config"
