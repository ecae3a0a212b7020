// SPDX-License-Identifier: Apache-2.0
// Child side of terminals: the SCM_RIGHTS message the sandbox child sends
// its pty master with, and taking a controlling terminal (ward/terminal.hpp
// has the parent side; ward::make_controlling_terminal names this function).
#pragma once

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include <ward/detail/child/syscall.hpp>

namespace ward::detail {

// OneFdMsg is a type both sides use: its child-side members are
// WARD_CHILD_INLINE (always inlined, so no symbol of their own); fd() is
// parent-side only.
// A message carrying exactly one descriptor (SCM_RIGHTS, unix(7)) and a
// few bytes of payload: the shape of a console-socket handoff. Building and
// filling one is child-safe (no library call), so the sandbox child sends
// its pty master with it too.
struct OneFdMsg {
  iovec iov{};
  alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  WARD_CHILD_INLINE OneFdMsg(void* data, std::size_t len) noexcept : iov{data, len} {
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctrl;
    msg.msg_controllen = sizeof ctrl;
  }
  OneFdMsg(const OneFdMsg&) = delete;
  OneFdMsg& operator=(const OneFdMsg&) = delete;
  WARD_CHILD_INLINE void set_fd(int fd) noexcept {
    cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    const auto* src = reinterpret_cast<const unsigned char*>(&fd);
    unsigned char* dst = CMSG_DATA(cm);
    for (std::size_t i = 0; i < sizeof fd; ++i) dst[i] = src[i];
  }
  // The descriptor received (-1 if the message carried none, or was cut).
  int fd() const {
    const cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    if (cm == nullptr || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
        cm->cmsg_len != CMSG_LEN(sizeof(int)) || (msg.msg_flags & MSG_CTRUNC) != 0)
      return -1;
    int fd;
    std::memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    return fd;
  }
};

namespace child {

// Child-safe: make `peer_fd` the calling process's controlling terminal and
// its stdin, stdout and stderr. setsid(2) first (EPERM, "already a process
// group leader", is ignored: the caller may already lead its session; if it
// leads only a group, TIOCSCTTY then fails with EPERM), then
// ioctl(peer_fd, TIOCSCTTY, 0) (0: never steal a terminal that is another
// session's), then dup3 onto 0, 1 and 2 (close-on-exec cleared; a peer
// already at 0..2 keeps its number with FD_CLOEXEC cleared). `peer_fd`
// itself is left open (it is O_CLOEXEC if Pty::open made it). Returns 0 or
// -errno; with `failed_step` set, names the step that failed ("setsid",
// "TIOCSCTTY", "dup3", "fcntl") in a string literal.
WARD_CHILD_INLINE long make_controlling_terminal(int peer_fd,
                                                 const char** failed_step = nullptr) noexcept {
  long r = sys::call(SYS_setsid);
  if (r < 0 && r != -EPERM) {
    if (failed_step) *failed_step = "setsid";
    return r;
  }
  r = sys::call(SYS_ioctl, peer_fd, TIOCSCTTY, 0);
  if (r < 0) {
    if (failed_step) *failed_step = "TIOCSCTTY";
    return r;
  }
  for (int target = 0; target < 3; ++target) {
    if (peer_fd == target) {
      r = sys::call(SYS_fcntl, target, F_SETFD, 0);
      if (r < 0) {
        if (failed_step) *failed_step = "fcntl";
        return r;
      }
      continue;
    }
    do r = sys::call(SYS_dup3, peer_fd, target, 0);
    while (r == -EBUSY || r == -EINTR);
    if (r < 0) {
      if (failed_step) *failed_step = "dup3";
      return r;
    }
  }
  return 0;
}

}  // namespace child
}  // namespace ward::detail
