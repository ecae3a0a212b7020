// SPDX-License-Identifier: Apache-2.0
// Sandbox::shared_mount_namespace: a rootfs and its mounts set up in the
// mount namespace the sandbox shares (an OCI config that lists mounts
// without a mount namespace of its own; runtime-tools' linux_ns_itype and
// linux_ns_path). Each test here is the attack on one of its rules: the
// namespace's "/" and other mounts stay as they were, nothing reaches a
// peer of the namespace, a hostile rootfs cannot aim a mount outside
// itself, and the clone is removed exactly: a failed spawn, or the end of
// one sandbox, leaves nothing and takes nothing of another's.
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <ward/ward.hpp>

#include <catch2/catch.hpp>

#include "rootfs_util.hpp"
#include "run_util.hpp"
#include "test_util.hpp"

using namespace ward;

namespace {

// A sandbox in the caller's mount namespace with its own /proc and a tmpfs.
Sandbox in_place(const std::string& root, const std::string& script) {
  Sandbox sb;
  sb.command({"/bin/sh", "-c", script})
      .env({"PATH=/bin"})
      .unshare(NsSet{NsKind::pid, NsKind::uts, NsKind::ipc})
      .rootfs(root)
      .shared_mount_namespace()
      .mount(MountSpec::proc())
      .mount(MountSpec::tmpfs("/tmp"))
      .stdout_(Stdio::pipe())
      .stderr_(Stdio::pipe());
  return sb;
}

using ward_test::mount_points;
using ward_test::root_mount_line;

using ward_test::NsHolder;

std::string ns_of(const std::string& pid, const char* ns) {
  char buf[64] = {};
  ssize_t n = ::readlink(("/proc/" + pid + "/ns/" + ns).c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace

TEST_CASE("shared mount namespace: mounts land below a clone of the rootfs and / is left alone") {
  NEED_ISOLATED_BUSYBOX(root);
  const std::string before_root = root_mount_line();
  const auto before = mount_points();
  Sandbox sb = in_place(root.path,
                        "readlink /proc/self/ns/mnt; test -d /proc/1 && echo proc; "
                        "touch /tmp/x && echo tmp; ls /; read line");
  sb.stdin_(Stdio::pipe());
  Child c = sb.spawn();
  REQUIRE(c.rootfs_mount());
  CHECK(c.rootfs_mount().path == root.path);
  // While it runs: the clone and its mounts are in this namespace, below
  // the rootfs and nowhere else; "/" is as it was (runc makes it a slave).
  auto during = mount_points();
  CHECK(during.count(root.path) == 1);
  CHECK(during.count(root.path + "/proc") == 1);
  CHECK(during.count(root.path + "/tmp") == 1);
  CHECK(during.size() == before.size() + 3);
  CHECK(root_mount_line() == before_root);
  bool is_root = false;
  CHECK(RootfsMount::at(root.path, &is_root).id == c.rootfs_mount().id);
  CHECK(is_root);
  REQUIRE(::write(c.stdin_pipe().get(), "\n", 1) == 1);
  std::string out = ward_test::read_all(c.stdout_pipe().get());
  std::string err = ward_test::read_all(c.stderr_pipe().get());
  CHECK(c.wait().success());
  INFO(out << err);
  // The same mount namespace as ours, its own /proc (pid 1 is its own),
  // a tmpfs, and the rootfs as "/".
  CHECK(out.rfind(ns_of("self", "mnt") + "\nproc\ntmp\n", 0) == 0);
  CHECK(out.find("bin") != std::string::npos);
  // The Child's end detaches the clone and everything below it.
  c = Child();
  CHECK(mount_points() == before);
  CHECK(root_mount_line() == before_root);
}

TEST_CASE("shared mount namespace attack: a peer of the namespace sees none of its mounts") {
  NEED_ISOLATED_BUSYBOX(root);
  // "/" shared, as systemd makes the host's, and a peer namespace of it:
  // what propagates from the sandbox's mounts would show up there.
  REQUIRE(::mount(nullptr, "/", nullptr, MS_REC | MS_SHARED, nullptr) == 0);
  NsHolder peer;
  const std::string peer_pid = peer.pid_s();
  REQUIRE(ns_of(peer_pid, "mnt") != ns_of("self", "mnt"));
  Sandbox sb = in_place(root.path, "read line");
  sb.stdin_(Stdio::pipe());
  Child c = sb.spawn();
  auto in_peer = mount_points(peer_pid);
  // Attaching the clone under a shared mount propagates the clone (as any
  // mount there would), but nothing mounted below it.
  CHECK(in_peer.count(root.path + "/proc") == 0);
  CHECK(in_peer.count(root.path + "/tmp") == 0);
  REQUIRE(::write(c.stdin_pipe().get(), "\n", 1) == 1);
  CHECK(c.wait().success());
  c = Child();
  // The detach propagates too: the peer is left as it was.
  CHECK(mount_points(peer_pid).count(root.path) == 0);
}

TEST_CASE("shared mount namespace attack: a rootfs symlink cannot aim a mount at the host") {
  NEED_ISOLATED_BUSYBOX(root);
  // The image's /tmp (or /proc) leads to a host directory; in a shared
  // namespace a mount that followed it would cover the host's own.
  ward_test::ScratchDir victim("victim");
  const auto before = mount_points();
  SECTION("a link in the middle of a destination is resolved inside the rootfs") {
    ::mkdir((victim.path + "/sub").c_str(), 0755);
    std::filesystem::create_directory_symlink("../../../../.." + victim.path, root.path + "/data");
    Sandbox sb = in_place(root.path, "test -d /proc/1 && echo proc");
    sb.mount(MountSpec::tmpfs("/data/sub"));
    ward_test::Run r;
    {
      Child c = sb.spawn();
      r.out = ward_test::read_all(c.stdout_pipe().get());
      r.status = c.wait();
      // RESOLVE_IN_ROOT: the tmpfs went to <rootfs><victim>/sub, never
      // onto the victim's own.
      CHECK(mount_points().count(victim.path + "/sub") == 0);
      CHECK(mount_points().count(root.path + victim.path + "/sub") == 1);
    }
    CHECK(r.status.success());
    CHECK(r.out == "proc\n");
  }
  SECTION("an absolute link where /proc goes is refused") {
    // runc refuses a /proc that is not a directory (CVE-2019-19921).
    std::filesystem::create_directory_symlink(victim.path, root.path + "/proc");
    Sandbox sb = in_place(root.path, "true");
    CHECK_THROWS_WITH(sb.spawn(), Catch::Contains("/proc") && Catch::Contains("ELOOP"));
  }
  CHECK(mount_points() == before);
}

TEST_CASE("shared mount namespace: a failed spawn leaves no mount behind") {
  NEED_ISOLATED_BUSYBOX(root);
  const auto before = mount_points();
  SECTION("the program is missing: exec fails after every mount is made") {
    Sandbox sb = in_place(root.path, "");
    sb.command({"/bin/no-such-program"});
    CHECK_THROWS_AS(sb.spawn(), Error);
  }
  SECTION("a mount step fails half-way") {
    Sandbox sb = in_place(root.path, "true");
    sb.mount(MountSpec::bind("/no/such/source", "/mnt"));
    CHECK_THROWS_AS(sb.spawn(), Error);
  }
  CHECK(mount_points() == before);
}

TEST_CASE("shared mount namespace attack: one sandbox's end does not take another's mounts") {
  NEED_ISOLATED_BUSYBOX(root);
  const auto before = mount_points();
  // Two sandboxes on one rootfs: their clones stack on the same path, and
  // an unmount by path would remove the second's when the first ends.
  Sandbox a = in_place(root.path, "read line");
  a.stdin_(Stdio::pipe());
  Child first = a.spawn();
  Sandbox b = in_place(root.path, "read line; test -d /proc/1 && echo proc");
  b.stdin_(Stdio::pipe());
  Child second = b.spawn();
  REQUIRE(first.rootfs_mount().id != second.rootfs_mount().id);
  const RootfsMount first_clone = first.rootfs_mount();
  REQUIRE(::write(first.stdin_pipe().get(), "\n", 1) == 1);
  CHECK(first.wait().success());
  // The first clone lies under the second: umount2(2) of its place would
  // take the second (the topmost), so it stays.
  CHECK_FALSE(first_clone.detach());
  first = Child();
  CHECK(mount_points().count(root.path) == 2);
  REQUIRE(::write(second.stdin_pipe().get(), "\n", 1) == 1);
  std::string out = ward_test::read_all(second.stdout_pipe().get());
  CHECK(second.wait().success());
  CHECK(out == "proc\n");
  second = Child();
  // Uncovered now, it goes exactly.
  CHECK(first_clone.detach());
  CHECK(mount_points() == before);
}

TEST_CASE(
    "shared mount namespace attack: a second sandbox on the same rootfs sees none of the first's "
    "mounts") {
  NEED_ISOLATED_BUSYBOX(root);
  const auto before = mount_points();
  // The first has a host directory bound in; the second, on the same
  // rootfs path, would find it under a recursive clone of what the path
  // leads to (the first's clone).
  ward_test::ScratchDir secret("secret");
  ward_test::write_file(secret.path + "/key", "first only\n");
  Sandbox a = in_place(root.path, "read line");
  a.mount(MountSpec::bind(secret.path, "/secret")).stdin_(Stdio::pipe());
  Child first = a.spawn();
  Sandbox b = in_place(
      root.path, "cat /secret/key; ls /secret | wc -l; grep -c ' /tmp ' /proc/self/mountinfo");
  ward_test::Run r;
  {
    Child second = b.spawn();
    r.out = ward_test::read_all(second.stdout_pipe().get());
    r.status = second.wait();
  }
  INFO(r.out);
  CHECK(r.out.find("first only") == std::string::npos);
  // The mount point the first made is a directory of the rootfs, empty;
  // and one tmpfs at /tmp, its own.
  CHECK(r.out.find("0\n1\n") != std::string::npos);
  REQUIRE(::write(first.stdin_pipe().get(), "\n", 1) == 1);
  CHECK(first.wait().success());
  first = Child();
  CHECK(mount_points() == before);
}

TEST_CASE("shared mount namespace: a joined mount namespace gets the mounts and ours does not") {
  NEED_ISOLATED_BUSYBOX(root);
  const auto before = mount_points();
  NsHolder holder;
  const std::string hp = holder.pid_s();
  const auto holder_before = mount_points(hp);
  SECTION("while it runs and after the Child goes") {
    Sandbox sb = in_place(root.path, "readlink /proc/self/ns/mnt; read line");
    sb.join(NsKind::mount, holder.ns_path()).stdin_(Stdio::pipe());
    Child c = sb.spawn();
    CHECK(c.rootfs_mount_ns() >= 0);
    CHECK(c.rootfs_mount().ns_ino != 0);
    CHECK(mount_points(hp).count(root.path + "/proc") == 1);
    CHECK(mount_points() == before);
    REQUIRE(::write(c.stdin_pipe().get(), "\n", 1) == 1);
    std::string out = ward_test::read_all(c.stdout_pipe().get());
    CHECK(c.wait().success());
    CHECK(out == ns_of(hp, "mnt") + "\n");
    // The clone is detached inside the namespace it is in, not in ours
    // (where its path leads to the rootfs directory).
    c = Child();
  }
  SECTION("a failed spawn") {
    Sandbox sb = in_place(root.path, "");
    sb.command({"/bin/no-such-program"}).join(NsKind::mount, holder.ns_path());
    CHECK_THROWS_AS(sb.spawn(), Error);
  }
  CHECK(mount_points(hp) == holder_before);
  CHECK(mount_points() == before);
}

TEST_CASE("shared mount namespace: what it cannot be is refused with the field named") {
  WARD_SKIP_UNLESS_ROOT();
  Sandbox sb;
  sb.command({"/bin/true"}).shared_mount_namespace().mount(MountSpec::proc());
  CHECK_THROWS_WITH(
      sb.plan(), Catch::Contains("shared_mount_namespace") && Catch::Contains("needs a rootfs()"));
  Sandbox own;
  own.command({"/bin/true"}).unshare(NsKind::mount).rootfs("/").shared_mount_namespace();
  CHECK_THROWS_WITH(own.plan(), Catch::Contains("new mount namespace of its own"));
  Sandbox user;
  user.command({"/bin/true"}).unshare(NsKind::user).rootfs("/").shared_mount_namespace();
  CHECK_THROWS_WITH(user.plan(), Catch::Contains("user namespace"));
  // Its clone would cover the namespace's own root.
  Sandbox slash;
  slash.command({"/bin/true"}).rootfs("/").shared_mount_namespace().mount(MountSpec::proc());
  CHECK_THROWS_WITH(slash.plan(), Catch::Contains("rootfs") && Catch::Contains("\"/\" itself"));
}
