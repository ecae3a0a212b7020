// SPDX-License-Identifier: Apache-2.0
// ward/oci.hpp: config.json (runtime-spec 1.0 to 1.2) into oci::Config, with
// errors that name the JSON path; mount option strings; the state document;
// the features document. The runc and crun fixtures in WARD_FIXTURES_DIR.
#include <sys/resource.h>

#include <filesystem>
#include <string>
#include <vector>

#include <ward/oci/config.hpp>
#include <ward/oci/json.hpp>

#include <catch2/catch.hpp>

#include "test_util.hpp"

using namespace ward;
using namespace ward::oci;
namespace json = ward::json;
namespace fs = std::filesystem;

namespace {

fs::path fixture(const char* name) { return fs::path(WARD_FIXTURES_DIR) / name; }

// A minimal valid config with `extra` members spliced into the top level.
std::string config_with(const std::string& extra, const std::string& version = "1.2.0") {
  std::string s = R"({"ociVersion": ")" + version + R"(", "root": {"path": "rootfs"})";
  if (!extra.empty()) s += ", " + extra;
  return s + "}";
}

// The FieldError detail ("<path>: <reason>") for `text`, or "accepted".
std::string error_of(const std::string& text) {
  try {
    (void)parse_config(text);
  } catch (const json::FieldError& e) {
    return e.detail();
  } catch (const Error& e) {
    return std::string("other error: ") + e.what();
  }
  return "accepted";
}

const char* kProcess = R"("process": {"args": ["sh"], "cwd": "/")";

}  // namespace

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

TEST_CASE("oci: runc spec fixture loads with every field") {
  if (!fs::exists(fixture("runc-1.1.5-spec.json")))
    WARD_SKIP("fixture " << fixture("runc-1.1.5-spec.json") << " is absent");
  const Config c = load_config(fixture("runc-1.1.5-spec.json"));
  CHECK(c.oci_version == "1.0.2-dev");
  CHECK(c.warnings.empty());
  CHECK(c.source == fixture("runc-1.1.5-spec.json").string());
  CHECK(c.root.path == "rootfs");
  CHECK(c.root.readonly);
  CHECK(c.hostname == "runc");
  CHECK(c.domainname.empty());
  CHECK(c.annotations.empty());
  CHECK(c.hooks.empty());

  REQUIRE(c.process);
  const Process& p = *c.process;
  CHECK(p.terminal);
  CHECK_FALSE(p.console_size);
  CHECK(p.user.uid == 0);
  CHECK(p.user.gid == 0);
  CHECK_FALSE(p.user.umask);
  CHECK(p.args == std::vector<std::string>{"sh"});
  CHECK(p.env ==
        std::vector<std::string>{
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"});
  CHECK(p.cwd == "/");
  REQUIRE(p.capabilities);
  const std::vector<std::string> three{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  CHECK(p.capabilities->bounding == three);
  CHECK(p.capabilities->effective == three);
  CHECK(p.capabilities->permitted == three);
  CHECK(p.capabilities->ambient == three);
  CHECK(p.capabilities->inheritable.empty());
  REQUIRE(p.rlimits.size() == 1);
  CHECK(p.rlimits[0].type == "RLIMIT_NOFILE");
  CHECK(p.rlimits[0].resource == RLIMIT_NOFILE);
  CHECK(p.rlimits[0].soft == 1024);
  CHECK(p.rlimits[0].hard == 1024);
  CHECK(p.no_new_privileges);
  CHECK_FALSE(p.oom_score_adj);

  REQUIRE(c.mounts.size() == 7);
  CHECK(c.mounts[0].destination == "/proc");
  CHECK(c.mounts[0].type == "proc");
  CHECK(c.mounts[0].source == "proc");
  CHECK(c.mounts[0].options.empty());
  CHECK(c.mounts[1].destination == "/dev");
  CHECK(c.mounts[1].options ==
        std::vector<std::string>{"nosuid", "strictatime", "mode=755", "size=65536k"});
  const MountOptions dev = c.mounts[1].parsed_options();
  CHECK(dev.set == MountFlags{MountFlag::nosuid});
  CHECK(dev.atime == Atime::strictatime);
  CHECK(dev.data_string() == "mode=755,size=65536k");
  CHECK_FALSE(dev.bind);
  const MountOptions pts = c.mounts[2].parsed_options();
  CHECK(pts.set == MountFlags{MountFlag::nosuid, MountFlag::noexec});
  CHECK(pts.data == std::vector<std::string>{"newinstance", "ptmxmode=0666", "mode=0620", "gid=5"});
  CHECK(c.mounts[5].destination == "/sys");
  CHECK(c.mounts[5].parsed_options().set ==
        MountFlags{MountFlag::nosuid, MountFlag::noexec, MountFlag::nodev, MountFlag::ro});
  CHECK(c.mounts[6].destination == "/sys/fs/cgroup");
  CHECK(c.mounts[6].type == "cgroup");
  CHECK(c.mounts[6].parsed_options().atime == Atime::relatime);

  REQUIRE(c.linux_);
  const Linux& l = *c.linux_;
  REQUIRE(l.namespaces.size() == 5);
  CHECK(l.namespaces[0].type == NamespaceType::pid);
  CHECK(l.namespaces[1].type == NamespaceType::network);
  CHECK(l.namespaces[4].type == NamespaceType::mount);
  CHECK(l.namespaces[0].path.empty());
  CHECK(c.has_namespace(NamespaceType::uts));
  CHECK_FALSE(c.has_namespace(NamespaceType::user));
  CHECK(l.uid_mappings.empty());
  REQUIRE(l.resources);
  REQUIRE(l.resources->devices.size() == 1);
  CHECK_FALSE(l.resources->devices[0].allow);
  CHECK(l.resources->devices[0].type == 'a');
  CHECK_FALSE(l.resources->devices[0].major);
  CHECK(l.resources->devices[0].access == "rwm");
  CHECK_FALSE(l.resources->memory);
  CHECK(l.masked_paths.size() == 10);
  CHECK(l.masked_paths.front() == "/proc/acpi");
  CHECK(l.masked_paths.back() == "/proc/scsi");
  CHECK(l.readonly_paths == std::vector<std::string>{"/proc/bus", "/proc/fs", "/proc/irq",
                                                     "/proc/sys", "/proc/sysrq-trigger"});
  CHECK_FALSE(l.seccomp);
  CHECK_FALSE(seccomp_profile(c));
  CHECK(unsupported(c).empty());
}

TEST_CASE("oci: runc rootless spec fixture: user namespace, mappings, rbind /sys") {
  if (!fs::exists(fixture("runc-1.1.5-spec-rootless.json")))
    WARD_SKIP("fixture " << fixture("runc-1.1.5-spec-rootless.json") << " is absent");
  const Config c = load_config(fixture("runc-1.1.5-spec-rootless.json"));
  REQUIRE(c.linux_);
  CHECK(c.has_namespace(NamespaceType::user));
  CHECK_FALSE(c.has_namespace(NamespaceType::network));
  REQUIRE(c.linux_->namespaces.size() == 5);
  CHECK(c.linux_->namespaces.back().type == NamespaceType::user);
  CHECK(c.linux_->uid_mappings == std::vector<IdMapping>{{0, 0, 1}});
  CHECK(c.linux_->gid_mappings == std::vector<IdMapping>{{0, 0, 1}});
  CHECK_FALSE(c.linux_->resources);
  REQUIRE(c.mounts.size() == 7);
  const Mount& sys = c.mounts[5];
  CHECK(sys.destination == "/sys");
  CHECK(sys.type == "none");
  CHECK(sys.source == "/sys");
  const MountOptions o = sys.parsed_options();
  CHECK(o.bind);
  CHECK(o.recursive);
  CHECK(o.set.contains(MountFlag::ro));
  CHECK(o.data.empty());
  // The devpts mount has no gid=5 here (no group 5 is mapped).
  CHECK(c.mounts[2].parsed_options().data ==
        std::vector<std::string>{"newinstance", "ptmxmode=0666", "mode=0620"});
}

TEST_CASE("oci: crun spec fixture loads") {
  if (!fs::exists(fixture("crun-1.8.1-spec.json")))
    WARD_SKIP("fixture " << fixture("crun-1.8.1-spec.json") << " is absent");
  const Config c = load_config(fixture("crun-1.8.1-spec.json"));
  CHECK(c.oci_version == "1.0.0");
  CHECK(c.hostname == "crun");
  REQUIRE(c.process);
  REQUIRE(c.process->capabilities);
  // crun writes an empty inheritable set, runc leaves it out: same value.
  CHECK(c.process->capabilities->inheritable.empty());
  CHECK(c.process->capabilities->bounding.size() == 3);
  CHECK(c.mounts.size() == 7);
  REQUIRE(c.linux_);
  CHECK(c.linux_->namespaces.size() == 5);
  CHECK(c.linux_->masked_paths.size() == 10);
  CHECK(c.warnings.empty());
}

TEST_CASE("oci: every fixture that is a config loads") {
  if (!fs::is_directory(WARD_FIXTURES_DIR)) WARD_SKIP("no fixtures directory " WARD_FIXTURES_DIR);
  int loaded = 0;
  for (const auto& e : fs::directory_iterator(WARD_FIXTURES_DIR)) {
    const std::string name = e.path().filename().string();
    if (name.find("-spec") == std::string::npos || e.path().extension() != ".json") continue;
    INFO(name);
    CHECK_NOTHROW(load_config(e.path()));
    ++loaded;
  }
  CHECK(loaded >= 3);
}

// ---------------------------------------------------------------------------
// Every section, with exact values
// ---------------------------------------------------------------------------

TEST_CASE("oci: a full 1.2 config keeps every value exactly") {
  const std::string text = R"({
    "ociVersion": "1.2.1",
    "root": {"path": "/var/lib/rootfs"},
    "hostname": "box", "domainname": "example.test",
    "process": {
      "terminal": true, "consoleSize": {"height": 25, "width": 80},
      "user": {"uid": 1000, "gid": 1001, "umask": 18, "additionalGids": [5, 4294967295]},
      "args": ["/bin/app", "--flag"], "env": ["A=1", "EMPTY="], "cwd": "/work",
      "capabilities": {"bounding": ["CAP_CHOWN", "CAP_CHECKPOINT_RESTORE"], "ambient": []},
      "rlimits": [{"type": "RLIMIT_CORE", "soft": 0, "hard": 18446744073709551615},
                  {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096}],
      "noNewPrivileges": true, "oomScoreAdj": -1000,
      "scheduler": {"policy": "SCHED_FIFO", "priority": 10, "flags": ["SCHED_FLAG_RESET_ON_FORK"]},
      "ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 7},
      "execCPUAffinity": {"initial": "7", "final": "0-3,7"},
      "apparmorProfile": "acme", "selinuxLabel": "system_u:system_r:container_t:s0",
      "someFutureField": {"x": [1, 2, 3]}
    },
    "mounts": [
      {"destination": "/data", "type": "none", "source": "/volumes/data",
       "options": ["rbind", "rw", "idmap"],
       "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
       "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]}
    ],
    "hooks": {
      "createRuntime": [{"path": "/usr/bin/netns-hook", "args": ["netns-hook", "up"],
                         "env": ["X=1"], "timeout": 5}],
      "poststop": [{"path": "/bin/cleanup"}]
    },
    "annotations": {"com.example.key": "value", "org.opencontainers.image.os": "linux"},
    "linux": {
      "namespaces": [{"type": "pid"}, {"type": "network", "path": "/var/run/netns/blue"},
                     {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "user"},
                     {"type": "cgroup"}, {"type": "time"}],
      "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 32000}],
      "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 32000}],
      "timeOffsets": {"monotonic": {"secs": -86400, "nanosecs": 5}, "boottime": {"secs": 3600}},
      "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438,
                   "uid": 0, "gid": 0},
                  {"path": "/dev/fifo", "type": "p"}],
      "cgroupsPath": "/myRuntime/myContainer",
      "resources": {
        "devices": [{"allow": false, "access": "rwm"},
                    {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"}],
        "memory": {"limit": 9223372036854775807, "reservation": 536870912, "swap": -1,
                   "disableOOMKiller": false, "checkBeforeUpdate": true},
        "cpu": {"shares": 1024, "quota": 1000000, "burst": 1000000, "period": 500000,
                "cpus": "2-3", "mems": "0-7", "idle": 0},
        "pids": {"limit": 32771},
        "blockIO": {"weight": 10,
                    "weightDevice": [{"major": 8, "minor": 0, "weight": 500}],
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 600}],
                    "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 300}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 9223372036854772000}],
        "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
        "unified": {"memory.high": "1073741824", "io.max": "8:0 rbps=1024"}
      },
      "sysctl": {"net.ipv4.ip_forward": "1", "net/ipv4/conf/eth0.1/forwarding": "0"},
      "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
                  "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                  "syscalls": [{"names": ["getcwd", "chmod"], "action": "SCMP_ACT_ALLOW"},
                               {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                                "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]},
      "rootfsPropagation": "rslave",
      "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"],
      "mountLabel": "system_u:object_r:container_file_t:s0",
      "personality": {"domain": "LINUX32"},
      "intelRdt": {"closID": "guaranteed_group", "memBwSchema": "MB:0=20;1=70"}
    }
  })";
  const Config c = parse_config(text);
  CHECK(c.oci_version == "1.2.1");
  CHECK(c.warnings.empty());
  CHECK(c.root.path == "/var/lib/rootfs");
  CHECK_FALSE(c.root.readonly);
  CHECK(c.domainname == "example.test");

  REQUIRE(c.process);
  const Process& p = *c.process;
  REQUIRE(p.console_size);
  CHECK(p.console_size->height == 25);
  CHECK(p.console_size->width == 80);
  CHECK(p.user.uid == 1000);
  CHECK(p.user.gid == 1001);
  CHECK(p.user.umask == 022u);
  CHECK(p.user.additional_gids == std::vector<std::uint32_t>{5, 4294967295u});
  CHECK(p.args == std::vector<std::string>{"/bin/app", "--flag"});
  CHECK(p.env == std::vector<std::string>{"A=1", "EMPTY="});
  CHECK(p.cwd == "/work");
  REQUIRE(p.capabilities);
  CHECK(p.capabilities->bounding ==
        std::vector<std::string>{"CAP_CHOWN", "CAP_CHECKPOINT_RESTORE"});
  CHECK(p.capabilities->effective.empty());
  REQUIRE(p.rlimits.size() == 2);
  CHECK(p.rlimits[0].resource == RLIMIT_CORE);
  CHECK(p.rlimits[0].soft == 0);
  CHECK(p.rlimits[0].hard == RLIM_INFINITY);
  CHECK(p.rlimits[1].hard == 4096);
  CHECK(p.oom_score_adj == -1000);
  REQUIRE(p.scheduler);
  CHECK(p.scheduler->policy == SchedPolicy::fifo);
  CHECK(static_cast<int>(p.scheduler->policy) == SCHED_FIFO);
  CHECK(p.scheduler->priority == 10);
  CHECK(p.scheduler->flags == 1);
  REQUIRE(p.io_priority);
  CHECK(p.io_priority->io_class == IoPriorityClass::idle);
  CHECK(p.io_priority->priority == 7);
  REQUIRE(p.exec_cpu_affinity);
  CHECK(p.exec_cpu_affinity->initial == "7");
  CHECK(parse_cpu_list(p.exec_cpu_affinity->final_) == std::vector<unsigned>{0, 1, 2, 3, 7});
  CHECK(p.apparmor_profile == "acme");

  REQUIRE(c.mounts.size() == 1);
  const Mount& m = c.mounts[0];
  CHECK(m.uid_mappings == std::vector<IdMapping>{{0, 100000, 65536}});
  CHECK(m.gid_mappings == m.uid_mappings);
  const MountOptions mo = m.parsed_options();
  CHECK(mo.bind);
  CHECK(mo.recursive);
  CHECK(mo.idmap);
  CHECK_FALSE(mo.idmap_recursive);
  CHECK(mo.clear == MountFlags{MountFlag::ro});

  REQUIRE(c.hooks.create_runtime.size() == 1);
  CHECK(c.hooks.create_runtime[0].path == "/usr/bin/netns-hook");
  CHECK(c.hooks.create_runtime[0].args == std::vector<std::string>{"netns-hook", "up"});
  CHECK(c.hooks.create_runtime[0].env == std::vector<std::string>{"X=1"});
  CHECK(c.hooks.create_runtime[0].timeout == 5);
  REQUIRE(c.hooks.poststop.size() == 1);
  CHECK_FALSE(c.hooks.poststop[0].timeout);
  CHECK(c.hooks.prestart.empty());
  CHECK(c.annotations.at("com.example.key") == "value");
  CHECK(c.annotations.size() == 2);

  REQUIRE(c.linux_);
  const Linux& l = *c.linux_;
  CHECK(l.namespaces.size() == 8);
  REQUIRE(l.find_namespace(NamespaceType::network));
  CHECK(l.find_namespace(NamespaceType::network)->path == "/var/run/netns/blue");
  CHECK(l.find_namespace(NamespaceType::time)->path.empty());
  CHECK(l.uid_mappings == std::vector<IdMapping>{{0, 1000, 32000}});
  CHECK(l.time_offsets.at("monotonic").secs == -86400);
  CHECK(l.time_offsets.at("monotonic").nanosecs == 5);
  CHECK(l.time_offsets.at("boottime").secs == 3600);
  REQUIRE(l.devices.size() == 2);
  CHECK(l.devices[0].type == 'c');
  CHECK(l.devices[0].major == 10);
  CHECK(l.devices[0].minor == 229);
  CHECK(l.devices[0].file_mode == 0666u);
  CHECK(l.devices[1].type == 'p');
  CHECK_FALSE(l.devices[1].file_mode);
  CHECK(l.cgroups_path == "/myRuntime/myContainer");

  REQUIRE(l.resources);
  const Resources& r = *l.resources;
  REQUIRE(r.devices.size() == 2);
  CHECK(r.devices[1].allow);
  CHECK(r.devices[1].type == 'c');
  CHECK(r.devices[1].major == 10);
  CHECK(r.devices[1].access == "rw");
  REQUIRE(r.memory);
  CHECK(r.memory->limit == INT64_MAX);
  CHECK(r.memory->reservation == 536870912);
  CHECK(r.memory->swap == -1);
  CHECK_FALSE(r.memory->kernel);
  CHECK(r.memory->disable_oom_killer == false);
  CHECK(r.memory->check_before_update == true);
  CHECK_FALSE(r.memory->use_hierarchy);
  REQUIRE(r.cpu);
  CHECK(r.cpu->shares == 1024u);
  CHECK(r.cpu->quota == 1000000);
  CHECK(r.cpu->period == 500000u);
  CHECK(r.cpu->cpus == "2-3");
  CHECK(r.cpu->mems == "0-7");
  CHECK(r.cpu->idle == 0);
  REQUIRE(r.pids);
  CHECK(r.pids->limit == 32771);
  REQUIRE(r.block_io);
  CHECK(r.block_io->weight == 10);
  REQUIRE(r.block_io->weight_device.size() == 1);
  CHECK(r.block_io->weight_device[0].weight == 500);
  CHECK(r.block_io->throttle_read_bps_device[0].rate == 600);
  CHECK(r.block_io->throttle_write_iops_device[0].minor == 16);
  CHECK(r.block_io->throttle_write_bps_device.empty());
  REQUIRE(r.hugepage_limits.size() == 1);
  CHECK(r.hugepage_limits[0].page_size == "2MB");
  CHECK(r.hugepage_limits[0].limit == 9223372036854772000u);
  CHECK(r.rdma.at("mlx5_1").hca_handles == 3u);
  CHECK(r.unified.at("io.max") == "8:0 rbps=1024");
  CHECK(l.sysctl.at("net/ipv4/conf/eth0.1/forwarding") == "0");

  REQUIRE(l.seccomp);
  auto prof = seccomp_profile(c);
  REQUIRE(prof);
  CHECK(prof->warnings.empty());
  CHECK_NOTHROW(prof->filter.compile());
  REQUIRE(l.rootfs_propagation);
  CHECK(l.rootfs_propagation->type == Propagation::slave);
  CHECK(l.rootfs_propagation->recursive);
  CHECK(l.masked_paths == std::vector<std::string>{"/proc/kcore"});
  REQUIRE(l.personality);
  CHECK(l.personality->domain == PersonalityDomain::linux32);
  REQUIRE(l.intel_rdt);
  CHECK(l.intel_rdt->clos_id == "guaranteed_group");

  // What ward cannot do is listed, not silently dropped.
  std::vector<std::string> paths;
  for (const auto& u : unsupported(c)) paths.push_back(u.path);
  CHECK(paths == std::vector<std::string>{"process.apparmorProfile", "process.selinuxLabel",
                                          "linux.mountLabel", "linux.intelRdt"});
}

TEST_CASE("oci: absent sections and null members") {
  const Config c = parse_config(config_with(R"("process": null, "linux": null, "hostname": null)"));
  CHECK_FALSE(c.process);
  CHECK_FALSE(c.linux_);
  CHECK(c.hostname.empty());
  CHECK(c.mounts.empty());
  // A process without capabilities leaves them alone (runc); an empty object
  // is present with five empty sets.
  const Config d = parse_config(config_with(std::string(kProcess) + "}"));
  REQUIRE(d.process);
  CHECK_FALSE(d.process->capabilities);
  CHECK(d.process->user.uid == 0);
  const Config e = parse_config(config_with(std::string(kProcess) + R"(, "capabilities": {}})"));
  REQUIRE(e.process->capabilities);
  CHECK(e.process->capabilities->bounding.empty());
}

TEST_CASE("oci: unknown fields are ignored at every level") {
  const Config c = parse_config(config_with(
      R"("future": 1, "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 1, "gid": 2, "x": "y"}},
         "linux": {"namespaces": [{"type": "pid", "extra": true}], "newThing": {"a": 1},
                   "resources": {"memory": {"limit": 1, "futureKnob": 5}}},
         "mounts": [{"destination": "/x", "weird": []}])"));
  CHECK(c.process->user.gid == 2);
  CHECK(c.linux_->resources->memory->limit == 1);
  CHECK(c.mounts.size() == 1);
}

// ---------------------------------------------------------------------------
// Errors name the JSON path
// ---------------------------------------------------------------------------

TEST_CASE("oci: errors name the JSON path and the reason") {
  struct Case {
    std::string extra;
    std::string detail;
  };
  const std::string proc = kProcess;
  const std::vector<Case> cases = {
      {R"("linux": {"resources": {"memory": {"limit": "1G"}}})",
       "linux.resources.memory.limit: expected an integer"},
      {R"("linux": {"resources": {"memory": {"limit": -2}}})",
       "linux.resources.memory.limit: expected a byte count or -1 (unlimited), got -2"},
      {R"("linux": {"resources": {"memory": {"swappiness": 101}}})",
       "linux.resources.memory.swappiness: expected an integer from 0 to 100, got 101"},
      {R"("process": {"args": [], "cwd": "/"})", "process.args: must not be empty"},
      {R"("process": {"cwd": "/"})", "process.args: required field is missing"},
      {R"("process": {"args": ["sh"]})", "process.cwd: required field is missing"},
      {R"("process": {"args": ["sh"], "cwd": "work"})",
       "process.cwd: must be an absolute path, got \"work\""},
      {R"("process": {"args": ["a\u0000b"], "cwd": "/"})",
       "process.args[0]: must not contain a NUL character"},
      {proc + R"(, "env": ["A=1", "NOVALUE"]})",
       "process.env[1]: expected NAME=value, got \"NOVALUE\" (no '=')"},
      {proc + R"(, "env": ["=x"]})",
       "process.env[0]: expected NAME=value, got \"=x\" (empty name)"},
      {proc + R"(, "user": {"uid": -1, "gid": 0}})",
       "process.user.uid: expected an integer from 0 to 4294967295, got -1"},
      {proc + R"(, "user": {"gid": 0}})", "process.user.uid: required field is missing"},
      {proc + R"(, "capabilities": {"bounding": ["CAP_FOO"]}})",
       "accepted"},  // 1.2: a warning (see the next test case)
      {proc + R"(, "capabilities": ["CAP_KILL"]})", "process.capabilities: expected an object"},
      {proc + R"(, "rlimits": [{"type": "RLIMIT_NOPE", "soft": 1, "hard": 1}]})",
       "process.rlimits[0].type: unknown rlimit \"RLIMIT_NOPE\""},
      {proc + R"(, "rlimits": [{"type": "nofile", "soft": 1, "hard": 1}]})",
       "process.rlimits[0].type: unknown rlimit \"nofile\""},
      {proc + R"(, "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1},
                               {"type": "RLIMIT_NOFILE", "soft": 2, "hard": 2}]})",
       "process.rlimits[1].type: duplicate rlimit RLIMIT_NOFILE (also process.rlimits[0])"},
      {proc + R"(, "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 1}]})",
       "process.rlimits[0].soft: soft limit 10 is above the hard limit 1"},
      {proc + R"(, "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1}]})",
       "process.rlimits[0].hard: required field is missing"},
      {proc + R"(, "oomScoreAdj": 1001})",
       "process.oomScoreAdj: expected an integer from -1000 to 1000, got 1001"},
      {proc + R"(, "scheduler": {"policy": "SCHED_FAST"}})",
       "process.scheduler.policy: unknown scheduling policy \"SCHED_FAST\""},
      {proc + R"(, "scheduler": {"policy": "SCHED_RR"}})",
       "process.scheduler.priority: SCHED_RR needs a priority from 1 to 99, got 0"},
      {proc + R"(, "scheduler": {"policy": "SCHED_OTHER", "priority": 5}})",
       "process.scheduler.priority: must be 0 for SCHED_OTHER (only SCHED_FIFO and SCHED_RR have "
       "priorities)"},
      {proc + R"(, "scheduler": {"policy": "SCHED_OTHER", "nice": 20}})",
       "process.scheduler.nice: expected a nice value from -20 to 19, got 20"},
      {proc + R"(, "scheduler": {"policy": "SCHED_OTHER", "flags": ["SCHED_FLAG_X"]}})",
       "process.scheduler.flags[0]: unknown scheduler flag \"SCHED_FLAG_X\""},
      {proc + R"(, "scheduler": {"policy": "SCHED_DEADLINE", "runtime": 20, "deadline": 10}})",
       "process.scheduler: SCHED_DEADLINE needs 0 < runtime <= deadline <= period (sched(7))"},
      {proc + R"(, "scheduler": {"policy": "SCHED_BATCH", "period": 10}})",
       "process.scheduler: runtime, deadline and period are for SCHED_DEADLINE only"},
      {proc + R"(, "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 8}})",
       "process.ioPriority.priority: expected an integer from 0 to 7, got 8"},
      {proc + R"(, "ioPriority": {"class": "BE", "priority": 1}})",
       "process.ioPriority.class: unknown I/O priority class \"BE\""},
      {proc + R"(, "execCPUAffinity": {"final": "0-3,x"}})",
       "process.execCPUAffinity.final: invalid CPU list \"0-3,x\": \"x\" is not a number or a "
       "range like 0-3 (numbers up to 65535)"},
      {proc + R"(, "execCPUAffinity": {"initial": "3-1"}})",
       "process.execCPUAffinity.initial: invalid CPU list \"3-1\": \"3-1\" is not a number or a "
       "range like 0-3 (numbers up to 65535)"},
      {proc + R"(, "consoleSize": {"height": 1}})",
       "process.consoleSize.width: required field is missing"},
      {R"("mounts": [{"destination": "/a"}, {"type": "tmpfs"}])",
       "mounts[1].destination: required field is missing"},
      {R"("mounts": [{"destination": "/a", "options": ["ro", 1]}])",
       "mounts[0].options[1]: expected a string"},
      {R"("mounts": [{"destination": "/a", "uidMappings": [{"containerID": 0, "hostID": 1, "size": 1}]}])",
       "mounts[0].gidMappings: required with uidMappings"},
      {R"("mounts": [{"destination": "/a", "options": ["rbind", "idmap"]}])",
       "mounts[0].options: idmap needs uidMappings and gidMappings, or a user namespace in "
       "linux.namespaces"},
      {R"("hooks": {"poststart": [{"path": "hook"}]})",
       "hooks.poststart[0].path: must be an absolute path, got \"hook\""},
      {R"("hooks": {"prestart": [{"path": "/h", "timeout": 0}]})",
       "hooks.prestart[0].timeout: expected an integer from 1 to 2147483647, got 0"},
      {R"("annotations": {"a": 1})", "annotations.a: expected a string"},
      {R"("annotations": {"": "x"})", "annotations[\"\"]: annotation keys must not be empty"},
      {R"("linux": {"namespaces": [{"type": "pid"}, {"type": "uts"}, {"type": "foo"}]})",
       "linux.namespaces[2].type: unknown namespace \"foo\""},
      {R"("linux": {"namespaces": [{"type": "pid"}, {"type": "net"}]})",
       "linux.namespaces[1].type: unknown namespace \"net\""},
      {R"("linux": {"namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "pid"}]})",
       "linux.namespaces[2].type: duplicate namespace \"pid\" (also linux.namespaces[0])"},
      {R"("linux": {"namespaces": [{"type": "network", "path": "run/netns/x"}]})",
       "linux.namespaces[0].path: must be an absolute path, got \"run/netns/x\""},
      {R"("hostname": "h")",
       "hostname: setting the hostname needs a uts namespace in linux.namespaces"},
      {R"("linux": {"uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]})",
       "linux.uidMappings: mappings need a user namespace in linux.namespaces"},
      {R"("linux": {"uidMappings": [{"containerID": 0, "hostID": 4294967296, "size": 1}]})",
       "linux.uidMappings[0].hostID: expected an integer from 0 to 4294967295, got 4294967296"},
      {R"("linux": {"namespaces": [{"type": "time"}], "timeOffsets": {"realtime": {"secs": 1}}})",
       "linux.timeOffsets.realtime: unknown clock (time namespaces offset \"monotonic\" and "
       "\"boottime\")"},
      {R"("linux": {"namespaces": [{"type": "time"}], "timeOffsets": {"boottime": {"nanosecs": 1000000000}}})",
       "linux.timeOffsets.boottime.nanosecs: expected an integer from 0 to 999999999, got "
       "1000000000"},
      {R"("linux": {"timeOffsets": {"boottime": {"secs": 1}}})",
       "linux.timeOffsets: offsets need a time namespace in linux.namespaces"},
      {R"("linux": {"devices": [{"path": "/dev/x", "type": "x", "major": 1, "minor": 1}]})",
       "linux.devices[0].type: unknown device type \"x\" (expected one of c, b, u, p)"},
      {R"("linux": {"devices": [{"path": "/dev/x", "type": "c", "major": 1}]})",
       "linux.devices[0].minor: required field is missing"},
      {R"("linux": {"resources": {"devices": [{"allow": true, "access": "rwx"}]}})",
       "linux.resources.devices[0].access: expected letters of \"rwm\", got \"rwx\""},
      {R"("linux": {"resources": {"devices": [{"access": "r"}]}})",
       "linux.resources.devices[0].allow: required field is missing"},
      {R"("linux": {"resources": {"cpu": {"quota": 1000, "burst": 2000}}})",
       "linux.resources.cpu.burst: burst 2000 is larger than quota 1000"},
      {R"("linux": {"resources": {"cpu": {"cpus": "0,,1"}}})",
       "linux.resources.cpu.cpus: invalid CPU list \"0,,1\": \"\" is not a number or a range "
       "like 0-3 (numbers up to 65535)"},
      {R"("linux": {"resources": {"pids": {"limit": -2}}})",
       "linux.resources.pids.limit: expected a count or -1 (unlimited), got -2"},
      {R"("linux": {"resources": {"blockIO": {"weight": 70000}}})",
       "linux.resources.blockIO.weight: expected an integer from 0 to 65535, got 70000"},
      {R"("linux": {"resources": {"blockIO": {"weightDevice": [{"major": 8, "minor": 0}]}}})",
       "linux.resources.blockIO.weightDevice[0]: needs weight or leafWeight"},
      {R"("linux": {"resources": {"hugepageLimits": [{"pageSize": "2M", "limit": 1}]}})",
       "linux.resources.hugepageLimits[0].pageSize: expected a size like \"2MB\" or \"1GB\", got "
       "\"2M\""},
      {R"("linux": {"resources": {"hugepageLimits": [{"pageSize": "../2MB", "limit": 1}]}})",
       "linux.resources.hugepageLimits[0].pageSize: expected a size like \"2MB\" or \"1GB\", got "
       "\"../2MB\""},
      {R"("linux": {"resources": {"rdma": {"mlx": {}}}})",
       "linux.resources.rdma.mlx: needs hcaHandles or hcaObjects"},
      {R"("linux": {"resources": {"unified": {"../../cgroup.procs": "1"}}})",
       "linux.resources.unified[\"../../cgroup.procs\"]: not a cgroup v2 file name like "
       "\"memory.high\""},
      {R"("linux": {"resources": {"unified": {"memory": "1"}}})",
       "linux.resources.unified.memory: not a cgroup v2 file name like \"memory.high\""},
      {R"("linux": {"sysctl": {"net/../../x": "1"}})",
       "linux.sysctl[\"net/../../x\"]: not a sysctl name like \"net.ipv4.ip_forward\""},
      {R"("linux": {"sysctl": {"kernel.shmmax": 1}})",
       "linux.sysctl[\"kernel.shmmax\"]: expected a string"},
      {R"("linux": {"rootfsPropagation": "rw"})",
       "linux.rootfsPropagation: unknown propagation \"rw\" (expected shared, slave, private or "
       "unbindable, or an r-prefixed one)"},
      {R"("linux": {"maskedPaths": ["/proc/kcore", "proc/keys"]})",
       "linux.maskedPaths[1]: must be an absolute path, got \"proc/keys\""},
      {R"("linux": {"readonlyPaths": "/proc/sys"})", "linux.readonlyPaths: expected an array"},
      {R"("linux": {"personality": {"domain": "LINUX64"}})",
       "linux.personality.domain: unknown execution domain \"LINUX64\" (expected LINUX or "
       "LINUX32)"},
      {R"("linux": {"personality": {"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"]}})",
       "linux.personality.flags[0]: unknown personality flag \"ADDR_NO_RANDOMIZE\""},
      {R"("linux": {"intelRdt": {"closID": "../x"}})",
       "linux.intelRdt.closID: must be a plain directory name"},
      {R"("linux": {"intelRdt": {"memBwSchema": "L3:0=ff"}})",
       "linux.intelRdt.memBwSchema: must start with \"MB:\" and be one line"},
      {R"("root": 5)", "other error"},  // a duplicate key: ParseError, not FieldError
  };
  for (const auto& c : cases) {
    const std::string text = config_with(c.extra);
    INFO(text);
    const std::string got = error_of(text);
    if (c.detail == "other error")
      CHECK(got.rfind("other error: ", 0) == 0);
    else
      CHECK(got == c.detail);
  }
}

TEST_CASE("oci: top-level errors") {
  CHECK(error_of(R"({"root": {"path": "r"}})") == "ociVersion: required field is missing");
  CHECK(error_of(R"({"ociVersion": "1.0", "root": {"path": "r"}})") ==
        "ociVersion: not a SemVer 2.0.0 version: \"1.0\"");
  CHECK(error_of(R"({"ociVersion": "01.0.0", "root": {"path": "r"}})") ==
        "ociVersion: not a SemVer 2.0.0 version: \"01.0.0\"");
  CHECK(error_of(R"({"ociVersion": "2.0.0", "root": {"path": "r"}})") ==
        "ociVersion: version 2.0.0 is not supported (ward reads 1.0.0 to 1.3.0)");
  CHECK(error_of(R"({"ociVersion": 1, "root": {"path": "r"}})") == "ociVersion: expected a string");
  CHECK(error_of(R"({"ociVersion": "1.0.0"})") == "root: required field is missing");
  CHECK(error_of(R"({"ociVersion": "1.0.0", "root": {}})") ==
        "root.path: required field is missing");
  CHECK(error_of(R"({"ociVersion": "1.0.0", "root": {"path": ""}})") ==
        "root.path: must not be empty");
  CHECK(error_of(R"([1])") == "(root): expected an object");
  // Prerelease and build metadata are SemVer too.
  for (const char* v : {"1.0.2-dev", "1.1.0-rc.1", "1.0.0+build.7", "1.2.0-rc.1+x", "1.3.0"}) {
    INFO(v);
    CHECK(error_of(config_with("", v)) == "accepted");
  }
  for (const char* v : {"1.0.0-", "1.0.0-01", "1.0.0+", "1.0.0-a..b", "1.0.0 ", "v1.0.0", ""}) {
    INFO(v);
    CHECK(error_of(config_with("", v)).rfind("ociVersion: not a SemVer", 0) == 0);
  }
  // The error is a ward::Error with the path in its message and the source
  // as its object.
  try {
    (void)parse_config(config_with(R"("linux": {"resources": {"memory": {"limit": "x"}}})"),
                       "bundle/config.json");
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK(e.step() == Step::validate);
    CHECK(e.code() == std::errc::invalid_argument);
    CHECK(e.object() == "bundle/config.json");
    CHECK(std::string(e.what()) ==
          "ward: validate bundle/config.json: Invalid argument (EINVAL): "
          "linux.resources.memory.limit: expected an integer");
  }
  // Syntax errors keep line and column.
  try {
    (void)parse_config("{\n  \"ociVersion\": \"1.0.0\",\n}");
    FAIL("accepted");
  } catch (const json::ParseError& e) {
    CHECK(e.line() == 3);
    CHECK(std::string(e.what()).find("config.json:3:1") != std::string::npos);
  }
  CHECK_THROWS_AS(load_config("/nonexistent/config.json"), Error);
}

TEST_CASE("oci: rules that changed between spec versions follow the config's ociVersion") {
  const std::string caps =
      std::string(kProcess) +
      R"(, "capabilities": {"bounding": ["CAP_KILL", "CAP_FOO", "cap_chown"]}})";
  // Unknown capability names: a warning, and the capability is dropped, in
  // 1.1 and later ("MUST be logged as a warning") and, as runc and crun
  // do, in 1.0 too (which asked for an error).
  for (const char* version : {"1.0.2", "1.1.0"}) {
    const Config c = parse_config(config_with(caps, version));
    CHECK(c.process->capabilities->bounding == std::vector<std::string>{"CAP_KILL"});
    CHECK(c.warnings ==
          std::vector<std::string>{
              "process.capabilities.bounding[1]: unknown capability \"CAP_FOO\" ignored",
              "process.capabilities.bounding[2]: unknown capability \"cap_chown\" "
              "ignored"});
  }

  // Mount destinations: absolute in 1.0 and 1.1; 1.2 takes a relative one
  // relative to "/".
  const std::string rel = R"("mounts": [{"destination": "data", "type": "tmpfs"}])";
  CHECK(error_of(config_with(rel, "1.1.0")) ==
        "mounts[0].destination: must be an absolute path, got \"data\" (relative destinations need "
        "ociVersion 1.2 or later)");
  const Config d = parse_config(config_with(rel, "1.2.0"));
  CHECK(d.mounts[0].destination == "/data");
  CHECK(d.warnings ==
        std::vector<std::string>{
            "mounts[0].destination: relative destination \"data\" is deprecated; taken as /data"});
  CHECK(error_of(config_with(R"("mounts": [{"destination": ""}])")) ==
        "mounts[0].destination: must not be empty");
}

TEST_CASE("oci: idmap mounts and user namespaces") {
  // With a user namespace, idmap may borrow the container's mapping.
  const Config c = parse_config(config_with(
      R"("mounts": [{"destination": "/a", "source": "/b", "options": ["bind", "ridmap"]}],
         "linux": {"namespaces": [{"type": "user"}],
                   "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                   "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]})"));
  CHECK(c.mounts[0].parsed_options().idmap_recursive);
  CHECK(c.warnings.empty());
  // Mappings without the option: accepted with a warning (the spec's SHOULD).
  const Config d = parse_config(config_with(
      R"("mounts": [{"destination": "/a", "options": ["bind"],
                     "uidMappings": [{"containerID": 0, "hostID": 1, "size": 1}],
                     "gidMappings": [{"containerID": 0, "hostID": 1, "size": 1}]}])"));
  CHECK(d.warnings ==
        std::vector<std::string>{"mounts[0]: uidMappings/gidMappings without the idmap or ridmap "
                                 "option"});
}

TEST_CASE("oci: seccomp is checked by the profile converter, with OCI's own rules") {
  auto sc = [](const std::string& body) {
    return error_of(config_with(R"("linux": {"seccomp": )" + body + "}"));
  };
  CHECK(sc(R"({"defaultAction": "SCMP_ACT_ALLOW"})") == "accepted");
  CHECK(sc(R"({})") == "linux.seccomp.defaultAction: required field is missing");
  CHECK(sc(R"({"defaultAction": "SCMP_ACT_NOPE"})") ==
        "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_NOPE\"");
  CHECK(
      sc(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]})") ==
      "linux.seccomp.syscalls[0].args[0].index: expected an integer from 0 to 5, got 6");
  CHECK(
      sc(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_XX"}]}]})") ==
      "linux.seccomp.syscalls[0].args[0].op: unknown comparison \"SCMP_CMP_XX\"");
  CHECK(
      sc(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_KILL"}]})") ==
      "linux.seccomp.syscalls[0].names: must contain at least one system call name");
  CHECK(sc(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_KILL"}]})") ==
        "linux.seccomp.syscalls[0].names: required field is missing");
  CHECK(sc(R"({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1})") ==
        "linux.seccomp.defaultErrnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno");
  CHECK(
      sc(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_KILL", "errnoRet": 1}]})") ==
      "linux.seccomp.syscalls[0].errnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno");
  CHECK(sc(R"({"defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "x"})") ==
        "linux.seccomp.listenerMetadata: must not be set without listenerPath");
  CHECK(sc(R"({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_NOPE"]})") ==
        "linux.seccomp.flags[0]: unknown flag \"SECCOMP_FILTER_FLAG_NOPE\"");

  // Docker's default profile, as the seccomp object of a config.
  if (!fs::exists(fixture("docker-default-seccomp.json")))
    WARD_SKIP("fixture docker-default-seccomp.json is absent");
  const json::Value docker = json::parse_file(fixture("docker-default-seccomp.json"));
  const Config c = parse_config(config_with(R"("linux": {"seccomp": )" + json::dump(docker) + "}"));
  REQUIRE(c.linux_->seccomp);
  CHECK(*c.linux_->seccomp == docker);
  auto p = seccomp_profile(c);
  REQUIRE(p);
  CHECK(p->filter.compile().size() > 10);
}

TEST_CASE("oci: parse_process and parse_resources read the exec and update documents") {
  const Process p = parse_process(
      R"({"args": ["ls", "-l"], "cwd": "/tmp", "env": ["X=1"], "terminal": false,
          "capabilities": {"effective": ["CAP_KILL", "CAP_NEW_ONE"]}})");
  CHECK(p.args == std::vector<std::string>{"ls", "-l"});
  CHECK(p.capabilities->effective == std::vector<std::string>{"CAP_KILL"});
  try {
    (void)parse_process(R"({"args": ["ls"], "cwd": "tmp"})");
    FAIL("accepted");
  } catch (const json::FieldError& e) {
    CHECK(e.path() == "cwd");
    CHECK(e.object() == "process.json");
  }
  const Resources r = parse_resources(R"({"memory": {"limit": -1}, "pids": {"limit": 10}})");
  CHECK(r.memory->limit == -1);
  CHECK(r.pids->limit == 10);
  CHECK_THROWS_AS(parse_resources(R"({"pids": {"limit": "10"}})"), json::FieldError);
  // runtime-spec 1.3 "PIDs": limit is optional, and 0 is a real limit, not
  // "unset" (before, 0 left pids.max alone and a container meant to fork
  // nothing could fork freely).
  CHECK(parse_resources(R"({"pids": {"limit": 0}})").pids->limit == 0);
  CHECK_FALSE(parse_resources(R"({"pids": {}})").pids->limit.has_value());
}

TEST_CASE("oci: unsupported() lists cgroup v1 controls") {
  const Config c = parse_config(config_with(R"("linux": {"resources": {
      "memory": {"kernel": 1, "kernelTCP": -1, "swappiness": 0, "limit": 5},
      "cpu": {"realtimeRuntime": 1, "realtimePeriod": 2, "shares": 3},
      "blockIO": {"leafWeight": 10, "weightDevice": [{"major": 1, "minor": 2, "leafWeight": 3}]},
      "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]}}})"));
  std::vector<std::string> paths;
  for (const auto& u : unsupported(c)) paths.push_back(u.path);
  CHECK(paths == std::vector<std::string>{
                     "linux.resources.network", "linux.resources.memory.kernel",
                     "linux.resources.memory.kernelTCP", "linux.resources.memory.swappiness",
                     "linux.resources.cpu.realtimeRuntime", "linux.resources.cpu.realtimePeriod",
                     "linux.resources.blockIO.leafWeight",
                     "linux.resources.blockIO.weightDevice[0].leafWeight"});
  CHECK(c.linux_->resources->network->priorities[0].priority == 500);
  // Where the host keeps a controller in a v1 hierarchy its controls work
  // (a hybrid host's memory and cpu): not listed.
  paths.clear();
  for (const auto& u :
       unsupported(c, [](std::string_view ctl) { return ctl == "memory" || ctl == "cpu"; }))
    paths.push_back(u.path);
  CHECK(paths == std::vector<std::string>{"linux.resources.network",
                                          "linux.resources.blockIO.leafWeight",
                                          "linux.resources.blockIO.weightDevice[0].leafWeight"});
  paths.clear();
  for (const auto& u : unsupported(c, [](std::string_view) { return true; }))
    paths.push_back(u.path);
  CHECK(paths.empty());
}

// ---------------------------------------------------------------------------
// Mount options
// ---------------------------------------------------------------------------

TEST_CASE("oci: mount options sort into flags, propagation and data") {
  SECTION("flags set and clear, later options win") {
    const auto o = parse_mount_options({"ro", "nosuid", "nodev", "noexec", "rw", "suid", "sync",
                                        "dirsync", "mand", "nomand", "nodiratime", "silent",
                                        "lazytime", "iversion", "acl", "nosymfollow"});
    CHECK(o.set == MountFlags{MountFlag::nodev, MountFlag::noexec, MountFlag::sync,
                              MountFlag::dirsync, MountFlag::nodiratime, MountFlag::silent,
                              MountFlag::lazytime, MountFlag::iversion, MountFlag::acl,
                              MountFlag::nosymfollow});
    CHECK(o.clear == MountFlags{MountFlag::ro, MountFlag::nosuid, MountFlag::mand});
    CHECK(o.data.empty());
    const auto p = parse_mount_options({"dev", "exec", "async", "diratime", "loud", "noiversion",
                                        "nolazytime", "noacl", "symfollow", "defaults"});
    CHECK(p.set.empty());
    CHECK(p.clear == MountFlags{MountFlag::nodev, MountFlag::noexec, MountFlag::sync,
                                MountFlag::nodiratime, MountFlag::silent, MountFlag::iversion,
                                MountFlag::lazytime, MountFlag::acl, MountFlag::nosymfollow});
  }
  SECTION("atime modes") {
    CHECK(parse_mount_options({}).atime == Atime::unchanged);
    CHECK(parse_mount_options({"noatime"}).atime == Atime::noatime);
    CHECK(parse_mount_options({"relatime"}).atime == Atime::relatime);
    CHECK(parse_mount_options({"noatime", "strictatime"}).atime == Atime::strictatime);
    // "atime" undoes "noatime"; "norelatime" undoes "relatime" only.
    CHECK(parse_mount_options({"noatime", "atime"}).atime == Atime::unchanged);
    CHECK(parse_mount_options({"relatime", "norelatime"}).atime == Atime::unchanged);
    CHECK(parse_mount_options({"strictatime", "norelatime"}).atime == Atime::strictatime);
    CHECK(parse_mount_options({"strictatime", "nostrictatime"}).atime == Atime::unchanged);
  }
  SECTION("recursive attributes are kept apart") {
    const auto o = parse_mount_options(
        {"rro", "rnosuid", "rnodev", "rnoexec", "rnodiratime", "rnosymfollow", "rnoatime", "rw"});
    CHECK(o.recursive_set == MountFlags{MountFlag::ro, MountFlag::nosuid, MountFlag::nodev,
                                        MountFlag::noexec, MountFlag::nodiratime,
                                        MountFlag::nosymfollow});
    CHECK(o.recursive_atime == Atime::noatime);
    CHECK(o.clear == MountFlags{MountFlag::ro});
    CHECK(o.set.empty());
    CHECK(o.atime == Atime::unchanged);
    const auto p = parse_mount_options(
        {"rro", "rrw", "rsuid", "rdev", "rexec", "rdiratime", "rsymfollow", "rstrictatime"});
    CHECK(p.recursive_set.empty());
    CHECK(p.recursive_clear == MountFlags{MountFlag::ro, MountFlag::nosuid, MountFlag::nodev,
                                          MountFlag::noexec, MountFlag::nodiratime,
                                          MountFlag::nosymfollow});
    CHECK(p.recursive_atime == Atime::strictatime);
    CHECK(parse_mount_options({"rrelatime", "rnorelatime"}).recursive_atime == Atime::unchanged);
    CHECK(parse_mount_options({"rnoatime", "ratime"}).recursive_atime == Atime::unchanged);
    CHECK(parse_mount_options({"rstrictatime", "rnostrictatime"}).recursive_atime ==
          Atime::unchanged);
  }
  SECTION("bind, rbind, remount") {
    CHECK(parse_mount_options({"bind"}).bind);
    CHECK_FALSE(parse_mount_options({"bind"}).recursive);
    CHECK(parse_mount_options({"rbind"}).recursive);
    CHECK(parse_mount_options({"remount", "ro"}).remount);
    CHECK_FALSE(parse_mount_options({"ro"}).bind);
  }
  SECTION("propagation: the last one wins") {
    struct P {
      const char* opt;
      Propagation p;
      bool rec;
    };
    for (const P& c :
         {P{"private", Propagation::private_, false}, P{"rprivate", Propagation::private_, true},
          P{"shared", Propagation::shared, false}, P{"rshared", Propagation::shared, true},
          P{"slave", Propagation::slave, false}, P{"rslave", Propagation::slave, true},
          P{"unbindable", Propagation::unbindable, false},
          P{"runbindable", Propagation::unbindable, true}}) {
      INFO(c.opt);
      const auto o = parse_mount_options({"rbind", c.opt});
      CHECK(o.propagation == c.p);
      CHECK(o.propagation_recursive == c.rec);
    }
    const auto o = parse_mount_options({"rshared", "private"});
    CHECK(o.propagation == Propagation::private_);
    CHECK_FALSE(o.propagation_recursive);
  }
  SECTION("idmap, tmpcopyup and filesystem data") {
    CHECK(parse_mount_options({"idmap"}).idmap);
    CHECK_FALSE(parse_mount_options({"idmap"}).idmap_recursive);
    CHECK(parse_mount_options({"ridmap"}).idmap_recursive);
    const auto o = parse_mount_options({"tmpcopyup", "mode=1777", "", "size=65536k", "nosuid",
                                        "uid=0", "x-custom", "lowerdir=/a:/b"});
    CHECK(o.tmpcopyup);
    CHECK(o.data == std::vector<std::string>{"mode=1777", "size=65536k", "uid=0", "x-custom",
                                             "lowerdir=/a:/b"});
    CHECK(o.data_string() == "mode=1777,size=65536k,uid=0,x-custom,lowerdir=/a:/b");
    CHECK(o.set == MountFlags{MountFlag::nosuid});
    // Case matters, as in mount(8): "RO" is filesystem data.
    CHECK(parse_mount_options({"RO"}).data == std::vector<std::string>{"RO"});
  }
  SECTION("the recognized names include everything runc 1.1.5 lists, plus idmap and ridmap") {
    const auto names = mount_option_names();
    CHECK(std::is_sorted(names.begin(), names.end()));
    CHECK(std::adjacent_find(names.begin(), names.end()) == names.end());
    if (!fs::exists(fixture("runc-1.1.5-features.json")))
      WARD_SKIP("fixture runc-1.1.5-features.json is absent");
    const json::Value runc = json::parse_file(fixture("runc-1.1.5-features.json"));
    for (const json::Value& n : runc.find("mountOptions")->as_array()) {
      INFO(n.as_string());
      CHECK(std::find(names.begin(), names.end(), n.as_string()) != names.end());
    }
    CHECK(std::find(names.begin(), names.end(), "idmap") != names.end());
    CHECK(std::find(names.begin(), names.end(), "ridmap") != names.end());
  }
}

TEST_CASE("oci: parse_cpu_list") {
  CHECK(parse_cpu_list("").empty());
  CHECK(parse_cpu_list("5") == std::vector<unsigned>{5});
  CHECK(parse_cpu_list("0-2,8,10-11") == std::vector<unsigned>{0, 1, 2, 8, 10, 11});
  CHECK(parse_cpu_list("65535").size() == 1);
  for (const char* bad : {"-1", "1-", ",", "1,", "a", "2-1", "65536", "1 ,2", "0x1"}) {
    INFO(bad);
    CHECK_THROWS_AS(parse_cpu_list(bad, "cpus"), Error);
  }
}

// ---------------------------------------------------------------------------
// State and features
// ---------------------------------------------------------------------------

TEST_CASE("oci: the state document round-trips") {
  State s;
  s.id = "c1";
  s.status = Status::running;
  s.pid = 4422;
  s.bundle = "/containers/redis";
  s.annotations = {{"myKey", "myValue"}, {"a\"b", "line\nbreak"}};
  s.rootfs = "/containers/redis/rootfs";
  s.created = "2024-01-02T03:04:05.123456789Z";
  const std::string text = to_json(s);
  CHECK(text.find(R"("status":"running")") != std::string::npos);
  CHECK(text.find(R"("ociVersion":"1.3.0")") != std::string::npos);
  CHECK(text.find(R"("a\"b":"line\nbreak")") != std::string::npos);
  CHECK(parse_state(text) == s);
  CHECK(parse_state(to_json(s, 2)) == s);

  // Every status; pid 0 is written for a stopped container.
  for (Status st :
       {Status::creating, Status::created, Status::running, Status::stopped, Status::paused}) {
    State t = s;
    t.status = st;
    t.pid = st == Status::stopped || st == Status::creating ? 0 : 7;
    t.annotations.clear();
    t.rootfs.clear();
    t.created.clear();
    INFO(to_string(st));
    CHECK(parse_state(to_json(t)) == t);
    CHECK(status_from_string(to_string(st)) == st);
  }
  State stopped = s;
  stopped.status = Status::stopped;
  stopped.pid = 0;
  CHECK(to_json(stopped).find(R"("pid":0)") != std::string::npos);

  // The runtime-spec example parses; unknown members are ignored.
  const State ex = parse_state(R"({"ociVersion": "0.2.0", "id": "oci-container1",
      "status": "running", "pid": 4422, "bundle": "/containers/redis",
      "annotations": {"myKey": "myValue"}, "extra": [1]})");
  CHECK(ex.oci_version == "0.2.0");
  CHECK(ex.pid == 4422);
  CHECK(ex.annotations.at("myKey") == "myValue");

  auto err = [](const std::string& t) {
    try {
      (void)parse_state(t);
    } catch (const json::FieldError& e) {
      return e.detail();
    }
    return std::string("accepted");
  };
  CHECK(err(R"({"ociVersion": "1.0.0", "id": "x", "status": "running", "bundle": "/b"})") ==
        "pid: required field is missing");
  CHECK(
      err(R"({"ociVersion": "1.0.0", "id": "x", "status": "created", "pid": 0, "bundle": "/b"})") ==
      "pid: expected an integer from 1 to 2147483647, got 0");
  CHECK(err(R"({"ociVersion": "1.0.0", "id": "x", "status": "zombie", "bundle": "/b"})") ==
        "status: unknown status \"zombie\"");
  CHECK(err(R"({"ociVersion": "1.0.0", "id": "x", "status": "stopped", "bundle": "b"})") ==
        "bundle: must be an absolute path, got \"b\"");
  CHECK(err(R"({"ociVersion": "1.0.0", "id": "", "status": "stopped", "bundle": "/b"})") ==
        "id: must not be empty");
  CHECK(err(R"({"ociVersion": "1.0.0", "status": "stopped", "bundle": "/b"})") ==
        "id: required field is missing");
}

TEST_CASE("oci: the features document is JSON and lists what the parsers accept") {
  const std::string text = features_json();
  const json::Value f = json::parse(text);
  const json::Reader r(f, "features");
  CHECK(r["ociVersionMin"].string() == "1.0.0");
  CHECK(r["ociVersionMax"].string() == "1.3.0");
  CHECK(r["hooks"].strings() == std::vector<std::string>{"prestart", "createRuntime",
                                                         "createContainer", "startContainer",
                                                         "poststart", "poststop"});
  std::vector<std::string> opts = r["mountOptions"].strings();
  CHECK(opts.size() == mount_option_names().size());
  for (const auto& o : opts) {
    INFO(o);
    // Every listed option is recognized, never taken as filesystem data.
    CHECK(parse_mount_options({o}).data.empty());
  }

  const json::Reader l = r["linux"];
  CHECK(l["namespaces"].strings() == std::vector<std::string>{"pid", "network", "mount", "ipc",
                                                              "uts", "user", "cgroup", "time"});
  const auto caps = l["capabilities"].strings();
  CHECK(caps.size() == kCapabilityNames.size());
  CHECK(caps.front() == "CAP_CHOWN");
  CHECK(caps.back() == "CAP_CHECKPOINT_RESTORE");
  CHECK(l["cgroup"]["v2"].boolean());
  CHECK_FALSE(l["cgroup"]["v1"].boolean());
  CHECK_FALSE(l["cgroup"]["systemd"].boolean());
  CHECK(l["seccomp"]["enabled"].boolean());
  CHECK_FALSE(l["apparmor"]["enabled"].boolean());
  CHECK_FALSE(l["selinux"]["enabled"].boolean());
  CHECK_FALSE(l["intelRdt"]["enabled"].boolean());

  // Every capability, namespace, seccomp action, operator, architecture and
  // flag listed is accepted by the config parser.
  std::string capnames;
  for (const auto& c : caps) capnames += (capnames.empty() ? "\"" : ", \"") + c + "\"";
  CHECK(error_of(config_with(
            std::string(kProcess) + R"(, "capabilities": {"bounding": [)" + capnames + "]}}",
            "1.0.0")) == "accepted");
  for (const auto& ns : l["namespaces"].strings()) {
    INFO(ns);
    CHECK(error_of(config_with(R"("linux": {"namespaces": [{"type": ")" + ns + R"("}]})")) ==
          "accepted");
  }
  auto seccomp_ok = [](const std::string& body) {
    return error_of(config_with(R"("linux": {"seccomp": )" + body + "}")) == "accepted";
  };
  for (const auto& a : l["seccomp"]["actions"].strings()) {
    INFO(a);
    // SCMP_ACT_NOTIFY only on rules, with a listener (runc refuses it as
    // the default action: the runtime's own calls would wait on it).
    if (a == "SCMP_ACT_NOTIFY")
      CHECK(seccomp_ok(R"({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock",
                           "syscalls": [{"names": ["mkdir"], "action": ")" +
                       a + R"("}]})"));
    else
      CHECK(seccomp_ok(R"({"defaultAction": ")" + a + R"("})"));
  }
  for (const auto& op : l["seccomp"]["operators"].strings()) {
    INFO(op);
    CHECK(seccomp_ok(
        R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_LOG", "args": [{"index": 1, "value": 2, "valueTwo": 2, "op": ")" +
        op + R"("}]}]})"));
  }
  const auto archs = l["seccomp"]["archs"].strings();
  CHECK(std::find(archs.begin(), archs.end(), "SCMP_ARCH_X86_64") != archs.end());
  CHECK(std::find(archs.begin(), archs.end(), "SCMP_ARCH_AARCH64") != archs.end());
  for (const auto& a : archs) {
    INFO(a);
    CHECK(seccomp_ok(R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": [")" + a + R"("]})"));
  }
  const auto known = l["seccomp"]["knownFlags"].strings();
  CHECK(known.size() == 4);
  for (const auto& fl : known) {
    INFO(fl);
    CHECK(seccomp_ok(R"({"defaultAction": "SCMP_ACT_ALLOW", "flags": [")" + fl + R"("]})"));
  }
  for (const auto& fl : l["seccomp"]["supportedFlags"].strings())
    CHECK(std::find(known.begin(), known.end(), fl) != known.end());
  // idmapped mounts are applied (oci_sandbox: an idmap bind mount uses the
  // mount's own mappings): say so, or containerd 2.x refuses user-namespace
  // pods.
  CHECK(l["mountExtensions"]["idmap"]["enabled"].boolean());
  // runtime-spec 1.3 entries, each naming only what config.json may say.
  CHECK(l["netDevices"]["enabled"].boolean());
  for (const auto& m : l["memoryPolicy"]["modes"].strings()) {
    INFO(m);
    CHECK_NOTHROW(
        parse_config(config_with(R"("linux": {"memoryPolicy": {"mode": ")" + m + R"("}})")));
  }
  for (const auto& fl : l["memoryPolicy"]["flags"].strings()) {
    INFO(fl);
    CHECK_NOTHROW(parse_config(
        config_with(R"("linux": {"memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0", "flags": [")" +
                    fl + R"("]}})")));
  }
  CHECK_FALSE(l["intelRdt"]["schemata"].boolean());

  // The same shape as runc's: every top-level and linux member runc 1.1.5
  // writes is there, but annotations (runc's own metadata).
  if (!fs::exists(fixture("runc-1.1.5-features.json")))
    WARD_SKIP("fixture runc-1.1.5-features.json is absent");
  const json::Value runc = json::parse_file(fixture("runc-1.1.5-features.json"));
  for (const auto& [k, v] : runc.as_object()) {
    INFO(k);
    if (k != "annotations") CHECK(f.contains(k));
  }
  for (const auto& [k, v] : runc.find("linux")->as_object()) {
    INFO(k);
    CHECK(f.find("linux")->contains(k));
  }
}

TEST_CASE("oci: runtime-spec 1.3 linux.netDevices and linux.memoryPolicy are checked") {
  auto err = [](const std::string& linux_body) -> std::string {
    try {
      (void)parse_config(config_with(R"("linux": {)" + linux_body + "}", "1.3.0"));
      return "accepted";
    } catch (const json::FieldError& e) {
      return e.what();
    }
  };
  const Config c = parse_config(config_with(
      R"("linux": {"netDevices": {"eth1": {}, "eth2": {"name": "ctr%d"}},
                   "memoryPolicy": {"mode": "MPOL_INTERLEAVE", "nodes": "0-1",
                                    "flags": ["MPOL_F_STATIC_NODES"]}})",
      "1.3.0"));
  CHECK(c.linux_->net_devices ==
        std::map<std::string, std::string>{{"eth1", ""}, {"eth2", "ctr%d"}});
  REQUIRE(c.linux_->memory_policy);
  CHECK(c.linux_->memory_policy->mode == 3);
  CHECK(c.linux_->memory_policy->flags == 1u << 15);
  CHECK(c.linux_->memory_policy->nodes == "0-1");
  CHECK_THAT(err(R"("netDevices": {"eth1": {"name": "a-name-longer-than-15"}})"),
             Catch::Contains("linux.netDevices.eth1.name") && Catch::Contains("longer than 15"));
  CHECK_THAT(err(R"("netDevices": {"eth1": {"name": "x"}, "eth2": {"name": "x"}})"),
             Catch::Contains("two devices would be named x inside"));
  CHECK_THAT(err(R"("netDevices": {"eth1": {"name": "%dx"}})"), Catch::Contains("template"));
  CHECK_THAT(err(R"("netDevices": {"eth 1": {}})"), Catch::Contains("a space"));
  CHECK_THAT(err(R"("memoryPolicy": {"nodes": "0"})"),
             Catch::Contains("linux.memoryPolicy.mode: required field is missing"));
  CHECK_THAT(err(R"("memoryPolicy": {"mode": "MPOL_BIND", "flags": ["MPOL_F_SOMETIMES"]})"),
             Catch::Contains("linux.memoryPolicy.flags[0]: unknown memory policy flag"));
  CHECK_THAT(err(R"("intelRdt": {"schemata": ["L3:0=f\nMB:0=50"]})"),
             Catch::Contains("linux.intelRdt.schemata[0]: must be one line"));
}
