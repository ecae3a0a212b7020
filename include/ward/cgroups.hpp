// SPDX-License-Identifier: Apache-2.0
// Cgroups: one container's cgroup on any host, v2, v1 or hybrid.
//
// A cgroup "PATH" is made in the unified (v2) hierarchy when the host has one
// and in every v1 hierarchy the host mounts, and each operation goes where
// the host keeps it, per controller, as runc does on hybrid hosts:
//
//  - limits and statistics of a controller go to the hierarchy that holds
//    it (backend()): on this project's CI host, hugetlb is v2 and memory,
//    cpu, pids, blkio... are v1 (CgroupHost::bound_to_v1);
//  - membership, kill, freeze and "is anything left" go to the unified
//    cgroup when there is one, whatever its controllers: cgroup.procs,
//    cgroup.kill (Linux 5.14), cgroup.freeze (5.2) and cgroup.events are
//    core files of every v2 cgroup (cgroup-v2.rst, "Core Interface Files"),
//    and the unified hierarchy tracks every process. On a v1-only host the
//    v1 hierarchies do (CgroupV1: freezer, signalling loop);
//  - device rules go to both: a v1 devices hierarchy when mounted
//    (devices.allow/deny) and the unified cgroup's BPF program, which the
//    kernel checks too (both must allow an access).
//
// A process is born in it with Sandbox::cgroup(const Cgroups&): clone3's
// CLONE_INTO_CGROUP for the unified cgroup, and the child writes itself into
// each v1 hierarchy's cgroup.procs before it does anything else
// (detail/child/spawn.hpp, child_entry). Tests: tests/root/cgroups_test.cpp.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <ward/cgroup.hpp>
#include <ward/cgroup_v1.hpp>

namespace ward {

// Which hierarchy drives a controller.
enum class CgroupBackend : std::uint8_t { none, v1, v2 };

constexpr std::string_view to_string(CgroupBackend b) noexcept {
  switch (b) {
    case CgroupBackend::none: return "none";
    case CgroupBackend::v1: return "v1";
    case CgroupBackend::v2: return "v2";
  }
  return "unknown";
}

namespace detail::cgs {

// v2 spells v1's "blkio" "io"; v1's cpuacct is v2's cpu (cpu.stat).
inline std::string_view v1_name(std::string_view c) { return c == "io" ? "blkio" : c; }

inline std::vector<std::string> unified_controllers(const CgroupHost& host) {
  std::vector<std::string> out;
  if (host.unified_mount.empty()) return out;
  std::string t;
  UniqueFd root(::open(host.unified_mount.c_str(), cg::kPathFlags));
  if (root && cg::read_at(root.get(), "cgroup.controllers", t) == 0)
    for (auto& w : cgroup_parse::words(t)) out.push_back(w);
  return out;
}

// The v1 controllers ward makes a cgroup in: every one the host mounts.
inline std::vector<std::string> v1_controllers(const CgroupHost& host) {
  std::vector<std::string> out;
  for (const auto& c : host.v1_controllers)
    if (cgv1::known(c)) out.push_back(c);
  return out;
}

}  // namespace detail::cgs

// Which hierarchy drives `controller` (v1 or v2 spelling: "blkio"/"io") on
// this host. Core features ("freezer", "devices" as a BPF program) count as
// v2 wherever a unified hierarchy exists and no v1 hierarchy holds them.
inline CgroupBackend cgroup_backend(std::string_view controller) {
  const CgroupHost& host = cgroup_host();
  if (host.v1_hierarchy(detail::cgs::v1_name(controller)) != nullptr) return CgroupBackend::v1;
  if (host.unified_mount.empty()) return CgroupBackend::none;
  if (controller == "freezer" || controller == "devices" || controller == "cpuacct")
    return CgroupBackend::v2;
  std::string_view v2 = controller == "blkio" ? "io" : controller;
  static const std::vector<std::string> unified = detail::cgs::unified_controllers(host);
  for (const auto& c : unified)
    if (c == v2) return CgroupBackend::v2;
  return CgroupBackend::none;
}

class Cgroups {
 public:
  Cgroups() = default;
  Cgroups(Cgroups&&) noexcept = default;
  Cgroups& operator=(Cgroups&& o) noexcept = default;
  Cgroups(const Cgroups&) = delete;
  Cgroups& operator=(const Cgroups&) = delete;
  // Members are destroyed in reverse order: v1 first, then the unified
  // cgroup. Each destructor is best effort and silent (call destroy()).
  ~Cgroups() = default;

  // Makes PATH ("/ward/ID" or "ward/ID", relative to each hierarchy's root)
  // in the unified hierarchy, if any, and in every v1 hierarchy. With
  // `existing_ok`, a PATH that exists already is taken over where it exists
  // (a crashed run's leftovers); check populated() before using it. If a
  // step fails, what this call made is removed before the error is thrown.
  static Cgroups create(std::string_view path, bool existing_ok = false) {
    const CgroupHost& host = cgroup_host();
    Cgroups cg;
    cg.path_ = normalize(path);
    const std::string rel = cg.path_.substr(1);
    if (host.mode == CgroupMode::none)
      throw Error(Step::cgroup, ENOENT, "cgroup " + cg.path_,
                  "this host has no cgroup filesystem mounted");
    // One with processes in it belongs to someone: never taken over, and
    // never killed by our cleanup. What this call made on the way is ours
    // and goes: a unified cgroup it made stays owned (the destructor
    // removes it), and the v1 directories it made are removed while the
    // ones that were there are left (CgroupV1::undo_create).
    bool v2_made = false;
    auto refuse_populated = [&cg, &v2_made] {
      if (cg.v2_ && !v2_made) cg.v2_->release();
      if (cg.v1_) cg.v1_->undo_create();
      throw Error(Step::cgroup, EBUSY, "cgroup " + cg.path_, "already has processes in it");
    };
    if (!host.unified_mount.empty()) {
      try {
        cg.v2_.emplace(CgroupV2::create(rel, "/"));
        v2_made = true;
      } catch (const Error& e) {
        if (!existing_ok || e.code().value() != EEXIST) throw;
        cg.v2_.emplace(CgroupV2::adopt(cg.path_));
        if (cg.v2_->events().populated) refuse_populated();
      }
    }
    auto v1 = detail::cgs::v1_controllers(host);
    if (!v1.empty()) {
      cg.v1_.emplace(CgroupV1::create(rel, v1, existing_ok));
      if (existing_ok && cg.v1_->populated()) refuse_populated();
    }
    // (on a throw above, what was made is destroyed with `cg`)
    return cg;
  }

  // Makes PATH in the unified hierarchy only: what a rootless caller can
  // have on a hybrid host, where a delegated subtree (systemd's
  // user@.service, a directory chowned to the user) is a unified one and the
  // v1 hierarchies are root's. adopt() finds it the same way later (a
  // hierarchy without the path is left out). ENOENT without a unified
  // hierarchy.
  static Cgroups create_unified(std::string_view path, bool existing_ok = false) {
    const CgroupHost& host = cgroup_host();
    Cgroups cg;
    cg.path_ = normalize(path);
    if (host.unified_mount.empty())
      throw Error(Step::cgroup, ENOENT, "cgroup " + cg.path_,
                  "this host has no unified (v2) cgroup hierarchy");
    try {
      cg.v2_.emplace(CgroupV2::create(cg.path_.substr(1), "/"));
    } catch (const Error& e) {
      if (!existing_ok || e.code().value() != EEXIST) throw;
      cg.v2_.emplace(CgroupV2::adopt(cg.path_));
      if (cg.v2_->events().populated) {
        cg.release();
        throw Error(Step::cgroup, EBUSY, "cgroup " + cg.path_, "already has processes in it");
      }
    }
    return cg;
  }

  // Takes over an existing PATH, owned: destroying the object removes it.
  // A hierarchy in which it does not exist is left out (a cgroup made by a
  // ward that drove v2 only has no v1 directories).
  static Cgroups adopt(std::string_view path) {
    const CgroupHost& host = cgroup_host();
    Cgroups cg;
    cg.path_ = normalize(path);
    const std::string rel = cg.path_.substr(1);
    if (!host.unified_mount.empty()) cg.v2_.emplace(CgroupV2::adopt(cg.path_));
    std::vector<std::string> present;
    for (const auto& h : host.v1_hierarchies) {
      struct stat st {};
      if (::stat((h.mount + cg.path_).c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
      for (const auto& c : h.controllers)
        if (detail::cgv1::known(c)) present.push_back(c);
    }
    if (!present.empty()) cg.v1_.emplace(CgroupV1::adopt(rel, present));
    if (!cg.v1_ && !cg.v2_)
      throw Error(Step::cgroup, ENOENT, "cgroup " + cg.path_, "not found in any hierarchy");
    return cg;
  }

  // Keep the cgroups: the destructor leaves them (the object stays usable).
  void release() noexcept {
    if (v2_) v2_->release();
    if (v1_) v1_->release();
  }

  bool valid() const noexcept { return (v2_ && v2_->valid()) || (v1_ && v1_->valid()); }
  // "/ward/ID": the path in every hierarchy.
  const std::string& path() const noexcept { return path_; }

  // The parts, for what only one of them has (nullptr when absent).
  CgroupV2* v2() noexcept { return v2_ ? &*v2_ : nullptr; }
  const CgroupV2* v2() const noexcept { return v2_ ? &*v2_ : nullptr; }
  CgroupV1* v1() noexcept { return v1_ ? &*v1_ : nullptr; }
  const CgroupV1* v1() const noexcept { return v1_ ? &*v1_ : nullptr; }

  // Where `controller`'s files are for this cgroup (cgroup_backend(), and
  // none when this object lacks that part).
  CgroupBackend backend(std::string_view controller) const {
    CgroupBackend b = cgroup_backend(controller);
    if (b == CgroupBackend::v1 && !(v1_ && v1_->has(detail::cgs::v1_name(controller))))
      return CgroupBackend::none;
    if (b == CgroupBackend::v2 && !v2_) return CgroupBackend::none;
    return b;
  }

  // ---- processes

  // Members, sorted: the unified cgroup's (it holds every process) when
  // there is one, else the union over the v1 hierarchies.
  std::vector<pid_t> procs() const {
    if (v2_) return v2_->procs();
    require_open();
    return v1_->procs();
  }
  bool populated() const {
    if (v2_) return v2_->events().populated;
    require_open();
    return v1_->populated();
  }

  // SIGKILL to every member, waiting until none is left: the v1
  // hierarchies' loop first, which also moves a member a v1 freezer holds
  // out of its frozen cgroup (CgroupV1::kill; until then the unified cgroup
  // cannot empty, and before Linux 5.14 its kill is a loop that waits for
  // that), then cgroup.kill on the unified cgroup for anything a third party
  // moved out of the v1 cgroups only.
  void kill(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    require_open();
    if (v1_) v1_->kill(timeout);
    if (v2_) {
      // cgroup.kill only sends SIGKILL (cgroup-v2.rst): wait for
      // "populated 0" as CgroupV1::kill waits for an empty cgroup.procs.
      v2_->kill(timeout);
      if (!v2_->wait_empty(timeout))
        throw Error(Step::cgroup, ETIMEDOUT, v2_->path() + "/cgroup.events",
                    "processes still alive " + detail::cg::ms(timeout) + " after SIGKILL");
    }
  }

  // The unified cgroup's freezer (cgroup.freeze) where there is one, else
  // the v1 freezer hierarchy's.
  void freeze(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    require_open();
    if (v2_) return v2_->freeze(timeout);
    v1_->freeze(timeout);
  }
  void thaw(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    require_open();
    if (v2_) return v2_->thaw(timeout);
    v1_->thaw(timeout);
  }
  bool frozen() const {
    require_open();
    if (v2_) return v2_->events().frozen;
    return v1_->has("freezer") && v1_->freezer_state() == "FROZEN";
  }

  // ---- statistics, each from the hierarchy that holds its controller.
  // Fields whose file is missing stay empty.
  CgroupStats stats() const {
    require_open();
    CgroupStats s;
    CgroupStats two = v2_ ? v2_->stats() : CgroupStats{};
    std::optional<CgroupV1Stats> one;
    if (v1_) one = v1_->stats();
    if (backend("memory") == CgroupBackend::v1) {
      s.memory_current = one->memory_usage;
      s.memory_peak = one->memory_max_usage;
    } else {
      s.memory_current = two.memory_current;
      s.memory_peak = two.memory_peak;
    }
    if (backend("cpuacct") == CgroupBackend::v1 && one->cpuacct_usage) {
      // cpuacct.usage and cpuacct.usage_{user,sys} are in nanoseconds
      // (cgroup-v1/cpuacct.rst).
      CpuStat c;
      c.usage_usec = *one->cpuacct_usage / 1000;
      c.user_usec = v1_number("cpuacct", "cpuacct.usage_user").value_or(0) / 1000;
      c.system_usec = v1_number("cpuacct", "cpuacct.usage_sys").value_or(0) / 1000;
      s.cpu = c;
    } else {
      s.cpu = two.cpu;
    }
    s.pids_current = backend("pids") == CgroupBackend::v1 ? one->pids_current : two.pids_current;
    if (backend("io") == CgroupBackend::v2) s.io_stat = two.io_stat;
    return s;
  }

  // The memory limit in bytes; nullopt when unlimited or without the memory
  // controller.
  std::optional<std::uint64_t> memory_limit() const {
    std::string t;
    if (backend("memory") == CgroupBackend::v1) {
      auto v = v1_number("memory", "memory.limit_in_bytes");
      // memcg_v1.rst: "unlimited" reads as PAGE_COUNTER_MAX pages in bytes.
      if (!v || *v >= (std::uint64_t{1} << 62)) return std::nullopt;
      return v;
    }
    if (backend("memory") != CgroupBackend::v2) return std::nullopt;
    t = v2_->get("memory.max");
    return cgroup_parse::single_value(t);
  }

  // OOM kills in this cgroup: memory.events' oom_kill on v2, memory.oom_control's
  // on v1 (Linux 4.13); 0 without the memory controller.
  std::uint64_t oom_kills() const {
    switch (backend("memory")) {
      case CgroupBackend::v1: return v1_->oom_control().oom_kill;
      case CgroupBackend::v2: {
        auto e = v2_->events();
        return e.memory ? e.memory->oom_kill : 0;
      }
      case CgroupBackend::none: break;
    }
    return 0;
  }
  // The directory whose memory file counts OOM kills (for Child), or -1.
  int oom_dir_fd() const {
    switch (backend("memory")) {
      case CgroupBackend::v1: return v1_->dir_fd("memory");
      case CgroupBackend::v2: return v2_->dir_fd();
      case CgroupBackend::none: break;
    }
    return -1;
  }

  // ---- lifecycle

  // Kills what is left and removes the cgroup from every hierarchy, the v1
  // ones first (their kill moves frozen members out, see kill(); the
  // unified one's destroy kills and waits for anything left there).
  // Idempotent; throws naming the path that could not be removed.
  void destroy(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    if (v1_) v1_->destroy(timeout);  // its kill() first: see kill()
    if (v2_) v2_->destroy(timeout);
  }

 private:
  static std::string normalize(std::string_view path) {
    std::string p(path);
    while (!p.empty() && p.front() == '/') p.erase(0, 1);
    while (!p.empty() && p.back() == '/') p.pop_back();
    if (p.empty())
      throw Error(Step::cgroup, EINVAL, "cgroup '" + std::string(path) + "'",
                  "names the root cgroup, which no container owns");
    return "/" + p;
  }

  std::optional<std::uint64_t> v1_number(std::string_view controller, const char* file) const {
    std::string t;
    if (detail::cg::read_at(v1_->dir_fd(controller), file, t) != 0) return std::nullopt;
    return cgroup_parse::single_value(t);
  }

  void require_open() const {
    if (!valid())
      throw Error(Step::cgroup, EBADF, "cgroup " + path_, "no cgroup (destroyed or moved from)");
  }

  std::string path_;
  // Declared v2 first: destroyed last.
  std::optional<CgroupV2> v2_;
  std::optional<CgroupV1> v1_;
};

}  // namespace ward
