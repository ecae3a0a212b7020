// SPDX-License-Identifier: Apache-2.0
// sd_notify(3) through a container: NOTIFY_SOCKET, in runc's layout
// (runc's notify_socket.go), so that a container run by a Type=notify
// systemd unit, or by `podman --sdnotify=container`, tells its caller when
// it is ready.
//
//  - create (and run), with NOTIFY_SOCKET set: <root>/<id>/notify/ (0755)
//    is bind-mounted read-only, nosuid, nodev, noexec at /run/notify in the
//    container, and its process gets NOTIFY_SOCKET=/run/notify/notify.sock.
//    The caller's own socket is never shown to the container: no host path
//    and no host descriptor reaches it.
//  - start (and run), with NOTIFY_SOCKET set: the datagram socket
//    notify.sock is bound in that directory, mode 0777 (any uid of the
//    container may notify, as runc's chmod), the caller's socket is
//    connected before the program starts (a wrong NOTIFY_SOCKET fails the
//    start, not the readiness), and what the container sends is forwarded
//    until READY=1, or until its init exits.
//  - Forwarded: only the lines a service may say about itself (READY=1,
//    STATUS=, ERRNO=, BUSERROR=, EXTEND_TIMEOUT_USEC=, STOPPING=1,
//    WATCHDOG=1). MAINPID is ours to say (the container's init for `start`
//    and `run -d`, ward itself for a foreground `run`, as runc): systemd
//    takes MAINPID from a root sender for any pid but 1 and its own, even
//    outside the unit, and signals it at stop or on a start timeout, so a
//    container's MAINPID=<a host pid> would have that process killed.
//    FDSTORE, NOTIFYACCESS, BARRIER and the rest are
//    dropped, and descriptors sent along are discarded unread. Lines are
//    cut as systemd cuts them (manager.c: the text up to its first NUL,
//    split on "\n" and "\r"), so "STATUS=x\rMAINPID=1" is two lines
//    here too, and the second is dropped; what we forward has no NUL and
//    no "\r".
//  - Then BARRIER=1 (sd_notify_barrier(3)): we wait, at most 5 s, until
//    the caller has read the messages, since systemd attributes a message
//    to a unit through its sender's pid, which must still be alive.
//  - A foreground run goes on forwarding (STATUS= updates, WATCHDOG=1,
//    STOPPING=1) until the container exits. Every datagram is read, also
//    after READY=1: the container's own BARRIER=1 (systemd-notify --ready
//    sends one) is answered by reading it, which closes its descriptor;
//    `start` and `run -d` answer it by exiting, which closes the socket.
// Tests: tests/root/runtime_notify_test.cpp.
#include <sys/socket.h>
#include <sys/un.h>

#include "runtime.hpp"

namespace wardrt {

namespace {

constexpr const char* kNotifyDir = "notify";
constexpr const char* kNotifySock = "notify.sock";
constexpr const char* kInContainerDir = "/run/notify";
constexpr const char* kInContainer = "/run/notify/notify.sock";

// sd_notify(3)'s address: an absolute path, or "@name" for a socket in
// the abstract namespace (unix(7)).
sockaddr_un caller_address(const std::string& v, socklen_t& len) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (v.empty() || (v[0] != '/' && v[0] != '@'))
    fail("NOTIFY_SOCKET=" + v + ": not an absolute path or an abstract \"@name\" (sd_notify(3))");
  if (v.size() >= sizeof(a.sun_path))
    fail("NOTIFY_SOCKET=" + v + ": longer than a socket address (" +
         std::to_string(sizeof(a.sun_path) - 1) + " bytes, unix(7))");
  std::memcpy(a.sun_path, v.data(), v.size());
  if (v[0] == '@') a.sun_path[0] = '\0';
  len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + v.size() + (v[0] == '/' ? 1 : 0));
  return a;
}

// A line a service may say about itself, and none that speaks for
// another process, hands descriptors over or changes who may notify.
bool forwarded(std::string_view line) {
  static constexpr std::string_view exact[] = {"READY=1", "STOPPING=1", "WATCHDOG=1"};
  static constexpr std::string_view prefix[] = {
      "STATUS=", "ERRNO=", "BUSERROR=", "EXTEND_TIMEOUT_USEC="};
  for (auto e : exact)
    if (line == e) return true;
  for (auto p : prefix)
    if (line.substr(0, p.size()) == p) return true;
  return false;
}

void send_line(int fd, const std::string& text, const std::string& caller) {
  if (::send(fd, text.data(), text.size(), MSG_NOSIGNAL) < 0)
    log_line("warning", "NOTIFY_SOCKET " + caller + ": send: " + std::strerror(errno));
}

// sd_notify_barrier(3): BARRIER=1 with the write end of a pipe; the
// caller closes it once it has read everything before it.
void barrier(int fd, const std::string& caller) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return;
  ward::UniqueFd rd(p[0]), wr(p[1]);
  if (send_with_fd(fd, "BARRIER=1", wr.get()) < 0) return;
  wr.reset();
  pollfd pf{rd.get(), POLLIN, 0};
  int n;
  while ((n = ::poll(&pf, 1, 5000)) < 0 && errno == EINTR) {
  }
  if (n == 0)
    log_line("warning", "NOTIFY_SOCKET " + caller +
                            ": the receiver did not acknowledge BARRIER=1 within 5 s; going on");
}

}  // namespace

std::string caller_notify_socket() {
  const char* s = std::getenv("NOTIFY_SOCKET");
  return s != nullptr ? s : "";
}

void notify_prepare(const Container& c, ward::oci::Config& cfg) {
  const std::string caller = caller_notify_socket();
  if (caller.empty() || !cfg.process) return;
  socklen_t len = 0;
  caller_address(caller, len);  // refused before anything is made for it
  if (::mkdirat(c.dfd.get(), kNotifyDir, 0755) != 0)
    fail("mkdir " + c.dir + "/" + kNotifyDir + ": " + std::strerror(errno));
  // 0755 whatever our umask: the container's uids must reach the socket.
  if (::fchmodat(c.dfd.get(), kNotifyDir, 0755, 0) != 0)
    fail("chmod " + c.dir + "/" + kNotifyDir + ": " + std::strerror(errno));
  ward::oci::Mount m;
  m.destination = kInContainerDir;
  m.type = "bind";
  m.source = fs::absolute(c.dir).lexically_normal().string() + "/" + kNotifyDir;
  m.options = {"bind", "nosuid", "noexec", "nodev", "ro"};
  cfg.mounts.push_back(std::move(m));
  auto& env = cfg.process->env;
  std::erase_if(env, [](const std::string& e) { return e.rfind("NOTIFY_SOCKET=", 0) == 0; });
  env.push_back(std::string("NOTIFY_SOCKET=") + kInContainer);
}

std::optional<NotifyProxy> NotifyProxy::open(const Container& c) {
  const std::string caller = caller_notify_socket();
  if (caller.empty()) return std::nullopt;
  ward::UniqueFd dir(
      ::openat(c.dfd.get(), kNotifyDir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir) {
    if (errno != ENOENT) fail("open " + c.dir + "/" + kNotifyDir + ": " + std::strerror(errno));
    log_line("warning", "NOTIFY_SOCKET " + caller + ": container " + c.id +
                            " was created without NOTIFY_SOCKET, so it has no socket to notify "
                            "through; nothing is forwarded");
    return std::nullopt;
  }
  NotifyProxy p;
  p.caller = caller;
  socklen_t len = 0;
  sockaddr_un to = caller_address(caller, len);
  p.out.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!p.out) fail("NOTIFY_SOCKET: socket: " + std::string(std::strerror(errno)));
  if (::connect(p.out.get(), reinterpret_cast<sockaddr*>(&to), len) != 0)
    fail("NOTIFY_SOCKET " + caller + ": connect: " + std::strerror(errno));
  // The container's end, reached through the directory's descriptor (the
  // magic link is followed once, to the directory we opened without
  // following anything). A socket left by an earlier start goes first.
  // The mode comes from the umask at bind(2), never from a chmod by
  // path, which a container able to write there could aim at a symlink.
  ::unlinkat(dir.get(), kNotifySock, 0);
  const std::string path = "/proc/self/fd/" + std::to_string(dir.get()) + "/" + kNotifySock;
  sockaddr_un here{};
  here.sun_family = AF_UNIX;
  std::memcpy(here.sun_path, path.c_str(), path.size() + 1);
  p.in.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!p.in) fail("NOTIFY_SOCKET: socket: " + std::string(std::strerror(errno)));
  mode_t old = ::umask(0);
  int r = ::bind(p.in.get(), reinterpret_cast<sockaddr*>(&here), sizeof(here));
  int e = errno;
  ::umask(old);
  if (r != 0)
    fail("NOTIFY_SOCKET: bind " + c.dir + "/" + kNotifyDir + "/" + kNotifySock + ": " +
         std::strerror(e));
  return p;
}

void NotifyProxy::forward(int pidfd, pid_t mainpid, bool until_exit) {
  char buf[4096];
  bool exited = false;
  bool told = false;  // READY=1 and MAINPID went out
  for (;;) {
    pollfd pf[2] = {{in.get(), POLLIN, 0}, {pidfd, POLLIN, 0}};
    int n = ::poll(pf, exited ? 1 : 2, exited ? 0 : -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      log_line("warning", "NOTIFY_SOCKET: poll: " + std::string(std::strerror(errno)));
      return;
    }
    if (!exited && (pf[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      // Gone: what it sent before it went is still read (below), once.
      exited = true;
      if ((pf[0].revents & POLLIN) == 0) continue;
    }
    if ((pf[0].revents & POLLIN) == 0) {
      if (exited) return;  // gone, and everything it sent is read
      continue;
    }
    // No control buffer: descriptors sent with the datagram are closed by
    // the kernel (unix(7), SCM_RIGHTS), never installed here.
    iovec iov{buf, sizeof(buf)};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    ssize_t got = ::recvmsg(in.get(), &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (got < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      log_line("warning", "NOTIFY_SOCKET: recv: " + std::string(std::strerror(errno)));
      return;
    }
    if ((m.msg_flags & MSG_TRUNC) != 0) {
      debug("NOTIFY_SOCKET: a datagram longer than " + std::to_string(sizeof(buf)) +
            " bytes from the container: dropped");
      continue;
    }
    // What systemd reads of it: up to the first NUL, lines ended by "\n"
    // or "\r" (NEWLINE). Cut any other way, a line we let through could
    // carry one systemd would act on (tests/root/runtime_notify_test.cpp
    // "lines are split as systemd splits them").
    std::string_view text(buf, static_cast<std::size_t>(got));
    text = text.substr(0, text.find('\0'));
    std::string keep;
    bool ready = false;
    while (!text.empty()) {
      auto nl = text.find_first_of("\n\r");
      std::string_view line = text.substr(0, nl);
      text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
      if (line.empty()) continue;
      if (!forwarded(line)) {
        debug("NOTIFY_SOCKET: not forwarded from the container: " + std::string(line));
        continue;
      }
      ready = ready || line == "READY=1";
      if (!keep.empty()) keep += '\n';
      keep += line;
    }
    if (!keep.empty()) send_line(out.get(), keep, caller);
    if (ready && !told) {
      told = true;
      send_line(out.get(), "MAINPID=" + std::to_string(mainpid), caller);
      barrier(out.get(), caller);
      if (!until_exit) return;
    }
  }
}

}  // namespace wardrt
