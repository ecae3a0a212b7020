// SPDX-License-Identifier: Apache-2.0
// Attacks on the runtime's own binary, memory and descriptors from inside a
// container (CVE-2019-5736 class, CVE-2016-9962): the container's processes
// go through /proc/PID/{exe,mem,fd} of whatever ward process they can see.
// The runtime under attack is a COPY of the ward binary in a scratch
// directory (the canary): every test compares its bytes afterwards. The
// attacker is tests/helpers/exe_attacker.cpp, copied into the rootfs.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "runtime_util.hpp"

#ifndef WARD_EXE_ATTACKER
#define WARD_EXE_ATTACKER ""
#endif

namespace {

using ward_test::Bundle;
namespace json = ward::json;
using ward_test::Out;

// The ward copy the test runs as its runtime, and what it must stay.
struct Canary {
  ward_test::ScratchDir dir{"exe-canary"};
  std::string bin = dir / "ward";
  std::string bytes;
  dev_t dev = 0;
  ino_t ino = 0;
  Canary() {
    bytes = ward_test::read_file(WARD_RUNTIME_BIN);
    ward_test::write_file(bin, bytes);
    REQUIRE(::chmod(bin.c_str(), 0755) == 0);
    struct stat st {};
    REQUIRE(::stat(bin.c_str(), &st) == 0);
    dev = st.st_dev;
    ino = st.st_ino;
  }
  bool intact() const { return ward_test::read_file(bin) == bytes; }
};

// ward_test::ward_cmd, but with the canary binary as the runtime.
Out rt(const Canary& c, const Bundle& b, std::vector<std::string> args) {
  args.insert(args.begin(), {c.bin, "--root", b.state.path});
  char on[] = "/tmp/ward-exe-out-XXXXXX";
  int of = ::mkostemp(on, O_CLOEXEC);
  REQUIRE(of >= 0);
  ::unlink(on);
  ward::Sandbox sb(args);
  sb.stdin_(ward::Stdio::null()).stdout_(ward::Stdio::fd(of)).stderr_(ward::Stdio::fd(of));
  Out o;
  try {
    o.status = sb.spawn().wait().shell_status();
  } catch (const ward::Error& e) {  // the canary was overwritten: not a runtime any more
    o.out = e.what();
    ::close(of);
    return o;
  }
  ::lseek(of, 0, SEEK_SET);
  o.out = ward_test::read_all(of);
  ::close(of);
  return o;
}

// The attacker and the "#!/proc/self/exe" script in the rootfs; a writable
// root (the attacker reports in a file there).
void arm(Bundle& b, const std::vector<std::string>& args,
         const std::function<void(json::Value&)>& more = {}) {
  std::string root = b.rootfs->path;
  ward_test::write_file(root + "/attacker", ward_test::read_file(WARD_EXE_ATTACKER));
  ward_test::write_file(root + "/evil", "#!/proc/self/exe\n");
  REQUIRE(::chmod((root + "/attacker").c_str(), 0755) == 0);
  REQUIRE(::chmod((root + "/evil").c_str(), 0755) == 0);
  b.set(args, [&](json::Value& cfg) {
    cfg.find("root")->set("readonly", false);
    if (more) more(cfg);
  });
}

// Waits up to `seconds` for the attacker's report `name` in the rootfs.
std::string report(const Bundle& b, const std::string& name, double seconds) {
  std::string path = b.rootfs->path + "/" + name;
  for (int i = 0; i < seconds * 100; ++i) {
    if (::access(path.c_str(), F_OK) == 0) return ward_test::read_file(path);
    ::usleep(10000);
  }
  return "(no report)";
}

// The attacker's report `r` says it reached nothing of the runtime: no exe
// held, no memory or descriptor opened, nothing written; and the canary
// binary is unchanged.
void check_out_of_reach(const std::string& r, const Canary& c) {
  CHECK(r.find("HELD") == std::string::npos);
  CHECK(r.find("MEM-OPEN") == std::string::npos);
  CHECK(r.find("FD-OPEN") == std::string::npos);
  CHECK(r.find("WROTE") == std::string::npos);
  CHECK(c.intact());
}

// The config joins the pid namespace of process `pid` (the attacker's).
void join_pid_ns(json::Value& cfg, pid_t pid) {
  json::Value* ns = cfg.find("linux")->find("namespaces");
  json::Array keep;
  for (auto& n : ns->as_array()) {
    if (n.find("type")->as_string() == "pid") continue;
    keep.push_back(n);
  }
  keep.push_back(
      json::Value::object({{"type", "pid"}, {"path", "/proc/" + std::to_string(pid) + "/ns/pid"}}));
  *ns = json::Value(std::move(keep));
}

pid_t init_pid(const Canary& c, const Bundle& b, const std::string& id) {
  Out s = rt(c, b, {"state", id});
  REQUIRE(s.status == 0);
  return ward::oci::parse_state(s.out).pid;
}

#define NEED_ATTACKER()                                                     \
  if (std::string(WARD_EXE_ATTACKER).empty()) WARD_SKIP("no exe_attacker"); \
  (void)0

}  // namespace

// 1. A hostile image whose program is a script "#!/proc/self/exe": the
// kernel resolves that interpreter in the exec'ing process, whose exe is
// still ward, so ward itself would run in the container. The container's
// init holds /proc/PID/exe of every process whose exe is the canary and
// writes it once free.
TEST_CASE("exe: a #!/proc/self/exe program never hands the runtime's binary to the container") {
  NEED_RUNTIME(b);
  NEED_ATTACKER();
  Canary c;
  std::string id = Bundle::id("exe-sh");
  arm(b, {"/attacker", "watch", std::to_string(c.dev), std::to_string(c.ino), "6", "result-exec"});
  REQUIRE(rt(c, b, {"run", "-d", "--bundle", b.dir.path, id}).status == 0);
  ::usleep(200000);  // the watcher is scanning

  SECTION("ward exec ctr /evil") {
    // The attacker retries (each exec is one more chance for the watcher).
    std::string path = b.rootfs->path + "/result-exec";
    Out e;
    for (int i = 0; i < 40 && ::access(path.c_str(), F_OK) != 0; ++i)
      e = rt(c, b, {"exec", id, "/evil"});
    INFO("exec: " << e.status << " " << e.out);
    std::string r = report(b, "result-exec", 10);
    INFO("attacker: " << r);
    b.cmd({"delete", "--force", id});
    check_out_of_reach(r, c);
  }
  SECTION("ward run with /evil, in the attacker's pid namespace") {
    NEED_RUNTIME(b2);
    pid_t pid = init_pid(c, b, id);
    std::string id2 = Bundle::id("exe-sh2");
    arm(b2, {"/evil"}, [&](json::Value& cfg) { join_pid_ns(cfg, pid); });
    Out r2 = rt(c, b2, {"run", "--bundle", b2.dir.path, id2});
    INFO("run: " << r2.status << " " << r2.out);
    std::string r = report(b, "result-exec", 10);
    INFO("attacker: " << r);
    b2.cmd({"delete", "--force", id2});
    b.cmd({"delete", "--force", id});
    check_out_of_reach(r, c);
  }
  SECTION("a startContainer hook /evil, in the attacker's pid namespace") {
    // The hook's binary comes from the image and runs in the container: it
    // gets the same guard as the container's own processes (hooks.cpp).
    NEED_RUNTIME(b2);
    pid_t pid = init_pid(c, b, id);
    std::string id2 = Bundle::id("exe-hook");
    arm(b2, {"/bin/true"}, [&](json::Value& cfg) {
      join_pid_ns(cfg, pid);
      cfg.set("hooks", json::Value::object(
                           {{"startContainer",
                             json::Value::array({json::Value::object({{"path", "/evil"}})})}}));
    });
    std::string path = b.rootfs->path + "/result-exec";
    Out r2;
    for (int i = 0; i < 10 && ::access(path.c_str(), F_OK) != 0; ++i) {
      r2 = rt(c, b2, {"run", "--bundle", b2.dir.path, id2});
      b2.cmd({"delete", "--force", id2});
    }
    INFO("run: " << r2.status << " " << r2.out);
    std::string r = report(b, "result-exec", 10);
    INFO("attacker: " << r);
    b.cmd({"delete", "--force", id});
    check_out_of_reach(r, c);
  }
}

// 2. Between create and start the container's init waits at its gate, still
// ward. A process exec'd into the created container goes after it: its exe
// (held, then written once start has exec'd the program), its memory (one
// byte read and written back) and its descriptors.
TEST_CASE("exe: between create and start the init's exe, memory and fds are out of reach") {
  NEED_RUNTIME(b);
  NEED_ATTACKER();
  Canary c;
  std::string id = Bundle::id("exe-gap");
  arm(b, {"sleep", "3"});
  Out cr = rt(c, b, {"create", "--bundle", b.dir.path, id});
  INFO("create: " << cr.out);
  REQUIRE(cr.status == 0);
  Out ex = rt(c, b,
              {"exec", "-d", id, "/attacker", "probe", "1", "result-gap", std::to_string(c.dev),
               std::to_string(c.ino), "6"});
  INFO("exec: " << ex.out);
  std::string first = report(b, "result-gap.1", 10);
  INFO("attacker before start: " << first);
  Out st = rt(c, b, {"start", id});
  INFO("start: " << st.out);
  std::string r = report(b, "result-gap", 10);
  INFO("attacker after start: " << r);
  b.cmd({"delete", "--force", id});
  CHECK(first != "(no report)");
  check_out_of_reach(r, c);
}

// 3. CVE-2016-9962: `exec` sets up inside the container's pid namespace. A
// container process races to open /proc/PID/{exe,mem,fd/N} of that setup
// process, over many execs.
TEST_CASE("exe: exec's setup process is out of reach of a racing container process") {
  NEED_RUNTIME(b);
  NEED_ATTACKER();
  Canary c;
  std::string id = Bundle::id("exe-race");
  arm(b, {"/attacker", "watch", std::to_string(c.dev), std::to_string(c.ino), "8", "result-race"});
  REQUIRE(rt(c, b, {"run", "-d", "--bundle", b.dir.path, id}).status == 0);
  std::string path = b.rootfs->path + "/result-race";
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(7);
  int n = 0;
  while (std::chrono::steady_clock::now() < until && ::access(path.c_str(), F_OK) != 0) {
    rt(c, b, {"exec", id, "/bin/true"});
    ++n;
  }
  std::string r = report(b, "result-race", 10);
  INFO("execs: " << n << "; attacker: " << r);
  b.cmd({"delete", "--force", id});
  CHECK(n > 20);
  check_out_of_reach(r, c);
}

// 4. The same hostile "#!/proc/self/exe" program under a seccomp profile,
// where the filter is installed earlier than the program's exec and so also
// governs how ward execs it:
//  - noNewPrivileges false without CAP_SYS_ADMIN (the engines' default):
//    the filter goes on before the credentials change
//    (SeccompOptions::before_credentials), for run and for exec;
//  - SCMP_ACT_NOTIFY rules with a listenerPath, create then start: the
//    filter goes on before the start gate (no exec gate of ours is left).
// Before the fix ward dropped its sealed trampoline on both paths and
// exec'd the program directly, from a process whose exe was ward.
namespace {

// A profile that allows everything but acct(2), which nobody calls; with
// `listener`, acct is notified to the agent there instead.
void early_profile(json::Value& cfg, const std::string& listener = {}) {
  json::Value sc = json::parse(R"({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["acct"], "action": "SCMP_ACT_ERRNO"}]})");
  if (!listener.empty()) {
    sc.find("syscalls")->as_array()[0].set("action", "SCMP_ACT_NOTIFY");
    sc.set("listenerPath", listener);
  }
  cfg.find("linux")->set("seccomp", std::move(sc));
  cfg.find("process")->set("noNewPrivileges", false);
}

// A seccomp agent that takes the connection into its backlog and holds the
// listener there, unanswered: nothing of the container is notified.
struct IdleAgent {
  std::string path = "/tmp/ward-exe-agent-" + std::to_string(::getpid()) + ".sock";
  ward::UniqueFd fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  IdleAgent() {
    REQUIRE(fd);
    ::unlink(path.c_str());
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
    REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    REQUIRE(::listen(fd.get(), 8) == 0);
  }
  ~IdleAgent() { ::unlink(path.c_str()); }
};

}  // namespace

TEST_CASE("exe: under a seccomp profile installed early the program is still exec'd sealed") {
  NEED_RUNTIME(b);
  NEED_ATTACKER();
  Canary c;
  std::string id = Bundle::id("exe-sc");
  arm(b, {"/attacker", "watch", std::to_string(c.dev), std::to_string(c.ino), "8", "result-sc"},
      [](json::Value& cfg) { early_profile(cfg); });
  REQUIRE(rt(c, b, {"run", "-d", "--bundle", b.dir.path, id}).status == 0);
  ::usleep(200000);  // the watcher is scanning
  std::string path = b.rootfs->path + "/result-sc";

  SECTION("noNewPrivileges false: ward exec ctr /evil") {
    Out e;
    for (int i = 0; i < 20 && ::access(path.c_str(), F_OK) != 0; ++i)
      e = rt(c, b, {"exec", id, "/evil"});
    INFO("exec: " << e.status << " " << e.out);
    std::string r = report(b, "result-sc", 10);
    INFO("attacker: " << r);
    b.cmd({"delete", "--force", id});
    check_out_of_reach(r, c);
  }
  SECTION("noNewPrivileges false: ward run with /evil, in the attacker's pid namespace") {
    NEED_RUNTIME(b2);
    pid_t pid = init_pid(c, b, id);
    std::string id2 = Bundle::id("exe-sc2");
    arm(b2, {"/evil"}, [&](json::Value& cfg) {
      early_profile(cfg);
      join_pid_ns(cfg, pid);
    });
    Out r2;
    for (int i = 0; i < 5 && ::access(path.c_str(), F_OK) != 0; ++i) {
      r2 = rt(c, b2, {"run", "--bundle", b2.dir.path, id2});
      b2.cmd({"delete", "--force", id2});
    }
    INFO("run: " << r2.status << " " << r2.out);
    std::string r = report(b, "result-sc", 10);
    INFO("attacker: " << r);
    b.cmd({"delete", "--force", id});
    check_out_of_reach(r, c);
  }
  SECTION("SCMP_ACT_NOTIFY with a listenerPath: create, start /evil in the attacker's pid ns") {
    NEED_RUNTIME(b2);
    IdleAgent agent;
    pid_t pid = init_pid(c, b, id);
    std::string id2 = Bundle::id("exe-sc3");
    arm(b2, {"/evil"}, [&](json::Value& cfg) {
      early_profile(cfg, agent.path);
      join_pid_ns(cfg, pid);
    });
    Out cr, st;
    for (int i = 0; i < 5 && ::access(path.c_str(), F_OK) != 0; ++i) {
      cr = rt(c, b2, {"create", "--bundle", b2.dir.path, id2});
      if (cr.status == 0) st = rt(c, b2, {"start", id2});
      ::usleep(300000);
      b2.cmd({"delete", "--force", id2});
    }
    INFO("create: " << cr.status << " " << cr.out << "; start: " << st.status << " " << st.out);
    std::string r = report(b, "result-sc", 10);
    INFO("attacker: " << r);
    b.cmd({"delete", "--force", id});
    CHECK(cr.status == 0);
    check_out_of_reach(r, c);
  }
}
