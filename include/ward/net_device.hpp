// SPDX-License-Identifier: Apache-2.0
// Moving a host network interface into a sandbox's network namespace, over
// rtnetlink (rtnetlink(7), netlink(7)), without `ip`: runtime-spec 1.3
// linux.netDevices ("Network Devices" in config-linux.md).
//
//   ward::Namespace net = ward::Namespace::open_pidfd(NsKind::net, child.pidfd());
//   ward::move_net_device(net, "eth1", "ctr0");
//
// What the spec asks, and how:
//  - the device keeps its permanent (IFA_F_PERMANENT) addresses of global
//    scope (RT_SCOPE_UNIVERSE), of any family: they are read before the
//    move (the kernel drops every address when a device changes namespace)
//    and added again inside;
//  - it is renamed by the move itself (RTM_NEWLINK with IFLA_NET_NS_FD and
//    IFLA_IFNAME: dev_change_net_namespace takes the new name), so a name
//    taken inside is the kernel's EEXIST and nothing moved; a name ending in
//    "%d" is a template the kernel fills;
//  - it is brought up inside.
// Inside the namespace, a netlink socket is made by a short-lived thread
// that joins it (setns(2) affects the calling thread only), so the caller's
// own threads never change namespace.
// Tests: runtime: linux.netDevices moves a host device in ... (tests/root/runtime_spec13_test.cpp),
// oci: runtime-spec 1.3 linux.netDevices ... (tests/unit/oci_test.cpp).
#pragma once

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <ward/error.hpp>
#include <ward/fd.hpp>
#include <ward/namespace.hpp>

namespace ward {

namespace detail::netdev {

// One request/response exchange on a NETLINK_ROUTE socket. `on_msg` sees
// every message of a dump; for a plain request, the ACK's error is returned.
class Rtnl {
 public:
  explicit Rtnl(UniqueFd fd) : fd_(std::move(fd)) {}
  static Rtnl open_here() {
    UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!fd) throw_errno(Step::net_device, "rtnetlink socket");
    return Rtnl(std::move(fd));
  }
  // A socket in `netns`, made by a thread that joins it and ends.
  static Rtnl open_in(const Namespace& netns) {
    int err = 0;
    UniqueFd fd;
    std::thread t([&] {
      if (::setns(netns.fd(), CLONE_NEWNET) != 0) {
        err = errno;
        return;
      }
      fd = UniqueFd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
      if (!fd) err = errno;
    });
    t.join();
    if (err != 0)
      throw Error(Step::net_device, err, "rtnetlink socket in the sandbox's network namespace");
    return Rtnl(std::move(fd));
  }

  // Sends `msg` (a complete nlmsghdr + payload) and returns the kernel's
  // answer: 0 or -errno for a request with NLM_F_ACK; for a dump, calls
  // `on_msg` for each message until NLMSG_DONE.
  template <typename F>
  int exchange(std::vector<char>& msg, F&& on_msg) {
    auto* nh = reinterpret_cast<nlmsghdr*>(msg.data());
    nh->nlmsg_len = static_cast<std::uint32_t>(msg.size());
    nh->nlmsg_seq = ++seq_;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(fd_.get(), msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
                 sizeof kernel) < 0)
      return -errno;
    std::vector<char> buf(32768);
    for (;;) {
      ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        return -errno;
      }
      auto len = static_cast<unsigned>(n);
      for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, len);
           h = NLMSG_NEXT(h, len)) {
        if (h->nlmsg_seq != seq_) continue;
        if (h->nlmsg_type == NLMSG_DONE) return 0;
        if (h->nlmsg_type == NLMSG_ERROR) {
          auto* e = static_cast<nlmsgerr*>(NLMSG_DATA(h));
          if (e->error != 0 || !(h->nlmsg_flags & NLM_F_MULTI)) return e->error;
          continue;
        }
        on_msg(h);
      }
    }
  }
  int request(std::vector<char>& msg) {
    return exchange(msg, [](const nlmsghdr*) {});
  }

 private:
  UniqueFd fd_;
  std::uint32_t seq_ = 0;
};

// A message: header, fixed part `T`, then attributes.
template <typename T>
std::vector<char> message(std::uint16_t type, std::uint16_t flags, const T& body) {
  std::vector<char> m(NLMSG_SPACE(sizeof(T)));
  auto* nh = reinterpret_cast<nlmsghdr*>(m.data());
  nh->nlmsg_type = type;
  nh->nlmsg_flags = flags;
  std::memcpy(NLMSG_DATA(nh), &body, sizeof(T));
  return m;
}
inline void add_attr(std::vector<char>& m, std::uint16_t type, const void* data, std::size_t len) {
  std::size_t at = m.size();
  m.resize(at + RTA_SPACE(len));
  auto* rta = reinterpret_cast<rtattr*>(m.data() + at);
  rta->rta_type = type;
  rta->rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
  std::memcpy(RTA_DATA(rta), data, len);
}
inline void add_attr(std::vector<char>& m, std::uint16_t type, std::string_view s) {
  std::string z(s);  // NUL-terminated, as the kernel's nla_strscpy expects
  add_attr(m, type, z.c_str(), z.size() + 1);
}

// An address as RTM_GETADDR reports it, enough to add it again.
struct Address {
  ifaddrmsg ifa{};
  std::vector<std::pair<std::uint16_t, std::vector<char>>> attrs;  // IFA_LOCAL, IFA_ADDRESS, ...
};

struct Link {
  int index = 0;
  std::string name;
  std::vector<char> hwaddr;
};

inline std::vector<Link> links(Rtnl& nl) {
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  auto m = message(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, ifi);
  std::vector<Link> out;
  int r = nl.exchange(m, [&](const nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWLINK) return;
    auto* info = static_cast<const ifinfomsg*>(NLMSG_DATA(h));
    Link l;
    l.index = info->ifi_index;
    int len = static_cast<int>(IFLA_PAYLOAD(h));
    for (auto* a = IFLA_RTA(info); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
      const char* d = static_cast<const char*>(RTA_DATA(a));
      if (a->rta_type == IFLA_IFNAME) l.name.assign(d, ::strnlen(d, RTA_PAYLOAD(a)));
      if (a->rta_type == IFLA_ADDRESS) l.hwaddr.assign(d, d + RTA_PAYLOAD(a));
    }
    out.push_back(std::move(l));
  });
  if (r < 0) throw Error(Step::net_device, -r, "RTM_GETLINK", "listing network devices");
  return out;
}

// The permanent addresses of global scope of device `index`.
inline std::vector<Address> kept_addresses(Rtnl& nl, int index) {
  ifaddrmsg q{};
  q.ifa_family = AF_UNSPEC;
  auto m = message(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, q);
  std::vector<Address> out;
  int r = nl.exchange(m, [&](const nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWADDR) return;
    auto* ifa = static_cast<const ifaddrmsg*>(NLMSG_DATA(h));
    if (static_cast<int>(ifa->ifa_index) != index || ifa->ifa_scope != RT_SCOPE_UNIVERSE) return;
    Address a;
    a.ifa = *ifa;
    std::uint32_t flags = ifa->ifa_flags;
    int len = static_cast<int>(IFA_PAYLOAD(h));
    for (auto* at = IFA_RTA(ifa); RTA_OK(at, len); at = RTA_NEXT(at, len)) {
      const char* d = static_cast<const char*>(RTA_DATA(at));
      // IFA_FLAGS carries all 32 bits (ifa_flags only the low 8).
      if (at->rta_type == IFA_FLAGS && RTA_PAYLOAD(at) >= 4) std::memcpy(&flags, d, 4);
      if (at->rta_type == IFA_LOCAL || at->rta_type == IFA_ADDRESS ||
          at->rta_type == IFA_BROADCAST || at->rta_type == IFA_LABEL)
        a.attrs.emplace_back(at->rta_type, std::vector<char>(d, d + RTA_PAYLOAD(at)));
    }
    if (!(flags & IFA_F_PERMANENT)) return;
    out.push_back(std::move(a));
  });
  if (r < 0) throw Error(Step::net_device, -r, "RTM_GETADDR", "listing addresses");
  return out;
}

}  // namespace detail::netdev

// Whether the calling thread's network namespace has a device `name`.
inline bool net_device_exists(std::string_view name) {
  if (name.empty() || name.size() >= IFNAMSIZ) return false;
  return ::if_nametoindex(std::string(name).c_str()) != 0;
}

// Checks a device name as the kernel would (dev_valid_name): 1 to 15 bytes,
// not "." or "..", no '/', ':' or whitespace. With `allow_template`, one
// "%d" may end it (the kernel then picks a free number). Throws Error(validate)
// naming `field`.
inline void check_net_device_name(std::string_view name, const std::string& field,
                                  bool allow_template = false) {
  auto bad = [&](const std::string& why) {
    detail::throw_invalid(field,
                          "invalid network device name \"" + std::string(name) + "\": " + why);
  };
  if (name.empty()) bad("empty");
  if (name.size() >= IFNAMSIZ) bad("longer than " + std::to_string(IFNAMSIZ - 1) + " bytes");
  if (name == "." || name == "..") bad("not a name");
  for (char ch : name)
    if (ch == '/' || ch == ':' || ch == ' ' || (ch >= '\t' && ch <= '\r') || ch == '\0')
      bad("contains '/', ':', a space or a control character");
  auto pct = name.find('%');
  if (pct != std::string_view::npos && (!allow_template || name.substr(pct) != "%d" || pct == 0))
    bad("'%' is only allowed as a final \"%d\" template");
}

// Moves the caller's network device `host_name` into `netns` (a network
// namespace: Namespace::open_pidfd(NsKind::net, ...)), named `new_name`
// there (empty: the same name), with its permanent global addresses, and
// up. Returns the name it has inside. Throws Error(Step::net_device) naming
// the device and the rtnetlink step; if the move itself fails the device is
// where it was.
inline std::string move_net_device(const Namespace& netns, std::string_view host_name,
                                   std::string_view new_name = {}) {
  using namespace detail::netdev;
  const std::string obj = "network device " + std::string(host_name);
  check_net_device_name(host_name, obj);
  const std::string target(new_name.empty() ? host_name : new_name);
  check_net_device_name(target, obj, true);
  if (netns.kind() != NsKind::net)
    detail::throw_invalid(obj, "the target is not a network namespace");

  Rtnl host = Rtnl::open_here();
  int index = 0;
  std::vector<char> hwaddr;
  for (const Link& l : links(host))
    if (l.name == host_name) {
      index = l.index;
      hwaddr = l.hwaddr;
    }
  if (index == 0)
    throw Error(Step::net_device, ENODEV, obj, "no such device in this network namespace");
  const std::vector<Address> addrs = kept_addresses(host, index);

  // The move and the rename in one request (rtnetlink do_setlink with
  // IFLA_NET_NS_FD: __dev_change_net_namespace takes IFLA_IFNAME as the
  // name inside).
  {
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    ifi.ifi_index = index;
    auto m = message(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, ifi);
    std::uint32_t nsfd = static_cast<std::uint32_t>(netns.fd());
    add_attr(m, IFLA_NET_NS_FD, &nsfd, sizeof nsfd);
    add_attr(m, IFLA_IFNAME, target);
    if (int r = host.request(m); r < 0)
      throw Error(Step::net_device, -r, obj,
                  r == -EEXIST ? "moving it in: the namespace has a device named " + target
                               : "moving it into the sandbox's network namespace as " + target);
  }

  // Inside: find it (same index unless taken; a template's name is the
  // kernel's), put the addresses back, bring it up.
  Rtnl inside = Rtnl::open_in(netns);
  const std::string prefix = target.substr(0, target.find('%'));
  const bool templ = prefix.size() != target.size();
  const Link* found = nullptr;
  const std::vector<Link> in_links = links(inside);
  for (const Link& l : in_links) {
    bool name_ok = templ ? l.name.rfind(prefix, 0) == 0 : l.name == target;
    if (!name_ok) continue;
    if (!templ || l.index == index || (!hwaddr.empty() && l.hwaddr == hwaddr)) found = &l;
  }
  if (found == nullptr)
    throw Error(Step::net_device, ENODEV, obj, "moved, but not found as " + target + " inside");
  const std::string inner_name = found->name;
  for (const Address& a : addrs) {
    ifaddrmsg ifa = a.ifa;
    ifa.ifa_index = static_cast<std::uint32_t>(found->index);
    auto m = message(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, ifa);
    for (const auto& [type, data] : a.attrs) {
      if (type == IFA_LABEL) {
        // A label is the device name (or "name:alias"): follow the rename.
        std::string label(data.data(), ::strnlen(data.data(), data.size()));
        std::string alias =
            label.rfind(std::string(host_name), 0) == 0 ? label.substr(host_name.size()) : "";
        std::string relabel = inner_name + alias;
        if (relabel.size() < IFNAMSIZ) add_attr(m, IFA_LABEL, relabel);
        continue;
      }
      add_attr(m, type, data.data(), data.size());
    }
    if (int r = inside.request(m); r < 0 && r != -EEXIST)
      throw Error(Step::net_device, -r, obj, "adding its address back inside as " + inner_name);
  }
  ifinfomsg up{};
  up.ifi_family = AF_UNSPEC;
  up.ifi_index = found->index;
  up.ifi_flags = IFF_UP;
  up.ifi_change = IFF_UP;
  auto m = message(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, up);
  if (int r = inside.request(m); r < 0)
    throw Error(Step::net_device, -r, obj, "bringing " + inner_name + " up inside");
  return inner_name;
}

}  // namespace ward
