// SPDX-License-Identifier: Apache-2.0
// The mount executor: raw syscalls that carry out planned mount steps.
//
// It runs in the sandbox child (after clone, before exec: no allocation, no
// errno, no locks, see detail/child/spawn.hpp) and, unchanged, in the caller's
// process for MountGuard. Everything here works on descriptors:
//
//  * A destination inside a root is opened with openat2(2) and
//    RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, so symlinks (absolute or
//    "../../..") resolve as if the root were "/" and never leave it. Missing
//    components are created one at a time with mkdirat/mknodat on the
//    descriptor of their (contained) parent, then reopened the same way.
//  * The mount is built detached (open_tree(2) OPEN_TREE_CLONE for binds,
//    fsopen/fsconfig/fsmount for filesystems), gets its attributes with
//    mount_setattr(2) while no one can see it, and is attached with
//    move_mount(2) onto the destination *descriptor*. A symlink swapped in
//    after the check cannot redirect it: the descriptor is what was checked.
//    (runc's CVE-2021-30465 was a path re-resolved between check and use.)
//  * Kernels without that API (before 5.12: mount_setattr; before 5.6:
//    openat2) take the legacy path: mount(2) onto /proc/self/fd/N of the same
//    descriptor, attribute remounts that keep the flags the kernel locked,
//    and a component walk with O_NOFOLLOW that refuses every symlink instead
//    of resolving it (stricter, never looser).
#pragma once

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include <cstdint>

#include <ward/detail/child/syscall.hpp>
#include <ward/error.hpp>

namespace ward::detail {

// Kernel ABI values, spelled out so that ward builds against any libc
// headers (glibc before 2.36 has none of these; include/uapi/linux/mount.h,
// include/uapi/linux/openat2.h).
namespace mnt {
inline constexpr long nr_open_tree = 428, nr_move_mount = 429, nr_fsopen = 430, nr_fsconfig = 431,
                      nr_fsmount = 432, nr_mount_setattr = 442;
inline constexpr unsigned kOpenTreeClone = 1;
inline constexpr unsigned kAtEmptyPath = 0x1000, kAtRecursive = 0x8000, kAtSymlinkNofollow = 0x100;
inline constexpr unsigned kMoveFEmptyPath = 0x4, kMoveTEmptyPath = 0x40;
inline constexpr unsigned kFsopenCloexec = 1, kFsmountCloexec = 1;
inline constexpr unsigned kFsconfigSetFlag = 0, kFsconfigSetString = 1, kFsconfigCmdCreate = 6;
inline constexpr std::uint64_t kAttrRdonly = 0x1, kAttrNosuid = 0x2, kAttrNodev = 0x4,
                               kAttrNoexec = 0x8, kAttrAtimeMask = 0x70, kAttrRelatime = 0,
                               kAttrNoatime = 0x10, kAttrStrictatime = 0x20, kAttrNodiratime = 0x80,
                               kAttrIdmap = 0x100000, kAttrNosymfollow = 0x200000;
// What fsmount(2) accepts as attr_flags (fs/namespace.c FSMOUNT_VALID_FLAGS).
inline constexpr std::uint64_t kFsmountAttrs = kAttrRdonly | kAttrNosuid | kAttrNodev |
                                               kAttrNoexec | kAttrAtimeMask | kAttrNodiratime |
                                               kAttrNosymfollow;
inline constexpr std::uint64_t kResolveNoXdev = 1, kResolveNoMagiclinks = 2, kResolveNoSymlinks = 4,
                               kResolveInRoot = 0x10;

struct MountAttr {  // struct mount_attr, MOUNT_ATTR_SIZE_VER0
  std::uint64_t attr_set, attr_clr, propagation, userns_fd;
};
struct OpenHow {  // struct open_how
  std::uint64_t flags, mode, resolve;
};
// statx(2) (Linux 4.11): struct statx, 256 bytes (include/uapi/linux/stat.h),
// with the timestamps and the fields this code does not read left opaque.
// STATX_ATTR_MOUNT_ROOT (Linux 5.8) is set in stx_attributes_mask by the
// kernels that report it.
inline constexpr unsigned kStatxMntId = 0x1000, kStatxMntIdUnique = 0x4000;
inline constexpr std::uint64_t kStatxAttrMountRoot = 0x2000;
struct Statx {
  std::uint32_t mask, blksize;
  std::uint64_t attributes;
  std::uint32_t nlink, uid, gid;
  std::uint16_t mode, spare0;
  std::uint64_t ino, size, blocks, attributes_mask;
  std::uint8_t times[64];  // stx_atime, stx_btime, stx_ctime, stx_mtime
  std::uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
  std::uint64_t mnt_id;
  std::uint64_t spare[13];
};
static_assert(sizeof(Statx) == 256, "struct statx is 256 bytes");
}  // namespace mnt

// Which mount API the executor uses. Probed once by the parent
// (mount_api_level in ward/mount.hpp) and carried in the plan, so the child
// never probes.
enum class MountApi : std::uint8_t { legacy = 0, modern = 1 };

// One planned step, a POD the child reads. Paths of targets are relative to
// the root (lexically normalized by the planner: no "." or ".." components,
// no leading or doubled '/'; "" is the root itself).
struct MountStep {
  enum Op : std::uint8_t {
    op_bind,        // clone `source` (a path in the child's view, outside the root)
    op_fs,          // a new filesystem `fstype` with `params`
    op_mknod,       // a device node; on EPERM, bind `source` (the host's node)
    op_symlink,     // `target` -> `source`
    op_mask,        // hide `target`: /dev/null over a file, empty ro tmpfs over a dir
    op_readonly,    // bind `target` onto itself read-only, recursively
    op_mkdir,       // `mkdir -p target` inside the root (mode 0755)
    op_remount_ro,  // make the mount whose root is `target` read-only (that mount only)
  };
  Op op = op_bind;
  bool recursive = false;       // rbind; attributes applied with AT_RECURSIVE
  bool target_file = false;     // create the destination as a file, not a directory
  bool no_symlinks = false;     // refuse any symlink on the way (/proc, /sys, /dev)
  bool source_in_root = false;  // op_bind: `source` is inside the root too
  bool optional = false;        // a missing source or target skips the step
  bool prop_recursive = false;
  const char* target = "";
  const char* source = nullptr;
  const char* fstype = nullptr;
  const char* const* params = nullptr;  // key, value (nullptr: a flag), key, value, ...
  int n_params = 0;
  const char* legacy_data = nullptr;  // the same params as mount(2) data, "k=v,k"
  std::uint64_t attr_set = 0, attr_clr = 0;
  // With `recursive`: attr_set/attr_clr go to the top mount only (OCI "ro"
  // on an rbind), rattr_set/rattr_clr to every mount of the tree (OCI
  // "rro", mount_setattr(2) AT_RECURSIVE), after the top's, as runc does.
  bool attrs_top_only = false;
  std::uint64_t rattr_set = 0, rattr_clr = 0;
  // op_fs (a tmpfs without a "mode" option): a destination that exists
  // gives the tmpfs its mode (runc's createOpenMountpoint).
  bool copy_mode = false;
  std::uint64_t propagation = 0;  // MS_PRIVATE/MS_SLAVE/MS_SHARED/MS_UNBINDABLE, 0 = leave
  int userns_fd = -1;             // MOUNT_ATTR_IDMAP with this user namespace
  unsigned mode = 0;              // op_mknod: S_IFCHR|0666 and the like
  std::uint64_t rdev = 0;
  bool chown = false;  // op_mknod: a new node gets owner uid:gid (else 0:0, ours)
  std::uint32_t uid = 0, gid = 0;
  // Child code makes one too (child_terminal): an implicit constructor is an
  // out-of-line, instrumented function at -O0 (child_code.disasm).
  WARD_CHILD_INLINE MountStep() noexcept {}
};

// What failed, for the error report: a fixed buffer, no allocation.
struct MountFail {
  const char* what = nullptr;  // "openat2", "move_mount", ...
  long err = 0;
  char text[240];
  // Not `text[240] = {}`: that is a memset call at -O0; and an implicit
  // constructor is an out-of-line, instrumented function (child_code.disasm).
  WARD_CHILD_INLINE MountFail() noexcept {
    for (char& ch : text) ch = '\0';
  }
};

namespace child {

// ------------------------------------------------------------ tiny helpers

WARD_CHILD_FN inline void mf_append(MountFail& f, unsigned long& n, const char* s) noexcept {
  if (s == nullptr) return;
  for (; *s != '\0' && n + 1 < sizeof f.text; ++s) f.text[n++] = *s;
  f.text[n] = '\0';
}

// "what /target: kernel log" in f.text; returns err for `return fail(...)`.
WARD_CHILD_FN inline long mount_fail(MountFail& f, long err, const char* what, const char* target,
                                     const char* extra = nullptr) noexcept {
  unsigned long n = 0;
  f.what = what;
  f.err = err;
  mf_append(f, n, what);
  mf_append(f, n, " /");
  mf_append(f, n, target);
  if (extra != nullptr && extra[0] != '\0') {
    mf_append(f, n, ": ");
    mf_append(f, n, extra);
  }
  return err;
}

WARD_CHILD_FN inline void fd_path(char (&buf)[32], long fd) noexcept {
  const char prefix[] = "/proc/self/fd/";
  unsigned long n = 0;
  for (; prefix[n] != '\0'; ++n) buf[n] = prefix[n];
  sys::decimal(static_cast<unsigned long>(fd), buf + n);
}

// "0710": a mode as fsconfig(2) and mount(2) data take it (octal).
WARD_CHILD_FN inline void mode_text(char (&buf)[8], unsigned mode) noexcept {
  buf[0] = '0';
  for (int i = 0; i < 4; ++i) buf[1 + i] = static_cast<char>('0' + ((mode >> (3 * (3 - i))) & 7));
  buf[5] = '\0';
}

WARD_CHILD_FN inline void close_fd(long fd) noexcept {
  if (fd >= 0) sys::call(SYS_close, fd);
}

// The fsopen log ("e overlay: missing 'lowerdir'") says more than EINVAL.
WARD_CHILD_FN inline void read_fs_log(long fsfd, char (&buf)[160]) noexcept {
  buf[0] = '\0';
  long n = sys::call(SYS_read, fsfd, buf, sizeof buf - 1);
  if (n <= 0) return;
  buf[n] = '\0';
  for (long i = 0; i < n; ++i)
    if (buf[i] == '\n') buf[i] = ' ';
}

// ------------------------------------------------------------ path resolution

// The legacy walk (no openat2): one component at a time, each opened
// relative to the descriptor of its verified parent with O_NOFOLLOW and
// fstat-checked, so a symlink anywhere on the way is refused (ELOOP) rather
// than resolved, and "." / ".." (which the planner never makes) are refused
// too: nothing a racing process does can lead the walk out of `root`.
// Missing components are made with mkdirat (mknodat for a file) in that
// parent descriptor and then opened the same way; EEXIST (someone else made
// something there) just opens what is there now, which is refused if it is
// a symlink. Never a path string resolved from the root, never a symlink
// read and followed (the code that did so let a component flipped between
// missing and "../outside" escape the root: the tests
// "legacy mount API: ..." in tests/attack/legacy_mount_attack_test.cpp).

// One component `name` in directory `dir`, not followed: -ELOOP for a
// symlink, -ENOTDIR when `dir_only` and it is something else.
WARD_CHILD_FN inline long legacy_open_component(long dir, const char* name,
                                                bool dir_only) noexcept {
  long fd = sys::call(SYS_openat, dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return fd;
  struct stat st;
  long r = sys::call(SYS_fstat, fd, &st);
  if (r == 0 && S_ISLNK(st.st_mode)) r = -ELOOP;  // O_PATH|O_NOFOLLOW opened the link itself
  if (r == 0 && dir_only && !S_ISDIR(st.st_mode)) r = -ENOTDIR;
  if (r < 0) {
    close_fd(fd);
    return r;
  }
  return fd;
}

// Opens `path` (relative) inside `root` as O_PATH, creating what is missing
// when `create` (directories, the last component a file when
// `target_file`). `last_dir`: the last component must be a directory.
WARD_CHILD_FN inline long legacy_walk(int root, const char* path, bool create, bool target_file,
                                      bool last_dir) noexcept {
  long cur = sys::call(SYS_openat, root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (cur < 0) return cur;
  char comp[256];
  const char* p = path;
  while (*p != '\0') {
    unsigned long n = 0;
    while (p[n] != '\0' && p[n] != '/') ++n;
    long err = 0;
    if (n >= sizeof comp) err = -ENAMETOOLONG;
    if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) err = -EINVAL;
    if (err != 0) {
      close_fd(cur);
      return err;
    }
    for (unsigned long i = 0; i < n; ++i) comp[i] = p[i];
    comp[n] = '\0';
    p += n;
    if (*p == '/') ++p;
    const bool last = *p == '\0';
    long next = legacy_open_component(cur, comp, !last || last_dir);
    // A racing process may remove what we made before we open it: make it
    // again, a bounded number of times.
    for (int tries = 0; next == -ENOENT && create; ++tries) {
      if (tries == 40) {
        next = -EAGAIN;
        break;
      }
      long r = (last && target_file) ? sys::call(SYS_mknodat, cur, comp, S_IFREG | 0644, 0)
                                     : sys::call(SYS_mkdirat, cur, comp, 0755);
      if (r < 0 && r != -EEXIST) {
        next = r;
        break;
      }
      next = legacy_open_component(cur, comp, !last || last_dir);
    }
    close_fd(cur);
    if (next < 0) return next;
    cur = next;
  }
  return cur;
}

// Opens `path` (relative, normalized) inside `root`, as O_PATH (`flags`
// may add O_DIRECTORY). Modern: openat2 with RESOLVE_IN_ROOT (symlinks
// resolve within root). Legacy: legacy_walk, which refuses symlinks
// outright (ELOOP).
WARD_CHILD_FN inline long open_in_root(int root, const char* path, std::uint64_t flags,
                                       bool no_symlinks, MountApi api) noexcept {
  if (api == MountApi::legacy)
    return legacy_walk(root, path, false, false, (flags & O_DIRECTORY) != 0);
  if (path[0] == '\0') path = ".";
  mnt::OpenHow how{flags | O_CLOEXEC, 0,
                   mnt::kResolveInRoot | mnt::kResolveNoMagiclinks |
                       (no_symlinks ? mnt::kResolveNoSymlinks : 0)};
  long r;
  do r = sys::call(sys::nr_openat2, root, path, &how, sizeof how);
  while (r == -EAGAIN || r == -EINTR);  // a concurrent rename: try again
  return r;
}

// Opens the destination of `s` inside root as O_PATH, creating missing
// components (directories, and the last one as a file when target_file).
// Legacy: legacy_walk. Modern: each component is created through the
// descriptor of its resolved parent and then reopened from the root, so
// whatever a racing process does, the result lies inside the root. A
// component that exists but does not resolve is a dangling symlink: its
// text replaces it in the path (an absolute one counts from the root) and
// the walk starts over, at most 40 times (ELOOP), like the kernel's own
// limit; the reopen with RESOLVE_IN_ROOT keeps even its ".." inside. This
// is `mkdir -p` with the rootfs as "/".
WARD_CHILD_FN inline long open_target(int root, const MountStep& s, bool create, MountApi api,
                                      MountFail& f) noexcept {
  if (api == MountApi::legacy) {  // never follows a symlink, so none of the below
    long fd = legacy_walk(root, s.target, create, s.target_file, false);
    return fd < 0 ? mount_fail(f, fd, "open destination", s.target) : fd;
  }
  long fd = open_in_root(root, s.target, O_PATH, s.no_symlinks, api);
  if (fd != -ENOENT || !create) {
    if (fd < 0) return mount_fail(f, fd, "open destination", s.target);
    return fd;
  }
  char buf[4096];
  unsigned long len = sys::cstrlen(s.target);
  if (len >= sizeof buf) return mount_fail(f, -ENAMETOOLONG, "destination", s.target);
  for (unsigned long i = 0; i <= len; ++i) buf[i] = s.target[i];
  for (int restarts = 0;; ++restarts) {
    if (restarts > 40) return mount_fail(f, -ELOOP, "symlinks in destination", s.target);
    long parent = open_in_root(root, "", O_PATH | O_DIRECTORY, false, api);
    if (parent < 0) return mount_fail(f, parent, "open root for", s.target);
    unsigned long start = 0;
    bool restart = false;
    while (start < len) {
      unsigned long end = start;
      while (end < len && buf[end] != '/') ++end;
      bool last = end == len;
      buf[end] = '\0';
      long cur = open_in_root(root, buf, O_PATH, s.no_symlinks, api);
      if (cur == -ENOENT) {
        long r = (last && s.target_file)
                     ? sys::call(SYS_mknodat, parent, buf + start, S_IFREG | 0644, 0)
                     : sys::call(SYS_mkdirat, parent, buf + start, 0755);
        if (r == -EEXIST) {
          char link[4096];
          long n = sys::call(SYS_readlinkat, parent, buf + start, link, sizeof link - 1);
          if (n == -EINVAL) {  // not a symlink after all: a racing rename; look again
            close_fd(parent);
            if (!last) buf[end] = '/';
            restart = true;
            break;
          }
          if (n < 0) {
            close_fd(parent);
            return mount_fail(f, n, "readlink", s.target);
          }
          link[n] = '\0';
          // New path: (link is absolute ? "" : the parent's prefix) + link + rest.
          char next[4096];
          unsigned long k = 0;
          if (link[0] != '/')
            for (unsigned long i = 0; i < start; ++i) next[k++] = buf[i];
          for (long i = 0; i < n && k + 1 < sizeof next; ++i) next[k++] = link[i];
          if (!last) {
            if (k + 1 < sizeof next) next[k++] = '/';
            for (unsigned long i = end + 1; i < len && k + 1 < sizeof next; ++i) next[k++] = buf[i];
          }
          if (k + 1 >= sizeof next) {
            close_fd(parent);
            return mount_fail(f, -ENAMETOOLONG, "destination", s.target);
          }
          // Strip leading '/': the walk is relative to the root.
          unsigned long skip = 0;
          while (skip < k && next[skip] == '/') ++skip;
          len = k - skip;
          for (unsigned long i = 0; i < len; ++i) buf[i] = next[skip + i];
          buf[len] = '\0';
          close_fd(parent);
          restart = true;
          break;
        }
        if (r < 0) {
          close_fd(parent);
          return mount_fail(f, r, last && s.target_file ? "create file" : "mkdir", s.target);
        }
        cur = open_in_root(root, buf, O_PATH, s.no_symlinks, api);
      }
      close_fd(parent);
      if (cur < 0) return mount_fail(f, cur, "open destination", s.target);
      if (!last) buf[end] = '/';
      parent = cur;
      start = end + 1;
    }
    if (restart) continue;
    return parent;
  }
}

// ------------------------------------------------------------ mounting

// Legacy mount(2) onto a descriptor: /proc/self/fd/N names exactly the
// checked directory, the way runc does it since CVE-2021-30465.
WARD_CHILD_FN inline long legacy_mount(const char* src, long target_fd, const char* type,
                                       unsigned long flags, const char* data) noexcept {
  char p[32];
  fd_path(p, target_fd);
  return sys::call(SYS_mount, src, p, type, flags, data);
}

WARD_CHILD_FN inline unsigned long legacy_attr_flags(std::uint64_t attr) noexcept {
  unsigned long f = 0;
  if (attr & mnt::kAttrRdonly) f |= MS_RDONLY;
  if (attr & mnt::kAttrNosuid) f |= MS_NOSUID;
  if (attr & mnt::kAttrNodev) f |= MS_NODEV;
  if (attr & mnt::kAttrNoexec) f |= MS_NOEXEC;
  if (attr & mnt::kAttrNodiratime) f |= MS_NODIRATIME;
  if ((attr & mnt::kAttrAtimeMask) == mnt::kAttrNoatime) f |= MS_NOATIME;
  if ((attr & mnt::kAttrAtimeMask) == mnt::kAttrStrictatime) f |= MS_STRICTATIME;
  return f;
}

// A bind remount must repeat the flags the kernel locked on the mount (in a
// user namespace, clearing nosuid/nodev/ro/noexec/atime inherited from a
// more privileged mount fails with EPERM): read them with fstatfs.
WARD_CHILD_FN inline unsigned long locked_flags(long fd) noexcept {
  struct statfs sf;
  if (sys::call(SYS_fstatfs, fd, &sf) != 0) return 0;
  unsigned long f = 0;
  if (sf.f_flags & ST_RDONLY) f |= MS_RDONLY;
  if (sf.f_flags & ST_NOSUID) f |= MS_NOSUID;
  if (sf.f_flags & ST_NODEV) f |= MS_NODEV;
  if (sf.f_flags & ST_NOEXEC) f |= MS_NOEXEC;
  if (sf.f_flags & ST_NOATIME) f |= MS_NOATIME;
  if (sf.f_flags & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (sf.f_flags & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

// Applies attributes and propagation to the new mount, `fd` (legacy path).
WARD_CHILD_FN inline long legacy_finish(long fd, const MountStep& s, MountFail& f) noexcept {
  long r = 0;
  if (s.attr_set != 0) {
    unsigned long fl = (locked_flags(fd) & ~static_cast<unsigned long>(MS_RELATIME)) |
                       legacy_attr_flags(s.attr_set);
    r = legacy_mount(nullptr, fd, nullptr, MS_BIND | MS_REMOUNT | fl, nullptr);
    if (r < 0) return mount_fail(f, r, "remount (flags)", s.target);
    // A non-recursive remount leaves submounts of an rbind as they were:
    // the legacy API has no AT_RECURSIVE (documented in ward/mount.hpp).
  }
  if (s.propagation != 0) {
    r = legacy_mount(nullptr, fd, nullptr, s.propagation | (s.prop_recursive ? MS_REC : 0),
                     nullptr);
    if (r < 0) return mount_fail(f, r, "propagation", s.target);
  }
  return 0;
}

// After mount(2) onto /proc/self/fd/N of `target` (whose inode was
// `before`): opens the new mount, which a lookup of the destination finds
// on top of it. The magic link itself would name the directory under the
// mount, so the destination is walked again (legacy_walk: inside the root,
// no symlinks) and must no longer be the inode mounted over; else someone
// replaced it meanwhile and the flags would go to the wrong place.
WARD_CHILD_FN inline long legacy_reopen(int root, const MountStep& s, const struct stat& before,
                                        MountFail& f) noexcept {
  long fd = legacy_walk(root, s.target, false, false, false);
  if (fd < 0) return mount_fail(f, fd, "reopen", s.target);
  struct stat st;
  long r = sys::call(SYS_fstat, fd, &st);
  // A bind onto itself (op_readonly) shows the same inode: nothing to compare.
  if (r == 0 && s.op != MountStep::op_readonly && st.st_dev == before.st_dev &&
      st.st_ino == before.st_ino)
    r = -ESTALE;
  if (r < 0) {
    close_fd(fd);
    return mount_fail(f, r, "reopen", s.target, "destination replaced during mount");
  }
  return fd;
}

// Opens the container's /dev/null for masking and checks that it is the
// null device (character 1:3): a rootfs that put a symlink or another node
// there must not get it bound over masked paths (CVE-2025-31133).
WARD_CHILD_FN inline long open_dev_null(int root, MountApi api, MountFail& f) noexcept {
  long fd = open_in_root(root, "dev/null", O_PATH, true, api);
  if (fd < 0) return mount_fail(f, fd, "masking needs", "dev/null");
  struct stat st;
  long r = sys::call(SYS_fstat, fd, &st);
  if (r == 0 &&
      (!S_ISCHR(st.st_mode) || sys::dev_major(st.st_rdev) != 1 || sys::dev_minor(st.st_rdev) != 3))
    r = -EPERM;
  if (r < 0) {
    close_fd(fd);
    return mount_fail(f, r, "masking needs", "dev/null", "not the null device (char 1:3)");
  }
  return fd;
}

// Applies step `s`'s attributes to the detached mount `mfd`: `set` (with
// what the op implies) and s.attr_clr to the top (`rec`: AT_RECURSIVE or
// 0) and the idmap, unless `top` is false (fsmount(2) took them), then
// s.rattr_set/s.rattr_clr to the whole tree. Shared by make_detached and
// the parent's clone of a host bind source (detail::host_binds in
// spawn.hpp), so that both apply the same attributes. Does not close `mfd`.
WARD_CHILD_FN inline long detached_attrs(long mfd, const MountStep& s, std::uint64_t set,
                                         unsigned rec, bool top, MountFail& f) noexcept {
  if (top && (set != 0 || s.attr_clr != 0 || s.userns_fd >= 0)) {
    mnt::MountAttr a{set, s.attr_clr, 0, 0};
    if ((set & mnt::kAttrAtimeMask) != 0 || (s.attr_clr & mnt::kAttrAtimeMask) != 0)
      a.attr_clr |= mnt::kAttrAtimeMask;  // changing atime needs the whole field cleared
    if (s.userns_fd >= 0) {
      a.attr_set |= mnt::kAttrIdmap;
      a.userns_fd = static_cast<std::uint64_t>(s.userns_fd);
    }
    long r = sys::call(mnt::nr_mount_setattr, mfd, "", mnt::kAtEmptyPath | rec, &a, sizeof a);
    if (r < 0)
      return mount_fail(f, r, s.userns_fd >= 0 ? "mount_setattr (idmap)" : "mount_setattr",
                        s.target);
  }
  if (s.rattr_set != 0 || s.rattr_clr != 0) {
    mnt::MountAttr a{s.rattr_set, s.rattr_clr, 0, 0};
    if ((s.rattr_set & mnt::kAttrAtimeMask) != 0 || (s.rattr_clr & mnt::kAttrAtimeMask) != 0)
      a.attr_clr |= mnt::kAttrAtimeMask;
    long r = sys::call(mnt::nr_mount_setattr, mfd, "", mnt::kAtEmptyPath | mnt::kAtRecursive, &a,
                       sizeof a);
    if (r < 0) return mount_fail(f, r, "mount_setattr (recursive)", s.target);
  }
  return 0;
}

// Builds the detached mount for step `s` (modern API): a clone for binds, a
// fresh superblock for filesystems; attributes applied before anyone sees it.
// Whether step `s` binds a path of the caller's view (a host path), which
// the child opens while it still has the caller's ids: a user namespace's
// root is some other host uid, and may not even pass through the
// directories that lead there. Where even those ids do not reach it (crun's
// mount-userns-bind-mount test: a 0000 parent owned by root, which only
// CAP_DAC_OVERRIDE over the host's files passes), the parent's clone of it
// is attached instead (detail::host_binds, child_rootfs). runc and crun
// open such sources in their parent for the same reason.
WARD_CHILD_FN inline bool host_bind_source(const MountStep& s) noexcept {
  return (s.op == MountStep::op_bind || s.op == MountStep::op_mknod) && !s.source_in_root &&
         s.source != nullptr;
}

WARD_CHILD_FN inline long make_detached(int root, const MountStep& s, long target_fd,
                                        unsigned copied_mode, MountFail& f,
                                        long pre_src = -1) noexcept {
  long mfd = -1;
  const unsigned clone_rec = s.recursive ? mnt::kAtRecursive : 0;
  const unsigned rec = s.recursive && !s.attrs_top_only ? mnt::kAtRecursive : 0;
  std::uint64_t set = s.attr_set | (s.op == MountStep::op_readonly ? mnt::kAttrRdonly : 0) |
                      (s.op == MountStep::op_mask ? mnt::kAttrRdonly : 0);
  bool attrs_done = false;  // a new filesystem's mount got them from fsmount(2)
  if (s.op == MountStep::op_bind || s.op == MountStep::op_mknod) {
    long src = pre_src >= 0       ? pre_src
               : s.source_in_root ? open_in_root(root, s.source, O_PATH, false, MountApi::modern)
                                  : sys::call(SYS_openat, AT_FDCWD, s.source, O_PATH | O_CLOEXEC);
    if (src < 0) return mount_fail(f, src, "open bind source", s.target, s.source);
    mfd = sys::call(mnt::nr_open_tree, src, "",
                    mnt::kOpenTreeClone | O_CLOEXEC | mnt::kAtEmptyPath | clone_rec);
    if (src != pre_src) close_fd(src);
    if (mfd < 0) return mount_fail(f, mfd, "open_tree (bind)", s.target, s.source);
  } else if (s.op == MountStep::op_readonly) {
    mfd = sys::call(mnt::nr_open_tree, target_fd, "",
                    mnt::kOpenTreeClone | O_CLOEXEC | mnt::kAtEmptyPath | mnt::kAtRecursive);
    if (mfd < 0) return mount_fail(f, mfd, "open_tree (read-only path)", s.target);
  } else {  // op_fs, or the tmpfs of op_mask
    const char* type = s.op == MountStep::op_mask ? "tmpfs" : s.fstype;
    long fsfd = sys::call(mnt::nr_fsopen, type, mnt::kFsopenCloexec);
    if (fsfd < 0) return mount_fail(f, fsfd, "fsopen", s.target, type);
    char log[160];
    long r = 0;
    if (s.op == MountStep::op_fs && s.source != nullptr)
      r = sys::call(mnt::nr_fsconfig, fsfd, mnt::kFsconfigSetString, "source", s.source, 0);
    for (int i = 0; r >= 0 && i < s.n_params; ++i) {
      const char* k = s.params[2 * i];
      const char* v = s.params[2 * i + 1];
      r = v == nullptr ? sys::call(mnt::nr_fsconfig, fsfd, mnt::kFsconfigSetFlag, k, nullptr, 0)
                       : sys::call(mnt::nr_fsconfig, fsfd, mnt::kFsconfigSetString, k, v, 0);
    }
    if (r >= 0 && copied_mode != 0) {
      char mode[8];
      mode_text(mode, copied_mode);
      r = sys::call(mnt::nr_fsconfig, fsfd, mnt::kFsconfigSetString, "mode", mode, 0);
    }
    if (r >= 0) r = sys::call(mnt::nr_fsconfig, fsfd, mnt::kFsconfigCmdCreate, nullptr, nullptr, 0);
    if (r < 0) {
      read_fs_log(fsfd, log);
      close_fd(fsfd);
      return mount_fail(f, r, "fsconfig", s.target, log[0] ? log : type);
    }
    // The attributes go to fsmount(2) itself, as mount(2) takes its flags:
    // one call less, and the new mount never exists without them. (A new
    // mount has no other flags, so there is nothing to clear; an idmap
    // still needs mount_setattr.)
    attrs_done = s.userns_fd < 0 && (set & ~mnt::kFsmountAttrs) == 0;
    mfd = sys::call(mnt::nr_fsmount, fsfd, mnt::kFsmountCloexec, attrs_done ? set : 0);
    if (mfd < 0) read_fs_log(fsfd, log);
    close_fd(fsfd);
    if (mfd < 0) return mount_fail(f, mfd, "fsmount", s.target, log[0] ? log : type);
  }
  long r = detached_attrs(mfd, s, set, rec, !attrs_done, f);
  if (r < 0) {
    close_fd(mfd);
    return r;
  }
  return mfd;
}

// Opens the directory that holds s.target (inside root, created first if
// `create`); *name_at receives the offset of the last component in
// s.target, which the caller then makes or binds relative to it.
WARD_CHILD_FN inline long open_parent(int root, const MountStep& s, bool create, MountApi api,
                                      MountFail& f, unsigned long* name_at) noexcept {
  unsigned long len = sys::cstrlen(s.target), slash = len;
  while (slash > 0 && s.target[slash - 1] != '/') --slash;
  char dir[4096];
  if (len >= sizeof dir) return mount_fail(f, -ENAMETOOLONG, "destination", s.target);
  for (unsigned long i = 0; i + 1 < slash; ++i) dir[i] = s.target[i];
  dir[slash > 0 ? slash - 1 : 0] = '\0';
  MountStep ds;  // a copy: sys::copy_bytes, never memcpy
  sys::copy_bytes(&ds, &s, sizeof ds);
  ds.target = dir;
  ds.target_file = false;
  *name_at = slash;
  return open_target(root, ds, create, api, f);
}

// A node just made in `pfd` gets the owner the step asks for.
WARD_CHILD_FN inline long chown_node(long pfd, const MountStep& s, unsigned long slash,
                                     MountFail& f) noexcept {
  if (!s.chown) return 0;
  long r = sys::call(SYS_fchownat, pfd, s.target + slash, s.uid, s.gid, AT_SYMLINK_NOFOLLOW);
  return r < 0 ? mount_fail(f, r, "chown device", s.target) : 0;
}

// op_mknod when nothing is there yet (a fresh /dev, the usual case): one
// mknodat in the contained parent, instead of creating an empty file,
// checking it and replacing it. Where mknod is refused (a user namespace)
// and the step has a host node to bind, it makes the empty file to bind
// over and returns 0 with *bind_fd open on it. -EEXIST: something is
// there already, the caller's general path decides. `refused`: the parent
// made the node for us (pre_mnt), so we are in a user namespace, where
// mknod(2) of a device is refused: not tried.
WARD_CHILD_FN inline long make_fresh_node(int root, const MountStep& s, MountApi api, MountFail& f,
                                          long* bind_fd, bool can_bind, bool refused) noexcept {
  unsigned long slash = 0;
  long pfd = open_parent(root, s, true, api, f, &slash);
  if (pfd < 0) return pfd;
  long r = refused ? -EPERM : sys::call(SYS_mknodat, pfd, s.target + slash, s.mode, s.rdev);
  if (r == 0) {
    r = chown_node(pfd, s, slash, f);
    close_fd(pfd);
    return r;
  }
  if (r == -EPERM && can_bind) {
    r = sys::call(SYS_mknodat, pfd, s.target + slash, S_IFREG | 0644, 0);
    if (r == 0) {
      close_fd(pfd);
      *bind_fd = open_target(root, s, false, api, f);
      return *bind_fd < 0 ? *bind_fd : 0;
    }
  }
  close_fd(pfd);
  if (r < 0 && r != -EEXIST) return mount_fail(f, r, "mknod", s.target);
  return r;
}

// Carries out one step inside `root` (a directory descriptor). Returns 0,
// or a negative errno with `f` describing it. `mnt_out`, when not null,
// receives an O_PATH descriptor of the new mount (MountGuard keeps it).
// `pre_src`: the bind source of a host path (not source_in_root), opened
// O_PATH before the child became its user namespace's root (see
// host_bind_source), or -1. `pre_mnt` (modern API, op_bind): the detached
// mount the parent made of that source, attributes applied, which is only
// attached here (see SpawnCtx::mnt_fds), or -1. The caller closes both.
//
// `shared_mask` (may be null): one read-only tmpfs for every masked
// directory of a spawn, as runc >= 1.3 does (maskPaths), not a superblock
// each. It holds -1 until the first masked directory is mounted, then a
// descriptor of that mount, which later ones clone (or bind, with the
// legacy API); the caller closes it. Test: tests/root/mount_test.cpp
// "mount: masked directories share one read-only tmpfs".
WARD_CHILD_FN inline long mount_step(int root, const MountStep& s, MountApi api, MountFail& f,
                                     long* mnt_out = nullptr, long pre_src = -1, long pre_mnt = -1,
                                     long* shared_mask = nullptr) noexcept {
  long r = 0;
  unsigned long slash = 0;  // where the last component of s.target starts
  if (s.op == MountStep::op_mkdir) {
    long fd = open_target(root, s, true, api, f);
    if (fd < 0) return fd;
    close_fd(fd);
    return 0;
  }
  if (s.op == MountStep::op_symlink) {
    // The link lives in the parent directory of target.
    long pfd = open_parent(root, s, true, api, f, &slash);
    if (pfd < 0) return pfd;
    r = sys::call(SYS_symlinkat, s.source, pfd, s.target + slash);
    close_fd(pfd);
    if (r < 0 && r != -EEXIST) return mount_fail(f, r, "symlink", s.target, s.source);
    return 0;
  }
  if (s.op == MountStep::op_remount_ro) {
    // The mount made read-only only now, after what lies on and under it
    // was set up (runc's finalizeRootfs). mount_setattr(2) refuses a path
    // that is not a mount's root (EINVAL): never a stray directory.
    long fd = open_target(root, s, false, api, f);
    if (fd < 0) return fd;
    if (api == MountApi::modern) {
      mnt::MountAttr a{mnt::kAttrRdonly, 0, 0, 0};
      r = sys::call(mnt::nr_mount_setattr, fd, "", mnt::kAtEmptyPath, &a, sizeof a);
    } else {
      r = legacy_mount(nullptr, fd, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(fd),
                       nullptr);
    }
    close_fd(fd);
    return r < 0 ? mount_fail(f, r, "remount read-only", s.target) : 0;
  }
  unsigned copied_mode = 0;
  if (s.copy_mode) {
    long efd = open_in_root(root, s.target, O_PATH, s.no_symlinks, api);
    if (efd >= 0) {
      struct stat est;
      if (sys::call(SYS_fstat, efd, &est) == 0 && S_ISDIR(est.st_mode))
        copied_mode = est.st_mode & 07777;
      close_fd(efd);
    }
  }
  long tfd = -1;
  if (s.op == MountStep::op_mknod) {
    r = make_fresh_node(root, s, api, f, &tfd, s.source != nullptr || pre_mnt >= 0, pre_mnt >= 0);
    if (r != -EEXIST && tfd < 0) return r;  // made, or failed
  }
  bool create = s.op != MountStep::op_mask && s.op != MountStep::op_readonly;
  if (tfd < 0) {  // (else make_fresh_node left the empty file to bind the host's node over)
    tfd = open_target(root, s, create, api, f);
    if (tfd < 0) return (s.optional || !create) && tfd == -ENOENT ? 0 : tfd;
  }

  if (s.op == MountStep::op_mknod && r == -EEXIST) {
    // Something was there already: a node of the right kind is kept; else
    // the node replaces it (or the empty file open_target made if it was
    // gone by now). Where mknod is not allowed (a user namespace), the
    // host's node is bound over an empty file instead.
    struct stat st;
    r = sys::call(SYS_fstat, tfd, &st);
    if (r == 0 && S_ISCHR(st.st_mode) && st.st_rdev == s.rdev) {
      close_fd(tfd);
      return 0;
    }
    long pfd = open_parent(root, s, false, api, f, &slash);
    if (pfd < 0) {
      close_fd(tfd);
      return pfd;
    }
    sys::call(SYS_unlinkat, pfd, s.target + slash, 0);
    r = sys::call(SYS_mknodat, pfd, s.target + slash, s.mode, s.rdev);
    if (r == 0) {
      r = chown_node(pfd, s, slash, f);
      close_fd(pfd);
      close_fd(tfd);
      return r;
    }
    if (r != -EPERM || (s.source == nullptr && pre_mnt < 0)) {
      close_fd(pfd);
      close_fd(tfd);
      return mount_fail(f, r, "mknod", s.target);
    }
    // Bind fallback: recreate the empty file as the mount point.
    r = sys::call(SYS_mknodat, pfd, s.target + slash, S_IFREG | 0644, 0);
    close_fd(pfd);
    close_fd(tfd);
    if (r < 0 && r != -EEXIST) return mount_fail(f, r, "create file", s.target);
    tfd = open_target(root, s, false, api, f);
    if (tfd < 0) return tfd;
  }

  long src_null = -1;  // a masked file gets /dev/null; a directory, the shared tmpfs
  if (s.op == MountStep::op_mask) {
    struct stat st;
    r = sys::call(SYS_fstat, tfd, &st);
    if (r < 0) {
      close_fd(tfd);
      return mount_fail(f, r, "stat masked path", s.target);
    }
    if (!S_ISDIR(st.st_mode)) {
      src_null = open_dev_null(root, api, f);
      if (src_null < 0) {
        close_fd(tfd);
        return src_null;
      }
    }
  }

  const bool masked_file = src_null >= 0;
  if (api == MountApi::legacy) {
    if (s.op == MountStep::op_bind && s.recursive &&
        (s.rattr_set != 0 || s.rattr_clr != 0 || (!s.attrs_top_only && s.attr_set != 0))) {
      // mount(2) remounts one mount at a time: a recursive bind's
      // submounts would silently keep their flags. Say so instead.
      close_fd(tfd);
      close_fd(src_null);
      return mount_fail(f, -EOPNOTSUPP, "recursive bind attributes", s.target,
                        "need mount_setattr(2), Linux 5.12");
    }
    if (s.userns_fd >= 0) {
      close_fd(tfd);
      close_fd(src_null);
      return mount_fail(f, -EOPNOTSUPP, "idmapped mount", s.target,
                        "needs mount_setattr(2), Linux 5.12");
    }
    struct stat before;
    r = sys::call(SYS_fstat, tfd, &before);
    if (r < 0) {
      close_fd(tfd);
      close_fd(src_null);
      return mount_fail(f, r, "stat destination", s.target);
    }
    if (s.op == MountStep::op_bind && s.source_in_root) {
      long src = legacy_walk(root, s.source, false, false, false);
      if (src < 0) {
        close_fd(tfd);
        return mount_fail(f, src, "open bind source", s.target, s.source);
      }
      char p[32];
      fd_path(p, src);
      r = legacy_mount(p, tfd, nullptr, MS_BIND | (s.recursive ? MS_REC : 0), nullptr);
      close_fd(src);
    } else if (s.op == MountStep::op_bind || s.op == MountStep::op_mknod) {
      char p[32];
      if (pre_src >= 0) fd_path(p, pre_src);
      r = legacy_mount(pre_src >= 0 ? p : s.source, tfd, nullptr,
                       MS_BIND | (s.recursive ? MS_REC : 0), nullptr);
    } else if (s.op == MountStep::op_readonly) {
      char p[32];
      fd_path(p, tfd);
      r = legacy_mount(p, tfd, nullptr, MS_BIND | MS_REC, nullptr);  // onto itself
    } else if (s.op == MountStep::op_mask) {
      if (src_null >= 0 || (shared_mask != nullptr && *shared_mask >= 0)) {
        char p[32];
        fd_path(p, src_null >= 0 ? src_null : *shared_mask);
        r = legacy_mount(p, tfd, nullptr, MS_BIND, nullptr);  // made read-only below
      } else {
        r = legacy_mount("tmpfs", tfd, "tmpfs", MS_RDONLY, nullptr);
      }
    } else {
      const char* data = s.legacy_data;
      char dbuf[1024];
      if (copied_mode != 0) {  // "mode=0710,<the rest>"
        char mode[8];
        mode_text(mode, copied_mode);
        unsigned long n = 0;
        for (const char* q = "mode="; *q != '\0'; ++q) dbuf[n++] = *q;
        for (const char* q = mode; *q != '\0'; ++q) dbuf[n++] = *q;
        if (data != nullptr && sys::cstrlen(data) + n + 2 > sizeof dbuf) {
          close_fd(tfd);
          close_fd(src_null);
          return mount_fail(f, -E2BIG, "filesystem options", s.target, "too long");
        }
        if (data != nullptr && data[0] != '\0') {
          dbuf[n++] = ',';
          for (const char* q = data; *q != '\0' && n + 1 < sizeof dbuf; ++q) dbuf[n++] = *q;
        }
        dbuf[n] = '\0';
        data = dbuf;
      }
      r = legacy_mount(s.source != nullptr ? s.source : s.fstype, tfd, s.fstype,
                       legacy_attr_flags(s.attr_set), data);
    }
    close_fd(src_null);
    close_fd(tfd);
    if (r < 0) return mount_fail(f, r, "mount", s.target, s.source);
    MountStep fin;
    sys::copy_bytes(&fin, &s, sizeof fin);
    if (s.op == MountStep::op_readonly || s.op == MountStep::op_mask)
      fin.attr_set |= mnt::kAttrRdonly;
    if (s.op == MountStep::op_fs) fin.attr_set = 0;  // given to mount(2) already
    if (fin.attr_set == 0 && fin.propagation == 0 && mnt_out == nullptr) return 0;
    long nfd = legacy_reopen(root, fin, before, f);
    if (nfd < 0) return nfd;
    r = legacy_finish(nfd, fin, f);
    if (r == 0 && s.op == MountStep::op_mask && !masked_file && shared_mask != nullptr &&
        *shared_mask < 0)
      *shared_mask = sys::call(SYS_fcntl, nfd, F_DUPFD_CLOEXEC, 0);  // the first masked dir
    if (r == 0 && mnt_out != nullptr)
      *mnt_out = nfd;
    else
      close_fd(nfd);
    return r;
  }

  long mfd;
  if (src_null >= 0) {
    mfd = sys::call(mnt::nr_open_tree, src_null, "",
                    mnt::kOpenTreeClone | O_CLOEXEC | mnt::kAtEmptyPath);
    close_fd(src_null);
    if (mfd < 0) {
      close_fd(tfd);
      return mount_fail(f, mfd, "open_tree (/dev/null)", s.target);
    }
  } else if (pre_mnt >= 0 && (s.op == MountStep::op_bind || s.op == MountStep::op_mknod)) {
    mfd = pre_mnt;  // the parent's clone of the source, or of the node it made
  } else if (s.op == MountStep::op_mask && !masked_file && shared_mask != nullptr &&
             *shared_mask >= 0) {
    // A clone shares the first masked directory's tmpfs; read-only again
    // here rather than trusting what clone_mnt copies.
    mfd = sys::call(mnt::nr_open_tree, *shared_mask, "",
                    mnt::kOpenTreeClone | O_CLOEXEC | mnt::kAtEmptyPath);
    if (mfd >= 0) {
      r = detached_attrs(mfd, s, s.attr_set | mnt::kAttrRdonly, 0, true, f);
      if (r < 0) {
        close_fd(mfd);
        close_fd(tfd);
        return r;
      }
    }
    if (mfd < 0) {
      close_fd(tfd);
      return mount_fail(f, mfd, "open_tree (masked directory)", s.target);
    }
  } else {
    mfd = make_detached(root, s, tfd, copied_mode, f, pre_src);
    if (mfd < 0) {
      close_fd(tfd);
      return mfd;
    }
  }
  // The caller's pre_mnt stays open for the caller to close.
  const long own_mfd = mfd == pre_mnt ? -1 : mfd;
  r = sys::call(mnt::nr_move_mount, mfd, "", tfd, "", mnt::kMoveFEmptyPath | mnt::kMoveTEmptyPath);
  close_fd(tfd);
  if (r < 0) {
    close_fd(own_mfd);
    return mount_fail(f, r, "move_mount", s.target, mfd == pre_mnt ? s.source : nullptr);
  }
  // Propagation once attached: a detached mount has no peers to speak of.
  // A clone keeps its source's slave state, so "private" is made explicit
  // for every bind that did not ask otherwise (the planner sets it).
  if (s.propagation != 0) {
    mnt::MountAttr a;
    sys::zero(a);
    a.propagation = s.propagation;
    r = sys::call(mnt::nr_mount_setattr, mfd, "",
                  mnt::kAtEmptyPath | (s.prop_recursive ? mnt::kAtRecursive : 0), &a, sizeof a);
    if (r < 0) {
      close_fd(own_mfd);
      return mount_fail(f, r, "propagation", s.target);
    }
  }
  if (s.op == MountStep::op_mask && !masked_file && shared_mask != nullptr && *shared_mask < 0)
    *shared_mask = sys::call(SYS_fcntl, mfd, F_DUPFD_CLOEXEC, 0);  // the first masked dir
  if (mnt_out != nullptr)
    *mnt_out = own_mfd >= 0 ? own_mfd : sys::call(SYS_fcntl, mfd, F_DUPFD_CLOEXEC, 0);
  else
    close_fd(own_mfd);
  return 0;
}

}  // namespace child

}  // namespace ward::detail
