// SPDX-License-Identifier: Apache-2.0
// The systemd cgroup driver (include/ward/systemd.hpp) against a real
// systemd as pid 1, on the system bus: runs in the VM booted with
// `scripts/vm-run.sh --init systemd` (ctest: vm.systemd); skipped anywhere
// else (the plain VM, a host without systemd as pid 1).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include <ward/systemd.hpp>

#include <catch2/catch.hpp>

#include "dbus_daemon_util.hpp"
#include "systemd_vm_util.hpp"
#include "test_util.hpp"

namespace sd = ward::systemd;
using ward::dbus::Bus;
using ward::dbus::Value;
using namespace std::chrono_literals;

namespace {

std::string read_file(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// `systemctl show -p ... UNIT` as name -> value.
std::map<std::string, std::string> systemctl_show(const std::string& unit,
                                                  const std::string& props) {
  std::string cmd = "systemctl show -p " + props + " " + unit;
  std::map<std::string, std::string> out;
  FILE* f = ::popen(cmd.c_str(), "r");
  REQUIRE(f);
  char line[4096];
  while (std::fgets(line, sizeof line, f)) {
    std::string l(line);
    if (!l.empty() && l.back() == '\n') l.pop_back();
    auto eq = l.find('=');
    if (eq == std::string::npos) continue;
    // A list property (DeviceAllow) comes as one line per entry.
    std::string& v = out[l.substr(0, eq)];
    v += (v.empty() ? "" : "; ") + l.substr(eq + 1);
  }
  ::pclose(f);
  return out;
}

// A child that waits to be killed: sleep(1), not a copy of this process
// (which would carry Catch2's signal handlers).
pid_t sleeper() {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::execl("/bin/sleep", "sleep", "1000", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

}  // namespace

TEST_CASE("systemd vm: a scope with resources holds its process and goes away on stop") {
  if (auto why = ward_test::systemd_unavailable(); !why.empty()) WARD_SKIP(why);
  Bus bus = Bus::system(10s);
  sd::Manager m(bus, 60s, 30s);
  pid_t child = sleeper();
  sd::ScopeSpec s;
  s.unit = "ward-vmtest-" + std::to_string(child) + ".scope";
  s.slice = "wardtest-nested.slice";  // a parent slice systemd makes on the way
  s.pids = {child};
  s.resources.memory_max = 64ull << 20;
  s.resources.memory_swap_max = 0;
  s.resources.cpu_weight = 200;
  s.resources.cpu_quota_us = 50000;
  s.resources.cpu_period_us = 100000;
  s.resources.tasks_max = 33;
  s.resources.allowed_cpus = "0";
  s.resources.allowed_mems = "0";
  s.resources.io_weight = 300;
  std::vector<ward::DeviceRule> devices = {{false, 'a', -1, -1, "rwm"}};
  for (const auto& d : ward::default_device_rules()) devices.push_back(d);
  s.resources.devices = devices;

  auto t0 = std::chrono::steady_clock::now();
  m.start_scope(s);  // returns after JobRemoved "done"
  std::cout << "start_scope " << s.unit << ": "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - t0)
                   .count()
            << " ms" << std::endl;
  // The job is over: the unit is active right away.
  CHECK(m.unit_property(s.unit, "org.freedesktop.systemd1.Unit", "ActiveState") ==
        Value::string("active"));

  const std::string cg = m.control_group(s.unit);
  CHECK(cg == sd::expand_slice(s.slice) + "/" + s.unit);
  CHECK(cg == "/wardtest.slice/wardtest-nested.slice/" + s.unit);
  CHECK(read_file("/proc/" + std::to_string(child) + "/cgroup") == "0::" + cg);

  // From systemd, over D-Bus and through systemctl.
  CHECK(m.unit_property(s.unit, "org.freedesktop.systemd1.Scope", "MemoryMax") ==
        Value::uint64(64ull << 20));
  CHECK(m.unit_property(s.unit, "org.freedesktop.systemd1.Scope", "Delegate") ==
        Value::boolean(true));
  auto show = systemctl_show(s.unit,
                             "MemoryMax,MemorySwapMax,CPUWeight,CPUQuotaPerSecUSec,"
                             "CPUQuotaPeriodUSec,TasksMax,AllowedCPUs,AllowedMemoryNodes,"
                             "IOWeight,DevicePolicy,DeviceAllow,Delegate,Slice");
  for (const auto& [k, v] : show) std::cout << "  " << k << "=" << v << "\n";
  CHECK(show["MemoryMax"] == std::to_string(64ull << 20));
  CHECK(show["MemorySwapMax"] == "0");
  CHECK(show["CPUWeight"] == "200");
  CHECK(show["CPUQuotaPerSecUSec"] == "500ms");
  CHECK(show["CPUQuotaPeriodUSec"] == "100ms");
  CHECK(show["TasksMax"] == "33");
  CHECK(show["AllowedCPUs"] == "0");
  CHECK(show["AllowedMemoryNodes"] == "0");
  CHECK(show["IOWeight"] == "300");
  CHECK(show["DevicePolicy"] == "strict");
  CHECK_THAT(show["DeviceAllow"], Catch::Contains("/dev/char/1:3 rwm"));
  CHECK_THAT(show["DeviceAllow"], Catch::Contains("char-136 rwm"));
  CHECK(show["Delegate"] == "yes");
  CHECK(show["Slice"] == "wardtest-nested.slice");

  // From the kernel: the cgroup files systemd wrote.
  const std::string dir = "/sys/fs/cgroup" + cg;
  CHECK(read_file(dir + "/memory.max") == std::to_string(64ull << 20));
  CHECK(read_file(dir + "/memory.swap.max") == "0");
  CHECK(read_file(dir + "/cpu.weight") == "200");
  CHECK(read_file(dir + "/cpu.max") == "50000 100000");
  CHECK(read_file(dir + "/pids.max") == "33");
  CHECK(read_file(dir + "/cpuset.cpus") == "0");
  CHECK(read_file(dir + "/cpuset.mems") == "0");
  CHECK(read_file(dir + "/io.weight") == "default 300");
  CHECK(read_file(dir + "/cgroup.procs") == std::to_string(child));
  // Delegate=yes: the cgroup's files are ours to use (a sub-cgroup works).
  CHECK(::mkdir((dir + "/sub").c_str(), 0755) == 0);
  CHECK(::rmdir((dir + "/sub").c_str()) == 0);

  // Stop: the job ends, the process is killed, the unit goes away.
  m.stop_unit(s.unit);
  int status = 0;
  CHECK(::waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    try {
      (void)m.unit_path(s.unit);
      std::this_thread::sleep_for(100ms);
    } catch (const ward::dbus::CallError& e) {
      gone = e.name() == "org.freedesktop.systemd1.NoSuchUnit";
      if (!gone) throw;
    }
  }
  CHECK(gone);
  CHECK(::access(dir.c_str(), F_OK) != 0);
  // Stopping a unit that is gone is no error.
  m.stop_unit(s.unit);
}

TEST_CASE("systemd vm: errors name the unit and systemd's reason") {
  if (auto why = ward_test::systemd_unavailable(); !why.empty()) WARD_SKIP(why);
  Bus bus = Bus::system(10s);
  sd::Manager m(bus, 60s, 30s);
  pid_t child = sleeper();
  const std::string unit = "ward-vmerr-" + std::to_string(child) + ".scope";

  // A slice name systemd's naming rules refuse: our own check names it.
  sd::ScopeSpec bad;
  bad.unit = unit;
  bad.slice = "a--b.slice";
  bad.pids = {child};
  std::string e1 = ward_test::error_of([&] { m.start_scope(bad); });
  std::cout << "bad slice name: " << e1 << std::endl;
  CHECK_THAT(e1, Catch::Contains("slice \"a--b.slice\""));

  // A "slice" that is not a slice unit: systemd refuses it.
  sd::ScopeSpec notslice;
  notslice.unit = unit;
  notslice.pids = {child};
  notslice.extra.push_back(sd::property("Slice", Value::string("dbus.service")));
  try {
    m.start_scope(notslice);
    FAIL("systemd accepted Slice=dbus.service");
  } catch (const ward::dbus::CallError& e) {
    std::cout << "Slice=dbus.service: " << e.what() << std::endl;
    CHECK(e.method() == "StartTransientUnit");
    CHECK(e.subject() == unit);
    CHECK_THAT(std::string(e.what()), Catch::Contains("StartTransientUnit " + unit));
    CHECK_FALSE(e.name().empty());
    CHECK_FALSE(e.message().empty());
  }

  // A process that does not exist.
  pid_t dead = ::fork();
  REQUIRE(dead >= 0);
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  sd::ScopeSpec nopid;
  nopid.unit = unit;
  nopid.pids = {dead};
  std::string e3 = ward_test::error_of([&] { m.start_scope(nopid); });
  std::cout << "dead pid: " << e3 << std::endl;
  CHECK_THAT(e3, Catch::Contains(unit));
  CHECK(e3 != "(no error)");

  // The same unit twice: UnitExists, named.
  sd::ScopeSpec ok;
  ok.unit = unit;
  ok.pids = {child};
  m.start_scope(ok);
  try {
    m.start_scope(ok);
    FAIL("started twice");
  } catch (const ward::dbus::CallError& e) {
    std::cout << "twice: " << e.what() << std::endl;
    CHECK(e.name() == "org.freedesktop.systemd1.UnitExists");
    CHECK(e.code().value() == EEXIST);
    CHECK_THAT(std::string(e.what()), Catch::Contains(unit));
  }
  m.stop_unit(unit);
  ::waitpid(child, nullptr, 0);
}

TEST_CASE("systemd vm: a transient slice and a scope in it") {
  if (auto why = ward_test::systemd_unavailable(); !why.empty()) WARD_SKIP(why);
  Bus bus = Bus::system(10s);
  sd::Manager m(bus, 60s, 30s);
  sd::ScopeSpec slice;
  slice.unit = "wardpods-p1.slice";
  slice.slice = "wardpods.slice";
  slice.resources.memory_max = 128ull << 20;
  m.start_scope(slice);
  CHECK(m.control_group(slice.unit) == "/wardpods.slice/wardpods-p1.slice");
  CHECK(read_file("/sys/fs/cgroup/wardpods.slice/wardpods-p1.slice/memory.max") ==
        std::to_string(128ull << 20));
  pid_t child = sleeper();
  sd::ScopeSpec s;
  s.unit = "ward-inslice-" + std::to_string(child) + ".scope";
  s.slice = slice.unit;
  s.pids = {child};
  m.start_scope(s);
  CHECK(read_file("/proc/" + std::to_string(child) + "/cgroup") ==
        "0::/wardpods.slice/wardpods-p1.slice/" + s.unit);
  m.stop_unit(s.unit);
  CHECK(::waitpid(child, nullptr, 0) == child);
  m.stop_unit(slice.unit);
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = ::access("/sys/fs/cgroup/wardpods.slice/wardpods-p1.slice", F_OK) != 0;
    if (!gone) std::this_thread::sleep_for(100ms);
  }
  CHECK(gone);
}
