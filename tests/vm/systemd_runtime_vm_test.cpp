// SPDX-License-Identifier: Apache-2.0
// `ward --systemd-cgroup` (examples/runtime/systemd.cpp) against a real
// systemd as pid 1: the container's cgroup is a transient scope
// "<prefix>-<name>.scope" in the cgroupsPath's slice, with the limits as
// unit properties, gone after delete; and ward under a Type=notify unit.
// Runs in the VM booted with `scripts/vm-run.sh --init systemd` (ctest:
// vm.systemd); the systemd cases skip anywhere else.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "runtime_util.hpp"
#include "systemd_vm_util.hpp"

namespace {

namespace json = ward::json;
using ward_test::Bundle;
using ward_test::read_file;

std::string shell(const std::string& cmd) {
  std::string out;
  FILE* f = ::popen(cmd.c_str(), "r");
  REQUIRE(f);
  char buf[4096];
  while (std::fgets(buf, sizeof buf, f)) out += buf;
  ::pclose(f);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string show(const std::string& unit, const std::string& prop) {
  return shell("systemctl show --value -p " + prop + " " + unit);
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// cgroupsPath and limits in config.json.
std::function<void(json::Value&)> with_cgroups(const std::string& path,
                                               std::function<void(json::Value&)> more = {}) {
  return [path, more](json::Value& cfg) {
    json::Value* lx = cfg.find("linux");
    lx->set("cgroupsPath", path);
    lx->set("resources", json::parse(R"({"memory": {"limit": 67108864}, "pids": {"limit": 32}})"));
    if (more) more(cfg);
  };
}

// `run -d` with --systemd-cgroup; fails the case if it fails.
void run_detached(Bundle& b, const std::string& id) {
  auto r = b.cmd({"--systemd-cgroup", "run", "-d", "--bundle", b.dir.path, id});
  INFO(r.err);
  REQUIRE(r.status == 0);
}

// Polls `state` until the container is stopped (about 5 s at most).
ward::oci::Status wait_stopped(Bundle& b, const std::string& id) {
  ward::oci::Status s = ward::oci::Status::running;
  for (int i = 0; i < 500 && s != ward::oci::Status::stopped; ++i) {
    s = ward::oci::parse_state(b.cmd({"state", id}).out).status;
    if (s != ward::oci::Status::stopped) ::usleep(10000);
  }
  return s;
}

// update (pids.max and TasksMax 40), kill --all, delete: the scope and its
// cgroup go.
void update_kill_delete(Bundle& b, const std::string& id, const std::string& unit) {
  const std::string cg = "/sys/fs/cgroup/wardtest.slice/" + unit;
  auto up = b.cmd({"update", "--pids-limit", "40", id});
  INFO(up.err);
  CHECK(up.status == 0);
  CHECK(trim(read_file(cg + "/pids.max")) == "40");
  CHECK(show(unit, "TasksMax") == "40");
  auto kill = b.cmd({"kill", "--all", id, "KILL"});
  INFO(kill.err);
  REQUIRE(kill.status == 0);
  CHECK(wait_stopped(b, id) == ward::oci::Status::stopped);
  auto del = b.cmd({"delete", id});
  INFO(del.err);
  CHECK(del.status == 0);
  CHECK(show(unit, "LoadState") == "not-found");
  CHECK(!std::filesystem::exists(cg));
}

}  // namespace

TEST_CASE(
    "systemd vm: runtime --systemd-cgroup: ward-ID.scope holds the container with its limits "
    "and goes with delete") {
  NEED_RUNTIME(b);
  if (auto why = ward_test::systemd_unavailable(); !why.empty()) WARD_SKIP(why);
  const std::string id = Bundle::id("sdrun");
  const std::string unit = "ward-" + id + ".scope";
  const std::string cg = "/wardtest.slice/" + unit;
  // cpu.shares 2048 is CPUWeight 174 (runc's quadratic conversion, as
  // oci::cpu_shares_to_weight), blkio weight 500 IOWeight 4950.
  b.set({"sleep", "1000"}, with_cgroups("wardtest.slice:ward:" + id, [](json::Value& cfg) {
          json::Value* res = cfg.find("linux")->find("resources");
          res->set("cpu", json::parse(R"({"shares": 2048})"));
          res->set("blockIO", json::parse(R"({"weight": 500})"));
        }));
  run_detached(b, id);
  auto st = ward::oci::parse_state(b.cmd({"state", id}).out);
  REQUIRE(st.status == ward::oci::Status::running);
  CHECK(show(unit, "ActiveState") == "active");
  CHECK(show(unit, "ControlGroup") == cg);
  CHECK(show(unit, "CPUWeight") == "174");
  CHECK(show(unit, "IOWeight") == "4950");
  CHECK(trim(read_file("/sys/fs/cgroup" + cg + "/cpu.weight")) == "174");
  CHECK(show(unit, "Slice") == "wardtest.slice");
  CHECK(show(unit, "Delegate") == "yes");
  CHECK(show(unit, "MemoryMax") == "67108864");
  CHECK(show(unit, "TasksMax") == "32");
  // The container, alone: the runtime that made the scope moved back out.
  CHECK(trim(read_file("/proc/" + std::to_string(st.pid) + "/cgroup")) == "0::" + cg);
  CHECK(trim(read_file("/sys/fs/cgroup" + cg + "/cgroup.procs")) == std::to_string(st.pid));
  CHECK(trim(read_file("/sys/fs/cgroup" + cg + "/memory.max")) == "67108864");
  CHECK(trim(read_file("/sys/fs/cgroup" + cg + "/pids.max")) == "32");
  // pause, ps, kill --all on the scope's cgroup.
  REQUIRE(b.cmd({"pause", id}).status == 0);
  CHECK(ward::oci::parse_state(b.cmd({"state", id}).out).status == ward::oci::Status::paused);
  CHECK(trim(read_file("/sys/fs/cgroup" + cg + "/cgroup.freeze")) == "1");
  REQUIRE(b.cmd({"resume", id}).status == 0);
  auto ps = b.cmd({"ps", "--format", "json", id});
  CHECK(ps.status == 0);
  CHECK(ps.out.find(std::to_string(st.pid)) != std::string::npos);
  update_kill_delete(b, id, unit);
}

TEST_CASE(
    "systemd vm: runtime --systemd-cgroup: delete --force of a running container stops "
    "the scope") {
  NEED_RUNTIME(b);
  if (auto why = ward_test::systemd_unavailable(); !why.empty()) WARD_SKIP(why);
  const std::string id = Bundle::id("sdforce");
  const std::string unit = "ward-" + id + ".scope";
  b.set({"sleep", "1000"}, with_cgroups("wardtest.slice:ward:" + id));
  auto r = b.cmd({"--systemd-cgroup", "create", "--bundle", b.dir.path, id});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(show(unit, "ActiveState") == "active");
  auto del = b.cmd({"delete", "--force", id});
  INFO(del.err);
  CHECK(del.status == 0);
  CHECK(show(unit, "LoadState") == "not-found");
}

// Refused by what the config names alone, before any D-Bus call: the bus
// given is a path nobody listens on, so an error about it would mean ward
// had tried systemd first.
TEST_CASE(
    "systemd vm: runtime --systemd-cgroup refuses a cgroupsPath that escapes or names a "
    "slice, before asking systemd") {
  NEED_RUNTIME(b);
  if (ward::cgroup_mode() != ward::CgroupMode::pure_v2) WARD_SKIP("not a pure cgroup v2 host");
  ward_test::Caller how;
  how.env = {{"DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/run/ward-no-such-bus"}};
  for (const std::string path :
       {"../x.slice:ward:a", "wardtest.slice:ward:../../x", "wardtest.slice:ward:a/b",
        "wardtest.slice::-.slice", "wardtest.slice::system.slice", "a--b.slice:ward:a",
        "-a.slice:ward:a", "x:ward:a", "/wardtest.slice/x", "wardtest.slice:ward:"}) {
    INFO(path);
    b.set({"true"}, with_cgroups(path));
    auto r = ward_test::ward_as(
        b, {"--systemd-cgroup", "run", "--bundle", b.dir.path, Bundle::id("sdbad")}, how);
    INFO(r.err);
    CHECK(r.status != 0);
    CHECK(r.err.find("linux.cgroupsPath") != std::string::npos);
    CHECK(r.err.find("ward-no-such-bus") == std::string::npos);
  }
}

TEST_CASE("systemd vm: runtime --systemd-cgroup without a system bus fails naming it") {
  NEED_RUNTIME(b);
  if (ward::cgroup_mode() != ward::CgroupMode::pure_v2) WARD_SKIP("not a pure cgroup v2 host");
  ward_test::Caller how;
  how.env = {{"DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/run/ward-no-such-bus"}};
  const std::string id = Bundle::id("sdnobus");
  b.set({"true"}, with_cgroups("wardtest.slice:ward:" + id));
  auto r = ward_test::ward_as(b, {"--systemd-cgroup", "run", "--bundle", b.dir.path, id}, how);
  INFO(r.err);
  CHECK(r.status != 0);
  CHECK(r.err.find("system bus (unix:path=/run/ward-no-such-bus)") != std::string::npos);
  CHECK(b.cmd({"state", id}).status != 0);  // nothing left behind
}

// ward under a Type=notify service: the unit is active only once the
// container says READY=1 (forwarded by ward with MAINPID).
// DefaultDependencies=no: a service's default ones pull in sysinit.target,
// whose tmp.mount hides the VM's /tmp (the runtime and the bundle) midway.
TEST_CASE(
    "systemd vm: runtime under a Type=notify unit is active once the container says "
    "READY=1") {
  NEED_RUNTIME(b);
  if (auto why = ward_test::systemd_unavailable(); !why.empty()) WARD_SKIP(why);
  const std::string id = Bundle::id("sdnotify");
  const std::string svc = "wardnotify-" + std::to_string(::getpid()) + ".service";
  b.set({"sh", "-c", "sleep 4; /probe notify READY=1; exec sleep 100"},
        with_cgroups("wardtest.slice:ward:" + id, ward_test::with_probe(b)));
  const std::string run = "systemd-run --no-block --unit " + svc +
                          " -p Type=notify -p NotifyAccess=all -p DefaultDependencies=no " +
                          WARD_RUNTIME_BIN + " --root " + b.state.path +
                          " --systemd-cgroup run --bundle " + b.dir.path + " " + id;
  REQUIRE(std::system((run + " >/dev/null 2>&1").c_str()) == 0);
  // The container first: its init (sleep, pid 1 of its namespace) ignores
  // the SIGTERM ward forwards on a stop, which then waited 90 s for
  // systemd's SIGKILL; killed, the foreground ward ends and stops its scope.
  struct Stop {
    std::string svc, kill;
    ~Stop() {
      std::system((kill + " >/dev/null 2>&1; systemctl stop " + svc +
                   " >/dev/null 2>&1; systemctl reset-failed " + svc + " >/dev/null 2>&1")
                      .c_str());
    }
  } stop{svc, std::string(WARD_RUNTIME_BIN) + " --root " + b.state.path + " kill " + id + " KILL"};
  // Running, not ready: activating.
  bool running = false;
  for (int i = 0; i < 1000 && !running; ++i) {
    auto s = b.cmd({"state", id});
    running = s.status == 0 && ward::oci::parse_state(s.out).status == ward::oci::Status::running;
    if (!running) ::usleep(10000);
  }
  REQUIRE(running);
  CHECK(show(svc, "ActiveState") == "activating");
  std::string state;
  for (int i = 0; i < 200 && state != "active"; ++i) {
    state = show(svc, "ActiveState");
    if (state != "active") ::usleep(50000);
  }
  CHECK(state == "active");
  auto st = ward::oci::parse_state(b.cmd({"state", id}).out);
  // A foreground run: the service's main process is ward itself, back in
  // the service's cgroup; the container is in its scope.
  CHECK(show(svc, "MainPID") != std::to_string(st.pid));
  CHECK(trim(read_file("/proc/" + std::to_string(st.pid) + "/cgroup")) ==
        "0::/wardtest.slice/ward-" + id + ".scope");
  CHECK(trim(read_file("/proc/" + show(svc, "MainPID") + "/cgroup")) == "0::/system.slice/" + svc);
  CHECK(show("ward-" + id + ".scope", "ActiveState") == "active");
}

// A config naming another container's scope: systemd refuses the unit
// (it exists), and ward's cleanup must not stop what it did not start,
// which would kill the other container.
TEST_CASE("systemd vm: runtime --systemd-cgroup never stops a scope it did not start") {
  NEED_RUNTIME(b);
  if (auto why = ward_test::systemd_unavailable(); !why.empty()) WARD_SKIP(why);
  const std::string id = Bundle::id("sdvictim");
  const std::string unit = "ward-" + id + ".scope";
  b.set({"sleep", "1000"}, with_cgroups("wardtest.slice:ward:" + id));
  auto r = b.cmd({"--systemd-cgroup", "run", "-d", "--bundle", b.dir.path, id});
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto victim = ward::oci::parse_state(b.cmd({"state", id}).out);
  // The intruder: another id, the same cgroupsPath.
  auto bad = b.cmd({"--systemd-cgroup", "run", "-d", "--bundle", b.dir.path, id + "-x"});
  INFO(bad.err);
  CHECK(bad.status != 0);
  CHECK(bad.err.find(unit) != std::string::npos);
  CHECK(show(unit, "ActiveState") == "active");
  CHECK(ward::oci::parse_state(b.cmd({"state", id}).out).status == ward::oci::Status::running);
  CHECK(trim(read_file("/proc/" + std::to_string(victim.pid) + "/cgroup")) ==
        "0::/wardtest.slice/" + unit);
  CHECK(b.cmd({"delete", "--force", id}).status == 0);
  CHECK(show(unit, "LoadState") == "not-found");
}

// The same container id twice in a row, as an engine that restarts a
// container under its name does: the second run names the same unit, which
// systemd may still hold from the first (inactive, until its garbage
// collection), and the first case's sequence (update, kill --all, delete)
// must work on it both times.
TEST_CASE("systemd vm: runtime --systemd-cgroup runs the same container id twice in a row") {
  NEED_RUNTIME(b);
  if (auto why = ward_test::systemd_unavailable(); !why.empty()) WARD_SKIP(why);
  const std::string id = Bundle::id("sdagain");
  const std::string unit = "ward-" + id + ".scope";
  const std::string cg = "/wardtest.slice/" + unit;
  b.set({"sleep", "1000"}, with_cgroups("wardtest.slice:ward:" + id));
  for (int round = 0; round < 3; ++round) {
    INFO("round " << round);
    run_detached(b, id);
    auto st = ward::oci::parse_state(b.cmd({"state", id}).out);
    REQUIRE(st.status == ward::oci::Status::running);
    CHECK(show(unit, "ActiveState") == "active");
    CHECK(trim(read_file("/proc/" + std::to_string(st.pid) + "/cgroup")) ==
          "0::/wardtest.slice/" + unit);
    update_kill_delete(b, id, unit);
  }
}

// systemd stops the scope itself (an administrator's `systemctl stop`, a
// RuntimeMaxSec, shutdown): the container dies with it and the cgroup is
// gone. ward must see a stopped container, kill --all must not fail on the
// missing cgroup (runc's does not either), delete must finish, and the id
// must be usable again. The container's init ends on SIGTERM (a trap: pid 1
// of its namespace ignores it otherwise and the stop waits 90 s for KILL).
TEST_CASE(
    "systemd vm: runtime --systemd-cgroup: a scope systemd stopped under ward is a stopped "
    "container") {
  NEED_RUNTIME(b);
  if (auto why = ward_test::systemd_unavailable(); !why.empty()) WARD_SKIP(why);
  const std::string id = Bundle::id("sdgone");
  const std::string unit = "ward-" + id + ".scope";
  const std::string cg = "/wardtest.slice/" + unit;
  b.set({"sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"},
        with_cgroups("wardtest.slice:ward:" + id));
  run_detached(b, id);
  REQUIRE(std::system(("systemctl stop " + unit).c_str()) == 0);
  CHECK(!std::filesystem::exists("/sys/fs/cgroup" + cg));
  CHECK(wait_stopped(b, id) == ward::oci::Status::stopped);
  auto kill = b.cmd({"kill", "--all", id, "KILL"});
  INFO(kill.err);
  CHECK(kill.status == 0);
  auto del = b.cmd({"delete", id});
  INFO(del.err);
  CHECK(del.status == 0);
  CHECK(b.cmd({"state", id}).status != 0);
  auto again = b.cmd({"--systemd-cgroup", "run", "-d", "--bundle", b.dir.path, id});
  INFO(again.err);
  CHECK(again.status == 0);
  CHECK(show(unit, "ActiveState") == "active");
  CHECK(b.cmd({"delete", "--force", id}).status == 0);
  CHECK(show(unit, "LoadState") == "not-found");
}

// The open bug of the first case on a second run in one VM: kill --all
// writes cgroup.kill, then waits for "populated 0"; systemd sees the scope
// empty at the same moment, stops it and removes its cgroup, and when it
// was quicker ward's open of cgroup.events failed (ENOENT) and kill --all
// with it. A race, made certain here: strace delays each openat of ward's
// in the scope's directory by 0.5 s (-P matches the directory descriptor),
// so systemd has removed the cgroup when ward opens cgroup.events. Failed
// with "cgroup.events: ... (ENOENT): opening" before Cgroups::kill took a
// removed cgroup for an empty one.
TEST_CASE("systemd vm: runtime --systemd-cgroup: kill --all when systemd removes the scope first") {
  NEED_RUNTIME(b);
  if (auto why = ward_test::systemd_unavailable(); !why.empty()) WARD_SKIP(why);
  if (::access("/usr/bin/strace", X_OK) != 0) WARD_SKIP("no /usr/bin/strace to delay ward with");
  const std::string id = Bundle::id("sdrace");
  const std::string unit = "ward-" + id + ".scope";
  const std::string cg = "/sys/fs/cgroup/wardtest.slice/" + unit;
  b.set({"sleep", "1000"}, with_cgroups("wardtest.slice:ward:" + id));
  run_detached(b, id);
  const std::string err = b.dir.path + "/kill.err";
  int st = std::system(("/usr/bin/strace -f -qq -o /dev/null -P " + cg +
                        " -e trace=openat -e inject=openat:delay_enter=500000 " + WARD_RUNTIME_BIN +
                        " --root " + b.state.path + " kill --all " + id + " KILL 2>" + err)
                           .c_str());
  INFO(read_file(err));
  CHECK(st == 0);
  CHECK(!std::filesystem::exists(cg));  // systemd's doing, as in the race
  CHECK(wait_stopped(b, id) == ward::oci::Status::stopped);
  auto del = b.cmd({"delete", id});
  INFO(del.err);
  CHECK(del.status == 0);
  CHECK(show(unit, "LoadState") == "not-found");
}
