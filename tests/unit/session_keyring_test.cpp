// SPDX-License-Identifier: Apache-2.0
// Sandbox::session_keyring: the child joins a new session keyring of the
// given name before anything of it runs, so it does not possess the
// caller's keys (keyrings(7)); the runtime's side of this is attacked in
// tests/attack/keyring_attack_test.cpp.
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include <catch2/catch.hpp>

#include "run_util.hpp"
#include "test_util.hpp"

using namespace ward;

TEST_CASE("session_keyring: the child's session keyring is a new one, named as asked") {
  if (::syscall(SYS_keyctl, 0L /* KEYCTL_GET_KEYRING_ID */, -3L, 0L) < 0 && errno == ENOSYS)
    WARD_SKIP("this kernel has no keyrings (CONFIG_KEYS)");
  // /proc/keys lists what the reader may view; its session keyring is one.
  const std::string name = "ward-unit-ses-" + std::to_string(::getpid());
  // Without first: a keyring outlives its last process until the kernel's
  // garbage collector takes it, and /proc/keys would still show it.
  auto without = ward_test::run(Sandbox({"/bin/cat", "/proc/keys"}));
  REQUIRE(without.status.success());
  CHECK(without.out.find(name) == std::string::npos);
  auto with = ward_test::run(Sandbox({"/bin/cat", "/proc/keys"}).session_keyring(name));
  REQUIRE(with.status.success());
  CHECK_THAT(with.out, Catch::Contains(" keyring   " + name + ": "));
}

TEST_CASE("session_keyring: without a name, a new anonymous keyring only its possessor sees") {
  if (::syscall(SYS_keyctl, 0L /* KEYCTL_GET_KEYRING_ID */, -3L, 0L) < 0 && errno == ENOSYS)
    WARD_SKIP("this kernel has no keyrings (CONFIG_KEYS)");
  // /proc/keys shows what the reader may view: its own session keyring
  // ("_ses", possessed), nobody else's (no permission for other processes).
  auto own = [] {
    auto r = ward_test::run(
        Sandbox({"/bin/sh", "-c", "grep -c ' keyring   _ses: ' /proc/keys"}).session_keyring());
    REQUIRE(r.status.exited());
    return r.out;
  };
  CHECK(own() == "1\n");
  // Two at once: each sees one, its own (the other's is not viewable).
  Child a = Sandbox({"/bin/sleep", "2"}).session_keyring().spawn();
  CHECK(own() == "1\n");
  a.kill(SIGKILL);
  a.wait();
}

TEST_CASE("session_keyring: a name the kernel cannot take is refused before spawn") {
  auto refused = [](std::string n) -> std::string {
    try {
      (void)Sandbox({"/bin/true"}).session_keyring(std::move(n)).plan();
    } catch (const Error& e) {
      return e.what();
    }
    return "(planned)";
  };
  CHECK_THAT(refused(std::string(4096, 'k')), Catch::Contains("session_keyring"));
  CHECK_THAT(refused(std::string("a\0b", 3)), Catch::Contains("NUL"));
}
