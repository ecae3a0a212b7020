// SPDX-License-Identifier: Apache-2.0
// The runtime's mount and rootfs setup where runc 1.1-1.5 succeeds on a
// config that engines really send (issue 13): each test drives `ward run`
// on a busybox bundle and asserts what the container sees. The attack cases
// check that following runc never lets a rootfs or a config path reach
// outside the rootfs, or make the runtime hang.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

#include "runtime_util.hpp"

namespace {

using ward_test::Bundle;
using ward_test::Out;
namespace json = ward::json;

json::Value* mount_at(json::Value& cfg, const std::string& dest) {
  for (json::Value& m : cfg.find("mounts")->as_array())
    if (m.find("destination")->as_string() == dest) return &m;
  return nullptr;
}

void drop_mount(json::Value& cfg, const std::string& dest) {
  auto& a = cfg.find("mounts")->as_array();
  for (auto it = a.begin(); it != a.end(); ++it)
    if (it->find("destination")->as_string() == dest) {
      a.erase(it);
      return;
    }
}

void drop_namespace(json::Value& cfg, const std::string& type) {
  auto& a = cfg.find("linux")->find("namespaces")->as_array();
  for (auto it = a.begin(); it != a.end(); ++it)
    if (it->find("type")->as_string() == type) {
      a.erase(it);
      return;
    }
}

json::Value device(const std::string& path, int major, int minor) {
  return json::Value::object({{"path", path},
                              {"type", "c"},
                              {"major", major},
                              {"minor", minor},
                              {"fileMode", 0666},
                              {"uid", 0},
                              {"gid", 0}});
}

// The mountinfo line whose mount point is `mnt` (field 5), "" if none.
std::string mountinfo_line(const std::string& mountinfo, const std::string& mnt) {
  std::size_t pos = 0;
  while (pos < mountinfo.size()) {
    std::size_t end = mountinfo.find('\n', pos);
    if (end == std::string::npos) end = mountinfo.size();
    std::string line = mountinfo.substr(pos, end - pos);
    pos = end + 1;
    std::size_t f = 0;
    for (int i = 0; i < 4 && f != std::string::npos; ++i) f = line.find(' ', f + 1);
    if (f == std::string::npos) continue;
    std::size_t e = line.find(' ', f + 1);
    if (line.substr(f + 1, e - f - 1) == mnt) return line;
  }
  return {};
}

Out run(Bundle& b, const std::string& name) {
  return b.cmd({"run", "--bundle", b.dir.path, Bundle::id(name)});
}

}  // namespace

// containerd's CRI gives a privileged pod every host device, /dev/ptmx
// among them; runc's createDevices skips that entry (setupPtmx makes
// /dev/ptmx the link to pts/ptmx).
TEST_CASE("oci mounts: a config listing /dev/ptmx among its devices runs, /dev/ptmx stays pts/ptmx",
          "[root][runtime]") {
  NEED_RUNTIME(b);
  b.set(
      {"sh", "-c", "readlink /dev/ptmx; stat -c '%t:%T' /dev/loop-control"}, [](json::Value& cfg) {
        cfg.find("linux")->set("devices", json::Value::array({device("/dev/ptmx", 5, 2),
                                                              device("/dev/loop-control", 10, 237),
                                                              device("/dev/null", 1, 3)}));
      });
  Out r = run(b, "ptmx");
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == "pts/ptmx\na:ed\n");
}

// A rootfs that makes a device path a symlink to a host file: no node is
// made through it, the host file is untouched, the error names the path.
TEST_CASE("oci mounts attack: a device path that is a symlink out of the rootfs is refused",
          "[root][runtime][attack]") {
  NEED_RUNTIME(b);
  ward_test::ScratchDir host("host");
  ward_test::write_file(host / "target", "host data\n");
  std::filesystem::create_directory(b.rootfs->path + "/dev");
  std::filesystem::create_symlink(host / "target", b.rootfs->path + "/dev/evil");
  std::filesystem::create_symlink("../../../../../../../.." + host.path + "/target",
                                  b.rootfs->path + "/dev/evil2");
  for (const char* dev : {"/dev/evil", "/dev/evil2"}) {
    b.set({"true"}, [&](json::Value& cfg) {
      drop_mount(cfg, "/dev/pts");
      drop_mount(cfg, "/dev/shm");
      drop_mount(cfg, "/dev/mqueue");
      drop_mount(cfg, "/dev");  // the rootfs's own /dev, as runc does then
      cfg.find("linux")->set("devices", json::Value::array({device(dev, 1, 3)}));
    });
    Out r = run(b, "evil");
    INFO(dev << ": " << r.err);
    CHECK(r.status != 0);
    CHECK_THAT(r.err, Catch::Contains(dev));
    struct stat st;
    REQUIRE(::lstat((host / "target").c_str(), &st) == 0);
    CHECK(S_ISREG(st.st_mode));
    CHECK(ward_test::read_file(host / "target") == "host data\n");
  }
  // Outside /dev a symlink resolves inside the rootfs (RESOLVE_IN_ROOT):
  // the node lands under the rootfs, never in the host directory.
  std::filesystem::create_directory_symlink(host.path, b.rootfs->path + "/data");
  b.set({"true"}, [&](json::Value& cfg) {
    cfg.find("linux")->set("devices", json::Value::array({device("/data/node", 1, 3)}));
  });
  Out r = run(b, "evil-data");
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(!std::filesystem::exists(std::filesystem::symlink_status(host / "node")));
  struct stat st;
  REQUIRE(::lstat((b.rootfs->path + host.path + "/node").c_str(), &st) == 0);
  CHECK(S_ISCHR(st.st_mode));
}

// pivot_root(2) refuses a shared mount (EINVAL): runc makes the rootfs'
// parent private, pivots, and only then applies rootfsPropagation to "/".
TEST_CASE("oci mounts: rootfsPropagation shared and rshared make the container's / shared",
          "[root][runtime]") {
  NEED_RUNTIME(b);
  for (const char* prop : {"shared", "rshared"}) {
    b.set({"cat", "/proc/self/mountinfo"},
          [&](json::Value& cfg) { cfg.find("linux")->set("rootfsPropagation", prop); });
    Out r = run(b, prop);
    INFO(prop << ": " << r.err << r.out);
    REQUIRE(r.status == 0);
    CHECK_THAT(mountinfo_line(r.out, "/"), Catch::Contains(" shared:"));
    if (std::string(prop) == "rshared")
      CHECK_THAT(mountinfo_line(r.out, "/proc"), Catch::Contains(" shared:"));
    else
      CHECK_THAT(mountinfo_line(r.out, "/proc"), !Catch::Contains(" shared:"));
  }
}

// Setup runs as the new user namespace's root (runc: setresuid(0) after
// the maps are written), not as host root, which such a map leaves out
// (an unmapped fsuid: EOVERFLOW on every mkdir).
TEST_CASE("oci mounts: a user namespace whose map leaves out host uid 0 sets the rootfs up",
          "[root][runtime]") {
  NEED_RUNTIME(b);
  b.set({"sh", "-c", "id -u; stat -c %u:%g /dev /dev/shm"}, [](json::Value& cfg) {
    json::Value* l = cfg.find("linux");
    l->find("namespaces")->push_back(json::Value::object({{"type", "user"}}));
    auto map = json::Value::array(
        {json::Value::object({{"containerID", 0}, {"hostID", 100000}, {"size", 65536}})});
    l->set("uidMappings", map);
    l->set("gidMappings", map);
    drop_mount(cfg, "/sys");  // a new sysfs needs a network namespace owned by the user's
    drop_mount(cfg, "/sys/fs/cgroup");
  });
  // The rootfs belongs to the namespace's root, as an engine's would.
  for (auto& e : std::filesystem::recursive_directory_iterator(b.rootfs->path))
    REQUIRE(::lchown(e.path().c_str(), 100000, 100000) == 0);
  REQUIRE(::lchown(b.rootfs->path.c_str(), 100000, 100000) == 0);
  Out r = run(b, "userns");
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == "0\n0:0\n0:0\n");
}

// The same map, and a bind source in a directory only its owner, the host's
// root, may enter (0700). The namespace's root is host uid 100000, which may
// not pass through it; the child opens such sources before it becomes that
// root. (Failed with EACCES at "open bind source" while the child switched
// ids before its mounts.) crun's mount-userns-bind-mount goes further, a
// 0000 parent, which only CAP_DAC_OVERRIDE over the host's files passes:
// runc and crun open the source in their parent (open_tree there, the
// attributes set there too); ward does not yet.
TEST_CASE(
    "oci mounts: a user namespace without host uid 0 binds a source in a directory only root may "
    "enter",
    "[root][runtime]") {
  NEED_RUNTIME(b);
  ward_test::ScratchDir vol("userns-bind");
  const std::string parent = vol.path + "/closed";
  REQUIRE(::mkdir(parent.c_str(), 0700) == 0);
  REQUIRE(::mkdir((parent + "/m").c_str(), 0755) == 0);
  ward_test::write_file(parent + "/m/content", "hello\n");
  b.set({"cat", "/foo/content"}, [&](json::Value& cfg) {
    json::Value* l = cfg.find("linux");
    l->find("namespaces")->push_back(json::Value::object({{"type", "user"}}));
    auto map = json::Value::array(
        {json::Value::object({{"containerID", 0}, {"hostID", 100000}, {"size", 65536}})});
    l->set("uidMappings", map);
    l->set("gidMappings", map);
    drop_mount(cfg, "/sys");
    drop_mount(cfg, "/sys/fs/cgroup");
    cfg.find("mounts")->push_back(
        json::Value::object({{"destination", "/foo"},
                             {"type", "bind"},
                             {"source", parent + "/m"},
                             {"options", json::Value::array({"bind", "ro"})}}));
  });
  for (auto& e : std::filesystem::recursive_directory_iterator(b.rootfs->path))
    REQUIRE(::lchown(e.path().c_str(), 100000, 100000) == 0);
  REQUIRE(::lchown(b.rootfs->path.c_str(), 100000, 100000) == 0);
  Out r = run(b, "usernsbind");
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == "hello\n");
}

// runtime-spec config-linux.md: a namespace type not listed is inherited
// from the runtime. With no mount namespace there is nothing to pivot:
// runc chroots into root.path (libcontainer prepareRootfs, chroot()).
TEST_CASE("oci mounts: without a mount namespace the container chroots in the runtime's",
          "[root][runtime]") {
  NEED_RUNTIME(b);
  ward_test::write_file(b.rootfs->path + "/marker", "in the rootfs\n");
  b.set({"sleep", "100"}, [](json::Value& cfg) {
    drop_namespace(cfg, "mount");
    cfg.set("mounts", json::Value::array({}));
    cfg.find("linux")->set("maskedPaths", json::Value::array({}));
    cfg.find("linux")->set("readonlyPaths", json::Value::array({}));
    cfg.find("root")->set("readonly", false);
  });
  const std::string id = Bundle::id("nomnt");
  ward::Child bg = b.run_in_background(id);
  auto st = ward::oci::parse_state(b.cmd({"state", id}).out);
  const std::string pid = std::to_string(st.pid);
  struct stat mine, theirs;
  REQUIRE(::stat("/proc/self/ns/mnt", &mine) == 0);
  REQUIRE(::stat(("/proc/" + pid + "/ns/mnt").c_str(), &theirs) == 0);
  CHECK(mine.st_ino == theirs.st_ino);
  CHECK(ward_test::read_file("/proc/" + pid + "/root/marker") == "in the rootfs\n");
  CHECK(std::filesystem::read_symlink("/proc/" + pid + "/root") ==
        std::filesystem::canonical(b.rootfs->path));
  // exec joins the rest and chroots like the init: it sees the rootfs, not
  // the host's "/" (found by review: it listed the host's root and ran its
  // /bin/sh).
  auto e = b.cmd({"exec", id, "cat", "/marker"});
  INFO(e.err);
  CHECK(e.status == 0);
  CHECK(e.out == "in the rootfs\n");
  auto l = b.cmd({"exec", id, "ls", "/"});
  CHECK(l.out.find("marker") != std::string::npos);
  CHECK(l.out.find("bin") != std::string::npos);
  CHECK(l.out.find("usr") == std::string::npos);  // the host's, never the rootfs'
  b.cmd({"kill", id, "KILL"});
  bg.wait();
}

// Joining a mount namespace by path (runc supports it): the process runs in
// that namespace and sees its mounts.
TEST_CASE("oci mounts: a mount namespace joined by path is the container's", "[root][runtime]") {
  NEED_RUNTIME(b);
  ward_test::ScratchDir dir("joinmnt");
  ward::Child holder = ward::Sandbox({"unshare", "-m", "--propagation", "private", "sh", "-c",
                                      "mount -t tmpfs j '" + dir.path + "' && echo joined > '" +
                                          dir.path + "/m' && exec sleep 100"})
                           .spawn();
  const std::string ns = "/proc/" + std::to_string(holder.pid()) + "/ns/mnt";
  bool ready = false;
  for (int i = 0; i < 500 && !ready; ++i) {
    ready = std::filesystem::exists("/proc/" + std::to_string(holder.pid()) + "/root" + dir.path +
                                    "/m");
    if (!ready) ::usleep(10000);
  }
  REQUIRE(ready);
  b.set({"cat", dir.path + "/m"}, [&](json::Value& cfg) {
    for (json::Value& n : cfg.find("linux")->find("namespaces")->as_array())
      if (n.find("type")->as_string() == "mount") n.set("path", ns);
    cfg.set("mounts", json::Value::array({}));
    cfg.find("linux")->set("maskedPaths", json::Value::array({}));
    cfg.find("linux")->set("readonlyPaths", json::Value::array({}));
    cfg.find("root")->set("readonly", false);
  });
  Out r = run(b, "joinmnt");
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == "joined\n");
  ::kill(holder.pid(), SIGKILL);
  holder.wait();
}

// A mount namespace "path" that is a FIFO (opening it for reading would
// block until a writer comes) or a regular file: a prompt, clear error.
// `timeout` only turns a hang into a failure instead of a stuck suite.
TEST_CASE("oci mounts attack: a mount namespace path that is a FIFO or a file fails promptly",
          "[root][runtime][attack]") {
  NEED_RUNTIME(b);
  ward_test::ScratchDir dir("nspath");
  REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
  ward_test::write_file(dir / "file", "not a namespace\n");
  for (const std::string& p : {dir / "fifo", dir / "file", std::string("/dev/null")}) {
    b.set({"true"}, [&](json::Value& cfg) {
      for (json::Value& n : cfg.find("linux")->find("namespaces")->as_array())
        if (n.find("type")->as_string() == "mount") n.set("path", p);
      cfg.set("mounts", json::Value::array({}));
      cfg.find("linux")->set("maskedPaths", json::Value::array({}));
      cfg.find("linux")->set("readonlyPaths", json::Value::array({}));
    });
    // Not ward_cmd: `timeout` first, so a hang ends as a failure.
    char en[] = "/tmp/ward-rt-err-XXXXXX";
    int ef = ::mkostemp(en, O_CLOEXEC);
    REQUIRE(ef >= 0);
    ::unlink(en);
    ward::Child c = ward::Sandbox({"timeout", "20", WARD_RUNTIME_BIN, "--root", b.state.path, "run",
                                   "--bundle", b.dir.path, Bundle::id("nspath")})
                        .stdin_(ward::Stdio::null())
                        .stderr_(ward::Stdio::fd(ef))
                        .spawn();
    int status = c.wait().shell_status();
    ::lseek(ef, 0, SEEK_SET);
    std::string err = ward_test::read_all(ef);
    ::close(ef);
    INFO(p << ": " << err);
    CHECK(status != 124);  // timeout(1): it hung
    CHECK(status != 0);
    CHECK_THAT(err, Catch::Contains(p) && Catch::Contains("not a namespace"));
  }
}

// runc remounts a read-only tmpfs or /dev read-only at the end
// (finalizeRootfs): its devices, devpts and shm mount points are made first.
TEST_CASE("oci mounts: a read-only /dev is filled first, then read-only", "[root][runtime]") {
  NEED_RUNTIME(b);
  b.set({"sh", "-c",
         "test -c /dev/null && test -d /dev/pts && echo filled; touch /dev/x 2>&1; "
         "touch /dev/shm/x && echo shm-writable; grep ' /dev ' /proc/self/mountinfo"},
        [](json::Value& cfg) { mount_at(cfg, "/dev")->find("options")->push_back("ro"); });
  Out r = run(b, "rodev");
  INFO(r.err << r.out);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::StartsWith("filled\n"));
  CHECK_THAT(r.out, Catch::Contains("Read-only file system"));
  CHECK_THAT(r.out, Catch::Contains("shm-writable\n"));
  CHECK_THAT(mountinfo_line(r.out, "/dev"), Catch::Contains(" ro,"));
}

namespace {
// A host directory with a tmpfs submount, bound into the container with
// `options`; prints which of the two are writable.
std::string rbind_writable(Bundle& b, const std::string& name, const json::Value& options) {
  ward_test::ScratchDir src("rbind");
  std::filesystem::create_directory(src / "sub");
  ward::MountGuard g = ward::MountGuard::mount(ward::MountSpec::tmpfs(src / "sub"));
  b.set({"sh", "-c",
         "touch /mnt/x 2>/dev/null && echo top-rw || echo top-ro; "
         "touch /mnt/sub/x 2>/dev/null && echo sub-rw || echo sub-ro"},
        [&](json::Value& cfg) {
          drop_mount(cfg, "/mnt");  // the previous call's
          cfg.find("mounts")->push_back(json::Value::object({{"destination", "/mnt"},
                                                             {"type", "bind"},
                                                             {"source", src.path},
                                                             {"options", options}}));
        });
  Out r = run(b, name);
  INFO(r.err);
  REQUIRE(r.status == 0);
  return r.out;
}
}  // namespace

// runtime-spec config.md / mount(8): "ro" is a per-mount flag; only "rro"
// (mount_setattr(2) AT_RECURSIVE) reaches the submounts of an rbind.
TEST_CASE("oci mounts: ro on an rbind makes only the top mount read-only, rro all of them",
          "[root][runtime]") {
  NEED_RUNTIME(b);
  CHECK(rbind_writable(b, "ro", json::Value::array({"rbind", "ro"})) == "top-ro\nsub-rw\n");
  CHECK(rbind_writable(b, "rro", json::Value::array({"rbind", "rro"})) == "top-ro\nsub-ro\n");
}

// runc's createOpenMountpoint: a tmpfs over an existing directory gets
// that directory's mode unless the options give one.
TEST_CASE("oci mounts: a tmpfs over an existing directory keeps its mode", "[root][runtime]") {
  NEED_RUNTIME(b);
  std::filesystem::create_directory(b.rootfs->path + "/m1");
  ::chmod((b.rootfs->path + "/m1").c_str(), 0710);
  std::filesystem::create_directory(b.rootfs->path + "/m2");
  ::chmod((b.rootfs->path + "/m2").c_str(), 0710);
  b.set({"stat", "-c", "%a", "/m1", "/m2"}, [](json::Value& cfg) {
    cfg.find("mounts")->push_back(
        json::Value::object({{"destination", "/m1"},
                             {"type", "tmpfs"},
                             {"source", "tmpfs"},
                             {"options", json::Value::array({"nosuid"})}}));
    cfg.find("mounts")->push_back(
        json::Value::object({{"destination", "/m2"},
                             {"type", "tmpfs"},
                             {"source", "tmpfs"},
                             {"options", json::Value::array({"mode=750"})}}));
  });
  Out r = run(b, "tmpmode");
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == "710\n750\n");
}
