// SPDX-License-Identifier: Apache-2.0
// oci::apply_resources(CgroupV1&, ...) on this host's real cgroup v1
// hierarchies, as root (issue #14): the values land in the files, the
// kernel enforces them on real processes, and failures name the OCI field,
// the file and the errno.
//
// Conventions and helpers of tests/common/cgroup_v1_util.hpp, shared with
// tests/root/cgroup_v1_test.cpp: cgroups are ward-test-v1-<pid>-<n> below
// each hierarchy's mount, each one a CgroupV1 object (removed even when a
// check fails); a test skips only where the host does not mount a
// controller it needs as a v1 hierarchy; children are held by `read x` on
// a stdin pipe until they are in the cgroup.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <ward/cgroup_v1.hpp>
#include <ward/oci/config.hpp>
#include <ward/oci/resources.hpp>
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

std::string file(const CgroupV1& cg, const std::string& f) {
  return slurp(cg.dir(f.substr(0, f.find('.'))) + "/" + f);
}

// The error apply_resources throws, or FAIL.
Error apply_error(CgroupV1& cg, const char* json, const oci::ResourcesOptions& o = {}) {
  try {
    oci::apply_resources(cg, oci::parse_resources(json), o);
  } catch (const Error& e) {
    return e;
  }
  FAIL("apply_resources accepted " << json);
  return Error(Step::validate, 0, "");
}

}  // namespace

TEST_CASE("oci_resources_v1: memory.limit 32 MiB lands and OOM-kills a tail /dev/zero hog") {
  NEED_V1("memory");
  auto cg = CgroupV1::create(name(), {"memory"});
  // swap == limit: no swap at all where the host accounts it (it does here).
  const bool memsw = fs::exists(cg.dir("memory") + "/memory.memsw.limit_in_bytes");
  oci::apply_resources(cg, oci::parse_resources(memsw ? R"({"memory": {"limit": 33554432,
      "swap": 33554432, "reservation": 16777216, "swappiness": 0}})"
                                                      : R"({"memory": {"limit": 33554432,
      "reservation": 16777216, "swappiness": 0}})"));
  CHECK(file(cg, "memory.limit_in_bytes") == "33554432");
  if (memsw) CHECK(file(cg, "memory.memsw.limit_in_bytes") == "33554432");
  CHECK(file(cg, "memory.soft_limit_in_bytes") == "16777216");
  CHECK(file(cg, "memory.swappiness") == "0");
  Held h("exec tail /dev/zero");
  cg.add(h.child.pid());
  h.release();
  auto st = h.child.wait();
  INFO(st.describe());
  CHECK(st.signal() == SIGKILL);
  CHECK(cg.oom_control().oom_kill >= 1);
  // disableOOMKiller lands in memory.oom_control; -1 lifts both limits.
  oci::apply_resources(cg, oci::parse_resources(R"({"memory": {"limit": -1,
      "disableOOMKiller": true}})"));
  CHECK(cg.oom_control().oom_kill_disable);
  CHECK(std::stoull(file(cg, "memory.limit_in_bytes")) > (1ull << 60));
  if (memsw) CHECK(std::stoull(file(cg, "memory.memsw.limit_in_bytes")) > (1ull << 60));
  cg.destroy();
}

TEST_CASE(
    "oci_resources_v1: memory and memsw are raised and lowered in an order the kernel takes") {
  NEED_V1("memory");
  auto cg = CgroupV1::create(name(), {"memory"});
  if (!fs::exists(cg.dir("memory") + "/memory.memsw.limit_in_bytes"))
    WARD_SKIP("no swap accounting on this host (no memory.memsw.* files)");
  auto set = [&](const char* json) { oci::apply_resources(cg, oci::parse_resources(json)); };
  set(R"({"memory": {"limit": 33554432, "swap": 67108864}})");
  CHECK(file(cg, "memory.limit_in_bytes") == "33554432");
  CHECK(file(cg, "memory.memsw.limit_in_bytes") == "67108864");
  // Raising both above the old memsw: the limit first would be refused.
  set(R"({"memory": {"limit": 134217728, "swap": 268435456}})");
  CHECK(file(cg, "memory.limit_in_bytes") == "134217728");
  CHECK(file(cg, "memory.memsw.limit_in_bytes") == "268435456");
  // Lowering both below the old limit: memsw first would be refused.
  set(R"({"memory": {"limit": 16777216, "swap": 33554432}})");
  CHECK(file(cg, "memory.limit_in_bytes") == "16777216");
  CHECK(file(cg, "memory.memsw.limit_in_bytes") == "33554432");
  // The attack the ordering defends against: the naive order (limit, then
  // memsw) fails when raising, since memsw must stay >= the limit.
  try {
    cg.set("memory.limit_in_bytes", "134217728");
    FAIL("a limit above memory.memsw.limit_in_bytes was accepted");
  } catch (const Error& e) {
    CHECK(e.error_number() == EINVAL);
  }
  // ... and memsw first fails when lowering.
  set(R"({"memory": {"limit": 134217728, "swap": 268435456}})");
  try {
    cg.set("memory.memsw.limit_in_bytes", "33554432");
    FAIL("memory.memsw.limit_in_bytes below the limit was accepted");
  } catch (const Error& e) {
    CHECK(e.error_number() == EINVAL);
  }
  // A memsw below the limit in the config: refused before any write.
  auto e = apply_error(cg, R"({"memory": {"limit": 67108864, "swap": 33554432}})");
  CHECK(e.object() == "linux.resources.memory.swap");
  CHECK(file(cg, "memory.limit_in_bytes") == "134217728");
  cg.destroy();
}

TEST_CASE("oci_resources_v1: cpu shares quota period and cpuset land and shares are read back") {
  NEED_V1("cpu", "cpuset");
  auto cg = CgroupV1::create(name(), {"cpu", "cpuset"});
  oci::apply_resources(cg, oci::parse_resources(R"({"cpu": {"shares": 512, "quota": 50000,
      "period": 200000, "realtimePeriod": 1000000, "realtimeRuntime": 10000, "cpus": "0",
      "mems": "0"}})"));
  CHECK(file(cg, "cpu.shares") == "512");
  CHECK(file(cg, "cpu.cfs_period_us") == "200000");
  CHECK(file(cg, "cpu.cfs_quota_us") == "50000");
  CHECK(file(cg, "cpu.rt_period_us") == "1000000");
  CHECK(file(cg, "cpu.rt_runtime_us") == "10000");
  CHECK(file(cg, "cpuset.cpus") == "0");
  CHECK(file(cg, "cpuset.mems") == "0");
  // The kernel clamps cpu.shares to 2..262144 without an error: runc reads
  // it back, and so does ward.
  auto e = apply_error(cg, R"({"cpu": {"shares": 1}})");
  INFO(e.what());
  CHECK(e.error_number() == ERANGE);
  CHECK_THAT(e.object(),
             Catch::StartsWith("linux.resources.cpu.shares (" + cg.dir("cpu") + "/cpu.shares"));
  CHECK_THAT(e.detail(), Catch::Contains("'2'") && Catch::Contains("minimum"));
  e = apply_error(cg, R"({"cpu": {"shares": 1000000}})");
  CHECK(e.error_number() == ERANGE);
  CHECK_THAT(e.detail(), Catch::Contains("'262144'") && Catch::Contains("maximum"));
  if (fs::exists(cg.dir("cpu") + "/cpu.cfs_burst_us")) {
    oci::apply_resources(cg, oci::parse_resources(R"({"cpu": {"burst": 10000}})"));
    CHECK(file(cg, "cpu.cfs_burst_us") == "10000");
  }
  if (fs::exists(cg.dir("cpu") + "/cpu.idle")) {
    oci::apply_resources(cg, oci::parse_resources(R"({"cpu": {"idle": 1}})"));
    CHECK(file(cg, "cpu.idle") == "1");
    // An idle group takes no shares (the kernel: EINVAL).
    auto idle_err = apply_error(cg, R"({"cpu": {"shares": 512}})");
    CHECK(idle_err.error_number() == EINVAL);
    CHECK_THAT(idle_err.object(), Catch::StartsWith("linux.resources.cpu.shares ("));
  }
  // quota -1 lifts the limit.
  oci::apply_resources(cg, oci::parse_resources(R"({"cpu": {"quota": -1}})"));
  CHECK(file(cg, "cpu.cfs_quota_us") == "-1");
  cg.destroy();
}

TEST_CASE("oci_resources_v1: a bad value fails naming the field the file and the errno") {
  NEED_V1("cpu");
  auto cg = CgroupV1::create(name(), {"cpu"});
  // A quota below 1 ms: EINVAL (sched-bwc.rst).
  auto e = apply_error(cg, R"({"cpu": {"quota": 1, "period": 100000}})");
  INFO(e.what());
  CHECK(e.step() == Step::cgroup);
  CHECK(e.error_number() == EINVAL);
  CHECK(e.object() == "linux.resources.cpu.quota (" + cg.dir("cpu") + "/cpu.cfs_quota_us)");
  CHECK_THAT(e.what(), Catch::Contains("EINVAL") && Catch::Contains("'1'"));
  // The caller's field prefix (an update document).
  oci::ResourcesOptions o;
  o.field = "resources.json";
  e = apply_error(cg, R"({"cpu": {"quota": 1}})", o);
  CHECK_THAT(e.object(), Catch::StartsWith("resources.json.cpu.quota ("));
  cg.destroy();
}

TEST_CASE("oci_resources_v1: pids.max 8 holds a fork loop and 0 and -1 are written as v2 does") {
  NEED_V1("pids");
  auto cg = CgroupV1::create(name(), {"pids"});
  oci::apply_resources(cg, oci::parse_resources(R"({"pids": {"limit": 8}})"));
  CHECK(file(cg, "pids.max") == "8");
  Held h("i=0; while [ $i -lt 30 ]; do sleep 100 & i=$((i+1)); done; wait");
  cg.add(h.child.pid());
  h.release();
  CHECK(eventually(
      [&] { return cgroup_parse::flat_value(cg.get("pids.events"), "max").value_or(0) >= 1; }));
  std::this_thread::sleep_for(200ms);
  CHECK(std::stoull(file(cg, "pids.current")) <= 8);
  cg.kill();
  (void)h.child.wait();
  oci::apply_resources(cg, oci::parse_resources(R"({"pids": {"limit": 0}})"));
  CHECK(file(cg, "pids.max") == "0");
  oci::apply_resources(cg, oci::parse_resources(R"({"pids": {"limit": -1}})"));
  CHECK(file(cg, "pids.max") == "max");
  cg.destroy();
}

TEST_CASE("oci_resources_v1: blkio weight and a throttle on a real disk land") {
  NEED_V1("blkio");
  auto cg = CgroupV1::create(name(), {"blkio"});
  // A weight needs CFQ's blkio.weight or BFQ's blkio.bfq.weight; on a kernel
  // with neither (no BFQ built or loaded) the error names the field and the
  // file.
  const bool cfq = fs::exists(cg.dir("blkio") + "/blkio.weight");
  if (cfq || fs::exists(cg.dir("blkio") + "/blkio.bfq.weight")) {
    oci::apply_resources(cg, oci::parse_resources(R"({"blockIO": {"weight": 500}})"));
    CHECK_THAT(file(cg, cfq ? "blkio.weight" : "blkio.bfq.weight"), Catch::Contains("500"));
  } else {
    WARN("no blkio weight file on this kernel: the error is checked instead");
    CHECK_THROWS_WITH(
        oci::apply_resources(cg, oci::parse_resources(R"({"blockIO": {"weight": 500}})")),
        Catch::Contains("linux.resources.blockIO.weight") && Catch::Contains("weight): No such "
                                                                             "file"));
  }
  // A throttle on the first disk with a request queue (not a loop or zram).
  std::string dev;
  for (const auto& d : fs::directory_iterator("/sys/block")) {
    const std::string n = d.path().filename();
    if (n.rfind("loop", 0) == 0 || n.rfind("zram", 0) == 0 || n.rfind("ram", 0) == 0) continue;
    dev = slurp(d.path() / "dev");
    break;
  }
  if (!dev.empty()) {
    const auto colon = dev.find(':');
    const std::string json = R"({"blockIO": {"throttleReadBpsDevice": [{"major": )" +
                             dev.substr(0, colon) + R"(, "minor": )" + dev.substr(colon + 1) +
                             R"(, "rate": 1048576}]}})";
    oci::apply_resources(cg, oci::parse_resources(json));
    CHECK(file(cg, "blkio.throttle.read_bps_device") == dev + " 1048576");
  }
  cg.destroy();
}

TEST_CASE("oci_resources_v1: device rules refuse a write to /dev/null and allow reads") {
  NEED_V1("devices");
  auto cg = CgroupV1::create(name(), {"devices"});
  oci::ResourcesOptions o;
  o.default_devices = false;
  oci::apply_resources(cg, oci::parse_resources(R"({"devices": [{"allow": false, "access": "rwm"},
      {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"},
      {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "w"}]})"),
                       o);
  CHECK(file(cg, "devices.list") == "c 1:3 r");
  Held h(
      "cat /dev/null && echo read-ok; (echo x > /dev/null) 2>/dev/null && echo write-ok || echo "
      "write-denied; (: < /dev/zero) 2>/dev/null && echo zero-ok || echo zero-denied");
  cg.add(h.child.pid());
  h.release();
  std::string out = ward_test::read_all(h.child.stdout_pipe().get());
  CHECK(h.child.wait().success());
  CHECK(out == "read-ok\nwrite-denied\nzero-denied\n");
  // With runc's defaults after the config's deny-all: /dev/null and
  // /dev/zero are rw again, /dev/kmsg (1:11) stays denied.
  oci::apply_resources(cg,
                       oci::parse_resources(R"({"devices": [{"allow": false, "access": "rwm"}]})"));
  Held h2(
      "(echo x > /dev/null) && echo null-ok; (: < /dev/zero) && echo zero-ok; "
      "(: < /dev/kmsg) 2>/dev/null && echo kmsg-open || echo kmsg-denied");
  cg.add(h2.child.pid());
  h2.release();
  out = ward_test::read_all(h2.child.stdout_pipe().get());
  CHECK(h2.child.wait().success());
  CHECK(out == "null-ok\nzero-ok\nkmsg-denied\n");
  cg.destroy();
}

TEST_CASE("oci_resources_v1: unified fails naming the key before anything is written") {
  NEED_V1("memory");
  auto cg = CgroupV1::create(name(), {"memory"});
  const std::string before = file(cg, "memory.limit_in_bytes");
  auto e =
      apply_error(cg, R"({"memory": {"limit": 33554432}, "unified": {"memory.max": "33554432"}})");
  INFO(e.what());
  CHECK(e.object() == "linux.resources.unified.memory.max");
  CHECK_THAT(e.detail(), Catch::Contains("cgroup v1"));
  CHECK(file(cg, "memory.limit_in_bytes") == before);
  cg.destroy();
}

TEST_CASE("oci_resources_v1: a controller the host or the cgroup lacks fails naming the field") {
  NEED_V1("memory", "pids");
  auto cg = CgroupV1::create(name(), {"memory"});
  const std::string before = file(cg, "memory.limit_in_bytes");
  // pids is mounted but not one of this cgroup's: refused before the memory
  // limit is written.
  auto e = apply_error(cg, R"({"memory": {"limit": 33554432}, "pids": {"limit": 5}})");
  INFO(e.what());
  CHECK_THAT(e.object(), Catch::StartsWith("linux.resources.pids.limit ("));
  CHECK_THAT(e.detail(), Catch::Contains("controller pids"));
  CHECK(file(cg, "memory.limit_in_bytes") == before);
  // network: net_cls is not mounted on this host (hybrid, no net_cls).
  if (cgroup_host().v1_hierarchy("net_cls") == nullptr) {
    e = apply_error(cg, R"({"network": {"classID": 1048577}})");
    INFO(e.what());
    CHECK(e.error_number() == EOPNOTSUPP);
    CHECK_THAT(e.object(), Catch::StartsWith("linux.resources.network.classID ("));
    CHECK_THAT(e.detail(),
               Catch::Contains("controller net_cls is not mounted as a v1 hierarchy on this host"));
    // A network object that asks for nothing needs no net_cls.
    CHECK_NOTHROW(oci::apply_resources(cg, oci::parse_resources(R"({"network": {}})")));
  }
  cg.destroy();
}
