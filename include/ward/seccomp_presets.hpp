// SPDX-License-Identifier: Apache-2.0
// Seccomp presets: ready policies and building blocks on SeccompFilter.
//
//  - compute_only(): default-deny for a program that computes and talks
//    through its standard streams, static or dynamic, in the style of
//    sandbox2's PolicyBuilder (AllowStaticStartup, AllowDynamicStartup,
//    AllowRead/Write, AllowExit...), with the side-channel set and the
//    nested-user-namespace rules below layered on top.
//  - deny_side_channels(): what IOI isolate keeps from a program by default:
//    keyrings (keyctl, add_key, request_key), AF_VSOCK sockets, file locks
//    and leases (flock, fcntl's lock and lease commands), io_uring, and
//    system calls of a foreign architecture (killed).
//  - deny_nested_user_namespaces(): no unshare(CLONE_NEWUSER), no
//    clone(CLONE_NEWUSER); clone3, whose flags are in memory where seccomp
//    cannot read them, answers ENOSYS so that libc falls back to clone.
//  - docker_default(): Docker's default profile for a container with
//    Docker's default capabilities on amd64, as runc builds it, built in
//    (no JSON file): default ERRNO(EPERM), x86_64 + x86 + x32.
// The building blocks add rules to a filter the caller made (its default
// action and architectures stay the caller's); a rule whose name no
// architecture of the filter has is left out. Deny rules win over allow
// rules for the same call whatever the order (SeccompFilter's precedence:
// ERRNO ranks above ALLOW). Tests: tests/unit/seccomp_presets_test.cpp.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <vector>

#include <ward/seccomp.hpp>

namespace ward::seccomp_presets {

namespace detail {
// Adds `name` to `f` when some architecture of the filter has it.
inline void add(SeccompFilter& f, SeccompAction a, std::string_view name,
                std::vector<ArgCmp> args = {}) {
  for (Arch arch : f.arches())
    if (ward::detail::syscall_nr(arch, name)) {
      f.rule(a, name, std::move(args));
      return;
    }
}
inline void allow_all(SeccompFilter& f, std::initializer_list<std::string_view> names) {
  for (auto n : names) add(f, SeccompAction::allow(), n);
}
inline ArgCmp arg_eq(unsigned i, std::uint64_t v) {
  return ArgCmp{i, Cmp::eq, v, ~std::uint64_t{0}};
}
inline ArgCmp arg_masked(unsigned i, std::uint64_t mask, std::uint64_t v) {
  return ArgCmp{i, Cmp::masked_eq, v, mask};
}
}  // namespace detail

// What a statically linked program (glibc or musl) calls before main(): TLS
// (arch_prctl, set_thread_area), brk, set_tid_address, set_robust_list,
// rseq, uname, the rlimits it reads, readlink of /proc/self/exe, getrandom
// (malloc's tcache), mprotect (RELRO), its signal setup, and exiting.
inline SeccompFilter& allow_static_startup(SeccompFilter& f) {
  detail::allow_all(
      f, {"arch_prctl",     "set_thread_area", "brk",          "set_tid_address", "set_robust_list",
          "rseq",           "uname",           "prlimit64",    "getrlimit",       "ugetrlimit",
          "readlink",       "readlinkat",      "getrandom",    "mprotect",        "rt_sigaction",
          "rt_sigprocmask", "sigaltstack",     "rt_sigreturn", "sigreturn",       "exit",
          "exit_group",     "futex",           "futex_time64"});
  return f;
}

// What the dynamic loader adds: opening libraries read-only (openat/open
// with no write access, O_CREAT, O_TRUNC, O_APPEND or O_TMPFILE), reading
// and mapping them, checking files.
inline SeccompFilter& allow_dynamic_startup(SeccompFilter& f) {
  // __O_TMPFILE alone: O_TMPFILE includes O_DIRECTORY, which opendir uses.
  constexpr std::uint64_t o_tmpfile_bit = 020000000;
  constexpr std::uint64_t writeish = O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | o_tmpfile_bit;
  detail::add(f, SeccompAction::allow(), "openat", {detail::arg_masked(2, writeish, 0)});
  detail::add(f, SeccompAction::allow(), "open", {detail::arg_masked(1, writeish, 0)});
  detail::allow_all(
      f, {"close", "read", "pread64", "fstat", "fstat64", "newfstatat", "fstatat64", "statx",
          "mmap", "mmap2", "munmap", "access", "faccessat", "faccessat2", "lseek", "_llseek"});
  return f;
}

// Computing and using the standard streams: reading, writing, memory,
// clocks and sleeping, ids, signals to itself, threads (clone without
// namespace flags; clone3 answers ENOSYS), isatty (ioctl TCGETS only;
// other ioctls answer ENOTTY), polling, its own descriptors.
inline SeccompFilter& allow_computation_and_stdio(SeccompFilter& f) {
  detail::allow_all(f, {"read",
                        "write",
                        "readv",
                        "writev",
                        "pread64",
                        "pwrite64",
                        "preadv",
                        "pwritev",
                        "lseek",
                        "_llseek",
                        "close",
                        "fstat",
                        "fstat64",
                        "newfstatat",
                        "fstatat64",
                        "statx",
                        "dup",
                        "dup2",
                        "dup3",
                        "fcntl",
                        "fcntl64",
                        "mmap",
                        "mmap2",
                        "munmap",
                        "mremap",
                        "mprotect",
                        "madvise",
                        "brk",
                        "futex",
                        "futex_time64",
                        "clock_gettime",
                        "clock_gettime64",
                        "clock_getres",
                        "clock_getres_time64",
                        "clock_nanosleep",
                        "clock_nanosleep_time64",
                        "nanosleep",
                        "gettimeofday",
                        "time",
                        "getpid",
                        "getppid",
                        "gettid",
                        "getuid",
                        "geteuid",
                        "getgid",
                        "getegid",
                        "getuid32",
                        "geteuid32",
                        "getgid32",
                        "getegid32",
                        "getresuid",
                        "getresgid",
                        "exit",
                        "exit_group",
                        "rt_sigreturn",
                        "sigreturn",
                        "rt_sigaction",
                        "rt_sigprocmask",
                        "sigaltstack",
                        "rt_sigpending",
                        "rt_sigsuspend",
                        "rt_sigtimedwait",
                        "rt_sigtimedwait_time64",
                        "restart_syscall",
                        "sched_yield",
                        "sched_getaffinity",
                        "getrandom",
                        "poll",
                        "ppoll",
                        "ppoll_time64",
                        "pselect6",
                        "pselect6_time64",
                        "select",
                        "_newselect",
                        "pipe",
                        "pipe2",
                        "getcwd",
                        "getrusage",
                        "times",
                        "set_robust_list",
                        "get_robust_list",
                        "rseq",
                        "membarrier",
                        "prlimit64",
                        "getrlimit",
                        "ugetrlimit",
                        "uname",
                        "sysinfo",
                        "arch_prctl",
                        "set_thread_area",
                        "set_tid_address"});
  // Signals to itself only (raise(3), abort(3)): tgkill/tkill/kill of its
  // own process are not checkable by pid here, so kill of pid 0 (the
  // group) is refused and the thread-directed ones allowed.
  detail::allow_all(f, {"tgkill", "tkill", "fadvise64", "fadvise64_64"});
  // Setting its own ids: busybox-static does setgid(getgid()) and
  // setuid(getuid()) at startup. Which ids a process may take is the
  // capability model's business (CAP_SETUID, CAP_SETGID), not this filter's.
  detail::allow_all(f, {"setuid", "setgid", "setuid32", "setgid32"});
  // Naming threads (busybox reads its own name at startup).
  detail::add(f, SeccompAction::allow(), "prctl", {detail::arg_eq(0, 15)});  // PR_SET_NAME
  detail::add(f, SeccompAction::allow(), "prctl", {detail::arg_eq(0, 16)});  // PR_GET_NAME
  detail::add(f, SeccompAction::allow(), "ioctl", {detail::arg_eq(1, TCGETS)});
  detail::add(f, SeccompAction::errno_ret(ENOTTY), "ioctl", {ArgCmp{1, Cmp::lt, TCGETS}});
  detail::add(f, SeccompAction::errno_ret(ENOTTY), "ioctl", {ArgCmp{1, Cmp::gt, TCGETS}});
  // Threads: clone with the thread flags and no namespace flag.
  constexpr std::uint64_t ns_flags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
                                     CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWTIME;
  detail::add(f, SeccompAction::allow(), "clone", {detail::arg_masked(0, ns_flags, 0)});
  detail::add(f, SeccompAction::errno_ret(ENOSYS), "clone3");
  return f;
}

// isolate's side channels: keyrings answer ENOSYS (as a kernel without
// them), AF_VSOCK sockets EAFNOSUPPORT, file locks and leases (flock; fcntl
// F_GETLK, F_SETLK, F_SETLKW, the OFD ones, F_SETLEASE) EPERM, io_uring
// ENOSYS; the socketcall multiplexer of i386 (whose family seccomp cannot
// read) ENOSYS; and a call of any architecture the filter lacks kills the
// process.
inline SeccompFilter& deny_side_channels(SeccompFilter& f) {
  for (auto n : {"keyctl", "add_key", "request_key"})
    detail::add(f, SeccompAction::errno_ret(ENOSYS), n);
  constexpr std::uint64_t af_vsock = 40;
  detail::add(f, SeccompAction::errno_ret(EAFNOSUPPORT), "socket", {detail::arg_eq(0, af_vsock)});
  detail::add(f, SeccompAction::errno_ret(ENOSYS), "socketcall");
  detail::add(f, SeccompAction::errno_ret(EPERM), "flock");
  for (auto fcntl_name : {"fcntl", "fcntl64"})
    for (std::uint64_t cmd :
         {std::uint64_t{F_GETLK}, std::uint64_t{F_SETLK}, std::uint64_t{F_SETLKW},
          std::uint64_t{F_OFD_GETLK}, std::uint64_t{F_OFD_SETLK}, std::uint64_t{F_OFD_SETLKW},
          std::uint64_t{F_SETLEASE}, std::uint64_t{12} /* F_GETLK64 i386 */, std::uint64_t{13},
          std::uint64_t{14}})
      detail::add(f, SeccompAction::errno_ret(EPERM), fcntl_name, {detail::arg_eq(1, cmd)});
  for (auto n : {"io_uring_setup", "io_uring_enter", "io_uring_register"})
    detail::add(f, SeccompAction::errno_ret(ENOSYS), n);
  f.bad_arch_action(SeccompAction::kill_process());
  return f;
}

// No new user namespace: unshare(2) and clone(2) with CLONE_NEWUSER answer
// EPERM; clone3 answers ENOSYS (its flags are in memory, out of seccomp's
// reach), so libc falls back to clone, whose flags are checked.
inline SeccompFilter& deny_nested_user_namespaces(SeccompFilter& f) {
  detail::add(f, SeccompAction::errno_ret(EPERM), "unshare",
              {detail::arg_masked(0, CLONE_NEWUSER, CLONE_NEWUSER)});
  detail::add(f, SeccompAction::errno_ret(EPERM), "clone",
              {detail::arg_masked(0, CLONE_NEWUSER, CLONE_NEWUSER)});
  detail::add(f, SeccompAction::errno_ret(ENOSYS), "clone3");
  return f;
}

// Default-deny for a program that only computes and uses its standard
// streams (what a contest judge runs): static and dynamic startup,
// computation and stdio, no side channels, no nested user namespaces. The
// native architecture only. `otherwise` is what every other call gets
// (default: the process is killed by SIGSYS, so the verdict says SG 31).
inline SeccompFilter compute_only(SeccompAction otherwise = SeccompAction::kill_process()) {
  SeccompFilter f(otherwise);
  allow_static_startup(f);
  allow_dynamic_startup(f);
  allow_computation_and_stdio(f);
  deny_side_channels(f);
  deny_nested_user_namespaces(f);
  return f;
}

// The side channels and nested user namespaces denied, everything else
// allowed: a deny-list for programs that need more than compute_only().
inline SeccompFilter isolate_default() {
  SeccompFilter f(SeccompAction::allow());
  deny_side_channels(f);
  deny_nested_user_namespaces(f);
  return f;
}

// Docker's default profile (moby profiles/seccomp/default.json) for a
// container with Docker's default capabilities on amd64, resolved as Docker
// and runc do (tests/gen_docker_rules.py documents how; the unit test
// compares this with the profile file when the fixture is present).
inline SeccompFilter docker_default() {
  static constexpr std::string_view kAllowed[] = {
      "accept",
      "accept4",
      "access",
      "adjtimex",
      "alarm",
      "bind",
      "brk",
      "cachestat",
      "capget",
      "capset",
      "chdir",
      "chmod",
      "chown",
      "chown32",
      "clock_adjtime",
      "clock_adjtime64",
      "clock_getres",
      "clock_getres_time64",
      "clock_gettime",
      "clock_gettime64",
      "clock_nanosleep",
      "clock_nanosleep_time64",
      "close",
      "close_range",
      "connect",
      "copy_file_range",
      "creat",
      "dup",
      "dup2",
      "dup3",
      "epoll_create",
      "epoll_create1",
      "epoll_ctl",
      "epoll_ctl_old",
      "epoll_pwait",
      "epoll_pwait2",
      "epoll_wait",
      "epoll_wait_old",
      "eventfd",
      "eventfd2",
      "execve",
      "execveat",
      "exit",
      "exit_group",
      "faccessat",
      "faccessat2",
      "fadvise64",
      "fadvise64_64",
      "fallocate",
      "fanotify_mark",
      "fchdir",
      "fchmod",
      "fchmodat",
      "fchmodat2",
      "fchown",
      "fchown32",
      "fchownat",
      "fcntl",
      "fcntl64",
      "fdatasync",
      "fgetxattr",
      "flistxattr",
      "flock",
      "fork",
      "fremovexattr",
      "fsetxattr",
      "fstat",
      "fstat64",
      "fstatat64",
      "fstatfs",
      "fstatfs64",
      "fsync",
      "ftruncate",
      "ftruncate64",
      "futex",
      "futex_requeue",
      "futex_time64",
      "futex_wait",
      "futex_waitv",
      "futex_wake",
      "futimesat",
      "getcpu",
      "getcwd",
      "getdents",
      "getdents64",
      "getegid",
      "getegid32",
      "geteuid",
      "geteuid32",
      "getgid",
      "getgid32",
      "getgroups",
      "getgroups32",
      "getitimer",
      "getpeername",
      "getpgid",
      "getpgrp",
      "getpid",
      "getppid",
      "getpriority",
      "getrandom",
      "getresgid",
      "getresgid32",
      "getresuid",
      "getresuid32",
      "getrlimit",
      "get_robust_list",
      "getrusage",
      "getsid",
      "getsockname",
      "getsockopt",
      "get_thread_area",
      "gettid",
      "gettimeofday",
      "getuid",
      "getuid32",
      "getxattr",
      "getxattrat",
      "inotify_add_watch",
      "inotify_init",
      "inotify_init1",
      "inotify_rm_watch",
      "io_cancel",
      "ioctl",
      "io_destroy",
      "io_getevents",
      "io_pgetevents",
      "io_pgetevents_time64",
      "ioprio_get",
      "ioprio_set",
      "io_setup",
      "io_submit",
      "ipc",
      "kill",
      "landlock_add_rule",
      "landlock_create_ruleset",
      "landlock_restrict_self",
      "lchown",
      "lchown32",
      "lgetxattr",
      "link",
      "linkat",
      "listen",
      "listmount",
      "listxattr",
      "listxattrat",
      "llistxattr",
      "_llseek",
      "lremovexattr",
      "lseek",
      "lsetxattr",
      "lstat",
      "lstat64",
      "madvise",
      "map_shadow_stack",
      "membarrier",
      "memfd_create",
      "memfd_secret",
      "mincore",
      "mkdir",
      "mkdirat",
      "mknod",
      "mknodat",
      "mlock",
      "mlock2",
      "mlockall",
      "mmap",
      "mmap2",
      "mprotect",
      "mq_getsetattr",
      "mq_notify",
      "mq_open",
      "mq_timedreceive",
      "mq_timedreceive_time64",
      "mq_timedsend",
      "mq_timedsend_time64",
      "mq_unlink",
      "mremap",
      "mseal",
      "msgctl",
      "msgget",
      "msgrcv",
      "msgsnd",
      "msync",
      "munlock",
      "munlockall",
      "munmap",
      "name_to_handle_at",
      "nanosleep",
      "newfstatat",
      "_newselect",
      "open",
      "openat",
      "openat2",
      "pause",
      "pidfd_open",
      "pidfd_send_signal",
      "pipe",
      "pipe2",
      "pkey_alloc",
      "pkey_free",
      "pkey_mprotect",
      "poll",
      "ppoll",
      "ppoll_time64",
      "prctl",
      "pread64",
      "preadv",
      "preadv2",
      "prlimit64",
      "process_mrelease",
      "pselect6",
      "pselect6_time64",
      "pwrite64",
      "pwritev",
      "pwritev2",
      "read",
      "readahead",
      "readlink",
      "readlinkat",
      "readv",
      "recv",
      "recvfrom",
      "recvmmsg",
      "recvmmsg_time64",
      "recvmsg",
      "remap_file_pages",
      "removexattr",
      "removexattrat",
      "rename",
      "renameat",
      "renameat2",
      "restart_syscall",
      "riscv_hwprobe",
      "rmdir",
      "rseq",
      "rt_sigaction",
      "rt_sigpending",
      "rt_sigprocmask",
      "rt_sigqueueinfo",
      "rt_sigreturn",
      "rt_sigsuspend",
      "rt_sigtimedwait",
      "rt_sigtimedwait_time64",
      "rt_tgsigqueueinfo",
      "sched_getaffinity",
      "sched_getattr",
      "sched_getparam",
      "sched_get_priority_max",
      "sched_get_priority_min",
      "sched_getscheduler",
      "sched_rr_get_interval",
      "sched_rr_get_interval_time64",
      "sched_setaffinity",
      "sched_setattr",
      "sched_setparam",
      "sched_setscheduler",
      "sched_yield",
      "seccomp",
      "select",
      "semctl",
      "semget",
      "semop",
      "semtimedop",
      "semtimedop_time64",
      "send",
      "sendfile",
      "sendfile64",
      "sendmmsg",
      "sendmsg",
      "sendto",
      "setfsgid",
      "setfsgid32",
      "setfsuid",
      "setfsuid32",
      "setgid",
      "setgid32",
      "setgroups",
      "setgroups32",
      "setitimer",
      "setpgid",
      "setpriority",
      "setregid",
      "setregid32",
      "setresgid",
      "setresgid32",
      "setresuid",
      "setresuid32",
      "setreuid",
      "setreuid32",
      "setrlimit",
      "set_robust_list",
      "setsid",
      "setsockopt",
      "set_thread_area",
      "set_tid_address",
      "setuid",
      "setuid32",
      "setxattr",
      "setxattrat",
      "shmat",
      "shmctl",
      "shmdt",
      "shmget",
      "shutdown",
      "sigaltstack",
      "signalfd",
      "signalfd4",
      "sigprocmask",
      "sigreturn",
      "socketcall",
      "socketpair",
      "splice",
      "stat",
      "stat64",
      "statfs",
      "statfs64",
      "statmount",
      "statx",
      "symlink",
      "symlinkat",
      "sync",
      "sync_file_range",
      "syncfs",
      "sysinfo",
      "tee",
      "tgkill",
      "time",
      "timer_create",
      "timer_delete",
      "timer_getoverrun",
      "timer_gettime",
      "timer_gettime64",
      "timer_settime",
      "timer_settime64",
      "timerfd_create",
      "timerfd_gettime",
      "timerfd_gettime64",
      "timerfd_settime",
      "timerfd_settime64",
      "times",
      "tkill",
      "truncate",
      "truncate64",
      "ugetrlimit",
      "umask",
      "uname",
      "unlink",
      "unlinkat",
      "uretprobe",
      "utime",
      "utimensat",
      "utimensat_time64",
      "utimes",
      "vfork",
      "vmsplice",
      "wait4",
      "waitid",
      "waitpid",
      "write",
      "writev",
      "process_vm_readv",
      "process_vm_writev",
      "ptrace",
      "arch_prctl",
      "modify_ldt",
      "chroot",
  };
  SeccompFilter f(SeccompAction::errno_ret(EPERM));
  f.add_arch(Arch::x86_64).add_arch(Arch::i386).add_arch(Arch::x32);
  f.ignore_unknown_syscalls(true);
  for (auto n : kAllowed) f.rule(SeccompAction::allow(), n);
  auto allow = SeccompAction::allow();
  f.rule(allow, "socket", {ArgCmp{0, Cmp::lt, 38}});
  f.rule(allow, "socket", {ArgCmp{0, Cmp::eq, 39}});
  f.rule(allow, "socket", {ArgCmp{0, Cmp::gt, 40}});
  for (std::uint64_t persona : {0x0ull, 0x8ull, 0x20000ull, 0x20008ull, 0xffffffffull})
    f.rule(allow, "personality", {ArgCmp{0, Cmp::eq, persona}});
  f.rule(allow, "clone", {ArgCmp{0, Cmp::masked_eq, 0, 0x7E020000}});
  f.rule(SeccompAction::errno_ret(ENOSYS), "clone3");
  // runc's "-ENOSYS stub": a call newer than the profile answers ENOSYS.
  f.newer_syscall_action(SeccompAction::errno_ret(ENOSYS));
  return f;
}

}  // namespace ward::seccomp_presets
