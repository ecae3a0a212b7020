// SPDX-License-Identifier: Apache-2.0
// A rootless sandbox's filesystem: as uid 65534, with a user namespace
// that maps us to root, a busybox rootfs bound and pivoted into, with
// tmpfs, proc, a standard /dev (host nodes bound: mknod is not allowed in
// a user namespace) and read-only binds.
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

#include <ward/ward.hpp>

#include <catch2/catch.hpp>

#include "rootfs_util.hpp"
#include "run_util.hpp"
#include "test_util.hpp"

using namespace ward;

using ward_test::userns_allowed;

namespace {

// Why a new user, mount and pid namespace may not mount proc here ("" if it
// may), asked of the kernel directly from a forked child.
std::string proc_in_userns_refused() {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID) != 0) ::_exit(10);
    pid_t inner = ::fork();  // the first process of the new pid namespace
    if (inner == 0) {
      if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) == 0)
        ::_exit(0);
      ::_exit(errno == EPERM ? 1 : 2);
    }
    int st = 0;
    if (inner < 0 || ::waitpid(inner, &st, 0) != inner || !WIFEXITED(st)) ::_exit(3);
    ::_exit(WEXITSTATUS(st));
  }
  int st = 0;
  if (pid < 0 || ::waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) return "probe did not run";
  switch (WEXITSTATUS(st)) {
    case 0: return "";
    case 1: return "mount(proc) in a user namespace: EPERM";
    case 10: return "unshare(user, mount, pid) failed";
    default: return "mount(proc) in a user namespace failed";
  }
}

}  // namespace

TEST_CASE("rootless: a busybox rootfs with tmpfs, proc, /dev and read-only binds") {
  if (::geteuid() == 0) WARD_SKIP("running as root; the rootless tier must run unprivileged");
  if (!userns_allowed()) WARD_SKIP("unprivileged user namespaces are disabled on this host");
  std::string bb = ward_test::static_busybox();
  if (bb.empty()) WARD_SKIP("no static busybox (busybox-static)");
  ward_test::BusyboxRootfs root(bb);
  ward_test::ScratchDir data("rodata");
  ward_test::write_file(data / "f", "data\n");
  auto before = ward_test::mount_table();

  Sandbox sb;
  sb.command({"/bin/sh", "-c",
              "id -u; cat /data/f; echo x > /data/g 2>/dev/null || echo data-ro; "
              "echo x > /tmp/t && echo tmp-rw; echo pid=$$; "
              "echo hi > /dev/null && echo null-ok; stat -c '%t:%T' /dev/zero; "
              "echo x > /new 2>/dev/null || echo root-ro; "
              "cat /proc/sys/kernel/hostname"})
      .env({"PATH=/bin"})
      .unshare(NsSet{NsKind::user, NsKind::mount, NsKind::pid, NsKind::uts, NsKind::ipc})
      .hostname("rootless-fs")
      .rootfs(root.path)
      .mount(MountSpec::proc())
      .standard_dev()
      .mount(MountSpec::tmpfs("/tmp").option("size", "1m"))
      .mount(MountSpec::bind(data.path, "/data").read_only())
      .masked_paths(default_masked_paths())
      .readonly_paths(default_readonly_paths())
      .readonly_root()
      .stderr_(Stdio::pipe());
  // proc in a user namespace is refused when the host's /proc has
  // overmounted entries (mount_too_revealing): skip for that only, asked
  // of the kernel without ward; an EPERM out of ward fails the test.
  std::string why = proc_in_userns_refused();
  if (!why.empty()) WARD_SKIP("this host does not let a user namespace mount proc: " << why);
  ward_test::Run r;
  sb.stdout_(Stdio::pipe());
  Child c = sb.spawn();
  r.out = ward_test::read_all(c.stdout_pipe().get());
  r.out += ward_test::read_all(c.stderr_pipe().get());
  r.status = c.wait();
  INFO(r.out);
  CHECK(r.status.exit_code() == 0);
  CHECK(r.out.find("0\ndata\ndata-ro\ntmp-rw\npid=1\nnull-ok\n1:5\nroot-ro\nrootless-fs\n") == 0);
  CHECK(!std::filesystem::exists(data / "g"));
  CHECK(!std::filesystem::exists(root / "new"));
  CHECK(ward_test::mount_table() == before);
}
