// SPDX-License-Identifier: Apache-2.0
// Rootless `ward`, as runc runs rootless: `ward spec --rootless` and `ward
// run` as uid 65534 with a fresh XDG_RUNTIME_DIR, no cgroup delegated (the
// container runs without one, or fails naming the limit it asked for) or a
// delegated unified subtree, id maps through newuidmap/newgidmap, and the
// state directory's defences against another user's plants. Root sets the
// scene (a delegated cgroup, /etc/subuid lines, the attacker's uid); every
// `ward` runs as uid 65534 through setpriv(1).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <ward/ward.hpp>

#include <catch2/catch.hpp>

#include "runtime_util.hpp"

using namespace ward_test;
namespace fs = std::filesystem;

namespace {

constexpr std::uint32_t kUser = 65534;
constexpr std::uint32_t kAttacker = 12345;

std::string setpriv_path() {
  for (const char* p : {"/usr/bin/setpriv", "/bin/setpriv"})
    if (::access(p, X_OK) == 0) return p;
  return {};
}

// Runs `argv` as `uid` (gid the same, no supplementary groups) with only
// PATH and `env` in its environment; output to files. `cg`: born in that
// cgroup (the caller's cgroup for a delegated subtree).
Out run_as(std::uint32_t uid, const std::vector<std::string>& argv,
           const std::vector<std::string>& env, const ward::CgroupV2* cg = nullptr) {
  std::vector<std::string> full = {setpriv_path(),
                                   "--reuid=" + std::to_string(uid),
                                   "--regid=" + std::to_string(uid),
                                   "--clear-groups",
                                   "env",
                                   "-i",
                                   "PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  full.insert(full.end(), env.begin(), env.end());
  full.insert(full.end(), argv.begin(), argv.end());
  ward::Sandbox sb(full);
  if (cg != nullptr) sb.cgroup(*cg);
  return spawn_with_output_files(sb);
}

void chown_tree(const std::string& p, std::uint32_t uid) {
  REQUIRE(::lchown(p.c_str(), uid, uid) == 0);
  if (!fs::is_symlink(p) && fs::is_directory(p))
    for (auto& e : fs::recursive_directory_iterator(p))
      REQUIRE(::lchown(e.path().c_str(), uid, uid) == 0);
}

// A busybox bundle made by `ward spec --rootless` as uid 65534, and the
// user's fresh XDG_RUNTIME_DIR (not made yet: ward makes it).
struct RootlessBundle {
  ScratchDir base{"rootless"};
  std::string home, bundle, xdg;
  std::unique_ptr<BusyboxRootfs> rootfs;
  explicit RootlessBundle(const std::string& busybox) {
    home = base / "home";
    bundle = home + "/bundle";
    xdg = home + "/run/user/" + std::to_string(kUser);
    fs::create_directories(bundle);
    rootfs = std::make_unique<BusyboxRootfs>(busybox);
    fs::create_directory_symlink(rootfs->path, bundle + "/rootfs");
    // The user's own rootfs, as a rootless user's is (ward makes /proc and
    // the other mount points in it as the container's root, the user).
    chown_tree(rootfs->path, kUser);
    chown_tree(home, kUser);
    auto s = ward({"spec", "--rootless", "--bundle", bundle});
    INFO(s.err);
    REQUIRE(s.status == 0);
  }
  ~RootlessBundle() {
    // Whatever a failed check left: deleted as its owner would.
    std::error_code ec;
    if (fs::is_directory(xdg + "/ward", ec))
      for (auto& e : fs::directory_iterator(xdg + "/ward", ec))
        ward({"delete", "--force", e.path().filename().string()});
  }
  Out ward(const std::vector<std::string>& args, const ward::CgroupV2* cg = nullptr) const {
    std::vector<std::string> argv = {WARD_RUNTIME_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_as(kUser, argv, {"XDG_RUNTIME_DIR=" + xdg}, cg);
  }
  // config.json's process.args, and whatever `edit` does (as root; the file
  // stays the user's).
  void set(const std::vector<std::string>& args,
           const std::function<void(json::Value&)>& edit = {}) const {
    json::Value cfg = json::parse(read_file(bundle + "/config.json"));
    json::Array a;
    for (auto& s : args) a.emplace_back(s);
    cfg.find("process")->set("args", json::Value(std::move(a)));
    cfg.find("process")->set("terminal", false);
    if (edit) edit(cfg);
    write_file(bundle + "/config.json", json::dump(cfg, {.indent = 2}));
    REQUIRE(::chown((bundle + "/config.json").c_str(), kUser, kUser) == 0);
  }
  std::vector<std::string> state_entries() const {
    std::vector<std::string> v;
    for (auto& e : fs::directory_iterator(xdg + "/ward")) v.push_back(e.path().filename());
    return v;
  }
  ward::oci::Status status(const std::string& id) const {
    auto s = ward({"state", id});
    REQUIRE(s.status == 0);
    return ward::oci::parse_state(s.out).status;
  }
  // Until `state` says stopped (the init's exit, then its zombie's reaping
  // by whoever adopted it, take a moment), at most 10 s.
  bool wait_stopped(const std::string& id) const {
    for (int i = 0; i < 1000; ++i) {
      if (status(id) == ward::oci::Status::stopped) return true;
      ::usleep(10000);
    }
    return false;
  }
};

// Whether `pid` still runs (a zombie does not).
bool running(pid_t pid) {
  std::string s;
  try {
    s = read_file("/proc/" + std::to_string(pid) + "/stat");
  } catch (...) {
    return false;
  }
  auto rp = s.rfind(')');
  return !s.empty() && rp != std::string::npos && rp + 2 < s.size() && s[rp + 2] != 'Z';
}

#define NEED_ROOTLESS(b)                                                                     \
  WARD_SKIP_UNLESS_ROOT();                                                                   \
  if (std::string(WARD_RUNTIME_BIN).empty()) WARD_SKIP("built without examples");            \
  if (setpriv_path().empty()) WARD_SKIP("no setpriv(1) (util-linux) to run ward as a user"); \
  std::string b##_bb = ward_test::static_busybox();                                          \
  if (b##_bb.empty()) WARD_SKIP("no static busybox (apt-get install busybox-static)");       \
  RootlessBundle b(b##_bb)

// The caller's own unified cgroup, as /proc/self/cgroup says ("" if none).
std::string own_unified_cgroup() {
  std::ifstream f("/proc/self/cgroup");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  return {};
}

// Whether uid 65534 could make a cgroup next to the caller's own (a host
// that delegated one to it): the no-cgroup cases then do not apply.
bool user_has_delegation(const RootlessBundle& b) {
  const auto& host = ward::cgroup_host();
  if (host.unified_mount.empty()) return false;
  std::string parent = fs::path(own_unified_cgroup()).parent_path().string();
  auto r = run_as(kUser, {"mkdir", host.unified_mount + parent + "/ward-rl-probe"}, {});
  if (r.status == 0) ::rmdir((host.unified_mount + parent + "/ward-rl-probe").c_str());
  (void)b;
  return r.status == 0;
}

}  // namespace

TEST_CASE("runtime rootless: spec --rootless and run as uid 65534 from a fresh XDG_RUNTIME_DIR") {
  NEED_ROOTLESS(b);
  if (user_has_delegation(b)) WARD_SKIP("uid 65534 has a delegated cgroup here: see the next case");
  b.set({"sh", "-c", "id -u; echo hello from $(hostname); cat /proc/self/uid_map; exit 3"});
  auto r = b.ward({"run", "--bundle", b.bundle, "r1"});
  INFO(r.err);
  CHECK(r.status == 3);
  CHECK(r.out.rfind("0\nhello from ward\n", 0) == 0);
  CHECK_THAT(r.out, Catch::Contains("65534"));
  // No cgroup delegated: a warning that says so, never a bare EACCES.
  CHECK_THAT(r.err, Catch::Contains("without a cgroup of its own"));
  CHECK_THAT(r.err, Catch::Contains("no cgroup delegated"));
  // $XDG_RUNTIME_DIR and its ward/ were made, 0700, the user's; nothing is
  // left in it.
  struct stat xs {
  }, ws{};
  REQUIRE(::stat(b.xdg.c_str(), &xs) == 0);
  REQUIRE(::stat((b.xdg + "/ward").c_str(), &ws) == 0);
  CHECK((xs.st_mode & 07777) == 0700);
  CHECK((ws.st_mode & 0777) == 0700);
  CHECK(xs.st_uid == kUser);
  CHECK(ws.st_uid == kUser);
  CHECK(b.state_entries().empty());
  // What /run/ward would hold for root has nothing of it.
  CHECK(!fs::exists("/run/ward/r1"));
  // A "cgroup" mount, as engines add to a rootless config: on a host with
  // v1 hierarchies the view is of the caller's own cgroups there, which
  // the container shares (it failed with "bind source of
  // /sys/fs/cgroup/cpu": ENOENT, the view naming a cgroup never made).
  b.set({"sh", "-c", "ls /sys/fs/cgroup | wc -l"}, [](json::Value& cfg) {
    json::Array opts;
    for (const char* o : {"nosuid", "noexec", "nodev", "ro"}) opts.emplace_back(std::string(o));
    cfg.find("mounts")->as_array().emplace_back(
        json::Value::object({{"destination", std::string("/sys/fs/cgroup")},
                             {"type", std::string("cgroup")},
                             {"source", std::string("cgroup")},
                             {"options", json::Value(std::move(opts))}}));
  });
  auto m = b.ward({"run", "--bundle", b.bundle, "r2"});
  INFO(m.err);
  CHECK(m.status == 0);
  CHECK(m.out != "0\n");
  CHECK(b.state_entries().empty());
}

TEST_CASE("runtime rootless: run -d exec kill and delete without a cgroup leave nothing") {
  NEED_ROOTLESS(b);
  if (user_has_delegation(b)) WARD_SKIP("uid 65534 has a delegated cgroup here");
  b.set({"sleep", "1000"});
  auto r = b.ward({"run", "-d", "--bundle", b.bundle, "d1"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  REQUIRE(b.status("d1") == ward::oci::Status::running);
  auto st = ward::oci::parse_state(b.ward({"state", "d1"}).out);
  const pid_t init = st.pid;
  CHECK(running(init));
  // The container's pid namespace, to find what is left of it at the end:
  // by namespace, not by command line, since other cases (ctest -j2) run
  // their own `sleep` as the same uid at the same time. Held open: a
  // namespace's inode number is reused once it dies (proc_inum's IDA), and
  // another case's new pid namespace with this one's number and its own
  // `sleep 1000` was taken for a leftover (CI, VM tier).
  ward::UniqueFd pidns(
      ::open(("/proc/" + std::to_string(init) + "/ns/pid").c_str(), O_RDONLY | O_CLOEXEC));
  REQUIRE(pidns);
  struct stat ns_st {};
  REQUIRE(::fstat(pidns.get(), &ns_st) == 0);
  // `list` names the owner of the state directory, as runc's.
  CHECK_THAT(b.ward({"list", "--format", "json"}).out, Catch::Contains("\"owner\":\"nobody\""));
  auto e = b.ward({"exec", "d1", "sh", "-c", "echo in $(hostname); id -u; ps -o pid,args"});
  INFO(e.err);
  CHECK(e.status == 0);
  CHECK_THAT(e.out, Catch::Contains("in ward\n0\n"));
  CHECK_THAT(e.out, Catch::Contains("sleep 1000"));
  // A second process, so that kill --all has more than the init to reach.
  CHECK(b.ward({"exec", "-d", "d1", "sleep", "900"}).status == 0);
  // What needs a cgroup says why it has none.
  auto ps = b.ward({"ps", "d1"});
  CHECK(ps.status == 1);
  CHECK_THAT(ps.err, Catch::Contains("no cgroup of its own"));
  auto pa = b.ward({"pause", "d1"});
  CHECK(pa.status == 1);
  CHECK_THAT(pa.err, Catch::Contains("freezer needs one"));
  auto up = b.ward({"update", "--pids-limit", "10", "d1"});
  CHECK(up.status == 1);
  CHECK_THAT(up.err, Catch::Contains("no cgroup of its own"));
  // events --stats: one record, with nothing to report from a cgroup.
  auto ev = b.ward({"events", "--stats", "d1"});
  CHECK(ev.status == 0);
  CHECK_THAT(ev.out, Catch::Contains("\"type\":\"stats\""));
  CHECK(b.status("d1") == ward::oci::Status::running);
  // kill --all through the pid namespace: SIGKILL to every process in it.
  auto k = b.ward({"kill", "--all", "d1", "KILL"});
  INFO(k.err);
  CHECK(k.status == 0);
  CHECK(b.wait_stopped("d1"));
  auto d = b.ward({"delete", "d1"});
  INFO(d.err);
  CHECK(d.status == 0);
  CHECK(b.state_entries().empty());
  CHECK(!running(init));
  // No process of the container's is left: nothing is in its pid namespace.
  for (auto& p : fs::directory_iterator("/proc")) {
    const std::string name = p.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    struct stat pst {};
    if (::stat((p.path() / "ns/pid").c_str(), &pst) != 0 || pst.st_ino != ns_st.st_ino ||
        pst.st_dev != ns_st.st_dev)
      continue;
    std::string cmd;
    try {
      cmd = read_file(p.path() / "cmdline");
    } catch (...) {
    }
    INFO("pid " << name << " (" << cmd << ") is in the container's pid namespace");
    CHECK(!running(std::stoi(name)));
  }
}

TEST_CASE("runtime rootless: a memory limit without a delegated cgroup fails naming the field") {
  NEED_ROOTLESS(b);
  if (user_has_delegation(b)) WARD_SKIP("uid 65534 has a delegated cgroup here");
  b.set({"true"}, [](json::Value& cfg) {
    json::Value res = json::Value::object();
    res.set("memory", json::Value::object({{"limit", std::int64_t{100} << 20}}));
    cfg.find("linux")->set("resources", std::move(res));
  });
  auto r = b.ward({"run", "--bundle", b.bundle, "m1"});
  INFO(r.err);
  CHECK(r.status == 1);
  CHECK_THAT(r.err, Catch::Contains("linux.resources.memory.limit"));
  CHECK_THAT(r.err, Catch::Contains("no cgroup delegated to it"));
  CHECK(b.state_entries().empty());
  CHECK(b.ward({"list", "-q"}).out.empty());
}

// The user's subtree: a directory made over to uid 65534 (what systemd's
// Delegate=yes does), with the caller's own cgroup in it. At the
// hierarchy's root, whatever cgroup the test runs in (the VM tier's is a
// leaf, /init).
struct DelegatedSubtree {
  std::string top = "ward-rl-" + std::to_string(::getpid());
  ward::CgroupV2 sub = ward::CgroupV2::create(top, "/");
  std::string dir = ward::cgroup_host().unified_mount + "/" + top;
  ward::CgroupV2 caller;
  DelegatedSubtree() {
    for (const char* f : {"", "/cgroup.procs", "/cgroup.threads", "/cgroup.subtree_control"})
      REQUIRE(::chown((dir + f).c_str(), kUser, kUser) == 0);
    REQUIRE(::mkdir((dir + "/caller").c_str(), 0755) == 0);
    REQUIRE(::chown((dir + "/caller").c_str(), kUser, kUser) == 0);
    REQUIRE(::chown((dir + "/caller/cgroup.procs").c_str(), kUser, kUser) == 0);
    caller = ward::CgroupV2::adopt("/" + top + "/caller");
    caller.release();
  }
  ~DelegatedSubtree() {
    ::rmdir((dir + "/caller").c_str());
    ::rmdir(dir.c_str());
  }
};

TEST_CASE("runtime rootless: a delegated unified cgroup holds the container") {
  NEED_ROOTLESS(b);
  const auto& host = ward::cgroup_host();
  if (host.unified_mount.empty()) WARD_SKIP("no unified cgroup hierarchy on this host");
  DelegatedSubtree t;
  const std::string& top = t.top;
  const std::string& dir = t.dir;
  ward::CgroupV2& caller = t.caller;
  b.set({"sh", "-c", "grep ^0:: /proc/self/cgroup"});
  auto r = b.ward({"run", "--bundle", b.bundle, "g1"}, &caller);
  INFO(r.err);
  CHECK(r.status == 0);
  // runc's fs2 rule: next to the caller's cgroup, in its parent.
  CHECK(r.out == "0::/" + top + "/g1\n");
  CHECK_THAT(r.err, !Catch::Contains("without a cgroup"));
  CHECK(!fs::exists(dir + "/g1"));
  // Detached: ps, pause and kill --all work through the cgroup; delete
  // removes it.
  b.set({"sleep", "1000"});
  REQUIRE(b.ward({"run", "-d", "--bundle", b.bundle, "g2"}, &caller).status == 0);
  CHECK(fs::is_directory(dir + "/g2"));
  // exec from within the user's subtree too, as every process of a user
  // with a delegated cgroup is (moving a process needs write access to the
  // common ancestor's cgroup.procs).
  auto ex = b.ward({"exec", "g2", "grep", "^0::", "/proc/self/cgroup"}, &caller);
  INFO(ex.err);
  CHECK(ex.status == 0);
  CHECK(ex.out == "0::/" + top + "/g2\n");
  // From outside it (the test's own cgroup): an error that says why, never
  // a bare EACCES (it was "clone3 child: Permission denied (EACCES)").
  auto out = b.ward({"exec", "g2", "true"});
  CHECK(out.status == 255);
  CHECK_THAT(out.err, Catch::Contains("needs write access to cgroup.procs"));
  auto ps = b.ward({"ps", "--format", "json", "g2"});
  INFO(ps.err);
  CHECK(ps.status == 0);
  CHECK(json::parse(ps.out).as_array().size() == 1);
  CHECK(b.ward({"pause", "g2"}).status == 0);
  CHECK(b.status("g2") == ward::oci::Status::paused);
  CHECK(b.ward({"resume", "g2"}).status == 0);
  CHECK(b.status("g2") == ward::oci::Status::running);
  CHECK(b.ward({"kill", "--all", "g2", "KILL"}).status == 0);
  CHECK(b.wait_stopped("g2"));
  auto d = b.ward({"delete", "g2"});
  INFO(d.err);
  CHECK(d.status == 0);
  CHECK(!fs::exists(dir + "/g2"));
  CHECK(b.state_entries().empty());
}

TEST_CASE(
    "runtime rootless: a delegated unified cgroup takes a hugetlb limit and no device program") {
  NEED_ROOTLESS(b);
  const auto& host = ward::cgroup_host();
  if (host.unified_mount.empty()) WARD_SKIP("no unified cgroup hierarchy on this host");
  // Limits in the delegated subtree: hugetlb, where the unified hierarchy
  // has it (this hybrid host: only there). linux.resources.devices comes
  // along, as engines send it: a rootless container's cgroup gets no device
  // program (loading one needs privilege; it failed create with EPERM
  // before), only a warning.
  DelegatedSubtree t;
  ward::CgroupV2& caller = t.caller;
  const std::string& dir = t.dir;
  const std::string huge = host.unified_mount + "/" + t.top + "/hugetlb.2MB.max";
  if (!fs::exists(huge)) WARD_SKIP("no hugetlb.2MB.max in the unified hierarchy here");
  // (the container's /sys is the host's, rbound)
  b.set({"sh", "-c",
         "cat " + host.unified_mount +
             "$(grep ^0:: /proc/self/cgroup | cut -d: -f3)/hugetlb.2MB.max"},
        [](json::Value& cfg) {
          json::Value res = json::Value::object();
          json::Array hp, dev;
          hp.emplace_back(json::Value::object(
              {{"pageSize", std::string("2MB")}, {"limit", std::int64_t{4} << 20}}));
          dev.emplace_back(json::Value::object({{"allow", false}, {"access", std::string("rwm")}}));
          res.set("hugepageLimits", json::Value(std::move(hp)));
          res.set("devices", json::Value(std::move(dev)));
          cfg.find("linux")->set("resources", std::move(res));
        });
  auto h = b.ward({"run", "--bundle", b.bundle, "g3"}, &caller);
  INFO(h.err);
  CHECK(h.status == 0);
  CHECK(h.out == std::to_string(4 << 20) + "\n");
  CHECK_THAT(h.err, Catch::Contains("linux.resources.devices: not enforced"));
  CHECK(!fs::exists(dir + "/g3"));
  CHECK(b.state_entries().empty());
}

TEST_CASE("runtime rootless: id maps of more than the user's own id go through newuidmap") {
  NEED_ROOTLESS(b);
  if (::access("/usr/bin/newuidmap", X_OK) != 0 || ::access("/usr/bin/newgidmap", X_OK) != 0)
    WARD_SKIP("no /usr/bin/newuidmap and newgidmap (apt-get install uidmap)");
  // A range of its own for uid 65534, unlikely to meet another's.
  const std::uint32_t start = 3000000000u;
  b.set({"sh", "-c", "cat /proc/self/uid_map /proc/self/setgroups; id"}, [&](json::Value& cfg) {
    auto maps = [&] {
      json::Array a;
      a.emplace_back(json::Value::object({{"containerID", std::int64_t{0}},
                                          {"hostID", std::int64_t{kUser}},
                                          {"size", std::int64_t{1}}}));
      a.emplace_back(json::Value::object({{"containerID", std::int64_t{1}},
                                          {"hostID", std::int64_t{start}},
                                          {"size", std::int64_t{65536}}}));
      return json::Value(std::move(a));
    };
    cfg.find("linux")->set("uidMappings", maps());
    cfg.find("linux")->set("gidMappings", maps());
    json::Value user =
        json::Value::object({{"uid", std::int64_t{1000}}, {"gid", std::int64_t{1000}}});
    json::Array extra;
    extra.emplace_back(std::int64_t{5});
    user.set("additionalGids", json::Value(std::move(extra)));
    cfg.find("process")->set("user", std::move(user));
  });
  // Without /etc/subuid ranges: newuidmap's refusal, named, and nothing left.
  const std::string line = std::to_string(kUser) + ":" + std::to_string(start) + ":65536\n";
  for (const char* f : {"/etc/subuid", "/etc/subgid"})
    if (fs::exists(f) && read_file(f).find(line) != std::string::npos)
      WARD_SKIP(f << " already gives uid 65534 the test's range");
  auto no = b.ward({"run", "--bundle", b.bundle, "n1"});
  INFO(no.err);
  CHECK(no.status == 1);
  CHECK_THAT(no.err, Catch::Contains("newuidmap"));
  CHECK_THAT(no.err, Catch::Contains("not allowed"));
  CHECK(b.state_entries().empty());
  // With them (added for this test, removed after).
  // Only our line is taken out after: another test (rootless podman's) may
  // add its own user's meanwhile.
  struct SubIds {
    std::string line;
    explicit SubIds(std::string l) : line(std::move(l)) {
      for (const char* f : {"/etc/subuid", "/etc/subgid"}) std::ofstream(f, std::ios::app) << line;
    }
    ~SubIds() {
      for (const char* f : {"/etc/subuid", "/etc/subgid"}) {
        std::string text = read_file(f);
        if (auto at = text.find(line); at != std::string::npos) {
          text.erase(at, line.size());
          write_file(f, text);
        }
      }
    }
  } subids(line);
  auto yes = b.ward({"run", "--bundle", b.bundle, "n2"});
  INFO(yes.err);
  CHECK(yes.status == 0);
  CHECK_THAT(yes.out, Catch::Matches("\\s*0\\s+65534\\s+1\\s+1\\s+3000000000\\s+65536\\s+allow\\s+"
                                     "uid=1000 gid=1000 groups=5\\s*"));
  CHECK(b.state_entries().empty());
}

TEST_CASE(
    "runtime rootless: state dir attacks: a planted symlink or another user's dir is refused") {
  NEED_ROOTLESS(b);
  // uid 12345 plants a container record naming a process of uid 65534's (a
  // victim it may not signal itself) in the state directory 65534's ward
  // will use; `ward kill x KILL` as 65534 must not kill it. Against the
  // previous ward both plants worked: it followed $XDG_RUNTIME_DIR/ward
  // wherever it pointed, and used a directory of anyone's.
  ScratchDir scene("rl-attack");
  const std::string evil = scene / "evil", mine = scene / "mine", shared = scene / "shared";
  fs::create_directories(evil);
  fs::create_directories(mine);
  fs::create_directories(shared);
  REQUIRE(::chown(evil.c_str(), kAttacker, kAttacker) == 0);
  REQUIRE(::chown(mine.c_str(), kUser, kUser) == 0);
  REQUIRE(::chmod(mine.c_str(), 0777) == 0);  // the user's, but open to all
  REQUIRE(::chmod(shared.c_str(), 01777) == 0);
  auto plant = [&](const std::string& dir, pid_t victim) {
    const std::string st = read_file("/proc/" + std::to_string(victim) + "/stat");
    std::size_t p = st.rfind(')') + 2;  // field 3; the start time is field 22
    for (int i = 3; i < 22; ++i) p = st.find(' ', p) + 1;
    const std::string start = st.substr(p, st.find(' ', p) - p);
    const std::string rec =
        "{\"ociVersion\":\"1.0.2\",\"id\":\"x\",\"status\":\"running\",\"pid\":" +
        std::to_string(victim) + ",\"bundle\":\"/tmp\",\"wardStarttime\":" + start +
        ",\"wardCgroup\":\"\",\"wardCgroupOwned\":false}";
    auto r =
        run_as(kAttacker,
               {"sh", "-c",
                "mkdir -m 755 '" + dir + "/x' && echo '" + rec + "' > '" + dir + "/x/state.json'"},
               {});
    INFO(r.err);
    REQUIRE(r.status == 0);
  };
  // A victim process of uid 65534's, the record planted in `plant_dir`,
  // then 65534's `ward kill x KILL` with `xdg`: refused, the victim alive.
  auto attack = [&](const std::string& xdg, const std::string& plant_dir) {
    ward::Sandbox vs(
        {setpriv_path(), "--reuid=65534", "--regid=65534", "--clear-groups", "sleep", "1000"});
    ward::Child victim = vs.stdin_(ward::Stdio::null()).spawn();
    for (int i = 0; i < 200; ++i) {
      std::string cmd = read_file("/proc/" + std::to_string(victim.pid()) + "/cmdline");
      if (cmd.rfind("sleep", 0) == 0) break;
      ::usleep(5000);
    }
    plant(plant_dir, victim.pid());
    auto k = run_as(kUser, {WARD_RUNTIME_BIN, "kill", "x", "KILL"}, {"XDG_RUNTIME_DIR=" + xdg});
    ::usleep(50000);
    INFO(k.err);
    CHECK(k.status == 1);
    CHECK(running(victim.pid()));
    victim.kill(SIGKILL);
    victim.wait();
    return k.err;
  };
  SECTION("a symlink planted as $XDG_RUNTIME_DIR/ward") {
    REQUIRE(run_as(kAttacker, {"ln", "-s", evil, mine + "/ward"}, {}).status == 0);
    CHECK_THAT(attack(mine, evil), Catch::Contains("refusing to follow it"));
  }
  SECTION("another user's directory planted as $XDG_RUNTIME_DIR/ward") {
    REQUIRE(run_as(kAttacker, {"mkdir", "-m", "755", mine + "/ward"}, {}).status == 0);
    CHECK_THAT(attack(mine, mine + "/ward"), Catch::Contains("is owned by uid 12345"));
  }
  SECTION("an XDG_RUNTIME_DIR of another user's") {
    REQUIRE(run_as(kAttacker, {"mkdir", "-m", "755", shared + "/ward"}, {}).status == 0);
    CHECK_THAT(attack(shared, shared + "/ward"),
               Catch::Contains("XDG_RUNTIME_DIR " + shared + " is owned by uid 0"));
  }
}

TEST_CASE("runtime rootless: root of a user namespace is rootless with --rootless auto") {
  NEED_ROOTLESS(b);
  if (::access("/usr/bin/unshare", X_OK) != 0) WARD_SKIP("no /usr/bin/unshare (util-linux)");
  if (user_has_delegation(b)) WARD_SKIP("uid 65534 has a delegated cgroup here");
  // uid 0 of a user namespace of 65534's (`unshare -Ur`), as rootless
  // podman's runtime runs: runc's shouldUseRootlessCgroupManager says
  // rootless there, and $XDG_RUNTIME_DIR is honoured ($USER is not root).
  // The bundle's maps name host id 65534, which is 0 in that namespace.
  b.set({"sh", "-c", "echo in a nested user namespace"}, [](json::Value& cfg) {
    for (const char* m : {"uidMappings", "gidMappings"}) {
      json::Array a;
      a.emplace_back(json::Value::object({{"containerID", std::int64_t{0}},
                                          {"hostID", std::int64_t{0}},
                                          {"size", std::int64_t{1}}}));
      cfg.find("linux")->set(m, json::Value(std::move(a)));
    }
  });
  auto in_ns = [&](const std::string& flag) {
    std::vector<std::string> argv = {"/usr/bin/unshare", "-Ur", WARD_RUNTIME_BIN};
    if (!flag.empty()) argv.push_back(flag);
    argv.insert(argv.end(), {"run", "--bundle", b.bundle, "u1"});
    return run_as(kUser, argv, {"XDG_RUNTIME_DIR=" + b.xdg});
  };
  auto r = in_ns("");
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == "in a nested user namespace\n");
  CHECK_THAT(r.err, Catch::Contains("without a cgroup of its own"));
  CHECK(fs::is_directory(b.xdg + "/ward"));
  CHECK(b.state_entries().empty());
  // --rootless false: the cgroup is required, and root of a user namespace
  // cannot make it (runc's rootless=false fails the same way).
  auto f = in_ns("--rootless=false");
  CHECK(f.status == 1);
  CHECK_THAT(f.err, Catch::Contains("Permission denied"));
  CHECK(b.state_entries().empty());
}
