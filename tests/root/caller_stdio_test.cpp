// SPDX-License-Identifier: Apache-2.0
// A caller whose stdio is closed (a daemon, a judge that closed stdin) never
// hands the sandbox a descriptor of ward's own as its stdio.
//
// open(2), pipe2(2), clone3's pidfd and the rest take the lowest free
// number. With 0-2 closed, ward's report pipe, the Child's pidfd or stdout
// pipe of an earlier spawn, a Namespace or a sealed_exec memfd used to sit
// at 0, 1 or 2, and the next child "inherited" it as its stdin, stdout or
// stderr: a sandbox held another sandbox's pidfd or stdout pipe, or ward's
// own pipes (seen with the previous headers: the memfd and a namespace as
// stdin and stdout; a program that was to sleep had ended before spawn()
// returned, its table gone).
//
// The defence (include/ward/sandbox.hpp Plan::spawn, fd.hpp off_stdio and
// inheritable_as): spawn copies the caller's 0-2 before it makes any
// descriptor, a closed or close-on-exec slot stays closed in the child
// (every descriptor ward makes is close-on-exec: another thread's spawn
// has them on a closed 0-2 for a moment), and every descriptor ward keeps
// past a call is moved off 0-2 where it is made.
//
// Each case runs in a forked process that closes its own 0-2 first, spawns
// a sleeping program and lists that program's descriptors from
// /proc/PID/fd; a slot closed in the caller must be absent from the list.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include <ward/ward.hpp>

#include <catch2/catch.hpp>

#include "cgroup_util.hpp"
#include "rootfs_util.hpp"
#include "test_util.hpp"

namespace {

// slot -> what /proc says it is, as the sandboxed shell saw it.
std::map<int, std::string> parse_fds(const std::string& out) {
  std::map<int, std::string> fds;
  std::istringstream in(out);
  std::string line;
  static const std::regex re(R"(\s(\d+) -> (.*)$)");
  std::smatch m;
  while (std::getline(in, line))
    if (std::regex_search(line, m, re)) fds[std::stoi(m[1])] = m[2];
  return fds;
}

// The process whose descriptors are looked at: it sleeps until killed.
ward::Sandbox sleeper() { return ward::Sandbox({"/bin/sleep", "30"}); }

// Waits (at most 2 s) until `pid` sleeps in its nanosleep: spawn() returns
// at the exec, while ld.so may still hold libc.so.6 open on the lowest free
// number (0, with the caller's 0 closed), which a listing would take for
// the caller's or ward's (seen once in the review).
void wait_asleep(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/syscall";
  for (int i = 0; i < 2000; ++i) {
    if (FILE* f = std::fopen(path.c_str(), "r")) {
      long nr = -1;
      int got = std::fscanf(f, "%ld", &nr);
      std::fclose(f);
      if (got == 1 && (nr == SYS_clock_nanosleep || nr == SYS_nanosleep)) return;
    }
    ::usleep(1000);
  }
}

// Writes "N -> target" for each descriptor of `c`'s process to `report`,
// then ends it. spawn() returns once the program is exec'd (the report
// pipe's close-on-exec EOF), so the table seen is the program's.
void list_and_end(ward::Child& c, int report) {
  wait_asleep(c.pid());
  const std::string dir = "/proc/" + std::to_string(c.pid()) + "/fd";
  std::string out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      char link[256] = {};
      ssize_t n = ::readlink((dir + "/" + e->d_name).c_str(), link, sizeof link - 1);
      out += std::string(" ") + e->d_name + " -> " + (n > 0 ? link : "?") + "\n";
    }
    ::closedir(d);
  }
  // Listed while it runs: an exited process has no table to look at.
  std::string cmdline;
  if (FILE* f = std::fopen(("/proc/" + std::to_string(c.pid()) + "/cmdline").c_str(), "r")) {
    char b[64] = {};
    cmdline.assign(b, std::fread(b, 1, sizeof b - 1, f));
    std::fclose(f);
  }
  if (cmdline.rfind("/bin/sleep", 0) == 0) out += " listed -> yes\n";
  (void)!::write(report, out.data(), out.size());
  c.kill(SIGKILL);
  c.wait();
}

void close_stdio() {
  for (int i = 0; i < 3; ++i) ::close(i);
}

// Runs `fn` in a forked process with 0-2 closed; `fn` gets the report
// descriptor and calls list_and_end. Returns the descriptors listed.
template <class Fn>
std::map<int, std::string> in_closed_caller(Fn fn, bool close_first = true) {
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(p[0]);
    // The report pipe is above 2 (the test binary has its stdio); close
    // 0-2 only now.
    if (close_first) close_stdio();
    try {
      fn(p[1]);
    } catch (const std::exception& e) {
      std::string s = std::string("exception: ") + e.what() + "\n";
      (void)!::write(p[1], s.data(), s.size());
      ::_exit(121);
    }
    ::_exit(0);
  }
  ::close(p[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(p[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  INFO(out);
  REQUIRE(WIFEXITED(st));
  REQUIRE(WEXITSTATUS(st) == 0);
  REQUIRE(out.find(" listed -> yes") != std::string::npos);
  return parse_fds(out);
}

std::string show(const std::map<int, std::string>& fds) {
  std::string s;
  for (auto& [k, v] : fds) s += std::to_string(k) + " -> " + v + "\n";
  return s;
}

}  // namespace

TEST_CASE("caller stdio: a closed 0-2 stays closed in the child and is never ward's report pipe") {
  WARD_SKIP_UNLESS_ROOT();
  auto fds = in_closed_caller([](int rep) {
    auto c = sleeper().spawn();
    list_and_end(c, rep);
  });
  INFO(show(fds));
  CHECK(fds.count(0) == 0);
  CHECK(fds.count(1) == 0);
  CHECK(fds.count(2) == 0);
}

TEST_CASE("caller stdio: a Stdio::null made with 0-2 closed is not inherited as another slot") {
  WARD_SKIP_UNLESS_ROOT();
  auto fds = in_closed_caller([](int rep) {
    auto sb = sleeper();
    sb.stdout_(ward::Stdio::null());
    auto c = sb.spawn();
    list_and_end(c, rep);
  });
  INFO(show(fds));
  CHECK(fds.count(0) == 0);
  REQUIRE(fds.count(1) == 1);
  CHECK(fds[1] == "/dev/null");
  CHECK(fds.count(2) == 0);
}

TEST_CASE("caller stdio: an earlier Child's pidfd and pipe never reach a later sandbox") {
  WARD_SKIP_UNLESS_ROOT();
  auto fds = in_closed_caller([](int rep) {
    // A keeps its pidfd and the read end of its stdout pipe in the caller.
    ward::Sandbox a({"/bin/sleep", "5"});
    a.stdout_(ward::Stdio::pipe());
    ward::Child first = a.spawn();
    auto c = sleeper().spawn();
    list_and_end(c, rep);
    first.kill(SIGKILL);
    first.wait();
  });
  INFO(show(fds));
  CHECK(fds.count(0) == 0);
  CHECK(fds.count(1) == 0);
  CHECK(fds.count(2) == 0);
  for (auto& [k, v] : fds) CHECK(v.find("pidfd") == std::string::npos);
}

TEST_CASE("caller stdio: a sealed_exec memfd or a Namespace made with 0-2 closed is not stdio") {
  WARD_SKIP_UNLESS_ROOT();
  auto fds = in_closed_caller([](int rep) {
    ward::Namespace uts = ward::Namespace::open(ward::NsKind::uts, ::getpid());
    auto sb = sleeper();
    sb.join(uts).sealed_exec();
    auto c = sb.spawn();
    list_and_end(c, rep);
  });
  INFO(show(fds));
  CHECK(fds.count(0) == 0);
  CHECK(fds.count(1) == 0);
  CHECK(fds.count(2) == 0);
}

TEST_CASE("caller stdio: open stdio is still inherited as it is") {
  WARD_SKIP_UNLESS_ROOT();
  auto fds = in_closed_caller([](int rep) {
    int in = ::open("/dev/zero", O_RDONLY);   // takes 0
    int out = ::open("/dev/null", O_WRONLY);  // takes 1
    if (in != 0 || out != 1) ::_exit(3);
    auto c = sleeper().spawn();
    list_and_end(c, rep);
  });
  INFO(show(fds));
  REQUIRE(fds.count(0) == 1);
  CHECK(fds[0] == "/dev/zero");
  REQUIRE(fds.count(1) == 1);
  CHECK(fds[1] == "/dev/null");
  CHECK(fds.count(2) == 0);
}

TEST_CASE("caller stdio: Stdio::closed closes that slot in the child only") {
  WARD_SKIP_UNLESS_ROOT();
  auto fds = in_closed_caller(
      [](int rep) {
        auto sb = sleeper();
        sb.stdin_(ward::Stdio::closed());
        auto c = sb.spawn();
        list_and_end(c, rep);
        if (::fcntl(0, F_GETFD) < 0) ::_exit(4);  // the caller's own stays open
      },
      false);
  INFO(show(fds));
  CHECK(fds.count(0) == 0);
  CHECK(fds.count(1) == 1);
  CHECK(fds.count(2) == 1);
}

TEST_CASE("caller stdio: a close-on-exec 0-2 is closed in the child, as exec(2) would have it") {
  WARD_SKIP_UNLESS_ROOT();
  auto fds = in_closed_caller([](int rep) {
    int in = ::open("/dev/zero", O_RDONLY | O_CLOEXEC);  // takes 0
    int out = ::open("/dev/null", O_WRONLY);             // takes 1
    if (in != 0 || out != 1) ::_exit(3);
    auto c = sleeper().spawn();
    list_and_end(c, rep);
  });
  INFO(show(fds));
  CHECK(fds.count(0) == 0);
  REQUIRE(fds.count(1) == 1);
  CHECK(fds[1] == "/dev/null");
}

// Plan::spawn may run on several threads at once. While one spawn copies
// the caller's 0-2, another has descriptors of ward's own on the closed
// numbers for a moment (its report and sync pipes, clone3's pidfd before
// off_stdio, a Stdio::pipe()); copied, they were a child's stdio: in the
// review a child so wrote a forged failure into another spawn's report
// pipe (that spawn threw it) or SIGKILLed another sandbox through its
// pidfd. With the previous headers most of these listings showed one.
TEST_CASE("caller stdio: concurrent spawns never hand each other ward's descriptors") {
  WARD_SKIP_UNLESS_ROOT();
  auto fds = in_closed_caller([](int rep) {
    std::atomic<bool> stop{false};
    std::thread other([&] {
      ward::Sandbox sb({"/bin/true"});
      sb.stdout_(ward::Stdio::pipe()).stderr_(ward::Stdio::pipe());
      auto plan = sb.plan();
      while (!stop) plan.spawn().wait();
    });
    auto plan = sleeper().plan();
    std::string seen;
    int leaked = 0;
    for (int i = 0; i < 100; ++i) {
      auto c = plan.spawn();
      wait_asleep(c.pid());
      const std::string dir = "/proc/" + std::to_string(c.pid()) + "/fd/";
      for (int fd = 0; fd < 3; ++fd) {
        char link[256] = {};
        if (::readlink((dir + std::to_string(fd)).c_str(), link, sizeof link - 1) <= 0) continue;
        if (leaked++ < 6) seen += " " + std::to_string(fd) + " -> " + link + "\n";
      }
      c.kill(SIGKILL);
      c.wait();
    }
    stop = true;
    other.join();
    seen += " listed -> yes\n";
    (void)!::write(rep, seen.data(), seen.size());
  });
  INFO(show(fds));
  CHECK(fds.empty());
}

// Descriptors ward keeps past a call sit above 2, so the caller's next
// open() gets its stdio numbers back and no spawn can take them for its
// stdio: a Landlock rule's path until create() (an O_PATH "/", a way out
// of any rootfs), a cgroup's cgroup.events and device program, and a
// MountGuard's mount, which the legacy mount API reopens once its
// temporaries are closed (on 2, before). Each one found on 0-2 is
// reported as "N -> what".
TEST_CASE("caller stdio: kept Landlock, cgroup and MountGuard descriptors are above 2") {
  WARD_SKIP_UNLESS_ROOT();
  ward_test::ScratchDir dir("stdio");
  const bool cgroup2 = !ward::cgroup_host().unified_mount.empty();
  auto fds = in_closed_caller([&](int rep) {
    std::string out;
    auto kept = [&](int fd, const char* what) {
      if (fd >= 0 && fd <= 2) out += " " + std::to_string(fd) + " -> " + what + "\n";
    };
    ward_test::isolate_mounts();
    ward::force_mount_api(ward::MountApi::legacy);
    auto g = ward::MountGuard::mount(ward::MountSpec::tmpfs(dir.path));
    kept(g.fd(), "MountGuard");
    std::optional<ward::LandlockRuleset> rs;
    if (ward::landlock_abi() > 0) {
      bool open_before[3];
      for (int fd = 0; fd < 3; ++fd) open_before[fd] = ::fcntl(fd, F_GETFD) >= 0;
      rs.emplace();
      rs->allow_path("/", ward::LandlockFs::read_only());
      for (int fd = 0; fd < 3; ++fd)
        if (!open_before[fd] && ::fcntl(fd, F_GETFD) >= 0) kept(fd, "LandlockRuleset::allow_path");
    }
    std::optional<ward::CgroupV2> cg;
    if (cgroup2) {
      cg = ward::CgroupV2::create(ward_test::cgroup_test_name(), ward_test::cgroup_parent());
      kept(cg->events_fd(), "CgroupV2::events_fd");
      cg->device_rules(ward::default_device_rules());
      kept(cg->device_program_fd(), "CgroupV2::device_rules");
    }
    auto c = sleeper().spawn();
    list_and_end(c, rep);
    (void)!::write(rep, out.data(), out.size());
    if (cg) cg->destroy();
  });
  INFO(show(fds));
  CHECK(fds.empty());
  if (!cgroup2) WARD_SKIP("no cgroup v2 hierarchy: its descriptors were not tried");
}
