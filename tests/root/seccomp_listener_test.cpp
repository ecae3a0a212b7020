// SPDX-License-Identifier: Apache-2.0
// linux.seccomp.listenerPath through the runtime: a tiny seccomp agent (a
// thread with a unix socket) receives the container process state and the
// listener (config-linux.md "The Container Process State"), checks both,
// answers the container's notified mkdir, and the container completes.
// Hostile agents and paths: the runtime sends exactly one descriptor, the
// listener; a FIFO or a symlink to one as listenerPath fails create at
// once, leaving nothing behind.
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include <atomic>
#include <cstring>
#include <thread>

#include <ward/seccomp_notify.hpp>

#include "runtime_util.hpp"

using ward_test::Bundle;
namespace json = ward::json;

namespace {

// mkdir/mkdirat notify; everything else runs.
void notify_mkdir(json::Value& cfg, const std::string& listener, const std::string& meta = {}) {
  json::Value sc = json::parse(R"({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]})");
  sc.set("listenerPath", listener);
  if (!meta.empty()) sc.set("listenerMetadata", meta);
  cfg.find("linux")->set("seccomp", std::move(sc));
}

struct Received {
  std::string json;
  int fds = 0;
  bool ctrunc = false;
  std::string fd_kind;  // readlink of the first descriptor
  int answered_nr = -1;
};

// Accepts one connection, reads the state and the descriptors, answers one
// notification with EACCES.
class Agent {
 public:
  explicit Agent(std::string path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, path_.c_str(), sizeof sa.sun_path - 1);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    REQUIRE(::listen(fd_, 4) == 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~Agent() {
    ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  Received get() {
    if (thread_.joinable()) thread_.join();
    return r_;
  }

 private:
  void serve() {
    // A runtime that never connects fails the test (nothing received)
    // instead of hanging it.
    pollfd pf{fd_, POLLIN, 0};
    if (::poll(&pf, 1, 30000) != 1) return;
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return;
    std::string buf(65536, '\0');
    alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * 16)] = {};
    iovec iov{buf.data(), buf.size()};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = sizeof ctl;
    ssize_t n = ::recvmsg(c, &m, MSG_CMSG_CLOEXEC);
    int listener = -1;
    if (n > 0) {
      r_.ctrunc = (m.msg_flags & MSG_CTRUNC) != 0;
      for (cmsghdr* h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
        if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
        const std::size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < k; ++i) {
          int fd;
          std::memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof fd);
          if (r_.fds++ == 0) {
            listener = fd;
          } else {
            ::close(fd);
          }
        }
      }
      r_.json.assign(buf.data(), static_cast<std::size_t>(n));
      // The rest, if the runtime sent it in several parts.
      for (;;) {
        ssize_t more = ::read(c, buf.data(), buf.size());
        if (more <= 0) break;
        r_.json.append(buf.data(), static_cast<std::size_t>(more));
      }
    }
    ::close(c);
    if (listener < 0) return;
    char link[128] = {};
    ssize_t l =
        ::readlink(("/proc/self/fd/" + std::to_string(listener)).c_str(), link, sizeof link - 1);
    if (l > 0) r_.fd_kind.assign(link, static_cast<std::size_t>(l));
    ward::SeccompListener sl{ward::UniqueFd(listener)};
    if (auto note = sl.receive(std::chrono::seconds(20))) {
      r_.answered_nr = note->nr();
      sl.respond_errno(*note, EACCES);
    }
  }

  std::string path_;
  int fd_ = -1;
  std::thread thread_;
  Received r_;
};

std::string sock_path(const std::string& tag) {
  return "/tmp/ward-agent-" + tag + "-" + std::to_string(::getpid()) + ".sock";
}

}  // namespace

TEST_CASE(
    "runtime seccomp: the agent at listenerPath gets the state and the listener at create, "
    "and answers the container's notified call") {
  NEED_RUNTIME(b);
  const std::string path = sock_path("create");
  Agent agent(path);
  b.set({"sh", "-c", "mkdir /x; echo rc=$? > /out"}, [&](json::Value& cfg) {
    cfg.find("root")->set("readonly", false);
    notify_mkdir(cfg, path, "MKDIR=deny");
    cfg.set("annotations", json::parse(R"({"myKey": "myValue"})"));
  });
  const std::string id = Bundle::id("sclisten");
  auto cr = b.cmd({"create", "--bundle", b.dir.path, id});
  REQUIRE(cr.status == 0);
  auto st = ward::oci::parse_state(b.cmd({"state", id}).out);
  REQUIRE(b.cmd({"start", id}).status == 0);
  Received r = agent.get();
  INFO(r.json);
  // Before: nobody connected (the agent saw nothing) and the container was
  // stopped at start (the child wrote its listener number to a closed pipe).
  json::Value v = json::parse(r.json);
  CHECK(v.find("ociVersion") != nullptr);
  CHECK(json::dump(*v.find("fds")) == R"(["seccompFd"])");
  CHECK(v.find("pid")->as_int64() == st.pid);
  CHECK(v.find("metadata")->as_string() == "MKDIR=deny");
  const json::Value* state = v.find("state");
  REQUIRE(state);
  CHECK(state->find("id")->as_string() == id);
  CHECK(state->find("status")->as_string() == "creating");
  CHECK(state->find("pid")->as_int64() == st.pid);
  CHECK(state->find("bundle")->as_string() == b.dir.path);
  CHECK(state->find("annotations")->find("myKey")->as_string() == "myValue");
  // Exactly one descriptor, and it is the listener: nothing else of the
  // runtime's reaches the agent.
  CHECK(r.fds == 1);
  CHECK_FALSE(r.ctrunc);
  CHECK(r.fd_kind == "anon_inode:seccomp notify");
  CHECK((r.answered_nr == SYS_mkdir || r.answered_nr == SYS_mkdirat));
  // The container completes with the agent's answer.
  for (int i = 0; i < 500; ++i) {
    auto s = ward::oci::parse_state(b.cmd({"state", id}).out);
    if (s.status == ward::oci::Status::stopped) break;
    ::usleep(10000);
  }
  CHECK(ward_test::read_file(*b.rootfs / "out") == "rc=1\n");
  b.cmd({"delete", "--force", id});
}

TEST_CASE("runtime seccomp: run sends the listener too, and the foreground run completes") {
  NEED_RUNTIME(b);
  const std::string path = sock_path("run");
  Agent agent(path);
  b.set({"sh", "-c", "mkdir /tmp/y; echo rc=$?"},
        [&](json::Value& cfg) { notify_mkdir(cfg, path); });
  auto r = b.cmd({"run", "--bundle", b.dir.path, Bundle::id("sclrun")});
  CHECK(r.status == 0);
  CHECK(r.out == "rc=1\n");
  Received got = agent.get();
  CHECK(got.fds == 1);
  CHECK(got.fd_kind == "anon_inode:seccomp notify");
}

TEST_CASE(
    "runtime seccomp: an unreachable listenerPath, a FIFO or a symlink to one fails create "
    "at once, naming the field, and leaves nothing") {
  NEED_RUNTIME(b);
  ward_test::ScratchDir d{"agent-paths"};
  const std::string fifo = d / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const std::string link = d / "link";
  REQUIRE(::symlink(fifo.c_str(), link.c_str()) == 0);
  const std::string missing = d / "missing";
  for (const auto& kase : {std::pair{missing, "ENOENT"}, std::pair{fifo, "ECONNREFUSED"},
                           std::pair{link, "ECONNREFUSED"}}) {
    const std::string& p = kase.first;
    const char* const err = kase.second;
    INFO(p);
    b.set({"true"}, [&](json::Value& cfg) { notify_mkdir(cfg, p); });
    const std::string id = Bundle::id("sclbad");
    auto r = b.cmd({"create", "--bundle", b.dir.path, id});
    CHECK(r.status != 0);
    CHECK_THAT(r.err, Catch::Contains("linux.seccomp.listenerPath " + p));
    CHECK_THAT(r.err, Catch::Contains(err));
    CHECK(b.cmd({"state", id}).status != 0);  // nothing left
  }
}

TEST_CASE(
    "runtime seccomp: SCMP_ACT_NOTIFY without listenerPath, on write, or as the default "
    "action is refused") {
  NEED_RUNTIME(b);
  const std::string id = Bundle::id("sclcfg");
  auto refused = [&](const char* sc) {
    b.set({"true"}, [&](json::Value& cfg) { cfg.find("linux")->set("seccomp", json::parse(sc)); });
    auto r = b.cmd({"create", "--bundle", b.dir.path, id});
    CHECK(r.status != 0);
    CHECK(b.cmd({"state", id}).status != 0);
    return r.err;
  };
  CHECK_THAT(refused(R"({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]})"),
             Catch::Contains("needs listenerPath"));
  CHECK_THAT(refused(R"({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "",
      "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]})"),
             Catch::Contains("needs listenerPath"));
  CHECK_THAT(refused(R"({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/tmp/x.sock",
      "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_NOTIFY"}]})"),
             Catch::Contains("cannot be used for the write syscall"));
  CHECK_THAT(refused(R"({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/tmp/x.sock"})"),
             Catch::Contains("cannot be used as the default action"));
  CHECK_THAT(refused(R"({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "@",
      "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]})"),
             Catch::Contains("linux.seccomp.listenerPath"));
}

// A listenerPath with no SCMP_ACT_NOTIFY rule: the spec sends the state only
// when NOTIFY is used, so the agent is not contacted; the runtime says so
// instead of leaving it waiting without a word (crun's seccomp-listener
// test waits; runc says nothing).
TEST_CASE("runtime seccomp: a listenerPath without SCMP_ACT_NOTIFY rules is a warning") {
  NEED_RUNTIME(b);
  const std::string path = sock_path("idle");
  b.set({"true"}, [&](json::Value& cfg) {
    json::Value sc = json::parse(R"({"defaultAction": "SCMP_ACT_ALLOW"})");
    sc.set("listenerPath", path);
    cfg.find("linux")->set("seccomp", std::move(sc));
  });
  auto r = b.cmd({"run", "--bundle", b.dir.path, Bundle::id("scidle")});
  CHECK(r.status == 0);
  CHECK_THAT(r.err, Catch::Contains("linux.seccomp.listenerPath " + path) &&
                        Catch::Contains("no rule uses SCMP_ACT_NOTIFY"));
}

// The sealed exec trampoline runs under a filter installed before the start
// gate, so an agent can answer its prctl(PR_SET_DUMPABLE, 0) with an error.
// It used to go on and exec the program from a dumpable process, its report
// pipe to the runtime open to the container (/proc/PID/fd) until the
// program's execve. Now the program never runs; the trampoline reports the
// failure and exits 127.
TEST_CASE(
    "runtime seccomp: a failed PR_SET_DUMPABLE in the exec trampoline never runs the program") {
  NEED_RUNTIME(b);
  const std::string path = sock_path("dumpable");
  Agent agent(path);
  b.set({"sh", "-c", "echo ran > /out"}, [&](json::Value& cfg) {
    cfg.find("root")->set("readonly", false);
    json::Value sc = json::parse(R"({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["prctl"], "action": "SCMP_ACT_NOTIFY",
                      "args": [{"index": 0, "value": 4, "op": "SCMP_CMP_EQ"}]}]})");
    sc.set("listenerPath", path);
    cfg.find("linux")->set("seccomp", std::move(sc));
  });
  const std::string id = Bundle::id("scdump");
  auto cr = b.cmd({"create", "--bundle", b.dir.path, id});
  INFO(cr.err);
  REQUIRE(cr.status == 0);
  b.cmd({"start", id});
  Received r = agent.get();
  CHECK(r.answered_nr == SYS_prctl);
  for (int i = 0; i < 500; ++i) {
    auto s = ward::oci::parse_state(b.cmd({"state", id}).out);
    if (s.status == ward::oci::Status::stopped) break;
    ::usleep(10000);
  }
  CHECK(ward::oci::parse_state(b.cmd({"state", id}).out).status == ward::oci::Status::stopped);
  CHECK(::access((*b.rootfs / "out").c_str(), F_OK) != 0);  // the program never ran
  b.cmd({"delete", "--force", id});
}
