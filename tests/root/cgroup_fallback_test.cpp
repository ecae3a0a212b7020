// SPDX-License-Identifier: Apache-2.0
// Before Linux 5.7 there is no CLONE_INTO_CGROUP: the child moves itself
// into its cgroup before anything else. WARD_CLONE_INTO_CGROUP=0 forces
// that path here, so it is tested on this kernel too.
#include <cstdlib>
#include <string>

#include <ward/ward.hpp>

#include <catch2/catch.hpp>

#include "cgroup_util.hpp"
#include "run_util.hpp"
#include "test_util.hpp"

using namespace ward;

TEST_CASE("cgroup fallback: without CLONE_INTO_CGROUP the child joins its cgroup itself") {
  WARD_SKIP_UNLESS_ROOT();
  if (cgroup_mode() == CgroupMode::none || cgroup_mode() == CgroupMode::v1_only)
    WARD_SKIP("no cgroup v2 hierarchy");
  ::setenv("WARD_CLONE_INTO_CGROUP", "0", 1);
  CgroupV2 cg = CgroupV2::create(ward_test::cgroup_test_name(), ward_test::cgroup_parent());
  const auto& h = cgroup_host();
  std::string rel = cg.path().substr(h.unified_mount.size());
  if (h.unified_root != "/") rel = h.unified_root + rel;

  auto r = ward_test::run(Sandbox({"/bin/cat", "/proc/self/cgroup"}).cgroup(cg));
  CHECK(r.status.exit_code() == 0);
  CHECK(r.out.find("0::" + rel + "\n") != std::string::npos);
  // With a cgroup namespace, the child sees its own cgroup as "/".
  auto ns =
      ward_test::run(Sandbox({"/bin/cat", "/proc/self/cgroup"}).cgroup(cg).unshare(NsKind::cgroup));
  CHECK(ns.status.exit_code() == 0);
  CHECK(ns.out.find("0::/\n") != std::string::npos);
  cg.destroy();
}
