// SPDX-License-Identifier: Apache-2.0
// ward/oci/sandbox.hpp without privileges: cgroupsPath forms, runc's value
// conversions, configs (the fixtures included) mapped onto a Sandbox and
// planned, and errors that name the OCI field ward cannot honour.
#include <sched.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <ward/oci/sandbox.hpp>

#include <catch2/catch.hpp>

#include "rootfs_util.hpp"
#include "test_util.hpp"

using namespace ward;
namespace fs = std::filesystem;
namespace oci = ward::oci;

namespace {

fs::path fixture(const char* name) { return fs::path(WARD_FIXTURES_DIR) / name; }

// A config with a process and (unless `linux_extra` lists its own
// namespaces) mount and pid namespaces; `linux_extra`, `extra` and
// `process_extra` are spliced into the linux object, the top level and the
// process.
std::string config(const std::string& extra = {}, const std::string& linux_extra = {},
                   const std::string& process_extra = {}) {
  std::string s = R"({"ociVersion": "1.2.0", "root": {"path": "rootfs"},
    "process": {"args": ["/bin/sh", "-c", "true"], "cwd": "/", "env": ["PATH=/bin"])";
  if (!process_extra.empty()) s += ", " + process_extra;
  s += R"(}, "linux": {)";
  if (linux_extra.find("\"namespaces\"") == std::string::npos)
    s += R"("namespaces": [{"type": "mount"}, {"type": "pid"}])" +
         std::string(linux_extra.empty() ? "" : ", ");
  s += linux_extra;
  s += "}";
  if (!extra.empty()) s += ", " + extra;
  return s + "}";
}

// The error to_sandbox() throws for `text` (its object and detail), or
// "accepted".
struct Failure {
  std::string object, detail;
  int err = 0;
};
Failure to_sandbox_error(const std::string& text, const oci::ToSandboxOptions& o = {}) {
  ward_test::ScratchDir bundle("bundle");
  ::mkdir((bundle / "rootfs").c_str(), 0755);
  try {
    (void)oci::to_sandbox(oci::parse_config(text), bundle.path, o);
  } catch (const Error& e) {
    return {e.object(), e.detail(), e.error_number()};
  }
  return {"accepted", "", 0};
}

bool contains(const std::vector<std::string>& v, const std::string& needle) {
  for (const auto& s : v)
    if (s.find(needle) != std::string::npos) return true;
  return false;
}

}  // namespace

// ---------------------------------------------------------------------------
// cgroupsPath
// ---------------------------------------------------------------------------

TEST_CASE("oci_sandbox: cgroup_path_for: absolute, relative, systemd and default forms") {
  auto path = [](const std::string& cp, std::string_view id = "c1") {
    oci::Config c = oci::parse_config(config({}, R"("cgroupsPath": ")" + cp + "\""));
    return oci::cgroup_path_for(c, id);
  };
  CHECK(path("") == "/ward/c1");
  CHECK(oci::cgroup_path_for(oci::Config{}, "abc") == "/ward/abc");  // no linux section
  CHECK(path("/a/b") == "/a/b");
  CHECK(path("/a//b/./c/") == "/a/b/c");
  // ".." stays inside the hierarchy, as runc's CleanPath does.
  CHECK(path("/a/../../../b") == "/b");
  CHECK(path("a/b") == "/a/b");  // relative: from the hierarchy's root (crun)
  // systemd "slice:prefix:name" -> the path systemd gives the unit.
  CHECK(path("system.slice:docker:abc") == "/system.slice/docker-abc.scope");
  CHECK(path("machine.slice:libpod:1f2e") == "/machine.slice/libpod-1f2e.scope");
  CHECK(path("user-1000.slice:libpod:x") == "/user.slice/user-1000.slice/libpod-x.scope");
  CHECK(path("a-b-c.slice:p:n") == "/a.slice/a-b.slice/a-b-c.slice/p-n.scope");
  CHECK(path(":crio:x") == "/system.slice/crio-x.scope");     // empty slice: system.slice
  CHECK(path("system.slice::x") == "/system.slice/x.scope");  // no prefix
  CHECK(path("-.slice:p:n") == "/p-n.scope");                 // the root slice
  CHECK(path("system.slice:p:my-app.slice") == "/my.slice/my-app.slice");  // a slice unit

  auto error = [&](const std::string& cp, std::string_view id = "c1") -> std::string {
    try {
      (void)path(cp, id);
    } catch (const Error& e) {
      CHECK(e.step() == Step::validate);
      return e.object() + ": " + e.detail();
    }
    return "accepted";
  };
  CHECK_THAT(error("/"), Catch::StartsWith("linux.cgroupsPath: ") && Catch::Contains("root"));
  CHECK_THAT(error("/a/.."), Catch::StartsWith("linux.cgroupsPath: "));
  CHECK_THAT(error("system:docker:abc"),
             Catch::StartsWith("linux.cgroupsPath: ") && Catch::Contains("slice"));
  CHECK_THAT(error("a--b.slice:p:n"), Catch::StartsWith("linux.cgroupsPath: "));
  CHECK_THAT(error("system.slice:p:"), Catch::StartsWith("linux.cgroupsPath: "));
  CHECK_THAT(error("", "a/b"), Catch::StartsWith("id: "));
  CHECK_THAT(error("", ".."), Catch::StartsWith("id: "));
  CHECK_THAT(error("", ""), Catch::StartsWith("id: "));
}

// ---------------------------------------------------------------------------
// Conversions
// ---------------------------------------------------------------------------

TEST_CASE("oci_sandbox: cpu shares to weight, blkio weight to io.weight, swap to swap.max") {
  // runc's ConvertCPUSharesToCgroupV2Value: 1 + ((shares - 2) * 9999) / 262142.
  CHECK(oci::cpu_shares_to_weight(0) == 0);  // unset
  CHECK(oci::cpu_shares_to_weight(2) == 1);
  CHECK(oci::cpu_shares_to_weight(1024) == 100);  // v1's default -> v2's default
  CHECK(oci::cpu_shares_to_weight(262144) == 10000);
  CHECK(oci::cpu_shares_to_weight(1) == 1);             // clamped, not wrapped
  CHECK(oci::cpu_shares_to_weight(1u << 30) == 10000);  // clamped
  // runc >= 1.3's quadratic-in-log2 curve (values of its formula).
  CHECK(oci::cpu_shares_to_weight(3) == 2);
  CHECK(oci::cpu_shares_to_weight(100) == 17);
  CHECK(oci::cpu_shares_to_weight(512) == 59);
  CHECK(oci::cpu_shares_to_weight(2048) == 174);
  CHECK(oci::cpu_shares_to_weight(4096) == 303);
  CHECK(oci::cpu_shares_to_weight(100000) == 4340);
  CHECK(oci::cpu_shares_to_weight(262143) == 10000);
  // ConvertBlkIOToIOWeightValue: 1 + (weight - 10) * 9999 / 990.
  CHECK(oci::blkio_weight_to_io_weight(0) == 0);
  CHECK(oci::blkio_weight_to_io_weight(10) == 1);
  CHECK(oci::blkio_weight_to_io_weight(500) == 4950);
  CHECK(oci::blkio_weight_to_io_weight(1000) == 10000);
  CHECK(oci::blkio_weight_to_io_weight(5) == 1);
  // OCI swap is memory+swap; v2's memory.swap.max is swap alone.
  CHECK(oci::memory_swap_to_v2(0, 0) == std::nullopt);
  CHECK(oci::memory_swap_to_v2(0, 1 << 20) == std::nullopt);
  CHECK(oci::memory_swap_to_v2(0, -1) == -1);  // unlimited memory, swap unset: both max
  CHECK(oci::memory_swap_to_v2(-1, 1 << 20) == -1);
  CHECK(oci::memory_swap_to_v2(3 << 20, 1 << 20) == 2 << 20);
  CHECK(oci::memory_swap_to_v2(1 << 20, 1 << 20) == 0);  // no swap at all
  auto swap_error = [](std::int64_t swap, std::int64_t limit) -> std::string {
    try {
      (void)oci::memory_swap_to_v2(swap, limit, "linux.resources.memory.swap");
    } catch (const Error& e) {
      return e.object() + ": " + e.detail();
    }
    return "accepted";
  };
  CHECK_THAT(swap_error(1 << 20, 0),
             Catch::StartsWith("linux.resources.memory.swap: ") && Catch::Contains("memory limit"));
  CHECK_THAT(swap_error(1 << 20, -1), Catch::StartsWith("linux.resources.memory.swap: "));
  CHECK_THAT(swap_error(1 << 20, 2 << 20),
             Catch::StartsWith("linux.resources.memory.swap: ") && Catch::Contains("below"));
}

TEST_CASE("oci_sandbox: apply_resources checks values before it touches the cgroup") {
  // A CgroupV2 that is no cgroup at all: the conversion fails first, and
  // names the field.
  CgroupV2 none;
  oci::Resources r = oci::parse_resources(R"({"memory": {"limit": 1048576, "swap": 1024}})");
  try {
    oci::apply_resources(none, r);
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK(e.step() == Step::validate);
    CHECK(e.object() == "linux.resources.memory.swap");
  }
  // The prefix is the caller's (an update document is not a config).
  oci::ResourcesOptions o;
  o.field = "resources.json";
  try {
    oci::apply_resources(none, r, o);
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK(e.object() == "resources.json.memory.swap");
  }
  // v1-only values: warnings, or errors when strict (before any write).
  r = oci::parse_resources(
      R"({"memory": {"kernel": 1, "swappiness": 10, "disableOOMKiller": true},
          "cpu": {"realtimeRuntime": 5}, "network": {"classID": 1}})");
  std::vector<std::string> w;
  o = {};
  o.warnings = &w;
  o.enable_controllers = false;
  CHECK_NOTHROW(oci::apply_resources(none, r, o));  // nothing to write
  CHECK(contains(w, "linux.resources.memory.kernel: ignored"));
  CHECK(contains(w, "linux.resources.memory.swappiness: ignored"));
  CHECK(contains(w, "linux.resources.memory.disableOOMKiller: ignored"));
  CHECK(contains(w, "linux.resources.cpu.realtimeRuntime: ignored"));
  CHECK(contains(w, "linux.resources.network: ignored"));
  o.strict = true;
  try {
    oci::apply_resources(none, r, o);
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK(e.object() == "linux.resources.memory.kernel");
    CHECK(e.error_number() == EOPNOTSUPP);
    CHECK_THAT(e.detail(), Catch::StartsWith("unsupported"));
  }
}

// ---------------------------------------------------------------------------
// process
// ---------------------------------------------------------------------------

TEST_CASE(
    "oci_sandbox: apparmorProfile, and selinuxLabel where SELinux runs, are errors naming the "
    "field") {
  oci::Process p = oci::parse_process(
      R"({"args": ["/bin/true"], "cwd": "/", "apparmorProfile": "docker-default"})");
  Sandbox sb;
  try {
    oci::apply_process(sb, p);
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK(e.step() == Step::validate);
    CHECK(e.error_number() == EOPNOTSUPP);
    CHECK(e.object() == "process.apparmorProfile");
    CHECK_THAT(e.detail(), Catch::StartsWith("unsupported") && Catch::Contains("AppArmor"));
  }
  p.apparmor_profile.clear();
  p.selinux_label = "system_u:system_r:container_t:s0";
  // SELinux labels: refused where the host runs SELinux (ward cannot apply
  // them), a warning where it does not (nothing would check them; crun and
  // runc's process label do the same).
  const bool selinux = ::access("/sys/fs/selinux/enforce", F_OK) == 0;
  {
    std::vector<std::string> w0;
    oci::ProcessOptions o0;
    o0.warnings = &w0;
    try {
      oci::apply_process(sb, p, o0);
      CHECK_FALSE(selinux);
      CHECK(contains(w0, "process.selinuxLabel: ignored: this host does not run SELinux"));
    } catch (const Error& e) {
      CHECK(selinux);
      CHECK(e.object() == "process.selinuxLabel");
    }
  }
  // ignore_lsm: warnings, and the rest is mapped.
  std::vector<std::string> w;
  oci::ProcessOptions o;
  o.ignore_lsm = true;
  o.warnings = &w;
  o.field = "exec.json";
  REQUIRE_NOTHROW(oci::apply_process(sb, p, o));
  CHECK(contains(w, "exec.json.selinuxLabel: ignored"));
  CHECK(sb.plan().argv() == std::vector<std::string>{"/bin/true"});
  // And through to_sandbox, with linux.mountLabel too.
  Failure f = to_sandbox_error(config({}, R"("mountLabel": "system_u:object_r:x:s0")"));
  if (selinux) {
    CHECK(f.object == "linux.mountLabel");
    CHECK(f.err == EOPNOTSUPP);
  } else {
    CHECK(f.object == "accepted");
  }
  f = to_sandbox_error(config({}, {}, R"("apparmorProfile": "p")"));
  CHECK(f.object == "process.apparmorProfile");
  oci::ToSandboxOptions so;
  so.ignore_lsm = true;
  CHECK(to_sandbox_error(config({}, R"("mountLabel": "x")", R"("apparmorProfile": "p")"), so)
            .object == "accepted");
}

TEST_CASE("oci_sandbox: process fields ward cannot express are errors naming them") {
  auto err = [](const std::string& process_extra) {
    Failure f = to_sandbox_error(config({}, {}, process_extra));
    return f.object + ": " + f.detail;
  };
  // SCHED_DEADLINE and scheduler flags go through sched_setattr(2).
  CHECK_THAT(err(R"("scheduler": {"policy": "SCHED_DEADLINE", "runtime": 1000, "deadline": 2000})"),
             Catch::StartsWith("accepted"));
  CHECK_THAT(
      err(R"("scheduler": {"policy": "SCHED_OTHER", "flags": ["SCHED_FLAG_RESET_ON_FORK"]})"),
      Catch::StartsWith("accepted"));
  CHECK_THAT(err(R"("scheduler": {"policy": "SCHED_ISO"})"),
             Catch::StartsWith("process.scheduler.policy: unsupported"));
  // Capability sets the kernel would refuse name the set.
  CHECK_THAT(err(R"("capabilities": {"bounding": ["CAP_KILL"], "permitted": ["CAP_KILL"],
                                     "effective": ["CAP_KILL", "CAP_CHOWN"]})"),
             Catch::StartsWith("process.capabilities (capabilities.effective)") &&
                 Catch::Contains("CAP_CHOWN"));
  CHECK_THAT(err(R"("execCPUAffinity": {"initial": "0-1"})"), Catch::StartsWith("accepted"));
}

TEST_CASE("oci_sandbox: ambient capabilities that cannot be raised are dropped with a warning") {
  std::vector<std::string> w;
  oci::ProcessOptions o;
  o.warnings = &w;
  oci::Process p = oci::parse_process(R"({"args": ["/bin/true"], "cwd": "/",
      "capabilities": {"bounding": ["CAP_KILL", "CAP_CHOWN"], "permitted": ["CAP_KILL", "CAP_CHOWN"],
                       "effective": ["CAP_KILL", "CAP_CHOWN"], "inheritable": ["CAP_KILL"],
                       "ambient": ["CAP_KILL", "CAP_CHOWN"]}})");
  Sandbox sb;
  REQUIRE_NOTHROW(oci::apply_process(sb, p, o));
  REQUIRE(w.size() == 1);
  CHECK_THAT(w[0], Catch::StartsWith("process.capabilities.ambient: not raised") &&
                       Catch::Contains("CAP_CHOWN") && !Catch::Contains("CAP_KILL"));
  // A non-root user keeps across execve only what is ambient: the effective
  // set is cut to it, so the Sandbox accepts the set.
  p.user.uid = 1000;
  p.user.gid = 1000;
  w.clear();
  REQUIRE_NOTHROW(oci::apply_process(sb, p, o));
  CHECK_NOTHROW(sb.plan());
}

// ---------------------------------------------------------------------------
// The whole config
// ---------------------------------------------------------------------------

TEST_CASE("oci_sandbox: every spec fixture maps onto a Sandbox that plans") {
  const char* names[] = {"runc-1.1.5-spec.json", "runc-1.1.5-spec-rootless.json",
                         "crun-1.8.1-spec.json"};
  int mapped = 0;
  for (const char* name : names) {
    if (!fs::exists(fixture(name))) continue;
    INFO(name);
    oci::Config cfg = oci::load_config(fixture(name));
    // The fixtures' root is "rootfs", relative to the bundle.
    ward_test::ScratchDir bundle("bundle");
    ::mkdir((bundle / "rootfs").c_str(), 0755);
    std::vector<std::string> w;
    oci::ToSandboxOptions o;
    o.warnings = &w;
    Sandbox sb = oci::to_sandbox(cfg, bundle.path, o);
    Plan plan = sb.plan();
    CHECK(plan.argv() == std::vector<std::string>{"sh"});
    // process.env, and HOME as runc adds it (no etc/passwd in this rootfs: "/").
    std::vector<std::string> env = cfg.process->env;
    env.push_back("HOME=/");
    CHECK(plan.env() == env);
    // "sh" is looked up in the config's PATH.
    REQUIRE_FALSE(plan.exec_candidates().empty());
    CHECK(plan.exec_candidates().front() == "/usr/local/sbin/sh");
    std::uint64_t want = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
    want |= cfg.has_namespace(oci::NamespaceType::user) ? CLONE_NEWUSER : CLONE_NEWNET;
    CHECK(plan.clone_flags() == want);
    // runc's spec asks for ambient capabilities it leaves out of
    // inheritable: the kernel cannot raise them.
    CHECK(contains(w, "process.capabilities.ambient: not raised"));
    ++mapped;
  }
  if (mapped == 0) WARD_SKIP("no spec fixtures in " WARD_FIXTURES_DIR);
}

TEST_CASE("oci_sandbox: root.path and bind sources are relative to the bundle") {
  ward_test::ScratchDir bundle("bundle");
  // No rootfs directory in this bundle: plan() says which path it looked at.
  oci::Config cfg = oci::parse_config(config());
  Sandbox sb = oci::to_sandbox(cfg, bundle.path);
  try {
    (void)sb.plan();
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK(e.step() == Step::rootfs);
    CHECK(e.object() == bundle.path + "/rootfs");
  }
  ::mkdir((bundle / "rootfs").c_str(), 0755);
  CHECK_NOTHROW(oci::to_sandbox(cfg, bundle.path).plan());
  // A bind source that is not there is reported with its bundle path.
  cfg = oci::parse_config(
      config(R"("mounts": [{"destination": "/data", "type": "bind", "source": "data"}])"));
  try {
    (void)oci::to_sandbox(cfg, bundle.path).plan();
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK(e.error_number() == ENOENT);
    CHECK(e.object() == bundle.path + "/data");
  }
  ::mkdir((bundle / "data").c_str(), 0755);
  CHECK_NOTHROW(oci::to_sandbox(cfg, bundle.path).plan());
}

TEST_CASE("oci_sandbox: config fields ward cannot map are errors naming them") {
  auto err = [](const std::string& text) {
    Failure f = to_sandbox_error(text);
    return f.object + ": " + f.detail;
  };
  // No mount namespace and nothing to mount: the container chroots into
  // root.path in the runtime's (runtime-spec: an absent type is inherited).
  CHECK_THAT(err(R"({"ociVersion": "1.2.0", "root": {"path": "rootfs"},
                     "process": {"args": ["sh"], "cwd": "/"}})"),
             Catch::StartsWith("accepted"));
  CHECK_THAT(err(R"({"ociVersion": "1.2.0", "root": {"path": "rootfs"}})"),
             Catch::StartsWith("process: "));
  CHECK_THAT(err(R"({"ociVersion": "1.2.0", "root": {"path": "rootfs"},
                     "process": {"args": ["sh"], "cwd": "/"},
                     "linux": {"namespaces": [{"type": "mount", "path": "/proc/self/ns/mnt"}]}})"),
             Catch::StartsWith("accepted"));
  CHECK_THAT(err(config(R"("mounts": [{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"},
                                       {"destination": "/run", "type": "tmpfs",
                                        "options": ["tmpcopyup"]}])")),
             Catch::StartsWith("mounts[1].options: unsupported") && Catch::Contains("tmpcopyup"));
  CHECK_THAT(err(config(R"("mounts": [{"destination": "/x", "type": "tmpfs",
                                        "options": ["remount"]}])")),
             Catch::StartsWith("mounts[0].options: unsupported"));
  CHECK_THAT(err(config(R"("mounts": [{"destination": "/x", "source": "/tmp"}])")),
             Catch::StartsWith("mounts[0].type: "));
  CHECK_THAT(err(config({}, R"("devices": [{"type": "c", "path": "/dev/x", "major": 1,
                                             "minor": 3, "uid": 1000}])")),
             Catch::StartsWith("accepted"));  // the node is chowned to it
  CHECK_THAT(err(config({}, R"("devices": [{"type": "c", "path": "/dev/x", "major": 4096,
                                             "minor": 3}])")),
             Catch::StartsWith("linux.devices[0].major: "));
  CHECK_THAT(err(config({}, R"("intelRdt": {"closID": "g1"})")),
             Catch::StartsWith("linux.intelRdt: unsupported"));
  CHECK_THAT(err(config({}, R"("namespaces": [{"type": "mount"}, {"type": "network",
                                                "path": "/no/such/netns"}])")),
             Catch::StartsWith("linux.namespaces[1].path (/no/such/netns)"));
}

TEST_CASE("oci_sandbox: namespaces, joins, time offsets and the no_pivot option map") {
  ward_test::ScratchDir bundle("bundle");
  ::mkdir((bundle / "rootfs").c_str(), 0755);
  auto plan = [&](const std::string& text, const oci::ToSandboxOptions& o = {}) {
    return oci::to_sandbox(oci::parse_config(text), bundle.path, o).plan();
  };
  // Created: in clone3's flags.
  Plan p = plan(config({}, R"("namespaces": [{"type": "mount"}, {"type": "uts"},
                                             {"type": "ipc"}, {"type": "cgroup"}])"));
  CHECK(p.clone_flags() == (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP));
  // A join: the child joins first and unshares the rest (no clone flags).
  p = plan(config({}, R"("namespaces": [{"type": "mount"},
                                        {"type": "network", "path": "/proc/self/ns/net"}])"));
  CHECK(p.clone_flags() == 0);
  // A pid namespace joined by path: two stages, so the program is in it.
  p = plan(config({}, R"("namespaces": [{"type": "mount"},
                                        {"type": "pid", "path": "/proc/self/ns/pid"}])"));
  CHECK(p.two_stage());
  // A time namespace with offsets: fork mode (a shared mm cannot enter one).
  p = plan(config({}, R"("namespaces": [{"type": "mount"}, {"type": "time"}],
                         "timeOffsets": {"monotonic": {"secs": 86400, "nanosecs": 5},
                                         "boottime": {"secs": -10}})"));
  CHECK(p.fork_mode());
  CHECK_NOTHROW(plan(config(), [] {
    oci::ToSandboxOptions o;
    o.no_pivot = true;
    return o;
  }()));
  // hostname needs uts: the parser refuses it without one; with it, fine.
  CHECK_NOTHROW(plan(config(R"("hostname": "box", "domainname": "example")",
                            R"("namespaces": [{"type": "mount"}, {"type": "uts"}])")));
  // A sysctl of a namespace the config does not create is refused at
  // plan(), naming it.
  try {
    (void)plan(config({}, R"("sysctl": {"net.ipv4.ip_forward": "1"})"));
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK_THAT(e.object(), Catch::Contains("net.ipv4.ip_forward"));
  }
}

TEST_CASE("oci_sandbox: seccomp without noNewPrivileges and without CAP_SYS_ADMIN goes on early") {
  ward_test::ScratchDir bundle("bundle");
  ::mkdir((bundle / "rootfs").c_str(), 0755);
  const std::string seccomp =
      R"("seccomp": {"defaultAction": "SCMP_ACT_ALLOW",
                     "syscalls": [{"names": ["chmod", "fchmodat"], "action": "SCMP_ACT_ERRNO"}]})";
  std::vector<std::string> w;
  oci::ToSandboxOptions o;
  o.warnings = &w;
  // Docker's usual combination: no CAP_SYS_ADMIN, noNewPrivileges false.
  oci::Config cfg = oci::parse_config(config({}, seccomp, R"("capabilities": {
      "bounding": ["CAP_KILL"], "permitted": ["CAP_KILL"], "effective": ["CAP_KILL"]})"));
  CHECK_NOTHROW(oci::to_sandbox(cfg, bundle.path, o).plan());
  CHECK(w.empty());  // before the credentials change, without no_new_privs (as runc)
  // SCMP_ACT_NOTIFY rules need the filter installed last: no_new_privs
  // is set after all, and said.
  oci::Config notify = oci::parse_config(
      config({},
             R"("seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock",
                     "syscalls": [{"names": ["chmod"], "action": "SCMP_ACT_NOTIFY"}]})",
             R"("capabilities": {"bounding": ["CAP_KILL"], "permitted": ["CAP_KILL"],
                          "effective": ["CAP_KILL"]})"));
  CHECK_NOTHROW(oci::to_sandbox(notify, bundle.path, o).plan());
  CHECK(contains(w, "process.noNewPrivileges: set anyway"));
  // With CAP_SYS_ADMIN the filter can go on last without it: no note.
  w.clear();
  w.clear();
  cfg = oci::parse_config(config({}, seccomp, R"("capabilities": {
      "bounding": ["CAP_SYS_ADMIN"], "permitted": ["CAP_SYS_ADMIN"],
      "effective": ["CAP_SYS_ADMIN"]})"));
  CHECK_NOTHROW(oci::to_sandbox(cfg, bundle.path, o).plan());
  CHECK(w.empty());
}

// ---------------------------------------------------------------------------
// The cgroup v1 view of a "cgroup" mount (v1_view), on host layouts this
// machine does not have: co-mounted controllers, a mount point named
// otherwise, a hierarchy mounted below its root.
// ---------------------------------------------------------------------------

TEST_CASE("oci_sandbox: cgroup v1 view: directories named as runc names them, links, sources") {
  // A RHEL 8 style host: cpu,cpuacct and net_cls,net_prio co-mounted, plus
  // name=systemd, and a memory hierarchy whose mount shows a subtree only.
  const std::string mi =
      "30 24 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec - tmpfs tmpfs ro,mode=755\n"
      "31 30 0:27 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
      "32 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
      "33 30 0:29 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio\n"
      "34 30 0:30 /sub /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
      "35 30 0:31 / /sys/fs/cgroup/blk rw - cgroup cgroup rw,blkio\n";
  const CgroupHost host = cgroup_parse::host_from_mountinfo(mi);
  REQUIRE(host.mode == CgroupMode::v1_only);
  const std::string self =
      "5:blkio:/b\n4:memory:/sub/m\n3:net_cls,net_prio:/n\n2:cpu,cpuacct:/c\n1:name=systemd:/s\n";
  namespace mp = oci::detail::mapping;

  // The container's cgroup given: the same path below every mount.
  auto v = mp::v1_view(host, "mounts[0].type", "/ward/x", self);
  REQUIRE(v.size() == 4);  // no systemd: ward has no cgroup of the container's there
  CHECK(v[0].dir == "cpu,cpuacct");
  CHECK(v[0].source == "/sys/fs/cgroup/cpu,cpuacct/ward/x");
  CHECK(v[0].controllers == std::vector<std::string>{"cpu", "cpuacct"});
  CHECK(v[0].links == std::vector<std::string>{"cpu", "cpuacct"});
  CHECK(v[1].dir == "net_cls,net_prio");
  CHECK(v[1].links == std::vector<std::string>{"net_cls", "net_prio"});
  CHECK(v[2].dir == "memory");
  CHECK(v[2].source == "/sys/fs/cgroup/memory/ward/x");
  CHECK(v[2].links.empty());
  // Named after the mount point (runc's filepath.Base), with a link for
  // the controller it holds.
  CHECK(v[3].dir == "blk");
  CHECK(v[3].links == std::vector<std::string>{"blkio"});

  // None given: the caller's own, relative to what each mount shows.
  v = mp::v1_view(host, "mounts[0].type", "", self);
  CHECK(v[0].source == "/sys/fs/cgroup/cpu,cpuacct/c");
  CHECK(v[2].source == "/sys/fs/cgroup/memory/m");
  CHECK(v[3].source == "/sys/fs/cgroup/blk/b");
  // A caller outside what a mount shows: an error naming the field.
  CHECK_THROWS_WITH(
      mp::v1_view(host, "mounts[0].type", "",
                  "5:blkio:/b\n4:memory:/elsewhere\n3:net_cls,net_prio:/n\n2:cpu,cpuacct:/c\n"),
      Catch::Contains("mounts[0].type") && Catch::Contains("/sys/fs/cgroup/memory") &&
          Catch::Contains("(root /sub)"));
  // A path that climbs out is refused, never normalized away.
  CHECK_THROWS_WITH(mp::v1_view(host, "f", "/ward/../../etc", self),
                    Catch::Contains("cgroup_path") && Catch::Contains(".."));
}

TEST_CASE(
    "oci_sandbox: a cgroup mount plans the view of this host: v1 tmpfs and hierarchies, "
    "or cgroup2") {
  fs::path rootfs = fs::temp_directory_path() / ("ward-cgview-" + std::to_string(::getpid()));
  fs::create_directories(rootfs);
  oci::Config cfg = oci::parse_config(config(
      R"("mounts": [{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
          "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}])"));
  cfg.root.path = rootfs.string();
  // Planned without spawning: the steps say what the child would do.
  oci::ToSandboxOptions o;
  Sandbox sb = oci::to_sandbox(cfg, rootfs, o);
  auto plan = sb.plan();
  std::vector<std::string> steps;
  for (const auto& s : detail::plan_data(plan).mount_steps) {
    steps.push_back(std::to_string(s.op) + " " + s.target + " " +
                    (s.fstype != nullptr   ? s.fstype
                     : s.source != nullptr ? s.source
                                           : ""));
  }
  std::string all;
  for (auto& s : steps) all += s + "\n";
  INFO(all);
  if (oci::detail::mapping::host_has_v1_hierarchies()) {
    REQUIRE(!steps.empty());
    CHECK(steps.front() == "1 sys/fs/cgroup tmpfs");
    for (const auto& h : cgroup_host().v1_hierarchies) {
      // Without a cgroup namespace: the caller's own cgroup of it, bound.
      const std::string name = fs::path(h.mount).filename().string();
      CHECK_THAT(all, Catch::Contains("0 sys/fs/cgroup/" + name + " " + h.mount));
    }
    // The tmpfs is made read-only last, once its directories exist.
    CHECK(steps.back() == "7 sys/fs/cgroup ");
  } else {
    // Today's cgroup2 view: the host's cgroup2 mount, bound.
    REQUIRE(!steps.empty());
    CHECK(steps.front() == "0 sys/fs/cgroup " + cgroup_host().unified_mount);
  }
  fs::remove_all(rootfs);
}
