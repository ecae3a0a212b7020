#!/usr/bin/env python3
"""A minimal CRI client for tests/engines/cri.sh: one RuntimeService call.

    cri_client.py --address SOCKET METHOD [REQUEST-JSON] [--get PATH]

METHOD is a RuntimeService method (Version, RunPodSandbox, ...: see RPCS),
REQUEST-JSON the request as JSON with the CRI's field names (enums by name or
number, maps as objects, repeated fields as lists). Prints the response as
JSON (fields left at their default are shown with it, bytes as text), or with
--get a.b.c only that value; a string on the way that holds JSON (the
`info` maps of verbose status replies) is parsed to go further. A failed call
prints its gRPC status code and message and exits 1.

gRPC comes from Debian's python3-grpcio; the messages are encoded and decoded
here (proto3 wire format: varints, length-delimited fields, nested messages,
maps as repeated key/value entries). MESSAGES below holds only the messages
and fields this test needs, with the field numbers of the CRI API,
k8s.io/cri-api pkg/apis/runtime/v1/api.proto (runtime.v1, Kubernetes 1.26).
"""

import argparse
import json
import sys

import grpc

# Each message: {field name: (number, type)} or (number, type, "repeated").
# A type is a scalar (string bytes bool int32 int64 uint32 uint64), "map"
# (map<string, string>), an enum (a key of ENUMS) or a message (of MESSAGES).
ENUMS = {
    "NamespaceMode": ["POD", "CONTAINER", "NODE", "TARGET"],
    "ProfileType": ["RuntimeDefault", "Unconfined", "Localhost"],
    "PodSandboxState": ["SANDBOX_READY", "SANDBOX_NOTREADY"],
    "ContainerState": ["CONTAINER_CREATED", "CONTAINER_RUNNING", "CONTAINER_EXITED",
                       "CONTAINER_UNKNOWN"],
}
R = "repeated"
MESSAGES = {
    "Empty": {},
    "VersionRequest": {"version": (1, "string")},
    "VersionResponse": {"version": (1, "string"), "runtime_name": (2, "string"),
                        "runtime_version": (3, "string"), "runtime_api_version": (4, "string")},
    "UInt64Value": {"value": (1, "uint64")},
    "NamespaceOption": {"network": (1, "NamespaceMode"), "pid": (2, "NamespaceMode"),
                        "ipc": (3, "NamespaceMode"), "target_id": (4, "string")},
    "SecurityProfile": {"profile_type": (1, "ProfileType"), "localhost_ref": (2, "string")},
    "HugepageLimit": {"page_size": (1, "string"), "limit": (2, "uint64")},
    "LinuxContainerResources": {
        "cpu_period": (1, "int64"), "cpu_quota": (2, "int64"), "cpu_shares": (3, "int64"),
        "memory_limit_in_bytes": (4, "int64"), "oom_score_adj": (5, "int64"),
        "cpuset_cpus": (6, "string"), "cpuset_mems": (7, "string"),
        "hugepage_limits": (8, "HugepageLimit", R), "unified": (9, "map"),
        "memory_swap_limit_in_bytes": (10, "int64")},
    "LinuxSandboxSecurityContext": {"namespace_options": (1, "NamespaceOption"),
                                    "readonly_rootfs": (4, "bool"), "privileged": (6, "bool"),
                                    "seccomp": (9, "SecurityProfile")},
    "LinuxPodSandboxConfig": {"cgroup_parent": (1, "string"),
                              "security_context": (2, "LinuxSandboxSecurityContext"),
                              "sysctls": (3, "map"), "overhead": (4, "LinuxContainerResources"),
                              "resources": (5, "LinuxContainerResources")},
    "PodSandboxMetadata": {"name": (1, "string"), "uid": (2, "string"),
                           "namespace": (3, "string"), "attempt": (4, "uint32")},
    "PodSandboxConfig": {"metadata": (1, "PodSandboxMetadata"), "hostname": (2, "string"),
                         "log_directory": (3, "string"), "labels": (6, "map"),
                         "annotations": (7, "map"), "linux": (8, "LinuxPodSandboxConfig")},
    "RunPodSandboxRequest": {"config": (1, "PodSandboxConfig"), "runtime_handler": (2, "string")},
    "PodSandboxIdRequest": {"pod_sandbox_id": (1, "string")},  # also RunPodSandboxResponse
    "PodSandboxStatusRequest": {"pod_sandbox_id": (1, "string"), "verbose": (2, "bool")},
    "PodSandboxStatus": {"id": (1, "string"), "metadata": (2, "PodSandboxMetadata"),
                         "state": (3, "PodSandboxState"), "created_at": (4, "int64"),
                         "labels": (7, "map"), "annotations": (8, "map"),
                         "runtime_handler": (9, "string")},
    "PodSandboxStatusResponse": {"status": (1, "PodSandboxStatus"), "info": (2, "map")},
    "ImageSpec": {"image": (1, "string")},
    "KeyValue": {"key": (1, "string"), "value": (2, "string")},
    "ContainerMetadata": {"name": (1, "string"), "attempt": (2, "uint32")},
    "LinuxContainerSecurityContext": {
        "privileged": (2, "bool"), "namespace_options": (3, "NamespaceOption"),
        "readonly_rootfs": (7, "bool"), "no_new_privs": (11, "bool"),
        "masked_paths": (13, "string", R), "readonly_paths": (14, "string", R),
        "seccomp": (15, "SecurityProfile")},
    "LinuxContainerConfig": {"resources": (1, "LinuxContainerResources"),
                             "security_context": (2, "LinuxContainerSecurityContext")},
    "ContainerConfig": {"metadata": (1, "ContainerMetadata"), "image": (2, "ImageSpec"),
                        "command": (3, "string", R), "args": (4, "string", R),
                        "working_dir": (5, "string"), "envs": (6, "KeyValue", R),
                        "labels": (9, "map"), "annotations": (10, "map"),
                        "log_path": (11, "string"), "linux": (15, "LinuxContainerConfig")},
    "CreateContainerRequest": {"pod_sandbox_id": (1, "string"), "config": (2, "ContainerConfig"),
                               "sandbox_config": (3, "PodSandboxConfig")},
    "ContainerIdRequest": {"container_id": (1, "string")},  # also CreateContainerResponse
    "StopContainerRequest": {"container_id": (1, "string"), "timeout": (2, "int64")},
    "ContainerStatusRequest": {"container_id": (1, "string"), "verbose": (2, "bool")},
    "ContainerResources": {"linux": (1, "LinuxContainerResources")},
    "ContainerStatus": {
        "id": (1, "string"), "metadata": (2, "ContainerMetadata"),
        "state": (3, "ContainerState"), "created_at": (4, "int64"), "started_at": (5, "int64"),
        "finished_at": (6, "int64"), "exit_code": (7, "int32"), "image": (8, "ImageSpec"),
        "image_ref": (9, "string"), "reason": (10, "string"), "message": (11, "string"),
        "labels": (12, "map"), "annotations": (13, "map"), "log_path": (15, "string"),
        "resources": (16, "ContainerResources")},
    "ContainerStatusResponse": {"status": (1, "ContainerStatus"), "info": (2, "map")},
    "ExecSyncRequest": {"container_id": (1, "string"), "cmd": (2, "string", R),
                        "timeout": (3, "int64")},
    "ExecSyncResponse": {"stdout": (1, "bytes"), "stderr": (2, "bytes"), "exit_code": (3, "int32")},
    "ContainerAttributes": {"id": (1, "string"), "metadata": (2, "ContainerMetadata"),
                            "labels": (3, "map"), "annotations": (4, "map")},
    "CpuUsage": {"timestamp": (1, "int64"), "usage_core_nano_seconds": (2, "UInt64Value"),
                 "usage_nano_cores": (3, "UInt64Value")},
    "MemoryUsage": {"timestamp": (1, "int64"), "working_set_bytes": (2, "UInt64Value"),
                    "available_bytes": (3, "UInt64Value"), "usage_bytes": (4, "UInt64Value"),
                    "rss_bytes": (5, "UInt64Value"), "page_faults": (6, "UInt64Value"),
                    "major_page_faults": (7, "UInt64Value")},
    "ContainerStats": {"attributes": (1, "ContainerAttributes"), "cpu": (2, "CpuUsage"),
                       "memory": (3, "MemoryUsage")},
    "ContainerStatsResponse": {"stats": (1, "ContainerStats")},
}
RPCS = {  # method: (request, response)
    "Version": ("VersionRequest", "VersionResponse"),
    "RunPodSandbox": ("RunPodSandboxRequest", "PodSandboxIdRequest"),
    "PodSandboxStatus": ("PodSandboxStatusRequest", "PodSandboxStatusResponse"),
    "StopPodSandbox": ("PodSandboxIdRequest", "Empty"),
    "RemovePodSandbox": ("PodSandboxIdRequest", "Empty"),
    "CreateContainer": ("CreateContainerRequest", "ContainerIdRequest"),
    "StartContainer": ("ContainerIdRequest", "Empty"),
    "StopContainer": ("StopContainerRequest", "Empty"),
    "RemoveContainer": ("ContainerIdRequest", "Empty"),
    "ContainerStatus": ("ContainerStatusRequest", "ContainerStatusResponse"),
    "ExecSync": ("ExecSyncRequest", "ExecSyncResponse"),
    "ContainerStats": ("ContainerIdRequest", "ContainerStatsResponse"),
}
VARINT, I64, LEN, I32 = 0, 1, 2, 5  # wire types
MASK64 = (1 << 64) - 1


# ------------------------------------------------------------------ encoding

def varint(n):
    n &= MASK64  # a negative int32/int64 is sent as its 64-bit two's complement
    out = bytearray()
    while True:
        low = n & 0x7F
        n >>= 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def key(number, wire_type):
    return varint(number << 3 | wire_type)


def encode_value(number, ftype, value):
    if ftype in ("string", "bytes"):
        data = value.encode() if isinstance(value, str) else bytes(value)
        return key(number, LEN) + varint(len(data)) + data
    if ftype == "bool":
        return key(number, VARINT) + varint(1 if value else 0)
    if ftype in ("int32", "int64", "uint32", "uint64"):
        return key(number, VARINT) + varint(int(value))
    if ftype in ENUMS:
        n = ENUMS[ftype].index(value) if isinstance(value, str) else int(value)
        return key(number, VARINT) + varint(n)
    if ftype == "map":  # repeated entries {1: key, 2: value}
        return b"".join(encode_value(number, "MapEntry", (k, v)) for k, v in value.items())
    if ftype == "MapEntry":
        data = encode_value(1, "string", value[0]) + encode_value(2, "string", value[1])
    else:
        data = encode(ftype, value)
    return key(number, LEN) + varint(len(data)) + data


def encode(message, fields):
    """The wire bytes of MESSAGES[message] with the values of the dict fields."""
    schema = MESSAGES[message]
    out = []
    for name, value in fields.items():
        if name not in schema:
            raise SystemExit(f"cri_client: {message} has no field {name!r} (known: {sorted(schema)})")
        number, ftype = schema[name][:2]
        values = value if len(schema[name]) == 3 else [value]
        out += [encode_value(number, ftype, v) for v in values]
    return b"".join(out)


# ------------------------------------------------------------------ decoding

def read_varint(data, pos):
    n = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, pos


def fields_of(data):
    """Yields (number, wire type, value) for each field on the wire: an int
    for VARINT/I64/I32, the bytes for LEN."""
    pos = 0
    while pos < len(data):
        k, pos = read_varint(data, pos)
        number, wire_type = k >> 3, k & 7
        if wire_type == VARINT:
            value, pos = read_varint(data, pos)
        elif wire_type in (I64, I32):
            size = 8 if wire_type == I64 else 4
            value, pos = int.from_bytes(data[pos:pos + size], "little"), pos + size
        elif wire_type == LEN:
            size, pos = read_varint(data, pos)
            value, pos = bytes(data[pos:pos + size]), pos + size
        else:
            raise ValueError(f"unsupported wire type {wire_type} (field {number})")
        if pos > len(data):
            raise ValueError(f"truncated field {number}")
        yield number, wire_type, value


def signed(n, bits):
    n &= (1 << bits) - 1
    return n - (1 << bits) if n >> (bits - 1) else n


def decode_value(ftype, value):
    if ftype == "string":
        return value.decode()
    if ftype == "bytes":
        return value.decode(errors="replace")
    if ftype == "bool":
        return bool(value)
    if ftype in ("int32", "int64"):
        return signed(value, 64)  # an int32 is sign-extended to 64 bits on the wire
    if ftype in ("uint32", "uint64"):
        return value
    if ftype in ENUMS:
        names = ENUMS[ftype]
        return names[value] if value < len(names) else value
    return decode(ftype, value)


DEFAULTS = {"string": "", "bytes": "", "bool": False, "int32": 0, "int64": 0,
            "uint32": 0, "uint64": 0}


def decode(message, data):
    """A dict of MESSAGES[message] from its wire bytes; unknown fields are
    skipped, scalars left out on the wire get their default value."""
    schema = MESSAGES[message]
    by_number = {spec[0]: (name, spec) for name, spec in schema.items()}
    out = {}
    for name, spec in schema.items():
        ftype = spec[1]
        if len(spec) == 3:
            out[name] = []
        elif ftype == "map":
            out[name] = {}
        elif ftype in DEFAULTS:
            out[name] = DEFAULTS[ftype]
        elif ftype in ENUMS:
            out[name] = ENUMS[ftype][0]
    for number, _, value in fields_of(data):
        if number not in by_number:
            continue
        name, spec = by_number[number]
        ftype = spec[1]
        if ftype == "map":
            entry = {n: v for n, _, v in fields_of(value)}
            out[name][entry.get(1, b"").decode()] = entry.get(2, b"").decode()
        elif len(spec) == 3:
            if ftype not in ("string", "bytes") and ftype not in MESSAGES and isinstance(value, bytes):
                # a packed repeated scalar
                ints = []
                pos = 0
                while pos < len(value):
                    n, pos = read_varint(value, pos)
                    ints.append(decode_value(ftype, n))
                out[name] += ints
            else:
                out[name].append(decode_value(ftype, value))
        else:
            out[name] = decode_value(ftype, value)
    return out


# ------------------------------------------------------------------ the call

def get(value, path):
    for part in path.split("."):
        if isinstance(value, str):
            value = json.loads(value)  # a JSON document in a string (verbose info)
        if isinstance(value, list):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise KeyError(path)
    return value


def main():
    parser = argparse.ArgumentParser(description="One CRI RuntimeService call (tests/engines/cri.sh).")
    parser.add_argument("--address", required=True, help="the CRI gRPC socket (a path)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds (default 60)")
    parser.add_argument("--get", help="print only this dotted path of the response")
    parser.add_argument("method", choices=sorted(RPCS))
    parser.add_argument("request", nargs="?", default="{}", help="the request as JSON")
    args = parser.parse_args()

    request_type, response_type = RPCS[args.method]
    request = encode(request_type, json.loads(args.request))
    with grpc.insecure_channel("unix://" + args.address) as channel:
        call = channel.unary_unary(f"/runtime.v1.RuntimeService/{args.method}",
                                   request_serializer=None, response_deserializer=None)
        try:
            reply = call(request, timeout=args.timeout)
        except grpc.RpcError as e:
            print(f"{args.method}: gRPC error {e.code().name}: {e.details()}")
            return 1
    response = decode(response_type, reply)
    if args.get:
        try:
            value = get(response, args.get)
        except (KeyError, IndexError, ValueError):
            print(f"{args.method}: no {args.get} in the response: {json.dumps(response)}")
            return 1
        print(value if isinstance(value, str) else json.dumps(value))
    else:
        print(json.dumps(response, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
