// SPDX-License-Identifier: Apache-2.0
// The container's process as runc (1.1 to 1.4) and crun make it, where
// outside suites (opencontainers/runtime-tools, crun's tests) found ward
// different (issue #13): HOME, hook environments, capability names,
// sysctl rules, failing poststart/poststop hooks, the cwd and executable
// checks done before privileges drop, cpu.shares, the CPU affinity and
// `kill` without a pid namespace of its own. Each case asserts what the
// container's process or a hook observes.
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <ward/ward.hpp>

#include <catch2/catch.hpp>

#include "runtime_util.hpp"

using namespace ward_test;

namespace {

// `run` of the bundle as it is, its output and status.
Out run(Bundle& b, const std::string& name) {
  return b.cmd({"run", "--bundle", b.dir.path, Bundle::id(name)});
}

// The runtime run with exactly `env` (ward_cmd gives it none), stdin
// empty, output through files (a container may outlive the runtime).
Out ward_with_env(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  std::vector<std::string> argv = {WARD_RUNTIME_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  ScratchDir d("out");
  const std::string o = d / "out", e = d / "err";
  int of = ::open(o.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  int ef = ::open(e.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  REQUIRE((of >= 0 && ef >= 0));
  ward::Sandbox sb(argv);
  sb.env(env).stdin_(ward::Stdio::null()).stdout_(ward::Stdio::fd(of)).stderr_(ward::Stdio::fd(ef));
  Out r;
  r.status = sb.spawn().wait().shell_status();
  ::close(of);
  ::close(ef);
  r.out = read_file(o);
  r.err = read_file(e);
  return r;
}

void set_uid(json::Value& cfg, int uid) { cfg.find("process")->find("user")->set("uid", uid); }

}  // namespace

// ------------------------------------------------------------------ HOME

TEST_CASE("process: HOME comes from the container's /etc/passwd for the uid, else /") {
  NEED_RUNTIME(b);
  const std::string etc = b.rootfs->path + "/etc";
  std::filesystem::create_directories(etc);
  // No passwd file at all: "/".
  b.set({"sh", "-c", "echo \"[$HOME]\""});
  auto r = run(b, "home0");
  INFO(r.err);
  CHECK(r.out == "[/]\n");
  write_file(etc + "/passwd",
             "root:x:0:0:root:/root:/bin/sh\n"
             "broken line\n"
             "app:x:1000:1000:App:/home/app:/bin/sh\n"
             "dup:x:1000:1000::/second:/bin/sh\n");
  r = run(b, "home1");
  CHECK(r.out == "[/root]\n");
  // The first entry with the uid wins; a uid with no entry gets "/".
  b.set({"sh", "-c", "echo \"[$HOME]\""}, [](json::Value& c) { set_uid(c, 1000); });
  r = run(b, "home2");
  CHECK(r.out == "[/home/app]\n");
  b.set({"sh", "-c", "echo \"[$HOME]\""}, [](json::Value& c) { set_uid(c, 4242); });
  r = run(b, "home3");
  CHECK(r.out == "[/]\n");
  // process.env's HOME wins; an empty one is replaced, and the last of
  // several entries for a name is the one kept, as runc's prepareEnv does.
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"HOME=/mine"}, "[/mine]\n"},
      {{"HOME="}, "[/root]\n"},
      {{"HOME=/mine", "HOME="}, "[/root]\n"},
      {{"HOME=", "HOME=/last"}, "[/last]\n"},
  };
  for (const auto& kase : cases) {
    const auto& env = kase.first;
    const auto& want = kase.second;
    b.set({"sh", "-c", "echo \"[$HOME]\""}, [&env](json::Value& c) {
      json::Array a{json::Value("PATH=/bin")};
      for (const auto& e : env) a.emplace_back(e);
      c.find("process")->set("env", json::Value(std::move(a)));
      set_uid(c, 0);
    });
    r = run(b, "home4");
    INFO(env.back());
    CHECK(r.out == want);
  }
}

TEST_CASE("process: exec gets HOME from the running container's /etc/passwd") {
  NEED_RUNTIME(b);
  std::filesystem::create_directories(b.rootfs->path + "/etc");
  write_file(b.rootfs->path + "/etc/passwd", "app:x:1000:1000::/home/app:/bin/sh\n");
  b.set({"sleep", "100"});
  ward::Child bg = b.run_in_background(Bundle::id("homex"));
  auto r = b.cmd({"exec", "--user", "1000", Bundle::id("homex"), "sh", "-c", "echo \"[$HOME]\""});
  INFO(r.err);
  CHECK(r.out == "[/home/app]\n");
  r = b.cmd({"exec", "--env", "HOME=/x", Bundle::id("homex"), "sh", "-c", "echo \"[$HOME]\""});
  CHECK(r.out == "[/x]\n");
  b.cmd({"kill", Bundle::id("homex"), "9"});
  bg.wait();
}

// A hostile image: its /etc/passwd must never make the runtime (host root)
// read a host file, block, or read without end. Each attack expects the
// default "/" and a run that finishes.
TEST_CASE("process attack: a hostile /etc/passwd never reads a host file, blocks or runs away") {
  NEED_RUNTIME(b);
  const std::string etc = b.rootfs->path + "/etc";
  std::filesystem::create_directories(etc);
  // A host file in passwd format whose entry for root says /LEAKED.
  ScratchDir host("hostpasswd");
  const std::string host_file = host / "passwd";
  write_file(host_file, "root:x:0:0:root:/LEAKED:/bin/sh\n");
  b.set({"sh", "-c", "echo \"[$HOME]\""});
  const std::string pw = etc + "/passwd";
  SECTION("an absolute symlink to a host file") { std::filesystem::create_symlink(host_file, pw); }
  SECTION("a relative symlink climbing out with ..") {
    std::filesystem::create_symlink("../../../../../../../../../../.." + host_file, pw);
  }
  SECTION("a symlink through /proc/self/root (a magic link out)") {
    std::filesystem::create_symlink("/proc/self/root" + host_file, pw);
    // The rootfs' own /proc/self/root would have to exist for a plain
    // RESOLVE_IN_ROOT to follow it; make it, pointing at the host.
    std::filesystem::create_directories(b.rootfs->path + "/proc/self");
    std::filesystem::create_directory_symlink("/", b.rootfs->path + "/proc/self/root");
  }
  SECTION("a FIFO (an open for reading would block the runtime forever)") {
    REQUIRE(::mkfifo(pw.c_str(), 0644) == 0);
  }
  SECTION("a device node that never ends (/dev/zero)") {
    REQUIRE(::mknod(pw.c_str(), S_IFCHR | 0644, makedev(1, 5)) == 0);
  }
  SECTION("a huge sparse file with root's entry past the read cap") {
    int fd = ::open(pw.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    const std::string far = "\nroot:x:0:0:root:/FAR:/bin/sh\n";
    REQUIRE(::pwrite(fd, far.data(), far.size(), off_t{1} << 32) ==
            static_cast<ssize_t>(far.size()));
    ::close(fd);
  }
  auto r = run(b, "homeattack");
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == "[/]\n");
}

// ------------------------------------------------------------------ hooks

namespace {

json::Value hook(const std::string& path, const std::vector<std::string>& args,
                 const std::vector<std::string>* env = nullptr) {
  json::Value h = json::parse("{}");
  h.set("path", path);
  json::Array a;
  for (auto& s : args) a.emplace_back(s);
  h.set("args", json::Value(std::move(a)));
  if (env) {
    json::Array e;
    for (auto& s : *env) e.emplace_back(s);
    h.set("env", json::Value(std::move(e)));
  }
  return h;
}

void set_hooks(json::Value& cfg, const std::string& kind, std::vector<json::Value> hooks) {
  if (cfg.find("hooks") == nullptr) cfg.set("hooks", json::parse("{}"));
  json::Array a;
  for (auto& h : hooks) a.push_back(std::move(h));
  cfg.find("hooks")->set(kind, json::Value(std::move(a)));
}

}  // namespace

TEST_CASE("process: a hook without env gets the runtime's environment, env [] an empty one") {
  NEED_RUNTIME(b);
  const std::vector<std::string> none, one{"ONLY=1"};
  b.set({"true"}, [&](json::Value& c) {
    set_hooks(c, "prestart",
              {hook("/bin/sh", {"sh", "-c", "echo \"absent:[$WARD_HOOK_ENV_MARK]\""}),
               hook("/usr/bin/env", {"env"}, &none), hook("/usr/bin/env", {"env"}, &one)});
    set_hooks(c, "poststop",
              {hook("/bin/sh", {"sh", "-c", "echo \"poststop:[$WARD_HOOK_ENV_MARK]\""})});
    // startContainer runs in the container as its process, with
    // process.env when it has none of its own (runc's SetDefaultEnv), even
    // with env [].
    set_hooks(c, "startContainer",
              {hook("/bin/busybox", {"busybox", "env"}),
               hook("/bin/busybox", {"busybox", "env"}, &none)});
  });
  // The runtime's own environment has the mark.
  auto r =
      ward_with_env({"--root", b.state.path, "run", "--bundle", b.dir.path, Bundle::id("hookenv")},
                    {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "WARD_HOOK_ENV_MARK=from-the-runtime"});
  INFO(r.err);
  CHECK(r.status == 0);
  // prestart: absent env, then [] (env prints nothing), then ONLY=1;
  // startContainer: process.env, twice; poststop: absent env.
  const std::string penv =
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nTERM=xterm\n";
  CHECK(r.out ==
        "absent:[from-the-runtime]\nONLY=1\n" + penv + penv + "poststop:[from-the-runtime]\n");
}

// ------------------------------------------------------------------ capabilities

TEST_CASE("process: unknown capability names are dropped with a warning, in any ociVersion") {
  NEED_RUNTIME(b);
  // runtime-tools' configs say 1.0.2, whose text asked for an error; runc
  // and crun warn and go on.
  b.set({"sh", "-c", "grep CapBnd /proc/self/status"}, [](json::Value& c) {
    c.set("ociVersion", "1.0.2");
    json::Value* caps = c.find("process")->find("capabilities");
    for (const char* set : {"bounding", "effective", "permitted"})
      caps->set(set, json::parse(R"(["CAP_KILL", "CAP_BOGUS", "cap_chown"])"));
  });
  auto r = run(b, "capunknown");
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == "CapBnd:\t0000000000000020\n");  // CAP_KILL (5) alone
  // On stderr without --log, as runc's logrus writes it (msg quoted).
  CHECK_THAT(r.err, Catch::Contains("level=warning") &&
                        Catch::Contains(R"(unknown capability \"CAP_BOGUS\" ignored)"));
}

// ------------------------------------------------------------------ sysctl

namespace {

void set_sysctl(json::Value& c, const std::string& key, const std::string& value) {
  json::Value s = json::parse("{}");
  s.set(key, value);
  c.find("linux")->set("sysctl", std::move(s));
}

json::Value* namespace_of(json::Value& c, const std::string& type) {
  for (auto& n : c.find("linux")->find("namespaces")->as_array())
    if (n.find("type")->as_string() == type) return &n;
  return nullptr;
}

}  // namespace

TEST_CASE("process: linux.sysctl follows runc's validator (hostname, IPC list, host netns)") {
  NEED_RUNTIME(b);
  // kernel.hostname conflicts with the hostname field, even with a uts
  // namespace; kernel.domainname has no field and is allowed.
  b.set({"cat", "/proc/sys/kernel/domainname"},
        [](json::Value& c) { set_sysctl(c, "kernel.hostname", "other"); });
  auto r = run(b, "sysctl1");
  CHECK(r.status != 0);
  CHECK_THAT(r.err, Catch::Contains("linux.sysctl.kernel.hostname") &&
                        Catch::Contains("conflicts with the \"hostname\" field"));
  b.set({"cat", "/proc/sys/kernel/domainname"},
        [](json::Value& c) { set_sysctl(c, "kernel.domainname", "example.org"); });
  r = run(b, "sysctl2");
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == "example.org\n");
  // An IPC sysctl runc does not list.
  b.set({"true"}, [](json::Value& c) { set_sysctl(c, "kernel.shm_next_id", "5"); });
  r = run(b, "sysctl3");
  CHECK(r.status != 0);
  CHECK_THAT(r.err, Catch::Contains("linux.sysctl.kernel.shm_next_id"));
  // net.* in a network namespace "joined" by a path that is the runtime's
  // own would set the host's value.
  const std::string before = read_file("/proc/sys/net/ipv4/ip_forward");
  b.set({"true"}, [&](json::Value& c) {
    set_sysctl(c, "net.ipv4.ip_forward", before == "1\n" ? "0" : "1");
    namespace_of(c, "network")->set("path", "/proc/self/ns/net");
  });
  r = run(b, "sysctl4");
  CHECK(r.status != 0);
  CHECK_THAT(r.err, Catch::Contains("not allowed in the host's network namespace"));
  CHECK(read_file("/proc/sys/net/ipv4/ip_forward") == before);
}

TEST_CASE("process: user.* sysctls are allowed in a container with its own user namespace") {
  NEED_RUNTIME(b);
  const std::string host = read_file("/proc/sys/user/max_user_namespaces");
  b.set({"cat", "/proc/sys/user/max_user_namespaces"},
        [](json::Value& c) { set_sysctl(c, "user.max_user_namespaces", "3"); });
  auto r = run(b, "usersysctl1");
  CHECK(r.status != 0);  // no user namespace: it would be the host's limit
  CHECK_THAT(r.err, Catch::Contains("user.max_user_namespaces"));
  b.set({"cat", "/proc/sys/user/max_user_namespaces"}, [](json::Value& c) {
    c.find("linux")->find("namespaces")->as_array().push_back(json::parse(R"({"type": "user"})"));
    // Host uid 0 mapped: setting /dev up needs it today (issue #13).
    c.find("linux")->set("uidMappings",
                         json::parse(R"([{"containerID": 0, "hostID": 0, "size": 65536}])"));
    c.find("linux")->set("gidMappings",
                         json::parse(R"([{"containerID": 0, "hostID": 0, "size": 65536}])"));
  });
  r = run(b, "usersysctl2");
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == "3\n");
  CHECK(read_file("/proc/sys/user/max_user_namespaces") == host);
}

// ------------------------------------------------------------------ failing hooks

TEST_CASE("process: a failing poststart hook fails start and kills the container") {
  NEED_RUNTIME(b);
  b.set({"sleep", "100"}, [](json::Value& c) {
    set_hooks(
        c, "poststart",
        {hook("/bin/sh", {"sh", "-c", "exit 3"}), hook("/bin/sh", {"sh", "-c", "echo second"})});
  });
  const std::string id = Bundle::id("poststart");
  auto cr = b.cmd({"create", "--bundle", b.dir.path, id});
  REQUIRE(cr.status == 0);
  const pid_t pid = ward::oci::parse_state(b.cmd({"state", id}).out).pid;
  auto st = b.cmd({"start", id});
  CHECK(st.status != 0);
  CHECK_THAT(st.err, Catch::Contains("poststart hook /bin/sh failed"));
  CHECK(st.out.empty());  // the second hook never ran
  // Killed: state says stopped (the pid is not its own anymore or gone).
  auto s = ward::oci::parse_state(b.cmd({"state", id}).out);
  CHECK(s.status == ward::oci::Status::stopped);
  // Dead: gone, or a zombie its reaper has not waited for yet.
  const std::string stat = "/proc/" + std::to_string(pid) + "/stat";
  auto dead = [&] {
    return ::access(stat.c_str(), F_OK) != 0 || read_file(stat).find(") Z ") != std::string::npos;
  };
  for (int i = 0; i < 500 && !dead(); ++i) ::usleep(10000);  // SIGKILL is asynchronous
  CHECK(dead());
  // run: the same, and run fails.
  auto r = run(b, "poststartrun");
  CHECK(r.status != 0);
  CHECK_THAT(r.err, Catch::Contains("poststart hook /bin/sh failed"));
  CHECK(r.out.empty());
}

TEST_CASE("process: a failing poststop hook is a warning and the next poststop hooks still run") {
  NEED_RUNTIME(b);
  b.set({"true"}, [](json::Value& c) {
    set_hooks(c, "poststop",
              {hook("/bin/sh", {"sh", "-c", "echo first; exit 3"}),
               hook("/bin/sh", {"sh", "-c", "echo second"})});
  });
  auto r = run(b, "poststop");
  CHECK(r.status == 0);
  CHECK(r.out == "first\nsecond\n");
  CHECK_THAT(r.err,
             Catch::Contains("level=warning") && Catch::Contains("poststop hook /bin/sh failed"));
  // delete runs them too.
  b.set({"true"});
  const std::string id = Bundle::id("poststopdel");
  REQUIRE(b.cmd({"create", "--bundle", b.dir.path, id}).status == 0);
  REQUIRE(b.cmd({"start", id}).status == 0);
  auto d = b.cmd({"delete", "--force", id});
  CHECK(d.status == 0);
  CHECK(d.out == "first\nsecond\n");
}

// ------------------------------------------------------------------ cwd and exec before privileges
// drop

TEST_CASE("process: a non-root process may start in a cwd only root may enter") {
  NEED_RUNTIME(b);
  // runc's finalizeNamespace enters process.cwd before it changes the
  // uid (and again after, if root could not).
  const std::string dir = b.rootfs->path + "/rootonly";
  REQUIRE(::mkdir(dir.c_str(), 0700) == 0);
  b.set({"sh", "-c", "pwd; id -u"}, [](json::Value& c) {
    set_uid(c, 1000);
    c.find("process")->set("cwd", "/rootonly");
  });
  auto r = run(b, "cwdroot");
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == "/rootonly\n1000\n");
}

TEST_CASE("process: create accepts a program the process may exec only through CAP_DAC_OVERRIDE") {
  NEED_RUNTIME(b);
  // Mode 0700, owned by another uid: uid 1000 with CAP_DAC_OVERRIDE
  // (ambient, so effective after execve) may exec it; execve checks the
  // effective capabilities, access(2) with a non-root real uid none.
  const std::string prog = b.rootfs->path + "/bin/prog";
  write_file(prog, "#!/bin/sh\necho ran as $(id -u)\n");
  REQUIRE(::chown(prog.c_str(), 2000, 2000) == 0);
  REQUIRE(::chmod(prog.c_str(), 0700) == 0);
  b.set({"/bin/prog"}, [](json::Value& c) {
    set_uid(c, 1000);
    json::Value caps = json::parse("{}");
    for (const char* set : {"bounding", "effective", "permitted", "inheritable", "ambient"})
      caps.set(set, json::parse(R"(["CAP_DAC_OVERRIDE"])"));
    c.find("process")->set("capabilities", std::move(caps));
  });
  ScratchDir out("out");
  const std::string id = Bundle::id("dacexec");
  // create checks the program before it waits for start; its output goes
  // to a file (the container keeps create's stdio).
  auto cr = ward_with_env({"--root", b.state.path, "create", "--bundle", b.dir.path, id},
                          {"PATH=/usr/bin:/bin"});
  INFO(cr.err);
  REQUIRE(cr.status == 0);
  CHECK(b.cmd({"start", id}).status == 0);
  auto r = run(b, "dacexecrun");
  CHECK(r.out == "ran as 1000\n");
}

// ------------------------------------------------------------------ cpu.shares

TEST_CASE(
    "process: cpu.shares 1024 becomes cpu.weight 100 (runc's current conversion) or stays 1024 on "
    "v1") {
  NEED_RUNTIME(b);
  if (ward::cgroup_backend("cpu") == ward::CgroupBackend::none)
    WARD_SKIP("this host has no cpu controller in any hierarchy");
  b.set({"sleep", "100"}, [](json::Value& c) {
    c.find("linux")->set("resources", json::parse(R"({"cpu": {"shares": 1024}})"));
  });
  const std::string id = Bundle::id("shares");
  auto cr = b.cmd({"create", "--bundle", b.dir.path, id});
  INFO(cr.err);
  REQUIRE(cr.status == 0);
  const pid_t pid = ward::oci::parse_state(b.cmd({"state", id}).out).pid;
  // On cgroup v1 (a hybrid host) the value is the file's own unit.
  CHECK(ward_test::cgroup_file_of(pid, "cpu", "cpu.shares", "cpu.weight") ==
        (ward::cgroup_backend("cpu") == ward::CgroupBackend::v1 ? "v1:1024" : "v2:100"));
}

// ------------------------------------------------------------------ CPU affinity

TEST_CASE("process: the container does not inherit the runtime's CPU affinity") {
  NEED_RUNTIME(b);
  cpu_set_t all;
  REQUIRE(::sched_getaffinity(0, sizeof all, &all) == 0);
  if (CPU_COUNT(&all) < 2) WARD_SKIP("one CPU: no narrower affinity to inherit");
  int first = 0;
  while (!CPU_ISSET(first, &all)) ++first;
  b.set({"grep", "Cpus_allowed_list", "/proc/self/status"});
  const std::string expected = [] {
    std::string s = read_file("/proc/self/status");
    auto at = s.find("Cpus_allowed_list");
    return s.substr(at, s.find('\n', at) - at + 1);
  }();
  // The runtime runs pinned to one CPU, as under `taskset -c N`.
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  REQUIRE(::sched_setaffinity(0, sizeof one, &one) == 0);
  auto r = run(b, "affinity");
  REQUIRE(::sched_setaffinity(0, sizeof all, &all) == 0);
  INFO(r.err);
  CHECK(r.out == expected);
  // exec too (runc's setFinalCPUAffinity without execCPUAffinity).
  b.set({"sleep", "100"});
  ward::Child bg = b.run_in_background(Bundle::id("affinityx"));
  REQUIRE(::sched_setaffinity(0, sizeof one, &one) == 0);
  auto x =
      b.cmd({"exec", Bundle::id("affinityx"), "grep", "Cpus_allowed_list", "/proc/self/status"});
  REQUIRE(::sched_setaffinity(0, sizeof all, &all) == 0);
  CHECK(x.out == expected);
  b.cmd({"kill", Bundle::id("affinityx"), "9"});
  bg.wait();
}

// ------------------------------------------------------------------ kill

TEST_CASE("process: kill 9 of a container without its own pid namespace kills all of it") {
  NEED_RUNTIME(b);
  // Without a pid namespace nothing kills the init's children when it
  // dies (pid_namespaces(7)); runc >= 1.2 kills the whole cgroup.
  b.set({"sh", "-c", "sleep 100 & wait"}, [](json::Value& c) {
    json::Array keep;
    for (auto& n : c.find("linux")->find("namespaces")->as_array())
      if (n.find("type")->as_string() != "pid") keep.push_back(n);
    c.find("linux")->set("namespaces", json::Value(std::move(keep)));
  });
  const std::string id = Bundle::id("killshared");
  REQUIRE(b.cmd({"create", "--bundle", b.dir.path, id}).status == 0);
  const pid_t init = ward::oci::parse_state(b.cmd({"state", id}).out).pid;
  REQUIRE(b.cmd({"start", id}).status == 0);
  const std::string children =
      "/proc/" + std::to_string(init) + "/task/" + std::to_string(init) + "/children";
  std::string kids;
  for (int i = 0; i < 500 && kids.empty(); ++i) {
    kids = read_file(children);
    if (kids.empty()) ::usleep(10000);
  }
  REQUIRE_FALSE(kids.empty());
  const std::string stat = "/proc/" + std::to_string(std::stoi(kids)) + "/stat";
  auto dead = [&] {
    return ::access(stat.c_str(), F_OK) != 0 || read_file(stat).find(") Z ") != std::string::npos;
  };
  REQUIRE_FALSE(dead());
  CHECK(b.cmd({"kill", id, "KILL"}).status == 0);
  for (int i = 0; i < 500 && !dead(); ++i) ::usleep(10000);  // SIGKILL is asynchronous
  CHECK(dead());
}

// The same lookup on `exec` goes through the running container's own
// mounts (/proc/PID/root), its procfs among them: a relative link to
// ../proc/1/environ (or ../proc/kmsg, which host root may read and so
// drain) is a "regular file" there, that the runtime, host root, may read
// (found by review: HOME came from the host's kernel log). Only a file of
// a filesystem that stores files is read; here the init's environment holds
// a passwd line that must not become HOME.
TEST_CASE("process attack: exec never takes HOME from a pseudo file the image links to") {
  NEED_RUNTIME(b);
  std::filesystem::create_directories(b.rootfs->path + "/etc");
  std::filesystem::create_symlink("../proc/1/environ", b.rootfs->path + "/etc/passwd");
  b.set({"sleep", "100"}, [](json::Value& cfg) {
    json::Value* env = cfg.find("process")->find("env");
    json::Array e = env->as_array();
    e.emplace_back("A=\nroot:x:0:0:r:/LEAKED:/bin/sh\n");
    cfg.find("process")->set("env", json::Value(std::move(e)));
  });
  ward::Child bg = b.run_in_background(Bundle::id("homeproc"));
  auto r = b.cmd({"exec", Bundle::id("homeproc"), "sh", "-c", "echo \"[$HOME]\""});
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == "[/]\n");
  b.cmd({"kill", Bundle::id("homeproc"), "9"});
  bg.wait();
}
