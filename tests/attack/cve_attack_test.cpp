// SPDX-License-Identifier: Apache-2.0
// runc's CVE history, replayed against `ward run`/`create` and `ward exec`
// with a hostile image or config.json, a process in the container, or a
// racing process on the host. Every attack aims at canaries the test makes.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <ward/ward.hpp>

#include <catch2/catch.hpp>

#include "attack_runtime_util.hpp"
#include "runtime_util.hpp"

using ward_test::mount_entry;
using ward_test::run_detached;
using ward_test::ward_as;
namespace json = ward::json;
namespace fs = std::filesystem;

namespace {

// A process.json for `ward exec --process`: `args`, root, oomScoreAdj.
std::string process_json(const std::vector<std::string>& args, int oom_score_adj) {
  json::Array a;
  for (auto& s : args) a.emplace_back(s);
  json::Value p = json::Value::object({{"terminal", false},
                                       {"user", json::Value::object({{"uid", 0}, {"gid", 0}})},
                                       {"args", json::Value(std::move(a))},
                                       {"env", json::Value::array({"PATH=/bin"})},
                                       {"cwd", "/"},
                                       {"oomScoreAdj", oom_score_adj}});
  return json::dump(p);
}

// Every capability in every set: the container's root may mount.
void privileged(json::Value& cfg) {
  json::Array all;
  for (const char* c : {"CAP_SYS_ADMIN", "CAP_SYS_CHROOT", "CAP_CHOWN", "CAP_DAC_OVERRIDE",
                        "CAP_FOWNER", "CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_SYS_PTRACE"})
    all.emplace_back(c);
  json::Value caps = json::Value(all);
  cfg.find("process")->set(
      "capabilities",
      json::Value::object(
          {{"bounding", caps}, {"effective", caps}, {"permitted", caps}, {"ambient", caps}}));
}

}  // namespace

// CVE-2024-21626: process.cwd /proc/self/fd/N, N a host directory the runtime
// leaked, started the process with its working directory outside the
// rootfs ("../../.." then reaches the host). ward closes every descriptor
// before chdir; beyond that, the working directory must be inside the root
// even when the directory came in on purpose (--preserve-fds): the process
// must not start there.
TEST_CASE("CVE-2024-21626: run never starts with its cwd outside the rootfs") {
  NEED_RUNTIME(b);
  ward_test::ScratchDir canary("canary");
  const std::vector<std::string> escape = {"sh", "-c", "touch escaped; pwd"};
  for (int n = 3; n <= 20; ++n) {
    b.set(escape, [&](json::Value& cfg) {
      cfg.find("process")->set("cwd", "/proc/self/fd/" + std::to_string(n));
    });
    auto r = b.cmd({"run", "--bundle", b.dir.path, b.id("cwd" + std::to_string(n))});
    INFO(n << ": " << r.out << r.err);
    CHECK(r.status != 0);
    CHECK(r.out.find("(unreachable)") == std::string::npos);
  }
  // A host directory handed over as fd 3 (--preserve-fds 1), as the cwd.
  int dir = ::open(canary.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(dir >= 0);
  b.set(escape, [&](json::Value& cfg) { cfg.find("process")->set("cwd", "/proc/self/fd/3"); });
  auto r = ward_as(b, {"run", "--preserve-fds", "1", "--bundle", b.dir.path, b.id("cwdp")},
                   ward_test::Caller::with_fd3(dir));
  ::close(dir);
  INFO(r.out << r.err);
  CHECK(r.status != 0);
  CHECK(r.out.find("(unreachable)") == std::string::npos);
  CHECK(fs::is_empty(canary.path));
  CHECK(fs::is_empty(b.state.path));
}

TEST_CASE("CVE-2024-21626: exec never starts with its cwd outside the rootfs") {
  NEED_RUNTIME(b);
  ward_test::ScratchDir canary("canary");
  const std::string id = run_detached(b, {"sleep", "100"}, "cwdx");
  for (int n = 3; n <= 20; ++n) {
    auto r = b.cmd({"exec", "--cwd", "/proc/self/fd/" + std::to_string(n), id, "sh", "-c",
                    "touch escaped; pwd"});
    INFO(n << ": " << r.out << r.err);
    CHECK(r.status != 0);
    CHECK(r.out.find("(unreachable)") == std::string::npos);
  }
  int dir = ::open(canary.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(dir >= 0);
  auto r = ward_as(b,
                   {"exec", "--preserve-fds", "1", "--cwd", "/proc/self/fd/3", id, "sh", "-c",
                    "touch escaped; pwd"},
                   ward_test::Caller::with_fd3(dir));
  ::close(dir);
  INFO(r.out << r.err);
  CHECK(r.status != 0);
  CHECK(r.out.find("(unreachable)") == std::string::npos);
  CHECK(fs::is_empty(canary.path));
  CHECK(b.cmd({"delete", "--force", id}).status == 0);
}

// CVE-2019-16884 / CVE-2023-27561 / CVE-2023-28642: the image's /proc is a
// symlink to a directory of look-alike files, or the config puts a volume
// that is not procfs at /proc, so that the runtime's later /proc writes
// (sysctl, oom_score_adj) land in those files. Refused, or written to the
// real procfs: the canary files keep their text, for run and for exec.
TEST_CASE(
    "CVE-2019-16884 and CVE-2023-27561/28642: a /proc symlink or volume never receives ward's "
    "writes") {
  NEED_RUNTIME(b);
  const std::string root = b.rootfs->path;
  // Look-alike files for every write ward makes: sysctl, oom_score_adj of
  // any pid (1..64), timens_offsets.
  auto fake_proc = [](const std::string& dir) {
    fs::create_directories(dir + "/sys/net/ipv4");
    ward_test::write_file(dir + "/sys/net/ipv4/ip_forward", "canary\n");
    fs::create_directories(dir + "/self");
    ward_test::write_file(dir + "/self/oom_score_adj", "canary\n");
    for (int p = 1; p <= 64; ++p) {
      fs::create_directories(dir + "/" + std::to_string(p));
      ward_test::write_file(dir + "/" + std::to_string(p) + "/oom_score_adj", "canary\n");
    }
  };
  auto untouched = [](const std::string& dir) {
    bool same = ward_test::read_file(dir + "/sys/net/ipv4/ip_forward") == "canary\n" &&
                ward_test::read_file(dir + "/self/oom_score_adj") == "canary\n";
    for (int p = 1; p <= 64; ++p)
      same = same &&
             ward_test::read_file(dir + "/" + std::to_string(p) + "/oom_score_adj") == "canary\n";
    return same;
  };
  auto hostile = [&](json::Value& cfg) {
    cfg.find("linux")->set("sysctl", json::Value::object({{"net.ipv4.ip_forward", "1"}}));
    cfg.find("process")->set("oomScoreAdj", 123);
  };
  ward_test::ScratchDir host("host");
  fake_proc(root + "/canary");
  fake_proc(host / "vol");

  SECTION("rootfs /proc is a symlink") {
    fs::remove_all(root + "/proc");
    fs::create_directory_symlink("/canary", root + "/proc");
    b.set({"sleep", "100"}, hostile);
  }
  SECTION("a volume at /proc") {
    b.set({"sleep", "100"}, [&](json::Value& cfg) {
      hostile(cfg);
      cfg.find("mounts")->push_back(mount_entry("/proc", "bind", host / "vol", {"rbind"}));
    });
  }
  const std::string id = b.id("procsym");
  auto d = b.cmd({"run", "-d", "--bundle", b.dir.path, id});
  INFO(d.err);
  if (d.status == 0) {
    auto e = b.cmd({"exec", "--process", "/dev/stdin", id}, process_json({"true"}, 456));
    INFO(e.err);
    b.cmd({"delete", "--force", id});
  }
  CHECK(untouched(root + "/canary"));
  CHECK(untouched(host / "vol"));
}

// CVE-2025-52881: a process in a privileged container (CAP_SYS_ADMIN)
// replaces /proc with a tmpfs whose self/oom_score_adj is a bind of another
// procfs file (/proc/sys/kernel/domainname of a procfs it mounted: every
// check that only asks "is it on procfs?" passes). `ward exec` with
// oomScoreAdj must not write into it: the container's domainname stays.
TEST_CASE("CVE-2025-52881: mounts over /proc never redirect exec's oom_score_adj write") {
  NEED_RUNTIME(b);
  const std::string setup =
      "mkdir /dev/shm/p && mount -t proc proc /dev/shm/p && "
      "mount -t tmpfs t /proc && mkdir /proc/self && touch /proc/self/oom_score_adj && "
      "mount -o bind /dev/shm/p/sys/kernel/domainname /proc/self/oom_score_adj && "
      "touch /dev/shm/ready; sleep 100";
  const std::string id = run_detached(b, {"sh", "-c", setup}, "oomredir", privileged);
  // The container's /dev/shm is its own tmpfs: ask the container.
  auto ready = b.cmd({"exec", id, "sh", "-c",
                      "i=0; while [ ! -e /dev/shm/ready ] && [ $i -lt 200 ]; do sleep 0.05; "
                      "i=$((i+1)); done; cat /dev/shm/p/sys/kernel/domainname"});
  INFO(ready.err);
  REQUIRE(ready.status == 0);
  const std::string before = ready.out;
  REQUIRE(before != "321\n");
  auto e = b.cmd({"exec", "--process", "/dev/stdin", id}, process_json({"true"}, 321));
  INFO("exec with oomScoreAdj: status " << e.status << ": " << e.err);
  auto after = b.cmd({"exec", id, "cat", "/dev/shm/p/sys/kernel/domainname"});
  INFO(after.err);
  CHECK(after.out == before);
  CHECK(b.cmd({"delete", "--force", id}).status == 0);
}

// CVE-2025-31133: the image's /dev/null is a symlink to a file of the
// image's choosing; masking a path (linux.maskedPaths) binds "/dev/null"
// over it, so the masked /proc file would become that file (runc: a
// writable /proc/sys/kernel/core_pattern). The mask must not bind it.
TEST_CASE("CVE-2025-31133: a /dev/null symlink never becomes what masks a path") {
  NEED_RUNTIME(b);
  const std::string root = b.rootfs->path;
  ward_test::write_file(root + "/canary", "canary-content\n");
  ::chmod((root + "/canary").c_str(), 0666);
  fs::create_directories(root + "/dev");
  fs::create_symlink("/canary", root + "/dev/null");
  b.set({"sh", "-c", "cat /proc/timer_list /proc/kcore; echo pwned > /proc/timer_list; true"},
        [&](json::Value& cfg) {
          // The image's own /dev (no tmpfs over it), full capabilities.
          json::Array kept;
          for (auto& m : cfg.find("mounts")->as_array()) {
            std::string dst = m.find("destination")->as_string();
            if (dst.rfind("/dev", 0) != 0) kept.push_back(m);
          }
          cfg.set("mounts", json::Value(std::move(kept)));
          cfg.find("root")->set("readonly", false);
          cfg.find("linux")->set("maskedPaths",
                                 json::Value::array({"/proc/timer_list", "/proc/kcore"}));
          privileged(cfg);
        });
  auto r = b.cmd({"run", "--bundle", b.dir.path, b.id("devnull")});
  INFO(r.status << ": " << r.out << r.err);
  CHECK(r.out.find("canary-content") == std::string::npos);
  CHECK(ward_test::read_file(root + "/canary") == "canary-content\n");
}

// CVE-2021-30465: a host process swaps a shared volume's subdirectory with a
// symlink to a canary directory (renameat2 RENAME_EXCHANGE) while `ward run`
// mounts a tmpfs beneath it. A destination that followed the symlink
// outside the rootfs would create its mount point in the canary (mkdir -p)
// and mount there, where the container cannot see it after pivot_root.
// Hundreds of runs: the canary stays empty, the host's mount table does not
// change, and every container sees its tmpfs exactly once (at /vol/sub/t,
// or, when the symlink was there, at the canary's path inside the rootfs:
// the link resolves in the root).
TEST_CASE("CVE-2021-30465: a volume swapped for a symlink never mounts outside the rootfs") {
  NEED_RUNTIME(b);
  ward_test::ScratchDir vol("vol"), canary("canary");
  fs::create_directories(vol / "sub/t");
  fs::create_directory_symlink(canary.path, vol / "link");
  b.set({"sh", "-c",
         "n=$(grep -c 'size=2048k' /proc/self/mountinfo); echo $n; [ \"$n\" = 1 ] || "
         "cat /proc/self/mountinfo"},
        [&](json::Value& cfg) {
          auto& m = *cfg.find("mounts");
          m.push_back(mount_entry("/vol", "bind", vol.path, {"rbind"}));
          m.push_back(mount_entry("/vol/sub/t", "tmpfs", "tmpfs", {"size=2048k"}));
        });
  std::atomic<bool> stop{false};
  std::atomic<long> swaps{0};
  std::thread racer([&] {
    const std::string a = vol / "sub", l = vol / "link";
    while (!stop.load()) {
      if (::syscall(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, l.c_str(), RENAME_EXCHANGE) == 0)
        ++swaps;
    }
  });
  int ran = 0, refused = 0;
  std::string odd;
  for (int i = 0; i < 300; ++i) {
    auto r = b.cmd({"run", "--bundle", b.dir.path, b.id("race" + std::to_string(i))});
    if (r.status != 0) {
      ++refused;
      continue;
    }
    ++ran;
    if (r.out != "1\n" && odd.empty()) odd = r.out + r.err;
  }
  stop = true;
  racer.join();
  INFO("runs " << ran << ", refused " << refused << ", swaps " << swaps.load() << ", odd: " << odd);
  CHECK(swaps.load() > 0);
  CHECK(ran > 0);
  CHECK(odd.empty());
  CHECK(fs::is_empty(canary.path));
  // The host's mount table: nothing at the canary or in the volume (other
  // tests on this machine may mount elsewhere meanwhile).
  for (const std::string& m : ward_test::mount_table()) {
    INFO(m);
    CHECK(m.rfind(canary.path, 0) != 0);
    CHECK(m.rfind(vol.path, 0) != 0);
  }
  CHECK(fs::is_empty(b.state.path));
}
