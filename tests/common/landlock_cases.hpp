// SPDX-License-Identifier: Apache-2.0
// Landlock checks shared by the unit tier (root or not) and the rootless
// tier (uid 65534): each restricts a forked child and reports what it could
// still do; the assertions run in the parent.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <fstream>
#include <string>

#include <ward/landlock.hpp>

#include <catch2/catch.hpp>

#include "fork_util.hpp"
#include "test_util.hpp"

namespace ward_test::landlock {

// A scratch tree: ro/file, rw/, out/file, out/single.
struct Tree {
  std::string base;
  Tree() {
    char tmpl[] = "/tmp/ward-landlock-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp");
    base = tmpl;
    for (const char* d : {"/ro", "/rw", "/out"}) ::mkdir((base + d).c_str(), 0700);
    for (const char* f : {"/ro/file", "/out/file", "/out/single"}) std::ofstream(base + f) << "x";
  }
  ~Tree() {
    // Best effort; the paths are our own.
    std::string cmd = "rm -rf '" + base + "'";
    if (std::system(cmd.c_str()) != 0) {
    }
  }
  std::string operator/(const std::string& rel) const { return base + "/" + rel; }
};

inline void try_open(ForkReport& r, const std::string& key, const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0600);
  r.result(key, fd);
  if (fd >= 0) ::close(fd);
}

// Files outside every allowed tree are denied; a read-only tree cannot be
// written; a read-write tree can; a single file can be allowed (its
// directory rights are masked off rather than rejected by the kernel).
inline void check_fs_rules() {
  if (ward::landlock_abi() == 0) WARD_SKIP("no Landlock: " << ward::landlock_support().reason);
  Tree t;
  auto res = run_forked([&](ForkReport& r) {
    ward::LandlockRuleset rs;
    rs.allow_path(t / "ro", ward::LandlockFs::read_only())
        .allow_path(t / "rw", ward::LandlockFs::read_write())
        .allow_path(t / "out/single", ward::LandlockFs::read_only());
    r.put("enforcement", static_cast<long>(rs.restrict_self()));
    try_open(r, "ro_read", t / "ro/file", O_RDONLY);
    try_open(r, "ro_write", t / "ro/file", O_WRONLY);
    try_open(r, "ro_create", t / "ro/new", O_WRONLY | O_CREAT);
    try_open(r, "rw_create", t / "rw/new", O_WRONLY | O_CREAT);
    try_open(r, "out_read", t / "out/file", O_RDONLY);
    try_open(r, "single_read", t / "out/single", O_RDONLY);
    try_open(r, "etc_read", "/etc/passwd", O_RDONLY);
    r.result("rw_mkdir", ::mkdir((t / "rw/sub").c_str(), 0700));
    r.result("ro_mkdir", ::mkdir((t / "ro/sub").c_str(), 0700));
    // Reparenting without refer being allowed on both sides: EXDEV, or
    // EACCES for the missing remove/make rights on ro (EACCES prevails).
    r.result("rename_rw_to_ro", ::rename((t / "rw/new").c_str(), (t / "ro/new").c_str()));
  });
  INFO(res.out);
  REQUIRE(res.exited_ok());
  CHECK(res.kv["enforcement"] ==
        std::to_string(static_cast<int>(ward::landlock_abi() >= 5
                                            ? ward::LandlockEnforcement::full
                                            : ward::LandlockEnforcement::partial)));
  CHECK(res.kv["ro_read"] == "0");
  CHECK(res.kv["ro_write"] == "EACCES");
  CHECK(res.kv["ro_create"] == "EACCES");
  CHECK(res.kv["rw_create"] == "0");
  CHECK(res.kv["out_read"] == "EACCES");
  CHECK(res.kv["single_read"] == "0");
  CHECK(res.kv["etc_read"] == "EACCES");
  CHECK(res.kv["rw_mkdir"] == "0");
  CHECK(res.kv["ro_mkdir"] == "EACCES");
  CHECK(res.kv["rename_rw_to_ro"] == "EACCES");
}

// A TCP listener on 127.0.0.1, ephemeral port.
struct Listener {
  int fd = -1;
  std::uint16_t port = 0;
  Listener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 8) != 0)
      throw std::runtime_error("listen on 127.0.0.1");
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~Listener() { ::close(fd); }
};

// A port nobody listens on right now (bound once by us, then released).
inline std::uint16_t free_port() {
  Listener l;
  return l.port;
}

inline int tcp(bool do_connect, std::uint16_t port) {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = do_connect ? ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a)
                      : ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  int err = errno;
  ::close(s);
  errno = err;
  return rc;
}

// connect/bind are allowed per port; everything else is EACCES.
inline void check_tcp_rules() {
  if (ward::landlock_abi() < 4)
    WARD_SKIP("TCP rules need Landlock ABI 4; this kernel has " << ward::landlock_abi());
  Listener allowed, denied;
  const std::uint16_t bind_ok = free_port();
  std::uint16_t bind_no = free_port();
  if (bind_no == bind_ok) bind_no = static_cast<std::uint16_t>(bind_ok + 1);
  auto res = run_forked([&](ForkReport& r) {
    ward::LandlockRuleset rs(
        {.handled_fs = ward::LandlockFs::none(), .handled_net = ward::LandlockNet::all()});
    rs.allow_port(allowed.port, ward::LandlockNet::connect_tcp)
        .allow_port(bind_ok, ward::LandlockNet::bind_tcp);
    rs.restrict_self();
    r.result("connect_allowed", tcp(true, allowed.port));
    r.result("connect_denied", tcp(true, denied.port));
    r.result("bind_allowed", tcp(false, bind_ok));
    r.result("bind_denied", tcp(false, bind_no));
  });
  INFO(res.out);
  REQUIRE(res.exited_ok());
  CHECK(res.kv["connect_allowed"] == "0");
  CHECK(res.kv["connect_denied"] == "EACCES");
  CHECK(res.kv["bind_allowed"] == "0");
  CHECK(res.kv["bind_denied"] == "EACCES");
}

// With LandlockScope::signal the domain cannot signal a process outside it
// (EPERM), but still itself.
inline void check_signal_scope() {
  if (ward::landlock_abi() < 6)
    WARD_SKIP("scopes need Landlock ABI 6; this kernel has " << ward::landlock_abi());
  pid_t victim = ::fork();
  if (victim == 0) {
    ::pause();
    ::_exit(0);
  }
  REQUIRE(victim > 0);
  auto res = run_forked([&](ForkReport& r) {
    ward::LandlockRuleset rs(
        {.handled_fs = ward::LandlockFs::none(), .scoped = ward::LandlockScope::signal});
    rs.restrict_self();
    r.result("kill_outside", ::kill(victim, SIGTERM));
    r.result("kill_parent", ::kill(::getppid(), 0));
    r.result("kill_self", ::kill(::getpid(), 0));
  });
  // Still alive: the restricted child's SIGTERM did not arrive.
  int st = 0;
  CHECK(::waitpid(victim, &st, WNOHANG) == 0);
  ::kill(victim, SIGKILL);
  ::waitpid(victim, &st, 0);
  INFO(res.out);
  REQUIRE(res.exited_ok());
  CHECK(res.kv["kill_outside"] == "EPERM");
  CHECK(res.kv["kill_parent"] == "EPERM");
  CHECK(res.kv["kill_self"] == "0");
}

inline sockaddr_un abstract_addr(const std::string& name, socklen_t& len) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  a.sun_path[0] = '\0';
  name.copy(a.sun_path + 1, sizeof a.sun_path - 2);
  len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  return a;
}

inline int unix_listen(const std::string& name) {
  int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  socklen_t len;
  sockaddr_un a = abstract_addr(name, len);
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(s, 4) != 0) {
    ::close(s);
    return -1;
  }
  return s;
}

inline int unix_connect(const std::string& name) {
  int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  socklen_t len;
  sockaddr_un a = abstract_addr(name, len);
  int rc = ::connect(s, reinterpret_cast<sockaddr*>(&a), len);
  int err = errno;
  ::close(s);
  errno = err;
  return rc;
}

// With LandlockScope::abstract_unix_socket the domain cannot connect to an
// abstract socket bound outside it (EPERM), but to its own.
inline void check_abstract_unix_scope() {
  if (ward::landlock_abi() < 6)
    WARD_SKIP("scopes need Landlock ABI 6; this kernel has " << ward::landlock_abi());
  const std::string outside = "ward-landlock-test-" + std::to_string(::getpid());
  int l = unix_listen(outside);
  REQUIRE(l >= 0);
  auto res = run_forked([&](ForkReport& r) {
    ward::LandlockRuleset rs({.handled_fs = ward::LandlockFs::none(),
                              .scoped = ward::LandlockScope::abstract_unix_socket});
    r.result("before", unix_connect(outside));
    rs.restrict_self();
    r.result("outside", unix_connect(outside));
    const std::string inside = outside + "-inside";
    int il = unix_listen(inside);
    r.result("inside_listen", il);
    r.result("inside", unix_connect(inside));
  });
  ::close(l);
  INFO(res.out);
  REQUIRE(res.exited_ok());
  CHECK(res.kv["before"] == "0");
  CHECK(res.kv["outside"] == "EPERM");
  CHECK(res.kv["inside_listen"] == "0");
  CHECK(res.kv["inside"] == "0");
}

}  // namespace ward_test::landlock
