// SPDX-License-Identifier: Apache-2.0
// The spawn engine: clone3 into a CLONE_VM child that runs the plan.
//
// Why CLONE_VM: fork() copies the parent's page tables, so its cost grows
// with the parent's resident memory (bench/README.md: fork+exec from a 4 GiB
// parent takes ~150 ms here, a ward spawn ~0.4 ms whatever the parent's size). A library is
// embedded in big programs, so ward's child shares the parent's memory
// until execve(2) gives it its own, and runs on a private stack.
//
// What that demands of the child (everything in this file marked
// WARD_CHILD_FN): no allocation, no locks, no errno (detail/syscall.hpp), no
// exceptions, no writes to memory it does not own — it reads the immutable
// plan and writes only its own stack. Without CLONE_VFORK the parent thread
// keeps running, so it can write the child's uid/gid maps while the child
// waits (a vfork parent would be suspended until exec).
//
// Protocol: the child writes fixed-size Msg records to a close-on-exec pipe.
// EOF on that pipe means every copy of it was closed: the child exec'd (or
// died). A Msg asks the parent to write id maps, announces the pid of a
// second stage, or reports a failure {step, errno, detail}.
//
// Fork mode (no CLONE_VM) remains for what a shared mm cannot do: joining a
// time namespace needs a single-threaded mm (setns(2), "EUSERS"), and
// architectures for which we have no clone trampoline.
#pragma once

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <exception>
#include <mutex>
#include <optional>
#include <string>

#include <ward/child.hpp>
#include <ward/detail/capability_abi.hpp>
#include <ward/detail/clone.hpp>
#include <ward/detail/mount_child.hpp>
#include <ward/detail/netlink.hpp>
#include <ward/detail/plan.hpp>
#include <ward/detail/seccomp_load.hpp>
#include <ward/detail/stack.hpp>
#include <ward/detail/syscall.hpp>
#include <ward/error.hpp>
#include <ward/fd.hpp>
#include <ward/landlock.hpp>
#include <ward/terminal.hpp>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace ward::detail {

enum MsgKind : std::uint32_t {
  kMsgError = 1,
  kMsgNeedParent = 2,   // write my id maps, then release me
  kMsgStage2 = 3,       // value = pid of the second stage (our child via CLONE_PARENT)
  kMsgReady = 4,        // hold mode: namespaces are set up
  kMsgListener = 5,     // value = the fd number the seccomp listener will get
  kMsgBeforePivot = 6,  // mounts done: run Sandbox::before_pivot, then release me
  // Sandbox::sealed_exec. kMsgExecFailed {0, errno, 0, path} is what the exec
  // trampoline writes when no candidate could be exec'd (the number is
  // written in scripts/trampoline/*.S). kMsgExecing: the child is about to
  // exec the trampoline; from then on only failures may come (see
  // spawn_plan).
  kMsgExecFailed = 7,
  kMsgExecing = 8,
};

struct Msg {
  std::uint32_t kind;
  std::uint32_t step;
  std::int32_t err;
  std::int32_t value;
  char detail[240];
};
static_assert(sizeof(Msg) <= PIPE_BUF, "Msg writes must be atomic");

struct SpawnCtx {
  const ChildPlan* plan;
  int report_wr;  // child's end of the report pipe
  int report_rd;  // the parent's end, to close in the child
  int sync_rd;    // parent -> child release
  int sync_wr;
  int go_rd;  // Sandbox::before_exec done: one byte, read before child_fds; -1: none
  int go_wr;
  int slot_child[3];   // per-spawn stdio pipe ends for the child
  int slot_parent[3];  // the parent's ends, to close in the child
  bool vm;
  bool reset_signals;  // no CLONE_CLEAR_SIGHAND on this kernel
  std::uint64_t stage2_stack;
  std::uint64_t stage2_stack_size;
  // Before Linux 5.7 (no CLONE_INTO_CGROUP): the child moves itself into
  // this cgroup first thing, then makes the cgroup namespace it asked for.
  int cgroup_fd;
  bool unshare_cgroup;
  int gate_fd;    // the start gate, moved above the kept descriptors by child_fds
  int term_sock;  // terminal_in_child: the child sends the pty master here (SCM_RIGHTS)
  int pivot_rd;   // Sandbox::before_pivot done: one byte; -1: none
  int pivot_wr;   // the parent's end, to close in the child
  int tramp_fd;   // Sandbox::sealed_exec's memfd, moved above the kept descriptors by child_fds
  // A CLONE_VFORK second stage names itself (its stage one is suspended
  // until it execs): the kernel wrote its pid here (CLONE_PARENT_SETTID)
  // before it ran. Null otherwise.
  const int* stage2_pid;
};

// ---------------------------------------------------------------- child side

[[noreturn]] WARD_CHILD_FN inline void child_report(const SpawnCtx* c, Step step, long neg_err,
                                                    const char* detail) noexcept {
  Msg m;
  m.kind = kMsgError;
  m.step = static_cast<std::uint32_t>(step);
  m.err = static_cast<std::int32_t>(-neg_err);
  m.value = 0;
  unsigned long i = 0;
  if (detail != nullptr)
    for (; detail[i] != '\0' && i + 1 < sizeof m.detail; ++i) m.detail[i] = detail[i];
  for (; i < sizeof m.detail; ++i) m.detail[i] = '\0';
  sys::write_all(c->report_wr, &m, sizeof m);
  sys::exit_group(127);
}

WARD_CHILD_FN inline long child_send(const SpawnCtx* c, std::uint32_t kind, int value) noexcept {
  Msg m;
  m.kind = kind;
  m.step = 0;
  m.err = 0;
  m.value = value;
  for (unsigned long i = 0; i < sizeof m.detail; ++i) m.detail[i] = '\0';
  return sys::write_all(c->report_wr, &m, sizeof m);
}

// The kernel's struct sigaction for rt_sigaction(2) (not libc's layout).
struct KernelSigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)();
  std::uint64_t mask;
};

WARD_CHILD_FN inline void child_reset_signals() noexcept {
  KernelSigaction dfl{};
  dfl.handler = SIG_DFL;
  for (int sig = 1; sig <= 64; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    sys::call(SYS_rt_sigaction, sig, &dfl, nullptr, sizeof(std::uint64_t));
  }
}

// Arrange the kept descriptors and close every other one (except the report
// pipe, which is close-on-exec and goes away with execve). Closing rather
// than marking close-on-exec matters: a leaked directory fd would otherwise
// still be usable by the chdir below (CVE-2024-21626).
struct LinuxDirent64 {
  std::uint64_t ino;
  std::int64_t off;
  unsigned short reclen;
  unsigned char type;
  char name[1];
};

// `c` is the calling process's private copy of the context (see
// child_entry), so updating report_wr here is visible to nobody else.
WARD_CHILD_FN inline void child_fds(SpawnCtx* c) noexcept {
  const ChildPlan& p = *c->plan;
  int hi = p.max_dst + 1;
  if (hi < 3) hi = 3;

  // 1. Move the report pipe above every target so no dup3 lands on it.
  long r = sys::call(SYS_fcntl, c->report_wr, F_DUPFD_CLOEXEC, hi);
  if (r < 0) child_report(c, Step::fds, r, "move report pipe");
  int report = static_cast<int>(r);
  c->report_wr = report;  // the old number is closed below with the rest
  // The start gate survives too (it is waited on after this), and the exec
  // trampoline (Sandbox::sealed_exec, exec'd last of all), also above.
  auto move_up = [&](int fd, const char* what) -> int {
    if (fd < 0) return -1;
    long m = sys::call(SYS_fcntl, fd, F_DUPFD_CLOEXEC, hi);
    if (m < 0) child_report(c, Step::fds, m, what);
    return static_cast<int>(m);
  };
  const int gate = move_up(p.start_gate_fd, "move start gate");
  const int tramp = move_up(p.trampoline_fd, "move the exec trampoline");
  c->gate_fd = gate;
  c->tramp_fd = tramp;

  // 2. Copy every source above the targets, then into place: a source may
  //    itself be another mapping's target.
  int tmp[256];
  for (int i = 0; i < p.n_fds; ++i) {
    const FdMapping& m = p.fds[i];
    int src = m.slot >= 0 ? c->slot_child[m.slot] : m.src;
    r = sys::call(SYS_fcntl, src, F_DUPFD_CLOEXEC, hi);
    if (r < 0) {
      if (r == -EBADF && m.optional) {
        tmp[i] = -1;
        continue;
      }
      child_report(c, Step::fds, r, "duplicate a descriptor to keep");
    }
    tmp[i] = static_cast<int>(r);
  }
  for (int i = 0; i < p.n_fds; ++i) {
    if (tmp[i] < 0) continue;
    r = sys::call(SYS_dup3, tmp[i], p.fds[i].dst, 0);  // 0: the copy is inherited by exec
    if (r < 0) child_report(c, Step::fds, r, "dup3 onto a kept descriptor");
  }

  // 3. Close all but the targets and the report pipe: the gaps between
  //    sorted targets (the builder sorts them), then everything above.
  // Never close the report pipe early: EOF on it tells the parent that
  // this process no longer uses the shared memory.
  // Closes [lo, hi_incl] except the report pipe, the gate and the
  // trampoline (sorted; ~0U: none).
  unsigned keeps[3] = {static_cast<unsigned>(report), gate < 0 ? ~0U : static_cast<unsigned>(gate),
                       tramp < 0 ? ~0U : static_cast<unsigned>(tramp)};
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2 - i; ++j)
      if (keeps[j] > keeps[j + 1]) {
        unsigned t = keeps[j];
        keeps[j] = keeps[j + 1];
        keeps[j + 1] = t;
      }
  auto close_range = [&](unsigned lo, unsigned hi_incl) -> long {
    for (unsigned k : keeps) {
      if (lo > hi_incl) return 0;
      if (k < lo || k > hi_incl) continue;
      if (k > lo) {
        long a = sys::call(sys::nr_close_range, lo, k - 1, 0);
        if (a < 0) return a;
      }
      if (k == ~0U) return 0;
      lo = k + 1;
    }
    return lo <= hi_incl ? sys::call(sys::nr_close_range, lo, hi_incl, 0) : 0;
  };
  unsigned next = 0;
  bool have_close_range = true;
  for (int i = 0; i <= p.n_fds && have_close_range; ++i) {
    unsigned upto = i < p.n_fds ? static_cast<unsigned>(p.fds[i].dst) : ~0U;
    if (upto > next) {
      r = close_range(next, upto == ~0U ? ~0U : upto - 1);
      if (r == -ENOSYS) {
        have_close_range = false;
        break;
      }
      if (r < 0) child_report(c, Step::fds, r, "close_range");
    }
    if (i < p.n_fds) next = upto + 1;
  }
  if (!have_close_range) {
    // Before Linux 5.9: close what /proc/self/fd lists, one by one.
    long dir = sys::call(SYS_openat, AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) child_report(c, Step::fds, dir, "open /proc/self/fd (no close_range)");
    alignas(8) char buf[4096];
    for (;;) {
      long n = sys::call(SYS_getdents64, dir, buf, sizeof buf);
      if (n < 0) child_report(c, Step::fds, n, "getdents64 /proc/self/fd");
      if (n == 0) break;
      for (long off = 0; off < n;) {
        auto* d = reinterpret_cast<LinuxDirent64*>(buf + off);
        off += d->reclen;
        int fd = 0;
        bool num = d->name[0] != '\0';
        for (const char* s = d->name; *s; ++s) {
          if (*s < '0' || *s > '9') num = false;
          fd = fd * 10 + (*s - '0');
        }
        if (!num || fd == dir || fd == report || fd == gate || fd == tramp) continue;
        bool keep = false;
        for (int i = 0; i < p.n_fds; ++i)
          if (p.fds[i].dst == fd) keep = true;
        if (!keep) sys::call(SYS_close, fd);
      }
    }
    sys::call(SYS_close, dir);
  }
}

WARD_CHILD_FN inline int child_final(void* arg) noexcept;

// Stage one: join and create namespaces, wait for the parent's id maps, and
// when the pid namespace for children changed, clone the real child.
WARD_CHILD_FN inline int child_entry(void* arg) noexcept {
  // Work on a copy on our own stack: the original lives in the parent's
  // frame, which this CLONE_VM child must never write.
  SpawnCtx local = *static_cast<const SpawnCtx*>(arg);
  SpawnCtx* c = &local;
  const ChildPlan& p = *c->plan;
  long r;

  // Our copies of the parent's pipe ends: holding them would keep EOF from
  // ever reaching either side.
  sys::call(SYS_close, c->report_rd);
  if (c->sync_wr >= 0) sys::call(SYS_close, c->sync_wr);
  if (c->go_wr >= 0) sys::call(SYS_close, c->go_wr);
  if (c->pivot_wr >= 0) sys::call(SYS_close, c->pivot_wr);
  for (int i = 0; i < 3; ++i)
    if (c->slot_parent[i] >= 0) sys::call(SYS_close, c->slot_parent[i]);

  if (c->reset_signals) child_reset_signals();

  if (c->cgroup_fd >= 0) {
    // Writing "0" to cgroup.procs moves the writer (cgroup-v2.rst). Before
    // anything else runs, so that nothing the child does escapes its limits.
    long fd = sys::call(SYS_openat, c->cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (fd < 0) child_report(c, Step::cgroup, fd, "open cgroup.procs (no CLONE_INTO_CGROUP)");
    r = sys::call(SYS_write, fd, "0", 1);
    sys::call(SYS_close, fd);
    if (r < 0) child_report(c, Step::cgroup, r, "write cgroup.procs (no CLONE_INTO_CGROUP)");
    if (c->unshare_cgroup) {
      r = sys::call(SYS_unshare, CLONE_NEWCGROUP);
      if (r < 0) child_report(c, Step::unshare, r, "cgroup namespace");
    }
  }

  if (!p.ns_at_clone) {
    // Joins first, the user namespace among them first of all: it grants
    // the capabilities the other setns calls need (setns(2), nsenter(1)).
    for (int i = 0; i < p.n_joins; ++i) {
      r = sys::call(SYS_setns, p.joins[i].fd, p.joins[i].nstype);
      if (r < 0) child_report(c, Step::setns, r, "join namespace");
    }
    if (p.unshare_flags != 0) {
      r = sys::call(SYS_unshare, p.unshare_flags);
      if (r < 0) child_report(c, Step::unshare, r, "create namespaces after joining");
    }
  }

  if (p.need_parent) {
    // With the user namespace made by clone3 the parent writes our maps
    // straight away; after an unshare it must first hear that it exists.
    if (!p.ns_at_clone && child_send(c, kMsgNeedParent, 0) < 0) sys::exit_group(127);
    char go = 0;
    r = sys::read_full(c->sync_rd, &go, 1);
    if (r != 1) sys::exit_group(127);  // the parent gave up on us and reports why
  }
  if (!p.hold && c->sync_rd >= 0) sys::call(SYS_close, c->sync_rd);

  if (p.two_stage) {
    // setns/unshare of a pid namespace only applies to children
    // (pid_namespaces(7)), so the process that execs must be cloned now.
    // CLONE_PARENT makes it the caller's child, so the caller's pidfd,
    // waitid and SIGCHLD all refer to it directly.
    CloneArgs a{};
    a.flags = CLONE_PARENT | (c->vm ? CLONE_VM : 0);
    a.exit_signal = 0;  // CLONE_PARENT: the exit signal is inherited
    if (c->vm) {
      a.stack = c->stage2_stack;
      a.stack_size = c->stage2_stack_size;
    }
    // With CLONE_VFORK (ChildPlan::vfork_stage2) the kernel gives the
    // second stage an oom_score_adj of its own: an oom_score_adj write is
    // applied to every process sharing the writer's mm, the caller among
    // them, unless the writer is a vfork child (fs/proc/base.c,
    // __set_oom_adj). We are suspended until it execs or dies, so it
    // announces itself, with the pid the kernel stores here before it runs.
    int stage2_pid = 0;
    bool vfork = c->vm && p.vfork_stage2;
    if (vfork) {
      a.flags |= CLONE_VFORK | CLONE_PARENT_SETTID;
      a.parent_tid = reinterpret_cast<std::uint64_t>(&stage2_pid);
      c->stage2_pid = &stage2_pid;
    }
    long pid = clone3_run(&a, &child_final, c);
    if (pid < 0) child_report(c, Step::clone, pid, "second stage");
    if (!vfork) child_send(c, kMsgStage2, static_cast<int>(pid));
    sys::exit_group(0);
  }
  return child_final(c);
}

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

// The pseudo-terminal of a sandbox with its own /dev (ChildPlan::
// terminal_in_child): opened here, in the sandbox's mount namespace, so that
// the peer is /dev/pts/N of the sandbox's devpts and ttyname(3) finds it
// there (a pty from the caller's /dev/ptmx works, but names a /dev/pts/N
// the sandbox does not have). `root` is the sandbox's root: the rootfs
// before pivot_root, or "/" of a joined mount namespace.
//  - /dev/pts must be a devpts mount reached without symlinks (fstatfs), and
//    the master is its own ptmx node, opened beneath that directory with
//    O_NOFOLLOW: never a /dev/ptmx the rootfs could point elsewhere.
//  - The peer comes from the master (TIOCGPTPEER, Linux 4.13), no path, and
//    must be on that same devpts (st_dev).
//  - The master goes to the parent over c->term_sock (SCM_RIGHTS); ours is
//    closed. The peer becomes the stdio slots, for child_fds to put on 0..2.
//  - With `console`, the peer is bound onto /dev/console (created as an
//    empty file if missing), as the OCI runtime spec asks when
//    process.terminal is set.
WARD_CHILD_FN inline void child_terminal(SpawnCtx* c, int root) noexcept {
  const ChildPlan& p = *c->plan;
  long pts = open_in_root(root, "dev/pts", O_PATH | O_DIRECTORY, true, p.mount_api);
  if (pts < 0) child_report(c, Step::terminal, pts, "dev/pts (the sandbox needs a devpts there)");
  struct statfs sf;
  long r = sys::call(SYS_fstatfs, pts, &sf);
  if (r == 0 && static_cast<long>(sf.f_type) != DEVPTS_SUPER_MAGIC) r = -EXDEV;
  if (r < 0) child_report(c, Step::terminal, r, "dev/pts is not a devpts mount");
  struct stat pst;
  r = sys::call(SYS_fstat, pts, &pst);
  if (r < 0) child_report(c, Step::terminal, r, "fstat dev/pts");
  long master = sys::call(SYS_openat, pts, "ptmx", O_RDWR | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
  close_fd(pts);
  if (master < 0) child_report(c, Step::terminal, master, "open dev/pts/ptmx");
  int unlock = 0;
  r = sys::call(SYS_ioctl, master, TIOCSPTLCK, &unlock);
  if (r < 0) child_report(c, Step::terminal, r, "ioctl(TIOCSPTLCK) (unlockpt)");
  winsize ws{p.term_rows, p.term_cols, 0, 0};
  r = sys::call(SYS_ioctl, master, TIOCSWINSZ, &ws);
  if (r < 0) child_report(c, Step::terminal, r, "ioctl(TIOCSWINSZ)");
  long peer = sys::call(SYS_ioctl, master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (peer < 0) child_report(c, Step::terminal, peer, "ioctl(TIOCGPTPEER)");
  struct stat st;
  r = sys::call(SYS_fstat, peer, &st);
  if (r == 0 && (!S_ISCHR(st.st_mode) || st.st_dev != pst.st_dev)) r = -EXDEV;
  if (r < 0) child_report(c, Step::terminal, r, "the peer is not on dev/pts's devpts");

  // The master to the parent: one byte with the descriptor attached.
  char byte = 'T';
  OneFdMsg m(&byte, 1);
  m.set_fd(static_cast<int>(master));
  do r = sys::call(SYS_sendmsg, c->term_sock, &m.msg, MSG_NOSIGNAL);
  while (r == -EINTR);
  if (r < 0) child_report(c, Step::terminal, r, "send the pty master to the parent");
  close_fd(master);

  if (p.console) {
    MountStep s;
    s.target = "dev/console";
    s.target_file = true;
    s.no_symlinks = true;
    MountFail f;
    long tfd = open_target(root, s, true, p.mount_api, f);
    if (tfd < 0) child_report(c, Step::terminal, tfd, f.text);
    if (p.mount_api == MountApi::modern) {
      long mfd2 = sys::call(mnt::nr_open_tree, peer, "",
                            mnt::kOpenTreeClone | O_CLOEXEC | mnt::kAtEmptyPath);
      if (mfd2 < 0) child_report(c, Step::terminal, mfd2, "open_tree (the pty peer)");
      r = sys::call(mnt::nr_move_mount, mfd2, "", tfd, "",
                    mnt::kMoveFEmptyPath | mnt::kMoveTEmptyPath);
      close_fd(mfd2);
    } else {
      char src_path[32];
      fd_path(src_path, peer);
      r = legacy_mount(src_path, tfd, nullptr, MS_BIND, nullptr);
    }
    close_fd(tfd);
    if (r < 0) child_report(c, Step::terminal, r, "bind the pty peer onto dev/console");
  }
  for (int i = 0; i < 3; ++i) c->slot_child[i] = static_cast<int>(peer);
}

// Sandbox::before_pivot (OCI's createRuntime/createContainer hooks): the
// parent runs it while we wait; EOF instead of its byte means it failed,
// and the parent is about to kill us.
WARD_CHILD_FN inline void child_pivot_pause(SpawnCtx* c) noexcept {
  if (child_send(c, kMsgBeforePivot, 0) < 0) sys::exit_group(127);
  char go = 0;
  if (sys::read_full(c->pivot_rd, &go, 1) != 1) sys::exit_group(127);
  sys::call(SYS_close, c->pivot_rd);
}

// The filesystem view: runs the planned mount steps inside the rootfs and
// pivots into it. Everything goes through descriptors (see
// detail/mount_child.hpp); the order follows the kernel's rules:
//  1. "/" becomes a recursive slave: nothing we mount or unmount propagates
//     back to the host, while (for binds that ask to be slaves) the host's
//     later mounts still arrive.
//  2. The rootfs is cloned recursively onto itself, so that it is a mount
//     point (pivot_root(2) needs one), with its own propagation.
//  3. The steps: mounts, device nodes, symlinks, masked and read-only paths.
//  4. The root is made read-only (non-recursively, as OCI's root.readonly).
//  5. pivot_root(".", ".") and a lazy unmount of the old root stacked under
//     the new one (no temporary directory inside the rootfs is needed), or
//     where pivot_root cannot work (a rootfs on initramfs) MS_MOVE + chroot,
//     which is weaker: the old root stays reachable for a process that can
//     escape a chroot (CAP_SYS_CHROOT).
WARD_CHILD_FN inline void child_rootfs(SpawnCtx* c) noexcept {
  const ChildPlan& p = *c->plan;
  const MountApi api = p.mount_api;
  long old_umask = sys::call(SYS_umask, 0);  // modes are exactly what the plan says
  long r = sys::call(SYS_mount, nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr);
  if (r < 0) child_report(c, Step::mount, r, "make / a recursive slave");
  MountFail f;
  long root;
  if (p.rootfs != nullptr) {
    long src = sys::call(SYS_openat, AT_FDCWD, p.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (src < 0) child_report(c, Step::rootfs, src, p.rootfs);
    if (api == MountApi::modern) {
      root = sys::call(mnt::nr_open_tree, src, "",
                       mnt::kOpenTreeClone | O_CLOEXEC | mnt::kAtEmptyPath | mnt::kAtRecursive);
      if (root < 0) child_report(c, Step::rootfs, root, "open_tree (rbind rootfs)");
      r = sys::call(mnt::nr_move_mount, root, "", src, "",
                    mnt::kMoveFEmptyPath | mnt::kMoveTEmptyPath);
      if (r < 0) child_report(c, Step::rootfs, r, "move_mount (rootfs onto itself)");
      if (p.rootfs_propagation != 0) {
        mnt::MountAttr a{0, 0, p.rootfs_propagation, 0};
        r = sys::call(mnt::nr_mount_setattr, root, "",
                      mnt::kAtEmptyPath | (p.rootfs_prop_recursive ? mnt::kAtRecursive : 0), &a,
                      sizeof a);
        if (r < 0) child_report(c, Step::rootfs, r, "rootfs propagation");
      }
    } else {
      r = legacy_mount(p.rootfs, src, nullptr, MS_BIND | MS_REC, nullptr);
      if (r < 0) child_report(c, Step::rootfs, r, "rbind rootfs onto itself");
      root = sys::call(SYS_openat, AT_FDCWD, p.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (root < 0) child_report(c, Step::rootfs, root, p.rootfs);
      if (p.rootfs_propagation != 0) {
        r = legacy_mount(nullptr, root, nullptr,
                         p.rootfs_propagation | (p.rootfs_prop_recursive ? MS_REC : 0), nullptr);
        if (r < 0) child_report(c, Step::rootfs, r, "rootfs propagation");
      }
    }
    close_fd(src);
  } else {
    root = sys::call(SYS_openat, AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) child_report(c, Step::rootfs, root, "/");
  }
  for (int i = 0; i < p.n_mounts; ++i) {
    r = mount_step(static_cast<int>(root), p.mounts[i], api, f);
    if (r < 0) child_report(c, Step::mount, r, f.text);
  }
  // After the mounts (the sandbox's devpts), before the root turns
  // read-only (/dev/console may have to be created).
  if (p.terminal_in_child) child_terminal(c, static_cast<int>(root));
  if (c->pivot_rd >= 0) child_pivot_pause(c);
  if (p.readonly_root) {
    if (api == MountApi::modern) {
      mnt::MountAttr a{mnt::kAttrRdonly, 0, 0, 0};
      r = sys::call(mnt::nr_mount_setattr, root, "", mnt::kAtEmptyPath, &a, sizeof a);
    } else {
      r = legacy_mount(nullptr, root, nullptr,
                       MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(root), nullptr);
    }
    if (r < 0) child_report(c, Step::rootfs, r, "read-only root");
  }
  if (p.rootfs != nullptr) {
    r = sys::call(SYS_fchdir, root);
    if (r < 0) child_report(c, Step::pivot_root, r, "fchdir rootfs");
    r = p.pivot == 1 ? -EINVAL : sys::call(SYS_pivot_root, ".", ".");
    if (r == 0) {
      r = sys::call(SYS_umount2, ".", MNT_DETACH);
      if (r < 0) child_report(c, Step::pivot_root, r, "detach the old root");
    } else if (p.pivot != 0 && r == -EINVAL) {
      r = sys::call(SYS_mount, ".", "/", nullptr, MS_MOVE, nullptr);
      if (r < 0) child_report(c, Step::pivot_root, r, "MS_MOVE rootfs to /");
      r = sys::call(SYS_chroot, ".");
      if (r < 0) child_report(c, Step::pivot_root, r, "chroot");
    } else {
      child_report(c, Step::pivot_root, r,
                   r == -EINVAL ? "pivot_root (a rootfs on initramfs needs the chroot fallback)"
                                : "pivot_root");
    }
    r = sys::call(SYS_chdir, "/");
    if (r < 0) child_report(c, Step::pivot_root, r, "chdir /");
  }
  close_fd(root);
  sys::call(SYS_umask, old_umask);
}

// Resource limits, scheduling and other per-process attributes, applied
// while we still hold our capabilities (lowering oom_score_adj, a realtime
// policy or a nice value below 0 need them).
WARD_CHILD_FN inline void child_attributes(SpawnCtx* c) noexcept {
  const ChildPlan& p = *c->plan;
  long r;
  for (int i = 0; i < p.n_rlimits; ++i) {
    struct {
      std::uint64_t cur, max;
    } lim{p.rlimits[i].soft, p.rlimits[i].hard};
    r = sys::call(SYS_prlimit64, 0, p.rlimits[i].resource, &lim, nullptr);
    if (r < 0) child_report(c, Step::rlimit, r, p.rlimits[i].name);
  }
  if (p.set_personality) {
    r = sys::call(SYS_personality, p.personality);
    if (r < 0) child_report(c, Step::validate, r, "personality");
  }
  if (p.umask >= 0) sys::call(SYS_umask, p.umask);
  if (p.set_nice) {
    r = sys::call(SYS_setpriority, PRIO_PROCESS, 0, p.nice);
    if (r < 0) child_report(c, Step::validate, r, "setpriority (nice)");
  }
  if (p.set_sched) {
    struct sched_param sp {};
    sp.sched_priority = p.sched_priority;
    r = sys::call(SYS_sched_setscheduler, 0, p.sched_policy, &sp);
    if (r < 0) child_report(c, Step::validate, r, "sched_setscheduler");
  }
  if (p.set_sched_attr) {
#ifndef SYS_sched_setattr
#error "SYS_sched_setattr is not defined for this architecture"
#endif
    KernelSchedAttr a = p.sched_attr;
    r = sys::call(SYS_sched_setattr, 0, &a, 0);
    if (r < 0) child_report(c, Step::validate, r, "sched_setattr");
  }
  if (p.set_ioprio) {
    r = sys::call(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, p.ioprio);
    if (r < 0) child_report(c, Step::validate, r, "ioprio_set");
  }
  if (p.cpu_mask != nullptr) {
    r = sys::call(SYS_sched_setaffinity, 0, p.cpu_mask_bytes, p.cpu_mask);
    if (r < 0) child_report(c, Step::validate, r, "sched_setaffinity");
  }
}

// Credentials, in the order the kernel needs (capabilities(7)): drop from
// the bounding set while we still have CAP_SETPCAP; keep the permitted set
// across the uid change (PR_SET_KEEPCAPS); change groups, gid, uid; then
// capset the exact effective/permitted/inheritable sets; raise ambient last
// (it needs the bits permitted and inheritable).
WARD_CHILD_FN inline void child_credentials(SpawnCtx* c) noexcept {
  const ChildPlan& p = *c->plan;
  long r;
  if (p.set_caps) {
    for (int cap = 0; cap <= p.cap_last; ++cap) {
      if ((p.cap_bounding >> cap) & 1) continue;
      r = sys::call(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0);
      if (r < 0 && r != -EINVAL) child_report(c, Step::capabilities, r, "PR_CAPBSET_DROP");
    }
  }
  if (p.set_securebits) {
    r = sys::call(SYS_prctl, PR_SET_SECUREBITS, p.securebits, 0, 0, 0);
    if (r < 0) child_report(c, Step::capabilities, r, "PR_SET_SECUREBITS");
  }
  bool keep = p.set_caps && p.set_ids && p.uid != 0;
  if (keep) {
    r = sys::call(SYS_prctl, PR_SET_KEEPCAPS, 1, 0, 0, 0);
    if (r < 0) child_report(c, Step::capabilities, r, "PR_SET_KEEPCAPS");
  }
  if (p.set_groups) {
    r = sys::call(SYS_setgroups, p.n_groups, p.groups);
    if (r < 0) child_report(c, Step::setgroups, r, "supplementary groups");
  } else if (p.set_ids && p.clear_groups) {
    r = sys::call(SYS_setgroups, 0, nullptr);
    if (r < 0) child_report(c, Step::setgroups, r, "clear supplementary groups");
  }
  if (p.set_ids) {
    r = sys::call(SYS_setresgid, p.gid, p.gid, p.gid);
    if (r < 0) child_report(c, Step::setresgid, r, "gid");
    r = sys::call(SYS_setresuid, p.uid, p.uid, p.uid);
    if (r < 0) child_report(c, Step::setresuid, r, "uid");
  }
  if (p.set_caps) {
    CapHeader hdr;
    CapData data[2];
    for (int i = 0; i < 2; ++i) {
      data[i].effective = static_cast<std::uint32_t>(p.cap_effective >> (32 * i));
      data[i].permitted = static_cast<std::uint32_t>(p.cap_permitted >> (32 * i));
      data[i].inheritable = static_cast<std::uint32_t>(p.cap_inheritable >> (32 * i));
    }
    r = sys::call(SYS_capset, &hdr, data);
    if (r < 0) child_report(c, Step::capabilities, r, "capset");
    r = sys::call(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (r < 0 && r != -EINVAL) child_report(c, Step::capabilities, r, "PR_CAP_AMBIENT_CLEAR_ALL");
    for (int cap = 0; cap <= p.cap_last; ++cap) {
      if (((p.cap_ambient >> cap) & 1) == 0) continue;
      r = sys::call(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
      if (r < 0) child_report(c, Step::capabilities, r, "PR_CAP_AMBIENT_RAISE");
    }
    if (keep) sys::call(SYS_prctl, PR_SET_KEEPCAPS, 0, 0, 0, 0);
  }
}

// Sandbox::sealed_exec, part one: the report pipe onto the number the
// trampoline's argv names (trampoline_report_fd, above every kept
// descriptor), inherited: the trampoline marks it close-on-exec itself and
// reports there if no candidate execs.
WARD_CHILD_FN inline void child_trampoline_prepare(SpawnCtx* c) noexcept {
  const int want = c->plan->trampoline_report_fd;
  long r;
  if (c->tramp_fd == want) {
    r = sys::call(SYS_fcntl, want, F_DUPFD_CLOEXEC, want + 1);
    if (r < 0) child_report(c, Step::exec, r, "move the exec trampoline");
    c->tramp_fd = static_cast<int>(r);  // dup3 below replaces the old number
  }
  if (c->report_wr == want) {
    r = sys::call(SYS_fcntl, want, F_SETFD, 0);
  } else {
    r = sys::call(SYS_dup3, c->report_wr, want, 0);
    if (r >= 0) {
      sys::call(SYS_close, c->report_wr);
      c->report_wr = want;
    }
  }
  if (r < 0) child_report(c, Step::exec, r, "report pipe for the exec trampoline");
}

// Between the parts: tell the parent that only failures can follow (see
// spawn_plan). Not after a start gate: spawn returned at kMsgReady and
// nobody reads the pipe any more (the write would raise SIGPIPE).
WARD_CHILD_FN inline void child_announce_exec(SpawnCtx* c) noexcept {
  if (c->plan->start_gate_fd >= 0) return;
  if (child_send(c, kMsgExecing, 0) < 0) sys::exit_group(127);
}

// Part two (a message after the announcement comes from the trampoline, or
// from someone who took its descriptor): exec the trampoline.
// /proc/self/exe is the sealed memfd from here on
// (detail/exec_trampoline.hpp).
[[noreturn]] WARD_CHILD_FN inline void child_trampoline_exec(SpawnCtx* c) noexcept {
  const ChildPlan& p = *c->plan;
  long r = sys::call(SYS_execveat, c->tramp_fd, "", p.trampoline_argv, p.envp, AT_EMPTY_PATH);
  child_report(c, Step::exec, r, "execveat of the exec trampoline (a sealed memfd)");
}

// With a seccomp filter, the filter is the very last thing installed, and
// from then on every system call of ours passes through it: a strict
// profile may deny even the write(2) that reports a failure. So the
// program to exec is chosen (and checked) before the filter goes on, and
// only execve itself runs under it.
[[noreturn]] WARD_CHILD_FN inline void child_seccomp_exec(SpawnCtx* c) noexcept {
  const ChildPlan& p = *c->plan;
  const char* chosen = nullptr;
  long err = -ENOENT;
  for (int i = 0; i < p.n_candidates && chosen == nullptr; ++i) {
    struct stat st;
    long r = sys::call(SYS_newfstatat, AT_FDCWD, p.exec_candidates[i], &st, 0);
    if (r == 0 && !S_ISREG(st.st_mode)) r = -EACCES;
    if (r == 0) r = sys::call(SYS_faccessat, AT_FDCWD, p.exec_candidates[i], X_OK);
    if (r == 0) {
      chosen = p.exec_candidates[i];
    } else if (r == -EACCES || err == -ENOENT) {
      err = r;
    }
  }
  if (chosen == nullptr) child_report(c, Step::exec, err, p.argv[0]);
  if (c->tramp_fd >= 0) child_trampoline_prepare(c);  // before the listener takes a number
  if (p.seccomp_listener) {
    // The listener will take the lowest free descriptor: everything below
    // the report pipe that is not a kept fd. Tell the parent which, so it
    // can take it with pidfd_getfd(2) while we wait in execve.
    int fd = 0;
    while (sys::call(SYS_fcntl, fd, F_GETFD) != -EBADF) ++fd;
    if (child_send(c, kMsgListener, fd) < 0) sys::exit_group(127);
  }
  if (c->tramp_fd >= 0) child_announce_exec(c);
  long r = seccomp_install_raw(p.seccomp, p.seccomp_flags);
  if (r < 0) child_report(c, Step::seccomp, r, "SECCOMP_SET_MODE_FILTER");
  if (c->tramp_fd >= 0) child_trampoline_exec(c);
  r = sys::call(SYS_execve, chosen, p.argv, p.envp);
  child_report(c, Step::exec, r, chosen);  // best effort: the filter may deny it
}

// The process that execs: credentials, names, network, fds, then execve.
WARD_CHILD_FN inline int child_final(void* arg) noexcept {
  // A second stage gets stage one's copy; copy again, stage one still uses it.
  SpawnCtx local = *static_cast<const SpawnCtx*>(arg);
  SpawnCtx* c = &local;
  const ChildPlan& p = *c->plan;
  long r;

  if (c->stage2_pid != nullptr && child_send(c, kMsgStage2, *c->stage2_pid) < 0)
    sys::exit_group(127);
  if (p.nondumpable_setup) {
    // Only in fork mode (the builder ensures it): dumpable is a property of
    // the mm, which a CLONE_VM child shares with its parent (for that, see
    // Nondumpable::caller). It stays so until execve, which decides again
    // (prctl(2) PR_SET_DUMPABLE), the start gate's wait included.
    r = sys::call(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (r < 0) child_report(c, Step::capabilities, r, "PR_SET_DUMPABLE 0");
  }
  if (p.hostname != nullptr) {
    r = sys::call(SYS_sethostname, p.hostname, p.hostname_len);
    if (r < 0) child_report(c, Step::hostname, r, p.hostname);
  }
  if (p.domainname != nullptr) {
    r = sys::call(SYS_setdomainname, p.domainname, p.domainname_len);
    if (r < 0) child_report(c, Step::domainname, r, p.domainname);
  }
  if (p.loopback) {
    r = loopback_up();
    if (r < 0) child_report(c, Step::loopback, r, "RTM_NEWLINK lo up");
  }
  for (int i = 0; i < p.n_sysctls; ++i) {
    const SysctlRaw& sc = p.sysctls[i];
    r = child_write_proc(sc.path, sc.value, sc.len);
    if (r < 0) child_report(c, Step::validate, r, sc.path);
  }
  if (p.new_time) {
    // unshare(CLONE_NEWTIME) makes the namespace for our children only;
    // offsets can only be written before any process enters it
    // (time_namespaces(7)). Then we enter it ourselves with setns on
    // time_for_children: newer kernels would also switch at execve, but
    // 6.1 (Debian 12) does not, and the offsets would silently not apply.
    // setns into a time namespace needs an mm of our own, so plans with a
    // new time namespace run in fork mode (Sandbox::plan).
    r = sys::call(SYS_unshare, kCloneNewTime);
    if (r < 0) child_report(c, Step::unshare, r, "time namespace");
    if (p.time_offsets_len > 0) {
      r = child_write_proc("/proc/self/timens_offsets", p.time_offsets, p.time_offsets_len);
      if (r < 0) child_report(c, Step::time_offsets, r, p.time_offsets);
    }
    if (!p.hold) {
      long fd =
          sys::call(SYS_openat, AT_FDCWD, "/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
      if (fd < 0) child_report(c, Step::setns, fd, "/proc/self/ns/time_for_children");
      r = sys::call(SYS_setns, fd, kCloneNewTime);
      sys::call(SYS_close, fd);
      if (r < 0) child_report(c, Step::setns, r, "enter the new time namespace");
    }
  }
  // Before the mounts: the container may have no /proc of its own.
  if (p.oom_score_adj != nullptr) {
    r = child_write_proc("/proc/self/oom_score_adj", p.oom_score_adj,
                         sys::cstrlen(p.oom_score_adj));
    if (r < 0) child_report(c, Step::validate, r, "/proc/self/oom_score_adj");
  }
  if (p.mount_setup) {
    child_rootfs(c);
  } else if (p.terminal_in_child) {
    // A joined mount namespace (a runtime's exec): "/" is its root.
    long root = sys::call(SYS_openat, AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) child_report(c, Step::terminal, root, "/");
    child_terminal(c, static_cast<int>(root));
    close_fd(root);
  }
  if (c->pivot_rd >= 0 && !p.mount_setup) child_pivot_pause(c);
  if (p.hold) {
    // Namespace::create: everything is in place; wait until the parent has
    // opened what it needs and closes the sync pipe.
    child_send(c, kMsgReady, 0);
    char b;
    sys::read_full(c->sync_rd, &b, 1);
    sys::exit_group(0);
  }
  child_attributes(c);
  if (p.seccomp != nullptr && p.seccomp_early) {
    // SeccompOptions::before_credentials: while we still hold
    // CAP_SYS_ADMIN, which a filter needs without no_new_privs.
    r = seccomp_install_raw(p.seccomp, p.seccomp_flags);
    if (r < 0) child_report(c, Step::seccomp, r, "SECCOMP_SET_MODE_FILTER (before credentials)");
  }
  child_credentials(c);
  // After the credentials: changing them clears the parent-death signal
  // (prctl(2), PR_SET_PDEATHSIG).
  if (p.pdeathsig != 0) {
    r = sys::call(SYS_prctl, PR_SET_PDEATHSIG, p.pdeathsig, 0, 0, 0);
    if (r < 0) child_report(c, Step::pdeathsig, r, "PR_SET_PDEATHSIG");
  }
  if (p.new_session) {
    r = sys::call(SYS_setsid);
    if (r < 0) child_report(c, Step::setsid, r, "setsid");
  }
  // no_new_privs and Landlock before the descriptors are closed (the
  // ruleset is one of them); both are inherited by everything after.
  if (p.no_new_privs) {
    r = sys::call(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (r < 0) child_report(c, Step::seccomp, r, "PR_SET_NO_NEW_PRIVS");
  }
  if (p.landlock_fd >= 0) {
    r = landlock_restrict_raw(p.landlock_fd, p.landlock_flags);
    if (r < 0) child_report(c, Step::landlock, r, "landlock_restrict_self");
  }
  if (c->go_rd >= 0) {
    // Sandbox::before_exec: the parent's part runs meanwhile; nothing of
    // the program runs before it is done.
    char go = 0;
    r = sys::read_full(c->go_rd, &go, 1);
    if (r != 1) sys::exit_group(127);  // it failed: the parent reports why
    sys::call(SYS_close, c->go_rd);
  }
  child_fds(c);
  if (p.terminal) {
    const char* what = "controlling terminal";
    r = make_controlling_terminal(0, &what);
    if (r < 0) child_report(c, Step::io, r, what);
  }
  if (p.cwd != nullptr) {
    r = sys::call(SYS_chdir, p.cwd);
    if (r < 0) child_report(c, Step::chdir, r, p.cwd);
    // The working directory must be inside our root. Every descriptor but
    // the kept ones is closed by now (child_fds), so a cwd such as
    // /proc/self/fd/N cannot reach a runtime's directory; this checks the
    // result itself, whatever path got there (CVE-2024-21626: a leaked host
    // directory descriptor as process.cwd left the process outside the
    // container's root). getcwd(2): a directory not reachable from the
    // root comes back as "(unreachable)/..." (Linux 2.6.36), an unlinked
    // one as ENOENT. Test: attack."CVE-2024-21626: ..." (cve_attack_test.cpp).
    char cwd[4096];
    r = sys::call(SYS_getcwd, cwd, sizeof cwd);
    if (r >= 0 && (r == 0 || cwd[0] != '/')) r = -EXDEV;
    if (r < 0)
      child_report(c, Step::chdir, r, "the working directory is outside the root (getcwd)");
  }
  if (c->gate_fd >= 0) {
    // A runtime's `create`: everything that can fail is done or checked
    // (descriptors arranged and the rest closed, so the waiting process
    // holds none of the runtime's pipes; terminal; working directory; an
    // executable to run), so `create` can report it. Then tell the parent
    // we are ready and wait for `start`.
    long found = -ENOENT;
    for (int i = 0; i < p.n_candidates && found != 0; ++i) {
      r = sys::call(SYS_faccessat, AT_FDCWD, p.exec_candidates[i], X_OK, 0);
      if (r == 0 || found == -ENOENT) found = r;
    }
    if (found < 0) child_report(c, Step::exec, found, p.argv[0]);
    if (child_send(c, kMsgReady, 0) < 0) sys::exit_group(127);
    char go;
    do r = sys::call(SYS_read, c->gate_fd, &go, 1);
    while (r == -EINTR);
    if (r != 1) sys::exit_group(127);  // the gate was closed: never started
    sys::call(SYS_close, c->gate_fd);
  }
  std::uint64_t none = 0;
  r = sys::call(SYS_rt_sigprocmask, SIG_SETMASK, &none, nullptr, sizeof none);
  if (r < 0) child_report(c, Step::sigmask, r, "unblock signals");
  if (p.seccomp != nullptr && !p.seccomp_early) child_seccomp_exec(c);  // does not return
  if (c->tramp_fd >= 0) {
    child_trampoline_prepare(c);
    child_announce_exec(c);
    child_trampoline_exec(c);
  }

  // execvp semantics over the candidates the parent resolved from PATH:
  // ENOENT/ENOTDIR/EACCES move on to the next directory, anything else is
  // final; EACCES is reported if no candidate worked and one said so.
  long err = -ENOENT;
  const char* failed = p.argv[0];
  bool saw_eacces = false;
  for (int i = 0; i < p.n_candidates; ++i) {
    r = sys::call(SYS_execve, p.exec_candidates[i], p.argv, p.envp);
    failed = p.exec_candidates[i];
    err = r;
    if (r == -EACCES) {
      saw_eacces = true;
      continue;
    }
    if (r != -ENOENT && r != -ENOTDIR) break;
  }
  if (saw_eacces && (err == -ENOENT || err == -ENOTDIR)) err = -EACCES;
  child_report(c, Step::exec, err, p.n_candidates > 1 ? p.argv[0] : failed);
}

// --------------------------------------------------------------- parent side

// Kernel features probed once, on first use (the builder reports what is
// missing rather than failing obscurely).
inline std::atomic<int>& clear_sighand_supported() {
  static std::atomic<int> v{-1};  // -1 unknown, 0 no, 1 yes
  return v;
}
// CLONE_INTO_CGROUP (Linux 5.7). WARD_CLONE_INTO_CGROUP=0 in the
// environment forces the fallback (the tests cover both paths).
inline std::atomic<int>& into_cgroup_supported() {
  static std::atomic<int> v{[] {
    const char* e = ::getenv("WARD_CLONE_INTO_CGROUP");
    return e != nullptr && e[0] == '0' ? 0 : -1;
  }()};
  return v;
}

// The caller's "dumpable" flag across CLONE_VM spawns. It belongs to the
// mm, which our child shares until execve, and a credential change marks
// the mm with fs.suid_dumpable (kernel/cred.c, commit_creds; prctl(2)
// PR_SET_DUMPABLE): a child that takes another uid (Sandbox::user, or a
// user namespace whose root is not the caller) leaves the CALLER
// non-dumpable: no core dumps, /proc/self owned by root, no ptrace by its
// own user. That mark is also what keeps the caller's memory from that
// other uid while the child runs with it and still shares the mm
// (ptrace(2), "Ptrace access mode checking"), so it may only be undone
// once no child of ours shares the mm any more: the last spawn in flight
// puts back what the caller had before the first one began. A caller that
// sets its own dumpable while spawns run may see that undone; it asks for
// Nondumpable::caller instead, which is kept. Test: root "caller: no
// builder option changes the caller's observable state" (user, uid_map...).
class CallerDumpable {
 public:
  // Called before clone3. nondumpable_caller: Nondumpable::caller, which
  // makes the caller non-dumpable for good.
  static void enter(bool nondumpable_caller) {
    auto& s = state();
    std::lock_guard lock(s.mu);
    if (s.in_flight++ == 0) s.saved = ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    if (nondumpable_caller) {
      s.saved = 0;
      if (::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0 && ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        --s.in_flight;
        throw_errno(Step::capabilities, "prctl(PR_SET_DUMPABLE, 0)",
                    "nondumpable_setup: the caller");
      }
    }
  }
  // Called once no process of the spawn shares the mm (exec'd or reaped).
  // still_shared: a process of it may still run on our mm (an unwound
  // spawn whose second stage could not be reaped): then nothing is undone,
  // ever, which is the safe side.
  static void leave(bool still_shared) noexcept {
    auto& s = state();
    std::lock_guard lock(s.mu);
    if (still_shared) {
      s.poisoned = true;
      return;
    }
    // PR_SET_DUMPABLE takes 0 or 1 only; a 2 (suid_dumpable) stays as is.
    if (--s.in_flight == 0 && !s.poisoned && (s.saved == 0 || s.saved == 1) &&
        ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != s.saved)
      ::prctl(PR_SET_DUMPABLE, s.saved, 0, 0, 0);
  }

 private:
  struct State {
    std::mutex mu;
    int in_flight = 0;
    int saved = 1;
    bool poisoned = false;
  };
  static State& state() {
    static State s;
    return s;
  }
};

struct SpawnResult {
  UniqueFd pidfd;
  pid_t pid = -1;
  UniqueFd seccomp_listener;  // when the filter has USER_NOTIF rules
  UniqueFd terminal;          // ChildPlan::terminal_in_child: the pty master it sent
};

// Called in hold mode with the pid whose namespaces are ready.
using HoldFn = void (*)(pid_t pid, void* ctx);

inline UniqueFd make_pipe_pair(UniqueFd& write_end, const char* what) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw_errno(Step::pipe, what);
  write_end.reset(p[1]);
  return UniqueFd(p[0]);
}

inline void write_proc_file(pid_t pid, const char* name, const std::string& text, Step step) {
  std::string path = "/proc/" + std::to_string(pid) + "/" + name;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) throw_errno(step, path);
  // One write: the kernel accepts a map only as a single write(2)
  // (user_namespaces(7), "Defining user and group ID mappings").
  ssize_t n = ::write(fd.get(), text.data(), text.size());
  if (n < 0) {
    std::string shown = text;
    while (!shown.empty() && shown.back() == '\n') shown.pop_back();
    for (auto& ch : shown)
      if (ch == '\n') ch = ';';
    throw_errno(step, path, "writing '" + shown + "'");
  }
}

inline void write_id_maps(pid_t pid, const PlanData& pd) {
  // setgroups must be "deny" before an unprivileged process may write
  // gid_map (user_namespaces(7), "Interaction with setgroups").
  if (pd.setgroups_deny) write_proc_file(pid, "setgroups", "deny", Step::setgroups_file);
  if (!pd.uid_map.empty()) write_proc_file(pid, "uid_map", pd.uid_map, Step::uid_map);
  if (!pd.gid_map.empty()) write_proc_file(pid, "gid_map", pd.gid_map, Step::gid_map);
}

#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

// Takes the child's seccomp listener (descriptor `fd_no` in the child) with
// pidfd_getfd(2) (Linux 5.6). The child announces the number just before it
// installs the filter, so retry briefly until it exists; stop early if the
// child reports something instead (its message stays in the pipe).
inline UniqueFd take_listener(int pidfd, int fd_no, int report_rd) {
  for (int attempt = 0; attempt < 20000; ++attempt) {
    long fd = ::syscall(SYS_pidfd_getfd, pidfd, fd_no, 0);
    if (fd >= 0) {
      UniqueFd got(static_cast<int>(fd));
      char link[64] = {};
      std::string self = "/proc/self/fd/" + std::to_string(fd);
      ssize_t n = ::readlink(self.c_str(), link, sizeof link - 1);
      if (n > 0 &&
          std::string_view(link, static_cast<std::size_t>(n)) == "anon_inode:seccomp notify")
        return got;
      // Something else is there: the filter is not installed yet.
    } else if (errno == ENOSYS) {
      throw Error(Step::seccomp, ENOSYS, "pidfd_getfd",
                  "taking the seccomp listener from the child needs Linux 5.6");
    } else if (errno != EBADF) {
      throw_errno(Step::seccomp, "pidfd_getfd", "take the seccomp listener from the child");
    }
    pollfd pf{report_rd, POLLIN, 0};
    if (::poll(&pf, 1, 0) > 0) return UniqueFd();  // the child has news: a failure
    ::usleep(attempt < 100 ? 10 : 100);
  }
  throw Error(Step::seccomp, ETIMEDOUT, "seccomp listener", "the child never installed its filter");
}

// The pty master a child sent with child_terminal (SCM_RIGHTS, one byte).
inline UniqueFd receive_terminal(int sock) {
  char byte = 0;
  OneFdMsg m(&byte, 1);
  ssize_t n;
  do n = ::recvmsg(sock, &m.msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) throw_errno(Step::terminal, "terminal socket", "receive the pty master");
  UniqueFd fd(m.fd());
  if (n != 1 || !fd)
    throw Error(Step::terminal, EPROTO, "terminal socket", "the child sent no pty master");
  return fd;
}

// The exec gate (see Sandbox::plan_seccomp): the child's own execve waits in
// USER_NOTIF until we answer CONTINUE, once. A later call that reaches the
// gate gets ENOSYS once the listener is closed, or the caller's answer if
// the caller keeps the listener.
// `nr`: SYS_execve, or SYS_execveat when the first exec is the trampoline's
// (Sandbox::sealed_exec).
inline void pass_first_exec(int listener, pid_t child, int report_rd, long nr) {
  for (;;) {
    pollfd pf[2] = {{listener, POLLIN, 0}, {report_rd, POLLIN, 0}};
    int r = ::poll(pf, 2, -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw_errno(Step::seccomp, "poll listener");
    if (pf[1].revents != 0) return;  // the child failed before exec: read why
    if ((pf[0].revents & POLLIN) == 0) return;
    seccomp_notif n;
    std::memset(&n, 0, sizeof n);
    if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &n) != 0) {
      if (errno == EINTR || errno == ENOENT) continue;
      throw_errno(Step::seccomp, "SECCOMP_IOCTL_NOTIF_RECV");
    }
    seccomp_notif_resp resp{};
    resp.id = n.id;
    bool ours = static_cast<pid_t>(n.pid) == child && n.data.nr == nr;
    if (ours) {
      resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    } else {
      resp.error = -ENOSYS;
    }
    ::ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
    if (ours) return;
  }
}

// Runs one spawn of `pd`. `slot_child`/`slot_parent` are the per-spawn
// stdio pipe ends (-1 where unused); the parent ends stay with the caller.
inline SpawnResult spawn_plan(const PlanData& pd, const int slot_child[3], const int slot_parent[3],
                              HoldFn hold = nullptr, void* hold_ctx = nullptr) {
  const ChildPlan& p = pd.child;
  UniqueFd report_wr, sync_wr;
  UniqueFd report_rd = make_pipe_pair(report_wr, "report pipe");
  UniqueFd sync_rd;
  if (p.need_parent || p.hold) sync_rd = make_pipe_pair(sync_wr, "sync pipe");
  // Sandbox::before_exec. The parent keeps its read end open until it has
  // written: a child that died meanwhile must not turn that write into a
  // SIGPIPE.
  UniqueFd go_wr, go_rd;
  if (pd.before_exec) go_rd = make_pipe_pair(go_wr, "before_exec pipe");
  // The sandbox's own pty: the child sends its master over this pair.
  UniqueFd term_parent, term_child;
  if (p.terminal_in_child) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
      throw_errno(Step::pipe, "terminal socket pair");
    term_parent.reset(sv[0]);
    term_child.reset(sv[1]);
  }

  bool vm = !pd.fork_mode && WARD_HAVE_RAW_SYSCALL;
  // 64 KiB is several times what the child uses (its largest frame holds a
  // 4 KiB getdents buffer); the guard page catches mistakes. The stacks are
  // kept per thread and reused: mapping, guarding, faulting in and
  // unmapping them cost ~11 us per spawn (bench/README.md). Reuse is safe
  // for the reason unmapping was: when spawn_plan returns or throws, no
  // child runs on them any more (EOF on the report pipe, or reaped).
  constexpr std::size_t kStack = 64 * 1024;
  thread_local std::optional<StackArea> cached_stacks;
  std::optional<StackArea> stacks;
  struct GiveBack {
    std::optional<StackArea>& from;
    std::optional<StackArea>& to;
    ~GiveBack() {
      if (from && !to) to.emplace(std::move(*from));
    }
  } give_back{stacks, cached_stacks};
  if (vm) {
    const int needed = p.two_stage ? 2 : 1;
    if (cached_stacks && cached_stacks->count() >= needed) {
      stacks.emplace(std::move(*cached_stacks));
      cached_stacks.reset();
    } else {
      stacks.emplace(kStack, needed);
    }
  }

  SpawnCtx ctx{};
  ctx.plan = &p;
  ctx.report_wr = report_wr.get();
  ctx.report_rd = report_rd.get();
  ctx.sync_rd = sync_rd.get();
  ctx.sync_wr = sync_wr.get();
  ctx.go_rd = go_rd.get();
  ctx.go_wr = go_wr.get();
  for (int i = 0; i < 3; ++i) {
    ctx.slot_child[i] = slot_child[i];
    ctx.slot_parent[i] = slot_parent[i];
  }
  ctx.vm = vm;
  ctx.gate_fd = -1;
  ctx.tramp_fd = -1;
  ctx.term_sock = term_child ? term_child.get() : -1;
  UniqueFd pivot_wr, pivot_rd;
  if (pd.before_pivot) pivot_rd = make_pipe_pair(pivot_wr, "before_pivot pipe");
  ctx.pivot_rd = pivot_rd ? pivot_rd.get() : -1;
  ctx.pivot_wr = pivot_wr ? pivot_wr.get() : -1;
  if (vm && p.two_stage) {
    ctx.stage2_stack = stacks->base(1);
    ctx.stage2_stack_size = stacks->size();
  }

  // CLONE_VM: the child's credential change marks our mm (CallerDumpable).
  // Declared before the UnwindGuard so that it leaves after the guard has
  // killed and reaped.
  struct DumpableScope {
    bool active;
    bool still_shared = false;
    ~DumpableScope() {
      if (active) CallerDumpable::leave(still_shared);
    }
  } dumpable_scope{false};
  if (vm) {
    CallerDumpable::enter(pd.nondumpable_caller);
    dumpable_scope.active = true;
  } else if (pd.nondumpable_caller && ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0 &&
             ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    throw_errno(Step::capabilities, "prctl(PR_SET_DUMPABLE, 0)", "nondumpable_setup: the caller");
  }
  int pidfd_raw = -1;
  long pid;
  for (;;) {
    bool clear = clear_sighand_supported().load(std::memory_order_relaxed) != 0;
    ctx.reset_signals = !clear;
    CloneArgs a{};
    a.flags = CLONE_PIDFD | pd.clone_flags | (vm ? CLONE_VM : 0) | (clear ? kCloneClearSighand : 0);
    bool into = pd.cgroup_fd && into_cgroup_supported().load(std::memory_order_relaxed) != 0;
    ctx.cgroup_fd = -1;
    ctx.unshare_cgroup = false;
    if (into) {
      a.flags |= kCloneIntoCgroup;
      a.cgroup = static_cast<std::uint64_t>(pd.cgroup_fd.get());
    } else if (pd.cgroup_fd) {
      // The child joins the cgroup itself; a cgroup namespace made at
      // clone would be rooted at our cgroup instead of its own.
      ctx.cgroup_fd = pd.cgroup_fd.get();
      ctx.unshare_cgroup = (a.flags & CLONE_NEWCGROUP) != 0;
      a.flags &= ~static_cast<std::uint64_t>(CLONE_NEWCGROUP);
    }
    a.pidfd = reinterpret_cast<std::uint64_t>(&pidfd_raw);
    a.exit_signal = SIGCHLD;
    if (vm) {
      a.stack = stacks->base(0);
      a.stack_size = stacks->size();
    }
    // Block every signal across clone3: the child must not run one of the
    // parent's handlers (on shared memory) before it has reset them.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid = clone3_run(&a, &child_entry, &ctx);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (pid == -EINVAL && clear && clear_sighand_supported().load() == -1) {
      // Linux 5.3/5.4 have clone3 without CLONE_CLEAR_SIGHAND: the child
      // then resets handlers itself.
      clear_sighand_supported().store(0);
      continue;
    }
    if (pid == -E2BIG && into && into_cgroup_supported().load() == -1) {
      // Linux 5.3-5.6: clone3 without CLONE_INTO_CGROUP, whose clone_args
      // is larger than those kernels know (copy_struct_from_user: E2BIG).
      into_cgroup_supported().store(0);
      continue;
    }
    if (pid > 0 && clear) clear_sighand_supported().store(1);
    if (pid > 0 && into) into_cgroup_supported().store(1);
    break;
  }
  if (pid < 0) {
    int e = static_cast<int>(-pid);
    if (e == ENOSYS) throw Error(Step::clone, e, "clone3", "ward needs Linux 5.3 or newer");
    std::string why;
    if (e == EPERM || e == ENOSPC || e == EUSERS)
      why = "creating these namespaces was refused (privileges, or a namespace count limit)";
    if (e == EINVAL && pd.cgroup_fd) why = "the cgroup descriptor is not a cgroup v2 directory";
    if (e == EBUSY && pd.cgroup_fd) why = "the target cgroup has controllers enabled for children";
    throw Error(Step::clone, e, "child", why);
  }
  UniqueFd pidfd(pidfd_raw);
  UniqueFd final_pidfd;  // two stages: the process that execs
  pid_t final_pid = -1;
  // From here on, whatever leaves this function before the child has
  // exec'd or reached its start gate, however it leaves (a failed step, an
  // exception of any type from a callback or an allocation, the forced
  // unwind of pthread_cancel(3)), passes through this guard: it kills and
  // reaps every process of this spawn, so none is left behind and none
  // runs on the stacks that go back to the thread's cache. A second stage
  // that stage one cloned but could not name before it was killed may
  // still run on its stack: then the stacks are never reused nor unmapped
  // (leaked), which is safe. Tests: unit.spawn "... any unwind ..." cases.
  struct UnwindGuard {
    UniqueFd& first;
    UniqueFd& final;
    std::optional<StackArea>& stacks;
    bool two_stage;
    bool& still_shared;
    bool armed = true;
    bool all_closed = false;  // EOF on the report pipe: no process of ours uses the stacks
    ~UnwindGuard() {
      if (!armed) return;
      if (final) kill_and_reap(final.get());
      kill_and_reap(first.get());
      if (two_stage && !final && !all_closed && stacks) {
        stacks->leak();
        stacks.reset();  // nothing goes back to the cache
        still_shared = true;
      }
    }
  } guard{pidfd, final_pidfd, stacks, p.two_stage, dumpable_scope.still_shared};
  report_wr.reset();
  sync_rd.reset();
  term_child.reset();
  if (p.need_parent && p.ns_at_clone) {
    // The user namespace exists since clone3 returned: write the maps now
    // and release the child, without waiting for it to ask (one wake-up
    // fewer; measured ~20-40 us here).
    write_id_maps(static_cast<pid_t>(pid), pd);
    char go = 1;
    if (::write(sync_wr.get(), &go, 1) != 1) throw_errno(Step::sync, "sync pipe");
  }

  // Sandbox::before_exec, while the child sets up; then the byte that lets
  // it go on. In two stages, once the process that execs is known (so that
  // a failure kills and reaps it too). What it throws leaves through the
  // guard: the child is killed and reaped, then the exception goes on.
  bool before_exec_pending = static_cast<bool>(pd.before_exec);
  auto run_before_exec = [&] {
    before_exec_pending = false;
    pd.before_exec();
    char go = 1;
    if (::write(go_wr.get(), &go, 1) != 1) throw_errno(Step::sync, "before_exec pipe");
    go_wr.reset();
    go_rd.reset();
  };
  if (before_exec_pending && !p.two_stage) run_before_exec();

  // Talk to the child until EOF.
  Msg m;
  bool failed = false;
  bool at_gate = false;  // a gated child said it waits for its start
  bool execing = false;  // kMsgExecing came: only failures may follow
  Msg failure{};
  UniqueFd listener;
  int pending_listener = -1;
  for (;;) {
    if (before_exec_pending && final_pidfd) run_before_exec();
    // The listener comes from the process that execs, so in two stages it
    // waits until stage one has said which process that is.
    if (pending_listener >= 0 && (!p.two_stage || final_pidfd)) {
      int target = p.two_stage ? final_pidfd.get() : pidfd.get();
      listener = take_listener(target, pending_listener, report_rd.get());
      pending_listener = -1;
      if (listener && pd.seccomp_exec_gate)
        pass_first_exec(listener.get(), p.two_stage ? final_pid : static_cast<pid_t>(pid),
                        report_rd.get(), p.trampoline_fd >= 0 ? SYS_execveat : SYS_execve);
      if (!pd.seccomp_keep_listener) listener.reset();
    }
    long n = sys::read_full(report_rd.get(), &m, sizeof m);
    if (n == 0) {
      guard.all_closed = true;  // every process of the spawn exec'd or ended
      break;
    }
    if (n != static_cast<long>(sizeof m))
      throw Error(Step::sync, n < 0 ? static_cast<int>(-n) : EPROTO, "report pipe",
                  "short message from the child");
    // In two stages, stage one's kMsgStage2 may come after the second
    // stage's kMsgExecing (they run at once); it is checked below.
    bool stage2 = m.kind == kMsgStage2 && p.two_stage && !final_pidfd;
    // The trampoline holds the report pipe for a few instructions while
    // still dumpable (until its PR_SET_DUMPABLE 0): a sandbox process that
    // took the descriptor then could send anything. Nothing but a failure
    // is believed.
    if (execing && m.kind != kMsgError && m.kind != kMsgExecFailed && !stage2)
      throw Error(Step::sync, EPROTO, "report pipe",
                  "a message other than a failure after the exec began");
    if (m.kind == kMsgError) {
      failed = true;
      failure = m;
    } else if (m.kind == kMsgExecing) {
      execing = true;
    } else if (m.kind == kMsgExecFailed) {
      // From the trampoline: the last candidate it tried, or with a PATH
      // search the name searched for (as child_final reports it).
      failed = true;
      failure = m;
      failure.step = static_cast<std::uint32_t>(Step::exec);
      if (pd.candidates_s.size() > 1) {
        std::size_t len = pd.argv_s[0].copy(failure.detail, sizeof failure.detail - 1);
        failure.detail[len] = '\0';
      }
    } else if (m.kind == kMsgNeedParent) {
      write_id_maps(static_cast<pid_t>(pid), pd);
      char go = 1;
      if (::write(sync_wr.get(), &go, 1) != 1) throw_errno(Step::sync, "sync pipe");
    } else if (m.kind == kMsgStage2) {
      if (!stage2) throw Error(Step::sync, EPROTO, "report pipe", "a second stage announced twice");
      final_pid = m.value;
      // It must be our child (CLONE_PARENT) and not reaped yet, so its pid
      // is stable: waitid says ECHILD otherwise, and then it is nobody we
      // may signal (a forged announcement, see above).
      siginfo_t probe{};
      if (::waitid(P_PID, static_cast<id_t>(final_pid), &probe,
                   WEXITED | WNOHANG | WNOWAIT | __WALL) != 0)
        throw Error(Step::pidfd, ECHILD, "second stage pid " + std::to_string(final_pid),
                    "not a child of this process");
      int fd = static_cast<int>(::syscall(sys::nr_pidfd_open, final_pid, 0));
      if (fd < 0) {
        int e = errno;
        ::kill(final_pid, SIGKILL);
        ::waitpid(final_pid, nullptr, __WALL);
        guard.all_closed = true;  // stage two is reaped; the guard reaps stage one
        throw Error(Step::pidfd, e, "second stage pid " + std::to_string(final_pid));
      }
      final_pidfd.reset(fd);
    } else if (m.kind == kMsgListener) {
      pending_listener = m.value;
    } else if (m.kind == kMsgBeforePivot) {
      pd.before_pivot(p.two_stage ? final_pid : static_cast<pid_t>(pid));
      char go = 1;
      if (::write(pivot_wr.get(), &go, 1) != 1) throw_errno(Step::sync, "before_pivot pipe");
    } else if (m.kind == kMsgReady && p.start_gate_fd >= 0) {
      at_gate = true;
      break;  // waiting for its start; spawn is done
    } else if (m.kind == kMsgReady) {
      if (hold) hold(p.two_stage ? final_pid : static_cast<pid_t>(pid), hold_ctx);
      sync_wr.reset();  // releases the holder
    }
  }

  if (p.two_stage) {
    // Stage one has exited (or will): reap it. Its status tells whether it
    // died before handing over a second stage.
    siginfo_t info{};
    while (::syscall(SYS_waitid, P_PIDFD, pidfd.get(), &info, WEXITED, nullptr) < 0 &&
           errno == EINTR) {
    }
    if (!final_pidfd && !failed)
      throw Error(Step::clone, ECHILD, "first stage",
                  "it ended (" + ExitStatus::from(info).describe() +
                      ") before starting the pid-namespace child");
  }
  if (p.start_gate_fd >= 0 && !at_gate && !failed) {
    // The pipe closed without "ready" and without a failed step: the child
    // died on its way to the gate (a signal; it cannot have exec'd). A
    // `create` must not report a container that is not there.
    int target = p.two_stage ? final_pidfd.get() : pidfd.get();
    siginfo_t info{};
    while (::syscall(SYS_waitid, P_PIDFD, target, &info, WEXITED, nullptr) < 0 && errno == EINTR) {
    }
    throw Error(Step::sync, ECHILD, "start gate",
                "the child ended (" + ExitStatus::from(info).describe() +
                    ") before it reached its start gate");
  }
  if (failed) {
    // The guard kills and reaps what is left as this throws.
    failure.detail[sizeof failure.detail - 1] = '\0';
    std::string why;
    if (failure.step == static_cast<std::uint32_t>(Step::exec) && failure.err == ENOENT &&
        pd.candidates_s.size() > 1)
      why = "executable file not found in $PATH";  // runc's words; engines match them
    throw Error(static_cast<Step>(failure.step), failure.err, failure.detail, why);
  }
  UniqueFd terminal;
  // Sent before the child reported ready or exec'd: it is queued by now.
  if (term_parent) terminal = receive_terminal(term_parent.get());
  guard.armed = false;
  if (p.two_stage)
    return {std::move(final_pidfd), final_pid, std::move(listener), std::move(terminal)};
  return {std::move(pidfd), static_cast<pid_t>(pid), std::move(listener), std::move(terminal)};
}

}  // namespace ward::detail
