// SPDX-License-Identifier: Apache-2.0
// --systemd-cgroup: the container's cgroup is a transient scope unit that
// systemd makes (ward/systemd.hpp), as runc's and crun's systemd drivers
// do. The order: StartTransientUnit with PIDs=[a placeholder process of
// ours], Delegate=yes and the resources systemd has properties for; once
// the job is done the scope's cgroup is ours (delegated): the remaining
// limits are written into it (oci::apply_resources, as for cgroupfs), the
// child is born inside it (CLONE_INTO_CGROUP) and the placeholder goes.
// The child is never outside its cgroup, not even for a moment, which a
// scope started with PIDs=[child] (runc) would need; and this runtime never
// leaves its own cgroup. crun moves itself into the scope and back, which
// fails when the cgroup it came from was a scope that held nothing else:
// systemd stops a scope once it is empty, and that stop kills a runtime
// that comes back into it (`systemd-run --scope ward ... run -d`: exit 137,
// no message; "systemd vm: rootless --systemd-cgroup runs from a scope that
// holds the runtime alone").
#include <sys/prctl.h>

#include "runtime.hpp"

namespace wardrt {

namespace {

// Which systemd holds the container: the system's over the system bus, or,
// rootless, the user's own instance (systemd --user, its cgroup delegated to
// the user) over the user bus: $DBUS_SESSION_BUS_ADDRESS, else
// $XDG_RUNTIME_DIR/bus, as runc's rootless systemd driver finds it
// (libcontainer/cgroups/systemd/user.go). The same rule for create, update
// and delete: the same user runs them all.
bool user_instance() { return g.rootless && unprivileged(); }

std::string bus_name() {
  if (!user_instance()) return "the system bus (" + ward::dbus::Bus::system_address() + ")";
  auto a = ward::dbus::Bus::session_address();
  return "the user bus (" +
         a.value_or("neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set") + ")";
}

ward::dbus::Bus systemd_bus() {
  return user_instance() ? ward::dbus::Bus::session() : ward::dbus::Bus::system();
}

// The unified cgroup of `pid` (a child of ours, so not a reused pid).
std::string cgroup_of(pid_t pid) {
  const std::string f = "/proc/" + std::to_string(pid) + "/cgroup";
  ward::UniqueFd fd(::open(f.c_str(), O_RDONLY | O_CLOEXEC));
  std::string text;
  if (!fd || !read_fd(fd.get(), text))
    fail("--systemd-cgroup: read " + f + ": " + std::string(std::strerror(errno)));
  std::size_t at = text.rfind("0::", 0) == 0 ? 0 : text.find("\n0::");
  if (at == std::string::npos) fail("--systemd-cgroup: " + f + " has no cgroup v2 line (\"0::\")");
  if (at != 0) ++at;
  std::size_t end = text.find('\n', at);
  return text.substr(at + 3, end == std::string::npos ? std::string::npos : end - at - 3);
}

// The OCI resources systemd has properties for, converted as ward's
// cgroupfs writer converts them (oci/resources.hpp, runc's conversions), so
// systemd writes the same values ward would; TasksMax apart (`tasks`, given
// once the child is born). systemd writes these files again whenever it
// realizes the unit (daemon-reload, a SetUnitProperties): a value it has no
// property for would be reset to its default there, which is why each one
// it knows is sent. The rest (hugetlb, rdma, swappiness, blockIO device
// weights and throttles, unified, cpu.idle/burst/realtime) has no property
// in systemd 252 and is written into the delegated cgroup after the unit
// starts (oci::apply_resources writes everything there, these included).
// Devices stay ward's own BPF program in the delegated cgroup, as for
// cgroupfs: systemd's DeviceAllow takes device nodes or "char-NAME" groups
// from /proc/devices, not the major/minor wildcards OCI rules have, and
// its own program would run beside ours (BPF_F_ALLOW_MULTI: both must allow).
ward::systemd::Resources systemd_resources(const ward::oci::Resources& r,
                                           std::optional<std::uint64_t>& tasks) {
  ward::systemd::Resources sr;
  if (r.memory) {
    const auto& m = *r.memory;
    if (m.limit)
      sr.memory_max =
          *m.limit < 0 ? ward::systemd::kInfinity : static_cast<std::uint64_t>(*m.limit);
    if (m.reservation && *m.reservation > 0)
      sr.memory_low = static_cast<std::uint64_t>(*m.reservation);
    // memory+swap to swap alone, as runc's systemd driver (MemorySwapMax).
    if (auto sw = ward::oci::memory_swap_to_v2(m.swap.value_or(0), m.limit.value_or(0),
                                               "linux.resources.memory.swap"))
      sr.memory_swap_max = *sw < 0 ? ward::systemd::kInfinity : static_cast<std::uint64_t>(*sw);
  }
  if (r.cpu) {
    const auto& c = *r.cpu;
    if (auto w = ward::oci::cpu_shares_to_weight(c.shares.value_or(0)); w != 0) sr.cpu_weight = w;
    if (c.quota && *c.quota > 0) {
      sr.cpu_quota_us = *c.quota;
      sr.cpu_period_us = c.period.value_or(100000);
    }
    sr.allowed_cpus = c.cpus;
    sr.allowed_mems = c.mems;
  }
  if (r.block_io && r.block_io->weight.value_or(0) != 0)
    sr.io_weight = ward::oci::blkio_weight_to_io_weight(*r.block_io->weight);
  if (r.pids && r.pids->limit)
    tasks =
        *r.pids->limit < 0 ? ward::systemd::kInfinity : static_cast<std::uint64_t>(*r.pids->limit);
  return sr;
}

// The scope's first process: a child that waits to be killed, and dies
// with us (PR_SET_PDEATHSIG) so that a runtime killed half-way leaves an
// empty scope, which systemd stops. Only async-signal-safe calls after the
// fork.
pid_t start_placeholder() {
  const pid_t parent = ::getpid();
  const pid_t p = ::fork();
  if (p < 0)
    fail("--systemd-cgroup: fork the scope's placeholder process: " +
         std::string(std::strerror(errno)));
  if (p == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(0);
    for (;;) ::pause();
  }
  return p;
}

}  // namespace

std::string systemd_unit_for(const ward::oci::Config& cfg, const std::string& id,
                             std::string* slice) {
  const std::string p = cfg.linux_ ? cfg.linux_->cgroups_path : std::string();
  // runc: system.slice:runc:ID, rootless user.slice:runc:ID.
  const std::string dflt = user_instance() ? "user.slice" : "system.slice";
  ward::systemd::CgroupsPath cp{dflt, "ward", id};
  try {
    if (!p.empty()) cp = ward::systemd::parse_cgroups_path(p);
    if (cp.slice.empty()) cp.slice = dflt;
    (void)ward::systemd::expand_slice(cp.slice);  // "x.slice", no '/', no empty "-" parts
    // A name that is itself a slice makes runc's unit that slice: a unit
    // ward did not make and delete would stop (the host's "system.slice",
    // the root "-.slice"). ward makes scopes only.
    if (cp.name.ends_with(".slice"))
      fail("linux.cgroupsPath \"" + p + "\": the name part \"" + cp.name +
           "\" is a slice; --systemd-cgroup makes the container a scope (slice:prefix:name)");
    std::string unit = ward::systemd::unit_name(cp);  // letters, digits, ":_.-@\\" only
    if (slice) *slice = cp.slice;
    return unit;
  } catch (const Error& e) {
    fail("--systemd-cgroup: linux.cgroupsPath: " + std::string(e.what()));
  }
}

SystemdScope start_systemd_scope(const ward::oci::Config& cfg, const std::string& id) {
  std::string slice;
  // Everything the config names is checked before systemd is asked.
  ward::systemd::ScopeSpec spec;
  spec.unit = systemd_unit_for(cfg, id, &slice);
  spec.slice = slice;
  spec.description = "ward container " + id;
  spec.pids = {::getpid()};
  SystemdScope s;
  std::vector<ward::dbus::Value> props;
  try {
    if (cfg.linux_ && cfg.linux_->resources)
      spec.resources = systemd_resources(*cfg.linux_->resources, s.tasks_max);
    props = ward::systemd::unit_properties(spec);
  } catch (const Error& e) {
    fail("--systemd-cgroup: unit " + spec.unit + ": " + e.what());
  }
  // cgroup v2 only: on a hybrid host systemd's scope is in its v1
  // hierarchies too, which this driver does not follow.
  auto mode = ward::cgroup_mode();
  if (mode != ward::CgroupMode::pure_v2)
    fail(std::string("--systemd-cgroup: ward's systemd driver needs a pure cgroup v2 host; this "
                     "one's cgroups are ") +
         (mode == ward::CgroupMode::hybrid    ? "hybrid (v1 controller hierarchies beside cgroup2)"
          : mode == ward::CgroupMode::v1_only ? "cgroup v1 only"
                                              : "not mounted") +
         " (run without --systemd-cgroup: ward manages cgroupfs itself)");
  // No fallback to cgroupfs: a container the caller asked systemd to hold
  // would otherwise run beside systemd's tree, unknown to it (runc fails too).
  try {
    s.bus = std::make_unique<ward::dbus::Bus>(systemd_bus());
    s.manager = std::make_unique<ward::systemd::Manager>(*s.bus);
  } catch (const std::exception& e) {
    fail("--systemd-cgroup: cannot reach systemd on " + bus_name() + ": " + e.what() +
         (user_instance() ? " (rootless: the user's systemd instance, systemd --user, with its "
                            "bus; or run without --systemd-cgroup)"
                          : " (run without --systemd-cgroup: ward manages cgroupfs itself)"));
  }
  s.holder = start_placeholder();
  s.unit = spec.unit;
  try {
    spec.pids = {s.holder};
    props = ward::systemd::unit_properties(spec);
    s.manager->start_transient_unit(spec.unit, std::move(props));
  } catch (const std::exception& e) {
    // Not ours (it may be another's unit of that name): never stopped.
    fail("--systemd-cgroup: start unit " + spec.unit + " in " + slice + " (" +
         (user_instance() ? "the user's systemd" : "systemd") + "): " + e.what());
  }
  s.armed = true;
  try {
    s.cgroup = s.manager->control_group(spec.unit);
  } catch (const std::exception& e) {
    fail("--systemd-cgroup: unit " + spec.unit + ": ControlGroup: " + e.what());
  }
  if (s.cgroup.empty() || s.cgroup.front() != '/' || s.cgroup.find("/..") != std::string::npos ||
      cgroup_of(s.holder) != s.cgroup)
    fail("--systemd-cgroup: unit " + spec.unit + ": systemd's cgroup \"" + s.cgroup +
         "\" is not the one its first process was moved into (" + cgroup_of(s.holder) + ")");
  return s;
}

void SystemdScope::end_placeholder() noexcept {
  if (holder <= 0) return;
  ::kill(holder, SIGKILL);
  while (::waitpid(holder, nullptr, 0) < 0 && errno == EINTR) {
  }
  holder = -1;
}

void SystemdScope::child_born() {
  end_placeholder();
  if (tasks_max && manager) {
    try {
      manager->set_unit_properties(
          unit, true,
          {ward::systemd::property("TasksMax",
                                   ward::dbus::Value::uint64(*tasks_max == 0 ? 1 : *tasks_max))});
    } catch (const ward::dbus::CallError& e) {
      // A container already gone (its scope with it) has nothing to limit.
      if (e.name() != "org.freedesktop.systemd1.NoSuchUnit")
        fail("--systemd-cgroup: unit " + unit + ": SetUnitProperties TasksMax: " + e.what());
    } catch (const std::exception& e) {
      fail("--systemd-cgroup: unit " + unit + ": SetUnitProperties TasksMax: " + e.what());
    }
  }
}

SystemdScope::~SystemdScope() {
  end_placeholder();
  if (!armed || !manager) return;
  try {
    manager->stop_unit(unit);
  } catch (const std::exception& e) {
    log_line("warning", "--systemd-cgroup: stop unit " + unit + ": " + e.what());
  }
}

void update_systemd_unit(const std::string& unit, const ward::oci::Resources& r) {
  std::optional<std::uint64_t> tasks;
  try {
    auto props = ward::systemd::resource_properties(systemd_resources(r, tasks));
    if (tasks)
      props.push_back(
          ward::systemd::property("TasksMax", ward::dbus::Value::uint64(*tasks == 0 ? 1 : *tasks)));
    if (props.empty()) return;
    ward::dbus::Bus bus = systemd_bus();
    ward::systemd::Manager m(bus);
    m.set_unit_properties(unit, true, std::move(props));
  } catch (const std::exception& e) {
    fail("update: systemd unit " + unit + ": SetUnitProperties: " + e.what());
  }
}

void stop_systemd_unit(const std::string& unit) {
  try {
    ward::dbus::Bus bus = systemd_bus();
    ward::systemd::Manager m(bus);
    m.stop_unit(unit);
  } catch (const std::exception& e) {
    fail("delete: stop systemd unit " + unit + ": " + e.what());
  }
}

}  // namespace wardrt
