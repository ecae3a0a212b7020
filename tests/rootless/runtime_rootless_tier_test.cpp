// SPDX-License-Identifier: Apache-2.0
// The `ward` runtime as the rootless tier's own unprivileged uid, nothing
// prepared by root: `ward spec --rootless`, then run, run -d, exec, kill and
// delete from a fresh XDG_RUNTIME_DIR, as a user would (runc's rootless
// mode). tests/root/runtime_rootless_test.cpp has the cases that need root
// to set the scene (a delegated cgroup, /etc/subuid, an attacker's uid).
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "runtime_util.hpp"

using namespace ward_test;
namespace fs = std::filesystem;

namespace {

struct UserBundle {
  ScratchDir base{"rl-tier"};
  BusyboxRootfs rootfs;
  std::string bundle, xdg;
  explicit UserBundle(const std::string& busybox) : rootfs(busybox) {
    bundle = base / "bundle";
    xdg = base / "run/user/me";  // made by ward, with its parents
    fs::create_directories(bundle);
    fs::create_directory_symlink(rootfs.path, bundle + "/rootfs");
    auto s = ward({"spec", "--rootless", "--bundle", bundle});
    INFO(s.err);
    REQUIRE(s.status == 0);
    json::Value cfg = json::parse(read_file(bundle + "/config.json"));
    cfg.find("process")->set("terminal", false);
    write_file(bundle + "/config.json", json::dump(cfg, {.indent = 2}));
  }
  ~UserBundle() {
    std::error_code ec;
    if (fs::is_directory(xdg + "/ward", ec))
      for (auto& e : fs::directory_iterator(xdg + "/ward", ec))
        ward({"delete", "--force", e.path().filename().string()});
  }
  Out ward(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {WARD_RUNTIME_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    ward::Sandbox sb(argv);
    sb.setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").setenv("XDG_RUNTIME_DIR", xdg);
    return spawn_with_output_files(sb);
  }
  void args(const std::vector<std::string>& a, const std::function<void(json::Value&)>& edit = {}) {
    json::Value cfg = json::parse(read_file(bundle + "/config.json"));
    json::Array arr;
    for (auto& s : a) arr.emplace_back(s);
    cfg.find("process")->set("args", json::Value(std::move(arr)));
    if (edit) edit(cfg);
    write_file(bundle + "/config.json", json::dump(cfg, {.indent = 2}));
  }
  bool state_empty() const { return fs::is_empty(xdg + "/ward"); }
};

#define NEED_USER_BUNDLE(b)                                                                    \
  if (::geteuid() == 0) WARD_SKIP("running as root; the rootless tier must run unprivileged"); \
  if (!userns_allowed()) WARD_SKIP("unprivileged user namespaces are disabled on this host");  \
  if (std::string(WARD_RUNTIME_BIN).empty()) WARD_SKIP("built without examples");              \
  std::string b##_bb = static_busybox();                                                       \
  if (b##_bb.empty()) WARD_SKIP("no static busybox (apt-get install busybox-static)");         \
  UserBundle b(b##_bb)

}  // namespace

TEST_CASE("rootless: ward spec --rootless then run -d exec kill delete from a fresh XDG dir") {
  NEED_USER_BUNDLE(b);
  b.args({"sh", "-c", "echo uid=$(id -u) host=$(hostname)"});
  auto r = b.ward({"run", "--bundle", b.bundle, "t1"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out == "uid=0 host=ward\n");
  CHECK((fs::status(b.xdg).permissions() & fs::perms::all) == fs::perms::owner_all);
  CHECK(b.state_empty());

  b.args({"sleep", "1000"});
  auto d = b.ward({"run", "-d", "--bundle", b.bundle, "t2"});
  INFO(d.err);
  REQUIRE(d.status == 0);
  auto e = b.ward({"exec", "t2", "sh", "-c", "echo exec in $(hostname)"});
  INFO(e.err);
  CHECK(e.status == 0);
  CHECK(e.out == "exec in ward\n");
  CHECK(b.ward({"kill", "t2", "KILL"}).status == 0);
  bool stopped = false;
  for (int i = 0; i < 1000 && !stopped; ++i) {
    auto s = b.ward({"state", "t2"});
    stopped = s.status == 0 && ward::oci::parse_state(s.out).status == ward::oci::Status::stopped;
    if (!stopped) ::usleep(10000);
  }
  CHECK(stopped);
  auto del = b.ward({"delete", "t2"});
  INFO(del.err);
  CHECK(del.status == 0);
  CHECK(b.state_empty());
}

TEST_CASE(
    "rootless: a limit without a delegated cgroup fails naming the field and leaves nothing") {
  NEED_USER_BUNDLE(b);
  b.args({"true"}, [](json::Value& cfg) {
    json::Value res = json::Value::object();
    res.set("pids", json::Value::object({{"limit", std::int64_t{64}}}));
    cfg.find("linux")->set("resources", std::move(res));
  });
  auto r = b.ward({"run", "--bundle", b.bundle, "t3"});
  INFO(r.err);
  // A host that delegated a cgroup to this user runs it (with a pids
  // controller there) or says why the limit cannot be set: either way the
  // field is named.
  if (r.status == 0) WARD_SKIP("this user has a delegated cgroup with the pids controller");
  CHECK(r.status == 1);
  CHECK_THAT(r.err, Catch::Contains("linux.resources.pids.limit"));
  CHECK(b.state_empty());
}
