// SPDX-License-Identifier: Apache-2.0
// The `ward` runtime's cgroups on whatever hierarchies the host has (issue
// #14): on this project's hybrid hosts memory, cpu, pids... are cgroup v1
// controllers; in the vm tier everything is v2. Each check reads the
// container's cgroup files from the host, in the hierarchy that holds the
// controller here (ward_test::cgroup_file_of), so the same tests hold on both.
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "cgroup_util.hpp"
#include "runtime_util.hpp"

namespace {

namespace json = ward::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

using ward_test::cgroup_dirs;

#define NEED_CONTROLLER(c)                                  \
  if (ward::cgroup_backend(c) == ward::CgroupBackend::none) \
  WARD_SKIP("this host has no " << c << " controller in any hierarchy")

void set_resources(json::Value& cfg, const std::string& resources_json) {
  cfg.find("linux")->set("resources", json::parse(resources_json));
}

// `sh -c script args...` (args are $0, $1...) in a mount namespace of its
// own whose mounts are made private first, so that what the script mounts
// or unmounts stays there; stdin from /dev/null, stdout and stderr kept.
ward_test::Run sh_in_own_mount_ns(const std::string& script,
                                  const std::vector<std::string>& args = {}) {
  std::vector<std::string> argv = {"/bin/sh", "-c", "mount --make-rprivate / || exit 1\n" + script};
  argv.insert(argv.end(), args.begin(), args.end());
  ward::Sandbox sb(argv);
  sb.unshare(ward::NsKind::mount).stdin_(ward::Stdio::null());
  return ward_test::run_out_err(std::move(sb));
}

}  // namespace

TEST_CASE("runtime cgroups: a memory hog is OOM-killed (137) and events reports the OOM") {
  NEED_RUNTIME(b);
  NEED_CONTROLLER("memory");
  const std::string go = (fs::path(b.rootfs->path) / "go").string();
  // The hog starts when the test says so, after `events` listens.
  b.set({"sh", "-c",
         "while [ ! -e /go ]; do sleep 0.05; done; tail /dev/zero; echo rc=$?; sleep 100"},
        [](json::Value& cfg) {
          set_resources(cfg, R"({"memory": {"limit": 33554432, "swap": 33554432}})");
        });
  const std::string id = b.id("oom");
  REQUIRE(b.cmd({"create", "--bundle", b.dir.path, id}).status == 0);
  REQUIRE(b.cmd({"start", id}).status == 0);
  const pid_t pid = ward::oci::parse_state(b.cmd({"state", id}).out).pid;
  CHECK(
      ward_test::cgroup_file_of(pid, "memory", "memory.limit_in_bytes", "memory.max") ==
      (ward::cgroup_backend("memory") == ward::CgroupBackend::v1 ? "v1:33554432" : "v2:33554432"));
  ward::Sandbox ev({WARD_RUNTIME_BIN, "--root", b.state.path, "events", "--interval", "100ms", id});
  ward::Child events = ev.stdin_(ward::Stdio::null()).stdout_(ward::Stdio::pipe()).spawn();
  std::this_thread::sleep_for(300ms);
  ward_test::write_file(go, "");
  // events prints {"type":"oom"} when the container's OOM kill count grows.
  std::string seen;
  const int fd = events.stdout_pipe().get();
  for (int i = 0; i < 100 && seen.find("\"type\":\"oom\"") == std::string::npos; ++i) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      char buf[4096];
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) seen.append(buf, static_cast<std::size_t>(n));
    }
  }
  INFO(seen);
  CHECK_THAT(seen, Catch::Contains("\"type\":\"oom\""));
  CHECK_THAT(seen, Catch::Contains("\"id\":\"" + id + "\""));
  events.kill(SIGKILL);
  events.wait();
  CHECK(b.cmd({"delete", "-f", id}).status == 0);
  // And a `run` whose init is the hog exits as runc's does: 128 + SIGKILL.
  b.set({"sh", "-c", "tail /dev/zero"}, [](json::Value& cfg) {
    set_resources(cfg, R"({"memory": {"limit": 33554432, "swap": 33554432}})");
  });
  auto r = b.cmd({"run", "--bundle", b.dir.path, b.id("oom-run")});
  INFO(r.err);
  CHECK(r.status == 137);
}

TEST_CASE("runtime cgroups: a pids limit holds a fork loop") {
  NEED_RUNTIME(b);
  NEED_CONTROLLER("pids");
  // Six background sleeps under pids.max 4 (the shell is one of the four):
  // the fourth fork fails, and busybox sh gives up saying so.
  b.set({"sh", "-c", "i=0; while [ $i -lt 6 ]; do sleep 100 & i=$((i+1)); done; echo done"},
        [](json::Value& cfg) { set_resources(cfg, R"({"pids": {"limit": 4}})"); });
  auto r = b.cmd({"run", "--bundle", b.dir.path, b.id("pids")});
  INFO(r.out << r.err);
  CHECK_THAT(r.err, Catch::Contains("can't fork: Resource temporarily unavailable"));
  CHECK(r.out.empty());
  CHECK(r.status == 2);
}

TEST_CASE("runtime cgroups: cpu shares and quota land in the container's cpu cgroup") {
  NEED_RUNTIME(b);
  NEED_CONTROLLER("cpu");
  b.set({"sleep", "100"}, [](json::Value& cfg) {
    set_resources(cfg, R"({"cpu": {"shares": 512, "quota": 20000, "period": 100000}})");
  });
  const std::string id = b.id("cpu");
  auto cr = b.cmd({"create", "--bundle", b.dir.path, id});
  INFO(cr.err);
  REQUIRE(cr.status == 0);
  const pid_t pid = ward::oci::parse_state(b.cmd({"state", id}).out).pid;
  // v2: runc's conversion of 512 shares to cpu.weight (1 + ((512 - 2) *
  // 9999) / 262142 in runc <= 1.1; the quadratic of runc >= 1.3 gives 59).
  const bool v1 = ward::cgroup_backend("cpu") == ward::CgroupBackend::v1;
  auto shares = ward_test::cgroup_file_of(pid, "cpu", "cpu.shares", "cpu.weight");
  if (v1)
    CHECK(shares == "v1:512");
  else
    CHECK(shares.rfind("v2:", 0) == 0);
  CHECK(ward_test::cgroup_file_of(pid, "cpu", "cpu.cfs_quota_us", "cpu.max") ==
        (v1 ? "v1:20000" : "v2:20000 100000"));
  CHECK(b.cmd({"delete", "-f", id}).status == 0);
}

TEST_CASE("runtime cgroups: events --stats reports the container's own cgroups") {
  NEED_RUNTIME(b);
  // Some CPU time, then one process that holds little memory. No limits:
  // on a cgroup-v2 host the memory figures need the memory controller in
  // the container's cgroup all the same (the runtime enables every
  // controller along the path, as runc does). Without that this test
  // failed in the VM tier with "memory": {}.
  b.set({"sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; exec sleep 100"});
  const std::string id = b.id("stats");
  REQUIRE(b.cmd({"create", "--bundle", b.dir.path, id}).status == 0);
  REQUIRE(b.cmd({"start", id}).status == 0);
  const pid_t pid = ward::oci::parse_state(b.cmd({"state", id}).out).pid;
  // Wait for the exec of sleep: the loop is over.
  for (int i = 0; i < 500; ++i) {
    if (ward_test::read_file("/proc/" + std::to_string(pid) + "/comm") == "sleep\n") break;
    std::this_thread::sleep_for(20ms);
  }
  auto r = b.cmd({"events", "--stats", id});
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  auto v = json::parse(r.out);
  const json::Value* data = v.find("data");
  REQUIRE(data != nullptr);
  // Not the runtime's or the host's cgroup (375 MB and 4,038 s of CPU were
  // reported for an idle container when it read those): the container's.
  if (ward::cgroup_backend("memory") != ward::CgroupBackend::none) {
    const json::Value* mem = data->find("memory");
    REQUIRE(mem != nullptr);
    REQUIRE(mem->find("usage") != nullptr);
    const auto usage = mem->find("usage")->find("usage")->as_uint64();
    CHECK(usage > 0);
    CHECK(usage < (64u << 20));
  }
  const json::Value* cpu = data->find("cpu");
  REQUIRE(cpu != nullptr);
  const auto total = cpu->find("usage")->find("total")->as_uint64();
  CHECK(total > 0);
  CHECK(total < 60'000'000'000ull);  // ns: well under a minute
  const json::Value* pids = data->find("pids");
  REQUIRE(pids != nullptr);
  CHECK(pids->find("current")->as_uint64() == 1);
  CHECK(b.cmd({"delete", "-f", id}).status == 0);
}

namespace {

// The words of a cgroup file (cgroup.controllers, cgroup.subtree_control),
// sorted.
std::vector<std::string> cg_words(const std::string& file) {
  std::vector<std::string> out;
  std::istringstream in(ward_test::read_file(file));
  for (std::string w; in >> w;) out.push_back(w);
  std::sort(out.begin(), out.end());
  return out;
}

// A cgroup PATH ("/ward-test-...") made by the test, to be a cgroupsPath's
// parent, optionally with a process of ours in it (its unified cgroup); on
// the way out the container ID is deleted, the process killed, and PATH
// removed in every hierarchy (the runtime leaves a cgroupsPath's parents).
struct TestParent {
  ward_test::Bundle& b;
  std::string id, path;
  std::optional<ward::Child> member;
  TestParent(ward_test::Bundle& bundle, std::string container, const std::string& name)
      : b(bundle), id(std::move(container)), path("/" + name + "-" + std::to_string(::getpid())) {
    REQUIRE(::mkdir((ward::cgroup_host().unified_mount + path).c_str(), 0755) == 0);
  }
  void add_member() {
    const std::string procs = ward::cgroup_host().unified_mount + path + "/cgroup.procs";
    member.emplace(ward::Sandbox({"/bin/sleep", "1000"}).spawn());
    std::ofstream(procs) << member->pid() << "\n";
    REQUIRE_FALSE(ward_test::read_file(procs).empty());
  }
  std::string unified(const std::string& rest = "") const {
    return ward::cgroup_host().unified_mount + path + rest;
  }
  TestParent(const TestParent&) = delete;
  TestParent& operator=(const TestParent&) = delete;
  ~TestParent() {
    b.cmd({"delete", "-f", id});
    if (member) {
      member->kill(SIGKILL);
      member->wait();
    }
    for (const auto& d : cgroup_dirs(path))
      for (int i = 0; i < 100 && ::rmdir(d.c_str()) != 0 && errno != ENOENT; ++i)
        std::this_thread::sleep_for(20ms);
  }
};

}  // namespace

TEST_CASE(
    "runtime cgroups: a container without limits has every controller of the unified hierarchy") {
  NEED_RUNTIME(b);
  if (ward::cgroup_mode() != ward::CgroupMode::pure_v2)
    WARD_SKIP("not a cgroup-v2-only host (mode " << ward::to_string(ward::cgroup_mode()) << ")");
  const std::string mount = ward::cgroup_host().unified_mount;
  const auto offered = cg_words(mount + "/cgroup.controllers");
  if (offered.empty()) WARD_SKIP(mount << " offers no controller");
  // runc (fs2.CreateCgroupPath, for both its drivers) and crun enable every
  // controller the root offers in each parent of the container's cgroup;
  // ward enabled only what a limit needed, so a container without limits
  // had no memory, pids or io files at all on a cgroup-v2 host.
  b.set({"sleep", "100"});
  const std::string id = b.id("all-ctl");
  REQUIRE(b.cmd({"create", "--bundle", b.dir.path, id}).status == 0);
  CHECK(cg_words(mount + "/ward/" + id + "/cgroup.controllers") == offered);
  CHECK(b.cmd({"delete", "-f", id}).status == 0);

  // What a parent refuses is skipped, not an error: here a cgroupsPath
  // below a cgroup with a process in it (the "No Internal Process
  // Constraint" refuses its children every domain controller).
  TestParent parent(b, b.id("all-ctl-inner"), "ward-test-all-ctl");
  parent.add_member();
  b.set({"sleep", "100"},
        [&](json::Value& cfg) { cfg.find("linux")->set("cgroupsPath", parent.path + "/ctr"); });
  auto r = b.cmd({"create", "--bundle", b.dir.path, parent.id});
  INFO(r.err);
  REQUIRE(r.status == 0);
  // None there: not even the threaded ones (cpu, cpuset, pids), which the
  // kernel would take, since they would turn the parent into a thread root
  // and the container's cgroup "domain invalid". The create above then
  // failed in the VM tier (clone3 child: EOPNOTSUPP).
  CHECK(cg_words(parent.unified("/ctr/cgroup.controllers")).empty());
  CHECK(ward_test::read_file(parent.unified("/ctr/cgroup.type")) == "domain\n");
  CHECK(b.cmd({"delete", "-f", parent.id}).status == 0);
}

TEST_CASE(
    "runtime cgroups: a threaded limit below a cgroupsPath parent with processes is refused and "
    "the parent left as it was") {
  NEED_RUNTIME(b);
  if (ward::cgroup_backend("pids") != ward::CgroupBackend::v2)
    WARD_SKIP("the pids controller is not in this host's unified hierarchy");
  // pids is a threaded controller: the kernel lets a cgroup with processes
  // enable it for its children, and that makes it a thread root, under
  // which the container's cgroup is "domain invalid": the create failed at
  // clone3 with a bare EOPNOTSUPP, and the parent kept "+pids". Refused
  // now, naming the field, the parent and its process, before any write.
  TestParent parent(b, b.id("thr-limit"), "ward-test-thr-limit");
  parent.add_member();
  b.set({"sleep", "100"}, [&](json::Value& cfg) {
    cfg.find("linux")->set("cgroupsPath", parent.path + "/ctr");
    set_resources(cfg, R"({"pids": {"limit": 100}})");
  });
  auto r = b.cmd({"create", "--bundle", b.dir.path, parent.id});
  INFO(r.err);
  CHECK(r.status == 1);
  CHECK_THAT(r.err, Catch::Contains("linux.resources.pids.limit") &&
                        Catch::Contains(parent.unified("/cgroup.subtree_control")) &&
                        Catch::Contains("EBUSY") &&
                        Catch::Contains("pid " + std::to_string(parent.member->pid())));
  CHECK(cg_words(parent.unified("/cgroup.subtree_control")).empty());
  CHECK(ward_test::read_file(parent.unified("/cgroup.type")) == "domain\n");
  CHECK_FALSE(fs::exists(parent.unified("/ctr")));
  CHECK(fs::is_empty(b.state.path));
}

TEST_CASE("runtime cgroups: on a hybrid host the unified hierarchy's controllers are left alone") {
  NEED_RUNTIME(b);
  if (ward::cgroup_mode() != ward::CgroupMode::hybrid)
    WARD_SKIP("not a hybrid host (mode " << ward::to_string(ward::cgroup_mode()) << ")");
  const std::string mount = ward::cgroup_host().unified_mount;
  if (cg_words(mount + "/cgroup.controllers").empty())
    WARD_SKIP(mount << " offers no controller: nothing to leave alone");
  // runc's v1 manager and crun write no cgroup.subtree_control on a hybrid
  // host; a controller in use below the unified root cannot be mounted as
  // a v1 hierarchy any more (EBUSY). ward enabled hugetlb along the path.
  TestParent parent(b, b.id("hybrid"), "ward-test-hybrid");
  b.set({"sleep", "100"},
        [&](json::Value& cfg) { cfg.find("linux")->set("cgroupsPath", parent.path + "/ctr"); });
  auto r = b.cmd({"create", "--bundle", b.dir.path, parent.id});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(fs::is_directory(parent.unified("/ctr")));
  CHECK(cg_words(parent.unified("/cgroup.subtree_control")).empty());
  CHECK(b.cmd({"delete", "-f", parent.id}).status == 0);
}

TEST_CASE("runtime cgroups: exec joins every hierarchy and delete leaves no directory in any") {
  NEED_RUNTIME(b);
  if (ward::cgroup_mode() == ward::CgroupMode::none) WARD_SKIP("no cgroup hierarchy");
  b.set({"sleep", "100"});
  const std::string id = b.id("dirs");
  REQUIRE(b.cmd({"create", "--bundle", b.dir.path, id}).status == 0);
  const std::string path = "/ward/" + id;
  for (const auto& d : cgroup_dirs(path)) CHECK(fs::is_directory(d));
  REQUIRE(b.cmd({"start", id}).status == 0);
  // An exec'd process joins the container's cgroup in every hierarchy (the
  // default spec has no cgroup namespace: the host's paths show). One left
  // in the runtime's v1 cgroups would show those instead.
  auto ex = b.cmd({"exec", id, "cat", "/proc/self/cgroup"});
  INFO(ex.out << ex.err);
  REQUIRE(ex.status == 0);
  std::size_t in_container = 0;
  for (std::size_t p = 0; p < ex.out.size();) {
    auto e = ex.out.find('\n', p);
    std::string l = ex.out.substr(p, e - p);
    if (l.size() > path.size() &&
        l.compare(l.size() - path.size() - 1, std::string::npos, ":" + path) == 0)
      ++in_container;
    p = e == std::string::npos ? ex.out.size() : e + 1;
  }
  CHECK(in_container == ward::cgroup_host().v1_hierarchies.size() +
                            (ward::cgroup_host().unified_mount.empty() ? 0 : 1));
  REQUIRE(b.cmd({"pause", id}).status == 0);
  CHECK(ward::oci::parse_state(b.cmd({"state", id}).out).status == ward::oci::Status::paused);
  REQUIRE(b.cmd({"resume", id}).status == 0);
  CHECK(b.cmd({"delete", "-f", id}).status == 0);
  for (const auto& d : cgroup_dirs(path)) CHECK_FALSE(fs::exists(d));
}

TEST_CASE(
    "runtime cgroups: delete --force kills a process another v1 freezer cgroup holds frozen") {
  NEED_RUNTIME(b);
  const auto* fz = ward::cgroup_host().v1_hierarchy("freezer");
  if (fz == nullptr) WARD_SKIP("this host has no cgroup v1 freezer hierarchy");
  // crun's test_simple_delete: somebody moves the container's init into a
  // freezer cgroup of their own and freezes it. A frozen task acts on no
  // signal, SIGKILL included: the delete waited 10 s for the init, then 10 s
  // for the cgroup to empty, and failed (ETIMEDOUT), the process and the
  // container's cgroups left behind.
  b.set({"sleep", "1000"});
  const std::string id = b.id("frozen");
  REQUIRE(b.cmd({"run", "-d", "--bundle", b.dir.path, id}).status == 0);
  const pid_t pid = ward::oci::parse_state(b.cmd({"state", id}).out).pid;
  REQUIRE(pid > 0);
  ward::UniqueFd pfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  REQUIRE(pfd);
  const std::string other = fz->mount + "/ward-test-frozen-" + std::to_string(::getpid());
  REQUIRE(::mkdir(other.c_str(), 0755) == 0);
  struct Thaw {  // whatever happens, nothing stays frozen and the cgroup goes
    std::string dir;
    ~Thaw() {
      std::ofstream(dir + "/freezer.state") << "THAWED";
      for (int i = 0; i < 100 && ::rmdir(dir.c_str()) != 0; ++i) std::this_thread::sleep_for(20ms);
    }
  } thaw{other};
  std::ofstream(other + "/cgroup.procs") << pid;
  std::ofstream(other + "/freezer.state") << "FROZEN";
  auto state = [&] { return ward_test::read_file(other + "/freezer.state"); };
  for (int i = 0; i < 100 && state() != "FROZEN\n"; ++i) std::this_thread::sleep_for(20ms);
  REQUIRE(state() == "FROZEN\n");

  auto d = b.cmd({"delete", "-f", id});
  INFO(d.err);
  CHECK(d.status == 0);
  // The init is dead (its pidfd reads as ended), nothing of the container
  // is left, and the other freezer cgroup is still frozen, now empty.
  pollfd p{pfd.get(), POLLIN, 0};
  CHECK(::poll(&p, 1, 5000) == 1);
  for (const auto& dir : cgroup_dirs("/ward/" + id)) CHECK_FALSE(fs::exists(dir));
  CHECK_FALSE(fs::exists(fs::path(b.state.path) / id));
  CHECK(state() == "FROZEN\n");
  CHECK(ward_test::read_file(other + "/cgroup.procs").empty());
}

TEST_CASE("runtime cgroups: a create the kernel refuses leaves no directory in any hierarchy") {
  NEED_RUNTIME(b);
  NEED_CONTROLLER("cpu");
  // A value the kernel refuses (a CFS quota below 1 ms: sched-bwc.rst), in
  // whichever hierarchy holds cpu: the error names the field, and nothing
  // is left in any hierarchy.
  b.set({"sleep", "100"}, [](json::Value& cfg) {
    set_resources(cfg, R"({"cpu": {"quota": 500, "period": 100000}})");
  });
  const std::string bad = b.id("dirs-bad");
  auto r = b.cmd({"create", "--bundle", b.dir.path, bad});
  INFO(r.err);
  CHECK(r.status == 1);
  CHECK_THAT(r.err, Catch::Contains("linux.resources.cpu"));
  CHECK_THAT(r.err, Catch::Contains("EINVAL"));
  for (const auto& d : cgroup_dirs("/ward/" + bad)) CHECK_FALSE(fs::exists(d));
  CHECK(fs::is_empty(b.state.path));
}

TEST_CASE("runtime cgroups: ward's default parent cgroup goes with the last container in it") {
  NEED_RUNTIME(b);
  if (cgroup_dirs("/").empty()) WARD_SKIP("this host mounts no cgroup hierarchy");
  // Without a cgroupsPath a container's cgroup is /ward/ID. A create and a
  // delete are two processes, so the parent /ward that the first create
  // made was left behind by every delete, in every hierarchy.
  b.set({"sleep", "100"});
  const std::string one = b.id("parent-a"), two = b.id("parent-b");
  REQUIRE(b.cmd({"create", "--bundle", b.dir.path, one}).status == 0);
  REQUIRE(b.cmd({"create", "--bundle", b.dir.path, two}).status == 0);
  const auto parents = cgroup_dirs("/ward");
  for (const auto& d : parents) CHECK(fs::is_directory(d));
  REQUIRE(b.cmd({"delete", "-f", one}).status == 0);
  // The second container is in it: it stays.
  for (const auto& d : cgroup_dirs("/ward/" + two)) CHECK(fs::is_directory(d));
  REQUIRE(b.cmd({"delete", "-f", two}).status == 0);
  // Gone, or (ctest runs tests side by side) holding another test's
  // container at that moment; never left empty.
  auto has_child = [](const std::string& d) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(d, ec))
      if (e.is_directory(ec)) return true;
    return false;
  };
  auto never_left_empty = [&] {
    for (const auto& d : parents) {
      bool ok = false;
      for (int i = 0; i < 200 && !ok; ++i) {
        ok = !fs::exists(d) || has_child(d);
        if (!ok) std::this_thread::sleep_for(10ms);
      }
      INFO(d);
      CHECK(ok);
    }
  };
  never_left_empty();
  // A foreground run that ends last removes it too: a delete while it runs
  // cannot (the run's cgroup is in it), and the run only removed a parent
  // it had made itself.
  const std::string three = b.id("parent-c"), fg = b.id("parent-fg");
  REQUIRE(b.cmd({"create", "--bundle", b.dir.path, three}).status == 0);
  ward::Child run = b.run_in_background(fg);
  REQUIRE(b.cmd({"delete", "-f", three}).status == 0);
  for (const auto& d : parents) CHECK(fs::is_directory(d));
  REQUIRE(b.cmd({"kill", fg, "KILL"}).status == 0);
  run.wait();
  never_left_empty();
}

TEST_CASE(
    "runtime cgroups: a cgroupsPath busy in one hierarchy is refused and nothing is made in "
    "the others") {
  NEED_RUNTIME(b);
  if (ward::cgroup_host().v1_hierarchies.empty()) WARD_SKIP("no cgroup v1 hierarchy on this host");
  // A config naming a cgroup that exists in one hierarchy only, with
  // someone's process in it (what a crash of another manager leaves, or a
  // hostile config aimed at it). create refuses it (EBUSY), the process
  // lives on, and the cgroups it had made in every other hierarchy before
  // it saw the process are removed: they were left behind, one set per
  // attempt.
  const std::string path = "/ward-test-busy-" + std::to_string(::getpid());
  const std::string top = ward::cgroup_host().v1_hierarchies.back().mount + path;
  REQUIRE(::mkdir(top.c_str(), 0755) == 0);
  ward::Child c = ward::Sandbox({"/bin/sleep", "1000"}).spawn();
  struct Undo {
    std::string top;
    ward::Child& c;
    ~Undo() {
      c.kill(SIGKILL);
      c.wait();
      for (int i = 0; i < 100 && ::rmdir(top.c_str()) != 0; ++i) std::this_thread::sleep_for(20ms);
    }
  } undo{top, c};
  std::ofstream(top + "/cgroup.procs") << c.pid() << "\n";
  REQUIRE_FALSE(ward_test::read_file(top + "/cgroup.procs").empty());
  b.set({"true"}, [&](json::Value& cfg) { cfg.find("linux")->set("cgroupsPath", path); });
  const std::string id = b.id("busy");
  auto r = b.cmd({"create", "--bundle", b.dir.path, id});
  INFO(r.err);
  CHECK(r.status == 1);
  CHECK_THAT(r.err, Catch::Contains(path) && Catch::Contains("already has processes"));
  CHECK(::kill(c.pid(), 0) == 0);
  for (const auto& d : cgroup_dirs(path)) CHECK(fs::exists(d) == (d == top));
  CHECK(fs::is_empty(b.state.path));
}

TEST_CASE(
    "runtime cgroups: a mount namespace with cgroup2 over the host's hierarchies still runs") {
  NEED_RUNTIME(b);
  if (ward::cgroup_host().v1_hierarchies.empty() || ward::cgroup_host().unified_mount.empty())
    WARD_SKIP("not a hybrid host");
  // crun's test suite runs runtimes like this: /proc/self/mountinfo still
  // lists the hidden v1 mounts, and a runtime that believed it failed every
  // create (ENOENT opening /sys/fs/cgroup/cpu).
  b.set({"echo", "ran"});
  auto r = sh_in_own_mount_ns(
      "mount -t cgroup2 cgroup2 /sys/fs/cgroup && "
      "exec \"$0\" --root \"$1\" run --bundle \"$2\" \"$3\"",
      {WARD_RUNTIME_BIN, b.state.path, b.dir.path, b.id("cg2ns")});
  INFO(r.err);
  CHECK(r.status.shell_status() == 0);
  CHECK(r.out == "ran\n");
}

TEST_CASE("runtime cgroups: on a v1-only view of the host every command works") {
  NEED_RUNTIME(b);
  if (ward::cgroup_host().v1_hierarchies.empty() || ward::cgroup_host().unified_mount.empty())
    WARD_SKIP("not a hybrid host (the v1-only view is made by unmounting its cgroup2 mount)");
  // RHEL 8's layout: no cgroup2 at all. Made here by unmounting the unified
  // hierarchy in a mount namespace of the test's own; the runtime then has
  // only v1 hierarchies: membership, freeze (the v1 freezer) and kill (its
  // signalling loop) go through them.
  b.set({"sleep", "100"}, [](json::Value& cfg) {
    set_resources(cfg, R"({"memory": {"limit": 67108864}, "pids": {"limit": 50}})");
  });
  const std::string id = b.id("v1only");
  const std::string w = std::string(WARD_RUNTIME_BIN) + " --root '" + b.state.path + "' ";
  const std::string mem = ward::cgroup_host().v1_hierarchy("memory")->mount + "/ward/" + id;
  const std::string frz = ward::cgroup_host().v1_hierarchy("freezer")
                              ? ward::cgroup_host().v1_hierarchy("freezer")->mount + "/ward/" + id
                              : "";
  std::string script = "set -e; umount '" + ward::cgroup_host().unified_mount + "'; " + w +
                       "create --bundle '" + b.dir.path + "' " + id + "; " + w + "start " + id +
                       "; echo limit=$(cat '" + mem + "/memory.limit_in_bytes'); " + w + "pause " +
                       id + "; " + w + "state " + id + " | grep -q '\"paused\"' && echo paused; ";
  if (!frz.empty()) script += "echo freezer=$(cat '" + frz + "/freezer.state'); ";
  script += w + "resume " + id + "; " + w + "exec " + id + " sh -c 'sleep 50 &'; echo procs=$(" +
            w + "ps --format json " + id + "); " + w + "kill --all " + id + " KILL; " + w +
            "delete -f " + id + "; ls -d /sys/fs/cgroup/*/ward/" + id + " 2>/dev/null | wc -l";
  auto r = sh_in_own_mount_ns(script);
  INFO(r.out << r.err);
  CHECK(r.status.shell_status() == 0);
  CHECK_THAT(r.out, Catch::Contains("limit=67108864\n"));
  CHECK_THAT(r.out, Catch::Contains("paused\n"));
  if (!frz.empty()) CHECK_THAT(r.out, Catch::Contains("freezer=FROZEN\n"));
  // The init and the exec'd shell's sleep: two members.
  CHECK_THAT(r.out, Catch::Matches("(.|\n)*procs=\\[[0-9]+,[0-9]+\\]\n(.|\n)*"));
  // Nothing left in any hierarchy.
  CHECK_THAT(r.out, Catch::EndsWith("\n0\n"));
}
