// SPDX-License-Identifier: Apache-2.0
// ward: Linux isolation primitives and the Sandbox builder. Include this one
// header. The OCI component (config.json, config -> Sandbox, JSON, seccomp
// profiles in JSON) is separate: <ward/oci.hpp>, which includes this one.
#pragma once

#include <ward/capabilities.hpp>
#include <ward/cgroup.hpp>
#include <ward/cgroup_v1.hpp>
#include <ward/cgroups.hpp>
#include <ward/child.hpp>
#include <ward/dbus.hpp>
#include <ward/error.hpp>
#include <ward/fd.hpp>
#include <ward/id_map.hpp>
#include <ward/landlock.hpp>
#include <ward/mount.hpp>
#include <ward/namespace.hpp>
#include <ward/net_device.hpp>
#include <ward/rlimit.hpp>
#include <ward/rootfs_mount.hpp>
#include <ward/sandbox.hpp>
#include <ward/seccomp.hpp>
#include <ward/seccomp_notify.hpp>
#include <ward/seccomp_presets.hpp>
#include <ward/supervise.hpp>
#include <ward/systemd.hpp>
#include <ward/terminal.hpp>
#include <ward/version.hpp>
