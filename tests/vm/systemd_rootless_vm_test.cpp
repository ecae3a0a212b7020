// SPDX-License-Identifier: Apache-2.0
// Rootless `ward --systemd-cgroup` (examples/runtime/systemd.cpp) against a
// real user manager: uid 65534's own `systemd --user`, its cgroup delegated
// to it, makes the container's scope when asked over the user bus, as
// rootless podman with `--cgroup-manager systemd` has runc do. Runs in the
// VM booted with `scripts/vm-run.sh --init systemd` (ctest: vm.systemd);
// skips anywhere else.
//
// The user manager is started with systemd-run (Delegate=yes, Type=notify)
// rather than user@65534.service: that one goes through PAM and logind,
// which the VM's minimal boot does not start (it did not come up within
// 200 s under TCG); a manager run this way is ready in seconds.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "runtime_util.hpp"
#include "systemd_vm_util.hpp"

namespace {

namespace fs = std::filesystem;
namespace json = ward::json;
using ward_test::Out;
using ward_test::read_file;

constexpr std::uint32_t kUser = 65534;
const std::string kXdg = "/run/user/65534";
const std::string kManager = "ward-test-user-65534.service";

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// `argv` as root, output captured.
Out run(const std::vector<std::string>& argv) {
  ward::Sandbox sb(argv);
  return ward_test::spawn_with_output_files(sb);
}

// `argv` as uid 65534 (gid the same, no supplementary groups), with the
// user's XDG_RUNTIME_DIR and nothing else but PATH, in a scope of the
// user's own manager (`systemd-run --user --scope`): where a rootless
// user's shell runs, and where the user may move processes from.
Out as_user(const std::vector<std::string>& argv, const std::string& xdg = kXdg,
            bool keep_origin = true) {
  // systemd-run finds the user's bus through XDG_RUNTIME_DIR; `argv` gets `xdg`.
  std::vector<std::string> full = {"setpriv",
                                   "--reuid=" + std::to_string(kUser),
                                   "--regid=" + std::to_string(kUser),
                                   "--clear-groups",
                                   "env",
                                   "-i",
                                   "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                                   "XDG_RUNTIME_DIR=" + kXdg};
  // The shell stays in the scope while `argv` runs, as an engine's
  // conmon or a user's shell does: ward moves itself into the container's
  // scope and back, so the scope it came from must outlive its stay there.
  // `keep_origin` false: ward alone in it, which systemd stops once empty.
  full.insert(full.end(), {"systemd-run", "--user", "--scope", "--quiet", "--"});
  if (keep_origin) full.insert(full.end(), {"sh", "-c", "\"$@\"; exit $?", "sh"});
  full.insert(full.end(), {"env", "XDG_RUNTIME_DIR=" + xdg});
  full.insert(full.end(), argv.begin(), argv.end());
  return run(full);
}

// uid 65534's systemd --user, for the case; stopped with it.
struct UserManager {
  std::string why_not;  // empty once it runs
  UserManager() {
    fs::create_directories(kXdg);
    REQUIRE(::chown(kXdg.c_str(), kUser, kUser) == 0);
    REQUIRE(::chmod(kXdg.c_str(), 0700) == 0);
    run({"systemctl", "stop", kManager});
    auto r = run({"systemd-run", "--unit=" + kManager, "--uid=" + std::to_string(kUser),
                  "--gid=" + std::to_string(kUser), "-p", "Delegate=yes", "-p", "Type=notify", "-p",
                  "NotifyAccess=all", "--setenv=XDG_RUNTIME_DIR=" + kXdg, "/lib/systemd/systemd",
                  "--user"});
    INFO(r.err);
    REQUIRE(r.status == 0);
    for (int i = 0; i < 600 && ::access((kXdg + "/bus").c_str(), F_OK) != 0; ++i) ::usleep(100000);
    // The user bus comes from dbus-user-session's dbus.socket: without that
    // package the manager runs but has no bus, which is the host's lack.
    if (::access((kXdg + "/bus").c_str(), F_OK) != 0) {
      why_not = "uid 65534's systemd --user has no bus at " + kXdg +
                "/bus after 60 s (apt-get install dbus-user-session)";
      return;
    }
    // Ready (Type=notify) and a bus socket are not yet the manager on the
    // bus: the bus daemon is socket-activated, and systemd --user takes its
    // name, org.freedesktop.systemd1, only once it has connected. A case that
    // asked before then got NameHasNoOwner from ward (seen once in CI).
    const std::vector<std::string> ask = {"setpriv",
                                          "--reuid=" + std::to_string(kUser),
                                          "--regid=" + std::to_string(kUser),
                                          "--clear-groups",
                                          "--",
                                          "env",
                                          "XDG_RUNTIME_DIR=" + kXdg,
                                          "DBUS_SESSION_BUS_ADDRESS=unix:path=" + kXdg + "/bus",
                                          "busctl",
                                          "--user",
                                          "status",
                                          "org.freedesktop.systemd1"};
    bool on_bus = false;
    for (int i = 0; i < 300 && !on_bus; ++i) {
      on_bus = run(ask).status == 0;
      if (!on_bus) ::usleep(200000);
    }
    // The package is there (the bus is), so a manager that never takes its
    // name is a failure, not the host's lack.
    INFO(run(ask).err);
    REQUIRE(on_bus);
  }
  ~UserManager() { run({"systemctl", "stop", kManager}); }
  // The manager's own view of one of its units.
  std::string show(const std::string& unit, const std::string& prop) const {
    return trim(as_user({"systemctl", "--user", "show", "--value", "-p", prop, unit}).out);
  }
};

// A busybox bundle of uid 65534's, its config from `ward spec --rootless`.
struct UserBundle {
  ward_test::ScratchDir base{"sdrootless"};
  std::string bundle;
  std::unique_ptr<ward_test::BusyboxRootfs> rootfs;
  explicit UserBundle(const std::string& busybox) {
    bundle = base / "bundle";
    fs::create_directories(bundle);
    rootfs = std::make_unique<ward_test::BusyboxRootfs>(busybox);
    fs::create_directory_symlink(rootfs->path, bundle + "/rootfs");
    for (const std::string& top : {base.path, rootfs->path}) {
      REQUIRE(::lchown(top.c_str(), kUser, kUser) == 0);
      for (auto& e : fs::recursive_directory_iterator(top))
        REQUIRE(::lchown(e.path().c_str(), kUser, kUser) == 0);
    }
    auto s = as_user({WARD_RUNTIME_BIN, "spec", "--rootless", "--bundle", bundle});
    INFO(s.err);
    REQUIRE(s.status == 0);
  }
  void set(const std::vector<std::string>& args, const std::string& cgroups_path) const {
    json::Value cfg = json::parse(read_file(bundle + "/config.json"));
    json::Array a;
    for (auto& s : args) a.emplace_back(s);
    cfg.find("process")->set("args", json::Value(std::move(a)));
    cfg.find("process")->set("terminal", false);
    json::Value* lx = cfg.find("linux");
    lx->set("cgroupsPath", cgroups_path);
    lx->set("resources", json::parse(R"({"memory": {"limit": 67108864}, "pids": {"limit": 32}})"));
    ward_test::write_file(bundle + "/config.json", json::dump(cfg, {.indent = 2}));
    REQUIRE(::chown((bundle + "/config.json").c_str(), kUser, kUser) == 0);
  }
  Out ward(std::vector<std::string> args, const std::string& xdg = kXdg,
           bool keep_origin = true) const {
    args.insert(args.begin(), {WARD_RUNTIME_BIN, "--systemd-cgroup"});
    return as_user(args, xdg, keep_origin);
  }
};

#define NEED_USER_MANAGER(um, ub)                                                       \
  WARD_SKIP_UNLESS_ROOT();                                                              \
  if (std::string(WARD_RUNTIME_BIN).empty()) WARD_SKIP("built without examples");       \
  if (auto why = ward_test::systemd_unavailable(); !why.empty()) WARD_SKIP(why);        \
  std::string ub##_bb = ward_test::static_busybox();                                    \
  if (ub##_bb.empty()) WARD_SKIP("no static busybox (apt-get install busybox-static)"); \
  UserManager um;                                                                       \
  if (!um.why_not.empty()) WARD_SKIP(um.why_not);                                       \
  UserBundle ub(ub##_bb)

}  // namespace

TEST_CASE(
    "systemd vm: rootless --systemd-cgroup: the user's systemd holds the container in a scope "
    "with its limits and the scope goes with delete") {
  NEED_USER_MANAGER(um, ub);
  const std::string id = "sdrl-" + std::to_string(::getpid());
  const std::string unit = "ward-" + id + ".scope";
  ub.set({"sleep", "1000"}, "user.slice:ward:" + id);
  auto r = ub.ward({"run", "-d", "--bundle", ub.bundle, id});
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto st = ward::oci::parse_state(ub.ward({"state", id}).out);
  REQUIRE(st.status == ward::oci::Status::running);
  // The user manager's unit, in its user.slice, below its own cgroup.
  CHECK(um.show(unit, "ActiveState") == "active");
  CHECK(um.show(unit, "Delegate") == "yes");
  CHECK(um.show(unit, "MemoryMax") == "67108864");
  const std::string cg = um.show(unit, "ControlGroup");
  CHECK(cg == "/system.slice/" + kManager + "/user.slice/" + unit);
  // The container alone in it (ward moved back out), with the limits.
  CHECK(trim(read_file("/proc/" + std::to_string(st.pid) + "/cgroup")) == "0::" + cg);
  CHECK(trim(read_file("/sys/fs/cgroup" + cg + "/cgroup.procs")) == std::to_string(st.pid));
  CHECK(trim(read_file("/sys/fs/cgroup" + cg + "/memory.max")) == "67108864");
  CHECK(trim(read_file("/sys/fs/cgroup" + cg + "/pids.max")) == "32");
  auto kill = ub.ward({"kill", id, "KILL"});
  INFO(kill.err);
  REQUIRE(kill.status == 0);
  bool stopped = false;
  for (int i = 0; i < 1000 && !stopped; ++i) {
    stopped =
        ward::oci::parse_state(ub.ward({"state", id}).out).status == ward::oci::Status::stopped;
    if (!stopped) ::usleep(10000);
  }
  CHECK(stopped);
  auto del = ub.ward({"delete", id});
  INFO(del.err);
  CHECK(del.status == 0);
  CHECK(um.show(unit, "LoadState") == "not-found");
  CHECK(!fs::exists("/sys/fs/cgroup" + cg));
}

TEST_CASE(
    "systemd vm: rootless --systemd-cgroup without a user bus fails naming it and leaves "
    "nothing") {
  NEED_USER_MANAGER(um, ub);
  // An XDG_RUNTIME_DIR of the user's with no bus in it.
  ward_test::ScratchDir xdg("sdrl-nobus");
  REQUIRE(::chown(xdg.path.c_str(), kUser, kUser) == 0);
  REQUIRE(::chmod(xdg.path.c_str(), 0700) == 0);
  const std::string id = "sdrl-nobus-" + std::to_string(::getpid());
  ub.set({"true"}, "user.slice:ward:" + id);
  auto r = ub.ward({"run", "--bundle", ub.bundle, id}, xdg.path);
  INFO(r.err);
  CHECK(r.status != 0);
  CHECK(r.err.find("the user bus (unix:path=" + xdg.path + "/bus)") != std::string::npos);
  CHECK(ub.ward({"state", id}, xdg.path).status != 0);  // no state left
  CHECK(um.show("ward-" + id + ".scope", "LoadState") == "not-found");
}

// What `systemd-run --user --scope ward ... run -d` does: the scope ward
// runs in holds nothing else, and systemd stops a scope once it is empty.
// A runtime that moved itself into the container's scope and back found
// its first scope being stopped and was killed by that stop (exit 137, no
// message, the container's scope stopped with it); the scope's first
// process is a placeholder of ward's instead, and ward never moves.
TEST_CASE("systemd vm: rootless --systemd-cgroup runs from a scope that holds the runtime alone") {
  NEED_USER_MANAGER(um, ub);
  const std::string id = "sdrl-alone-" + std::to_string(::getpid());
  const std::string unit = "ward-" + id + ".scope";
  ub.set({"sleep", "1000"}, "user.slice:ward:" + id);
  auto r = ub.ward({"run", "-d", "--bundle", ub.bundle, id}, kXdg, false);
  INFO(r.err);
  CHECK(r.status == 0);
  auto st = ward::oci::parse_state(ub.ward({"state", id}).out);
  CHECK(st.status == ward::oci::Status::running);
  CHECK(um.show(unit, "ActiveState") == "active");
  const std::string cg = um.show(unit, "ControlGroup");
  // The container alone in its scope: the placeholder is gone.
  CHECK(trim(read_file("/sys/fs/cgroup" + cg + "/cgroup.procs")) == std::to_string(st.pid));
  auto del = ub.ward({"delete", "--force", id});
  INFO(del.err);
  CHECK(del.status == 0);
  CHECK(um.show(unit, "LoadState") == "not-found");
}
