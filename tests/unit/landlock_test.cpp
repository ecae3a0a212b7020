// SPDX-License-Identifier: Apache-2.0
// ward::LandlockRuleset: rules enforced on a forked child (Landlock needs no
// privileges), ABI negotiation (best effort and strict, with assume_abi to
// pretend the kernel is older), errors.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <string>

#include <ward/landlock.hpp>

#include <catch2/catch.hpp>

#include "fork_util.hpp"
#include "landlock_cases.hpp"
#include "test_util.hpp"

using namespace ward;
using ward_test::ForkReport;
using ward_test::run_forked;
namespace cases = ward_test::landlock;

TEST_CASE("landlock: the ABI is detected once, with a reason when missing") {
  const LandlockSupport& s = landlock_support();
  CHECK(&s == &landlock_support());
  CHECK(landlock_abi() == s.abi);
  CHECK(s.abi >= 0);
  if (s.abi == 0) {
    CHECK(s.error != 0);
    CHECK_FALSE(s.reason.empty());
  } else {
    CHECK(s.reason.empty());
  }
}

TEST_CASE("landlock: access constants and helpers") {
  STATIC_REQUIRE(LandlockFs::all().bits() == 0xffff);
  STATIC_REQUIRE(LandlockFs::for_abi(1).bits() == 0x1fff);
  STATIC_REQUIRE(LandlockFs::for_abi(2).bits() == 0x3fff);
  STATIC_REQUIRE(LandlockFs::for_abi(3).bits() == 0x7fff);
  STATIC_REQUIRE(LandlockFs::for_abi(4) == LandlockFs::for_abi(3));
  STATIC_REQUIRE(LandlockFs::for_abi(5) == LandlockFs::all());
  STATIC_REQUIRE(LandlockFs::file_rights().bits() == 0xc007);
  STATIC_REQUIRE(LandlockFs::read_write().contains(LandlockFs::read_only()));
  STATIC_REQUIRE_FALSE(LandlockFs::read_write().contains(LandlockFs::execute));
  STATIC_REQUIRE(LandlockNet::all().bits() == 3);
  STATIC_REQUIRE(LandlockScope::all().bits() == 3);
  CHECK((LandlockFs::read_file | LandlockFs::truncate).to_string() == "read_file, truncate");
  CHECK(LandlockFs(1ULL << 40).to_string() == "unknown bits 0x10000000000");
  CHECK(LandlockNet::all().to_string() == "bind_tcp, connect_tcp");
  CHECK(LandlockScope::signal.to_string() == "signal");
}

TEST_CASE("landlock: files outside the allowed trees are denied") { cases::check_fs_rules(); }

TEST_CASE("landlock: TCP connect and bind are allowed per port") { cases::check_tcp_rules(); }

TEST_CASE("landlock: the signal scope stops signals leaving the domain") {
  cases::check_signal_scope();
}

TEST_CASE("landlock: the abstract unix socket scope stops connects leaving the domain") {
  cases::check_abstract_unix_scope();
}

TEST_CASE("landlock: best effort drops what an older ABI lacks, and says what") {
  if (landlock_abi() == 0) WARD_SKIP("no Landlock: " << landlock_support().reason);
  const LandlockOptions ask{.handled_fs = LandlockFs::all(),
                            .handled_net = LandlockNet::all(),
                            .scoped = LandlockScope::all(),
                            .log = LandlockLog::same_exec_off,
                            .assume_abi = 3};
  LandlockRuleset rs(ask);
  CHECK(rs.abi() == std::min(3, landlock_abi()));
  if (landlock_abi() < 3)
    WARD_SKIP("the kernel's Landlock ABI is " << landlock_abi() << ", below 3");
  CHECK(rs.handled_fs() == LandlockFs::for_abi(3));
  CHECK(rs.handled_net().empty());
  CHECK(rs.scoped().empty());
  CHECK(rs.restrict_flags() == 0);
  CHECK(rs.dropped() ==
        "fs: ioctl_dev (need ABI 5); net: bind_tcp, connect_tcp (need ABI 4); "
        "scope: abstract_unix_socket, signal (need ABI 6); log: log_same_exec_off (need ABI 7)");
  CHECK(rs.enforcement() == LandlockEnforcement::partial);
  // A port rule on a ruleset whose TCP handling was dropped is accepted and
  // has no effect.
  rs.allow_port(80, LandlockNet::connect_tcp);

  LandlockRuleset one({.assume_abi = 1});
  CHECK(one.handled_fs() == LandlockFs::for_abi(1));
  CHECK_THAT(one.dropped(),
             Catch::StartsWith("fs: refer, truncate, ioctl_dev (need ABI 2, 3, 5)") &&
                 Catch::Contains("EXDEV"));

  LandlockRuleset none({.assume_abi = 0});
  CHECK(none.abi() == 0);
  CHECK_THAT(none.dropped(), Catch::StartsWith("landlock unavailable: "));
  none.allow_path("/usr", LandlockFs::read_only()).create();
  CHECK(none.fd() == -1);
  CHECK(none.enforcement() == LandlockEnforcement::none);

  // Everything asked for is there: nothing dropped.
  LandlockRuleset full({.handled_fs = LandlockFs::for_abi(landlock_abi())});
  CHECK(full.dropped().empty());
  CHECK(full.enforcement() == LandlockEnforcement::full);
}

TEST_CASE("landlock: strict mode refuses, naming what is missing and the ABI it needs") {
  if (landlock_abi() < 4) WARD_SKIP("needs a kernel with Landlock ABI 4 or newer to pretend 3");
  try {
    LandlockRuleset rs(
        {.handled_net = LandlockNet::connect_tcp, .mode = LandlockMode::strict, .assume_abi = 3});
    FAIL("strict ruleset accepted on ABI 3");
  } catch (const Error& e) {
    CHECK(e.step() == Step::landlock);
    CHECK(e.code() == std::errc::operation_not_supported);
    CHECK_THAT(e.what(), Catch::Contains("Landlock ABI 3") &&
                             Catch::Contains("fs: ioctl_dev (need ABI 5)") &&
                             Catch::Contains("net: connect_tcp (need ABI 4)"));
  }
  try {
    LandlockRuleset rs({.mode = LandlockMode::strict, .assume_abi = 0});
    FAIL("strict ruleset accepted without Landlock");
  } catch (const Error& e) {
    CHECK(e.step() == Step::landlock);
    CHECK_THAT(e.what(), Catch::Contains("unavailable") || Catch::Contains("pretending"));
  }
  // Strict with exactly what ABI 3 has is fine on ABI 3.
  LandlockRuleset ok(
      {.handled_fs = LandlockFs::for_abi(3), .mode = LandlockMode::strict, .assume_abi = 3});
  CHECK(ok.dropped().empty());
}

TEST_CASE("landlock: a dropped scope is not enforced (assume_abi 5 on a newer kernel)") {
  if (landlock_abi() < 6) WARD_SKIP("needs Landlock ABI 6 to compare with 5");
  auto res = run_forked([](ForkReport& r) {
    LandlockRuleset rs({.handled_fs = LandlockFs::none(),
                        .handled_net = LandlockNet::all(),  // ABI 4..5: kept
                        .scoped = LandlockScope::signal,
                        .assume_abi = 5});
    r.put("dropped", rs.dropped());
    r.put("enforcement", static_cast<long>(rs.restrict_self()));
    r.result("kill_parent", ::kill(::getppid(), 0));
    r.result("connect_port_1", cases::tcp(true, 1));
  });
  INFO(res.out);
  REQUIRE(res.exited_ok());
  CHECK(res.kv["dropped"] == "scope: signal (need ABI 6)");
  CHECK(res.kv["enforcement"] == std::to_string(static_cast<int>(LandlockEnforcement::partial)));
  CHECK(res.kv["kill_parent"] == "0");
  CHECK(res.kv["connect_port_1"] == "EACCES");  // TCP handling (ABI 4) was kept
}

TEST_CASE("landlock: the ABI 7 logging flags are passed to landlock_restrict_self") {
  if (landlock_abi() < 7) WARD_SKIP("logging flags need Landlock ABI 7");
  auto res = run_forked([](ForkReport& r) {
    LandlockRuleset rs({.handled_fs = LandlockFs::read_file,
                        .log = LandlockLog::same_exec_off | LandlockLog::subdomains_off});
    r.put("flags", static_cast<long>(rs.restrict_flags()));
    r.put("enforcement", static_cast<long>(rs.restrict_self()));
    cases::try_open(r, "read", "/etc/passwd", O_RDONLY);
  });
  INFO(res.out);
  REQUIRE(res.exited_ok());
  CHECK(res.kv["flags"] == "5");
  CHECK(res.kv["enforcement"] == std::to_string(static_cast<int>(LandlockEnforcement::full)));
  CHECK(res.kv["read"] == "EACCES");
}

TEST_CASE("landlock: landlock_restrict_raw applies a created ruleset (the sandbox child's way)") {
  if (landlock_abi() == 0) WARD_SKIP("no Landlock: " << landlock_support().reason);
  cases::Tree t;
  LandlockRuleset rs;
  rs.allow_path(t / "ro", LandlockFs::read_only()).create();
  REQUIRE(rs.fd() >= 0);
  CHECK((::fcntl(rs.fd(), F_GETFD) & FD_CLOEXEC) != 0);
  auto res = run_forked([&](ForkReport& r) {
    r.result("nnp", ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    long rc = landlock_restrict_raw(rs.fd(), rs.restrict_flags());
    r.put("raw", rc == 0 ? std::string("0") : ForkReport::errno_name(static_cast<int>(-rc)));
    cases::try_open(r, "inside", t / "ro/file", O_RDONLY);
    cases::try_open(r, "outside", t / "out/file", O_RDONLY);
  });
  INFO(res.out);
  REQUIRE(res.exited_ok());
  CHECK(res.kv["raw"] == "0");
  CHECK(res.kv["inside"] == "0");
  CHECK(res.kv["outside"] == "EACCES");
  // Rules added after create() go straight to the descriptor.
  rs.allow_path(t / "rw", LandlockFs::read_write());
  CHECK(rs.fd() >= 0);
}

TEST_CASE("landlock: rule errors name the path or port") {
  cases::Tree t;
  LandlockRuleset rs({.handled_fs = LandlockFs::read_only()});
  try {
    rs.allow_path(t / "no/such/dir", LandlockFs::read_file);
    FAIL("missing path accepted");
  } catch (const Error& e) {
    CHECK(e.step() == Step::landlock);
    CHECK(e.code() == std::errc::no_such_file_or_directory);
    CHECK(e.object() == t / "no/such/dir");
    CHECK_THAT(e.what(), Catch::Contains(t / "no/such/dir") && Catch::Contains("ENOENT"));
  }
  try {
    rs.allow_path(t / "rw", LandlockFs::read_write());
    FAIL("unhandled rights accepted");
  } catch (const Error& e) {
    CHECK(e.code() == std::errc::invalid_argument);
    CHECK(e.object() == t / "rw");
    CHECK_THAT(e.what(), Catch::Contains("write_file") && Catch::Contains("handled_fs"));
  }
  try {
    rs.allow_path(t / "ro/file", LandlockFs::read_dir);
    FAIL("directory-only rights on a file accepted");
  } catch (const Error& e) {
    CHECK(e.code() == std::errc::invalid_argument);
    CHECK_THAT(e.what(), Catch::Contains("not a directory") && Catch::Contains("read_dir"));
  }
  try {
    rs.allow_port(443, LandlockNet::connect_tcp);
    FAIL("a port rule without handled_net accepted");
  } catch (const Error& e) {
    CHECK(e.code() == std::errc::invalid_argument);
    CHECK(e.object() == "tcp port 443");
  }
  // read_only() on a file: read_dir is masked off, not an error.
  rs.allow_path(t / "ro/file", LandlockFs::read_only());
  if (landlock_abi() > 0) {
    rs.create();
    CHECK(rs.fd() >= 0);
  }
}
