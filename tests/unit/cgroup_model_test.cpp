// SPDX-License-Identifier: Apache-2.0
// cgroup v2 without the kernel: parsing of /proc/self/cgroup, mountinfo and
// interface files, and device-program decisions through a test interpreter.
#include <random>
#include <set>

#include <ward/cgroup.hpp>

#include <catch2/catch.hpp>

#include "devbpf_interp.hpp"

using namespace ward;
using ward_test::dev_allowed;
using ward_test::DevAccess;

namespace {

// This VM's mountinfo (hybrid: v1 controllers plus cgroup2 at .../unified).
constexpr const char* kHybridMountinfo =
    "22 28 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
    "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

// A systemd "unified" host, with optional fields before the separator.
constexpr const char* kPureV2Mountinfo =
    "25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "35 25 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";

}  // namespace

TEST_CASE("mountinfo: hybrid, pure v2, v1 only, none") {
  auto h = cgroup_parse::host_from_mountinfo(kHybridMountinfo);
  CHECK(h.mode == CgroupMode::hybrid);
  CHECK(h.unified_mount == "/sys/fs/cgroup/unified");
  CHECK(h.unified_root == "/");
  CHECK(h.bound_to_v1("memory"));
  CHECK(h.bound_to_v1("pids"));
  CHECK(h.bound_to_v1("io"));  // v1 blkio
  CHECK_FALSE(h.bound_to_v1("hugetlb"));
  CHECK_FALSE(h.bound_to_v1("systemd"));  // name=systemd is not a controller

  auto v2 = cgroup_parse::host_from_mountinfo(kPureV2Mountinfo);
  CHECK(v2.mode == CgroupMode::pure_v2);
  CHECK(v2.unified_mount == "/sys/fs/cgroup");
  CHECK(v2.v1_controllers.empty());

  std::string legacy = kHybridMountinfo;
  legacy.resize(legacy.find("41 31"));
  CHECK(cgroup_parse::host_from_mountinfo(legacy).mode == CgroupMode::v1_only);
  CHECK(cgroup_parse::host_from_mountinfo("").mode == CgroupMode::none);

  // Inside a container: a cgroup2 mount of a subtree, a mount point with an
  // escaped space.
  auto c = cgroup_parse::host_from_mountinfo(
      "100 90 0:38 /ctr/abc /my\\040cg rw - cgroup2 cgroup2 rw\n");
  CHECK(c.mode == CgroupMode::pure_v2);
  CHECK(c.unified_mount == "/my cg");
  CHECK(c.unified_root == "/ctr/abc");
}

TEST_CASE("mountinfo: mounts a later mount hides are left out") {
  // cgroup2 mounted over /sys/fs/cgroup in a mount namespace: mountinfo
  // still lists the hybrid mounts below it, which are out of reach.
  std::string text = std::string(kHybridMountinfo) +
                     "50 31 0:38 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n";
  CHECK(cgroup_parse::host_from_mountinfo(text).mode == CgroupMode::hybrid);
  auto only_top = [](const std::string& mnt, bool v2) { return v2 && mnt == "/sys/fs/cgroup"; };
  auto h = cgroup_parse::host_from_mountinfo(text, only_top);
  CHECK(h.mode == CgroupMode::pure_v2);
  CHECK(h.unified_mount == "/sys/fs/cgroup");
  CHECK(h.v1_hierarchies.empty());
  CHECK(h.v1_controllers.empty());
  CHECK_FALSE(h.bound_to_v1("memory"));
}

TEST_CASE("/proc/self/cgroup: the 0:: line") {
  CHECK(cgroup_parse::unified_path("9:name=systemd:/\n4:memory:/x/y\n0::/\n") == "/");
  CHECK(cgroup_parse::unified_path("0::/user.slice/user-0.slice/session-1.scope\n") ==
        "/user.slice/user-0.slice/session-1.scope");
  CHECK(cgroup_parse::unified_path("4:memory:/x\n") == std::nullopt);
  // A cgroup namespace root.
  CHECK(cgroup_parse::unified_path("0::/\n") == "/");
}

TEST_CASE("/proc/self/cgroup: the line of one hierarchy") {
  // A hybrid host's file, as cgroups(7) shows it.
  const std::string_view hybrid =
      "12:cpuset:/set\n"
      "11:cpu,cpuacct:/both\n"
      "10:net_cls,net_prio:/net\n"
      "9:name=systemd:/system.slice/ward.service\n"
      "4:memory:/x/y\n"
      "0::/unified\n";
  // Co-mounted controllers: either name finds the line.
  CHECK(cgroup_parse::hierarchy_path(hybrid, "cpu") == "/both");
  CHECK(cgroup_parse::hierarchy_path(hybrid, "cpuacct") == "/both");
  CHECK(cgroup_parse::hierarchy_path(hybrid, "net_prio") == "/net");
  // A prefix of another controller's name is not that controller, either way.
  CHECK(cgroup_parse::hierarchy_path(hybrid, "cpuset") == "/set");
  CHECK(cgroup_parse::hierarchy_path("12:cpuset:/set\n", "cpu") == std::nullopt);
  CHECK(cgroup_parse::hierarchy_path("11:cpu,cpuacct:/both\n", "cpuacc") == std::nullopt);
  CHECK(cgroup_parse::hierarchy_path("11:cpu,cpuacct:/both\n", "cpu,cpuacct") == std::nullopt);
  // Named hierarchies by their whole entry.
  CHECK(cgroup_parse::hierarchy_path(hybrid, "name=systemd") == "/system.slice/ward.service");
  CHECK(cgroup_parse::hierarchy_path(hybrid, "systemd") == std::nullopt);
  // "" is the unified line only, not any line with an empty field elsewhere.
  CHECK(cgroup_parse::hierarchy_path(hybrid, "") == "/unified");
  CHECK(cgroup_parse::hierarchy_path("3::/not-unified\n", "") == std::nullopt);
  CHECK(cgroup_parse::hierarchy_path("0::/\n", "memory") == std::nullopt);
  // The path is everything after the second ':'.
  CHECK(cgroup_parse::hierarchy_path("4:memory:/a:b/c::d\n0::/u:v\n", "memory") == "/a:b/c::d");
  CHECK(cgroup_parse::hierarchy_path("4:memory:/a:b/c::d\n0::/u:v\n", "") == "/u:v");
  CHECK(cgroup_parse::hierarchy_path("0::/gone (deleted)\n", "") == "/gone (deleted)");
  // A missing controller, an empty text, a line without its fields, no
  // final newline.
  CHECK(cgroup_parse::hierarchy_path(hybrid, "pids") == std::nullopt);
  CHECK(cgroup_parse::hierarchy_path("", "") == std::nullopt);
  CHECK(cgroup_parse::hierarchy_path("", "memory") == std::nullopt);
  CHECK(cgroup_parse::hierarchy_path("\n\n", "") == std::nullopt);
  CHECK(cgroup_parse::hierarchy_path("memory\n4:memory\n", "memory") == std::nullopt);
  CHECK(cgroup_parse::hierarchy_path("5:pids:/p", "pids") == "/p");
  // unified_path is the "" case.
  CHECK(cgroup_parse::unified_path(hybrid) == "/unified");
  CHECK(cgroup_parse::unified_path("3::/not-unified\n") == std::nullopt);
}

TEST_CASE("interface files: cgroup.events, memory.events, cpu.stat, single values") {
  auto e = cgroup_parse::events("populated 1\nfrozen 0\n",
                                "low 0\nhigh 12\nmax 3\noom 2\noom_kill 1\noom_group_kill 0\n");
  CHECK(e.populated);
  CHECK_FALSE(e.frozen);
  REQUIRE(e.memory);
  CHECK(e.memory->high == 12);
  CHECK(e.memory->max == 3);
  CHECK(e.memory->oom == 2);
  CHECK(e.memory->oom_kill == 1);
  CHECK(e.memory->oom_group_kill == 0u);

  auto f = cgroup_parse::events("populated 0\nfrozen 1\n", "");
  CHECK_FALSE(f.populated);
  CHECK(f.frozen);
  CHECK_FALSE(f.memory);
  // Older kernels: no oom_group_kill line.
  CHECK_FALSE(cgroup_parse::events("populated 0\n", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n")
                  .memory->oom_group_kill);

  auto c = cgroup_parse::cpu_stat(
      "usage_usec 12345\nuser_usec 10000\nsystem_usec 2345\nnr_periods 0\nnr_throttled 0\n"
      "throttled_usec 0\n");
  REQUIRE(c);
  CHECK(c->usage_usec == 12345);
  CHECK(c->user_usec == 10000);
  CHECK(c->system_usec == 2345);
  CHECK_FALSE(cgroup_parse::cpu_stat(""));
  // "user_usec" must not match inside "usage_usec"-like prefixes.
  CHECK(cgroup_parse::flat_value("usage_usec_x 1\nusage_usec 2\n", "usage_usec") == 2u);

  CHECK(cgroup_parse::single_value("4096\n") == 4096u);
  CHECK(cgroup_parse::single_value("max\n") == cgroup_unlimited);
  CHECK(cgroup_parse::single_value("12abc") == std::nullopt);
  CHECK(cgroup_parse::words("cpuset cpu io memory hugetlb pids\n") ==
        std::vector<std::string>{"cpuset", "cpu", "io", "memory", "hugetlb", "pids"});
  CHECK(cgroup_parse::words("\n").empty());
}

namespace {

// The reference semantics: last matching rule wins, default deny.
bool reference(std::span<const DeviceRule> rules, const DevAccess& a) {
  bool verdict = false;
  for (const auto& r : rules) {
    std::string acc = r.access.empty() ? "rwm" : r.access;
    bool type_ok = r.type == 'a' || r.type == a.type;
    bool major_ok = r.major < 0 || static_cast<std::uint32_t>(r.major) == a.major;
    bool minor_ok = r.minor < 0 || static_cast<std::uint32_t>(r.minor) == a.minor;
    // allow: every asked-for bit granted; deny: any asked-for bit denied.
    bool all = true, any = false;
    for (char ch : a.access) {
      bool in = acc.find(ch) != std::string::npos;
      all = all && in;
      any = any || in;
    }
    bool acc_ok = r.allow ? all : any;
    if (type_ok && major_ok && minor_ok && acc_ok) verdict = r.allow;
  }
  return verdict;
}

// What the verifier checks structurally: in-range forward jumps, every
// instruction reachable, the last one an exit.
void check_structure(const std::vector<bpf_insn>& p) {
  REQUIRE_FALSE(p.empty());
  CHECK(p.back().code == (BPF_JMP | BPF_EXIT));
  std::vector<bool> reach(p.size(), false);
  reach[0] = true;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (!reach[i]) continue;
    auto code = p[i].code;
    if (code == (BPF_JMP | BPF_EXIT)) continue;
    if ((code & 0x07) == BPF_JMP) {
      REQUIRE(p[i].off >= 0);
      REQUIRE(i + 1 + static_cast<std::size_t>(p[i].off) < p.size());
      reach[i + 1 + static_cast<std::size_t>(p[i].off)] = true;
    }
    REQUIRE(i + 1 < p.size());
    reach[i + 1] = true;
  }
  for (std::size_t i = 0; i < p.size(); ++i) {
    INFO("instruction " << i);
    CHECK(reach[i]);
  }
}

}  // namespace

TEST_CASE("device program: runc's default list") {
  // OCI as runc writes it: deny everything first, then the defaults.
  std::vector<DeviceRule> rules = {{false, 'a', -1, -1, "rwm"}};
  for (auto& r : default_device_rules()) rules.push_back(r);
  auto p = detail::device_filter_program(rules);
  check_structure(p);

  for (auto [maj, min] : {std::pair{1u, 3u},
                          {1u, 5u},
                          {1u, 7u},
                          {5u, 0u},
                          {1u, 8u},
                          {1u, 9u},
                          {5u, 2u},
                          {10u, 200u},
                          {136u, 0u},
                          {136u, 17u}}) {
    INFO("c " << maj << ":" << min);
    for (const char* acc : {"r", "w", "m", "rw", "rwm"})
      CHECK(dev_allowed(p, {'c', maj, min, acc}));
    CHECK_FALSE(dev_allowed(p, {'b', maj, min, "r"}));  // same numbers, block: no
  }
  // Not in the list: /dev/console, /dev/mem, /dev/kmsg, fuse, loop0, sda.
  CHECK_FALSE(dev_allowed(p, {'c', 5, 1, "rw"}));
  CHECK_FALSE(dev_allowed(p, {'c', 1, 1, "r"}));
  CHECK_FALSE(dev_allowed(p, {'c', 1, 11, "w"}));
  CHECK_FALSE(dev_allowed(p, {'c', 10, 229, "rw"}));
  CHECK_FALSE(dev_allowed(p, {'b', 7, 0, "r"}));
  CHECK_FALSE(dev_allowed(p, {'b', 8, 0, "rw"}));
  // ... but mknod of any node is allowed (runc's "c *:* m", "b *:* m").
  CHECK(dev_allowed(p, {'b', 8, 0, "m"}));
  CHECK(dev_allowed(p, {'c', 1, 1, "m"}));
  CHECK_FALSE(dev_allowed(p, {'b', 8, 0, "rm"}));
}

TEST_CASE("device program: wildcard type, last rule wins, default deny") {
  // Nothing at all: everything denied.
  auto none = detail::device_filter_program(std::span<const DeviceRule>());
  check_structure(none);
  CHECK(none.size() == 8);  // 6-insn prologue + deny
  CHECK_FALSE(dev_allowed(none, {'c', 1, 3, "r"}));

  // Allow all, then deny one: the later deny wins for that device only.
  std::vector<DeviceRule> r1 = {{true, 'a', -1, -1, "rwm"}, {false, 'c', 1, 3, "w"}};
  auto p1 = detail::device_filter_program(r1);
  check_structure(p1);
  CHECK(dev_allowed(p1, {'c', 1, 3, "r"}));
  CHECK_FALSE(dev_allowed(p1, {'c', 1, 3, "w"}));
  CHECK_FALSE(dev_allowed(p1, {'c', 1, 3, "rw"}));  // asks for w too: the deny matches
  CHECK(dev_allowed(p1, {'c', 1, 3, "rm"}));
  CHECK(dev_allowed(p1, {'b', 7, 0, "rw"}));

  // Deny one, then allow all: the allow-all is last, so it wins everywhere,
  // and it ends the program (no unreachable instructions after it).
  std::vector<DeviceRule> r2 = {{false, 'c', 1, 3, "rwm"}, {true, 'a', -1, -1, ""}};
  auto p2 = detail::device_filter_program(r2);
  check_structure(p2);
  CHECK(p2.size() == 8);
  CHECK(dev_allowed(p2, {'c', 1, 3, "rw"}));

  // 'a' with a number: both block and char 7:0.
  std::vector<DeviceRule> r3 = {{true, 'a', 7, 0, "r"}};
  auto p3 = detail::device_filter_program(r3);
  check_structure(p3);
  CHECK(dev_allowed(p3, {'b', 7, 0, "r"}));
  CHECK(dev_allowed(p3, {'c', 7, 0, "r"}));
  CHECK_FALSE(dev_allowed(p3, {'c', 7, 0, "rw"}));
  CHECK_FALSE(dev_allowed(p3, {'c', 7, 1, "r"}));

  // Wildcard minor, wildcard major.
  std::vector<DeviceRule> r4 = {{true, 'b', -1, 0, "rw"}, {true, 'c', 4, -1, "r"}};
  auto p4 = detail::device_filter_program(r4);
  check_structure(p4);
  CHECK(dev_allowed(p4, {'b', 8, 0, "rw"}));
  CHECK_FALSE(dev_allowed(p4, {'b', 8, 1, "r"}));
  CHECK(dev_allowed(p4, {'c', 4, 63, "r"}));
  CHECK_FALSE(dev_allowed(p4, {'c', 4, 63, "w"}));
}

TEST_CASE("device program: bad rules are refused with the field named") {
  auto bad = [](DeviceRule r) {
    std::vector<DeviceRule> v = {{true, 'c', 1, 3, "r"}, r};
    try {
      detail::device_filter_program(v);
    } catch (const Error& e) {
      CHECK(e.step() == Step::validate);
      return e.object();
    }
    return std::string("no error");
  };
  CHECK(bad({true, 'x', 1, 3, "r"}) == "devices[1].type");
  CHECK(bad({true, 'c', 4096, 3, "r"}) == "devices[1].major");
  CHECK(bad({true, 'c', 1, -2, "r"}) == "devices[1].minor");
  CHECK(bad({true, 'c', 1, 3, "rx"}) == "devices[1].access");
}

TEST_CASE("device program: matches the reference on random rule lists") {
  std::mt19937 rng(12345);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const char* accs[] = {"r", "w", "m", "rw", "rm", "wm", "rwm", ""};
  for (int iter = 0; iter < 300; ++iter) {
    std::vector<DeviceRule> rules;
    int n = pick(8);
    for (int i = 0; i < n; ++i) {
      DeviceRule r;
      r.allow = pick(2) == 1;
      r.type = "abc"[pick(3)];
      r.major = pick(3) == 0 ? -1 : pick(3);
      r.minor = pick(3) == 0 ? -1 : pick(3);
      r.access = accs[pick(8)];
      rules.push_back(r);
    }
    auto p = detail::device_filter_program(rules);
    check_structure(p);
    for (char t : {'b', 'c'})
      for (std::uint32_t maj = 0; maj < 3; ++maj)
        for (std::uint32_t min = 0; min < 3; ++min)
          for (const char* acc : {"r", "w", "m", "rw", "rwm"}) {
            DevAccess a{t, maj, min, acc};
            INFO("iteration " << iter << " " << t << " " << maj << ":" << min << " " << acc);
            REQUIRE(dev_allowed(p, a) == reference(rules, a));
          }
  }
}
