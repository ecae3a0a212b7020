// SPDX-License-Identifier: Apache-2.0
// The container's /sys/fs/cgroup on a host with cgroup v1 hierarchies
// (issue #14): an OCI "cgroup" mount gives the view runc's mountCgroupV1
// gives (a tmpfs, one directory per v1 hierarchy holding the container's
// own cgroup of it), so that a program inside reads its limits where v1
// keeps them (/sys/fs/cgroup/memory/memory.limit_in_bytes), and sees
// nothing of the host's cgroups above its own.
//
// Library level (oci::to_sandbox + Sandbox, a Cgroups made by the test) and
// runtime level (`ward run` of a busybox bundle with a memory limit), with
// and without a cgroup namespace of the container's own; attack cases: a
// rootfs whose /sys (or the mount's destination) is a symlink to a host
// directory never gets a directory or a mount made there. Every case skips,
// saying so, where the host mounts no v1 hierarchy (the vm tier is pure v2;
// there the "cgroup" mount is cgroup2, as tests/root/oci_sandbox_test.cpp
// checks).
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <ward/cgroups.hpp>
#include <ward/oci/sandbox.hpp>
#include <ward/sandbox.hpp>

#include <catch2/catch.hpp>

#include "rootfs_util.hpp"
#include "run_util.hpp"
#include "runtime_util.hpp"
#include "test_util.hpp"

using namespace ward;
namespace fs = std::filesystem;
namespace oci = ward::oci;

namespace {

constexpr const char* kLimit = "67108864";  // 64 MiB

#define NEED_V1_VIEW()                                                            \
  WARD_SKIP_UNLESS_ROOT();                                                        \
  if (cgroup_host().v1_hierarchies.empty())                                       \
    WARD_SKIP(                                                                    \
        "this host mounts no cgroup v1 hierarchy: a \"cgroup\" mount is cgroup2 " \
        "here (checked by oci_sandbox_test)");                                    \
  if (cgroup_host().v1_hierarchy("memory") == nullptr)                            \
  WARD_SKIP("the memory controller is not a v1 hierarchy here")

// A busybox rootfs `var`, or skip saying why.
#define NEED_ROOTFS(var)                                                                 \
  std::string var##_bb = ward_test::static_busybox();                                    \
  if (var##_bb.empty()) WARD_SKIP("no static busybox (apt-get install busybox-static)"); \
  ward_test::BusyboxRootfs var(var##_bb)

// What the container printed: "key=value" lines, then its mountinfo.
struct View {
  std::string out, err;
  int status = -1;
  std::map<std::string, std::string> kv;
  // mount point -> "root fstype per-mount-options"
  std::map<std::string, std::vector<std::string>> mounts;
  std::string operator[](const std::string& k) const {
    auto it = kv.find(k);
    return it == kv.end() ? "<missing>" : it->second;
  }
};

View parse(std::string out, std::string err, int status) {
  View v;
  v.out = std::move(out);
  v.err = std::move(err);
  v.status = status;
  std::istringstream in(v.out);
  std::string line;
  bool mi = false;
  while (std::getline(in, line)) {
    if (line == "--mountinfo--") {
      mi = true;
      continue;
    }
    if (!mi) {
      auto eq = line.find('=');
      if (eq != std::string::npos) v.kv[line.substr(0, eq)] = line.substr(eq + 1);
      continue;
    }
    std::istringstream f(line);
    std::string id, parent, dev, root, mp, opts, x, fstype;
    f >> id >> parent >> dev >> root >> mp >> opts;
    while (f >> x && x != "-") {
    }
    f >> fstype;
    v.mounts[mp] = {root, fstype, opts};
  }
  return v;
}

// The script: the memory limit, the directories, whether the host's
// marker cgroup shows, whether the view is writable, the mount table.
std::string script(const std::string& at, const std::string& marker) {
  return "echo limit=$(cat " + at + "/memory/memory.limit_in_bytes); " +  //
         "echo dirs=$(ls " + at + "); " +                                 //
         "echo marker=$(ls -a " + at + "/memory | grep -c " + marker + "); " +
         "echo subdirs=$(ls -F " + at + "/memory | grep -c /); " + "mkdir " + at +
         "/memory/x 2>/dev/null && echo cgw=rw || echo cgw=ro; " + "mkdir " + at +
         "/y 2>/dev/null && echo tmpw=rw || echo tmpw=ro; " +
         "echo self=$(grep ':memory:' /proc/self/cgroup); " +
         "echo --mountinfo--; cat /proc/self/mountinfo";
}

std::string config_json(const std::string& root, const std::string& dest, bool cgroupns,
                        bool sys_mount, const std::string& options) {
  std::string ns = R"([{"type": "mount"}, {"type": "pid"}, {"type": "network"})";
  if (cgroupns) ns += R"(, {"type": "cgroup"})";
  ns += "]";
  std::string mounts = R"([{"destination": "/proc", "type": "proc", "source": "proc"})";
  if (sys_mount)
    mounts += R"(, {"destination": "/sys", "type": "sysfs", "source": "sysfs",
                   "options": ["nosuid", "noexec", "nodev", "ro"]})";
  mounts += R"(, {"destination": ")" + dest + R"(", "type": "cgroup", "source": "cgroup",
                  "options": )" +
            options + "}]";
  return R"({"ociVersion": "1.0.2", "root": {"path": ")" + root + R"("},
    "process": {"args": ["/bin/sh"], "cwd": "/", "env": ["PATH=/bin"]},
    "mounts": )" +
         mounts + R"(, "linux": {"namespaces": )" + ns + "}}";
}

const char* kRuncOptions = R"(["nosuid", "noexec", "nodev", "relatime", "ro"])";

// The container's cgroup in every hierarchy, 64 MiB in its memory one, and
// a marker cgroup beside it at the memory hierarchy's root that the
// container must not see.
struct Fixture {
  std::string name = "ward-test-view-" + std::to_string(::getpid());
  std::string marker = "ward-test-marker-" + std::to_string(::getpid());
  Cgroups cg = Cgroups::create(name);
  CgroupV1 mark = CgroupV1::create(marker, {"memory"});
  Fixture() { std::ofstream(cg.v1()->dir("memory") + "/memory.limit_in_bytes") << kLimit; }
  ~Fixture() {
    try {
      cg.destroy();
      mark.destroy();
    } catch (...) {
    }
  }
};

oci::ToSandboxOptions options_for(const Cgroups& cg) {
  oci::ToSandboxOptions o;
  o.cgroup_path = cg.path();
  return o;
}

View run_view(const std::string& json, const std::string& sh, const oci::ToSandboxOptions& o,
              const Cgroups* cg) {
  oci::Config cfg = oci::parse_config(json);
  cfg.process->args = {"/bin/sh", "-c", sh};
  Sandbox sb = oci::to_sandbox(cfg, "/", o);
  if (cg != nullptr) sb.cgroup(*cg);
  sb.stdout_(Stdio::pipe()).stderr_(Stdio::pipe());
  Child c = sb.spawn();
  std::string out = ward_test::read_all(c.stdout_pipe().get());
  std::string err = ward_test::read_all(c.stderr_pipe().get());
  auto st = c.wait();
  return parse(out, err, st.exited() ? st.exit_code() : 128 + st.signal());
}

// Checks shared by every case that ran: the limit, the directories runc
// makes (one per v1 hierarchy, no unified and no systemd), read-only, the
// marker unseen, and the memory mount's root.
void check_view(const View& v, const std::string& at, const std::string& memory_root,
                const std::string& memory_type) {
  INFO(v.out << "\nstderr: " << v.err);
  REQUIRE(v.status == 0);
  CHECK(v["limit"] == kLimit);
  std::string want;
  std::vector<std::string> names;
  for (const auto& h : cgroup_host().v1_hierarchies)
    names.push_back(fs::path(h.mount).filename().string());
  std::sort(names.begin(), names.end());
  for (auto& n : names) want += (want.empty() ? "" : " ") + n;
  CHECK(v["dirs"] == want);
  CHECK(v["marker"] == "0");
  CHECK(v["subdirs"] == "0");  // nothing below the container's own cgroup
  CHECK(v["cgw"] == "ro");
  CHECK(v["tmpw"] == "ro");
  REQUIRE(v.mounts.count(at));
  CHECK(v.mounts.at(at)[1] == "tmpfs");
  CHECK(v.mounts.at(at)[2].rfind("ro,", 0) == 0);
  for (auto& n : names) {
    INFO(n);
    REQUIRE(v.mounts.count(at + "/" + n));
    const auto& m = v.mounts.at(at + "/" + n);
    CHECK(m[1] == memory_type);
    CHECK(m[2].rfind("ro,", 0) == 0);
    CHECK_THAT(m[2],
               Catch::Contains("nosuid") && Catch::Contains("nodev") && Catch::Contains("noexec"));
  }
  REQUIRE(v.mounts.count(at + "/memory"));
  CHECK(v.mounts.at(at + "/memory")[0] == memory_root);
}

}  // namespace

TEST_CASE(
    "oci cgroup view: without a cgroup namespace, each v1 hierarchy is a bind of the "
    "container's own cgroup") {
  NEED_V1_VIEW();
  NEED_ROOTFS(root);
  Fixture fx;
  const oci::ToSandboxOptions o = options_for(fx.cg);
  View v = run_view(config_json(root.path, "/sys/fs/cgroup", false, true, kRuncOptions),
                    script("/sys/fs/cgroup", fx.marker), o, &fx.cg);
  // The bind's root is the container's cgroup: the host's tree above it
  // (the marker beside it) is not reachable.
  check_view(v, "/sys/fs/cgroup", fx.cg.path(), "cgroup");
  CHECK_THAT(v["self"], Catch::EndsWith(":memory:" + fx.cg.path()));
}

TEST_CASE(
    "oci cgroup view: with a cgroup namespace, each v1 hierarchy is a new mount rooted at "
    "the container's cgroup") {
  NEED_V1_VIEW();
  NEED_ROOTFS(root);
  Fixture fx;
  const oci::ToSandboxOptions o = options_for(fx.cg);
  View v = run_view(config_json(root.path, "/sys/fs/cgroup", true, true, kRuncOptions),
                    script("/sys/fs/cgroup", fx.marker), o, &fx.cg);
  check_view(v, "/sys/fs/cgroup", "/", "cgroup");
  CHECK_THAT(v["self"], Catch::EndsWith(":memory:/"));
}

TEST_CASE(
    "oci cgroup view: without \"ro\" the view is writable, and with no cgroup given the "
    "caller's own cgroup is bound") {
  NEED_V1_VIEW();
  NEED_ROOTFS(root);
  // This process's memory cgroup, which a child given no cgroup stays in.
  std::string mine;
  {
    std::ifstream in("/proc/self/cgroup");
    for (std::string l; std::getline(in, l);)
      if (l.find(":memory:") != std::string::npos) mine = l.substr(l.find(":memory:") + 8);
  }
  REQUIRE(!mine.empty());
  View v = run_view(
      config_json(root.path, "/sys/fs/cgroup", false, true, R"(["nosuid", "noexec", "nodev"])"),
      // (no mkdir in the caller's own cgroup: not ours to change)
      "mkdir /sys/fs/cgroup/y 2>/dev/null && echo tmpw=rw || echo tmpw=ro; "
      "echo --mountinfo--; cat /proc/self/mountinfo",
      {}, nullptr);
  INFO(v.out << "\nstderr: " << v.err);
  REQUIRE(v.status == 0);
  CHECK(v["tmpw"] == "rw");
  REQUIRE(v.mounts.count("/sys/fs/cgroup/memory"));
  CHECK(v.mounts.at("/sys/fs/cgroup/memory")[0] == mine);
  CHECK(v.mounts.at("/sys/fs/cgroup/memory")[2].rfind("rw,", 0) == 0);
}

// ---------------------------------------------------------------------------
// Attacks: a rootfs that points the destination at a host directory.
// ---------------------------------------------------------------------------

TEST_CASE(
    "oci cgroup view attack: a rootfs whose /sys is a symlink to a host directory gets "
    "nothing made there") {
  NEED_V1_VIEW();
  NEED_ROOTFS(root);
  ward_test::ScratchDir host("host");
  // No sysfs mount in the config: the rootfs's own /sys is what the
  // cgroup mount's destination goes through.
  fs::create_directory_symlink(host.path, root.path + "/sys");
  Fixture fx;
  const oci::ToSandboxOptions o = options_for(fx.cg);
  for (bool ns : {false, true}) {
    INFO("cgroup namespace: " << ns);
    std::string what;
    try {
      View v = run_view(config_json(root.path, "/sys/fs/cgroup", ns, false, kRuncOptions),
                        script("/sys/fs/cgroup", fx.marker), o, &fx.cg);
      what = "ran: " + v.out + v.err;
    } catch (const Error& e) {
      what = e.what();
    }
    INFO(what);
    // /sys is where the kernel's interfaces live: a symlink there is
    // refused, naming the destination.
    CHECK_THAT(what, Catch::Contains("sys/fs/cgroup") && Catch::Contains("ELOOP"));
    CHECK(fs::is_empty(host.path));
  }
}

TEST_CASE(
    "oci cgroup view attack: a destination that is a symlink to a host directory resolves "
    "inside the rootfs") {
  NEED_V1_VIEW();
  NEED_ROOTFS(root);
  ward_test::ScratchDir host("host");
  fs::create_directory_symlink(host.path, root.path + "/cg");  // absolute
  fs::create_directory_symlink("../../../../../../.." + host.path + "/sub", root.path + "/cg2");
  Fixture fx;
  const oci::ToSandboxOptions o = options_for(fx.cg);
  for (const char* dest : {"/cg", "/cg2"}) {
    for (bool ns : {false, true}) {
      INFO(dest << " cgroup namespace: " << ns);
      View v = run_view(config_json(root.path, dest, ns, true, kRuncOptions),
                        script(dest, fx.marker), o, &fx.cg);
      INFO(v.out << "\nstderr: " << v.err);
      CHECK(v.status == 0);
      // The container sees its view through its own symlink...
      CHECK(v["limit"] == kLimit);
      // ...made under the rootfs, and nothing in the host directory.
      CHECK(fs::is_empty(host.path));
      CHECK(fs::is_directory(root.path + host.path));
    }
  }
}

TEST_CASE(
    "oci cgroup view attack: a symlink planted at /sys/fs/cgroup/memory is covered by the "
    "tmpfs") {
  NEED_V1_VIEW();
  NEED_ROOTFS(root);
  ward_test::ScratchDir host("host");
  fs::create_directories(root.path + "/sys/fs/cgroup");
  fs::create_directory_symlink(host.path, root.path + "/sys/fs/cgroup/memory");
  Fixture fx;
  const oci::ToSandboxOptions o = options_for(fx.cg);
  for (bool ns : {false, true}) {
    INFO("cgroup namespace: " << ns);
    View v = run_view(config_json(root.path, "/sys/fs/cgroup", ns, false, kRuncOptions),
                      script("/sys/fs/cgroup", fx.marker), o, &fx.cg);
    check_view(v, "/sys/fs/cgroup", ns ? "/" : fx.cg.path(), "cgroup");
    CHECK(fs::is_empty(host.path));
    CHECK(fs::is_symlink(root.path + "/sys/fs/cgroup/memory"));  // untouched underneath
  }
}

// ---------------------------------------------------------------------------
// The runtime: `ward run` with a memory limit, as an engine asks.
// ---------------------------------------------------------------------------

TEST_CASE(
    "oci cgroup view: ward run with a 64 MiB memory limit shows it in "
    "/sys/fs/cgroup/memory, with and without a cgroup namespace",
    "[root][runtime]") {
  NEED_V1_VIEW();
  NEED_RUNTIME(b);
  const std::string marker = "ward-test-marker-" + std::to_string(::getpid());
  CgroupV1 mark = CgroupV1::create(marker, {"memory"});
  for (bool ns : {false, true}) {
    INFO("cgroup namespace: " << ns);
    b.set({"sh", "-c", script("/sys/fs/cgroup", marker)}, [&](ward::json::Value& cfg) {
      // "cgroup", as `ward spec`, runc's and crun's specs and the engines
      // write it (set again: this test must not depend on spec's choice).
      for (ward::json::Value& m : cfg.find("mounts")->as_array())
        if (m.find("destination")->as_string() == "/sys/fs/cgroup") m.set("type", "cgroup");
      ward::json::Value* lx = cfg.find("linux");
      lx->set("resources", ward::json::Value::object(
                               {{"memory", ward::json::Value::object({{"limit", 67108864}})}}));
      if (ns)
        lx->find("namespaces")
            ->as_array()
            .push_back(ward::json::Value::object({{"type", "cgroup"}}));
    });
    const std::string id = ward_test::Bundle::id(ns ? "cgview-ns" : "cgview");
    ward_test::Out r = b.cmd({"run", "--bundle", b.dir.path, id});
    View v = parse(r.out, r.err, r.status);
    // The container's cgroup: /ward/<id> (cgroup_path_for's default).
    check_view(v, "/sys/fs/cgroup", ns ? "/" : "/ward/" + id, "cgroup");
  }
  mark.destroy();
}
