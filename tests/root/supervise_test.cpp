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

// The init cannot run under a filter installed before the credentials
// (Sandbox::plan refuses field "init_process"): supervise then runs the
// program as the pid namespace's init, says so in not_granted, and any
// other refusal of the plan still reaches the caller.
TEST_CASE("root: supervise: a plan that cannot have the init runs without it and says why") {
  WARD_SKIP_UNLESS_ROOT();
  if (!ward::Sandbox::init_process_supported()) WARD_SKIP("no init program for this architecture");
  ward::SeccompOptions early;
  early.before_credentials = true;
  auto box = [&] {
    ward::Sandbox sb({"/bin/sh", "-c", "echo $$"});
    sb.unshare(ward::NsSet{ward::NsKind::user, ward::NsKind::pid})
        .seccomp(ward::SeccompFilter(ward::SeccompAction::allow()), early);
    return sb;
  };
  auto v = ward::supervise(box(), ward::Limits{});
  std::cout << v.to_meta();
  CHECK(v.ok());
  CHECK_FALSE(v.init_process);
  CHECK(v.stdout_data == "1\n");
  bool said = false;
  for (const auto& n : v.not_granted) said = said || n.rfind("init: ", 0) == 0;
  CHECK(said);
  // Another field's refusal is not taken for the init's.
  auto bad = box();
  bad.hostname("box");  // without a uts namespace: refused by the plan, field "hostname"
  CHECK_THROWS_WITH(ward::supervise(std::move(bad), ward::Limits{}),
                    Catch::Contains("UTS namespace"));
}
