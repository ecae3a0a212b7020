// SPDX-License-Identifier: Apache-2.0
// Mounts: MountSpec (a description of one mount), MountGuard (an RAII mount
// in the caller's mount namespace), and the planner that turns specs into
// the steps a sandbox child executes (detail/child/mount.hpp).
//
// One description, two uses: Sandbox::mount(spec) makes it inside the
// child's new mount namespace (relative to its rootfs when it has one);
// MountGuard::mount(spec, root) makes it here and now, for example while a
// runtime prepares a rootfs. Either way every destination is resolved inside
// its root with openat2(RESOLVE_IN_ROOT) and mounted through a descriptor;
// see detail/child/mount.hpp for why that matters.
#pragma once

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ward/detail/child/mount.hpp>
#include <ward/error.hpp>
#include <ward/fd.hpp>
#include <ward/namespace.hpp>

namespace ward {

namespace detail {
struct MountPlanner;
}

// Mount propagation (Documentation/filesystems/sharedsubtree.rst).
enum class Propagation : std::uint8_t { keep, private_, slave, shared, unbindable };

// How access times are updated (mount_setattr(2), MOUNT_ATTR_*ATIME).
enum class Atime : std::uint8_t { keep, relatime, noatime, strictatime };

// One mount: what (a bind of a path, or a new filesystem), where (a path,
// relative to the root it is made in), and how (attributes, propagation,
// an id mapping). A value type; build it with the named constructors.
class MountSpec {
 public:
  enum class Kind : std::uint8_t { bind, filesystem };

  // A bind of `source` (a path in the caller's view; a file or directory).
  // Not recursive, like mount --bind and OCI "bind"; see rbind.
  static MountSpec bind(std::string source, std::string target) {
    MountSpec m(Kind::bind, std::move(target));
    m.source_ = std::move(source);
    return m;
  }
  // A recursive bind (mount --rbind, OCI "rbind"): submounts come along.
  static MountSpec rbind(std::string source, std::string target) {
    return bind(std::move(source), std::move(target)).recursive();
  }
  // A new filesystem of `type` (fsopen(2) names: "tmpfs", "proc", ...).
  static MountSpec filesystem(std::string type, std::string target, std::string source = {}) {
    MountSpec m(Kind::filesystem, std::move(target));
    m.type_ = std::move(type);
    m.source_ = std::move(source);
    return m;
  }
  // procfs. With a pid namespace, the child sees its own processes only.
  // Options worth knowing: hidepid=invisible, subset=pid (Linux 5.8).
  static MountSpec proc(std::string target = "/proc") {
    return filesystem("proc", std::move(target), "proc").nosuid().nodev().noexec();
  }
  static MountSpec sysfs(std::string target = "/sys") {
    return filesystem("sysfs", std::move(target), "sysfs").nosuid().nodev().noexec();
  }
  // tmpfs; size, mode, uid, gid, nr_inodes are options ("size", "64m").
  static MountSpec tmpfs(std::string target) {
    return filesystem("tmpfs", std::move(target), "tmpfs").nosuid().nodev();
  }
  // A private devpts instance (newinstance) with /dev/pts/ptmx usable by
  // everyone (ptmxmode=0666), new ptys mode 0620.
  static MountSpec devpts(std::string target = "/dev/pts") {
    return filesystem("devpts", std::move(target), "devpts")
        .nosuid()
        .noexec()
        .flag("newinstance")
        .option("ptmxmode", "0666")
        .option("mode", "0620");
  }
  static MountSpec mqueue(std::string target = "/dev/mqueue") {
    return filesystem("mqueue", std::move(target), "mqueue").nosuid().nodev().noexec();
  }
  static MountSpec cgroup2(std::string target = "/sys/fs/cgroup") {
    return filesystem("cgroup2", std::move(target), "cgroup2").nosuid().nodev().noexec();
  }
  // overlayfs: lowerdirs from top to bottom, upperdir and workdir on the
  // same filesystem (Documentation/filesystems/overlayfs.rst). An overlay
  // with no upperdir is read-only.
  static MountSpec overlay(std::vector<std::string> lowerdirs, std::string upperdir,
                           std::string workdir, std::string target) {
    MountSpec m = filesystem("overlay", std::move(target), "overlay");
    std::string lower;
    for (auto& l : lowerdirs) {
      if (!lower.empty()) lower += ':';
      lower += l;
    }
    m.option("lowerdir", lower);
    if (!upperdir.empty()) m.option("upperdir", std::move(upperdir));
    if (!workdir.empty()) m.option("workdir", std::move(workdir));
    return m;
  }

  // Filesystem options (fsconfig(2) FSCONFIG_SET_STRING / SET_FLAG).
  MountSpec& option(std::string key, std::string value) {
    params_.emplace_back(std::move(key), std::move(value));
    has_value_.push_back(true);
    return *this;
  }
  MountSpec& flag(std::string key) {
    params_.emplace_back(std::move(key), std::string());
    has_value_.push_back(false);
    return *this;
  }
  // Mount attributes, applied atomically (recursively for rbind) before the
  // mount becomes visible. Attributes that the kernel locks on a mount
  // cloned into a user namespace (ro, nosuid, nodev, noexec, atime) stay
  // set: ward only sets, never clears what was not asked for.
  MountSpec& read_only(bool on = true) { return attr(detail::mnt::kAttrRdonly, on); }
  MountSpec& nosuid(bool on = true) { return attr(detail::mnt::kAttrNosuid, on); }
  MountSpec& nodev(bool on = true) { return attr(detail::mnt::kAttrNodev, on); }
  MountSpec& noexec(bool on = true) { return attr(detail::mnt::kAttrNoexec, on); }
  MountSpec& nosymfollow(bool on = true) { return attr(detail::mnt::kAttrNosymfollow, on); }
  MountSpec& nodiratime(bool on = true) { return attr(detail::mnt::kAttrNodiratime, on); }
  MountSpec& atime(Atime a) {
    atime_ = a;
    return *this;
  }
  // Clear an attribute explicitly (OCI "rw", "suid", "dev", "exec").
  MountSpec& clear(std::uint64_t mount_attr_bits) {
    attr_clr_ |= mount_attr_bits;
    attr_set_ &= ~mount_attr_bits;
    return *this;
  }
  MountSpec& recursive(bool on = true) {
    recursive_ = on;
    return *this;
  }
  // For a recursive bind: the attributes above (read_only(), nosuid(),
  // atime() ...) go to the top mount only, its submounts keep theirs, as
  // OCI's and mount(8)'s "ro" on an rbind (default: every mount of the
  // tree). recursive_attributes() then sets what all of them get.
  MountSpec& attributes_top_only(bool on = true) {
    top_only_ = on;
    return *this;
  }
  // Attributes set and cleared (MOUNT_ATTR_* bits) on every mount of a
  // recursive bind, after the top mount's own (OCI "rro", "rnosuid",
  // "rrw" ...: mount_setattr(2) with AT_RECURSIVE, Linux 5.12; the legacy
  // mount API refuses them). For other mounts they are the mount's own.
  MountSpec& recursive_attributes(std::uint64_t set, std::uint64_t clear) {
    rattr_set_ |= set;
    rattr_clr_ |= clear;
    rattr_set_ &= ~clear;
    return *this;
  }
  MountSpec& propagation(Propagation p, bool recursive = false) {
    propagation_ = p;
    prop_recursive_ = recursive;
    return *this;
  }
  // An idmapped mount (mount_setattr(2), MOUNT_ATTR_IDMAP): files owned by
  // uid U on disk appear owned by the id that `userns` maps U to. Needs
  // Linux 5.12 and a filesystem that supports it (ext4, xfs, btrfs, tmpfs
  // from 6.3, overlay from 5.19 ...); the mount step fails with EINVAL
  // naming the destination otherwise.
  MountSpec& idmap(const Namespace& userns) {
    if (userns.kind() != NsKind::user)
      detail::throw_invalid("idmap",
                            "needs a user namespace, not " + std::string(to_string(userns.kind())));
    idmap_ = std::make_shared<UniqueFd>(userns.dup());
    return *this;
  }
  // A source that does not exist makes the mount a no-op instead of an error.
  MountSpec& optional(bool on = true) {
    optional_ = on;
    return *this;
  }

  Kind kind() const noexcept { return kind_; }
  const std::string& source() const noexcept { return source_; }
  const std::string& target() const noexcept { return target_; }
  const std::string& type() const noexcept { return type_; }
  bool is_recursive() const noexcept { return recursive_; }
  std::uint64_t attr_set() const noexcept { return attr_set_; }
  const std::vector<std::pair<std::string, std::string>>& options() const noexcept {
    return params_;
  }

 private:
  friend struct detail::MountPlanner;
  MountSpec(Kind k, std::string target) : kind_(k), target_(std::move(target)) {}
  MountSpec& attr(std::uint64_t bit, bool on) {
    if (on) {
      attr_set_ |= bit;
      attr_clr_ &= ~bit;
    } else {
      attr_set_ &= ~bit;
    }
    return *this;
  }

  Kind kind_;
  std::string source_, target_, type_;
  std::vector<std::pair<std::string, std::string>> params_;
  std::vector<bool> has_value_;
  std::uint64_t attr_set_ = 0, attr_clr_ = 0;
  Atime atime_ = Atime::keep;
  bool recursive_ = false;
  Propagation propagation_ = Propagation::keep;
  bool prop_recursive_ = false;
  bool top_only_ = false;
  std::uint64_t rattr_set_ = 0, rattr_clr_ = 0;
  std::shared_ptr<UniqueFd> idmap_;
  bool optional_ = false;
};

// runc's defaults (its `runc spec`), for Sandbox::masked_paths and
// Sandbox::readonly_paths: kernel interfaces a container must not read or
// change.
inline std::vector<std::string> default_masked_paths() {
  return {"/proc/acpi",
          "/proc/asound",
          "/proc/kcore",
          "/proc/keys",
          "/proc/latency_stats",
          "/proc/timer_list",
          "/proc/timer_stats",
          "/proc/sched_debug",
          "/proc/scsi",
          "/sys/firmware",
          "/sys/devices/virtual/powercap"};
}
inline std::vector<std::string> default_readonly_paths() {
  return {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
}

namespace detail {

// The mount API this kernel offers, probed once. Modern needs openat2
// (5.6) and mount_setattr (5.12); fsopen/open_tree/move_mount (5.2) come
// with them.
inline MountApi probe_mount_api() {
  static const MountApi api = [] {
    long r = ::syscall(mnt::nr_mount_setattr, -1, "", 0, nullptr, 0);
    if (r < 0 && errno == ENOSYS) return MountApi::legacy;
    mnt::OpenHow how{O_PATH | O_CLOEXEC, 0, 0};
    long fd = ::syscall(sys::nr_openat2, AT_FDCWD, "/", &how, sizeof how);
    if (fd < 0) return MountApi::legacy;
    ::close(static_cast<int>(fd));
    return MountApi::modern;
  }();
  return api;
}

// -1: nothing forced; else the MountApi given to ward::force_mount_api.
inline std::atomic<int>& forced_mount_api() noexcept {
  static std::atomic<int> forced{-1};
  return forced;
}

// The API the next plan or MountGuard uses: the one forced with
// ward::force_mount_api, else WARD_MOUNT_API=legacy in the environment
// (read at every call, not cached with the probe, so setting it late still
// counts), else what the kernel offers.
inline MountApi mount_api() {
  int forced = forced_mount_api().load(std::memory_order_relaxed);
  if (forced >= 0) return static_cast<MountApi>(forced);
  const char* env = ::getenv("WARD_MOUNT_API");
  if (env != nullptr && std::string_view(env) == "legacy") return MountApi::legacy;
  return probe_mount_api();
}

// MS_PRIVATE and friends, as mount(2) and mount_setattr(2) take them.
inline std::uint64_t propagation_flag(Propagation p) {
  switch (p) {
    case Propagation::keep: return 0;
    case Propagation::private_: return MS_PRIVATE;
    case Propagation::slave: return MS_SLAVE;
    case Propagation::shared: return MS_SHARED;
    case Propagation::unbindable: return MS_UNBINDABLE;
  }
  return 0;
}

// A destination made relative to its root, lexically: "/a//b/./c/../d" ->
// "a/b/d"; ".." stops at the root (as RESOLVE_IN_ROOT does), so the planner
// and the kernel agree that nothing names a place outside.
inline std::string normalize_in_root(std::string_view path, const std::string& field) {
  if (path.find('\0') != std::string_view::npos) throw_invalid(field, "path contains NUL");
  std::vector<std::string_view> parts;
  std::size_t i = 0;
  while (i <= path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view c = path.substr(i, j - i);
    if (c == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!c.empty() && c != ".") {
      parts.push_back(c);
    }
    i = j + 1;
  }
  std::string out;
  for (auto& c : parts) {
    if (c.size() > 255) throw_invalid(field, "path component longer than 255 bytes");
    if (!out.empty()) out += '/';
    out += c;
  }
  if (out.size() >= 4000) throw_invalid(field, "path too long");
  return out;
}

// Owns the strings of planned steps; MountStep points into it.
struct MountPlanner {
  std::deque<std::string> strings;
  std::deque<std::vector<const char*>> arrays;
  std::vector<MountStep> steps;
  std::vector<std::shared_ptr<UniqueFd>> fds;  // idmap user namespaces
  // A read-only tmpfs or /dev is made writable and turned read-only by a
  // step in `late`, which Sandbox runs after everything else: mount points
  // and device nodes are made in it first (runc: mountPropagate mounts
  // them rw, finalizeRootfs remounts them ro). MountGuard makes one mount
  // and keeps it read-only from the start.
  bool defer_readonly = false;
  std::vector<MountStep> late;

  const char* keep(std::string s) { return strings.emplace_back(std::move(s)).c_str(); }

  // /proc, /sys and /dev are where the kernel's interfaces live: a rootfs
  // that makes any of them (or anything on the way) a symlink is refused.
  static bool sensitive(std::string_view rel) {
    auto first = rel.substr(0, rel.find('/'));
    return first == "proc" || first == "sys" || first == "dev";
  }

  void add(const MountSpec& m, const std::string& field) {
    MountStep s;
    std::string rel = normalize_in_root(m.target_, field);
    s.target = keep(rel);
    s.no_symlinks = sensitive(rel) || m.type_ == "proc" || m.type_ == "sysfs";
    s.optional = m.optional_;
    s.recursive = m.recursive_;
    s.attr_set = m.attr_set_;
    s.attr_clr = m.attr_clr_;
    switch (m.atime_) {
      case Atime::keep: break;
      case Atime::relatime: s.attr_clr |= mnt::kAttrAtimeMask; break;
      case Atime::noatime: s.attr_set |= mnt::kAttrNoatime; break;
      case Atime::strictatime: s.attr_set |= mnt::kAttrStrictatime; break;
    }
    if (m.recursive_ && m.kind_ == MountSpec::Kind::bind) {
      s.attrs_top_only = m.top_only_;
      s.rattr_set = m.rattr_set_;
      s.rattr_clr = m.rattr_clr_;
    } else {  // one mount: the recursive attributes are its own
      s.attr_set = (s.attr_set & ~m.rattr_clr_) | m.rattr_set_;
      s.attr_clr = (s.attr_clr & ~m.rattr_set_) | m.rattr_clr_;
    }
    if (m.kind_ == MountSpec::Kind::bind) {
      s.op = MountStep::op_bind;
      if (m.source_.empty()) throw_invalid(field, "bind mount onto /" + rel + " has no source");
      if (m.source_.find('\0') != std::string::npos) throw_invalid(field, "source contains NUL");
      struct stat st;
      if (::stat(m.source_.c_str(), &st) != 0) {
        if (errno == ENOENT && m.optional_) return;
        throw Error(Step::mount, errno, m.source_, "bind source of /" + rel);
      }
      s.target_file = !S_ISDIR(st.st_mode);
      s.source = keep(m.source_);
    } else {
      s.op = MountStep::op_fs;
      if (m.type_.empty() || m.type_.find('\0') != std::string::npos)
        throw_invalid(field, "filesystem type is empty");
      s.fstype = keep(m.type_);
      if (!m.source_.empty()) s.source = keep(m.source_);
      auto& arr = arrays.emplace_back();
      std::string data;
      for (std::size_t i = 0; i < m.params_.size(); ++i) {
        auto& [k, v] = m.params_[i];
        if (k.empty() || k.find_first_of(std::string_view(",=\0", 3)) != std::string::npos)
          throw_invalid(field, "bad filesystem option name '" + k + "'");
        if (v.find('\0') != std::string::npos) throw_invalid(field, "option " + k + " has NUL");
        arr.push_back(keep(k));
        arr.push_back(m.has_value_[i] ? keep(v) : nullptr);
        if (!data.empty()) data += ',';
        data += m.has_value_[i] ? k + "=" + v : k;
      }
      s.params = arr.data();
      s.n_params = static_cast<int>(m.params_.size());
      s.legacy_data = keep(data);
      bool has_mode = false;
      for (auto& kv : m.params_) has_mode = has_mode || kv.first == "mode";
      s.copy_mode = m.type_ == "tmpfs" && !has_mode;
      if (defer_readonly && (s.attr_set & mnt::kAttrRdonly) != 0 &&
          (m.type_ == "tmpfs" || rel == "dev")) {
        s.attr_set &= ~mnt::kAttrRdonly;
        MountStep ro;
        ro.op = MountStep::op_remount_ro;
        ro.target = s.target;
        ro.no_symlinks = s.no_symlinks;
        late.push_back(ro);
      }
    }
    if (m.propagation_ != Propagation::keep) {
      s.propagation = propagation_flag(m.propagation_);
      s.prop_recursive = m.prop_recursive_;
    } else if (s.op == MountStep::op_bind) {
      // A clone keeps its source's slave state: say "private" unless the
      // caller asked for something else, so that host mounts do not show
      // up inside by accident.
      s.propagation = MS_PRIVATE;
      s.prop_recursive = s.recursive;
    }
    if (m.idmap_) {
      fds.push_back(m.idmap_);
      s.userns_fd = m.idmap_->get();
    }
    steps.push_back(s);
  }

  void add_path_step(MountStep::Op op, std::string_view path, const std::string& field) {
    MountStep s;
    s.op = op;
    std::string rel = normalize_in_root(path, field);
    if (rel.empty())
      throw_invalid(field,
                    "cannot apply to the root itself (Sandbox::recursive_readonly_root() makes "
                    "the root and every mount under it read-only)");
    s.target = keep(rel);
    s.no_symlinks = sensitive(rel);
    steps.push_back(s);
  }

  void add_mknod(std::string_view path, unsigned mode, dev_t rdev, std::string host_source,
                 std::optional<std::pair<std::uint32_t, std::uint32_t>> owner = std::nullopt) {
    MountStep s;
    if (owner) {
      s.chown = true;
      s.uid = owner->first;
      s.gid = owner->second;
    }
    s.op = MountStep::op_mknod;
    std::string rel = normalize_in_root(path, "device");
    s.target = keep(rel);
    s.target_file = true;
    s.no_symlinks = sensitive(rel);
    s.mode = mode;
    s.rdev = rdev;
    if (!host_source.empty()) s.source = keep(std::move(host_source));
    steps.push_back(s);
  }

  void add_directory(std::string_view path) {
    MountStep s;
    s.op = MountStep::op_mkdir;
    std::string rel = normalize_in_root(path, "directory");
    if (rel.empty()) return;  // the root exists
    s.target = keep(rel);
    s.no_symlinks = sensitive(rel);
    steps.push_back(s);
  }

  void add_symlink(std::string_view path, std::string link) {
    MountStep s;
    s.op = MountStep::op_symlink;
    std::string rel = normalize_in_root(path, "symlink");
    s.target = keep(rel);
    s.no_symlinks = sensitive(rel);
    s.source = keep(std::move(link));
    steps.push_back(s);
  }

  // The standard device nodes (OCI runtime-spec config-linux.md "Default
  // Devices") and /dev's symlinks. mknod where allowed; in a user
  // namespace the host's node is bound instead.
  void add_default_devices() {
    struct Node {
      const char* name;
      unsigned major, minor;
    };
    static constexpr Node nodes[] = {{"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
                                     {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
    for (auto& n : nodes)
      add_mknod(std::string("/dev/") + n.name, S_IFCHR | 0666, makedev(n.major, n.minor),
                std::string("/dev/") + n.name);
    add_symlink("/dev/fd", "/proc/self/fd");
    add_symlink("/dev/stdin", "/proc/self/fd/0");
    add_symlink("/dev/stdout", "/proc/self/fd/1");
    add_symlink("/dev/stderr", "/proc/self/fd/2");
    add_symlink("/dev/core", "/proc/kcore");
  }
};

}  // namespace detail

using MountApi = detail::MountApi;

// Makes every Sandbox::plan() and MountGuard::mount() from now on, in this
// process, use `api` (std::nullopt: back to WARD_MOUNT_API and the probe).
// A plan keeps the API it was built with. For tests that must run the
// legacy mount(2) path on a kernel that has the modern one (the attack
// tests in tests/attack/legacy_mount_attack_test.cpp), and for a kernel
// whose modern API misbehaves. Forcing `modern` where the kernel lacks it
// makes mounts fail with ENOSYS.
inline void force_mount_api(std::optional<MountApi> api) noexcept {
  detail::forced_mount_api().store(api ? static_cast<int>(*api) : -1, std::memory_order_relaxed);
}

// A mount in the caller's mount namespace, unmounted (MNT_DETACH) when the
// guard goes out of scope unless released. Move-only.
class MountGuard {
 public:
  MountGuard() = default;

  // Makes `spec` inside `root` (the destination resolves there, symlinks
  // and ".." included, and cannot leave it). Throws ward::Error
  // (Step::mount) naming the destination, the failing call and the errno;
  // nothing is left mounted then.
  static MountGuard mount(const MountSpec& spec, const std::filesystem::path& root = "/") {
    detail::MountPlanner pl;
    pl.add(spec, "mount");
    MountGuard g;
    g.target_ = "/" + std::string(detail::normalize_in_root(spec.target(), "mount"));
    if (pl.steps.empty()) return g;  // optional, source missing
    int rfd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rfd < 0) throw Error(Step::mount, errno, root.string(), "mount root");
    UniqueFd rootfd(rfd);
    detail::MountFail f;
    long mfd = -1;
    long r = detail::child::mount_step(rootfd.get(), pl.steps[0], detail::mount_api(), f, &mfd);
    if (r < 0) throw Error(Step::mount, static_cast<int>(-r), root.string(), f.text);
    // Kept: off 0-2 (fd.hpp off_stdio); the legacy API reopens the mount
    // once the temporaries are closed, so it could be on 2.
    g.fd_ = UniqueFd(detail::off_stdio(static_cast<int>(mfd)));
    return g;
  }

  MountGuard(MountGuard&&) noexcept = default;
  MountGuard& operator=(MountGuard&& o) noexcept {
    if (this != &o) {
      detach_quietly();
      fd_ = std::move(o.fd_);
      target_ = std::move(o.target_);
    }
    return *this;
  }
  ~MountGuard() { detach_quietly(); }

  // Unmounts now (lazily: MNT_DETACH); throws on failure.
  void unmount() {
    if (!fd_) return;
    std::string p = "/proc/self/fd/" + std::to_string(fd_.get());
    if (::umount2(p.c_str(), MNT_DETACH) != 0 && errno != EINVAL)
      throw Error(Step::mount, errno, target_, "umount2");
    fd_.reset();
  }
  // Keeps the mount; the guard forgets it.
  void release() noexcept { fd_.reset(); }

  explicit operator bool() const noexcept { return static_cast<bool>(fd_); }
  // The mount's root, as an O_PATH descriptor (borrowed).
  int fd() const noexcept { return fd_.get(); }
  // The destination, relative to the root it was made in.
  const std::string& target() const noexcept { return target_; }

 private:
  void detach_quietly() noexcept {
    if (!fd_) return;
    // The magic link names the mount itself, even if something has since
    // been mounted over the destination path.
    std::string p = "/proc/self/fd/" + std::to_string(fd_.get());
    ::umount2(p.c_str(), MNT_DETACH);
    fd_.reset();
  }
  UniqueFd fd_;
  std::string target_;
};

}  // namespace ward
