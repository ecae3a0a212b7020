// SPDX-License-Identifier: Apache-2.0
// Root filesystems and mounts, for real: a busybox rootfs under pivot_root,
// read-only root, masked and read-only paths, propagation, overlay,
// idmapped mounts, MountGuard, and hostile rootfs layouts that must be
// refused or contained with the host left unchanged.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <thread>

#include <ward/ward.hpp>

#include <catch2/catch.hpp>

#include "mount_api_util.hpp"
#include "rootfs_util.hpp"
#include "run_util.hpp"
#include "test_util.hpp"

using namespace ward;
using ward_test::BusyboxRootfs;
using ward_test::mount_table;
using ward_test::ScratchDir;

namespace {

const NsSet kContainerNs{NsKind::mount, NsKind::pid, NsKind::uts, NsKind::ipc};

Sandbox shell(const std::string& root, const std::string& script) {
  Sandbox sb;
  sb.command({"/bin/sh", "-c", script})
      .env({"PATH=/bin"})
      .unshare(kContainerNs)
      .rootfs(root)
      .stderr_(Stdio::pipe());
  return sb;
}

// Runs `sb`, returns stdout; stderr is appended after a marker so failures
// show what the shell said.
ward_test::Run run_both(Sandbox sb) {
  sb.stdout_(Stdio::pipe()).stderr_(Stdio::pipe());
  Child c = sb.spawn();
  ward_test::Run r;
  r.out = ward_test::read_all(c.stdout_pipe().get());
  std::string err = ward_test::read_all(c.stderr_pipe().get());
  r.status = c.wait();
  if (!err.empty()) r.out += "--stderr--\n" + err;
  return r;
}

// Forces the legacy executor (mount(2) via /proc/self/fd) for the rest of
// the test, and proves it is the one that runs: it refuses a symlinked
// destination that the modern one would resolve.
#define USE_LEGACY_API()                                                          \
  ward_test::ForceMountApi legacy_api_guard(MountApi::legacy);                    \
  do {                                                                            \
    BusyboxRootfs api_root(ward_test::static_busybox());                          \
    REQUIRE(ward_test::sandbox_api_that_runs(api_root.path) == MountApi::legacy); \
  } while (false)

// --------------------------------------------------------------- busybox

void busybox_pivot_root() {
  auto before = mount_table();
  std::string bb = ward_test::static_busybox();
  BusyboxRootfs root(bb);
  ward_test::write_file(root / "marker", "inside\n");
  auto sb = shell(root.path,
                  "cat /marker; ls /; test -e /etc/passwd && echo HOST-ETC; "
                  "grep -c . /proc/self/mountinfo; echo pid=$$")
                .mount(MountSpec::proc())
                .standard_dev()
                .mount(MountSpec::tmpfs("/tmp"));
  auto r = run_both(sb);
  INFO(r.out);
  CHECK(r.status.exited());
  CHECK(r.status.exit_code() == 0);
  CHECK(r.out.find("inside") != std::string::npos);
  CHECK(r.out.find("HOST-ETC") == std::string::npos);
  CHECK(r.out.find("pid=1") != std::string::npos);
  // The child's / holds the rootfs and what setup created, nothing more.
  for (const char* e : {"bin", "dev", "marker", "proc", "tmp"})
    CHECK(r.out.find(std::string(e) + "\n") != std::string::npos);
  // Setup created its mount points inside the rootfs, and nothing else
  // there; the host's mount table is as it was.
  CHECK(std::filesystem::is_directory(root / "proc"));
  CHECK(std::filesystem::is_directory(root / "dev"));
  CHECK(std::filesystem::is_empty(root / "dev"));
  CHECK(mount_table() == before);
}

}  // namespace

TEST_CASE("mount: a busybox rootfs under pivot_root sees only its tree") {
  WARD_SKIP_UNLESS_ROOT();
  ward_test::isolate_mounts();
  if (ward_test::static_busybox().empty()) WARD_SKIP("no static busybox (busybox-static)");
  busybox_pivot_root();
}

TEST_CASE("mount: a busybox rootfs with the legacy mount API (mount(2) via /proc/self/fd)") {
  WARD_SKIP_UNLESS_ROOT();
  ward_test::isolate_mounts();
  if (ward_test::static_busybox().empty()) WARD_SKIP("no static busybox (busybox-static)");
  USE_LEGACY_API();
  busybox_pivot_root();
}

TEST_CASE("mount: the standard /dev has working nodes, symlinks, devpts, shm and mqueue") {
  NEED_ISOLATED_BUSYBOX(root);
  auto r = run_both(shell(root.path,
                          "echo hi > /dev/null && echo null-ok; "
                          "test \"$(head -c 4 /dev/zero | wc -c)\" = 4 && echo zero-ok; "
                          "readlink /dev/fd; readlink /dev/stdin; readlink /dev/ptmx; "
                          "stat -c '%t:%T %a' /dev/null /dev/urandom /dev/tty; "
                          "grep -E ' /dev/(pts|shm|mqueue) ' /proc/self/mountinfo | wc -l")
                        .mount(MountSpec::proc())
                        .standard_dev());
  INFO(r.out);
  CHECK(r.status.exit_code() == 0);
  CHECK(r.out.find("null-ok") != std::string::npos);
  CHECK(r.out.find("/proc/self/fd\n/proc/self/fd/0\npts/ptmx\n") != std::string::npos);
  CHECK(r.out.find("1:3 666\n1:9 666\n5:0 666\n") != std::string::npos);
  CHECK(r.out.find("\n3\n") != std::string::npos);
}

// --------------------------------------------------------------- read-only and masking

namespace {
void readonly_and_masked(bool legacy = false) {
  std::string bb = ward_test::static_busybox();
  BusyboxRootfs root(bb);
  ScratchDir vol("vol");
  ::mkdir((vol / "sub").c_str(), 0755);
  // A submount inside the volume: a recursive read-only bind must make it
  // read-only too.
  REQUIRE(::mount("tmpfs", (vol / "sub").c_str(), "tmpfs", 0, "size=64k") == 0);
  struct Unmount {
    std::string p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } un{vol / "sub"};
  ::mkdir((root / "etc").c_str(), 0755);
  ward_test::write_file(root / "etc/secret", "TOPSECRET\n");
  ::mkdir((root / "etc/secretdir").c_str(), 0755);
  ward_test::write_file(root / "etc/secretdir/f", "HIDDEN\n");
  ::mkdir((root / "ro").c_str(), 0755);

  auto r = run_both(shell(root.path,
                          "echo x > /newfile 2>/dev/null || echo root-ro; "
                          "echo x > /tmp/ok && echo tmp-rw; "
                          "echo \"[$(cat /etc/secret)]\"; ls /etc/secretdir | wc -l; "
                          "touch /etc/secretdir/x 2>/dev/null || echo maskdir-ro; "
                          "echo x > /ro/f 2>/dev/null || echo ro-ro; "
                          "echo x > /vol/sub/f 2>/dev/null || echo sub-ro; "
                          "echo x > /vol/f 2>/dev/null || echo vol-ro; "
                          "echo x > /proc/sys/kernel/hostname 2>/dev/null || echo procsys-ro")
                        .mount(MountSpec::proc())
                        .standard_dev()
                        .mount(MountSpec::tmpfs("/tmp"))
                        .mount(legacy ? MountSpec::bind(vol.path, "/vol").read_only()
                                      : MountSpec::rbind(vol.path, "/vol").read_only())
                        .masked_paths({"/etc/secret", "/etc/secretdir", "/no/such/path"})
                        .readonly_paths({"/ro", "/proc/sys"})
                        .readonly_root());
  INFO(r.out);
  CHECK(r.status.exit_code() == 0);
  for (const char* want :
       {"root-ro", "tmp-rw", "[]", "\n0\n", "maskdir-ro", "ro-ro", "vol-ro", "procsys-ro"})
    CHECK(r.out.find(want) != std::string::npos);
  CHECK(r.out.find("TOPSECRET") == std::string::npos);
  CHECK(!std::filesystem::exists(root / "newfile"));
  if (!legacy) {
    CHECK(r.out.find("sub-ro") != std::string::npos);
    CHECK(!std::filesystem::exists(vol / "sub/f"));
    return;
  }
  // The legacy API cannot make a recursive bind read-only all the way
  // down, and says so rather than leaving submounts writable.
  try {
    run_both(shell(root.path, "true").mount(MountSpec::rbind(vol.path, "/vol").read_only()));
    FAIL("a recursive read-only bind was accepted by the legacy API");
  } catch (const Error& e) {
    CHECK(e.code().value() == EOPNOTSUPP);
    CHECK_THAT(e.what(), Catch::Contains("/vol") && Catch::Contains("5.12"));
  }
}
}  // namespace

TEST_CASE("mount: read-only root, masked paths, read-only paths and recursive read-only binds") {
  NEED_ISOLATED_BUSYBOX(unused);
  readonly_and_masked();
}

TEST_CASE("mount: read-only and masked paths with the legacy mount API") {
  NEED_ISOLATED_BUSYBOX(unused);
  USE_LEGACY_API();
  readonly_and_masked(true);
}

// One read-only tmpfs for every masked directory, as runc >= 1.3 does
// (issue #13): the directories report one device, and their mounts in
// mountinfo one superblock; a file stays masked by the null device.
namespace {
void masked_share_one_tmpfs() {
  std::string bb = ward_test::static_busybox();
  BusyboxRootfs root(bb);
  for (const char* d : {"m1", "m2", "m3"}) ::mkdir((root / d).c_str(), 0755);
  ward_test::write_file(root / "m2/secret", "TOPSECRET\n");
  ward_test::write_file(root / "file", "FILESECRET\n");
  auto r = run_both(shell(root.path,
                          "stat -c %d /m1 /m2 /m3 | sort -u | wc -l; "
                          "grep -c ' /m[123] .* - tmpfs ' /proc/self/mountinfo; "
                          "cat /m2/secret /file 2>/dev/null; "
                          "touch /m3/x 2>/dev/null || echo m3-ro")
                        .mount(MountSpec::proc())
                        .standard_dev()
                        .masked_paths({"/file", "/m1", "/m2", "/m3"}));  // a file first
  INFO(r.out);
  CHECK(r.status.exit_code() == 0);
  CHECK(r.out == "1\n3\nm3-ro\n");  // one device, three tmpfs mounts, nothing readable
}
}  // namespace

TEST_CASE("mount: masked directories share one read-only tmpfs") {
  NEED_ISOLATED_BUSYBOX(unused);
  masked_share_one_tmpfs();
}

TEST_CASE("mount: masked directories share one read-only tmpfs with the legacy mount API") {
  NEED_ISOLATED_BUSYBOX(unused);
  USE_LEGACY_API();
  masked_share_one_tmpfs();
}

// --------------------------------------------------------------- propagation

TEST_CASE("mount: host mounts reach a sandbox only where slave propagation was asked for") {
  NEED_ISOLATED_BUSYBOX(root);
  ScratchDir shared("shared");
  // A shared mount of our own, so the test does not depend on how the
  // host's / propagates.
  REQUIRE(::mount("tmpfs", shared.path.c_str(), "tmpfs", 0, "size=64k") == 0);
  struct Unmount {
    std::string p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } un{shared.path};
  REQUIRE(::mount(nullptr, shared.path.c_str(), nullptr, MS_SHARED, nullptr) == 0);
  ::mkdir((shared / "later").c_str(), 0755);

  // The child waits until the host has mounted, then looks.
  int go[2];
  REQUIRE(::pipe2(go, O_CLOEXEC) == 0);
  auto sb = shell(root.path,
                  "read x <&3; grep -c ' /slave/later ' /proc/self/mountinfo; "
                  "grep -c ' /private/later ' /proc/self/mountinfo; cat /slave/later/f")
                .mount(MountSpec::proc())
                .mount(MountSpec::bind(shared.path, "/slave").propagation(Propagation::slave))
                .mount(MountSpec::bind(shared.path, "/private"))
                .keep_fd(go[0], 3)
                .stdout_(Stdio::pipe());
  Child c = sb.spawn();
  ::close(go[0]);
  REQUIRE(::mount("tmpfs", (shared / "later").c_str(), "tmpfs", 0, "size=64k") == 0);
  ward_test::write_file(shared / "later/f", "arrived\n");
  REQUIRE(::write(go[1], "\n", 1) == 1);
  ::close(go[1]);
  std::string out = ward_test::read_all(c.stdout_pipe().get());
  auto st = c.wait();
  ::umount2((shared / "later").c_str(), MNT_DETACH);
  INFO(out);
  CHECK(st.exit_code() == 0);
  CHECK(out == "1\n0\narrived\n");
}

// --------------------------------------------------------------- overlay

TEST_CASE("mount: an overlay rootfs writes into upperdir and leaves lowerdir untouched") {
  NEED_ISOLATED_BUSYBOX(lower);
  ScratchDir work("overlay");
  // upperdir and workdir on a tmpfs of their own: overlayfs refuses an
  // upperdir on overlayfs (the vm tier's root filesystem is one).
  MountGuard scratch = MountGuard::mount(MountSpec::tmpfs(work.path));
  for (const char* d : {"upper", "work", "merged"}) ::mkdir((work / d).c_str(), 0755);
  ward_test::write_file(lower / "old", "lower\n");
  auto before = mount_table();
  {
    // The rootfs is prepared here, as a runtime would, with MountGuard.
    MountGuard merged = MountGuard::mount(
        MountSpec::overlay({lower.path}, work / "upper", work / "work", work / "merged"));
    REQUIRE(merged);
    auto r = run_both(
        shell(work / "merged", "cat /old; echo new > /new; echo changed > /old; rm /bin/ls")
            .mount(MountSpec::proc()));
    INFO(r.out);
    CHECK(r.status.exit_code() == 0);
    CHECK(r.out.find("lower") != std::string::npos);
  }
  CHECK(mount_table() == before);  // the guard unmounted it
  CHECK(ward_test::read_file(work / "upper/new") == "new\n");
  CHECK(ward_test::read_file(work / "upper/old") == "changed\n");
  CHECK(ward_test::read_file(lower / "old") == "lower\n");
  CHECK(!std::filesystem::exists(lower / "new"));
  CHECK(std::filesystem::exists(lower / "bin/ls"));
}

TEST_CASE("mount: an overlay made inside the sandbox from several lowerdirs") {
  NEED_ISOLATED_BUSYBOX(root);
  ScratchDir work("overlay");
  MountGuard scratch = MountGuard::mount(MountSpec::tmpfs(work.path));  // see above
  for (const char* d : {"l1", "l2", "upper", "work"}) ::mkdir((work / d).c_str(), 0755);
  ward_test::write_file(work / "l1/a", "top\n");
  ward_test::write_file(work / "l2/a", "bottom\n");
  ward_test::write_file(work / "l2/b", "only-bottom\n");
  auto r = run_both(shell(root.path, "cat /data/a /data/b; echo w > /data/c")
                        .mount(MountSpec::overlay({work / "l1", work / "l2"}, work / "upper",
                                                  work / "work", "/data")));
  INFO(r.out);
  CHECK(r.status.exit_code() == 0);
  CHECK(r.out.find("top\nonly-bottom\n") == 0);
  CHECK(ward_test::read_file(work / "upper/c") == "w\n");
  CHECK(!std::filesystem::exists(work / "l1/c"));
}

// --------------------------------------------------------------- idmapped mounts

TEST_CASE("mount: an idmapped bind shows files owned by the mapped ids") {
  NEED_ISOLATED_BUSYBOX(root);
  ScratchDir data("idmap");
  ward_test::write_file(data / "f", "x");
  REQUIRE(::chown((data / "f").c_str(), 1000, 1000) == 0);
  UserNsOptions opts;
  opts.uid_map = IdMap::single(1000, 2000);
  opts.gid_map = IdMap::single(1000, 3000);
  Namespace userns = std::move(Namespace::create_set(NsSet{NsKind::user}, opts).front());

  // Skipped only when the kernel itself refuses, asked without ward: an
  // EINVAL out of ward is a ward failure.
  std::string why = ward_test::idmap_unsupported(data.path);
  if (!why.empty()) WARD_SKIP("idmapped mounts unsupported here: " << why);
  // Here, with MountGuard...
  ScratchDir target("idmap-target");
  {
    MountGuard g = MountGuard::mount(MountSpec::bind(data.path, target.path).idmap(userns));
    struct stat st {};
    REQUIRE(::stat((target / "f").c_str(), &st) == 0);
    CHECK(st.st_uid == 2000);
    CHECK(st.st_gid == 3000);
  }
  // ...and inside a sandbox.
  auto r = run_both(shell(root.path, "stat -c '%u:%g' /data/f")
                        .mount(MountSpec::bind(data.path, "/data").idmap(userns)));
  INFO(r.out);
  CHECK(r.out == "2000:3000\n");
  struct stat st {};
  REQUIRE(::stat((data / "f").c_str(), &st) == 0);
  CHECK(st.st_uid == 1000);  // on disk, nothing changed
}

TEST_CASE("mount: idmap with something other than a user namespace is refused") {
  WARD_SKIP_UNLESS_ROOT();
  Namespace uts = Namespace::current(NsKind::uts);
  CHECK_THROWS_WITH(MountSpec::bind("/tmp", "/x").idmap(uts),
                    Catch::Contains("idmap") && Catch::Contains("user namespace"));
}

// --------------------------------------------------------------- MountGuard

TEST_CASE("mount: MountGuard unmounts on scope exit, keeps the mount when released") {
  WARD_SKIP_UNLESS_ROOT();
  ward_test::isolate_mounts();
  ScratchDir d("guard");
  auto before = mount_table();
  {
    MountGuard g = MountGuard::mount(MountSpec::tmpfs(d.path).option("size", "64k"));
    CHECK(g);
    ward_test::write_file(d / "f", "on tmpfs");
    CHECK(mount_table() != before);
  }
  CHECK(mount_table() == before);
  CHECK(!std::filesystem::exists(d / "f"));
  {
    MountGuard g = MountGuard::mount(MountSpec::tmpfs(d.path));
    g.release();
  }
  CHECK(mount_table() != before);
  REQUIRE(::umount2(d.path.c_str(), MNT_DETACH) == 0);
  CHECK(mount_table() == before);
}

TEST_CASE("mount: MountGuard resolves its destination inside the root it is given") {
  WARD_SKIP_UNLESS_ROOT();
  ward_test::isolate_mounts();
  ScratchDir root("guard-root"), outside("outside");
  // root/link -> <outside> (absolute): inside the root, that is
  // root/<outside>, which setup creates there; the real outside stays as
  // it was.
  REQUIRE(::symlink(outside.path.c_str(), (root / "link").c_str()) == 0);
  auto before = mount_table();
  {
    MountGuard g = MountGuard::mount(MountSpec::tmpfs("/link/sub"), root.path);
    CHECK(std::filesystem::is_directory(root.path + outside.path + "/sub"));
  }
  CHECK(std::filesystem::is_empty(outside.path));
  CHECK(mount_table() == before);
}

// --------------------------------------------------------------- errors

TEST_CASE("mount: bad input names the step, the path and the errno, and leaves nothing") {
  NEED_ISOLATED_BUSYBOX(root);
  auto before = mount_table();
  const auto fds_before = ward_test::open_fds();
  SECTION("missing rootfs") {
    auto sb = shell("/no/such/rootfs", "true");
    try {
      sb.spawn();
      FAIL("spawned");
    } catch (const Error& e) {
      CHECK(e.step() == Step::rootfs);
      CHECK(e.code().value() == ENOENT);
      CHECK_THAT(e.what(), Catch::Contains("/no/such/rootfs"));
    }
  }
  SECTION("a bind source that does not exist") {
    auto sb = shell(root.path, "true").mount(MountSpec::bind("/no/such/src", "/x"));
    CHECK_THROWS_WITH(sb.plan(), Catch::Contains("/no/such/src") && Catch::Contains("ENOENT"));
  }
  SECTION("an option the filesystem rejects: the kernel's own message is passed on") {
    auto sb = shell(root.path, "true").mount(MountSpec::tmpfs("/tmp").option("bogus", "1"));
    try {
      sb.spawn().wait();
      FAIL("spawned");
    } catch (const Error& e) {
      CHECK(e.step() == Step::mount);
      CHECK(e.code().value() == EINVAL);
      CHECK_THAT(e.what(), Catch::Contains("/tmp") && Catch::Contains("bogus"));
    }
  }
  SECTION("mounts without a mount namespace") {
    Sandbox sb;
    sb.command({"/bin/true"}).mount(MountSpec::tmpfs("/tmp"));
    CHECK_THROWS_WITH(sb.plan(), Catch::Contains("mount namespace"));
  }
  SECTION("a rootfs that is a file") {
    auto sb = shell(root / "bin/busybox", "true");
    CHECK_THROWS_WITH(sb.plan(), Catch::Contains("ENOTDIR"));
  }
  CHECK(mount_table() == before);
  CHECK(ward_test::open_fds() == fds_before);  // a failed spawn leaks no descriptor
}

// --------------------------------------------------------------- hostile rootfs

namespace {

// Host-side files that a hostile rootfs tries to reach: each must be
// exactly as it was afterwards.
struct HostBait {
  ScratchDir dir{"bait"};
  HostBait() { ward_test::write_file(dir / "file", "host file\n"); }
  bool untouched() const {
    return ward_test::read_file(dir / "file") == "host file\n" &&
           std::distance(std::filesystem::directory_iterator(dir.path),
                         std::filesystem::directory_iterator{}) == 1;
  }
};

ward_test::Run try_run(Sandbox sb, std::string* error) {
  try {
    return run_both(std::move(sb));
  } catch (const Error& e) {
    *error = e.what();
    return {};
  }
}

void hostile_symlink_destinations() {
  std::string bb = ward_test::static_busybox();
  BusyboxRootfs root(bb);
  HostBait bait;
  auto before = mount_table();
  // Absolute, relative-escaping and chained symlinks as mount destinations.
  REQUIRE(::symlink(bait.dir.path.c_str(), (root / "abs").c_str()) == 0);
  REQUIRE(::symlink("../../../../../../../../..", (root / "up").c_str()) == 0);
  REQUIRE(::symlink("hop2/x", (root / "hop1").c_str()) == 0);
  REQUIRE(::symlink("/up/tmp", (root / "hop2").c_str()) == 0);
  REQUIRE(::symlink("/etc", (root / "etclink").c_str()) == 0);
  std::string err;
  auto r = try_run(shell(root.path,
                         "grep -E 'size=(8|12|16|24)k' /proc/self/mountinfo | "
                         "while read a b c d mp rest; do echo $mp; done")
                       .mount(MountSpec::proc())
                       .mount(MountSpec::tmpfs("/abs/sub").option("size", "8k"))
                       .mount(MountSpec::tmpfs("/up/tmp/escape").option("size", "12k"))
                       .mount(MountSpec::tmpfs("/hop1/deeper").option("size", "16k"))
                       .mount(MountSpec::tmpfs("/etclink").option("size", "24k")),
                   &err);
  INFO(r.out << err);
  CHECK(err.empty());
  // Every mount landed inside the rootfs, where the link resolves when the
  // rootfs is "/".
  CHECK(r.out.find(bait.dir.path + "/sub\n") != std::string::npos);
  CHECK(r.out.find("/tmp/escape\n") != std::string::npos);
  CHECK(r.out.find("/tmp/x/deeper\n") != std::string::npos);
  CHECK(r.out.find("/etc\n") != std::string::npos);
  CHECK(std::filesystem::is_directory(root.path + bait.dir.path + "/sub"));
  CHECK(std::filesystem::is_directory(root / "tmp/escape"));
  CHECK(bait.untouched());
  CHECK(!std::filesystem::exists("/tmp/escape"));
  CHECK(!std::filesystem::exists("/tmp/x"));
  CHECK(mount_table() == before);
}

}  // namespace

TEST_CASE("hostile rootfs: symlinked mount destinations resolve inside the rootfs") {
  NEED_ISOLATED_BUSYBOX(unused);
  hostile_symlink_destinations();
}

TEST_CASE("hostile rootfs: symlinked destinations with the legacy API are refused") {
  NEED_ISOLATED_BUSYBOX(root);
  USE_LEGACY_API();
  HostBait bait;
  REQUIRE(::symlink(bait.dir.path.c_str(), (root / "abs").c_str()) == 0);
  std::string err;
  try_run(shell(root.path, "true").mount(MountSpec::tmpfs("/abs/sub")), &err);
  CHECK_THAT(err, Catch::Contains("/abs/sub") && Catch::Contains("ELOOP"));
  CHECK(bait.untouched());
}

TEST_CASE("hostile rootfs: /proc, /sys or /dev as a symlink is refused") {
  NEED_ISOLATED_BUSYBOX(root);
  HostBait bait;
  auto before = mount_table();
  for (const char* d : {"proc", "sys", "dev"}) {
    std::filesystem::remove(root / d);
    REQUIRE(::symlink(bait.dir.path.c_str(), (root / d).c_str()) == 0);
  }
  struct Case {
    const char* name;
    Sandbox sb;
  };
  Case cases[] = {
      {"proc", shell(root.path, "true").mount(MountSpec::proc())},
      {"sys", shell(root.path, "true").mount(MountSpec::sysfs())},
      {"dev", shell(root.path, "true").standard_dev()},
      {"proc", shell(root.path, "true").mount(MountSpec::bind("/tmp", "/proc/x"))},
  };
  for (auto& c : cases) {
    std::string err;
    try_run(c.sb, &err);
    INFO(c.name << ": " << err);
    CHECK_THAT(err, Catch::Contains(std::string("/") + c.name) && Catch::Contains("ELOOP"));
  }
  CHECK(bait.untouched());
  CHECK(mount_table() == before);
}

TEST_CASE("hostile rootfs: /dev/null replaced by a symlink to a host file is not used to mask") {
  NEED_ISOLATED_BUSYBOX(root);
  HostBait bait;
  ::mkdir((root / "dev").c_str(), 0755);
  REQUIRE(::symlink((bait.dir / "file").c_str(), (root / "dev/null").c_str()) == 0);
  ::mkdir((root / "etc").c_str(), 0755);
  ward_test::write_file(root / "etc/secret", "s");
  std::string err;
  try_run(shell(root.path, "true").masked_paths({"/etc/secret"}), &err);
  CHECK_THAT(err, Catch::Contains("dev/null") && Catch::Contains("ELOOP"));
  // A regular file or another device there is refused too.
  std::filesystem::remove(root / "dev/null");
  ward_test::write_file(root / "dev/null", "");
  err.clear();
  try_run(shell(root.path, "true").masked_paths({"/etc/secret"}), &err);
  CHECK_THAT(err, Catch::Contains("not the null device"));
  CHECK(bait.untouched());
}

namespace {

// A host thread that keeps swapping `vol/target` between a directory and a
// symlink to the bait (renameat2 RENAME_EXCHANGE: both names always exist,
// and the directory is never removed, so a mount made on it stays
// attached wherever it moves).
struct Flipper {
  std::atomic<bool> stop{false};
  std::thread t;
  Flipper(const std::string& vol, const std::string& bait) {
    ::mkdir((vol + "/target").c_str(), 0755);
    REQUIRE(::symlink(bait.c_str(), (vol + "/other").c_str()) == 0);
    t = std::thread([this, a = vol + "/target", b = vol + "/other"] {
      while (!stop.load(std::memory_order_relaxed))
        ::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE);
    });
  }
  ~Flipper() {
    stop = true;
    t.join();
  }
};

}  // namespace

TEST_CASE("hostile rootfs: a volume flipped to a symlink during setup never mounts outside") {
  NEED_ISOLATED_BUSYBOX(root);
  HostBait bait;
  ScratchDir vol("vol");
  auto before = mount_table();
  int ok = 0, refused = 0, escaped = 0;
  std::string last_err, last_bad;
  {
    Flipper flip(vol.path, bait.dir.path);
    for (int i = 0; i < 1000; ++i) {
      std::string err;
      // The child lists where the 20k tmpfs is. Had it been mounted on the
      // bait (outside the rootfs), pivot_root would have left it behind and
      // the list would be empty.
      auto r = try_run(shell(root.path,
                             "grep 'size=20k' /proc/self/mountinfo | "
                             "while read a b c d mp rest; do echo $mp; done")
                           .mount(MountSpec::proc())
                           .mount(MountSpec::bind(vol.path, "/vol"))
                           .mount(MountSpec::tmpfs("/vol/target").option("size", "20k")),
                       &err);
      if (!err.empty()) {
        ++refused;
        last_err = err;
      } else if (r.out.rfind("/", 0) == 0 && r.out.find('\n') == r.out.size() - 1) {
        ++ok;
      } else {
        ++escaped;
        last_bad = r.out;
      }
    }
  }
  INFO("ok=" << ok << " refused=" << refused << " last error: " << last_err
             << " last bad: " << last_bad);
  CHECK(escaped == 0);
  CHECK(ok + refused == 1000);
  CHECK(ok > 0);
  CHECK(bait.untouched());
  CHECK(mount_table() == before);
}

TEST_CASE("hostile rootfs: MountGuard racing a symlink flip mounts only inside its root") {
  WARD_SKIP_UNLESS_ROOT();
  ward_test::isolate_mounts();
  ScratchDir root("race-root");
  HostBait bait;
  ::mkdir((root / "vol").c_str(), 0755);
  auto before = mount_table();
  int inside = 0, refused = 0, outside = 0;
  {
    Flipper flip(root / "vol", bait.dir.path);
    for (int i = 0; i < 1000; ++i) {
      try {
        MountGuard g =
            MountGuard::mount(MountSpec::tmpfs("/vol/target").option("size", "20k"), root.path);
        // Where did it land? The host's own mount table says.
        for (auto& m : mount_table()) {
          if (m.find("size=20k") == std::string::npos) continue;
          if (m.rfind(root.path + "/", 0) == 0)
            ++inside;
          else
            ++outside;
        }
      } catch (const Error&) {
        ++refused;
      }
    }
  }
  INFO("inside=" << inside << " refused=" << refused);
  CHECK(outside == 0);
  CHECK(inside + refused == 1000);
  CHECK(bait.untouched());
  CHECK(mount_table() == before);
}

// --------------------------------------------------------------- no pivot

TEST_CASE("mount: Pivot::move_and_chroot works where pivot_root is not wanted") {
  NEED_ISOLATED_BUSYBOX(root);
  auto r = run_both(shell(root.path, "ls /; test -e /etc/passwd && echo HOST; true")
                        .pivot(Pivot::move_and_chroot));
  INFO(r.out);
  CHECK(r.status.exit_code() == 0);
  CHECK(r.out.find("bin\n") != std::string::npos);
  CHECK(r.out.find("HOST") == std::string::npos);
}

TEST_CASE("mount: mounts without a rootfs go on the host's tree, in the child's namespace only") {
  WARD_SKIP_UNLESS_ROOT();
  ward_test::isolate_mounts();
  ScratchDir d("noroot");
  auto before = mount_table();
  Sandbox sb;
  sb.command({"/bin/sh", "-c",
              "echo x > " + d.path + "/f && grep -c ' " + d.path + " ' /proc/self/mountinfo"})
      .unshare(NsKind::mount)
      .mount(MountSpec::tmpfs(d.path));
  auto r = ward_test::run(sb);
  CHECK(r.status.exit_code() == 0);
  CHECK(r.out == "1\n");
  CHECK(!std::filesystem::exists(d / "f"));  // it was written to the tmpfs
  CHECK(mount_table() == before);
}

TEST_CASE("mount: proc with subset=pid and hidepid, sysfs and cgroup2 inside the sandbox") {
  NEED_ISOLATED_BUSYBOX(root);
  std::string err;
  auto r =
      try_run(shell(root.path,
                    "test -e /proc/sys && echo has-sys; test -e /proc/self/status && echo "
                    "has-self; grep ' /proc ' /proc/self/mountinfo; "
                    "test -d /sys/kernel && echo sysfs-ok; "
                    "test -e /sys/fs/cgroup/cgroup.controllers && echo cgroup2-ok")
                  .unshare(NsSet{NsKind::mount, NsKind::pid, NsKind::net, NsKind::cgroup})
                  .mount(MountSpec::proc().option("subset", "pid").option("hidepid", "invisible"))
                  .mount(MountSpec::sysfs())
                  .mount(MountSpec::cgroup2()),
              &err);
  INFO(r.out);
  if (err.find("Unknown parameter") != std::string::npos)
    WARD_SKIP("this kernel's proc has no subset/hidepid options: " << err);
  REQUIRE(err.empty());
  CHECK(r.status.exit_code() == 0);
  CHECK(r.out.find("has-sys") == std::string::npos);
  CHECK(r.out.find("has-self") != std::string::npos);
  CHECK(r.out.find("subset=pid") != std::string::npos);
  CHECK(r.out.find("hidepid=invisible") != std::string::npos);
  CHECK(r.out.find("sysfs-ok") != std::string::npos);
  CHECK(r.out.find("cgroup2-ok") != std::string::npos);
}

// --------------------------------------------------------------- terminal

namespace {

// Everything the child writes to its terminal, until it has gone (EIO).
std::string read_terminal(Child& c) {
  std::string out;
  char buf[256];
  for (;;) {
    ssize_t n = ::read(c.terminal().get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  std::erase(out, '\r');
  return out;
}

void terminal_from_container_devpts(bool legacy) {
  std::string bb = ward_test::static_busybox();
  BusyboxRootfs root(bb);
  std::optional<ward_test::ForceMountApi> force;
  if (legacy) {
    force.emplace(MountApi::legacy);
    REQUIRE(ward_test::sandbox_api_that_runs(root.path) == MountApi::legacy);
  }
  auto before = mount_table();
  // A fresh devpts instance numbers from 0; the host's has its own ptys.
  // /dev/console must be that same terminal (a bind of the peer).
  Child c = shell(root.path,
                  "test -t 0 && test -t 1 && test -t 2 && echo tty-ok; tty; "
                  "stat -c '%t:%T' /dev/console \"$(tty)\"; stty size; "
                  "echo ctty >/dev/tty; echo /dev/pts/*")
                .mount(MountSpec::proc())
                .standard_dev()
                .terminal(33, 101)
                .spawn();
  REQUIRE(c.terminal());
  std::string out = read_terminal(c);
  ExitStatus st = c.wait();
  INFO(out);
  CHECK(st.exit_code() == 0);
  CHECK(out.find("tty-ok\n/dev/pts/0\n88:0\n88:0\n33 101\nctty\n/dev/pts/0 /dev/pts/ptmx\n") !=
        std::string::npos);
  CHECK(mount_table() == before);
}

}  // namespace

TEST_CASE("terminal: a container's pty is from its own devpts, tty names it, /dev/console is it") {
  NEED_ISOLATED_BUSYBOX(root);
  terminal_from_container_devpts(false);
}

TEST_CASE("terminal: the container's own pty with the legacy mount API") {
  NEED_ISOLATED_BUSYBOX(root);
  terminal_from_container_devpts(true);
}

TEST_CASE("terminal: PtySource::caller gives a pty of the caller's devpts, unnamed inside") {
  NEED_ISOLATED_BUSYBOX(root);
  Child c =
      shell(root.path, "test -t 0 && echo tty-ok; tty; test -e /dev/console || echo no-console")
          .mount(MountSpec::proc())
          .standard_dev()
          .terminal(24, 80, PtySource::caller)
          .spawn();
  std::string out = read_terminal(c);
  INFO(out);
  CHECK(c.wait().exit_code() == 0);
  CHECK(out.find("tty-ok\nnot a tty\nno-console\n") != std::string::npos);
}

TEST_CASE("terminal: without a devpts in the rootfs, spawn names dev/pts and leaves nothing") {
  NEED_ISOLATED_BUSYBOX(root);
  auto before = mount_table();
  SECTION("no /dev/pts at all") {
    try {
      shell(root.path, "true").terminal().spawn();
      FAIL("spawned");
    } catch (const Error& e) {
      CHECK(e.step() == Step::terminal);
      CHECK(e.code().value() == ENOENT);
      CHECK_THAT(e.what(), Catch::Contains("dev/pts"));
    }
  }
  SECTION("/dev/pts is a plain directory") {
    std::filesystem::create_directories(root / "dev/pts");
    try {
      shell(root.path, "true").terminal().spawn();
      FAIL("spawned");
    } catch (const Error& e) {
      CHECK(e.step() == Step::terminal);
      CHECK(e.code().value() == EXDEV);
      CHECK_THAT(e.what(), Catch::Contains("not a devpts"));
    }
  }
  SECTION("/dev/pts is a symlink to the host's") {
    std::filesystem::create_directories(root / "dev");
    std::filesystem::create_symlink("/dev/pts", root / "dev/pts");
    try {
      shell(root.path, "true").terminal().spawn();
      FAIL("spawned");
    } catch (const Error& e) {
      CHECK(e.step() == Step::terminal);
      CHECK(e.code().value() == ELOOP);
    }
  }
  SECTION("console(true) without a rootfs is refused by the builder") {
    Sandbox sb({"/bin/true"});
    CHECK_THROWS_WITH(sb.terminal().console().plan(), Catch::Contains("console"));
  }
  CHECK(mount_table() == before);
}

// --------------------------------------------------------------- before_pivot

TEST_CASE(
    "mount: before_pivot runs after the child's mounts, before it pivots, and a throw undoes") {
  NEED_ISOLATED_BUSYBOX(root);
  auto before = mount_table();
  SECTION("the child waits for it, in its own mount namespace, not yet in its root") {
    pid_t seen = 0;
    std::string ns_child, ns_ours, root_link, tmp_mounted;
    auto sb =
        shell(root.path, "cat /tmp/from-hook")
            .mount(MountSpec::tmpfs("/tmp"))
            .before_pivot([&](pid_t pid) {
              seen = pid;
              const std::string proc = "/proc/" + std::to_string(pid);
              ns_child = std::filesystem::read_symlink(proc + "/ns/mnt").string();
              ns_ours = std::filesystem::read_symlink("/proc/self/ns/mnt").string();
              root_link = std::filesystem::read_symlink(proc + "/root").string();
              // The child's tmpfs, through its root: written here, read inside.
              ward_test::write_file(proc + "/root" + root.path + "/tmp/from-hook", "hooked\n");
            });
    auto r = run_both(sb);
    INFO(r.out);
    CHECK(r.status.exit_code() == 0);
    CHECK(r.out == "hooked\n");
    CHECK(seen > 0);
    CHECK(ns_child != ns_ours);
    CHECK(root_link == "/");
    CHECK(!std::filesystem::exists(root / "tmp/from-hook"));  // it went to the child's tmpfs
  }
  SECTION("a throw kills and reaps the child and comes out of spawn") {
    pid_t seen = 0;
    auto sb = shell(root.path, "true").before_pivot([&](pid_t pid) {
      seen = pid;
      throw std::runtime_error("hook said no");
    });
    CHECK_THROWS_WITH(sb.spawn(), "hook said no");
    REQUIRE(seen > 0);
    CHECK(::kill(seen, 0) == -1);
    CHECK(errno == ESRCH);
  }
  CHECK(mount_table() == before);
}

TEST_CASE("mount: directory() makes a path inside the rootfs, after the mounts before it") {
  NEED_ISOLATED_BUSYBOX(root);
  auto before = mount_table();
  auto r = run_both(shell(root.path, "test -d /tmp/a/b && test -d /made && echo ok")
                        .mount(MountSpec::tmpfs("/tmp"))
                        .directory("/tmp/a/b")
                        .directory("../../made"));
  INFO(r.out);
  CHECK(r.out == "ok\n");
  CHECK(!std::filesystem::exists(root / "tmp/a"));  // on the sandbox's tmpfs
  CHECK(std::filesystem::is_directory(root / "made"));
  CHECK(mount_table() == before);
}
