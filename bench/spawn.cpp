// SPDX-License-Identifier: Apache-2.0
// Spawn latency: spawn + wait of a static `true`, by ward and by the
// alternatives it is measured against.
//
//   BM_posix_spawn                     glibc posix_spawn + waitpid
//   BM_raw_clone3/<flagset>            the floor: clone3(CLONE_VM|CLONE_PIDFD|
//                                      CLONE_CLEAR_SIGHAND|<namespaces>) on a
//                                      private stack, exec at once (after the
//                                      id maps when there is a user namespace),
//                                      waitid(P_PIDFD)
//   BM_sandbox/<flagset>               ward::Plan built once, plan.spawn().wait()
//   BM_sandbox_build_and_spawn/<fs>    Sandbox(...).plan() inside the loop too
//   BM_paired/<flagset>                floor and BM_sandbox alternately in one
//                                      loop; counters: medians and their ratio
//   BM_paired_rss/rss_mib:N            BM_sandbox/none here and in a helper
//                                      process holding N MiB, alternately
//   .../rss_mib:N                      the same from a parent with N MiB more
//                                      resident (posix_spawn, fork+exec, the
//                                      floor and BM_sandbox/none)
//
// Flagsets: none; userpidmntutsipccg (user+pid+mount+uts+ipc+cgroup);
// plus_net (that + net, loopback left down); plus_net_lo (BM_sandbox only:
// plus_net with lo brought up, ward's default).
//
// The program run is bench/static_true.cpp (target ward_static_true), found
// next to this executable or through $WARD_STATIC_TRUE. See bench/README.md.
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <ward/detail/clone.hpp>
#include <ward/detail/syscall.hpp>
#include <ward/namespace.hpp>
#include <ward/sandbox.hpp>

#include <benchmark/benchmark.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace {

namespace sys = ward::detail::sys;

// ------------------------------------------------------------- the program

std::string g_true;  // path of the static `true`
char* g_argv[2] = {nullptr, nullptr};
char* g_envp[1] = {nullptr};  // empty environment, as ward's default

std::string find_static_true() {
  if (const char* e = std::getenv("WARD_STATIC_TRUE"); e != nullptr && *e != '\0') return e;
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return {};
  std::string self(buf, static_cast<std::size_t>(n));
  auto slash = self.rfind('/');
  return (slash == std::string::npos ? std::string(".") : self.substr(0, slash)) +
         "/ward_static_true";
}

bool g_root = false;

// ------------------------------------------------------------- flagsets

struct Flagset {
  const char* name;
  ward::NsSet ns;
  bool loopback;  // BM_sandbox only: bring lo up
};

using K = ward::NsKind;
const Flagset kNone{"none", {}, false};
const Flagset kUserPidMntUtsIpcCg{
    "userpidmntutsipccg", {K::user, K::pid, K::mount, K::uts, K::ipc, K::cgroup}, false};
const Flagset kPlusNet{
    "plus_net", {K::user, K::pid, K::mount, K::uts, K::ipc, K::cgroup, K::net}, false};
const Flagset kPlusNetLo{
    "plus_net_lo", {K::user, K::pid, K::mount, K::uts, K::ipc, K::cgroup, K::net}, true};

bool skip_unless_root(benchmark::State& state, const Flagset& fs) {
  if (fs.ns.empty() || g_root) return false;
  state.SkipWithError("needs root");
  return true;
}

// ------------------------------------------------------------- parent RSS

// One resident block at a time: a benchmark asks for its size (0: none),
// the previous block is unmapped first. 4 KiB pages (MADV_NOHUGEPAGE), each
// written, so the page tables fork() copies are the ones of a real heap.
struct Resident {
  void* p = nullptr;
  std::size_t bytes = 0;
} g_resident;

bool ensure_resident(std::size_t mib, std::string& err) {
  std::size_t bytes = mib << 20;
  if (g_resident.bytes == bytes) return true;
  if (g_resident.p != nullptr) ::munmap(g_resident.p, g_resident.bytes);
  g_resident = {};
  if (bytes == 0) return true;
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    err = "mmap " + std::to_string(mib) + " MiB: " + std::strerror(errno);
    return false;
  }
  ::madvise(p, bytes, MADV_NOHUGEPAGE);
  auto* c = static_cast<volatile char*>(p);
  long page = ::sysconf(_SC_PAGESIZE);
  for (std::size_t off = 0; off < bytes; off += static_cast<std::size_t>(page)) c[off] = 1;
  g_resident = {p, bytes};
  // Let the machine settle before timing anything: on the VM this was
  // written on, the first second after faulting in 4 GiB (and freeing the
  // previous block) ran spawns 2-5x slower, presumably while the guest and
  // host dealt with the memory. $WARD_BENCH_SETTLE_MS, default 3000.
  long settle_ms = 3000;
  if (const char* e = std::getenv("WARD_BENCH_SETTLE_MS"); e != nullptr && *e != '\0')
    settle_ms = std::atol(e);
  if (settle_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(settle_ms));
  return true;
}

double parent_rss_mib() {
  long size = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) /
         (1024.0 * 1024.0);
}

// Per-benchmark setup of the parent's memory: returns false (after
// SkipWithError) if it failed.
bool setup_rss(benchmark::State& state, std::size_t mib) {
  std::string err;
  if (!ensure_resident(mib, err)) {
    state.SkipWithError(err.c_str());
    return false;
  }
  return true;
}

// ------------------------------------------------------------- counters

double children_cpu_us() {
  struct rusage ru {};
  ::getrusage(RUSAGE_CHILDREN, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

// Counters every benchmark reports: spawns per (wall-clock) second, the
// children's CPU time per spawn (what the child spends in its setup, exec
// and exit; namespace teardown in kernel workers is in neither column), and
// with an RSS argument the parent's resident size.
struct Counters {
  double child_cpu0 = children_cpu_us();
  void finish(benchmark::State& state, bool with_rss) {
    auto it = static_cast<double>(state.iterations());
    state.counters["spawns_per_s"] = benchmark::Counter(it, benchmark::Counter::kIsRate);
    if (it > 0) state.counters["child_cpu_us"] = (children_cpu_us() - child_cpu0) / it;
    if (with_rss) state.counters["parent_rss_mib"] = parent_rss_mib();
  }
};

bool check_status(benchmark::State& state, int wstatus) {
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) return true;
  std::string m = "child failed, wait status " + std::to_string(wstatus);
  state.SkipWithError(m.c_str());
  return false;
}

// ------------------------------------------------------------- posix_spawn

void BM_posix_spawn(benchmark::State& state, bool with_rss) {
  if (!setup_rss(state, with_rss ? static_cast<std::size_t>(state.range(0)) : 0)) return;
  Counters c;
  for (auto _ : state) {
    pid_t pid;
    int rc = ::posix_spawn(&pid, g_true.c_str(), nullptr, nullptr, g_argv, g_envp);
    if (rc != 0) {
      state.SkipWithError(("posix_spawn: " + std::string(std::strerror(rc))).c_str());
      break;
    }
    int st = 0;
    ::waitpid(pid, &st, 0);
    if (!check_status(state, st)) break;
  }
  c.finish(state, with_rss);
}

// ------------------------------------------------------------- fork + exec

void BM_fork_exec(benchmark::State& state) {
  if (!setup_rss(state, static_cast<std::size_t>(state.range(0)))) return;
  Counters c;
  for (auto _ : state) {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::execve(g_true.c_str(), g_argv, g_envp);
      ::_exit(127);
    }
    if (pid < 0) {
      state.SkipWithError(("fork: " + std::string(std::strerror(errno))).c_str());
      break;
    }
    int st = 0;
    ::waitpid(pid, &st, 0);
    if (!check_status(state, st)) break;
  }
  c.finish(state, true);
}

// ------------------------------------------------------------- raw clone3

// The child's context: read-only for the child (it shares our memory).
struct RawCtx {
  const char* path;
  char* const* argv;
  char* const* envp;
  int sync_rd;  // -1: exec at once
};

WARD_CHILD_FN int raw_child(void* arg) noexcept {
  const auto* c = static_cast<const RawCtx*>(arg);
  if (c->sync_rd >= 0) {
    char b;
    if (sys::read_full(c->sync_rd, &b, 1) != 1) sys::exit_group(126);
  }
  sys::call(SYS_execve, c->path, c->argv, c->envp);
  sys::exit_group(127);
}

// One private stack for the floor, mapped once (a 4 KiB guard below it):
// the floor pays no per-spawn mmap. Benchmarks run on one thread.
struct RawStack {
  static constexpr std::size_t kSize = 64 * 1024;
  char* base = nullptr;
  RawStack() {
    void* p = ::mmap(nullptr, kSize + 4096, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return;
    ::mprotect(p, 4096, PROT_NONE);
    base = static_cast<char*>(p) + 4096;
  }
};

RawStack& raw_stack() {
  static RawStack s;
  return s;
}

bool write_map(pid_t pid, const char* file, const char* text, std::size_t len, std::string& err) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/%s", static_cast<int>(pid), file);
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    err = std::string("open ") + path + ": " + std::strerror(errno);
    return false;
  }
  ssize_t n = ::write(fd, text, len);
  int e = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(len)) {
    err = std::string("write ") + path + ": " + std::strerror(e);
    return false;
  }
  return true;
}

// The floor's parent side, set up once per benchmark.
class RawFloor {
 public:
  explicit RawFloor(const Flagset& fs) : nsflags_(fs.ns.clone_flags()) {
    user_ = (nsflags_ & CLONE_NEWUSER) != 0;
    // "0 <uid> 1": root inside is us; for root, setgroups is left alone.
    uid_len_ = std::snprintf(uid_map_, sizeof uid_map_, "0 %u 1\n", ::geteuid());
    gid_len_ = std::snprintf(gid_map_, sizeof gid_map_, "0 %u 1\n", ::getegid());
  }

  // One spawn + wait. False with `err` set on failure.
  bool spawn(std::string& err) {
    RawStack& stack = raw_stack();
    if (stack.base == nullptr) {
      err = "mmap of the child stack failed";
      return false;
    }
    int sync[2] = {-1, -1};
    if (user_ && ::pipe2(sync, O_CLOEXEC) != 0) {
      err = std::string("pipe2: ") + std::strerror(errno);
      return false;
    }
    RawCtx ctx{g_true.c_str(), g_argv, g_envp, sync[0]};
    int pidfd = -1;
    ward::detail::CloneArgs a{};
    a.flags = CLONE_VM | CLONE_PIDFD | ward::detail::kCloneClearSighand | nsflags_;
    a.pidfd = reinterpret_cast<std::uint64_t>(&pidfd);
    a.exit_signal = SIGCHLD;
    a.stack = reinterpret_cast<std::uint64_t>(stack.base);
    a.stack_size = RawStack::kSize;
    long pid = ward::detail::clone3_run(&a, &raw_child, &ctx);
    if (pid < 0) {
      if (user_) ::close(sync[0]), ::close(sync[1]);
      err = "clone3: " + std::string(std::strerror(static_cast<int>(-pid)));
      return false;
    }
    bool ok = true;
    if (user_) {
      auto p = static_cast<pid_t>(pid);
      ok = write_map(p, "uid_map", uid_map_, static_cast<std::size_t>(uid_len_), err) &&
           write_map(p, "gid_map", gid_map_, static_cast<std::size_t>(gid_len_), err);
      char go = 1;
      if (ok && ::write(sync[1], &go, 1) != 1) {
        err = "write sync pipe";
        ok = false;
      }
      ::close(sync[0]);
      ::close(sync[1]);  // on failure the child reads EOF and exits 126
    }
    siginfo_t si{};
    while (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &si, WEXITED) != 0 &&
           errno == EINTR) {
    }
    ::close(pidfd);
    if (!ok) return false;
    if (si.si_code != CLD_EXITED || si.si_status != 0) {
      err = "child failed: si_code " + std::to_string(si.si_code) + " status " +
            std::to_string(si.si_status);
      return false;
    }
    return true;
  }

 private:
  std::uint64_t nsflags_;
  bool user_;
  char uid_map_[32], gid_map_[32];
  int uid_len_, gid_len_;
};

void BM_raw_clone3(benchmark::State& state, Flagset fs, bool with_rss) {
  if (skip_unless_root(state, fs)) return;
  if (!setup_rss(state, with_rss ? static_cast<std::size_t>(state.range(0)) : 0)) return;
  RawFloor floor(fs);
  Counters c;
  std::string err;
  for (auto _ : state) {
    if (!floor.spawn(err)) {
      state.SkipWithError(err.c_str());
      break;
    }
  }
  c.finish(state, with_rss);
}

// ------------------------------------------------------------- ward

ward::Sandbox make_sandbox(const Flagset& fs) {
  ward::Sandbox sb({g_true});
  sb.unshare(fs.ns);
  if (!fs.loopback) sb.loopback(false);
  return sb;
}

bool run_plan(benchmark::State& state, const ward::Plan& plan) {
  try {
    auto st = plan.spawn().wait();
    if (st.success()) return true;
    state.SkipWithError(("child " + st.describe()).c_str());
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
  return false;
}

void BM_sandbox(benchmark::State& state, Flagset fs, bool with_rss) {
  if (skip_unless_root(state, fs)) return;
  if (!setup_rss(state, with_rss ? static_cast<std::size_t>(state.range(0)) : 0)) return;
  std::optional<ward::Plan> plan;
  try {
    plan = make_sandbox(fs).plan();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  Counters c;
  for (auto _ : state)
    if (!run_plan(state, *plan)) break;
  c.finish(state, with_rss);
}

void BM_sandbox_build_and_spawn(benchmark::State& state, Flagset fs) {
  if (skip_unless_root(state, fs)) return;
  if (!setup_rss(state, 0)) return;
  Counters c;
  double plan_ns = 0;
  for (auto _ : state) {
    std::optional<ward::Plan> plan;
    auto t0 = std::chrono::steady_clock::now();
    try {
      plan = make_sandbox(fs).plan();
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
      break;
    }
    plan_ns += static_cast<double>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
            .count());
    if (!run_plan(state, *plan)) break;
  }
  c.finish(state, false);
  if (state.iterations() > 0)
    state.counters["plan_us"] = plan_ns / 1e3 / static_cast<double>(state.iterations());
}

// Sandbox and floor, alternately in the same loop (which one goes first
// alternates too), each spawn timed on its own. The time reported is per
// pair; the counters are medians over this run's pairs: floor_us,
// sandbox_us, and ratio = median of sandbox/floor per pair. Background load
// that drifts during a run hits both sides equally, so this ratio is far
// steadier on a shared machine than the ratio of two separate benchmarks.
double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void BM_paired(benchmark::State& state, Flagset fs) {
  if (skip_unless_root(state, fs)) return;
  if (!setup_rss(state, 0)) return;
  std::optional<ward::Plan> plan;
  try {
    plan = make_sandbox(fs).plan();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  RawFloor floor(fs);
  std::vector<double> fl, sb, ratio;
  std::string err;
  bool sandbox_first = false;
  using clock = std::chrono::steady_clock;
  auto us = [](clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); };
  for (auto _ : state) {
    double t_floor = 0, t_sandbox = 0;
    bool ok = true;
    for (int k = 0; k < 2 && ok; ++k) {
      auto t0 = clock::now();
      if ((k == 0) == sandbox_first) {
        ok = run_plan(state, *plan);
        t_sandbox = us(clock::now() - t0);
      } else {
        ok = floor.spawn(err);
        if (!ok) state.SkipWithError(err.c_str());
        t_floor = us(clock::now() - t0);
      }
    }
    if (!ok) break;
    sandbox_first = !sandbox_first;
    fl.push_back(t_floor);
    sb.push_back(t_sandbox);
    ratio.push_back(t_sandbox / t_floor);
  }
  state.counters["floor_us"] = median(fl);
  state.counters["sandbox_us"] = median(sb);
  state.counters["ratio"] = median(ratio);
}

// The parent-memory question, paired: this process (no extra memory) and a
// helper process holding `rss_mib` MiB resident spawn alternately, each
// timing its own BM_sandbox/none spawn + wait. Counters: small_us (here),
// big_us (the helper), ratio = median of big/small per pair. The helper is
// forked before anything big is mapped, and serves one spawn per request.
class RssHelper {
 public:
  bool start(std::size_t mib, std::string& err) {
    int cmd[2], resp[2];
    if (::pipe2(cmd, O_CLOEXEC) != 0 || ::pipe2(resp, O_CLOEXEC) != 0) {
      err = "pipe2 failed";
      return false;
    }
    pid_ = ::fork();
    if (pid_ < 0) {
      err = "fork failed";
      return false;
    }
    if (pid_ == 0) {
      ::close(cmd[1]);
      ::close(resp[0]);
      serve(mib, cmd[0], resp[1]);  // never returns
    }
    ::close(cmd[0]);
    ::close(resp[1]);
    cmd_ = cmd[1];
    resp_ = resp[0];
    double ready = 0;
    if (!read_double(ready) || ready != 0) {
      err = "the helper could not make its memory resident or build its plan";
      return false;
    }
    return true;
  }
  // One spawn in the helper: its time in µs, or < 0 on failure.
  double spawn() {
    char c = 's';
    double t = -1;
    if (::write(cmd_, &c, 1) != 1 || !read_double(t)) return -1;
    return t;
  }
  ~RssHelper() {
    if (pid_ <= 0) return;
    ::close(cmd_);  // EOF: the helper exits
    ::close(resp_);
    ::waitpid(pid_, nullptr, 0);
  }

 private:
  bool read_double(double& v) {
    return ::read(resp_, &v, sizeof v) == static_cast<ssize_t>(sizeof v);
  }
  [[noreturn]] static void serve(std::size_t mib, int cmd, int resp) {
    std::string err;
    double status = 0;
    std::optional<ward::Plan> plan;
    try {
      if (!ensure_resident(mib, err)) status = -1;
      plan = make_sandbox(kNone).plan();
    } catch (...) {
      status = -1;
    }
    if (::write(resp, &status, sizeof status) != sizeof status || status != 0) ::_exit(1);
    char c;
    while (::read(cmd, &c, 1) == 1) {
      double t = -1;
      try {
        auto t0 = std::chrono::steady_clock::now();
        bool ok = plan->spawn().wait().success();
        t = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0)
                .count();
        if (!ok) t = -1;
      } catch (...) {
      }
      if (::write(resp, &t, sizeof t) != sizeof t) break;
    }
    ::_exit(0);
  }
  pid_t pid_ = -1;
  int cmd_ = -1, resp_ = -1;
};

void BM_paired_rss(benchmark::State& state) {
  if (!setup_rss(state, 0)) return;
  std::optional<ward::Plan> plan;
  try {
    plan = make_sandbox(kNone).plan();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  // One helper per size, kept for every call of this function (Google
  // Benchmark calls it several times); made resident once.
  static std::int64_t helper_mib = -1;
  static std::unique_ptr<RssHelper> helper;
  if (helper_mib != state.range(0)) {
    helper.reset();
    helper = std::make_unique<RssHelper>();
    std::string err;
    if (!helper->start(static_cast<std::size_t>(state.range(0)), err)) {
      helper.reset();
      helper_mib = -1;
      state.SkipWithError(err.c_str());
      return;
    }
    helper_mib = state.range(0);
  }
  std::vector<double> small, big, ratio;
  bool big_first = false;
  using clock = std::chrono::steady_clock;
  for (auto _ : state) {
    double t_small = 0, t_big = 0;
    bool ok = true;
    for (int k = 0; k < 2 && ok; ++k) {
      if ((k == 0) == big_first) {
        t_big = helper->spawn();
        if (t_big < 0) {
          state.SkipWithError("spawn in the helper failed");
          ok = false;
        }
      } else {
        auto t0 = clock::now();
        ok = run_plan(state, *plan);
        t_small = std::chrono::duration<double, std::micro>(clock::now() - t0).count();
      }
    }
    if (!ok) break;
    big_first = !big_first;
    small.push_back(t_small);
    big.push_back(t_big);
    ratio.push_back(t_big / t_small);
  }
  state.counters["small_us"] = median(small);
  state.counters["big_us"] = median(big);
  state.counters["ratio"] = median(ratio);
}

// ------------------------------------------------------------- registration

benchmark::internal::Benchmark* common(benchmark::internal::Benchmark* b) {
  return b->UseRealTime()->Unit(benchmark::kMicrosecond);
}

void register_all() {
  const Flagset floors[] = {kNone, kUserPidMntUtsIpcCg, kPlusNet};
  const Flagset sandboxes[] = {kNone, kUserPidMntUtsIpcCg, kPlusNet, kPlusNetLo};

  common(benchmark::RegisterBenchmark("BM_posix_spawn", BM_posix_spawn, false));
  for (const auto& fs : floors)
    common(benchmark::RegisterBenchmark((std::string("BM_raw_clone3/") + fs.name).c_str(),
                                        BM_raw_clone3, fs, false));
  for (const auto& fs : sandboxes)
    common(benchmark::RegisterBenchmark((std::string("BM_sandbox/") + fs.name).c_str(), BM_sandbox,
                                        fs, false));
  for (const auto& fs : sandboxes)
    common(
        benchmark::RegisterBenchmark((std::string("BM_sandbox_build_and_spawn/") + fs.name).c_str(),
                                     BM_sandbox_build_and_spawn, fs));
  for (const auto& fs : floors)
    common(
        benchmark::RegisterBenchmark((std::string("BM_paired/") + fs.name).c_str(), BM_paired, fs));

  // Parent memory. Grouped by size so each size is made resident once.
  for (std::int64_t mib : {1, 1024, 4096}) {
    auto rss = [mib](benchmark::internal::Benchmark* b) {
      return common(b)->Arg(mib)->ArgName("rss_mib");
    };
    rss(benchmark::RegisterBenchmark("BM_posix_spawn", BM_posix_spawn, true));
    rss(benchmark::RegisterBenchmark("BM_raw_clone3/none", BM_raw_clone3, kNone, true));
    rss(benchmark::RegisterBenchmark("BM_sandbox/none", BM_sandbox, kNone, true));
    // fork last: each fork copies and frees the page tables (8 MiB of them
    // at 4 GiB), whose aftermath would slow whatever runs next.
    auto* fork = rss(benchmark::RegisterBenchmark("BM_fork_exec", BM_fork_exec));
    if (mib >= 4096) fork->Iterations(20);  // ~80 ms of CPU, ~250 ms of wall time each
  }
  // Parent memory, paired (a helper process holds the memory).
  for (std::int64_t mib : {1024, 4096})
    common(benchmark::RegisterBenchmark("BM_paired_rss", BM_paired_rss))
        ->Arg(mib)
        ->ArgName("rss_mib");
}

}  // namespace

int main(int argc, char** argv) {
  g_true = find_static_true();
  if (g_true.empty() || ::access(g_true.c_str(), X_OK) != 0) {
    std::fprintf(stderr,
                 "ward_bench_spawn: no static `true` at '%s'.\n"
                 "Build the target ward_static_true (it lands next to this benchmark), or\n"
                 "set WARD_STATIC_TRUE to a statically linked program that exits 0.\n",
                 g_true.c_str());
    return 2;
  }
  g_argv[0] = g_true.data();
  g_root = ::geteuid() == 0;
  if (!g_root)
    std::fprintf(stderr,
                 "note: not running as root: the namespace benchmarks (every flagset but "
                 "'none') are skipped.\n");

  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("static_true", g_true);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::string err;
  ensure_resident(0, err);
  return 0;
}
