#!/usr/bin/env bash
# root.engines.cri: containerd's CRI plugin, the API the kubelet drives,
# runs a pod with the runtime through the runc shim v2 (io.containerd.runc.v2
# with BinaryName = $WARD_BIN), with resources as kubelet 1.26 sends them.
#
#   WARD_BIN=/abs/path/to/ward bash tests/engines/cri.sh
#
# The CRI calls come from tests/engines/cri_client.py, a small client of ours
# (Debian's python3-grpcio with raw-bytes calls, and a protobuf encoder and
# decoder for the few runtime.v1 messages needed). Checks, each printed with
# its command:
#  1. Version; RunPodSandbox of a Burstable pod (two containers: 500m CPU,
#     32-64 MiB and 100m CPU, 16-32 MiB) with linux.cgroup_parent
#     /ward-engine-test-<pid>/kubepods/burstable/pod<uid> (the kubelet's
#     cgroupfs layout under --cgroup-root /ward-engine-test-<pid>) and the
#     pod's resources and (empty) overhead, as the kubelet computes them;
#     PodSandboxStatus is SANDBOX_READY and gives the sandbox's pid.
#  2. CreateContainer (busybox sh -c 'echo hello; sleep 1000') with the
#     kubelet's LinuxContainerResources (cpu_shares 512, cpu_quota 50000,
#     cpu_period 100000, memory_limit_in_bytes 64 MiB, the Burstable
#     oom_score_adj the kubelet computes from the node's memory, hugepage
#     limits 0 for each page size), StartContainer, ContainerStatus
#     CONTAINER_RUNNING, "hello" in the CRI log, /proc/PID/oom_score_adj.
#  3. The limits are in the container's own cgroups, found from
#     /proc/PID/cgroup: on cgroup v1 (and hybrid hosts)
#     memory.limit_in_bytes, cpu.shares, cpu.cfs_quota_us and
#     cpu.cfs_period_us; on cgroup v2 memory.max, cpu.weight and cpu.max;
#     the sandbox's cpu.shares 2 (weight 1 on v2), which containerd asks for.
#  4. ExecSync `echo hi` (output, exit 0); ContainerStats: the memory
#     working set is the container's (0 < it < 50 MiB, not the host's
#     cgroup) and the cumulative CPU usage is there and non-zero.
#  5. A memory hog (`tail /dev/zero` under 32 MiB) ends with exit code 137
#     and reason OOMKilled.
#  6. StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox; then
#     no cgroup directory of the sandbox or the containers is left in any
#     hierarchy and no process of the pod is left.
#
# The pod uses the host's network namespace (NamespaceOption network NODE,
# as a hostNetwork pod): no CNI plugin runs, nothing is added to the host's
# network; the CRI's CNI conf and bin dirs point at empty folders of the
# test. pid CONTAINER, ipc POD, seccomp Unconfined: the kubelet's defaults.
#
# A private containerd that touches nothing global: its config, --root,
# --state, gRPC/ttrpc sockets, the runtime's --root (the runc options' Root)
# and the image live in one temporary folder, removed on exit. The CRI plugin
# is configured with restrict_oom_score_adj = true (root lacks
# CAP_SYS_RESOURCE here, so containerd's -998 for the sandbox is clamped to
# its own score), SystemdCgroup = false (cgroupfs paths, as above) and
# sandbox_image = the test's image. containerd runs in the background and is
# killed on exit, with its shims; containers live in containerd's k8s.io
# namespace of that private containerd. The pod's cgroups
# (/ward-engine-test-<pid>/...) are removed on exit in every hierarchy. As in
# containerd.sh, the shims' sockets are made under /run/containerd/s; those of
# this pod are removed on exit, and that folder too when this script made it
# and it is empty.
#
# The image is docker.io/library/ward-busybox:latest, an OCI image archive
# made here (one layer: the static /bin/busybox of busybox-static and a
# symlink per applet; its command, `sleep 2147483647`, is the sandbox's
# "pause"), imported with `ctr -n k8s.io images import`.
#
# Exit status: 0 when every check passed (ward's known failures, marked with
# known_failure, are printed but not counted: see common.sh); 77 (ctest:
# skipped; a line "WARD-SKIP: reason") when not root, containerd, ctr, the
# runc shim v2, python3 with grpc (python3-grpcio) or a static busybox is
# missing, or containerd cannot work on this host (it does not start, its CRI
# plugin does not answer Version, or the image import fails: none of that
# runs the OCI runtime); 1 when a check failed, after printing the command,
# its output, the runtime's log (the shim passes --log <bundle>/log.json) and
# containerd's log. Environment: see tests/engines/common.sh.
set -uo pipefail

prog=cri.sh
engine=cri
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for tool in containerd ctr containerd-shim-runc-v2; do
  command -v $tool >/dev/null ||
    { echo "WARD-SKIP: $tool is not installed (containerd: bash scripts/deps.sh)"; exit 77; }
done
# Debian's python3-grpcio is for Debian's python3: prefer /usr/bin/python3
# when another python3 (pyenv, a venv) comes first in PATH.
py=
for p in /usr/bin/python3 "$(command -v python3)"; do
  [[ -x $p ]] && "$p" -c 'import grpc' 2>/dev/null && { py=$p; break; }
done
[[ -n $py ]] ||
  { echo "WARD-SKIP: no python3 with the grpc module (python3-grpcio: bash scripts/deps.sh)"; exit 77; }
# shellcheck source=common.sh
source "$here/common.sh"
# shellcheck source=containerd_common.sh
source "$here/containerd_common.sh"

image=docker.io/library/ward-busybox:latest
sock=$tmp/containerd.sock
C=(ctr --address "$sock" --namespace k8s.io)
CRI=("$py" "$here/cri_client.py" --address "$sock" --timeout "$step_timeout")
cgroot=ward-engine-test-$$
ids=()  # the sandbox's and containers' ids, once known (for the cleanup)

cleanup_engine() { cleanup_containerd "/$cgroot" "${ids[@]}"; }
diagnostics() { containerd_diagnostics; }

# ------------------------------------------------------------------ containerd

make_runtime_wrapper
mkdir -p "$tmp"/{root,state,opt,runc,cni/bin,cni/conf,logs}
snapshotter=overlayfs
[[ $(stat -f -c %T "$tmp") == overlayfs ]] && snapshotter=native
cri='plugins."io.containerd.grpc.v1.cri"'
{
  containerd_config ""
  cat <<EOF
  [$cri]
    sandbox_image = "$image"
    restrict_oom_score_adj = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    [$cri.cni]
      bin_dir = "$tmp/cni/bin"
      conf_dir = "$tmp/cni/conf"
    [$cri.containerd]
      snapshotter = "$snapshotter"
      default_runtime_name = "ward-test"
      [$cri.containerd.runtimes.ward-test]
        runtime_type = "io.containerd.runc.v2"
        [$cri.containerd.runtimes.ward-test.options]
          BinaryName = "$runtime"
          Root = "$tmp/runc"
          SystemdCgroup = false
EOF
} >"$tmp/config.toml"

echo "$prog: runtime $WARD_BIN"
echo "$prog: $(containerd --version)"
echo "$prog: containerd's state in $tmp (snapshotter $snapshotter), CRI client $py"

start_containerd "${CRI[@]}" Version
import_image "$image" '["/bin/sleep","2147483647"]'
echo "-- image $image imported into k8s.io (manifest sha256:${manifest:0:12})"

# ------------------------------------------------------------------ the pod

# The resources, as kubelet 1.26 computes them (kuberuntime): cpu_shares =
# request millicores * 1024 / 1000 (at least 2), cpu_quota = limit
# millicores * period / 1000 with period 100000, memory_limit_in_bytes = the
# limit; a Burstable container's oom_score_adj = 1000 - 1000 * memory request
# / node memory, kept within [3, 999]; a hugepage limit of 0 for each page
# size the node has. The sandbox gets the pod's sums (and its overhead: none
# without a RuntimeClass, sent empty).
mib=$((1024 * 1024))
node_mem=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) * 1024))
oom_adj() {
  local a=$((1000 - 1000 * $1 / node_mem))
  ((a < 3)) && a=3
  ((a > 999)) && a=999
  echo "$a"
}
hugepages="" sizes=""
for d in /sys/kernel/mm/hugepages/hugepages-*kB; do
  [[ -d $d ]] || continue
  kb=${d##*hugepages-}
  kb=${kb%kB}
  if ((kb % (1024 * 1024) == 0)); then size=$((kb / 1024 / 1024))GB
  elif ((kb % 1024 == 0)); then size=$((kb / 1024))MB
  else size=${kb}KB; fi
  hugepages+="${hugepages:+,}{\"page_size\":\"$size\",\"limit\":0}"
  sizes+=" $size"
done
app_oom=$(oom_adj $((32 * mib)))
hog_oom=$(oom_adj $((16 * mib)))
uid=$(cat /proc/sys/kernel/random/uuid)
parent=/$cgroot/kubepods/burstable/pod$uid
pod_config=$(
  cat <<EOF
{"metadata":{"name":"ward-cri","uid":"$uid","namespace":"default","attempt":0},
 "log_directory":"$tmp/logs/default_ward-cri_$uid",
 "labels":{"io.kubernetes.pod.name":"ward-cri","io.kubernetes.pod.namespace":"default","io.kubernetes.pod.uid":"$uid"},
 "annotations":{"kubernetes.io/config.source":"api"},
 "linux":{"cgroup_parent":"$parent",
  "security_context":{"namespace_options":{"network":"NODE","pid":"CONTAINER","ipc":"POD"},
                      "seccomp":{"profile_type":"Unconfined"}},
  "overhead":{},
  "resources":{"cpu_period":100000,"cpu_quota":60000,"cpu_shares":614,"memory_limit_in_bytes":$((96 * mib))}}}
EOF
)
# container_request NAME CPU-SHARES CPU-QUOTA MEMORY OOM-SCORE-ADJ COMMAND-JSON
container_request() {
  cat <<EOF
{"pod_sandbox_id":"$pod","sandbox_config":$pod_config,
 "config":{"metadata":{"name":"$1","attempt":0},"image":{"image":"$image"},
  "command":$6,"log_path":"$1/0.log",
  "labels":{"io.kubernetes.container.name":"$1","io.kubernetes.pod.name":"ward-cri","io.kubernetes.pod.namespace":"default","io.kubernetes.pod.uid":"$uid"},
  "linux":{"resources":{"cpu_period":100000,"cpu_quota":$3,"cpu_shares":$2,"memory_limit_in_bytes":$4,
                        "oom_score_adj":$5,"hugepage_limits":[$hugepages]},
   "security_context":{"namespace_options":{"network":"NODE","pid":"CONTAINER","ipc":"POD"},
    "seccomp":{"profile_type":"Unconfined"},
    "masked_paths":["/proc/asound","/proc/acpi","/proc/kcore","/proc/keys","/proc/latency_stats","/proc/timer_list","/proc/timer_stats","/proc/sched_debug","/proc/scsi","/sys/firmware"],
    "readonly_paths":["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]}}}}
EOF
}

# cg_read PID CONTROLLER FILE: prints "<path of FILE in PID's cgroup of
# CONTROLLER>: <content>", the cgroup found from /proc/PID/cgroup: the v1
# hierarchy the controller is mounted in, or else the v2 (unified) one.
cg_read() {
  local pid=$1 ctl=$2 file=$3 mnt path
  mnt=$(findmnt -rn -t cgroup -o TARGET,OPTIONS |
    awk -v c="$ctl" '{n = split($2, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) {print $1; exit}}')
  if [[ -n $mnt ]]; then
    path=$(awk -F: -v c="$ctl" '{n = split($2, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) print $3}' \
      "/proc/$pid/cgroup")
  else
    mnt=$(findmnt -rn -t cgroup2 -o TARGET | head -n1)
    path=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
  fi
  [[ -n $mnt && -n $path ]] || { echo "no $ctl cgroup for pid $pid: $(cat "/proc/$pid/cgroup")"; return 1; }
  echo "$mnt$path/$file: $(cat "$mnt$path/$file")"
}
# within VALUE LOW HIGH: whether LOW < VALUE < HIGH (integers), said.
within() {
  if [[ $1 =~ ^[0-9]+$ ]] && (($2 < $1 && $1 < $3)); then
    echo "$2 < $1 < $3"
  else
    echo "$1 is not within ($2, $3)"
    return 1
  fi
}
# gone PID...: prints the pids still alive, or nothing.
gone() {
  local p
  for p in "$@"; do
    [[ -e /proc/$p ]] && echo "pid $p is alive: $(tr '\0' ' ' <"/proc/$p/cmdline")"
  done
  return 0
}
export -f cg_read within gone

# cgroup v1 or v2 for a controller: which files the limits are in.
v1() { findmnt -rn -t cgroup -o OPTIONS | tr ',' '\n' | grep -qx "$1"; }
v1 memory && mem_version=v1 || mem_version=v2
v1 cpu && cpu_version=v1 || cpu_version=v2
echo "-- node: $((node_mem / mib)) MiB of memory (Burstable oom_score_adj: $app_oom and $hog_oom)," \
  "hugepage sizes:${sizes:- none}, memory controller in cgroup $mem_version, cpu in cgroup $cpu_version"

# wait_state ID STATE: polls ContainerStatus (up to 20 s) until the state is STATE.
wait_state() {
  local i
  [[ -z $skip_reason ]] || return 0
  for i in $(seq 100); do
    [[ $(timeout 10 "${CRI[@]}" --get status.state ContainerStatus "{\"container_id\":\"$1\"}" 2>&1) == "$2" ]] &&
      return
    sleep 0.2
  done
}

# `check ... || fails_all REASON` (or fails_section): like skip_all and
# skip_section, but a check not run keeps the reason it was not run for.
fails_all() { skip_all "${skip_reason:-$*}"; }
fails_section() { skip_section "${skip_reason:-$*}"; }

# ------------------------------------------------------------------ checks

pod="" app="" hog="" spid="" apid=""
section "1. the pod sandbox: Version, RunPodSandbox with the pod's cgroup parent and resources"
check "Version: the CRI plugin answers (runtime.v1)" 0 '"runtime_api_version": "v1"' \
  "${CRI[@]}" Version '{"version":"v1"}'
check "RunPodSandbox (cgroup_parent ${parent//$cgroot/<test>}; the pod's resources, empty overhead)" \
  0 '^[0-9a-f]{64}$' "${CRI[@]}" --get pod_sandbox_id RunPodSandbox "{\"config\":$pod_config}" &&
  pod=$out && ids+=("$pod") ||
  fails_all "RunPodSandbox failed"
check "PodSandboxStatus: SANDBOX_READY" 0 '^SANDBOX_READY$' \
  "${CRI[@]}" --get status.state PodSandboxStatus "{\"pod_sandbox_id\":\"$pod\"}"
check "PodSandboxStatus verbose: the sandbox's pid" 0 '^[0-9]+$' \
  "${CRI[@]}" --get info.info.pid PodSandboxStatus "{\"pod_sandbox_id\":\"$pod\",\"verbose\":true}" &&
  spid=$out

section "2. a container: CreateContainer with the kubelet's resources, StartContainer"
check "CreateContainer app (sh -c 'echo hello; sleep 1000'; 512 shares, quota 50000/100000, 64 MiB, oom_score_adj $app_oom)" \
  0 '^[0-9a-f]{64}$' "${CRI[@]}" --get container_id CreateContainer \
  "$(container_request app 512 50000 $((64 * mib)) "$app_oom" '["sh","-c","echo hello; sleep 1000"]')" &&
  app=$out && ids+=("$app") ||
  fails_all "CreateContainer failed"
check "StartContainer app" 0 '^\{\}$' "${CRI[@]}" StartContainer "{\"container_id\":\"$app\"}" ||
  fails_all "StartContainer failed"
check "ContainerStatus: CONTAINER_RUNNING" 0 '^CONTAINER_RUNNING$' \
  "${CRI[@]}" --get status.state ContainerStatus "{\"container_id\":\"$app\"}"
check "ContainerStatus verbose: the container's pid" 0 '^[0-9]+$' \
  "${CRI[@]}" --get info.info.pid ContainerStatus "{\"container_id\":\"$app\",\"verbose\":true}" &&
  apid=$out || fails_section "no pid for the container"
check "the container's log (CRI format) has its output" 0 ' stdout F hello$' \
  cat "$tmp/logs/default_ward-cri_$uid/app/0.log"
check "/proc/PID/oom_score_adj of the container: $app_oom" 0 "^$app_oom\$" cat "/proc/$apid/oom_score_adj"
sandbox_oom=$(cat "/proc/$containerd_pid/oom_score_adj")
((sandbox_oom < -998)) && sandbox_oom=-998
check "/proc/PID/oom_score_adj of the sandbox: containerd's -998, clamped to containerd's own ($sandbox_oom)" \
  0 "^$sandbox_oom\$" cat "/proc/$spid/oom_score_adj"

section "3. the limits are in the container's own cgroups (memory: cgroup $mem_version, cpu: cgroup $cpu_version)"
[[ -n $apid ]] || fails_section "no pid for the container"
in_app="/$cgroot/kubepods/burstable/pod$uid/$app"
if [[ $mem_version == v1 ]]; then
  check "memory.limit_in_bytes: 64 MiB" 0 "$in_app/memory.limit_in_bytes: $((64 * mib))\$" \
    bash -c 'cg_read "$@"' _ "$apid" memory memory.limit_in_bytes
else
  check "memory.max: 64 MiB" 0 "$in_app/memory.max: $((64 * mib))\$" \
    bash -c 'cg_read "$@"' _ "$apid" memory memory.max
fi
if [[ $cpu_version == v1 ]]; then
  check "cpu.shares: 512" 0 "$in_app/cpu.shares: 512\$" bash -c 'cg_read "$@"' _ "$apid" cpu cpu.shares
  check "cpu.cfs_quota_us: 50000" 0 "$in_app/cpu.cfs_quota_us: 50000\$" \
    bash -c 'cg_read "$@"' _ "$apid" cpu cpu.cfs_quota_us
  check "cpu.cfs_period_us: 100000" 0 "$in_app/cpu.cfs_period_us: 100000\$" \
    bash -c 'cg_read "$@"' _ "$apid" cpu cpu.cfs_period_us
  check "the sandbox's cpu.shares: 2 (containerd's for every sandbox)" 0 \
    "/$cgroot/kubepods/burstable/pod$uid/$pod/cpu.shares: 2\$" \
    bash -c 'cg_read "$@"' _ "$spid" cpu cpu.shares
else
  # cpu.weight from shares as runc and crun convert it: 1 + (shares - 2) * 9999 / 262142.
  check "cpu.weight: 20 (512 shares)" 0 "$in_app/cpu.weight: 20\$" bash -c 'cg_read "$@"' _ "$apid" cpu cpu.weight
  check "cpu.max: 50000 100000" 0 "$in_app/cpu.max: 50000 100000\$" bash -c 'cg_read "$@"' _ "$apid" cpu cpu.max
  check "the sandbox's cpu.weight: 1 (2 shares, containerd's for every sandbox)" 0 \
    "/$cgroot/kubepods/burstable/pod$uid/$pod/cpu.weight: 1\$" \
    bash -c 'cg_read "$@"' _ "$spid" cpu cpu.weight
fi

section "4. ExecSync and ContainerStats"
[[ -n $app ]] || fails_section "no container"
check "ExecSync echo hi: output and exit code" 0 '"exit_code": 0, "stderr": "", "stdout": "hi\\n"' \
  "${CRI[@]}" ExecSync "{\"container_id\":\"$app\",\"cmd\":[\"echo\",\"hi\"],\"timeout\":10}"
check "ExecSync sh -c 'exit 3': exit code" 0 '"exit_code": 3' \
  "${CRI[@]}" ExecSync "{\"container_id\":\"$app\",\"cmd\":[\"sh\",\"-c\",\"exit 3\"],\"timeout\":10}"
ws="" cpu=""
check "ContainerStats: memory working set and CPU usage reported" 0 \
  '"usage_core_nano_seconds": \{"value": [0-9]+\}.*"working_set_bytes": \{"value": [0-9]+\}' \
  "${CRI[@]}" ContainerStats "{\"container_id\":\"$app\"}" &&
  [[ $out =~ \"usage_core_nano_seconds\":\ \{\"value\":\ ([0-9]+)\} ]] && cpu=${BASH_REMATCH[1]} &&
  [[ $out =~ \"working_set_bytes\":\ \{\"value\":\ ([0-9]+)\} ]] && ws=${BASH_REMATCH[1]}
check "ContainerStats: the working set is the container's: 0 < bytes < 50 MiB" 0 '' \
  bash -c 'within "$@"' _ "${ws:-none}" 0 $((50 * mib))
check "ContainerStats: the CPU usage is the container's: 0 < ns < 10 s" 0 '' \
  bash -c 'within "$@"' _ "${cpu:-none}" 0 $((10 * 1000 * 1000 * 1000))

section "5. a memory hog under 32 MiB: exit code 137, OOMKilled"
check "CreateContainer hog (tail /dev/zero; 102 shares, quota 10000/100000, 32 MiB, oom_score_adj $hog_oom)" \
  0 '^[0-9a-f]{64}$' "${CRI[@]}" --get container_id CreateContainer \
  "$(container_request hog 102 10000 $((32 * mib)) "$hog_oom" '["tail","/dev/zero"]')" &&
  hog=$out && ids+=("$hog") ||
  fails_section "CreateContainer failed"
check "StartContainer hog" 0 '^\{\}$' "${CRI[@]}" StartContainer "{\"container_id\":\"$hog\"}" ||
  fails_section "StartContainer failed"
wait_state "$hog" CONTAINER_EXITED
check "ContainerStatus: CONTAINER_EXITED" 0 '^CONTAINER_EXITED$' \
  "${CRI[@]}" --get status.state ContainerStatus "{\"container_id\":\"$hog\"}"
check "ContainerStatus: exit code 137" 0 '^137$' \
  "${CRI[@]}" --get status.exit_code ContainerStatus "{\"container_id\":\"$hog\"}"
check "ContainerStatus: reason OOMKilled" 0 '^OOMKilled$' \
  "${CRI[@]}" --get status.reason ContainerStatus "{\"container_id\":\"$hog\"}"

section "6. teardown: StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox; nothing left"
# Once there is a pod, its teardown runs whatever failed before.
if [[ -n $pod ]]; then skip_reason=; else skip_section "no pod"; fi
for c in ${app:+"$app"} ${hog:+"$hog"}; do
  check "StopContainer ${c:0:12} (2 s grace, as a pod's terminationGracePeriodSeconds)" 0 '^\{\}$' \
    "${CRI[@]}" StopContainer "{\"container_id\":\"$c\",\"timeout\":2}"
  check "RemoveContainer ${c:0:12}" 0 '^\{\}$' "${CRI[@]}" RemoveContainer "{\"container_id\":\"$c\"}"
done
check "StopPodSandbox" 0 '^\{\}$' "${CRI[@]}" StopPodSandbox "{\"pod_sandbox_id\":\"$pod\"}"
check "RemovePodSandbox" 0 '^\{\}$' "${CRI[@]}" RemovePodSandbox "{\"pod_sandbox_id\":\"$pod\"}"
check "no cgroup directory of the sandbox or the containers in any hierarchy" 0 '^$' \
  find /sys/fs/cgroup -mindepth 1 -type d \( -name "$pod" ${app:+-o -name "$app"} ${hog:+-o -name "$hog"} \)
check "no process of the pod: the sandbox's and the container's pids are gone" 0 '^$' \
  bash -c 'gone "$@"' _ ${spid:+"$spid"} ${apid:+"$apid"}
check "no process in the pod's cgroups (/$cgroot/... in every hierarchy)" 0 '^$' \
  bash -c 'find /sys/fs/cgroup -path "*/$1/*" -name cgroup.procs -exec grep -H . {} +; true' _ "$cgroot"
check "the runtime has no container left" 0 '^$' "$WARD_BIN" --root "$tmp/runc/k8s.io" list -q

finish
