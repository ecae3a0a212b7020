// SPDX-License-Identifier: Apache-2.0
// ward::dbus::Bus (include/ward/dbus.hpp) against a real dbus-daemon that the
// test starts on a socket of its own (skipped when dbus-daemon is absent),
// and against a fake bus on a socketpair that sends what a hostile or broken
// bus could: replies to serials we never used, replies from the wrong peer,
// huge lengths, a refused authentication.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include <ward/dbus.hpp>

#include <catch2/catch.hpp>

#include "dbus_daemon_util.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
namespace w = ward::detail::dbus_wire;
using ward::dbus::Bus;
using ward::dbus::CallError;
using ward::dbus::Message;
using ward::dbus::MessageType;
using ward::dbus::Value;
using namespace std::chrono_literals;

namespace {

std::vector<Value> every_type_body() {
  std::vector<Value> props;
  auto prop = [&](const char* n, Value v) {
    props.push_back(Value::structure({Value::string(n), Value::variant(std::move(v))}));
  };
  prop("Description", Value::string("ward test"));
  prop("Delegate", Value::boolean(true));
  prop("PIDs", Value::uint32s({1, 2}));
  prop("MemoryMax", Value::uint64(123456789));
  prop("AllowedCPUs", Value::bytes(std::vector<std::uint8_t>{3}));
  prop("Exec", Value::array("(sasb)",
                            {Value::structure({Value::string("/bin/true"), Value::strings({"true"}),
                                               Value::boolean(false)})}));
  prop("Nice", Value::int32(-3));
  prop("X", Value::int64(-7));
  prop("T", Value::array("t", {Value::uint64(1), Value::uint64(2)}));
  prop("D", Value::array("{su}", {Value::dict_entry(Value::string("k"), Value::uint32(5))}));
  return {Value::string("unit.scope"), Value::string("fail"), Value::array("(sv)", props),
          Value::array("(sa(sv))",
                       {Value::structure({Value::string("aux.scope"), Value::array("(sv)", {})})})};
}

// ---- a fake bus on a socketpair ----------------------------------------

struct FakeBus {
  int fd = -1;
  std::string buf;

  bool more() {
    char b[4096];
    ssize_t n = ::read(fd, b, sizeof b);
    if (n <= 0) return false;
    buf.append(b, static_cast<std::size_t>(n));
    return true;
  }
  std::string line() {
    for (;;) {
      auto e = buf.find("\r\n");
      if (e != std::string::npos) {
        std::string l = buf.substr(0, e);
        buf.erase(0, e + 2);
        return l;
      }
      if (!more()) return {};
    }
  }
  Message message() {
    for (;;) {
      auto size = w::frame_size(buf);
      if (size && buf.size() >= *size) {
        Message m = w::decode(std::string_view(buf).substr(0, *size));
        buf.erase(0, *size);
        return m;
      }
      if (!more()) return {};
    }
  }
  void write(const std::string& s) { (void)!::write(fd, s.data(), s.size()); }
  void send(Message m, std::uint32_t serial) {
    if (m.sender.empty()) m.sender = "org.freedesktop.DBus";
    write(w::encode(m, serial));
  }
  Message reply_to(const Message& call, std::vector<Value> body) {
    Message r;
    r.type = MessageType::method_return;
    r.reply_serial = call.serial;
    r.destination = ":1.1";
    r.body = std::move(body);
    return r;
  }
  // Authentication and Hello, as dbus-daemon answers them.
  void greet() {
    std::string first = line();
    REQUIRE(first.size() > 1);
    CHECK(first[0] == '\0');
    CHECK(first.substr(1, 14) == "AUTH EXTERNAL ");
    write("OK 0123456789abcdef0123456789abcdef\r\n");
    CHECK(line() == "BEGIN");
    Message hello = message();
    CHECK(hello.member == "Hello");
    send(reply_to(hello, {Value::string(":1.1")}), 1);
  }
};

// Runs `server` on one end of a socketpair in a thread; returns the other end.
struct FakeBusRun {
  std::thread t;
  int client = -1;
  explicit FakeBusRun(std::function<void(FakeBus&)> server) {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    client = sv[0];
    t = std::thread([fd = sv[1], server] {
      FakeBus b;
      b.fd = fd;
      server(b);
      ::close(fd);
    });
  }
  ~FakeBusRun() {
    if (t.joinable()) t.join();
  }
};

Message get_id_call() {
  return ward::dbus::method_call("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                 "org.freedesktop.DBus", "GetId");
}

}  // namespace

TEST_CASE("dbus: Hello and calls to the bus on a real dbus-daemon") {
  ward_test::DbusDaemon d;
  if (!d.unavailable().empty()) WARD_SKIP(d.unavailable());
  Bus bus = Bus::connect(d.address(), 5s);
  CHECK(bus.unique_name().substr(0, 1) == ":");
  Message id = bus.call(get_id_call(), 5s);
  REQUIRE(id.body.size() == 1);
  CHECK(id.body[0].as_string().size() == 32);
  Message names = bus.call(ward::dbus::method_call("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                                   "org.freedesktop.DBus", "ListNames"),
                           5s);
  REQUIRE(names.body.size() == 1);
  bool found = false;
  for (const auto& n : names.body[0].items) found |= n.as_string() == bus.unique_name();
  CHECK(found);
  CHECK(bus.name_owner("org.freedesktop.DBus") == "org.freedesktop.DBus");
  // Every descriptor the connection holds is close-on-exec.
  CHECK((::fcntl(bus.fd(), F_GETFD) & FD_CLOEXEC) != 0);
}

TEST_CASE("dbus: error replies name the method and the D-Bus error") {
  ward_test::DbusDaemon d;
  if (!d.unavailable().empty()) WARD_SKIP(d.unavailable());
  Bus bus = Bus::connect(d.address(), 5s);
  try {
    bus.call(ward::dbus::method_call("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                     "org.freedesktop.DBus", "NoSuchMethod"),
             5s, "the-subject");
    FAIL("no error");
  } catch (const CallError& e) {
    CHECK(e.name() == "org.freedesktop.DBus.Error.UnknownMethod");
    CHECK(e.method() == "NoSuchMethod");
    CHECK(e.code().value() == EBADR);
    std::string what = e.what();
    CHECK_THAT(what, Catch::Contains("NoSuchMethod the-subject"));
    CHECK_THAT(what, Catch::Contains("org.freedesktop.DBus.Error.UnknownMethod"));
    CHECK_FALSE(e.message().empty());
  }
  try {
    bus.call(ward::dbus::method_call("org.example.NoSuchService", "/x", "org.example.X", "Y"), 5s);
    FAIL("no error");
  } catch (const CallError& e) {
    CHECK(e.name() == "org.freedesktop.DBus.Error.ServiceUnknown");
    CHECK(e.code().value() == EHOSTUNREACH);
  }
  try {
    bus.name_owner("org.example.Nobody");
    FAIL("no error");
  } catch (const CallError& e) {
    CHECK(e.name() == "org.freedesktop.DBus.Error.NameHasNoOwner");
    CHECK_THAT(std::string(e.what()), Catch::Contains("GetNameOwner org.example.Nobody"));
  }
  // The connection stays usable after error replies.
  CHECK(bus.call(get_id_call(), 5s).body.size() == 1);
}

TEST_CASE("dbus: every argument type goes through dbus-daemon to a peer and back") {
  ward_test::DbusDaemon d;
  if (!d.unavailable().empty()) WARD_SKIP(d.unavailable());
  Bus server = Bus::connect(d.address(), 5s);
  REQUIRE(server.request_name("org.example.Echo") == 1);
  std::jthread t([&server] {
    // Answers two method calls (the bus's NameAcquired signals are skipped).
    for (int calls = 0; calls < 2;) {
      auto m = server.receive(ward::dbus::Clock::now() + 10s);
      if (!m) return;
      if (m->type != MessageType::method_call) continue;
      ++calls;
      if (m->member == "Echo")
        server.reply(*m, m->body);
      else
        server.reply_error(*m, "org.example.Error.Nope", "nope: " + m->member);
    }
  });
  Bus client = Bus::connect(d.address(), 5s);
  auto body = every_type_body();
  Message r = client.call(
      ward::dbus::method_call("org.example.Echo", "/org/example", "org.example.Echo", "Echo", body),
      5s);
  CHECK(r.signature == "ssa(sv)a(sa(sv))");
  CHECK(r.body == body);
  try {
    client.call(
        ward::dbus::method_call("org.example.Echo", "/org/example", "org.example.Echo", "Other"),
        5s, "thing");
    FAIL("no error");
  } catch (const CallError& e) {
    CHECK(e.name() == "org.example.Error.Nope");
    CHECK(e.message() == "nope: Other");
    CHECK(e.code().value() == EIO);
  }
}

TEST_CASE("dbus: signals are received after AddMatch") {
  ward_test::DbusDaemon d;
  if (!d.unavailable().empty()) WARD_SKIP(d.unavailable());
  Bus listener = Bus::connect(d.address(), 5s);
  Bus emitter = Bus::connect(d.address(), 5s);
  listener.add_match("type='signal',interface='org.example.Sig',member='Ping'", 5s);
  auto sig = [&](const char* member, std::uint32_t n) {
    Message s;
    s.type = MessageType::signal;
    s.path = "/org/example";
    s.interface = "org.example.Sig";
    s.member = member;
    s.body = {Value::uint32(n), Value::object_path("/org/example/job/1"), Value::string("u"),
              Value::string("done")};
    emitter.send(s, 5s);
  };
  sig("Other", 1);  // not matched: never delivered
  sig("Ping", 2);
  sig("Ping", 3);
  auto got = listener.wait_for(
      [](const Message& m) { return m.member == "Ping" && m.body[0].as_uint32() == 3; },
      ward::dbus::Clock::now() + 5s);
  REQUIRE(got);
  CHECK(got->sender == emitter.unique_name());
  CHECK(got->signature == "uoss");
  // The earlier Ping stayed queued; "Other" never came.
  // (The bus's own NameAcquired, sent to us at Hello, is queued too.)
  std::vector<Message> rest;
  while (auto m = listener.receive(ward::dbus::Clock::now() + 300ms)) {
    if (m->sender != "org.freedesktop.DBus") rest.push_back(std::move(*m));
  }
  REQUIRE(rest.size() == 1);
  CHECK(rest[0].member == "Ping");
  CHECK(rest[0].body[0].as_uint32() == 2);
}

TEST_CASE("dbus: a call nobody answers times out") {
  ward_test::DbusDaemon d;
  if (!d.unavailable().empty()) WARD_SKIP(d.unavailable());
  Bus server = Bus::connect(d.address(), 5s);
  REQUIRE(server.request_name("org.example.Silent") == 1);
  Bus client = Bus::connect(d.address(), 5s);
  auto t0 = std::chrono::steady_clock::now();
  ward_test::check_error(
      [&] {
        client.call(
            ward::dbus::method_call("org.example.Silent", "/x", "org.example.Silent", "Wait"),
            300ms);
      },
      ETIMEDOUT, "Wait");
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took >= 290ms);
  CHECK(took < 3s);
}

TEST_CASE("dbus attack: a reply to a serial we never sent is not taken as the answer") {
  FakeBusRun run([](FakeBus& b) {
    b.greet();
    Message call = b.message();
    Message fake = b.reply_to(call, {Value::string("FAKE")});
    fake.reply_serial = call.serial + 1000;
    b.send(fake, 2);
    b.send(b.reply_to(call, {Value::string("REAL")}), 3);
  });
  Bus bus = Bus::adopt(ward::UniqueFd(run.client), "fake bus", 5s);
  Message r = bus.call(get_id_call(), 5s);
  REQUIRE(r.body.size() == 1);
  CHECK(r.body[0].as_string() == "REAL");
  CHECK(bus.dropped_replies() == 1);
}

TEST_CASE("dbus attack: a reply from another peer than the one called is dropped") {
  FakeBusRun run([](FakeBus& b) {
    b.greet();
    Message call = b.message();
    Message fake = b.reply_to(call, {Value::string("FAKE")});
    fake.sender = ":1.666";  // right serial, wrong peer
    b.send(fake, 2);
    b.send(b.reply_to(call, {Value::string("REAL")}), 3);
  });
  Bus bus = Bus::adopt(ward::UniqueFd(run.client), "fake bus", 5s);
  Message r = bus.call(get_id_call(), 5s);
  CHECK(r.body.at(0).as_string() == "REAL");
  CHECK(bus.dropped_replies() == 1);
}

TEST_CASE("dbus attack: a huge array length in a reply is refused at once") {
  FakeBusRun run([](FakeBus& b) {
    b.greet();
    Message call = b.message();
    std::string bytes = w::encode(b.reply_to(call, {Value::strings({"x"})}), 2);
    // The body ("as") starts after the header: its first 4 bytes are the
    // array's length. Claim 4 GiB.
    std::uint32_t body_len;
    std::memcpy(&body_len, bytes.data() + 4, 4);
    std::uint32_t huge = 0xfffffff0u;
    std::memcpy(bytes.data() + bytes.size() - body_len, &huge, 4);
    b.write(bytes);
    b.line();  // hold the socket open until the client gives up
  });
  Bus bus = Bus::adopt(ward::UniqueFd(run.client), "fake bus", 5s);
  auto t0 = std::chrono::steady_clock::now();
  ward_test::check_error([&] { bus.call(get_id_call(), 5s); }, EBADMSG,
                         "exceeds the 64 MiB maximum");
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  // The connection is closed: its framing can no longer be trusted.
  CHECK(bus.fd() == -1);
}

TEST_CASE("dbus attack: a message header claiming 2 GiB is refused before reading it") {
  FakeBusRun run([](FakeBus& b) {
    b.greet();
    Message call = b.message();
    std::string bytes = w::encode(b.reply_to(call, {Value::string("x")}), 2);
    std::uint32_t huge = 0x7ffffff0u;
    std::memcpy(bytes.data() + 4, &huge, 4);
    b.write(bytes.substr(0, 16));
    b.line();
  });
  Bus bus = Bus::adopt(ward::UniqueFd(run.client), "fake bus", 5s);
  auto t0 = std::chrono::steady_clock::now();
  ward_test::check_error([&] { bus.call(get_id_call(), 5s); }, EBADMSG, "exceeds the limit");
  // Refused from the first 16 bytes, not after waiting for 2 GiB.
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
}

TEST_CASE("dbus attack: refused authentication and endless SASL lines") {
  {
    FakeBusRun run([](FakeBus& b) {
      b.line();
      b.write("REJECTED DBUS_COOKIE_SHA1\r\n");
    });
    ward_test::check_error([&] { (void)Bus::adopt(ward::UniqueFd(run.client), "fake bus", 5s); },
                           EACCES, "REJECTED DBUS_COOKIE_SHA1");
  }
  {
    FakeBusRun run([](FakeBus& b) {
      b.line();
      b.write(std::string(100000, 'O'));
    });
    ward_test::check_error([&] { (void)Bus::adopt(ward::UniqueFd(run.client), "fake bus", 5s); },
                           EPROTO, "longer than 512");
  }
}

TEST_CASE("dbus: a bus that never answers Hello times out") {
  FakeBusRun run([](FakeBus& b) {
    b.line();
    b.write("OK 0123456789abcdef0123456789abcdef\r\n");
    b.line();
    b.message();
    b.line();  // read until the client closes
  });
  auto t0 = std::chrono::steady_clock::now();
  ward_test::check_error([&] { (void)Bus::adopt(ward::UniqueFd(run.client), "fake bus", 300ms); },
                         ETIMEDOUT, "Hello");
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);
}

TEST_CASE("dbus: bus addresses") {
  CHECK_THROWS_WITH(Bus::connect("tcp:host=localhost,port=1", 1s),
                    Catch::Contains("no unix transport"));
  ward_test::check_error([] { (void)Bus::connect("unix:path=/nonexistent/ward-bus", 1s); }, ENOENT,
                         "/nonexistent/ward-bus");
  CHECK_THROWS_WITH(Bus::connect("unix:path=%zz", 1s), Catch::Contains("%-escape"));
}

TEST_CASE("dbus: the user bus comes from DBUS_SESSION_BUS_ADDRESS or XDG_RUNTIME_DIR") {
  ward_test::DbusDaemon d;
  if (!d.unavailable().empty()) WARD_SKIP(d.unavailable());
  const char* old_addr = std::getenv("DBUS_SESSION_BUS_ADDRESS");
  const char* old_xdg = std::getenv("XDG_RUNTIME_DIR");
  std::string saved_addr = old_addr ? old_addr : "", saved_xdg = old_xdg ? old_xdg : "";
  ::setenv("DBUS_SESSION_BUS_ADDRESS", d.address().c_str(), 1);
  CHECK(Bus::session(5s).unique_name().substr(0, 1) == ":");
  // Without the variable: $XDG_RUNTIME_DIR/bus (the daemon's socket is <dir>/bus).
  ::unsetenv("DBUS_SESSION_BUS_ADDRESS");
  std::string dir = d.address().substr(std::string("unix:path=").size());
  dir = dir.substr(0, dir.rfind('/'));
  ::setenv("XDG_RUNTIME_DIR", dir.c_str(), 1);
  CHECK(Bus::session(5s).unique_name().substr(0, 1) == ":");
  ::unsetenv("XDG_RUNTIME_DIR");
  ward_test::check_error([] { (void)Bus::session(1s); }, ENOENT, "XDG_RUNTIME_DIR");
  if (old_addr) ::setenv("DBUS_SESSION_BUS_ADDRESS", saved_addr.c_str(), 1);
  if (old_xdg) ::setenv("XDG_RUNTIME_DIR", saved_xdg.c_str(), 1);
}

TEST_CASE("dbus attack: a flood of signals before a reply stays within the queue bound") {
  constexpr int kFlood = 5000;
  FakeBusRun run([](FakeBus& b) {
    b.greet();
    Message call = b.message();
    std::string flood;
    for (int i = 0; i < kFlood; ++i) {
      Message s;
      s.type = MessageType::signal;
      s.path = "/x";
      s.interface = "org.example.Flood";
      s.member = "F";
      s.body = {Value::uint32(static_cast<std::uint32_t>(i))};
      s.sender = ":1.9";
      flood += w::encode(s, static_cast<std::uint32_t>(i + 2));
    }
    b.write(flood);
    b.send(b.reply_to(call, {Value::string("REAL")}), kFlood + 2);
  });
  ward::dbus::Limits limits;
  limits.max_queued = 100;
  Bus bus = Bus::adopt(ward::UniqueFd(run.client), "fake bus", 5s, limits);
  Message r = bus.call(get_id_call(), 10s);
  CHECK(r.body.at(0).as_string() == "REAL");
  // The oldest were dropped: 100 kept, the last 100 sent.
  CHECK(bus.dropped_queued() == kFlood - 100);
  auto first = bus.receive(ward::dbus::Clock::now() + 1s);
  REQUIRE(first);
  CHECK(first->body.at(0).as_uint32() == kFlood - 100);
}

TEST_CASE("dbus: EXTERNAL authenticates a non-root uid to a bus of that user") {
  // A user's bus, as rootless runtimes meet it: the daemon runs as uid 65534
  // and accepts only that uid; the client authenticates as "3635353334"
  // (the decimal uid, hex-encoded).
  if (::geteuid() != 0) WARD_SKIP("needs root to run a daemon and a client as uid 65534");
  ward_test::DbusDaemon d(65534);
  if (!d.unavailable().empty()) WARD_SKIP(d.unavailable());
  auto connect_as = [&](int uid) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      if (uid != 0 && (::setresgid(uid, uid, uid) != 0 || ::setresuid(uid, uid, uid) != 0))
        ::_exit(3);
      try {
        Bus b = Bus::connect(d.address(), 5s);
        ::_exit(b.unique_name().empty() ? 2 : 0);
      } catch (const ward::Error& e) {
        ::_exit(e.code().value() == EACCES || e.code().value() == ECONNRESET ? 1 : 4);
      }
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    return WEXITSTATUS(status);
  };
  CHECK(connect_as(65534) == 0);
  // Another unprivileged uid is refused by the daemon.
  CHECK(connect_as(65533) == 1);
}
