// SPDX-License-Identifier: Apache-2.0
// Spawning into a root filesystem (issue #3, "Benchmark"): spawn + wait of
// a static `true` inside a busybox rootfs with the standard mounts, by ward
// and by a hand-written floor, against the same spawn without a rootfs.
//
//   BM_posix_spawn                   glibc posix_spawn + waitpid of the static
//                                    true (on the host): the bare baseline
//   BM_floor/<fs>/<ns>               the hand-written floor (see "The floor")
//   BM_ward/<fs>/<ns>                ward::Plan built once, plan.spawn().wait()
//   BM_paired/<fs>/<ns>              floor and ward alternately in one loop;
//                                    counters floor_us, ward_us, ratio (median
//                                    of ward/floor per pair)
//   BM_paired_mounts/<ns>            ward without and with the rootfs,
//                                    alternately; counters norootfs_us,
//                                    rootfs_us, ratio (rootfs/norootfs)
//
// <fs>: rootfs = pivot_root into the rootfs with proc, the standard /dev,
// runc's default masked and read-only paths; norootfs = none of that (the
// host's filesystem, still in a new mount namespace).
// <ns>: root = new mount, pid, uts, ipc and cgroup namespaces, as root in the
// initial user namespace; userns = the same plus a new user namespace that
// maps root to root ("0 0 1"), where device nodes cannot be made and are
// bound from the host instead.
// Every variant drops all capabilities (bounding, permitted, effective,
// inheritable, ambient) and installs the same small seccomp filter (six
// system calls refused with EPERM, everything else allowed) just before
// execve. Environment: empty; stdio: inherited.
//
// The rootfs is made once, in a temporary directory removed at exit: bin/
// with a copy of /bin/busybox (and sh, true applets) and bin/true-static, a
// copy of ward_static_true (found next to this executable or through
// $WARD_STATIC_TRUE), plus empty proc/ and dev/. Everything needs root; as
// another user only BM_posix_spawn runs. See bench/README.md.
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <ward/capabilities.hpp>
#include <ward/mount.hpp>
#include <ward/sandbox.hpp>
#include <ward/seccomp.hpp>

#include "bench_util.hpp"

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

namespace {

using namespace ward_bench;
namespace fs = std::filesystem;

// ------------------------------------------------------------- the rootfs

std::string g_true;                              // the static true on the host
std::string g_rootfs;                            // the temporary rootfs
const char* const kInside = "/bin/true-static";  // the same program, inside
char* g_argv_host[2] = {nullptr, nullptr};
char* g_argv_inside[2] = {const_cast<char*>(kInside), nullptr};
char* g_envp[1] = {nullptr};
bool g_root = false;

// Removal on SIGINT/SIGTERM: the handler execs rm (execve is
// async-signal-safe; the arguments are prepared beforehand).
std::string g_rm_target;
char* g_rm_argv[5] = {nullptr, nullptr, nullptr, nullptr, nullptr};

void remove_rootfs() {
  if (g_rootfs.empty()) return;
  std::error_code ec;
  fs::remove_all(g_rootfs,
                 ec);  // nothing is mounted there: mounts live in the children's namespaces
  g_rootfs.clear();
}

extern "C" void on_signal(int) {
  ::execve("/bin/rm", g_rm_argv, g_envp);
  ::_exit(130);
}

// Returns "" on success, else what went wrong.
std::string make_rootfs() {
  char tmpl[] = "/tmp/ward-bench-rootfs-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return std::string("mkdtemp: ") + std::strerror(errno);
  g_rootfs = tmpl;
  g_rm_target = g_rootfs;
  static char rm[] = "rm", rf[] = "-rf", one[] = "--one-file-system";
  g_rm_argv[0] = rm;
  g_rm_argv[1] = rf;
  g_rm_argv[2] = one;
  g_rm_argv[3] = g_rm_target.data();
  ::signal(SIGINT, on_signal);
  ::signal(SIGTERM, on_signal);
  std::error_code ec;
  fs::permissions(g_rootfs, fs::perms(0755), ec);
  for (const char* d : {"bin", "proc", "dev"})
    if (::mkdir((g_rootfs + "/" + d).c_str(), 0755) != 0)
      return std::string("mkdir ") + d + ": " + std::strerror(errno);
  if (::access("/bin/busybox", X_OK) == 0) {
    fs::copy_file("/bin/busybox", g_rootfs + "/bin/busybox", ec);
    if (ec) return "copy /bin/busybox: " + ec.message();
    for (const char* a : {"sh", "true"}) ::symlink("busybox", (g_rootfs + "/bin/" + a).c_str());
  }
  fs::copy_file(g_true, g_rootfs + kInside, ec);
  if (ec) return "copy " + g_true + ": " + ec.message();
  fs::permissions(g_rootfs + kInside, fs::perms(0755), ec);
  return {};
}

// ------------------------------------------------------------- variants

struct Variant {
  const char* name;
  bool user;  // a new user namespace mapping root to root
};
const Variant kRoot{"root", false};
const Variant kUserns{"userns", true};

using K = ward::NsKind;
ward::NsSet namespaces(const Variant& v) {
  ward::NsSet ns{K::mount, K::pid, K::uts, K::ipc, K::cgroup};
  if (v.user) ns.add(K::user);
  return ns;
}

// The six refused calls, by x86_64 number for the floor's hand-written
// filter; ward's SeccompFilter takes the names.
struct Denied {
  const char* name;
  std::uint32_t nr;
};
constexpr Denied kDenied[] = {{"kexec_load", SYS_kexec_load},
                              {"init_module", SYS_init_module},
                              {"finit_module", SYS_finit_module},
                              {"delete_module", SYS_delete_module},
                              {"reboot", SYS_reboot},
                              {"swapon", SYS_swapon}};

bool skip_unless_root(benchmark::State& state) {
  if (g_root) return false;
  state.SkipWithError("needs root (run as root: mounts, pivot_root and mknod need it)");
  return true;
}

// ------------------------------------------------------------- ward

std::vector<sock_filter> ward_filter() {
  ward::SeccompFilter f(ward::SeccompAction::allow());
  for (const auto& d : kDenied) f.rule(ward::SeccompAction::errno_ret(EPERM), d.name);
  return f.compile();
}

ward::Plan ward_plan(const Variant& v, bool rootfs) {
  ward::Sandbox sb({rootfs ? std::string(kInside) : g_true});
  sb.unshare(namespaces(v)).capabilities(ward::Capabilities::none()).seccomp(ward_filter());
  if (rootfs)
    sb.rootfs(g_rootfs)
        .mount(ward::MountSpec::proc())
        .standard_dev()
        .masked_paths(ward::default_masked_paths())
        .readonly_paths(ward::default_readonly_paths());
  return sb.plan();
}

// ------------------------------------------------------------- the floor
//
// What a C programmer would write to get the same sandbox, with nothing
// spent on anything else: bench_util.hpp's RawFloor (clone3 with CLONE_VM |
// CLONE_PIDFD | CLONE_CLEAR_SIGHAND and the namespace flags, on a stack
// mapped once; with a user namespace the parent writes "0 0 1" to uid_map
// and gid_map and releases the child through a pipe; waitid(P_PIDFD)),
// whose child makes raw system calls only (no libc, no allocation):
//
//   with the rootfs (floor_child, `mounts`):
//    1. umask(0) (modes below are exact; restored before exec)
//    2. mount("/", MS_REC|MS_SLAVE): nothing propagates back to the host
//    3. mount(rootfs, rootfs, MS_BIND|MS_REC), then MS_REC|MS_PRIVATE on it
//       (pivot_root needs a mount point; ward's default propagation), chdir
//       into it; every path below is relative to it
//    4. proc on proc/ (nosuid, nodev, noexec)
//    5. tmpfs on dev/ (nosuid, strictatime, mode=755, size=65536k)
//    6. dev/null zero full random urandom tty: mknod 0666 as root; in a user
//       namespace (mknod is refused there) an empty file each, with the
//       host's node bind-mounted over it, as ward does
//    7. symlinks dev/fd stdin stdout stderr core -> /proc/self/fd...,
//       /proc/kcore
//    8. mkdir dev/pts + devpts (newinstance, ptmxmode=0666, mode=0620,
//       nosuid, noexec); symlink dev/ptmx -> pts/ptmx
//    9. mkdir dev/shm + tmpfs (mode=1777, size=65536k, nosuid nodev noexec);
//       mkdir dev/mqueue + mqueue (nosuid nodev noexec)
//   10. runc's default masked paths (ward::default_masked_paths()): stat
//       each (ENOENT skips it); a directory gets a read-only tmpfs, anything
//       else dev/null bound over it. (Not runc's "bind, and on ENOTDIR
//       mount a tmpfs": the failed bind makes a clone of dev/null that the
//       kernel frees with an RCU grace period, ~300 us on this machine,
//       which ward does not pay either.)
//   11. runc's default read-only paths: bind each onto itself (MS_REC) and
//       remount it MS_RDONLY (keeping proc's nosuid/nodev/noexec, which the
//       kernel locks in a user namespace); ENOENT skips
//   12. pivot_root(".", "."), umount2(".", MNT_DETACH), chdir("/")
//   then, in both variants:
//   13. PR_CAPBSET_DROP of every capability up to cap_last_cap, capset(all
//       zero), PR_CAP_AMBIENT_CLEAR_ALL
//   14. PR_SET_NO_NEW_PRIVS, seccomp(SET_MODE_FILTER) of a hand-written
//       filter: arch check (else KILL_PROCESS), x32 numbers killed, six
//       JEQs to ERRNO(EPERM), ALLOW
//   15. execve; exit_group(127) if it failed
//
// The same mounts, nodes, links and paths as ward's
// rootfs().mount(proc()).standard_dev().masked_paths(default).readonly_paths(
// default) in the same order, and the same kernel objects (superblocks,
// bind mounts) come out of it. What the floor does NOT do, and ward does:
// no error reporting at all (a failed step is ignored or ends in exit code
// 127, the parent never learns which; ward reports step, errno and path);
// no symlink-safe resolution (plain paths from the rootfs: a hostile rootfs
// could redirect a mount out of it, which ward's openat2(RESOLVE_IN_ROOT)
// and descriptor-based mounts prevent); no check that dev/null is really
// the null device before binding it over masked files; no check that /proc
// is procfs; mounts through mount(2) (one call each), where ward uses the
// new mount API (fsopen/fsconfig/fsmount/mount_setattr/move_mount: several
// calls per mount, attributes applied before the mount is visible, and
// the read-only paths made read-only recursively); no descriptor hygiene,
// signal mask handling or exec handshake (see bench/README.md, "The floor").
struct FloorPlan {
  bool mounts = false;  // steps 1-12
  bool user = false;    // nodes are bound from the host instead of mknod
  const char* rootfs = nullptr;
  int cap_last = 40;
  sock_fprog prog{};
  const char* const* masked = nullptr;  // relative, nullptr-terminated
  const char* const* readonly = nullptr;
};

struct FloorNode {
  const char* path;  // inside the rootfs
  const char* host;  // the host's node, bound in a user namespace
  unsigned major, minor;
};
constexpr FloorNode kNodes[] = {
    {"dev/null", "/dev/null", 1, 3},       {"dev/zero", "/dev/zero", 1, 5},
    {"dev/full", "/dev/full", 1, 7},       {"dev/random", "/dev/random", 1, 8},
    {"dev/urandom", "/dev/urandom", 1, 9}, {"dev/tty", "/dev/tty", 5, 0}};
constexpr const char* kLinks[][2] = {{"/proc/self/fd", "dev/fd"},
                                     {"/proc/self/fd/0", "dev/stdin"},
                                     {"/proc/self/fd/1", "dev/stdout"},
                                     {"/proc/self/fd/2", "dev/stderr"},
                                     {"/proc/kcore", "dev/core"}};

WARD_CHILD_FN long mnt(const char* src, const char* dst, const char* type, unsigned long flags,
                       const void* data) noexcept {
  return sys::call(SYS_mount, src, dst, type, flags, data);
}

WARD_CHILD_FN void floor_mounts(const FloorPlan& p) noexcept {
  constexpr unsigned long kProcFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  long old_umask = sys::call(SYS_umask, 0);
  if (mnt(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) < 0) sys::exit_group(127);
  if (mnt(p.rootfs, p.rootfs, nullptr, MS_BIND | MS_REC, nullptr) < 0) sys::exit_group(127);
  if (mnt(nullptr, p.rootfs, nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) sys::exit_group(127);
  if (sys::call(SYS_chdir, p.rootfs) < 0) sys::exit_group(127);
  if (mnt("proc", "proc", "proc", kProcFlags, nullptr) < 0) sys::exit_group(127);
  if (mnt("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k") < 0)
    sys::exit_group(127);
  for (const auto& n : kNodes) {
    if (!p.user) {
      if (sys::call(SYS_mknodat, AT_FDCWD, n.path, S_IFCHR | 0666, makedev(n.major, n.minor)) < 0)
        sys::exit_group(127);
    } else {
      if (sys::call(SYS_mknodat, AT_FDCWD, n.path, S_IFREG | 0644, 0) < 0 ||
          mnt(n.host, n.path, nullptr, MS_BIND, nullptr) < 0)
        sys::exit_group(127);
    }
  }
  for (const auto& l : kLinks)
    if (sys::call(SYS_symlinkat, l[0], AT_FDCWD, l[1]) < 0) sys::exit_group(127);
  if (sys::call(SYS_mkdirat, AT_FDCWD, "dev/pts", 0755) < 0 ||
      mnt("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
          "newinstance,ptmxmode=0666,mode=0620") < 0 ||
      sys::call(SYS_symlinkat, "pts/ptmx", AT_FDCWD, "dev/ptmx") < 0)
    sys::exit_group(127);
  if (sys::call(SYS_mkdirat, AT_FDCWD, "dev/shm", 0755) < 0 ||
      mnt("tmpfs", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k") <
          0)
    sys::exit_group(127);
  if (sys::call(SYS_mkdirat, AT_FDCWD, "dev/mqueue", 0755) < 0 ||
      mnt("mqueue", "dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) < 0)
    sys::exit_group(127);
  for (const char* const* m = p.masked; *m != nullptr; ++m) {
    struct stat st;
    long r = sys::call(SYS_newfstatat, AT_FDCWD, *m, &st, 0);
    if (r == -ENOENT) continue;
    if (r == 0)
      r = S_ISDIR(st.st_mode) ? mnt("tmpfs", *m, "tmpfs", MS_RDONLY, nullptr)
                              : mnt("dev/null", *m, nullptr, MS_BIND, nullptr);
    if (r < 0) sys::exit_group(127);
  }
  for (const char* const* m = p.readonly; *m != nullptr; ++m) {
    long r = mnt(*m, *m, nullptr, MS_BIND | MS_REC, nullptr);
    if (r == -ENOENT) continue;
    if (r < 0 ||
        mnt(nullptr, *m, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | kProcFlags, nullptr) < 0)
      sys::exit_group(127);
  }
  if (sys::call(SYS_pivot_root, ".", ".") < 0 || sys::call(SYS_umount2, ".", MNT_DETACH) < 0 ||
      sys::call(SYS_chdir, "/") < 0)
    sys::exit_group(127);
  sys::call(SYS_umask, old_umask);
}

WARD_CHILD_FN int floor_child(void* arg) noexcept {
  const auto* c = static_cast<const RawCtx*>(arg);
  const auto& p = *static_cast<const FloorPlan*>(c->extra);
  if (!raw_child_sync(c)) sys::exit_group(126);
  if (p.mounts) floor_mounts(p);
  for (int cap = 0; cap <= p.cap_last; ++cap)
    if (sys::call(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) sys::exit_group(127);
  struct {
    std::uint32_t version = 0x20080522;  // _LINUX_CAPABILITY_VERSION_3
    int pid = 0;
  } hdr;
  struct {
    std::uint32_t effective, permitted, inheritable;
  } data[2] = {};
  if (sys::call(SYS_capset, &hdr, data) < 0 ||
      sys::call(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
    sys::exit_group(127);
  if (sys::call(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
      sys::call(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p.prog) < 0)
    sys::exit_group(127);
  sys::call(SYS_execve, c->path, c->argv, c->envp);
  sys::exit_group(127);
}

// The floor's filter, by hand (x86_64 only; on other architectures the
// floor benchmarks are skipped).
std::vector<sock_filter> floor_filter() {
  std::vector<sock_filter> f;
#if defined(__x86_64__)
  constexpr std::uint32_t n = sizeof kDenied / sizeof kDenied[0];
  // 0: arch; 1: x86_64? else kill; 2: nr; 3: x32 bit? kill; 4..4+n-1: denied?
  // 4+n: allow; 5+n: errno; 6+n: kill.
  f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
  f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, n + 4));
  f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
  f.push_back(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, n + 2, 0));
  for (std::uint32_t i = 0; i < n; ++i)
    f.push_back(
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kDenied[i].nr, static_cast<std::uint8_t>(n - i), 0));
  f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM));
  f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
#endif
  return f;
}

// Owns what the floor child reads.
class Floor {
 public:
  Floor(const Variant& v, bool rootfs)
      : filter_(floor_filter()),
        raw_(namespaces(v).clone_flags(), rootfs ? kInside : g_true.c_str(),
             rootfs ? g_argv_inside : g_argv_host, g_envp, &floor_child, &plan_) {
    for (auto& m : ward::default_masked_paths()) masked_s_.push_back(m.substr(1));
    for (auto& m : ward::default_readonly_paths()) readonly_s_.push_back(m.substr(1));
    for (auto& m : masked_s_) masked_.push_back(m.c_str());
    for (auto& m : readonly_s_) readonly_.push_back(m.c_str());
    masked_.push_back(nullptr);
    readonly_.push_back(nullptr);
    plan_.mounts = rootfs;
    plan_.user = v.user;
    plan_.rootfs = g_rootfs.c_str();
    plan_.cap_last = ward::cap_last_cap();
    plan_.prog.len = static_cast<unsigned short>(filter_.size());
    plan_.prog.filter = filter_.data();
    plan_.masked = masked_.data();
    plan_.readonly = readonly_.data();
  }
  Floor(const Floor&) = delete;
  Floor& operator=(const Floor&) = delete;
  bool spawn(benchmark::State& state) { return raw_.spawn(state); }
  bool spawn(std::string& err) { return raw_.spawn(err); }

 private:
  std::vector<sock_filter> filter_;
  std::vector<std::string> masked_s_, readonly_s_;
  std::vector<const char*> masked_, readonly_;
  FloorPlan plan_;
  RawFloor raw_;
};

bool floor_supported(benchmark::State& state) {
#if defined(__x86_64__)
  (void)state;
  return true;
#else
  state.SkipWithError("the floor's seccomp filter is written for x86_64 only");
  return false;
#endif
}

// ------------------------------------------------------------- benchmarks

void BM_posix_spawn(benchmark::State& state) {
  Counters c;
  for (auto _ : state)
    if (!posix_spawn_wait(state, g_true.c_str(), g_argv_host, g_envp)) break;
  c.finish(state);
}

void BM_floor(benchmark::State& state, Variant v, bool rootfs) {
  if (skip_unless_root(state) || !floor_supported(state)) return;
  Floor floor(v, rootfs);
  Counters c;
  for (auto _ : state)
    if (!floor.spawn(state)) break;
  c.finish(state);
}

void BM_ward(benchmark::State& state, Variant v, bool rootfs) {
  if (skip_unless_root(state)) return;
  std::optional<ward::Plan> plan;
  if (!build_plan(state, plan, [&] { return ward_plan(v, rootfs); })) return;
  Counters c;
  for (auto _ : state)
    if (!run_plan(state, *plan)) break;
  c.finish(state);
}

void BM_paired(benchmark::State& state, Variant v, bool rootfs) {
  if (skip_unless_root(state) || !floor_supported(state)) return;
  std::optional<ward::Plan> plan;
  if (!build_plan(state, plan, [&] { return ward_plan(v, rootfs); })) return;
  Floor floor(v, rootfs);
  paired_timed(
      state, "floor", [&] { return floor.spawn(state); }, "ward",
      [&] { return run_plan(state, *plan); });
}

void BM_paired_mounts(benchmark::State& state, Variant v) {
  if (skip_unless_root(state)) return;
  std::optional<ward::Plan> without, with;
  if (!build_plan(state, without, [&] { return ward_plan(v, false); }) ||
      !build_plan(state, with, [&] { return ward_plan(v, true); }))
    return;
  paired_timed(
      state, "norootfs", [&] { return run_plan(state, *without); }, "rootfs",
      [&] { return run_plan(state, *with); });
}

void register_all() {
  common(benchmark::RegisterBenchmark("BM_posix_spawn", BM_posix_spawn));
  for (bool rootfs : {false, true}) {
    const std::string f = rootfs ? "/rootfs/" : "/norootfs/";
    for (const Variant& v : {kRoot, kUserns}) {
      common(benchmark::RegisterBenchmark(("BM_floor" + f + v.name).c_str(), BM_floor, v, rootfs));
      common(benchmark::RegisterBenchmark(("BM_ward" + f + v.name).c_str(), BM_ward, v, rootfs));
    }
  }
  for (bool rootfs : {true, false})
    for (const Variant& v : {kRoot, kUserns})
      common(benchmark::RegisterBenchmark(
          ((rootfs ? "BM_paired/rootfs/" : "BM_paired/norootfs/") + std::string(v.name)).c_str(),
          BM_paired, v, rootfs));
  for (const Variant& v : {kRoot, kUserns})
    common(benchmark::RegisterBenchmark((std::string("BM_paired_mounts/") + v.name).c_str(),
                                        BM_paired_mounts, v));
}

}  // namespace

int main(int argc, char** argv) {
  g_true = find_static_true("ward_bench_rootfs");
  if (g_true.empty()) return 2;
  g_argv_host[0] = g_true.data();
  g_root = ::geteuid() == 0;
  if (!g_root) {
    std::fprintf(stderr,
                 "ward_bench_rootfs: not running as root: every benchmark but BM_posix_spawn "
                 "needs root (mount, pivot_root, mknod) and reports 'needs root'.\n");
  } else if (std::string err = make_rootfs(); !err.empty()) {
    std::fprintf(stderr, "ward_bench_rootfs: cannot make the rootfs: %s\n", err.c_str());
    remove_rootfs();
    return 2;
  }

  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    remove_rootfs();
    return 1;
  }
  benchmark::AddCustomContext("static_true", g_true);
  if (!g_rootfs.empty()) benchmark::AddCustomContext("rootfs", g_rootfs);
  benchmark::AddCustomContext("seccomp_insns", std::to_string(ward_filter().size()) + " (ward), " +
                                                   std::to_string(floor_filter().size()) +
                                                   " (floor)");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  remove_rootfs();
  return 0;
}
