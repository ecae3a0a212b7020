// SPDX-License-Identifier: Apache-2.0
// Where the cgroup tests make their cgroups.
//
// By default below the test's own cgroup (CgroupV2::create's default
// parent). On this project's hybrid hosts that is the root of the unified
// hierarchy, which the no-internal-process rule exempts, so the tests may
// enable controllers for their children there. On a pure cgroup-v2 system
// the test runs in a leaf that holds processes (systemd's scope, or the
// VM's /init), where that rule refuses controllers to children: there
// $WARD_TEST_CGROUP names a delegated subtree instead, a cgroup with no
// processes whose cgroup.subtree_control already has the controllers
// (scripts/vm-run.sh makes /sys/fs/cgroup/ward-test in the guest). It is
// then passed as create's explicit parent, so enable_controllers() treats it
// as the delegation boundary and writes nothing above it.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <vector>

#include <ward/cgroup.hpp>

namespace ward_test {

// The parent to pass to CgroupV2::create: $WARD_TEST_CGROUP, or empty (the
// caller's own cgroup).
inline std::string cgroup_parent() {
  const char* e = std::getenv("WARD_TEST_CGROUP");
  return e != nullptr ? e : "";
}

// That parent as a directory under the cgroup2 mount.
inline std::string cgroup_parent_dir() {
  const auto& h = ward::cgroup_host();
  std::string p = cgroup_parent();
  if (!p.empty() && (p == h.unified_mount || p.rfind(h.unified_mount + "/", 0) == 0)) return p;
  if (p.empty()) p = ward::own_cgroup();
  // A path inside the hierarchy: drop the mount's own root (mountinfo field 4).
  if (h.unified_root != "/" && p.rfind(h.unified_root, 0) == 0) p = p.substr(h.unified_root.size());
  while (!p.empty() && p.back() == '/') p.pop_back();
  return h.unified_mount + p;
}

// ward-test-<pid>-<n>: unique, and tells which (possibly ended) test process
// made it.
inline std::string cgroup_test_name() {
  static std::atomic<int> n{0};
  return "ward-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

// Every directory the cgroup `path` ("/ward/ID", relative to each
// hierarchy's root) has or would have on this host: the unified
// hierarchy's, then each v1 hierarchy's.
inline std::vector<std::string> cgroup_dirs(const std::string& path) {
  std::vector<std::string> out;
  const auto& h = ward::cgroup_host();
  if (!h.unified_mount.empty()) out.push_back(h.unified_mount + path);
  for (const auto& v : h.v1_hierarchies) out.push_back(v.mount + path);
  return out;
}

}  // namespace ward_test
