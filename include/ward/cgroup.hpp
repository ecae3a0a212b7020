// SPDX-License-Identifier: Apache-2.0
// CgroupV2: one cgroup of the unified (v2) hierarchy, owned RAII-style.
//
// References below are to the kernel's Documentation/admin-guide/cgroup-v2.rst
// ("cgroup-v2.rst") unless said otherwise.
//
// A CgroupV2 drives the unified hierarchy only. On a hybrid host (v1
// controllers plus a cgroup2 mount with few or no controllers, e.g.
// systemd's /sys/fs/cgroup/unified) everything that the unified hierarchy
// offers works (create, CLONE_INTO_CGROUP, cgroup.kill, freeze, events,
// device programs, whatever controllers it has); a limit whose controller is
// bound to v1 fails with an error that says so. CgroupV1 (cgroup_v1.hpp)
// drives v1 hierarchies, and Cgroups (cgroups.hpp) both, per controller.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <ward/detail/device_bpf.hpp>
#include <ward/error.hpp>
#include <ward/fd.hpp>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

namespace ward {

// ---------------------------------------------------------------------------
// Host detection
// ---------------------------------------------------------------------------

// How the host mounts cgroups (cgroup-v2.rst, "Mounting"; systemd calls the
// three non-empty layouts "unified", "hybrid" and "legacy").
enum class CgroupMode {
  none,     // no cgroup filesystem mounted at all
  v1_only,  // only cgroup v1 hierarchies ("legacy")
  hybrid,   // v1 controller hierarchies and a cgroup2 mount beside them
  pure_v2,  // a cgroup2 mount and no v1 hierarchy
};

constexpr std::string_view to_string(CgroupMode m) noexcept {
  switch (m) {
    case CgroupMode::none: return "none";
    case CgroupMode::v1_only: return "v1_only";
    case CgroupMode::hybrid: return "hybrid";
    case CgroupMode::pure_v2: return "pure_v2";
  }
  return "unknown";
}

struct CgroupHost {
  CgroupMode mode = CgroupMode::none;
  // The cgroup2 mount point ("/sys/fs/cgroup" on a pure v2 host), empty if none.
  std::string unified_mount;
  // The mount's root inside the hierarchy (mountinfo field 4): "/" unless a
  // subtree was bind-mounted or the mount was made inside a cgroup namespace.
  std::string unified_root = "/";
  // Controllers that some v1 hierarchy has (from the v1 mounts' options).
  std::vector<std::string> v1_controllers;
  // One entry per v1 hierarchy that has a controller (named-only
  // hierarchies such as "name=systemd" are left out). Co-mounted
  // controllers ("cpu,cpuacct") share one entry and one directory
  // (cgroup-v1/cgroups.rst, "Usage Examples and Syntax"). A hierarchy
  // mounted twice is listed once: the mount of its root ("/") if any, else
  // the first.
  struct V1Hierarchy {
    std::vector<std::string> controllers;
    std::string mount;       // mount point
    std::string root = "/";  // the mount's root inside the hierarchy (mountinfo field 4)
  };
  std::vector<V1Hierarchy> v1_hierarchies;

  // The hierarchy holding v1 `controller`, or nullptr.
  const V1Hierarchy* v1_hierarchy(std::string_view controller) const {
    for (const auto& h : v1_hierarchies)
      if (std::find(h.controllers.begin(), h.controllers.end(), controller) != h.controllers.end())
        return &h;
    return nullptr;
  }

  // Whether `controller` (a v2 name) is held by a v1 hierarchy. A controller
  // can be bound to one hierarchy only (cgroup-v2.rst, "Mounting"); v2's
  // "io" is v1's "blkio".
  bool bound_to_v1(std::string_view controller) const {
    std::string_view v1 = controller == "io" ? "blkio" : controller;
    return std::find(v1_controllers.begin(), v1_controllers.end(), v1) != v1_controllers.end();
  }
};

namespace cgroup_parse {

inline std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos <= s.size()) {
    std::size_t end = s.find(sep, pos);
    if (end == std::string_view::npos) end = s.size();
    out.push_back(s.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

inline std::vector<std::string_view> lines(std::string_view s) {
  std::vector<std::string_view> out;
  for (auto l : split(s, '\n'))
    if (!l.empty()) out.push_back(l);
  return out;
}

// mountinfo escapes space, tab, newline and backslash as \ooo (proc(5)).
inline std::string unescape_octal(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
        s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Host layout from the text of /proc/self/mountinfo (proc(5)): fields
// "id parent maj:min root mountpoint opts [optional...] - fstype source superopts".
//
// mountinfo also lists mounts that a later mount hides (cgroup2 mounted over
// /sys/fs/cgroup in a mount namespace, as crun's tests and some sandboxes
// do, leaves the v1 mounts below it listed but unreachable). `reachable`
// (mount point, is cgroup2) drops those: cgroup_host() passes
// cgroup_mount_reachable, which asks statfs(2) what is really there.
inline CgroupHost host_from_mountinfo(std::string_view text,
                                      bool (*reachable)(const std::string&, bool) = nullptr) {
  static constexpr std::string_view kV1Controllers[] = {
      "cpu",        "cpuacct",  "cpuset", "memory",  "devices", "freezer", "net_cls",
      "perf_event", "net_prio", "blkio",  "hugetlb", "pids",    "rdma",    "misc"};
  CgroupHost h;
  bool any_v1 = false;
  std::vector<std::pair<std::string, std::string>> v2;  // (mount point, root)
  for (auto line : lines(text)) {
    auto f = split(line, ' ');
    auto dash = std::find(f.begin(), f.end(), std::string_view("-"));
    if (dash == f.end() || f.size() < 5 || f.end() - dash < 4) continue;
    std::string_view fstype = dash[1];
    std::string_view super = dash[3];
    if ((fstype == "cgroup2" || fstype == "cgroup") && reachable != nullptr &&
        !reachable(unescape_octal(f[4]), fstype == "cgroup2"))
      continue;
    if (fstype == "cgroup2") {
      v2.emplace_back(unescape_octal(f[4]), unescape_octal(f[3]));
    } else if (fstype == "cgroup") {
      any_v1 = true;
      CgroupHost::V1Hierarchy hier;
      for (auto o : split(super, ','))
        for (auto c : kV1Controllers)
          if (o == c) {
            hier.controllers.emplace_back(c);
            if (std::find(h.v1_controllers.begin(), h.v1_controllers.end(), c) ==
                h.v1_controllers.end())
              h.v1_controllers.emplace_back(c);
          }
      if (hier.controllers.empty()) continue;
      hier.mount = unescape_octal(f[4]);
      hier.root = unescape_octal(f[3]);
      // A controller belongs to one hierarchy, so equal controller sets
      // mean the same hierarchy mounted again.
      auto same = std::find_if(h.v1_hierarchies.begin(), h.v1_hierarchies.end(),
                               [&](const auto& x) { return x.controllers == hier.controllers; });
      if (same == h.v1_hierarchies.end())
        h.v1_hierarchies.push_back(std::move(hier));
      else if (same->root != "/" && hier.root == "/")
        *same = std::move(hier);
    }
  }
  if (!v2.empty()) {
    // Several cgroup2 mounts show the same hierarchy: prefer the canonical
    // places, else the first.
    auto pick = v2.front();
    for (const char* want : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"})
      for (auto& m : v2)
        if (m.first == want) pick = m;
    h.unified_mount = pick.first;
    h.unified_root = pick.second;
  }
  if (!v2.empty())
    h.mode = any_v1 ? CgroupMode::hybrid : CgroupMode::pure_v2;
  else
    h.mode = any_v1 ? CgroupMode::v1_only : CgroupMode::none;
  return h;
}

// One hierarchy's path from the text of /proc/PID/cgroup, whose lines are
// "hierarchy-ID:controller-list:cgroup-path" (cgroups(7)). An empty
// `controller` names the unified hierarchy's "0::path" line (cgroup-v2.rst,
// "Processes"); any other the v1 line whose comma-separated list holds it
// as a whole entry: "cpu" is in "cpu,cpuacct" but not in "cpuset", and a
// named hierarchy is "name=systemd". The path is the rest of the line after
// the second ':' (it may hold ':' itself). A cgroup the process has been
// moved out of (rmdir'ed) shows " (deleted)": kept as is. nullopt when no
// line matches.
inline std::optional<std::string> hierarchy_path(std::string_view proc_cgroup,
                                                 std::string_view controller) {
  for (auto l : lines(proc_cgroup)) {
    const auto a = l.find(':');
    if (a == std::string_view::npos) continue;
    const auto b = l.find(':', a + 1);
    if (b == std::string_view::npos) continue;
    const auto list = l.substr(a + 1, b - a - 1);
    bool match = false;
    if (controller.empty()) {
      match = l.substr(0, a) == "0" && list.empty();
    } else {
      const auto names = split(list, ',');
      match = std::find(names.begin(), names.end(), controller) != names.end();
    }
    if (match) return std::string(l.substr(b + 1));
  }
  return std::nullopt;
}

// The unified-hierarchy path from the text of /proc/PID/cgroup: the
// "0::/path" line.
inline std::optional<std::string> unified_path(std::string_view proc_cgroup) {
  return hierarchy_path(proc_cgroup, {});
}

// A "key value" line of a flat-keyed file (cgroup-v2.rst, "Interface Files":
// cgroup.events, memory.events, cpu.stat, ...).
inline std::optional<std::uint64_t> flat_value(std::string_view text, std::string_view key) {
  for (auto l : lines(text)) {
    if (l.size() > key.size() && l.substr(0, key.size()) == key && l[key.size()] == ' ') {
      auto v = l.substr(key.size() + 1);
      std::uint64_t out = 0;
      auto r = std::from_chars(v.data(), v.data() + v.size(), out);
      if (r.ec != std::errc()) return std::nullopt;
      return out;
    }
  }
  return std::nullopt;
}

// A single value file ("max" or a number, plus a newline).
inline std::optional<std::uint64_t> single_value(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  if (text == "max") return ~std::uint64_t{0};
  std::uint64_t out = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), out);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size()) return std::nullopt;
  return out;
}

// Space-separated words (cgroup.controllers, cgroup.subtree_control).
inline std::vector<std::string> words(std::string_view text) {
  std::vector<std::string> out;
  for (auto l : split(text, '\n'))
    for (auto w : split(l, ' '))
      if (!w.empty()) out.emplace_back(w);
  return out;
}

}  // namespace cgroup_parse

// The host's layout, read once per process from /proc/self/mountinfo (a
// later mount in this process's mount namespace is not noticed).
// Whether the filesystem at `mount_point` is a cgroup of that version now
// (statfs(2): CGROUP2_SUPER_MAGIC, CGROUP_SUPER_MAGIC): false for a mount
// hidden by a later one, whose path now leads elsewhere or nowhere.
inline bool cgroup_mount_reachable(const std::string& mount_point, bool v2) {
  struct statfs st {};
  if (::statfs(mount_point.c_str(), &st) != 0) return false;
  return static_cast<unsigned long>(st.f_type) ==
         (v2 ? static_cast<unsigned long>(CGROUP2_SUPER_MAGIC)
             : static_cast<unsigned long>(CGROUP_SUPER_MAGIC));
}

inline const CgroupHost& cgroup_host() {
  static const CgroupHost host = [] {
    std::string text;
    int fd = ::open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      char buf[8192];
      for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        text.append(buf, static_cast<std::size_t>(n));
      }
      ::close(fd);
    }
    return cgroup_parse::host_from_mountinfo(text, cgroup_mount_reachable);
  }();
  return host;
}

inline CgroupMode cgroup_mode() { return cgroup_host().mode; }

// ---------------------------------------------------------------------------
// Device access programs (BPF_PROG_TYPE_CGROUP_DEVICE)
// ---------------------------------------------------------------------------

// One OCI device-cgroup rule (runtime-spec config-linux.md, "Allowed Device
// List"): linux.resources.devices[].
struct DeviceRule {
  bool allow = false;
  char type = 'a';             // 'a' (any), 'b' (block) or 'c' (char)
  std::int64_t major = -1;     // -1: any
  std::int64_t minor = -1;     // -1: any
  std::string access = "rwm";  // r read, w write, m mknod; empty means "rwm"
};

// runc's default device list (libcontainer/specconv AllowedDevices, runc
// 1.1): mknod of any char or block node, and rwm on /dev/null (1:3),
// /dev/random (1:8), /dev/full (1:7), /dev/tty (5:0), /dev/zero (1:5),
// /dev/urandom (1:9), /dev/pts/* (136:*), /dev/ptmx (5:2) and /dev/net/tun
// (10:200). /dev/console (5:1) is not in it: runc's console is a pty.
// Everything else is denied (default deny).
inline std::vector<DeviceRule> default_device_rules() {
  return {
      {true, 'c', -1, -1, "m"}, {true, 'b', -1, -1, "m"},    {true, 'c', 1, 3, "rwm"},
      {true, 'c', 1, 8, "rwm"}, {true, 'c', 1, 7, "rwm"},    {true, 'c', 5, 0, "rwm"},
      {true, 'c', 1, 5, "rwm"}, {true, 'c', 1, 9, "rwm"},    {true, 'c', 136, -1, "rwm"},
      {true, 'c', 5, 2, "rwm"}, {true, 'c', 10, 200, "rwm"},
  };
}

// ---------------------------------------------------------------------------
// Read-back types
// ---------------------------------------------------------------------------

// memory.events (cgroup-v2.rst, "Memory Interface Files"): counts of events
// in this cgroup and its descendants.
struct MemoryEvents {
  std::uint64_t low = 0, high = 0, max = 0, oom = 0, oom_kill = 0;
  std::optional<std::uint64_t> oom_group_kill;  // Linux 6.0
};

struct CgroupEvents {
  bool populated = false;              // a live process in this cgroup or a descendant
  bool frozen = false;                 // cgroup.freeze has taken effect
  std::optional<MemoryEvents> memory;  // absent without the memory controller
};

struct CpuStat {
  std::uint64_t usage_usec = 0, user_usec = 0, system_usec = 0;
};

// Fields whose interface file this host lacks stay empty.
struct CgroupStats {
  std::optional<std::uint64_t> memory_current;
  std::optional<std::uint64_t> memory_peak;  // Linux 5.19
  std::optional<CpuStat> cpu;                // cpu.stat: core file, present on any v2 cgroup
  std::optional<std::uint64_t> pids_current;
  std::optional<std::string> io_stat;  // raw "MAJ:MIN rbytes=.. wbytes=.." lines
};

namespace cgroup_parse {
inline CgroupEvents events(std::string_view cgroup_events, std::string_view memory_events) {
  CgroupEvents e;
  e.populated = flat_value(cgroup_events, "populated").value_or(0) != 0;
  e.frozen = flat_value(cgroup_events, "frozen").value_or(0) != 0;
  if (!memory_events.empty()) {
    MemoryEvents m;
    m.low = flat_value(memory_events, "low").value_or(0);
    m.high = flat_value(memory_events, "high").value_or(0);
    m.max = flat_value(memory_events, "max").value_or(0);
    m.oom = flat_value(memory_events, "oom").value_or(0);
    m.oom_kill = flat_value(memory_events, "oom_kill").value_or(0);
    m.oom_group_kill = flat_value(memory_events, "oom_group_kill");
    e.memory = m;
  }
  return e;
}
inline std::optional<CpuStat> cpu_stat(std::string_view text) {
  auto u = flat_value(text, "usage_usec");
  if (!u) return std::nullopt;
  return CpuStat{*u, flat_value(text, "user_usec").value_or(0),
                 flat_value(text, "system_usec").value_or(0)};
}
}  // namespace cgroup_parse

// The value that cgroup files spell "max".
inline constexpr std::uint64_t cgroup_unlimited = ~std::uint64_t{0};

// io.max for one device (cgroup-v2.rst, "IO Interface Files"); unset
// fields are left as they are, cgroup_unlimited writes "max".
struct IoMax {
  std::uint32_t major = 0, minor = 0;
  std::optional<std::uint64_t> rbps, wbps, riops, wiops;
};

// ---------------------------------------------------------------------------
// CgroupV2
// ---------------------------------------------------------------------------

namespace detail::cg {

inline constexpr int kPathFlags = O_PATH | O_DIRECTORY | O_CLOEXEC;

// Reads a whole file relative to `dirfd`; returns 0 or an errno.
inline int read_at(int dirfd, const std::string& file, std::string& out) {
  out.clear();
  int fd = ::openat(dirfd, file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  char buf[4096];
  int err = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) err = errno;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return err;
}

inline int pread_all(int fd, std::string& out) {
  out.clear();
  char buf[4096];
  off_t off = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return 0;
    out.append(buf, static_cast<std::size_t>(n));
    off += n;
  }
}

// The errors of a cgroup's file once the cgroup was removed: ENOENT to open
// it, ENODEV to read or write a descriptor opened before (kernfs).
constexpr bool removed(int err) noexcept { return err == ENOENT || err == ENODEV; }

// One write(2) per value: cgroup files parse each write on its own
// (cgroup-v2.rst, "Conventions"). Returns 0 or an errno. No O_CREAT: an
// interface file that does not exist is never created.
inline int write_at(int dirfd, const std::string& file, std::string_view value) {
  int fd = ::openat(dirfd, file.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  int err = 0;
  for (;;) {
    ssize_t n = ::write(fd, value.data(), value.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      err = errno;
    else if (static_cast<std::size_t>(n) != value.size())
      err = EIO;
    break;
  }
  ::close(fd);
  return err;
}

inline bool is_cgroup2(int fd) {
  struct statfs st {};
  return ::fstatfs(fd, &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC;
}

inline std::string ms(std::chrono::milliseconds t) { return std::to_string(t.count()) + " ms"; }

// The pids of a cgroup.procs text (one per line), appended to `out`; v1 and
// v2 write the file alike (cgroup-v2.rst "cgroup.procs", cgroups.rst "tasks").
inline void append_pids(std::string_view text, std::vector<pid_t>& out) {
  for (auto l : cgroup_parse::lines(text)) {
    pid_t pid = 0;
    std::from_chars(l.data(), l.data() + l.size(), pid);
    if (pid > 0) out.push_back(pid);
  }
}

// An interface file name for CgroupV2::set/get and CgroupV1::set/get: one
// component, never "." or "..", so a write stays in the cgroup's directory.
inline std::string checked_file(std::string_view f) {
  if (f.empty() || f.find('/') != std::string_view::npos || f == "." ||
      f.find("..") != std::string_view::npos || f.find('\0') != std::string_view::npos)
    throw_invalid("cgroup file", "'" + std::string(f) + "' is not an interface file name");
  return std::string(f);
}

// A hugetlb page size as the kernel names it in the file names: "2MB",
// "1GB", "64KB" (hugetlb.<size>.max in v2, hugetlb.<size>.limit_in_bytes in
// v1). `field` names the caller in the error.
inline void check_hugetlb_size(std::string_view size, const char* field) {
  auto digits = size.find_first_not_of("0123456789");
  if (digits == 0 || digits == std::string_view::npos ||
      (size.substr(digits) != "KB" && size.substr(digits) != "MB" && size.substr(digits) != "GB"))
    throw_invalid(field, "'" + std::string(size) + "' is not a size like 2MB");
}

// The poll(2) timeout for a wait on cgroup.events: `step` ms (then doubled,
// up to 1 s), or what is left. Why not just the time left: the kernel
// updates the file's values at once but sends at most one change
// notification per file every CGROUP_FILE_NOTIFY_MIN_INTV (10 ms rounded up
// to jiffies, 12 ms at HZ=250; kernel/cgroup/cgroup.c, cgroup_file_notify),
// delaying the others. So "populated 0" right after the "populated 1" of a
// spawn woke the waiter ~10 ms after the last process had gone (measured:
// kill to wakeup 11-12 ms, kill to "populated 0" readable 2-3 ms). Reading
// again after 1, 2, 4, ... ms bounds that lag by the time already waited.
inline int poll_timeout_ms(int& step, std::chrono::milliseconds left) {
  int t = static_cast<int>(std::min<std::int64_t>(left.count() + 1, step));
  step = std::min(step * 2, 1000);
  return t;
}

}  // namespace detail::cg

// The calling process's cgroup in the unified hierarchy, as /proc/self/cgroup
// shows it ("/" at the root or at its cgroup namespace's root).
inline std::string own_cgroup() {
  std::string text;
  int e = detail::cg::read_at(AT_FDCWD, "/proc/self/cgroup", text);
  if (e != 0) throw Error(Step::cgroup, e, "/proc/self/cgroup", "reading");
  auto p = cgroup_parse::unified_path(text);
  if (!p)
    throw Error(Step::cgroup, ENOENT, "/proc/self/cgroup",
                "no \"0::\" line: this kernel has no cgroup v2 hierarchy");
  return *p;
}

// A cgroup of the unified hierarchy that this object owns: destroying the
// object kills its processes and removes it (and any cgroups below it).
// Every interface file is reached with openat(2) relative to a directory
// descriptor opened when the cgroup was made, so a later rename or mount
// over the path does not redirect our writes.
class CgroupV2 {
 public:
  CgroupV2() = default;
  CgroupV2(const CgroupV2&) = delete;
  CgroupV2& operator=(const CgroupV2&) = delete;
  CgroupV2(CgroupV2&& o) noexcept { *this = std::move(o); }
  CgroupV2& operator=(CgroupV2&& o) noexcept {
    if (this != &o) {
      destroy_noexcept();
      path_ = std::move(o.path_);
      top_path_ = std::move(o.top_path_);
      top_name_ = std::move(o.top_name_);
      boundary_ = std::move(o.boundary_);
      dir_ = std::move(o.dir_);
      top_parent_ = std::move(o.top_parent_);
      made_parents_ = std::move(o.made_parents_);
      events_fd_ = std::move(o.events_fd_);
      dev_prog_ = std::move(o.dev_prog_);
      owned_ = std::exchange(o.owned_, false);
    }
    return *this;
  }
  // Best effort and silent: call destroy() to learn why a cgroup stayed.
  ~CgroupV2() { destroy_noexcept(); }

  // Makes the cgroup `name` below `parent` and owns it.
  //
  // parent: empty for the caller's own cgroup (own_cgroup()); or an
  // absolute path, either a directory under the cgroup2 mount
  // ("/sys/fs/cgroup/unified/box") or a path inside the hierarchy ("/box").
  // An explicit parent is also the delegation boundary: enable_controllers()
  // writes nothing above it (cgroup-v2.rst, "Delegation").
  // name: one or more components ("job" or "jobs/job-1"); missing
  // intermediate cgroups are made too. They are shared: another create()
  // may put its cgroup beside ours in them ("jobs/job-2"). So destroy()
  // kills and removes only this cgroup and its descendants, then removes
  // the intermediates this call made while they are empty, and never kills
  // in them; one still in use stays. If any step fails, everything this
  // call made is removed again before the error is thrown. An intermediate
  // that another destroy() removes while this call walks through it is
  // made again (up to a few times).
  static CgroupV2 create(std::string_view name, std::string_view parent = {}) {
    const CgroupHost& host = require_v2();
    std::string parent_path = parent.empty() ? fs_path(host, own_cgroup()) : fs_path(host, parent);
    auto comps = name_components(name);
    for (int attempt = 1;; ++attempt) {
      bool vanished = false;
      CgroupV2 cg = create_once(parent_path, comps, attempt < 8 ? &vanished : nullptr);
      if (!vanished) {
        cg.boundary_ = parent.empty() ? host.unified_mount : parent_path;
        return cg;
      }
    }
  }

 private:
  // One walk of create(). With `vanished`, an intermediate that disappears
  // under us (ENOENT below the parent) sets it and returns an empty object,
  // everything made so far undone, so the caller walks again.
  static CgroupV2 create_once(const std::string& parent_path, const std::vector<std::string>& comps,
                              bool* vanished) {
    CgroupV2 cg;
    UniqueFd cur(detail::off_stdio(::open(parent_path.c_str(), detail::cg::kPathFlags)));
    if (!cur) detail::throw_errno(Step::cgroup, parent_path, "opening the parent cgroup");
    if (!detail::cg::is_cgroup2(cur.get()))
      throw Error(Step::cgroup, ENOTDIR, parent_path, "not a directory of a cgroup2 filesystem");
    std::string cur_path = parent_path == "/" ? "" : parent_path;
    // Made by us so far, deepest last: (parent fd, name) to rmdir on failure.
    struct Made {
      int parent_fd;
      std::string name;
    };
    std::vector<UniqueFd> chain;
    std::vector<Made> made;
    auto undo = [&]() noexcept {
      for (auto it = made.rbegin(); it != made.rend(); ++it)
        ::unlinkat(it->parent_fd, it->name.c_str(), AT_REMOVEDIR);
    };
    auto walk_again = [&] {  // an intermediate was removed under us
      undo();
      *vanished = true;
      return CgroupV2();
    };
    auto dup_dir = [](int fd, const std::string& path) {
      int d = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
      if (d < 0) detail::throw_errno(Step::cgroup, path, "dup");
      return UniqueFd(d);
    };
    try {
      for (std::size_t i = 0; i < comps.size(); ++i) {
        const std::string& c = comps[i];
        const bool last = i + 1 == comps.size();
        std::string p = cur_path + "/" + c;
        bool made_now = false;
        if (::mkdirat(cur.get(), c.c_str(), 0755) == 0) {
          made.push_back({cur.get(), c});
          made_now = true;
        } else if (errno == ENOENT && i > 0 && vanished != nullptr) {
          return walk_again();
        } else if (errno != EEXIST || last) {
          int e = errno;
          std::string why = "mkdir";
          if (e == EEXIST)
            why += ": it already exists (CgroupV2::adopt takes over an existing one)";
          if (e == EAGAIN)
            why += ": an ancestor's cgroup.max.depth or cgroup.max.descendants is reached";
          throw Error(Step::cgroup, e, p, why);
        }
        UniqueFd next(detail::off_stdio(::openat(cur.get(), c.c_str(), detail::cg::kPathFlags)));
        if (!next && errno == ENOENT && !last && vanished != nullptr) return walk_again();
        if (!next) detail::throw_errno(Step::cgroup, p, "opening the new cgroup");
        if (last) {  // this cgroup: what destroy() kills and removes
          cg.top_parent_ = dup_dir(cur.get(), cur_path);
          cg.top_path_ = p;
          cg.top_name_ = c;
        } else if (made_now) {  // an intermediate of ours: removed while empty
          cg.made_parents_.push_back({dup_dir(cur.get(), cur_path), c, p});
        }
        chain.push_back(std::move(cur));
        cur = std::move(next);
        cur_path = p;
      }
    } catch (...) {
      undo();
      throw;
    }
    cg.path_ = cur_path;
    cg.dir_ = std::move(cur);
    cg.owned_ = true;
    return cg;
  }

 public:
  // Takes over an existing cgroup (same path forms as create's parent):
  // destroying the object removes it. The hierarchy's root is never
  // removed. enable_controllers() may write from the hierarchy's root down.
  static CgroupV2 adopt(std::string_view path) {
    const CgroupHost& host = require_v2();
    CgroupV2 cg;
    cg.path_ = fs_path(host, path);
    cg.boundary_ = host.unified_mount;
    cg.dir_.reset(detail::off_stdio(::open(cg.path_.c_str(), detail::cg::kPathFlags)));
    if (!cg.dir_) detail::throw_errno(Step::cgroup, cg.path_, "opening the cgroup");
    if (!detail::cg::is_cgroup2(cg.dir_.get()))
      throw Error(Step::cgroup, ENOTDIR, cg.path_, "not a directory of a cgroup2 filesystem");
    if (cg.path_ != host.unified_mount) {
      auto slash = cg.path_.rfind('/');
      std::string parent = slash == 0 ? "/" : cg.path_.substr(0, slash);
      cg.top_parent_.reset(detail::off_stdio(::open(parent.c_str(), detail::cg::kPathFlags)));
      if (!cg.top_parent_) detail::throw_errno(Step::cgroup, parent, "opening the parent cgroup");
      cg.top_name_ = cg.path_.substr(slash + 1);
      cg.top_path_ = cg.path_;
      cg.owned_ = true;
    }
    return cg;
  }

  // Keep the cgroup: the destructor will leave it (the object stays usable).
  void release() noexcept { owned_ = false; }

  // Whether the cgroup was removed from the hierarchy (by anyone) since
  // this object opened it: every cgroup, the root included, has
  // cgroup.procs, and a removed one's directory descriptor finds nothing.
  bool gone() const {
    require_open();
    return ::faccessat(dir_.get(), "cgroup.procs", F_OK, 0) != 0 && errno == ENOENT;
  }

  // Absolute path under the cgroup2 mount.
  const std::string& path() const noexcept { return path_; }
  // Borrowed O_PATH directory descriptor, for Sandbox::into_cgroup
  // (clone3's CLONE_INTO_CGROUP accepts O_PATH descriptors).
  int dir_fd() const noexcept { return dir_.get(); }
  bool valid() const noexcept { return static_cast<bool>(dir_); }

  // ---- controllers

  // cgroup.controllers: what this cgroup's parent lets it use.
  std::vector<std::string> available_controllers() const {
    return cgroup_parse::words(read("cgroup.controllers"));
  }

  // Makes `controllers` available to this cgroup: writes "+c1 +c2" into
  // cgroup.subtree_control of each ancestor from the delegation boundary
  // (create's parent when given, else the hierarchy's root) down to this
  // cgroup's parent, skipping those that already have them (cgroup-v2.rst,
  // "Enabling and Disabling": a controller can be enabled only if the
  // parent has it enabled). Fails with a clear error for a controller the
  // hierarchy lacks, and for an ancestor that has member processes (the
  // "No Internal Process Constraint"). For a domain cgroup (what a
  // container's is) that error comes for a threaded controller too (cpu,
  // cpuset, pids), before anything is written: the kernel would take it,
  // and make that ancestor a thread root and this cgroup "domain invalid",
  // which refuses every process (EOPNOTSUPP; cgroup-v2.rst, "Threads").
  // Test: "cgroup: a cgroup with processes is given no threaded controller
  // above a domain cgroup, by either enable call".
  void enable_controllers(std::span<const std::string> controllers) {
    require_open();
    for (const auto& c : controllers)
      if (c.empty() || c.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") != std::string::npos)
        detail::throw_invalid("enable_controllers", "'" + c + "' is not a controller name");
    std::string type;
    const bool domain =
        detail::cg::read_at(dir_.get(), "cgroup.type", type) == 0 && type == "domain\n";
    auto up = ancestors();
    for (auto it = up.rbegin(); it != up.rend(); ++it) {
      const int fd = it->first.get();
      const std::string& at = it->second;
      std::string avail_text, enabled_text;
      if (int e = detail::cg::read_at(fd, "cgroup.controllers", avail_text))
        throw Error(Step::cgroup, e, at + "/cgroup.controllers", "reading");
      if (int e = detail::cg::read_at(fd, "cgroup.subtree_control", enabled_text))
        throw Error(Step::cgroup, e, at + "/cgroup.subtree_control", "reading");
      auto avail = cgroup_parse::words(avail_text);
      auto enabled = cgroup_parse::words(enabled_text);
      std::string value;
      for (const auto& c : controllers) {
        if (std::find(enabled.begin(), enabled.end(), c) != enabled.end()) continue;
        if (std::find(avail.begin(), avail.end(), c) == avail.end()) {
          throw Error(Step::cgroup, EOPNOTSUPP, at + "/cgroup.subtree_control",
                      "writing '+" + c + "': " + unavailable_reason(c, at));
        }
        value += (value.empty() ? "+" : " +") + c;
      }
      if (value.empty()) continue;
      auto busy = [&](std::vector<std::string> pids) {
        return "writing '" + value + "': " + at + " has " + std::to_string(pids.size()) +
               " member process" + (pids.size() == 1 ? "" : "es") +
               (pids.empty() ? "" : " (pid " + pids.front() + ")") +
               ", and a non-root cgroup with processes cannot enable controllers for a domain "
               "cgroup below it: the kernel refuses domain controllers, and threaded ones "
               "would make it a thread root and the cgroup below \"domain invalid\" "
               "(cgroup-v2.rst, \"No Internal Process Constraint\" and \"Threads\"): move "
               "them into a leaf cgroup first";
      };
      if (domain) {
        auto pids = member_processes(fd);
        if (!pids.empty())
          throw Error(Step::cgroup, EBUSY, at + "/cgroup.subtree_control", busy(pids));
      }
      if (int e = detail::cg::write_at(fd, "cgroup.subtree_control", value)) {
        std::string why = "writing '" + value + "'";
        if (e == EBUSY) why = busy(member_processes(fd));
        throw Error(Step::cgroup, e, at + "/cgroup.subtree_control", why);
      }
    }
  }
  void enable_controllers(std::initializer_list<std::string> controllers) {
    enable_controllers(std::span<const std::string>(controllers.begin(), controllers.size()));
  }

  // Makes every controller the hierarchy offers available to this cgroup,
  // as far as each ancestor lets it: for each ancestor from the delegation
  // boundary down to this cgroup's parent, "+c" into cgroup.subtree_control
  // for each controller in its cgroup.controllers not yet enabled there.
  // A write the kernel refuses is skipped, not an error: an ancestor with
  // member processes (EBUSY, the "No Internal Process Constraint": nothing
  // is enabled there, not even a threaded controller), one the
  // caller may not write (EACCES: rootless, outside a delegated subtree), a
  // threaded subtree that refuses a domain controller (EOPNOTSUPP). This is
  // what runc's cgroup-v2 managers (fs2.CreateCgroupPath, which its
  // systemd driver calls too) and crun do for each container's cgroup, so
  // that a container without limits still has memory, pids and io
  // accounting; a limit that needs a controller this left out fails later,
  // with enable_controllers()'s error. Returns available_controllers()
  // afterwards. Test: "cgroup: enable_available_controllers enables what
  // each ancestor allows and skips what it refuses".
  std::vector<std::string> enable_available_controllers() {
    require_open();
    auto up = ancestors();
    for (auto it = up.rbegin(); it != up.rend(); ++it) {
      const int fd = it->first.get();
      // A non-root ancestor with member processes gets nothing: the kernel
      // refuses it domain controllers (EBUSY below), and it would take the
      // threaded ones (cpu, cpuset, pids), which make it a thread root,
      // under which every domain cgroup, ours too, is "domain invalid" and
      // refuses processes (EOPNOTSUPP; cgroup-v2.rst, "Threads").
      if (!member_processes(fd).empty()) continue;
      std::string avail_text, enabled_text;
      if (detail::cg::read_at(fd, "cgroup.controllers", avail_text) != 0 ||
          detail::cg::read_at(fd, "cgroup.subtree_control", enabled_text) != 0)
        continue;
      const auto enabled = cgroup_parse::words(enabled_text);
      std::vector<std::string> missing;
      for (auto& c : cgroup_parse::words(avail_text))
        if (std::find(enabled.begin(), enabled.end(), c) == enabled.end())
          missing.push_back(std::move(c));
      if (missing.empty()) continue;
      // One write for all (the usual case), else one each: the kernel
      // applies a write's tokens together or not at all, and one that fails
      // alone (cpu while a real-time task sits outside the root) must not
      // keep the others out. Except after EBUSY from a process that moved
      // in since the check above: nothing there, for the same reason.
      std::string all;
      for (const auto& c : missing) all += (all.empty() ? "+" : " +") + c;
      const int e = detail::cg::write_at(fd, "cgroup.subtree_control", all);
      if (e == 0 || (e == EBUSY && !member_processes(fd).empty())) continue;
      if (missing.size() > 1)
        for (const auto& c : missing) detail::cg::write_at(fd, "cgroup.subtree_control", "+" + c);
    }
    return available_controllers();
  }

 private:
  // The member processes of the cgroup at `fd`, where they count: none for
  // the root, which the no-internal-process rule exempts (the root alone
  // has no cgroup.type: cgroup-v2.rst, "Core Interface Files"). A file
  // that cannot be read counts as a member (an unknown is not "empty"):
  // "?" then stands for it.
  static std::vector<std::string> member_processes(int fd) {
    if (::faccessat(fd, "cgroup.type", F_OK, 0) != 0) return {};
    std::string procs;
    if (detail::cg::read_at(fd, "cgroup.procs", procs) != 0) return {"?"};
    auto lines = cgroup_parse::lines(procs);
    return std::vector<std::string>(lines.begin(), lines.end());
  }

  // This cgroup's ancestors from its parent up to the delegation boundary
  // (create's parent, or the hierarchy's root), parent first, each opened
  // through ".." of the one below it: what enable_controllers() may write.
  std::vector<std::pair<UniqueFd, std::string>> ancestors() const {
    std::vector<std::pair<UniqueFd, std::string>> up;
    std::string p = path_;
    int from = dir_.get();
    while (p != boundary_ && p.size() > boundary_.size() && p.rfind(boundary_, 0) == 0) {
      UniqueFd parent(::openat(from, "..", detail::cg::kPathFlags));
      if (!parent) detail::throw_errno(Step::cgroup, p + "/..", "opening the parent cgroup");
      p = p.substr(0, p.rfind('/'));
      if (p.empty()) p = "/";
      from = parent.get();
      up.emplace_back(std::move(parent), p);
    }
    return up;
  }

 public:
  // ---- limits (cgroup-v2.rst, "Controllers"). cgroup_unlimited writes "max".

  void memory_max(std::uint64_t bytes) { set("memory.max", num(bytes)); }
  void memory_high(std::uint64_t bytes) { set("memory.high", num(bytes)); }
  void memory_low(std::uint64_t bytes) { set("memory.low", num(bytes)); }
  void memory_min(std::uint64_t bytes) { set("memory.min", num(bytes)); }
  void memory_swap_max(std::uint64_t bytes) { set("memory.swap.max", num(bytes)); }
  // Kill the whole cgroup on an OOM kill instead of one process.
  void memory_oom_group(bool on) { set("memory.oom.group", on ? "1" : "0"); }

  // cpu.max "$MAX $PERIOD": quota_usec empty (or cgroup_unlimited) = "max".
  void cpu_max(std::optional<std::uint64_t> quota_usec, std::uint64_t period_usec = 100000) {
    if (period_usec < 1000 || period_usec > 1000000)
      detail::throw_invalid(
          "cpu.max", "period " + std::to_string(period_usec) + " us is outside 1000..1000000");
    set("cpu.max", num(quota_usec.value_or(cgroup_unlimited)) + " " + std::to_string(period_usec));
  }
  void cpu_weight(std::uint64_t weight) {
    if (weight < 1 || weight > 10000)
      detail::throw_invalid("cpu.weight", std::to_string(weight) + " is outside 1..10000");
    set("cpu.weight", std::to_string(weight));
  }
  // SCHED_IDLE for the whole cgroup (Linux 5.15).
  void cpu_idle(bool on) { set("cpu.idle", on ? "1" : "0"); }

  // "0-3,5" lists; checked by the kernel against the parent's effective set.
  void cpuset_cpus(std::string_view cpus) { set("cpuset.cpus", list_value("cpuset.cpus", cpus)); }
  void cpuset_mems(std::string_view mems) { set("cpuset.mems", list_value("cpuset.mems", mems)); }

  void pids_max(std::uint64_t n) { set("pids.max", num(n)); }

  // io.max: "MAJ:MIN rbps=.. wbps=.. riops=.. wiops=..".
  void io_max(const IoMax& m) {
    std::string v = std::to_string(m.major) + ":" + std::to_string(m.minor);
    auto add = [&](const char* k, const std::optional<std::uint64_t>& x) {
      if (x) v += std::string(" ") + k + "=" + num(*x);
    };
    add("rbps", m.rbps);
    add("wbps", m.wbps);
    add("riops", m.riops);
    add("wiops", m.wiops);
    if (!m.rbps && !m.wbps && !m.riops && !m.wiops)
      detail::throw_invalid("io.max", "no limit given for " + v);
    set("io.max", v);
  }
  // io.weight: the default weight ("default W"), or one device's.
  void io_weight(std::uint64_t weight) { set("io.weight", "default " + weight_value(weight)); }
  void io_weight(std::uint32_t major, std::uint32_t minor, std::uint64_t weight) {
    set("io.weight",
        std::to_string(major) + ":" + std::to_string(minor) + " " + weight_value(weight));
  }

  // hugetlb.<size>.max, size as the kernel names it: "2MB", "1GB", "64KB".
  void hugetlb_max(std::string_view size, std::uint64_t bytes) {
    detail::cg::check_hugetlb_size(size, "hugetlb_max");
    set("hugetlb." + std::string(size) + ".max", num(bytes));
  }

  // Any interface file (OCI linux.resources.unified). The file must exist
  // in this cgroup: a name with '/' or "..", or one that is not there, is
  // refused (nothing is ever created).
  void set(std::string_view file, std::string_view value) {
    require_open();
    std::string f = detail::cg::checked_file(file);
    if (value.find('\0') != std::string_view::npos)
      detail::throw_invalid(f, "value contains a NUL byte");
    if (int e = detail::cg::write_at(dir_.get(), f, value)) fail(e, f, value);
  }
  // The raw contents of an interface file.
  std::string get(std::string_view file) const { return read(detail::cg::checked_file(file)); }

  // ---- lifecycle

  // Members of this cgroup only (not of descendants): cgroup.procs.
  std::vector<pid_t> procs() const {
    std::vector<pid_t> out;
    detail::cg::append_pids(read("cgroup.procs"), out);
    return out;
  }
  // Moves a process (all its threads) here: cgroup.procs.
  void add(pid_t pid) { set("cgroup.procs", std::to_string(pid)); }

  // SIGKILL to every process in this cgroup and its descendants:
  // cgroup.kill (Linux 5.14), which also catches processes forked while it
  // runs; older kernels: SIGKILL to each pid of cgroup.procs, repeated until
  // none is left or `timeout` passes. Does not wait for them to exit.
  void kill(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    require_open();
    kill_at(dir_.get(), path_, timeout);
  }

  // Waits until no live process is left in this cgroup or below (cgroup.events
  // "populated 0"). Returns false on timeout. A cgroup removed meanwhile is
  // empty: the kernel removes only a cgroup without processes, and the one
  // who manages it may do so as soon as it empties (systemd stops a scope
  // whose processes are gone and removes its cgroup, racing this wait after
  // a kill()). Its cgroup.events then fails to open (ENOENT) or to read
  // (ENODEV, kernfs: the file of a removed node).
  bool wait_empty(std::chrono::milliseconds timeout) {
    try {
      return wait_events([](const CgroupEvents& e) { return !e.populated; }, timeout);
    } catch (const Error& e) {
      if (path_ != boundary_ && detail::cg::removed(e.code().value()) && gone()) return true;
      throw;
    }
  }

  // cgroup.freeze (Linux 5.2), then wait for "frozen 1": every process of
  // the subtree stopped (cgroup-v2.rst, "Core Interface Files"). Throws
  // ETIMEDOUT if that does not happen within `timeout`.
  void freeze(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    set("cgroup.freeze", "1");
    if (!wait_events([](const CgroupEvents& e) { return e.frozen; }, timeout))
      throw Error(Step::cgroup, ETIMEDOUT, path_ + "/cgroup.events",
                  "waiting for 'frozen 1' after writing '1' to cgroup.freeze: not frozen after " +
                      detail::cg::ms(timeout));
  }
  void thaw(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    set("cgroup.freeze", "0");
    if (!wait_events([](const CgroupEvents& e) { return !e.frozen; }, timeout))
      throw Error(Step::cgroup, ETIMEDOUT, path_ + "/cgroup.events",
                  "waiting for 'frozen 0' after writing '0' to cgroup.freeze: still frozen after " +
                      detail::cg::ms(timeout));
  }

  // cgroup.events, and memory.events when the memory controller is on.
  // Also re-arms events_fd().
  CgroupEvents events() const {
    std::string ev, mem;
    int fd = events_fd();
    if (int e = detail::cg::pread_all(fd, ev))
      throw Error(Step::cgroup, e, path_ + "/cgroup.events", "reading");
    int e = detail::cg::read_at(dir_.get(), "memory.events", mem);
    if (e != 0 && e != ENOENT) throw Error(Step::cgroup, e, path_ + "/memory.events", "reading");
    return cgroup_parse::events(ev, mem);
  }

  // A descriptor of cgroup.events to poll(2) (borrowed). kernfs reports
  // every change of the file as POLLPRI together with POLLERR
  // (kernfs_generic_poll; cgroup-v2.rst: "a value change in this file
  // generates a file modified event"); POLLIN is always set, so poll for
  // POLLPRI. After a wakeup, call events(): reading this descriptor from
  // offset 0 re-arms it.
  int events_fd() const {
    require_open();
    if (!events_fd_) {
      // Kept: off 0-2 (fd.hpp off_stdio).
      int fd = detail::off_stdio(::openat(dir_.get(), "cgroup.events", O_RDONLY | O_CLOEXEC));
      if (fd < 0)
        detail::throw_errno(Step::cgroup, path_ + "/cgroup.events",
                            errno == ENOENT ? "opening (the root cgroup has none)" : "opening");
      events_fd_.reset(fd);
    }
    return events_fd_.get();
  }

  // Waits (poll on events_fd()) until `pred(events())` holds; false on timeout.
  template <class Pred>
  bool wait_events(Pred pred, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int step = 1;
    for (;;) {
      // Reading before polling arms the descriptor, so a change between
      // the read and the poll still wakes us.
      if (pred(events())) return true;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      struct pollfd p {
        events_fd(), POLLPRI, 0
      };
      int r = ::poll(&p, 1, detail::cg::poll_timeout_ms(step, left));
      if (r < 0 && errno != EINTR)
        detail::throw_errno(Step::cgroup, path_ + "/cgroup.events", "poll");
    }
  }

  CgroupStats stats() const {
    require_open();
    CgroupStats s;
    std::string t;
    auto opt = [&](const char* f) -> bool {
      int e = detail::cg::read_at(dir_.get(), f, t);
      if (e == ENOENT) return false;
      if (e != 0) throw Error(Step::cgroup, e, path_ + "/" + f, "reading");
      return true;
    };
    if (opt("memory.current")) s.memory_current = cgroup_parse::single_value(t);
    if (opt("memory.peak")) s.memory_peak = cgroup_parse::single_value(t);
    if (opt("cpu.stat")) s.cpu = cgroup_parse::cpu_stat(t);
    if (opt("pids.current")) s.pids_current = cgroup_parse::single_value(t);
    if (opt("io.stat")) s.io_stat = t;
    return s;
  }

  // ---- device access (cgroup-v2.rst, "Device controller")

  // Loads detail::device_filter_program(rules) and attaches it to this cgroup
  // (BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI). Called again, it replaces our
  // previous program atomically (BPF_F_REPLACE, Linux 5.6): no access is
  // ever decided by neither or both. Programs attached by others (here or on
  // ancestors) keep running too: an access must pass all of them.
  void device_rules(std::span<const DeviceRule> rules) {
    require_open();
    auto prog = detail::device_filter_program(rules);
    UniqueFd fd = load_device_program(prog);
    // bpf(2) resolves target_fd with fdget(), which refuses O_PATH files.
    UniqueFd dir(::openat(dir_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) detail::throw_errno(Step::cgroup, path_, "opening for BPF_PROG_ATTACH");
    union bpf_attr a;
    std::memset(&a, 0, sizeof a);
    a.target_fd = static_cast<std::uint32_t>(dir.get());
    a.attach_bpf_fd = static_cast<std::uint32_t>(fd.get());
    a.attach_type = BPF_CGROUP_DEVICE;
    a.attach_flags = BPF_F_ALLOW_MULTI;
    if (dev_prog_) {
      a.attach_flags |= BPF_F_REPLACE;
      a.replace_bpf_fd = static_cast<std::uint32_t>(dev_prog_.get());
    }
    if (::syscall(SYS_bpf, BPF_PROG_ATTACH, &a, sizeof a) != 0) {
      int e = errno;
      if (dev_prog_ && e == EINVAL) {
        // Before Linux 5.6 (no BPF_F_REPLACE): attach the new program, then
        // detach the old. In between both run, and an access needs both to
        // allow it: stricter for a moment, never looser.
        a.attach_flags = BPF_F_ALLOW_MULTI;
        a.replace_bpf_fd = 0;
        if (::syscall(SYS_bpf, BPF_PROG_ATTACH, &a, sizeof a) == 0) {
          a.attach_bpf_fd = static_cast<std::uint32_t>(dev_prog_.get());
          ::syscall(SYS_bpf, BPF_PROG_DETACH, &a, sizeof a);
          dev_prog_ = std::move(fd);
          return;
        }
        e = errno;
      }
      throw Error(Step::cgroup, e, path_,
                  std::string("BPF_PROG_ATTACH BPF_CGROUP_DEVICE") +
                      (dev_prog_ ? " with BPF_F_REPLACE" : "") +
                      (e == EPERM ? ": needs CAP_SYS_ADMIN" : ""));
    }
    dev_prog_ = std::move(fd);
  }
  void device_rules(std::initializer_list<DeviceRule> rules) {
    device_rules(std::span<const DeviceRule>(rules.begin(), rules.size()));
  }
  // Our attached program, or -1 (borrowed).
  int device_program_fd() const noexcept { return dev_prog_.get(); }

  // Loads a BPF_PROG_TYPE_CGROUP_DEVICE program. It calls no helper, so the
  // verifier does not look at the license (only gpl_only helpers need a
  // GPL-compatible one): ward's own license string is used.
  static UniqueFd load_device_program(std::span<const bpf_insn> prog) {
    static const char license[] = "Apache-2.0";
    union bpf_attr a;
    std::memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    a.insns = reinterpret_cast<std::uintptr_t>(prog.data());
    a.insn_cnt = static_cast<std::uint32_t>(prog.size());
    a.license = reinterpret_cast<std::uintptr_t>(license);
    long fd = ::syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof a);
    if (fd >= 0) return UniqueFd(detail::off_stdio(static_cast<int>(fd)));  // kept: dev_prog_
    int e = errno;
    // Again with the verifier's log, for the error message.
    std::string log(16384, '\0');
    a.log_level = 1;
    a.log_buf = reinterpret_cast<std::uintptr_t>(log.data());
    a.log_size = static_cast<std::uint32_t>(log.size());
    long again = ::syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof a);
    if (again >= 0) ::close(static_cast<int>(again));
    log.resize(std::strlen(log.c_str()));
    if (log.size() > 600) log = "..." + log.substr(log.size() - 600);
    throw Error(Step::cgroup, e, "device program",
                "BPF_PROG_LOAD of " + std::to_string(prog.size()) + " instructions" +
                    (e == EPERM ? " (needs CAP_BPF and CAP_SYS_ADMIN)" : "") +
                    (log.empty() ? "" : ": verifier: " + log));
  }

  // ---- destruction

  // Kills every process of the cgroup and its descendants, waits until
  // they are gone (cgroup.events "populated 0"), removes the descendant
  // cgroups depth-first, then the cgroup. Then the intermediates create()
  // made for it, deepest first, each only if it is empty: another cgroup
  // may have been made beside ours meanwhile, and what is in there is not
  // ours to kill. Idempotent: a cgroup already removed (by us or anyone)
  // is fine. Throws if it cannot finish.
  void destroy(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    if (!owned_ || !top_parent_) {
      close_all();
      return;
    }
    destroy_own(timeout);
    remove_made_parents();
    close_all();
  }

 private:
  void destroy_own(std::chrono::milliseconds timeout) {
    // The usual case, a cgroup whose processes have all exited and that has
    // no descendants, goes with one rmdir; the kernel refuses it (EBUSY)
    // while a process is left in it or a descendant exists, and then the
    // whole procedure below runs. In a `ward run`, destroy() went from ~260
    // to ~55 us with this (bench/README.md).
    if (::unlinkat(top_parent_.get(), top_name_.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT) {
      return;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    UniqueFd top(::openat(top_parent_.get(), top_name_.c_str(), detail::cg::kPathFlags));
    if (!top) {
      if (errno != ENOENT) detail::throw_errno(Step::cgroup, top_path_, "opening to destroy");
      return;  // already gone
    }
    std::string ev;
    int e = detail::cg::read_at(top.get(), "cgroup.events", ev);
    if (e == ENOENT) {  // removed: the descriptor points at a dead directory
      return;
    }
    if (e != 0) throw Error(Step::cgroup, e, top_path_ + "/cgroup.events", "reading");
    // Killed even when "populated 0" was just read: a process may be moved
    // in meanwhile (cgroup.kill on an empty cgroup costs nothing).
    kill_at(top.get(), top_path_, timeout);
    if (!wait_populated_0(top.get(), deadline))
      throw Error(Step::cgroup, ETIMEDOUT, top_path_ + "/cgroup.events",
                  "processes still alive " + detail::cg::ms(timeout) + " after SIGKILL");
    remove_tree(top_parent_.get(), top_name_, top_path_, deadline);
  }

  // Best effort: a plain rmdir of each intermediate create() made, deepest
  // first, stopping at the first one that is in use (EBUSY, ENOTEMPTY).
  void remove_made_parents() noexcept {
    for (auto it = made_parents_.rbegin(); it != made_parents_.rend(); ++it)
      if (::unlinkat(it->parent.get(), it->name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
        break;
    made_parents_.clear();
  }

  static const CgroupHost& require_v2() {
    const CgroupHost& host = cgroup_host();
    if (host.unified_mount.empty())
      throw Error(Step::cgroup, ENOENT, "cgroup2",
                  "no cgroup v2 hierarchy is mounted (host cgroup mode: " +
                      std::string(to_string(host.mode)) +
                      "); CgroupV2 needs one (ward::Cgroups also drives v1 hierarchies)");
    return host;
  }

  // A path inside the hierarchy ("/a/b", as /proc/PID/cgroup shows it) or
  // a path under the mount, to a path under the mount.
  static std::string fs_path(const CgroupHost& host, std::string_view p) {
    if (p.empty() || p.front() != '/')
      detail::throw_invalid("cgroup path", "'" + std::string(p) + "' is not an absolute path");
    if (p.find("/../") != std::string_view::npos || p.ends_with("/.."))
      detail::throw_invalid("cgroup path", "'" + std::string(p) + "' contains '..'");
    std::string s(p);
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    const std::string& m = host.unified_mount;
    if (s == m || s.rfind(m + "/", 0) == 0) return s;
    // Inside the hierarchy: strip the mount's own root (mountinfo field 4).
    std::string_view rel = s;
    const std::string& root = host.unified_root;
    if (root != "/" && (rel == root || (rel.rfind(root + "/", 0) == 0)))
      rel.remove_prefix(root.size());
    if (rel == "/") rel = "";
    return m + std::string(rel);
  }

  static std::vector<std::string> name_components(std::string_view name) {
    if (name.empty()) detail::throw_invalid("cgroup name", "empty");
    if (name.front() == '/')
      detail::throw_invalid("cgroup name", "'" + std::string(name) + "' must be relative");
    std::vector<std::string> out;
    for (auto c : cgroup_parse::split(name, '/')) {
      if (c.empty() || c == "." || c == ".." || c.find('\0') != std::string_view::npos ||
          c.find('\n') != std::string_view::npos || c.size() > 255)
        detail::throw_invalid("cgroup name", "'" + std::string(name) + "' has a bad component");
      out.emplace_back(c);
    }
    return out;
  }

  static std::string num(std::uint64_t v) {
    return v == cgroup_unlimited ? "max" : std::to_string(v);
  }
  static std::string weight_value(std::uint64_t w) {
    if (w < 1 || w > 10000)
      detail::throw_invalid("io.weight", std::to_string(w) + " is outside 1..10000");
    return std::to_string(w);
  }
  static std::string list_value(const char* field, std::string_view v) {
    if (v.find_first_not_of("0123456789,- ") != std::string_view::npos)
      detail::throw_invalid(field, "'" + std::string(v) + "' is not a list like 0-3,5");
    return std::string(v);
  }

  void require_open() const {
    if (!dir_) throw Error(Step::cgroup, EBADF, "cgroup", "no cgroup (destroyed or moved from)");
  }

  std::string read(const std::string& f) const {
    require_open();
    std::string out;
    if (int e = detail::cg::read_at(dir_.get(), f, out)) {
      if (e == ENOENT) fail_missing(e, f, "reading");
      throw Error(Step::cgroup, e, path_ + "/" + f, "reading");
    }
    return out;
  }

  // Why a controller's files are missing here.
  std::string unavailable_reason(const std::string& ctl, const std::string& at) const {
    const CgroupHost& host = cgroup_host();
    std::string where = "the " + ctl +
                        " controller is not available in the cgroup v2 hierarchy at " +
                        host.unified_mount;
    if (host.mode == CgroupMode::hybrid && host.bound_to_v1(ctl))
      return where + " (hybrid host: it is bound to cgroup v1)";
    std::string root_ctl;
    UniqueFd root(::open(host.unified_mount.c_str(), detail::cg::kPathFlags));
    if (root) detail::cg::read_at(root.get(), "cgroup.controllers", root_ctl);
    auto rc = cgroup_parse::words(root_ctl);
    if (std::find(rc.begin(), rc.end(), ctl) == rc.end())
      return where + " (this kernel does not offer it, or it is bound to a v1 hierarchy)";
    return "the " + ctl + " controller is not enabled in the cgroup.subtree_control of " + at +
           "'s parent, outside the delegated subtree";
  }

  [[noreturn]] void fail_missing(int e, const std::string& f, const std::string& what) const {
    std::string ctl = f.substr(0, f.find('.'));
    std::string why = what + ": ";
    int err = e;
    std::string here;
    detail::cg::read_at(dir_.get(), "cgroup.controllers", here);
    auto have = cgroup_parse::words(here);
    const CgroupHost& host = cgroup_host();
    std::string root_ctl;
    UniqueFd root(::open(host.unified_mount.c_str(), detail::cg::kPathFlags));
    if (root) detail::cg::read_at(root.get(), "cgroup.controllers", root_ctl);
    auto rc = cgroup_parse::words(root_ctl);
    const bool known = ctl == "memory" || ctl == "cpu" || ctl == "cpuset" || ctl == "io" ||
                       ctl == "pids" || ctl == "hugetlb" || ctl == "rdma" || ctl == "misc";
    if (known && std::find(rc.begin(), rc.end(), ctl) == rc.end()) {
      err = EOPNOTSUPP;
      why += f + ": " + unavailable_reason(ctl, path_);
    } else if (known && std::find(have.begin(), have.end(), ctl) == have.end()) {
      why += f + ": the " + ctl + " controller is not enabled for this cgroup: call " +
             "enable_controllers({\"" + ctl + "\"}) (it writes '+" + ctl +
             "' into the parents' cgroup.subtree_control)";
    } else {
      why += f + ": no such interface file in this cgroup (never created by ward)";
    }
    throw Error(Step::cgroup, err, path_ + "/" + f, why);
  }

  [[noreturn]] void fail(int e, const std::string& f, std::string_view value) const {
    std::string what = "writing '" + std::string(value) + "'";
    if (e == ENOENT) fail_missing(e, f, what);
    if (e == EBUSY && f == "cgroup.procs")
      what +=
          ": this cgroup has controllers enabled in cgroup.subtree_control, so it may not "
          "have processes (cgroup-v2.rst, \"No Internal Process Constraint\")";
    throw Error(Step::cgroup, e, path_ + "/" + f, what);
  }

  static void kill_at(int dirfd, const std::string& path, std::chrono::milliseconds timeout) {
    int e = detail::cg::write_at(dirfd, "cgroup.kill", "1");
    if (e == 0) return;
    if (e != ENOENT) throw Error(Step::cgroup, e, path + "/cgroup.kill", "writing '1'");
    // No cgroup.kill (before Linux 5.14): signal each member, again and
    // again, since a process may fork between our read and our kill.
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      std::vector<pid_t> pids;
      collect_pids(dirfd, pids);
      if (pids.empty()) return;
      for (pid_t p : pids) ::kill(p, SIGKILL);
      if (std::chrono::steady_clock::now() > deadline)
        throw Error(Step::cgroup, ETIMEDOUT, path + "/cgroup.procs",
                    "processes keep appearing after SIGKILL");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  static void collect_pids(int dirfd, std::vector<pid_t>& out) {
    std::string t;
    if (detail::cg::read_at(dirfd, "cgroup.procs", t) == 0) detail::cg::append_pids(t, out);
    for (auto& sub : subdirs(dirfd)) {
      UniqueFd s(::openat(dirfd, sub.c_str(), detail::cg::kPathFlags));
      if (s) collect_pids(s.get(), out);
    }
  }

  static std::vector<std::string> subdirs(int dirfd) {
    std::vector<std::string> out;
    int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return out;
    DIR* d = ::fdopendir(fd);
    if (!d) {
      ::close(fd);
      return out;
    }
    while (dirent* ent = ::readdir(d)) {
      std::string_view n = ent->d_name;
      if (ent->d_type == DT_DIR && n != "." && n != "..") out.emplace_back(n);
    }
    ::closedir(d);
    return out;
  }

  static bool wait_populated_0(int dirfd, std::chrono::steady_clock::time_point deadline) {
    UniqueFd ev(::openat(dirfd, "cgroup.events", O_RDONLY | O_CLOEXEC));
    if (!ev) return errno == ENOENT;
    std::string t;
    int step = 1;
    for (;;) {
      // Removed meanwhile (ENODEV: kernfs's read of a removed node): empty.
      if (int e = detail::cg::pread_all(ev.get(), t); e != 0) return detail::cg::removed(e);
      if (cgroup_parse::flat_value(t, "populated").value_or(0) == 0) return true;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      struct pollfd p {
        ev.get(), POLLPRI, 0
      };
      ::poll(&p, 1, detail::cg::poll_timeout_ms(step, left));
    }
  }

  // Depth-first rmdir. rmdir of an empty cgroup can briefly fail with EBUSY
  // while exiting tasks are still being released: retried until `deadline`.
  static void remove_tree(int parent_fd, const std::string& name, const std::string& path,
                          std::chrono::steady_clock::time_point deadline) {
    UniqueFd self(::openat(parent_fd, name.c_str(), detail::cg::kPathFlags));
    if (!self) {
      if (errno == ENOENT) return;
      detail::throw_errno(Step::cgroup, path, "opening to remove");
    }
    for (auto& sub : subdirs(self.get())) remove_tree(self.get(), sub, path + "/" + sub, deadline);
    for (;;) {
      if (::unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT) return;
      int e = errno;
      if (e == EBUSY && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      throw Error(Step::cgroup, e, path, "rmdir");
    }
  }

  void close_all() noexcept {
    dev_prog_.reset();
    events_fd_.reset();
    dir_.reset();
    top_parent_.reset();
    made_parents_.clear();
    owned_ = false;
  }

  void destroy_noexcept() noexcept {
    try {
      destroy();
    } catch (...) {
      close_all();
    }
  }

  std::string path_;      // this cgroup, under the mount
  std::string top_path_;  // what destroy() kills and removes (== path_)
  std::string top_name_;  // its last component
  std::string boundary_;  // enable_controllers() writes nothing above this
  UniqueFd dir_;          // O_PATH, this cgroup
  UniqueFd top_parent_;   // O_PATH, the directory holding top_name_
  // Intermediates create() made, topmost first: removed while empty.
  struct MadeParent {
    UniqueFd parent;  // O_PATH, the directory holding it
    std::string name, path;
  };
  std::vector<MadeParent> made_parents_;
  mutable UniqueFd events_fd_;
  UniqueFd dev_prog_;
  bool owned_ = false;
};

}  // namespace ward
