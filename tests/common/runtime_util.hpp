// SPDX-License-Identifier: Apache-2.0
// Driving the `ward` runtime binary from tests the way engines do: a busybox
// bundle from `ward spec`, commands under a private --root, output to files.
// Used by tests/root/runtime_test.cpp and the attack tier (tests/attack/).
#pragma once

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ward/oci.hpp>
#include <ward/ward.hpp>

#include <catch2/catch.hpp>

#include "rootfs_util.hpp"
#include "run_util.hpp"
#include "test_util.hpp"

#ifndef WARD_RUNTIME_BIN
#define WARD_RUNTIME_BIN ""
#endif

namespace ward_test {

namespace json = ward::json;

struct Out {
  int status = -1;
  std::string out, err;
  pid_t pid = 0;           // the runtime's (ward_as)
  bool timed_out = false;  // killed after Caller::limit_s (ward_as)
};

// Runs the runtime with `args`, stdin from `input`. Output goes to files,
// not pipes: a container that create or run -d leaves behind keeps the
// runtime's stdio, so a pipe would not see EOF until it exits.
inline Out ward_cmd(const std::vector<std::string>& args, const std::string& input = {}) {
  std::vector<std::string> argv = {WARD_RUNTIME_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  int in[2];
  REQUIRE(::pipe2(in, O_CLOEXEC) == 0);
  char on[] = "/tmp/ward-rt-out-XXXXXX", en[] = "/tmp/ward-rt-err-XXXXXX";
  int of = ::mkostemp(on, O_CLOEXEC), ef = ::mkostemp(en, O_CLOEXEC);
  REQUIRE((of >= 0 && ef >= 0));
  ::unlink(on);
  ::unlink(en);
  ward::Sandbox sb(argv);
  sb.stdin_(ward::Stdio::fd(in[0])).stdout_(ward::Stdio::fd(of)).stderr_(ward::Stdio::fd(ef));
  ward::Child c = sb.spawn();
  ::close(in[0]);
  if (!input.empty() && ::write(in[1], input.data(), input.size()) < 0) {
  }
  ::close(in[1]);
  Out o;
  o.status = c.wait().shell_status();
  ::lseek(of, 0, SEEK_SET);
  ::lseek(ef, 0, SEEK_SET);
  o.out = ward_test::read_all(of);
  o.err = ward_test::read_all(ef);
  ::close(of);
  ::close(ef);
  return o;
}

// A bundle: a busybox rootfs and `ward spec`'s config, edited.
struct Bundle {
  ScratchDir dir{"bundle"};
  ScratchDir state{"state"};
  std::unique_ptr<ward_test::BusyboxRootfs> rootfs;
  explicit Bundle(const std::string& busybox) {
    rootfs = std::make_unique<ward_test::BusyboxRootfs>(busybox);
    std::filesystem::create_directory_symlink(rootfs->path, dir / "rootfs");
    auto r = ward_cmd({"spec", "--bundle", dir.path});
    REQUIRE(r.status == 0);
  }
  // Rewrites config.json: args, terminal off, and whatever `edit` does.
  void set(const std::vector<std::string>& args,
           const std::function<void(json::Value&)>& edit = {}) {
    json::Value cfg = json::parse(ward_test::read_file(dir / "config.json"));
    json::Array a;
    for (auto& s : args) a.emplace_back(s);
    json::Value* proc = cfg.find("process");
    proc->set("args", json::Value(std::move(a)));
    proc->set("terminal", false);
    if (edit) edit(cfg);
    ward_test::write_file(dir / "config.json", json::dump(cfg, {.indent = 2}));
  }
  // A failed check must not leave containers behind: delete whatever the
  // state directory still lists.
  ~Bundle() {
    for (auto& e : std::filesystem::directory_iterator(state.path))
      ward_cmd({"--root", state.path, "delete", "--force", e.path().filename().string()});
  }
  // Container ids are global (their cgroup is /ward/<id>): one per test process.
  static std::string id(const std::string& name) { return name + "-" + std::to_string(::getpid()); }
  Out cmd(std::vector<std::string> args, const std::string& input = {}) {
    args.insert(args.begin(), {"--root", state.path});
    return ward_cmd(args, input);
  }
  // `run` in the background, stdin from /dev/null; returns once state
  // says the container runs (up to about 5 s, more under TCG).
  // `flags` go after "run" (--no-pivot).
  ward::Child run_in_background(const std::string& id, const std::vector<std::string>& flags = {}) {
    std::vector<std::string> argv = {WARD_RUNTIME_BIN, "--root", state.path, "run"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.insert(argv.end(), {"--bundle", dir.path, id});
    ward::Sandbox runner(argv);
    ward::Child bg = runner.stdin_(ward::Stdio::null()).spawn();
    bool running = false;
    for (int i = 0; i < 500 && !running; ++i) {
      auto s = cmd({"state", id});
      running = s.status == 0 && ward::oci::parse_state(s.out).status == ward::oci::Status::running;
      if (!running) ::usleep(10000);
    }
    REQUIRE(running);
    return bg;
  }
};

// How a caller (an engine, a daemonizer, systemd) runs the runtime: its
// environment, a descriptor at 3 (nothing else above 2, so 4 is a hole),
// its supplementary groups, or its stdio closed.
struct Caller {
  std::vector<std::pair<std::string, std::string>> env;
  int fd3 = -1;
  std::vector<std::uint32_t> groups;
  bool stdio_closed = false;  // then out and err stay empty
  int limit_s = 0;            // > 0: SIGKILLed after that many seconds (Out::timed_out)

  static Caller with_fd3(int fd) {
    Caller c;
    c.fd3 = fd;
    return c;
  }
  static Caller with_stdio_closed() {
    Caller c;
    c.stdio_closed = true;
    return c;
  }
};

// Spawns `sb` (stdin /dev/null, stdout and stderr to files unless
// `stdio_closed`: then all three closed and out and err stay empty), waits;
// `limit_s` > 0: SIGKILLed after that many seconds (Out::timed_out).
inline Out spawn_with_output_files(ward::Sandbox& sb, bool stdio_closed = false, int limit_s = 0) {
  ScratchDir io("io");
  int of = ::open((io / "out").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  int ef = ::open((io / "err").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  REQUIRE((of >= 0 && ef >= 0));
  if (stdio_closed)
    sb.stdin_(ward::Stdio::closed()).stdout_(ward::Stdio::closed()).stderr_(ward::Stdio::closed());
  else
    sb.stdin_(ward::Stdio::null()).stdout_(ward::Stdio::fd(of)).stderr_(ward::Stdio::fd(ef));
  Out o;
  ward::Child c = sb.spawn();
  o.pid = c.pid();
  if (limit_s > 0) {
    pollfd pf{c.pidfd(), POLLIN, 0};
    if (::poll(&pf, 1, limit_s * 1000) == 0) {
      o.timed_out = true;
      c.kill(SIGKILL);
    }
  }
  o.status = c.wait().shell_status();
  ::close(of);
  ::close(ef);
  o.out = read_file(io / "out");
  o.err = read_file(io / "err");
  return o;
}

// `ward --root <state> args...` run the way `how` says; output to files.
inline Out ward_as(const Bundle& b, const std::vector<std::string>& args, const Caller& how = {}) {
  std::vector<std::string> argv = {WARD_RUNTIME_BIN, "--root", b.state.path};
  argv.insert(argv.end(), args.begin(), args.end());
  ward::Sandbox sb(argv);
  for (const auto& [k, v] : how.env) sb.setenv(k, v);
  if (how.fd3 >= 0) sb.keep_fd(how.fd3, 3);
  if (!how.groups.empty()) sb.groups(how.groups);
  return spawn_with_output_files(sb, how.stdio_closed, how.limit_s);
}

// The file of `controller`'s cgroup of process `pid`, read from the host, in
// the hierarchy that holds the controller here (ward::cgroup_backend): "v1:"
// and `v1file`'s contents, or "v2:" and `v2file`'s, trimmed; "none" when the
// host has the controller nowhere. From /proc/PID/cgroup, so the container's
// own view (its cgroup namespace) does not matter.
inline std::string cgroup_file_of(pid_t pid, const std::string& controller,
                                  const std::string& v1file, const std::string& v2file) {
  const auto& host = ward::cgroup_host();
  const std::string text = read_file("/proc/" + std::to_string(pid) + "/cgroup");
  auto path_of = [&](const std::string& want) {
    return ward::cgroup_parse::hierarchy_path(text, want).value_or("<no line for '" + want + "'>");
  };
  auto trimmed = [](std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  };
  switch (ward::cgroup_backend(controller)) {
    case ward::CgroupBackend::v1: {
      std::string v1 = controller == "io" ? "blkio" : controller;
      return "v1:" + trimmed(read_file(host.v1_hierarchy(v1)->mount + path_of(v1) + "/" + v1file));
    }
    case ward::CgroupBackend::v2:
      return "v2:" + trimmed(read_file(host.unified_mount + path_of("") + "/" + v2file));
    case ward::CgroupBackend::none: break;
  }
  return "none";
}

#define NEED_RUNTIME(bundle)                                                                \
  WARD_SKIP_UNLESS_ROOT();                                                                  \
  if (std::string(WARD_RUNTIME_BIN).empty()) WARD_SKIP("built without examples");           \
  std::string bundle##_bb = ward_test::static_busybox();                                    \
  if (bundle##_bb.empty()) WARD_SKIP("no static busybox (apt-get install busybox-static)"); \
  ward_test::Bundle bundle(bundle##_bb)

// The host's libraries and ward's test probe, read-only, in the busybox
// rootfs: the probe (a dynamic program) sends the datagrams. Where the
// host's /lib and /lib64 are links into /usr (merged /usr), so are the
// rootfs's.
inline std::function<void(ward::json::Value&)> with_probe(const Bundle& b) {
  for (const char* d : {"lib", "lib64"}) {
    const std::string host = std::string("/") + d;
    if (std::filesystem::is_symlink(host))
      std::filesystem::create_symlink(std::filesystem::read_symlink(host),
                                      b.rootfs->path + "/" + d);
  }
  return [](ward::json::Value& cfg) {
    auto& mounts = cfg.find("mounts")->as_array();
    for (const char* d : {"/usr", "/lib", "/lib64"})
      if (std::filesystem::exists(d) && !std::filesystem::is_symlink(d))
        mounts.push_back(
            ward::json::Value::object({{"destination", d},
                                       {"type", "bind"},
                                       {"source", d},
                                       {"options", ward::json::parse(R"(["rbind", "ro"])")}}));
    mounts.push_back(
        ward::json::Value::object({{"destination", "/probe"},
                                   {"type", "bind"},
                                   {"source", ward_test::probe()},
                                   {"options", ward::json::parse(R"(["bind", "ro"])")}}));
  };
}

}  // namespace ward_test
