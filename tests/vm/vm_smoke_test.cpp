// SPDX-License-Identifier: Apache-2.0
// vmonly tier: runs only inside the cgroup-v2 VM (scripts/vm-run.sh sets
// WARD_IN_VM=1); placeholder until the cgroup tests arrive.
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "test_util.hpp"

TEST_CASE("the VM has a pure cgroup v2 hierarchy with memory and pids") {
  if (std::getenv("WARD_IN_VM") == nullptr) WARD_SKIP("not in the cgroup v2 VM");
  std::ifstream in("/sys/fs/cgroup/cgroup.controllers");
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string controllers = " " + ss.str();
  INFO("cgroup.controllers: " << controllers);
  CHECK(controllers.find(" memory") != std::string::npos);
  CHECK(controllers.find(" pids") != std::string::npos);
}
