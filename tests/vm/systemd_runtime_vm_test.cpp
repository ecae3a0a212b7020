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

}  // namespace

TEST_CASE(
    "systemd vm: runtime --systemd-cgroup: ward-ID.scope holds the container with its limits "
    "and goes with delete") {
  NEED_RUNTIME(b);
  if (auto why = ward_test::systemd_unavailable(); !why.empty()) WARD_SKIP(why);
  const std::string id = Bundle::id("sdrun");
  const std::string unit = "ward-" + id + ".scope";
  const std::string cg = "/wardtest.slice/" + unit;
  b.set({"sleep", "1000"}, with_cgroups("wardtest.slice:ward:" + id));
  auto r = b.cmd({"--systemd-cgroup", "run", "-d", "--bundle", b.dir.path, id});
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto st = ward::oci::parse_state(b.cmd({"state", id}).out);
  REQUIRE(st.status == ward::oci::Status::running);
  CHECK(show(unit, "ActiveState") == "active");
  CHECK(show(unit, "ControlGroup") == cg);
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
  auto up = b.cmd({"update", "--pids-limit", "40", id});
  CHECK(up.status == 0);
  CHECK(trim(read_file("/sys/fs/cgroup" + cg + "/pids.max")) == "40");
  CHECK(show(unit, "TasksMax") == "40");
  auto kill = b.cmd({"kill", "--all", id, "KILL"});
  INFO(kill.err);
  REQUIRE(kill.status == 0);
  for (int i = 0; i < 500 && ward::oci::parse_state(b.cmd({"state", id}).out).status !=
                                 ward::oci::Status::stopped;
       ++i)
    ::usleep(10000);
  auto del = b.cmd({"delete", id});
  INFO(del.err);
  CHECK(del.status == 0);
  CHECK(show(unit, "LoadState") == "not-found");
  CHECK(!std::filesystem::exists("/sys/fs/cgroup" + cg));
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
  struct Stop {
    std::string svc;
    ~Stop() {
      std::system(("systemctl stop " + svc + " >/dev/null 2>&1; systemctl reset-failed " + svc +
                   " >/dev/null 2>&1")
                      .c_str());
    }
  } stop{svc};
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
