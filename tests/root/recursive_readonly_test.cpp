// SPDX-License-Identifier: Apache-2.0
// Sandbox::recursive_readonly_root(): the host's root seen read-only with
// every submount, while the sandbox's own mounts stay writable. The host
// submount is made for the test: a tmpfs under a directory of the root
// filesystem, in a forked child's private mount namespace (nothing of the
// host's changes).
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <catch2/catch.hpp>

#include "fork_util.hpp"
#include "run_util.hpp"
#include "test_util.hpp"

using namespace ward;

namespace {
// "rw" or "ro" for each path, as the sandboxed shell finds it by writing.
const char* kProbeScript =
    "for p in \"$@\"; do if touch \"$p/.ward-rro\" 2>/dev/null; then printf '%s=rw,' \"$p\"; "
    "rm -f \"$p/.ward-rro\"; else printf '%s=ro,' \"$p\"; fi; done";
}  // namespace

TEST_CASE(
    "root: recursive_readonly_root makes a host submount read-only, own mounts stay writable") {
  WARD_SKIP_UNLESS_ROOT();
  auto res = ward_test::run_forked([](ward_test::ForkReport& rep) {
    if (::unshare(CLONE_NEWNS) != 0) return rep.result("unshare", -1);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
      return rep.result("private", -1);
    char dir[] = "/var/tmp/ward-rro-XXXXXX";
    if (::mkdtemp(dir) == nullptr) return rep.result("mkdtemp", -1);
    const std::string d = dir, sub = d + "/sub";
    ::mkdir(sub.c_str(), 0755);
    if (::mount("tmpfs", sub.c_str(), "tmpfs", 0, "size=1m") != 0) return rep.result("tmpfs", -1);
    auto script = [&](Sandbox sb) {
      auto r = ward_test::run(std::move(sb));
      return r.out;
    };
    std::vector<std::string> argv = {"/bin/sh", "-c", kProbeScript, "sh", d, sub, "/tmp"};
    // Without the option: the submount and the root are the host's, writable.
    rep.put("plain", script(Sandbox(argv).unshare(NsKind::mount)));
    // With it: both read-only; the sandbox's own tmpfs at /tmp writable.
    rep.put("rro", script(Sandbox(argv)
                              .unshare(NsKind::mount)
                              .recursive_readonly_root()
                              .mount(MountSpec::tmpfs("/tmp"))));
    // The host's (here: this namespace's) mounts did not change.
    std::string probe = sub + "/after";
    int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    rep.put("host_after", fd >= 0 ? "rw" : "ro");
    if (fd >= 0) ::close(fd);
    ::umount2(sub.c_str(), MNT_DETACH);
    ::rmdir(sub.c_str());
    ::rmdir(d.c_str());
  });
  INFO(res.out);
  auto plain = res.kv["plain"], rro = res.kv["rro"];
  std::cout << "plain: " << plain << "\nrro: " << rro << "\n";
  CHECK(plain.find("/sub=rw,") != std::string::npos);
  CHECK(plain.find("/tmp=rw,") != std::string::npos);
  CHECK(std::count(plain.begin(), plain.end(), ',') == 3);
  CHECK(plain.find("=ro,") == std::string::npos);
  CHECK(rro.find("/sub=ro,") != std::string::npos);
  CHECK(rro.find("/tmp=rw,") != std::string::npos);
  // The directory on the root filesystem too: ro, rw for /tmp only.
  CHECK(std::count(rro.begin(), rro.end(), ',') == 3);
  CHECK(rro.find("=rw,") == rro.find("/tmp=rw,") + 4);
  CHECK(rro.find("=rw,") == rro.rfind("=rw,"));
  CHECK(res.kv["host_after"] == "rw");
}

TEST_CASE("root: readonly_paths refuses / and names recursive_readonly_root") {
  try {
    (void)Sandbox({"/bin/true"}).unshare(NsKind::mount).readonly_paths({"/"}).plan();
    FAIL("readonly_paths({\"/\"}) was accepted");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("recursive_readonly_root") != std::string::npos);
  }
}
