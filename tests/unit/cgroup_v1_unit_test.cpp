// SPDX-License-Identifier: Apache-2.0
// cgroup v1 without the kernel: the hierarchies found in mountinfo text,
// path and controller checks that refuse before anything is made, and the
// parsing of v1 interface files.
#include <ward/cgroup_v1.hpp>

#include <catch2/catch.hpp>

using namespace ward;

namespace {

// A systemd-style v1 host: cpu and cpuacct co-mounted (and net_cls with
// net_prio), a named hierarchy, a cgroup2 mount beside them, and the memory
// hierarchy mounted a second time from a subdirectory (a bind mount).
constexpr const char* kCoMounted =
    "24 30 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n"
    "25 24 0:23 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
    "26 24 0:24 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd\n"
    "29 24 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n"
    "30 24 0:28 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio\n"
    "31 24 0:29 /box /mnt/mem rw - cgroup cgroup rw,memory\n"
    "32 24 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
    "33 24 0:30 / /sys/fs/cgroup/pids rw,nosuid shared:15 - cgroup cgroup rw,pids\n"
    "34 24 0:31 / /sys/fs/cgroup/with\\040space rw - cgroup cgroup rw,freezer\n";

}  // namespace

TEST_CASE("cgroup v1: mountinfo gives one entry per hierarchy, co-mounted controllers share it") {
  auto h = cgroup_parse::host_from_mountinfo(kCoMounted);
  CHECK(h.mode == CgroupMode::hybrid);
  REQUIRE(h.v1_hierarchies.size() == 5);  // cpu+cpuacct, net_cls+net_prio, memory, pids, freezer
  const auto* cpu = h.v1_hierarchy("cpu");
  const auto* cpuacct = h.v1_hierarchy("cpuacct");
  REQUIRE(cpu != nullptr);
  CHECK(cpu == cpuacct);
  CHECK(cpu->mount == "/sys/fs/cgroup/cpu,cpuacct");
  CHECK(cpu->controllers == std::vector<std::string>{"cpu", "cpuacct"});
  CHECK(h.v1_hierarchy("net_prio") == h.v1_hierarchy("net_cls"));
  // The mount of the hierarchy's root wins over the earlier bind of /box.
  REQUIRE(h.v1_hierarchy("memory") != nullptr);
  CHECK(h.v1_hierarchy("memory")->mount == "/sys/fs/cgroup/memory");
  CHECK(h.v1_hierarchy("memory")->root == "/");
  CHECK(h.v1_hierarchy("pids")->mount == "/sys/fs/cgroup/pids");
  CHECK(h.v1_hierarchy("freezer")->mount == "/sys/fs/cgroup/with space");
  // name=systemd has no controller; hugetlb is nowhere.
  CHECK(h.v1_hierarchy("systemd") == nullptr);
  CHECK(h.v1_hierarchy("hugetlb") == nullptr);
  CHECK(h.v1_hierarchy("name=systemd") == nullptr);
}

TEST_CASE("cgroup v1: this project's hybrid VM and a pure v2 host") {
  auto h = cgroup_parse::host_from_mountinfo(
      "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
      "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n");
  REQUIRE(h.v1_hierarchies.size() == 2);
  CHECK(h.v1_hierarchy("cpu") != h.v1_hierarchy("cpuacct"));
  CHECK(h.v1_hierarchy("cpuacct")->mount == "/sys/fs/cgroup/cpuacct");
  auto v2 = cgroup_parse::host_from_mountinfo(
      "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
  CHECK(v2.v1_hierarchies.empty());
}

TEST_CASE("cgroup v1: memory.oom_control") {
  auto o = cgroup_parse::oom_control("oom_kill_disable 0\nunder_oom 1\noom_kill 3\n");
  CHECK_FALSE(o.oom_kill_disable);
  CHECK(o.under_oom);
  CHECK(o.oom_kill == 3);
  auto old = cgroup_parse::oom_control("oom_kill_disable 1\nunder_oom 0\n");  // before 4.13
  CHECK(old.oom_kill_disable);
  CHECK(old.oom_kill == 0);
}

TEST_CASE("cgroup v1: bad paths and controllers are refused before anything is made") {
  auto msg = [](auto f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      CHECK(e.step() == Step::cgroup);
      return e.what();
    }
    return "no error";
  };
  const std::vector<std::string> mem{"memory"};
  for (std::string bad : {"../x", "a/../b", "a/..", "/abs", "a//b", "a/", "", "./a"}) {
    INFO(bad);
    auto m = msg([&] { CgroupV1::create(bad, mem); });
    CHECK(m.find("'" + bad + "'") != std::string::npos);
    CHECK(m.find("EINVAL") != std::string::npos);
  }
  auto m = msg([] { CgroupV1::create("ward/x", {"bogus"}); });
  CHECK(m.find("'bogus' is not a cgroup v1 controller name") != std::string::npos);
  m = msg([] { CgroupV1::create("ward/x", {}); });
  CHECK(m.find("no controller") != std::string::npos);
}

TEST_CASE("cgroup v1: device rule lines") {
  CHECK(CgroupV1::rule_line({false, 'a', -1, -1, "rwm"}) == "a");
  CHECK(CgroupV1::rule_line({true, 'c', 1, 3, "rwm"}) == "c 1:3 rwm");
  CHECK(CgroupV1::rule_line({true, 'c', 136, -1, ""}) == "c 136:* rwm");
  CHECK(CgroupV1::rule_line({true, 'b', -1, -1, "m"}) == "b *:* m");
}
