// SPDX-License-Identifier: Apache-2.0
// root.child_stack: how deep the sandbox child's stack goes, against the
// stack it is given (spawn_plan: 128 KiB; detail/stack.hpp). Built with
// WARD_TEST_CHILD_STACK, which makes StackArea fill its stacks with a pattern
// and spawn_plan record the deepest byte a child changed
// (detail::test_stack_use). Runs the most demanding plans: every kind of
// mount, masked and read-only paths, devices, Docker's default seccomp
// profile, Landlock, a terminal with /dev/console, sysctls, rlimits,
// capabilities; the two-stage path (a joined namespace and a new pid
// namespace) and the one-stage path with a new user namespace; with the new
// mount API and the legacy one. Fails when a peak exceeds half the stack.
//
// It is also the dynamically linked program scripts/check_child_code.py
// disassembles (child_code.disasm): it spawns through the library, so it
// holds every child function.
//
// Usage: ward_test_child_stack DOCKER_SECCOMP_JSON
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <ward/oci.hpp>  // load_seccomp_profile: Docker's default profile is JSON
#include <ward/ward.hpp>

namespace {

struct Rootfs {
  std::string path;
  Rootfs() {
    std::string t = "/tmp/ward-child-stack-XXXXXX";
    if (::mkdtemp(t.data()) == nullptr) std::exit(1);
    path = t;
    ::chmod(path.c_str(), 0755);
    for (const char* d : {"/bin", "/data", "/etc", "/srv"}) ::mkdir((path + d).c_str(), 0755);
    std::string cmd = "cp /bin/busybox '" + path + "/bin/busybox' && ln -s busybox '" + path +
                      "/bin/true' && ln -s busybox '" + path + "/bin/sh' && touch '" + path +
                      "/etc/hosts'";
    if (std::system(cmd.c_str()) != 0) std::exit(1);
  }
  ~Rootfs() { std::filesystem::remove_all(path); }
};

ward::Sandbox demanding(const Rootfs& r, const ward::SeccompProfile& prof, bool userns) {
  using namespace ward;
  Sandbox s;
  s.command({"/bin/true"})
      .rootfs(r.path)
      .mount(MountSpec::proc())
      .mount(MountSpec::tmpfs("/tmp").option("size", "1m"))
      .mount(MountSpec::sysfs().read_only())
      .mount(MountSpec::bind("/etc", "/srv/a/deeper/path/for/the/walk").read_only())
      .mount(MountSpec::mqueue())
      .mount(MountSpec::tmpfs("/run").nosuid().nodev().noexec())
      .standard_dev()
      .default_devices()
      .directory("/data/sub/dir")
      .symlink("/data/link", "sub/dir")
      .masked_paths({"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/acpi", "/sys/firmware",
                     "/proc/scsi"})
      .readonly_paths({"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"})
      .readonly_root()
      .hostname("child-stack")
      .domainname("example")
      .loopback(true)
      .sysctl("net.ipv4.ip_forward", "1")
      .sysctl("net.ipv4.ping_group_range", "0 0")
      .rlimit(RLIMIT_NOFILE, 1024, 1024)
      .rlimit(RLIMIT_CORE, 0, 0)
      .oom_score_adj(100)
      .capabilities(Capabilities::only(CapabilitySet::docker_default()))
      .terminal(30, 100)
      .no_new_privs(true)
      .seccomp(prof.filter)
      .cwd("/data/sub/dir");
  // mknod needs the initial user namespace (a device in a new one is bound
  // from the host's /dev instead: default_devices).
  if (!userns) s.device("/dev/ward-null2", 'c', 1, 3, 0666);
  LandlockRuleset ll;
  ll.allow_path(r.path, LandlockFs::all());
  ll.create();
  if (landlock_abi() > 0) s.landlock(ll);
  return s;
}

bool run(const char* name, ward::Sandbox& s) {
  ward::detail::test_stack_use = {};
  ward::Child c = s.spawn();
  auto st = c.wait();
  const auto& u = ward::detail::test_stack_use;
  std::printf("%-34s exit %-3d stack %zu bytes: stage one used %zu, stage two %zu", name,
              st.exit_code(), static_cast<std::size_t>(u.size), u.used[0],
              u.count > 1 ? u.used[1] : 0);
  bool ok = st.exit_code() == 0 && u.size > 0 && u.used[0] > 0 && u.used[0] <= u.size / 2 &&
            u.used[1] <= u.size / 2;
  std::printf(" -> %s\n", ok ? "ok" : "FAIL (exit 0 and at most half the stack wanted)");
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (::geteuid() != 0) {
    std::printf("WARD-SKIP: needs root\n");
    return 77;
  }
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DOCKER_SECCOMP_JSON\n", argv[0]);
    return 2;
  }
  try {
    Rootfs r;
    auto prof = ward::load_seccomp_profile(argv[1]);
    bool ok = true;
    for (ward::MountApi api : {ward::MountApi::modern, ward::MountApi::legacy}) {
      ward::force_mount_api(api);
      const char* tag = api == ward::MountApi::modern ? "new mount API" : "legacy mount API";
      {
        // Two stages: a joined namespace makes the child unshare, and a new
        // pid namespace then needs the second clone.
        auto s = demanding(r, prof, false);
        s.join(ward::NsKind::ipc, "/proc/self/ns/ipc")
            .unshare({ward::NsKind::pid, ward::NsKind::mount, ward::NsKind::uts, ward::NsKind::net,
                      ward::NsKind::cgroup});
        ok = run((std::string("two-stage, ") + tag).c_str(), s) && ok;
      }
      {
        // One stage: every namespace from clone3, a user namespace among them.
        auto s = demanding(r, prof, true);
        s.user_namespace({ward::IdMap::single(0, 0, 65536), ward::IdMap::single(0, 0, 65536),
                          ward::Setgroups::automatic})
            .unshare({ward::NsKind::pid, ward::NsKind::mount, ward::NsKind::uts, ward::NsKind::net,
                      ward::NsKind::ipc, ward::NsKind::cgroup});
        ok = run((std::string("user namespace, ") + tag).c_str(), s) && ok;
      }
    }
    ward::force_mount_api(std::nullopt);
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "child_stack: %s\n", e.what());
    return 1;
  }
}
