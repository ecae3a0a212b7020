// SPDX-License-Identifier: Apache-2.0
// SeccompListener: supervising SECCOMP_RET_USER_NOTIF from another process.
//
// A filter that returns USER_NOTIF suspends the calling thread and hands the
// system call to whoever holds the filter's listener fd (seccomp_unotify(2),
// Documentation/userspace-api/seccomp_filter.rst). The supervisor inspects
// the call and answers with an errno, a return value, CONTINUE, or injects
// a descriptor into the target.
//
// The rule this class enforces: data read from the target (its memory, a
// path it passes) may be stale the moment it is read, because the target's
// pid can be reused if it dies. So every read of target memory is
// bracketed by SECCOMP_IOCTL_NOTIF_ID_VALID checks, and a response is only
// as trustworthy as that check.
#pragma once

#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <ward/error.hpp>
#include <ward/fd.hpp>

namespace ward {

class SeccompListener;

// One suspended system call.
struct SeccompNotification {
  std::uint64_t id = 0;
  pid_t pid = 0;  // in the listener's pid namespace (0 if not visible there)
  seccomp_data data{};

  int nr() const noexcept { return data.nr; }
  std::uint32_t arch() const noexcept { return data.arch; }
  std::uint64_t arg(unsigned i) const noexcept { return i < 6 ? data.args[i] : 0; }
};

class SeccompListener {
 public:
  SeccompListener() = default;
  explicit SeccompListener(UniqueFd fd) noexcept : fd_(std::move(fd)) {}

  int fd() const noexcept { return fd_.get(); }
  bool valid() const noexcept { return static_cast<bool>(fd_); }
  UniqueFd release() noexcept { return std::move(fd_); }

  // Waits up to `timeout` (negative: forever) for a notification. Returns
  // nothing on timeout, or when every filter user has gone (POLLHUP).
  std::optional<SeccompNotification> receive(
      std::chrono::milliseconds timeout = std::chrono::milliseconds(-1)) {
    pollfd p{fd_.get(), POLLIN, 0};
    for (;;) {
      int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) detail::throw_errno(Step::seccomp, "listener", "poll");
      if (r == 0) return std::nullopt;
      if ((p.revents & POLLIN) == 0) return std::nullopt;  // POLLHUP: no target left
      break;
    }
    seccomp_notif n;
    for (;;) {
      // The kernel requires the buffer to be zeroed (it returns EINVAL
      // otherwise, since 5.5).
      std::memset(&n, 0, sizeof n);
      if (::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_RECV, &n) == 0) break;
      // ENOENT: the target died (or was interrupted) between poll and recv.
      if (errno == EINTR || errno == ENOENT) return std::nullopt;
      detail::throw_errno(Step::seccomp, "listener", "SECCOMP_IOCTL_NOTIF_RECV");
    }
    SeccompNotification out;
    out.id = n.id;
    out.pid = static_cast<pid_t>(n.pid);
    out.data = n.data;
    return out;
  }

  // Is the target of notification `id` still waiting for our answer? False
  // once it died or was interrupted; then its pid may already belong to
  // another process.
  bool id_valid(std::uint64_t id) const noexcept {
    return ::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
  }

  // Reads `len` bytes at `addr` of the target, safely: /proc/PID/mem is
  // opened, the id is re-validated (the fd now surely refers to the right
  // process), and the id is validated again after the read (the data was
  // read while the target was still suspended in that call). Throws
  // ward::Error (ENOENT) when the target has gone.
  std::vector<unsigned char> read_memory(const SeccompNotification& n, std::uint64_t addr,
                                         std::size_t len) const {
    UniqueFd mem = open_mem(n);
    std::vector<unsigned char> buf(len);
    ssize_t got = ::pread(mem.get(), buf.data(), len, static_cast<off_t>(addr));
    if (got < 0) detail::throw_errno(Step::seccomp, "target memory", "pread /proc/PID/mem");
    buf.resize(static_cast<std::size_t>(got));
    require_valid(n, "after reading its memory");
    return buf;
  }

  // A NUL-terminated string (a path argument) of at most `max` bytes.
  std::string read_string(const SeccompNotification& n, std::uint64_t addr,
                          std::size_t max = 4096) const {
    UniqueFd mem = open_mem(n);
    std::string s;
    char chunk[256];
    while (s.size() < max) {
      ssize_t got = ::pread(mem.get(), chunk, sizeof chunk, static_cast<off_t>(addr + s.size()));
      if (got <= 0) break;
      auto* end = static_cast<char*>(std::memchr(chunk, '\0', static_cast<std::size_t>(got)));
      if (end) {
        s.append(chunk, static_cast<std::size_t>(end - chunk));
        require_valid(n, "after reading its memory");
        return s;
      }
      s.append(chunk, static_cast<std::size_t>(got));
    }
    throw Error(Step::seccomp, ENAMETOOLONG, "target string",
                "no NUL within " + std::to_string(max) + " bytes");
  }

  // Answers: the call fails with `err` (a positive errno).
  void respond_errno(const SeccompNotification& n, int err) { send(n.id, 0, -err, 0); }
  // Answers: the call returns `value` without running.
  void respond_value(const SeccompNotification& n, std::int64_t value) { send(n.id, value, 0, 0); }
  // Answers: the kernel runs the call as if no filter had stopped it. Only
  // safe when the decision does not depend on target memory (the target's
  // other threads may change it after our check: seccomp_unotify(2), NOTES).
  void respond_continue(const SeccompNotification& n) {
    send(n.id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
  }

  // Installs a copy of our `fd` in the target (SECCOMP_IOCTL_NOTIF_ADDFD,
  // Linux 5.9). `target_fd` >= 0 chooses its number. With `and_respond`
  // (Linux 5.14) the call returns the new fd number atomically. Returns
  // the fd number in the target.
  int add_fd(const SeccompNotification& n, int fd, int target_fd = -1, bool cloexec = true,
             bool and_respond = false) {
    seccomp_notif_addfd a{};
    a.id = n.id;
    a.srcfd = static_cast<std::uint32_t>(fd);
    a.newfd = target_fd >= 0 ? static_cast<std::uint32_t>(target_fd) : 0;
    a.flags = (target_fd >= 0 ? SECCOMP_ADDFD_FLAG_SETFD : 0u) |
              (and_respond ? SECCOMP_ADDFD_FLAG_SEND : 0u);
    a.newfd_flags = cloexec ? O_CLOEXEC : 0;
    int r = ::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_ADDFD, &a);
    if (r < 0)
      detail::throw_errno(Step::seccomp, "target pid " + std::to_string(n.pid),
                          errno == EINVAL && and_respond ? "ADDFD_FLAG_SEND needs Linux 5.14"
                                                         : "SECCOMP_IOCTL_NOTIF_ADDFD");
    return r;
  }

 private:
  UniqueFd open_mem(const SeccompNotification& n) const {
    if (n.pid <= 0)
      throw Error(Step::seccomp, ESRCH, "target", "its pid is not visible in our pid namespace");
    std::string path = "/proc/" + std::to_string(n.pid) + "/mem";
    UniqueFd mem(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!mem) detail::throw_errno(Step::seccomp, path);
    require_valid(n, "after opening its memory");
    return mem;
  }

  void require_valid(const SeccompNotification& n, const char* when) const {
    if (!id_valid(n.id))
      throw Error(Step::seccomp, ENOENT, "target pid " + std::to_string(n.pid),
                  std::string("the notification is no longer valid ") + when);
  }

  void send(std::uint64_t id, std::int64_t val, int error, std::uint32_t flags) {
    seccomp_notif_resp r{};
    r.id = id;
    r.val = val;
    r.error = error;
    r.flags = flags;
    if (::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_SEND, &r) != 0) {
      // ENOENT: the target went away before the answer; nothing to answer.
      if (errno == ENOENT) return;
      detail::throw_errno(Step::seccomp, "listener", "SECCOMP_IOCTL_NOTIF_SEND");
    }
  }

  UniqueFd fd_;
};

}  // namespace ward
