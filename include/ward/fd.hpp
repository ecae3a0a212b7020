// SPDX-License-Identifier: Apache-2.0
// UniqueFd: the only way ward hands out a file descriptor it owns.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <utility>

#include <ward/error.hpp>

namespace ward {

// A move-only owner of one file descriptor. Every descriptor ward opens is
// O_CLOEXEC (or SOCK_CLOEXEC, etc.), so a concurrent fork+exec elsewhere in
// the program never inherits it.
class UniqueFd {
 public:
  constexpr UniqueFd() noexcept = default;
  constexpr explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  ~UniqueFd() { reset(); }

  constexpr int get() const noexcept { return fd_; }
  constexpr explicit operator bool() const noexcept { return fd_ >= 0; }
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
  // close(2) errors are not actionable here: the descriptor is gone either
  // way on Linux (see close(2), "Dealing with error returns").
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

namespace detail {
// A close-on-exec copy of a descriptor we were given (numbered from 3, so it
// never lands on stdio), or an Error naming `step` and `what`.
inline UniqueFd dup_cloexec(int fd, Step step, std::string what) {
  int d = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (d < 0) throw_errno(step, std::move(what), "dup");
  return UniqueFd(d);
}

// A descriptor ward just made, moved off 0-2 (the copy is close-on-exec,
// the original closed): with the caller's stdio closed, open(2) and its
// kin return the lowest free number, and a descriptor of ward's at 0, 1
// or 2 would pass for the caller's stdio when a later spawn inherits it.
// Returns `fd` itself when it is not on 0-2, or when no number above 2 is
// free (EMFILE): then it stays, rather than a live process's pidfd being
// lost. Test: tests/root/caller_stdio_test.cpp.
inline int off_stdio(int fd) noexcept {
  if (fd < 0 || fd > 2) return fd;
  int d = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (d < 0) return fd;
  ::close(fd);
  return d;
}

// Whether `copy`, just made of the caller's descriptor `fd` (0-2) for
// Stdio::inherit, is the caller's to hand on: `fd` is not close-on-exec
// and is still the file that was copied. exec(2) passes on no
// close-on-exec descriptor, and every descriptor ward makes is one, so a
// descriptor of ward's that sits on 0-2 when the copy is made (another
// thread's spawn: its report pipe, clone3's pidfd before off_stdio, a
// Stdio::pipe(); a kept one made where off_stdio is missing) is never a
// child's stdio. Checked after the copy: had `fd` been closed and taken
// again meanwhile, the file differs. A close-on-exec descriptor another
// thread of the caller made is left out too; one it made without
// O_CLOEXEC at that moment cannot be told from the caller's own.
// Test: tests/root/caller_stdio_test.cpp ("... concurrent spawns ...").
inline bool inheritable_as(int fd, int copy) noexcept {
  int flags = ::fcntl(fd, F_GETFD);
  if (flags < 0 || (flags & FD_CLOEXEC) != 0) return false;
  struct stat a {};
  struct stat b {};
  return ::fstat(fd, &a) == 0 && ::fstat(copy, &b) == 0 && a.st_dev == b.st_dev &&
         a.st_ino == b.st_ino;
}
}  // namespace detail

}  // namespace ward
