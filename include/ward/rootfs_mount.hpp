// SPDX-License-Identifier: Apache-2.0
// RootfsMount: the mount a sandbox made in a namespace it shares.
//
// With Sandbox::shared_mount_namespace() the rootfs is cloned onto itself
// in the caller's mount namespace (or a joined one) and the sandbox's
// mounts are made below that clone, where they outlive the sandbox's
// processes: nothing removes them but an unmount. This names the clone
// exactly, by its mount id, so that whoever removes it (the spawn itself
// when it fails, Child::rootfs_mount's owner after, a runtime's delete from
// its record) removes that mount and no other: a path alone could name
// another sandbox's clone of the same rootfs, or whatever was mounted there
// since. Test: tests/root/shared_mount_ns_test.cpp.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>

#include <ward/detail/child/mount.hpp>
#include <ward/error.hpp>
#include <ward/fd.hpp>

namespace ward {

namespace detail {

// What statx(2) says of the mount `fd` is on: its id (STATX_MNT_ID_UNIQUE
// when `unique`, Linux 6.8: never reused; else STATX_MNT_ID, reused once
// the mount is gone) and whether `fd` is that mount's root
// (STATX_ATTR_MOUNT_ROOT, Linux 5.8; assumed when the kernel cannot tell).
// 0 or an errno; ENOSYS when the kernel has no id of the kind asked for.
inline int statx_mount(int fd, bool unique, std::uint64_t& id, bool& root) noexcept {
  mnt::Statx sx{};
  const unsigned want = unique ? mnt::kStatxMntIdUnique : mnt::kStatxMntId;
  if (::syscall(SYS_statx, fd, "", AT_EMPTY_PATH, want, &sx) != 0) return errno;
  if ((sx.mask & want) == 0) return ENOSYS;
  id = sx.mnt_id;
  root = (sx.attributes_mask & mnt::kStatxAttrMountRoot) == 0 ||
         (sx.attributes & mnt::kStatxAttrMountRoot) != 0;
  return 0;
}

// Detaches (umount2(2) MNT_DETACH) the mount `id` if `path` leads to its
// root; 0, ESRCH when `path` leads elsewhere (it was unmounted, or another
// mount covers it now), or an errno. Checked through the descriptor of what
// `path` led to, and unmounted through it (/proc/self/fd/N): a path
// changed since (a symlink swapped in) detaches nothing else. A covered
// mount cannot be reached at all: umount2(2) goes to the topmost mount of
// the place its path names, even through a magic link (the kernel's
// LOOKUP_MOUNTPOINT), which would be the cover (test "shared mount
// namespace attack: one sandbox's end does not take another's mounts").
inline int detach_mount_at(const char* path, std::uint64_t id, bool unique) noexcept {
  int fd = ::open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? ESRCH : errno;
  std::uint64_t now = 0;
  bool root = false;
  int e = statx_mount(fd, unique, now, root);
  if (e == 0 && (now != id || !root)) e = ESRCH;
  if (e == 0) {
    // fd_path: async-signal-safe, as detach_mount_in's child needs.
    char self[32];
    child::fd_path(self, fd);
    if (::umount2(self, MNT_DETACH) != 0) e = errno;
  }
  ::close(fd);
  return e;
}

// The same inside the mount namespace `mnt_ns` (a descriptor of it; -1:
// ours), where a sandbox that joined it made its clone: the path means
// something only there. setns(2) would move this whole process (and is
// refused to a multithreaded one), so a child of ours enters it, forked
// with the raw system call (no atfork handlers: the caller may have
// threads) and running only system calls, and reports the errno as its
// exit status. Test: "shared mount namespace: a joined mount namespace
// gets the mounts and ours does not".
inline int detach_mount_in(int mnt_ns, const char* path, std::uint64_t id, bool unique) noexcept {
  if (mnt_ns < 0) return detach_mount_at(path, id, unique);
  long pid = ::syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  if (pid < 0) return errno;
  if (pid == 0) {
    int e =
        ::syscall(SYS_setns, mnt_ns, CLONE_NEWNS) != 0 ? errno : detach_mount_at(path, id, unique);
    ::syscall(SYS_exit_group, e);
  }
  int status = 0;
  while (::waitpid(static_cast<pid_t>(pid), &status, __WALL) < 0)
    if (errno != EINTR) return errno;
  return WIFEXITED(status) ? WEXITSTATUS(status) : EIO;
}

}  // namespace detail

// A value type: the path the clone was attached at and its mount id.
struct RootfsMount {
  std::string path;
  std::uint64_t id = 0;  // 0: none
  bool unique = false;   // `id` is a STATX_MNT_ID_UNIQUE (never reused)
  // The mount namespace it is in when the sandbox joined one (its nsfs
  // device and inode, as fstat(2) of /proc/PID/ns/mnt gives them, for a
  // record that must find it again); 0: the spawning process's own.
  std::uint64_t ns_dev = 0, ns_ino = 0;

  explicit operator bool() const noexcept { return id != 0; }

  // The mount `path` leads to now (its root or not: `mount_root` says),
  // for a record made before a spawn (a runtime that may die half-way
  // finds later whether something new is mounted there).
  static RootfsMount at(std::string path, bool* mount_root = nullptr) {
    UniqueFd fd(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw Error(Step::mount, errno, path, "open (its mount)");
    RootfsMount m{std::move(path), 0, true};
    bool root = false;
    int e = detail::statx_mount(fd.get(), true, m.id, root);
    if (e == ENOSYS) {
      m.unique = false;
      e = detail::statx_mount(fd.get(), false, m.id, root);
    }
    if (e != 0) throw Error(Step::mount, e, m.path, "statx (its mount id)");
    if (mount_root != nullptr) *mount_root = root;
    return m;
  }

  // Detaches the mount and everything below it (MNT_DETACH: processes
  // still inside keep what they hold until they leave). False when `path`
  // does not lead to it now: gone already, or covered by another mount (a
  // later sandbox's clone of the same rootfs), which is left alone; call
  // again once the cover is gone. Throws Error(Step::mount) when the
  // unmount fails.
  // `mount_ns`: a descriptor of the namespace (ns_ino), -1 for ours.
  bool detach(int mount_ns = -1) const {
    if (id == 0) return false;
    int e = detail::detach_mount_in(mount_ns, path.c_str(), id, unique);
    if (e == ESRCH) return false;
    if (e != 0) throw Error(Step::mount, e, path, "umount2 (MNT_DETACH) of the rootfs clone");
    return true;
  }
};

}  // namespace ward
