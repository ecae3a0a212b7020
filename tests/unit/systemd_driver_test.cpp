// SPDX-License-Identifier: Apache-2.0
// The systemd cgroup driver (include/ward/systemd.hpp) without systemd: the
// cgroupsPath and slice names, the property mapping, and the D-Bus exchange
// against a fake org.freedesktop.systemd1 on a private dbus-daemon (skipped
// when dbus-daemon is absent), including another peer forging JobRemoved.
// The same driver against a real systemd: tests/vm/systemd_driver_vm_test.cpp.
#include <unistd.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>

#include <ward/systemd.hpp>

#include <catch2/catch.hpp>

#include "dbus_daemon_util.hpp"
#include "test_util.hpp"

namespace sd = ward::systemd;
using ward::dbus::Bus;
using ward::dbus::Message;
using ward::dbus::MessageType;
using ward::dbus::Value;
using namespace std::chrono_literals;

namespace {

std::map<std::string, Value> by_name(const std::vector<Value>& props) {
  std::map<std::string, Value> m;
  for (const auto& p : props) {
    REQUIRE(p.type == "(sv)");
    m[p.items.at(0).text] = p.items.at(1).as_variant();
  }
  return m;
}

}  // namespace

TEST_CASE("systemd: slices expand as systemd does") {
  CHECK(sd::expand_slice("system.slice") == "/system.slice");
  CHECK(sd::expand_slice("a-b-c.slice") == "/a.slice/a-b.slice/a-b-c.slice");
  CHECK(sd::expand_slice("machine-libpod_pod_x.slice") ==
        "/machine.slice/machine-libpod_pod_x.slice");
  CHECK(sd::expand_slice("-.slice") == "/");
  for (const char* bad :
       {"a--b.slice", "-a.slice", "a-.slice", ".slice", "a.scope", "a/b.slice", "a b.slice", ""}) {
    INFO(bad);
    CHECK_THAT(ward_test::error_of([&] { sd::expand_slice(bad); }), Catch::Contains("slice \""));
  }
}

TEST_CASE("systemd: cgroupsPath slice:prefix:name names the scope") {
  auto p = sd::parse_cgroups_path("machine.slice:libpod:abc123");
  CHECK(p.slice == "machine.slice");
  CHECK(p.prefix == "libpod");
  CHECK(p.name == "abc123");
  CHECK(sd::unit_name(p) == "libpod-abc123.scope");
  CHECK(sd::unit_name(sd::parse_cgroups_path(":cri-containerd:x")) == "cri-containerd-x.scope");
  CHECK(sd::unit_name(sd::parse_cgroups_path("system.slice::x")) == "x.scope");
  CHECK(sd::unit_name(sd::parse_cgroups_path("system.slice:p:k-pod.slice")) == "k-pod.slice");
  CHECK_THAT(ward_test::error_of([] { sd::parse_cgroups_path("/a/b"); }),
             Catch::Contains("expects \"slice:prefix:name\""));
  CHECK_THAT(ward_test::error_of([] { sd::parse_cgroups_path("a:b:c:d"); }),
             Catch::Contains("slice:prefix"));
  CHECK_THAT(ward_test::error_of([] { sd::parse_cgroups_path("a:b:"); }),
             Catch::Contains("name part"));
  CHECK_THAT(ward_test::error_of([] { sd::unit_name(sd::parse_cgroups_path("s.slice:p:a/b")); }),
             Catch::Contains("unit \"p-a/b.scope\""));
}

TEST_CASE("systemd: cpuset lists become systemd bitmasks") {
  using B = std::vector<std::uint8_t>;
  CHECK(sd::cpuset_bits("0", "c") == B{0x01});
  CHECK(sd::cpuset_bits("0-3", "c") == B{0x0f});
  CHECK(sd::cpuset_bits("1,3,8", "c") == B{0x0a, 0x01});
  CHECK(sd::cpuset_bits("0-1,9-10", "c") == B{0x03, 0x06});
  for (const char* bad : {"", "3-1", "a", "1,", "1-", "99999", "-1"}) {
    INFO(bad);
    CHECK_THAT(ward_test::error_of([&] { sd::cpuset_bits(bad, "AllowedCPUs"); }),
               Catch::Contains("AllowedCPUs \""));
  }
}

TEST_CASE("systemd: resources map to systemd's properties") {
  sd::Resources r;
  r.memory_max = 256ull << 20;
  r.memory_swap_max = 64ull << 20;
  r.cpu_weight = 200;
  r.cpu_quota_us = 50000;
  r.cpu_period_us = 100000;
  r.tasks_max = 42;
  r.allowed_cpus = "0-1";
  r.allowed_mems = "0";
  r.io_weight = 300;
  auto m = by_name(sd::resource_properties(r));
  CHECK(m.at("MemoryMax") == Value::uint64(256ull << 20));
  CHECK(m.at("MemorySwapMax") == Value::uint64(64ull << 20));
  CHECK(m.at("CPUWeight") == Value::uint64(200));
  CHECK(m.at("CPUQuotaPeriodUSec") == Value::uint64(100000));
  CHECK(m.at("CPUQuotaPerSecUSec") == Value::uint64(500000));
  CHECK(m.at("TasksMax") == Value::uint64(42));
  CHECK(m.at("AllowedCPUs") == Value::bytes(std::vector<std::uint8_t>{3}));
  CHECK(m.at("AllowedMemoryNodes") == Value::bytes(std::vector<std::uint8_t>{1}));
  CHECK(m.at("IOWeight") == Value::uint64(300));
  CHECK(m.count("DevicePolicy") == 0);
  // Unset resources send nothing.
  CHECK(sd::resource_properties({}).empty());
}

TEST_CASE("systemd: CPU quota per second rounds up to 10 ms as runc does") {
  CHECK(sd::cpu_quota_per_sec(50000, 100000) == 500000);
  CHECK(sd::cpu_quota_per_sec(12345, 100000) == 130000);  // 123450 -> 130000
  CHECK(sd::cpu_quota_per_sec(1000, 0) == 10000);         // default period 100 ms
  CHECK(sd::cpu_quota_per_sec(-1, 100000) == sd::kInfinity);
  sd::Resources r;
  r.cpu_period_us = 50000;  // a period without a quota: quota "max"
  auto m = by_name(sd::resource_properties(r));
  CHECK(m.at("CPUQuotaPerSecUSec") == Value::uint64(sd::kInfinity));
  r.cpu_period_us = 10;
  CHECK_THAT(ward_test::error_of([&] { sd::resource_properties(r); }),
             Catch::Contains("CPUQuotaPeriodUSec"));
  sd::Resources w;
  w.cpu_weight = 0;
  CHECK_THAT(ward_test::error_of([&] { sd::resource_properties(w); }), Catch::Contains("1-10000"));
  sd::Resources t;
  t.tasks_max = 0;  // systemd refuses 0
  CHECK(by_name(sd::resource_properties(t)).at("TasksMax") == Value::uint64(1));
}

TEST_CASE("systemd: device rules become DevicePolicy and DeviceAllow") {
  std::vector<ward::DeviceRule> rules = {{false, 'a', -1, -1, "rwm"}};
  for (const auto& d : ward::default_device_rules()) rules.push_back(d);
  auto m = by_name(sd::device_properties(rules));
  CHECK(m.at("DevicePolicy") == Value::string("strict"));
  const auto& allow = m.at("DeviceAllow");
  REQUIRE(allow.type == "a(ss)");
  auto entry = [](const char* p, const char* a) {
    return Value::structure({Value::string(p), Value::string(a)});
  };
  REQUIRE(allow.items.size() == 11);
  CHECK(allow.items[0] == entry("char-*", "m"));
  CHECK(allow.items[1] == entry("block-*", "m"));
  CHECK(allow.items[2] == entry("/dev/char/1:3", "rwm"));
  CHECK(allow.items[8] == entry("char-136", "rwm"));
  // Allow everything (privileged containers).
  auto all = by_name(sd::device_properties({{true, 'a', -1, -1, "rwm"}}));
  CHECK(all.at("DevicePolicy") == Value::string("auto"));
  CHECK(all.at("DeviceAllow").items.empty());
  // Deny all, then allow all: allowed.
  CHECK(by_name(sd::device_properties({{false, 'a', -1, -1, "rwm"}, {true, 'a', -1, -1, "rwm"}}))
            .at("DevicePolicy") == Value::string("auto"));
  // What systemd cannot express is refused, naming the rule.
  CHECK_THAT(ward_test::error_of([] {
               sd::device_properties({{false, 'c', 1, 3, "rwm"}});
             }),
             Catch::Contains("devices[0]"));
  CHECK_THAT(ward_test::error_of([] {
               sd::device_properties({{false, 'a', -1, -1, "rwm"}, {true, 'c', -1, 5, "r"}});
             }),
             Catch::Contains("*:minor"));
  CHECK_THAT(ward_test::error_of([] {
               sd::device_properties({{true, 'c', 1, 3, "rwx"}});
             }),
             Catch::Contains("not of rwm"));
}

TEST_CASE("systemd: a scope's properties") {
  sd::ScopeSpec s;
  s.unit = "ward-abc.scope";
  s.slice = "a-b.slice";
  s.pids = {1234};
  s.resources.memory_max = 1 << 20;
  auto props = sd::unit_properties(s);
  auto m = by_name(props);
  CHECK(props.at(0).items.at(0).text == "Description");
  CHECK(m.at("Description") == Value::string("ward container ward-abc.scope"));
  CHECK(m.at("Slice") == Value::string("a-b.slice"));
  CHECK(m.at("PIDs") == Value::uint32s({1234}));
  CHECK(m.at("Delegate") == Value::boolean(true));
  CHECK(m.at("DefaultDependencies") == Value::boolean(false));
  CHECK(m.at("MemoryMax") == Value::uint64(1 << 20));
  // A bad slice names the slice; a scope without a pid or a bad unit names the unit.
  s.slice = "a--b.slice";
  CHECK_THAT(ward_test::error_of([&] { sd::unit_properties(s); }),
             Catch::Contains("slice \"a--b.slice\""));
  s.slice = "system.slice";
  s.pids = {};
  CHECK_THAT(ward_test::error_of([&] { sd::unit_properties(s); }),
             Catch::Contains("unit \"ward-abc.scope\""));
  s.pids = {1};
  s.unit = "ward-abc.service";
  CHECK_THAT(ward_test::error_of([&] { sd::unit_properties(s); }),
             Catch::Contains(".scope and .slice"));
  // A slice unit: no PIDs, its parent through Wants.
  sd::ScopeSpec sl;
  sl.unit = "ward-pods.slice";
  sl.slice = "ward.slice";
  auto sm = by_name(sd::unit_properties(sl));
  CHECK(sm.count("PIDs") == 0);
  CHECK(sm.count("Delegate") == 0);  // systemd refuses it on a slice
  CHECK(sm.at("Wants") == Value::strings({"ward.slice"}));
}

// ---- against a fake systemd on a real dbus-daemon ------------------------

namespace {

// org.freedesktop.systemd1 on `d`: answers StartTransientUnit and StopUnit
// with a job and then JobRemoved(result); GetUnit / ResetFailedUnit too.
// With `forge`, another peer first sends the client a JobRemoved "done"
// (unicast, as any peer on the bus can) while systemd's says `result`.
struct FakeSystemd {
  Bus bus;
  std::optional<Bus> forger;
  std::string result = "done";
  std::string start_error;  // an error name to answer StartTransientUnit with
  bool silent_job = false;  // never send JobRemoved
  std::vector<Value> last_properties;
  std::string last_unit;
  std::jthread thread;

  explicit FakeSystemd(const std::string& address, bool forge) : bus(Bus::connect(address, 5s)) {
    REQUIRE(bus.request_name(sd::kService) == 1);
    if (forge) forger.emplace(Bus::connect(address, 5s));
  }
  void run(int calls) {
    thread = std::jthread([this, calls] {
      std::uint32_t job_id = 40;
      for (int n = 0; n < calls;) {
        auto m = bus.receive(ward::dbus::Clock::now() + 10s);
        if (!m) return;
        if (m->type != MessageType::method_call) continue;
        ++n;
        const std::string unit = m->body.empty() ? "" : m->body[0].text;
        if (m->member == "StartTransientUnit" || m->member == "StopUnit") {
          if (m->member == "StartTransientUnit") {
            last_unit = unit;
            last_properties = m->body.at(2).items;
            if (!start_error.empty()) {
              bus.reply_error(*m, start_error, "Unit " + unit + " already exists.");
              continue;
            }
          }
          std::string job = "/org/freedesktop/systemd1/job/" + std::to_string(++job_id);
          bus.reply(*m, {Value::object_path(job)});
          auto signal = [&](const std::string& res) {
            Message s;
            s.type = MessageType::signal;
            s.path = sd::kPath;
            s.interface = sd::kManager;
            s.member = "JobRemoved";
            s.body = {Value::uint32(job_id), Value::object_path(job), Value::string(unit),
                      Value::string(res)};
            return s;
          };
          if (silent_job) continue;
          if (forger) {
            Message f = signal("done");
            f.destination = m->sender;
            forger->send(f, 5s);
            std::this_thread::sleep_for(100ms);  // the forgery arrives first
          }
          bus.send(signal(m->member == "StopUnit" ? "done" : result), 5s);
        } else if (m->member == "ResetFailedUnit") {
          bus.reply(*m, {});
        } else {
          bus.reply_error(*m, "org.freedesktop.systemd1.NoSuchUnit",
                          "Unit " + unit + " not loaded.");
        }
      }
    });
  }
};

sd::ScopeSpec scope(const char* unit, const char* slice) {
  sd::ScopeSpec s;
  s.unit = unit;
  s.slice = slice;
  s.pids = {::getpid()};
  return s;
}

}  // namespace

TEST_CASE("systemd: start and stop a scope through a fake systemd on dbus-daemon") {
  ward_test::DbusDaemon d;
  if (!d.unavailable().empty()) WARD_SKIP(d.unavailable());
  FakeSystemd fake(d.address(), false);
  fake.run(3);  // StartTransientUnit, StopUnit, ResetFailedUnit
  Bus bus = Bus::connect(d.address(), 5s);
  sd::Manager m(bus, 5s, 5s);
  CHECK(m.owner() == fake.bus.unique_name());
  sd::ScopeSpec s;
  s.unit = "ward-t1.scope";
  s.slice = "system.slice";
  s.pids = {::getpid()};
  s.resources.tasks_max = 10;
  m.start_scope(s);
  CHECK(fake.last_unit == "ward-t1.scope");
  auto props = by_name(fake.last_properties);
  CHECK(props.at("PIDs") == Value::uint32s({static_cast<std::uint32_t>(::getpid())}));
  CHECK(props.at("TasksMax") == Value::uint64(10));
  m.stop_unit("ward-t1.scope");
}

TEST_CASE("systemd: a failed job names the unit and the result") {
  ward_test::DbusDaemon d;
  if (!d.unavailable().empty()) WARD_SKIP(d.unavailable());
  FakeSystemd fake(d.address(), false);
  fake.result = "dependency";
  fake.run(2);  // StartTransientUnit, ResetFailedUnit
  Bus bus = Bus::connect(d.address(), 5s);
  sd::Manager m(bus, 5s, 5s);
  sd::ScopeSpec s = scope("ward-t2.scope", "x-y.slice");
  std::string e = ward_test::error_of([&] { m.start_scope(s); });
  CHECK_THAT(e, Catch::Contains("StartTransientUnit ward-t2.scope"));
  CHECK_THAT(e, Catch::Contains("result \"dependency\""));
}

TEST_CASE("systemd: an error reply names the method the unit and systemd's reason") {
  ward_test::DbusDaemon d;
  if (!d.unavailable().empty()) WARD_SKIP(d.unavailable());
  FakeSystemd fake(d.address(), false);
  fake.start_error = "org.freedesktop.systemd1.UnitExists";
  fake.run(1);
  Bus bus = Bus::connect(d.address(), 5s);
  sd::Manager m(bus, 5s, 5s);
  sd::ScopeSpec s = scope("ward-t3.scope", "");
  try {
    m.start_scope(s);
    FAIL("no error");
  } catch (const ward::dbus::CallError& e) {
    CHECK(e.code().value() == EEXIST);
    CHECK(e.name() == "org.freedesktop.systemd1.UnitExists");
    CHECK_THAT(std::string(e.what()), Catch::Contains("StartTransientUnit ward-t3.scope"));
    CHECK_THAT(std::string(e.what()), Catch::Contains("Unit ward-t3.scope already exists."));
  }
}

TEST_CASE("systemd attack: a JobRemoved forged by another peer is ignored") {
  ward_test::DbusDaemon d;
  if (!d.unavailable().empty()) WARD_SKIP(d.unavailable());
  FakeSystemd fake(d.address(), true);
  fake.result = "failed";  // systemd's own answer; the forger says "done" first
  fake.run(2);
  Bus bus = Bus::connect(d.address(), 5s);
  sd::Manager m(bus, 5s, 5s);
  sd::ScopeSpec s = scope("ward-t4.scope", "");
  std::string e = ward_test::error_of([&] { m.start_scope(s); });
  CHECK_THAT(e, Catch::Contains("result \"failed\""));
}

TEST_CASE("systemd: no systemd on the bus is a clear error") {
  ward_test::DbusDaemon d;
  if (!d.unavailable().empty()) WARD_SKIP(d.unavailable());
  Bus bus = Bus::connect(d.address(), 5s);
  try {
    sd::Manager m(bus, 1s, 1s);
    FAIL("no error");
  } catch (const ward::dbus::CallError& e) {
    CHECK(e.name() == "org.freedesktop.DBus.Error.NameHasNoOwner");
    CHECK_THAT(std::string(e.what()), Catch::Contains("org.freedesktop.systemd1"));
  }
}

TEST_CASE("systemd: a job that never ends times out naming the unit and the job") {
  ward_test::DbusDaemon d;
  if (!d.unavailable().empty()) WARD_SKIP(d.unavailable());
  FakeSystemd fake(d.address(), false);
  fake.silent_job = true;
  fake.run(2);  // StartTransientUnit, ResetFailedUnit
  Bus bus = Bus::connect(d.address(), 5s);
  sd::Manager m(bus, 500ms, 5s);
  sd::ScopeSpec s = scope("ward-t5.scope", "");
  auto t0 = std::chrono::steady_clock::now();
  ward_test::check_error([&] { m.start_scope(s); }, ETIMEDOUT,
                         "StartTransientUnit ward-t5.scope: Connection timed out (ETIMEDOUT): job "
                         "/org/freedesktop/systemd1/job/41 did not finish within 500 ms");
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
}
