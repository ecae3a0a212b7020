// SPDX-License-Identifier: Apache-2.0
// linux.resources onto a cgroup (part of the OCI component, ward/oci.hpp):
// apply_resources() for a CgroupV2, runc's v1 -> v2 conversions, and the
// options both share.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ward/cgroup.hpp>
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
  // controller a value needs (CgroupV2::enable_controllers), as runc's fs2
  // manager does when it creates the cgroup. Off: a missing controller is
  // an error naming the field and the file.
  bool enable_controllers = true;
  // Install the device program even when `devices` is empty. runc does so
  // at create time (its defaults then decide alone); an update (`ward
  // update`, whose document has no devices) must not, or it would replace
  // the container's rules. Off by default so that apply_resources() with
  // only memory/cpu/pids values is always a safe update.
  bool always_device_program = false;
  // Append runc's default allowed devices (default_device_rules():
  // /dev/null, zero, full, random, urandom, tty, ptmx, pts, tun, and mknod
  // of any node) after the config's rules, as runc's specconv does
  // (CreateCgroupConfig: "Append the default allowed devices to the end of
  // the list"); with last-match-wins they override earlier denials.
  bool default_devices = true;
  // Device program failures are warnings (runc ignores them for rootless
  // containers: "errors from the device subsystem are ignored because it is
  // really not expected to work").
  bool rootless = false;
  // cgroup v1-only values (memory.kernel, kernelTCP, swappiness,
  // disableOOMKiller, cpu.realtime*, blockIO.leafWeight, network) are
  // warnings, as runc on cgroup v2 ignores them; strict makes them errors.
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

// ===========================================================================
// linux.resources
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
  auto device_num = [](std::int64_t v, const std::string& field) {
    if (v < 0 || v > std::numeric_limits<std::uint32_t>::max())
      ward::detail::throw_invalid(field, "device number " + std::to_string(v) + " is out of range");
    return static_cast<std::uint32_t>(v);
  };

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
      const std::uint32_t maj = device_num(d.major, df + ".major");
      const std::uint32_t min = device_num(d.minor, df + ".minor");
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
        m.major = device_num(t.major, tf + ".major");
        m.minor = device_num(t.minor, tf + ".minor");
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
    for (std::size_t i = 0; i < r.devices.size(); ++i) {
      const oci::DeviceRule& d = r.devices[i];
      ward::DeviceRule w;
      w.allow = d.allow;
      w.type = d.type;
      w.major = d.major.value_or(-1);
      w.minor = d.minor.value_or(-1);
      w.access = d.access;
      rules.push_back(std::move(w));
    }
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

}  // namespace ward::oci
