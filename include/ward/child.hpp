// SPDX-License-Identifier: Apache-2.0
// Child: a spawned process, held by a pidfd.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include <ward/detail/child/syscall.hpp>
#include <ward/error.hpp>
#include <ward/fd.hpp>
#include <ward/rootfs_mount.hpp>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace ward {

namespace detail {
// SIGKILL through the pidfd, then reap (retrying on EINTR): what a Child
// does when dropped unwaited, and what spawn does to a child it gives up on.
inline void kill_and_reap(int pidfd) noexcept {
  if (pidfd < 0) return;
  ::syscall(sys::nr_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
  siginfo_t info;
  while (::syscall(SYS_waitid, P_PIDFD, pidfd, &info, WEXITED, nullptr) < 0 && errno == EINTR) {
  }
}
}  // namespace detail

// How a child ended, with its resource usage (getrusage(2) fields).
struct ExitStatus {
  enum class Kind { exited, signaled };
  Kind kind = Kind::exited;
  int code = 0;  // exit status, or the terminating signal
  bool core_dumped = false;
  bool oom_killed = false;  // filled in where a cgroup reports it
  struct rusage usage {};

  bool exited() const noexcept { return kind == Kind::exited; }
  bool signaled() const noexcept { return kind == Kind::signaled; }
  int exit_code() const noexcept { return exited() ? code : -1; }
  int signal() const noexcept { return signaled() ? code : 0; }
  bool success() const noexcept { return exited() && code == 0; }
  // The status a shell (and runc) reports: the exit code, or 128+signal.
  int shell_status() const noexcept { return exited() ? code : 128 + code; }

  // From waitid(2)'s answer for a child that ended (rusage left empty).
  static ExitStatus from(const siginfo_t& info) noexcept {
    ExitStatus s;
    s.kind = info.si_code == CLD_EXITED ? Kind::exited : Kind::signaled;
    s.code = info.si_status;
    s.core_dumped = info.si_code == CLD_DUMPED;
    return s;
  }

  std::string describe() const {
    if (exited()) return "exited with status " + std::to_string(code);
    std::string s = "killed by signal " + std::to_string(code);
    if (const char* abbrev = ::sigabbrev_np(code)) s += std::string(" (SIG") + abbrev + ")";
    if (oom_killed) s += ", OOM-killed";
    if (core_dumped) s += ", core dumped";
    return s;
  }
};

// A child process. The pidfd makes every operation race-free against pid
// reuse (pidfd_open(2), pidfd_send_signal(2), waitid(2) with P_PIDFD).
//
// Destructor policy: a Child that was neither waited for nor detached is
// killed with SIGKILL and reaped, so an exception between spawn() and wait()
// never leaves a stray process or a zombie. detach() opts out: the process
// keeps running, and reaping it becomes the caller's business (it stays our
// child, so waitpid(pid()) works; or it is reaped by init when we exit).
class Child {
 public:
  Child() = default;
  Child(UniqueFd pidfd, pid_t pid) noexcept : pidfd_(std::move(pidfd)), pid_(pid) {}
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  Child(Child&& o) noexcept { *this = std::move(o); }
  Child& operator=(Child&& o) noexcept {
    if (this != &o) {
      reap_on_destroy();
      pidfd_ = std::move(o.pidfd_);
      pid_ = std::exchange(o.pid_, -1);
      status_ = std::exchange(o.status_, std::nullopt);
      detached_ = std::exchange(o.detached_, false);
      stdin_ = std::move(o.stdin_);
      stdout_ = std::move(o.stdout_);
      stderr_ = std::move(o.stderr_);
      seccomp_listener_ = std::move(o.seccomp_listener_);
      terminal_ = std::move(o.terminal_);
      init_status_ = std::move(o.init_status_);
      oom_dir_ = std::move(o.oom_dir_);
      oom_before_ = o.oom_before_;
      rootfs_mount_ = std::exchange(o.rootfs_mount_, RootfsMount{});
      rootfs_ns_ = std::move(o.rootfs_ns_);
    }
    return *this;
  }
  ~Child() { reap_on_destroy(); }

  // The pid in the caller's pid namespace.
  pid_t pid() const noexcept { return pid_; }
  // Borrowed; stays owned by this Child.
  int pidfd() const noexcept { return pidfd_.get(); }
  bool valid() const noexcept { return static_cast<bool>(pidfd_); }

  // Parent ends of the pipes asked for with Stdio::pipe(), else empty.
  UniqueFd& stdin_pipe() noexcept { return stdin_; }
  UniqueFd& stdout_pipe() noexcept { return stdout_; }
  UniqueFd& stderr_pipe() noexcept { return stderr_; }
  // The seccomp notification listener, when the child's filter has
  // USER_NOTIF rules (wrap it in a SeccompListener to supervise).
  UniqueFd& seccomp_listener() noexcept { return seccomp_listener_; }
  // The pseudo-terminal master, when Sandbox::terminal() was asked for.
  UniqueFd& terminal() noexcept { return terminal_; }

  // Blocks until the child ends; returns the same status on later calls.
  ExitStatus wait() {
    if (status_) return *status_;
    auto s = reap(0);
    return *s;
  }

  // The status if the child has ended, without blocking.
  std::optional<ExitStatus> try_wait() {
    if (status_) return status_;
    return reap(WNOHANG);
  }

  // Waits up to `timeout` (a pidfd polls readable once the process exits).
  std::optional<ExitStatus> wait_for(std::chrono::milliseconds timeout) {
    if (status_) return status_;
    struct pollfd p {
      pidfd_.get(), POLLIN, 0
    };
    for (;;) {
      int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) detail::throw_errno(Step::wait, "pid " + std::to_string(pid_));
      break;
    }
    return try_wait();
  }

  // Sends `sig`. A child that already ended (and was reaped) is not an error.
  void kill(int sig = SIGKILL) {
    if (status_ || !pidfd_) return;
    long r = ::syscall(detail::sys::nr_pidfd_send_signal, pidfd_.get(), sig, nullptr, 0);
    if (r < 0 && errno != ESRCH)
      detail::throw_errno(Step::signal, "pid " + std::to_string(pid_), ::sigdescr_np(sig));
  }

  // Give up ownership: the destructor will not kill or reap, nor detach
  // rootfs_mount().
  void detach() noexcept { detached_ = true; }

  // Sandbox::shared_mount_namespace: the rootfs's clone in the namespace
  // the child shares, with every mount made below it. The destructor
  // detaches it (after the kill and reap) unless detach() was called, or
  // another mount covers it then (RootfsMount::detach says false; a copy
  // taken before can detach it later); a runtime whose containers outlive
  // it records it and detaches it itself. Empty otherwise.
  const RootfsMount& rootfs_mount() const noexcept { return rootfs_mount_; }
  // The joined mount namespace the clone is in (RootfsMount::detach's
  // argument), -1 when it is in ours. Borrowed.
  int rootfs_mount_ns() const noexcept { return rootfs_ns_ ? rootfs_ns_.get() : -1; }

  // Set by code that learns more about the end (e.g. a cgroup's OOM count).
  void note_oom_killed() noexcept {
    if (status_) status_->oom_killed = true;
  }

  // Watch this cgroup directory (a descriptor we own) for OOM kills: if the
  // child dies by SIGKILL and memory.events' oom_kill count has grown since
  // `oom_kills_before`, the status says oom_killed. Sandbox::cgroup() sets it.
  void watch_oom(UniqueFd cgroup_dir, std::uint64_t oom_kills_before) noexcept {
    oom_dir_ = std::move(cgroup_dir);
    oom_before_ = oom_kills_before;
  }
  // The oom_kill count of a cgroup directory: memory.events' on v2,
  // memory.oom_control's on v1 (memcg_v1.rst, Linux 4.13); 0 where there is
  // none. Both spell it "oom_kill N" ("oom_kill_disable" does not match).
  static std::uint64_t oom_kills(int cgroup_dir) noexcept {
    int fd = ::openat(cgroup_dir, "memory.events", O_RDONLY | O_CLOEXEC);
    if (fd < 0) fd = ::openat(cgroup_dir, "memory.oom_control", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[512];
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    const char* at = std::strstr(buf, "oom_kill ");
    return at ? std::strtoull(at + 9, nullptr, 10) : 0;
  }

 private:
  std::optional<ExitStatus> reap(int flags) {
    if (!pidfd_) throw Error(Step::wait, EBADF, "child", "no process (moved from?)");
    siginfo_t info;
    std::memset(&info, 0, sizeof info);
    struct rusage ru {};
    for (;;) {
      // The raw system call: glibc's waitid() has no rusage argument.
      long r = ::syscall(SYS_waitid, P_PIDFD, pidfd_.get(), &info, WEXITED | flags, &ru);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) detail::throw_errno(Step::wait, "pid " + std::to_string(pid_));
      break;
    }
    if (info.si_pid == 0) return std::nullopt;  // WNOHANG and still running
    ExitStatus s = ExitStatus::from(info);
    s.usage = ru;
    // Sandbox::init_process: what ended was ward's init; the status is the
    // program's, which the init wrote before it exited (its rusage holds
    // the program's, which it reaped). An init that ended otherwise (killed
    // with the namespace, by SIGKILL at a limit) wrote nothing: its own end
    // is the status.
    if (init_status_) {
      int ws = 0;
      ssize_t n;
      do n = ::read(init_status_.get(), &ws, sizeof ws);
      while (n < 0 && errno == EINTR);
      init_status_.reset();
      if (n == static_cast<ssize_t>(sizeof ws) && s.exited() && s.code == 0) {
        if (WIFEXITED(ws)) {
          s.kind = ExitStatus::Kind::exited;
          s.code = WEXITSTATUS(ws);
        } else if (WIFSIGNALED(ws)) {
          s.kind = ExitStatus::Kind::signaled;
          s.code = WTERMSIG(ws);
          s.core_dumped = WCOREDUMP(ws);
        }
      }
    }
    if (s.signaled() && s.code == SIGKILL && oom_dir_ && oom_kills(oom_dir_.get()) > oom_before_)
      s.oom_killed = true;
    status_ = s;
    return status_;
  }

  void reap_on_destroy() noexcept {
    if (detached_) return;
    if (pidfd_ && !status_) detail::kill_and_reap(pidfd_.get());
    if (rootfs_mount_)
      (void)detail::detach_mount_in(rootfs_ns_.get(), rootfs_mount_.path.c_str(), rootfs_mount_.id,
                                    rootfs_mount_.unique);
    rootfs_ns_.reset();
    rootfs_mount_ = RootfsMount{};
  }

  UniqueFd pidfd_;
  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;
  bool detached_ = false;
  UniqueFd stdin_, stdout_, stderr_;
  UniqueFd seccomp_listener_;
  UniqueFd terminal_;
  UniqueFd init_status_;  // Sandbox::init_process: the init's report of the program's status
  UniqueFd oom_dir_;
  std::uint64_t oom_before_ = 0;
  RootfsMount rootfs_mount_;
  UniqueFd rootfs_ns_;  // the joined mount namespace it is in; empty: ours

  friend class Plan;
};

}  // namespace ward
