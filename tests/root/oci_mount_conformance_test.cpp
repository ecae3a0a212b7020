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

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

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

// A directory made a shared mount point in the test's mount namespace (a
// bind onto itself, then MS_SHARED), as kubelet makes a pod's Bidirectional
// volume and systemd "/"; detached with everything under it at the end.
struct SharedMount {
  std::string path;
  explicit SharedMount(std::string p) : path(std::move(p)) {
    REQUIRE(::mount(path.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) == 0);
    if (::mount(nullptr, path.c_str(), nullptr, MS_SHARED, nullptr) != 0) {
      ::umount2(path.c_str(), MNT_DETACH);
      FAIL("make-shared " << path);
    }
  }
  ~SharedMount() { ::umount2(path.c_str(), MNT_DETACH); }
  SharedMount(const SharedMount&) = delete;
  SharedMount& operator=(const SharedMount&) = delete;
};

// The lines of this process's mountinfo whose mount point is `dir` or
// below it.
std::vector<std::string> mounts_under(const std::string& dir) {
  std::vector<std::string> out;
  const std::string all = ward_test::read_file("/proc/self/mountinfo");
  std::size_t pos = 0;
  while (pos < all.size()) {
    std::size_t end = all.find('\n', pos);
    if (end == std::string::npos) end = all.size();
    std::string line = all.substr(pos, end - pos);
    pos = end + 1;
    std::size_t f = 0;
    for (int i = 0; i < 4 && f != std::string::npos; ++i) f = line.find(' ', f + 1);
    if (f == std::string::npos) continue;
    std::string mp = line.substr(f + 1, line.find(' ', f + 1) - f - 1);
    if (mp == dir || mp.rfind(dir + "/", 0) == 0) out.push_back(line);
  }
  return out;
}

// What `now` has that `before` has not ("+ line") and the reverse
// ("- line"): two mount tables, "" when they are equal.
std::string table_diff(const std::string& before, const std::string& now) {
  auto lines = [](const std::string& t) {
    std::multiset<std::string> out;
    std::size_t pos = 0;
    while (pos < t.size()) {
      std::size_t end = t.find('\n', pos);
      if (end == std::string::npos) end = t.size();
      out.insert(t.substr(pos, end - pos));
      pos = end + 1;
    }
    return out;
  };
  std::multiset<std::string> b = lines(before), n = lines(now);
  std::string out;
  for (const std::string& l : n)
    if (b.count(l) < n.count(l) && out.find("+ " + l + "\n") == std::string::npos)
      out += "+ " + l + "\n";
  for (const std::string& l : b)
    if (n.count(l) < b.count(l) && out.find("- " + l + "\n") == std::string::npos)
      out += "- " + l + "\n";
  return out;
}

bool wait_for_file(const std::string& path) {
  for (int i = 0; i < 1000; ++i) {
    if (::access(path.c_str(), F_OK) == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// Sets linux.rootfsPropagation, or removes it (nullptr).
void set_rootfs_propagation(json::Value& cfg, const char* prop) {
  json::Value* l = cfg.find("linux");
  if (prop != nullptr) {
    l->set("rootfsPropagation", prop);
    return;
  }
  auto& o = l->as_object();
  std::erase_if(o, [](const json::Member& m) { return m.first == "rootfsPropagation"; });
}

// The config of the Bidirectional case: a bind of `vol` at /mnt/vol with
// runc's options for it (what containerd's CRI sends: "rbind", "rshared"),
// CAP_SYS_ADMIN, and a process that mounts a tmpfs at /mnt/vol/sub, writes
// a file in it, and then says so in /mnt/vol/ready (on the host's directory
// itself, whatever happened to the tmpfs).
void bidirectional_config(Bundle& b, const std::string& vol, const char* prop) {
  b.set({"sh", "-c",
         "mount -t tmpfs -o size=64k ward-bidir /mnt/vol/sub && echo from-container > "
         "/mnt/vol/sub/f; touch /mnt/vol/ready; exec sleep 1000"},
        [&](json::Value& cfg) {
          json::Value* caps = cfg.find("process")->find("capabilities");
          for (const char* set : {"bounding", "effective", "permitted"})
            caps->find(set)->push_back("CAP_SYS_ADMIN");
          drop_mount(cfg, "/mnt/vol");  // the one of the previous round
          cfg.find("mounts")->push_back(
              json::Value::object({{"destination", "/mnt/vol"},
                                   {"type", "bind"},
                                   {"source", vol},
                                   {"options", json::Value::array({"rbind", "rshared"})}}));
          set_rootfs_propagation(cfg, prop);
        });
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

// Kubernetes' Bidirectional mount propagation (critest "mount propagation:
// Bidirectional"): containerd's CRI sets rootfsPropagation rshared and binds
// the volume, a shared mount on the host, with "rbind", "rshared"; a mount
// the container makes under it must show on the host. runc 1.1.5 does it.
// (Failed while the child made "/" a recursive slave before the binds: a
// slave never propagates to its master, mount_namespaces(7).) The host
// keeps the tmpfs after the container is gone, with runc too: a mount
// namespace's teardown does not propagate; the test unmounts it.
TEST_CASE(
    "oci mounts: rootfsPropagation rshared carries a container's mount under an rshared "
    "bind of a shared host directory to the host",
    "[root][runtime]") {
  NEED_RUNTIME(b);
  ward_test::ScratchDir host("bidir");
  const std::string vol = host / "vol";
  REQUIRE(::mkdir(vol.c_str(), 0755) == 0);
  SharedMount shared(vol);
  REQUIRE(::mkdir((vol + "/sub").c_str(), 0755) == 0);
  for (const char* prop : {"rshared", "shared"})
    for (const std::vector<std::string>& flags :
         std::vector<std::vector<std::string>>{{}, {"--no-pivot"}}) {
      const bool no_pivot = !flags.empty();
      INFO(prop << (no_pivot ? " --no-pivot" : ""));
      ::unlink((vol + "/ready").c_str());
      bidirectional_config(b, vol, prop);
      const std::string id = Bundle::id(std::string("bidir-") + prop + (no_pivot ? "-np" : ""));
      ward::Child bg = b.run_in_background(id, flags);
      REQUIRE(wait_for_file(vol + "/ready"));
      std::vector<std::string> m = mounts_under(vol + "/sub");
      CHECK(mounts_under(vol).size() == 2);  // vol and vol/sub: nothing stacked on vol
      REQUIRE(m.size() == 1);
      CHECK_THAT(m[0], Catch::Contains(" - tmpfs ward-bidir "));
      CHECK(ward_test::read_file(vol + "/sub/f") == "from-container\n");
      Out d = b.cmd({"delete", "--force", id});
      INFO(d.err);
      CHECK(d.status == 0);
      bg.wait();
      CHECK(::umount2((vol + "/sub").c_str(), MNT_DETACH) == 0);
      CHECK(mounts_under(vol + "/sub").empty());
    }
}

// The same bind and process without rootfsPropagation (r)shared: nothing
// the container mounts reaches the host. runc 1.1.5 agrees for none,
// rslave and rprivate; with "private" (and "slave") it applies the value to
// "/" alone, the other mounts stay peers of the host's, and the container's
// tmpfs shows on the host; ward keeps "/" a recursive slave for every value
// but (r)shared.
TEST_CASE(
    "oci mounts: without rootfsPropagation (r)shared, nothing the container mounts under a "
    "bind reaches the host",
    "[root][runtime]") {
  NEED_RUNTIME(b);
  ward_test::ScratchDir host("onedir");
  const std::string vol = host / "vol";
  REQUIRE(::mkdir(vol.c_str(), 0755) == 0);
  SharedMount shared(vol);
  REQUIRE(::mkdir((vol + "/sub").c_str(), 0755) == 0);
  for (const char* prop :
       {static_cast<const char*>(nullptr), "rslave", "slave", "private", "rprivate"}) {
    INFO((prop != nullptr ? prop : "(unset)"));
    ::unlink((vol + "/ready").c_str());
    bidirectional_config(b, vol, prop);
    const std::string id = Bundle::id(std::string("onedir-") + (prop != nullptr ? prop : "unset"));
    ward::Child bg = b.run_in_background(id);
    REQUIRE(wait_for_file(vol + "/ready"));
    CHECK(mounts_under(vol + "/sub").empty());
    CHECK(::access((vol + "/sub/f").c_str(), F_OK) != 0);
    Out d = b.cmd({"delete", "--force", id});
    INFO(d.err);
    CHECK(d.status == 0);
    bg.wait();
    ::umount2((vol + "/sub").c_str(), MNT_DETACH);  // only if the check above failed
  }
}

// Host pollution: the rootfs's bind onto itself, the container's own mounts
// (proc, dev, ...) and the unmount of the old root must never show in the
// mount table of the runtime's caller, whatever rootfsPropagation, with
// pivot_root or --no-pivot's MS_MOVE. The caller here is a mount namespace
// of the test's own where everything is shared, as systemd leaves a host
// (so a leak cannot reach the machine's): `ward create`, then its
// /proc/self/mountinfo must equal the one before, line for line, and again
// after `delete`. The rootfs is a plain directory (in the shared "/") or a
// mount point of its own (a bind, as an engine's overlay is); a tmpfs leaf
// stands for the host mounts the old root's detach could take along. runc
// 1.1.5 leaves these tables unchanged too. The defences this checks: the
// mount holding the rootfs made private before the rootfs's bind, the old
// "/" a slave before MS_MOVE or pivot_root, the old root a recursive slave
// before its detach (seen failing without them).
TEST_CASE(
    "oci mounts attack: the rootfs and the container's mounts never show in the caller's "
    "mount table, whatever rootfsPropagation",
    "[root][runtime][attack]") {
  NEED_RUNTIME(b);
  if (std::system("unshare --help >/dev/null 2>&1") != 0) WARD_SKIP("no unshare(1)");
  ward_test::ScratchDir host("leak");
  const std::string mp = host / "mp", leaf = host / "leaf", io = host / "io";
  for (const std::string& d : {mp, leaf, io}) REQUIRE(::mkdir(d.c_str(), 0755) == 0);
  const std::string rt = WARD_RUNTIME_BIN;
  for (const char* where : {"plain", "mount point"})
    for (const char* prop :
         {static_cast<const char*>(nullptr), "rslave", "private", "rprivate", "shared", "rshared"})
      for (bool no_pivot : {false, true}) {
        const bool own_mount = std::string(where) != "plain";
        INFO(where << ", " << (prop != nullptr ? prop : "(unset)")
                   << (no_pivot ? ", --no-pivot" : ""));
        b.set({"true"}, [&](json::Value& cfg) {
          cfg.find("root")->set("path", own_mount ? mp : b.rootfs->path);
          set_rootfs_propagation(cfg, prop);
        });
        const std::string id = Bundle::id("leak");
        for (const char* f : {"/before", "/create", "/during", "/after"})
          ::unlink((io + f).c_str());
        // The tables are read whatever create did: a leak made before a
        // failure stays in the caller's table.
        std::string script =
            "set -e; mount --make-rshared /; mount -t tmpfs -o size=16k ward-leaf '" + leaf + "'; ";
        if (own_mount) script += "mount --bind '" + b.rootfs->path + "' '" + mp + "'; ";
        script += "cat /proc/self/mountinfo > '" + io + "/before'; rc=0; '" + rt + "' --root '" +
                  b.state.path + "' create " + (no_pivot ? "--no-pivot " : "") + "--bundle '" +
                  b.dir.path + "' " + id + " </dev/null >'" + io +
                  "/create' 2>&1 || rc=\\$?; cat " + "/proc/self/mountinfo > '" + io +
                  "/during'; '" + rt + "' --root '" + b.state.path + "' delete --force " + id +
                  " >/dev/null 2>&1 || true; cat " + "/proc/self/mountinfo > '" + io +
                  "/after'; exit \\$rc";
        // The namespace is private first: the host's shared mounts are not
        // peers of the ones it then makes shared.
        std::string cmd = "unshare -m --propagation private sh -c \"" + script + "\"";
        int rc = std::system(cmd.c_str());
        INFO(ward_test::read_file(io + "/create"));
        CHECK(rc == 0);
        // Other tests' scratch mounts (/tmp/ward-*) come and go while this
        // runs (ctest -j2): only this test's own are compared, with every
        // mount outside /tmp/ward-*.
        const std::vector<std::string> mine = {host.path, b.dir.path, b.rootfs->path, b.state.path};
        auto ours = [&](const std::string& table) {
          std::string out;
          std::size_t pos = 0;
          while (pos < table.size()) {
            std::size_t end = table.find('\n', pos);
            if (end == std::string::npos) end = table.size();
            const std::string l = table.substr(pos, end - pos);
            pos = end + 1;
            std::size_t f = 0;
            for (int i = 0; i < 4 && f != std::string::npos; ++i) f = l.find(' ', f + 1);
            const std::string point =
                f == std::string::npos ? "" : l.substr(f + 1, l.find(' ', f + 1) - f - 1);
            bool keep = point.rfind("/tmp/ward-", 0) != 0;
            for (const auto& m : mine) keep = keep || point == m || point.rfind(m + "/", 0) == 0;
            if (keep) out += l + "\n";
          }
          return out;
        };
        const std::string before = ours(ward_test::read_file(io + "/before"));
        REQUIRE(!before.empty());
        CHECK(table_diff(before, ours(ward_test::read_file(io + "/during"))) == "");
        CHECK(table_diff(before, ours(ward_test::read_file(io + "/after"))) == "");
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
