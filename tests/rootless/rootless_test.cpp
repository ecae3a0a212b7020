// SPDX-License-Identifier: Apache-2.0
// As an unprivileged uid (the binary's main drops to 65534 and re-execs).
#include <unistd.h>

#include <fstream>

#include <catch2/catch.hpp>

#include "run_util.hpp"
#include "test_util.hpp"

using namespace ward;
using ward_test::kv;
using ward_test::probe;
using ward_test::run;

using ward_test::userns_allowed;

TEST_CASE("rootless: the tests really run unprivileged") {
  CHECK(::geteuid() != 0);
  CHECK(::getuid() != 0);
}

TEST_CASE("rootless: user+pid+mount+uts+net with myself mapped to root") {
  if (::geteuid() == 0) WARD_SKIP("running as root; the rootless tier must run unprivileged");
  if (!userns_allowed()) WARD_SKIP("unprivileged user namespaces are disabled on this host");
  const auto me = std::to_string(::geteuid());
  auto r = run(
      Sandbox({"/bin/sh", "-c",
               "echo pid=$$; echo uid=$(id -u); echo host=$(hostname); "
               "echo map=$(cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //'); "
               "echo gmap=$(cat /proc/self/gid_map | tr -s ' ' | sed 's/^ //'); "
               "echo setgroups=$(cat /proc/self/setgroups); "
               "echo ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ,)"})
          .unshare(NsSet{NsKind::user, NsKind::pid, NsKind::mount, NsKind::uts, NsKind::net})
          .hostname("rootless-box"));
  REQUIRE(r.status.success());
  auto info = kv(r.out);
  CHECK(info["pid"] == "1");
  CHECK(info["uid"] == "0");
  CHECK(info["host"] == "rootless-box");
  CHECK(info["map"] == "0 " + me + " 1");
  CHECK(info["gmap"] == "0 " + std::to_string(::getegid()) + " 1");
  CHECK(info["setgroups"] == "deny");  // unprivileged: required before gid_map
  CHECK(info["ifaces"] == "lo,");
}

TEST_CASE("rootless: mapping an id we do not own is refused, naming the map") {
  if (::geteuid() == 0) WARD_SKIP("running as root; the rootless tier must run unprivileged");
  if (!userns_allowed()) WARD_SKIP("unprivileged user namespaces are disabled on this host");
  try {
    (void)Sandbox({"/bin/true"}).unshare(NsKind::user).uid_map(IdMap{{0, 0, 1}}).spawn();
    FAIL("spawn succeeded");
  } catch (const Error& e) {
    CHECK(e.step() == Step::uid_map);
    CHECK(e.code() == std::errc::operation_not_permitted);
    CHECK_THAT(e.what(), Catch::Contains("uid_map") && Catch::Contains("EPERM") &&
                             Catch::Contains("writing '0 0 1'"));
  }
}

TEST_CASE("rootless: namespaces without a user namespace are refused at clone") {
  if (::geteuid() == 0) WARD_SKIP("running as root; the rootless tier must run unprivileged");
  try {
    (void)Sandbox({"/bin/true"}).unshare(NsKind::net).spawn();
    FAIL("spawn succeeded");
  } catch (const Error& e) {
    CHECK(e.step() == Step::clone);
    CHECK(e.code() == std::errc::operation_not_permitted);
  }
}

TEST_CASE("rootless: Namespace::create_set with a user namespace") {
  if (::geteuid() == 0) WARD_SKIP("running as root; the rootless tier must run unprivileged");
  if (!userns_allowed()) WARD_SKIP("unprivileged user namespaces are disabled on this host");
  auto made = Namespace::create_set(NsSet{NsKind::user, NsKind::net, NsKind::uts});
  REQUIRE(made.size() == 3);
  CHECK(made[0].kind() == NsKind::user);
  CHECK_FALSE(made[1] == Namespace::current(NsKind::net));
  // Join them: user first (which grants the rights over the others).
  auto info = kv(run(Sandbox({probe(), "info"}).join(made[0]).join(made[1]).join(made[2])).out);
  CHECK(info["uid"] == "0");
}

TEST_CASE("rootless: spawning without namespaces works and leaks nothing") {
  auto before = ward_test::open_fds();
  for (int i = 0; i < 50; ++i) CHECK(Sandbox({probe(), "exit", "0"}).spawn().wait().success());
  CHECK(ward_test::open_fds() == before);
}
