// SPDX-License-Identifier: Apache-2.0
// The mapping layer of the OCI component (ward/oci.hpp): an oci::Config (config.json) onto the
// Sandbox builder. linux.resources onto a cgroup is oci/resources.hpp's
// apply_resources(), included here.
//
//   oci::Config cfg = oci::load_config(bundle / "config.json");
//   Sandbox sb = oci::to_sandbox(cfg, bundle);              // namespaces, rootfs, process...
//   CgroupV2 cg = CgroupV2::create(oci::cgroup_path_for(cfg, id).substr(1), "/");
//   oci::apply_resources(cg, *cfg.linux_->resources);       // limits, device program
//   Child c = sb.cgroup(cg).spawn();
//
// oci/config.hpp is the data layer (it reads and checks config.json); this header
// decides what each field means for ward, following runc (1.1, the version
// whose `runc spec` output is in the test fixtures, and later ones where
// they differ, as said) and crun where the runtime-spec leaves room. Where
// ward cannot honour a field, it says so: a ward::Error whose object is
// the field's JSON path ("process.apparmorProfile") and whose detail starts
// with "unsupported", never a silent drop. What runc itself only warns
// about goes to the caller's `warnings` vector instead.
//
// Cgroups are not made here: the runtime creates a CgroupV2 at
// cgroup_path_for(cfg, id), calls apply_resources() on it and hands it to
// Sandbox::cgroup(), so the child is born inside it (CLONE_INTO_CGROUP).
// Hooks, the console socket and the seccomp listener socket are the
// runtime's too (they need the spawned Child).
#pragma once

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <deque>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ward/capabilities.hpp>
#include <ward/cgroup.hpp>
#include <ward/error.hpp>
#include <ward/id_map.hpp>
#include <ward/mount.hpp>
#include <ward/namespace.hpp>
#include <ward/oci/config.hpp>
#include <ward/oci/detail/mapping.hpp>
#include <ward/oci/resources.hpp>
#include <ward/oci/seccomp_profile.hpp>
#include <ward/sandbox.hpp>

namespace ward::oci {

// ===========================================================================
// Options
// ===========================================================================

// How apply_process() maps a `process` object.
struct ProcessOptions {
  // The object's JSON path, for errors: "process" in a config.json; a
  // runtime may name its exec document instead.
  std::string field = "process";
  // apparmorProfile and selinuxLabel are errors when set (config.md "Valid
  // values": runtimes MUST generate an error for unsupported values); with
  // this they are warnings instead, as on a host without those LSMs.
  bool ignore_lsm = false;
  // An absent `capabilities` object: false (default) leaves the process
  // with no capabilities at all, as runc 1.1 and 1.2 do (finalizeNamespace
  // starts from an empty configs.Capabilities); true leaves the sets as the
  // process inherits them, as runc 1.3 does (libct/cap New(nil), commit
  // 049a5f76c).
  bool keep_capabilities_when_absent = false;
  // Where notes go that runc only logs (e.g. an ambient capability that
  // cannot be raised). May be null.
  std::vector<std::string>* warnings = nullptr;
  // The process is one `exec` runs in a container, not its init: only then
  // does execCPUAffinity apply (config.md "execCPUAffinity": "This setting
  // is not applicable to the container's init process").
  bool exec_process = false;
};

// How to_sandbox() maps a config.
struct ToSandboxOptions {
  // `runc create --no-pivot`: MS_MOVE + chroot instead of pivot_root
  // (Pivot::move_and_chroot; weaker, for a rootfs on initramfs).
  bool no_pivot = false;
  // The runtime runs unprivileged (`runc --rootless`): a user namespace
  // whose gid map is the caller's own gid alone denies setgroups, as runc
  // writes "deny" for such a rootless container (the kernel asks it of an
  // unprivileged writer; this makes it so for root too). Any other gid map
  // allows it: newgidmap (gid_map_helper) writes the policy itself, "deny"
  // unless /etc/subgid gives the caller the ranges.
  bool rootless = false;
  // The helpers that write maps the caller may not write itself
  // (UserNsOptions::uid_map_helper): newuidmap and newgidmap, which runc
  // finds in PATH. Empty: none.
  std::string uid_map_helper, gid_map_helper;
  bool ignore_lsm = false;                     // see ProcessOptions
  bool keep_capabilities_when_absent = false;  // see ProcessOptions
  std::vector<std::string>* warnings = nullptr;
  // The container's cgroup: the same path below the mount of every cgroup
  // v1 hierarchy ("/ward/ID", Cgroups::path() of the cgroup given to
  // Sandbox::cgroup; a runtime passes cgroup_path_for(cfg, id)). Empty: the
  // caller's own cgroup in each hierarchy (/proc/self/cgroup), where a
  // child given no cgroup stays. Read only on a host with v1 hierarchies,
  // for a "cgroup" mount without a cgroup namespace of the container's own
  // (see to_sandbox, mounts).
  std::string cgroup_path;
};

// ===========================================================================
// Internals
// ===========================================================================

namespace detail::mapping {

// Whether the network namespace file at `path` is the runtime's own (the
// host's, for a runtime on the host); nullopt when either cannot be stat'ed
// (errno says why). For the sysctl rules and linux.netDevices.
inline std::optional<bool> is_runtime_netns(const std::string& path) {
  struct stat theirs {
  }, ours{};
  if (::stat(path.c_str(), &theirs) != 0 || ::stat("/proc/self/ns/net", &ours) != 0)
    return std::nullopt;
  return theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino;
}

// Whether this host runs SELinux (selinuxfs, with its enforce file, is
// mounted at /sys/fs/selinux). Where it does not, an SELinux label names a
// context nothing would ever check: ward warns and goes on, as crun does and
// as runc does for process labels (go-selinux's label calls are no-ops on a
// host without SELinux). Where it does, ward cannot apply the label and
// refuses it.
inline bool host_runs_selinux() { return ::access("/sys/fs/selinux/enforce", F_OK) == 0; }

// Mounts over /proc, as runc's checkProcMount (libcontainer/rootfs_linux.go)
// allows them: at /proc itself only a procfs (type "proc", or a bind whose
// source is on procfs); beneath /proc only the few files lxcfs emulates,
// from a source that is not procfs. Anything else could put a file of the
// mount's choosing where the runtime or the container's tools write
// (/proc/self/oom_score_adj, /proc/sys/..., /proc/self/attr/...: runc's
// CVE-2025-52881, CVE-2019-16884). `dest` is the lexically normalized
// destination; `src` the bind source (absolute). A rootfs symlink that
// leads a destination into /proc is not seen here: ward's own /proc writes
// do not rely on this check (detail/spawn.hpp, child_write_proc).
// Test: attack."proc: config mounts over /proc paths are refused as runc refuses them"
// (tests/attack/proc_attack_test.cpp).
inline void check_proc_mount(const std::string& field, const std::string& dest, bool bind,
                             const std::string& type, const std::string& src,
                             std::vector<std::string>* warnings) {
  if (dest != "/proc" && dest.rfind("/proc/", 0) != 0) return;
  auto src_fs = [&]() -> std::optional<struct statfs> {
    struct statfs sf;
    if (!bind || ::statfs(src.c_str(), &sf) != 0) return std::nullopt;
    return sf;
  };
  if (dest == "/proc") {
    if (!bind && type == "proc") return;
    if (bind) {
      auto sf = src_fs();
      if (!sf) ward::detail::throw_errno(Step::validate, field + ".source", src);
      struct stat st;
      if (sf->f_type == PROC_SUPER_MAGIC && ::stat(src.c_str(), &st) == 0) {
        if (st.st_ino != 1)
          warn(warnings,
               field + ": the source " + src + " is on procfs but is not the root of a procfs");
        return;
      }
    }
    ward::detail::throw_invalid(field,
                                "\"/proc\" cannot be mounted because it is not of type proc");
  }
  static constexpr std::string_view kAllowed[] = {"/proc/cpuinfo",
                                                  "/proc/diskstats",
                                                  "/proc/meminfo",
                                                  "/proc/stat",
                                                  "/proc/swaps",
                                                  "/proc/uptime",
                                                  "/proc/loadavg",
                                                  "/proc/slabinfo",
                                                  "/proc/sys/kernel/ns_last_pid",
                                                  "/proc/sys/crypto/fips_enabled"};
  bool allowed = std::find(std::begin(kAllowed), std::end(kAllowed), dest) != std::end(kAllowed);
  if (allowed && type != "proc") {
    auto sf = src_fs();
    if (!bind || (sf && sf->f_type != PROC_SUPER_MAGIC)) return;
  }
  ward::detail::throw_invalid(field,
                              "\"" + dest + "\" cannot be mounted because it is inside /proc" +
                                  (allowed ? " (only from a source that is not procfs)" : ""));
}

inline std::optional<NsKind> ns_kind(NamespaceType t) {
  switch (t) {
    case NamespaceType::pid: return NsKind::pid;
    case NamespaceType::network: return NsKind::net;
    case NamespaceType::mount: return NsKind::mount;
    case NamespaceType::ipc: return NsKind::ipc;
    case NamespaceType::uts: return NsKind::uts;
    case NamespaceType::user: return NsKind::user;
    case NamespaceType::cgroup: return NsKind::cgroup;
    case NamespaceType::time: return NsKind::time;
  }
  return std::nullopt;
}

inline IdMap id_map(const std::vector<IdMapping>& m) {
  IdMap out;
  for (const IdMapping& e : m) out.add(e.container_id, e.host_id, e.size);
  return out;
}

inline ward::Propagation propagation(Propagation p) {
  switch (p) {
    case Propagation::unchanged: return ward::Propagation::keep;
    case Propagation::shared: return ward::Propagation::shared;
    case Propagation::slave: return ward::Propagation::slave;
    case Propagation::private_: return ward::Propagation::private_;
    case Propagation::unbindable: return ward::Propagation::unbindable;
  }
  return ward::Propagation::keep;
}

inline ward::Atime atime(Atime a) {
  switch (a) {
    case Atime::unchanged: return ward::Atime::keep;
    case Atime::relatime: return ward::Atime::relatime;
    case Atime::noatime: return ward::Atime::noatime;
    case Atime::strictatime: return ward::Atime::strictatime;
  }
  return ward::Atime::keep;
}

// oci::MountFlags that are per-mount attributes, as MOUNT_ATTR_* bits.
inline std::uint64_t mount_attrs(MountFlags f) {
  namespace mnt = ward::detail::mnt;
  std::uint64_t a = 0;
  if (f.contains(MountFlag::ro)) a |= mnt::kAttrRdonly;
  if (f.contains(MountFlag::nosuid)) a |= mnt::kAttrNosuid;
  if (f.contains(MountFlag::nodev)) a |= mnt::kAttrNodev;
  if (f.contains(MountFlag::noexec)) a |= mnt::kAttrNoexec;
  if (f.contains(MountFlag::nosymfollow)) a |= mnt::kAttrNosymfollow;
  if (f.contains(MountFlag::nodiratime)) a |= mnt::kAttrNodiratime;
  return a;
}

inline void set_attrs(MountSpec& s, std::uint64_t set, std::uint64_t clear) {
  namespace mnt = ward::detail::mnt;
  if (set & mnt::kAttrRdonly) s.read_only();
  if (set & mnt::kAttrNosuid) s.nosuid();
  if (set & mnt::kAttrNodev) s.nodev();
  if (set & mnt::kAttrNoexec) s.noexec();
  if (set & mnt::kAttrNosymfollow) s.nosymfollow();
  if (set & mnt::kAttrNodiratime) s.nodiratime();
  if (clear != 0) s.clear(clear);
}

// "mode=755" -> option("mode", "755"); "newinstance" -> flag("newinstance").
inline void data_option(MountSpec& s, const std::string& d) {
  auto eq = d.find('=');
  if (eq == std::string::npos)
    s.flag(d);
  else
    s.option(d.substr(0, eq), d.substr(eq + 1));
}

// Superblock flags: the kernel takes them as filesystem parameters of any
// filesystem ("sync", "dirsync", "lazytime", "mand" and their negations;
// fs_context.c common_set_sb_flag/common_clear_sb_flag), for fsconfig(2)
// and for mount(2)'s data string alike. MS_SILENT only quiets the kernel
// log: nothing to do. acl and iversion are filesystem options of their own
// name where a filesystem has them (ext4's "acl", "noacl", "iversion").
inline void sb_flags(MountSpec& s, const MountOptions& o) {
  struct SbFlag {
    MountFlag flag;
    const char* on;
    const char* off;  // nullptr: the kernel has no option to clear it
  };
  static constexpr SbFlag table[] = {
      {MountFlag::sync, "sync", "async"},  {MountFlag::dirsync, "dirsync", nullptr},
      {MountFlag::mand, "mand", "nomand"}, {MountFlag::lazytime, "lazytime", "nolazytime"},
      {MountFlag::acl, "acl", "noacl"},    {MountFlag::iversion, "iversion", "noiversion"},
  };
  for (const SbFlag& f : table) {
    if (o.set.contains(f.flag) || o.recursive_set.contains(f.flag))
      s.flag(f.on);
    else if (f.off != nullptr && (o.clear.contains(f.flag) || o.recursive_clear.contains(f.flag)))
      s.flag(f.off);
  }
}

inline std::string join_names(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& n : v) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// The names of one capability set. oci.hpp keeps only names ward knows;
// one beyond this kernel's cap_last_cap is dropped with a warning, as runc
// does ("ignoring unknown or unavailable capabilities").
inline CapabilitySet cap_set(const std::vector<std::string>& names, const std::string& field,
                             std::vector<std::string>* warnings) {
  CapabilitySet s;
  std::vector<std::string> dropped;
  for (const std::string& n : names) {
    auto c = capability_from_name(n);
    if (!c || *c > cap_last_cap()) {
      dropped.push_back(n);
      continue;
    }
    s.add(*c);
  }
  if (!dropped.empty())
    warn(warnings,
         field + ": ignoring unknown or unavailable capabilities: " + join_names(dropped));
  return s;
}

// The effective set the process holds when its seccomp filter goes on
// (after credentials), if ward will set it; nullopt when the process keeps
// what it inherits.
inline std::optional<CapabilitySet> final_effective(const Process& p, bool keep_when_absent) {
  if (!p.capabilities) {
    if (keep_when_absent) return std::nullopt;
    return CapabilitySet{};
  }
  CapabilitySet eff = cap_set(p.capabilities->effective, "", nullptr);
  if (p.user.uid != 0) {
    CapabilitySet amb = cap_set(p.capabilities->ambient, "", nullptr) &
                        cap_set(p.capabilities->permitted, "", nullptr) &
                        cap_set(p.capabilities->inheritable, "", nullptr);
    eff = eff & amb;
  }
  return eff;
}

// runc's rules for linux.sysctl beyond "namespaced, in a namespace of its
// own" (libcontainer/configs/validate/validator.go sysctl(), runc 1.2-1.4),
// so that a config runc refuses is refused here too:
//  - of the IPC sysctls only runc's list (kernel.msgmax, msgmnb, msgmni,
//    sem, shmall, shmmax, shmmni, shm_rmid_forced) and fs.mqueue.*;
//  - kernel.hostname conflicts with the `hostname` field: refused even
//    with a uts namespace; kernel.domainname only when it differs from the
//    `domainname` field (as crun);
//  - net.* in a network namespace joined by path that is the runtime's own
//    ("host" means current there) would change the host's: refused.
// Sandbox::sysctl then requires the namespace (user.* a user namespace).
inline void check_sysctl(const Config& cfg, const std::string& key) {
  const std::string field = "linux.sysctl." + key;
  std::string k = key;
  for (char& ch : k)
    if (ch == '/') ch = '.';
  auto starts = [&](const char* p) { return k.rfind(p, 0) == 0; };
  static constexpr std::string_view ipc[] = {
      "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
      "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"};
  if ((starts("kernel.shm") || starts("kernel.msg") || starts("kernel.sem")) &&
      std::find(std::begin(ipc), std::end(ipc), k) == std::end(ipc))
    ward::detail::throw_invalid(field, "not in a separate kernel namespace (runc allows only " +
                                           std::string("kernel.msgmax, msgmnb, msgmni, sem, "
                                                       "shmall, shmmax, shmmni, shm_rmid_forced "
                                                       "and fs.mqueue.* of the IPC ones)"));
  if (k == "kernel.hostname" && cfg.has_namespace(NamespaceType::uts))
    ward::detail::throw_invalid(field, "not allowed: it conflicts with the \"hostname\" field");
  // kernel.domainname that says otherwise than the `domainname` field: one
  // of the two would be lost (crun refuses it; runc lets the sysctl win).
  if (k == "kernel.domainname" && !cfg.domainname.empty() && cfg.linux_) {
    auto v = cfg.linux_->sysctl.find(key);
    if (v != cfg.linux_->sysctl.end() && v->second != cfg.domainname)
      ward::detail::throw_invalid(
          field, "\"" + v->second + "\" conflicts with the domainname \"" + cfg.domainname + "\"");
  }
  if (starts("net.") && cfg.linux_) {
    for (const Namespace& n : cfg.linux_->namespaces) {
      if (n.type != NamespaceType::network || n.path.empty()) continue;
      const std::optional<bool> own = detail::mapping::is_runtime_netns(n.path);
      if (!own)
        ward::detail::throw_invalid(field, "cannot tell whether the network namespace " + n.path +
                                               " is the host's: " + std::strerror(errno));
      if (*own)
        ward::detail::throw_invalid(field, "not allowed in the host's network namespace (" +
                                               n.path + " is the runtime's own)");
    }
  }
}

// ---- the cgroup v1 view of a "cgroup" mount (a host with v1 hierarchies)

// One v1 hierarchy in the container's /sys/fs/cgroup: the directory runc's
// mountCgroupV1 names after the host's mount point ("memory",
// "cpu,cpuacct"), the host directory of the container's cgroup in it (for
// the bind without a cgroup namespace), its controllers (for a new mount
// with one), and links to the directory for controllers named otherwise
// ("cpu" and "cpuacct" -> "cpu,cpuacct").
struct V1ViewEntry {
  std::string dir;
  std::string source;
  std::vector<std::string> controllers;
  std::vector<std::string> links;
};

// The path of the caller's cgroup in hierarchy `h`, relative to its mount,
// from the text of /proc/self/cgroup ("4:memory:/a/b"; "1:cpu,cpuacct:/").
// nullopt when the file has no line for it or the cgroup lies outside what
// the mount shows (its root is not an ancestor).
inline std::optional<std::string> caller_v1_path(const CgroupHost::V1Hierarchy& h,
                                                 std::string_view proc_cgroup) {
  namespace cp = ward::cgroup_parse;
  for (auto line : cp::lines(proc_cgroup)) {
    auto c1 = line.find(':');
    auto c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) continue;
    bool mine = false;
    for (auto c : cp::split(line.substr(c1 + 1, c2 - c1 - 1), ','))
      mine = mine || (!h.controllers.empty() && c == h.controllers.front());
    if (!mine) continue;
    std::string p(line.substr(c2 + 1));
    if (h.root == "/") return p;
    if (p == h.root) return std::string("/");
    if (p.rfind(h.root + "/", 0) == 0) return p.substr(h.root.size());
    return std::nullopt;
  }
  return std::nullopt;
}

// The view runc gives on a host with v1 hierarchies, one entry per
// hierarchy with a controller (named-only ones such as name=systemd are
// left out: ward makes no cgroup there, so the container has none of its
// own to see). `cgroup_path`: the container's cgroup, the same path below
// every hierarchy's mount (Cgroups::path()); empty: the caller's own from
// /proc/self/cgroup (`proc_cgroup`: its text), which a child given no
// cgroup inherits.
inline std::vector<V1ViewEntry> v1_view(const CgroupHost& host, const std::string& field,
                                        const std::string& cgroup_path,
                                        std::string_view proc_cgroup) {
  std::string rel;
  if (!cgroup_path.empty()) {
    for (auto c : ward::cgroup_parse::split(cgroup_path, '/'))
      if (c == ".." || c == ".")
        ward::detail::throw_invalid(
            "cgroup_path", "'" + cgroup_path + "' has a '" + std::string(c) + "' component");
    rel = "/" + ward::detail::normalize_in_root(cgroup_path, "cgroup_path");
    if (rel == "/") rel.clear();
  }
  std::vector<V1ViewEntry> out;
  auto taken = [&](const std::string& name) {
    for (const auto& e : out) {
      if (e.dir == name) return true;
      for (const auto& l : e.links)
        if (l == name) return true;
    }
    return false;
  };
  for (const auto& h : host.v1_hierarchies) {
    V1ViewEntry e;
    e.controllers = h.controllers;
    e.dir = std::filesystem::path(h.mount).filename().string();
    if (e.dir.empty() || e.dir == "." || e.dir == ".." || taken(e.dir)) {
      e.dir.clear();  // a mount point named otherwise: after its controllers
      for (const auto& c : h.controllers) e.dir += (e.dir.empty() ? "" : ",") + c;
    }
    if (cgroup_path.empty()) {
      auto p = caller_v1_path(h, proc_cgroup);
      if (!p)
        unsupported(field, "the caller's cgroup in the v1 hierarchy mounted at " + h.mount +
                               " is not visible through that mount (root " + h.root + ")");
      e.source = *p == "/" ? h.mount : h.mount + *p;
    } else {
      e.source = h.mount + rel;
    }
    out.push_back(std::move(e));
  }
  for (auto& e : out)
    for (const auto& c : e.controllers)
      if (c != e.dir && !taken(c)) e.links.push_back(c);
  return out;
}

// Whether a "cgroup" mount gets the v1 view: the host mounts a v1
// hierarchy with a controller (hybrid or v1-only, as runc's
// !IsCgroup2UnifiedMode).
inline bool host_has_v1_hierarchies() { return !cgroup_host().v1_hierarchies.empty(); }

// v1_view of this host and process.
inline std::vector<V1ViewEntry> v1_view(const std::string& field, const std::string& cgroup_path) {
  std::string self;
  if (cgroup_path.empty()) {
    int e = ward::detail::cg::read_at(AT_FDCWD, "/proc/self/cgroup", self);
    if (e != 0) throw Error(Step::cgroup, e, "/proc/self/cgroup", "reading (" + field + ")");
  }
  return v1_view(cgroup_host(), field, cgroup_path, self);
}

}  // namespace detail::mapping

// ===========================================================================
// process
// ===========================================================================

// The home directory of `uid` in the passwd(5) file of the root tree
// `root_fd` (a directory descriptor: a container's rootfs, or
// /proc/PID/root of a running one), "/" when the file has no entry for it
// or cannot be read: what runc (libcontainer/env.go getUserHome) and crun
// put in HOME when process.env has none.
//
// The file belongs to the image, which may be hostile, and the runtime
// reading it is host root:
//  - /etc/passwd a symlink to a host file ("/etc/shadow", or
//    "../../../etc/shadow"): resolved with openat2(RESOLVE_IN_ROOT), so
//    every symlink and ".." stays inside `root_fd` (openat2(2));
//    RESOLVE_NO_MAGICLINKS refuses /proc/self/root-style jumps out.
//  - a FIFO (the open would block forever), a device node (a read of it
//    may have effects, or never end): opened O_PATH first, only a regular
//    file is reopened for reading, through /proc/self/fd (the same inode,
//    so nothing can be swapped in between), and O_NONBLOCK.
//  - a "regular file" of a pseudo filesystem, reached through the
//    container's own mounts on `exec` (a relative link to ../proc/kmsg: host
//    root may read, and so drain, the host's kernel log), or of FUSE (a
//    read the container's daemon never answers): only a file on a
//    filesystem that stores files is read (fstatfs; found by review).
//  - a huge file: at most 1 MiB is read; a line cut there is ignored.
// Tests: tests/root/runtime_process_conformance_test.cpp ("HOME").
inline bool stores_files(int fd) {
  struct statfs sf {};
  if (::fstatfs(fd, &sf) != 0) return false;
  switch (static_cast<unsigned long>(sf.f_type)) {
    case 0x9fa0:      // PROC_SUPER_MAGIC
    case 0x62656572:  // SYSFS_MAGIC
    case 0x65735546:  // FUSE_SUPER_MAGIC
    case 0x64626720:  // DEBUGFS_MAGIC
    case 0x74726163:  // TRACEFS_MAGIC
    case 0x73636673:  // SECURITYFS_MAGIC
    case 0x27e0eb:    // CGROUP_SUPER_MAGIC
    case 0x63677270:  // CGROUP2_SUPER_MAGIC
    case 0xcafe4a11:  // BPF_FS_MAGIC
    case 0x62656570:  // CONFIGFS_MAGIC
    case 0xde5e81e4:  // EFIVARFS_MAGIC
    case 0x6e736673:  // NSFS_MAGIC
    case 0x1cd1:      // DEVPTS_SUPER_MAGIC
      return false;
    default: return true;
  }
}
inline std::string passwd_home(int root_fd, std::uint32_t uid) {
  const std::string fallback = "/";
  struct {
    std::uint64_t flags, mode, resolve;
  } how{O_PATH | O_CLOEXEC, 0, 0x10 /* RESOLVE_IN_ROOT */ | 0x02 /* RESOLVE_NO_MAGICLINKS */};
  int pfd = static_cast<int>(::syscall(SYS_openat2, root_fd, "etc/passwd", &how, sizeof how));
  if (pfd < 0) return fallback;
  UniqueFd path_fd(pfd);
  struct stat st {};
  if (::fstat(path_fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return fallback;
  if (!stores_files(path_fd.get())) return fallback;
  UniqueFd fd(::open(("/proc/self/fd/" + std::to_string(path_fd.get())).c_str(),
                     O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd) return fallback;
  constexpr std::size_t kMax = 1 << 20;
  std::string text;
  char buf[65536];
  while (text.size() < kMax) {
    ssize_t n = ::read(fd.get(), buf, std::min(sizeof buf, kMax - text.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  if (text.size() >= kMax) {
    auto nl = text.rfind('\n');
    text.resize(nl == std::string::npos ? 0 : nl + 1);
  }
  // name:password:UID:GID:GECOS:directory:shell; the first entry with the
  // uid wins, as in runc's user.LookupUid.
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    std::string_view f[7];
    std::size_t nf = 0;
    while (nf < 7) {
      auto c = line.find(':');
      f[nf++] = line.substr(0, c);
      if (c == std::string_view::npos) break;
      line.remove_prefix(c + 1);
    }
    if (nf < 6) continue;
    std::uint32_t u = 0;
    auto [p, ec] = std::from_chars(f[2].data(), f[2].data() + f[2].size(), u);
    if (ec != std::errc{} || p != f[2].data() + f[2].size() || f[2].empty() || u != uid) continue;
    return std::string(f[5]);
  }
  return fallback;
}

// The environment as runc's prepareEnv (libcontainer/env.go) makes it:
// one entry per name, the last one given winning, in the order of those
// last occurrences; an empty HOME dropped; and HOME added from the passwd
// file under `root_fd` (passwd_home) when no non-empty one is left.
inline void default_home(Process& p, int root_fd) {
  bool home = false;
  std::vector<std::string> out;
  std::vector<std::string_view> seen;
  for (auto it = p.env.rbegin(); it != p.env.rend(); ++it) {
    const std::string& kv = *it;
    const std::string_view key = std::string_view(kv).substr(0, kv.find('='));
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
    seen.push_back(key);
    if (key == "HOME") {
      if (kv.size() == 5) continue;
      home = true;
    }
    out.push_back(kv);
  }
  std::reverse(out.begin(), out.end());
  if (!home) out.push_back("HOME=" + passwd_home(root_fd, p.user.uid));
  p.env = std::move(out);
}

// Maps a `process` object (config.md "Process", "POSIX process", "Linux
// Process") onto `sb`; `ward exec` uses it for its process.json too.
//
//  - args, env, cwd: as given. The executable is looked up in the
//    container's PATH (from env) after the pivot, as runc does.
//  - user: uid and gid; additionalGids become the supplementary groups
//    (none given: the list is cleared where setgroups is allowed, as
//    runc's setgroups(additionalGids) does; in a user namespace that denies
//    setgroups, given groups are an error at plan(), as runc's "cannot set
//    any additional groups in a rootless container"). umask: as given, else
//    0022, the umask runc (finalizeRootfs) and crun set when it is absent.
//  - capabilities: the five sets. Absent: see
//    ProcessOptions::keep_capabilities_when_absent. An ambient capability
//    that is not both permitted and inheritable is left out with a warning:
//    the kernel refuses to raise it (capabilities(7)), and runc and crun
//    ignore that EPERM (runc logs it since 1.3; crun's set_required_caps
//    skips it). For a non-root uid the effective set is cut to the ambient
//    one: execve gives such a process exactly its ambient set as effective
//    (P'(effective) = P'(ambient) without file capabilities), so nothing
//    observable changes, and Sandbox refuses a non-root effective set that
//    execve would silently drop. Other inconsistencies (effective not in
//    permitted, permitted not in bounding) are errors naming the set.
//  - rlimits, oomScoreAdj: as given (raising a hard limit needs
//    CAP_SYS_RESOURCE, checked at plan()). noNewPrivileges: true sets it;
//    false leaves Sandbox's default, which sets it only for a seccomp
//    filter (see apply_seccomp).
//  - scheduler: SCHED_OTHER, BATCH, IDLE, FIFO and RR with their priority,
//    and nice. SCHED_DEADLINE and `flags` need sched_setattr(2), which
//    Sandbox does not offer: errors.
//  - ioPriority: ioprio_set(2) class and level.
//  - execCPUAffinity (ProcessOptions::exec_process only: the spec keeps it
//    off the container's init): `final` is the CPU list the program runs on. The
//    child is born inside its cgroup (CLONE_INTO_CGROUP), so there is no
//    earlier stage outside it for `initial` to cover: when `final` is
//    absent, `initial` is used for the whole life of the process, which is
//    what runc's process keeps when its cgroup has no cpuset of its own.
//    Absent: every CPU the cgroup allows, never the caller's affinity.
//  - terminal: a new pty as the controlling terminal and stdio, sized by
//    consoleSize (else 24x80), from the container's own /dev/pts (with a
//    rootfs or a joined mount namespace: PtySource::automatic) and bound
//    onto /dev/console of a rootfs, as the spec asks; its master is
//    Child::terminal(), which the runtime sends to the console socket.
//  - apparmorProfile, selinuxLabel: errors naming the field (ward has no
//    LSM support; selinuxLabel only where the host runs SELinux, else a
//    warning, see host_runs_selinux), or warnings with
//    ProcessOptions::ignore_lsm.
inline void apply_process(Sandbox& sb, const Process& p, const ProcessOptions& o = {}) {
  using detail::mapping::unsupported;
  using detail::mapping::warn;
  const std::string& f = o.field;
  if (!p.apparmor_profile.empty()) {
    if (!o.ignore_lsm)
      unsupported(f + ".apparmorProfile",
                  "AppArmor is not supported by ward (profile \"" + p.apparmor_profile + "\")");
    warn(o.warnings, f + ".apparmorProfile: ignored: AppArmor is not supported by ward");
  }
  if (!p.selinux_label.empty()) {
    if (!o.ignore_lsm && detail::mapping::host_runs_selinux())
      unsupported(f + ".selinuxLabel",
                  "SELinux is not supported by ward (label \"" + p.selinux_label + "\")");
    warn(o.warnings, f + ".selinuxLabel: ignored: " +
                         (detail::mapping::host_runs_selinux()
                              ? std::string("SELinux is not supported by ward")
                              : std::string("this host does not run SELinux")));
  }

  if (p.args.empty()) ward::detail::throw_invalid(f + ".args", "must not be empty");
  sb.command(p.args);
  sb.env(p.env);
  if (!p.cwd.empty()) sb.cwd(p.cwd);

  sb.user(p.user.uid, p.user.gid);
  if (!p.user.additional_gids.empty()) sb.groups(p.user.additional_gids);
  sb.umask(p.user.umask.value_or(022));

  if (p.capabilities) {
    const Capabilities& c = *p.capabilities;
    const std::string cf = f + ".capabilities";
    using detail::mapping::cap_set;
    ward::Capabilities caps;
    caps.bounding = cap_set(c.bounding, cf + ".bounding", o.warnings);
    caps.effective = cap_set(c.effective, cf + ".effective", o.warnings);
    caps.inheritable = cap_set(c.inheritable, cf + ".inheritable", o.warnings);
    caps.permitted = cap_set(c.permitted, cf + ".permitted", o.warnings);
    caps.ambient = cap_set(c.ambient, cf + ".ambient", o.warnings);
    const CapabilitySet raisable = caps.permitted & caps.inheritable;
    if (!caps.ambient.subset_of(raisable)) {
      warn(o.warnings, cf +
                           ".ambient: not raised (not both permitted and inheritable, so the "
                           "kernel refuses them; runc and crun ignore that too): " +
                           (caps.ambient - raisable).to_string());
      caps.ambient = caps.ambient & raisable;
    }
    if (p.user.uid != 0) caps.effective = caps.effective & caps.ambient;
    detail::mapping::at_field(cf, [&] { caps.validate(); });
    sb.capabilities(caps);
  } else if (!o.keep_capabilities_when_absent) {
    sb.capabilities(ward::Capabilities::none());
  }

  for (const Rlimit& l : p.rlimits) sb.rlimit(l.resource, l.soft, l.hard);
  // false: Sandbox's default, which turns no_new_privs on when a seccomp
  // filter is set (see apply_seccomp for why).
  if (p.no_new_privileges) sb.no_new_privs(true);
  if (p.oom_score_adj) sb.oom_score_adj(*p.oom_score_adj);

  if (p.scheduler) {
    const Scheduler& s = *p.scheduler;
    switch (s.policy) {
      case SchedPolicy::other:
      case SchedPolicy::fifo:
      case SchedPolicy::rr:
      case SchedPolicy::batch:
      case SchedPolicy::idle: break;
      case SchedPolicy::iso:
        unsupported(f + ".scheduler.policy", "SCHED_ISO does not exist in mainline Linux");
      case SchedPolicy::deadline: break;
    }
    if (s.policy == SchedPolicy::deadline || s.flags != 0) {
      // What only sched_setattr(2) can say; runc uses it for every policy.
      SchedAttr a;
      a.policy = static_cast<std::uint32_t>(s.policy);
      a.flags = s.flags;
      a.nice = s.nice;
      a.priority = static_cast<std::uint32_t>(s.priority);
      a.runtime = s.runtime;
      a.deadline = s.deadline;
      a.period = s.period;
      sb.scheduler(a);
    } else {
      sb.scheduler(static_cast<int>(s.policy), s.priority);
      // sched_attr.sched_nice: runc sets it with the policy, 0 included.
      sb.nice(s.nice);
    }
  }
  if (p.io_priority)
    sb.io_priority(static_cast<int>(p.io_priority->io_class), p.io_priority->priority);
  if (p.exec_cpu_affinity && o.exec_process) {
    const ExecCpuAffinity& a = *p.exec_cpu_affinity;
    if (!a.final_.empty())
      sb.cpu_affinity(parse_cpu_list(a.final_, f + ".execCPUAffinity.final"));
    else if (!a.initial.empty())
      sb.cpu_affinity(parse_cpu_list(a.initial, f + ".execCPUAffinity.initial"));
  } else {
    // No affinity asked for: every CPU, not the caller's affinity (a
    // runtime started by `taskset -c 0` must not pin the container to CPU
    // 0), as runc >= 1.3 does for init and exec alike
    // (libcontainer/process_linux.go tryResetCPUAffinity: a full 8192-CPU
    // mask; sched_setaffinity(2) clamps it to the CPUs the kernel has and
    // the cpuset of the process's cgroup allows, so it is never empty).
    std::vector<unsigned> all(8192);
    for (unsigned i = 0; i < all.size(); ++i) all[i] = i;
    sb.cpu_affinity(std::move(all));
  }
  if (p.terminal) {
    unsigned short rows = 24, cols = 80;
    if (p.console_size && p.console_size->height > 0 && p.console_size->width > 0) {
      rows = static_cast<unsigned short>(std::min<std::uint32_t>(p.console_size->height, 65535));
      cols = static_cast<unsigned short>(std::min<std::uint32_t>(p.console_size->width, 65535));
    }
    sb.terminal(rows, cols);
  }
}

// The config's linux.seccomp on `sb` (nothing when there is none), for the
// process `p` (the config's own, or an exec's: call apply_process first).
// ward installs the filter as the child's last step, after its
// capabilities are set, where that works: with no_new_privs, or with
// CAP_SYS_ADMIN kept (seccomp(2)). When noNewPrivileges is false and `p`
// would lack CAP_SYS_ADMIN, the filter goes on before the credentials
// change instead (SeccompOptions::before_credentials), as runc does, so
// set-user-ID programs and file capabilities keep working in the
// container; with USER_NOTIF rules (a listenerPath) that cannot be, and
// no_new_privs is set anyway, with a warning. The profile's flags are
// passed on. A listenerPath is the runtime's to serve: the listener is
// Child::seccomp_listener().
inline void apply_seccomp(Sandbox& sb, const Config& cfg, const Process& p,
                          const ProcessOptions& o = {}) {
  SeccompProfileOptions so;
  if (p.capabilities)
    so.capabilities = detail::mapping::cap_set(p.capabilities->bounding, "", nullptr);
  auto prof = seccomp_profile(cfg, so);
  if (!prof) return;
  for (const std::string& w : prof->warnings)
    detail::mapping::warn(o.warnings, "linux.seccomp: " + w);
  SeccompOptions opts;
  opts.flags = prof->flags;
  std::vector<sock_filter> prog;
  detail::mapping::at_field("linux.seccomp", [&] { prog = prof->filter.compile(); });
  if (!p.no_new_privileges) {
    constexpr int kCapSysAdmin = 21;
    auto eff = detail::mapping::final_effective(p, o.keep_capabilities_when_absent);
    const bool admin =
        eff ? eff->contains(kCapSysAdmin)
            : (p.user.uid == 0 && ward::Capabilities::current().effective.contains(kCapSysAdmin));
    const bool notify = ward::detail::returns_user_notif(prog);
    if (admin) {
      sb.no_new_privs(false);  // as asked: the filter can go on last without it
    } else if (!notify) {
      sb.no_new_privs(false);
      opts.before_credentials = true;  // while the child still has CAP_SYS_ADMIN
    } else {
      sb.no_new_privs(true);
      detail::mapping::warn(o.warnings,
                            o.field +
                                ".noNewPrivileges: set anyway: SCMP_ACT_NOTIFY rules need the "
                                "filter installed last, after the capabilities are dropped, and "
                                "without CAP_SYS_ADMIN the kernel then needs no_new_privs");
    }
  }
  detail::mapping::at_field("linux.seccomp", [&] { sb.seccomp(std::move(prog), opts); });
}

// ===========================================================================
// linux.cgroupsPath
// ===========================================================================

// The container's cgroup as a path inside the cgroup2 hierarchy ("/a/b",
// relative to the cgroup2 mount), for CgroupV2::create/adopt. `id` is the
// container id.
//
//  - "/a/b": as given, lexically cleaned ("." and ".." resolved inside the
//    hierarchy, as runc's utils.CleanPath does, so it cannot climb out).
//  - "a/b" (relative): taken from the hierarchy's root, "/a/b", as crun
//    does. (runc's cgroupfs driver puts it below the parent of runc's own
//    cgroup instead, which depends on where the runtime happens to run.)
//  - "slice:prefix:name" (systemd's form, what podman and containerd pass
//    with --systemd-cgroup): the path systemd would give that unit, as
//    runc's systemd driver computes it: the slice expanded
//    ("user-1000.slice" -> "/user.slice/user-1000.slice"; empty:
//    "system.slice"), then "prefix-name.scope" ("name.scope" without a
//    prefix; a name ending in ".slice" is itself the unit). ward does not
//    talk to systemd: it makes that directory itself.
//  - empty: "/ward/<id>". The runtime-spec leaves the default to the
//    runtime ("If the value is not specified, the runtime MAY define the
//    default cgroups path"); a directory of ward's own keeps its containers
//    together and away from other managers' cgroups.
// Throws ward::Error (validate) naming linux.cgroupsPath for a malformed
// value or one that names the root cgroup, and naming "id" for an id that
// cannot be a path component.
inline std::string cgroup_path_for(const Config& cfg, std::string_view id) {
  const std::string field = "linux.cgroupsPath";
  auto bad_char = [](std::string_view s) {
    return s.find('\0') != std::string_view::npos || s.find('\n') != std::string_view::npos;
  };
  if (id.empty() || id == "." || id == ".." || id.find('/') != std::string_view::npos ||
      bad_char(id))
    ward::detail::throw_invalid("id", "'" + std::string(id) + "' cannot name a cgroup");
  const std::string p = cfg.linux_ ? cfg.linux_->cgroups_path : std::string();
  if (p.empty()) return "/ward/" + std::string(id);
  if (bad_char(p)) ward::detail::throw_invalid(field, "contains a NUL or newline");

  if (p.front() != '/' && std::count(p.begin(), p.end(), ':') == 2) {
    const auto c1 = p.find(':'), c2 = p.find(':', c1 + 1);
    std::string slice = p.substr(0, c1), prefix = p.substr(c1 + 1, c2 - c1 - 1),
                name = p.substr(c2 + 1);
    // runc's systemd.ExpandSlice: "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice".
    auto expand = [&](const std::string& s) {
      const std::string suffix = ".slice";
      if (s.size() <= suffix.size() ||
          s.compare(s.size() - suffix.size(), suffix.size(), suffix) != 0 ||
          s.find('/') != std::string::npos)
        ward::detail::throw_invalid(field, "'" + s + "' is not a systemd slice name (\"x.slice\")");
      const std::string base = s.substr(0, s.size() - suffix.size());
      if (base == "-") return std::string();
      std::string path, pre;
      std::size_t pos = 0;
      while (pos <= base.size()) {
        std::size_t dash = base.find('-', pos);
        if (dash == std::string::npos) dash = base.size();
        const std::string comp = base.substr(pos, dash - pos);
        if (comp.empty())
          ward::detail::throw_invalid(field, "'" + s + "' is not a valid slice name");
        path += "/" + pre + comp + suffix;
        pre += comp + "-";
        pos = dash + 1;
      }
      return path;
    };
    if (name.empty()) ward::detail::throw_invalid(field, "'" + p + "': the unit name is empty");
    if (name.find('/') != std::string::npos || prefix.find('/') != std::string::npos)
      ward::detail::throw_invalid(field, "'" + p + "': unit names cannot contain '/'");
    const std::string suffix = ".slice";
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      return expand(name);
    const std::string unit = (prefix.empty() ? name : prefix + "-" + name) + ".scope";
    return expand(slice.empty() ? "system.slice" : slice) + "/" + unit;
  }

  std::vector<std::string> parts;
  std::size_t pos = 0;
  while (pos <= p.size()) {
    std::size_t slash = p.find('/', pos);
    if (slash == std::string::npos) slash = p.size();
    const std::string c = p.substr(pos, slash - pos);
    if (c == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!c.empty() && c != ".") {
      parts.push_back(c);
    }
    pos = slash + 1;
  }
  if (parts.empty())
    ward::detail::throw_invalid(field,
                                "'" + p + "' names the root cgroup, which no container owns");
  std::string out;
  for (const auto& c : parts) out += "/" + c;
  return out;
}

// ===========================================================================
// The whole config
// ===========================================================================

// Maps `cfg` onto a new Sandbox. `bundle` is the bundle directory:
// root.path and relative bind sources are taken relative to it
// (config.md "Root", "Mounts").
//
//  - linux.namespaces: each one without a path is created, each one with a
//    path is joined (time included: the child then runs in fork mode). A
//    new user namespace gets linux.uidMappings/gidMappings (none: the
//    caller's uid and gid as root inside, ward's default). Without a
//    mount namespace of its own (none listed: the runtime's is inherited,
//    runtime-spec config-linux.md), the process is chroot(2)ed into
//    root.path, as runc does; joining one by path, it runs from that
//    namespace's root (root.path unused, a warning). Either way nothing is
//    mounted: mounts, maskedPaths, readonlyPaths, devices, root.readonly
//    and rootfsPropagation are errors then (runc would set them up in
//    the host's or another container's mount table).
//  - hostname, domainname, linux.timeOffsets, linux.sysctl,
//    linux.personality: as given. linux.memoryPolicy: set_mempolicy(2) in
//    the child before exec (Sandbox::memory_policy; runtime-spec 1.3).
//  - root.path (relative to the bundle), root.readonly; pivot_root unless
//    ToSandboxOptions::no_pivot.
//  - mounts, in order:
//     * type "bind", or option bind/rbind: MountSpec::bind/rbind of the
//       source (relative to the bundle) with the parsed flags, atime,
//       propagation (none given: private, ward's default for binds, where
//       runc's clone would follow its rslave /) and idmap. On an rbind,
//       "ro", "nosuid", "rw", "noatime"... are the top mount's only and
//       "rro", "rnosuid", "rrw", "rnoatime"... every mount's (recursive
//       attributes, mount_setattr(2) AT_RECURSIVE, after the top's), as in
//       runc; elsewhere both kinds are the mount's own.
//       Filesystem options are meaningless for a bind (mount(2) ignores
//       them for MS_BIND): warned about.
//     * idmap/ridmap: a user namespace with the mount's own uidMappings/
//       gidMappings, else the container's (linux.uidMappings/gidMappings,
//       or the user namespace it joins by path), as runtime-spec config.md
//       and runc 1.2 say. It is made here (Namespace::create_set), so this
//       needs the privilege to write those maps.
//     * "cgroup" on a host with cgroup v1 hierarchies (hybrid or v1-only):
//       the view runc's mountCgroupV1 gives. A tmpfs (mode=755) at the
//       destination, then one directory per v1 hierarchy with a controller,
//       named after the host's mount point ("memory", "cpu,cpuacct", with
//       links "cpu" and "cpuacct" to a co-mounted one), holding: with a
//       cgroup namespace of the container's own, a new cgroup v1 mount of
//       that hierarchy (the namespace roots it at the container's cgroup);
//       without one, a bind of the host's directory of the container's
//       cgroup (ToSandboxOptions::cgroup_path, else the caller's own), so
//       nothing above it shows. As in runc (and crun), no unified
//       (cgroup2) directory on a hybrid host, and (unlike runc) no
//       name=systemd one: ward makes no cgroup of the container's there.
//       The mount's options apply to each mount on top of nosuid, nodev,
//       noexec; "ro" makes the tmpfs read-only too (after its directories
//       and links exist; runc leaves it writable). Every step resolves its
//       destination inside the rootfs like any other mount.
//     * "cgroup" on a host without v1 hierarchies, and "cgroup2": cgroup v2
//       (runc mounts v2 on a unified host too). With a cgroup namespace of the
//       container's own, a new cgroup2 filesystem, rooted at the
//       container's cgroup. Without one, the host's cgroup2 mount is bound
//       instead (it shows the same hierarchy a new mount would): in a user
//       namespace a new cgroup2 mount is refused (EPERM; runc's
//       mountCgroupV2 falls back to the same bind), and in the initial
//       cgroup namespace a new cgroup2 mount would reset the hierarchy-wide
//       options of the host's own mount (nsdelegate, memory_recursiveprot...)
//       to its own (kernel/cgroup/cgroup.c, apply_cgroup_root_flags), which
//       runc's plain mount does.
//     * any other type: MountSpec::filesystem(type, destination, source)
//       with the per-mount flags and the remaining options as filesystem
//       parameters ("mode=755", "newinstance"; sync/dirsync/lazytime/mand
//       become the kernel's generic superblock parameters).
//     * a tmpfs without a "mode=" option over an existing directory gets
//       that directory's mode (runc's createOpenMountpoint); a read-only
//       tmpfs or /dev is mounted writable and made read-only after every
//       other step, so that its mount points and nodes can be made (runc's
//       finalizeRootfs).
//     * "remount" and crun's "tmpcopyup" are errors (unsupported).
//  - /dev: unless a bind mount provides /dev, the default device nodes
//    (null zero full random urandom tty), /dev/fd, stdin/stdout/stderr and
//    core symlinks and /dev/ptmx -> pts/ptmx are made after the mounts, as
//    runc's needsSetupDev/createDevices/setupPtmx/setupDevSymlinks do; with
//    no /dev mount at all they go into the rootfs's own /dev, as in runc.
//  - linux.devices: /dev/ptmx is skipped (runc's createDevices: it is the
//    link to pts/ptmx); the others: mknod with fileMode (type bits
//    ignored; default 0666),
//    after the mounts; in a user namespace, where mknod is refused, the
//    host's node at the same path is bound instead (runc's
//    bindMountDeviceNode). An owner (uid/gid) other than 0 is an error:
//    Sandbox::device cannot chown.
//  - linux.maskedPaths, linux.readonlyPaths: after everything else.
//  - linux.rootfsPropagation: as given; absent: ward's default, recursively
//    private (runc makes / rslave so that host mounts propagate in; ward
//    keeps them out unless the config asks).
//  - process: apply_process(); linux.seccomp: apply_seccomp(). With no
//    HOME (or an empty one) in process.env, HOME comes from root.path's
//    etc/passwd for process.user.uid, default "/" (default_home), as runc
//    and crun do. runc reads the file after the mounts; ward reads the
//    rootfs before them, so a passwd file that `mounts` binds in is not
//    seen.
//  - linux.mountLabel (SELinux) and linux.intelRdt: errors (mountLabel: a
//    warning with ignore_lsm, or on a host that does not run SELinux).
//  - Not here: linux.resources and linux.cgroupsPath (see apply_resources,
//    cgroup_path_for), hooks, annotations.
// Throws ward::Error naming the JSON path of the field it cannot map. The
// Sandbox may still refuse a combination at plan(), naming its own field.
// linux.netDevices (runtime-spec 1.3), in two halves for a runtime:
// check_net_devices() before anything exists (each device is on the host:
// an error then leaves nothing behind), move_net_devices() once the
// container's network namespace exists and before its hooks and program run
// (the spec's devices "MUST be made available in the container"). Each
// device keeps its permanent global addresses and comes up
// (ward::move_net_device). Test: runtime: linux.netDevices moves a host
// device in (tests/root/runtime_spec13_test.cpp).
inline void check_net_devices(const Config& cfg) {
  if (!cfg.linux_) return;
  for (const auto& [host, name] : cfg.linux_->net_devices)
    if (!ward::net_device_exists(host))
      throw Error(Step::net_device, ENODEV, "linux.netDevices." + host,
                  "the host has no network device named " + host);
}
inline void move_net_devices(const Config& cfg, const ward::Namespace& netns) {
  if (!cfg.linux_) return;
  for (const auto& [host, name] : cfg.linux_->net_devices) {
    try {
      ward::move_net_device(netns, host, name);
    } catch (const Error& e) {
      throw Error(e.step(), e.code().value(), "linux.netDevices." + host, e.detail());
    }
  }
}

inline Sandbox to_sandbox(const Config& cfg, const std::filesystem::path& bundle,
                          const ToSandboxOptions& opts = {}) {
  namespace fs = std::filesystem;
  using detail::mapping::idx;
  using detail::mapping::unsupported;
  using detail::mapping::warn;
  if (!cfg.process)
    ward::detail::throw_invalid("process",
                                "the config has no process to run (runtime.md: "
                                "required by start)");
  Sandbox sb;
  const Linux empty_linux;
  const Linux& l = cfg.linux_ ? *cfg.linux_ : empty_linux;

  if (!l.mount_label.empty()) {
    if (!opts.ignore_lsm && detail::mapping::host_runs_selinux())
      unsupported("linux.mountLabel",
                  "SELinux is not supported by ward (label \"" + l.mount_label + "\")");
    warn(opts.warnings,
         "linux.mountLabel: ignored: " + (detail::mapping::host_runs_selinux()
                                              ? std::string("SELinux is not supported by ward")
                                              : std::string("this host does not run SELinux")));
  }
  if (l.intel_rdt) {
    // runtime-spec 1.3 adds schemata and enableMonitoring; none of
    // linux.intelRdt is applied by ward, so all of it is refused, saying
    // whether the host could have done it.
    const bool resctrl = ::access("/sys/fs/resctrl/schemata", F_OK) == 0;
    unsupported(
        "linux.intelRdt",
        std::string("Intel RDT is not supported by ward") +
            (resctrl ? "" : " (and this host has no resctrl filesystem at /sys/fs/resctrl)"));
  }
  if (!l.net_devices.empty()) {
    const Namespace* net = l.find_namespace(NamespaceType::network);
    if (net == nullptr)
      ward::detail::throw_invalid(
          "linux.netDevices",
          "moving network devices needs a network namespace of the container's own "
          "(linux.namespaces has no \"network\")");
    // A path naming our own namespace would "move" a host device onto
    // itself: renamed and brought up on the host (found by review).
    if (!net->path.empty() && detail::mapping::is_runtime_netns(net->path).value_or(false))
      ward::detail::throw_invalid("linux.netDevices", "the network namespace joined by path (" +
                                                          net->path + ") is the runtime's own");
  }

  // ---- namespaces
  bool new_user = false, user_ns = false, new_cgroup = false, new_mount = false;
  std::string joined_mount;  // the field that joins one
  std::string user_ns_path;
  for (std::size_t i = 0; i < l.namespaces.size(); ++i) {
    const Namespace& n = l.namespaces[i];
    const std::string nf = idx("linux.namespaces", i);
    const auto kind = detail::mapping::ns_kind(n.type);
    if (!kind) ward::detail::throw_invalid(nf + ".type", "unknown namespace type");
    if (n.type == NamespaceType::user) user_ns = true;
    if (n.path.empty()) {
      sb.unshare(*kind);
      if (n.type == NamespaceType::user) new_user = true;
      if (n.type == NamespaceType::cgroup) new_cgroup = true;
      if (n.type == NamespaceType::mount) new_mount = true;
    } else {
      if (n.type == NamespaceType::mount) joined_mount = nf + ".path";
      if (n.type == NamespaceType::user) user_ns_path = n.path;
      detail::mapping::at_field(nf + ".path", [&] { sb.join(*kind, n.path); });
    }
  }
  // Without a mount namespace of its own the container runs in the
  // runtime's or in the joined one. With nothing to mount it is chrooted
  // into root.path (the runtime's) or runs from the joined namespace's
  // root. With mounts (runtime-tools' linux_ns_itype and linux_ns_path
  // list them) they are made there, as runc makes them, but below a
  // private clone of root.path alone, and the container is chrooted into
  // it: "/" and the namespace's other mounts are left as they are (runc
  // makes the host's "/" a recursive slave), and the clone goes at delete
  // (Sandbox::shared_mount_namespace; tests/root/shared_mount_ns_test.cpp,
  // "runtime: a container without a mount namespace of its own ...").
  bool in_place = false;
  if (!new_mount) {
    const char* field =
        !cfg.mounts.empty()         ? "mounts"
        : !l.masked_paths.empty()   ? "linux.maskedPaths"
        : !l.readonly_paths.empty() ? "linux.readonlyPaths"
        : !l.devices.empty()        ? "linux.devices"
        : cfg.root.readonly         ? "root.readonly"
        : l.rootfs_propagation && l.rootfs_propagation->type != Propagation::unchanged
            ? "linux.rootfsPropagation"
            : nullptr;
    if (field != nullptr && new_user)
      ward::detail::throw_invalid(
          field,
          "needs a mount namespace of the container's own (linux.namespaces has no "
          "\"mount\"): the root of its new user namespace cannot mount in " +
              (joined_mount.empty() ? std::string("the runtime's")
                                    : "the one " + joined_mount + " joins"));
    in_place = field != nullptr;
  }
  if (new_user) {
    UserNsOptions u;
    u.uid_map = detail::mapping::id_map(l.uid_mappings);
    u.gid_map = detail::mapping::id_map(l.gid_mappings);
    if (opts.rootless) {
      const auto& g = u.gid_map.entries();
      const bool self_only =
          u.gid_map.empty() || (g.size() == 1 && g[0].count == 1 && g[0].outside == ::getegid());
      u.setgroups = self_only ? Setgroups::deny : Setgroups::allow;
    }
    u.uid_map_helper = opts.uid_map_helper;
    u.gid_map_helper = opts.gid_map_helper;
    sb.user_namespace(std::move(u));
  }
  if (!cfg.hostname.empty()) sb.hostname(cfg.hostname);
  if (!cfg.domainname.empty()) sb.domainname(cfg.domainname);
  if (!l.time_offsets.empty()) {
    TimeOffsets t;
    for (const auto& [clock, off] : l.time_offsets) {
      constexpr std::int64_t kNs = 1'000'000'000;
      if (off.secs > std::numeric_limits<std::int64_t>::max() / kNs - 1 ||
          off.secs < std::numeric_limits<std::int64_t>::min() / kNs + 1)
        ward::detail::throw_invalid("linux.timeOffsets." + clock + ".secs",
                                    "out of range (|secs| < 9.2e9)");
      const std::int64_t ns = off.secs * kNs + static_cast<std::int64_t>(off.nanosecs);
      (clock == "monotonic" ? t.monotonic_ns : t.boottime_ns) = ns;
    }
    sb.time_offsets(t);
  }

  // ---- root
  fs::path root = cfg.root.path;
  if (root.is_relative()) root = bundle / root;
  if (in_place) {
    sb.rootfs(root.lexically_normal().string());
    sb.shared_mount_namespace();
  } else if (!joined_mount.empty()) {
    // setns(2) into a mount namespace makes its root the process's root.
    warn(opts.warnings, "root.path: not used: the container runs in the mount namespace " +
                            joined_mount + " joins, from its root");
  } else if (!new_mount) {
    sb.chroot(root.lexically_normal().string());
  } else {
    sb.rootfs(root.lexically_normal().string());
  }
  if (cfg.root.readonly) sb.readonly_root();
  if (new_mount) sb.pivot(opts.no_pivot ? Pivot::move_and_chroot : Pivot::pivot_root);
  if (l.rootfs_propagation && l.rootfs_propagation->type != Propagation::unchanged)
    sb.rootfs_propagation(detail::mapping::propagation(l.rootfs_propagation->type),
                          l.rootfs_propagation->recursive);

  // ---- mounts
  // idmap namespaces, one per distinct pair of maps (a deque: references
  // to earlier ones stay valid).
  struct IdmapNs {
    std::vector<IdMapping> uid, gid;
    ward::Namespace ns;
  };
  std::deque<IdmapNs> idmaps;
  auto idmap_ns = [&](const std::vector<IdMapping>& uid,
                      const std::vector<IdMapping>& gid) -> const ward::Namespace& {
    for (const IdmapNs& e : idmaps)
      if (e.uid == uid && e.gid == gid) return e.ns;
    UserNsOptions u;
    u.uid_map = detail::mapping::id_map(uid);
    u.gid_map = detail::mapping::id_map(gid);
    auto made = ward::Namespace::create_set(NsSet{NsKind::user}, u);
    idmaps.push_back({uid, gid, std::move(made.front())});
    return idmaps.back().ns;
  };
  auto abs_source = [&](const std::string& src) {
    fs::path s = src;
    if (s.is_relative()) s = bundle / s;
    return s.lexically_normal().string();
  };

  bool dev_is_bind = false;
  for (std::size_t i = 0; i < cfg.mounts.size(); ++i) {
    const Mount& m = cfg.mounts[i];
    const std::string mf = idx("mounts", i);
    const MountOptions o = m.parsed_options();
    const bool bind = m.type == "bind" || o.bind;
    const bool recursive = o.recursive;
    if (o.remount)
      unsupported(mf + ".options", "\"remount\" changes an existing mount; ward makes new ones");
    if (o.tmpcopyup)
      unsupported(mf + ".options",
                  "\"tmpcopyup\" (crun's copy into a new tmpfs) is not "
                  "supported by ward");
    const std::string dest_clean =
        "/" + ward::detail::normalize_in_root(m.destination, mf + ".destination");
    if (bind && dest_clean == "/dev") dev_is_bind = true;

    std::optional<MountSpec> spec;
    // On an rbind, "ro" & co. are the top mount's and "rro" & co. every
    // mount's (runc: a remount of the top, then mount_setattr(2)
    // AT_RECURSIVE); on any other mount both are the mount's own.
    const std::uint64_t set = detail::mapping::mount_attrs(o.set);
    const std::uint64_t clear = detail::mapping::mount_attrs(o.clear);
    std::uint64_t rset = detail::mapping::mount_attrs(o.recursive_set);
    std::uint64_t rclear = detail::mapping::mount_attrs(o.recursive_clear);
    switch (o.recursive_atime) {
      case Atime::unchanged: break;
      case Atime::relatime: rclear |= ward::detail::mnt::kAttrAtimeMask; break;
      case Atime::noatime: rset |= ward::detail::mnt::kAttrNoatime; break;
      case Atime::strictatime: rset |= ward::detail::mnt::kAttrStrictatime; break;
    }
    if (bind) {
      if (m.source.empty())
        ward::detail::throw_invalid(mf + ".source", "a bind mount needs a source");
      const std::string src = abs_source(m.source);
      spec = recursive ? MountSpec::rbind(src, m.destination).attributes_top_only()
                       : MountSpec::bind(src, m.destination);
      if (!o.data.empty())
        warn(opts.warnings,
             mf + ".options: ignored for a bind mount: " + detail::mapping::join_names(o.data));
    } else if (m.type == "cgroup" && detail::mapping::host_has_v1_hierarchies()) {
      // runc's mountCgroupV1: a tmpfs, then one directory per v1 hierarchy
      // holding the container's cgroup of it, then the links for
      // co-mounted controllers. Every mount gets the mount's own options
      // on top of runc's nosuid, nodev, noexec; a read-only tmpfs is made
      // read-only after its directories and links exist (the planner's
      // late step).
      if (o.idmap) unsupported(mf + ".options", "idmap is supported on bind mounts only");
      detail::mapping::check_proc_mount(mf, dest_clean, false, m.type, m.source, opts.warnings);
      std::vector<detail::mapping::V1ViewEntry> view;
      detail::mapping::at_field(
          mf, [&] { view = detail::mapping::v1_view(mf + ".type", opts.cgroup_path); });
      std::vector<MountSpec> specs;
      specs.push_back(MountSpec::filesystem("tmpfs", m.destination, "tmpfs").option("mode", "755"));
      for (const auto& e : view) {
        const std::string d = dest_clean + "/" + e.dir;
        if (new_cgroup) {
          // A new mount of the hierarchy, rooted by the cgroup namespace
          // at the container's cgroup (the child joins its v1 cgroups
          // before it makes the namespace).
          MountSpec c = MountSpec::filesystem("cgroup", d, "cgroup");
          for (const auto& ctl : e.controllers) c.flag(ctl);
          specs.push_back(std::move(c));
        } else {
          // The host's directory of the container's cgroup: nothing above
          // it is reachable.
          specs.push_back(MountSpec::bind(e.source, d));
        }
      }
      for (auto& one : specs) {
        one.nosuid().nodev().noexec();
        detail::mapping::set_attrs(one, set, clear);
        if (o.atime != Atime::unchanged) one.atime(detail::mapping::atime(o.atime));
        if (rset != 0 || rclear != 0) one.recursive_attributes(rset, rclear);
        if (o.propagation != Propagation::unchanged)
          one.propagation(detail::mapping::propagation(o.propagation), o.propagation_recursive);
        detail::mapping::at_field(mf, [&] { sb.mount(std::move(one)); });
      }
      for (const auto& e : view)
        for (const auto& link : e.links) sb.symlink(dest_clean + "/" + link, e.dir);
      continue;
    } else if (m.type == "cgroup" || m.type == "cgroup2") {
      if (!new_cgroup) {
        const std::string host = cgroup_host().unified_mount;
        if (host.empty())
          unsupported(mf + ".type", "no cgroup2 hierarchy is mounted on this host to bind");
        spec = MountSpec::bind(host, m.destination);
      } else {
        spec =
            MountSpec::filesystem("cgroup2", m.destination,
                                  m.source.empty() || m.source == "cgroup" ? "cgroup2" : m.source);
      }
    } else {
      if (m.type.empty() || m.type == "none")
        ward::detail::throw_invalid(mf + ".type", "needs a filesystem type, or the bind option");
      spec = MountSpec::filesystem(m.type, m.destination, m.source);
      detail::mapping::sb_flags(*spec, o);
      for (const std::string& d : o.data) detail::mapping::data_option(*spec, d);
    }
    detail::mapping::check_proc_mount(mf, dest_clean, bind, m.type,
                                      bind ? abs_source(m.source) : m.source, opts.warnings);
    detail::mapping::set_attrs(*spec, set, clear);
    if (o.atime != Atime::unchanged) spec->atime(detail::mapping::atime(o.atime));
    if (rset != 0 || rclear != 0) spec->recursive_attributes(rset, rclear);
    if (o.propagation != Propagation::unchanged)
      spec->propagation(detail::mapping::propagation(o.propagation), o.propagation_recursive);
    if (o.idmap) {
      if (!bind) unsupported(mf + ".options", "idmap is supported on bind mounts only");
      detail::mapping::at_field(mf + ".options", [&] {
        if (!m.uid_mappings.empty() || !m.gid_mappings.empty()) {
          spec->idmap(idmap_ns(m.uid_mappings, m.gid_mappings));
        } else if (!user_ns_path.empty()) {
          spec->idmap(ward::Namespace::open(user_ns_path, NsKind::user));
        } else if (new_user && !l.uid_mappings.empty()) {
          spec->idmap(idmap_ns(l.uid_mappings, l.gid_mappings));
        } else {
          ward::detail::throw_invalid("idmap",
                                      "needs uidMappings and gidMappings, on the mount or in "
                                      "linux (a user namespace with mappings)");
        }
      });
    }
    detail::mapping::at_field(mf, [&] { sb.mount(std::move(*spec)); });
  }

  // ---- /dev
  if (!dev_is_bind && (new_mount || in_place)) sb.default_devices();
  for (std::size_t i = 0; i < l.devices.size(); ++i) {
    const Device& d = l.devices[i];
    const std::string df = idx("linux.devices", i);
    // /dev/ptmx is the runtime's link to pts/ptmx (set up with /dev):
    // runc's createDevices skips the entry that a privileged pod's config
    // has (containerd's CRI lists every host device), and so does ward.
    // Without this the node would be made over that very link, which the
    // destination check refuses (ELOOP).
    if ("/" + ward::detail::normalize_in_root(d.path, df + ".path") == "/dev/ptmx") continue;
    // The kernel's dev_t: 12-bit major, 20-bit minor (MINORBITS).
    auto num = [&](std::int64_t v, std::int64_t max, const char* which) {
      if (v < 0 || v > max)
        ward::detail::throw_invalid(df + "." + which, std::to_string(v) + " is out of range");
      return static_cast<unsigned>(v);
    };
    const unsigned mode = d.file_mode ? (*d.file_mode & 07777u) : 0666u;
    // (Not "major"/"minor": glibc defines those as macros.)
    const unsigned maj = num(d.major, 0xfff, "major"), min = num(d.minor, 0xfffff, "minor");
    detail::mapping::at_field(df, [&] {
      // In a user namespace, where mknod is refused, the runtime makes the
      // node as asked (owner and mode: crun's owner-device) and the child
      // attaches it; an unprivileged runtime binds the host's node
      // instead, as runc does there (Sandbox::device).
      sb.device(d.path, d.type, maj, min, mode, d.uid.value_or(0), d.gid.value_or(0),
                user_ns ? d.path : std::string());
    });
  }
  // process.cwd is created when missing, as runc does: after the mounts, in
  // case it is on one of them.
  if (cfg.process && !cfg.process->cwd.empty() && (new_mount || in_place))
    detail::mapping::at_field("process.cwd", [&] { sb.directory(cfg.process->cwd); });
  if (!l.masked_paths.empty()) sb.masked_paths(l.masked_paths);
  if (!l.readonly_paths.empty()) sb.readonly_paths(l.readonly_paths);

  for (const auto& [key, value] : l.sysctl) {
    detail::mapping::check_sysctl(cfg, key);
    sb.sysctl(key, value);
  }
  if (l.personality)
    sb.personality(l.personality->domain == PersonalityDomain::linux32 ? PER_LINUX32 : PER_LINUX);
  if (l.memory_policy) {
    const MemoryPolicy& m = *l.memory_policy;
    ward::MemoryPolicy mp{m.mode, m.flags, {}};
    if (!m.nodes.empty()) mp.nodes = parse_cpu_list(m.nodes, "linux.memoryPolicy.nodes");
    sb.memory_policy(std::move(mp));
  }

  // ---- the process, then seccomp (which looks at its capabilities)
  ProcessOptions po;
  po.ignore_lsm = opts.ignore_lsm;
  po.keep_capabilities_when_absent = opts.keep_capabilities_when_absent;
  po.warnings = opts.warnings;
  Process proc = *cfg.process;
  {
    UniqueFd rootfd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (rootfd) {
      default_home(proc, rootfd.get());
    } else if (std::none_of(proc.env.begin(), proc.env.end(),
                            [](const std::string& e) { return e.rfind("HOME=", 0) == 0; })) {
      proc.env.push_back("HOME=/");  // the rootfs error comes at plan(), naming root.path
    }
  }
  // crun's annotation run.oci.keep_original_groups=1 (podman --group-add
  // keep-groups): the process keeps the runtime's supplementary groups; as
  // crun, additionalGids then go unused.
  if (auto it = cfg.annotations.find("run.oci.keep_original_groups");
      it != cfg.annotations.end() && it->second == "1") {
    if (!proc.user.additional_gids.empty()) {
      detail::mapping::warn(opts.warnings,
                            "process.user.additionalGids: ignored: the annotation "
                            "run.oci.keep_original_groups keeps the runtime's groups");
      proc.user.additional_gids.clear();
    }
    sb.keep_groups();
  }
  apply_process(sb, proc, po);
  apply_seccomp(sb, cfg, proc, po);
  return sb;
}

}  // namespace ward::oci
