// SPDX-License-Identifier: Apache-2.0
// linux.resources onto a ward::Cgroups (cgroups.hpp): each value goes to the
// hierarchy that holds its controller on this host, as runc's managers do
// on hybrid hosts. A pure v2 host gets exactly apply_resources(CgroupV2&), a
// v1-only host apply_resources(CgroupV1&) (both in oci/resources.hpp).
//
//   controller   OCI values
//   memory       memory.*
//   cpu          cpu.shares, quota, period, burst, realtime*, idle
//   cpuset       cpu.cpus, cpu.mems
//   pids         pids.limit
//   blkio / io   blockIO
//   hugetlb      hugepageLimits
//   net_cls      network.classID; net_prio: network.priorities
//   rdma         rdma
//   devices      devices: the v1 devices hierarchy where mounted, and the
//                unified cgroup's BPF program where there is one (the kernel
//                checks both)
//   -            unified: the unified cgroup (a key whose controller is bound
//                to v1 fails there, naming it); on a v1-only host an error
//                naming the key
//
// A value whose controller this host has nowhere goes to the part that
// exists, whose error (or, for v1-only values on v2, warning) names the field.
// Tests: tests/root/oci_cgroups_test.cpp.
#pragma once

#include <ward/cgroups.hpp>
#include <ward/oci/resources.hpp>

namespace ward::oci {

inline void apply_resources(Cgroups& cg, const Resources& r, const ResourcesOptions& o = {}) {
  if (!cg.valid()) throw Error(Step::cgroup, EBADF, o.field, "no cgroup (destroyed or moved from)");
  if (!cg.v1()) return apply_resources(*cg.v2(), r, o);
  if (!cg.v2()) return apply_resources(*cg.v1(), r, o);
  // v1 when this cgroup has the controller there, else v2.
  auto to_v1 = [&cg](std::string_view controller) {
    return cg.backend(controller) == CgroupBackend::v1;
  };
  Resources one, two;
  if (r.memory) (to_v1("memory") ? one : two).memory = r.memory;
  if (r.cpu) {
    Cpu sched = *r.cpu, sets;
    sched.cpus.clear();
    sched.mems.clear();
    sets.cpus = r.cpu->cpus;
    sets.mems = r.cpu->mems;
    const bool any_sched = sched.shares || sched.quota || sched.burst || sched.period ||
                           sched.realtime_runtime || sched.realtime_period || sched.idle;
    if (any_sched) (to_v1("cpu") ? one : two).cpu = sched;
    if (!sets.cpus.empty() || !sets.mems.empty()) {
      Resources& dst = to_v1("cpuset") ? one : two;
      if (!dst.cpu) dst.cpu.emplace();
      dst.cpu->cpus = sets.cpus;
      dst.cpu->mems = sets.mems;
    }
  }
  if (r.pids) (to_v1("pids") ? one : two).pids = r.pids;
  if (r.block_io) (to_v1("blkio") ? one : two).block_io = r.block_io;
  if (!r.hugepage_limits.empty())
    (to_v1("hugetlb") ? one : two).hugepage_limits = r.hugepage_limits;
  if (r.network) {
    Network cls, prio;
    cls.class_id = r.network->class_id;
    prio.priorities = r.network->priorities;
    if (cls.class_id) (to_v1("net_cls") ? one : two).network = cls;
    if (!prio.priorities.empty()) {
      Resources& dst = to_v1("net_prio") ? one : two;
      if (!dst.network) dst.network.emplace();
      dst.network->priorities = prio.priorities;
    }
  }
  if (!r.rdma.empty()) (to_v1("rdma") ? one : two).rdma = r.rdma;
  two.unified = r.unified;
  // Devices: both parts. The unified cgroup's program always (its options
  // decide whether an empty list installs one); the v1 rules where the
  // host mounts the devices hierarchy.
  two.devices = r.devices;
  ResourcesOptions o1 = o;
  if (cg.backend("devices") == CgroupBackend::v1) {
    one.devices = r.devices;
  } else {
    o1.always_device_program = false;
  }
  apply_resources(*cg.v2(), two, o);
  apply_resources(*cg.v1(), one, o1);
}

}  // namespace ward::oci
