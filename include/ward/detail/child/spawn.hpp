// SPDX-License-Identifier: Apache-2.0
// The sandbox child: everything that runs between clone3 and execve
// (detail/spawn.hpp's spawn_plan is the parent side; read its header for
// the protocol). child_entry is stage one, child_final the process that
// execs; both run on a private stack in a CLONE_VM child (detail/stack.hpp),
// so the rules of detail/child/syscall.hpp apply to every line here.
#pragma once

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/sched.h>
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
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include <ward/detail/capability_abi.hpp>
#include <ward/detail/child/clone.hpp>
#include <ward/detail/child/landlock.hpp>
#include <ward/detail/child/mount.hpp>
#include <ward/detail/child/netlink.hpp>
#include <ward/detail/child/proc.hpp>
#include <ward/detail/child/seccomp.hpp>
#include <ward/detail/child/syscall.hpp>
#include <ward/detail/child/terminal.hpp>
#include <ward/detail/plan.hpp>
#include <ward/error.hpp>

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
  // Sandbox::shared_mount_namespace: the mount id of the rootfs's clone
  // (child_send_root_mount).
  kMsgRootMount = 9,
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
  // ChildPlan::ns_root_early with mounts: one slot per mount step, for the
  // host bind sources child_rootfs opens before it becomes the namespace's
  // root. Per spawn (the plan is shared); null otherwise.
  int* src_fds;
  // Also per mount step: detached mounts the parent made of host bind
  // sources (detail::host_binds), for the sources the child cannot open
  // itself and for idmapped binds; -1 where none. Null when there are none.
  const int* mnt_fds;
  // The detached tmpfs those device nodes were made in (HostMounts::devs),
  // or -1: never used here, closed first thing so that the parent's
  // reference is the last (its grace period then overlaps our setup).
  int devs_fd;
  // Sandbox::init_process: ward's init (the plan's sealed memfd, moved
  // above the kept descriptors by child_fds, as is status_wr), the write
  // end of the pipe on which it reports the program's wait status (the
  // parent holds status_rd), and the program's stack under CLONE_VM.
  int init_fd;
  int status_wr;
  int status_rd;
  std::uint64_t init_stack;
  std::uint64_t init_stack_size;
};

namespace child {

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
  KernelSigaction dfl;
  sys::zero(dfl);  // not `dfl{}`: a memset call at -O0
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
  // The lambdas are functions of their own: they need the attributes too.
  auto move_up = [&](int fd, const char* what) WARD_CHILD_LAMBDA -> int {
    if (fd < 0) return -1;
    long m = sys::call(SYS_fcntl, fd, F_DUPFD_CLOEXEC, hi);
    if (m < 0) child_report(c, Step::fds, m, what);
    return static_cast<int>(m);
  };
  const int gate = move_up(p.start_gate_fd, "move start gate");
  const int tramp = move_up(p.trampoline_fd, "move the exec trampoline");
  const int init = move_up(c->init_fd, "move ward's init");
  const int status = move_up(c->status_wr, "move the init's status pipe");
  c->gate_fd = gate;
  c->tramp_fd = tramp;
  c->init_fd = init;
  c->status_wr = status;

  // 2. Copy every source above the targets, then into place: a source may
  //    itself be another mapping's target.
  int tmp[256];
  for (int i = 0; i < p.n_fds; ++i) {
    const FdMapping& m = p.fds[i];
    int src = m.slot >= 0 ? c->slot_child[m.slot] : m.src;
    if (src < 0 && m.optional) {  // the caller's stdio slot was closed
      tmp[i] = -1;
      continue;
    }
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
    if (tmp[i] < 0) {
      // Closed in the caller, closed here: whatever this process has at
      // that number is not the caller's (step 3 keeps every target).
      sys::call(SYS_close, p.fds[i].dst);
      continue;
    }
    r = sys::call(SYS_dup3, tmp[i], p.fds[i].dst, 0);  // 0: the copy is inherited by exec
    if (r < 0) child_report(c, Step::fds, r, "dup3 onto a kept descriptor");
  }

  // 3. Close all but the targets and the report pipe: the gaps between
  //    sorted targets (the builder sorts them), then everything above.
  // Never close the report pipe early: EOF on it tells the parent that
  // this process no longer uses the shared memory.
  // Closes [lo, hi_incl] except the report pipe, the gate, the
  // trampoline, the init and its status pipe (sorted; ~0U: none).
  auto keep_no = [](int fd) WARD_CHILD_LAMBDA -> unsigned {
    return fd < 0 ? ~0U : static_cast<unsigned>(fd);
  };
  unsigned keeps[5] = {static_cast<unsigned>(report), keep_no(gate), keep_no(tramp), keep_no(init),
                       keep_no(status)};
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4 - i; ++j)
      if (keeps[j] > keeps[j + 1]) {
        unsigned t = keeps[j];
        keeps[j] = keeps[j + 1];
        keeps[j + 1] = t;
      }
  auto close_range = [&](unsigned lo, unsigned hi_incl) WARD_CHILD_LAMBDA -> long {
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
      // ENOSYS before Linux 5.9; any other error is a seccomp filter's
      // (installed early, SeccompOptions::before_credentials) that does not
      // list close_range: runtime-tools' default profile, Docker's before
      // 2021 (close_range(2) itself fails only with EINVAL, which these
      // arguments never are). Either way, close them one by one. Test:
      // unit "seccomp: an early filter that denies close_range ...".
      if (r < 0) {
        have_close_range = false;
        break;
      }
    }
    if (i < p.n_fds) next = upto + 1;
  }
  if (!have_close_range) {
    // No close_range (see above): close what /proc/self/fd lists, one by one.
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
        if (!num || fd == dir || fd == report || fd == gate || fd == tramp || fd == init ||
            fd == status)
          continue;
        bool keep = false;
        for (int i = 0; i < p.n_fds; ++i)
          if (p.fds[i].dst == fd) keep = true;
        if (!keep) sys::call(SYS_close, fd);
      }
    }
    sys::call(SYS_close, dir);
  }
}

// Declared without WARD_CHILD_FN: clang takes no_builtin on definitions only.
inline int child_final(void* arg) noexcept;

// Stage one: join and create namespaces, wait for the parent's id maps, and
// when the pid namespace for children changed, clone the real child.
WARD_CHILD_FN inline int child_entry(void* arg) noexcept {
  // Work on a copy on our own stack: the original lives in the parent's
  // frame, which this CLONE_VM child must never write.
  SpawnCtx local;
  sys::copy_bytes(&local, arg, sizeof local);
  SpawnCtx* c = &local;
  const ChildPlan& p = *c->plan;
  long r;

  // Our copies of the parent's pipe ends: holding them would keep EOF from
  // ever reaching either side.
  sys::call(SYS_close, c->report_rd);
  if (c->sync_wr >= 0) sys::call(SYS_close, c->sync_wr);
  if (c->go_wr >= 0) sys::call(SYS_close, c->go_wr);
  if (c->pivot_wr >= 0) sys::call(SYS_close, c->pivot_wr);
  if (c->status_rd >= 0) sys::call(SYS_close, c->status_rd);
  for (int i = 0; i < 3; ++i)
    if (c->slot_parent[i] >= 0) sys::call(SYS_close, c->slot_parent[i]);
  if (c->devs_fd >= 0) sys::call(SYS_close, c->devs_fd);

  if (c->reset_signals) child_reset_signals();

  // Writing "0" to cgroup.procs moves the writer (cgroup-v2.rst; v1 the
  // same: cgroup-v1/cgroups.rst, cgroup_procs_write_start takes 0 as the
  // writer). Before anything else runs, so that nothing the child does
  // escapes its limits: the v1 hierarchies (CLONE_INTO_CGROUP reaches the
  // unified one only), then the unified cgroup where clone3 could not.
  for (int i = 0; i < p.n_cgroup_v1; ++i) {
    long fd = sys::call(SYS_openat, p.cgroup_v1[i], "cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (fd < 0) child_report(c, Step::cgroup, fd, "open cgroup.procs of a cgroup v1 hierarchy");
    r = sys::call(SYS_write, fd, "0", 1);
    sys::call(SYS_close, fd);
    if (r < 0) child_report(c, Step::cgroup, r, "write cgroup.procs of a cgroup v1 hierarchy");
  }
  if (c->cgroup_fd >= 0) {
    long fd = sys::call(SYS_openat, c->cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (fd < 0) child_report(c, Step::cgroup, fd, "open cgroup.procs (no CLONE_INTO_CGROUP)");
    r = sys::call(SYS_write, fd, "0", 1);
    sys::call(SYS_close, fd);
    if (r < 0) child_report(c, Step::cgroup, r, "write cgroup.procs (no CLONE_INTO_CGROUP)");
  }
  if (c->unshare_cgroup) {
    r = sys::call(SYS_unshare, CLONE_NEWCGROUP);
    if (r < 0) child_report(c, Step::unshare, r, "cgroup namespace");
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
// detail/child/mount.hpp); the order follows the kernel's rules:
//  1. "/" becomes a recursive slave: nothing we mount or unmount propagates
//     back to the host, while (for binds that ask to be slaves) the host's
//     later mounts still arrive. Except with rootfsPropagation (r)shared
//     (containerd's CRI sets rshared for a pod with a Bidirectional volume):
//     then "/" gets that propagation, as runc's prepareRoot does, so that a
//     bind of a shared host directory is a peer of it and the container's
//     mounts under the bind reach the host; and the mount holding the
//     rootfs is made private, so that the rootfs's bind onto itself does not
//     propagate to the host (and pivot_root(2) accepts its parent).
//  2. The rootfs is cloned recursively onto itself, so that it is a mount
//     point (pivot_root(2) needs one), with its own propagation.
//  3. The steps: mounts, device nodes, symlinks, masked and read-only paths.
//  4. The root is made read-only (non-recursively, as OCI's root.readonly).
//  5. pivot_root(".", ".") and a lazy unmount of the old root stacked under
//     the new one (no temporary directory inside the rootfs is needed), or
//     where pivot_root cannot work (a rootfs on initramfs) MS_MOVE + chroot,
//     which is weaker: the old root stays reachable for a process that can
//     escape a chroot (CAP_SYS_CHROOT).
// ChildPlan::ns_root_early: the maps are written; become the namespace's
// root (see ChildPlan). Not before the oom_score_adj write: the id change
// leaves the mm non-dumpable, so /proc/self/{oom_score_adj,timens_offsets}
// belong to the host's root, which the namespace's root is not (EACCES;
// found by root.caller's oom_score_adj case with a user namespace). Not
// before the rootfs and the host bind sources are open: the namespace's
// root is another host uid, which may not reach them (child_rootfs).
// The working directory must be inside our root. The chdir ran before the
// descriptors were closed (as runc's does, which verifyCwd then checks), so
// a cwd such as /proc/self/fd/N may have reached a runtime's directory; this
// checks the result itself, whatever path got there (CVE-2024-21626: a
// leaked host directory descriptor as process.cwd left the process outside
// the container's root). getcwd(2): a directory not reachable from the
// root comes back as "(unreachable)/..." (Linux 2.6.36), an unlinked one as
// ENOENT. The root no longer changes (pivot_root is done), so the answer
// holds until exec. Test: attack."CVE-2024-21626: ..." (cve_attack_test.cpp).
WARD_CHILD_FN inline void child_check_cwd(SpawnCtx* c) noexcept {
  char cwd[4096];
  long r = sys::call(SYS_getcwd, cwd, sizeof cwd);
  if (r >= 0 && (r == 0 || cwd[0] != '/')) r = -EXDEV;
  if (r < 0) child_report(c, Step::chdir, r, "the working directory is outside the root (getcwd)");
}

WARD_CHILD_FN inline void child_become_ns_root(SpawnCtx* c) noexcept {
  long r = sys::call(SYS_setresgid, 0, 0, 0);
  if (r < 0) child_report(c, Step::setresgid, r, "gid 0 in the new user namespace");
  r = sys::call(SYS_setresuid, 0, 0, 0);
  if (r < 0) child_report(c, Step::setresuid, r, "uid 0 in the new user namespace");
}

#ifndef SYS_statx
#error "SYS_statx is not defined for this architecture"
#endif

// Makes private the mount that holds directory `dir` (the rootfs): the
// rootfs's own mount when it is one (an engine's overlay), else the mount
// it lies in. Walks up from `dir` with openat("..") to the first directory
// that is the root of its mount (statx's STATX_ATTR_MOUNT_ROOT, Linux 5.8);
// "..", from a mount's root, is the parent of its mount point, so the walk
// never skips a mount. A kernel that cannot tell (before 5.8: the bit is
// not in stx_attributes_mask) gets runc's walk instead: change each
// directory's propagation until one is not refused with EINVAL, which is
// mount(2)'s and mount_setattr(2)'s answer for a directory that is not the
// root of a mount. Only that mount, not its submounts (mount_namespaces(7)).
// Returns 0 or -errno; `what` names the step that failed.
WARD_CHILD_FN inline long make_rootfs_mount_private(long dir, MountApi api,
                                                    const char*& what) noexcept {
  what = "open the rootfs again (its mount)";
  long cur = sys::call(SYS_openat, dir, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (cur < 0) return cur;
  for (int depth = 0; depth < 4096; ++depth) {
    mnt::Statx sx;
    sys::zero(sx);
    long r = sys::call(SYS_statx, cur, "", mnt::kAtEmptyPath, mnt::kStatxMntId, &sx);
    const bool known = r == 0 && (sx.attributes_mask & mnt::kStatxAttrMountRoot) != 0;
    if (!known || (sx.attributes & mnt::kStatxAttrMountRoot) != 0) {
      if (api == MountApi::modern) {
        mnt::MountAttr a;
        sys::zero(a);
        a.propagation = MS_PRIVATE;
        r = sys::call(mnt::nr_mount_setattr, cur, "", mnt::kAtEmptyPath, &a, sizeof a);
      } else {
        r = legacy_mount(nullptr, cur, nullptr, MS_PRIVATE, nullptr);
      }
      if (known || r != -EINVAL) {
        close_fd(cur);
        what = "make the mount holding the rootfs private";
        return r;
      }
    }
    long up = sys::call(SYS_openat, cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (up < 0) {
      close_fd(cur);
      what = "open .. (the mount holding the rootfs)";
      return up;
    }
    // At the process's root ".." is the root itself: nothing above it.
    struct stat a, b;
    r = sys::call(SYS_fstat, cur, &a);
    if (r == 0) r = sys::call(SYS_fstat, up, &b);
    close_fd(cur);
    cur = up;
    if (r == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) r = -EINVAL;
    if (r < 0) {
      close_fd(cur);
      what = "find the mount holding the rootfs";
      return r;
    }
  }
  close_fd(cur);
  what = "find the mount holding the rootfs (too deep)";
  return -ELOOP;
}

// Sandbox::shared_mount_namespace: the rootfs's clone, just attached in a
// namespace the sandbox shares, is named to the parent by its mount id
// (statx(2): STATX_MNT_ID_UNIQUE, Linux 6.8, never reused; else
// STATX_MNT_ID), so that a failure from here on, ours or the program's
// exec, leaves no mount behind: the parent detaches exactly that mount
// (rootfs_mount.hpp). The id travels as two 32-bit halves.
WARD_CHILD_FN inline void child_send_root_mount(const SpawnCtx* c, long root) noexcept {
  mnt::Statx sx;
  sys::zero(sx);
  long r = sys::call(SYS_statx, root, "", mnt::kAtEmptyPath,
                     mnt::kStatxMntId | mnt::kStatxMntIdUnique, &sx);
  if (r < 0) child_report(c, Step::rootfs, r, "statx (the rootfs clone's mount id)");
  Msg m;
  m.kind = kMsgRootMount;
  m.step = 0;
  m.err = static_cast<std::int32_t>(static_cast<std::uint32_t>(sx.mnt_id >> 32));
  m.value = static_cast<std::int32_t>(static_cast<std::uint32_t>(sx.mnt_id));
  m.detail[0] = (sx.mask & mnt::kStatxMntIdUnique) != 0 ? 'u' : 'o';
  for (unsigned long i = 1; i < sizeof m.detail; ++i) m.detail[i] = '\0';
  if (sys::write_all(c->report_wr, &m, sizeof m) < 0) sys::exit_group(127);
}

WARD_CHILD_FN inline void child_rootfs(SpawnCtx* c) noexcept {
  const ChildPlan& p = *c->plan;
  const MountApi api = p.mount_api;
  // pivot_root(2) fails with EINVAL when the new root (here also put_old)
  // is shared, and MS_MOVE when its parent is: a shared rootfs is made
  // private until it is "/", and shared after (runc's prepareRoot and
  // rootfsParentMountPropagation, then its mount of "/" after the pivot).
  // Sandbox::shared_mount_namespace: the namespace is the caller's or a
  // joined one, so "/" and every mount outside the rootfs's clone stay as
  // they are, and the clone gets the propagation the plan asks for alone.
  const bool in_place = p.mount_in_place;
  const bool shared_after = !in_place && p.rootfs != nullptr && p.rootfs_propagation == MS_SHARED;
  const std::uint64_t prop_before = shared_after ? std::uint64_t{MS_PRIVATE} : p.rootfs_propagation;
  const unsigned long rec = p.rootfs_prop_recursive ? MS_REC : 0;
  long old_umask = sys::call(SYS_umask, 0);  // modes are exactly what the plan says
  // A slave never propagates to its master (mount_namespaces(7), "MS_SLAVE"):
  // with "/" a recursive slave, every bind of a host directory is one, and
  // a Bidirectional volume would be one-way. So (r)shared applies to "/"
  // here, and the binds cloned from it are peers of the host's mounts
  // (a new mount namespace copies shared mounts as peers, unless its user
  // namespace is less privileged than the caller's: then they are slaves
  // and nothing goes back to the host, the kernel's rule, as for runc).
  // Every other value (and none) keeps "/" a recursive slave: runc applies
  // "private" and "slave" to "/" alone, leaving the other mounts peers of
  // the host's, so that a container's mount under any bind of a shared
  // host directory reaches the host (seen with runc 1.1.5); ward does not.
  long r = in_place ? 0
                    : sys::call(SYS_mount, nullptr, "/", nullptr,
                                shared_after ? MS_SHARED | rec : MS_REC | MS_SLAVE, nullptr);
  if (r < 0)
    child_report(c, Step::mount, r, shared_after ? "make / shared" : "make / a recursive slave");
  MountFail f;
  long root;
  if (p.rootfs != nullptr) {
    long src = sys::call(SYS_openat, AT_FDCWD, p.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (src < 0) child_report(c, Step::rootfs, src, p.rootfs);
    if (shared_after) {
      // The mount holding the rootfs is now shared (with "/" recursively
      // shared, it is even when the host's is not). Private, as runc's
      // rootfsParentMountPrivate makes it: the rootfs's bind onto itself
      // below would otherwise propagate to every peer, the host's mount
      // among them (a rootfs bind in the host's mount table), and
      // pivot_root(2) refuses a new root whose parent mount is shared
      // (EINVAL). Only that mount: the binds cloned later keep the
      // propagation of their source. Not refused in a user namespace: its
      // root holds CAP_SYS_ADMIN over the mount namespace it owns, which is
      // all a propagation change needs (and runc does the same there).
      const char* what = nullptr;
      r = make_rootfs_mount_private(src, api, what);
      if (r < 0) child_report(c, Step::rootfs, r, what);
    }
    // In a shared namespace the clone is of the rootfs alone, not of what
    // is mounted below it there: another sandbox's clone of the same
    // rootfs, with its binds and tmpfs, may be what the path leads to
    // (test "shared mount namespace attack: a second sandbox on the same
    // rootfs sees none of the first's mounts"). runc's rbind takes them.
    const unsigned long tree_rec = in_place ? 0 : mnt::kAtRecursive;
    if (api == MountApi::modern) {
      root = sys::call(mnt::nr_open_tree, src, "",
                       mnt::kOpenTreeClone | O_CLOEXEC | mnt::kAtEmptyPath | tree_rec);
      if (root < 0) child_report(c, Step::rootfs, root, "open_tree (rbind rootfs)");
      r = sys::call(mnt::nr_move_mount, root, "", src, "",
                    mnt::kMoveFEmptyPath | mnt::kMoveTEmptyPath);
      if (r < 0) child_report(c, Step::rootfs, r, "move_mount (rootfs onto itself)");
      if (in_place) child_send_root_mount(c, root);
      // After the attach, never before: a tree attached below a shared
      // mount becomes shared itself (attach_recursive_mnt), and in a
      // shared namespace what is then mounted below it would reach every
      // peer (test "shared mount namespace attack: a peer of the namespace
      // sees none of its mounts").
      if (prop_before != 0) {
        mnt::MountAttr a;
        sys::zero(a);
        a.propagation = prop_before;
        r = sys::call(mnt::nr_mount_setattr, root, "",
                      mnt::kAtEmptyPath | (p.rootfs_prop_recursive ? mnt::kAtRecursive : 0), &a,
                      sizeof a);
        if (r < 0) child_report(c, Step::rootfs, r, "rootfs propagation");
      }
    } else {
      r = legacy_mount(p.rootfs, src, nullptr, MS_BIND | (in_place ? 0 : MS_REC), nullptr);
      if (r < 0) child_report(c, Step::rootfs, r, "rbind rootfs onto itself");
      root = sys::call(SYS_openat, AT_FDCWD, p.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (root < 0) child_report(c, Step::rootfs, root, p.rootfs);
      if (in_place) child_send_root_mount(c, root);
      if (prop_before != 0) {
        r = legacy_mount(nullptr, root, nullptr,
                         prop_before | (p.rootfs_prop_recursive ? MS_REC : 0), nullptr);
        if (r < 0) child_report(c, Step::rootfs, r, "rootfs propagation");
      }
    }
    close_fd(src);
  } else {
    root = sys::call(SYS_openat, AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) child_report(c, Step::rootfs, root, "/");
  }
  if (p.readonly_tree) {
    // Sandbox::recursive_readonly_root: every mount below the root turns
    // read-only before the mount steps (whose new mounts keep their own
    // flags); the root mount itself stays writable until they are done, so
    // that they can make their mount points in it, and turns read-only
    // with readonly_root below. A root the kernel keeps read-only (locked
    // in a user namespace) stays so: that clear fails and changes nothing.
    mnt::MountAttr a{mnt::kAttrRdonly, 0, 0, 0};
    r = sys::call(mnt::nr_mount_setattr, root, "", mnt::kAtEmptyPath | mnt::kAtRecursive, &a,
                  sizeof a);
    if (r < 0) child_report(c, Step::rootfs, r, "read-only root, recursively (mount_setattr)");
    mnt::MountAttr top{0, mnt::kAttrRdonly, 0, 0};
    (void)sys::call(mnt::nr_mount_setattr, root, "", mnt::kAtEmptyPath, &top, sizeof top);
  }
  if (p.ns_root_early) {
    // Host bind sources first, with the ids we came with (best effort: a
    // source that does not open here is opened again, and its error
    // reported, by its step), then the namespace's root for the rest: that
    // root is another host uid, which may not pass through the directories
    // that lead to a source (a 0700 parent owned by root). An O_PATH
    // descriptor from the parent would not do: open_tree(OPEN_TREE_CLONE)
    // and MS_BIND refuse a mount of another mount namespace (EINVAL). Test:
    // oci mounts: a user namespace without host uid 0 binds a source in a
    // directory only root may enter.
    //
    // A source only CAP_DAC_OVERRIDE reaches (a 0000 parent) stays out of
    // reach even so: this child holds no capability over the host's files.
    // Such a source, and every idmapped bind (whose user namespace, made by
    // the runtime, this child holds no capability in), comes from the
    // parent instead, as a detached mount it made as the host's root
    // (c->mnt_fds, detail::host_binds): move_mount(2) attaches a detached
    // tree made in another mount namespace. The parent's is used only where
    // the child's own open fails: a clone made here copies the locks
    // (MNT_LOCK_READONLY, MNT_LOCK_NODEV..., MNT_LOCKED submounts) that the
    // new mount namespace put on the host's mounts, so that the container's
    // root cannot undo them; the parent's clone, made where nothing is
    // locked, has none. Tests: tests/root/userns_bind_source_test.cpp.
    for (int i = 0; c->src_fds != nullptr && i < p.n_mounts; ++i) {
      c->src_fds[i] = -1;
      if (!host_bind_source(p.mounts[i])) continue;
      // An idmapped bind and a device node made by the parent use its.
      if (c->mnt_fds != nullptr && c->mnt_fds[i] >= 0 &&
          (p.mounts[i].userns_fd >= 0 || p.mounts[i].op == MountStep::op_mknod))
        continue;
      r = sys::call(SYS_openat, AT_FDCWD, p.mounts[i].source, O_PATH | O_CLOEXEC);
      if (r >= 0) c->src_fds[i] = static_cast<int>(r);
    }
    child_become_ns_root(c);
  }
  long shared_mask = -1;  // one tmpfs for every masked directory (mount_step)
  for (int i = 0; i < p.n_mounts; ++i) {
    const long pre = c->src_fds != nullptr ? c->src_fds[i] : -1;
    long pre_mnt = c->mnt_fds != nullptr && pre < 0 ? c->mnt_fds[i] : -1;
    r = mount_step(static_cast<int>(root), p.mounts[i], api, f, nullptr, pre, pre_mnt,
                   &shared_mask);
    close_fd(pre);
    if (c->mnt_fds != nullptr) close_fd(c->mnt_fds[i]);  // used or not: this copy is ours
    if (r < 0) child_report(c, Step::mount, r, f.text);
  }
  close_fd(shared_mask);
  // After the mounts (the sandbox's devpts), before the root turns
  // read-only (/dev/console may have to be created).
  if (p.terminal_in_child) child_terminal(c, static_cast<int>(root));
  if (c->pivot_rd >= 0) child_pivot_pause(c);
  if (p.readonly_root || p.readonly_tree) {
    if (api == MountApi::modern) {
      mnt::MountAttr a{mnt::kAttrRdonly, 0, 0, 0};
      r = sys::call(mnt::nr_mount_setattr, root, "", mnt::kAtEmptyPath, &a, sizeof a);
    } else {
      r = legacy_mount(nullptr, root, nullptr,
                       MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(root), nullptr);
    }
    if (r < 0) child_report(c, Step::rootfs, r, "read-only root");
  }
  if (in_place) {
    // The namespace is not ours to pivot (pivot_root(2) would move the
    // root of every process in it whose root is the old one): this
    // process alone changes its root, as runc does without a mount
    // namespace of the container's own. Weaker than a pivot, as any
    // shared mount namespace is: its other mounts stay reachable to a
    // process that can leave a chroot (CAP_SYS_CHROOT).
    r = sys::call(SYS_fchdir, root);
    if (r < 0) child_report(c, Step::rootfs, r, "fchdir rootfs");
    r = sys::call(SYS_chroot, ".");
    if (r < 0) child_report(c, Step::rootfs, r, "chroot");
    r = sys::call(SYS_chdir, "/");
    if (r < 0) child_report(c, Step::rootfs, r, "chdir / (after chroot)");
  } else if (p.rootfs != nullptr) {
    r = sys::call(SYS_fchdir, root);
    if (r < 0) child_report(c, Step::pivot_root, r, "fchdir rootfs");
    long old_root = -1;  // for after pivot_root (see below)
    if (shared_after) {
      // The old "/" itself (not its submounts: the binds in the rootfs are
      // among them) stops being shared. MS_MOVE onto a shared "/" would
      // propagate the rootfs onto every peer of "/", the host's "/" on a
      // host that shares it (systemd's); pivot_root(2) refuses a shared
      // parent of the current root, which the root of a mount namespace is
      // of itself.
      r = sys::call(SYS_mount, nullptr, "/", nullptr, MS_SLAVE, nullptr);
      if (r < 0) child_report(c, Step::pivot_root, r, "make the old / a slave");
      old_root = sys::call(SYS_openat, AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (old_root < 0) child_report(c, Step::pivot_root, old_root, "open the old /");
    }
    r = p.pivot == 1 ? -EINVAL : sys::call(SYS_pivot_root, ".", ".");
    if (r == 0) {
      // The old root, stacked on the new one, is still shared: detaching it
      // would propagate the unmount of each of its mounts to the peers of
      // their parents, the host's (mount_namespaces(7), "MS_SHARED"), so it
      // becomes a recursive slave first, as runc's pivotRoot makes it. Named
      // by its own descriptor: "." is the new root's directory, and a
      // recursive change there would reach the new root's whole tree (the
      // old root is mounted on it), the Bidirectional binds among them.
      if (shared_after) {
        r = sys::call(SYS_fchdir, old_root);
        if (r == 0) r = sys::call(SYS_mount, nullptr, ".", nullptr, MS_REC | MS_SLAVE, nullptr);
        if (r < 0) child_report(c, Step::pivot_root, r, "make the old root a recursive slave");
      }
      r = sys::call(SYS_umount2, ".", MNT_DETACH);
      if (r < 0) child_report(c, Step::pivot_root, r, "detach the old root");
    } else if (p.pivot != 0 && r == -EINVAL) {
      r = sys::call(SYS_mount, ".", "/", nullptr, MS_MOVE, nullptr);
      if (r < 0) child_report(c, Step::pivot_root, r, "MS_MOVE rootfs to /");
      r = sys::call(SYS_chroot, ".");
      if (r < 0) child_report(c, Step::pivot_root, r, "chroot");
    } else {
      // EINVAL: the old root is not a mount that can be pivoted away from,
      // as initramfs (the kernel's first "rootfs") is not; propagation is
      // handled above, so that is the likely cause left.
      struct statfs sf;
      bool ramfs =
          sys::call(SYS_statfs, "/", &sf) == 0 && (static_cast<long>(sf.f_type) == RAMFS_MAGIC ||
                                                   static_cast<long>(sf.f_type) == TMPFS_MAGIC);
      child_report(c, Step::pivot_root, r,
                   r == -EINVAL && ramfs
                       ? "pivot_root (the host's / is a ramfs or tmpfs: if it is initramfs, "
                         "pivot_root cannot leave it; use the chroot fallback)"
                       : "pivot_root");
    }
    close_fd(old_root);
    r = sys::call(SYS_chdir, "/");
    if (r < 0) child_report(c, Step::pivot_root, r, "chdir /");
    if (shared_after) {
      r = sys::call(SYS_mount, nullptr, "/", nullptr, MS_SHARED | rec, nullptr);
      if (r < 0) child_report(c, Step::rootfs, r, "rootfs propagation (shared, after pivot_root)");
    }
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
    struct sched_param sp;
    sys::zero(sp);
    sp.sched_priority = p.sched_priority;
    r = sys::call(SYS_sched_setscheduler, 0, p.sched_policy, &sp);
    if (r < 0) child_report(c, Step::validate, r, "sched_setscheduler");
  }
  if (p.set_sched_attr) {
#ifndef SYS_sched_setattr
#error "SYS_sched_setattr is not defined for this architecture"
#endif
    KernelSchedAttr a;
    sys::copy_bytes(&a, &p.sched_attr, sizeof a);
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
  if (p.set_mempolicy) {
    r = sys::call(SYS_set_mempolicy, p.mempolicy_mode, p.node_mask, p.node_maxnode);
    if (r < 0) child_report(c, Step::validate, r, "set_mempolicy");
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

// Whether this process may execute `path` now: X_OK against the
// effective ids and the effective capabilities (faccessat2 AT_EACCESS,
// Linux 5.8), what execve itself checks. Plain faccessat uses the real
// ids and, for a non-root real uid, no capabilities at all (access(2)), so
// a process of uid 1000 holding CAP_DAC_OVERRIDE (ambient) was told EACCES
// for a program it can exec (issue #13; runc checks nothing of the kind).
// Older kernels: faccessat.
WARD_CHILD_FN inline long exec_access(const char* path) noexcept {
  long r = sys::call(SYS_faccessat2, AT_FDCWD, path, X_OK, AT_EACCESS);
  // ENOSYS: before Linux 5.8, or a seccomp filter that does not know the
  // call; EPERM: a filter that refuses it (X_OK never gives EPERM
  // otherwise, access(2)). runtime-tools' profile refused it and every
  // container failed at create with "exec /runtimetest: EPERM".
  if (r == -ENOSYS || r == -EPERM) r = sys::call(SYS_faccessat, AT_FDCWD, path, X_OK);
  return r;
}

// With a seccomp filter, the filter is the very last thing installed, and
// from then on every system call of ours passes through it: a strict
// profile may deny even the write(2) that reports a failure. So the
// program to exec is chosen (and checked) before the filter goes on, and
// only execve itself runs under it.
// Part one: choose the program, announce the listener, install the filter.
// Returns the program chosen (part two execs it).
WARD_CHILD_FN inline const char* child_seccomp_install(SpawnCtx* c) noexcept {
  const ChildPlan& p = *c->plan;
  const char* chosen = nullptr;
  long err = -ENOENT;
  for (int i = 0; i < p.n_candidates && chosen == nullptr; ++i) {
    struct stat st;
    long r = sys::call(SYS_newfstatat, AT_FDCWD, p.exec_candidates[i], &st, 0);
    if (r == 0 && !S_ISREG(st.st_mode)) r = -EACCES;
    if (r == 0) r = exec_access(p.exec_candidates[i]);
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
  return chosen;
}

// Part two: exec what part one chose, under the filter.
[[noreturn]] WARD_CHILD_FN inline void child_seccomp_exec_chosen(SpawnCtx* c,
                                                                 const char* chosen) noexcept {
  const ChildPlan& p = *c->plan;
  if (c->tramp_fd >= 0) child_trampoline_exec(c);
  long r = sys::call(SYS_execve, chosen, p.argv, p.envp);
  child_report(c, Step::exec, r, chosen);  // best effort: the filter may deny it
}

[[noreturn]] WARD_CHILD_FN inline void child_seccomp_exec(SpawnCtx* c) noexcept {
  child_seccomp_exec_chosen(c, child_seccomp_install(c));
}

// Sandbox::session_keyring: a new session keyring instead of the caller's
// (keyctl(2); an anonymous one unless named), its possessor's only
// (0x3f000000: KEY_POS_ALL; runc also gives its owner uid search, which
// lets every process of that uid join it by name). ENOSYS: a kernel
// without keyrings, or a seccomp filter that answers so: the caller's
// stays, as runc has it.
WARD_CHILD_FN inline void child_session_keyring(SpawnCtx* c) noexcept {
  constexpr long kJoin = 1, kSetperm = 5;  // KEYCTL_JOIN_SESSION_KEYRING, KEYCTL_SETPERM
  constexpr long kSessionKeyring = -3;     // KEY_SPEC_SESSION_KEYRING
  constexpr unsigned long kPerm = 0x3f000000UL;
  const char* name = c->plan->session_keyring;
  long r = sys::call(SYS_keyctl, kJoin, name);
  if (r == -ENOSYS) return;
  if (r < 0) child_report(c, Step::keyring, r, name != nullptr ? name : "(anonymous)");
  r = sys::call(SYS_keyctl, kSetperm, kSessionKeyring, kPerm);
  if (r < 0) child_report(c, Step::keyring, r, "KEYCTL_SETPERM of the new session keyring");
}

// Declared without WARD_CHILD_FN (as child_final).
[[noreturn]] inline void child_exec_program(SpawnCtx* c, const char* seccomp_chosen) noexcept;

// Sandbox::init_process, the program's side: pid 2, the init's child.
// Its own copy of the context (the init's frame is not ours to write).
WARD_CHILD_FN inline int child_program(void* arg) noexcept {
  SpawnCtx local;
  sys::copy_bytes(&local, arg, sizeof local);
  SpawnCtx* c = &local;
  sys::call(SYS_close, c->status_wr);
  sys::call(SYS_close, c->init_fd);
  c->status_wr = c->init_fd = -1;
  child_exec_program(c, nullptr);
}

// Sandbox::init_process, pid 1's side: everything of the plan is done
// (mounts, credentials, descriptors, the start gate); clone the program's
// process (CLONE_VM on its own stack, as the stages), then become ward's
// init: execveat(2) of the sealed memfd (detail/exec_trampoline.hpp says
// why a program of its own), which leaves the caller's memory for a fresh
// one, with the status pipe inherited, every signal still blocked (as the
// caller's spawn blocked them; the init takes them with rt_sigtimedwait)
// and an empty environment. The report pipe is close-on-exec: EOF on it
// still means every process of the spawn exec'd or ended. A failure here
// ends pid 1, and the namespace with the program.
[[noreturn]] WARD_CHILD_FN inline void child_init(SpawnCtx* c) noexcept {
  CloneArgs a{};
  a.flags = c->vm ? CLONE_VM : 0;
  a.exit_signal = SIGCHLD;
  if (c->vm) {
    a.stack = c->init_stack;
    a.stack_size = c->init_stack_size;
  }
  long pid = clone3_run(&a, &child_program, c);
  if (pid < 0) child_report(c, Step::clone, pid, "the program's process (init_process)");
  long r = sys::call(SYS_fcntl, c->status_wr, F_SETFD, 0);
  if (r < 0) child_report(c, Step::exec, r, "the init's status pipe (init_process)");
  char fd_text[24], pid_text[24];
  sys::decimal(static_cast<unsigned long>(c->status_wr), fd_text);
  sys::decimal(static_cast<unsigned long>(pid), pid_text);
  const char* argv[4];
  argv[0] = "";
  argv[1] = fd_text;
  argv[2] = pid_text;
  argv[3] = nullptr;
  const char* envp[1];
  envp[0] = nullptr;
  r = sys::call(SYS_execveat, c->init_fd, "", argv, envp, AT_EMPTY_PATH);
  child_report(c, Step::exec, r, "execveat of ward's init (init_process, a sealed memfd)");
}

// The process that execs: credentials, names, network, fds, then execve.
WARD_CHILD_FN inline int child_final(void* arg) noexcept {
  // A second stage gets stage one's copy; copy again, stage one still uses it.
  SpawnCtx local;
  sys::copy_bytes(&local, arg, sizeof local);
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
  if (p.new_session_keyring) child_session_keyring(c);
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
  // With mounts, child_rootfs becomes the namespace's root itself, once it
  // has opened what it reaches with the caller's ids.
  if (p.ns_root_early && !p.mount_setup) child_become_ns_root(c);
  if (p.mount_setup) {
    child_rootfs(c);
  } else if (p.chroot_dir != nullptr) {
    // Sandbox::chroot: no mount namespace of our own, so nothing is
    // mounted and nothing pivoted; the root directory changes for this
    // process only (chroot(2); runc's chroot() for a config without one).
    r = sys::call(SYS_chdir, p.chroot_dir);
    if (r < 0) child_report(c, Step::rootfs, r, p.chroot_dir);
    r = sys::call(SYS_chroot, ".");
    if (r < 0) child_report(c, Step::rootfs, r, "chroot");
    r = sys::call(SYS_chdir, "/");
    if (r < 0) child_report(c, Step::rootfs, r, "chdir / (after chroot)");
  }
  if (p.terminal_in_child && !p.mount_setup) {
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
  // process.cwd: entered while we still have our privileges, as runc's
  // finalizeNamespace does, so a process of uid 1000 may start in a
  // directory only root may enter (it cannot reach it again by path, but
  // it may stay); on EACCES/EPERM tried again as the user, after the
  // credentials (a directory root may not enter: root squashed NFS, a
  // user namespace's unmapped owner). Entered and checked (getcwd) before
  // an early seccomp filter goes on, which may deny getcwd itself
  // (runtime-tools' linux_seccomp profile did: "the working directory is
  // outside the root (getcwd): EPERM").
  bool cwd_entered = false;
  if (p.cwd != nullptr) {
    r = sys::call(SYS_chdir, p.cwd);
    if (r == 0) {
      cwd_entered = true;
      child_check_cwd(c);
    } else if (r != -EACCES && r != -EPERM) {
      child_report(c, Step::chdir, r, p.cwd);
    }
  }
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
  if (p.cwd != nullptr && !cwd_entered) {
    // Entered only now, as the user (see above); checked the same way.
    r = sys::call(SYS_chdir, p.cwd);
    if (r < 0) child_report(c, Step::chdir, r, p.cwd);
    child_check_cwd(c);
  }
  const char* seccomp_chosen = nullptr;  // set when the filter went on before the gate
  if (c->gate_fd >= 0) {
    // A runtime's `create`: everything that can fail is done or checked
    // (descriptors arranged and the rest closed, so the waiting process
    // holds none of the runtime's pipes; terminal; working directory; an
    // executable to run), so `create` can report it. Then tell the parent
    // we are ready and wait for `start`.
    long found = -ENOENT;
    for (int i = 0; i < p.n_candidates && found != 0; ++i) {
      r = exec_access(p.exec_candidates[i]);
      if (r == 0 || found == -ENOENT) found = r;
    }
    if (found < 0) child_report(c, Step::exec, found, p.argv[0]);
    // USER_NOTIF rules: the filter goes on now, so the parent takes the
    // listener before `create` returns (Sandbox::plan_seccomp); from here
    // on every call of ours passes through it.
    if (p.seccomp != nullptr && p.seccomp_before_gate) seccomp_chosen = child_seccomp_install(c);
    if (child_send(c, kMsgReady, 0) < 0) sys::exit_group(127);
    char go;
    do r = sys::call(SYS_read, c->gate_fd, &go, 1);
    while (r == -EINTR);
    if (r != 1) sys::exit_group(127);  // the gate was closed: never started
    sys::call(SYS_close, c->gate_fd);
  }
  // Sandbox::init_process: this process becomes ward's init, the program
  // goes on in its child (Sandbox::plan refuses a filter before the gate).
  if (c->init_fd >= 0) child_init(c);
  child_exec_program(c, seccomp_chosen);
}

// The last steps of the process that execs the program: the signal mask
// of the caller's spawn (everything blocked) undone, the seccomp filter,
// the exec (through the trampoline with sealed_exec).
[[noreturn]] WARD_CHILD_FN inline void child_exec_program(SpawnCtx* c,
                                                          const char* seccomp_chosen) noexcept {
  const ChildPlan& p = *c->plan;
  long r;
  std::uint64_t none = 0;
  r = sys::call(SYS_rt_sigprocmask, SIG_SETMASK, &none, nullptr, sizeof none);
  if (r < 0) child_report(c, Step::sigmask, r, "unblock signals");
  if (seccomp_chosen != nullptr) child_seccomp_exec_chosen(c, seccomp_chosen);
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

}  // namespace child
}  // namespace ward::detail
