// SPDX-License-Identifier: Apache-2.0
// Capabilities as an unprivileged uid: inside a user namespace we own, the
// child is root with exactly the capabilities asked for.
#include <linux/capability.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "run_util.hpp"
#include "test_util.hpp"

using namespace ward;
using ward_test::kv;
using ward_test::probe;
using ward_test::run;

TEST_CASE("rootless: only CAP_NET_BIND_SERVICE binds port 80 and opens no raw socket") {
  if (::geteuid() == 0) WARD_SKIP("running as root; the rootless tier must run unprivileged");
  auto base = Sandbox()
                  .unshare(NsSet{NsKind::user, NsKind::net})
                  .capabilities(Capabilities::only(CapabilitySet{CAP_NET_BIND_SERVICE}));
  CHECK(kv(run(Sandbox(base).command({probe(), "bind", "80"})).out)["bind"] == "0");
  CHECK(kv(run(Sandbox(base).command({probe(), "rawsock"})).out)["rawsock"] ==
        std::to_string(EPERM));
  auto st = run(Sandbox(base).command({"/bin/grep", "^Cap", "/proc/self/status"}));
  CHECK_THAT(st.out, Catch::Contains("CapEff:\t0000000000000400"));
  CHECK_THAT(st.out, Catch::Contains("CapBnd:\t0000000000000400"));
  CHECK_THAT(st.out, Catch::Contains("CapInh:\t0000000000000000"));
}

TEST_CASE("rootless: no capabilities means no mount and no hostname change") {
  if (::geteuid() == 0) WARD_SKIP("running as root; the rootless tier must run unprivileged");
  auto base = Sandbox()
                  .unshare(NsSet{NsKind::user, NsKind::mount, NsKind::uts})
                  .capabilities(Capabilities::none());
  CHECK(kv(run(Sandbox(base).command({probe(), "mount-tmpfs", "/tmp"})).out)["mount"] ==
        std::to_string(EPERM));
  auto h = kv(
      run(Sandbox(base).command({"/bin/sh", "-c", "hostname nope 2>/dev/null; echo rc=$?"})).out);
  CHECK(h["rc"] != "0");
  // With its capabilities, the same child can (in its own namespaces).
  auto full = Sandbox().unshare(NsSet{NsKind::user, NsKind::mount, NsKind::uts});
  CHECK(kv(run(Sandbox(full).command({probe(), "mount-tmpfs", "/tmp"})).out)["mount"] == "0");
}

TEST_CASE("rootless: supplementary groups are refused when setgroups is denied") {
  if (::geteuid() == 0) WARD_SKIP("running as root; the rootless tier must run unprivileged");
  try {
    (void)Sandbox({"/bin/true"}).unshare(NsKind::user).groups({0}).plan();
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("groups") && Catch::Contains("deny"));
  }
}
