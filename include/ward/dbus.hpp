// SPDX-License-Identifier: Apache-2.0
// ward::dbus::Bus: a small D-Bus client of ward's own (no libdbus, no
// libsystemd): the wire protocol (detail/dbus_wire.hpp) over a unix stream
// socket, SASL EXTERNAL authentication, Hello, method calls with replies and
// errors, AddMatch and signals, every wait bounded by a deadline.
//
//   auto bus = ward::dbus::Bus::system();     // or Bus::session(), Bus::connect(address)
//   auto reply = bus.call({.destination = "org.freedesktop.DBus", ...});
//
// An error reply is a ward::dbus::CallError (a ward::Error, so a
// std::system_error): it names the method, what it was about (a unit, ...),
// the D-Bus error name and the peer's message. A connection that breaks the
// protocol (malformed message, oversized message, fd passing we never
// negotiated) is closed and reported as a ward::Error (Step::dbus, EBADMSG).
// Not thread-safe: one Bus per thread.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ward/detail/dbus_wire.hpp>
#include <ward/error.hpp>
#include <ward/fd.hpp>

namespace ward::dbus {

using Value = detail::dbus_wire::Value;
using Message = detail::dbus_wire::Message;
using MessageType = detail::dbus_wire::MessageType;
using Clock = std::chrono::steady_clock;

inline constexpr std::string_view kBusName = "org.freedesktop.DBus";
inline constexpr std::string_view kBusPath = "/org/freedesktop/DBus";

// An error reply to a method call. what():
//   ward: dbus StartTransientUnit ward-x.scope: File exists (EEXIST):
//   org.freedesktop.systemd1.UnitExists: Unit ward-x.scope already exists.
class CallError : public Error {
 public:
  CallError(std::string method, std::string subject, std::string name, std::string message)
      : Error(Step::dbus, errno_of(name), subject.empty() ? method : method + " " + subject,
              name + (message.empty() ? "" : ": " + message)),
        method_(std::move(method)),
        subject_(std::move(subject)),
        name_(std::move(name)),
        message_(std::move(message)) {}

  const std::string& method() const noexcept { return method_; }
  const std::string& subject() const noexcept { return subject_; }
  const std::string& name() const noexcept { return name_; }        // the D-Bus error name
  const std::string& message() const noexcept { return message_; }  // the peer's reason

  // The closest errno to a D-Bus error name (EIO for names not listed).
  static int errno_of(std::string_view name) {
    static constexpr std::pair<std::string_view, int> table[] = {
        {"org.freedesktop.DBus.Error.AccessDenied", EACCES},
        {"org.freedesktop.DBus.Error.AuthFailed", EACCES},
        {"org.freedesktop.DBus.Error.InvalidArgs", EINVAL},
        {"org.freedesktop.DBus.Error.InvalidSignature", EINVAL},
        {"org.freedesktop.DBus.Error.MatchRuleInvalid", EINVAL},
        {"org.freedesktop.DBus.Error.NoMemory", ENOMEM},
        {"org.freedesktop.DBus.Error.LimitsExceeded", ENOBUFS},
        {"org.freedesktop.DBus.Error.ServiceUnknown", EHOSTUNREACH},
        {"org.freedesktop.DBus.Error.NameHasNoOwner", ENXIO},
        {"org.freedesktop.DBus.Error.NoReply", ETIMEDOUT},
        {"org.freedesktop.DBus.Error.Timeout", ETIMEDOUT},
        {"org.freedesktop.DBus.Error.TimedOut", ETIMEDOUT},
        {"org.freedesktop.DBus.Error.UnknownMethod", EBADR},
        {"org.freedesktop.DBus.Error.UnknownObject", EBADR},
        {"org.freedesktop.DBus.Error.UnknownInterface", EBADR},
        {"org.freedesktop.DBus.Error.UnknownProperty", EBADR},
        {"org.freedesktop.DBus.Error.PropertyReadOnly", EROFS},
        {"org.freedesktop.DBus.Error.NotSupported", EOPNOTSUPP},
        {"org.freedesktop.DBus.Error.FileNotFound", ENOENT},
        {"org.freedesktop.DBus.Error.FileExists", EEXIST},
        {"org.freedesktop.DBus.Error.UnixProcessIdUnknown", ESRCH},
        {"org.freedesktop.DBus.Error.Disconnected", ECONNRESET},
        {"org.freedesktop.systemd1.NoSuchUnit", ENOENT},
        {"org.freedesktop.systemd1.UnitExists", EEXIST},
        {"org.freedesktop.systemd1.NoSuchProcess", ESRCH},
        {"org.freedesktop.systemd1.UnitMasked", ERFKILL},
        {"org.freedesktop.systemd1.TransactionIsDestructive", EDEADLK},
    };
    for (const auto& [n, e] : table)
      if (n == name) return e;
    return EIO;
  }

 private:
  std::string method_, subject_, name_, message_;
};

// A method call message (send it with Bus::call or Bus::send).
inline Message method_call(std::string destination, std::string path, std::string interface,
                           std::string member, std::vector<Value> args = {}) {
  Message m;
  m.destination = std::move(destination);
  m.path = std::move(path);
  m.interface = std::move(interface);
  m.member = std::move(member);
  m.body = std::move(args);
  return m;
}

namespace detail_bus {
// "%2f" escapes in a D-Bus address value.
inline std::string unescape(std::string_view v, std::string_view address) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] != '%') {
      out += v[i];
      continue;
    }
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    if (i + 2 >= v.size() + 0 || hex(v[i + 1]) < 0 || hex(v[i + 2]) < 0)
      throw Error(Step::dbus, EINVAL, std::string(address), "bad %-escape in the bus address");
    out += static_cast<char>(hex(v[i + 1]) * 16 + hex(v[i + 2]));
    i += 2;
  }
  return out;
}
}  // namespace detail_bus

// Limits of one connection.
struct Limits {
  std::size_t max_message = std::size_t{1} << 24;  // 16 MiB: far above any systemd reply
  std::size_t max_queued = 4096;                   // signals/calls kept for receive()
};

class Bus {
 public:
  using Duration = std::chrono::milliseconds;
  static constexpr Duration kDefaultTimeout{25000};  // as libdbus and sd-bus

  // The system bus's address: $DBUS_SYSTEM_BUS_ADDRESS, else
  // unix:path=/run/dbus/system_bus_socket.
  static std::string system_address() {
    const char* a = std::getenv("DBUS_SYSTEM_BUS_ADDRESS");
    return a && *a ? a : "unix:path=/run/dbus/system_bus_socket";
  }
  // The user's bus's address: $DBUS_SESSION_BUS_ADDRESS, else
  // unix:path=$XDG_RUNTIME_DIR/bus; nullopt when neither is set.
  static std::optional<std::string> session_address() {
    if (const char* a = std::getenv("DBUS_SESSION_BUS_ADDRESS"); a && *a) return a;
    if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x && *x)
      return std::string("unix:path=") + x + "/bus";
    return std::nullopt;
  }
  // The system bus (system_address()).
  static Bus system(Duration timeout = kDefaultTimeout, Limits limits = {}) {
    return connect(system_address(), timeout, limits);
  }
  // The user's bus (session_address()).
  static Bus session(Duration timeout = kDefaultTimeout, Limits limits = {}) {
    auto a = session_address();
    if (!a)
      throw Error(Step::dbus, ENOENT, "user bus",
                  "neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set");
    return connect(*a, timeout, limits);
  }

  // A D-Bus address: "unix:path=/p" or "unix:abstract=n", several separated by
  // ';' tried in order (other transports are skipped). Authenticates with
  // EXTERNAL as our effective uid and says Hello.
  static Bus connect(std::string_view address, Duration timeout = kDefaultTimeout,
                     Limits limits = {}) {
    auto deadline = Clock::now() + timeout;
    std::string last_error = "no unix transport in the address";
    int last_errno = EINVAL;
    std::size_t start = 0;
    while (start <= address.size()) {
      std::size_t end = address.find(';', start);
      if (end == std::string_view::npos) end = address.size();
      std::string_view entry = address.substr(start, end - start);
      start = end + 1;
      if (entry.substr(0, 5) != "unix:") continue;
      std::string path;
      bool abstract = false;
      std::string_view kv = entry.substr(5);
      while (!kv.empty()) {
        std::size_t c = kv.find(',');
        std::string_view one = kv.substr(0, c);
        kv = c == std::string_view::npos ? std::string_view{} : kv.substr(c + 1);
        if (one.substr(0, 5) == "path=") {
          path = detail_bus::unescape(one.substr(5), address);
        } else if (one.substr(0, 9) == "abstract=") {
          path = detail_bus::unescape(one.substr(9), address);
          abstract = true;
        }
      }
      if (path.empty()) continue;
      sockaddr_un sa{};
      sa.sun_family = AF_UNIX;
      std::size_t off = abstract ? 1 : 0;
      if (path.size() + off >= sizeof(sa.sun_path)) {
        last_error = "socket path too long: " + path;
        last_errno = ENAMETOOLONG;
        continue;
      }
      std::memcpy(sa.sun_path + off, path.data(), path.size());
      auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + off + path.size() +
                                        (abstract ? 0 : 1));
      UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
      if (!fd) detail::throw_errno(Step::dbus, std::string(address), "socket");
      int r;
      do r = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), len);
      while (r < 0 && errno == EINTR);
      if (r < 0 && errno == EINPROGRESS) {
        Bus tmp(std::move(fd), std::string(address), limits);
        tmp.wait_fd(POLLOUT, deadline, "connect");
        int err = 0;
        socklen_t el = sizeof err;
        ::getsockopt(tmp.fd_.get(), SOL_SOCKET, SO_ERROR, &err, &el);
        if (err != 0) {
          last_errno = err;
          last_error = "connect " + path;
          continue;
        }
        fd = std::move(tmp.fd_);
      } else if (r < 0) {
        last_errno = errno;
        last_error = "connect " + std::string(abstract ? "@" : "") + path;
        continue;
      }
      Bus bus(std::move(fd), std::string(address), limits);
      bus.authenticate(deadline);
      bus.hello(deadline);
      return bus;
    }
    throw Error(Step::dbus, last_errno, std::string(address), last_error);
  }

  // Over an already connected stream socket (tests, socket activation).
  static Bus adopt(UniqueFd fd, std::string what, Duration timeout = kDefaultTimeout,
                   Limits limits = {}) {
    int fl = ::fcntl(fd.get(), F_GETFL);
    if (fl < 0 || ::fcntl(fd.get(), F_SETFL, fl | O_NONBLOCK) < 0)
      detail::throw_errno(Step::dbus, what, "O_NONBLOCK");
    auto deadline = Clock::now() + timeout;
    Bus bus(std::move(fd), std::move(what), limits);
    bus.authenticate(deadline);
    bus.hello(deadline);
    return bus;
  }

  Bus(Bus&&) noexcept = default;
  Bus& operator=(Bus&&) noexcept = default;

  const std::string& unique_name() const noexcept { return unique_name_; }
  const std::string& address() const noexcept { return address_; }
  int fd() const noexcept { return fd_.get(); }
  // Replies that answered no call of ours (or came from the wrong peer), dropped.
  std::uint64_t dropped_replies() const noexcept { return dropped_replies_; }
  // Signals and calls dropped because the receive queue was full.
  std::uint64_t dropped_queued() const noexcept { return dropped_queued_; }

  // Sends `m` with the next serial; returns that serial.
  std::uint32_t send(const Message& m, Duration timeout = kDefaultTimeout) {
    auto deadline = Clock::now() + timeout;
    std::uint32_t serial = next_serial();
    std::string bytes;
    try {
      bytes = detail::dbus_wire::encode(m, serial);
    } catch (const detail::dbus_wire::WireError& e) {
      throw Error(Step::dbus, EINVAL, describe(m), e.what());
    }
    write_all(bytes, deadline);
    return serial;
  }

  // Calls a method and waits for its reply. An error reply is a CallError
  // naming the member and `subject` (what the call was about: a unit name,
  // ...). The reply must answer this call's serial and, when the
  // destination is a unique name or the bus itself, come from it; anything
  // else is dropped (counted by dropped_replies()). Signals and calls that
  // arrive meanwhile are kept for receive().
  Message call(const Message& m, Duration timeout = kDefaultTimeout, std::string subject = {}) {
    auto deadline = Clock::now() + timeout;
    std::uint32_t serial = send(m, timeout);
    std::string expected_sender;
    if (!m.destination.empty() && (m.destination[0] == ':' || m.destination == kBusName))
      expected_sender = m.destination;
    for (;;) {
      auto got = read_message(deadline, m.member + (subject.empty() ? "" : " " + subject));
      if (!got) {
        throw Error(Step::dbus, ETIMEDOUT, m.member + (subject.empty() ? "" : " " + subject),
                    "no reply from " + (m.destination.empty() ? "the peer" : m.destination) +
                        " within " + std::to_string(timeout.count()) + " ms");
      }
      Message r = std::move(*got);
      if (r.type == MessageType::method_return || r.type == MessageType::error) {
        if (r.reply_serial != serial || (!expected_sender.empty() && r.sender != expected_sender)) {
          ++dropped_replies_;
          continue;
        }
        if (r.type == MessageType::error) {
          std::string text;
          if (!r.body.empty() && r.body[0].type == "s") text = r.body[0].text;
          throw CallError(m.member, std::move(subject), r.error_name, std::move(text));
        }
        return r;
      }
      enqueue(std::move(r));
    }
  }

  // A method call to `destination` with `args`.
  Message call(std::string destination, std::string path, std::string interface, std::string member,
               std::vector<Value> args, Duration timeout = kDefaultTimeout,
               std::string subject = {}) {
    return call(method_call(std::move(destination), std::move(path), std::move(interface),
                            std::move(member), std::move(args)),
                timeout, std::move(subject));
  }

  // The next signal or method call (queued first), or nullopt at the deadline.
  // Replies nobody waits for are dropped.
  std::optional<Message> receive(Clock::time_point deadline) {
    for (;;) {
      if (!queue_.empty()) {
        Message m = std::move(queue_.front());
        queue_.pop_front();
        return m;
      }
      auto got = read_message(deadline, "receive");
      if (!got) return std::nullopt;
      if (got->type == MessageType::method_return || got->type == MessageType::error) {
        ++dropped_replies_;
        continue;
      }
      return got;
    }
  }

  // Waits for the first signal or call that `pred` accepts; the others stay
  // queued, in order, for receive(). nullopt at the deadline.
  std::optional<Message> wait_for(const std::function<bool(const Message&)>& pred,
                                  Clock::time_point deadline) {
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if (pred(*it)) {
        Message m = std::move(*it);
        queue_.erase(it);
        return m;
      }
    }
    for (;;) {
      auto got = read_message(deadline, "wait for a signal");
      if (!got) return std::nullopt;
      if (got->type == MessageType::method_return || got->type == MessageType::error) {
        ++dropped_replies_;
        continue;
      }
      if (pred(*got)) return got;
      enqueue(std::move(*got));
    }
  }

  // org.freedesktop.DBus.AddMatch / RemoveMatch.
  void add_match(const std::string& rule, Duration timeout = kDefaultTimeout) {
    bus_call("AddMatch", {Value::string(rule)}, timeout, rule);
  }
  void remove_match(const std::string& rule, Duration timeout = kDefaultTimeout) {
    bus_call("RemoveMatch", {Value::string(rule)}, timeout, rule);
  }
  // The unique name owning `name` (org.freedesktop.DBus.GetNameOwner).
  std::string name_owner(const std::string& name, Duration timeout = kDefaultTimeout) {
    Message r = bus_call("GetNameOwner", {Value::string(name)}, timeout, name);
    if (r.body.size() != 1 || r.body[0].type != "s" ||
        !detail::dbus_wire::valid_bus_name(r.body[0].text) ||
        (r.body[0].text[0] != ':' && r.body[0].text != kBusName))
      throw Error(Step::dbus, EBADMSG, "GetNameOwner " + name, "reply is not a unique name");
    return r.body[0].text;
  }
  // org.freedesktop.DBus.RequestName; returns the reply code (1: primary owner).
  std::uint32_t request_name(const std::string& name, std::uint32_t flags = 4,
                             Duration timeout = kDefaultTimeout) {
    Message r = bus_call("RequestName", {Value::string(name), Value::uint32(flags)}, timeout, name);
    if (r.body.size() != 1 || r.body[0].type != "u")
      throw Error(Step::dbus, EBADMSG, "RequestName " + name, "reply is not a uint32");
    return static_cast<std::uint32_t>(r.body[0].number);
  }

  // Replies to a method call we received (nothing when it asked for none).
  void reply(const Message& to, std::vector<Value> body, Duration timeout = kDefaultTimeout) {
    send_reply(to, MessageType::method_return, {}, std::move(body), timeout);
  }
  void reply_error(const Message& to, std::string name, std::string text,
                   Duration timeout = kDefaultTimeout) {
    send_reply(to, MessageType::error, std::move(name), {Value::string(std::move(text))}, timeout);
  }

 private:
  void send_reply(const Message& to, MessageType type, std::string error_name,
                  std::vector<Value> body, Duration timeout) {
    if (to.flags & detail::dbus_wire::kNoReplyExpected) return;
    Message m;
    m.type = type;
    m.destination = to.sender;
    m.reply_serial = to.serial;
    m.error_name = std::move(error_name);
    m.body = std::move(body);
    send(m, timeout);
  }

  Bus(UniqueFd fd, std::string address, Limits limits)
      : fd_(std::move(fd)), address_(std::move(address)), limits_(limits) {}

  static std::string describe(const Message& m) {
    return m.member.empty() ? std::string("message") : m.member;
  }

  std::uint32_t next_serial() {
    if (++serial_ == 0) ++serial_;  // 0 is not a serial
    return serial_;
  }

  Message bus_call(const char* member, std::vector<Value> args, Duration timeout,
                   std::string subject) {
    return call(std::string(kBusName), std::string(kBusPath), std::string(kBusName), member,
                std::move(args), timeout, std::move(subject));
  }

  void enqueue(Message m) {
    if (queue_.size() >= limits_.max_queued) {
      queue_.pop_front();
      ++dropped_queued_;
    }
    queue_.push_back(std::move(m));
  }

  [[noreturn]] void broken(int err, std::string what, std::string detail) {
    fd_.reset();
    throw Error(Step::dbus, err, address_ + ": " + what, std::move(detail));
  }

  // Waits until fd_ is ready for `events`; false at the deadline.
  bool wait_fd(short events, Clock::time_point deadline, const char* what) {
    if (!fd_) throw Error(Step::dbus, ENOTCONN, address_, "connection closed");
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_.get(), events, 0};
      int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count() + 1, 1 << 30)));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) broken(errno, what, "poll");
      if (r > 0) return true;
    }
  }

  void write_all(std::string_view bytes, Clock::time_point deadline) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n > 0) {
        bytes.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!wait_fd(POLLOUT, deadline, "send"))
          broken(ETIMEDOUT, "send", "the bus did not take the message in time");
        continue;
      }
      broken(n < 0 ? errno : EPIPE, "send", "");
    }
  }

  // Reads more bytes into rbuf_ (at most `want`); false at the deadline.
  bool fill(std::size_t want, Clock::time_point deadline, const std::string& what) {
    for (;;) {
      char tmp[65536];
      std::size_t n = std::min(want, sizeof tmp);
      ssize_t r = ::recv(fd_.get(), tmp, n, 0);
      if (r > 0) {
        rbuf_.append(tmp, static_cast<std::size_t>(r));
        return true;
      }
      if (r == 0) broken(ECONNRESET, what, "the bus closed the connection");
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) broken(errno, what, "recv");
      if (!wait_fd(POLLIN, deadline, what.c_str())) return false;
    }
  }

  // The next whole message, validated; nullopt at the deadline. A malformed
  // or oversized one closes the connection (its framing can't be trusted).
  std::optional<Message> read_message(Clock::time_point deadline, const std::string& what) {
    for (;;) {
      std::optional<std::size_t> size;
      try {
        size = detail::dbus_wire::frame_size(rbuf_, limits_.max_message);
      } catch (const detail::dbus_wire::WireError& e) {
        broken(EBADMSG, what, std::string("invalid message from the bus: ") + e.what());
      }
      if (size && rbuf_.size() >= *size) {
        Message m;
        try {
          m = detail::dbus_wire::decode(std::string_view(rbuf_).substr(0, *size));
        } catch (const detail::dbus_wire::WireError& e) {
          broken(EBADMSG, what, std::string("invalid message from the bus: ") + e.what());
        }
        rbuf_.erase(0, *size);
        return m;
      }
      std::size_t want = size ? *size - rbuf_.size() : 16 - rbuf_.size();
      if (!fill(want, deadline, what)) return std::nullopt;
    }
  }

  // One CRLF-terminated SASL line (at most 512 bytes).
  std::string sasl_line(Clock::time_point deadline) {
    for (;;) {
      std::size_t e = rbuf_.find("\r\n");
      if (e != std::string::npos) {
        std::string line = rbuf_.substr(0, e);
        rbuf_.erase(0, e + 2);
        return line;
      }
      if (rbuf_.size() > 512) broken(EPROTO, "authentication", "SASL line longer than 512 bytes");
      // One byte at a time: nothing after the line may be taken from the socket.
      if (!fill(1, deadline, "authentication"))
        broken(ETIMEDOUT, "authentication", "no answer from the bus in time");
    }
  }

  void authenticate(Clock::time_point deadline) {
    std::string uid = std::to_string(::geteuid());
    std::string hex;
    static constexpr char digits[] = "0123456789abcdef";
    for (unsigned char c : uid) {
      hex += digits[c >> 4];
      hex += digits[c & 15];
    }
    std::string hello = std::string(1, '\0') + "AUTH EXTERNAL " + hex + "\r\n";
    write_all(hello, deadline);
    std::string line = sasl_line(deadline);
    if (line.substr(0, 3) != "OK ") {
      std::string shown;
      for (char c : line) shown += (c >= 0x20 && c < 0x7f) ? c : '?';
      broken(EACCES, "authentication",
             "EXTERNAL as uid " + uid + " refused: \"" + shown.substr(0, 200) + "\"");
    }
    write_all("BEGIN\r\n", deadline);
  }

  void hello(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<Duration>(deadline - Clock::now());
    if (left.count() <= 0) left = Duration(1);
    Message r = bus_call("Hello", {}, left, {});
    if (r.body.size() != 1 || r.body[0].type != "s" || r.body[0].text.empty() ||
        r.body[0].text[0] != ':' || !detail::dbus_wire::valid_bus_name(r.body[0].text))
      broken(EBADMSG, "Hello", "the reply is not a unique name");
    unique_name_ = r.body[0].text;
  }

  UniqueFd fd_;
  std::string address_;
  Limits limits_;
  std::string rbuf_;
  std::deque<Message> queue_;
  std::string unique_name_;
  std::uint32_t serial_ = 0;
  std::uint64_t dropped_replies_ = 0;
  std::uint64_t dropped_queued_ = 0;
};

}  // namespace ward::dbus
