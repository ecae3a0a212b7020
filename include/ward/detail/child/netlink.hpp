// SPDX-License-Identifier: Apache-2.0
// Bringing the loopback interface up over rtnetlink, without `ip`.
//
// A new network namespace starts with only `lo`, and it is DOWN
// (network_namespaces(7)). This sends one RTM_NEWLINK request for ifindex 1
// with IFF_UP set and waits for the kernel's ACK (rtnetlink(7), netlink(7)).
// It runs in the sandbox child: raw syscalls, buffers on the stack only.
#pragma once

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <cstdint>

#include <ward/detail/child/syscall.hpp>

namespace ward::detail::child {

// Returns 0, or -errno (from the socket calls or from the kernel's NLMSG_ERROR).
WARD_CHILD_FN inline long loopback_up() noexcept {
  long fd = sys::call(SYS_socket, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return fd;

  struct {
    struct nlmsghdr nh;
    struct ifinfomsg ifi;
  } req;
  sys::zero(req);  // not `req{}`: a memset call at -O0
  req.nh.nlmsg_len = sizeof req;
  req.nh.nlmsg_type = RTM_NEWLINK;
  req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  req.nh.nlmsg_seq = 1;
  req.ifi.ifi_family = AF_UNSPEC;
  req.ifi.ifi_index = 1;  // lo is always ifindex 1 in a fresh namespace
  req.ifi.ifi_flags = IFF_UP;
  req.ifi.ifi_change = IFF_UP;

  struct sockaddr_nl kernel;
  sys::zero(kernel);
  kernel.nl_family = AF_NETLINK;

  long r = sys::call(SYS_sendto, fd, &req, sizeof req, 0, &kernel, sizeof kernel);
  if (r < 0) {
    sys::call(SYS_close, fd);
    return r;
  }

  alignas(struct nlmsghdr) char buf[512];
  for (;;) {
    r = sys::call(SYS_recvfrom, fd, buf, sizeof buf, 0, nullptr, nullptr);
    if (r == -EINTR) continue;
    break;
  }
  sys::call(SYS_close, fd);
  if (r < 0) return r;
  if (static_cast<unsigned long>(r) < sizeof(struct nlmsghdr) + sizeof(struct nlmsgerr))
    return -EPROTO;
  auto* nh = reinterpret_cast<struct nlmsghdr*>(buf);
  if (nh->nlmsg_type != NLMSG_ERROR) return -EPROTO;
  auto* err = static_cast<struct nlmsgerr*>(NLMSG_DATA(nh));
  return err->error;  // 0 is the ACK, else -errno
}

}  // namespace ward::detail::child
