// SPDX-License-Identifier: Apache-2.0
// ward::Pty: a pair whose peer comes from the master (TIOCGPTPEER), made
// the controlling terminal and stdio of a forked child with
// make_controlling_terminal(); window size and SIGWINCH through the master.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <ward/terminal.hpp>

#include <catch2/catch.hpp>

#include "test_util.hpp"

using namespace ward;

namespace {

// Reads from the master until `want` appears, EOF/EIO (the child closed
// its side), or 10 s pass. Returns everything read, \r removed (ONLCR).
std::string read_until(int master, const std::string& want) {
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (got.find(want) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{master, POLLIN, 0};
    int r = ::poll(&p, 1, 200);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    char buf[256];
    ssize_t n = ::read(master, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EIO: no peer open any more
    for (ssize_t i = 0; i < n; ++i)
      if (buf[i] != '\r') got += buf[i];
  }
  return got;
}

std::string fd_link(int fd) {
  char buf[256];
  ssize_t n = ::readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), buf, sizeof buf - 1);
  return n < 0 ? std::string("?") : std::string(buf, static_cast<size_t>(n));
}

void print(const char* fmt, int a, int b) {
  char line[128];
  int n = std::snprintf(line, sizeof line, fmt, a, b);
  if (::write(1, line, static_cast<size_t>(n)) != n) ::_exit(5);
}

}  // namespace

TEST_CASE("terminal: Pty::open gives a master and a peer taken from it, not by path") {
  PtyPair p = Pty::open(winsize{24, 80, 0, 0});
  REQUIRE(p.master);
  REQUIRE(p.peer);
  CHECK_FALSE(p.peer_by_path);  // TIOCGPTPEER exists (Linux 4.13)
  CHECK(p.number == Pty::number(p.master.get()));
  CHECK(::isatty(p.peer.get()) == 1);
  CHECK((::fcntl(p.master.get(), F_GETFD) & FD_CLOEXEC) != 0);
  CHECK((::fcntl(p.peer.get(), F_GETFD) & FD_CLOEXEC) != 0);
  CHECK((::fcntl(p.peer.get(), F_GETFL) & O_ACCMODE) == O_RDWR);
  // The peer is /dev/pts/N with N = TIOCGPTN, device 136:N.
  CHECK(fd_link(p.peer.get()) == "/dev/pts/" + std::to_string(p.number));
  struct stat st {};
  REQUIRE(::fstat(p.peer.get(), &st) == 0);
  CHECK(S_ISCHR(st.st_mode));
  CHECK(major(st.st_rdev) == 136);
  CHECK(minor(st.st_rdev) == p.number);
  winsize ws = window_size(p.peer.get());
  CHECK(ws.ws_row == 24);
  CHECK(ws.ws_col == 80);
  set_window_size(p.master.get(), 50, 132);
  ws = window_size(p.peer.get());
  CHECK(ws.ws_row == 50);
  CHECK(ws.ws_col == 132);
}

TEST_CASE("terminal: the by-path fallback opens and verifies the same peer") {
  PtyPair p = Pty::open();
  UniqueFd by_path = Pty::open_peer_by_path(p.master.get());
  REQUIRE(by_path);
  struct stat a {
  }, b{};
  REQUIRE(::fstat(p.peer.get(), &a) == 0);
  REQUIRE(::fstat(by_path.get(), &b) == 0);
  CHECK(a.st_rdev == b.st_rdev);
  CHECK(a.st_dev == b.st_dev);
  CHECK(a.st_ino == b.st_ino);
  CHECK((::fcntl(by_path.get(), F_GETFD) & FD_CLOEXEC) != 0);
  // Without a window size given, the kernel's 0x0 stays.
  winsize ws = window_size(p.peer.get());
  CHECK(ws.ws_row == 0);
  CHECK(ws.ws_col == 0);
}

TEST_CASE("terminal: errors name the descriptor") {
  try {
    (void)window_size(-1);
    FAIL("TIOCGWINSZ on -1 succeeded");
  } catch (const Error& e) {
    CHECK(e.step() == Step::io);
    CHECK(e.code() == std::errc::bad_file_descriptor);
    CHECK_THAT(e.what(), Catch::Contains("fd -1") && Catch::Contains("TIOCGWINSZ"));
  }
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  REQUIRE(devnull >= 0);
  CHECK_THROWS_AS(Pty::number(devnull), Error);
  // make_controlling_terminal on a non-terminal: -ENOTTY from TIOCSCTTY,
  // in a child (it calls setsid).
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const char* step = "";
    long r = make_controlling_terminal(devnull, &step);
    ::_exit(r == -ENOTTY && std::string(step) == "TIOCSCTTY" ? 0 : 1);
  }
  ::close(devnull);
  int st = 0;
  REQUIRE(::waitpid(pid, &st, 0) == pid);
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
}

TEST_CASE("terminal: a child makes the peer its controlling terminal and sees resizes") {
  PtyPair p = Pty::open(winsize{24, 80, 0, 0});
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // The child: no Catch2 here, only what a sandbox child would do.
    ::close(p.master.get());
    sigset_t winch;
    sigemptyset(&winch);
    sigaddset(&winch, SIGWINCH);
    sigprocmask(SIG_BLOCK, &winch, nullptr);  // before the parent can resize
    const char* step = "";
    long r = make_controlling_terminal(p.peer.get(), &step);
    if (r != 0) {
      // stdout is still the test's: report there, the parent fails on exit 3.
      std::fprintf(stderr, "make_controlling_terminal: %s: %s\n", step, strerror(int(-r)));
      ::_exit(3);
    }
    termios t{};
    tcgetattr(0, &t);
    t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(0, TCSANOW, &t);
    winsize ws{};
    ioctl(0, TIOCGWINSZ, &ws);
    print("isatty %d sid_is_tty_sid %d\n", ::isatty(0) && ::isatty(1) && ::isatty(2),
          ::tcgetsid(0) == ::getsid(0) && ::getsid(0) == ::getpid());
    print("fg_is_me %d cloexec %d\n", ::tcgetpgrp(0) == ::getpgrp(),
          (::fcntl(1, F_GETFD) & FD_CLOEXEC) != 0);
    print("tty %d %d\n", ws.ws_row, ws.ws_col);
    timespec timeout{10, 0};
    int sig = sigtimedwait(&winch, nullptr, &timeout);
    ioctl(0, TIOCGWINSZ, &ws);
    print("winch %d, now %d", sig == SIGWINCH, 0);
    print(" %d %d\n", ws.ws_row, ws.ws_col);
    ::_exit(0);
  }
  p.peer.reset();  // only the child holds the peer now: EIO at its exit
  std::string out = read_until(p.master.get(), "tty 24 80\n");
  CHECK_THAT(out, Catch::Contains("isatty 1 sid_is_tty_sid 1"));
  CHECK_THAT(out, Catch::Contains("fg_is_me 1 cloexec 0"));
  CHECK_THAT(out, Catch::Contains("tty 24 80\n"));
  set_window_size(p.master.get(), 30, 100);
  out = read_until(p.master.get(), "now 0 30 100\n");
  CHECK_THAT(out, Catch::Contains("winch 1, now 0 30 100\n"));
  int st = 0;
  REQUIRE(::waitpid(pid, &st, 0) == pid);
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
}

TEST_CASE("terminal: send_console hands the master to a console socket, as runc does") {
  char dir[] = "/tmp/ward-console-XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  const std::string path = std::string(dir) + "/console.sock";
  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(listener);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  REQUIRE(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(listener.get(), 1) == 0);

  PtyPair pty = Pty::open();
  send_console(path, pty.master.get());
  UniqueFd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  REQUIRE(conn);
  char name[32] = {};
  detail::OneFdMsg m(name, sizeof name - 1);
  REQUIRE(::recvmsg(conn.get(), &m.msg, MSG_CMSG_CLOEXEC) == 9);
  CHECK(std::string(name) == "/dev/ptmx");
  UniqueFd got(m.fd());
  REQUIRE(got);
  struct stat a {
  }, b{};
  REQUIRE(::fstat(got.get(), &a) == 0);
  REQUIRE(::fstat(pty.master.get(), &b) == 0);
  CHECK((a.st_dev == b.st_dev && a.st_ino == b.st_ino));
  CHECK(Pty::number(got.get()) == pty.number);  // the very master, not just /dev/ptmx

  ::unlink(path.c_str());
  try {
    send_console(path, pty.master.get());
    FAIL("sent to nobody");
  } catch (const Error& e) {
    CHECK(e.step() == Step::terminal);
    CHECK(e.code().value() == ENOENT);
    CHECK_THAT(e.what(), Catch::Contains(path));
  }
  ::rmdir(dir);
}
