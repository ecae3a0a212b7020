// SPDX-License-Identifier: Apache-2.0
// NOTIFY_SOCKET through the `ward` runtime (issue #15; examples/runtime/
// notify.cpp): the container's sd_notify(3) messages reach the socket of
// the caller (a Type=notify systemd unit, podman --sdnotify=container) in
// runc's layout, filtered, with MAINPID said by ward.
#include <sys/socket.h>
#include <sys/un.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime_util.hpp"

namespace {

namespace json = ward::json;
using ward_test::Bundle;
using ward_test::read_file;
using ward_test::ScratchDir;

// The caller's end: a datagram socket a thread reads, as systemd does,
// answering BARRIER=1 by closing its descriptor.
struct Receiver {
  ScratchDir dir{"notify"};
  std::string path = dir / "caller.sock";
  ward::UniqueFd sock;
  struct Msg {
    std::string text;
    int fds = 0;
  };
  std::mutex mu;
  std::vector<Msg> got;
  std::atomic<bool> ready{false}, stop{false};
  std::thread reader;

  Receiver() {
    sock = ward_test::bound_unix_socket(path, SOCK_DGRAM);
    reader = std::thread([this] { loop(); });
  }
  ~Receiver() { finish(); }
  void loop() {
    while (!stop) {
      pollfd pf{sock.get(), POLLIN, 0};
      if (::poll(&pf, 1, 50) <= 0) continue;
      char buf[8192];
      alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * 8)];
      iovec iov{buf, sizeof buf};
      msghdr m{};
      m.msg_iov = &iov;
      m.msg_iovlen = 1;
      m.msg_control = ctl;
      m.msg_controllen = sizeof ctl;
      ssize_t n = ::recvmsg(sock.get(), &m, MSG_CMSG_CLOEXEC);
      if (n < 0) continue;
      Msg msg{std::string(buf, static_cast<std::size_t>(n)), 0};
      for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        std::size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < k; ++i) {
          int fd;
          std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
          ::close(fd);  // BARRIER=1 answered
          ++msg.fds;
        }
      }
      if (msg.text.find("READY=1") != std::string::npos) ready = true;
      std::lock_guard<std::mutex> l(mu);
      got.push_back(std::move(msg));
    }
  }
  // Everything received so far, once the reader has stopped.
  std::vector<Msg> finish() {
    stop = true;
    if (reader.joinable()) reader.join();
    std::lock_guard<std::mutex> l(mu);
    return got;
  }
};

std::vector<std::string> probe_notify(std::vector<std::string> msgs) {
  msgs.insert(msgs.begin(), {"/probe", "notify"});
  return msgs;
}

// `ward --root <state> args...` with NOTIFY_SOCKET (none when empty),
// killed after `limit_s` seconds: a start that never returns fails the
// test instead of hanging it.
ward_test::Out ward_notify(const Bundle& b, const std::vector<std::string>& args,
                           const std::string& sock, int limit_s = 30) {
  ward_test::Caller how;
  if (!sock.empty()) how.env.emplace_back("NOTIFY_SOCKET", sock);
  how.limit_s = limit_s;
  return ward_test::ward_as(b, args, how);
}

std::vector<std::string> texts(const std::vector<Receiver::Msg>& v) {
  std::vector<std::string> t;
  for (auto& m : v) t.push_back(m.text);
  return t;
}

}  // namespace

TEST_CASE("runtime notify: run forwards READY=1 and STATUS and says MAINPID itself") {
  NEED_RUNTIME(b);
  Receiver rx;
  // The container also tries what it must not: MAINPID=1 (systemd would
  // watch and signal the host's init), FDSTORE=1 and NOTIFYACCESS=all,
  // with a descriptor attached, and a datagram too long to forward whole.
  const std::string huge = "STATUS=" + std::string(5000, 'x');
  b.set(probe_notify({"STATUS=starting", "--fd", "MAINPID=1\\nFDSTORE=1\\nNOTIFYACCESS=all", huge,
                      "READY=1\\nSTATUS=up\\nMAINPID=1"}),
        ward_test::with_probe(b));
  auto r = ward_notify(b, {"run", "--bundle", b.dir.path, Bundle::id("ntfrun")}, rx.path);
  auto msgs = rx.finish();
  INFO(r.err);
  REQUIRE(!r.timed_out);
  CHECK(r.status == 0);
  CHECK(r.out == "sent=4\n");
  // A foreground run stays, so ward is the main process (as runc).
  CHECK(texts(msgs) == std::vector<std::string>{"STATUS=starting", "READY=1\nSTATUS=up",
                                                "MAINPID=" + std::to_string(r.pid), "BARRIER=1"});
  for (auto& m : msgs) CHECK(m.fds == (m.text == "BARRIER=1" ? 1 : 0));
}

TEST_CASE("runtime notify: lines are split as systemd splits them: at CR and at the first NUL") {
  NEED_RUNTIME(b);
  Receiver rx;
  // systemd reads a datagram up to its first NUL and splits it on "\n" and
  // "\r" (manager.c, NEWLINE). A line let through whole because it starts
  // with STATUS= would carry a MAINPID=1 (or a victim's pid: the sender,
  // ward, is root, so systemd takes it, and signals that pid at stop),
  // FDSTORE=1, NOTIFYACCESS=all or a BARRIER=1 without its descriptor;
  // and a READY=1 behind a NUL is one systemd never sees, so ward must not
  // answer it with MAINPID and return. "READY=1\0" (a sender counting the
  // NUL) is ready.
  b.set(probe_notify({"STATUS=a\\rMAINPID=1\\rFDSTORE=1\\rNOTIFYACCESS=all\\rBARRIER=1",
                      "STATUS=b\\0\\nMAINPID=1", "STATUS=c\\0junk\\nREADY=1", "READY=1\\0",
                      "STATUS=d\\r\\rMAINPID=1\\n"}),
        with_probe(b));
  auto r = ward_notify(b, {"run", "--bundle", b.dir.path, Bundle::id("ntfsplit")}, rx.path);
  auto msgs = rx.finish();
  INFO(r.err);
  REQUIRE(!r.timed_out);
  CHECK(r.status == 0);
  CHECK(r.out == "sent=5\n");
  CHECK(texts(msgs) == std::vector<std::string>{"STATUS=a", "STATUS=b", "STATUS=c", "READY=1",
                                                "MAINPID=" + std::to_string(r.pid), "BARRIER=1",
                                                "STATUS=d"});
}

TEST_CASE(
    "runtime notify: a line that is not UTF-8 does not abort a run logging JSON with --debug") {
  NEED_RUNTIME(b);
  Receiver rx;
  // The dropped line goes to the debug log, and JSON refuses the byte 0xFF:
  // the exception ended the foreground run's notify thread, so the runtime
  // (as containerd's shim runs it: --log FILE --log-format json) aborted,
  // leaving the container's state behind. The byte is logged as \xFF.
  b.set({"sh", "-c", "/probe notify STATUS=a \"X=$(printf '\\377')\" READY=1"}, with_probe(b));
  ScratchDir logdir{"notifylog"};
  const std::string log = logdir / "log.json";
  auto r = ward_notify(b,
                       {"--debug", "--log", log, "--log-format", "json", "run", "--bundle",
                        b.dir.path, Bundle::id("ntfutf")},
                       rx.path);
  auto msgs = rx.finish();
  INFO(r.err);
  REQUIRE(!r.timed_out);
  CHECK(r.status == 0);
  CHECK(r.out == "sent=3\n");
  CHECK(texts(msgs) == std::vector<std::string>{"STATUS=a", "READY=1",
                                                "MAINPID=" + std::to_string(r.pid), "BARRIER=1"});
  CHECK_THAT(read_file(log), Catch::Contains("not forwarded from the container: X=\\\\xFF\""));
  CHECK(std::filesystem::is_empty(b.state.path));
}

TEST_CASE("runtime notify: a foreground run still forwards SIGTERM to the container") {
  NEED_RUNTIME(b);
  Receiver rx;
  // systemd stops a unit by signalling its main process, which a foreground
  // run says is ward. The signals ward forwards are blocked in the thread
  // that waits (tty.cpp) and taken from a signalfd; a notify thread that
  // did not block them too was where the kernel delivered a SIGTERM meant
  // for ward, whose default action ended ward (143) instead of going to
  // the container, which then ran on, outside the unit's cgroup.
  b.set({"sh", "-c", "trap 'exit 7' TERM; /probe notify READY=1; while :; do sleep 0.1; done"},
        with_probe(b));
  std::vector<std::string> argv = {WARD_RUNTIME_BIN, "--root",   b.state.path,         "run",
                                   "--bundle",       b.dir.path, Bundle::id("ntfterm")};
  ward::Sandbox sb(argv);
  sb.stdin_(ward::Stdio::null()).setenv("NOTIFY_SOCKET", rx.path);
  ward::Child run = sb.spawn();
  for (int i = 0; i < 1000 && !rx.ready; ++i) ::usleep(10000);
  REQUIRE(rx.ready);
  ::kill(run.pid(), SIGTERM);
  pollfd pf{run.pidfd(), POLLIN, 0};
  CHECK(::poll(&pf, 1, 10000) == 1);
  if (pf.revents == 0) run.kill(SIGKILL);
  CHECK(run.wait().shell_status() == 7);
  CHECK(std::filesystem::is_empty(b.state.path));
  CHECK(texts(rx.finish()) ==
        std::vector<std::string>{"READY=1", "MAINPID=" + std::to_string(run.pid()), "BARRIER=1"});
}

TEST_CASE("runtime notify: start returns once the container is ready with its init as MAINPID") {
  NEED_RUNTIME(b);
  Receiver rx;
  // Ready only after a while, then it goes on running.
  b.set({"sh", "-c", "sleep 1; /probe notify READY=1; exec sleep 100"}, ward_test::with_probe(b));
  const std::string id = Bundle::id("ntfstart");
  auto created = ward_notify(b, {"create", "--bundle", b.dir.path, id}, rx.path);
  INFO(created.err);
  REQUIRE(created.status == 0);
  // The container's view: the directory read-only at /run/notify, the
  // socket not there until start, NOTIFY_SOCKET pointing at it.
  const std::string dir = b.state.path + "/" + id + "/notify";
  CHECK(std::filesystem::is_directory(dir));
  CHECK(std::filesystem::is_empty(dir));
  auto started = ward_notify(b, {"start", id}, rx.path);
  INFO(started.err);
  REQUIRE(!started.timed_out);
  CHECK(started.status == 0);
  // The barrier makes this exact: start returned after the caller read it.
  CHECK(rx.ready);
  auto st = ward::oci::parse_state(b.cmd({"state", id}).out);
  auto msgs = rx.finish();
  CHECK(texts(msgs) ==
        std::vector<std::string>{"READY=1", "MAINPID=" + std::to_string(st.pid), "BARRIER=1"});
  CHECK(b.cmd({"delete", "--force", id}).status == 0);
  CHECK(std::filesystem::is_empty(b.state.path));
}

TEST_CASE("runtime notify: the container sees only its own read-only socket directory") {
  NEED_RUNTIME(b);
  Receiver rx;
  b.set({"sh", "-c",
         "echo env=$NOTIFY_SOCKET; ls -l /run/notify | grep -o '^srwxrwxrwx'; "
         "touch /run/notify/x 2>&1; grep ' /run/notify ' /proc/self/mountinfo; "
         "grep -c caller.sock /proc/self/mountinfo"},
        [](json::Value& cfg) {
          // The config's own NOTIFY_SOCKET is replaced, not shadowed.
          cfg.find("process")->find("env")->as_array().push_back(json::Value("NOTIFY_SOCKET=/x"));
        });
  auto r = ward_notify(b, {"run", "--bundle", b.dir.path, Bundle::id("ntfview")}, rx.path);
  rx.finish();
  INFO(r.err);
  CHECK(r.out.find("env=/run/notify/notify.sock\n") == 0);
  CHECK_THAT(r.out, Catch::Contains("\nsrwxrwxrwx\n"));
  CHECK_THAT(r.out, Catch::Contains("Read-only file system"));
  CHECK_THAT(r.out, Catch::Contains(" /run/notify ro,nosuid,nodev,noexec"));
  // The caller's socket is nowhere in it.
  CHECK_THAT(r.out, Catch::EndsWith("\n0\n"));
}

TEST_CASE("runtime notify: a container that exits unready ends start and forwards nothing") {
  NEED_RUNTIME(b);
  Receiver rx;
  b.set(probe_notify({"STATUS=failing"}), ward_test::with_probe(b));
  const std::string id = Bundle::id("ntfexit");
  REQUIRE(ward_notify(b, {"create", "--bundle", b.dir.path, id}, rx.path).status == 0);
  auto started = ward_notify(b, {"start", id}, rx.path);
  INFO(started.err);
  REQUIRE(!started.timed_out);
  CHECK(started.status == 0);
  CHECK(!rx.ready);
  auto msgs = rx.finish();
  CHECK(texts(msgs) == std::vector<std::string>{"STATUS=failing"});
  CHECK(b.cmd({"delete", id}).status == 0);
}

TEST_CASE("runtime notify: pause and delete do not wait behind a start waiting for READY") {
  NEED_RUNTIME(b);
  Receiver rx;
  b.set({"sleep", "100"});
  const std::string id = Bundle::id("ntfkill");
  REQUIRE(ward_notify(b, {"create", "--bundle", b.dir.path, id}, rx.path).status == 0);
  // start in the background: it waits for a READY=1 that never comes.
  std::vector<std::string> argv = {WARD_RUNTIME_BIN, "--root", b.state.path, "start", id};
  ward::Sandbox sb(argv);
  sb.stdin_(ward::Stdio::null()).setenv("NOTIFY_SOCKET", rx.path);
  ward::Child start = sb.spawn();
  bool running = false;
  for (int i = 0; i < 500 && !running; ++i) {
    auto s = b.cmd({"state", id});
    running = s.status == 0 && ward::oci::parse_state(s.out).status == ward::oci::Status::running;
    if (!running) ::usleep(10000);
  }
  REQUIRE(running);
  // What systemd's stop of the unit does: pause (it takes the container's
  // lock) and delete --force, while start still waits.
  auto p = ward_notify(b, {"pause", id}, "", 10);
  CHECK(!p.timed_out);
  CHECK(p.status == 0);
  auto d = ward_notify(b, {"delete", "--force", id}, "", 10);
  CHECK(!d.timed_out);
  CHECK(d.status == 0);
  pollfd pf{start.pidfd(), POLLIN, 0};
  CHECK(::poll(&pf, 1, 10000) == 1);  // the init died: start returned
  if (pf.revents == 0) start.kill(SIGKILL);
  CHECK(start.wait().shell_status() == 0);
  CHECK(std::filesystem::is_empty(b.state.path));
  CHECK(texts(rx.finish()).empty());
}

TEST_CASE(
    "runtime notify: a bad NOTIFY_SOCKET fails naming it and leaves nothing or a startable "
    "container") {
  NEED_RUNTIME(b);
  b.set({"true"});
  // Not an address sd_notify(3) knows: create fails before making anything.
  auto r = ward_notify(b, {"create", "--bundle", b.dir.path, Bundle::id("ntfbad")}, "relative/x");
  CHECK(r.status != 0);
  CHECK_THAT(r.err, Catch::Contains("NOTIFY_SOCKET=relative/x: not an absolute path"));
  CHECK(std::filesystem::is_empty(b.state.path));
  // Nobody listening at start: start fails naming the socket and errno,
  // before the program starts, and the container is still created.
  Receiver rx;
  const std::string id = Bundle::id("ntfgone");
  REQUIRE(ward_notify(b, {"create", "--bundle", b.dir.path, id}, rx.path).status == 0);
  auto s = ward_notify(b, {"start", id}, rx.dir / "nobody.sock");
  CHECK(s.status != 0);
  CHECK_THAT(s.err, Catch::Contains("NOTIFY_SOCKET " + (rx.dir / "nobody.sock") +
                                    ": connect: No such file or directory"));
  CHECK(ward::oci::parse_state(b.cmd({"state", id}).out).status == ward::oci::Status::created);
  CHECK(ward_notify(b, {"start", id}, "").status == 0);
  CHECK(b.cmd({"delete", "--force", id}).status == 0);
  CHECK(std::filesystem::is_empty(b.state.path));
}

TEST_CASE("runtime notify: a container in its own user namespace reaches the caller") {
  NEED_RUNTIME(b);
  if (!ward_test::userns_allowed()) WARD_SKIP("user namespaces are not allowed here");
  Receiver rx;
  // crun's sd-notify-proxy case: root of the container is host uid 8000,
  // which owns nothing of ward's state directory.
  // The rootfs is theirs, as crun's test chowns it.
  REQUIRE(std::system(("chown -R 8000:8000 '" + b.rootfs->path + "'").c_str()) == 0);
  b.set(probe_notify({"READY=1"}), [edit = ward_test::with_probe(b)](json::Value& cfg) {
    edit(cfg);
    cfg.find("linux")->find("namespaces")->as_array().push_back(json::parse(R"({"type": "user"})"));
    auto m = json::parse(R"([{"containerID": 0, "hostID": 8000, "size": 1}])");
    // One id mapped: devpts's gid=5 is not (as `spec --rootless` drops it).
    for (auto& mnt : cfg.find("mounts")->as_array())
      if (mnt.find("destination")->as_string() == "/dev/pts") {
        json::Array kept;
        for (auto& o : mnt.find("options")->as_array())
          if (o.as_string() != "gid=5") kept.push_back(o);
        mnt.set("options", json::Value(std::move(kept)));
      }
    cfg.find("linux")->set("uidMappings", m);
    cfg.find("linux")->set("gidMappings", m);
  });
  auto r = ward_notify(b, {"run", "--bundle", b.dir.path, Bundle::id("ntfuser")}, rx.path);
  auto msgs = rx.finish();
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == "sent=1\n");
  REQUIRE(!msgs.empty());
  CHECK(msgs[0].text == "READY=1");
}

TEST_CASE("runtime notify: run -d returns once ready with the container's init as MAINPID") {
  NEED_RUNTIME(b);
  Receiver rx;
  b.set({"sh", "-c", "sleep 1; /probe notify READY=1; exec sleep 100"}, ward_test::with_probe(b));
  const std::string id = Bundle::id("ntfdetach");
  auto r = ward_notify(b, {"run", "-d", "--bundle", b.dir.path, id}, rx.path);
  INFO(r.err);
  REQUIRE(!r.timed_out);
  CHECK(r.status == 0);
  CHECK(rx.ready);
  auto st = ward::oci::parse_state(b.cmd({"state", id}).out);
  CHECK(st.status == ward::oci::Status::running);
  CHECK(texts(rx.finish()) ==
        std::vector<std::string>{"READY=1", "MAINPID=" + std::to_string(st.pid), "BARRIER=1"});
  CHECK(b.cmd({"delete", "--force", id}).status == 0);
}
