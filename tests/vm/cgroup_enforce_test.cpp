// SPDX-License-Identifier: Apache-2.0
// vmonly tier: limits that only a pure cgroup-v2 kernel enforces (the host
// is hybrid). The test cgroups live directly below the hierarchy root,
// which holds no processes of ours (scripts/vm-run.sh runs the tests in a
// leaf cgroup and enables the controllers at the root).
#include <chrono>
#include <cstdlib>
#include <string>

#include <catch2/catch.hpp>

#include "run_util.hpp"
#include "test_util.hpp"

using namespace ward;
using ward_test::probe;

namespace {
std::string name(const char* what) {
  return std::string("ward-vm-") + what + "-" + std::to_string(::getpid());
}
}  // namespace

TEST_CASE("memory.max: a child allocating past the limit is OOM-killed and the Child says so") {
  if (std::getenv("WARD_IN_VM") == nullptr) WARD_SKIP("not in the cgroup v2 VM");
  auto cg = CgroupV2::create(name("mem"), "/");
  cg.memory_max(32u << 20);
  cg.memory_swap_max(0);
  Child c = Sandbox({probe(), "alloc", "256"}).cgroup(cg).stdout_(Stdio::null()).spawn();
  ExitStatus st = c.wait();
  INFO(st.describe());
  CHECK(st.signaled());
  CHECK(st.signal() == SIGKILL);
  CHECK(st.oom_killed);
  CHECK_THAT(st.describe(), Catch::Contains("OOM-killed"));
  // A child that stays under the limit is not reported as OOM.
  Child ok = Sandbox({probe(), "alloc", "4"}).cgroup(cg).stdout_(Stdio::null()).spawn();
  CHECK(ok.wait().success());
}

TEST_CASE("pids.max: a fork bomb is contained") {
  if (std::getenv("WARD_IN_VM") == nullptr) WARD_SKIP("not in the cgroup v2 VM");
  auto cg = CgroupV2::create(name("pids"), "/");
  cg.pids_max(16);
  // Only shell builtins besides the sleeps, so the shell itself never needs
  // a fork that the limit would refuse.
  Child c =
      Sandbox({"/bin/sh", "-c",
               "i=0; while [ $i -lt 64 ]; do sleep 30 & i=$((i+1)); done; echo done >&2; wait"})
          .cgroup(cg)
          .stderr_(Stdio::pipe())
          .spawn();
  std::string err;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(c.stderr_pipe().get(), buf, sizeof buf);
    if (n <= 0) break;
    err.append(buf, static_cast<size_t>(n));
    // dash gives up on the script at the first failed fork; the sleeps
    // still hold the pipe open, so stop at the message, not at EOF.
    if (err.find("fork") != std::string::npos || err.find("done") != std::string::npos) break;
  }
  INFO(err);
  CHECK(cg.stats().pids_current.value_or(99) <= 16);
  CHECK_THAT(err, Catch::Contains("fork"));  // dash: "Cannot fork" once the limit is hit
  cg.kill();
  ExitStatus st = c.wait();
  CHECK_FALSE(st.success());  // "Cannot fork" ends the script (or the kill did)
  CHECK(cg.wait_empty(std::chrono::seconds(10)));  // the orphaned sleeps were killed too
}
