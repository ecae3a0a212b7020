// SPDX-License-Identifier: Apache-2.0
// The runtime with a config that lists mounts but no mount namespace of
// its own (runtime-tools' linux_ns_itype and linux_ns_path): the mounts are
// made in the runtime's mount namespace below a clone of root.path, the
// container is chrooted into it, and delete (or the end of a foreground
// run) removes that clone and nothing else.
#include <sys/mount.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <ward/ward.hpp>

#include <catch2/catch.hpp>

#include "runtime_util.hpp"

using namespace ward_test;
namespace fs = std::filesystem;

namespace {

void no_mount_ns(json::Value& cfg) {
  auto& a = cfg.find("linux")->find("namespaces")->as_array();
  for (auto it = a.begin(); it != a.end(); ++it)
    if (it->find("type")->as_string() == "mount") {
      a.erase(it);
      return;
    }
}

std::string link(const std::string& path) {
  char buf[128] = {};
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace

TEST_CASE(
    "runtime: a container without a mount namespace of its own gets its mounts below a clone of "
    "its rootfs") {
  WARD_SKIP_UNLESS_ROOT();
  ward_test::isolate_mounts();  // the runtime's namespace is this test's
  std::string bb = ward_test::static_busybox();
  if (bb.empty()) WARD_SKIP("no static busybox (apt-get install busybox-static)");
  Bundle b(bb);
  const std::string rootfs = b.rootfs->path;
  const auto before = mount_points();
  const std::string before_root = root_mount_line();
  const std::string id = Bundle::id("sharedns");
  SECTION("create and delete") {
    b.set({"sh", "-c", "test -d /proc/1 && test -c /dev/null && echo ok > /dev/shm/x; sleep 60"},
          no_mount_ns);
    auto r = b.cmd({"create", "--bundle", b.dir.path, id});
    REQUIRE(r.status == 0);
    auto st = ward::oci::parse_state(b.cmd({"state", id}).out);
    const std::string pid = std::to_string(st.pid);
    // The runtime's mount namespace, with the config's mounts below the
    // rootfs only; "/" as it was (runc makes it a recursive slave).
    CHECK(link("/proc/" + pid + "/ns/mnt") == link("/proc/self/ns/mnt"));
    auto during = mount_points();
    CHECK(during.count(rootfs) == 1);
    CHECK(during.count(rootfs + "/proc") == 1);
    CHECK(during.count(rootfs + "/dev") == 1);
    CHECK(during.count(rootfs + "/sys") == 1);
    for (const auto& m : before) CHECK(during.count(m) >= before.count(m));
    for (const auto& m : during)
      if (before.count(m) == 0) CHECK(m.rfind(rootfs, 0) == 0);
    CHECK(root_mount_line() == before_root);
    // The container's root is the clone.
    CHECK(link("/proc/" + pid + "/root") == rootfs);
    REQUIRE(b.cmd({"start", id}).status == 0);
    // delete kills it and takes the clone with every mount below it.
    auto d = b.cmd({"delete", "--force", id});
    CHECK(d.status == 0);
    INFO(d.err);
    CHECK(mount_points() == before);
  }
  SECTION("a create killed before it recorded the clone") {
    // As if the runtime died between its child's mount and the record:
    // the record without the clone, the container's init alive.
    b.set({"sleep", "60"}, no_mount_ns);
    REQUIRE(b.cmd({"create", "--bundle", b.dir.path, id}).status == 0);
    const std::string record = b.state.path + "/" + id + "/state.json";
    json::Value v = json::parse(ward_test::read_file(record));
    REQUIRE(v.find("wardRootfsMount") != nullptr);
    json::Value stripped = json::Value::object();
    for (const auto& [k, val] : v.as_object())
      if (k != "wardRootfsMount") stripped.set(k, val);
    ward_test::write_file(record, json::dump(stripped));
    CHECK(mount_points().count(rootfs + "/proc") == 1);
    auto d = b.cmd({"delete", "--force", id});
    INFO(d.err);
    CHECK(d.status == 0);
    CHECK(mount_points() == before);
  }
  SECTION("the record names the clone before the createRuntime hooks") {
    // The hook copies the record as it is then: a create killed while its
    // hooks run leaves the clone to delete.
    const std::string seen = b.dir / "record-during-hook";
    const std::string record = b.state.path + "/" + id + "/state.json";
    b.set({"true"}, [&](json::Value& cfg) {
      no_mount_ns(cfg);
      json::Value hook = json::Value::object(
          {{"path", "/bin/sh"},
           {"args", json::Value::array({"sh", "-c", "cat " + record + " > " + seen})}});
      cfg.set("hooks", json::Value::object({{"createRuntime", json::Value::array({hook})}}));
    });
    REQUIRE(b.cmd({"create", "--bundle", b.dir.path, id}).status == 0);
    json::Value during = json::parse(ward_test::read_file(seen));
    REQUIRE(during.find("wardRootfsMount") != nullptr);
    CHECK(during.find("wardRootfsMount")->find("path")->as_string() ==
          (fs::path(b.dir.path) / "rootfs").string());
    CHECK(b.cmd({"delete", "--force", id}).status == 0);
    CHECK(mount_points() == before);
  }
  SECTION("a record that names another mount") {
    // A tampered record (or one of an older layout) must not make delete
    // unmount anything but the container's clone: here a tmpfs of the
    // host's, and the runtime's own "/".
    ward_test::ScratchDir victim("victim");
    REQUIRE(::mount("tmpfs", victim.path.c_str(), "tmpfs", 0, nullptr) == 0);
    const auto with_victim = mount_points();
    b.set({"sleep", "60"}, no_mount_ns);
    REQUIRE(b.cmd({"create", "--bundle", b.dir.path, id}).status == 0);
    const std::string record = b.state.path + "/" + id + "/state.json";
    json::Value v = json::parse(ward_test::read_file(record));
    SECTION("another path") {
      bool is_root = false;
      auto m = ward::RootfsMount::at(victim.path, &is_root);
      REQUIRE(is_root);
      v.find("wardRootfsMount")->set("path", victim.path);
      v.find("wardRootfsMount")->set("id", m.id);
      v.find("wardRootfsMount")->set("unique", m.unique);
    }
    SECTION("the runtime's /") {
      auto m = ward::RootfsMount::at("/");
      v.find("wardRootfsMount")->set("path", "/");
      v.find("wardRootfsMount")->set("id", m.id);
      v.find("wardRootfsMount")->set("unique", m.unique);
    }
    ward_test::write_file(record, json::dump(v));
    auto d = b.cmd({"delete", "--force", id});
    CHECK(d.status == 0);
    CHECK_THAT(d.err, Catch::Contains("left as it is"));
    auto after = mount_points();
    CHECK(after.count(victim.path) == 1);
    CHECK(after.count("/") == 1);
    // The clone itself stays: the record no longer names it.
    CHECK(after.count(rootfs + "/proc") == 1);
    // Lazily, the clone with every mount below it.
    ::umount2(rootfs.c_str(), MNT_DETACH);
    ::umount2(victim.path.c_str(), MNT_DETACH);
    CHECK(mount_points() == before);
  }
  SECTION("a second container on the same root.path is refused") {
    b.set({"sleep", "60"}, no_mount_ns);
    REQUIRE(b.cmd({"create", "--bundle", b.dir.path, id}).status == 0);
    const auto one = mount_points();
    auto r = b.cmd({"create", "--bundle", b.dir.path, id + "-2"});
    CHECK(r.status != 0);
    CHECK_THAT(r.err,
               Catch::Contains("root.path") && Catch::Contains(id) && Catch::Contains("EBUSY"));
    CHECK(mount_points() == one);
    CHECK(b.cmd({"state", id + "-2"}).status != 0);
    CHECK(b.cmd({"delete", "--force", id}).status == 0);
    CHECK(mount_points() == before);
  }
  SECTION("a joined mount namespace: exec is chrooted and delete detaches inside it") {
    ward_test::NsHolder holder;
    const auto holder_before = mount_points(holder.pid_s());
    b.set({"sleep", "60"}, [&](json::Value& cfg) {
      no_mount_ns(cfg);
      cfg.find("linux")
          ->find("namespaces")
          ->push_back(json::Value::object({{"type", "mount"}, {"path", holder.ns_path()}}));
    });
    REQUIRE(b.cmd({"create", "--bundle", b.dir.path, id}).status == 0);
    CHECK(mount_points(holder.pid_s()).count(rootfs + "/proc") == 1);
    CHECK(mount_points() == before);
    // exec sees the container's root, not the joined namespace's "/".
    auto e = b.cmd({"exec", id, "ls", "/"});
    INFO(e.err);
    CHECK(e.status == 0);
    CHECK(e.out.find("bin\n") != std::string::npos);
    CHECK(e.out.find("tmp\n") == std::string::npos);
    CHECK(b.cmd({"delete", "--force", id}).status == 0);
    CHECK(mount_points(holder.pid_s()) == holder_before);
  }
  SECTION("a foreground run") {
    b.set({"sh", "-c", "test -d /proc/1 && readlink /proc/self/ns/mnt"}, no_mount_ns);
    auto r = b.cmd({"run", "--bundle", b.dir.path, id});
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(r.out == link("/proc/self/ns/mnt") + "\n");
    CHECK(mount_points() == before);
  }
  SECTION("a program that cannot run: create fails and leaves no mount") {
    b.set({"/no/such/program"}, no_mount_ns);
    auto r = b.cmd({"create", "--bundle", b.dir.path, id});
    CHECK(r.status != 0);
    CHECK_THAT(r.err, Catch::Contains("/no/such/program"));
    CHECK(mount_points() == before);
  }
  SECTION("with a new user namespace it is refused with the field named") {
    b.set({"true"}, [](json::Value& cfg) {
      no_mount_ns(cfg);
      cfg.find("linux")->find("namespaces")->push_back(json::Value::object({{"type", "user"}}));
      cfg.find("linux")->set("uidMappings",
                             json::Value::array({json::Value::object(
                                 {{"containerID", 0}, {"hostID", 100000}, {"size", 65536}})}));
      cfg.find("linux")->set("gidMappings",
                             json::Value::array({json::Value::object(
                                 {{"containerID", 0}, {"hostID", 100000}, {"size", 65536}})}));
    });
    auto r = b.cmd({"run", "--bundle", b.dir.path, id});
    CHECK(r.status != 0);
    CHECK_THAT(r.err, Catch::Contains("mounts") && Catch::Contains("user namespace"));
    CHECK(mount_points() == before);
  }
}
