// SPDX-License-Identifier: Apache-2.0
// Sandbox::init_process as root: the shared cases
// (tests/common/init_process_cases.hpp, in a user namespace whose root is
// ours), and the attack as another uid (65534, no user namespace, no
// capabilities): pid 1 may not be looked at, and holds nothing of ours.
#include <unistd.h>

#include <catch2/catch.hpp>

#include "init_process_cases.hpp"

#define WARD_INIT_ROOT_SKIP()                                                           \
  do {                                                                                  \
    WARD_SKIP_UNLESS_ROOT();                                                            \
    if (!ward::Sandbox::init_process_supported()) WARD_SKIP("no init for this arch");   \
    if (!ward_test::userns_allowed()) WARD_SKIP("this kernel refuses user namespaces"); \
  } while (false)

WARD_INIT_PROCESS_CASES("root", WARD_INIT_ROOT_SKIP())

TEST_CASE("root attack: as uid 65534, pid 1 can be neither read nor traced nor written") {
  WARD_SKIP_UNLESS_ROOT();
  if (!ward::Sandbox::init_process_supported()) WARD_SKIP("no init for this arch");
  if (!ward_test::init::have_python()) WARD_SKIP("no /usr/bin/python3");
  const std::string secret = ward_test::init::secret();
  ward::Sandbox sb({"/usr/bin/python3", "-c", ward_test::init::kAttacker, secret,
                    ward_test::init::caller_env_entry()});
  sb.unshare(ward::NsSet{ward::NsKind::pid, ward::NsKind::mount})
      .mount(ward::MountSpec::proc())
      .user(65534, 65534)
      .stdin_(ward::Stdio::null())
      .init_process();
  auto r = ward_test::run_out_err(sb);
  std::cout << "---- uid 65534\n" << r.out << r.err;
  ward_test::init::check_attack(r, false);
}
