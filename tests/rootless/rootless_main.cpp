// SPDX-License-Identifier: Apache-2.0
// main() of ward_rootless_tests.
//
// Rootless tests must run as a plain unprivileged user. Started as root (as
// ctest does on CI), this main drops to uid/gid 65534 (or $WARD_ROOTLESS_UID /
// $WARD_ROOTLESS_GID), clears supplementary groups, and re-execs
// /proc/self/exe with the same argv, so the tests run in a fresh process that
// never had privileges (no leftover capabilities, dumpable, ordinary
// /proc/self ownership). Started as any other user, it runs the tests as is.
//
// Nothing is printed to stdout on the way: test discovery parses stdout of
// `--list-test-names-only`.
#define CATCH_CONFIG_RUNNER
#include <errno.h>
#include <grp.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <catch2/catch.hpp>

#include "catch_runner.hpp"

namespace {

constexpr const char* kReexecMarker = "WARD_ROOTLESS_REEXECED";
constexpr unsigned long kDefaultId = 65534;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "ward_rootless_tests: %s\n", what);
  std::exit(1);
}

[[noreturn]] void die_errno(const char* what) {
  std::fprintf(stderr, "ward_rootless_tests: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

unsigned long id_from_env(const char* name, unsigned long fallback) {
  const char* s = std::getenv(name);
  if (s == nullptr || *s == '\0') return fallback;
  errno = 0;
  char* end = nullptr;
  unsigned long v = std::strtoul(s, &end, 10);
  if (errno != 0 || *end != '\0' || v == 0 || v >= 0xffffffffUL) {
    std::fprintf(stderr, "ward_rootless_tests: %s=%s is not a valid non-root id\n", name, s);
    std::exit(1);
  }
  return v;
}

[[noreturn]] void drop_privileges_and_reexec(char** argv) {
  if (std::getenv(kReexecMarker) != nullptr) {
    die("still euid 0 after dropping privileges and re-exec; refusing to loop");
  }
  const auto uid = static_cast<uid_t>(id_from_env("WARD_ROOTLESS_UID", kDefaultId));
  const auto gid = static_cast<gid_t>(
      id_from_env("WARD_ROOTLESS_GID", id_from_env("WARD_ROOTLESS_UID", kDefaultId)));

  // Order matters: groups and gid while we still have CAP_SETGID, uid last.
  if (::setgroups(0, nullptr) != 0) die_errno("setgroups(0, NULL)");
  if (::setresgid(gid, gid, gid) != 0) die_errno("setresgid");
  if (::setresuid(uid, uid, uid) != 0) die_errno("setresuid");

  uid_t ru, eu, su;
  gid_t rg, eg, sg;
  if (::getresuid(&ru, &eu, &su) != 0) die_errno("getresuid");
  if (::getresgid(&rg, &eg, &sg) != 0) die_errno("getresgid");
  if (ru != uid || eu != uid || su != uid || rg != gid || eg != gid || sg != gid) {
    die("uids/gids are not what was asked for after setresuid/setresgid");
  }
  if (::getgroups(0, nullptr) != 0) die("supplementary groups remain after setgroups(0, NULL)");
  if (::setresuid(0, 0, 0) == 0) die("could regain uid 0 after dropping privileges");

  if (::setenv(kReexecMarker, "1", 1) != 0) die_errno("setenv");
  ::execv("/proc/self/exe", argv);
  std::fprintf(stderr, "ward_rootless_tests: execv(/proc/self/exe) as uid %lu gid %lu failed: %s\n",
               static_cast<unsigned long>(uid), static_cast<unsigned long>(gid),
               std::strerror(errno));
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  if (::geteuid() == 0) drop_privileges_and_reexec(argv);
  ::unsetenv(kReexecMarker);  // not inherited by anything the tests spawn
  return ward_test::run_catch_session(argc, argv);
}
