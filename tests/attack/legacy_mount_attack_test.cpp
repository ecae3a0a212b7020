// SPDX-License-Identifier: Apache-2.0
// Attacks on the legacy mount path (mount(2) through /proc/self/fd, used
// before Linux 5.12 or with ward::force_mount_api(MountApi::legacy)): a host
// process flips a component of a mount destination between "missing" and a
// symlink that leads out of the root, while ward creates that destination.
// The walk must refuse every symlink it meets (detail/child/mount.hpp,
// legacy_open_target), so nothing is ever created or mounted outside the
// root. Each test first proves that the legacy executor is the one running.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>

#include <ward/ward.hpp>

#include <catch2/catch.hpp>

#include "mount_api_util.hpp"
#include "rootfs_util.hpp"
#include "test_util.hpp"

using namespace ward;
using ward_test::ScratchDir;

namespace {

constexpr int kRounds = 1000;

// Flips <dir>/c between missing and a symlink to `link_text` as fast as it
// can. When ward wins the race and makes c a directory, the flipper removes
// it (and what ward made inside) and goes on.
struct FlipToMissing {
  std::atomic<bool> stop{false};
  std::thread t;
  FlipToMissing(const std::string& dir, const std::string& link_text) {
    t = std::thread([this, dir, link_text] {
      const std::string c = dir + "/c";
      while (!stop.load(std::memory_order_relaxed)) {
        ::symlink(link_text.c_str(), c.c_str());
        if (::unlink(c.c_str()) != 0 && errno == EISDIR) {
          std::error_code ec;
          std::filesystem::remove_all(c, ec);  // removes a symlink, never follows it
        }
      }
    });
  }
  ~FlipToMissing() {
    stop = true;
    t.join();
  }
};

// "../" enough times to reach "/" from anywhere under /tmp, then `target`.
std::string escaping_link(const std::string& target) {
  std::string s;
  for (int i = 0; i < 16; ++i) s += "../";
  return s + target.substr(1);
}

// Whether anything appeared in the canary; empties it for the next round.
bool canary_hit(const ScratchDir& canary) {
  if (std::filesystem::is_empty(canary.path)) return false;
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(canary.path, ec))
    std::filesystem::remove_all(e.path(), ec);
  return true;
}

}  // namespace

TEST_CASE("legacy mount API: a sandbox destination flipped to an escaping symlink stays inside") {
  WARD_SKIP_UNLESS_ROOT();
  ward_test::isolate_mounts();
  std::string bb = ward_test::static_busybox();
  if (bb.empty()) WARD_SKIP("no static busybox (apt-get install busybox-static)");
  ward_test::BusyboxRootfs root(bb);
  ScratchDir canary("canary");
  REQUIRE(::mkdir((root / "race").c_str(), 0755) == 0);
  // Its own mount table: other tests (engines, runtimes) mount meanwhile.
  ward_test::isolate_mounts();
  ward_test::ForceMountApi legacy(MountApi::legacy);
  REQUIRE(ward_test::sandbox_api_that_runs(root.path) == MountApi::legacy);
  auto before = ward_test::mount_table();
  int ok = 0, refused = 0, escaped = 0;
  std::string last_err;
  {
    FlipToMissing flip(root / "race", escaping_link(canary.path));
    for (int i = 0; i < kRounds; ++i) {
      try {
        Sandbox sb;
        sb.command({"/bin/true"})
            .unshare(NsSet{NsKind::mount})
            .rootfs(root.path)
            .mount(MountSpec::tmpfs("/race/c/sub").option("size", "20k"));
        if (sb.spawn().wait().success()) ++ok;
      } catch (const Error& e) {
        ++refused;
        last_err = e.what();
      }
      if (canary_hit(canary)) ++escaped;
    }
  }
  INFO("ok=" << ok << " refused=" << refused << " escaped=" << escaped
             << " last error: " << last_err);
  CHECK(escaped == 0);
  CHECK(ok + refused == kRounds);
  CHECK(ward_test::mount_table() == before);
  // Still the legacy path at the end (nothing reset the choice meanwhile).
  CHECK(ward_test::sandbox_api_that_runs(root.path) == MountApi::legacy);
}

TEST_CASE("legacy mount API: MountGuard racing an escaping symlink mounts only inside its root") {
  WARD_SKIP_UNLESS_ROOT();
  ward_test::isolate_mounts();
  ScratchDir root("race-root"), canary("canary");
  REQUIRE(::mkdir((root / "race").c_str(), 0755) == 0);
  // Its own mount table: other tests (engines, runtimes) mount meanwhile.
  ward_test::isolate_mounts();
  ward_test::ForceMountApi legacy(MountApi::legacy);
  REQUIRE(ward_test::mount_guard_api_that_runs() == MountApi::legacy);
  auto before = ward_test::mount_table();
  int inside = 0, refused = 0, outside = 0, escaped = 0;
  std::string last_err;
  {
    FlipToMissing flip(root / "race", escaping_link(canary.path));
    for (int i = 0; i < kRounds; ++i) {
      try {
        MountGuard g =
            MountGuard::mount(MountSpec::tmpfs("/race/c/sub").option("size", "20k"), root.path);
        // Where did it land? This namespace's mount table says.
        for (auto& m : ward_test::mount_table()) {
          if (m.find("size=20k") == std::string::npos) continue;
          if (m.rfind(root.path + "/", 0) == 0)
            ++inside;
          else
            ++outside;
        }
      } catch (const Error& e) {
        ++refused;
        last_err = e.what();
      }
      if (canary_hit(canary)) ++escaped;
    }
  }
  INFO("inside=" << inside << " refused=" << refused << " outside=" << outside
                 << " escaped=" << escaped << " last error: " << last_err);
  CHECK(outside == 0);
  CHECK(escaped == 0);
  CHECK(inside + refused == kRounds);
  CHECK(ward_test::mount_table() == before);
  CHECK(ward_test::mount_guard_api_that_runs() == MountApi::legacy);
}
