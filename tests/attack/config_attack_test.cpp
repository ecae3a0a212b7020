// SPDX-License-Identifier: Apache-2.0
// Attacks on what a container is after `create`: a bundle whose config.json
// is rewritten once the container exists, a startContainer hook that would
// run as host root, and an exec aimed at a pid the kernel gave to a host
// process (issue 11, items 4, 5 and 7).
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "runtime_util.hpp"

namespace {

using ward_test::Bundle;
using ward_test::ScratchDir;
namespace json = ward::json;

// `ward spec`'s capabilities: CAP_KILL (5), CAP_NET_BIND_SERVICE (10) and
// CAP_AUDIT_WRITE (29), as /proc/PID/status prints them.
constexpr const char* kSpecCaps = "0000000020000420";

// A profile that allows everything but mkdir: mkdir in a writable tmpfs
// fails with EADDRNOTAVAIL (99) only while the filter is there.
json::Value seccomp_profile() {
  return json::Value::object({{"defaultAction", "SCMP_ACT_ALLOW"},
                              {"syscalls", json::Value::array({json::Value::object(
                                               {{"names", json::Value::array({"mkdir", "mkdirat"})},
                                                {"action", "SCMP_ACT_ERRNO"},
                                                {"errnoRet", 99}})})}});
}

json::Value hook(const std::string& path, const std::string& script) {
  return json::Value::object({{"path", path},
                              {"args", json::Value::array({"sh", "-c", script})},
                              {"env", json::Value::array({"PATH=/usr/sbin:/usr/bin:/sbin:/bin"})}});
}

std::string status_line(const std::string& status, const std::string& key) {
  auto at = status.find(key + ":");
  if (at == std::string::npos) return "";
  auto end = status.find('\n', at);
  std::string v = status.substr(at + key.size() + 1, end - at - key.size() - 1);
  v.erase(0, v.find_first_not_of(" \t"));
  return v;
}

// What an attacker who owns the bundle does once the container exists:
// no seccomp, every capability, and hooks that leave canaries.
void swap_config(Bundle& b, const ScratchDir& canary) {
  json::Value cfg = json::parse(ward_test::read_file(b.dir / "config.json"));
  auto& lin = cfg.find("linux")->as_object();
  std::erase_if(lin, [](const json::Member& m) { return m.first == "seccomp"; });
  static const char* const names[] = {"CAP_CHOWN",
                                      "CAP_DAC_OVERRIDE",
                                      "CAP_DAC_READ_SEARCH",
                                      "CAP_FOWNER",
                                      "CAP_FSETID",
                                      "CAP_KILL",
                                      "CAP_SETGID",
                                      "CAP_SETUID",
                                      "CAP_SETPCAP",
                                      "CAP_LINUX_IMMUTABLE",
                                      "CAP_NET_BIND_SERVICE",
                                      "CAP_NET_BROADCAST",
                                      "CAP_NET_ADMIN",
                                      "CAP_NET_RAW",
                                      "CAP_IPC_LOCK",
                                      "CAP_IPC_OWNER",
                                      "CAP_SYS_MODULE",
                                      "CAP_SYS_RAWIO",
                                      "CAP_SYS_CHROOT",
                                      "CAP_SYS_PTRACE",
                                      "CAP_SYS_PACCT",
                                      "CAP_SYS_ADMIN",
                                      "CAP_SYS_BOOT",
                                      "CAP_SYS_NICE",
                                      "CAP_SYS_TIME",
                                      "CAP_SYS_TTY_CONFIG",
                                      "CAP_MKNOD",
                                      "CAP_LEASE",
                                      "CAP_AUDIT_WRITE",
                                      "CAP_AUDIT_CONTROL",
                                      "CAP_SETFCAP",
                                      "CAP_MAC_OVERRIDE",
                                      "CAP_MAC_ADMIN",
                                      "CAP_SYSLOG",
                                      "CAP_WAKE_ALARM",
                                      "CAP_BLOCK_SUSPEND",
                                      "CAP_AUDIT_READ",
                                      "CAP_PERFMON",
                                      "CAP_BPF",
                                      "CAP_CHECKPOINT_RESTORE"};
  // Every capability but CAP_SYS_RESOURCE, which this host's root lacks
  // (ENVIRONMENT.md): asking for it would fail every spawn, not show the
  // attack.
  json::Array all;
  for (const char* n : names) all.emplace_back(n);
  json::Value caps = json::Value(all);
  cfg.find("process")->set(
      "capabilities",
      json::Value::object(
          {{"bounding", caps}, {"effective", caps}, {"permitted", caps}, {"ambient", caps}}));
  cfg.find("process")->set("noNewPrivileges", false);
  cfg.set("hooks",
          json::Value::object(
              {{"poststart",
                json::Value::array({hook("/bin/sh", "echo poststart > " + canary / "poststart")})},
               {"poststop",
                json::Value::array({hook("/bin/sh", "echo poststop > " + canary / "poststop")})},
               {"startContainer",
                json::Value::array({hook("/bin/sh", "echo sc > /startcontainer-canary")})}}));
  ward_test::write_file(b.dir / "config.json", json::dump(cfg, {.indent = 2}));
}

// Inside the container: its seccomp mode and effective capabilities, and
// whether the profile's denied syscall is denied.
const char* kProbe =
    "grep -E '^(Seccomp|CapEff):' /proc/self/status; "
    "if mkdir /dev/shm/probe-$$ 2>/dev/null; then echo mkdir=allowed; else echo mkdir=denied; fi";

// A runtime command that must succeed; its stderr says why not.
void require_ok(const ward_test::Out& r) {
  INFO(r.err);
  REQUIRE(r.status == 0);
}

void check_probe(const ward_test::Out& e) {
  INFO(e.out << e.err);
  CHECK(e.status == 0);
  CHECK(status_line(e.out, "Seccomp") == "2");
  CHECK(status_line(e.out, "CapEff") == kSpecCaps);
  CHECK_THAT(e.out, Catch::Contains("mkdir=denied"));
}

}  // namespace

// Item 4: start, exec and delete read the bundle's config.json again; an
// attacker rewriting it after create drops the exec'd process's seccomp
// filter, raises its capabilities and adds hooks that run as host root.
TEST_CASE("config: a config.json rewritten after create changes nothing") {
  NEED_RUNTIME(b);
  ScratchDir canary("canary");
  b.set({"sleep", "100"}, [](json::Value& cfg) {
    cfg.find("linux")->set("seccomp", seccomp_profile());
    cfg.find("root")->set("readonly", false);
  });
  const std::string sc_canary = b.rootfs->path + "/startcontainer-canary";
  std::string id;
  SECTION("create, start") {
    id = b.id("swap-create");
    require_ok(b.cmd({"create", "--bundle", b.dir.path, id}));
    swap_config(b, canary);
    require_ok(b.cmd({"start", id}));
  }
  SECTION("run -d") {
    id = b.id("swap-run");
    require_ok(b.cmd({"run", "-d", "--bundle", b.dir.path, id}));
    swap_config(b, canary);
  }
  check_probe(b.cmd({"exec", id, "sh", "-c", kProbe}));
  CHECK(b.cmd({"kill", id, "KILL"}).status == 0);
  for (int i = 0; i < 500; ++i) {
    if (b.cmd({"state", id}).out.find("\"stopped\"") != std::string::npos) break;
    ::usleep(10000);
  }
  auto d = b.cmd({"delete", id});
  INFO(d.err);
  CHECK(d.status == 0);
  CHECK_FALSE(std::filesystem::exists(canary / "poststart"));
  CHECK_FALSE(std::filesystem::exists(canary / "poststop"));
  CHECK_FALSE(std::filesystem::exists(sc_canary));
  CHECK(std::filesystem::is_empty(b.state.path));
}

// Item 5: a startContainer hook runs as the container's process (config.md
// "startContainer Hooks": in the container; runc runs them from its init,
// right before the program): its user, capabilities, no_new_privs, seccomp
// filter and cgroup, not host root's.
TEST_CASE("hooks: a startContainer hook runs as the container's process") {
  NEED_RUNTIME(b);
  const std::string out = b.rootfs->path + "/out";
  std::filesystem::create_directories(out);
  ::chmod(out.c_str(), 0777);
  const std::string record =
      "grep -E '^(CapEff|CapPrm|CapBnd|CapInh|CapAmb|NoNewPrivs|Seccomp|Uid|Gid|Groups):' "
      "/proc/self/status; cat /proc/self/cgroup; ";
  // The hook also tries what only host root could do in there: mount, and
  // the syscall the profile denies.
  const std::string hook_script =
      "{ " + record +
      "if mount -t tmpfs hooked /out/m 2>/dev/null; then echo mount=ok; else echo mount=denied; "
      "fi; "
      "if mkdir /dev/shm/h 2>/dev/null; then echo mkdir=allowed; else echo mkdir=denied; fi; "
      "} > /out/hook.txt";
  std::filesystem::create_directories(out + "/m");
  b.set(
      {"sh", "-c", "{ " + record + "} > /out/init.tmp; mv /out/init.tmp /out/init.txt; sleep 100"},
      [&](json::Value& cfg) {
        cfg.find("linux")->set("seccomp", seccomp_profile());
        cfg.find("root")->set("readonly", false);
        cfg.find("process")->set("user", json::Value::object({{"uid", 1000}, {"gid", 1000}}));
        cfg.set("hooks",
                json::Value::object(
                    {{"startContainer", json::Value::array({hook("/bin/sh", hook_script)})}}));
      });
  std::string id;
  SECTION("create, start") {
    id = b.id("schook-cs");
    require_ok(b.cmd({"create", "--bundle", b.dir.path, id}));
    require_ok(b.cmd({"start", id}));
  }
  SECTION("run -d") {
    id = b.id("schook-run");
    require_ok(b.cmd({"run", "-d", "--bundle", b.dir.path, id}));
  }
  for (int i = 0; i < 500 && !std::filesystem::exists(out + "/init.txt"); ++i) ::usleep(10000);
  std::string init = ward_test::read_file(out + "/init.txt");
  std::string hooked = ward_test::read_file(out + "/hook.txt");
  INFO("init:\n" << init << "hook:\n" << hooked);
  for (const char* key : {"CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb", "NoNewPrivs", "Seccomp",
                          "Uid", "Gid", "Groups"})
    CHECK(status_line(hooked, key) == status_line(init, key));
  CHECK(status_line(init, "CapBnd") == kSpecCaps);
  CHECK(status_line(init, "Seccomp") == "2");
  // /proc/self/cgroup: the v2 line ("0::/...") names the container's cgroup.
  auto v2 = [](const std::string& s) {
    auto at = s.find("\n0::");
    return at == std::string::npos ? std::string()
                                   : s.substr(at + 1, s.find('\n', at + 1) - at - 1);
  };
  CHECK(v2(hooked) == v2(init));
  CHECK_THAT(hooked, Catch::Contains("mount=denied"));
  CHECK_THAT(hooked, Catch::Contains("mkdir=denied"));
  CHECK(b.cmd({"delete", "--force", id}).status == 0);
  CHECK(std::filesystem::is_empty(out + "/m"));
}

namespace {

// A host process at pid `want`: ns_last_pid (want - 1), then fork. Other
// processes fork too (ctest runs tests in parallel), so this retries. The
// process has a mount namespace of its own, whose inode it returns in
// `mnt_ino`, and waits for SIGKILL.
pid_t host_process_at(pid_t want, ino_t& mnt_ino) {
  for (int attempt = 0; attempt < 200; ++attempt) {
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    {
      std::ofstream f("/proc/sys/kernel/ns_last_pid");
      f << (want - 1);
    }
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // Only the pipe: a descriptor of the test's (the FIFO's writer) held
      // here would keep its reader waiting.
      for (int fd = 3; fd < 1024; ++fd)
        if (fd != p[1]) ::close(fd);
      if (::unshare(CLONE_NEWNS) != 0 ||
          ::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
        ::_exit(1);
      if (::write(p[1], "1", 1) != 1) ::_exit(1);
      for (;;) ::pause();
    }
    ::close(p[1]);
    char ch;
    bool ready = ::read(p[0], &ch, 1) == 1;
    ::close(p[0]);
    if (pid == want && ready) {
      struct stat st {};
      REQUIRE(::stat(("/proc/" + std::to_string(pid) + "/ns/mnt").c_str(), &st) == 0);
      mnt_ino = st.st_ino;
      return pid;
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  return -1;
}

pid_t init_pid(Bundle& b, const std::string& id) {
  auto s = b.cmd({"state", id});
  REQUIRE(s.status == 0);
  return ward::oci::parse_state(s.out).pid;
}

// Kills the container's init (reparented to us: we are a subreaper) and
// reaps it, so its pid is free for the kernel to hand out again.
void kill_and_reap(pid_t pid) {
  REQUIRE(::kill(pid, SIGKILL) == 0);
  REQUIRE(::waitpid(pid, nullptr, 0) == pid);
}

}  // namespace

// Item 7: exec checked that the recorded pid was alive, then opened
// /proc/PID/ns/* by number. If the container's init dies in between and a
// host process gets its pid, exec joins the host process's namespaces.
// The bundle's config.json, which exec read in between, was a way for the
// bundle's owner to hold that window open as long as needed (a FIFO).
TEST_CASE("exec: a pid reused by a host process is never joined") {
  NEED_RUNTIME(b);
  ScratchDir canary("canary");
  const std::string mark = canary / "mntns";
  b.set({"sleep", "100"});
  REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
  const std::string id = b.id("reuse");
  require_ok(b.cmd({"run", "-d", "--bundle", b.dir.path, id}));
  pid_t pid = init_pid(b, id);
  REQUIRE(pid > 1);
  const std::string config = ward_test::read_file(b.dir / "config.json");
  // The exec'd program says which mount namespace it is in, on the host
  // (a path no container process reaches; /bin/sh and readlink exist in
  // both worlds).
  const std::vector<std::string> exec_args = {WARD_RUNTIME_BIN,
                                              "--root",
                                              b.state.path,
                                              "exec",
                                              id,
                                              "/bin/sh",
                                              "-c",
                                              "readlink /proc/self/ns/mnt > " + mark};
  pid_t host = -1;
  ino_t host_mnt = 0;
  SECTION("an exec held open between its liveness check and its namespace joins") {
    std::filesystem::remove(b.dir / "config.json");
    REQUIRE(::mkfifo((b.dir / "config.json").c_str(), 0600) == 0);
    ward::Sandbox sb(exec_args);
    ward::Child ex = sb.stdin_(ward::Stdio::null()).spawn();
    // Wait until exec is blocked opening the FIFO (a writer's open then
    // succeeds), or has ended without reading it.
    int w = -1;
    std::optional<ward::ExitStatus> done;
    for (int i = 0; i < 500 && w < 0 && !done; ++i) {
      w = ::open((b.dir / "config.json").c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (w < 0) done = ex.wait_for(std::chrono::milliseconds(10));
    }
    if (w >= 0) {
      kill_and_reap(pid);
      host = host_process_at(pid, host_mnt);
      if (host < 0) ::close(w);
      REQUIRE(host == pid);
      REQUIRE(::write(w, config.data(), config.size()) == static_cast<ssize_t>(config.size()));
      ::close(w);
      done = ex.wait_for(std::chrono::seconds(30));
      if (!done) {
        ex.kill(SIGKILL);
        done = ex.wait();
      }
    }
    REQUIRE(done);
    std::filesystem::remove(b.dir / "config.json");
    ward_test::write_file(b.dir / "config.json", config);
    if (host < 0) {
      // exec never read the bundle (it ran in the container, where the
      // host path of its output does not exist): make the state stale now
      // and see it refused.
      kill_and_reap(pid);
      host = host_process_at(pid, host_mnt);
      REQUIRE(host == pid);
      auto e =
          ward_test::ward_cmd(std::vector<std::string>(exec_args.begin() + 1, exec_args.end()));
      CHECK(e.status != 0);
      CHECK_THAT(e.err, Catch::Contains("not running") || Catch::Contains("stopped"));
    } else {
      CHECK_FALSE(done->success());
    }
  }
  SECTION("a stale state whose pid a host process has now") {
    kill_and_reap(pid);
    host = host_process_at(pid, host_mnt);
    REQUIRE(host == pid);
    auto e = ward_test::ward_cmd(std::vector<std::string>(exec_args.begin() + 1, exec_args.end()));
    CHECK(e.status != 0);
    CHECK_THAT(e.err, Catch::Contains("not running") || Catch::Contains("stopped"));
  }
  std::string seen = std::filesystem::exists(mark) ? ward_test::read_file(mark) : "";
  INFO("exec'd program's mount namespace: " << seen << " host process's: mnt:[" << host_mnt << "]");
  CHECK(seen.find("mnt:[" + std::to_string(host_mnt) + "]") == std::string::npos);
  CHECK_FALSE(std::filesystem::exists(mark));
  if (host > 0) {
    ::kill(host, SIGKILL);
    ::waitpid(host, nullptr, 0);
  }
  CHECK(b.cmd({"delete", "--force", id}).status == 0);
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}
