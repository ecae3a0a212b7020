// SPDX-License-Identifier: Apache-2.0
// Namespaces on the real kernel, as root.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include <catch2/catch.hpp>

#include "run_util.hpp"
#include "test_util.hpp"

using namespace ward;
using ward_test::kv;
using ward_test::probe;
using ward_test::run;
using ward_test::trim;

namespace {
std::string ns_link(pid_t pid, NsKind k) {
  return std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/ns/" +
                                       std::string(proc_name(k)))
      .string();
}
// What the child reads back for /proc/self/ns/<kind>.
std::string child_ns(Sandbox sb, NsKind k) {
  sb.command({"/bin/readlink", "/proc/self/ns/" + std::string(proc_name(k))});
  return trim(run(std::move(sb)).out);
}
}  // namespace

TEST_CASE("each namespace kind gives the child a namespace of its own") {
  WARD_SKIP_UNLESS_ROOT();
  for (NsKind k : all_ns_kinds) {
    if (k == NsKind::time) continue;  // entered at exec; its own test below
    INFO("kind " << to_string(k));
    std::string mine = ns_link(::getpid(), k);
    std::string theirs = child_ns(Sandbox().unshare(k), k);
    CHECK_FALSE(theirs.empty());
    CHECK(theirs != mine);
    CHECK(child_ns(Sandbox(), k) == mine);  // and nothing changes when not asked
  }
}

TEST_CASE("pid namespace: the child is pid 1") {
  WARD_SKIP_UNLESS_ROOT();
  auto info = kv(run(Sandbox({probe(), "info"}).unshare(NsKind::pid)).out);
  CHECK(info["pid"] == "1");
  CHECK(info["ppid"] == "0");
}

TEST_CASE("uts namespace: hostname and domainname are set, the host's are not") {
  WARD_SKIP_UNLESS_ROOT();
  char before[256] = {};
  ::gethostname(before, sizeof before);
  auto info = kv(run(Sandbox({probe(), "info"})
                         .unshare(NsKind::uts)
                         .hostname("ward-box")
                         .domainname("ward.test"))
                     .out);
  CHECK(info["hostname"] == "ward-box");
  CHECK(info["domainname"] == "ward.test");
  char after[256] = {};
  ::gethostname(after, sizeof after);
  CHECK(std::string(before) == after);
}

TEST_CASE("net namespace: only loopback, and it is UP") {
  WARD_SKIP_UNLESS_ROOT();
  // /sys/class/net lists the interfaces of the reader's namespace only when
  // sysfs is mounted from within it, so read /proc/net/dev and the flags via
  // /proc/self/net (which follows the reader's namespace).
  auto r =
      run(Sandbox({"/bin/sh", "-c",
                   "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; "
                   "cat /proc/self/net/if_inet6 >/dev/null 2>&1; ip -o link 2>/dev/null || true"})
              .unshare(NsSet{NsKind::net}));
  CHECK(r.status.success());
  CHECK(r.out.rfind("lo\n", 0) == 0);
  std::string ifaces = r.out.substr(0, r.out.find('\n', 0) + 1);
  CHECK(ifaces == "lo\n");
  if (r.out.find("1: lo:") != std::string::npos) CHECK_THAT(r.out, Catch::Contains("UP"));

  // A socket bound to 127.0.0.1 works (lo is up) and nothing else exists.
  auto s = run(Sandbox({"/bin/sh", "-c",
                        "cat /sys/class/net/lo/operstate 2>/dev/null; "
                        "grep -c : /proc/net/dev"})
                   .unshare(NsSet{NsKind::net, NsKind::mount}));
  CHECK_THAT(s.out, Catch::EndsWith("1\n"));

  auto down = run(Sandbox({"/bin/sh", "-c", "ip -o link show lo 2>/dev/null"})
                      .unshare(NsKind::net)
                      .loopback(false));
  if (!down.out.empty()) CHECK_THAT(down.out, Catch::Contains("state DOWN"));
}

TEST_CASE("loopback is usable in a new net namespace") {
  WARD_SKIP_UNLESS_ROOT();
  // Bind and connect over 127.0.0.1 with a tiny shell-free check: the probe
  // cannot do sockets, but /dev/tcp needs bash; use python3 if present.
  if (::access("/usr/bin/python3", X_OK) != 0)
    WARD_SKIP("needs /usr/bin/python3 for a socket check");
  auto r = run(Sandbox({"/usr/bin/python3", "-c",
                        "import socket\n"
                        "s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(1)\n"
                        "c=socket.create_connection(s.getsockname()); a,_=s.accept()\n"
                        "c.sendall(b'ok'); print(a.recv(2).decode())\n"})
                   .unshare(NsKind::net));
  CHECK(r.status.success());
  CHECK(r.out == "ok\n");
}

TEST_CASE("user namespace: the maps are as asked, root inside") {
  WARD_SKIP_UNLESS_ROOT();
  auto r =
      run(Sandbox({"/bin/sh", "-c",
                   "cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; id -u; id -g"})
              .unshare(NsKind::user)
              .uid_map(IdMap{{0, 100000, 1000}, {1000, 0, 1}})
              .gid_map(IdMap{{0, 200000, 65536}}));
  CHECK(r.status.success());
  std::istringstream in(r.out);
  std::string l1, l2, l3, l4, l5, l6;
  std::getline(in, l1);
  std::getline(in, l2);
  std::getline(in, l3);
  std::getline(in, l4);
  std::getline(in, l5);
  std::getline(in, l6);
  auto norm = [](std::string s) {
    std::istringstream ss(s);
    std::string a, b, c;
    ss >> a >> b >> c;
    return a + " " + b + " " + c;
  };
  CHECK(norm(l1) == "0 100000 1000");
  CHECK(norm(l2) == "1000 0 1");
  CHECK(norm(l3) == "0 200000 65536");
  CHECK(l4 == "allow");
  CHECK(l5 == "0");
  CHECK(l6 == "0");

  auto as_user = kv(run(Sandbox({probe(), "info"})
                            .unshare(NsKind::user)
                            .uid_map(IdMap{{0, 100000, 65536}})
                            .gid_map(IdMap{{0, 100000, 65536}})
                            .user(1000, 1000))
                        .out);
  CHECK(as_user["uid"] == "1000");
  CHECK(as_user["gid"] == "1000");
  CHECK(as_user["groups"] == "");
}

TEST_CASE("a bad uid map is an error naming the map") {
  WARD_SKIP_UNLESS_ROOT();
  // Valid syntax, refused by the kernel: only a process in the parent user
  // namespace (or in the namespace itself) may write a map
  // (user_namespaces(7)). Nest a new user namespace inside one we join: its
  // parent is then not ours, and the kernel says EPERM.
  auto outer = Namespace::create_set(NsSet{NsKind::user});
  REQUIRE(outer.size() == 1);
  try {
    (void)Sandbox({"/bin/true"})
        .join(outer[0])
        .unshare(NsKind::user)
        .uid_map(IdMap{{0, 5, 1}})
        .spawn();
    FAIL("spawn succeeded");
  } catch (const Error& e) {
    INFO(e.what());
    CHECK(e.step() == Step::uid_map);
    CHECK(e.code() == std::errc::operation_not_permitted);
    CHECK_THAT(e.what(), Catch::Contains("/uid_map") && Catch::Contains("writing '0 5 1'"));
  }
  // The same map written for a namespace made directly by root is accepted,
  // so the refusal above is the kernel's rule and not our mistake.
  CHECK(
      run(Sandbox({"/bin/true"}).unshare(NsKind::user).uid_map(IdMap{{0, 5, 1}})).status.success());
}

TEST_CASE("time namespace: CLOCK_MONOTONIC and CLOCK_BOOTTIME offsets are visible") {
  WARD_SKIP_UNLESS_ROOT();
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  constexpr std::int64_t kDay = 86400;
  auto r = run(Sandbox({probe(), "monotonic"})
                   .unshare(NsKind::time)
                   .time_offsets({.monotonic_ns = kDay * 1'000'000'000, .boottime_ns = 0}));
  REQUIRE(r.status.success());
  long long seen = std::stoll(r.out);
  CHECK(seen >= now.tv_sec + kDay);
  CHECK(seen <= now.tv_sec + kDay + 60);
  auto uptime = run(Sandbox({"/bin/cat", "/proc/uptime"})
                        .unshare(NsSet{NsKind::time, NsKind::user})
                        .time_offsets({.boottime_ns = 7 * kDay * 1'000'000'000}));
  CHECK(std::stod(uptime.out) >= 7 * kDay);
}

TEST_CASE("joining: an existing net namespace while creating user+pid+mount") {
  WARD_SKIP_UNLESS_ROOT();
  Namespace net = Namespace::create(NsKind::net);
  CHECK(net.kind() == NsKind::net);
  CHECK_FALSE(net == Namespace::current(NsKind::net));
  std::string want = "net:[" + std::to_string(net.id().ino) + "]";

  auto r = run(
      Sandbox({"/bin/sh", "-c",
               "echo pid=$$; echo net=$(readlink /proc/self/ns/net); "
               "echo user=$(readlink /proc/self/ns/user); echo mnt=$(readlink /proc/self/ns/mnt)"})
          .join(net)
          .unshare(NsSet{NsKind::user, NsKind::pid, NsKind::mount}));
  REQUIRE(r.status.success());
  auto info = kv(r.out);
  CHECK(info["pid"] == "1");
  CHECK(info["net"] == want);
  CHECK(info["user"] != ns_link(::getpid(), NsKind::user));
  CHECK(info["mnt"] != ns_link(::getpid(), NsKind::mount));
}

TEST_CASE("joining a pid namespace puts the child in it") {
  WARD_SKIP_UNLESS_ROOT();
  Child holder =
      Sandbox({probe(), "sleep", "20000"}).unshare(NsSet{NsKind::pid, NsKind::mount}).spawn();
  Namespace pidns = Namespace::open_pidfd(NsKind::pid, holder.pidfd());
  auto info = kv(run(Sandbox({probe(), "info"}).join(pidns)).out);
  CHECK(info["pid"] == "2");  // the holder is 1
  CHECK(info["ppid"] == "0");
}

TEST_CASE("before_exec with two stages (joining a pid namespace): run, and a throw cleans up") {
  WARD_SKIP_UNLESS_ROOT();
  Child holder =
      Sandbox({probe(), "sleep", "20000"}).unshare(NsSet{NsKind::pid, NsKind::mount}).spawn();
  Namespace pidns = Namespace::open_pidfd(NsKind::pid, holder.pidfd());
  int out[2];
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  Child c = Sandbox({"/bin/sh", "-c", "echo program $$"})
                .join(pidns)
                .stdout_(Stdio::fd(out[1]))
                .before_exec([&] {
                  std::this_thread::sleep_for(std::chrono::milliseconds(100));
                  REQUIRE(::write(out[1], "parent\n", 7) == 7);
                })
                .spawn();
  ::close(out[1]);
  CHECK(ward_test::read_all(out[0]) == "parent\nprogram 2\n");
  ::close(out[0]);
  CHECK(c.wait().exit_code() == 0);

  Sandbox failing = Sandbox({probe(), "info"}).join(pidns);
  failing.before_exec([] { throw std::runtime_error("not today"); });
  CHECK_THROWS_WITH(failing.spawn(), "not today");
  holder.kill(SIGKILL);
  holder.wait();
  // Both stages were reaped: no child of ours is left.
  CHECK(::waitpid(-1, nullptr, WNOHANG) == -1);
  CHECK(errno == ECHILD);
}

TEST_CASE("joining a time namespace uses fork mode and works") {
  WARD_SKIP_UNLESS_ROOT();
  auto made =
      Namespace::create_set(NsSet{NsKind::time}, {}, {.monotonic_ns = 3600LL * 1'000'000'000});
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  auto r = run(Sandbox({probe(), "monotonic"}).join(made[0]));
  REQUIRE(r.status.success());
  CHECK(std::stoll(r.out) >= now.tv_sec + 3600);
}

TEST_CASE("persisting a namespace keeps it after its last process") {
  WARD_SKIP_UNLESS_ROOT();
  auto dir =
      std::filesystem::temp_directory_path() / ("ward-persist-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = dir / "uts";
  Namespace::Id id;
  {
    Child c = Sandbox({probe(), "sleep", "20000"}).unshare(NsKind::uts).hostname("kept").spawn();
    Namespace ns = Namespace::open_pidfd(NsKind::uts, c.pidfd());
    id = ns.id();
    ns.persist(path);
    c.kill();
    c.wait();
  }
  // The process is gone and we hold no fd; the bind mount keeps it.
  Namespace again = Namespace::open(path);
  CHECK(again.kind() == NsKind::uts);
  CHECK(again.id() == id);
  auto info = kv(run(Sandbox({probe(), "info"}).join(NsKind::uts, path)).out);
  CHECK(info["hostname"] == "kept");
  Namespace::unpersist(path);
  CHECK_FALSE(std::filesystem::exists(path));
  std::filesystem::remove_all(dir);
}

TEST_CASE("Namespace::open checks the kind and says what a path is") {
  WARD_SKIP_UNLESS_ROOT();
  try {
    (void)Namespace::open("/proc/self/ns/net", NsKind::uts);
    FAIL("opened");
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("is a net namespace, expected uts"));
  }
  try {
    (void)Namespace::open("/etc/hostname");
    FAIL("opened");
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("not a namespace file"));
  }
  CHECK(Namespace::open("/proc/self/ns/mnt").kind() == NsKind::mount);
}

TEST_CASE("every kind can be created without moving the caller") {
  WARD_SKIP_UNLESS_ROOT();
  std::vector<Namespace::Id> before;
  for (NsKind k : all_ns_kinds) before.push_back(Namespace::current(k).id());
  auto all = Namespace::create_set(NsSet::all());
  REQUIRE(all.size() == 8);
  for (std::size_t i = 0; i < all.size(); ++i) {
    INFO(to_string(all[i].kind()));
    CHECK(all[i].kind() == all_ns_kinds[i]);
    CHECK_FALSE(all[i].id() == before[i]);
    CHECK(Namespace::current(all_ns_kinds[i]).id() == before[i]);  // we did not move
  }
}

TEST_CASE("Namespace::join moves the calling thread only") {
  WARD_SKIP_UNLESS_ROOT();
  Namespace net = Namespace::create(NsKind::net);
  const auto mine = Namespace::current(NsKind::net).id();
  Namespace::Id seen_in_thread;
  std::thread t([&] {
    net.join();
    seen_in_thread = Namespace::current(NsKind::net).id();
  });
  t.join();
  CHECK(seen_in_thread == net.id());
  CHECK(Namespace::current(NsKind::net).id() == mine);
  // A user namespace cannot be joined by a threaded process: the kernel's
  // rule, reported as a setns error naming the kind.
  auto user = Namespace::create_set(NsSet{NsKind::user});
  std::atomic<bool> release{false};
  std::thread other([&] {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  try {
    user[0].join();
    FAIL("joined a user namespace from a multithreaded process");
  } catch (const Error& e) {
    CHECK(e.step() == Step::setns);
    CHECK(e.code() == std::errc::invalid_argument);
    CHECK_THAT(e.what(), Catch::Contains("user namespace"));
  }
  release = true;
  other.join();
}
