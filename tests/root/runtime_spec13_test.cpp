// SPDX-License-Identifier: Apache-2.0
// runtime-spec 1.3 behaviours of the `ward` runtime (issue #13): the fields
// 1.3 added or redefined, driven through real bundles.
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "runtime_util.hpp"

namespace {

namespace json = ward::json;

}  // namespace

TEST_CASE("runtime: pids.limit 0 runs the container and denies it every fork") {
  NEED_RUNTIME(b);
  if (ward::cgroup_backend("pids") == ward::CgroupBackend::none)
    WARD_SKIP("this host has no pids controller in any hierarchy");
  // The container runs (its shell starts: pids.max is written just before
  // its exec), and the shell's fork for `true` (not the last command, so
  // not exec'd in place) fails: busybox sh says so and exits 2.
  b.set({"sh", "-c", "echo started; /bin/true; echo forked"}, [](json::Value& cfg) {
    cfg.find("linux")->find("resources")->set("pids", json::Value::object({{"limit", 0}}));
  });
  auto r = b.cmd({"run", "--bundle", b.dir.path, ward_test::Bundle::id("pids0")});
  INFO(r.err);
  CHECK(r.out == "started\n");
  CHECK_THAT(r.err, Catch::Contains("can't fork: Resource temporarily unavailable"));
  CHECK(r.status == 2);
}

TEST_CASE("runtime: linux.memoryPolicy sets the container's NUMA policy, errors name the field") {
  NEED_RUNTIME(b);
  if (!std::filesystem::exists("/proc/self/numa_maps"))
    WARD_SKIP("this kernel has no NUMA support (no /proc/self/numa_maps)");
  // numa_maps shows the task's policy for every mapping without a policy of
  // its own (proc(5) "numa_maps"): "bind:0" under MPOL_BIND to node 0.
  auto with_policy = [&](json::Value policy) {
    b.set({"sh", "-c", "grep -c ' bind:0 ' /proc/self/numa_maps"},
          [&](json::Value& cfg) { cfg.find("linux")->set("memoryPolicy", std::move(policy)); });
    return b.cmd({"run", "--bundle", b.dir.path, ward_test::Bundle::id("mpol")});
  };
  auto r = with_policy(json::Value::object({{"mode", "MPOL_BIND"}, {"nodes", "0"}}));
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out != "0\n");
  CHECK(r.out != "");
  // Without the field: the default policy.
  auto d = with_policy(json::Value());  // null: absent
  CHECK(d.out == "0\n");
  // A mode the spec does not list, and a bad node list: errors naming the field.
  auto bad = with_policy(json::Value::object({{"mode", "MPOL_SOMETIMES"}}));
  CHECK(bad.status != 0);
  CHECK_THAT(bad.err, Catch::Contains("linux.memoryPolicy.mode") &&
                          Catch::Contains("unknown memory policy mode"));
  bad = with_policy(json::Value::object({{"mode", "MPOL_BIND"}, {"nodes", "0-"}}));
  CHECK(bad.status != 0);
  CHECK_THAT(bad.err, Catch::Contains("linux.memoryPolicy.nodes"));
  // MPOL_LOCAL takes no nodes: the kernel's EINVAL, named by the step.
  bad = with_policy(json::Value::object({{"mode", "MPOL_LOCAL"}, {"nodes", "0"}}));
  CHECK(bad.status != 0);
  CHECK_THAT(bad.err, Catch::Contains("set_mempolicy") && Catch::Contains("EINVAL"));
  CHECK(std::filesystem::is_empty(b.state.path));
}

TEST_CASE("runtime: execCPUAffinity pins exec'd processes, never the container's init") {
  NEED_RUNTIME(b);
  if (::sysconf(_SC_NPROCESSORS_ONLN) < 2) WARD_SKIP("needs two CPUs to tell a pin from none");
  auto cpus_of = [](const std::string& status_text) {
    auto at = status_text.find("Cpus_allowed_list:");
    if (at == std::string::npos) return std::string("?");
    auto v = status_text.substr(at + 18);
    v = v.substr(v.find_first_not_of(" \t"));
    return v.substr(0, v.find('\n'));
  };
  b.set({"sh", "-c", "grep Cpus_allowed_list /proc/self/status > /dev/shm/init; sleep 100"},
        [](json::Value& cfg) {
          cfg.find("process")->set("execCPUAffinity",
                                   json::Value::object({{"initial", "0"}, {"final", "0"}}));
        });
  const std::string id = ward_test::Bundle::id("affinity");
  auto d = b.cmd({"run", "-d", "--bundle", b.dir.path, id});
  INFO(d.err);
  REQUIRE(d.status == 0);
  // The exec'd process: the config's process with other args, as engines
  // send it (--process), execCPUAffinity included.
  json::Value cfg = json::parse(ward_test::read_file(b.dir / "config.json"));
  json::Value proc = *cfg.find("process");
  json::Array args;
  for (const char* a : {"sh", "-c",
                        "i=0; while [ ! -s /dev/shm/init ] && [ $i -lt 200 ]; do sleep 0.05; "
                        "i=$((i+1)); done; cat /dev/shm/init; grep Cpus_allowed_list "
                        "/proc/self/status"})
    args.emplace_back(a);
  proc.set("args", json::Value(std::move(args)));
  ward_test::write_file(b.dir / "process.json", json::dump(proc));
  auto e = b.cmd({"exec", "--process", b.dir / "process.json", id});
  INFO(e.err);
  REQUIRE(e.status == 0);
  auto nl = e.out.find('\n');
  REQUIRE(nl != std::string::npos);
  CHECK(cpus_of(e.out.substr(0, nl + 1)) == cpus_of(ward_test::read_file("/proc/self/status")));
  CHECK(cpus_of(e.out.substr(nl + 1)) == "0");
  CHECK(b.cmd({"delete", "--force", id}).status == 0);
}

TEST_CASE("runtime: linux.netDevices moves a host device in, renamed, with its addresses, up") {
  NEED_RUNTIME(b);
  // One end of a veth pair (the host kernel here has no dummy driver) with
  // a permanent global address (kept), a link-scope one (not kept: the spec
  // keeps RT_SCOPE_UNIVERSE only) and an IPv6 one.
  const std::string dev = "wnd" + std::to_string(::getpid() % 100000);
  auto sh = [](const std::string& cmd) {
    return ward_test::run(ward::Sandbox({"/bin/sh", "-c", cmd}));
  };
  if (sh("command -v ip").status.exit_code() != 0) WARD_SKIP("no ip(8) on the host (iproute2)");
  struct Cleanup {
    std::string dev;
    ~Cleanup() {
      ward_test::run(ward::Sandbox({"/bin/sh", "-c", "ip link del " + dev + "p 2>/dev/null"}));
    }
  } cleanup{dev};
  auto made = sh("ip link add " + dev + " type veth peer name " + dev + "p 2>&1");
  if (made.status.exit_code() != 0)
    WARD_SKIP("this kernel cannot make a veth pair to move: " + made.out);
  made =
      sh("ip addr add 10.203.7.9/24 dev " + dev + " && ip addr add 169.254.7.9/16 scope link dev " +
         dev + " && ip addr add fd00:7::9/64 nodad dev " + dev);
  REQUIRE(made.status.exit_code() == 0);
  b.set({"busybox", "ip", "addr", "show", "dev", "ctr0"}, [&](json::Value& cfg) {
    cfg.find("linux")->set("netDevices",
                           json::Value::object({{dev, json::Value::object({{"name", "ctr0"}})}}));
  });
  auto r = b.cmd({"run", "--bundle", b.dir.path, ward_test::Bundle::id("netdev")});
  INFO(r.out);
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("inet 10.203.7.9/24"));
  CHECK_THAT(r.out, Catch::Contains("inet6 fd00:7::9/64"));
  CHECK_THAT(r.out, !Catch::Contains("169.254.7.9"));
  CHECK_THAT(r.out, Catch::Contains(": ctr0"));
  CHECK_THAT(r.out, Catch::Contains(",UP"));
  // It left the host; a virtual device does not come back when the
  // container's namespace goes (network_namespaces(7)).
  CHECK_FALSE(ward::net_device_exists(dev));

  // A device the host does not have: an error naming it, nothing left.
  b.set({"true"}, [&](json::Value& cfg) {
    cfg.find("linux")->set("netDevices",
                           json::Value::object({{"wnd-none", json::Value::object()}}));
  });
  auto bad = b.cmd({"run", "--bundle", b.dir.path, ward_test::Bundle::id("netdev")});
  CHECK(bad.status != 0);
  CHECK_THAT(bad.err, Catch::Contains("linux.netDevices.wnd-none") && Catch::Contains("ENODEV"));
  CHECK(std::filesystem::is_empty(b.state.path));
  // A network namespace joined by path that is the host's own: the device
  // would only be renamed and brought up on the host. Refused.
  b.set({"true"}, [&](json::Value& cfg) {
    cfg.find("linux")->set("netDevices", json::Value::object({{"lo", json::Value::object()}}));
    json::Array ns;
    for (auto& n : cfg.find("linux")->find("namespaces")->as_array())
      if (n.find("type")->as_string() != "network") ns.push_back(n);
    ns.push_back(json::Value::object({{"type", "network"}, {"path", "/proc/self/ns/net"}}));
    cfg.find("linux")->set("namespaces", json::Value(std::move(ns)));
  });
  bad = b.cmd({"run", "--bundle", b.dir.path, ward_test::Bundle::id("netdev")});
  CHECK(bad.status != 0);
  CHECK_THAT(bad.err, Catch::Contains("linux.netDevices") && Catch::Contains("runtime's own"));
  // Names the kernel would refuse, before anything happens.
  b.set({"true"}, [&](json::Value& cfg) {
    cfg.find("linux")->set("netDevices",
                           json::Value::object({{"lo", json::Value::object({{"name", "../x"}})}}));
  });
  bad = b.cmd({"run", "--bundle", b.dir.path, ward_test::Bundle::id("netdev")});
  CHECK(bad.status != 0);
  CHECK_THAT(bad.err, Catch::Contains("linux.netDevices.lo.name") && Catch::Contains("'/'"));
}

TEST_CASE("runtime: start during a create waits for it and starts the container") {
  NEED_RUNTIME(b);
  // A createRuntime hook holds `create` for a second, while its record
  // already says "creating" with no pid: an engine's `start` then must not
  // take it for stopped (it did: "cannot start a container that has
  // stopped").
  b.set({"sh", "-c", "echo started"}, [](json::Value& cfg) {
    cfg.set("hooks",
            json::Value::object(
                {{"createRuntime",
                  json::Value::array({json::Value::object(
                      {{"path", "/bin/sleep"}, {"args", json::Value::array({"sleep", "1"})}})})}}));
  });
  const std::string id = ward_test::Bundle::id("racing");
  ward::Sandbox creator(
      {WARD_RUNTIME_BIN, "--root", b.state.path, "create", "--bundle", b.dir.path, id});
  ward_test::ScratchDir out("racing");
  int of = ::open(std::string(out / "create.out").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  REQUIRE(of >= 0);
  ward::Child cr = creator.stdin_(ward::Stdio::null()).stdout_(ward::Stdio::fd(of)).spawn();
  bool creating = false;
  for (int i = 0; i < 300 && !creating; ++i) {
    auto s = b.cmd({"state", id});
    creating = s.status == 0 && s.out.find("\"creating\"") != std::string::npos;
    if (!creating) ::usleep(5000);
  }
  REQUIRE(creating);
  auto st = b.cmd({"start", id});
  INFO(st.err);
  CHECK(st.status == 0);
  CHECK(cr.wait().shell_status() == 0);
  ::close(of);
  // The container ran: its output went to create's stdout.
  for (int i = 0; i < 200 && ward_test::read_file(out / "create.out").empty(); ++i) ::usleep(10000);
  CHECK(ward_test::read_file(out / "create.out") == "started\n");
  b.cmd({"delete", "--force", id});
}

TEST_CASE("runtime: an early seccomp filter that denies getcwd still runs the container") {
  NEED_RUNTIME(b);
  // noNewPrivileges false and no CAP_SYS_ADMIN: the filter goes on before
  // the credentials (as runc's does), and then the working directory check
  // (getcwd) used to run under it: "the working directory is outside the
  // root (getcwd): EPERM" (runtime-tools' linux_seccomp). It runs before
  // the filter now.
  b.set({"sh", "-c", "echo ran"}, [](json::Value& cfg) {
    cfg.find("process")->set("noNewPrivileges", false);
    cfg.find("linux")->set("seccomp", json::parse(R"({"defaultAction": "SCMP_ACT_ALLOW",
          "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]})"));
  });
  auto r = b.cmd({"run", "--bundle", b.dir.path, ward_test::Bundle::id("getcwd")});
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == "ran\n");
}

TEST_CASE("runtime: create checks the executable under an early filter that refuses faccessat2") {
  NEED_RUNTIME(b);
  // create checks that the program may be exec'd (faccessat2 AT_EACCESS)
  // under the container's filter, installed early (noNewPrivileges false).
  // A profile older than faccessat2 refuses it with its default errno:
  // every runtime-tools container failed with "exec /runtimetest: EPERM".
  b.set({"sh", "-c", "echo ran"}, [](json::Value& cfg) {
    cfg.find("process")->set("noNewPrivileges", false);
    cfg.find("linux")->set("seccomp", json::parse(R"({"defaultAction": "SCMP_ACT_ALLOW",
          "syscalls": [{"names": ["faccessat2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]})"));
  });
  const std::string id = ward_test::Bundle::id("faccess");
  auto c = b.cmd({"create", "--bundle", b.dir.path, id});
  INFO(c.err);
  REQUIRE(c.status == 0);
  CHECK(b.cmd({"start", id}).status == 0);
  b.cmd({"delete", "--force", id});
}

TEST_CASE(
    "runtime: exec takes --env and -e together, and a kernel.domainname sysctl may not contradict "
    "domainname") {
  NEED_RUNTIME(b);
  b.set({"sleep", "100"});
  const std::string id = ward_test::Bundle::id("envforms");
  ward::Child bg = b.run_in_background(id);
  // Both names of a list flag: every value kept (crun's
  // exec-add-environment_variable; urfave's "two forms" error was for this).
  auto e = b.cmd({"exec", "--env", "A=1", "-e", "B=2", id, "sh", "-c", "echo $A$B"});
  INFO(e.err);
  CHECK(e.status == 0);
  CHECK(e.out == "12\n");
  b.cmd({"kill", id, "KILL"});
  bg.wait();
  b.cmd({"delete", "--force", id});
  // One of the two would be lost: refused, naming the sysctl (as crun).
  b.set({"true"}, [](json::Value& cfg) {
    cfg.set("domainname", "example.org");
    cfg.find("linux")->set("sysctl", json::Value::object({{"kernel.domainname", "other.org"}}));
  });
  auto r = b.cmd({"run", "--bundle", b.dir.path, ward_test::Bundle::id("dom")});
  CHECK(r.status != 0);
  CHECK_THAT(r.err, Catch::Contains("linux.sysctl.kernel.domainname") &&
                        Catch::Contains("conflicts with the domainname"));
  // The same value is no conflict.
  b.set({"true"}, [](json::Value& cfg) {
    cfg.set("domainname", "example.org");
    cfg.find("linux")->set("sysctl", json::Value::object({{"kernel.domainname", "example.org"}}));
  });
  r = b.cmd({"run", "--bundle", b.dir.path, ward_test::Bundle::id("dom")});
  INFO(r.err);
  CHECK(r.status == 0);
}
