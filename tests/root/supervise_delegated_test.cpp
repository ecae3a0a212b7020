// SPDX-License-Identifier: Apache-2.0
// ward::supervise for an unprivileged caller with a delegated cgroup
// (cgroup-v2.rst, "Delegation"): root makes /ward-deleg-N in the unified
// hierarchy, owned by uid 65534, and a leaf in it for the caller, which
// then drops to 65534 and passes /ward-deleg-N as
// SuperviseOptions::cgroup_parent. The run's cgroup is made there: CPU time
// and the tree kill come from the unified cgroup, and so do memory and
// processes where the unified hierarchy has those controllers (the VM
// tier's pure v2; not this project's hybrid host, where the verdict says
// RLIMIT_AS / RLIMIT_NPROC instead).
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include <ward/supervise.hpp>

#include <catch2/catch.hpp>

#include "fork_util.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

namespace {
bool write_file(const std::string& path, const std::string& v) {
  std::ofstream f(path);
  f << v;
  f.flush();
  return static_cast<bool>(f);
}
std::string read_file(const std::string& path) {
  std::ifstream f(path);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
}  // namespace

TEST_CASE("root: supervise: an unprivileged caller uses a cgroup delegated to it") {
  WARD_SKIP_UNLESS_ROOT();
  const ward::CgroupHost& host = ward::cgroup_host();
  if (host.unified_mount.empty()) WARD_SKIP("no unified cgroup hierarchy here");
  const std::string rel = "/ward-deleg-" + std::to_string(::getpid());
  const std::string deleg = host.unified_mount + rel, leaf = deleg + "/caller";
  REQUIRE(::mkdir(deleg.c_str(), 0755) == 0);
  REQUIRE(::mkdir(leaf.c_str(), 0755) == 0);
  // What a delegating manager does: the directory and its interface files.
  const uid_t uid = 65534;
  for (const std::string& p : {deleg, deleg + "/cgroup.procs", deleg + "/cgroup.subtree_control",
                               leaf, leaf + "/cgroup.procs"})
    REQUIRE(::chown(p.c_str(), uid, uid) == 0);
  // Controllers the hierarchy has, made available to the delegated subtree.
  const std::string avail = read_file(host.unified_mount + "/cgroup.controllers");
  for (const char* c : {"memory", "pids"})
    if (avail.find(c) != std::string::npos)
      write_file(host.unified_mount + "/cgroup.subtree_control", std::string("+") + c);
  auto res = ward_test::run_forked([&](ward_test::ForkReport& rep) {
    if (!write_file(leaf + "/cgroup.procs", "0")) return rep.put("move", "failed");
    if (::setgroups(0, nullptr) != 0 || ::setresgid(uid, uid, uid) != 0 ||
        ::setresuid(uid, uid, uid) != 0)
      return rep.result("drop", -1);
    ward::Limits l;
    l.cpu_time = 300ms;
    l.memory = 64u << 20;
    l.processes = 20;
    l.wall_time = 20s;
    ward::SuperviseOptions o;
    o.cgroup_parent = rel;
    auto v = ward::supervise(
        ward::Sandbox({"/bin/sh", "-c", "(setsid sleep 1000 &); while :; do :; done"}), l, o);
    std::string meta = v.to_meta();
    for (char& ch : meta)
      if (ch == '\n') ch = ';';
    rep.put("meta", meta);
    rep.put("status", std::string(ward::Verdict::status_name(v.status)));
    rep.put("cpu", std::string(ward::to_string(v.enforced.cpu_time)));
    rep.put("kill", std::string(ward::to_string(v.enforced.tree_kill)));
    rep.put("memory", std::string(ward::to_string(v.enforced.memory)));
    rep.put("processes", std::string(ward::to_string(v.enforced.processes)));
    rep.put("reason", v.kill_reason);
    rep.put("cgroup", v.cgroup);
  });
  std::cout << res.out << "\n";
  ::rmdir(leaf.c_str());
  ::rmdir(deleg.c_str());
  REQUIRE(res.exited_ok());
  CHECK(res.kv["status"] == "TO");
  CHECK(res.kv["reason"] == "cpu time");
  CHECK(res.kv["cpu"] == "cgroup-v2");
  CHECK(res.kv["kill"] == "cgroup-v2");
  CHECK(res.kv["cgroup"].rfind(rel + "/ward-supervise-", 0) == 0);
  const std::string expect_mem = avail.find("memory") != std::string::npos ? "cgroup-v2" : "rlimit";
  const std::string expect_pids = avail.find("pids") != std::string::npos ? "cgroup-v2" : "rlimit";
  CHECK(res.kv["memory"] == expect_mem);
  CHECK(res.kv["processes"] == expect_pids);
}
