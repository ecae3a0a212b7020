// SPDX-License-Identifier: Apache-2.0
// Attacks on the runtime's state store (issue 11, items 3, 6 and 9): ids
// that climb out of --root, entries and temporary files planted in it, who
// may read the state, and a runtime killed at any point of its work.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "runtime_util.hpp"

namespace {

namespace fs = std::filesystem;
using ward_test::Bundle;
using ward_test::Out;
using ward_test::ward_cmd;
}  // namespace
using ward_test::ScratchDir;
namespace {

bool exists_nofollow(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

// A directory with one file in it, and the check that both are intact.
struct CanaryDir {
  std::string dir;
  explicit CanaryDir(std::string d) : dir(std::move(d)) {
    fs::create_directories(dir);
    ward_test::write_file(dir + "/precious", "precious\n");
  }
  bool intact() const {
    return fs::is_directory(dir) && exists_nofollow(dir + "/precious") &&
           ward_test::read_file(dir + "/precious") == "precious\n";
  }
};

}  // namespace

TEST_CASE("state: ids that climb out of --root are refused by every command") {
  NEED_RUNTIME(b);
  b.set({"true"});
  // The root two levels down in a scratch dir, so that "..", "../x" and
  // "a/../../x" (and what an unchecked recursive removal of them would do)
  // stay inside the scratch dir.
  ScratchDir top("state-ids");
  const std::string root = top / "r1/r2";
  fs::create_directories(root + "/a");  // so that "a/../../canary" resolves
  CanaryDir canary(top / "r1/canary");
  CanaryDir in_root(root + "/keep");  // what "." would name
  std::vector<std::string> ids = {"../canary", "a/../../canary",      ".",   "..",   "./keep",
                                  ".keep",     std::string(300, 'a'), "a:b", "a\nb", ""};
  std::vector<std::vector<std::string>> cmds = {{"delete", "-f"},
                                                {"delete", "--force"},
                                                {"delete"},
                                                {"kill"},
                                                {"state"},
                                                {"start"},
                                                {"pause"},
                                                {"resume"},
                                                {"ps"},
                                                {"events", "--stats"},
                                                {"update"},
                                                {"exec"},
                                                {"create", "--bundle", b.dir.path},
                                                {"run", "--bundle", b.dir.path}};
  for (auto& id : ids) {
    for (auto cmd : cmds) {
      cmd.insert(cmd.begin(), {"--root", root});
      cmd.push_back(id);
      if (cmd[2] == "exec") cmd.push_back("true");
      if (cmd[2] == "kill") cmd.push_back("KILL");
      Out r = ward_cmd(cmd);
      INFO(cmd[2] << " '" << id << "': status " << r.status << ", stderr: " << r.err);
      CHECK(r.status != 0);
      if (!id.empty()) CHECK_THAT(r.err, Catch::Contains("invalid id format"));
      REQUIRE(canary.intact());
      REQUIRE(in_root.intact());
      REQUIRE(fs::is_directory(root + "/a"));
    }
  }
}

TEST_CASE(
    "state: delete of an id whose entry in --root is a planted symlink removes only the link") {
  NEED_RUNTIME(b);
  ScratchDir top("state-link");
  const std::string root = top / "root";
  fs::create_directories(root);
  // The canary looks like a container's state directory: a valid record
  // (what an older ward, reading through the link, would have deleted).
  CanaryDir canary(top / "canary");
  ward::oci::State st;
  st.id = "evil";
  st.status = ward::oci::Status::stopped;
  st.bundle = b.dir.path;
  ward_test::write_file(canary.dir + "/state.json", ward::oci::to_json(st));
  ward_test::write_file(canary.dir + "/runtime.json", "{\"starttime\":0,\"cgroup\":\"\"}");
  fs::create_directory_symlink(canary.dir, root + "/evil");
  for (std::vector<std::string> cmd :
       {std::vector<std::string>{"state", "evil"}, {"kill", "evil", "KILL"}, {"start", "evil"}}) {
    cmd.insert(cmd.begin(), {"--root", root});
    Out r = ward_cmd(cmd);
    INFO(cmd[2] << ": " << r.err);
    CHECK(r.status != 0);
    CHECK_THAT(r.err, Catch::Contains("container does not exist"));
  }
  Out l = ward_cmd({"--root", root, "list", "-q"});
  CHECK(l.out.find("evil") == std::string::npos);
  Out d = ward_cmd({"--root", root, "delete", "--force", "evil"});
  INFO("delete --force: " << d.status << " " << d.err);
  CHECK(canary.intact());
  CHECK(exists_nofollow(canary.dir + "/state.json"));
  CHECK(exists_nofollow(canary.dir + "/runtime.json"));
  // The link itself may go (it is an entry of --root), never its target.
  CHECK(d.status == 0);
  CHECK(!exists_nofollow(root + "/evil"));
}

TEST_CASE("state: --pid-file follows no planted temporary or final symlink") {
  NEED_RUNTIME(b);
  b.set({"sleep", "100"});
  ScratchDir top("state-pid");
  CanaryDir canary(top / "canary");
  const std::string victim = canary.dir + "/precious";
  // Every name the old code (PATH.tmp) or a careless one would write
  // through, planted as a symlink to the canary.
  for (const char* n : {"pid.tmp", ".pid.tmp", "pid~", "pid.new"})
    fs::create_symlink(victim, top / n);
  auto r = b.cmd({"create", "--bundle", b.dir.path, "--pid-file", top / "pid", b.id("pid")});
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(canary.intact());
  if (r.status == 0) {
    CHECK(!fs::is_symlink(top / "pid"));
    CHECK(ward_test::read_file(top / "pid") ==
          std::to_string(ward::oci::parse_state(b.cmd({"state", b.id("pid")}).out).pid));
  }
  CHECK(b.cmd({"delete", "--force", b.id("pid")}).status == 0);
  // The final name a symlink: replaced, not followed.
  fs::create_symlink(victim, top / "pid2");
  r = b.cmd({"create", "--bundle", b.dir.path, "--pid-file", top / "pid2", b.id("pid")});
  CHECK(r.status == 0);
  CHECK(canary.intact());
  CHECK(b.cmd({"delete", "--force", b.id("pid")}).status == 0);
}

TEST_CASE("state: the state store is readable by root only") {
  NEED_RUNTIME(b);
  b.set({"sleep", "100"});
  ScratchDir top("state-mode");
  const std::string root = top / "run/ward";  // ward makes it
  fs::create_directories(top / "run");
  const std::string id = Bundle::id("mode");
  auto r = ward_cmd({"--root", root, "create", "--bundle", b.dir.path, id});
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto mode = [](const std::string& p) {
    struct stat st;
    REQUIRE(::lstat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
  };
  CHECK(mode(root) == 0700);
  CHECK(mode(root + "/" + id) == 0700);
  for (auto& e : fs::directory_iterator(root + "/" + id)) {
    INFO(e.path());
    CHECK((mode(e.path()) & 0077) == 0);
  }
  CHECK(ward_cmd({"--root", root, "delete", "--force", id}).status == 0);
  CHECK(fs::is_empty(root));
}

// ---------------------------------------------------------------- crashes

namespace {

std::optional<std::uint64_t> proc_start(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto rp = s.rfind(')');
  if (rp == std::string::npos) return std::nullopt;
  std::vector<std::string> fields;
  std::string cur;
  for (char ch : s.substr(rp + 2)) {
    if (ch == ' ' || ch == '\n') {
      fields.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  if (fields.size() < 20 || fields[0] == "Z") return std::nullopt;
  return std::stoull(fields[19]);  // field 22
}

// Live processes whose cgroup (v2) is `cg` or below it, from /proc.
std::map<pid_t, std::uint64_t> procs_in_cgroup(const std::string& cg) {
  std::map<pid_t, std::uint64_t> out;
  for (auto& e : fs::directory_iterator("/proc")) {
    const std::string n = e.path().filename();
    if (n.empty() || !std::all_of(n.begin(), n.end(), ::isdigit)) continue;
    std::ifstream f(e.path() / "cgroup");
    std::string line;
    while (std::getline(f, line)) {
      if (line.rfind("0::", 0) != 0) continue;
      std::string p = line.substr(3);
      if (p == cg || p.rfind(cg + "/", 0) == 0) {
        pid_t pid = std::stoi(n);
        if (auto st = proc_start(pid)) out[pid] = *st;
      }
    }
  }
  return out;
}

// The lines of our mount table that mention one of `paths`.
std::multiset<std::string> mounts_of(const std::vector<std::string>& paths) {
  std::multiset<std::string> out;
  std::ifstream f("/proc/self/mountinfo");
  std::string line;
  while (std::getline(f, line))
    for (auto& p : paths)
      if (line.find(p) != std::string::npos) {
        // Without the mount id and parent id (fields 1 and 2).
        auto sp = line.find(' ', line.find(' ') + 1);
        out.insert(line.substr(sp + 1));
        break;
      }
  return out;
}

}  // namespace

// `ward create`, `run -d`, `run`, `exec` and `delete` killed (SIGKILL) at a
// random moment of their work: whatever is left, `list` shows the
// container, and `delete --force` exits 0 and leaves no state directory,
// no cgroup, no live process of the container and no mount.
TEST_CASE(
    "crash: a runtime killed at any point leaves nothing delete --force cannot "
    "remove") {
  NEED_RUNTIME(b);
  if (ward::cgroup_mode() == ward::CgroupMode::none) WARD_SKIP("no cgroup v2 hierarchy");
  b.set({"sleep", "1000"});
  const std::string unified = ward::cgroup_host().unified_mount;
  const std::vector<std::string> kinds = {"create", "run -d", "run", "exec", "delete"};
  int per_kind = 40;  // 200 kills in all
  if (const char* n = std::getenv("WARD_CRASH_ITERATIONS")) per_kind = std::max(1, std::atoi(n));
  std::mt19937 rng(
      static_cast<unsigned>(::getpid()) ^
      static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
  const std::vector<std::string> our_paths = {b.dir.path, b.state.path, b.rootfs->path};

  auto argv_for = [&](const std::string& kind, const std::string& id) {
    std::vector<std::string> a = {WARD_RUNTIME_BIN, "--root", b.state.path};
    if (kind == "create") a.insert(a.end(), {"create", "--bundle", b.dir.path, id});
    if (kind == "run -d") a.insert(a.end(), {"run", "-d", "--bundle", b.dir.path, id});
    if (kind == "run") a.insert(a.end(), {"run", "--bundle", b.dir.path, id});
    if (kind == "exec") a.insert(a.end(), {"exec", "-d", id, "sleep", "1000"});
    if (kind == "delete") a.insert(a.end(), {"delete", "--force", id});
    return a;
  };
  auto spawn = [](const std::vector<std::string>& argv) {
    ward::Sandbox sb(argv);
    sb.stdin_(ward::Stdio::null())
        .stdout_(ward::Stdio::null())
        .stderr_(ward::Stdio::null())
        .spawn_mode(ward::SpawnMode::fork);
    return sb.spawn();
  };
  auto setup = [&](const std::string& kind, const std::string& id) {
    if (kind != "exec" && kind != "delete") return;
    REQUIRE(b.cmd({"create", "--bundle", b.dir.path, id}).status == 0);
    if (kind == "exec") REQUIRE(b.cmd({"start", id}).status == 0);
  };

  // How long each command works when nobody kills it: the kills land
  // uniformly in [0, 1.2 x that]. A foreground run never ends: its work is
  // that of run -d.
  std::map<std::string, double> work_ms;
  for (auto& kind : kinds) {
    if (kind == "run") continue;
    std::vector<double> t;
    for (int i = 0; i < 5; ++i) {
      const std::string id = Bundle::id("crash-m");
      setup(kind, id);
      auto t0 = std::chrono::steady_clock::now();
      ward::Child c = spawn(argv_for(kind, id));
      auto es = c.wait();
      t.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      CHECK(es.success());
      b.cmd({"delete", "--force", id});
    }
    // The fastest: a kill after it would mostly land after the end.
    work_ms[kind] = *std::min_element(t.begin(), t.end());
  }
  work_ms["run"] = work_ms["run -d"];

  // Where each kill landed, judged by what it left.
  std::map<std::string, std::map<std::string, int>> landed;
  int total = 0;
  for (int iter = 0; iter < per_kind; ++iter) {
    for (auto& kind : kinds) {
      const std::string id = Bundle::id("crash");
      const std::string dir = b.state / id;
      const std::string cg = "/ward/" + id;
      const auto mounts_before = mounts_of(our_paths);
      setup(kind, id);
      std::uniform_real_distribution<double> delay(0, 1.2 * work_ms[kind]);
      const double d = delay(rng);
      ward::Child c = spawn(argv_for(kind, id));
      std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(d));
      c.kill(SIGKILL);
      auto es = c.wait();
      ++total;

      const bool has_dir = exists_nofollow(dir);
      const bool has_record = exists_nofollow(dir + "/state.json");
      const bool has_cg = fs::exists(unified + cg);
      const auto procs = procs_in_cgroup(cg);
      std::string where;
      if (!es.signaled())
        where = "finished first";
      else if (!has_dir && !has_cg && procs.empty())
        where = "nothing left";
      else if (!has_record)
        where = has_cg ? "no record, cgroup" : "dir without record";
      else if (!has_cg)
        where = "record, no cgroup";
      else if (procs.empty())
        where = "record + empty cgroup";
      else
        where = "record + cgroup + " + std::to_string(procs.size()) + " process(es)";
      landed[kind][where]++;
      INFO(kind << " killed after " << d << " ms (" << where << ")");

      const bool anything = has_dir || has_cg || !procs.empty();
      if (anything) {
        auto l = b.cmd({"list", "-q"});
        CHECK(l.out.find(id + "\n") != std::string::npos);
      }
      auto del = b.cmd({"delete", "--force", id});
      INFO("delete --force: " << del.err);
      CHECK(del.status == 0);
      CHECK(!exists_nofollow(dir));
      CHECK(!fs::exists(unified + cg));
      for (auto [pid, st] : procs) {
        auto now = proc_start(pid);
        CHECK(!(now && *now == st));
      }
      CHECK(procs_in_cgroup(cg).empty());
      CHECK(mounts_of(our_paths) == mounts_before);
      if (del.status != 0) b.cmd({"delete", "--force", id});
    }
  }
  std::printf("crash test: %d kills; work measured (fastest of 5, ms):", total);
  for (auto& [k, v] : work_ms) std::printf(" %s %.1f;", k.c_str(), v);
  std::printf("\n");
  for (auto& [kind, m] : landed) {
    std::printf("  %-7s", kind.c_str());
    for (auto& [where, n] : m) std::printf(" | %s: %d", where.c_str(), n);
    std::printf("\n");
  }
  std::fflush(stdout);
  CHECK(total >= 200);
}

// A hostile config names someone else's cgroup (cgroupsPath: any path of
// the hierarchy, /system.slice included) and the runtime is killed after
// its first record and before it has made or checked that cgroup. The
// engine cleans up with kill --all and delete --force. Those must never
// kill or remove a cgroup ward did not make or find empty: the victim's
// process lives on. (Found by review: the first record named the config's
// cgroup, and delete --force killed everything in it.) The runtime is held
// at that point by a seccomp user-notification filter on its mkdir calls:
// the call that would make (or find) the victim's cgroup is never answered,
// and the runtime is killed there. (A network namespace "path" that is a
// FIFO once held it there, until Namespace::open stopped opening FIFOs.)
TEST_CASE("state: a hostile cgroupsPath never makes kill --all or delete --force act on it") {
  NEED_RUNTIME(b);
  if (ward::cgroup_mode() == ward::CgroupMode::none) WARD_SKIP("no cgroup v2 hierarchy");
  const std::string victim_name = "ward-victim-" + std::to_string(::getpid());
  ward::CgroupV2 victim = ward::CgroupV2::create(victim_name, "/");
  ward::Child sleeper = ward::Sandbox({"sleep", "1000"}).cgroup(victim).spawn();
  b.set({"true"}, [&](ward_test::json::Value& cfg) {
    cfg.find("linux")->set("cgroupsPath", "/" + victim_name);
  });
  const std::string id = Bundle::id("cgpath");
  ward::SeccompFilter hold(ward::SeccompAction::allow());
  hold.rule(ward::SeccompAction::user_notif(), "mkdir");
  hold.rule(ward::SeccompAction::user_notif(), "mkdirat");
  ward::Child creator = ward::Sandbox({WARD_RUNTIME_BIN, "--root", b.state.path, "create",
                                       "--bundle", b.dir.path, id})
                            .stdin_(ward::Stdio::null())
                            .seccomp(hold)
                            .spawn();
  ward::SeccompListener listener(std::move(creator.seccomp_listener()));
  bool held = false;
  while (!held) {
    auto n = listener.receive(std::chrono::seconds(20));
    REQUIRE(n.has_value());  // the runtime made the victim's cgroup without a mkdir?
    const std::uint64_t path_arg = n->nr() == SYS_mkdir ? n->arg(0) : n->arg(1);
    const std::string path = listener.read_string(*n, path_arg);
    if (path.find(victim_name) != std::string::npos)
      held = true;  // left unanswered: the runtime dies in this call
    else
      listener.respond_continue(*n);  // its state directory, ...
  }
  // The dangerous moment: the record exists and names the victim's cgroup.
  const std::string record = b.state.path + "/" + id + "/state.json";
  REQUIRE(::access(record.c_str(), F_OK) == 0);
  CHECK_THAT(ward_test::read_file(record), Catch::Contains(victim_name));
  creator.kill(SIGKILL);
  creator.wait();
  INFO("record: " << ward_test::read_file(record));
  auto k = b.cmd({"kill", "--all", id, "KILL"});
  INFO("kill --all: " << k.status << " " << k.err);
  auto d = b.cmd({"delete", "--force", id});
  INFO("delete --force: " << d.status << " " << d.err);
  CHECK(d.status == 0);
  CHECK_FALSE(sleeper.try_wait().has_value());  // alive: nothing was killed
  CHECK(fs::exists(ward::cgroup_host().unified_mount + "/" + victim_name));
  CHECK_FALSE(victim.events().frozen);
  sleeper.kill(SIGKILL);
  sleeper.wait();
  victim.destroy();
}
