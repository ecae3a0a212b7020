// SPDX-License-Identifier: Apache-2.0
// ward::supervise as root: the run gets a cgroup (on this project's hybrid CI
// host: memory, pids and cpuacct in v1, cgroup.kill in the unified hierarchy;
// on the VM tier all v2), no namespaces. The cases: tests/common/supervise_cases.hpp.
#include <unistd.h>

#include <catch2/catch.hpp>

#include "supervise_cases.hpp"

namespace {
ward::Sandbox root_box(std::vector<std::string> argv) { return ward::Sandbox(std::move(argv)); }
}  // namespace

WARD_SUPERVISE_CASES("root", root_box, WARD_SKIP_UNLESS_ROOT())

TEST_CASE("root: supervise: every limit has a cgroup mechanism where the host has the controller") {
  WARD_SKIP_UNLESS_ROOT();
  using namespace std::chrono_literals;
  ward::Limits l;
  l.cpu_time = 1s;
  l.memory = 64u << 20;
  l.processes = 50;
  auto v = ward::supervise(ward::Sandbox({"/bin/true"}), l);
  std::cout << v.to_meta();
  CHECK(v.ok());
  CHECK(!v.cgroup.empty());
  auto expect = [](const char* c) {
    auto b = ward::cgroup_backend(c);
    return b == ward::CgroupBackend::v1   ? ward::Mechanism::cgroup_v1
           : b == ward::CgroupBackend::v2 ? ward::Mechanism::cgroup_v2
                                          : ward::Mechanism::rlimit;
  };
  CHECK(v.enforced.memory == expect("memory"));
  CHECK(v.enforced.processes == expect("pids"));
  CHECK(v.enforced.tree_kill != ward::Mechanism::pid_namespace);
  CHECK(v.enforced.cpu_time != ward::Mechanism::rlimit);
  CHECK(v.cpu_time_source.rfind("cgroup", 0) == 0);
}
