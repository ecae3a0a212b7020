// SPDX-License-Identifier: Apache-2.0
// The `ward` runtime binary, driven the way engines drive runc: spec, run,
// create/start/state/kill/delete, exec, pause/resume, ps, hooks, the error
// words engines match, and cleanup after failures.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <ward/ward.hpp>

#include <catch2/catch.hpp>

#include "runtime_util.hpp"

using namespace ward_test;

TEST_CASE("runtime: --version, features and spec") {
  WARD_SKIP_UNLESS_ROOT();
  if (std::string(WARD_RUNTIME_BIN).empty()) WARD_SKIP("built without examples");
  auto v = ward_cmd({"--version"});
  CHECK(v.status == 0);
  CHECK(v.out.rfind("ward version ", 0) == 0);
  CHECK(v.out.find("\nspec: ") != std::string::npos);
  auto f = ward_cmd({"features"});
  REQUIRE(f.status == 0);
  auto doc = json::parse(f.out);
  CHECK(doc.find("ociVersionMax") != nullptr);
  ScratchDir d("spec");
  CHECK(ward_cmd({"spec", "--bundle", d.path}).status == 0);
  auto cfg = ward::oci::load_config(d / "config.json");
  CHECK(cfg.root.path == "rootfs");
  auto again = ward_cmd({"spec", "--bundle", d.path});
  CHECK(again.status == 1);
  CHECK_THAT(again.err, Catch::Contains("exists"));
  ScratchDir r("spec-rootless");
  CHECK(ward_cmd({"spec", "--rootless", "--bundle", r.path}).status == 0);
  CHECK(ward::oci::load_config(r / "config.json").has_namespace(ward::oci::NamespaceType::user));
}

TEST_CASE("runtime: run exits with the process's status, 128+signal when killed") {
  NEED_RUNTIME(b);
  b.set({"sh", "-c", "echo hello from $(hostname); exit 7"});
  auto r = b.cmd({"run", "--bundle", b.dir.path, b.id("c1")});
  INFO(r.err);
  CHECK(r.status == 7);
  CHECK(r.out == "hello from ward\n");
  // A signal from outside: the container's init is killed, run says 128+9.
  b.set({"sleep", "100"});
  ward::Child bg = b.run_in_background(b.id("c2"));
  CHECK(b.cmd({"kill", b.id("c2"), "9"}).status == 0);
  CHECK(bg.wait().shell_status() == 128 + SIGKILL);
  // Nothing is left: no state, no container.
  CHECK(std::filesystem::is_empty(b.state.path));
  auto l = b.cmd({"list", "-q"});
  CHECK(l.out.empty());
}

TEST_CASE("runtime: create, state, start, kill, delete") {
  NEED_RUNTIME(b);
  b.set({"sh", "-c", "echo started > /dev/shm/x; sleep 100"});
  ScratchDir pidd("pid");
  auto c = b.cmd({"create", "--bundle", b.dir.path, "--pid-file", pidd / "pid", b.id("box")});
  INFO(c.err);
  REQUIRE(c.status == 0);
  auto st = ward::oci::parse_state(b.cmd({"state", b.id("box")}).out);
  // Should state not say created: what the container's process looked
  // like. (It said stopped when another container's end killed this one
  // through their shared parent cgroup /ward, fixed since.)
  const std::string created_pid = ward_test::read_file(pidd / "pid");
  const std::string proc_stat = "/proc/" + created_pid + "/stat";
  INFO("pid file: " << created_pid << "; " << proc_stat << ": "
                    << (std::filesystem::exists(proc_stat) ? ward_test::read_file(proc_stat)
                                                           : std::string("gone")));
  CHECK(st.status == ward::oci::Status::created);
  CHECK(st.pid > 0);
  CHECK(ward_test::read_file(pidd / "pid") == std::to_string(st.pid));
  CHECK(st.bundle == b.dir.path);
  // Created but not started: the process has not exec'd the command.
  CHECK(ward_test::read_file("/proc/" + std::to_string(st.pid) + "/comm") != "sleep\n");
  CHECK(b.cmd({"delete", b.id("box")}).status == 0);  // a created container may be deleted
  CHECK(b.cmd({"state", b.id("box")}).status == 1);

  REQUIRE(b.cmd({"create", "--bundle", b.dir.path, b.id("box")}).status == 0);
  REQUIRE(b.cmd({"start", b.id("box")}).status == 0);
  st = ward::oci::parse_state(b.cmd({"state", b.id("box")}).out);
  CHECK(st.status == ward::oci::Status::running);
  auto again = b.cmd({"start", b.id("box")});
  CHECK(again.status == 1);
  auto del = b.cmd({"delete", b.id("box")});
  CHECK(del.status == 1);
  CHECK_THAT(del.err, Catch::Contains("not stopped"));
  auto ps = b.cmd({"ps", "--format", "json", b.id("box")});
  CHECK(json::parse(ps.out).as_array().size() >= 1);
  REQUIRE(b.cmd({"pause", b.id("box")}).status == 0);
  CHECK(ward::oci::parse_state(b.cmd({"state", b.id("box")}).out).status ==
        ward::oci::Status::paused);
  REQUIRE(b.cmd({"resume", b.id("box")}).status == 0);
  CHECK(b.cmd({"kill", b.id("box"), "KILL"}).status == 0);
  for (int i = 0; i < 100; ++i) {
    if (ward::oci::parse_state(b.cmd({"state", b.id("box")}).out).status ==
        ward::oci::Status::stopped)
      break;
    ::usleep(20000);
  }
  st = ward::oci::parse_state(b.cmd({"state", b.id("box")}).out);
  CHECK(st.status == ward::oci::Status::stopped);
  CHECK(st.pid == 0);
  auto k = b.cmd({"kill", b.id("box")});
  CHECK(k.status == 1);
  CHECK_THAT(k.err, Catch::Contains("container not running"));
  CHECK(b.cmd({"delete", b.id("box")}).status == 0);
  CHECK(std::filesystem::is_empty(b.state.path));
}

TEST_CASE("runtime: a run that ends leaves the other containers under /ward alone") {
  NEED_RUNTIME(b);
  const std::string& unified = ward::cgroup_host().unified_mount;
  if (unified.empty()) WARD_SKIP("no cgroup2 hierarchy");
  // The first container made the shared parent /ward. Its cgroup went with
  // it when its run ended, and once took /ward with it: cgroup.kill there
  // killed every other container (seen as a created container that state
  // called stopped). Have `first` make /ward, if nothing else holds it.
  ::rmdir((unified + "/ward").c_str());
  b.set({"sleep", "2"});
  ward::Child first = b.run_in_background(b.id("first"));
  b.set({"sleep", "100"});
  auto c = b.cmd({"create", "--bundle", b.dir.path, b.id("second")});
  INFO(c.err);
  REQUIRE(c.status == 0);
  CHECK(first.wait().shell_status() == 0);
  auto st = ward::oci::parse_state(b.cmd({"state", b.id("second")}).out);
  CHECK(st.status == ward::oci::Status::created);
  CHECK(std::filesystem::exists(unified + "/ward/" + b.id("second")));
  CHECK(b.cmd({"delete", "--force", b.id("second")}).status == 0);
}

TEST_CASE("runtime: exec joins the container") {
  NEED_RUNTIME(b);
  b.set({"sh", "-c",
         "echo inside > /tmp/marker 2>/dev/null || echo inside > /dev/shm/marker; sleep 100"});
  auto d = b.cmd({"run", "-d", "--bundle", b.dir.path, b.id("box")});
  INFO(d.err);
  REQUIRE(d.status == 0);
  // run -d returns once the program was exec'd, not once it wrote the
  // marker: the exec'd shell waits for it (up to 10 s, for TCG in the VM).
  auto e = b.cmd({"exec", b.id("box"), "sh", "-c",
                  "i=0; while [ ! -s /dev/shm/marker ] && [ $i -lt 200 ]; do sleep 0.05; "
                  "i=$((i+1)); done; cat /dev/shm/marker; hostname; echo $$; exit 3"});
  INFO(e.err);
  CHECK(e.status == 3);
  CHECK(e.out.find("inside\nward\n") == 0);
  auto missing = b.cmd({"exec", b.id("box"), "no-such-binary"});
  CHECK(missing.status != 0);
  CHECK_THAT(missing.err, Catch::Contains("executable file not found in $PATH"));
  CHECK(b.cmd({"delete", "--force", b.id("box")}).status == 0);
  CHECK(std::filesystem::is_empty(b.state.path));
}

TEST_CASE("runtime: errors use the words engines match, and a failed create leaves nothing") {
  NEED_RUNTIME(b);
  auto st = b.cmd({"state", "nope"});
  CHECK(st.status == 1);
  CHECK_THAT(st.err, Catch::Contains("container does not exist"));
  CHECK(b.cmd({"delete", "--force", "nope"}).status == 0);
  b.set({"no-such-binary"});
  auto cr = b.cmd({"create", "--bundle", b.dir.path, b.id("bad")});
  CHECK(cr.status == 1);
  CHECK_THAT(cr.err, Catch::Contains("executable file not found in $PATH"));
  CHECK(std::filesystem::is_empty(b.state.path));
  // An invalid config: the JSON path and reason, nothing left behind.
  b.set({"true"}, [](json::Value& cfg) {
    cfg.find("linux")->set(
        "resources", json::Value::object({{"memory", json::Value::object({{"limit", "lots"}})}}));
  });
  ScratchDir logd("log");
  auto bad = b.cmd({"--log", logd / "log.json", "--log-format", "json", "create", "--bundle",
                    b.dir.path, b.id("bad2")});
  CHECK(bad.status == 1);
  CHECK_THAT(bad.err, Catch::Contains("linux.resources.memory.limit"));
  CHECK(std::filesystem::is_empty(b.state.path));
  auto log = ward_test::read_file(logd / "log.json");
  auto last = log.substr(log.rfind('{'));
  auto line = json::parse(last);
  CHECK(line.find("level")->as_string() == "error");
  CHECK_THAT(line.find("msg")->as_string(), Catch::Contains("memory.limit"));
}

TEST_CASE("runtime: hooks get the state on stdin, a failing hook fails create") {
  NEED_RUNTIME(b);
  ScratchDir out("hooks");
  std::string hook = out / "hook.sh";
  ward_test::write_file(hook, "#!/bin/sh\ncat > " + out.path + "/$1.json\n");
  ::chmod(hook.c_str(), 0755);
  b.set({"true"}, [&](json::Value& cfg) {
    auto h = [&](const char* name) {
      return json::Value::array(
          {json::Value::object({{"path", hook}, {"args", json::Value::array({"hook.sh", name})}})});
    };
    cfg.set("hooks", json::Value::object({{"createRuntime", h("createRuntime")},
                                          {"poststart", h("poststart")},
                                          {"poststop", h("poststop")}}));
  });
  auto r = b.cmd({"run", "--bundle", b.dir.path, b.id("hooked")});
  INFO(r.err);
  CHECK(r.status == 0);
  auto cr = ward::oci::parse_state(ward_test::read_file(out / "createRuntime.json"));
  CHECK(cr.id == b.id("hooked"));
  CHECK(cr.pid > 0);
  // After lifecycle step 2 (the environment exists): "created".
  CHECK(cr.status == ward::oci::Status::created);
  CHECK(ward::oci::parse_state(ward_test::read_file(out / "poststop.json")).status ==
        ward::oci::Status::stopped);
  // poststart gets the state of Lifecycle step 9, the program started:
  // "running", also when a `true` is gone before `start` reads its state
  // (runtime-tools' hooks_stdin; it was "stopped" at times).
  CHECK(ward::oci::parse_state(ward_test::read_file(out / "poststart.json")).status ==
        ward::oci::Status::running);
  for (int i = 0; i < 5; ++i) {
    const std::string id = b.id("hooked-cs" + std::to_string(i));
    REQUIRE(b.cmd({"create", "--bundle", b.dir.path, id}).status == 0);
    auto st = b.cmd({"start", id});
    INFO(st.err);
    CHECK(st.status == 0);
    auto ps = ward::oci::parse_state(ward_test::read_file(out / "poststart.json"));
    CHECK(ps.status == ward::oci::Status::running);
    CHECK(ps.pid > 0);
    b.cmd({"delete", "--force", id});
  }
  b.set({"true"}, [&](json::Value& cfg) {
    cfg.set("hooks", json::Value::object({{"createRuntime", json::Value::array({json::Value::object(
                                                                {{"path", "/bin/false"}})})}}));
  });
  auto f = b.cmd({"create", "--bundle", b.dir.path, b.id("hookfail")});
  CHECK(f.status == 1);
  CHECK_THAT(f.err, Catch::Contains("createRuntime"));
  CHECK(std::filesystem::is_empty(b.state.path));
}

// createContainer: in the container's namespaces, before pivot_root (its
// mount lands in the container's root and nowhere else); startContainer:
// in the container, its path resolved there, before the program runs.
TEST_CASE("runtime: createContainer and startContainer hooks run inside the container, in order") {
  NEED_RUNTIME(b);
  const std::string dir = b.rootfs->path + "/hookdir";
  std::filesystem::create_directories(dir);
  auto hooks = [&](const std::string& start_script) {
    return [&, start_script](json::Value& cfg) {
      json::Array env{json::Value("PATH=/usr/sbin:/usr/bin:/sbin:/bin")};
      auto hook = [&](const std::string& path, const std::string& script) {
        return json::Value::array(
            {json::Value::object({{"path", path},
                                  {"args", json::Value::array({"sh", "-c", script})},
                                  {"env", json::Value(env)}})});
      };
      cfg.set("hooks", json::Value::object(
                           {{"createContainer", hook("/bin/sh", "mount -t tmpfs hooked " + dir +
                                                                    " && echo cc > " + dir + "/f")},
                            {"startContainer", hook("/bin/sh", start_script)}}));
    };
  };
  SECTION("run") {
    b.set({"cat", "/hookdir/f", "/hookdir/started"}, hooks("echo sc > /hookdir/started"));
    auto r = b.cmd({"run", "--bundle", b.dir.path, b.id("cc")});
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(r.out == "cc\nsc\n");
  }
  SECTION("create, start") {
    b.set({"cat", "/hookdir/f", "/hookdir/started"}, hooks("echo sc > /hookdir/started"));
    REQUIRE(b.cmd({"create", "--bundle", b.dir.path, b.id("cs")}).status == 0);
    auto st = b.cmd({"start", b.id("cs")});
    INFO(st.err);
    CHECK(st.status == 0);
    CHECK(b.cmd({"delete", "--force", b.id("cs")}).status == 0);
  }
  SECTION("a failing startContainer hook fails start and stops the container") {
    b.set({"sleep", "100"}, hooks("exit 3"));
    REQUIRE(b.cmd({"create", "--bundle", b.dir.path, b.id("sf")}).status == 0);
    auto st = b.cmd({"start", b.id("sf")});
    CHECK(st.status == 1);
    CHECK_THAT(st.err, Catch::Contains("startContainer"));
    for (int i = 0; i < 200; ++i) {
      auto s = b.cmd({"state", b.id("sf")});
      if (s.out.find("\"stopped\"") != std::string::npos) break;
      ::usleep(10000);
    }
    CHECK_THAT(b.cmd({"state", b.id("sf")}).out, Catch::Contains("\"stopped\""));
    CHECK(b.cmd({"delete", b.id("sf")}).status == 0);
  }
  // The tmpfs lived in the container's mount namespace only.
  CHECK(std::filesystem::is_empty(dir));
}
