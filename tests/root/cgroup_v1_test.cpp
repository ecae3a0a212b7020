// SPDX-License-Identifier: Apache-2.0
// CgroupV1 on the real kernel, as root (issue #14).
//
// Cgroups are made below each v1 hierarchy's mount as
// ward-test-v1-<pid>-<n>[/...]: never inside the host's own cgroups. Every
// one is a CgroupV1 object, so it is removed even when a check fails. A
// test skips only where this host does not mount the controller it needs
// as a v1 hierarchy. Children are held by `read x` on a stdin pipe until
// add() has moved them, then let go with a newline.
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <ward/cgroup_v1.hpp>
#include <ward/sandbox.hpp>

#include <catch2/catch.hpp>

#include "cgroup_v1_util.hpp"
#include "run_util.hpp"
#include "test_util.hpp"

using namespace ward;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using namespace ward_test::v1;

namespace {

// The v1 mount of `c`, or empty.
std::string mount_of(std::string_view c) {
  const auto* h = cgroup_host().v1_hierarchy(c);
  return h ? h->mount : std::string();
}

// Gone, or a zombie that its (new) parent has not reaped yet: the sleeps
// are reparented when the shell dies.
bool dead(pid_t p) {
  std::string st = slurp("/proc/" + std::to_string(p) + "/stat");
  if (st.empty()) return true;
  auto paren = st.rfind(')');
  return paren != std::string::npos && paren + 2 < st.size() &&
         (st[paren + 2] == 'Z' || st[paren + 2] == 'X');
}

}  // namespace

TEST_CASE("cgroup v1: a memory hog under memory.limit_in_bytes 32 MiB is OOM-killed") {
  NEED_V1("memory");
  auto cg = CgroupV1::create(name(), {"memory"});
  cg.memory_limit(32u << 20);
  CHECK(slurp(cg.dir("memory") + "/memory.limit_in_bytes") == std::to_string(32u << 20));
  // No swap on this host; with swap accounting the hog must not escape into it.
  if (fs::exists(cg.dir("memory") + "/memory.memsw.limit_in_bytes"))
    cg.memory_swap_limit(32u << 20);
  Held h("exec tail /dev/zero");  // tail keeps the endless "line" in memory
  cg.add(h.child.pid());
  CHECK(cg.procs() == std::vector<pid_t>{h.child.pid()});
  h.release();
  auto st = h.child.wait();
  INFO(st.describe());
  CHECK(st.signaled());
  CHECK(st.signal() == SIGKILL);
  auto oom = cg.oom_control();
  CHECK(oom.oom_kill >= 1);
  auto s = cg.stats();
  REQUIRE(s.memory_max_usage);
  CHECK(*s.memory_max_usage <= (32u << 20));
  CHECK(*s.memory_max_usage > (16u << 20));
  cg.destroy();
}

TEST_CASE("cgroup v1: a fork loop under pids.max 8 is held") {
  NEED_V1("pids");
  auto cg = CgroupV1::create(name(), {"pids"});
  cg.pids_max(8);
  CHECK(slurp(cg.dir("pids") + "/pids.max") == "8");
  Held h("i=0; while [ $i -lt 30 ]; do sleep 100 & i=$((i+1)); done; wait");
  cg.add(h.child.pid());
  h.release();
  // The shell makes 7 sleeps (8 with itself), then fork fails: pids.events
  // "max N" counts the forks refused by this limit (pids.rst). dash then
  // gives up, so 7 or 8 are left.
  CHECK(eventually(
      [&] { return cgroup_parse::flat_value(cg.get("pids.events"), "max").value_or(0) >= 1; }));
  std::this_thread::sleep_for(200ms);
  auto s = cg.stats();
  REQUIRE(s.pids_current);
  CHECK(*s.pids_current <= 8);
  CHECK(*s.pids_current >= 7);
  CHECK(cg.procs().size() <= 8);
  cg.destroy();
  // dash gives up when fork fails ("Cannot fork", exit 2), or it was still
  // waiting and destroy() killed it: either way not a success.
  auto st = h.child.wait();
  INFO(st.describe());
  CHECK_FALSE(st.success());
  CHECK_FALSE(fs::exists(mount_of("pids") + "/" + cg.path()));
}

TEST_CASE("cgroup v1: cpu.shares and the CFS quota land in the files") {
  NEED_V1("cpu", "cpuacct");
  auto cg = CgroupV1::create(name(), {"cpu", "cpuacct"});
  cg.cpu_shares(512);
  cg.cpu_quota(50000, 200000);
  CHECK(slurp(cg.dir("cpu") + "/cpu.shares") == "512");
  CHECK(slurp(cg.dir("cpu") + "/cpu.cfs_period_us") == "200000");
  CHECK(slurp(cg.dir("cpu") + "/cpu.cfs_quota_us") == "50000");
  cg.cpu_quota(-1);
  CHECK(slurp(cg.dir("cpu") + "/cpu.cfs_quota_us") == "-1");
  CHECK(slurp(cg.dir("cpu") + "/cpu.cfs_period_us") == "100000");
  // A kernel error names the file, the value and the errno.
  try {
    cg.cpu_quota(1, 100000);  // quota below 1 ms: EINVAL (sched-bwc.rst)
    FAIL("no error");
  } catch (const Error& e) {
    std::string w = e.what();
    CHECK(w.find("cpu.cfs_quota_us") != std::string::npos);
    CHECK(w.find("'1'") != std::string::npos);
    CHECK(w.find("EINVAL") != std::string::npos);
  }
  // cpuacct counts a busy child's time.
  Held h("i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done");
  cg.add(h.child.pid());
  h.release();
  CHECK(h.child.wait().success());
  auto s = cg.stats();
  REQUIRE(s.cpuacct_usage);
  CHECK(*s.cpuacct_usage > 0);
}

TEST_CASE("cgroup v1: freeze stops a counting child and thaw resumes it") {
  NEED_V1("freezer");
  char t[] = "/tmp/ward-cgv1-XXXXXX";
  std::string dir = ::mkdtemp(t);
  const std::string counter = dir + "/n";
  auto cg = CgroupV1::create(name(), {"freezer"});
  CHECK(cg.freezer_state() == "THAWED");
  Held h("i=0; while :; do i=$((i+1)); echo $i > " + counter + ".tmp; mv " + counter + ".tmp " +
         counter + "; done");
  cg.add(h.child.pid());
  h.release();
  REQUIRE(eventually([&] { return !slurp(counter).empty(); }));
  cg.freeze();
  CHECK(cg.freezer_state() == "FROZEN");
  CHECK(slurp(cg.dir("freezer") + "/freezer.state") == "FROZEN");
  std::string a = slurp(counter);
  std::this_thread::sleep_for(300ms);
  CHECK(slurp(counter) == a);
  cg.thaw();
  CHECK(cg.freezer_state() == "THAWED");
  CHECK(eventually([&] { return slurp(counter) != a; }));
  cg.destroy();
  CHECK(h.child.wait().signal() == SIGKILL);
  fs::remove_all(dir);
}

TEST_CASE("cgroup v1: kill and destroy leave no process and no directory in any hierarchy") {
  NEED_V1("memory", "pids", "freezer", "cpu");
  std::vector<std::string> ctl;
  for (const auto& h : cgroup_host().v1_hierarchies)
    for (const auto& c : h.controllers) ctl.push_back(c);
  const std::string top = name();
  auto cg = CgroupV1::create(top + "/mid/leaf", ctl);
  std::vector<std::string> dirs;
  for (const auto& c : cg.controllers()) dirs.push_back(cg.dir(c));
  for (const auto& d : dirs) CHECK(fs::is_directory(d));
  Held h("sleep 1000 & sleep 1000 & wait");
  cg.add(h.child.pid());
  h.release();
  REQUIRE(eventually([&] { return cg.procs().size() == 3; }));
  auto members = cg.procs();
  cg.kill();
  CHECK(cg.procs().empty());
  for (pid_t p : members) CHECK(dead(p));
  cg.destroy();
  auto st = h.child.wait();
  CHECK(st.signal() == SIGKILL);
  for (const auto& h2 : cgroup_host().v1_hierarchies) {
    INFO(h2.mount);
    CHECK_FALSE(fs::exists(h2.mount + "/" + top));
  }
  CHECK_FALSE(cg.valid());
  cg.destroy();  // idempotent
}

TEST_CASE("cgroup v1: destroy of a cgroup removed behind our back is quiet") {
  NEED_V1("pids", "freezer");
  auto cg = CgroupV1::create(name(), {"pids", "freezer"});
  REQUIRE(::rmdir(cg.dir("pids").c_str()) == 0);
  REQUIRE(::rmdir(cg.dir("freezer").c_str()) == 0);
  CHECK_NOTHROW(cg.destroy());
  CHECK_FALSE(cg.valid());
}

TEST_CASE("cgroup v1: an intermediate in use by another cgroup stays") {
  NEED_V1("pids");
  const std::string top = name();
  auto a = CgroupV1::create(top + "/a", {"pids"});
  auto b = CgroupV1::create(top + "/b", {"pids"});
  a.destroy();
  CHECK(fs::is_directory(mount_of("pids") + "/" + top + "/b"));
  CHECK_FALSE(fs::exists(mount_of("pids") + "/" + top + "/a"));
  b.destroy();  // b did not make top, so it stays: remove it by hand
  CHECK(fs::is_directory(mount_of("pids") + "/" + top));
  ::rmdir((mount_of("pids") + "/" + top).c_str());
}

TEST_CASE("cgroup v1: bad paths and controllers fail naming them and leave nothing") {
  NEED_V1("memory", "pids");
  const std::string top = name();
  auto msg = [](auto f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  std::string m = msg([&] { CgroupV1::create(top + "/../escape", {"memory", "pids"}); });
  CHECK(m.find("'" + top + "/../escape'") != std::string::npos);
  CHECK(m.find("'..'") != std::string::npos);
  CHECK_FALSE(fs::exists(mount_of("memory") + "/escape"));
  m = msg([&] { CgroupV1::create(top, {"memory", "bogus"}); });
  CHECK(m.find("'bogus' is not a cgroup v1 controller name") != std::string::npos);
  if (cgroup_host().v1_hierarchy("hugetlb") == nullptr) {  // on this host hugetlb is in v2
    m = msg([&] { CgroupV1::create(top, {"memory", "pids", "hugetlb"}); });
    CHECK(m.find("controller hugetlb is not mounted as a v1 hierarchy on this host") !=
          std::string::npos);
    auto cg = CgroupV1::create(top, {"memory"});
    m = msg([&] { cg.hugetlb_limit("2MB", 1 << 21); });
    CHECK(m.find("controller hugetlb is not mounted as a v1 hierarchy on this host") !=
          std::string::npos);
    m = msg([&] { cg.pids_max(3); });
    CHECK(m.find("controller pids is not one this cgroup was created with") != std::string::npos);
    cg.destroy();
  }
  CHECK_FALSE(fs::exists(mount_of("memory") + "/" + top));
  CHECK_FALSE(fs::exists(mount_of("pids") + "/" + top));
  // An existing cgroup is not taken over by create().
  auto cg = CgroupV1::create(top, {"pids"});
  m = msg([&] { CgroupV1::create(top, {"memory", "pids"}); });
  CHECK(m.find("already exists") != std::string::npos);
  CHECK(m.find(mount_of("pids") + "/" + top) != std::string::npos);
  CHECK_FALSE(fs::exists(mount_of("memory") + "/" + top));  // undone
  CHECK(fs::is_directory(mount_of("pids") + "/" + top));    // not ours to remove
  // adopt() takes it over; destroying removes it.
  cg.release();
  cg = CgroupV1();
  auto ad = CgroupV1::adopt(top, {"pids"});
  ad.pids_max(5);
  CHECK(slurp(mount_of("pids") + "/" + top + "/pids.max") == "5");
  ad.destroy();
  CHECK_FALSE(fs::exists(mount_of("pids") + "/" + top));
}

TEST_CASE("cgroup v1: a cpuset two levels deep takes a process (cpus and mems copied down)") {
  NEED_V1("cpuset");
  const std::string top = name();
  auto cg = CgroupV1::create(top + "/inner", {"cpuset"});
  const std::string root = mount_of("cpuset");
  CHECK(slurp(root + "/" + top + "/cpuset.cpus") == slurp(root + "/cpuset.cpus"));
  CHECK(slurp(cg.dir("cpuset") + "/cpuset.cpus") == slurp(root + "/cpuset.cpus"));
  CHECK(slurp(cg.dir("cpuset") + "/cpuset.mems") == slurp(root + "/cpuset.mems"));
  Held h("cat /proc/self/cpuset");
  cg.add(h.child.pid());
  h.release();
  std::string out = ward_test::read_all(h.child.stdout_pipe().get());
  CHECK(h.child.wait().success());
  CHECK(out == "/" + top + "/inner\n");
  cg.cpuset_cpus("0");
  CHECK(slurp(cg.dir("cpuset") + "/cpuset.cpus") == "0");
  // The attack the copy-down defends against: a cpuset made by hand stays
  // empty and refuses a process with ENOSPC.
  const std::string bare = root + "/" + top + "/bare";
  REQUIRE(::mkdir(bare.c_str(), 0755) == 0);
  Held other("true");
  {
    std::ofstream procs(bare + "/cgroup.procs");
    procs << other.child.pid() << std::flush;
    CHECK_FALSE(procs.good());
  }
  other.release();
  CHECK(other.child.wait().success());
  ::rmdir(bare.c_str());
  cg.destroy();
  CHECK_FALSE(fs::exists(root + "/" + top));
}

TEST_CASE("cgroup v1: devices and blkio rules land in the files") {
  NEED_V1("devices", "blkio");
  auto cg = CgroupV1::create(name(), {"devices", "blkio"});
  cg.device_rules({{true, 'c', 1, 3, "rwm"}, {true, 'c', 136, -1, "rw"}});
  CHECK(slurp(cg.dir("devices") + "/devices.list") == "c 1:3 rwm\nc 136:* rw");
  cg.device_deny("c 1:3 w");
  CHECK(slurp(cg.dir("devices") + "/devices.list") == "c 1:3 rm\nc 136:* rw");
  // The rule is enforced: writing /dev/null is refused now, reading is not.
  Held h("echo x > /dev/null && echo wrote; cat /dev/null && echo read");
  cg.add(h.child.pid());
  h.release();
  std::string out = ward_test::read_all(h.child.stdout_pipe().get());
  h.child.wait();
  CHECK(out == "read\n");
  // CFQ's blkio.weight or BFQ's blkio.bfq.weight; a kernel with neither
  // (no BFQ built or loaded) gets an error that names both.
  const bool cfq = fs::exists(cg.dir("blkio") + "/blkio.weight");
  if (cfq || fs::exists(cg.dir("blkio") + "/blkio.bfq.weight")) {
    cg.blkio_weight(500);
    std::string w = cfq ? "/blkio.weight" : "/blkio.bfq.weight";
    CHECK(slurp(cg.dir("blkio") + w).find("500") != std::string::npos);
  } else {
    WARN("no blkio weight file on this kernel: the error is checked instead");
    CHECK_THROWS_WITH(cg.blkio_weight(500),
                      Catch::Contains("blkio.weight") && Catch::Contains("blkio.bfq.weight"));
  }
}

// A frozen task acts on no signal, SIGKILL included, until it is thawed:
// destroy() moves a member that some freezer cgroup holds frozen to the
// freezer hierarchy's top cgroup, which thaws it, so it dies. Two ways a
// member stays frozen where writing THAWED to our own cgroup does not help.
TEST_CASE("cgroup v1: destroy kills a member under a frozen parent freezer cgroup") {
  NEED_V1("freezer", "cpu");
  auto parent = CgroupV1::create(name(), {"freezer", "cpu"});
  auto cg = CgroupV1::create(parent.path() + "/c", {"freezer", "cpu"});
  Held h("sleep 1000");
  cg.add(h.child.pid());
  h.release();
  // Our cgroup reads FROZEN whatever we write to it now (freezer.parent_freezing 1).
  parent.freeze();
  REQUIRE(cg.freezer_state() == "FROZEN");
  // The previous destroy() froze, killed and then waited 10 s for THAWED
  // that never came, and threw ETIMEDOUT with the process alive.
  CHECK_NOTHROW(cg.destroy());
  auto es = h.child.wait_for(10s);
  const std::string state = parent.freezer_state();
  parent.thaw();  // whatever happened: nothing stays frozen
  CHECK(state == "FROZEN");
  REQUIRE(es);
  CHECK(es->signal() == SIGKILL);
  CHECK_FALSE(fs::exists(mount_of("freezer") + "/" + parent.path() + "/c"));
}

TEST_CASE(
    "cgroup v1 attack: a thread frozen in another freezer cgroup does not keep destroy from "
    "killing its process") {
  NEED_V1("freezer", "cpu");
  auto cg = CgroupV1::create(name(), {"freezer", "cpu"});
  auto other = CgroupV1::create(name(), {"freezer"});
  // A process of two threads: its leader stays in our freezer cgroup, the
  // other thread goes into `other` (v1 moves threads one by one through
  // `tasks`), which is frozen. /proc/PID/cgroup shows the leader's only.
  ward::Sandbox sb({"python3", "-c",
                    "import threading, time\n"
                    "threading.Thread(target=time.sleep, args=(1000,)).start()\n"
                    "print('two', flush=True)\n"
                    "time.sleep(1000)\n"});
  ward::Child c = sb.stdin_(ward::Stdio::null()).stdout_(ward::Stdio::pipe()).spawn();
  cg.add(c.pid());
  char buf[4] = {};
  REQUIRE(::read(c.stdout_pipe().get(), buf, 4) == 4);
  const std::string task_dir = "/proc/" + std::to_string(c.pid()) + "/task";
  std::string tid;
  for (const auto& e : fs::directory_iterator(task_dir))
    if (e.path().filename() != std::to_string(c.pid())) tid = e.path().filename();
  REQUIRE_FALSE(tid.empty());
  std::ofstream(other.dir("freezer") + "/tasks") << tid;
  other.freeze();
  CHECK(slurp(task_dir + "/" + tid + "/cgroup").find(":freezer:/" + other.path()) !=
        std::string::npos);
  CHECK(slurp("/proc/" + std::to_string(c.pid()) + "/cgroup").find(":freezer:/" + cg.path()) !=
        std::string::npos);
  // The previous destroy() read the leader's freezer cgroup (ours, thawed),
  // left the process alone and threw ETIMEDOUT after 10 s.
  CHECK_NOTHROW(cg.destroy());
  auto es = c.wait_for(10s);
  const std::string state = other.freezer_state();
  other.thaw();  // whatever happened: nothing stays frozen
  CHECK(state == "FROZEN");
  REQUIRE(es);
  CHECK(es->signal() == SIGKILL);
}
