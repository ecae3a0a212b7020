// SPDX-License-Identifier: Apache-2.0
// Landlock and terminals through Sandbox, on live children (unprivileged).
#include <netinet/in.h>
#include <sys/socket.h>

#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "run_util.hpp"
#include "test_util.hpp"

using namespace ward;
using ward_test::kv;
using ward_test::probe;
using ward_test::run;

namespace {
// The directories a dynamically linked probe needs to start.
LandlockRuleset base_ruleset(LandlockOptions o) {
  LandlockRuleset rs(o);
  for (const char* dir : {"/usr", "/lib", "/lib64", "/bin", "/etc/ld.so.cache"})
    if (std::filesystem::exists(dir))
      rs.allow_path(dir, LandlockFs::read_only() | LandlockFs::execute);
  rs.allow_path(std::filesystem::path(probe()).parent_path().string(),
                LandlockFs::read_only() | LandlockFs::execute);
  return rs;
}
int listen_loopback() {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(s, 4) == 0);
  return s;
}
int port_of(int s) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}
}  // namespace

TEST_CASE("landlock: a read outside the allowed tree fails with EACCES, inside succeeds") {
  if (landlock_abi() < 1) WARD_SKIP("Landlock is not available on this kernel");
  auto dir = std::filesystem::temp_directory_path() / ("ward-ll-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "inside") << "ok\n";
  std::ofstream(dir.string() + "-outside") << "secret\n";
  LandlockOptions o;
  o.handled_fs = LandlockFs::all();
  auto rs = base_ruleset(o);
  rs.allow_path(dir.string(), LandlockFs::read_only());
  rs.create();
  auto in = kv(run(Sandbox({probe(), "read", (dir / "inside").string()}).landlock(rs)).out);
  CHECK(in["read"] == "0");
  auto out = kv(run(Sandbox({probe(), "read", dir.string() + "-outside"}).landlock(rs)).out);
  CHECK(out["read"] == std::to_string(EACCES));
  auto etc = kv(run(Sandbox({probe(), "read", "/etc/hostname"}).landlock(rs)).out);
  CHECK(etc["read"] == std::to_string(EACCES));
  // Unconfined, the same read works: the refusal above is Landlock's.
  CHECK(kv(run(Sandbox({probe(), "read", dir.string() + "-outside"})).out)["read"] == "0");
  std::filesystem::remove_all(dir);
  std::filesystem::remove(dir.string() + "-outside");
}

TEST_CASE("landlock: connect to a non-allowed TCP port is refused, an allowed one works") {
  if (landlock_abi() < 4) WARD_SKIP("Landlock network rules need ABI 4 (Linux 6.7)");
  int allowed = listen_loopback(), denied = listen_loopback();
  LandlockOptions o;
  o.handled_fs = LandlockFs::none();
  o.handled_net = LandlockNet::all();
  LandlockRuleset rs(o);
  rs.allow_port(static_cast<std::uint16_t>(port_of(allowed)), LandlockNet::connect_tcp);
  rs.create();
  auto ok =
      kv(run(Sandbox({probe(), "connect", std::to_string(port_of(allowed))}).landlock(rs)).out);
  CHECK(ok["connect"] == "0");
  auto no =
      kv(run(Sandbox({probe(), "connect", std::to_string(port_of(denied))}).landlock(rs)).out);
  CHECK(no["connect"] == std::to_string(EACCES));
  ::close(allowed);
  ::close(denied);
}

TEST_CASE("landlock composes with seccomp in one sandbox") {
  if (landlock_abi() < 1) WARD_SKIP("Landlock is not available on this kernel");
  LandlockOptions o;
  o.handled_fs = LandlockFs::all();
  auto rs = base_ruleset(o);
  rs.create();
  SeccompFilter f(SeccompAction::allow());
  f.rule(SeccompAction::errno_ret(77), "getppid");
  auto r = run(Sandbox({probe(), "read", "/etc/hostname"}).landlock(rs).seccomp(f));
  CHECK(kv(r.out)["read"] == std::to_string(EACCES));
  auto s = run(Sandbox({probe(), "syscall", std::to_string(SYS_getppid)}).landlock(rs).seccomp(f));
  CHECK(kv(s.out)["errno"] == "77");
}

TEST_CASE("terminal: the child has a controlling pty with the asked size") {
  Child c = Sandbox({probe(), "tty", "readline"}).terminal(30, 100).spawn();
  REQUIRE(c.terminal());
  const std::string line = "hello pty\n";
  REQUIRE(::write(c.terminal().get(), line.data(), line.size()) ==
          static_cast<ssize_t>(line.size()));
  std::string out;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(c.terminal().get(), buf, sizeof buf);
    if (n <= 0) break;  // EIO once the child has exited and closed its side
    out.append(buf, static_cast<size_t>(n));
    if (out.find("got=") != std::string::npos &&
        out.find('\n', out.find("got=")) != std::string::npos)
      break;
  }
  CHECK(c.wait().success());
  std::erase(out, '\r');  // the terminal's output processing turns \n into \r\n
  auto m = kv(out);
  CHECK(m["isatty"] == "1");
  CHECK(m["rows"] == "30");
  CHECK(m["cols"] == "100");
  CHECK(m["session_leader"] == "1");
  CHECK(m["foreground"] == "1");
  CHECK(m["got"] == "hello pty");
}
