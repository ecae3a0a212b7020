// SPDX-License-Identifier: Apache-2.0
// Bind sources that the container's user namespace cannot reach: a host
// directory under a parent owned by root with mode 0000, bound into a
// container whose user namespace maps 0 -> host 1 (size 10), as crun's
// mount-userns-bind-mount and mount-idmapped-mounts-symlink tests do. Only
// CAP_DAC_OVERRIDE over the host's files passes such a parent; a process in
// the new user namespace has none over inodes whose owner it does not map,
// so the runtime's own side (the host's root) makes the detached mount and
// the child only attaches it. The attack cases check that this never lets a
// rootfs symlink lead the mount out of the rootfs, and that no descriptor
// of a host mount reaches the container's process.
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

#include "mount_api_util.hpp"
#include "run_util.hpp"
#include "runtime_util.hpp"

namespace {

using ward_test::Bundle;
using ward_test::Out;
namespace json = ward::json;

void drop_mount(json::Value& cfg, const std::string& dest) {
  auto& a = cfg.find("mounts")->as_array();
  for (auto it = a.begin(); it != a.end(); ++it)
    if (it->find("destination")->as_string() == dest) {
      a.erase(it);
      return;
    }
}

// A user namespace mapping container 0 -> host 1, size 10 (crun's tests),
// and a rootfs owned by that root, as crun's chown_rootfs_to=1 makes it.
void userns_0_to_1(Bundle& b, json::Value& cfg) {
  json::Value* l = cfg.find("linux");
  l->find("namespaces")->push_back(json::Value::object({{"type", "user"}}));
  auto map =
      json::Value::array({json::Value::object({{"containerID", 0}, {"hostID", 1}, {"size", 10}})});
  l->set("uidMappings", map);
  l->set("gidMappings", map);
  drop_mount(cfg, "/sys");  // a new sysfs needs a network namespace owned by the user's
  drop_mount(cfg, "/sys/fs/cgroup");
  (void)b;
}

void chown_rootfs_to_1(Bundle& b) {
  for (auto& e : std::filesystem::recursive_directory_iterator(b.rootfs->path))
    REQUIRE(::lchown(e.path().c_str(), 1, 1) == 0);
  REQUIRE(::lchown(b.rootfs->path.c_str(), 1, 1) == 0);
}

json::Value ro_bind(const std::string& dest, const std::string& src) {
  return json::Value::object({{"destination", dest},
                              {"type", "bind"},
                              {"source", src},
                              {"options", json::Value::array({"bind", "ro"})}});
}

// <scratch>/closed (root:root 0000)/m/content = "hello", and
// <scratch>/closed/s -> <scratch>/closed/m. The mode is set last.
struct ClosedSource {
  ward_test::ScratchDir vol{"userns-src"};
  std::string parent = vol.path + "/closed";
  std::string dir = parent + "/m";
  std::string link = parent + "/s";
  ClosedSource() {
    REQUIRE(::mkdir(parent.c_str(), 0755) == 0);
    REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
    ward_test::write_file(dir + "/content", "hello\n");
    REQUIRE(::symlink(dir.c_str(), link.c_str()) == 0);
    REQUIRE(::chown(parent.c_str(), 0, 0) == 0);
    REQUIRE(::chmod(parent.c_str(), 0) == 0);
  }
  ~ClosedSource() { ::chmod(parent.c_str(), 0755); }
};

Out run(Bundle& b, const std::string& name) {
  return b.cmd({"run", "--bundle", b.dir.path, Bundle::id(name)});
}

}  // namespace

// Failed before (ward: mount open bind source /foo: ...: Permission denied
// (EACCES)): the child opened the source itself, already in the new user
// namespace.
TEST_CASE(
    "userns bind source: a read-only bind from under a root-owned 0000 directory is read "
    "in a container whose user namespace maps 0 to host uid 1",
    "[root][runtime]") {
  NEED_RUNTIME(b);
  ClosedSource src;
  b.set({"sh", "-c", "cat /foo/content; touch /foo/new 2>/dev/null && echo writable; true"},
        [&](json::Value& cfg) {
          userns_0_to_1(b, cfg);
          cfg.find("mounts")->push_back(ro_bind("/foo", src.dir));
        });
  chown_rootfs_to_1(b);
  Out r = run(b, "closed");
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == "hello\n");
  CHECK(!std::filesystem::exists(src.dir + "/new"));
}

// crun's mount-idmapped-mounts-symlink: the source is a symlink in that
// closed directory; the config author's host path is resolved on the host.
TEST_CASE(
    "userns bind source: a symlink under a root-owned 0000 directory as the source binds "
    "its target",
    "[root][runtime]") {
  NEED_RUNTIME(b);
  ClosedSource src;
  b.set({"cat", "/foo/content"}, [&](json::Value& cfg) {
    userns_0_to_1(b, cfg);
    cfg.find("mounts")->push_back(ro_bind("/foo", src.link));
  });
  chown_rootfs_to_1(b);
  Out r = run(b, "closedlink");
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == "hello\n");
}

// An idmapped bind (the mount's own uidMappings, written to its user
// namespace's maps as runc writes them): the file's on-disk owner 0 is id 0
// of a namespace mapping 0 to host 1, so it shows as host uid 1 on the
// mount, which the container's map shows as 0 (without the idmap: host uid
// 0, unmapped there, 65534). From the closed directory, and from an open
// one: the container's side may not make an idmapped mount of a host
// filesystem at all (EPERM from mount_setattr: no CAP_SYS_ADMIN over the
// filesystem's or the idmap's user namespace), so the runtime's side makes
// every idmapped bind. Both failed on main (EACCES, EPERM).
TEST_CASE(
    "userns bind source: an idmapped bind shows the mount's mapping in a container with its "
    "own user namespace",
    "[root][runtime]") {
  NEED_RUNTIME(b);
  ClosedSource src;
  // Skipped only when the kernel itself refuses (asked without ward): a
  // tmpfs /tmp before Linux 6.3.
  std::string why = ward_test::idmap_unsupported(src.vol.path);
  if (!why.empty()) WARD_SKIP("idmapped mounts unsupported here: " << why);
  const bool closed = GENERATE(true, false);
  if (!closed) REQUIRE(::chmod(src.parent.c_str(), 0755) == 0);
  b.set({"stat", "-c", "%u:%g", "/foo/content"}, [&](json::Value& cfg) {
    userns_0_to_1(b, cfg);
    json::Value m = ro_bind("/foo", src.dir);
    auto map = json::Value::array(
        {json::Value::object({{"containerID", 0}, {"hostID", 1}, {"size", 10}})});
    m.set("uidMappings", map);
    m.set("gidMappings", map);
    m.set("options", json::Value::array({"bind", "ro", "idmap"}));
    cfg.find("mounts")->push_back(std::move(m));
  });
  chown_rootfs_to_1(b);
  Out r = run(b, closed ? "closedidmap" : "openidmap");
  INFO((closed ? "closed parent: " : "open parent: ") << r.err);
  CHECK(r.status == 0);
  CHECK(r.out == "0:0\n");
}

// Attack: the rootfs makes the destination a symlink to an absolute path
// (/foo -> a host directory). The destination is still resolved inside the
// rootfs by the child (RESOLVE_IN_ROOT: that path under the rootfs), never by the runtime's
// side, which only opens the config author's host source. And the detached
// mount's descriptor is gone before the container's process runs: its shell
// holds 0, 1 and 2 only (a leaked descriptor of a host mount would let the
// container reach the host's tree through /proc/self/fd).
TEST_CASE(
    "userns bind source: a rootfs symlink at the destination stays in the rootfs and no "
    "host mount descriptor reaches the container",
    "[root][runtime][attack]") {
  NEED_RUNTIME(b);
  ClosedSource src;
  ward_test::ScratchDir host("userns-host");
  REQUIRE(::symlink(host.path.c_str(), (b.rootfs->path + "/foo").c_str()) == 0);
  b.set({"sh", "-c", "ls /proc/$$/fd; cat " + host.path + "/content"}, [&](json::Value& cfg) {
    userns_0_to_1(b, cfg);
    cfg.find("mounts")->push_back(ro_bind("/foo", src.dir));
  });
  chown_rootfs_to_1(b);
  Out r = run(b, "closedattack");
  INFO(r.err);
  CHECK(r.status == 0);
  // The bind landed on <rootfs><host.path> (created inside the rootfs),
  // not on the host's directory.
  CHECK(r.out == "0\n1\n2\nhello\n");
  CHECK(std::filesystem::is_empty(host.path));
  CHECK(std::filesystem::exists(b.rootfs->path + host.path));
}

// Attack: the container's root (CAP_SYS_ADMIN in its user namespace) clears
// nodev on its bind of a host mount that has it, to open device nodes
// found there. The kernel forbids it (MNT_LOCK_NODEV) on mounts copied
// into a mount namespace of a less privileged user namespace, and a clone
// made there keeps the lock; a clone made by the host's root has no lock.
// So the runtime's side clones a source only when the container's side
// cannot reach it: a reachable source keeps the lock. (A source under a
// 0000 directory gets the host's clone, and the container's root can clear
// its nodev, as with crun: the kernel has no way to lock it for us.)
TEST_CASE(
    "userns bind source: a reachable source is cloned on the container's side and keeps "
    "the host mount's locked nodev",
    "[root][runtime][attack]") {
  NEED_RUNTIME(b);
  ward_test::ScratchDir vol("userns-lock");
  const std::string m = vol.path + "/m";
  REQUIRE(::mkdir(m.c_str(), 0755) == 0);
  REQUIRE(::mount("tmpfs", m.c_str(), "tmpfs", MS_NODEV | MS_NOSUID, "size=64k") == 0);
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{m};
  b.set({"sh", "-c", "mount -o remount,bind,dev /foo 2>/dev/null && echo changed || echo locked"},
        [&](json::Value& cfg) {
          userns_0_to_1(b, cfg);
          json::Value* caps = cfg.find("process")->find("capabilities");
          for (const char* set : {"bounding", "effective", "permitted"})
            caps->find(set)->push_back("CAP_SYS_ADMIN");
          json::Value bnd = ro_bind("/foo", m);
          bnd.set("options", json::Value::array({"bind"}));
          cfg.find("mounts")->push_back(std::move(bnd));
        });
  chown_rootfs_to_1(b);
  Out r = run(b, "lock");
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == "locked\n");
}

// Library level: one Plan spawned twice (a detached mount attaches once, so
// the parent makes one per spawn), no descriptor left in the caller after
// either; then the source is gone at spawn time (the plan checked it), and
// the spawn fails naming the step, the destination, the source and the
// errno, with nothing left behind either.
TEST_CASE(
    "userns bind source: a plan spawned twice binds a closed source each time, and a source "
    "gone at spawn fails naming the step, destination, source and errno",
    "[root]") {
  WARD_SKIP_UNLESS_ROOT();
  std::string bb = ward_test::static_busybox();
  if (bb.empty()) WARD_SKIP("no static busybox (apt-get install busybox-static)");
  ward_test::BusyboxRootfs root(bb);
  for (auto& e : std::filesystem::recursive_directory_iterator(root.path))
    REQUIRE(::lchown(e.path().c_str(), 1, 1) == 0);
  REQUIRE(::lchown(root.path.c_str(), 1, 1) == 0);
  ClosedSource src;
  ward::UserNsOptions opts;
  opts.uid_map = ward::IdMap::single(0, 1, 10);
  opts.gid_map = ward::IdMap::single(0, 1, 10);
  ward::Sandbox sb;
  sb.command({"/bin/cat", "/foo/content"})
      .env({"PATH=/bin"})
      .unshare(ward::NsSet{ward::NsKind::mount, ward::NsKind::pid})
      .user_namespace(opts)
      .rootfs(root.path)
      .mount(ward::MountSpec::bind(src.dir, "/foo").read_only())
      .stdout_(ward::Stdio::pipe());
  ward::Plan plan = sb.plan();
  const std::vector<int> before = ward_test::open_fds();
  for (int i = 0; i < 2; ++i) {
    ward::Child c = plan.spawn();
    std::string out = ward_test::read_all(c.stdout_pipe().get());
    CHECK(c.wait().exit_code() == 0);
    CHECK(out == "hello\n");
  }
  CHECK(ward_test::open_fds() == before);
  ::chmod(src.parent.c_str(), 0755);
  REQUIRE(::rename(src.dir.c_str(), (src.parent + "/gone").c_str()) == 0);
  try {
    (void)plan.spawn();
    FAIL("the spawn succeeded without its bind source");
  } catch (const ward::Error& e) {
    INFO(e.what());
    CHECK(e.step() == ward::Step::mount);
    CHECK(e.error_number() == ENOENT);
    CHECK_THAT(e.what(), Catch::Contains("/foo") && Catch::Contains(src.dir));
  }
  CHECK(ward_test::open_fds() == before);
}
