#!/usr/bin/env bash
# Installs what building and testing ward needs, on Debian 12 (bookworm).
# Idempotent: asks dpkg which packages are missing and only then runs apt-get.
#   bash scripts/deps.sh [--vm] [extra-package...]
#   --vm   also what the `vm` test tier needs (scripts/vm-run.sh boots a cgroup-v2
#          kernel under qemu): qemu-system-x86, cpio, busybox-static. The kernel
#          itself is fetched by vm-run.sh (apt-get download) into its cache.
set -euo pipefail

vm_packages=()
if [[ ${1:-} == --vm ]]; then
  shift
  vm_packages=(qemu-system-x86 cpio busybox-static)
fi

packages=(
  cmake ninja-build g++ clang libclang-rt-14-dev  # toolchains; clang's sanitizer runtimes
  catch2 libbenchmark-dev pkg-config python3      # tests, benchmarks, packaging, scripts
  busybox-static util-linux iproute2              # what sandbox tests run and inspect
  binutils                                        # objdump: scripts/check_child_code.py
  libseccomp-dev clang-format
  # real engines driving the runtime (root.engines.*: tests/engines/*.sh);
  # python3-grpcio: the CRI client of tests/engines/cri_client.py
  podman conmon containernetworking-plugins uidmap containerd python3-grpcio
  # the user bus of a `systemd --user` (vm.systemd's rootless --systemd-cgroup cases)
  dbus-user-session
  # kernel uapi headers of other arches: scripts/gen_syscalls.py (seccomp.tables_fresh)
  linux-libc-dev-arm64-cross linux-libc-dev-armhf-cross linux-libc-dev-riscv64-cross
  "${vm_packages[@]}"
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ $status == installed ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "deps.sh: all ${#packages[@]} packages are installed"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "deps.sh: missing packages: ${missing[*]}" >&2
  echo "deps.sh: installing them needs root (you are uid $(id -u)); run as root: bash scripts/deps.sh" >&2
  exit 1
fi

echo "deps.sh: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt/dpkg (e.g. unattended-upgrades) instead of failing.
apt_opts=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
apt-get "${apt_opts[@]}" update
apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}"
echo "deps.sh: done"
