// SPDX-License-Identifier: Apache-2.0
// CgroupV1: one cgroup in each of a set of cgroup v1 hierarchies, owned
// RAII-style (issue #14: v1-only and hybrid hosts).
//
// References are to the kernel's Documentation/admin-guide/cgroup-v1/*.rst.
// On a v1 host every controller (or set of co-mounted controllers, e.g.
// "cpu,cpuacct") is its own hierarchy with its own directory tree
// (cgroups.rst, "Usage Examples and Syntax"), so one logical cgroup
// "ward/ID" is one directory per distinct hierarchy. Host layout comes from
// cgroup_host().v1_hierarchies (cgroup.hpp). Named hierarchies without a
// controller (name=systemd) are not touched, and neither is a hierarchy's
// mount: ward never mounts or unmounts v1 hierarchies. A hierarchy mounted
// with "noprefix" (interface files without the "cpuset." prefix) is not
// supported.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
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
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <ward/cgroup.hpp>
#include <ward/error.hpp>
#include <ward/fd.hpp>

#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif

namespace ward {

// memory.oom_control (memcg_v1.rst, "OOM Control"); oom_kill since Linux 4.13.
struct V1OomControl {
  bool oom_kill_disable = false;
  bool under_oom = false;
  std::uint64_t oom_kill = 0;
};

// Fields whose controller this cgroup lacks stay empty.
struct CgroupV1Stats {
  std::optional<std::uint64_t> memory_usage;      // memory.usage_in_bytes
  std::optional<std::uint64_t> memory_max_usage;  // memory.max_usage_in_bytes
  std::optional<V1OomControl> oom;                // memory.oom_control
  std::optional<std::uint64_t> pids_current;      // pids.current
  std::optional<std::uint64_t> cpuacct_usage;     // cpuacct.usage (ns)
};

namespace cgroup_parse {
inline V1OomControl oom_control(std::string_view text) {
  V1OomControl o;
  o.oom_kill_disable = flat_value(text, "oom_kill_disable").value_or(0) != 0;
  o.under_oom = flat_value(text, "under_oom").value_or(0) != 0;
  o.oom_kill = flat_value(text, "oom_kill").value_or(0);
  return o;
}
}  // namespace cgroup_parse

namespace detail::cgv1 {

inline constexpr std::string_view kControllers[] = {
    "cpu",        "cpuacct",  "cpuset", "memory",  "devices", "freezer", "net_cls",
    "perf_event", "net_prio", "blkio",  "hugetlb", "pids",    "rdma",    "misc"};

inline bool known(std::string_view c) {
  return std::find(std::begin(kControllers), std::end(kControllers), c) != std::end(kControllers);
}

inline std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "none" : out;
}

inline std::string mounted_list(const CgroupHost& host) {
  std::string out;
  for (const auto& h : host.v1_hierarchies) {
    std::string set;
    for (const auto& c : h.controllers) set += (set.empty() ? "" : ",") + c;
    out += (out.empty() ? "" : "; ") + set + " at " + h.mount;
  }
  return out.empty() ? "none" : out;
}

[[noreturn]] inline void not_mounted(const std::string& object, std::string_view controller) {
  throw Error(Step::cgroup, EOPNOTSUPP, object,
              "controller " + std::string(controller) +
                  " is not mounted as a v1 hierarchy on this host (v1 hierarchies: " +
                  mounted_list(cgroup_host()) + ")");
}

// "ward/ID": relative, no empty, "." or ".." component, so every
// directory made stays below the hierarchy's mount.
inline std::vector<std::string> components(std::string_view path) {
  auto bad = [&](const std::string& why) {
    throw Error(Step::cgroup, EINVAL, "cgroup v1 path '" + std::string(path) + "'", why);
  };
  if (path.empty()) bad("empty");
  if (path.front() == '/') bad("must be relative to the hierarchies' roots (no leading '/')");
  std::vector<std::string> out;
  for (auto c : cgroup_parse::split(path, '/')) {
    if (c.empty()) bad("has an empty component");
    if (c == "..") bad("has a '..' component: it would leave the hierarchy");
    if (c == ".") bad("has a '.' component");
    if (c.find('\0') != std::string_view::npos || c.find('\n') != std::string_view::npos)
      bad("has a NUL or newline");
    if (c.size() > 255) bad("has a component longer than 255 bytes");
    out.emplace_back(c);
  }
  return out;
}

inline bool is_cgroup1(int fd) {
  struct statfs st {};
  return ::fstatfs(fd, &st) == 0 && st.f_type == CGROUP_SUPER_MAGIC;
}

inline std::vector<pid_t> pids_of(std::string_view text) {
  std::vector<pid_t> out;
  cg::append_pids(text, out);
  return out;
}

// Where the v1 hierarchy holding `controller` has the cgroup named by a
// /proc/PID/cgroup or /proc/PID/task/TID/cgroup text (cgroups(7):
// "hierarchy-ID:controller-list:cgroup-path", the path relative to the
// mount's root): the directory below that hierarchy's mount. Empty when the
// hierarchy is not mounted, or the path is not below the mount's root
// (another cgroup namespace's view, "/.." components included).
inline std::string v1_dir_in(std::string_view text, std::string_view controller) {
  const auto* h = cgroup_host().v1_hierarchy(controller);
  const auto path = cgroup_parse::hierarchy_path(text, controller);
  if (h == nullptr || !path) return {};
  std::string_view rel = *path;
  for (auto c : cgroup_parse::split(rel, '/'))
    if (c == "..") return {};
  const std::string_view root = h->root;
  if (root != "/") {
    if (rel.substr(0, root.size()) != root || (rel.size() > root.size() && rel[root.size()] != '/'))
      return {};
    rel.remove_prefix(root.size());
  }
  while (!rel.empty() && rel.front() == '/') rel.remove_prefix(1);
  return rel.empty() ? h->mount : h->mount + "/" + std::string(rel);
}

// The /proc/PID/task/TID/cgroup texts of every live thread of the process
// open as `pid_dir` (/proc/PID). Each thread's own: v1 moves threads one by
// one (`tasks`), and a zombie leader's /proc/PID/cgroup reads "/" in every
// v1 hierarchy (kernel/cgroup/cgroup.c, proc_cgroup_show).
inline std::vector<std::string> thread_cgroups(int pid_dir) {
  std::vector<std::string> out;
  UniqueFd tasks(::openat(pid_dir, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!tasks) return out;
  std::vector<std::string> tids;
  if (DIR* d = ::fdopendir(::fcntl(tasks.get(), F_DUPFD_CLOEXEC, 3))) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] >= '0' && e->d_name[0] <= '9') tids.emplace_back(e->d_name);
    ::closedir(d);
  }
  for (const auto& tid : tids) {
    std::string text;
    if (cg::read_at(tasks.get(), tid + "/cgroup", text) == 0) out.push_back(std::move(text));
  }
  return out;
}

// A process the v1 freezer holds cannot die: a frozen task acts on no
// signal, SIGKILL included, until it is thawed (seen on this project's
// hosts: crun's test_simple_delete freezes a container's init in a freezer
// cgroup of its own, and a SIGKILLed init stays until thawed; the v2
// freezer lets fatal signals through, cgroup-v2.rst "cgroup.freeze").
// Whether the freezer cgroup named in a thread's cgroup text reads FROZEN
// or FREEZING.
inline bool frozen_in(std::string_view cgroup_text) {
  const std::string dir = v1_dir_in(cgroup_text, "freezer");
  if (dir.empty()) return false;
  UniqueFd d(::open(dir.c_str(), cg::kPathFlags));
  std::string state;
  return d && cg::read_at(d.get(), "freezer.state", state) == 0 && state.rfind("THAWED", 0) != 0;
}

}  // namespace detail::cgv1

// A cgroup "PATH" in every v1 hierarchy that holds one of its controllers.
// Every interface file is reached with openat(2) relative to a directory
// descriptor opened when the cgroup was made: a later rename of, or mount
// over, the path does not redirect our writes.
class CgroupV1 {
 public:
  CgroupV1() = default;
  CgroupV1(const CgroupV1&) = delete;
  CgroupV1& operator=(const CgroupV1&) = delete;
  CgroupV1(CgroupV1&& o) noexcept { *this = std::move(o); }
  CgroupV1& operator=(CgroupV1&& o) noexcept {
    if (this != &o) {
      destroy_noexcept();
      path_ = std::move(o.path_);
      hier_ = std::move(o.hier_);
      owned_ = std::exchange(o.owned_, false);
    }
    return *this;
  }
  // Best effort and silent: call destroy() to learn why a cgroup stayed.
  ~CgroupV1() { destroy_noexcept(); }

  // Makes PATH ("ward/ID", relative to each hierarchy's mount point) in the
  // hierarchy of each of `controllers`; co-mounted controllers share one
  // directory. Missing intermediates are made too and remembered: destroy()
  // removes only what this call made. Every name is checked before anything
  // is made, and if a later step fails everything made so far is removed
  // before the error is thrown.
  //
  // With `existing_ok`, a leaf that already exists in some hierarchy is
  // taken over there instead (owned: destroy() removes it), so that a
  // cgroup a crashed run left in some hierarchies and not in others can be
  // made whole (Cgroups::create).
  static CgroupV1 create(std::string_view path, std::span<const std::string> controllers,
                         bool existing_ok = false) {
    auto comps = detail::cgv1::components(path);
    CgroupV1 cg = plan(path, controllers);
    try {
      for (auto& h : cg.hier_) make_in(h, comps, existing_ok);
    } catch (...) {
      cg.undo_made();
      throw;
    }
    cg.owned_ = true;
    return cg;
  }
  static CgroupV1 create(std::string_view path, std::initializer_list<std::string> controllers) {
    return create(path, std::span<const std::string>(controllers.begin(), controllers.size()));
  }

  // Takes over an existing cgroup PATH in those hierarchies: destroying the
  // object removes it (never its parents).
  static CgroupV1 adopt(std::string_view path, std::span<const std::string> controllers) {
    detail::cgv1::components(path);
    CgroupV1 cg = plan(path, controllers);
    for (auto& h : cg.hier_) {
      UniqueFd root = open_mount(h);
      auto slash = std::string(path).rfind('/');
      std::string parent = slash == std::string::npos ? "." : std::string(path.substr(0, slash));
      h.leaf_name =
          slash == std::string::npos ? std::string(path) : std::string(path.substr(slash + 1));
      h.leaf_parent.reset(
          detail::off_stdio(::openat(root.get(), parent.c_str(), detail::cg::kPathFlags)));
      if (!h.leaf_parent)
        detail::throw_errno(Step::cgroup, h.dir_path, "opening the parent cgroup");
      h.dir.reset(detail::off_stdio(
          ::openat(h.leaf_parent.get(), h.leaf_name.c_str(), detail::cg::kPathFlags)));
      if (!h.dir) detail::throw_errno(Step::cgroup, h.dir_path, "opening the cgroup");
      if (!detail::cgv1::is_cgroup1(h.dir.get()))
        throw Error(Step::cgroup, ENOTDIR, h.dir_path, "not a directory of a cgroup v1 hierarchy");
    }
    cg.owned_ = true;
    return cg;
  }
  static CgroupV1 adopt(std::string_view path, std::initializer_list<std::string> controllers) {
    return adopt(path, std::span<const std::string>(controllers.begin(), controllers.size()));
  }

  // Keep the cgroup: the destructor will leave it (the object stays usable).
  void release() noexcept { owned_ = false; }

  // Gives back what create(existing_ok) found: removes the directories this
  // object's create() made (the leaf where it was new, the parents it
  // made), each with a plain rmdir, deepest first, and leaves those that
  // were there already, never killing in them. The object is closed
  // afterwards. For a leftover that must not be taken over (Cgroups::create
  // when it holds processes; test "cgroups: a leftover whose processes sit
  // in a child cgroup is never taken over").
  void undo_create() noexcept {
    undo_made();
    owned_ = false;
  }

  bool valid() const noexcept { return !hier_.empty() && static_cast<bool>(hier_.front().dir); }
  // The relative path given to create/adopt.
  const std::string& path() const noexcept { return path_; }
  // Every controller whose files this object reaches: those asked for and
  // those co-mounted with them, in the kernel's order per hierarchy.
  std::vector<std::string> controllers() const {
    std::vector<std::string> out;
    for (const auto& h : hier_) out.insert(out.end(), h.controllers.begin(), h.controllers.end());
    return out;
  }
  bool has(std::string_view controller) const { return find(controller) != nullptr; }
  // The absolute directory of `controller`'s hierarchy ("/sys/fs/cgroup/memory/ward/ID").
  const std::string& dir(std::string_view controller) const { return need(controller).dir_path; }
  // Borrowed O_PATH directory descriptor of `controller`'s hierarchy.
  int dir_fd(std::string_view controller) const { return need(controller).dir.get(); }
  // One directory descriptor per distinct hierarchy.
  std::vector<int> dir_fds() const {
    std::vector<int> out;
    for (const auto& h : hier_) out.push_back(h.dir.get());
    return out;
  }

  // ---- processes

  // Moves a process (all its threads) into the cgroup of every hierarchy
  // (cgroups.rst, "Attaching processes": cgroup.procs).
  void add(pid_t pid) {
    require_open();
    for (auto& h : hier_) write(h, "cgroup.procs", std::to_string(pid));
  }
  // Whether a process is in the cgroup or below it, in any hierarchy.
  bool populated() const {
    require_open();
    return !live_procs().empty();
  }
  // Members (the union over the hierarchies), sorted.
  std::vector<pid_t> procs() const {
    require_open();
    std::vector<pid_t> out;
    for (const auto& h : hier_) {
      auto p = detail::cgv1::pids_of(read(h, "cgroup.procs"));
      out.insert(out.end(), p.begin(), p.end());
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  // ---- limits. cgroup_unlimited writes the file's "no limit" spelling.

  // memcg_v1.rst, "Setting a memory limit": "-1" removes the limit. The
  // kernel reclaims down to a lower limit and fails with EBUSY if it cannot.
  void memory_limit(std::uint64_t bytes) { set("memory.limit_in_bytes", signed_num(bytes)); }
  // memory+swap (memcg_v1.rst, "memory.memsw.*"): must be >= the memory
  // limit, so set memory_limit first when lowering.
  void memory_swap_limit(std::uint64_t bytes) {
    const Hierarchy& h = need("memory");
    std::string v = signed_num(bytes);
    int e = detail::cg::write_at(h.dir.get(), "memory.memsw.limit_in_bytes", v);
    if (e == ENOENT)
      throw Error(Step::cgroup, EOPNOTSUPP, h.dir_path + "/memory.memsw.limit_in_bytes",
                  "writing '" + v +
                      "': swap accounting is off on this host (no memory.memsw.* files: kernel "
                      "without CONFIG_MEMCG_SWAP, or booted with swapaccount=0)");
    if (e != 0) fail(h, e, "memory.memsw.limit_in_bytes", v);
  }
  // Soft limit (memcg_v1.rst, "Soft limits").
  void memory_reservation(std::uint64_t bytes) {
    set("memory.soft_limit_in_bytes", signed_num(bytes));
  }
  // pids.rst: "max" for no limit.
  void pids_max(std::uint64_t n) {
    set("pids.max", n == cgroup_unlimited ? std::string("max") : std::to_string(n));
  }
  void cpu_shares(std::uint64_t shares) { set("cpu.shares", std::to_string(shares)); }
  // CFS bandwidth (scheduler/sched-bwc.rst): period first, so a quota that
  // only fits the new period is accepted; quota -1 for none.
  void cpu_quota(std::int64_t quota_us, std::uint64_t period_us = 100000) {
    set("cpu.cfs_period_us", std::to_string(period_us));
    set("cpu.cfs_quota_us", quota_us < 0 ? std::string("-1") : std::to_string(quota_us));
  }
  // Realtime budget (scheduler/sched-rt-group.rst).
  void cpu_rt(std::int64_t runtime_us, std::uint64_t period_us) {
    set("cpu.rt_period_us", std::to_string(period_us));
    set("cpu.rt_runtime_us", std::to_string(runtime_us));
  }
  // cpusets.rst: lists like "0-3,5", within the parent's.
  void cpuset_cpus(std::string_view cpus) { set("cpuset.cpus", list_value("cpuset.cpus", cpus)); }
  void cpuset_mems(std::string_view mems) { set("cpuset.mems", list_value("cpuset.mems", mems)); }
  // blkio-controller.rst: blkio.weight (CFQ, 10..1000); kernels with BFQ
  // only have blkio.bfq.weight (1..1000).
  void blkio_weight(std::uint64_t weight) {
    const Hierarchy& h = need("blkio");
    std::string v = std::to_string(weight);
    int e = detail::cg::write_at(h.dir.get(), "blkio.weight", v);
    if (e == ENOENT) {
      e = detail::cg::write_at(h.dir.get(), "blkio.bfq.weight", v);
      if (e == ENOENT)
        throw Error(Step::cgroup, ENOENT, h.dir_path + "/blkio.weight",
                    "writing '" + v +
                        "': neither blkio.weight nor blkio.bfq.weight exists (no CFQ or BFQ "
                        "proportional weight on this kernel)");
      if (e != 0) fail(h, e, "blkio.bfq.weight", v);
    } else if (e != 0) {
      fail(h, e, "blkio.weight", v);
    }
  }
  // devices.rst: "TYPE MAJOR:MINOR ACCESS" lines, "a" for all devices.
  void device_allow(std::string_view rule) { set("devices.allow", rule); }
  void device_deny(std::string_view rule) { set("devices.deny", rule); }
  // Default deny, then each allow rule (deny rules after), as runc does.
  // Not atomic: between the first write and the last, processes in the
  // cgroup are denied what the rules will allow. Set them before the cgroup
  // has processes (the runtime does: tests/root/runtime_devices_test.cpp,
  // "400 terminal runs"); CgroupV2::device_rules replaces in one call.
  void device_rules(std::span<const DeviceRule> rules) {
    device_deny("a");
    for (const auto& r : rules)
      if (r.allow) device_allow(rule_line(r));
    for (const auto& r : rules)
      if (!r.allow) device_deny(rule_line(r));
  }
  void device_rules(std::initializer_list<DeviceRule> rules) {
    device_rules(std::span<const DeviceRule>(rules.begin(), rules.size()));
  }
  static std::string rule_line(const DeviceRule& r) {
    if (r.type == 'a') return "a";
    auto n = [](std::int64_t x) { return x < 0 ? std::string("*") : std::to_string(x); };
    return std::string(1, r.type) + " " + n(r.major) + ":" + n(r.minor) + " " +
           (r.access.empty() ? std::string("rwm") : r.access);
  }
  // hugetlb.rst: hugetlb.<size>.limit_in_bytes, size as "2MB", "1GB".
  void hugetlb_limit(std::string_view size, std::uint64_t bytes) {
    detail::cg::check_hugetlb_size(size, "hugetlb_limit");
    set("hugetlb." + std::string(size) + ".limit_in_bytes", signed_num(bytes));
  }

  // Any interface file: the controller is the name's prefix ("memory." ->
  // memory); "cgroup.*", "tasks" and "notify_on_release" go to every
  // hierarchy. Nothing is ever created (no O_CREAT).
  void set(std::string_view file, std::string_view value) {
    require_open();
    std::string f = detail::cg::checked_file(file);
    if (value.find('\0') != std::string_view::npos)
      detail::throw_invalid(f, "value contains a NUL byte");
    std::string ctl = f.substr(0, f.find('.'));
    if (ctl == "cgroup" || f == "tasks" || f == "notify_on_release") {
      for (auto& h : hier_) write(h, f, value);
      return;
    }
    write(need_for(ctl, f), f, value);
  }
  // The raw contents of an interface file (from the first hierarchy for
  // the shared files).
  std::string get(std::string_view file) const {
    require_open();
    std::string f = detail::cg::checked_file(file);
    std::string ctl = f.substr(0, f.find('.'));
    if (ctl == "cgroup" || f == "tasks" || f == "notify_on_release") return read(hier_.front(), f);
    return read(need_for(ctl, f), f);
  }

  // ---- statistics

  V1OomControl oom_control() const {
    return cgroup_parse::oom_control(read(need("memory"), "memory.oom_control"));
  }
  CgroupV1Stats stats() const {
    require_open();
    CgroupV1Stats s;
    if (const Hierarchy* m = find("memory")) {
      s.memory_usage = cgroup_parse::single_value(read(*m, "memory.usage_in_bytes"));
      s.memory_max_usage = cgroup_parse::single_value(read(*m, "memory.max_usage_in_bytes"));
      s.oom = cgroup_parse::oom_control(read(*m, "memory.oom_control"));
    }
    if (const Hierarchy* p = find("pids"))
      s.pids_current = cgroup_parse::single_value(read(*p, "pids.current"));
    if (const Hierarchy* c = find("cpuacct"))
      s.cpuacct_usage = cgroup_parse::single_value(read(*c, "cpuacct.usage"));
    return s;
  }

  // ---- freezer (freezer-subsystem.rst)

  // Writes FROZEN until freezer.state reads FROZEN: FREEZING means some task
  // is not stopped yet, and writing FROZEN again retries it (as runc does).
  // On timeout the cgroup is thawed again and ETIMEDOUT thrown.
  void freeze(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    if (!to_state("FROZEN", timeout)) {
      const Hierarchy& h = need("freezer");
      detail::cg::write_at(h.dir.get(), "freezer.state", "THAWED");
      throw Error(
          Step::cgroup, ETIMEDOUT, h.dir_path + "/freezer.state",
          "writing 'FROZEN': not FROZEN after " + detail::cg::ms(timeout) + " (thawed again)");
    }
  }
  void thaw(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    if (!to_state("THAWED", timeout))
      throw Error(Step::cgroup, ETIMEDOUT, need("freezer").dir_path + "/freezer.state",
                  "writing 'THAWED': not THAWED after " + detail::cg::ms(timeout));
  }
  // freezer.state, trimmed: THAWED, FREEZING or FROZEN.
  std::string freezer_state() const {
    std::string s = read(need("freezer"), "freezer.state");
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }

  // ---- lifecycle

  // SIGKILL to every member, then waits until none is left. With the
  // freezer: freeze, signal each pid, thaw, so a process cannot fork
  // between our read of cgroup.procs and the kill (runc's v1
  // signalAllProcesses). Without it: signal the members again and again
  // until none is left. Throws ETIMEDOUT if some remain after `timeout`.
  void kill(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    require_open();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    // Nothing to do for an empty cgroup, or one removed behind our back
    // (destroy() stays idempotent); the freezer is not even touched.
    if (live_procs().empty()) return;
    // The loop below handles two cases this cannot: under a frozen parent
    // our freezer cgroup can be neither frozen nor thawed by us (it reads
    // FROZEN whatever we write), so its members are moved out; and a cgroup
    // removed meanwhile (whoever made it may destroy it as soon as its
    // processes are gone: a foreground `ward run` whose container a
    // `delete --force` killed) has no member left, so it reads empty.
    if (has("freezer")) {
      std::string parent_freezing;
      int e = detail::cg::read_at(need("freezer").dir.get(), "freezer.parent_freezing",
                                  parent_freezing);
      if (e != 0 && !detail::cg::removed(e))
        throw Error(Step::cgroup, e, need("freezer").dir_path + "/freezer.parent_freezing",
                    "reading");
      if (e == 0 && parent_freezing.rfind('1', 0) != 0) {
        try {
          freeze(timeout);
          for (pid_t p : procs()) ::kill(p, SIGKILL);
          thaw(timeout);
        } catch (const Error& err) {
          if (!detail::cg::removed(err.code().value())) throw;
          // Some part of it went: never leave the rest frozen.
          detail::cg::write_at(need("freezer").dir.get(), "freezer.state", "THAWED");
        }
      }
    }
    // Members that outlived a first SIGKILL and that a v1 freezer cgroup
    // holds frozen (another one than ours, or ours under a frozen parent)
    // are moved out of it once, so that they die (thaw_by_move).
    std::vector<pid_t> tried;
    for (bool first = true;; first = false) {
      auto left = live_procs();
      if (left.empty()) return;
      for (pid_t p : left) {
        ::kill(p, SIGKILL);
        if (first || std::find(tried.begin(), tried.end(), p) != tried.end()) continue;
        tried.push_back(p);
        thaw_by_move(p);
      }
      if (std::chrono::steady_clock::now() > deadline)
        throw Error(Step::cgroup, ETIMEDOUT, first_dir() + "/cgroup.procs",
                    std::to_string(left.size()) + " process(es) still there " +
                        detail::cg::ms(timeout) + " after SIGKILL (pid " +
                        std::to_string(left.front()) + ")");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  // kill(), then in every hierarchy rmdir of the cgroup (its descendants
  // first) and of the intermediates create() made, deepest first; an
  // intermediate still in use (another cgroup beside ours) stays.
  // Idempotent. Throws naming the path that could not be removed.
  void destroy(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    if (!owned_ || hier_.empty()) {
      close_all();
      return;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    kill(timeout);
    for (auto& h : hier_) {
      if (h.leaf_parent) remove_tree(h.leaf_parent.get(), h.leaf_name, h.dir_path, deadline);
      for (auto it = h.made.rbegin(); it != h.made.rend(); ++it)
        if (::unlinkat(it->parent.get(), it->name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
          break;
    }
    close_all();
  }

 private:
  struct Made {
    UniqueFd parent;  // O_PATH, the directory holding it
    std::string name, path;
  };
  struct Hierarchy {
    std::vector<std::string> controllers;  // all of the hierarchy's
    std::string mount;
    std::string dir_path;  // mount + "/" + path
    UniqueFd dir;          // O_PATH, this cgroup
    UniqueFd leaf_parent;  // O_PATH, the directory holding the cgroup
    std::string leaf_name;
    std::vector<Made> made;  // intermediates this object made, topmost first
    bool leaf_made = false;
  };

  // Checks every controller and picks the distinct hierarchies.
  static CgroupV1 plan(std::string_view path, std::span<const std::string> controllers) {
    const CgroupHost& host = cgroup_host();
    const std::string object = "cgroup v1 '" + std::string(path) + "'";
    if (controllers.empty()) throw Error(Step::cgroup, EINVAL, object, "no controller given");
    CgroupV1 cg;
    cg.path_ = std::string(path);
    for (const auto& c : controllers) {
      if (!detail::cgv1::known(c))
        throw Error(Step::cgroup, EINVAL, object, "'" + c + "' is not a cgroup v1 controller name");
      const auto* h = host.v1_hierarchy(c);
      if (h == nullptr) detail::cgv1::not_mounted(object, c);
      if (cg.find(c) != nullptr) continue;  // co-mounted with one already planned
      Hierarchy mine;
      mine.controllers = h->controllers;
      mine.mount = h->mount;
      mine.dir_path = h->mount + "/" + cg.path_;
      cg.hier_.push_back(std::move(mine));
    }
    return cg;
  }

  static UniqueFd open_mount(const Hierarchy& h) {
    UniqueFd root(detail::off_stdio(::open(h.mount.c_str(), detail::cg::kPathFlags)));
    if (!root) detail::throw_errno(Step::cgroup, h.mount, "opening the v1 hierarchy's mount");
    if (!detail::cgv1::is_cgroup1(root.get()))
      throw Error(Step::cgroup, ENOTDIR, h.mount, "not the root of a cgroup v1 hierarchy");
    return root;
  }

  static UniqueFd dup_dir(int fd, const std::string& path) {
    int d = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (d < 0) detail::throw_errno(Step::cgroup, path, "dup");
    return UniqueFd(d);
  }

  // mkdir -p of `comps` below the hierarchy's mount, by descriptor.
  static void make_in(Hierarchy& h, const std::vector<std::string>& comps, bool existing_ok) {
    const bool cpuset =
        std::find(h.controllers.begin(), h.controllers.end(), "cpuset") != h.controllers.end();
    UniqueFd cur = open_mount(h);
    std::string cur_path = h.mount;
    for (std::size_t i = 0; i < comps.size(); ++i) {
      const std::string& c = comps[i];
      const bool last = i + 1 == comps.size();
      std::string p = cur_path + "/" + c;
      bool made_now = false;
      if (::mkdirat(cur.get(), c.c_str(), 0755) == 0) {
        made_now = true;
      } else if (errno != EEXIST || (last && !existing_ok)) {
        int e = errno;
        throw Error(Step::cgroup, e, p,
                    e == EEXIST ? "mkdir: it already exists (CgroupV1::adopt takes over an "
                                  "existing one)"
                                : "mkdir");
      }
      if (made_now && !last) h.made.push_back({dup_dir(cur.get(), cur_path), c, p});
      if (last) {
        h.leaf_parent = dup_dir(cur.get(), cur_path);
        h.leaf_name = c;
        h.leaf_made = made_now;
      }
      UniqueFd next(detail::off_stdio(::openat(cur.get(), c.c_str(), detail::cg::kPathFlags)));
      if (!next) detail::throw_errno(Step::cgroup, p, "opening the new cgroup");
      if (!detail::cgv1::is_cgroup1(next.get()))
        throw Error(Step::cgroup, ENOTDIR, p, "not a directory of a cgroup v1 hierarchy");
      // cpusets.rst, "How do I use cpusets?": a new cpuset has empty
      // cpuset.cpus and cpuset.mems, and attaching a task to it fails with
      // ENOSPC. Copy the parent's down into each level that is empty (runc's
      // cpusetEnsureParent does the same).
      if (cpuset) {
        copy_down(cur.get(), cur_path, next.get(), p, "cpuset.cpus");
        copy_down(cur.get(), cur_path, next.get(), p, "cpuset.mems");
      }
      cur = std::move(next);
      cur_path = p;
    }
    h.dir = std::move(cur);
  }

  static void copy_down(int parent, const std::string& parent_path, int child,
                        const std::string& child_path, const std::string& file) {
    std::string mine, theirs;
    if (int e = detail::cg::read_at(child, file, mine))
      throw Error(Step::cgroup, e, child_path + "/" + file, "reading");
    if (!cgroup_parse::words(mine).empty()) return;
    if (int e = detail::cg::read_at(parent, file, theirs))
      throw Error(Step::cgroup, e, parent_path + "/" + file, "reading");
    while (!theirs.empty() && (theirs.back() == '\n' || theirs.back() == ' ')) theirs.pop_back();
    if (theirs.empty())
      throw Error(Step::cgroup, ENOSPC, parent_path + "/" + file,
                  "empty: nothing to copy into " + child_path + "/" + file);
    if (int e = detail::cg::write_at(child, file, theirs))
      throw Error(Step::cgroup, e, child_path + "/" + file,
                  "writing '" + theirs + "' (copied from the parent)");
  }

  // Removes what create() made so far, deepest first.
  void undo_made() noexcept {
    for (auto& h : hier_) {
      if (h.leaf_made && h.leaf_parent)
        ::unlinkat(h.leaf_parent.get(), h.leaf_name.c_str(), AT_REMOVEDIR);
      for (auto it = h.made.rbegin(); it != h.made.rend(); ++it)
        ::unlinkat(it->parent.get(), it->name.c_str(), AT_REMOVEDIR);
    }
    hier_.clear();
  }

  // When some thread of `pid`, a member of this cgroup, is in a freezer
  // cgroup that reads FROZEN or FREEZING, moves the whole process to the top
  // cgroup of the freezer hierarchy, which is never frozen: the kernel thaws
  // a task moved into a cgroup that is not freezing (cgroup_freezer's
  // freezer_attach), and the SIGKILL the caller sent first ends it. The
  // checks read each thread's /proc/PID/task/TID/cgroup (thread_cgroups)
  // after a pidfd of the pid is open, and the pidfd must still name a live
  // process just before the write: a pid whose process exited and whose
  // number went to another process is never moved (a frozen task cannot
  // exit meanwhile unless a third party thaws it). Membership is checked in
  // a hierarchy other than the freezer's (where the process may be in
  // someone else's cgroup).
  bool thaw_by_move(pid_t pid) const {
    const auto* fz = cgroup_host().v1_hierarchy("freezer");
    if (fz == nullptr) return false;
    UniqueFd pfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    UniqueFd dir(
        ::open(("/proc/" + std::to_string(pid)).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!pfd || !dir) return false;
    bool member = false, frozen = false;
    for (const auto& text : detail::cgv1::thread_cgroups(dir.get())) {
      frozen = frozen || detail::cgv1::frozen_in(text);
      for (const auto& h : hier_) {
        if (std::find(h.controllers.begin(), h.controllers.end(), "freezer") != h.controllers.end())
          continue;
        const std::string in = detail::cgv1::v1_dir_in(text, h.controllers.front());
        if (in == h.dir_path || in.rfind(h.dir_path + "/", 0) == 0) member = true;
      }
    }
    if (!member || !frozen) return false;
    UniqueFd top(::open(fz->mount.c_str(), detail::cg::kPathFlags));
    if (!top || ::syscall(SYS_pidfd_send_signal, pfd.get(), 0, nullptr, 0) != 0) return false;
    return detail::cg::write_at(top.get(), "cgroup.procs", std::to_string(pid)) == 0;
  }

  // The members of the cgroup and of every cgroup below it (v1 has no
  // recursive cgroup.procs and no cgroup.events: each directory is read),
  // where a hierarchy whose directory is gone counts as empty.
  std::vector<pid_t> live_procs() const {
    std::vector<pid_t> out;
    for (const auto& h : hier_) {
      std::string t;
      int e = detail::cg::read_at(h.dir.get(), "cgroup.procs", t);
      if (e == ENOENT || e == ENODEV) continue;
      if (e != 0) throw Error(Step::cgroup, e, h.dir_path + "/cgroup.procs", "reading");
      auto p = detail::cgv1::pids_of(t);
      out.insert(out.end(), p.begin(), p.end());
      collect_below(h.dir.get(), out);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }
  static void collect_below(int dir, std::vector<pid_t>& out) {
    UniqueFd self(::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!self) return;
    std::vector<std::string> subs;
    if (DIR* d = ::fdopendir(::fcntl(self.get(), F_DUPFD_CLOEXEC, 3))) {
      while (dirent* ent = ::readdir(d)) {
        std::string_view n = ent->d_name;
        if (ent->d_type == DT_DIR && n != "." && n != "..") subs.emplace_back(n);
      }
      ::closedir(d);
    }
    for (const auto& s : subs) {
      UniqueFd sub(::openat(self.get(), s.c_str(), detail::cg::kPathFlags));
      if (!sub) continue;
      std::string t;
      if (detail::cg::read_at(sub.get(), "cgroup.procs", t) == 0) {
        auto p = detail::cgv1::pids_of(t);
        out.insert(out.end(), p.begin(), p.end());
      }
      collect_below(sub.get(), out);
    }
  }

  const Hierarchy* find(std::string_view controller) const {
    for (const auto& h : hier_)
      if (std::find(h.controllers.begin(), h.controllers.end(), controller) != h.controllers.end())
        return &h;
    return nullptr;
  }

  const Hierarchy& need(std::string_view controller) const {
    return need_for(controller, std::string(controller));
  }
  // The hierarchy for `file`'s controller, or an error saying why there is none.
  const Hierarchy& need_for(std::string_view controller, const std::string& file) const {
    require_open();
    if (const Hierarchy* h = find(controller)) return *h;
    const std::string object = "cgroup v1 '" + path_ + "' " + file;
    if (!detail::cgv1::known(controller))
      throw Error(Step::cgroup, EINVAL, object,
                  "'" + std::string(controller) + "' is not a cgroup v1 controller");
    if (cgroup_host().v1_hierarchy(controller) == nullptr)
      detail::cgv1::not_mounted(object, controller);
    throw Error(Step::cgroup, EOPNOTSUPP, object,
                "controller " + std::string(controller) +
                    " is not one this cgroup was created with (it has: " +
                    detail::cgv1::join(controllers()) + ")");
  }

  void require_open() const {
    if (!valid())
      throw Error(Step::cgroup, EBADF, "cgroup v1", "no cgroup (destroyed or moved from)");
  }

  std::string first_dir() const {
    return hier_.empty() ? std::string("cgroup v1") : hier_.front().dir_path;
  }

  static std::string read(const Hierarchy& h, const std::string& f) {
    std::string out;
    if (int e = detail::cg::read_at(h.dir.get(), f, out))
      throw Error(Step::cgroup, e, h.dir_path + "/" + f,
                  e == ENOENT
                      ? "reading: no such interface file on this kernel, or the cgroup was removed"
                      : "reading");
    return out;
  }

  static void write(const Hierarchy& h, const std::string& f, std::string_view value) {
    if (int e = detail::cg::write_at(h.dir.get(), f, value)) fail(h, e, f, value);
  }

  [[noreturn]] static void fail(const Hierarchy& h, int e, const std::string& f,
                                std::string_view value) {
    std::string why = "writing '" + std::string(value) + "'";
    if (e == ENOENT) why += ": no such interface file on this kernel (never created by ward)";
    if (e == ENOSPC && f == "cgroup.procs") why += ": the cpuset has no cpus or mems (cpusets.rst)";
    if (e == EBUSY && f == "memory.limit_in_bytes")
      why += ": usage is above the new limit and could not be reclaimed";
    if (e == EINVAL && (f == "memory.limit_in_bytes" || f == "memory.memsw.limit_in_bytes"))
      why += ": memory.memsw.limit_in_bytes must stay >= memory.limit_in_bytes (memcg_v1.rst)";
    if (e == EAGAIN && f == "cgroup.procs") why += ": pids.max of this cgroup is reached";
    throw Error(Step::cgroup, e, h.dir_path + "/" + f, why);
  }

  bool to_state(const char* target, std::chrono::milliseconds timeout) {
    const Hierarchy& h = need("freezer");
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int step = 1;
    for (;;) {
      write(h, "freezer.state", target);
      if (freezer_state() == target) return true;
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(step));
      step = std::min(step * 2, 10);
    }
  }

  // v1 memory and hugetlb files spell "no limit" as -1.
  static std::string signed_num(std::uint64_t v) {
    return v == cgroup_unlimited ? std::string("-1") : std::to_string(v);
  }
  static std::string list_value(const char* field, std::string_view v) {
    if (v.empty() || v.find_first_not_of("0123456789,- ") != std::string_view::npos)
      detail::throw_invalid(field, "'" + std::string(v) + "' is not a list like 0-3,5");
    return std::string(v);
  }

  // Depth-first rmdir. rmdir of a just-emptied cgroup can briefly fail with
  // EBUSY while exiting tasks are released: retried until `deadline`.
  static void remove_tree(int parent_fd, const std::string& name, const std::string& path,
                          std::chrono::steady_clock::time_point deadline) {
    UniqueFd self(::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!self) {
      if (errno == ENOENT) return;
      detail::throw_errno(Step::cgroup, path, "opening to remove");
    }
    std::vector<std::string> subs;
    if (DIR* d = ::fdopendir(::fcntl(self.get(), F_DUPFD_CLOEXEC, 3))) {
      while (dirent* ent = ::readdir(d)) {
        std::string_view n = ent->d_name;
        if (ent->d_type == DT_DIR && n != "." && n != "..") subs.emplace_back(n);
      }
      ::closedir(d);
    }
    for (auto& s : subs) remove_tree(self.get(), s, path + "/" + s, deadline);
    for (;;) {
      if (::unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT) return;
      int e = errno;
      if (e == EBUSY && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      throw Error(Step::cgroup, e, path, e == EBUSY ? "rmdir: processes are still in it" : "rmdir");
    }
  }

  void close_all() noexcept {
    hier_.clear();
    owned_ = false;
  }

  void destroy_noexcept() noexcept {
    try {
      destroy();
    } catch (...) {
      close_all();
    }
  }

  std::string path_;
  std::vector<Hierarchy> hier_;
  bool owned_ = false;
};

}  // namespace ward
