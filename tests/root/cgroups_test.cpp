// SPDX-License-Identifier: Apache-2.0
// Cgroups (the cgroup of every hierarchy: cgroups.hpp) and Sandbox::cgroup
// with it, on the real kernel, as root (issue #14).
//
// On this project's hybrid hosts memory, cpu, pids... are v1 controllers and
// the unified hierarchy has almost none; in the VM tier everything is v2.
// Every check says which hierarchy it expects from cgroup_host(), so the same
// tests hold on both. Cgroups are /ward-test-cgs-<pid>-<n> in every
// hierarchy, removed by RAII even when a check fails.
#include <sys/mount.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <ward/cgroups.hpp>
#include <ward/sandbox.hpp>

#include <catch2/catch.hpp>

#include "cgroup_util.hpp"
#include "fork_util.hpp"
#include "test_util.hpp"

using namespace ward;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::string name() {
  static int n = 0;
  return "/ward-test-cgs-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

std::string read_all(int fd) {
  std::string s;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    s.append(buf, static_cast<std::size_t>(n));
  }
  return s;
}

// /proc/self/cgroup as a child in `cg` prints it.
std::string cgroup_text_of_child(Sandbox sb) {
  Child c = sb.stdout_(Stdio::pipe()).spawn();
  std::string out = read_all(c.stdout_pipe().get());
  auto st = c.wait();
  INFO(st.describe());
  REQUIRE(st.exited());
  REQUIRE(st.code == 0);
  return out;
}

// The path of v1 `controller`'s hierarchy in that text ("4:memory:/x" ->
// "/x"), or of the unified hierarchy with "".
std::string path_in(const std::string& text, const std::string& controller) {
  return cgroup_parse::hierarchy_path(text, controller).value_or("<absent>");
}

template <class P>
bool eventually(P pred, int ms = 5000) {
  for (int i = 0; i < ms / 10; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

bool any_cgroup_host() { return cgroup_host().mode != CgroupMode::none; }

}  // namespace

#define NEED_CGROUPS()                                                          \
  do {                                                                          \
    WARD_SKIP_UNLESS_ROOT();                                                    \
    if (!any_cgroup_host()) WARD_SKIP("this host mounts no cgroup filesystem"); \
  } while (false)

TEST_CASE("cgroups: a child is born in the cgroup of every hierarchy") {
  NEED_CGROUPS();
  const std::string path = name();
  auto cg = Cgroups::create(path);
  for (const auto& d : ward_test::cgroup_dirs(path)) CHECK(fs::is_directory(d));
  const auto text = cgroup_text_of_child(Sandbox({"/bin/cat", "/proc/self/cgroup"}).cgroup(cg));
  INFO(text);
  // Without the child's own joins, every v1 line would still name the
  // caller's cgroup (CLONE_INTO_CGROUP reaches the unified hierarchy only).
  for (const auto& h : cgroup_host().v1_hierarchies) CHECK(path_in(text, h.controllers[0]) == path);
  if (!cgroup_host().unified_mount.empty()) CHECK(path_in(text, "") == path);
  cg.destroy();
  for (const auto& d : ward_test::cgroup_dirs(path)) CHECK_FALSE(fs::exists(d));
}

TEST_CASE("cgroups: with a cgroup namespace the child's own cgroups are its root") {
  NEED_CGROUPS();
  auto cg = Cgroups::create(name());
  const auto text = cgroup_text_of_child(
      Sandbox({"/bin/cat", "/proc/self/cgroup"}).unshare(NsKind::cgroup).cgroup(cg));
  INFO(text);
  // The namespace was made after the joins: rooted at the container's
  // cgroups, not at ours (cgroup_namespaces(7)).
  for (const auto& h : cgroup_host().v1_hierarchies) CHECK(path_in(text, h.controllers[0]) == "/");
  if (!cgroup_host().unified_mount.empty()) CHECK(path_in(text, "") == "/");
}

TEST_CASE("cgroups: a memory hog is OOM-killed in its memory hierarchy and the Child says so") {
  NEED_CGROUPS();
  auto cg = Cgroups::create(name());
  const auto b = cg.backend("memory");
  if (b == CgroupBackend::none) WARD_SKIP("no memory controller on this host");
  CHECK(b == (cgroup_host().v1_hierarchy("memory") ? CgroupBackend::v1 : CgroupBackend::v2));
  if (b == CgroupBackend::v1) {
    cg.v1()->memory_limit(32u << 20);
    if (fs::exists(cg.v1()->dir("memory") + "/memory.memsw.limit_in_bytes"))
      cg.v1()->memory_swap_limit(32u << 20);
  } else {
    if (!cg.v2()->available_controllers().empty()) cg.v2()->enable_controllers({"memory"});
    cg.v2()->set("memory.max", std::to_string(32u << 20));
    cg.v2()->set("memory.swap.max", "0");
  }
  CHECK(cg.memory_limit() == std::optional<std::uint64_t>(32u << 20));
  // Born under the limit: tail keeps its endless "line" in memory.
  Child c = Sandbox({"/usr/bin/tail", "/dev/zero"}).cgroup(cg).spawn();
  auto st = c.wait();
  INFO(st.describe());
  CHECK(st.signaled());
  CHECK(st.signal() == SIGKILL);
  CHECK(st.oom_killed);
  CHECK(cg.oom_kills() >= 1);
  auto s = cg.stats();
  REQUIRE(s.memory_peak);
  CHECK(*s.memory_peak <= (32u << 20) + (1u << 20));
  cg.destroy();
}

TEST_CASE("cgroups: procs freeze thaw and kill reach the whole tree") {
  NEED_CGROUPS();
  const std::string path = name();
  auto cg = Cgroups::create(path);
  // A shell that counts into a file and has a sleeping child.
  const std::string out = "/tmp" + path + ".count";
  Child c = Sandbox({"/bin/sh", "-c",
                     "sleep 1000 & i=0; while :; do i=$((i+1)); echo $i > " + out + "; done"})
                .cgroup(cg)
                .spawn();
  auto count = [&] {
    std::ifstream in(out);
    long v = 0;
    in >> v;
    return v;
  };
  REQUIRE(eventually([&] { return cg.procs().size() >= 2 && count() > 0; }));
  auto procs = cg.procs();
  CHECK(std::find(procs.begin(), procs.end(), c.pid()) != procs.end());
  cg.freeze();
  CHECK(cg.frozen());
  long a = count();
  std::this_thread::sleep_for(200ms);
  CHECK(count() == a);
  cg.thaw();
  CHECK_FALSE(cg.frozen());
  CHECK(eventually([&] { return count() > a; }));
  auto s = cg.stats();
  REQUIRE(s.cpu);
  CHECK(s.cpu->usage_usec > 0);
  if (cg.backend("pids") != CgroupBackend::none) CHECK(s.pids_current.value_or(0) >= 2);
  cg.kill();
  CHECK(cg.procs().empty());
  CHECK_FALSE(cg.populated());
  auto st = c.wait();
  CHECK(st.signaled());
  cg.destroy();
  for (const auto& d : ward_test::cgroup_dirs(path)) CHECK_FALSE(fs::exists(d));
  fs::remove(out);
}

TEST_CASE("cgroups: leftovers are taken over only on request and a populated one never") {
  NEED_CGROUPS();
  if (cgroup_host().v1_hierarchies.empty()) WARD_SKIP("no cgroup v1 hierarchy on this host");
  const std::string path = name();
  // What a crash could leave: the directory in one hierarchy only.
  const std::string left = cgroup_host().v1_hierarchies.back().mount + path;
  REQUIRE(::mkdir(left.c_str(), 0755) == 0);
  try {
    Cgroups::create(path);
    FAIL("create over a leftover did not fail");
  } catch (const Error& e) {
    CHECK(e.code().value() == EEXIST);
    CHECK_THAT(e.what(), Catch::Contains(path));
  }
  // Nothing of that failed attempt is left beside the leftover.
  for (const auto& d : ward_test::cgroup_dirs(path)) CHECK(fs::exists(d) == (d == left));
  {
    auto cg = Cgroups::create(path, true);
    for (const auto& d : ward_test::cgroup_dirs(path)) CHECK(fs::is_directory(d));
    Child c = Sandbox({"/bin/sleep", "1000"}).cgroup(cg).spawn();
    // Someone else's now: populated, never taken over, never killed.
    try {
      Cgroups::create(path, true);
      FAIL("a populated cgroup was taken over");
    } catch (const Error& e) {
      CHECK(e.code().value() == EBUSY);
      CHECK_THAT(e.what(), Catch::Contains("already has processes"));
    }
    CHECK(::kill(c.pid(), 0) == 0);
    for (const auto& d : ward_test::cgroup_dirs(path)) CHECK(fs::is_directory(d));
    cg.destroy();
  }
  for (const auto& d : ward_test::cgroup_dirs(path)) CHECK_FALSE(fs::exists(d));
}

TEST_CASE("cgroups: the root cgroup and a missing one are refused naming them") {
  NEED_CGROUPS();
  try {
    Cgroups::create("/");
    FAIL("the root cgroup was accepted");
  } catch (const Error& e) {
    CHECK(e.code().value() == EINVAL);
    CHECK_THAT(e.what(), Catch::Contains("root cgroup"));
  }
  const std::string path = name();
  try {
    Cgroups::adopt(path);
    FAIL("adopt of a missing cgroup succeeded");
  } catch (const Error& e) {
    CHECK(e.code().value() == ENOENT);
    CHECK_THAT(e.what(), Catch::Contains(path));
  }
}

TEST_CASE("cgroups: a leftover whose processes sit in a child cgroup is never taken over") {
  NEED_CGROUPS();
  if (cgroup_host().v1_hierarchies.empty()) WARD_SKIP("no cgroup v1 hierarchy on this host");
  // v1 has no cgroup.events: "populated" must look below the cgroup too,
  // or a config naming someone's parent cgroup (its processes all in
  // children, as systemd's slices are) would be taken over, and later
  // killed and removed as the container's.
  const std::string path = name();
  const std::string top = cgroup_host().v1_hierarchies.back().mount + path;
  REQUIRE(::mkdir(top.c_str(), 0755) == 0);
  REQUIRE(::mkdir((top + "/child").c_str(), 0755) == 0);
  Child c = Sandbox({"/bin/sleep", "1000"}).spawn();
  struct Undo {
    std::string top;
    Child& c;
    ~Undo() {
      c.kill(SIGKILL);
      c.wait();
      ::rmdir((top + "/child").c_str());
      ::rmdir(top.c_str());
    }
  } undo{top, c};
  {
    std::ofstream procs(top + "/child/cgroup.procs");
    procs << c.pid() << "\n";
  }
  REQUIRE(std::ifstream(top + "/child/cgroup.procs").peek() != EOF);
  try {
    Cgroups::create(path, true);
    FAIL("a cgroup with a process in a child was taken over");
  } catch (const Error& e) {
    CHECK(e.code().value() == EBUSY);
  }
  CHECK(::kill(c.pid(), 0) == 0);
  CHECK(fs::is_directory(top + "/child"));
  // The refusal leaves only what was there: the directories that create
  // made in the other hierarchies before it saw the processes are gone.
  // (They were left behind once, one set per run of this test.)
  for (const auto& d : ward_test::cgroup_dirs(path)) CHECK(fs::exists(d) == (d == top));
}

TEST_CASE("cgroups: cgroup2 mounted over the host's hierarchies hides them from ward") {
  NEED_CGROUPS();
  if (cgroup_host().v1_hierarchies.empty()) WARD_SKIP("no cgroup v1 hierarchy on this host");
  // What crun's tests and some sandboxes do: a mount namespace with cgroup2
  // on /sys/fs/cgroup. mountinfo still lists the v1 mounts below it; taken
  // at their word, every create failed with ENOENT opening
  // /sys/fs/cgroup/cpu.
  auto r = ward_test::run_forked([](ward_test::ForkReport& rep) {
    if (::unshare(CLONE_NEWNS) != 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, nullptr) != 0) {
      rep.put("setup", std::strerror(errno));
      return;
    }
    std::string text;
    {
      std::ifstream in("/proc/self/mountinfo");
      text.assign(std::istreambuf_iterator<char>(in), {});
    }
    auto h = cgroup_parse::host_from_mountinfo(text, cgroup_mount_reachable);
    rep.put("mode", std::string(to_string(h.mode)));
    rep.put("unified", h.unified_mount);
    rep.put("v1", static_cast<long>(h.v1_hierarchies.size()));
  });
  REQUIRE(r.kv["setup"].empty());
  CHECK(r.kv["mode"] == "pure_v2");
  CHECK(r.kv["unified"] == "/sys/fs/cgroup");
  CHECK(r.kv["v1"] == "0");
}
