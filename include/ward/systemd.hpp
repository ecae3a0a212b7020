// SPDX-License-Identifier: Apache-2.0
// The systemd cgroup driver: on a host where systemd owns the cgroup tree, a
// container's cgroup is a transient scope unit that systemd makes for us
// over D-Bus (org.freedesktop.systemd1.Manager.StartTransientUnit, in the
// slice the caller names, Delegate=yes, the container's pid, the resource
// properties), removed with StopUnit. Same conventions as runc's systemd
// driver: cgroupsPath "slice:prefix:name" names the scope
// "<prefix>-<name>.scope" in "<slice>" (systemd.slice(5): "a-b-c.slice" is
// /a.slice/a-b.slice/a-b-c.slice).
//
//   auto bus = ward::dbus::Bus::system();
//   ward::systemd::Manager sd(bus);
//   ward::systemd::ScopeSpec s;
//   s.unit = "ward-abc.scope", s.slice = "system.slice", s.pids = {pid};
//   sd.start_scope(s);                                    // waits for the job
//   std::string cg = sd.control_group("ward-abc.scope"); // "/system.slice/ward-abc.scope"
//   sd.stop_unit("ward-abc.scope");
//
// Errors name the method and the unit, and carry systemd's reason: a
// ward::dbus::CallError for an error reply, a ward::Error (Step::systemd)
// for a job that ended other than "done" or did not end in time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <ward/cgroup.hpp>
#include <ward/dbus.hpp>
#include <ward/error.hpp>

namespace ward::systemd {

using dbus::Value;

inline constexpr const char* kService = "org.freedesktop.systemd1";
inline constexpr const char* kPath = "/org/freedesktop/systemd1";
inline constexpr const char* kManager = "org.freedesktop.systemd1.Manager";
inline constexpr std::uint64_t kInfinity = UINT64_MAX;  // systemd's USEC_INFINITY / "infinity"

// ---------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------

// The characters systemd allows in a unit name (unit_name_is_valid):
// [A-Za-z0-9:_.\-@] (and '\' for escapes), at most 255 bytes.
inline bool valid_unit_name(std::string_view n) {
  if (n.empty() || n.size() > 255) return false;
  for (char c : n) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == ':' || c == '_' || c == '.' || c == '-' || c == '\\' || c == '@';
    if (!ok) return false;
  }
  auto dot = n.rfind('.');
  return dot != std::string_view::npos && dot > 0 && dot + 1 < n.size();
}

// "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice"; "-.slice" -> "/".
// Invalid (no ".slice", '/', empty components as in "a--b.slice" or
// "-a.slice") is a ward::Error naming the slice.
inline std::string expand_slice(std::string_view slice) {
  auto bad = [&](const char* why) -> std::string {
    throw Error(Step::validate, EINVAL, "slice \"" + std::string(slice) + "\"", why);
  };
  constexpr std::string_view suffix = ".slice";
  if (slice.size() <= suffix.size() || slice.substr(slice.size() - suffix.size()) != suffix)
    return bad("a slice name ends with .slice and has a name before it");
  if (!valid_unit_name(slice)) return bad("not a valid unit name");
  std::string_view base = slice.substr(0, slice.size() - suffix.size());
  if (base == "-") return "/";
  std::string path, prefix;
  std::size_t start = 0;
  while (start <= base.size()) {
    std::size_t dash = base.find('-', start);
    if (dash == std::string_view::npos) dash = base.size();
    if (dash == start) return bad("empty component (leading, trailing or double '-')");
    std::string_view comp = base.substr(start, dash - start);
    if (!prefix.empty()) prefix += '-';
    prefix += comp;
    path += '/';
    path += prefix;
    path += ".slice";
    start = dash + 1;
  }
  return path;
}

// runc's cgroupsPath for the systemd driver: "slice:prefix:name".
struct CgroupsPath {
  std::string slice;  // empty: the caller's default (system.slice as root)
  std::string prefix;
  std::string name;
};

inline CgroupsPath parse_cgroups_path(std::string_view path) {
  auto c1 = path.find(':');
  auto c2 = c1 == std::string_view::npos ? c1 : path.find(':', c1 + 1);
  if (c2 == std::string_view::npos || path.find(':', c2 + 1) != std::string_view::npos)
    throw Error(Step::validate, EINVAL, "cgroupsPath \"" + std::string(path) + "\"",
                "the systemd driver expects \"slice:prefix:name\"");
  CgroupsPath p{std::string(path.substr(0, c1)), std::string(path.substr(c1 + 1, c2 - c1 - 1)),
                std::string(path.substr(c2 + 1))};
  if (p.name.empty())
    throw Error(Step::validate, EINVAL, "cgroupsPath \"" + std::string(path) + "\"",
                "the name part is empty");
  return p;
}

// The unit of a cgroupsPath: "<prefix>-<name>.scope" (or "<name>.scope"
// without a prefix); a name that ends in ".slice" is itself the unit, as in
// runc.
inline std::string unit_name(const CgroupsPath& p) {
  std::string u;
  if (p.name.size() > 6 && p.name.ends_with(".slice"))
    u = p.name;
  else
    u = (p.prefix.empty() ? "" : p.prefix + "-") + p.name + ".scope";
  if (!valid_unit_name(u))
    throw Error(Step::validate, EINVAL, "unit \"" + u + "\"",
                "not a valid systemd unit name (letters, digits, \":_.-@\", at most 255 bytes)");
  return u;
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

// One StartTransientUnit property: a (sv) struct.
inline Value property(std::string name, Value v) {
  return Value::structure({Value::string(std::move(name)), Value::variant(std::move(v))});
}

// A cpuset list ("0-3,7") as systemd's AllowedCPUs / AllowedMemoryNodes
// bitmask: bit i of byte i/8 is CPU (node) i.
inline std::vector<std::uint8_t> cpuset_bits(std::string_view list, std::string_view field) {
  std::vector<std::uint8_t> bits;
  auto bad = [&](const std::string& why) {
    throw Error(Step::validate, EINVAL, std::string(field) + " \"" + std::string(list) + "\"", why);
  };
  auto number = [&](std::string_view s) -> std::uint32_t {
    if (s.empty() || s.size() > 5) bad("bad number \"" + std::string(s) + "\"");
    std::uint32_t v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') bad("bad number \"" + std::string(s) + "\"");
      v = v * 10 + static_cast<std::uint32_t>(c - '0');
    }
    if (v >= 8192) bad("CPU or node " + std::to_string(v) + " is above 8191");
    return v;
  };
  std::size_t start = 0;
  while (start < list.size()) {
    std::size_t comma = list.find(',', start);
    if (comma == std::string_view::npos) comma = list.size();
    std::string_view part = list.substr(start, comma - start);
    std::size_t dash = part.find('-');
    std::uint32_t lo = number(part.substr(0, dash));
    std::uint32_t hi = dash == std::string_view::npos ? lo : number(part.substr(dash + 1));
    if (hi < lo) bad("range " + std::string(part) + " is backwards");
    if (bits.size() < hi / 8 + 1) bits.resize(hi / 8 + 1, 0);
    for (std::uint32_t i = lo; i <= hi; ++i)
      bits[i / 8] |= static_cast<std::uint8_t>(1u << (i % 8));
    start = comma + 1;
    if (comma + 1 == list.size()) bad("trailing ','");
  }
  if (bits.empty()) bad("empty list");
  return bits;
}

// The resources systemd has properties for (systemd.resource-control(5)).
// Units as in cgroup v2: bytes, a weight 1-10000, microseconds.
struct Resources {
  std::optional<std::uint64_t> memory_max;       // MemoryMax (kInfinity: no limit)
  std::optional<std::uint64_t> memory_low;       // MemoryLow
  std::optional<std::uint64_t> memory_swap_max;  // MemorySwapMax (swap alone, as memory.swap.max)
  std::optional<std::uint64_t> cpu_weight;       // CPUWeight, 1-10000
  // CPU bandwidth: quota per period, as cpu.max. A quota of -1 means none.
  std::optional<std::int64_t> cpu_quota_us;
  std::uint64_t cpu_period_us = 0;                 // 0: systemd's default (100 ms)
  std::optional<std::uint64_t> tasks_max;          // TasksMax
  std::string allowed_cpus;                        // AllowedCPUs, a cpuset list "0-3,7"
  std::string allowed_mems;                        // AllowedMemoryNodes
  std::optional<std::uint64_t> io_weight;          // IOWeight, 1-10000
  std::optional<std::vector<DeviceRule>> devices;  // DevicePolicy + DeviceAllow
};

// CPUQuotaPerSecUSec from a cpu.max quota and period. systemd keeps the
// quota as a percentage internally, so a fraction of a percent is rounded
// up to the next 10 ms per second (as runc does), never down: the
// container gets at least what it asked for.
inline std::uint64_t cpu_quota_per_sec(std::int64_t quota_us, std::uint64_t period_us) {
  if (quota_us < 0) return kInfinity;
  if (period_us == 0) period_us = 100000;
  std::uint64_t per_sec = static_cast<std::uint64_t>(quota_us) * 1000000 / period_us;
  if (per_sec % 10000 != 0) per_sec = (per_sec / 10000 + 1) * 10000;
  return per_sec;
}

// DevicePolicy and DeviceAllow from an OCI device rule list, read in order
// as the kernel's device cgroup would: "deny all" then allows (runc's and
// ward's default list) becomes DevicePolicy=strict with one DeviceAllow per
// allow; "allow all" at the end becomes DevicePolicy=auto. What systemd
// cannot express (a deny rule after an allow, other than "deny all") is an
// error naming the rule: a device list systemd would widen is refused, not
// approximated.
inline std::vector<Value> device_properties(const std::vector<DeviceRule>& rules) {
  bool allow_all = true;  // a cgroup starts with every device allowed
  std::vector<Value> allow;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const DeviceRule& r = rules[i];
    std::string access = r.access.empty() ? "rwm" : r.access;
    std::string what = "devices[" + std::to_string(i) + "]";
    for (char c : access)
      if (c != 'r' && c != 'w' && c != 'm')
        throw Error(Step::validate, EINVAL, what, "access \"" + access + "\" is not of rwm");
    bool everything = r.type == 'a' || (r.major < 0 && r.minor < 0);
    bool full = access.find('r') != std::string::npos && access.find('w') != std::string::npos &&
                access.find('m') != std::string::npos;
    if (!r.allow) {
      if (r.type == 'a' && r.major < 0 && r.minor < 0 && full) {
        allow_all = false;
        allow.clear();
        continue;
      }
      throw Error(Step::validate, EINVAL, what,
                  "systemd's DeviceAllow cannot express a deny rule other than \"deny all\"");
    }
    if (r.type == 'a') {
      if (full && r.major < 0 && r.minor < 0) {
        allow_all = true;
        allow.clear();
        continue;
      }
      throw Error(Step::validate, EINVAL, what,
                  "type 'a' with a major, minor or partial access cannot be given to systemd");
    }
    if (allow_all) continue;  // already allowed
    if (r.type != 'c' && r.type != 'b')
      throw Error(Step::validate, EINVAL, what, "device type must be a, b or c");
    std::string group = r.type == 'c' ? "char-" : "block-";
    std::string path;
    if (everything) {
      path = group + "*";
    } else if (r.major < 0) {
      throw Error(Step::validate, EINVAL, what, "systemd has no rule for \"*:minor\"");
    } else if (r.minor < 0) {
      path = group + std::to_string(r.major);  // systemd >= 240
    } else {
      path = std::string(r.type == 'c' ? "/dev/char/" : "/dev/block/") + std::to_string(r.major) +
             ":" + std::to_string(r.minor);
    }
    allow.push_back(Value::structure({Value::string(path), Value::string(access)}));
  }
  if (allow_all)
    return {property("DevicePolicy", Value::string("auto")),
            property("DeviceAllow", Value::array("(ss)", {}))};
  return {property("DevicePolicy", Value::string("strict")),
          property("DeviceAllow", Value::array("(ss)", std::move(allow)))};
}

inline std::vector<Value> resource_properties(const Resources& r) {
  std::vector<Value> p;
  auto weight = [](const char* name, std::uint64_t w) {
    if (w < 1 || w > 10000)
      throw Error(Step::validate, EINVAL, name,
                  std::to_string(w) + " is outside systemd's 1-10000");
  };
  if (r.memory_max) p.push_back(property("MemoryMax", Value::uint64(*r.memory_max)));
  if (r.memory_low) p.push_back(property("MemoryLow", Value::uint64(*r.memory_low)));
  if (r.memory_swap_max) p.push_back(property("MemorySwapMax", Value::uint64(*r.memory_swap_max)));
  if (r.cpu_weight) {
    weight("CPUWeight", *r.cpu_weight);
    p.push_back(property("CPUWeight", Value::uint64(*r.cpu_weight)));
  }
  if (r.cpu_period_us != 0) {
    if (r.cpu_period_us < 1000 || r.cpu_period_us > 1000000)
      throw Error(Step::validate, EINVAL, "CPUQuotaPeriodUSec",
                  std::to_string(r.cpu_period_us) + " us is outside the kernel's 1 ms - 1 s");
    p.push_back(property("CPUQuotaPeriodUSec", Value::uint64(r.cpu_period_us)));
  }
  if (r.cpu_quota_us || r.cpu_period_us != 0)
    p.push_back(property("CPUQuotaPerSecUSec", Value::uint64(cpu_quota_per_sec(
                                                   r.cpu_quota_us.value_or(-1), r.cpu_period_us))));
  if (r.tasks_max)  // systemd refuses TasksMax=0; the kernel's pids.max 0 is "none" too
    p.push_back(property("TasksMax", Value::uint64(*r.tasks_max == 0 ? 1 : *r.tasks_max)));
  if (!r.allowed_cpus.empty())
    p.push_back(property("AllowedCPUs", Value::bytes(cpuset_bits(r.allowed_cpus, "AllowedCPUs"))));
  if (!r.allowed_mems.empty())
    p.push_back(property("AllowedMemoryNodes",
                         Value::bytes(cpuset_bits(r.allowed_mems, "AllowedMemoryNodes"))));
  if (r.io_weight) {
    weight("IOWeight", *r.io_weight);
    p.push_back(property("IOWeight", Value::uint64(*r.io_weight)));
  }
  if (r.devices)
    for (auto& d : device_properties(*r.devices)) p.push_back(std::move(d));
  return p;
}

// A transient scope (or slice) unit.
struct ScopeSpec {
  std::string unit;         // "ward-ID.scope" (or "name.slice": a slice unit)
  std::string slice;        // the parent slice; empty: systemd's default for the unit
  std::string description;  // empty: "ward container <unit>"
  std::vector<pid_t> pids;  // the processes to move in (a scope needs at least one)
  bool delegate = true;     // Delegate=yes (scopes only): the cgroup below the unit is ours
  Resources resources;
  std::vector<Value> extra;  // more (sv) properties, passed as they are
};

// Every property of StartTransientUnit for `s`, in the order sent.
inline std::vector<Value> unit_properties(const ScopeSpec& s) {
  if (!valid_unit_name(s.unit))
    throw Error(Step::validate, EINVAL, "unit \"" + s.unit + "\"", "not a valid systemd unit name");
  bool is_slice = s.unit.ends_with(".slice");
  if (!is_slice && !s.unit.ends_with(".scope"))
    throw Error(Step::validate, EINVAL, "unit \"" + s.unit + "\"",
                "the systemd driver makes .scope and .slice units only");
  std::vector<Value> p;
  p.push_back(
      property("Description",
               Value::string(s.description.empty() ? "ward container " + s.unit : s.description)));
  if (!s.slice.empty()) {
    (void)expand_slice(s.slice);  // validates, naming the slice
    if (is_slice)
      p.push_back(property("Wants", Value::strings({s.slice})));
    else
      p.push_back(property("Slice", Value::string(s.slice)));
  }
  if (!is_slice) {
    if (s.pids.empty())
      throw Error(Step::validate, EINVAL, "unit \"" + s.unit + "\"",
                  "a scope needs at least one process (PIDs)");
    std::vector<std::uint32_t> pids;
    for (pid_t pid : s.pids) {
      if (pid <= 0)
        throw Error(Step::validate, EINVAL, "unit \"" + s.unit + "\"",
                    "pid " + std::to_string(pid) + " is not a process");
      pids.push_back(static_cast<std::uint32_t>(pid));
    }
    p.push_back(property("PIDs", Value::uint32s(pids)));
  }
  // systemd refuses Delegate on a slice ("Delegation not available for unit
  // type"): a slice's children are units, not ours.
  if (s.delegate && !is_slice) p.push_back(property("Delegate", Value::boolean(true)));
  for (const char* acct : {"MemoryAccounting", "CPUAccounting", "IOAccounting", "TasksAccounting"})
    p.push_back(property(acct, Value::boolean(true)));
  // No implicit dependencies on basic.target/shutdown.target: a container's
  // scope is started and stopped by its runtime alone (as runc does).
  p.push_back(property("DefaultDependencies", Value::boolean(false)));
  for (auto& r : resource_properties(s.resources)) p.push_back(std::move(r));
  for (const auto& e : s.extra) p.push_back(e);
  return p;
}

// ---------------------------------------------------------------------------
// The manager
// ---------------------------------------------------------------------------

class Manager {
 public:
  using Duration = std::chrono::milliseconds;

  // Resolves systemd's unique name on `bus` and subscribes to JobRemoved.
  // Every call goes to that unique name, so every reply and JobRemoved
  // signal must come from it: another peer on the bus cannot answer for
  // systemd (dbus::Bus::call checks replies; wait_job checks signals).
  explicit Manager(dbus::Bus& bus, Duration job_timeout = Duration(30000),
                   Duration call_timeout = dbus::Bus::kDefaultTimeout)
      : bus_(bus), job_timeout_(job_timeout), call_timeout_(call_timeout) {
    owner_ = bus_.name_owner(kService, call_timeout_);
    bus_.add_match(std::string("type='signal',sender='") + kService + "',path='" + kPath +
                       "',interface='" + kManager + "',member='JobRemoved'",
                   call_timeout_);
  }

  const std::string& owner() const noexcept { return owner_; }

  // StartTransientUnit(unit, "replace", properties, []) and the job's end.
  void start_scope(const ScopeSpec& s) { start_transient_unit(s.unit, unit_properties(s)); }

  void start_transient_unit(const std::string& unit, std::vector<Value> properties) {
    Message r = call("StartTransientUnit",
                     {Value::string(unit), Value::string("replace"),
                      Value::array("(sv)", std::move(properties)), Value::array("(sa(sv))", {})},
                     unit);
    wait_job("StartTransientUnit", unit, job_of(r, "StartTransientUnit", unit));
  }

  // SetUnitProperties(unit, runtime, properties): changes a unit's
  // properties (runtime: until the next boot only).
  void set_unit_properties(const std::string& unit, bool runtime, std::vector<Value> properties) {
    call(
        "SetUnitProperties",
        {Value::string(unit), Value::boolean(runtime), Value::array("(sv)", std::move(properties))},
        unit);
  }

  // StopUnit(unit, "replace"), waits for the job, then ResetFailedUnit so a
  // failed unit does not linger. A unit that is already gone is no error.
  void stop_unit(const std::string& unit) {
    try {
      Message r = call("StopUnit", {Value::string(unit), Value::string("replace")}, unit);
      wait_job("StopUnit", unit, job_of(r, "StopUnit", unit));
    } catch (const dbus::CallError& e) {
      if (e.name() != "org.freedesktop.systemd1.NoSuchUnit") throw;
    }
    reset_failed(unit);
  }

  void reset_failed(const std::string& unit) {
    try {
      call("ResetFailedUnit", {Value::string(unit)}, unit);
    } catch (const dbus::CallError& e) {
      if (e.name() != "org.freedesktop.systemd1.NoSuchUnit") throw;
    }
  }

  // The object path of a loaded unit (GetUnit); a CallError NoSuchUnit if
  // it is not loaded.
  std::string unit_path(const std::string& unit) {
    Message r = call("GetUnit", {Value::string(unit)}, unit);
    if (r.body.size() != 1 || r.body[0].type != "o")
      throw Error(Step::systemd, EBADMSG, "GetUnit " + unit, "reply is not an object path");
    return r.body[0].text;
  }

  // org.freedesktop.DBus.Properties.Get of a unit's property, e.g.
  // ("org.freedesktop.systemd1.Scope", "MemoryMax").
  Value unit_property(const std::string& unit, const std::string& interface,
                      const std::string& name) {
    std::string path = unit_path(unit);
    Message m;
    m.destination = owner_;
    m.path = path;
    m.interface = "org.freedesktop.DBus.Properties";
    m.member = "Get";
    m.body = {Value::string(interface), Value::string(name)};
    Message r = bus_.call(m, call_timeout_, unit + " " + name);
    if (r.body.size() != 1 || r.body[0].type != "v")
      throw Error(Step::systemd, EBADMSG, "Get " + unit + " " + name, "reply is not a variant");
    return r.body[0].items.at(0);
  }

  // The unit's cgroup, relative to the cgroup2 mount ("/system.slice/x.scope").
  std::string control_group(const std::string& unit) {
    std::string iface = unit.ends_with(".slice") ? "org.freedesktop.systemd1.Slice"
                                                 : "org.freedesktop.systemd1.Scope";
    Value v = unit_property(unit, iface, "ControlGroup");
    if (v.type != "s") throw Error(Step::systemd, EBADMSG, unit, "ControlGroup is not a string");
    return v.text;
  }

 private:
  using Message = dbus::Message;

  Message call(const char* member, std::vector<Value> args, const std::string& unit) {
    return bus_.call(owner_, kPath, kManager, member, std::move(args), call_timeout_, unit);
  }

  static std::string job_of(const Message& r, const char* method, const std::string& unit) {
    if (r.body.size() != 1 || r.body[0].type != "o")
      throw Error(Step::systemd, EBADMSG, std::string(method) + " " + unit,
                  "reply is not a job object path");
    return r.body[0].text;
  }

  // Waits for JobRemoved(id, job, unit, result) of `job` from systemd itself.
  void wait_job(const char* method, const std::string& unit, const std::string& job) {
    auto deadline = dbus::Clock::now() + job_timeout_;
    auto got = bus_.wait_for(
        [&](const Message& m) {
          return m.type == dbus::MessageType::signal && m.sender == owner_ && m.path == kPath &&
                 m.interface == kManager && m.member == "JobRemoved" && m.signature == "uoss" &&
                 m.body[1].text == job;
        },
        deadline);
    if (!got) {
      reset_failed_quietly(unit);
      throw Error(
          Step::systemd, ETIMEDOUT, std::string(method) + " " + unit,
          "job " + job + " did not finish within " + std::to_string(job_timeout_.count()) + " ms");
    }
    const std::string& result = got->body[3].text;
    if (result != "done") {
      reset_failed_quietly(unit);
      throw Error(Step::systemd, EIO, std::string(method) + " " + unit,
                  "job " + job + " finished with result \"" + result + "\"" +
                      (result == "dependency" ? " (a unit it needs, e.g. its slice, failed)" : ""));
    }
  }

  void reset_failed_quietly(const std::string& unit) {
    try {
      reset_failed(unit);
    } catch (const Error&) {
    }
  }

  dbus::Bus& bus_;
  Duration job_timeout_;
  Duration call_timeout_;
  std::string owner_;
};

}  // namespace ward::systemd
