// SPDX-License-Identifier: Apache-2.0
// Sandbox::recursive_readonly_root() unprivileged (user + mount namespace):
// the host's submounts an ordinary user may write (/dev/shm, a tmpfs of mode
// 1777 mounted below the root) are read-only inside, the sandbox's own
// tmpfs is writable.
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "run_util.hpp"
#include "test_util.hpp"

using namespace ward;

TEST_CASE("rootless: recursive_readonly_root makes the host's writable submounts read-only") {
  if (::geteuid() == 0) WARD_SKIP("running as root; the rootless tier must run unprivileged");
  if (!ward_test::userns_allowed()) WARD_SKIP("unprivileged user namespaces are disabled");
  struct statvfs sv {};
  if (::statvfs("/dev/shm", &sv) != 0 || (sv.f_flag & ST_RDONLY) || ::access("/dev/shm", W_OK) != 0)
    WARD_SKIP("/dev/shm is not a writable mount for this user here");
  const std::string script =
      "for p in /dev/shm /tmp; do if touch $p/.ward-rro-$$ 2>/dev/null; then printf '%s=rw,' $p; "
      "rm -f $p/.ward-rro-$$; else printf '%s=ro,' $p; fi; done";
  auto box = [&] {
    return Sandbox({"/bin/sh", "-c", script}).unshare(NsSet{NsKind::user, NsKind::mount});
  };
  auto plain = ward_test::run(box());
  auto rro = ward_test::run(box().recursive_readonly_root().mount(MountSpec::tmpfs("/tmp")));
  std::cout << "plain: " << plain.out << "\nrro: " << rro.out << "\n";
  CHECK(plain.out.find("/dev/shm=rw,") != std::string::npos);  // the attack: writable without it
  CHECK(rro.out == "/dev/shm=ro,/tmp=rw,");
}
