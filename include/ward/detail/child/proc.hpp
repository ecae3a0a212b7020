// SPDX-License-Identifier: Apache-2.0
// Child side: writing a /proc file of the calling process (sysctls,
// timens_offsets, oom_score_adj) without trusting what /proc shows.
#pragma once

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstdint>

#include <ward/detail/child/mount.hpp>
#include <ward/detail/child/syscall.hpp>

namespace ward::detail::child {

// Writes a /proc file for the calling process: a sysctl ("/proc/sys/...",
// which acts on the writer's namespaces) or a file of its own
// ("/proc/self/..."). Callers (child_final): the sysctls, timens_offsets
// and oom_score_adj.
//
// Opening the path would not be enough. In a runtime's `exec` the child has
// joined the container's mount namespace, whose /proc the container
// controls: a bind mount of another procfs file over /proc/self/
// oom_score_adj or a /proc/sys file (core_pattern, sysrq-trigger, an LSM
// attr file) is still "on procfs", so an fstatfs check passes, and the
// write lands in that file (CVE-2025-52881); a /proc that is a symlink, or
// a volume that is not procfs (CVE-2019-16884, CVE-2023-27561,
// CVE-2023-28642), is the same attack by other means.
//
// So the file is resolved, not trusted:
//  - the directory at "/proc" is used only if it is the root of a procfs
//    (f_type PROC_SUPER_MAGIC and inode PROC_ROOT_INO, 1): not a bind of a
//    procfs subdirectory or of anything else, wherever it points;
//  - the file is opened beneath it with openat2 RESOLVE_NO_XDEV (no mount
//    point crossed: nothing mounted inside that procfs, at any depth, can
//    stand in for the file), RESOLVE_NO_SYMLINKS and RESOLVE_NO_MAGICLINKS
//    (no link followed), RESOLVE_BENEATH;
//  - "self" is itself a symlink: our pid in that procfs is the text of its
//    "self" link, opened with the same rules (a mount over "self" is
//    refused too) and read with readlinkat(fd, "").
// Within one procfs instance nothing else redirects a path (its files are
// generated, there are no hard links), and which instance it is does not
// matter: the <pid> directory of any instance that shows us is ours, and
// /proc/sys resolves against the writer's namespaces (proc_sys_lookup uses
// current->nsproxy), whichever instance it is reached through.
// Tests (tests/attack/cve_attack_test.cpp):
// attack."CVE-2025-52881: mounts over /proc never redirect exec's oom_score_adj write",
// attack."CVE-2019-16884 and CVE-2023-27561/28642: ...".
//
// Not a private procfs (fsopen("proc") + fsmount) every time: each is a new
// superblock, measured at 200-460 us per write here against ~20 us for the
// above, and in a mount namespace owned by a user namespace the kernel
// refuses a new procfs unless one is fully visible there
// (mount_too_revealing), which a container's masked /proc is not: a
// rootless `exec` would fail. It serves only kernels without openat2
// (Linux 5.3-5.5), walked component by component with every symlink
// refused: a detached instance of our own has nothing mounted inside it.
WARD_CHILD_FN inline long proc_open_beneath(long root, const char* rel, std::uint64_t flags,
                                            bool private_fs) noexcept {
  if (private_fs) return open_in_root(static_cast<int>(root), rel, flags, true, MountApi::legacy);
  constexpr std::uint64_t kResolveBeneath = 0x08;
  mnt::OpenHow how{
      flags | O_CLOEXEC, 0,
      kResolveBeneath | mnt::kResolveNoXdev | mnt::kResolveNoSymlinks | mnt::kResolveNoMagiclinks};
  long r;
  do r = sys::call(sys::nr_openat2, root, rel, &how, sizeof how);
  while (r == -EAGAIN || r == -EINTR);
  return r;
}

// The procfs to resolve in (see child_write_proc): "/proc" if it is a
// procfs root; where openat2 is missing, a private instance instead.
WARD_CHILD_FN inline long proc_root(bool& private_fs) noexcept {
  private_fs = false;
  long root = sys::call(SYS_openat, AT_FDCWD, "/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return root;
  struct statfs sf;
  struct stat st;
  long r = sys::call(SYS_fstatfs, root, &sf);
  if (r == 0) r = sys::call(SYS_fstat, root, &st);
  if (r == 0 && (sf.f_type != PROC_SUPER_MAGIC || st.st_ino != 1)) r = -EXDEV;
  if (r == 0) {
    long probe = proc_open_beneath(root, ".", O_PATH, false);
    r = probe == -ENOSYS ? probe : 0;
    close_fd(probe);
  }
  if (r == -ENOSYS) {
    close_fd(root);
    long fs = sys::call(mnt::nr_fsopen, "proc", mnt::kFsopenCloexec);
    if (fs < 0) return fs;
    r = sys::call(mnt::nr_fsconfig, fs, mnt::kFsconfigCmdCreate, nullptr, nullptr, 0);
    root = r < 0 ? r : sys::call(mnt::nr_fsmount, fs, mnt::kFsmountCloexec, 0);
    close_fd(fs);
    private_fs = true;
    return root;
  }
  if (r < 0) {
    close_fd(root);
    return r;
  }
  return root;
}

// `path` starts with "/proc/"; "/proc/self/..." means our own directory.
WARD_CHILD_FN inline long child_write_proc(const char* path, const char* text,
                                           unsigned long len) noexcept {
  bool private_fs = false;
  long root = proc_root(private_fs);
  if (root < 0) return root;
  const char* rel = path + 6;  // after "/proc/"
  char buf[256];
  long n = 0;
  const char self[] = "self/";
  bool is_self = true;
  for (int i = 0; i < 5 && is_self; ++i) is_self = rel[i] == self[i];
  if (is_self) {
    long link = private_fs ? sys::call(SYS_openat, root, "self", O_PATH | O_NOFOLLOW | O_CLOEXEC)
                           : proc_open_beneath(root, "self", O_PATH | O_NOFOLLOW, false);
    n = link < 0 ? link : sys::call(SYS_readlinkat, link, "", buf, sizeof buf - 1);
    close_fd(link);
    if (n < 0) {
      close_fd(root);
      return n;
    }
    rel += 4;  // "/oom_score_adj"
  }
  for (; *rel != '\0' && n + 1 < static_cast<long>(sizeof buf); ++rel) buf[n++] = *rel;
  buf[n] = '\0';
  long fd = *rel != '\0' ? -ENAMETOOLONG : proc_open_beneath(root, buf, O_WRONLY, private_fs);
  close_fd(root);
  if (fd < 0) return fd;
  struct statfs sf;
  long r = sys::call(SYS_fstatfs, fd, &sf);
  if (r == 0 && sf.f_type != PROC_SUPER_MAGIC) r = -EXDEV;
  if (r == 0) r = sys::call(SYS_write, fd, text, len);
  close_fd(fd);
  return r < 0 ? r : 0;
}

}  // namespace ward::detail::child
