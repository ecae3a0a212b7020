// SPDX-License-Identifier: Apache-2.0
// Attacks on the caller's terminal (issue 11, item 1; CVE-2025-52565).
//
// `ward run` of a config with process.terminal (what `ward spec` writes)
// and no --console-socket used to hand the container the caller's own
// terminal: a process inside pushes a command into the caller's input
// queue with ioctl(TIOCSTI) (ioctl_tty(2); dev.tty.legacy_tiocsti = 1
// here), and the caller's shell runs it, as root, once the container ends.
// Each test here runs ward the way an interactive shell does: ward leads a
// session whose controlling terminal is a pty the test made, with that
// pty's peer as its stdin, stdout and stderr. Afterwards the test reads
// what is queued on that terminal: what the shell would read next.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "runtime_util.hpp"

#ifndef WARD_TEST_TIOCSTI
#define WARD_TEST_TIOCSTI ""
#endif

using ward_test::Bundle;
using ward_test::Out;
namespace json = ward::json;

namespace {

// What the caller's terminal saw of one ward command.
struct TermRun {
  int status = -1;     // ward's exit status, shell style (128+N: signal N)
  std::string screen;  // everything written to the terminal
  std::string queued;  // input still queued on it when ward had ended
  termios before{}, during{}, after{};
  bool saw_during = false;
};

// The caller's terminal: a pty pair from the host's devpts.
struct CallerPty {
  int master = -1, peer = -1;
  CallerPty() {
    master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    REQUIRE(master >= 0);
    REQUIRE(::unlockpt(master) == 0);
    peer = ::ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    REQUIRE(peer >= 0);
    winsize ws{};
    ws.ws_row = 41;
    ws.ws_col = 123;
    REQUIRE(::ioctl(master, TIOCSWINSZ, &ws) == 0);
  }
  ~CallerPty() {
    ::close(master);
    ::close(peer);
  }
  CallerPty(const CallerPty&) = delete;
  CallerPty& operator=(const CallerPty&) = delete;
};

void read_some(int fd, std::string& into, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0 || (p.revents & POLLIN) == 0) return;
  char buf[4096];
  ssize_t n = ::read(fd, buf, sizeof buf);
  if (n > 0) into.append(buf, static_cast<size_t>(n));
}

// Runs `ward --root <state> args...` as the leader of a new session whose
// controlling terminal (and stdin, stdout, stderr) is `t`'s peer, like a
// login shell's child. `on_screen(text, pid)` is called as output arrives
// (to signal ward at the right moment); it returns true once it is done.
TermRun run_on_terminal(Bundle& b, CallerPty& t, const std::vector<std::string>& args,
                        const std::function<bool(const std::string&, pid_t)>& on_screen = {}) {
  std::vector<std::string> a = {WARD_RUNTIME_BIN, "--root", b.state.path};
  a.insert(a.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : a) argv.push_back(s.data());
  argv.push_back(nullptr);
  TermRun r;
  REQUIRE(::tcgetattr(t.peer, &r.before) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::setsid() < 0 || ::ioctl(t.peer, TIOCSCTTY, 0) != 0) ::_exit(120);
    for (int i = 0; i < 3; ++i)
      if (::dup2(t.peer, i) != i) ::_exit(121);
    ::execv(argv[0], argv.data());
    ::_exit(122);
  }
  bool done_hook = !on_screen;
  int st = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    read_some(t.master, r.screen, 20);
    if (!done_hook && on_screen(r.screen, pid)) {
      done_hook = true;
      r.saw_during = ::tcgetattr(t.peer, &r.during) == 0;
    }
    pid_t w = ::waitpid(pid, &st, WNOHANG);
    if (w == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      FAIL("ward did not end within 60 s; screen:\n" << r.screen);
    }
  }
  // What ward wrote last is still in the pty: take it all.
  for (int i = 0; i < 5; ++i) read_some(t.master, r.screen, 20);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  REQUIRE(::tcgetattr(t.peer, &r.after) == 0);
  // What the caller's shell would read next: non-canonical, so that a
  // partial line counts too.
  termios raw = r.after;
  raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
  raw.c_cc[VMIN] = 0;
  raw.c_cc[VTIME] = 0;
  REQUIRE(::tcsetattr(t.peer, TCSANOW, &raw) == 0);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(t.peer, buf, sizeof buf)) > 0) r.queued.append(buf, static_cast<size_t>(n));
  REQUIRE(::tcsetattr(t.peer, TCSANOW, &r.after) == 0);
  return r;
}

// An on_screen hook for run_on_terminal: once the container has said
// "ready", `act` (given ward's pid), once.
std::function<bool(const std::string&, pid_t)> once_ready(std::function<void(pid_t)> act) {
  return [act](const std::string& screen, pid_t ward) {
    if (screen.find("ready") == std::string::npos) return false;
    act(ward);
    return true;
  };
}

bool same_termios(const termios& x, const termios& y) {
  return x.c_iflag == y.c_iflag && x.c_oflag == y.c_oflag && x.c_cflag == y.c_cflag &&
         x.c_lflag == y.c_lflag && std::memcmp(x.c_cc, y.c_cc, sizeof x.c_cc) == 0;
}

// The attacker in the image, and a busybox tty(1) (not among the rootfs's
// applets).
void add_attacker(Bundle& b) {
  std::string helper = WARD_TEST_TIOCSTI;
  if (helper.empty() || ::access(helper.c_str(), X_OK) != 0) FAIL("no ward_test_tiocsti built");
  std::filesystem::copy_file(helper, b.rootfs->path + "/bin/tiocsti");
  ::chmod((b.rootfs->path + "/bin/tiocsti").c_str(), 0755);
}

void set_terminal(json::Value& cfg, bool on) { cfg.find("process")->set("terminal", on); }

// The script a container runs: names its terminal, describes /dev/console
// and the devpts it should be on, then injects a command that would
// write the host canary.
std::string attack_script(const std::string& canary) {
  return "/bin/busybox tty; "
         "stat -c 'console=%F %t %d' /dev/console; stat -c 'devpts=%d' /dev/pts; "
         "/bin/busybox stty size; /bin/tiocsti 'echo PWNED > " +
         canary + "\\n'; echo end-of-script";
}

// tty(1) names a /dev/pts/N; for a container's init, /dev/console is a
// character device of major 136 (a pty peer, UNIX98_PTY_SLAVE_MAJOR) on
// the container's devpts (an exec'd process gets no console, as in runc).
void check_container_terminal(const std::string& screen, bool console) {
  INFO(screen);
  CHECK(std::regex_search(screen, std::regex("(^|\n)/dev/pts/[0-9]+\r?\n")));
  // The caller's window size reached the container's pty.
  CHECK(screen.find("41 123") != std::string::npos);
  if (!console) return;
  std::smatch m;
  REQUIRE(std::regex_search(screen, m, std::regex("console=character special file 88 ([0-9]+)")));
  std::smatch d;
  REQUIRE(std::regex_search(screen, d, std::regex("devpts=([0-9]+)")));
  CHECK(m[1].str() == d[1].str());
}

}  // namespace

TEST_CASE("tty: TIOCSTI from a foreground run never reaches the caller's terminal") {
  NEED_RUNTIME(b);
  add_attacker(b);
  ward_test::ScratchDir scratch("tty-canary");
  const std::string canary = scratch / "pwned";
  b.set({"sh", "-c", attack_script(canary)}, [](json::Value& cfg) { set_terminal(cfg, true); });
  CallerPty t;
  TermRun r = run_on_terminal(b, t, {"run", "--bundle", b.dir.path, Bundle::id("tty-run")});
  INFO("screen:\n" << r.screen << "\nqueued: " << r.queued);
  CHECK(r.status == 0);
  // Nothing for the caller's shell to read, and so nothing it could run.
  CHECK(r.queued.find("PWNED") == std::string::npos);
  CHECK(r.queued.empty());
  CHECK(!std::filesystem::exists(canary));
  // The injection went into the container's own pty, harmlessly.
  CHECK(r.screen.find("end-of-script") != std::string::npos);
  check_container_terminal(r.screen, true);
  CHECK(same_termios(r.before, r.after));
}

TEST_CASE("tty: TIOCSTI through the caller's terminal as plain stdio (terminal false) is refused") {
  // Without process.terminal the caller's stdio is passed through, as runc
  // does; the container's process then leads a session of its own
  // (setsid, as runc's nsexec does), so the caller's terminal is not its
  // controlling terminal and TIOCSTI needs CAP_SYS_ADMIN, which it lacks.
  NEED_RUNTIME(b);
  add_attacker(b);
  ward_test::ScratchDir scratch("tty-canary");
  const std::string canary = scratch / "pwned";
  b.set({"sh", "-c", "/bin/tiocsti 'echo PWNED > " + canary + "\\n'; echo end-of-script"});
  CallerPty t;
  TermRun r = run_on_terminal(b, t, {"run", "--bundle", b.dir.path, Bundle::id("tty-plain")});
  INFO("screen:\n" << r.screen << "\nqueued: " << r.queued);
  CHECK(r.screen.find("end-of-script") != std::string::npos);
  CHECK(r.screen.find("tiocsti: Operation not permitted") != std::string::npos);
  CHECK(r.queued.empty());
}

TEST_CASE("tty: TIOCSTI from exec -t in the foreground never reaches the caller's terminal") {
  NEED_RUNTIME(b);
  add_attacker(b);
  ward_test::ScratchDir scratch("tty-canary");
  const std::string canary = scratch / "pwned";
  b.set({"sleep", "1000"});
  const std::string id = Bundle::id("tty-exec");
  Out d = b.cmd({"run", "-d", "--bundle", b.dir.path, id});
  REQUIRE(d.status == 0);
  SECTION("exec -t: a pty of the container's, relayed by ward") {
    CallerPty t;
    TermRun r = run_on_terminal(b, t, {"exec", "-t", id, "sh", "-c", attack_script(canary)});
    INFO("screen:\n" << r.screen << "\nqueued: " << r.queued);
    CHECK(r.status == 0);
    CHECK(r.queued.empty());
    CHECK(r.screen.find("end-of-script") != std::string::npos);
    check_container_terminal(r.screen, false);
    CHECK(same_termios(r.before, r.after));
  }
  SECTION("exec without -t: the caller's terminal as stdio, in a session of its own") {
    CallerPty t;
    TermRun r = run_on_terminal(
        b, t, {"exec", id, "sh", "-c", "/bin/tiocsti 'echo PWNED > " + canary + "\\n'; echo end"});
    INFO("screen:\n" << r.screen << "\nqueued: " << r.queued);
    CHECK(r.screen.find("tiocsti: Operation not permitted") != std::string::npos);
    CHECK(r.queued.empty());
  }
  CHECK(!std::filesystem::exists(canary));
  CHECK(b.cmd({"delete", "--force", id}).status == 0);
}

TEST_CASE(
    "tty: a hostile image's /dev/console, /dev/pts or /dev/ptmx symlink binds nothing "
    "outside the rootfs (CVE-2025-52565)") {
  // The image brings its own /dev (the config mounts no tmpfs there), with
  // symlinks that climb out of the rootfs to a canary of the test's. The
  // console bind must land inside the rootfs or not at all.
  NEED_RUNTIME(b);
  // Our own mount namespace: "the mount table did not change" then
  // concerns what ward did, not tests running beside this one.
  ward_test::isolate_mounts();
  ward_test::ScratchDir scratch("tty-canary");
  const std::string canary = scratch / "console";
  ward_test::write_file(canary, "canary\n");
  const std::string up = "../../../../../../../../..";
  const std::string rootfs = b.rootfs->path;
  std::filesystem::create_directories(rootfs + "/dev/pts");
  std::string which, refused;  // refused: what ward's error names, "" if it runs
  SECTION("/dev/console") {
    which = "console";
    refused = "terminal open destination /dev/console: Too many levels of symbolic links";
    std::filesystem::create_symlink(up + canary, rootfs + "/dev/console");
  }
  SECTION("/dev/console, absolute") {
    which = "console-abs";
    refused = "terminal open destination /dev/console: Too many levels of symbolic links";
    std::filesystem::create_symlink(canary, rootfs + "/dev/console");
  }
  SECTION("/dev/ptmx (ward never opens it: the master is dev/pts/ptmx of the devpts)") {
    which = "ptmx";
    std::filesystem::create_symlink(up + canary, rootfs + "/dev/ptmx");
  }
  SECTION("/dev/pts") {
    which = "pts";
    refused = "mount open destination /dev/pts: Too many levels of symbolic links";
    std::filesystem::remove(rootfs + "/dev/pts");
    ward_test::write_file(scratch / "ptmx", "canary\n");
    std::filesystem::create_symlink(up + scratch.path, rootfs + "/dev/pts");
  }
  b.set({"sh", "-c",
         "echo hi > /dev/console; /bin/busybox tty; stat -c 'console=%F %t %d' /dev/console; "
         "stat -c 'devpts=%d' /dev/pts; /bin/busybox stty size; echo end-of-script"},
        [](json::Value& cfg) {
          set_terminal(cfg, true);
          json::Array kept;
          for (auto& m : cfg.find("mounts")->as_array())
            if (m.find("destination")->as_string() != "/dev") kept.push_back(m);
          cfg.set("mounts", json::Value(std::move(kept)));
        });
  auto before = ward_test::mount_table();
  // Both ways of binding the console: open_tree + move_mount of the peer,
  // and (WARD_MOUNT_API=legacy, mount.hpp) mount(2) of /proc/self/fd/N.
  for (const char* api : {"modern", "legacy"}) {
    if (std::string(api) == "legacy")
      ::setenv("WARD_MOUNT_API", "legacy", 1);
    else
      ::unsetenv("WARD_MOUNT_API");
    CallerPty t;
    TermRun r =
        run_on_terminal(b, t, {"run", "--bundle", b.dir.path, Bundle::id("tty-" + which + api)});
    ::unsetenv("WARD_MOUNT_API");
    INFO(which << " " << api << " screen:\n" << r.screen);
    CHECK(ward_test::read_file(canary) == "canary\n");
    CHECK(ward_test::mount_table() == before);
    CHECK(same_termios(r.before, r.after));
    if (refused.empty()) {
      // Ran: the console is the container's pty, bound inside its rootfs.
      CHECK(r.status == 0);
      CHECK(r.screen.find("hi\r\n") != std::string::npos);
      CHECK(r.screen.find("end-of-script") != std::string::npos);
      check_container_terminal(r.screen, true);
    } else {
      CHECK(r.status != 0);
      CHECK(r.screen.find(refused) != std::string::npos);
    }
  }
  if (which == "pts") CHECK(ward_test::read_file(scratch / "ptmx") == "canary\n");
}

TEST_CASE("tty: a foreground run keeps the exit status and the output and restores the terminal") {
  NEED_RUNTIME(b);
  const std::string id = Bundle::id("tty-fn");
  auto with_tty = [](json::Value& cfg) { set_terminal(cfg, true); };
  SECTION("exit status and the whole output") {
    b.set({"sh", "-c", "/bin/busybox seq 1 30000; echo last-line; exit 7"}, with_tty);
    CallerPty t;
    TermRun r = run_on_terminal(b, t, {"run", "--bundle", b.dir.path, id});
    CHECK(r.status == 7);
    CHECK(r.screen.find("\n29999\r\n30000\r\nlast-line\r\n") != std::string::npos);
    CHECK(same_termios(r.before, r.after));
  }
  SECTION("the pty's window size follows the caller's (SIGWINCH)") {
    b.set({"sh", "-c",
           "trap '/bin/busybox stty size; exit 5' WINCH; echo ready; "
           "while true; do sleep 0.05; done"},
          with_tty);
    CallerPty t;
    TermRun r = run_on_terminal(b, t, {"run", "--bundle", b.dir.path, id}, once_ready([&t](pid_t) {
                                  winsize ws{};
                                  ws.ws_row = 50;
                                  ws.ws_col = 160;
                                  ::ioctl(t.master, TIOCSWINSZ, &ws);  // SIGWINCH to ward
                                }));
    INFO(r.screen);
    CHECK(r.status == 5);
    CHECK(r.screen.find("50 160") != std::string::npos);
  }
  SECTION("raw while it runs; SIGTERM, SIGHUP, SIGINT, SIGQUIT are forwarded; modes restored") {
    for (int sig : {SIGTERM, SIGHUP, SIGINT, SIGQUIT}) {
      b.set({"sh", "-c",
             "trap 'exit 10' TERM; trap 'exit 11' HUP; trap 'exit 12' INT; trap 'exit 13' QUIT; "
             "echo ready; while true; do sleep 0.05; done"},
            with_tty);
      CallerPty t;
      TermRun r = run_on_terminal(b, t, {"run", "--bundle", b.dir.path, id},
                                  once_ready([sig](pid_t ward) { ::kill(ward, sig); }));
      INFO(sig << ": " << r.screen);
      REQUIRE(r.saw_during);
      CHECK((r.during.c_lflag & (ICANON | ECHO | ISIG)) == 0);
      CHECK(r.status == (sig == SIGTERM ? 10 : sig == SIGHUP ? 11 : sig == SIGINT ? 12 : 13));
      CHECK(same_termios(r.before, r.after));
    }
  }
  SECTION("a failed exec -t, and one killed by a signal, restore the terminal") {
    // exec -t of a program that does not exist in a running container.
    b.set({"sleep", "1000"});
    REQUIRE(b.cmd({"run", "-d", "--bundle", b.dir.path, id}).status == 0);
    CallerPty t;
    TermRun r = run_on_terminal(b, t, {"exec", "-t", id, "/no/such/program"});
    CHECK(r.status != 0);
    CHECK(same_termios(r.before, r.after));
    TermRun k = run_on_terminal(b, t, {"exec", "-t", id, "sh", "-c", "kill -KILL $$"});
    CHECK(k.status == 128 + SIGKILL);
    CHECK(same_termios(k.before, k.after));
    CHECK(b.cmd({"delete", "--force", id}).status == 0);
  }
  SECTION("stdin not a terminal: copied to the pty until EOF, no raw mode") {
    b.set({"sh", "-c", "read x; echo got:$x; /bin/busybox tty; cat; echo after-eof"}, with_tty);
    Out o = b.cmd({"run", "--bundle", b.dir.path, id}, "hello\nmore\n");
    INFO(o.out << o.err);
    CHECK(o.status == 0);
    CHECK(o.out.find("got:hello") != std::string::npos);
    CHECK(std::regex_search(o.out, std::regex("(^|\n)/dev/pts/[0-9]+\r?\n")));
    CHECK(o.out.find("after-eof") != std::string::npos);
  }
}
