// SPDX-License-Identifier: Apache-2.0
// Namespace: an owned handle on one Linux namespace (namespaces(7)).
#pragma once

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <ward/detail/capability_abi.hpp>
#include <ward/detail/spawn.hpp>
#include <ward/error.hpp>
#include <ward/fd.hpp>
#include <ward/id_map.hpp>

namespace ward {

enum class NsKind : std::uint8_t { user, pid, mount, net, ipc, uts, cgroup, time };

inline constexpr std::array<NsKind, 8> all_ns_kinds = {NsKind::user,   NsKind::pid, NsKind::mount,
                                                       NsKind::net,    NsKind::ipc, NsKind::uts,
                                                       NsKind::cgroup, NsKind::time};

// The CLONE_NEW* flag of a kind (clone(2), setns(2)).
constexpr int clone_flag(NsKind k) noexcept {
  switch (k) {
    case NsKind::user: return CLONE_NEWUSER;
    case NsKind::pid: return CLONE_NEWPID;
    case NsKind::mount: return CLONE_NEWNS;
    case NsKind::net: return CLONE_NEWNET;
    case NsKind::ipc: return CLONE_NEWIPC;
    case NsKind::uts: return CLONE_NEWUTS;
    case NsKind::cgroup: return CLONE_NEWCGROUP;
    case NsKind::time: return static_cast<int>(detail::kCloneNewTime);
  }
  return 0;
}

// The file name under /proc/PID/ns/.
constexpr std::string_view proc_name(NsKind k) noexcept {
  switch (k) {
    case NsKind::user: return "user";
    case NsKind::pid: return "pid";
    case NsKind::mount: return "mnt";
    case NsKind::net: return "net";
    case NsKind::ipc: return "ipc";
    case NsKind::uts: return "uts";
    case NsKind::cgroup: return "cgroup";
    case NsKind::time: return "time";
  }
  return "?";
}

// The name people use (and the OCI runtime-spec uses, but for "network").
constexpr std::string_view to_string(NsKind k) noexcept {
  return k == NsKind::mount ? std::string_view("mount") : proc_name(k);
}

inline std::optional<NsKind> ns_kind_from_string(std::string_view s) noexcept {
  if (s == "mnt") return NsKind::mount;
  if (s == "network") return NsKind::net;
  for (NsKind k : all_ns_kinds)
    if (s == to_string(k)) return k;
  return std::nullopt;
}

inline std::optional<NsKind> ns_kind_from_clone_flag(int flag) noexcept {
  for (NsKind k : all_ns_kinds)
    if (clone_flag(k) == flag) return k;
  return std::nullopt;
}

// A set of kinds, e.g. NsSet{NsKind::user, NsKind::pid}.
class NsSet {
 public:
  constexpr NsSet() = default;
  constexpr NsSet(std::initializer_list<NsKind> ks) {
    for (NsKind k : ks) add(k);
  }
  static constexpr NsSet all() {
    NsSet s;
    for (NsKind k : all_ns_kinds) s.add(k);
    return s;
  }
  constexpr NsSet& add(NsKind k) {
    bits_ |= bit(k);
    return *this;
  }
  constexpr NsSet& remove(NsKind k) {
    bits_ &= static_cast<std::uint16_t>(~bit(k));
    return *this;
  }
  constexpr bool contains(NsKind k) const { return (bits_ & bit(k)) != 0; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr NsSet operator|(NsSet o) const {
    NsSet s;
    s.bits_ = bits_ | o.bits_;
    return s;
  }
  constexpr NsSet operator&(NsSet o) const {
    NsSet s;
    s.bits_ = bits_ & o.bits_;
    return s;
  }
  constexpr bool operator==(const NsSet&) const = default;
  // OR of the CLONE_NEW* flags, time included.
  constexpr std::uint64_t clone_flags() const {
    std::uint64_t f = 0;
    for (NsKind k : all_ns_kinds)
      if (contains(k)) f |= static_cast<std::uint64_t>(static_cast<unsigned>(clone_flag(k)));
    return f;
  }
  std::string to_string() const {
    std::string s;
    for (NsKind k : all_ns_kinds) {
      if (!contains(k)) continue;
      if (!s.empty()) s += '+';
      s += ward::to_string(k);
    }
    return s.empty() ? "none" : s;
  }

 private:
  static constexpr std::uint16_t bit(NsKind k) {
    return static_cast<std::uint16_t>(1u << static_cast<unsigned>(k));
  }
  std::uint16_t bits_ = 0;
};

// Options for a new user namespace: its maps and the setgroups policy. With
// empty maps, the caller's effective uid and gid become root inside (the
// "map root to me" of `unshare -r`), which works unprivileged.
struct UserNsOptions {
  IdMap uid_map;
  IdMap gid_map;
  Setgroups setgroups = Setgroups::automatic;
  // Set-user-ID programs that write a map the caller may not write itself
  // (shadow's newuidmap(1) and newgidmap(1), which allow the ranges
  // /etc/subuid and /etc/subgid give the caller): run as `HELPER PID
  // inside outside count...` when writing the map directly fails with
  // EPERM, as runc's nsexec does. Empty: none. A gid map written through a
  // helper needs setgroups not denied first (newgidmap writes the policy
  // itself): give Setgroups::allow.
  std::string uid_map_helper{};
  std::string gid_map_helper{};

  static UserNsOptions map_root_to_current_user() {
    return {
        IdMap::single(0, ::geteuid()), IdMap::single(0, ::getegid()), Setgroups::automatic, {}, {}};
  }
};

// Offsets of a new time namespace's clocks (time_namespaces(7)).
struct TimeOffsets {
  std::int64_t monotonic_ns = 0;
  std::int64_t boottime_ns = 0;

  std::string to_proc_text() const {
    auto line = [](const char* clock, std::int64_t ns) {
      // secs and nanosecs with nanosecs in [0, 1e9), as the kernel expects.
      std::int64_t secs = ns / 1000000000, rem = ns % 1000000000;
      if (rem < 0) {
        rem += 1000000000;
        secs -= 1;
      }
      return std::string(clock) + ' ' + std::to_string(secs) + ' ' + std::to_string(rem) + '\n';
    };
    std::string s;
    if (monotonic_ns != 0) s += line("monotonic", monotonic_ns);
    if (boottime_ns != 0) s += line("boottime", boottime_ns);
    return s;
  }
};

namespace detail {

inline bool have_capability(int cap) noexcept {
  CapMasks m;
  return capget_self(m) && ((m.effective >> cap) & 1) != 0;
}

// Fill the user-namespace part of a plan: validated map text and policy.
inline void plan_user_namespace(PlanData& pd, const UserNsOptions& in) {
  UserNsOptions o = in;
  if (o.uid_map.empty()) o.uid_map = IdMap::single(0, ::geteuid());
  if (o.gid_map.empty()) o.gid_map = IdMap::single(0, ::getegid());
  o.uid_map.validate("uid_map");
  o.gid_map.validate("gid_map");
  constexpr int kCapSetgid = 6;
  bool deny = o.setgroups == Setgroups::deny ||
              (o.setgroups == Setgroups::automatic && !have_capability(kCapSetgid));
  pd.new_user = true;
  pd.uid_map = o.uid_map.to_proc_text();
  pd.gid_map = o.gid_map.to_proc_text();
  pd.setgroups_deny = deny;
  pd.uid_map_helper = o.uid_map_helper;
  pd.gid_map_helper = o.gid_map_helper;
  pd.child.need_parent = true;
  // Become root inside when root is mapped: the process then holds its
  // capabilities as uid 0 rather than as an unmapped overflow id.
  if (o.uid_map.maps_inside(0) && o.gid_map.maps_inside(0)) {
    pd.child.set_ids = true;
    pd.child.uid = 0;
    pd.child.gid = 0;
    pd.child.clear_groups = !deny;
    pd.child.ns_root_early = true;
  }
}

}  // namespace detail

// An open namespace file (nsfs). Holding it keeps the namespace alive; it
// can be joined, persisted with a bind mount, or given to Sandbox::join.
class Namespace {
 public:
  struct Id {
    dev_t dev = 0;
    ino_t ino = 0;
    friend bool operator==(const Id&, const Id&) = default;
  };

  Namespace() = default;
  Namespace(UniqueFd fd, NsKind kind) noexcept : fd_(std::move(fd)), kind_(kind) {}

  // /proc/PID/ns/KIND of a process.
  static Namespace open(NsKind kind, pid_t pid) {
    std::string path = "/proc/" + std::to_string(pid) + "/ns/" + std::string(proc_name(kind));
    return open(path, kind);
  }

  // The namespace a pidfd's process is in. The pid is read from the pidfd's
  // fdinfo, and the pidfd is checked again after opening, so a recycled pid
  // cannot hand us someone else's namespace.
  static Namespace open_pidfd(NsKind kind, int pidfd) {
    pid_t pid = pid_of_pidfd(pidfd);
    Namespace ns = open(kind, pid);
    if (::syscall(detail::sys::nr_pidfd_send_signal, pidfd, 0, nullptr, 0) != 0)
      detail::throw_errno(Step::open_namespace, "pidfd " + std::to_string(pidfd),
                          "the process ended while its namespace was being opened");
    return ns;
  }

  // A namespace file: /proc/PID/ns/*, or a bind mount of one (persist()).
  // The kind is read from the file (NS_GET_NSTYPE) and, if `expect` is
  // given, must match it.
  static Namespace open(const std::filesystem::path& path,
                        std::optional<NsKind> expect = std::nullopt) {
    // O_PATH first: opening whatever the path names for reading could
    // block (a FIFO without a writer) or act (a device's open). Only a file
    // on nsfs is opened for real, through its descriptor (an O_PATH one
    // cannot be given to setns or ioctl).
    UniqueFd probe(detail::off_stdio(::open(path.c_str(), O_PATH | O_CLOEXEC)));
    if (!probe) detail::throw_errno(Step::open_namespace, path.string());
    struct statfs sf;
    if (::fstatfs(probe.get(), &sf) != 0)
      detail::throw_errno(Step::open_namespace, path.string(), "fstatfs");
    if (static_cast<unsigned long>(sf.f_type) != NSFS_MAGIC)
      throw Error(Step::open_namespace, EINVAL, path.string(),
                  "not a namespace file (not on nsfs: /proc/PID/ns/* or a bind mount of one)");
    UniqueFd fd(detail::off_stdio(::open(("/proc/self/fd/" + std::to_string(probe.get())).c_str(),
                                         O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)));
    if (!fd) detail::throw_errno(Step::open_namespace, path.string(), "reopen");
    int type = ::ioctl(fd.get(), NS_GET_NSTYPE);
    if (type < 0) {
      int e = errno;
      throw Error(Step::open_namespace, e == ENOTTY ? EINVAL : e, path.string(),
                  e == ENOTTY ? "not a namespace file" : "NS_GET_NSTYPE");
    }
    auto kind = ns_kind_from_clone_flag(type);
    if (!kind)
      throw Error(Step::open_namespace, EINVAL, path.string(),
                  "unknown namespace type " + std::to_string(type));
    if (expect && *expect != *kind)
      throw Error(Step::open_namespace, EINVAL, path.string(),
                  "is a " + std::string(to_string(*kind)) + " namespace, expected " +
                      std::string(to_string(*expect)));
    return Namespace(std::move(fd), *kind);
  }

  // The calling thread's namespace of `kind`.
  static Namespace current(NsKind kind) {
    return open("/proc/thread-self/ns/" + std::string(proc_name(kind)), kind);
  }

  // Create a new namespace of `kind` without moving the caller into it: a
  // short-lived holder process is cloned into it, its namespace file is
  // opened, and the holder exits. For kinds other than user, the namespace
  // is owned by the caller's user namespace (so this needs CAP_SYS_ADMIN
  // there); create_set() makes an owning user namespace too.
  static Namespace create(NsKind kind) { return std::move(create_set(NsSet{kind}).front()); }

  // Create several at once, in one holder; returned in all_ns_kinds order.
  // With `user` in the set, the others are owned by the new user namespace,
  // and `user_opts` gives its maps.
  static std::vector<Namespace> create_set(NsSet kinds, const UserNsOptions& user_opts = {},
                                           const TimeOffsets& offsets = {}) {
    if (kinds.empty()) detail::throw_invalid("kinds", "no namespace kind given");
    detail::PlanData pd;
    pd.child.hold = true;
    pd.clone_flags = kinds.clone_flags() & ~detail::kCloneNewTime;
    if (kinds.contains(NsKind::user)) detail::plan_user_namespace(pd, user_opts);
    if (kinds.contains(NsKind::time)) {
      pd.child.new_time = true;
      pd.time_offsets = offsets.to_proc_text();
    }
    pd.finalize();
    struct Ctx {
      NsSet kinds;
      std::vector<Namespace> out;
    } ctx{kinds, {}};
    int none[3] = {-1, -1, -1};
    auto holder = detail::spawn_plan(
        pd, none, none,
        [](pid_t pid, void* p) {
          auto* c = static_cast<Ctx*>(p);
          for (NsKind k : all_ns_kinds) {
            if (!c->kinds.contains(k)) continue;
            // The holder unshared its time namespace for its children only.
            std::string name = k == NsKind::time ? "time_for_children" : std::string(proc_name(k));
            c->out.push_back(open("/proc/" + std::to_string(pid) + "/ns/" + name, k));
          }
        },
        &ctx);
    // The holder exits once released; reap it.
    Child(std::move(holder.pidfd), holder.pid).wait();
    return std::move(ctx.out);
  }

  NsKind kind() const noexcept { return kind_; }
  // Borrowed; stays owned by this Namespace.
  int fd() const noexcept { return fd_.get(); }
  bool valid() const noexcept { return static_cast<bool>(fd_); }

  // A new owned descriptor for the same namespace.
  UniqueFd dup() const {
    return detail::dup_cloexec(fd_.get(), Step::open_namespace, std::string(to_string(kind_)));
  }

  // Device and inode of the nsfs file: two handles refer to the same
  // namespace exactly when these are equal (namespaces(7)).
  Id id() const {
    struct stat st {};
    if (::fstat(fd_.get(), &st) != 0)
      detail::throw_errno(Step::open_namespace, std::string(to_string(kind_)), "fstat");
    return {st.st_dev, st.st_ino};
  }
  friend bool operator==(const Namespace& a, const Namespace& b) { return a.id() == b.id(); }

  // setns(2) for the calling thread. The kernel requires a single-threaded
  // caller for user, mount and time namespaces (EINVAL or EUSERS
  // otherwise); for the rest it moves only this thread. To run something
  // in a namespace from a threaded program, use Sandbox::join instead.
  void join() const {
    if (::setns(fd_.get(), clone_flag(kind_)) != 0)
      detail::throw_errno(Step::setns, std::string(to_string(kind_)) + " namespace");
  }

  // Keep the namespace alive without a process, as `ip netns add` does: bind
  // mount the nsfs file onto `path` (an empty file is created if missing).
  void persist(const std::filesystem::path& path) const {
    bool created = false;
    int f = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0444);
    if (f >= 0) {
      created = true;
      ::close(f);
    } else if (errno != EEXIST) {
      detail::throw_errno(Step::persist_namespace, path.string(), "create the mount point");
    }
    std::string src = "/proc/self/fd/" + std::to_string(fd_.get());
    if (::mount(src.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      int e = errno;
      if (created) ::unlink(path.c_str());
      throw Error(Step::persist_namespace, e, path.string(),
                  e == EINVAL && kind_ == NsKind::mount
                      ? "a mount namespace cannot be persisted inside itself"
                      : "bind mount of the " + std::string(to_string(kind_)) + " namespace");
    }
  }

  // Undo persist(): detach the bind mount and remove the file.
  static void unpersist(const std::filesystem::path& path) {
    if (::umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0)
      detail::throw_errno(Step::persist_namespace, path.string(), "umount");
    if (::unlink(path.c_str()) != 0)
      detail::throw_errno(Step::persist_namespace, path.string(), "unlink");
  }

  // The pid, in our pid namespace, of the process a pidfd refers to: the
  // "Pid:" line of its fdinfo (proc(5)). Error(Step::open_namespace) with
  // ESRCH once it has ended (the line says -1) or is in no pid namespace
  // of ours (0), EBADF when `pidfd` is no pidfd. Plain read(2), no
  // std::ifstream, for the reason cap_last_cap() gives.
  static pid_t pid_of_pidfd(int pidfd) {
    const std::string path = "/proc/self/fdinfo/" + std::to_string(pidfd);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) detail::throw_errno(Step::open_namespace, path);
    char buf[1024];
    std::size_t len = 0;
    for (ssize_t n;
         len < sizeof buf - 1 && (n = ::read(fd.get(), buf + len, sizeof buf - 1 - len)) != 0;) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) detail::throw_errno(Step::open_namespace, path);
      len += static_cast<std::size_t>(n);
    }
    std::string_view text(buf, len);
    auto at = text.find("\nPid:");
    if (at == std::string_view::npos)
      throw Error(Step::open_namespace, EBADF, "pidfd " + std::to_string(pidfd), "not a pidfd");
    text.remove_prefix(at + 5);
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    long pid = 0;  // from_chars reads the "-1" of a reaped process too
    if (std::from_chars(text.data(), text.data() + text.size(), pid).ec != std::errc() || pid <= 0)
      throw Error(Step::open_namespace, ESRCH, "pidfd " + std::to_string(pidfd),
                  "the process has ended");
    return static_cast<pid_t>(pid);
  }

 private:
  UniqueFd fd_;
  NsKind kind_ = NsKind::user;
};

}  // namespace ward
