// SPDX-License-Identifier: Apache-2.0
// Attacks on the runtime's /proc rules, `ps` and --preserve-fds (issue 11,
// items 8 and 10): a hostile config.json puts something over /proc, a
// caller's `ps` arguments carry shell syntax, a hole in --preserve-fds lets
// a runtime descriptor into the container.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <ward/ward.hpp>

#include <catch2/catch.hpp>

#include "attack_runtime_util.hpp"
#include "runtime_util.hpp"

using ward_test::Bundle;
using ward_test::mount_entry;
using ward_test::run_detached;
using ward_test::ward_as;
namespace json = ward::json;

// A config mount over a /proc path runc refuses (libcontainer/rootfs_linux.go
// checkProcMount): another procfs file bound over /proc/self/oom_score_adj or
// /proc/sysrq-trigger (CVE-2025-52881's redirect), a volume that is not procfs
// at /proc (CVE-2023-27561), a procfs file over one of lxcfs's files. Each
// must be refused before anything runs, naming the mount; lxcfs's own kind of
// mount (a plain file over /proc/meminfo) still works.
TEST_CASE("proc: config mounts over /proc paths are refused as runc refuses them") {
  NEED_RUNTIME(b);
  ward_test::ScratchDir host("host");
  ward_test::write_file(host / "meminfo", "canary-meminfo\n");
  ::mkdir((host / "dir").c_str(), 0755);
  struct Case {
    const char* what;
    json::Value mount;
  };
  std::vector<Case> hostile = {
      {"procfs file over oom_score_adj",
       mount_entry("/proc/self/oom_score_adj", "bind", "/proc/sys/kernel/domainname", {"bind"})},
      {"procfs file over sysrq-trigger",
       mount_entry("/proc/sysrq-trigger", "bind", "/proc/sys/kernel/domainname", {"bind"})},
      {"tmpfs at /proc", mount_entry("/proc", "tmpfs", "tmpfs", {})},
      {"host directory at /proc", mount_entry("/proc", "bind", host / "dir", {"rbind"})},
      {"procfs file over /proc/meminfo",
       mount_entry("/proc/meminfo", "bind", "/proc/sys/kernel/domainname", {"bind"})},
      {"file over /proc/sys/kernel/core_pattern",
       mount_entry("/proc/sys/kernel/core_pattern", "bind", host / "meminfo", {"bind"})},
  };
  // b.set edits the bundle's current config: start each case from spec's.
  const json::Value spec_mounts =
      *json::parse(ward_test::read_file(b.dir / "config.json")).find("mounts");
  auto with_mount = [&](const json::Value& extra) {
    return [&](json::Value& cfg) {
      cfg.set("mounts", spec_mounts);
      cfg.find("mounts")->push_back(extra);
    };
  };
  int n = 0;
  for (auto& c : hostile) {
    INFO(c.what);
    b.set({"true"}, with_mount(c.mount));
    const std::size_t index = spec_mounts.size();
    auto r = b.cmd({"run", "--bundle", b.dir.path, b.id("pm" + std::to_string(n++))});
    INFO(r.err);
    CHECK(r.status != 0);
    CHECK_THAT(r.err, Catch::Contains("mounts[" + std::to_string(index) + "]"));
    CHECK(std::filesystem::is_empty(b.state.path));
  }
  // lxcfs's kind: a plain file over /proc/meminfo.
  b.set({"cat", "/proc/meminfo"},
        with_mount(mount_entry("/proc/meminfo", "bind", host / "meminfo", {"bind", "ro"})));
  auto ok = b.cmd({"run", "--bundle", b.dir.path, b.id("lxcfs")});
  INFO(ok.err);
  CHECK(ok.status == 0);
  CHECK(ok.out == "canary-meminfo\n");
}

// `ward ps ID ARGS...` ran "ps ARGS" through popen(3), a shell: an argument
// with shell syntax ran a command on the host as the runtime's user.
TEST_CASE("ps: its arguments never reach a shell") {
  NEED_RUNTIME(b);
  ward_test::ScratchDir canary("canary");
  const std::string id = run_detached(b, {"sleep", "100"}, "ps");
  const std::vector<std::string> hostile = {
      "x; touch " + canary / "semicolon",
      "$(touch " + canary / "subst" + ")",
      "`touch " + canary / "backtick" + "`",
      "x | touch " + canary / "pipe",
  };
  for (auto& arg : hostile) {
    auto r = b.cmd({"ps", id, arg});
    INFO(arg << ": " << r.err);
  }
  CHECK(std::filesystem::is_empty(canary.path));
  // Still a working ps: the table lists the container's process.
  auto t = b.cmd({"ps", id});
  INFO(t.err);
  CHECK(t.status == 0);
  CHECK_THAT(t.out, Catch::Contains("PID") && Catch::Contains("sleep"));
  CHECK(b.cmd({"delete", "--force", id}).status == 0);
}

// --preserve-fds 2 with fd 3 open and fd 4 closed when the runtime starts:
// the container gets fd 3 and nothing at 4 (the runtime opens descriptors of
// its own before it spawns; one of them must not fill the hole), for run and
// for exec.
TEST_CASE("preserve-fds: a hole below N passes no runtime descriptor") {
  NEED_RUNTIME(b);
  ward_test::ScratchDir host("host");
  ward_test::write_file(host / "passed", "passed\n");
  int fd = ::open((host / "passed").c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  // The shell's own table: "N=target" for each fd from 3 to 12 ("N=" for
  // none). readlink runs in a child; no command substitution, whose pipe
  // would itself sit at a low descriptor of the shell.
  const std::string list =
      "for n in 3 4 5 6 7 8 9 10 11 12; do echo -n \"$n=\"; readlink /proc/$$/fd/$n || echo; "
      "done; true";
  std::string expected = "3=" + host / "passed" + "\n";
  for (int n = 4; n <= 12; ++n) expected += std::to_string(n) + "=\n";
  b.set({"sh", "-c", list});
  auto r = ward_as(b, {"run", "--preserve-fds", "2", "--bundle", b.dir.path, b.id("pf")},
                   ward_test::Caller::with_fd3(fd));
  INFO(r.err << r.out);
  CHECK(r.status == 0);
  CHECK(r.out == expected);

  const std::string id = run_detached(b, {"sleep", "100"}, "pfx");
  auto e = ward_as(b, {"exec", "--preserve-fds", "2", id, "sh", "-c", list},
                   ward_test::Caller::with_fd3(fd));
  INFO(e.err << e.out);
  CHECK(e.status == 0);
  CHECK(e.out == expected);
  ::close(fd);
  CHECK(b.cmd({"delete", "--force", id}).status == 0);
}

// A runtime started with stdin, stdout and stderr closed (a daemonizer, an
// engine that closes what it does not use): its first open() calls took
// those numbers, the state root and the container's directory, and the
// container inherited them as its stdio; openat(0, "../../etc/shadow")
// read the host's (found by review, CVE-2024-21626's class). The container's
// shell reports each of its fds 0-2 that is a directory, for run and exec.

TEST_CASE(
    "stdio: a runtime started with stdio closed hands none of its descriptors to the container") {
  NEED_RUNTIME(b);
  const std::string report =
      "for n in 0 1 2; do if [ -d /proc/$$/fd/$n ]; then echo \"$n=DIR $(readlink "
      "/proc/$$/fd/$n)\"; "
      "else echo \"$n=ok\"; fi; done > ";
  const std::string ok = "0=ok\n1=ok\n2=ok\n";
  b.set({"sh", "-c", report + "/result-run"},
        [](json::Value& cfg) { cfg.find("root")->set("readonly", false); });
  auto r = ward_as(b, {"run", "--bundle", b.dir.path, b.id("stdio")},
                   ward_test::Caller::with_stdio_closed());
  CHECK(r.status == 0);
  CHECK(ward_test::read_file(b.rootfs->path + "/result-run") == ok);

  const std::string id = run_detached(b, {"sleep", "100"}, "stdiox", [](json::Value& cfg) {
    cfg.find("root")->set("readonly", false);
  });
  auto e = ward_as(b, {"exec", id, "sh", "-c", report + "/result-exec"},
                   ward_test::Caller::with_stdio_closed());
  CHECK(e.status == 0);
  CHECK(ward_test::read_file(b.rootfs->path + "/result-exec") == ok);
  CHECK(b.cmd({"delete", "--force", id}).status == 0);
}
