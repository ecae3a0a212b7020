// SPDX-License-Identifier: Apache-2.0
// linux.resources onto a cgroup (part of the OCI component, ward/oci.hpp):
// apply_resources() for a CgroupV2 (runc's fs2 driver, with runc's v1 -> v2
// conversions) and for a CgroupV1 (runc's fs driver; issue #14), and the
// options both share.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ward/cgroup.hpp>
#include <ward/cgroup_v1.hpp>
#include <ward/error.hpp>
#include <ward/oci/config.hpp>
#include <ward/oci/detail/mapping.hpp>

namespace ward::oci {

// ===========================================================================
// Options
// ===========================================================================

// How apply_resources() maps a `linux.resources` object.
struct ResourcesOptions {
  // The object's JSON path, for errors.
  std::string field = "linux.resources";
  // Write "+controller" into the ancestors' cgroup.subtree_control for each
  // controller a value needs (CgroupV2::enable_controllers); a refusal, or
  // a threaded controller that would leave the cgroup "domain invalid", is
  // an error naming the field. (runc enables every controller the root
  // offers when it creates the cgroup, refusals skipped: on a cgroup-v2-only
  // host the runtime does that first, CgroupV2::enable_available_controllers,
  // and this then finds them on, or says why one is missing.) Off: a missing
  // controller is an error naming the field and the file. (cgroup v2 only:
  // a v1 hierarchy has all its controllers in every cgroup.)
  bool enable_controllers = true;
  // Install the device program even when `devices` is empty. runc does so
  // at create time (its defaults then decide alone); an update (`ward
  // update`, whose document has no devices) must not, or it would replace
  // the container's rules. Off by default so that apply_resources() with
  // only memory/cpu/pids values is always a safe update. On cgroup v1: write
  // the device rules (devices.deny/allow) even when `devices` is empty.
  bool always_device_program = false;
  // Append runc's default allowed devices (default_device_rules():
  // /dev/null, zero, full, random, urandom, tty, ptmx, pts, tun, and mknod
  // of any node) after the config's rules, as runc's specconv does
  // (CreateCgroupConfig: "Append the default allowed devices to the end of
  // the list"); with last-match-wins they override earlier denials.
  bool default_devices = true;
  // Device program failures (on v1: a failed devices.allow/deny write, and
  // the device writes after it are skipped) are warnings (runc ignores them
  // for rootless containers: "errors from the device subsystem are ignored
  // because it is really not expected to work").
  bool rootless = false;
  // cgroup v1-only values (memory.kernel, kernelTCP, swappiness,
  // disableOOMKiller, cpu.realtime*, blockIO.leafWeight, network) are
  // warnings, as runc on cgroup v2 ignores them; strict makes them errors.
  // On cgroup v1 the same goes for values whose file this kernel lacks
  // (memory.kernel/kernelTCP, cpu.burst, cpu.idle, leafWeight) or refuses
  // as unsupported (the kmem limits).
  bool strict = false;
  std::vector<std::string>* warnings = nullptr;
};

// ===========================================================================
// Conversions (runc's, libcontainer/cgroups/utils.go)
// ===========================================================================

// cpu.shares (cgroup v1, 2..262144, default 1024) to cpu.weight (v2,
// 1..10000, default 100) as runc >= 1.3 and crun >= 1.23 convert it
// (opencontainers/cgroups ConvertCPUSharesToCgroupV2Value): a quadratic in
// log2(shares) through the three points min -> min, default -> default,
// max -> max, weight = ceil(10^((l^2 + 125 l) / 612 - 7/34)), l =
// log2(shares); 1024 gives 100. The linear map it replaced
// (1 + (shares - 2) * 9999 / 262142) gave 39 for the default, so a
// container asking for the v1 default got 2.5 times less CPU than its
// neighbours. 0 means unset and stays 0; <= 2 gives 1, >= 262144 10000.
inline std::uint64_t cpu_shares_to_weight(std::uint64_t shares) noexcept {
  if (shares == 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  const double l = std::log2(static_cast<double>(shares));
  const double exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0;
  return static_cast<std::uint64_t>(std::ceil(std::pow(10.0, exponent)));
}

// blkio.weight (v1, 10..1000) to io.weight (v2, 1..10000):
// 1 + (weight - 10) * 9999 / 990 (ConvertBlkIOToIOWeightValue). 0 is unset;
// others are clamped to 10..1000 first.
constexpr std::uint64_t blkio_weight_to_io_weight(std::uint64_t weight) noexcept {
  if (weight == 0) return 0;
  weight = std::clamp<std::uint64_t>(weight, 10, 1000);
  return 1 + (weight - 10) * 9999 / 990;
}

// OCI memory.swap is memory+swap (v1's memory.memsw.limit_in_bytes); v2's
// memory.swap.max is swap alone: swap - limit (ConvertMemorySwapToCgroupV2Value).
// Values as in the config (0 or absent: unset; -1: unlimited). Returns the
// value for memory.swap.max: nullopt to leave it, -1 for "max". Throws
// ward::Error (validate) naming `field` (the swap's JSON path) when there
// is no sensible value: a swap limit without a memory limit, or below it.
inline std::optional<std::int64_t> memory_swap_to_v2(std::int64_t swap, std::int64_t limit,
                                                     const std::string& field = "memory.swap") {
  // "set swap to unlimited in case the memory is set to unlimited, and swap
  // is not explicitly set".
  if (limit == -1 && swap == 0) return -1;
  if (swap == 0) return std::nullopt;
  if (swap == -1) return -1;
  if (limit == 0 || limit == -1)
    ward::detail::throw_invalid(field,
                                "a swap limit needs a memory limit (runc: \"unable to set "
                                "swap limit without memory limit\")");
  if (limit < 0)
    ward::detail::throw_invalid(field, "invalid memory limit " + std::to_string(limit));
  if (swap < limit)
    ward::detail::throw_invalid(field, "memory+swap limit " + std::to_string(swap) +
                                           " is below the memory limit " + std::to_string(limit));
  // swap == limit: no swap at all ("0"), which runc writes explicitly.
  return swap - limit;
}

namespace detail::mapping {

// An OCI device rule as ward's (unset major/minor: -1, any).
inline ward::DeviceRule device_rule(const oci::DeviceRule& d) {
  ward::DeviceRule w;
  w.allow = d.allow;
  w.type = d.type;
  w.major = d.major.value_or(-1);
  w.minor = d.minor.value_or(-1);
  w.access = d.access;
  return w;
}

// A blockIO major or minor number: 0..2^32-1.
inline std::uint32_t device_number(std::int64_t v, const std::string& field) {
  if (v < 0 || v > std::numeric_limits<std::uint32_t>::max())
    ward::detail::throw_invalid(field, "device number " + std::to_string(v) + " is out of range");
  return static_cast<std::uint32_t>(v);
}

}  // namespace detail::mapping

// ===========================================================================
// linux.resources on cgroup v2
// ===========================================================================

// Applies `r` to `cg`, as runc's cgroup v2 manager (libcontainer/cgroups/
// fs2) does; `ward update` uses it too. Every failure is a ward::Error whose
// object names the OCI field and, for a write, the cgroup file
// ("linux.resources.memory.limit (/sys/fs/cgroup/c1/memory.max)").
//
//  - memory: limit -> memory.max, reservation -> memory.low, swap (memory
//    plus swap in OCI) -> memory.swap.max = swap - limit
//    (memory_swap_to_v2); -1 is "max" and 0 "unset", as in runc's
//    numToStr. memory.swap.max is left alone, without error, where the
//    kernel has no swap accounting and the value is "max" or 0 (runc).
//    checkBeforeUpdate: refuse a limit below memory.current. kernel,
//    kernelTCP, swappiness and disableOOMKiller have no cgroup v2 file:
//    warnings (errors when strict). useHierarchy is always on in v2.
//  - cpu: shares -> cpu.weight (cpu_shares_to_weight), quota/period ->
//    cpu.max (quota <= 0: "max"; period default 100000 us), burst ->
//    cpu.max.burst, idle -> cpu.idle, cpus/mems -> cpuset.cpus/mems;
//    realtimeRuntime/Period are v1 only.
//  - pids.limit -> pids.max (-1: "max"; 0 is a real limit, runtime-spec 1.3
//    "PIDs"; absent: pids.max is not written).
//  - blockIO: weight -> io.bfq.weight when BFQ offers it (1..1000 as is),
//    else io.weight (blkio_weight_to_io_weight), as runc; weightDevice ->
//    io.bfq.weight "MAJ:MIN W" where BFQ takes per-device weights, else
//    io.weight "MAJ:MIN W" (converted) where that file exists, else a
//    warning (runc ignores them then); throttle*Device -> io.max, where a
//    rate of 0 writes "max": v1's blkio.throttle files read 0 as "no limit"
//    and io.max refuses 0.
//  - hugepageLimits -> hugetlb.<size>.max, and hugetlb.<size>.rsvd.max
//    where the kernel has reservation accounting (as runc does since 1.2).
//  - rdma -> rdma.max "dev hca_handle=N hca_object=M".
//  - devices -> the cgroup's device eBPF program (CgroupV2::device_rules),
//    with runc's defaults appended; see ResourcesOptions for when.
//  - unified: raw writes, last, so they override the mapped values (runc
//    writes them last too).
inline void apply_resources(CgroupV2& cg, const Resources& r, const ResourcesOptions& o = {}) {
  using detail::mapping::at_field;
  using detail::mapping::warn;
  const std::string& F = o.field;
  auto v1_only = [&](const std::string& field, const std::string& what) {
    const std::string why =
        what + " is a cgroup v1 control with no cgroup v2 equivalent (runc ignores it on v2)";
    if (o.strict) detail::mapping::unsupported(field, why);
    warn(o.warnings, field + ": ignored: " + why);
  };
  auto num = [](std::int64_t v) { return v == -1 ? std::string("max") : std::to_string(v); };
  auto exists = [&](const char* file) { return ::faccessat(cg.dir_fd(), file, F_OK, 0) == 0; };

  // Which controllers the values need, with the field that needs each:
  // enabled first, so a missing one is reported once, naming that field.
  std::vector<std::pair<std::string, std::string>> need;
  auto needs = [&](const std::string& ctl, const std::string& field) {
    for (auto& [c, fl] : need)
      if (c == ctl) return;
    need.emplace_back(ctl, field);
  };

  // ---- check and convert everything before the first write
  std::optional<std::int64_t> mem_max, mem_low, swap_max;
  if (r.memory) {
    const Memory& m = *r.memory;
    const std::int64_t limit = m.limit.value_or(0), swap = m.swap.value_or(0);
    if (limit != 0) mem_max = limit;
    if (m.reservation.value_or(0) != 0) mem_low = *m.reservation;
    swap_max = memory_swap_to_v2(swap, limit, F + ".memory.swap");
    if (mem_max) needs("memory", F + ".memory.limit");
    if (mem_low) needs("memory", F + ".memory.reservation");
    if (swap_max) needs("memory", F + ".memory.swap");
    if (m.kernel) v1_only(F + ".memory.kernel", "the kernel memory limit");
    if (m.kernel_tcp) v1_only(F + ".memory.kernelTCP", "the kernel TCP memory limit");
    if (m.swappiness) v1_only(F + ".memory.swappiness", "swappiness");
    if (m.disable_oom_killer.value_or(false))
      v1_only(F + ".memory.disableOOMKiller", "disabling the OOM killer");
  }
  std::uint64_t weight = 0;
  bool cpu_max = false;
  if (r.cpu) {
    const Cpu& c = *r.cpu;
    weight = cpu_shares_to_weight(c.shares.value_or(0));
    if (weight != 0) needs("cpu", F + ".cpu.shares");
    cpu_max = c.quota.value_or(0) != 0 || c.period.value_or(0) != 0;
    if (cpu_max) needs("cpu", F + (c.quota ? ".cpu.quota" : ".cpu.period"));
    if (c.burst) needs("cpu", F + ".cpu.burst");
    if (c.idle) needs("cpu", F + ".cpu.idle");
    if (!c.cpus.empty()) needs("cpuset", F + ".cpu.cpus");
    if (!c.mems.empty()) needs("cpuset", F + ".cpu.mems");
    if (c.realtime_runtime) v1_only(F + ".cpu.realtimeRuntime", "real-time CPU bandwidth");
    if (c.realtime_period) v1_only(F + ".cpu.realtimePeriod", "real-time CPU bandwidth");
  }
  if (r.pids && r.pids->limit) needs("pids", F + ".pids.limit");
  if (r.block_io) {
    const BlockIO& b = *r.block_io;
    if (b.weight.value_or(0) != 0) needs("io", F + ".blockIO.weight");
    if (!b.weight_device.empty()) needs("io", F + ".blockIO.weightDevice");
    if (!b.throttle_read_bps_device.empty() || !b.throttle_write_bps_device.empty() ||
        !b.throttle_read_iops_device.empty() || !b.throttle_write_iops_device.empty())
      needs("io", F + ".blockIO");
    if (b.leaf_weight) v1_only(F + ".blockIO.leafWeight", "leafWeight");
    for (std::size_t i = 0; i < b.weight_device.size(); ++i)
      if (b.weight_device[i].leaf_weight)
        v1_only(detail::mapping::idx(F + ".blockIO.weightDevice", i) + ".leafWeight", "leafWeight");
  }
  if (!r.hugepage_limits.empty()) needs("hugetlb", F + ".hugepageLimits");
  if (!r.rdma.empty()) needs("rdma", F + ".rdma");
  if (r.network) v1_only(F + ".network", "net_cls/net_prio");
  for (const auto& [key, value] : r.unified) {
    const std::string ctl = key.substr(0, key.find('.'));
    static constexpr std::string_view kControllers[] = {"cpu",     "cpuset", "io",   "memory",
                                                        "hugetlb", "pids",   "rdma", "misc"};
    if (std::find(std::begin(kControllers), std::end(kControllers), ctl) != std::end(kControllers))
      needs(ctl, F + ".unified." + key);
  }

  // ---- controllers
  if (o.enable_controllers)
    for (const auto& n : need) at_field(n.second, [&] { cg.enable_controllers({n.first}); });

  // ---- writes, in runc's order (fs2.Set): pids, memory, io, cpu, devices,
  // cpuset, hugetlb, rdma, unified.
  if (r.pids && r.pids->limit)
    at_field(F + ".pids.limit", [&] {
      cg.set("pids.max", *r.pids->limit < 0 ? "max" : std::to_string(*r.pids->limit));
    });

  if (r.memory) {
    const Memory& m = *r.memory;
    if (m.check_before_update.value_or(false) && mem_max && *mem_max > 0 &&
        exists("memory.current")) {
      at_field(F + ".memory.limit", [&] {
        const std::string cur = cg.get("memory.current");
        const auto used = cgroup_parse::single_value(cur);
        if (used && *used > static_cast<std::uint64_t>(*mem_max))
          throw Error(Step::cgroup, EBUSY, cg.path() + "/memory.current",
                      "checkBeforeUpdate: the new limit " + std::to_string(*mem_max) +
                          " is below the current usage " + std::to_string(*used));
      });
    }
    if (swap_max) {
      const std::string v = num(*swap_max);
      // "If swap is not enabled, silently ignore setting to max or
      // disabling it" (runc fs2 setMemory).
      if (exists("memory.swap.max") || (v != "max" && v != "0"))
        at_field(F + ".memory.swap", [&] { cg.set("memory.swap.max", v); });
    }
    if (mem_max) at_field(F + ".memory.limit", [&] { cg.set("memory.max", num(*mem_max)); });
    if (mem_low) at_field(F + ".memory.reservation", [&] { cg.set("memory.low", num(*mem_low)); });
  }

  if (r.block_io) {
    const BlockIO& b = *r.block_io;
    const std::string bf = F + ".blockIO";
    const bool bfq = exists("io.bfq.weight");
    if (b.weight.value_or(0) != 0) {
      at_field(bf + ".weight", [&] {
        if (bfq)
          cg.set("io.bfq.weight", std::to_string(std::clamp<std::uint16_t>(*b.weight, 1, 1000)));
        else
          cg.io_weight(blkio_weight_to_io_weight(*b.weight));
      });
    }
    for (std::size_t i = 0; i < b.weight_device.size(); ++i) {
      const WeightDevice& d = b.weight_device[i];
      if (!d.weight) continue;
      const std::string df = detail::mapping::idx(bf + ".weightDevice", i);
      const std::uint32_t maj = detail::mapping::device_number(d.major, df + ".major");
      const std::uint32_t min = detail::mapping::device_number(d.minor, df + ".minor");
      const std::string dev = std::to_string(maj) + ":" + std::to_string(min);
      // Per-device BFQ weights since Linux 5.4: the file then lists
      // "default N" lines rather than a bare number (runc's
      // bfqDeviceWeightSupported).
      bool bfq_dev = false;
      if (bfq) {
        const std::string cur = cg.get("io.bfq.weight");
        bfq_dev = cur.find("default") != std::string::npos;
      }
      if (bfq_dev) {
        at_field(df, [&] {
          cg.set("io.bfq.weight",
                 dev + " " + std::to_string(std::clamp<std::uint16_t>(*d.weight, 1, 1000)));
        });
      } else if (exists("io.weight")) {
        at_field(df, [&] { cg.io_weight(maj, min, blkio_weight_to_io_weight(*d.weight)); });
      } else {
        warn(o.warnings, df + ": ignored: this kernel has neither per-device io.bfq.weight nor "
                              "io.weight (runc ignores it too)");
      }
    }
    auto throttle = [&](const std::vector<ThrottleDevice>& list, const char* name,
                        std::optional<std::uint64_t> IoMax::*slot) {
      for (std::size_t i = 0; i < list.size(); ++i) {
        const ThrottleDevice& t = list[i];
        const std::string tf = detail::mapping::idx(bf + "." + name, i);
        IoMax m;
        m.major = detail::mapping::device_number(t.major, tf + ".major");
        m.minor = detail::mapping::device_number(t.minor, tf + ".minor");
        m.*slot = t.rate == 0 ? cgroup_unlimited : t.rate;
        at_field(tf, [&] { cg.io_max(m); });
      }
    };
    throttle(b.throttle_read_bps_device, "throttleReadBpsDevice", &IoMax::rbps);
    throttle(b.throttle_write_bps_device, "throttleWriteBpsDevice", &IoMax::wbps);
    throttle(b.throttle_read_iops_device, "throttleReadIOPSDevice", &IoMax::riops);
    throttle(b.throttle_write_iops_device, "throttleWriteIOPSDevice", &IoMax::wiops);
  }

  if (r.cpu) {
    const Cpu& c = *r.cpu;
    if (weight != 0) at_field(F + ".cpu.shares", [&] { cg.cpu_weight(weight); });
    if (cpu_max) {
      at_field(F + (c.quota ? ".cpu.quota" : ".cpu.period"), [&] {
        const std::int64_t q = c.quota.value_or(0);
        cg.cpu_max(
            q > 0 ? std::optional<std::uint64_t>(static_cast<std::uint64_t>(q)) : std::nullopt,
            c.period.value_or(0) != 0 ? *c.period : 100000);
      });
    }
    if (c.burst)
      at_field(F + ".cpu.burst", [&] { cg.set("cpu.max.burst", std::to_string(*c.burst)); });
    if (c.idle) at_field(F + ".cpu.idle", [&] { cg.set("cpu.idle", std::to_string(*c.idle)); });
  }

  if (!r.devices.empty() || o.always_device_program) {
    std::vector<ward::DeviceRule> rules;
    const std::string df = F + ".devices";
    for (const oci::DeviceRule& d : r.devices) rules.push_back(detail::mapping::device_rule(d));
    if (o.default_devices)
      for (ward::DeviceRule& d : default_device_rules()) rules.push_back(std::move(d));
    try {
      at_field(df, [&] { cg.device_rules(rules); });
    } catch (const Error& e) {
      if (!o.rootless) throw;
      warn(o.warnings, std::string(e.what()) + " (ignored for a rootless container, as runc does)");
    }
  }

  if (r.cpu) {
    const Cpu& c = *r.cpu;
    if (!c.cpus.empty()) at_field(F + ".cpu.cpus", [&] { cg.cpuset_cpus(c.cpus); });
    if (!c.mems.empty()) at_field(F + ".cpu.mems", [&] { cg.cpuset_mems(c.mems); });
  }

  for (std::size_t i = 0; i < r.hugepage_limits.size(); ++i) {
    const HugepageLimit& h = r.hugepage_limits[i];
    const std::string hf = detail::mapping::idx(F + ".hugepageLimits", i);
    at_field(hf, [&] { cg.hugetlb_max(h.page_size, h.limit); });
    const std::string rsvd = "hugetlb." + h.page_size + ".rsvd.max";
    if (exists(rsvd.c_str())) at_field(hf, [&] { cg.set(rsvd, std::to_string(h.limit)); });
  }

  for (const auto& [dev, lim] : r.rdma) {
    std::string v = dev;
    if (lim.hca_handles) v += " hca_handle=" + std::to_string(*lim.hca_handles);
    if (lim.hca_objects) v += " hca_object=" + std::to_string(*lim.hca_objects);
    at_field(F + ".rdma." + dev, [&] { cg.set("rdma.max", v); });
  }

  // (Not structured bindings: clang 14 cannot capture them in a lambda.)
  for (const auto& kv : r.unified)
    at_field(F + ".unified." + kv.first, [&] { cg.set(kv.first, kv.second); });
}

// ===========================================================================
// linux.resources on cgroup v1
// ===========================================================================

// One write apply_resources(CgroupV1&) makes: `value` into the interface
// file `file` of the hierarchy of its controller (the name up to the first
// '.'), a failure named after `field`. plan_resources_v1() returns them in
// the order they are made.
struct V1Write {
  std::string field;  // the OCI JSON path: "linux.resources.memory.limit"
  std::string file;   // "memory.limit_in_bytes"
  std::string value;
  // EINVAL is not final: the write is made again after the next write
  // without this flag has succeeded (runc: a CFS period or burst, or a
  // real-time period, that only fits together with the new quota or
  // runtime).
  bool retry_later = false;
  // The file is read back and must hold `value` (runc: the kernel clamps
  // cpu.shares to 2..262144 without an error).
  bool read_back = false;
  // EOPNOTSUPP from the kernel is a warning (an error when strict): the kmem
  // limits, which kernels since Linux 5.16 refuse or no longer have.
  bool may_be_unsupported = false;

  bool operator==(const V1Write&) const = default;
};

// What plan_resources_v1() needs to know of the cgroup: whether an optional
// interface file exists (false where its controller is missing), and the
// current memory.limit_in_bytes (asked only when a memory limit and a swap
// limit are both set).
struct V1Files {
  std::function<bool(const std::string& file)> exists;
  std::function<std::uint64_t()> memory_limit;
};

// The writes that give a cgroup v1 `r`, as runc's fs driver (libcontainer/
// cgroups/fs, runc 1.1 and later where they differ, as said) makes them.
// Pure: it reads the cgroup only through `files`. Throws ward::Error
// (validate) naming the field for a value no kernel takes; adds to
// o.warnings what it leaves out. Order: runc's subsystems (fs.go), cpuset,
// devices, memory, cpu, pids, blkio, hugetlb, net_cls, net_prio, rdma.
//
//  - unified: an error naming the first key (runc: "cannot use unified on
//    cgroup v1"), before anything else.
//  - cpu.cpus/mems -> cpuset.cpus, cpuset.mems.
//  - devices (when there are any, or o.always_device_program): "a" into
//    devices.deny (default deny, as runc's emulator starts from an empty
//    allow list and as the v2 program denies what no rule matches) unless
//    the first rule is already a deny-all; then each rule in order into
//    devices.allow or devices.deny, then, with o.default_devices, runc's
//    default rules. A type 'a' rule resets the whole list (its access is
//    ignored: devices.rst, as runc's emulator does).
//  - memory: limit -> memory.limit_in_bytes, swap (memory plus swap, as v1
//    counts it) -> memory.memsw.limit_in_bytes. A limit of -1 without a swap
//    value lifts the swap limit too where the host has swap accounting.
//    Both set: swap first when it is -1 or above the current limit
//    (raising), else the limit first (lowering): the kernel wants memsw >=
//    limit after each write (runc's setMemoryAndSwap). A swap of -1 without
//    swap accounting is left out (nothing to lift, as the v2 path does);
//    any other swap value stays and apply_resources refuses it there.
//    kernel -> memory.kmem.limit_in_bytes, kernelTCP ->
//    memory.kmem.tcp.limit_in_bytes where the kernel has them, else a
//    warning (runc ignores both); reservation -> memory.soft_limit_in_bytes;
//    disableOOMKiller -> memory.oom_control 1; swappiness ->
//    memory.swappiness. useHierarchy is not written (runc does not either:
//    kernels since 5.x keep it on). checkBeforeUpdate needs nothing: the v1
//    kernel itself refuses a limit below the usage (EBUSY).
//  - cpu: shares -> cpu.shares (read back), period -> cpu.cfs_period_us,
//    burst -> cpu.cfs_burst_us (where present, else a warning), quota ->
//    cpu.cfs_quota_us, idle -> cpu.idle (where present, else a warning),
//    realtimePeriod -> cpu.rt_period_us, realtimeRuntime ->
//    cpu.rt_runtime_us. 0 is "unset" for shares, period, quota and the
//    real-time values, as in runc.
//  - pids.limit -> pids.max: -1 (any negative) is "max", 0 a real limit
//    (runtime-spec 1.3), as the v2 path writes it.
//  - blockIO: weight -> blkio.weight, or blkio.bfq.weight where CFQ's file
//    is missing (runc's detectWeightFilenames); weightDevice -> the
//    matching *weight_device "MAJ:MIN W"; leafWeight and per-device
//    leafWeight -> blkio.leaf_weight(_device) where present (CFQ, gone
//    since Linux 5.0), else a warning; throttle*Device ->
//    blkio.throttle.{read,write}_{bps,iops}_device "MAJ:MIN RATE" (0 lifts
//    the limit).
//  - hugepageLimits -> hugetlb.<size>.limit_in_bytes, and
//    hugetlb.<size>.rsvd.limit_in_bytes where present (runc).
//  - network: classID -> net_cls.classid (0: unset), priorities ->
//    net_prio.ifpriomap "NAME PRIO", one write each.
//  - rdma -> rdma.max "DEV hca_handle=N hca_object=M".
inline std::vector<V1Write> plan_resources_v1(const Resources& r, const V1Files& files,
                                              const ResourcesOptions& o = {}) {
  using detail::mapping::idx;
  using detail::mapping::warn;
  const std::string& F = o.field;
  std::vector<V1Write> out;
  auto add = [&](std::string field, std::string file, std::string value) -> V1Write& {
    out.push_back({std::move(field), std::move(file), std::move(value)});
    return out.back();
  };
  auto exists = [&](const std::string& file) { return files.exists && files.exists(file); };
  // A value this kernel has no file for.
  auto missing = [&](const std::string& field, const std::string& file, const std::string& why) {
    const std::string msg = "this kernel has no " + file + " (" + why + ")";
    if (o.strict) detail::mapping::unsupported(field, msg);
    warn(o.warnings, field + ": ignored: " + msg);
  };
  auto maj_min = [](const std::string& field, std::int64_t maj, std::int64_t min) {
    return std::to_string(detail::mapping::device_number(maj, field + ".major")) + ":" +
           std::to_string(detail::mapping::device_number(min, field + ".minor"));
  };
  // A name written before a value on one line (net_prio.ifpriomap, rdma.max).
  auto one_word = [](const std::string& field, const std::string& name) {
    if (name.empty() || name.find_first_of(" \t\n") != std::string::npos)
      ward::detail::throw_invalid(field, "'" + name + "' is not an interface or device name");
  };

  if (!r.unified.empty())
    detail::mapping::unsupported(F + ".unified." + r.unified.begin()->first,
                                 "cgroup v2 interface files cannot be written on cgroup v1 "
                                 "(runc: \"cannot use unified on cgroup v1\")");

  // ---- cpuset
  if (r.cpu && !r.cpu->cpus.empty()) add(F + ".cpu.cpus", "cpuset.cpus", r.cpu->cpus);
  if (r.cpu && !r.cpu->mems.empty()) add(F + ".cpu.mems", "cpuset.mems", r.cpu->mems);

  // ---- devices
  if (!r.devices.empty() || o.always_device_program) {
    const std::string df = F + ".devices";
    const bool deny_all_first =
        !r.devices.empty() && r.devices.front().type == 'a' && !r.devices.front().allow;
    if (!deny_all_first) add(df, "devices.deny", "a");
    auto rule = [&](const std::string& field, bool allow, const ward::DeviceRule& w) {
      add(field, allow ? "devices.allow" : "devices.deny", CgroupV1::rule_line(w));
    };
    for (std::size_t i = 0; i < r.devices.size(); ++i)
      rule(idx(df, i), r.devices[i].allow, detail::mapping::device_rule(r.devices[i]));
    if (o.default_devices)
      for (const ward::DeviceRule& d : default_device_rules()) rule(df, d.allow, d);
  }

  // ---- memory
  if (r.memory) {
    const Memory& m = *r.memory;
    const std::string mf = F + ".memory";
    const bool memsw = exists("memory.memsw.limit_in_bytes");
    const std::int64_t limit = m.limit.value_or(0);
    std::int64_t swap = m.swap.value_or(0);
    if (limit == -1 && swap == 0 && memsw) swap = -1;
    if (swap == -1 && !memsw) swap = 0;
    if (limit > 0 && swap > 0 && swap < limit)
      ward::detail::throw_invalid(mf + ".swap", "memory+swap limit " + std::to_string(swap) +
                                                    " is below the memory limit " +
                                                    std::to_string(limit));
    const V1Write lim{mf + ".limit", "memory.limit_in_bytes", std::to_string(limit)};
    const V1Write sw{mf + ".swap", "memory.memsw.limit_in_bytes", std::to_string(swap)};
    const bool swap_first =
        limit != 0 && swap != 0 &&
        (swap == -1 ||
         (files.memory_limit && files.memory_limit() < static_cast<std::uint64_t>(swap)));
    if (swap_first) {
      out.push_back(sw);
      out.push_back(lim);
    } else {
      if (limit != 0) out.push_back(lim);
      if (swap != 0) out.push_back(sw);
    }
    auto kmem = [&](const std::optional<std::int64_t>& v, const char* name, const char* file) {
      if (!v) return;
      if (exists(file))
        add(mf + name, file, std::to_string(*v)).may_be_unsupported = true;
      else
        missing(mf + name, file,
                "kernel memory limits are gone from cgroup v1; runc ignores them too");
    };
    kmem(m.kernel, ".kernel", "memory.kmem.limit_in_bytes");
    kmem(m.kernel_tcp, ".kernelTCP", "memory.kmem.tcp.limit_in_bytes");
    if (m.reservation.value_or(0) != 0)
      add(mf + ".reservation", "memory.soft_limit_in_bytes", std::to_string(*m.reservation));
    if (m.disable_oom_killer.value_or(false))
      add(mf + ".disableOOMKiller", "memory.oom_control", "1");
    if (m.swappiness) {
      if (*m.swappiness > 100)
        ward::detail::throw_invalid(mf + ".swappiness",
                                    std::to_string(*m.swappiness) + " is not in 0..100");
      add(mf + ".swappiness", "memory.swappiness", std::to_string(*m.swappiness));
    }
  }

  // ---- cpu
  if (r.cpu) {
    const Cpu& c = *r.cpu;
    const std::string cf = F + ".cpu";
    const bool quota = c.quota.value_or(0) != 0;
    if (c.shares.value_or(0) != 0)
      add(cf + ".shares", "cpu.shares", std::to_string(*c.shares)).read_back = true;
    if (c.period.value_or(0) != 0)
      add(cf + ".period", "cpu.cfs_period_us", std::to_string(*c.period)).retry_later = quota;
    if (c.burst) {
      if (exists("cpu.cfs_burst_us"))
        add(cf + ".burst", "cpu.cfs_burst_us", std::to_string(*c.burst)).retry_later = quota;
      else
        missing(cf + ".burst", "cpu.cfs_burst_us", "CFS burst is Linux 5.14's; runc ignores it");
    }
    if (quota) add(cf + ".quota", "cpu.cfs_quota_us", std::to_string(*c.quota));
    if (c.idle) {
      if (exists("cpu.idle"))
        add(cf + ".idle", "cpu.idle", std::to_string(*c.idle));
      else
        missing(cf + ".idle", "cpu.idle", "SCHED_IDLE groups are Linux 5.15's");
    }
    const bool runtime = c.realtime_runtime.value_or(0) != 0;
    if (c.realtime_period.value_or(0) != 0)
      add(cf + ".realtimePeriod", "cpu.rt_period_us", std::to_string(*c.realtime_period))
          .retry_later = runtime;
    if (runtime)
      add(cf + ".realtimeRuntime", "cpu.rt_runtime_us", std::to_string(*c.realtime_runtime));
  }

  // ---- pids
  if (r.pids && r.pids->limit)
    add(F + ".pids.limit", "pids.max",
        *r.pids->limit < 0 ? std::string("max") : std::to_string(*r.pids->limit));

  // ---- blkio
  if (r.block_io) {
    const BlockIO& b = *r.block_io;
    const std::string bf = F + ".blockIO";
    const bool cfq = exists("blkio.weight");
    const std::string weight = cfq ? "blkio.weight" : "blkio.bfq.weight";
    const std::string weight_device = cfq ? "blkio.weight_device" : "blkio.bfq.weight_device";
    const char* leaf_why = "CFQ's leaf weights, gone since Linux 5.0";
    if (b.weight.value_or(0) != 0) add(bf + ".weight", weight, std::to_string(*b.weight));
    if (b.leaf_weight.value_or(0) != 0) {
      if (exists("blkio.leaf_weight"))
        add(bf + ".leafWeight", "blkio.leaf_weight", std::to_string(*b.leaf_weight));
      else
        missing(bf + ".leafWeight", "blkio.leaf_weight", leaf_why);
    }
    for (std::size_t i = 0; i < b.weight_device.size(); ++i) {
      const WeightDevice& d = b.weight_device[i];
      const std::string df = idx(bf + ".weightDevice", i);
      const std::string dev = maj_min(df, d.major, d.minor);
      if (d.weight.value_or(0) != 0) add(df, weight_device, dev + " " + std::to_string(*d.weight));
      if (d.leaf_weight.value_or(0) != 0) {
        if (exists("blkio.leaf_weight_device"))
          add(df + ".leafWeight", "blkio.leaf_weight_device",
              dev + " " + std::to_string(*d.leaf_weight));
        else
          missing(df + ".leafWeight", "blkio.leaf_weight_device", leaf_why);
      }
    }
    auto throttle = [&](const std::vector<ThrottleDevice>& list, const char* name,
                        const char* file) {
      for (std::size_t i = 0; i < list.size(); ++i) {
        const std::string tf = idx(bf + "." + name, i);
        add(tf, file,
            maj_min(tf, list[i].major, list[i].minor) + " " + std::to_string(list[i].rate));
      }
    };
    throttle(b.throttle_read_bps_device, "throttleReadBpsDevice", "blkio.throttle.read_bps_device");
    throttle(b.throttle_write_bps_device, "throttleWriteBpsDevice",
             "blkio.throttle.write_bps_device");
    throttle(b.throttle_read_iops_device, "throttleReadIOPSDevice",
             "blkio.throttle.read_iops_device");
    throttle(b.throttle_write_iops_device, "throttleWriteIOPSDevice",
             "blkio.throttle.write_iops_device");
  }

  // ---- hugetlb
  for (std::size_t i = 0; i < r.hugepage_limits.size(); ++i) {
    const HugepageLimit& h = r.hugepage_limits[i];
    const std::string hf = idx(F + ".hugepageLimits", i);
    detail::mapping::at_field(
        hf, [&] { ward::detail::cg::check_hugetlb_size(h.page_size, "pageSize"); });
    const std::string v = std::to_string(h.limit);
    add(hf, "hugetlb." + h.page_size + ".limit_in_bytes", v);
    const std::string rsvd = "hugetlb." + h.page_size + ".rsvd.limit_in_bytes";
    if (exists(rsvd)) add(hf, rsvd, v);
  }

  // ---- net_cls, net_prio
  if (r.network) {
    const Network& n = *r.network;
    if (n.class_id.value_or(0) != 0)
      add(F + ".network.classID", "net_cls.classid", std::to_string(*n.class_id));
    for (std::size_t i = 0; i < n.priorities.size(); ++i) {
      const std::string pf = idx(F + ".network.priorities", i);
      one_word(pf + ".name", n.priorities[i].name);
      add(pf, "net_prio.ifpriomap",
          n.priorities[i].name + " " + std::to_string(n.priorities[i].priority));
    }
  }

  // ---- rdma
  for (const auto& [dev, lim] : r.rdma) {
    const std::string rf = F + ".rdma." + dev;
    one_word(rf, dev);
    std::string v = dev;
    if (lim.hca_handles) v += " hca_handle=" + std::to_string(*lim.hca_handles);
    if (lim.hca_objects) v += " hca_object=" + std::to_string(*lim.hca_objects);
    add(rf, "rdma.max", v);
  }
  return out;
}

// Applies `r` to `cg`, a cgroup in the host's v1 hierarchies, as runc's fs
// driver does: the writes plan_resources_v1() lists, in its order. Before
// the first write, every controller those writes need must be one of
// `cg`'s and every file must exist: otherwise an error naming the field
// and the controller (not mounted on this host, or not one `cg` was made
// with) or the file (a swap limit where the host has no swap accounting:
// EOPNOTSUPP). A value that asks for nothing needs nothing. Every failure
// is a ward::Error whose object is the field and the file's path
// ("linux.resources.memory.limit (/sys/fs/cgroup/memory/c1/
// memory.limit_in_bytes)") and whose errno is the kernel's.
// ResourcesOptions: field, warnings and strict as for v2; default_devices
// and always_device_program decide the device rules as they decide the
// v2 program; rootless makes a failed device write a warning (and the
// remaining device writes are skipped), as runc; enable_controllers has no
// meaning on v1 (every hierarchy has all its controllers).
inline void apply_resources(CgroupV1& cg, const Resources& r, const ResourcesOptions& o = {}) {
  using detail::mapping::at_field;
  using detail::mapping::warn;
  auto controller = [](const std::string& file) { return file.substr(0, file.find('.')); };
  auto there = [&](const std::string& file) {
    const std::string ctl = controller(file);
    return cg.has(ctl) && ::faccessat(cg.dir_fd(ctl), file.c_str(), F_OK, 0) == 0;
  };
  V1Files files;
  files.exists = there;
  files.memory_limit = [&]() -> std::uint64_t {
    if (!cg.has("memory")) return 0;  // refused below, naming the field
    std::uint64_t cur = 0;
    at_field(o.field + ".memory.limit", [&] {
      cur = cgroup_parse::single_value(cg.get("memory.limit_in_bytes")).value_or(0);
    });
    return cur;
  };
  const std::vector<V1Write> plan = plan_resources_v1(r, files, o);

  // ---- every controller and file, before the first write
  for (const V1Write& w : plan) {
    const std::string ctl = controller(w.file);
    at_field(w.field, [&] { (void)cg.dir(ctl); });  // names the missing controller
    if (::faccessat(cg.dir_fd(ctl), w.file.c_str(), F_OK, 0) == 0) continue;
    const int e = errno;
    const std::string path = cg.dir(ctl) + "/" + w.file;
    if (e == ENOENT && w.file == "memory.memsw.limit_in_bytes")
      throw Error(Step::cgroup, EOPNOTSUPP, w.field + " (" + path + ")",
                  "swap accounting is off on this host (no memory.memsw.* files: kernel "
                  "without CONFIG_MEMCG_SWAP, or booted with swapaccount=0)");
    throw Error(Step::cgroup, e, w.field + " (" + path + ")",
                e == ENOENT ? "no such interface file on this kernel" : "access");
  }

  // ---- the writes
  auto write = [&](const V1Write& w) {
    at_field(w.field, [&] {
      try {
        cg.set(w.file, w.value);
      } catch (const Error& e) {
        // runc: "unable to set memory limit to N (current usage: U, peak usage: P)".
        if (e.error_number() != EBUSY || w.file != "memory.limit_in_bytes") throw;
        auto num = [&](const char* f) {
          std::string t;
          ward::detail::cg::read_at(cg.dir_fd("memory"), f, t);
          return cgroup_parse::single_value(t);
        };
        const auto usage = num("memory.usage_in_bytes"), peak = num("memory.max_usage_in_bytes");
        throw Error(e.step(), EBUSY, e.object(),
                    e.detail() + (usage && peak ? " (usage " + std::to_string(*usage) + ", peak " +
                                                      std::to_string(*peak) + ")"
                                                : std::string()));
      }
      if (!w.read_back) return;
      std::string got = cg.get(w.file);
      while (!got.empty() && (got.back() == '\n' || got.back() == ' ')) got.pop_back();
      if (got == w.value) return;
      const auto have = cgroup_parse::single_value(got), want = cgroup_parse::single_value(w.value);
      throw Error(
          Step::cgroup, ERANGE, cg.dir(controller(w.file)) + "/" + w.file,
          "wrote '" + w.value + "' but the kernel keeps '" + got + "'" +
              (have && want ? std::string(*have > *want ? " (its minimum)" : " (its maximum)")
                            : std::string()));
    });
  };
  std::vector<std::pair<const V1Write*, Error>> later;
  bool devices_failed = false;
  for (const V1Write& w : plan) {
    const bool device = w.file.rfind("devices.", 0) == 0;
    if (device && devices_failed) continue;
    try {
      write(w);
    } catch (const Error& e) {
      if (w.retry_later && e.error_number() == EINVAL) {
        later.emplace_back(&w, e);
        continue;
      }
      if (device && o.rootless) {
        warn(o.warnings,
             std::string(e.what()) + " (ignored for a rootless container, as runc does)");
        devices_failed = true;
        continue;
      }
      if (w.may_be_unsupported && e.error_number() == EOPNOTSUPP && !o.strict) {
        warn(o.warnings, std::string(e.what()) + " (ignored: runc ignores kernel memory limits)");
        continue;
      }
      throw;
    }
    // A deferred write is tried again after the next one that is not
    // itself deferrable (runc: the period after the quota).
    if (w.retry_later) continue;
    for (const auto& l : later) write(*l.first);
    later.clear();
  }
  if (!later.empty()) throw later.front().second;
}

}  // namespace ward::oci
