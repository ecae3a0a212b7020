// SPDX-License-Identifier: Apache-2.0
// The seccomp agent of linux.seccomp.listenerPath (runtime-spec
// config-linux.md "Seccomp" and "The Container Process State"): once the
// container's filter is loaded, the runtime connects to the AF_UNIX
// SOCK_STREAM socket at listenerPath and sends, on that one connection,
// the container process state as JSON
//   {"ociVersion", "fds": ["seccompFd"], "pid", "metadata", "state"}
// with the filter's listener (Child::seccomp_listener()) as the only
// SCM_RIGHTS descriptor, then closes it. runc does the same in
// sendContainerProcessState (libcontainer/process_linux.go), at `create`,
// with the state's status "creating" (and "running" for `exec`).
//
// The agent is whoever the config's owner named: it gets the listener, by
// design, and nothing else of the runtime's: the message carries exactly
// one descriptor. A listenerPath that is no listening socket (a FIFO, a
// regular file, a symlink to either) fails the connect at once
// (ECONNREFUSED) instead of being opened; a socket whose queue is full
// makes connect wait at most `timeout` (SO_SNDTIMEO bounds both the
// connect and the send, unix(7)), so a hostile agent cannot hang the
// runtime.
#pragma once

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <string>

#include <ward/error.hpp>
#include <ward/fd.hpp>
#include <ward/oci/config.hpp>
#include <ward/oci/seccomp_profile.hpp>

namespace ward::oci {

// Whether `p` hands any call to a seccomp agent (SCMP_ACT_NOTIFY on a call
// that exists on one of its architectures): then the runtime owes the
// agent the listener. runtime-spec: otherwise listenerPath is ignored.
inline bool seccomp_notifies(const SeccompProfile& p) {
  if (p.filter.default_action().kind() == SeccompAction::Kind::user_notif) return true;
  for (const auto& r : p.filter.resolved_rules())
    if (r.action.kind() == SeccompAction::Kind::user_notif) return true;
  return false;
}

// The container process state as JSON (config-linux.md "The Container
// Process State"). `pid` is the process whose filter the listener belongs
// to (the init's, or an exec'd process'); `state` the container's state.
inline std::string container_process_state_json(const State& state, int pid,
                                                const std::string& metadata) {
  using ward::json::Value;
  json::Array fds;
  fds.emplace_back(std::string("seccompFd"));
  Value v = Value::object(
      {{"ociVersion", std::string(kOciVersionMax)}, {"fds", Value(std::move(fds))}, {"pid", pid}});
  // runc: `metadata,omitempty`.
  if (!metadata.empty()) v.set("metadata", metadata);
  v.set("state", json::parse(to_json(state)));
  return json::dump(v);
}

// Connects to the agent at `path` ("@name": the abstract socket `name`, as
// Go's net.Dial reads it and so runc). Errors name linux.seccomp.listenerPath,
// the path and the errno.
inline UniqueFd connect_seccomp_agent(const std::string& path,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const std::string what = "linux.seccomp.listenerPath " + path;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.empty() || path == "@" || path.size() >= sizeof sa.sun_path ||
      path.find('\0') != std::string::npos)
    throw Error(Step::seccomp, EINVAL, what,
                "not a unix socket address (empty, NUL, or longer than sun_path)");
  std::memcpy(sa.sun_path, path.data(), path.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  if (path[0] == '@') {
    sa.sun_path[0] = '\0';  // abstract: the name is every byte after it, no NUL
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  }
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) ward::detail::throw_errno(Step::seccomp, what, "socket(AF_UNIX, SOCK_STREAM)");
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  if (::setsockopt(s.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
    ward::detail::throw_errno(Step::seccomp, what, "setsockopt SO_SNDTIMEO");
  int r;
  do r = ::connect(s.get(), reinterpret_cast<const sockaddr*>(&sa), len);
  while (r != 0 && errno == EINTR);
  if (r != 0) {
    const int e = errno;
    // EAGAIN: SO_SNDTIMEO ran out while the agent's accept queue stayed full.
    throw Error(Step::seccomp, e, what,
                e == EAGAIN ? "the seccomp agent accepted no connection within " +
                                  std::to_string(timeout.count()) + " ms"
                            : "cannot connect to the seccomp agent");
  }
  return s;
}

// Sends `json` and `listener` (the only descriptor, SCM_RIGHTS, with the
// first bytes) on `sock`, then shuts the connection down: the spec's one
// state per connection.
inline void send_container_process_state(int sock, const std::string& json, int listener,
                                         const std::string& path) {
  const std::string what = "linux.seccomp.listenerPath " + path;
  if (listener < 0)
    throw Error(Step::seccomp, EBADF, what, "no seccomp listener to send to the agent");
  std::size_t sent = 0;
  while (sent < json.size()) {
    iovec iov{const_cast<char*>(json.data() + sent), json.size() - sent};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
    if (sent == 0) {
      // The descriptor goes with the first bytes only (config-linux.md: "If
      // more than one sendmsg(2) is used, the file descriptors MUST be sent
      // only in the first call").
      m.msg_control = ctl;
      m.msg_controllen = sizeof ctl;
      cmsghdr* c = CMSG_FIRSTHDR(&m);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &listener, sizeof(int));
    }
    ssize_t n = ::sendmsg(sock, &m, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      throw Error(Step::seccomp, e, what,
                  e == EAGAIN ? "the seccomp agent did not read the container process state in time"
                              : "send the container process state and the seccomp listener");
    }
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(sock, SHUT_RDWR);
}

// Both: connect, send, close.
inline void send_to_seccomp_agent(const std::string& path, const State& state, int pid,
                                  const std::string& metadata, int listener,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  UniqueFd s = connect_seccomp_agent(path, timeout);
  send_container_process_state(s.get(), container_process_state_json(state, pid, metadata),
                               listener, path);
}

}  // namespace ward::oci
