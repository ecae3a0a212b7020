// SPDX-License-Identifier: Apache-2.0
// linux.devices in a container with its own user namespace, where mknod(2)
// is refused: the runtime (the host's root) makes each node as the config
// asks, in a detached tmpfs of the spawn, owned by the host ids the
// container's ids map to, and the container's side attaches it (crun's
// owner-device). Before, ward bound the host's node instead: the host's
// owner and mode, and nothing at all for a node the host lacks ("bind
// source of /dev/foo: ENOENT").
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "runtime_util.hpp"

namespace {

using ward_test::Bundle;
using ward_test::Out;
namespace json = ward::json;

constexpr std::uint32_t kHostBase = 1000;  // container 0 -> host 1000, 65536 ids

void drop_mount(json::Value& cfg, const std::string& dest) {
  auto& a = cfg.find("mounts")->as_array();
  for (auto it = a.begin(); it != a.end(); ++it)
    if (it->find("destination")->as_string() == dest) {
      a.erase(it);
      return;
    }
}

// A user namespace of its own; the rootfs owned by its root.
void own_userns(Bundle& b, json::Value& cfg) {
  json::Value* l = cfg.find("linux");
  l->find("namespaces")->push_back(json::Value::object({{"type", "user"}}));
  auto map = json::Value::array(
      {json::Value::object({{"containerID", 0}, {"hostID", kHostBase}, {"size", 65536}})});
  l->set("uidMappings", map);
  l->set("gidMappings", map);
  drop_mount(cfg, "/sys");  // a new sysfs needs a network namespace owned by the user's
  drop_mount(cfg, "/sys/fs/cgroup");
  for (auto& e : std::filesystem::recursive_directory_iterator(b.rootfs->path))
    REQUIRE(::lchown(e.path().c_str(), kHostBase, kHostBase) == 0);
  REQUIRE(::lchown(b.rootfs->path.c_str(), kHostBase, kHostBase) == 0);
}

json::Value device(const std::string& path, const char* type, int maj, int min, int mode, int uid,
                   int gid) {
  return json::Value::object({{"path", path},
                              {"type", type},
                              {"major", maj},
                              {"minor", min},
                              {"fileMode", mode},
                              {"uid", uid},
                              {"gid", gid}});
}

// Whether this kernel clones a path inside a detached mount (open_tree(2)
// OPEN_TREE_CLONE on a mount that fsmount(2) made and nobody attached):
// newer kernels do (6.18 here); Debian's 6.1 says EINVAL, and ward then
// binds the host's node as before (detail::host_node).
bool clones_from_detached_mounts() {
  int fs = static_cast<int>(::syscall(SYS_fsopen, "tmpfs", 1 /* FSOPEN_CLOEXEC */));
  if (fs < 0) return false;
  bool ok = false;
  if (::syscall(SYS_fsconfig, fs, 6 /* FSCONFIG_CMD_CREATE */, nullptr, nullptr, 0) == 0) {
    int m = static_cast<int>(::syscall(SYS_fsmount, fs, 1 /* FSMOUNT_CLOEXEC */, 0));
    if (m >= 0 && ::mkdirat(m, "d", 0755) == 0) {
      int t =
          static_cast<int>(::syscall(SYS_open_tree, m, "d", 1 /* OPEN_TREE_CLONE */ | O_CLOEXEC));
      ok = t >= 0;
      if (t >= 0) ::close(t);
    }
    if (m >= 0) ::close(m);
  }
  ::close(fs);
  return ok;
}

}  // namespace

TEST_CASE("userns devices: a node gets the config's owner and mode, also one the host lacks") {
  NEED_RUNTIME(b);
  if (!clones_from_detached_mounts())
    WARD_SKIP(
        "this kernel does not clone from a detached mount (open_tree: EINVAL before 6.x), "
        "so ward binds the host's node, which has the host's owner");
  REQUIRE(!std::filesystem::exists("/dev/ward-test-foo"));
  // busybox stat: owner, mode, major:minor (hex), kind; then the default
  // devices work as ever.
  b.set({"sh", "-c",
         "stat -c '%u:%g %a %t:%T %F' /dev/ward-test-foo /dev/ward-test-tty; "
         "echo x > /dev/null && head -c 4 /dev/zero | wc -c"},
        [&](json::Value& cfg) {
          own_userns(b, cfg);
          cfg.find("linux")->set(
              "devices", json::Value::array({device("/dev/ward-test-foo", "b", 1, 5, 0640, 10, 11),
                                             device("/dev/ward-test-tty", "c", 5, 0, 0620, 0, 5)}));
        });
  Out r = b.cmd({"run", "--bundle", b.dir.path, Bundle::id("udev")});
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out ==
        "10:11 640 1:5 block special file\n"
        "0:5 620 5:0 character special file\n"
        "4\n");
}

TEST_CASE("userns devices: an owner the user namespace does not map fails, naming the device") {
  NEED_RUNTIME(b);
  b.set({"true"}, [&](json::Value& cfg) {
    own_userns(b, cfg);
    cfg.find("linux")->set(
        "devices", json::Value::array({device("/dev/ward-test-foo", "b", 1, 5, 0640, 70000, 11)}));
  });
  Out r = b.cmd({"run", "--bundle", b.dir.path, Bundle::id("udev-unmapped")});
  CHECK(r.status == 1);
  CHECK_THAT(r.err, Catch::Contains("/dev/ward-test-foo") &&
                        Catch::Contains("not mapped by the user namespace"));
  CHECK(std::filesystem::is_empty(b.state.path));
}
