// SPDX-License-Identifier: Apache-2.0
// Capabilities, ids, rlimits and process attributes of real children, as root.
#include <sched.h>
#include <sys/personality.h>
#include <sys/resource.h>

#include <fstream>

#include <catch2/catch.hpp>

#include "run_util.hpp"
#include "test_util.hpp"

using namespace ward;
using ward_test::kv;
using ward_test::probe;
using ward_test::run;

namespace {
// "CapEff:\t0000000000003000" -> {"CapEff", "0000000000003000"}
std::map<std::string, std::string> status(Sandbox sb) {
  sb.command({"/bin/cat", "/proc/self/status"});
  auto r = run(std::move(sb));
  REQUIRE(r.status.success());
  std::map<std::string, std::string> m;
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto v = line.substr(colon + 1);
    v.erase(0, v.find_first_not_of(" \t"));
    m[line.substr(0, colon)] = v;
  }
  return m;
}
std::string hex(CapabilitySet s) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(s.mask()));
  return buf;
}
}  // namespace

TEST_CASE("the five capability sets are exactly what was asked") {
  WARD_SKIP_UNLESS_ROOT();
  CapabilitySet bnd{CAP_CHOWN, CAP_NET_BIND_SERVICE, CAP_KILL, CAP_SETPCAP};
  CapabilitySet prm{CAP_CHOWN, CAP_NET_BIND_SERVICE, CAP_KILL};
  CapabilitySet eff{CAP_NET_BIND_SERVICE};
  CapabilitySet inh{CAP_NET_BIND_SERVICE, CAP_KILL};
  CapabilitySet amb{CAP_NET_BIND_SERVICE};
  // For a non-root uid, execve of a plain binary leaves exactly P' = E' =
  // ambient, while bounding and inheritable pass through unchanged
  // (capabilities(7), "Transformation of capabilities during execve()").
  auto st = status(Sandbox().capabilities({bnd, prm, eff, inh, amb}).user(1000, 1000));
  CHECK(st["CapBnd"] == hex(bnd));
  CHECK(st["CapInh"] == hex(inh));
  CHECK(st["CapAmb"] == hex(amb));
  CHECK(st["CapPrm"] == hex(amb));  // non-root after execve: P' = ambient
  CHECK(st["CapEff"] == hex(amb));
  CHECK(st["Uid"] == "1000\t1000\t1000\t1000");
  CHECK(st["Gid"] == "1000\t1000\t1000\t1000");
  CHECK(st["Groups"] == "");
  CHECK(st["NoNewPrivs"] == "0");
}

TEST_CASE("root with a reduced set keeps exactly that set, never inheritable") {
  WARD_SKIP_UNLESS_ROOT();
  auto set = CapabilitySet::docker_default();
  auto st = status(Sandbox().capabilities(Capabilities::only(set)));
  CHECK(st["CapBnd"] == hex(set));
  CHECK(st["CapPrm"] == hex(set));
  CHECK(st["CapEff"] == hex(set));
  CHECK(st["CapInh"] == "0000000000000000");
  CHECK(st["CapAmb"] == "0000000000000000");
}

TEST_CASE("uid, gid, supplementary groups and no_new_privs") {
  WARD_SKIP_UNLESS_ROOT();
  auto st = status(Sandbox().user(1234, 5678).groups({10, 20, 30}).no_new_privs(true));
  CHECK(st["Uid"] == "1234\t1234\t1234\t1234");
  CHECK(st["Gid"] == "5678\t5678\t5678\t5678");
  CHECK(ward_test::trim(st["Groups"]) == "10 20 30");
  CHECK(st["NoNewPrivs"] == "1");
  CHECK(st["CapEff"] == "0000000000000000");  // a uid change without caps drops them all
  CHECK(st["CapPrm"] == "0000000000000000");
}

TEST_CASE("a non-root child with only CAP_NET_BIND_SERVICE binds port 80 but opens no raw socket") {
  WARD_SKIP_UNLESS_ROOT();
  auto only_bind = Capabilities::ambient_set(CapabilitySet{CAP_NET_BIND_SERVICE});
  auto sb = Sandbox({probe(), "bind", "80"})
                .unshare(NsKind::net)  // a private loopback: nothing on the host is touched
                .user(1000, 1000)
                .capabilities(only_bind);
  CHECK(kv(run(sb).out)["bind"] == "0");
  CHECK(kv(run(Sandbox(sb).command({probe(), "rawsock"})).out)["rawsock"] == std::to_string(EPERM));
  // Without the capability the same bind is refused.
  auto none = Sandbox({probe(), "bind", "80"}).unshare(NsKind::net).user(1000, 1000);
  CHECK(kv(run(none).out)["bind"] == std::to_string(EACCES));
}

TEST_CASE("a child with no capabilities cannot mount or change its hostname") {
  WARD_SKIP_UNLESS_ROOT();
  // New mount and uts namespaces, so even a wrong answer changes nothing here.
  auto base =
      Sandbox().unshare(NsSet{NsKind::mount, NsKind::uts}).capabilities(Capabilities::none());
  auto m = kv(run(Sandbox(base).command({probe(), "mount-tmpfs", "/tmp"})).out);
  CHECK(m["mount"] == std::to_string(EPERM));
  auto h = kv(
      run(Sandbox(base).command({"/bin/sh", "-c", "hostname nope 2>/dev/null; echo rc=$?"})).out);
  CHECK(h["rc"] != "0");
  auto st = status(base);
  CHECK(st["CapEff"] == "0000000000000000");
  CHECK(st["CapBnd"] == "0000000000000000");
}

TEST_CASE("rlimits: the child's /proc/self/limits shows them") {
  WARD_SKIP_UNLESS_ROOT();
  auto r = run(Sandbox({"/bin/cat", "/proc/self/limits"})
                   .rlimit(RLIMIT_NOFILE, 512, 1024)
                   .rlimit(RLIMIT_CORE, 0, 0)
                   .rlimit(RLIMIT_NPROC, 100, 200));
  REQUIRE(r.status.success());
  CHECK_THAT(r.out, Catch::Matches(R"([\s\S]*Max open files\s+512\s+1024\s+files[\s\S]*)"));
  CHECK_THAT(r.out, Catch::Matches(R"([\s\S]*Max core file size\s+0\s+0\s+bytes[\s\S]*)"));
  CHECK_THAT(r.out, Catch::Matches(R"([\s\S]*Max processes\s+100\s+200\s+processes[\s\S]*)"));
}

TEST_CASE("raising a hard rlimit without CAP_SYS_RESOURCE is a clear error naming the limit") {
  struct rlimit cur {};
  ::getrlimit(RLIMIT_NOFILE, &cur);
  if (detail::have_capability(24)) WARD_SKIP("this process has CAP_SYS_RESOURCE");
  if (cur.rlim_max == RLIM_INFINITY) WARD_SKIP("the hard limit is already unlimited");
  try {
    (void)Sandbox({"/bin/true"}).rlimit(RLIMIT_NOFILE, 1024, cur.rlim_max + 1).plan();
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK(e.step() == Step::rlimit);
    CHECK(e.code() == std::errc::operation_not_permitted);
    CHECK_THAT(e.what(), Catch::Contains("RLIMIT_NOFILE") && Catch::Contains("CAP_SYS_RESOURCE"));
  }
}

TEST_CASE("umask, nice, scheduler, affinity, personality, oom_score_adj") {
  WARD_SKIP_UNLESS_ROOT();
  auto r = run(Sandbox({"/bin/sh", "-c",
                        "echo umask=$(umask); echo nice=$(cut -d' ' -f19 /proc/self/stat); "
                        "echo policy=$(cut -d' ' -f41 /proc/self/stat); "
                        "echo cpus=$(grep Cpus_allowed_list /proc/self/status | cut -f2); "
                        "echo oom=$(cat /proc/self/oom_score_adj)"})
                   .umask(027)
                   .nice(5)
                   .scheduler(SCHED_BATCH)
                   .cpu_affinity({0})
                   .oom_score_adj(500));
  auto m = kv(r.out);
  CHECK(m["umask"] == "0027");
  CHECK(m["policy"] == std::to_string(SCHED_BATCH));
  CHECK(m["cpus"] == "0");
  CHECK(m["oom"] == "500");
  // nice is per-thread and the shell's child inherits it
  CHECK(m["nice"] == "5");
  auto p = run(Sandbox({"/bin/cat", "/proc/self/personality"}).personality(ADDR_NO_RANDOMIZE));
  CHECK(std::stoul(ward_test::trim(p.out), nullptr, 16) == ADDR_NO_RANDOMIZE);
}

TEST_CASE("sysctls: set in a new net namespace and not on the host, others refused") {
  WARD_SKIP_UNLESS_ROOT();
  auto host_value = [] {
    std::ifstream f("/proc/sys/net/ipv4/ip_unprivileged_port_start");
    std::string v;
    f >> v;
    return v;
  };
  std::string before = host_value();
  auto r = run(Sandbox({"/bin/cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"})
                   .unshare(NsKind::net)
                   .sysctl("net.ipv4.ip_unprivileged_port_start", "77"));
  CHECK(ward_test::trim(r.out) == "77");
  CHECK(host_value() == before);
  auto refused = [](Sandbox sb) {
    try {
      (void)sb.plan();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK_THAT(refused(Sandbox({"/bin/true"}).sysctl("vm.swappiness", "10")),
             Catch::Contains("not a namespaced sysctl"));
  CHECK_THAT(refused(Sandbox({"/bin/true"}).sysctl("net.ipv4.ip_forward", "1")),
             Catch::Contains("needs a net namespace"));
  CHECK_THAT(
      refused(Sandbox({"/bin/true"}).unshare(NsKind::ipc).sysctl("kernel.msgmax", "x/../..")),
      Catch::Contains("accepted"));  // values are the kernel's to judge
  CHECK_THAT(refused(Sandbox({"/bin/true"}).unshare(NsKind::net).sysctl("net/../../vm", "1")),
             Catch::Contains("not a sysctl name"));
  auto ipc = run(Sandbox({"/bin/cat", "/proc/sys/kernel/msgmax"})
                     .unshare(NsKind::ipc)
                     .sysctl("kernel.msgmax", "4096"));
  CHECK(ward_test::trim(ipc.out) == "4096");
}

TEST_CASE("capability validation names what is wrong") {
  auto why = [](Sandbox sb) {
    try {
      (void)sb.plan();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK_THAT(why(Sandbox({"/bin/true"})
                     .capabilities({CapabilitySet{}, {}, CapabilitySet{CAP_KILL}, {}, {}})),
             Catch::Contains("capabilities.effective"));
  CHECK_THAT(why(Sandbox({"/bin/true"}).capabilities({{}, {}, {}, {}, CapabilitySet{CAP_KILL}})),
             Catch::Contains("capabilities.ambient"));
  CHECK_THAT(
      why(Sandbox({"/bin/true"}).user(1000, 1000).capabilities(Capabilities::only({CAP_KILL}))),
      Catch::Contains("ambient set"));
  try {
    (void)CapabilitySet::from_names({"CAP_CHOWN", "CAP_BOGUS", "also_bogus"});
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("CAP_BOGUS, also_bogus"));
  }
}
