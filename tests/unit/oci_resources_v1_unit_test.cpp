// SPDX-License-Identifier: Apache-2.0
// linux.resources on cgroup v1 without the kernel: the writes
// plan_resources_v1() lists for a Resources object, in runc's fs driver's
// order, on a made-up cgroup whose optional files and current memory limit
// the test chooses (tests/root/oci_resources_v1_test.cpp applies them to
// this host's real v1 hierarchies).
#include <set>
#include <string>
#include <vector>

#include <ward/oci/config.hpp>
#include <ward/oci/resources.hpp>

#include <catch2/catch.hpp>

using namespace ward;

namespace {

// A cgroup v1 with every file of a v1 hierarchy this host has, less the
// ones a test removes; `limit` is memory.limit_in_bytes.
struct Fake {
  std::set<std::string> files = {"memory.memsw.limit_in_bytes",
                                 "memory.kmem.limit_in_bytes",
                                 "memory.kmem.tcp.limit_in_bytes",
                                 "cpu.cfs_burst_us",
                                 "cpu.idle",
                                 "blkio.bfq.weight",
                                 "blkio.bfq.weight_device"};
  std::uint64_t limit = 9223372036854771712ull;  // a new cgroup's "no limit"
  int limit_reads = 0;
  oci::V1Files view() {
    oci::V1Files f;
    f.exists = [this](const std::string& n) { return files.count(n) != 0; };
    f.memory_limit = [this] {
      ++limit_reads;
      return limit;
    };
    return f;
  }
};

// "file=value" per write, in order.
std::vector<std::string> writes(const std::vector<oci::V1Write>& plan) {
  std::vector<std::string> out;
  for (const auto& w : plan) out.push_back(w.file + "=" + w.value);
  return out;
}

std::vector<std::string> plan(const char* json, Fake& fake, const oci::ResourcesOptions& o = {}) {
  return writes(oci::plan_resources_v1(oci::parse_resources(json), fake.view(), o));
}

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("oci_resources_v1: memory and memsw in runc's order: memsw first when raising") {
  Fake fake;
  const char* both = R"({"memory": {"limit": 67108864, "swap": 134217728}})";
  // A new cgroup (no limit yet): the limit comes down first, then memsw.
  CHECK(plan(both, fake) ==
        V{"memory.limit_in_bytes=67108864", "memory.memsw.limit_in_bytes=134217728"});
  CHECK(fake.limit_reads == 1);
  // Raising from 32 MiB: memsw must grow before the limit may.
  fake.limit = 32u << 20;
  CHECK(plan(both, fake) ==
        V{"memory.memsw.limit_in_bytes=134217728", "memory.limit_in_bytes=67108864"});
  // Lowering from 256 MiB (memsw 512 MiB): the limit first.
  fake.limit = 256u << 20;
  CHECK(plan(both, fake) ==
        V{"memory.limit_in_bytes=67108864", "memory.memsw.limit_in_bytes=134217728"});
  // Lifting both: memsw first, without reading the current limit.
  fake.limit_reads = 0;
  CHECK(plan(R"({"memory": {"limit": -1, "swap": -1}})", fake) ==
        V{"memory.memsw.limit_in_bytes=-1", "memory.limit_in_bytes=-1"});
  // -1 without a swap value lifts memsw too (runc's setMemoryAndSwap).
  CHECK(plan(R"({"memory": {"limit": -1}})", fake) ==
        V{"memory.memsw.limit_in_bytes=-1", "memory.limit_in_bytes=-1"});
  CHECK(fake.limit_reads == 0);
  // Only one of the two: no read, one write.
  CHECK(plan(R"({"memory": {"limit": 1048576}})", fake) == V{"memory.limit_in_bytes=1048576"});
  CHECK(plan(R"({"memory": {"swap": 1048576}})", fake) == V{"memory.memsw.limit_in_bytes=1048576"});
  CHECK(fake.limit_reads == 0);
  // memory+swap below memory: refused before any write, naming the field.
  try {
    plan(R"({"memory": {"limit": 2097152, "swap": 1048576}})", fake);
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK(e.step() == Step::validate);
    CHECK(e.object() == "linux.resources.memory.swap");
  }
}

TEST_CASE("oci_resources_v1: without swap accounting only an asked-for swap limit is planned") {
  Fake fake;
  fake.files.erase("memory.memsw.limit_in_bytes");
  // -1 and "no swap value" need nothing: memsw is not written.
  CHECK(plan(R"({"memory": {"limit": -1}})", fake) == V{"memory.limit_in_bytes=-1"});
  CHECK(plan(R"({"memory": {"limit": 1048576, "swap": -1}})", fake) ==
        V{"memory.limit_in_bytes=1048576"});
  // A real swap limit stays in the plan: apply_resources refuses it before
  // the first write (EOPNOTSUPP, "swap accounting is off").
  CHECK(plan(R"({"memory": {"limit": 1048576, "swap": 2097152}})", fake) ==
        V{"memory.limit_in_bytes=1048576", "memory.memsw.limit_in_bytes=2097152"});
}

TEST_CASE("oci_resources_v1: the other memory values and the kmem files") {
  Fake fake;
  std::vector<std::string> w;
  oci::ResourcesOptions o;
  o.warnings = &w;
  const char* json = R"({"memory": {"kernel": 4194304, "kernelTCP": 1048576,
      "reservation": 16777216, "disableOOMKiller": true, "swappiness": 10}})";
  auto p = oci::plan_resources_v1(oci::parse_resources(json), fake.view(), o);
  CHECK(writes(p) ==
        V{"memory.kmem.limit_in_bytes=4194304", "memory.kmem.tcp.limit_in_bytes=1048576",
          "memory.soft_limit_in_bytes=16777216", "memory.oom_control=1", "memory.swappiness=10"});
  CHECK(p[0].may_be_unsupported);
  CHECK(p[0].field == "linux.resources.memory.kernel");
  CHECK(p[1].field == "linux.resources.memory.kernelTCP");
  CHECK(w.empty());
  // A kernel without the kmem files: a warning, as runc ignores them; an
  // error when strict.
  fake.files.erase("memory.kmem.limit_in_bytes");
  CHECK(writes(oci::plan_resources_v1(oci::parse_resources(R"({"memory": {"kernel": 1}})"),
                                      fake.view(), o))
            .empty());
  REQUIRE(w.size() == 1);
  CHECK_THAT(w[0], Catch::StartsWith("linux.resources.memory.kernel: ignored: this kernel has no "
                                     "memory.kmem.limit_in_bytes"));
  o.strict = true;
  try {
    oci::plan_resources_v1(oci::parse_resources(R"({"memory": {"kernel": 1}})"), fake.view(), o);
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK(e.object() == "linux.resources.memory.kernel");
    CHECK(e.error_number() == EOPNOTSUPP);
  }
}

TEST_CASE("oci_resources_v1: cpu period and burst before the quota and retried after it") {
  Fake fake;
  const char* json = R"({"cpu": {"shares": 512, "quota": 50000, "period": 200000, "burst": 1000,
      "idle": 1, "realtimeRuntime": 5000, "realtimePeriod": 1000000,
      "cpus": "0", "mems": "0"}})";
  auto p = oci::plan_resources_v1(oci::parse_resources(json), fake.view());
  CHECK(writes(p) == V{"cpuset.cpus=0", "cpuset.mems=0", "cpu.shares=512",
                       "cpu.cfs_period_us=200000", "cpu.cfs_burst_us=1000",
                       "cpu.cfs_quota_us=50000", "cpu.idle=1", "cpu.rt_period_us=1000000",
                       "cpu.rt_runtime_us=5000"});
  CHECK(p[2].read_back);                              // shares: the kernel clamps silently
  CHECK(p[3].retry_later);                            // period, with a quota
  CHECK(p[4].retry_later);                            // burst, with a quota
  CHECK_FALSE(p[5].retry_later);                      // the quota
  CHECK(p[7].retry_later);                            // rt period, with a runtime
  CHECK(p[3].field == "linux.resources.cpu.period");  // field names
  CHECK(p[8].field == "linux.resources.cpu.realtimeRuntime");
  // A period alone is final; 0 is "unset" as in runc; -1 lifts the quota.
  p = oci::plan_resources_v1(oci::parse_resources(R"({"cpu": {"period": 100000, "shares": 0}})"),
                             fake.view());
  CHECK(writes(p) == V{"cpu.cfs_period_us=100000"});
  CHECK_FALSE(p[0].retry_later);
  CHECK(plan(R"({"cpu": {"quota": -1}})", fake) == V{"cpu.cfs_quota_us=-1"});
  // burst and idle where the kernel has no file: warnings.
  fake.files.erase("cpu.cfs_burst_us");
  fake.files.erase("cpu.idle");
  std::vector<std::string> w;
  oci::ResourcesOptions o;
  o.warnings = &w;
  CHECK(plan(R"({"cpu": {"burst": 1, "idle": 1}})", fake, o).empty());
  CHECK(w.size() == 2);
}

TEST_CASE("oci_resources_v1: pids.limit as the v2 path writes it") {
  Fake fake;
  CHECK(plan(R"({"pids": {"limit": 8}})", fake) == V{"pids.max=8"});
  CHECK(plan(R"({"pids": {"limit": 0}})", fake) == V{"pids.max=0"});  // runtime-spec 1.3
  CHECK(plan(R"({"pids": {"limit": -1}})", fake) == V{"pids.max=max"});
  CHECK(plan(R"({"pids": {}})", fake).empty());
}

TEST_CASE("oci_resources_v1: device rules deny all first then go in order with the defaults last") {
  Fake fake;
  oci::ResourcesOptions o;
  o.default_devices = false;
  // The config's own deny-all is the first write (not doubled).
  auto p =
      oci::plan_resources_v1(oci::parse_resources(R"({"devices": [{"allow": false, "access": "rwm"},
          {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "r"},
          {"allow": true, "type": "c", "major": 136, "access": "rw"},
          {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "w"}]})"),
                             fake.view(), o);
  CHECK(writes(p) == V{"devices.deny=a", "devices.allow=c 1:3 r", "devices.allow=c 136:* rw",
                       "devices.deny=c 1:3 w"});
  CHECK(p[1].field == "linux.resources.devices[1]");
  // Rules that do not start with a deny-all still get one: no rule, no
  // access, as the v2 program and runc's emulator decide.
  CHECK(plan(R"({"devices": [{"allow": true, "type": "b", "major": 8, "minor": 0}]})", fake, o) ==
        V{"devices.deny=a", "devices.allow=b 8:0 rwm"});
  // runc's defaults after the config's rules.
  p = oci::plan_resources_v1(
      oci::parse_resources(R"({"devices": [{"allow": false, "access": "rwm"}]})"), fake.view());
  REQUIRE(p.size() == 1 + default_device_rules().size());
  CHECK(writes(p)[1] == "devices.allow=c *:* m");
  CHECK(writes(p)[3] == "devices.allow=c 1:3 rwm");
  // No rules: nothing, unless always_device_program.
  CHECK(plan(R"({"devices": []})", fake, o).empty());
  o.always_device_program = true;
  CHECK(plan(R"({})", fake, o) == V{"devices.deny=a"});
}

TEST_CASE("oci_resources_v1: blkio with CFQ or BFQ names and throttle lines") {
  Fake fake;
  const char* json = R"({"blockIO": {"weight": 500,
      "weightDevice": [{"major": 8, "minor": 0, "weight": 300}],
      "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
      "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 0}],
      "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}],
      "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 200}]}})";
  const V tail = {
      "blkio.throttle.read_bps_device=8:0 1048576", "blkio.throttle.write_bps_device=8:0 0",
      "blkio.throttle.read_iops_device=8:0 100", "blkio.throttle.write_iops_device=8:16 200"};
  V bfq = {"blkio.bfq.weight=500", "blkio.bfq.weight_device=8:0 300"};
  bfq.insert(bfq.end(), tail.begin(), tail.end());
  CHECK(plan(json, fake) == bfq);
  fake.files.insert("blkio.weight");  // CFQ's file wins where it exists (runc)
  V cfq = {"blkio.weight=500", "blkio.weight_device=8:0 300"};
  cfq.insert(cfq.end(), tail.begin(), tail.end());
  CHECK(plan(json, fake) == cfq);
  // leafWeight where CFQ had it; else a warning (error when strict).
  std::vector<std::string> w;
  oci::ResourcesOptions o;
  o.warnings = &w;
  CHECK(plan(R"({"blockIO": {"leafWeight": 10}})", fake, o).empty());
  CHECK(w.size() == 1);
  fake.files.insert("blkio.leaf_weight");
  CHECK(plan(R"({"blockIO": {"leafWeight": 10}})", fake, o) == V{"blkio.leaf_weight=10"});
}

TEST_CASE("oci_resources_v1: hugetlb network rdma and what asks for nothing") {
  Fake fake;
  CHECK(plan(R"({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]})", fake) ==
        V{"hugetlb.2MB.limit_in_bytes=4194304"});
  fake.files.insert("hugetlb.2MB.rsvd.limit_in_bytes");
  CHECK(plan(R"({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]})", fake) ==
        V{"hugetlb.2MB.limit_in_bytes=4194304", "hugetlb.2MB.rsvd.limit_in_bytes=4194304"});
  auto p = oci::plan_resources_v1(oci::parse_resources(R"({"network": {"classID": 1048577,
          "priorities": [{"name": "eth0", "priority": 5}, {"name": "lo", "priority": 2}]}})"),
                                  fake.view());
  CHECK(writes(p) ==
        V{"net_cls.classid=1048577", "net_prio.ifpriomap=eth0 5", "net_prio.ifpriomap=lo 2"});
  CHECK(p[0].field == "linux.resources.network.classID");
  CHECK(p[2].field == "linux.resources.network.priorities[1]");
  CHECK(plan(R"({"rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}}})", fake) ==
        V{"rdma.max=mlx5_1 hca_handle=3 hca_object=10000"});
  // Values that ask for nothing plan nothing (so need no controller).
  CHECK(plan(R"({"network": {}, "pids": {}, "memory": {}, "cpu": {"shares": 0}})", fake).empty());
  CHECK(plan(R"({"network": {"classID": 0}})", fake).empty());
}

TEST_CASE("oci_resources_v1: unified names the key and a name with a blank is refused") {
  Fake fake;
  try {
    plan(R"({"memory": {"limit": 1048576}, "unified": {"memory.high": "1M"}})", fake);
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK(e.object() == "linux.resources.unified.memory.high");
    CHECK(e.error_number() == EOPNOTSUPP);
    CHECK_THAT(e.detail(), Catch::Contains("cgroup v1"));
  }
  CHECK(plan(R"({"unified": {}})", fake).empty());
  // A priority's name is one word of a "NAME PRIO" line.
  try {
    plan(R"({"network": {"priorities": [{"name": "eth0 7\nlo", "priority": 5}]}})", fake);
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK(e.object() == "linux.resources.network.priorities[0].name");
  }
}
