// SPDX-License-Identifier: Apache-2.0
// Landlock as an unprivileged uid: the same core checks as the unit tier,
// and restrict_self() without no_new_privs is refused (EPERM) because an
// unprivileged process lacks CAP_SYS_ADMIN.
#include <fcntl.h>
#include <unistd.h>

#include <ward/landlock.hpp>

#include <catch2/catch.hpp>

#include "fork_util.hpp"
#include "landlock_cases.hpp"
#include "test_util.hpp"

using namespace ward;
namespace cases = ward_test::landlock;

#define WARD_SKIP_IF_ROOT()                                                                      \
  do {                                                                                           \
    if (::geteuid() == 0) WARD_SKIP("running as root; the rootless tier must run unprivileged"); \
  } while (false)

TEST_CASE("rootless landlock: files outside the allowed trees are denied") {
  WARD_SKIP_IF_ROOT();
  cases::check_fs_rules();
}

TEST_CASE("rootless landlock: TCP connect and bind are allowed per port") {
  WARD_SKIP_IF_ROOT();
  cases::check_tcp_rules();
}

TEST_CASE("rootless landlock: the signal scope stops signals leaving the domain") {
  WARD_SKIP_IF_ROOT();
  cases::check_signal_scope();
}

TEST_CASE("rootless landlock: the abstract unix socket scope stops connects leaving the domain") {
  WARD_SKIP_IF_ROOT();
  cases::check_abstract_unix_scope();
}

TEST_CASE("rootless landlock: without no_new_privs restrict_self is refused with EPERM") {
  WARD_SKIP_IF_ROOT();
  if (landlock_abi() == 0) WARD_SKIP("no Landlock: " << landlock_support().reason);
  auto res = ward_test::run_forked([](ward_test::ForkReport& r) {
    LandlockRuleset rs({.handled_fs = LandlockFs::read_file});
    try {
      rs.restrict_self(false);
      r.put("result", "restricted");
    } catch (const Error& e) {
      r.put("step", std::string(to_string(e.step())));
      r.put("errno", ward_test::ForkReport::errno_name(e.error_number()));
      r.put("what", e.what());
    }
    cases::try_open(r, "read", "/etc/passwd", O_RDONLY);
  });
  INFO(res.out);
  REQUIRE(res.exited_ok());
  CHECK(res.kv["step"] == "landlock");
  CHECK(res.kv["errno"] == "EPERM");
  CHECK_THAT(res.kv["what"], Catch::Contains("no_new_privs"));
  CHECK(res.kv["read"] == "0");  // nothing was enforced
}
