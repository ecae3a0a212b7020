// SPDX-License-Identifier: Apache-2.0
// ward::supervise unprivileged: a user and pid namespace; a cgroup only where
// the caller's own is delegated to it (not on this project's CI host, where
// rlimits and the pid namespace do the work and the verdict says so). The
// cases: tests/common/supervise_cases.hpp.
#include <unistd.h>

#include <catch2/catch.hpp>

#include "supervise_cases.hpp"

namespace {
ward::Sandbox rootless_box(std::vector<std::string> argv) {
  return ward::Sandbox(std::move(argv)).unshare(ward::NsSet{ward::NsKind::user, ward::NsKind::pid});
}
}  // namespace

#define WARD_SKIP_UNLESS_UNPRIVILEGED()                                                          \
  do {                                                                                           \
    if (::geteuid() == 0) WARD_SKIP("running as root; the rootless tier must run unprivileged"); \
    if (!ward_test::userns_allowed()) WARD_SKIP("unprivileged user namespaces are disabled");    \
  } while (false)

WARD_SUPERVISE_CASES("rootless", rootless_box, WARD_SKIP_UNLESS_UNPRIVILEGED())

TEST_CASE("rootless: supervise: refuses a run that nothing could kill as a whole") {
  WARD_SKIP_UNLESS_UNPRIVILEGED();
  ward::SuperviseOptions o;
  o.use_cgroup = false;
  try {
    ward::supervise(ward::Sandbox({"/bin/true"}), ward::Limits{}, o);
    FAIL("supervise ran a tree with no cgroup and no pid namespace");
  } catch (const ward::Error& e) {
    std::cout << e.what() << "\n";
    CHECK(std::string(e.what()).find("nothing would kill the whole process tree") !=
          std::string::npos);
  }
}

TEST_CASE("rootless: supervise: the verdict says what an unprivileged caller did not get") {
  WARD_SKIP_UNLESS_UNPRIVILEGED();
  using namespace std::chrono_literals;
  ward::Limits l;
  l.cpu_time = 1s;
  l.memory = 256u << 20;
  auto v = ward::supervise(rootless_box({"/bin/true"}), l);
  std::cout << v.to_meta();
  CHECK(v.ok());
  if (v.cgroup.empty()) {
    CHECK(v.enforced.cpu_time == ward::Mechanism::rlimit);
    CHECK(v.enforced.memory == ward::Mechanism::rlimit);
    CHECK(v.enforced.tree_kill == ward::Mechanism::pid_namespace);
    CHECK(v.not_granted.size() >= 3);
    CHECK(v.to_meta().find("ward-not-granted:memory: no cgroup") != std::string::npos);
  } else {
    CHECK(v.enforced.tree_kill == ward::Mechanism::cgroup_v2);
  }
}
