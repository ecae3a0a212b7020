# shellcheck shell=bash
# Sourced by tests/engines/containerd.sh and cri.sh, after common.sh: a
# private containerd, its image and its cleanup.
#
# The script sets `sock` (containerd's gRPC socket, in $tmp), `C` (the ctr
# command line, ending with the namespace: ctr --address $sock --namespace
# NS) and `snapshotter`, writes $tmp/config.toml (containerd_config gives
# its common part), then calls `start_containerd PROBE...` and
# `import_image IMAGE CMD-JSON`; its cleanup_engine calls
# `cleanup_containerd CGROUP IDS...` and its diagnostics
# `containerd_diagnostics`.

containerd_pid=
made_run_containerd=0
[[ -e /run/containerd ]] || made_run_containerd=1

# containerd_config TOP-LEVEL: prints the start of a private containerd's
# config (version 2): root, state, the given top-level lines, the gRPC and
# ttrpc sockets ($sock, $sock.ttrpc), the opt plugin's path, the task
# platform; all in $tmp. More [plugins."..."] tables may follow.
containerd_config() {
  cat <<EOF
version = 2
root = "$tmp/root"
state = "$tmp/state"
$1

[grpc]
  address = "$sock"

[ttrpc]
  address = "$sock.ttrpc"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$tmp/opt"
  [plugins."io.containerd.runtime.v2.task"]
    platforms = ["linux/$(dpkg --print-architecture 2>/dev/null || echo amd64)"]
EOF
}

# start_containerd PROBE...: starts containerd in the background with
# $tmp/config.toml (log: $tmp/containerd.log) and waits up to 20 s for the
# command PROBE to succeed. containerd exiting or not answering is a skip:
# it has not run the OCI runtime yet.
start_containerd() {
  local i
  containerd --config "$tmp/config.toml" --log-level info >"$tmp/containerd.log" 2>&1 &
  containerd_pid=$!
  for i in $(seq 100); do
    timeout 5 "$@" >/dev/null 2>&1 && return 0
    if ! kill -0 "$containerd_pid" 2>/dev/null; then
      skip "containerd cannot work on this host: it exited: $(tail -n 3 "$tmp/containerd.log" | tr '\n' ' ')"
    fi
    sleep 0.2
  done
  timeout 5 "$@" >/dev/null 2>&1 ||
    skip "containerd cannot work on this host: no answer on $sock in 20 s to ${*: -1}: $(tail -n 3 "$tmp/containerd.log" | tr '\n' ' ')"
}

# import_image IMAGE CMD-JSON: makes an OCI image archive (oci-layout,
# index.json, blobs/sha256/{layer,config,manifest}) named IMAGE whose one
# uncompressed layer is make_rootfs's busybox and whose command is CMD-JSON
# (e.g. ["/bin/sh"]), and imports it with `ctr images import` into C's
# namespace. Sets `manifest` (its digest). A failed import is a skip: it
# does not run the OCI runtime.
import_image() {
  local image=$1 cmd=$2 oci=$tmp/oci imp layer layer_size config config_size manifest_size arch
  make_rootfs "$tmp/rootfs" || die "cannot make the rootfs in $tmp/rootfs"
  mkdir -p "$oci/blobs/sha256"
  # blob FILE: moves FILE into the blobs, prints "DIGEST SIZE".
  blob() {
    local d s
    d=$(sha256sum "$1" | cut -d' ' -f1)
    s=$(stat -c %s "$1")
    mv "$1" "$oci/blobs/sha256/$d"
    echo "$d $s"
  }
  tar --numeric-owner -C "$tmp/rootfs" -cf "$tmp/layer.tar" . || die "tar of the rootfs failed"
  read -r layer layer_size < <(blob "$tmp/layer.tar")
  arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
  cat >"$tmp/config.json" <<EOF
{"architecture":"$arch","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":$cmd,"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:$layer"]}}
EOF
  read -r config config_size < <(blob "$tmp/config.json")
  cat >"$tmp/manifest.json" <<EOF
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:$config","size":$config_size},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:$layer","size":$layer_size}]}
EOF
  read -r manifest manifest_size < <(blob "$tmp/manifest.json")
  cat >"$oci/index.json" <<EOF
{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:$manifest","size":$manifest_size,"annotations":{"io.containerd.image.name":"$image","org.opencontainers.image.ref.name":"latest"}}]}
EOF
  echo '{"imageLayoutVersion":"1.0.0"}' >"$oci/oci-layout"
  tar -C "$oci" -cf "$tmp/image.tar" oci-layout index.json blobs || die "tar of the image failed"
  if ! imp=$(timeout -k 5 "$step_timeout" "${C[@]}" images import --snapshotter "$snapshotter" \
    "$tmp/image.tar" 2>&1); then
    skip "containerd cannot work on this host: ctr images import: $(tail -n 3 <<<"$imp" | tr '\n' ' ')"
  fi
}

# cleanup_containerd CGROUP IDS...: what the EXIT trap does. Kills and
# removes C's tasks and containers through containerd (20 s at most: a hung
# runtime must not hang the cleanup), stops containerd, then kills what is
# left: the processes of the cgroup CGROUP (a name under the hierarchies'
# roots, e.g. /ward-engine-test-123) and of this setup, the runtime's
# containers under $tmp/runc/<namespace>, and the shims' sockets of IDS
# (/run/containerd/s/<sha256 of "<address>/<namespace>/<id>">: containerd
# 1.6's shim.SocketAddress; the runc shim v2 serves a CRI pod under its
# sandbox's id).
cleanup_containerd() {
  local cgroup=$1 id i root sum ns=${C[-1]}
  shift
  if [[ -n $containerd_pid ]]; then
    local until=$((SECONDS + 20))
    for id in $(timeout 5 "${C[@]}" tasks ls -q 2>/dev/null); do
      ((SECONDS < until)) && timeout 5 "${C[@]}" tasks kill -s SIGKILL "$id" >/dev/null 2>&1
    done
    sleep 0.3
    for id in $(timeout 5 "${C[@]}" containers ls -q 2>/dev/null); do
      ((SECONDS < until)) && timeout 5 "${C[@]}" tasks rm -f "$id" >/dev/null 2>&1
      ((SECONDS < until)) && timeout 5 "${C[@]}" containers rm "$id" >/dev/null 2>&1
    done
    kill "$containerd_pid" 2>/dev/null
    for i in $(seq 50); do
      kill -0 "$containerd_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$containerd_pid" 2>/dev/null
  fi
  kill_cgroup_tree "$cgroup"  # what the shims could not stop
  kill_tmp_processes          # shims, runtimes, containers of this setup
  for root in "$tmp"/runc/*/; do  # the shim's runtime --root: <runc root>/<namespace>
    [[ -d $root ]] && runtime_forget --root "${root%/}"
  done
  kill_cgroup_tree "$cgroup"
  for id in "$@"; do
    sum=$(printf '%s' "$sock/$ns/$id" | sha256sum | cut -d' ' -f1)
    rm -f "/run/containerd/s/$sum"
  done
  if [[ $made_run_containerd == 1 ]]; then
    rmdir /run/containerd/s /run/containerd 2>/dev/null
  fi
  return 0
}

# What explains a failure: the runtime's --log (the shim passes
# --log <bundle>/log.json --log-format json), containerd's log.
containerd_diagnostics() {
  local f
  for f in $(find "$tmp/state" -name log.json 2>/dev/null); do
    echo "---- runtime log ${f//$tmp/\$tmp}"
    tail -n 40 "$f"
  done
  if [[ -s $tmp/containerd.log ]]; then
    echo "---- containerd log (last 40 lines)"
    tail -n 40 "$tmp/containerd.log"
  fi
}
