// SPDX-License-Identifier: Apache-2.0
// OCI runtime-spec documents as plain C++ values: config.json (runtime-spec
// 1.0 to 1.2), the container state, the features document, and mount
// option strings.
//
//   oci::Config cfg = oci::load_config(bundle / "config.json");
//   for (const oci::Mount& m : cfg.mounts) {
//     oci::MountOptions o = oci::parse_mount_options(m.options);   // bind, flags, data
//   }
//   if (cfg.linux_ && cfg.linux_->seccomp) SeccompProfile p = *oci::seccomp_profile(cfg);
//
// This is the data layer only: it reads, validates and keeps values exactly
// (64-bit limits as int64/uint64, -1 meaning unlimited where the spec says
// so); turning a Config into a Sandbox is done elsewhere.
//
// Reading follows the spec's rules:
//  - Unknown properties are ignored (config.md "Extensibility": runtimes
//    "MUST otherwise ignore them"); a member whose value is null counts as
//    absent, as in the Go bindings (specs-go) runc and crun are built on.
//  - Invalid values are errors (config.md "Valid values": "Runtimes MUST
//    generate an error when invalid or unsupported values are
//    encountered"). Every error is a ward::Error (a json::FieldError) whose
//    message names the JSON path and the reason:
//      ward: validate config.json: Invalid argument (EINVAL):
//      linux.resources.memory.limit: expected an integer
//  - Where the spec changed a rule between versions, the config's own
//    ociVersion decides: relative mount destinations are errors before 1.2
//    and, from 1.2 on, taken relative to "/" with a warning. Unknown
//    capability names are warnings (Config::warnings) in every version, as
//    in runc and crun (1.0 asked for an error).
//  - Values the spec allows but ward cannot honour (AppArmor, SELinux, Intel
//    RDT, cgroup-v1-only knobs) are kept and listed by unsupported(), so the
//    caller decides whether that is an error.
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ward/capabilities.hpp>
#include <ward/detail/syscall_tables.hpp>
#include <ward/error.hpp>
#include <ward/net_device.hpp>
#include <ward/oci/detail/check.hpp>
#include <ward/oci/json.hpp>
#include <ward/oci/seccomp_profile.hpp>
#include <ward/rlimit.hpp>

namespace ward::oci {

// The runtime-spec versions ward reads (features.md "Specification
// version"). 1.2.1 added process.execCPUAffinity; 1.3.0 linux.memoryPolicy,
// linux.netDevices, intelRdt.schemata/enableMonitoring, pids.limit 0 as a
// real limit and a failing poststart hook failing `start`.
inline constexpr std::string_view kOciVersionMin = "1.0.0";
inline constexpr std::string_view kOciVersionMax = "1.3.0";

// ===========================================================================
// Mount options
// ===========================================================================

// Per-mount flags an option string sets or clears, named after the option
// that sets them. Neutral on purpose: the mount layer maps them to MS_* or
// MOUNT_ATTR_* as it needs.
enum class MountFlag : std::uint32_t {
  ro = 1u << 0,
  nosuid = 1u << 1,
  nodev = 1u << 2,
  noexec = 1u << 3,
  sync = 1u << 4,  // MS_SYNCHRONOUS
  dirsync = 1u << 5,
  mand = 1u << 6,
  nodiratime = 1u << 7,
  nosymfollow = 1u << 8,
  silent = 1u << 9,
  iversion = 1u << 10,
  lazytime = 1u << 11,
  acl = 1u << 12,  // MS_POSIXACL
};

class MountFlags {
 public:
  constexpr MountFlags() = default;
  constexpr MountFlags(std::initializer_list<MountFlag> fs) {
    for (MountFlag f : fs) add(f);
  }
  constexpr bool contains(MountFlag f) const noexcept {
    return (bits_ & static_cast<std::uint32_t>(f)) != 0;
  }
  constexpr MountFlags& add(MountFlag f) noexcept {
    bits_ |= static_cast<std::uint32_t>(f);
    return *this;
  }
  constexpr MountFlags& remove(MountFlag f) noexcept {
    bits_ &= ~static_cast<std::uint32_t>(f);
    return *this;
  }
  constexpr bool empty() const noexcept { return bits_ == 0; }
  constexpr std::uint32_t mask() const noexcept { return bits_; }
  constexpr bool operator==(const MountFlags&) const = default;

 private:
  std::uint32_t bits_ = 0;
};

// Access-time behaviour (mount(8) "FILESYSTEM-INDEPENDENT MOUNT OPTIONS");
// the three modes exclude each other, as MOUNT_ATTR__ATIME does.
// `unchanged`: no option chose one (the kernel default, relatime, for a new
// mount; the current mode for a remount or bind).
enum class Atime : std::uint8_t { unchanged, relatime, noatime, strictatime };

// Mount propagation (Documentation/filesystems/sharedsubtree.rst).
enum class Propagation : std::uint8_t { unchanged, shared, slave, private_, unbindable };

constexpr std::string_view to_string(Atime a) noexcept {
  switch (a) {
    case Atime::unchanged: return "unchanged";
    case Atime::relatime: return "relatime";
    case Atime::noatime: return "noatime";
    case Atime::strictatime: return "strictatime";
  }
  return "?";
}

constexpr std::string_view to_string(Propagation p) noexcept {
  switch (p) {
    case Propagation::unchanged: return "unchanged";
    case Propagation::shared: return "shared";
    case Propagation::slave: return "slave";
    case Propagation::private_: return "private";
    case Propagation::unbindable: return "unbindable";
  }
  return "?";
}

// A mount's `options` array, sorted into what each string means, following
// runtime-spec config.md "Linux mount options" and what runc accepts.
// Later options override earlier ones where they conflict ("ro" then "rw"
// is rw), as they do in mount(8).
struct MountOptions {
  bool bind = false;       // "bind" or "rbind"
  bool recursive = false;  // "rbind": submounts too
  bool remount = false;
  // Flags for this mount: set and clear are disjoint; a flag in neither was
  // not mentioned.
  MountFlags set, clear;
  Atime atime = Atime::unchanged;
  // The "r" options (rro, rnosuid, rnoatime...): applied to the mount and
  // every submount (mount_setattr(2) with AT_RECURSIVE, Linux 5.12).
  MountFlags recursive_set, recursive_clear;
  Atime recursive_atime = Atime::unchanged;
  // private/rprivate/shared/...: the last one wins.
  Propagation propagation = Propagation::unchanged;
  bool propagation_recursive = false;
  // "idmap"/"ridmap": an id-mapped mount (never passed to mount(2)).
  bool idmap = false;
  bool idmap_recursive = false;
  bool tmpcopyup = false;  // crun's: copy the directory's contents into the new tmpfs
  // Everything else, in order: filesystem-specific options for mount(2)'s
  // data argument (config.md: "Runtimes SHOULD treat unknown options as
  // filesystem-specific ones"), e.g. {"mode=755", "size=65536k"}.
  std::vector<std::string> data;

  // data joined by commas, as mount(2) takes it: "mode=755,size=65536k".
  std::string data_string() const {
    std::string s;
    for (const auto& d : data) {
      if (!s.empty()) s += ',';
      s += d;
    }
    return s;
  }
  bool operator==(const MountOptions&) const = default;
};

namespace detail {

enum class OptKind : std::uint8_t {
  none,  // "defaults": nothing
  set,
  clear,
  rset,
  rclear,
  atime,
  atime_clear,  // "atime", "norelatime", "nostrictatime": leave that mode
  ratime,
  ratime_clear,
  bind,
  rbind,
  remount,
  propagation,
  rpropagation,
  idmap,
  ridmap,
  tmpcopyup,
};

struct OptInfo {
  std::string_view name;
  OptKind kind;
  std::uint32_t value;  // MountFlag bits, an Atime or a Propagation
};

constexpr std::uint32_t fl(MountFlag f) noexcept { return static_cast<std::uint32_t>(f); }
constexpr std::uint32_t at(Atime a) noexcept { return static_cast<std::uint32_t>(a); }
constexpr std::uint32_t pr(Propagation p) noexcept { return static_cast<std::uint32_t>(p); }

// Every option string ward recognizes, sorted by name; features_json()
// lists exactly these. runtime-spec config.md "Linux mount options" has the
// MUST/SHOULD/MAY table; "acl"/"noacl" are runc's.
inline constexpr OptInfo kMountOptionTable[] = {
    {"acl", OptKind::set, fl(MountFlag::acl)},
    {"async", OptKind::clear, fl(MountFlag::sync)},
    {"atime", OptKind::atime_clear, at(Atime::noatime)},
    {"bind", OptKind::bind, 0},
    {"defaults", OptKind::none, 0},
    {"dev", OptKind::clear, fl(MountFlag::nodev)},
    {"diratime", OptKind::clear, fl(MountFlag::nodiratime)},
    {"dirsync", OptKind::set, fl(MountFlag::dirsync)},
    {"exec", OptKind::clear, fl(MountFlag::noexec)},
    {"idmap", OptKind::idmap, 0},
    {"iversion", OptKind::set, fl(MountFlag::iversion)},
    {"lazytime", OptKind::set, fl(MountFlag::lazytime)},
    {"loud", OptKind::clear, fl(MountFlag::silent)},
    {"mand", OptKind::set, fl(MountFlag::mand)},
    {"noacl", OptKind::clear, fl(MountFlag::acl)},
    {"noatime", OptKind::atime, at(Atime::noatime)},
    {"nodev", OptKind::set, fl(MountFlag::nodev)},
    {"nodiratime", OptKind::set, fl(MountFlag::nodiratime)},
    {"noexec", OptKind::set, fl(MountFlag::noexec)},
    {"noiversion", OptKind::clear, fl(MountFlag::iversion)},
    {"nolazytime", OptKind::clear, fl(MountFlag::lazytime)},
    {"nomand", OptKind::clear, fl(MountFlag::mand)},
    {"norelatime", OptKind::atime_clear, at(Atime::relatime)},
    {"nostrictatime", OptKind::atime_clear, at(Atime::strictatime)},
    {"nosuid", OptKind::set, fl(MountFlag::nosuid)},
    {"nosymfollow", OptKind::set, fl(MountFlag::nosymfollow)},
    {"private", OptKind::propagation, pr(Propagation::private_)},
    {"ratime", OptKind::ratime_clear, at(Atime::noatime)},
    {"rbind", OptKind::rbind, 0},
    {"rdev", OptKind::rclear, fl(MountFlag::nodev)},
    {"rdiratime", OptKind::rclear, fl(MountFlag::nodiratime)},
    {"relatime", OptKind::atime, at(Atime::relatime)},
    {"remount", OptKind::remount, 0},
    {"rexec", OptKind::rclear, fl(MountFlag::noexec)},
    {"ridmap", OptKind::ridmap, 0},
    {"rnoatime", OptKind::ratime, at(Atime::noatime)},
    {"rnodev", OptKind::rset, fl(MountFlag::nodev)},
    {"rnodiratime", OptKind::rset, fl(MountFlag::nodiratime)},
    {"rnoexec", OptKind::rset, fl(MountFlag::noexec)},
    {"rnorelatime", OptKind::ratime_clear, at(Atime::relatime)},
    {"rnostrictatime", OptKind::ratime_clear, at(Atime::strictatime)},
    {"rnosuid", OptKind::rset, fl(MountFlag::nosuid)},
    {"rnosymfollow", OptKind::rset, fl(MountFlag::nosymfollow)},
    {"ro", OptKind::set, fl(MountFlag::ro)},
    {"rprivate", OptKind::rpropagation, pr(Propagation::private_)},
    {"rrelatime", OptKind::ratime, at(Atime::relatime)},
    {"rro", OptKind::rset, fl(MountFlag::ro)},
    {"rrw", OptKind::rclear, fl(MountFlag::ro)},
    {"rshared", OptKind::rpropagation, pr(Propagation::shared)},
    {"rslave", OptKind::rpropagation, pr(Propagation::slave)},
    {"rstrictatime", OptKind::ratime, at(Atime::strictatime)},
    {"rsuid", OptKind::rclear, fl(MountFlag::nosuid)},
    {"rsymfollow", OptKind::rclear, fl(MountFlag::nosymfollow)},
    {"runbindable", OptKind::rpropagation, pr(Propagation::unbindable)},
    {"rw", OptKind::clear, fl(MountFlag::ro)},
    {"shared", OptKind::propagation, pr(Propagation::shared)},
    {"silent", OptKind::set, fl(MountFlag::silent)},
    {"slave", OptKind::propagation, pr(Propagation::slave)},
    {"strictatime", OptKind::atime, at(Atime::strictatime)},
    {"suid", OptKind::clear, fl(MountFlag::nosuid)},
    {"symfollow", OptKind::clear, fl(MountFlag::nosymfollow)},
    {"sync", OptKind::set, fl(MountFlag::sync)},
    {"tmpcopyup", OptKind::tmpcopyup, 0},
    {"unbindable", OptKind::propagation, pr(Propagation::unbindable)},
};

constexpr const OptInfo* find_mount_option(std::string_view name) noexcept {
  for (const OptInfo& o : kMountOptionTable)
    if (o.name == name) return &o;
  return nullptr;
}

inline void flag_on(MountFlags& on, MountFlags& off, std::uint32_t bits) {
  const auto f = static_cast<MountFlag>(bits);
  on.add(f);
  off.remove(f);
}

}  // namespace detail

// Sorts a mount's option strings (see MountOptions). Never fails: a string
// that is no known option is filesystem data, as in runc. Empty strings
// are skipped (mount(8) ignores empty items in "-o a,,b").
inline MountOptions parse_mount_options(const std::vector<std::string>& options) {
  using detail::OptKind;
  MountOptions o;
  for (const std::string& s : options) {
    if (s.empty()) continue;
    const detail::OptInfo* info = detail::find_mount_option(s);
    if (!info) {
      o.data.push_back(s);
      continue;
    }
    switch (info->kind) {
      case OptKind::none: break;
      case OptKind::set: detail::flag_on(o.set, o.clear, info->value); break;
      case OptKind::clear: detail::flag_on(o.clear, o.set, info->value); break;
      case OptKind::rset: detail::flag_on(o.recursive_set, o.recursive_clear, info->value); break;
      case OptKind::rclear: detail::flag_on(o.recursive_clear, o.recursive_set, info->value); break;
      case OptKind::atime: o.atime = static_cast<Atime>(info->value); break;
      case OptKind::atime_clear:
        // "norelatime" undoes "relatime" given earlier, and so on; it does
        // not pick another mode.
        if (o.atime == static_cast<Atime>(info->value)) o.atime = Atime::unchanged;
        break;
      case OptKind::ratime: o.recursive_atime = static_cast<Atime>(info->value); break;
      case OptKind::ratime_clear:
        if (o.recursive_atime == static_cast<Atime>(info->value))
          o.recursive_atime = Atime::unchanged;
        break;
      case OptKind::bind: o.bind = true; break;
      case OptKind::rbind:
        o.bind = true;
        o.recursive = true;
        break;
      case OptKind::remount: o.remount = true; break;
      case OptKind::propagation:
      case OptKind::rpropagation:
        o.propagation = static_cast<Propagation>(info->value);
        o.propagation_recursive = info->kind == OptKind::rpropagation;
        break;
      case OptKind::idmap: o.idmap = true; break;
      case OptKind::ridmap:
        o.idmap = true;
        o.idmap_recursive = true;
        break;
      case OptKind::tmpcopyup: o.tmpcopyup = true; break;
    }
  }
  return o;
}

// The option strings parse_mount_options() recognizes, sorted.
inline std::vector<std::string_view> mount_option_names() {
  std::vector<std::string_view> out;
  for (const auto& o : detail::kMountOptionTable) out.push_back(o.name);
  return out;
}

// ===========================================================================
// config.json
// ===========================================================================

// config-linux.md "User namespace mappings" (also a mount's uidMappings).
struct IdMapping {
  std::uint32_t container_id = 0;
  std::uint32_t host_id = 0;
  std::uint32_t size = 0;
  bool operator==(const IdMapping&) const = default;
};

struct ConsoleSize {
  std::uint32_t height = 0;
  std::uint32_t width = 0;
};

// config.md "POSIX-platform User" (username: "Windows User").
struct User {
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::optional<std::uint32_t> umask;  // unset: leave the umask alone
  std::vector<std::uint32_t> additional_gids;
  std::string username;
};

// config.md "Linux Process": capability names as written ("CAP_CHOWN"),
// every one known to ward (see Config::warnings for dropped ones).
struct Capabilities {
  std::vector<std::string> bounding, effective, inheritable, permitted, ambient;
};

// config.md "POSIX process" rlimits.
struct Rlimit {
  std::string type;  // "RLIMIT_NOFILE"
  int resource = 0;  // RLIMIT_NOFILE
  std::uint64_t soft = 0, hard = 0;
};

// Scheduling policies; the values are the kernel's SCHED_* numbers
// (include/uapi/linux/sched.h; SCHED_ISO, 4, is reserved there and exists
// only in out-of-tree kernels).
enum class SchedPolicy : int {
  other = 0,
  fifo = 1,
  rr = 2,
  batch = 3,
  iso = 4,
  idle = 5,
  deadline = 6
};

// config.md "Linux Process" scheduler. flags holds SCHED_FLAG_* bits
// (sched_attr.sched_flags).
struct Scheduler {
  SchedPolicy policy = SchedPolicy::other;
  std::int32_t nice = 0;
  std::int32_t priority = 0;
  std::uint64_t flags = 0;
  std::uint64_t runtime = 0, deadline = 0, period = 0;  // nanoseconds, SCHED_DEADLINE
};

// I/O scheduling classes; the values are the kernel's IOPRIO_CLASS_*.
enum class IoPriorityClass : int { rt = 1, be = 2, idle = 3 };

struct IoPriority {
  IoPriorityClass io_class = IoPriorityClass::be;
  int priority = 0;  // 0 (highest) to 7
};

// config.md "Linux Process" execCPUAffinity (runtime-spec 1.2.1): CPU lists
// like "0-3,7", checked; parse_cpu_list() expands them.
struct ExecCpuAffinity {
  std::string initial, final_;  // final_: "final" is a contextual keyword
};

// config.md "Process".
struct Process {
  bool terminal = false;
  std::optional<ConsoleSize> console_size;
  User user;
  std::vector<std::string> args;  // at least one
  std::string command_line;       // Windows only; kept, not used on Linux
  std::vector<std::string> env;   // "KEY=value"
  std::string cwd;                // absolute
  // Absent is not the same as empty: runc leaves the capabilities alone
  // when the object is missing.
  std::optional<Capabilities> capabilities;
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  std::optional<int> oom_score_adj;  // -1000..1000; unset: leave it alone
  std::optional<Scheduler> scheduler;
  std::optional<IoPriority> io_priority;
  std::optional<ExecCpuAffinity> exec_cpu_affinity;
  std::string apparmor_profile;  // see unsupported()
  std::string selinux_label;     // see unsupported()
};

// config.md "Root".
struct Root {
  std::string path;  // absolute, or relative to the bundle
  bool readonly = false;
};

// config.md "Mounts".
struct Mount {
  std::string destination;  // absolute (a relative 1.2+ one is made so)
  std::string type;
  std::string source;
  std::vector<std::string> options;
  std::vector<IdMapping> uid_mappings, gid_mappings;  // both or neither

  MountOptions parsed_options() const { return parse_mount_options(options); }
};

// config.md "POSIX-platform Hooks".
struct Hook {
  std::string path;  // absolute
  std::vector<std::string> args;
  std::vector<std::string> env;
  // Whether the hook object has an `env` member. Without one runc and crun
  // run the hook with their own environment (runc: Go's exec.Cmd with a
  // nil Env inherits the runtime's); `"env": []` is an empty environment.
  bool env_given = false;
  std::optional<int> timeout;  // seconds, > 0
};

struct Hooks {
  std::vector<Hook> prestart;  // deprecated by the spec, still run
  std::vector<Hook> create_runtime;
  std::vector<Hook> create_container;
  std::vector<Hook> start_container;
  std::vector<Hook> poststart;
  std::vector<Hook> poststop;
  bool empty() const noexcept {
    return prestart.empty() && create_runtime.empty() && create_container.empty() &&
           start_container.empty() && poststart.empty() && poststop.empty();
  }
};

// config-linux.md "Namespaces".
enum class NamespaceType : std::uint8_t { pid, network, mount, ipc, uts, user, cgroup, time };

inline constexpr NamespaceType kNamespaceTypes[] = {
    NamespaceType::pid, NamespaceType::network, NamespaceType::mount,  NamespaceType::ipc,
    NamespaceType::uts, NamespaceType::user,    NamespaceType::cgroup, NamespaceType::time};

// The spec's spelling: "network", "mount", ...
constexpr std::string_view to_string(NamespaceType t) noexcept {
  switch (t) {
    case NamespaceType::pid: return "pid";
    case NamespaceType::network: return "network";
    case NamespaceType::mount: return "mount";
    case NamespaceType::ipc: return "ipc";
    case NamespaceType::uts: return "uts";
    case NamespaceType::user: return "user";
    case NamespaceType::cgroup: return "cgroup";
    case NamespaceType::time: return "time";
  }
  return "?";
}

constexpr std::optional<NamespaceType> namespace_type_from_string(std::string_view s) noexcept {
  for (NamespaceType t : kNamespaceTypes)
    if (to_string(t) == s) return t;
  return std::nullopt;
}

struct Namespace {
  NamespaceType type = NamespaceType::pid;
  std::string path;  // empty: create a new one; else join this one (absolute)
};

// config-linux.md "Offset for Time Namespace".
struct TimeOffset {
  std::int64_t secs = 0;
  std::uint32_t nanosecs = 0;  // below 1e9
};

// config-linux.md "Devices".
struct Device {
  char type = 'c';   // 'c', 'b', 'u' (unbuffered char) or 'p' (FIFO)
  std::string path;  // absolute, in the container
  std::int64_t major = 0, minor = 0;
  std::optional<std::uint32_t> file_mode, uid, gid;
};

// config-linux.md "Allowed Device list".
struct DeviceRule {
  bool allow = false;
  char type = 'a';                           // 'a', 'c' or 'b'; unset is 'a'
  std::optional<std::int64_t> major, minor;  // unset: all ("*")
  std::string access;                        // letters of "rwm"
};

// config-linux.md "Memory": byte counts, -1 for unlimited.
struct Memory {
  std::optional<std::int64_t> limit, reservation, swap, kernel, kernel_tcp;
  std::optional<std::uint64_t> swappiness;  // 0..100
  std::optional<bool> disable_oom_killer, use_hierarchy, check_before_update;
};

// config-linux.md "CPU".
struct Cpu {
  std::optional<std::uint64_t> shares;
  std::optional<std::int64_t> quota;
  std::optional<std::uint64_t> burst, period;
  std::optional<std::int64_t> realtime_runtime;
  std::optional<std::uint64_t> realtime_period;
  std::string cpus, mems;  // CPU lists, checked; empty: unset
  std::optional<std::int64_t> idle;
};

// config-linux.md "PIDs" (runtime-spec 1.3, #1279): `limit` is optional, -1
// means no limit, and "`0` is a valid limit value ... and SHOULD be treated as
// such by runtimes": a cgroup with pids.max 0 admits no new task.
struct Pids {
  std::optional<std::int64_t> limit;  // absent: leave pids.max alone; -1: "max"
};

// config-linux.md "Block IO".
struct WeightDevice {
  std::int64_t major = 0, minor = 0;
  std::optional<std::uint16_t> weight, leaf_weight;  // at least one
};

struct ThrottleDevice {
  std::int64_t major = 0, minor = 0;
  std::uint64_t rate = 0;
};

struct BlockIO {
  std::optional<std::uint16_t> weight, leaf_weight;
  std::vector<WeightDevice> weight_device;
  std::vector<ThrottleDevice> throttle_read_bps_device, throttle_write_bps_device,
      throttle_read_iops_device, throttle_write_iops_device;
};

struct HugepageLimit {
  std::string page_size;  // "2MB"
  std::uint64_t limit = 0;
};

// config-linux.md "Network" (net_cls/net_prio, cgroup v1 only).
struct NetworkPriority {
  std::string name;
  std::uint32_t priority = 0;
};

struct Network {
  std::optional<std::uint32_t> class_id;
  std::vector<NetworkPriority> priorities;
};

// config-linux.md "RDMA"; at least one of the two.
struct RdmaLimit {
  std::optional<std::uint32_t> hca_handles, hca_objects;
};

// config-linux.md "Control groups" resources.
struct Resources {
  std::vector<DeviceRule> devices;
  std::optional<Memory> memory;
  std::optional<Cpu> cpu;
  std::optional<Pids> pids;
  std::optional<BlockIO> block_io;
  std::vector<HugepageLimit> hugepage_limits;
  std::optional<Network> network;
  std::map<std::string, RdmaLimit> rdma;
  // config-linux.md "Unified": cgroup v2 file name -> value; each name is a
  // plain "controller.file" name (checked, it is joined to a cgroup path).
  std::map<std::string, std::string> unified;
};

// config-linux.md "IntelRdt": kept and reported by unsupported().
struct IntelRdt {
  std::string clos_id, l3_cache_schema, mem_bw_schema;
  std::vector<std::string> schemata;  // runtime-spec 1.3: schemata file lines
  std::optional<bool> enable_cmt, enable_mbm;
  std::optional<bool> enable_monitoring;  // runtime-spec 1.3
};

// config-linux.md "Memory policy" (runtime-spec 1.3): set_mempolicy(2) for
// the container. Names as the spec writes them, values as <linux/mempolicy.h>
// defines them (WEIGHTED_INTERLEAVE is Linux 6.9's; an older kernel says
// EINVAL when the process starts).
inline constexpr std::pair<std::string_view, int> kMemoryPolicyModes[] = {
    {"MPOL_DEFAULT", 0},
    {"MPOL_PREFERRED", 1},
    {"MPOL_BIND", 2},
    {"MPOL_INTERLEAVE", 3},
    {"MPOL_LOCAL", 4},
    {"MPOL_PREFERRED_MANY", 5},
    {"MPOL_WEIGHTED_INTERLEAVE", 6}};
inline constexpr std::pair<std::string_view, unsigned> kMemoryPolicyFlags[] = {
    {"MPOL_F_NUMA_BALANCING", 1u << 13},
    {"MPOL_F_RELATIVE_NODES", 1u << 14},
    {"MPOL_F_STATIC_NODES", 1u << 15}};

struct MemoryPolicy {
  int mode = 0;
  unsigned flags = 0;
  std::string nodes;  // a list like "0-3,7", checked
};

// config-linux.md "Personality".
enum class PersonalityDomain : std::uint8_t { linux_, linux32 };

struct Personality {
  PersonalityDomain domain = PersonalityDomain::linux_;
};

// config-linux.md "Rootfs Mount Propagation": the spec lists shared, slave,
// private and unbindable; runc also takes the recursive spellings.
struct RootfsPropagation {
  Propagation type = Propagation::unchanged;
  bool recursive = false;
};

// config-linux.md.
struct Linux {
  std::vector<Namespace> namespaces;
  std::vector<IdMapping> uid_mappings, gid_mappings;
  std::map<std::string, TimeOffset> time_offsets;  // "monotonic", "boottime"
  std::vector<Device> devices;
  std::string cgroups_path;
  std::optional<Resources> resources;
  std::map<std::string, std::string> sysctl;
  // The linux.seccomp object as parsed, already checked by the seccomp
  // profile converter (seccomp_profile_from_json); see seccomp_profile().
  std::optional<ward::json::Value> seccomp;
  std::optional<RootfsPropagation> rootfs_propagation;
  std::vector<std::string> masked_paths, readonly_paths;
  std::string mount_label;  // see unsupported()
  std::optional<Personality> personality;
  std::optional<IntelRdt> intel_rdt;  // see unsupported()
  std::optional<MemoryPolicy> memory_policy;
  // linux.netDevices (runtime-spec 1.3): host device name -> name inside
  // (empty: the same). See move_net_devices() in oci/sandbox.hpp.
  std::map<std::string, std::string> net_devices;

  const Namespace* find_namespace(NamespaceType t) const noexcept {
    for (const Namespace& n : namespaces)
      if (n.type == t) return &n;
    return nullptr;
  }
  bool has_namespace(NamespaceType t) const noexcept { return find_namespace(t) != nullptr; }
};

// config.json.
struct Config {
  std::string oci_version;
  std::optional<Process> process;  // required by `start`, not by `create`
  Root root;
  std::string hostname, domainname;
  std::vector<Mount> mounts;
  Hooks hooks;
  std::map<std::string, std::string> annotations;
  // `linux_`: `linux` is a predefined macro in GNU C++ modes.
  std::optional<Linux> linux_;

  // Things the spec says to log rather than fail on (runtime.md "Warnings"),
  // each "<json path>: <what>".
  std::vector<std::string> warnings;
  // The document's name in errors ("config.json" or the file's path).
  std::string source;

  bool has_namespace(NamespaceType t) const noexcept { return linux_ && linux_->has_namespace(t); }
};

// ===========================================================================
// Parser
// ===========================================================================

namespace detail {

using ward::json::Reader;
using ward::json::Value;

// What the parser needs besides the Reader: the config's spec version
// (rules changed between versions) and where warnings go.
struct ParseContext {
  std::uint64_t maj = 1, min = 2;
  std::vector<std::string>* warnings = nullptr;

  bool at_least(std::uint64_t mj, std::uint64_t mn) const noexcept {
    return maj > mj || (maj == mj && min >= mn);
  }
  void warn(const Reader& r, const std::string& what) const {
    if (warnings) warnings->push_back(r.path() + ": " + what);
  }
};

inline std::string json_quote(std::string_view s) {
  std::string out;
  try {
    ward::json::impl::dump_string(out, s);
  } catch (const Error&) {
    out = "\"<invalid UTF-8>\"";
  }
  return out;
}

// A string that reaches a C interface (a path, argv, environ, a file's
// contents): a NUL would silently cut it short there.
inline const std::string& c_string(const Reader& r) {
  const std::string& s = r.string();
  if (s.find('\0') != std::string::npos) r.fail("must not contain a NUL character");
  return s;
}

inline std::string absolute_path(const Reader& r) {
  const std::string& s = c_string(r);
  if (s.empty() || s[0] != '/') r.fail("must be an absolute path, got " + json_quote(s));
  return s;
}

inline std::string optional_c_string(const Reader& obj, std::string_view key) {
  const Reader r = obj[key];
  return r.present() ? c_string(r) : std::string();
}

inline std::vector<std::string> c_strings(const Reader& obj, std::string_view key) {
  std::vector<std::string> out;
  const Reader r = obj[key];
  if (!r.present()) return out;
  for (const Reader& e : r.elements()) out.push_back(c_string(e));
  return out;
}

inline std::map<std::string, std::string> string_map(const Reader& r) {
  std::map<std::string, std::string> out;
  if (!r.present()) return out;
  // Duplicate keys never get here: the JSON parser refuses them.
  for (const auto& [k, v] : r.members()) out.emplace(std::string(k), v.string());
  return out;
}

// IEEE Std 1003.1-2008 environ entries, as runc checks them: "NAME=value"
// with a non-empty name; execve(2) cannot pass a NUL.
inline std::vector<std::string> environment(const Reader& obj, std::string_view key) {
  std::vector<std::string> out;
  const Reader r = obj[key];
  if (!r.present()) return out;
  for (const Reader& e : r.elements()) {
    const std::string& s = c_string(e);
    const std::size_t eq = s.find('=');
    if (eq == std::string::npos) e.fail("expected NAME=value, got " + json_quote(s) + " (no '=')");
    if (eq == 0) e.fail("expected NAME=value, got " + json_quote(s) + " (empty name)");
    out.push_back(s);
  }
  return out;
}

inline std::vector<IdMapping> id_mappings(const Reader& obj, std::string_view key) {
  std::vector<IdMapping> out;
  const Reader r = obj[key];
  if (!r.present()) return out;
  for (const Reader& e : r.elements()) {
    IdMapping m;
    m.container_id = e.required("containerID").integer<std::uint32_t>();
    m.host_id = e.required("hostID").integer<std::uint32_t>();
    m.size = e.required("size").integer<std::uint32_t>();
    out.push_back(m);
  }
  return out;
}

inline std::string cpu_list(const Reader& obj, std::string_view key) {
  const Reader r = obj[key];
  if (!r.present()) return {};
  const std::string& s = r.string();
  std::string why;
  if (!ward::detail::oci_check::parse_cpu_list(s, &why))
    r.fail("invalid CPU list " + json_quote(s) + ": " + why);
  return s;
}

inline bool is_known_capability(std::string_view name) {
  for (std::size_t i = 0; i < kCapabilityNames.size(); ++i)
    if (capability_name(static_cast<int>(i)) == name) return true;
  return false;
}

inline std::vector<std::string> capability_list(const Reader& caps, std::string_view set,
                                                const ParseContext& cx) {
  std::vector<std::string> out;
  const Reader r = caps[set];
  if (!r.present()) return out;
  for (const Reader& e : r.elements()) {
    const std::string& name = e.string();
    if (is_known_capability(name)) {
      out.push_back(name);
      continue;
    }
    // config.md "Linux Process": 1.0 says a value "which cannot be mapped to
    // a relevant kernel interface MUST cause an error"; 1.1 changed that to
    // "MUST be logged as a warning" and "SHOULD NOT fail". runc (1.0 to
    // 1.4: libcontainer/capabilities New, "ignoring unknown or unavailable
    // capabilities") and crun warn and drop such a name whatever the
    // config's ociVersion, and configs written for 1.0.x runtimes rely on
    // it (runtime-tools' validation configs say 1.0.2): so does ward.
    cx.warn(e, "unknown capability " + json_quote(name) + " ignored");
  }
  return out;
}

inline Scheduler scheduler(const Reader& r) {
  Scheduler s;
  const Reader pol = r.required("policy");
  const std::string& p = pol.string();
  static constexpr std::pair<std::string_view, SchedPolicy> policies[] = {
      {"SCHED_OTHER", SchedPolicy::other},
      {"SCHED_FIFO", SchedPolicy::fifo},
      {"SCHED_RR", SchedPolicy::rr},
      {"SCHED_BATCH", SchedPolicy::batch},
      {"SCHED_ISO", SchedPolicy::iso},
      {"SCHED_IDLE", SchedPolicy::idle},
      {"SCHED_DEADLINE", SchedPolicy::deadline}};
  bool found = false;
  for (const auto& [name, v] : policies) {
    if (p == name) {
      s.policy = v;
      found = true;
    }
  }
  if (!found) pol.fail("unknown scheduling policy " + json_quote(p));
  if (auto v = r.optional_integer<std::int32_t>("nice")) s.nice = *v;
  if (auto v = r.optional_integer<std::int32_t>("priority")) s.priority = *v;
  if (const Reader fl = r["flags"]) {
    // include/uapi/linux/sched.h SCHED_FLAG_*.
    static constexpr std::pair<std::string_view, std::uint64_t> flags[] = {
        {"SCHED_FLAG_RESET_ON_FORK", 0x01}, {"SCHED_FLAG_RECLAIM", 0x02},
        {"SCHED_FLAG_DL_OVERRUN", 0x04},    {"SCHED_FLAG_KEEP_POLICY", 0x08},
        {"SCHED_FLAG_KEEP_PARAMS", 0x10},   {"SCHED_FLAG_UTIL_CLAMP_MIN", 0x20},
        {"SCHED_FLAG_UTIL_CLAMP_MAX", 0x40}};
    for (const Reader& e : fl.elements()) {
      const std::string& f = e.string();
      std::uint64_t bit = 0;
      for (const auto& [name, v] : flags)
        if (f == name) bit = v;
      if (!bit) e.fail("unknown scheduler flag " + json_quote(f));
      s.flags |= bit;
    }
  }
  if (auto v = r.optional_uint64("runtime")) s.runtime = *v;
  if (auto v = r.optional_uint64("deadline")) s.deadline = *v;
  if (auto v = r.optional_uint64("period")) s.period = *v;

  // What sched_setattr(2) would refuse with a bare EINVAL, named here
  // (sched(7)): nice is -20..19; a static priority 1..99 belongs to the
  // real-time policies and must be 0 for the others; runtime <= deadline
  // <= period (0: the deadline) for SCHED_DEADLINE, and only there.
  if (s.nice < -20 || s.nice > 19)
    r["nice"].fail("expected a nice value from -20 to 19, got " + std::to_string(s.nice));
  const bool realtime = s.policy == SchedPolicy::fifo || s.policy == SchedPolicy::rr;
  if (realtime && (s.priority < 1 || s.priority > 99))
    r["priority"].fail(p + " needs a priority from 1 to 99, got " + std::to_string(s.priority));
  if (!realtime && s.priority != 0)
    r["priority"].fail("must be 0 for " + p + " (only SCHED_FIFO and SCHED_RR have priorities)");
  if (s.policy == SchedPolicy::deadline) {
    const std::uint64_t period = s.period ? s.period : s.deadline;
    if (s.runtime == 0 || s.runtime > s.deadline || s.deadline > period)
      r.fail("SCHED_DEADLINE needs 0 < runtime <= deadline <= period (sched(7))");
  } else if (s.runtime || s.deadline || s.period) {
    r.fail("runtime, deadline and period are for SCHED_DEADLINE only");
  }
  return s;
}

inline Process process(const Reader& p, const ParseContext& cx) {
  p.object();
  Process out;
  if (auto t = p.optional_bool("terminal")) out.terminal = *t;
  if (const Reader cs = p["consoleSize"]) {
    ConsoleSize c;
    c.height = cs.required("height").integer<std::uint32_t>();
    c.width = cs.required("width").integer<std::uint32_t>();
    out.console_size = c;
  }
  if (const Reader u = p["user"]) {
    u.object();
    // config.md "POSIX-platform User": uid and gid are REQUIRED (a Windows
    // user has only a username).
    if (u.has("uid") || u.has("gid") || !u.has("username")) {
      out.user.uid = u.required("uid").integer<std::uint32_t>();
      out.user.gid = u.required("gid").integer<std::uint32_t>();
    }
    out.user.umask = u.optional_integer<std::uint32_t>("umask");
    if (out.user.umask && *out.user.umask > 0777)
      u["umask"].fail("expected a umask from 0 to 0777 (511), got " +
                      std::to_string(*out.user.umask));
    if (const Reader g = u["additionalGids"])
      for (const Reader& e : g.elements())
        out.user.additional_gids.push_back(e.integer<std::uint32_t>());
    if (auto n = u.optional_string("username")) out.user.username = *n;
  }
  // config.md "Process": args has "at least one entry" (non-Windows).
  const Reader args = p.required("args");
  for (const Reader& e : args.elements()) out.args.push_back(c_string(e));
  if (out.args.empty()) args.fail("must not be empty");
  if (out.args[0].empty()) args.elements()[0].fail("must not be empty (it names the executable)");
  if (auto c = p.optional_string("commandLine")) out.command_line = *c;
  out.env = environment(p, "env");
  // config.md "Process": cwd is REQUIRED and "MUST be an absolute path".
  out.cwd = absolute_path(p.required("cwd"));

  if (const Reader caps = p["capabilities"]) {
    caps.object();
    Capabilities c;
    c.bounding = capability_list(caps, "bounding", cx);
    c.effective = capability_list(caps, "effective", cx);
    c.inheritable = capability_list(caps, "inheritable", cx);
    c.permitted = capability_list(caps, "permitted", cx);
    c.ambient = capability_list(caps, "ambient", cx);
    out.capabilities = std::move(c);
  }

  if (const Reader rl = p["rlimits"]) {
    std::vector<std::string> seen_at;  // path of the first entry of each resource
    std::vector<int> seen;
    for (const Reader& e : rl.elements()) {
      Rlimit l;
      const Reader type = e.required("type");
      l.type = type.string();
      // config.md "POSIX process": getrlimit(2)'s names; the runtime "MUST
      // generate an error for any values which cannot be mapped".
      auto res = rlimit_from_name(l.type);
      if (!res || rlimit_name(*res) != l.type) type.fail("unknown rlimit " + json_quote(l.type));
      l.resource = *res;
      l.soft = e.required("soft").uint64();
      l.hard = e.required("hard").uint64();
      // setrlimit(2): EINVAL when soft exceeds hard.
      if (l.soft > l.hard)
        e["soft"].fail("soft limit " + std::to_string(l.soft) + " is above the hard limit " +
                       std::to_string(l.hard));
      // "If rlimits contains duplicated entries with same type, the runtime
      // MUST generate an error."
      for (std::size_t i = 0; i < seen.size(); ++i)
        if (seen[i] == l.resource)
          type.fail("duplicate rlimit " + l.type + " (also " + seen_at[i] + ")");
      seen.push_back(l.resource);
      seen_at.push_back(e.path());
      out.rlimits.push_back(std::move(l));
    }
  }
  if (auto v = p.optional_bool("noNewPrivileges")) out.no_new_privileges = *v;
  // proc(5) /proc/PID/oom_score_adj: -1000 (OOM_SCORE_ADJ_MIN) to 1000.
  if (p.has("oomScoreAdj")) out.oom_score_adj = p["oomScoreAdj"].integer<int>(-1000, 1000);
  if (const Reader s = p["scheduler"]) out.scheduler = scheduler(s);
  if (const Reader io = p["ioPriority"]) {
    IoPriority prio;
    const Reader cls = io.required("class");
    const std::string& c = cls.string();
    if (c == "IOPRIO_CLASS_RT")
      prio.io_class = IoPriorityClass::rt;
    else if (c == "IOPRIO_CLASS_BE")
      prio.io_class = IoPriorityClass::be;
    else if (c == "IOPRIO_CLASS_IDLE")
      prio.io_class = IoPriorityClass::idle;
    else
      cls.fail("unknown I/O priority class " + json_quote(c));
    prio.priority = io.required("priority").integer<int>(0, 7);
    out.io_priority = prio;
  }
  if (const Reader a = p["execCPUAffinity"]) {
    ExecCpuAffinity aff;
    aff.initial = cpu_list(a, "initial");
    aff.final_ = cpu_list(a, "final");
    out.exec_cpu_affinity = std::move(aff);
  }
  if (auto v = p.optional_string("apparmorProfile")) out.apparmor_profile = *v;
  if (auto v = p.optional_string("selinuxLabel")) out.selinux_label = *v;
  return out;
}

inline std::vector<Hook> hook_list(const Reader& hooks, std::string_view key) {
  std::vector<Hook> out;
  const Reader r = hooks[key];
  if (!r.present()) return out;
  for (const Reader& e : r.elements()) {
    Hook h;
    // config.md "POSIX-platform Hooks": path "MUST be absolute"; timeout,
    // "if set, MUST be greater than zero".
    h.path = absolute_path(e.required("path"));
    h.args = c_strings(e, "args");
    h.env = environment(e, "env");
    h.env_given = e.has("env");
    if (e.has("timeout")) h.timeout = e["timeout"].integer<int>(1, std::numeric_limits<int>::max());
    out.push_back(std::move(h));
  }
  return out;
}

inline Mount mount(const Reader& m, const ParseContext& cx) {
  Mount out;
  const Reader dest = m.required("destination");
  out.destination = c_string(dest);
  if (out.destination.empty()) dest.fail("must not be empty");
  if (out.destination[0] != '/') {
    // config.md "Mounts": 1.0 and 1.1 say the destination "MUST be an
    // absolute path"; 1.2 allows a relative one on Linux, "interpreted as
    // relative to \"/\"", and deprecates it.
    if (!cx.at_least(1, 2))
      dest.fail("must be an absolute path, got " + json_quote(out.destination) +
                " (relative destinations need ociVersion 1.2 or later)");
    cx.warn(dest, "relative destination " + json_quote(out.destination) +
                      " is deprecated; taken as /" + out.destination);
    out.destination.insert(0, "/");
  }
  out.type = optional_c_string(m, "type");
  out.source = optional_c_string(m, "source");
  out.options = c_strings(m, "options");
  out.uid_mappings = id_mappings(m, "uidMappings");
  out.gid_mappings = id_mappings(m, "gidMappings");
  // config.md "POSIX-platform Mounts": each of uidMappings and gidMappings
  // "MUST be specified along with" the other.
  if (m.has("uidMappings") != m.has("gidMappings")) {
    const bool uid = m.has("uidMappings");
    m[uid ? "gidMappings" : "uidMappings"].fail(std::string("required with ") +
                                                (uid ? "uidMappings" : "gidMappings"));
  }
  return out;
}

inline std::optional<std::int64_t> memory_value(const Reader& mem, std::string_view key) {
  const Reader r = mem[key];
  if (!r.present()) return std::nullopt;
  const std::int64_t v = r.int64();
  // config-linux.md "Memory": "the limit in bytes, or -1 for unlimited".
  if (v < -1) r.fail("expected a byte count or -1 (unlimited), got " + std::to_string(v));
  return v;
}

inline char device_type(const Reader& r, std::string_view allowed) {
  const std::string& t = r.string();
  if (t.size() != 1 || allowed.find(t[0]) == std::string_view::npos) {
    std::string list;
    for (char c : allowed) list += std::string(list.empty() ? "" : ", ") + c;
    r.fail("unknown device type " + json_quote(t) + " (expected one of " + list + ")");
  }
  return t[0];
}

inline std::vector<ThrottleDevice> throttle_devices(const Reader& b, std::string_view key) {
  std::vector<ThrottleDevice> out;
  const Reader r = b[key];
  if (!r.present()) return out;
  for (const Reader& e : r.elements()) {
    ThrottleDevice d;
    d.major = e.required("major").int64();
    d.minor = e.required("minor").int64();
    d.rate = e.required("rate").uint64();
    out.push_back(d);
  }
  return out;
}

inline Resources resources(const Reader& r) {
  r.object();
  Resources out;
  if (const Reader devs = r["devices"]) {
    for (const Reader& e : devs.elements()) {
      DeviceRule d;
      d.allow = e.required("allow").boolean();
      if (e.has("type")) d.type = device_type(e["type"], "acb");
      d.major = e.optional_int64("major");
      d.minor = e.optional_int64("minor");
      if (const Reader acc = e["access"]) {
        d.access = acc.string();
        // config-linux.md "Allowed Device list": "A composition of r
        // (read), w (write), and m (mknod)".
        for (char c : d.access)
          if (c != 'r' && c != 'w' && c != 'm')
            acc.fail("expected letters of \"rwm\", got " + json_quote(d.access));
      }
      out.devices.push_back(std::move(d));
    }
  }
  if (const Reader mem = r["memory"]) {
    mem.object();
    Memory m;
    m.limit = memory_value(mem, "limit");
    m.reservation = memory_value(mem, "reservation");
    m.swap = memory_value(mem, "swap");
    m.kernel = memory_value(mem, "kernel");
    m.kernel_tcp = memory_value(mem, "kernelTCP");
    // "The values are from 0 to 100."
    if (mem.has("swappiness")) m.swappiness = mem["swappiness"].integer<std::uint64_t>(0, 100);
    m.disable_oom_killer = mem.optional_bool("disableOOMKiller");
    m.use_hierarchy = mem.optional_bool("useHierarchy");
    m.check_before_update = mem.optional_bool("checkBeforeUpdate");
    out.memory = std::move(m);
  }
  if (const Reader cpu = r["cpu"]) {
    cpu.object();
    Cpu c;
    c.shares = cpu.optional_uint64("shares");
    c.quota = cpu.optional_int64("quota");
    c.burst = cpu.optional_uint64("burst");
    c.period = cpu.optional_uint64("period");
    c.realtime_runtime = cpu.optional_int64("realtimeRuntime");
    c.realtime_period = cpu.optional_uint64("realtimePeriod");
    c.cpus = cpu_list(cpu, "cpus");
    c.mems = cpu_list(cpu, "mems");
    c.idle = cpu.optional_int64("idle");
    // config-linux.md "CPU": a positive quota "MUST be no smaller than
    // burst (runtimes MAY generate an error)".
    if (c.burst && c.quota && *c.quota > 0 && *c.burst > static_cast<std::uint64_t>(*c.quota))
      cpu["burst"].fail("burst " + std::to_string(*c.burst) + " is larger than quota " +
                        std::to_string(*c.quota));
    out.cpu = std::move(c);
  }
  if (const Reader pids = r["pids"]) {
    Pids p;
    pids.object();
    if (const Reader lim = pids["limit"]) {
      p.limit = lim.int64();
      if (*p.limit < -1)
        lim.fail("expected a count or -1 (unlimited), got " + std::to_string(*p.limit));
    }
    out.pids = p;
  }
  if (const Reader b = r["blockIO"]) {
    b.object();
    BlockIO io;
    io.weight = b.optional_integer<std::uint16_t>("weight");
    io.leaf_weight = b.optional_integer<std::uint16_t>("leafWeight");
    if (const Reader wd = b["weightDevice"]) {
      for (const Reader& e : wd.elements()) {
        WeightDevice d;
        d.major = e.required("major").int64();
        d.minor = e.required("minor").int64();
        d.weight = e.optional_integer<std::uint16_t>("weight");
        d.leaf_weight = e.optional_integer<std::uint16_t>("leafWeight");
        // config-linux.md "Block IO": "You MUST specify at least one of
        // weight or leafWeight in a given entry".
        if (!d.weight && !d.leaf_weight) e.fail("needs weight or leafWeight");
        io.weight_device.push_back(d);
      }
    }
    io.throttle_read_bps_device = throttle_devices(b, "throttleReadBpsDevice");
    io.throttle_write_bps_device = throttle_devices(b, "throttleWriteBpsDevice");
    io.throttle_read_iops_device = throttle_devices(b, "throttleReadIOPSDevice");
    io.throttle_write_iops_device = throttle_devices(b, "throttleWriteIOPSDevice");
    out.block_io = std::move(io);
  }
  if (const Reader h = r["hugepageLimits"]) {
    for (const Reader& e : h.elements()) {
      HugepageLimit l;
      const Reader ps = e.required("pageSize");
      l.page_size = ps.string();
      // config-linux.md "Huge page limits": "<size><unit-prefix>B"; it also
      // becomes part of a cgroup file name.
      if (!ward::detail::oci_check::is_hugepage_size(l.page_size))
        ps.fail("expected a size like \"2MB\" or \"1GB\", got " + json_quote(l.page_size));
      l.limit = e.required("limit").uint64();
      out.hugepage_limits.push_back(std::move(l));
    }
  }
  if (const Reader n = r["network"]) {
    n.object();
    Network net;
    net.class_id = n.optional_integer<std::uint32_t>("classID");
    if (const Reader ps = n["priorities"]) {
      for (const Reader& e : ps.elements()) {
        NetworkPriority p;
        p.name = e.required("name").string();
        p.priority = e.required("priority").integer<std::uint32_t>();
        net.priorities.push_back(std::move(p));
      }
    }
    out.network = std::move(net);
  }
  if (const Reader rd = r["rdma"]) {
    for (const auto& [dev, e] : rd.members()) {
      RdmaLimit l;
      l.hca_handles = e.optional_integer<std::uint32_t>("hcaHandles");
      l.hca_objects = e.optional_integer<std::uint32_t>("hcaObjects");
      // config-linux.md "RDMA": "You MUST specify at least one of the
      // hcaHandles or hcaObjects in a given entry".
      if (!l.hca_handles && !l.hca_objects) e.fail("needs hcaHandles or hcaObjects");
      out.rdma.emplace(std::string(dev), l);
    }
  }
  if (const Reader u = r["unified"]) {
    for (const auto& [key, v] : u.members()) {
      // Each key names a file in the container's cgroup directory: a path
      // ("../../cgroup.procs") would write outside it. cgroup v2 interface
      // files are all "<controller>.<file>" (cgroup-v2.rst "Conventions").
      const std::string k(key);
      if (!ward::detail::oci_check::is_plain_file_name(k) || k.find('.') == std::string::npos ||
          k[0] == '.')
        v.fail("not a cgroup v2 file name like \"memory.high\"");
      out.unified.emplace(k, c_string(v));
    }
  }
  return out;
}

inline Linux linux_section(const Reader& l, const std::string& source) {
  l.object();
  Linux out;
  if (const Reader nss = l["namespaces"]) {
    std::vector<std::string> paths;
    for (const Reader& e : nss.elements()) {
      Namespace ns;
      const Reader type = e.required("type");
      const std::string& t = type.string();
      // config-linux.md "Namespaces": the eight types; "If a namespaces
      // field contains duplicated namespaces with same type, the runtime
      // MUST generate an error."
      auto kind = namespace_type_from_string(t);
      if (!kind) type.fail("unknown namespace " + json_quote(t));
      for (std::size_t i = 0; i < out.namespaces.size(); ++i)
        if (out.namespaces[i].type == *kind)
          type.fail("duplicate namespace " + json_quote(t) + " (also " + paths[i] + ")");
      ns.type = *kind;
      // path: "This value MUST be an absolute path in the runtime mount
      // namespace."
      if (e.has("path")) ns.path = absolute_path(e["path"]);
      out.namespaces.push_back(std::move(ns));
      paths.push_back(e.path());
    }
  }
  out.uid_mappings = id_mappings(l, "uidMappings");
  out.gid_mappings = id_mappings(l, "gidMappings");
  if (const Reader t = l["timeOffsets"]) {
    for (const auto& [clock, e] : t.members()) {
      // time_namespaces(7): only CLOCK_MONOTONIC and CLOCK_BOOTTIME have
      // offsets.
      if (clock != "monotonic" && clock != "boottime")
        e.fail("unknown clock (time namespaces offset \"monotonic\" and \"boottime\")");
      TimeOffset o;
      if (auto s = e.optional_int64("secs")) o.secs = *s;
      if (e.has("nanosecs")) o.nanosecs = e["nanosecs"].integer<std::uint32_t>(0, 999'999'999);
      out.time_offsets.emplace(std::string(clock), o);
    }
  }
  if (const Reader devs = l["devices"]) {
    for (const Reader& e : devs.elements()) {
      Device d;
      d.type = device_type(e.required("type"), "cbup");
      d.path = absolute_path(e.required("path"));
      // config-linux.md "Devices": major, minor "REQUIRED unless type is p".
      if (d.type != 'p') {
        d.major = e.required("major").int64();
        d.minor = e.required("minor").int64();
      } else {
        if (auto v = e.optional_int64("major")) d.major = *v;
        if (auto v = e.optional_int64("minor")) d.minor = *v;
      }
      d.file_mode = e.optional_integer<std::uint32_t>("fileMode");
      d.uid = e.optional_integer<std::uint32_t>("uid");
      d.gid = e.optional_integer<std::uint32_t>("gid");
      out.devices.push_back(std::move(d));
    }
  }
  if (auto p = l.optional_string("cgroupsPath")) {
    if (p->find('\0') != std::string::npos)
      l["cgroupsPath"].fail("must not contain a NUL character");
    out.cgroups_path = *p;
  }
  if (const Reader r = l["resources"]) out.resources = resources(r);
  if (const Reader s = l["sysctl"]) {
    for (const auto& [key, v] : s.members()) {
      // The name becomes a path under /proc/sys.
      if (!ward::detail::oci_check::is_sysctl_name(key))
        v.fail("not a sysctl name like \"net.ipv4.ip_forward\"");
      out.sysctl.emplace(std::string(key), c_string(v));
    }
  }
  if (const Reader sc = l["seccomp"]) {
    sc.object();
    // config-linux.md "Seccomp" rules the converter does not itself check.
    if (sc.has("listenerMetadata") && !sc.has("listenerPath"))
      sc["listenerMetadata"].fail("must not be set without listenerPath");
    auto errno_action = [](const Reader& action) {
      const std::string& a = action.string();
      return a == "SCMP_ACT_ERRNO" || a == "SCMP_ACT_TRACE";
    };
    // "When the action doesn't support an errno, the runtime MUST print and
    // error and fail."
    if (sc.has("defaultErrnoRet") && !errno_action(sc.required("defaultAction")))
      sc["defaultErrnoRet"].fail("only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno");
    // SCMP_ACT_NOTIFY hands calls to the seccomp agent at listenerPath
    // (send_container_process_state, oci/seccomp_agent.hpp). runc's rules
    // (libcontainer/seccomp/seccomp_linux.go InitSeccomp, and the
    // "seccomp listenerPath is not set" of process_linux.go):
    //  - not as the default action: every call of the container, the
    //    runtime's last steps before the exec included, would wait for an
    //    agent that has not been given the listener yet;
    //  - not on write(2): the process writes its "ready" to the runtime
    //    after the filter is on (ward's child, as runc's init), and a write
    //    waiting for an agent that only gets the listener once the runtime
    //    has read that "ready" never returns;
    //  - only with a listenerPath: without one nobody ever answers, and the
    //    container blocks forever in its first notified call.
    if (sc.required("defaultAction").string() == "SCMP_ACT_NOTIFY")
      sc["defaultAction"].fail("SCMP_ACT_NOTIFY cannot be used as the default action");
    bool notify = false;
    if (const Reader calls = sc["syscalls"]) {
      for (const Reader& rule : calls.elements()) {
        if (rule.has("errnoRet") && !errno_action(rule.required("action")))
          rule["errnoRet"].fail("only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno");
        // "names MUST contain at least one entry."
        if (!rule.has("names") && !rule.has("name")) rule.required("names");
        if (rule.has("names") && rule["names"].array().empty())
          rule["names"].fail("must contain at least one system call name");
        if (rule.required("action").string() != "SCMP_ACT_NOTIFY") continue;
        notify = true;
        std::vector<std::string> names;
        if (rule.has("names")) names = rule["names"].strings();
        if (auto n = rule.optional_string("name")) names.push_back(*n);
        for (const auto& n : names)
          if (n == "write")
            rule["action"].fail(
                "SCMP_ACT_NOTIFY cannot be used for the write syscall (the container's process "
                "writes to the runtime after its filter is loaded)");
      }
    }
    if (auto lp = sc.optional_string("listenerPath")) {
      // sockaddr_un.sun_path holds 108 bytes: a path and its NUL, or "@"
      // for an abstract name (as Go's net.Dial, which runc uses, reads it)
      // and up to 107 bytes of name. Checked even when nothing notifies: a
      // path that can never be reached is a mistake either way.
      const Reader r = sc["listenerPath"];
      if (lp->find('\0') != std::string::npos) r.fail("contains a NUL byte");
      if (*lp == "@") r.fail("an abstract socket needs a name after the @");
      if (lp->size() > 107)
        r.fail("is " + std::to_string(lp->size()) +
               " bytes long; a unix socket address holds at most 107 (sun_path)");
    }
    if (notify && sc.optional_string("listenerPath").value_or("").empty())
      sc.fail(
          "SCMP_ACT_NOTIFY needs listenerPath, the seccomp agent's socket: without one nobody "
          "answers the notified calls and the container blocks forever in the first");
    // Everything else (actions, operators, architectures, flags, argument
    // indexes) is what the profile converter checks; its errors carry the
    // same paths.
    (void)seccomp_profile_from_json(sc.value(), {}, source, sc.path());
    out.seccomp = sc.value();
  }
  if (const Reader rp = l["rootfsPropagation"]) {
    const std::string& v = rp.string();
    RootfsPropagation p;
    const OptInfo* info = find_mount_option(v);
    if (!info || (info->kind != OptKind::propagation && info->kind != OptKind::rpropagation))
      rp.fail("unknown propagation " + json_quote(v) +
              " (expected shared, slave, private or unbindable, or an r-prefixed one)");
    p.type = static_cast<Propagation>(info->value);
    p.recursive = info->kind == OptKind::rpropagation;
    out.rootfs_propagation = p;
  }
  // config-linux.md "Masked Paths", "Readonly Paths": "The values MUST be
  // absolute paths in the container namespace."
  if (const Reader m = l["maskedPaths"])
    for (const Reader& e : m.elements()) out.masked_paths.push_back(absolute_path(e));
  if (const Reader ro = l["readonlyPaths"])
    for (const Reader& e : ro.elements()) out.readonly_paths.push_back(absolute_path(e));
  if (auto v = l.optional_string("mountLabel")) out.mount_label = *v;
  if (const Reader pe = l["personality"]) {
    Personality p;
    const Reader d = pe.required("domain");
    if (d.string() == "LINUX")
      p.domain = PersonalityDomain::linux_;
    else if (d.string() == "LINUX32")
      p.domain = PersonalityDomain::linux32;
    else
      d.fail("unknown execution domain " + json_quote(d.string()) + " (expected LINUX or LINUX32)");
    // "Currently no flag values are supported."
    if (const Reader f = pe["flags"])
      for (const Reader& e : f.elements())
        e.fail("unknown personality flag " + json_quote(e.string()));
    out.personality = p;
  }
  if (const Reader rdt = l["intelRdt"]) {
    rdt.object();
    IntelRdt r;
    if (auto v = rdt.optional_string("closID")) {
      // A directory name under the resctrl mount.
      if (!ward::detail::oci_check::is_plain_file_name(*v))
        rdt["closID"].fail("must be a plain directory name");
      r.clos_id = *v;
    }
    if (auto v = rdt.optional_string("l3CacheSchema")) r.l3_cache_schema = *v;
    if (auto v = rdt.optional_string("memBwSchema")) {
      // config-linux.md "IntelRdt": "MUST start with MB: and MUST NOT
      // contain newlines".
      if (v->rfind("MB:", 0) != 0 || v->find('\n') != std::string::npos)
        rdt["memBwSchema"].fail("must start with \"MB:\" and be one line");
      r.mem_bw_schema = *v;
    }
    if (const Reader sc = rdt["schemata"]) {
      // "Each element represents one line ... MUST NOT contain newlines".
      for (const Reader& e : sc.elements()) {
        if (e.string().find('\n') != std::string::npos) e.fail("must be one line");
        r.schemata.push_back(e.string());
      }
    }
    r.enable_cmt = rdt.optional_bool("enableCMT");
    r.enable_mbm = rdt.optional_bool("enableMBM");
    r.enable_monitoring = rdt.optional_bool("enableMonitoring");
    out.intel_rdt = std::move(r);
  }
  if (const Reader nd = l["netDevices"]) {
    // config-linux.md "Network Devices": keys are host device names, values
    // objects with an optional `name` inside. Names are checked as the
    // kernel would (ward::check_net_device_name); two devices may not end
    // up with one name.
    std::map<std::string, std::string> inside;
    for (const auto& [host_view, e] : nd.members()) {
      const std::string host(host_view);
      e.object();
      std::string name = e.optional_string("name").value_or("");
      const std::string field = e.path();
      try {
        ward::check_net_device_name(host, field);
      } catch (const ward::Error& err) {
        e.fail(err.detail());
      }
      try {
        if (!name.empty()) ward::check_net_device_name(name, field + ".name", true);
      } catch (const ward::Error& err) {
        e["name"].fail(err.detail());
      }
      const std::string final_name = name.empty() ? host : name;
      if (final_name.find('%') == std::string::npos) {
        auto [it, fresh] = inside.emplace(final_name, host);
        if (!fresh)
          e.fail("two devices would be named " + final_name + " inside (" + it->second + " too)");
      }
      out.net_devices[host] = name;
    }
  }
  if (const Reader mp = l["memoryPolicy"]) {
    mp.object();
    MemoryPolicy m;
    const Reader mode = mp.required("mode");
    bool known = false;
    for (const auto& [name, v] : kMemoryPolicyModes)
      if (mode.string() == name) {
        m.mode = v;
        known = true;
      }
    if (!known) mode.fail("unknown memory policy mode " + json_quote(mode.string()));
    if (const Reader n = mp["nodes"]) {
      std::string why;
      if (!ward::detail::oci_check::parse_cpu_list(n.string(), &why))
        n.fail("invalid node list " + json_quote(n.string()) + ": " + why);
      m.nodes = n.string();
    }
    if (const Reader f = mp["flags"])
      for (const Reader& e : f.elements()) {
        bool flag_known = false;
        for (const auto& [name, v] : kMemoryPolicyFlags)
          if (e.string() == name) {
            m.flags |= v;
            flag_known = true;
          }
        if (!flag_known) e.fail("unknown memory policy flag " + json_quote(e.string()));
      }
    out.memory_policy = std::move(m);
  }
  return out;
}

inline Config config(const Value& doc, std::string source) {
  Config cfg;
  cfg.source = source;
  const Reader root(doc, source);
  root.object();

  // config.md "Specification version": REQUIRED, SemVer 2.0.0.
  const Reader ver = root.required("ociVersion");
  cfg.oci_version = ver.string();
  const auto sv = ward::detail::oci_check::parse_semver(cfg.oci_version);
  if (!sv) ver.fail("not a SemVer 2.0.0 version: " + json_quote(cfg.oci_version));
  // "compatible with all runtimes that support any 1.1 or later release":
  // compatibility holds within a major version only.
  if (sv->maj != 1)
    ver.fail("version " + cfg.oci_version + " is not supported (ward reads " +
             std::string(kOciVersionMin) + " to " + std::string(kOciVersionMax) + ")");
  ParseContext cx;
  cx.maj = sv->maj;
  cx.min = sv->min;
  cx.warnings = &cfg.warnings;

  // config.md "Root": REQUIRED on every platform but Windows Hyper-V.
  const Reader rt = root.required("root");
  const Reader rp = rt.required("path");
  cfg.root.path = c_string(rp);
  if (cfg.root.path.empty()) rp.fail("must not be empty");
  if (auto ro = rt.optional_bool("readonly")) cfg.root.readonly = *ro;

  if (const Reader p = root["process"]) cfg.process = process(p, cx);
  if (const Reader h = root["hostname"]) cfg.hostname = c_string(h);
  if (const Reader d = root["domainname"]) cfg.domainname = c_string(d);
  if (const Reader ms = root["mounts"])
    for (const Reader& m : ms.elements()) cfg.mounts.push_back(mount(m, cx));
  if (const Reader h = root["hooks"]) {
    h.object();
    cfg.hooks.prestart = hook_list(h, "prestart");
    cfg.hooks.create_runtime = hook_list(h, "createRuntime");
    cfg.hooks.create_container = hook_list(h, "createContainer");
    cfg.hooks.start_container = hook_list(h, "startContainer");
    cfg.hooks.poststart = hook_list(h, "poststart");
    cfg.hooks.poststop = hook_list(h, "poststop");
  }
  if (const Reader a = root["annotations"]) {
    // config.md "Annotations": keys "MUST NOT be an empty string", values
    // "MUST be strings".
    for (const auto& [k, v] : a.members())
      if (k.empty()) v.fail("annotation keys must not be empty");
    cfg.annotations = string_map(a);
  }
  if (const Reader l = root["linux"]) cfg.linux_ = linux_section(l, source);

  // Rules that tie sections together.
  // sethostname(2)/setdomainname(2) in the runtime's own UTS namespace
  // would rename the host: refused, as runc does.
  if (!cfg.hostname.empty() && !cfg.has_namespace(NamespaceType::uts))
    root["hostname"].fail("setting the hostname needs a uts namespace in linux.namespaces");
  if (!cfg.domainname.empty() && !cfg.has_namespace(NamespaceType::uts))
    root["domainname"].fail("setting the domainname needs a uts namespace in linux.namespaces");
  // HOST_NAME_MAX: sethostname(2) fails with EINVAL beyond 64 bytes.
  if (cfg.hostname.size() > 64) root["hostname"].fail("longer than 64 bytes");
  if (cfg.domainname.size() > 64) root["domainname"].fail("longer than 64 bytes");
  if (cfg.linux_) {
    const Reader l = root["linux"];
    // Mappings describe a user namespace (config-linux.md "User namespace
    // mappings"); without one there is nothing to write them to.
    if ((!cfg.linux_->uid_mappings.empty() || !cfg.linux_->gid_mappings.empty()) &&
        !cfg.has_namespace(NamespaceType::user))
      l[cfg.linux_->uid_mappings.empty() ? "gidMappings" : "uidMappings"].fail(
          "mappings need a user namespace in linux.namespaces");
    if (!cfg.linux_->time_offsets.empty() && !cfg.has_namespace(NamespaceType::time))
      l["timeOffsets"].fail("offsets need a time namespace in linux.namespaces");
  }
  // config.md "Linux mount options", idmap/ridmap: without the mount's own
  // mappings the container's user namespace mapping may be used, but "if
  // there are no uidMappings and gidMappings specified and the container
  // isn't using user namespaces, an error MUST be returned".
  if (const Reader ms = root["mounts"]) {
    const auto elems = ms.elements();
    for (std::size_t i = 0; i < cfg.mounts.size(); ++i) {
      const Mount& m = cfg.mounts[i];
      if (!m.uid_mappings.empty()) {
        // config.md "POSIX-platform Mounts": options "SHOULD contain either
        // idmap or ridmap" when mappings are given.
        if (!m.parsed_options().idmap)
          cx.warn(elems[i], "uidMappings/gidMappings without the idmap or ridmap option");
        continue;
      }
      if (m.parsed_options().idmap && !cfg.has_namespace(NamespaceType::user))
        elems[i]["options"].fail(
            "idmap needs uidMappings and gidMappings, or a user namespace in linux.namespaces");
    }
  }
  return cfg;
}

}  // namespace detail

// Parses config.json text. `source` names the document in errors. Throws
// ward::Error: a json::ParseError for malformed JSON (with line and
// column), a json::FieldError naming the JSON path otherwise.
inline Config parse_config(std::string_view json, std::string source = "config.json") {
  ward::json::ParseOptions po;
  po.source_name = source;
  const auto doc = ward::json::parse(json, po);
  return detail::config(doc, std::move(source));
}

// Reads and parses a config.json file; errors name the file.
inline Config load_config(const std::filesystem::path& file) {
  const auto doc = ward::json::parse_file(file);
  return detail::config(doc, file.string());
}

// A `process` object on its own, as `runc exec --process process.json`
// takes it. Capability names follow the 1.1+ rule (unknown ones are
// dropped; `warnings`, when given, says which).
inline Process parse_process(std::string_view json, std::string source = "process.json",
                             std::vector<std::string>* warnings = nullptr) {
  ward::json::ParseOptions po;
  po.source_name = source;
  const auto doc = ward::json::parse(json, po);
  detail::ParseContext cx;
  cx.warnings = warnings;
  return detail::process(detail::Reader(doc, std::move(source)), cx);
}

// A `linux.resources` object on its own, as `runc update --resources`
// takes it.
inline Resources parse_resources(std::string_view json, std::string source = "resources.json") {
  ward::json::ParseOptions po;
  po.source_name = source;
  const auto doc = ward::json::parse(json, po);
  return detail::resources(detail::Reader(doc, std::move(source)));
}

// The config's linux.seccomp as a SeccompProfile (nullopt when there is
// none). Errors name the config and the path under linux.seccomp.
inline std::optional<SeccompProfile> seccomp_profile(const Config& cfg,
                                                     const SeccompProfileOptions& opts = {}) {
  if (!cfg.linux_ || !cfg.linux_->seccomp) return std::nullopt;
  return seccomp_profile_from_json(*cfg.linux_->seccomp, opts, cfg.source, "linux.seccomp");
}

// "0-3,7" -> {0, 1, 2, 3, 7}. Throws ward::Error (Step::validate) naming
// `field` when the list is malformed; the empty string is the empty list.
inline std::vector<unsigned> parse_cpu_list(std::string_view list,
                                            const std::string& field = "cpu list") {
  std::string why;
  auto v = ward::detail::oci_check::parse_cpu_list(list, &why);
  if (!v) ward::detail::throw_invalid(field, why);
  return *v;
}

// One thing a config asks for that ward cannot do.
struct Unsupported {
  std::string path;    // "process.apparmorProfile"
  std::string reason;  // "AppArmor is not supported"
};

// What `cfg` sets that ward cannot honour whatever the rest of the
// configuration: Linux security modules, Intel RDT, and cgroup v1 controls
// whose controller the host drives through cgroup v2, which has no
// equivalent for them. `on_v1(controller)` says whether the host keeps a
// controller ("memory", "cpu", "blkio", "net_cls", "net_prio") in a v1
// hierarchy, where those controls work (ward::cgroup_backend; unset: none
// is). config.md "Valid values" asks runtimes to "generate an error when
// ... unsupported values are encountered"; the caller decides how.
inline std::vector<Unsupported> unsupported(
    const Config& cfg, const std::function<bool(std::string_view)>& on_v1 = {}) {
  std::vector<Unsupported> out;
  auto add = [&](std::string path, std::string reason) {
    out.push_back({std::move(path), std::move(reason)});
  };
  if (cfg.process) {
    const Process& p = *cfg.process;
    if (!p.apparmor_profile.empty()) add("process.apparmorProfile", "AppArmor is not supported");
    if (!p.selinux_label.empty()) add("process.selinuxLabel", "SELinux is not supported");
    if (p.scheduler && p.scheduler->policy == SchedPolicy::iso)
      add("process.scheduler.policy", "SCHED_ISO does not exist in mainline Linux");
  }
  if (!cfg.linux_) return out;
  const Linux& l = *cfg.linux_;
  if (!l.mount_label.empty()) add("linux.mountLabel", "SELinux is not supported");
  if (l.intel_rdt) add("linux.intelRdt", "Intel RDT is not supported");
  if (!l.resources) return out;
  const Resources& r = *l.resources;
  const std::string v1 =
      " is a cgroup v1 control, and this host drives its controller through "
      "cgroup v2";
  auto v2 = [&](std::string_view ctl) { return !on_v1 || !on_v1(ctl); };
  if (r.network && v2("net_cls") && v2("net_prio"))
    add("linux.resources.network", "net_cls/net_prio" + v1);
  if (r.memory && v2("memory")) {
    if (r.memory->kernel) add("linux.resources.memory.kernel", "kernel memory limit" + v1);
    if (r.memory->kernel_tcp)
      add("linux.resources.memory.kernelTCP", "kernel TCP memory limit" + v1);
    if (r.memory->swappiness) add("linux.resources.memory.swappiness", "swappiness" + v1);
  }
  if (r.cpu && v2("cpu")) {
    if (r.cpu->realtime_runtime)
      add("linux.resources.cpu.realtimeRuntime", "real-time CPU bandwidth" + v1);
    if (r.cpu->realtime_period)
      add("linux.resources.cpu.realtimePeriod", "real-time CPU bandwidth" + v1);
  }
  if (r.block_io && v2("blkio")) {
    if (r.block_io->leaf_weight) add("linux.resources.blockIO.leafWeight", "leafWeight" + v1);
    for (std::size_t i = 0; i < r.block_io->weight_device.size(); ++i)
      if (r.block_io->weight_device[i].leaf_weight)
        add("linux.resources.blockIO.weightDevice[" + std::to_string(i) + "].leafWeight",
            "leafWeight" + v1);
  }
  return out;
}

// ===========================================================================
// State (runtime.md "State")
// ===========================================================================

// runtime.md "State" status values, plus runc's "paused" ("Additional values
// MAY be defined by the runtime").
enum class Status : std::uint8_t { creating, created, running, stopped, paused };

constexpr std::string_view to_string(Status s) noexcept {
  switch (s) {
    case Status::creating: return "creating";
    case Status::created: return "created";
    case Status::running: return "running";
    case Status::stopped: return "stopped";
    case Status::paused: return "paused";
  }
  return "?";
}

constexpr std::optional<Status> status_from_string(std::string_view s) noexcept {
  for (Status st :
       {Status::creating, Status::created, Status::running, Status::stopped, Status::paused})
    if (to_string(st) == s) return st;
  return std::nullopt;
}

// The state of a container. The last three are what `runc state` adds and
// engines (containerd's go-runc) read; "The state MAY include additional
// properties." They are written only when set.
struct State {
  std::string oci_version{kOciVersionMax};
  std::string id;
  Status status = Status::creating;
  int pid = 0;         // 0 once stopped
  std::string bundle;  // absolute
  std::map<std::string, std::string> annotations;
  std::string rootfs;   // absolute path of the root filesystem
  std::string created;  // RFC 3339 time
  std::string owner;

  bool operator==(const State&) const = default;
};

// The state as JSON (runtime.md "State"; schema/state-schema.json). `pid`
// is always written, 0 included, as runc does.
inline std::string to_json(const State& s, int indent = 0) {
  using ward::json::Value;
  Value v = Value::object({{"ociVersion", s.oci_version},
                           {"id", s.id},
                           {"status", std::string(to_string(s.status))},
                           {"pid", s.pid},
                           {"bundle", s.bundle}});
  if (!s.rootfs.empty()) v.set("rootfs", s.rootfs);
  if (!s.created.empty()) v.set("created", s.created);
  if (!s.annotations.empty()) {
    Value a = Value::object();
    for (const auto& [k, val] : s.annotations) a.set(k, val);
    v.set("annotations", std::move(a));
  }
  if (!s.owner.empty()) v.set("owner", s.owner);
  return ward::json::dump(v, {.indent = indent});
}

// Parses a state document; errors name the JSON path.
inline State parse_state(std::string_view json, std::string source = "state.json") {
  using detail::Reader;
  ward::json::ParseOptions po;
  po.source_name = source;
  const auto doc = ward::json::parse(json, po);
  const Reader r(doc, std::move(source));
  r.object();
  State s;
  s.oci_version = r.required("ociVersion").string();
  const Reader id = r.required("id");
  s.id = id.string();
  if (s.id.empty()) id.fail("must not be empty");
  const Reader st = r.required("status");
  auto status = status_from_string(st.string());
  if (!status) st.fail("unknown status " + detail::json_quote(st.string()));
  s.status = *status;
  // runtime.md: pid is "REQUIRED when status is created or running on
  // Linux".
  if (s.status == Status::created || s.status == Status::running)
    s.pid = r.required("pid").integer<int>(1, std::numeric_limits<int>::max());
  else if (r.has("pid"))
    s.pid = r["pid"].integer<int>(0, std::numeric_limits<int>::max());
  // bundle: REQUIRED, "the absolute path to the container's bundle".
  s.bundle = detail::absolute_path(r.required("bundle"));
  s.annotations = detail::string_map(r["annotations"]);
  if (auto v = r.optional_string("rootfs")) s.rootfs = *v;
  if (auto v = r.optional_string("created")) s.created = *v;
  if (auto v = r.optional_string("owner")) s.owner = *v;
  return s;
}

// ===========================================================================
// Features (features.md, features-linux.md)
// ===========================================================================

// What ward implements, as the runtime-spec "features" document: computed
// from the same tables the parsers use, so it cannot claim more than they
// accept. features.md: the content "SHOULD be determined on the
// compilation time of the runtime"; only supportedFlags reflects the
// running kernel (its definition allows that).
inline ward::json::Value features_value() {
  using ward::json::Array;
  using ward::json::Value;
  auto strings = [](const auto& range) {
    Array a;
    for (const auto& s : range) a.emplace_back(std::string_view(s));
    return Value(std::move(a));
  };
  Value f = Value::object();
  f.set("ociVersionMin", std::string(kOciVersionMin));
  f.set("ociVersionMax", std::string(kOciVersionMax));
  f.set("hooks", Value::array({"prestart", "createRuntime", "createContainer", "startContainer",
                               "poststart", "poststop"}));
  f.set("mountOptions", strings(mount_option_names()));

  Value linux_features = Value::object();
  Array ns;
  for (NamespaceType t : kNamespaceTypes) ns.emplace_back(to_string(t));
  linux_features.set("namespaces", Value(std::move(ns)));
  Array caps;
  for (std::size_t i = 0; i < kCapabilityNames.size(); ++i)
    caps.emplace_back(capability_name(static_cast<int>(i)));
  linux_features.set("capabilities", Value(std::move(caps)));
  // ward's cgroup layer is CgroupV2 on cgroupfs; no v1, no systemd manager.
  linux_features.set("cgroup", Value::object({{"v1", false},
                                              {"v2", true},
                                              {"systemd", false},
                                              {"systemdUser", false},
                                              {"rdma", false}}));
  // The names seccomp_profile_from_json() accepts (seccomp_profile.hpp).
  Array archs;
  for (const auto& info : ward::detail::syscall_tables::arches) archs.emplace_back(info.scmp_name);
  Array known_flags, supported_flags;
  const std::uint32_t kernel_flags = ward::detail::seccomp_flags_supported();
  for (const auto& [name, flag] :
       {std::pair<std::string_view, SeccompFlag>{"SECCOMP_FILTER_FLAG_TSYNC", SeccompFlag::tsync},
        {"SECCOMP_FILTER_FLAG_LOG", SeccompFlag::log},
        {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SeccompFlag::spec_allow},
        {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SeccompFlag::wait_killable_recv}}) {
    known_flags.emplace_back(name);
    if (kernel_flags & static_cast<std::uint32_t>(flag)) supported_flags.emplace_back(name);
  }
  linux_features.set(
      "seccomp",
      Value::object(
          {{"enabled", true},
           {"actions",
            Value::array({"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
                          "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
                          "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"})},
           {"operators", Value::array({"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
                                       "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"})},
           {"archs", Value(std::move(archs))},
           {"knownFlags", Value(std::move(known_flags))},
           {"supportedFlags", Value(std::move(supported_flags))}}));
  linux_features.set("apparmor", Value::object({{"enabled", false}}));
  linux_features.set("selinux", Value::object({{"enabled", false}}));
  linux_features.set(
      "intelRdt", Value::object({{"enabled", false}, {"schemata", false}, {"monitoring", false}}));
  linux_features.set("netDevices", Value::object({{"enabled", true}}));
  {
    // features-linux.md "MemoryPolicy": what config.json's
    // linux.memoryPolicy may name (the kernel may still refuse a mode).
    ward::json::Array modes, flags;
    for (const auto& [name, v] : kMemoryPolicyModes) modes.emplace_back(std::string(name));
    for (const auto& [name, v] : kMemoryPolicyFlags) flags.emplace_back(std::string(name));
    linux_features.set("memoryPolicy", Value::object({{"modes", Value(std::move(modes))},
                                                      {"flags", Value(std::move(flags))}}));
  }
  // Mount uidMappings/gidMappings and the idmap/ridmap options are applied
  // (oci/sandbox.hpp: a user namespace per distinct pair of maps,
  // MOUNT_ATTR_IDMAP). containerd 2.x refuses user-namespace pods when this
  // says false. Test: oci_sandbox: idmap mounts ... (tests/root).
  linux_features.set("mountExtensions",
                     Value::object({{"idmap", Value::object({{"enabled", true}})}}));
  f.set("linux", std::move(linux_features));
  return f;
}

// features_value() as JSON text, indented like `runc features`.
inline std::string features_json(int indent = 4) {
  return ward::json::dump(features_value(), {.indent = indent});
}

}  // namespace ward::oci
