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
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <ward/namespace.hpp>
#include <ward/sandbox.hpp>

#include "bench_util.hpp"

namespace {

using namespace ward_bench;

// ------------------------------------------------------------- the program

std::string g_true;  // path of the static `true`
char* g_argv[2] = {nullptr, nullptr};
char* g_envp[1] = {nullptr};  // empty environment, as ward's default

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

// ------------------------------------------------------------- posix_spawn

void BM_posix_spawn(benchmark::State& state, bool with_rss) {
  if (!setup_rss(state, with_rss ? static_cast<std::size_t>(state.range(0)) : 0)) return;
  Counters c;
  for (auto _ : state)
    if (!posix_spawn_wait(state, g_true.c_str(), g_argv, g_envp)) break;
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

// The floor: bench_util.hpp's RawFloor with this flagset's namespaces.
RawFloor make_floor(const Flagset& fs) {
  return RawFloor(fs.ns.clone_flags(), g_true.c_str(), g_argv, g_envp);
}

void BM_raw_clone3(benchmark::State& state, Flagset fs, bool with_rss) {
  if (skip_unless_root(state, fs)) return;
  if (!setup_rss(state, with_rss ? static_cast<std::size_t>(state.range(0)) : 0)) return;
  RawFloor floor = make_floor(fs);
  Counters c;
  for (auto _ : state)
    if (!floor.spawn(state)) break;
  c.finish(state, with_rss);
}

// ------------------------------------------------------------- ward

ward::Sandbox make_sandbox(const Flagset& fs) {
  ward::Sandbox sb({g_true});
  sb.unshare(fs.ns);
  if (!fs.loopback) sb.loopback(false);
  return sb;
}

void BM_sandbox(benchmark::State& state, Flagset fs, bool with_rss) {
  if (skip_unless_root(state, fs)) return;
  if (!setup_rss(state, with_rss ? static_cast<std::size_t>(state.range(0)) : 0)) return;
  std::optional<ward::Plan> plan;
  if (!build_plan(state, plan, [&] { return make_sandbox(fs).plan(); })) return;
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
    if (!build_plan(state, plan, [&] { return make_sandbox(fs).plan(); })) break;
    plan_ns += static_cast<double>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
            .count());
    if (!run_plan(state, *plan)) break;
  }
  c.finish(state, false);
  if (state.iterations() > 0)
    state.counters["plan_us"] = plan_ns / 1e3 / static_cast<double>(state.iterations());
}

// Sandbox and floor, alternately in the same loop (bench_util.hpp's
// paired_loop): counters floor_us, sandbox_us, and ratio = median of
// sandbox/floor per pair.
void BM_paired(benchmark::State& state, Flagset fs) {
  if (skip_unless_root(state, fs)) return;
  if (!setup_rss(state, 0)) return;
  std::optional<ward::Plan> plan;
  if (!build_plan(state, plan, [&] { return make_sandbox(fs).plan(); })) return;
  RawFloor floor = make_floor(fs);
  paired_timed(
      state, "floor", [&] { return floor.spawn(state); }, "sandbox",
      [&] { return run_plan(state, *plan); });
}

// The cost of one builder option, paired: the plain BM_sandbox/none plan and
// the same plan with the option, alternately. Counters plain_us, option_us
// and ratio = median of option/plain per pair. oom_score_adj needs a
// CLONE_VFORK second stage (detail/spawn.hpp), user() puts the caller's
// dumpable flag back after the spawn (CallerDumpable).
void BM_option(benchmark::State& state, void (*option)(ward::Sandbox&)) {
  if (!g_root) {
    state.SkipWithError("needs root");
    return;
  }
  if (!setup_rss(state, 0)) return;
  std::optional<ward::Plan> plain, with;
  if (!build_plan(state, plain, [&] { return make_sandbox(kNone).plan(); })) return;
  if (!build_plan(state, with, [&] {
        ward::Sandbox sb = make_sandbox(kNone);
        option(sb);
        return sb.plan();
      }))
    return;
  paired_timed(
      state, "plain", [&] { return run_plan(state, *plain); }, "option",
      [&] { return run_plan(state, *with); });
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
  if (!build_plan(state, plan, [] { return make_sandbox(kNone).plan(); })) return;
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
  paired_loop(
      state, "small", [&] { return timed_us([&] { return run_plan(state, *plan); }); }, "big",
      [&] {
        double t = helper->spawn();
        if (t < 0) state.SkipWithError("spawn in the helper failed");
        return t;
      });
}

// ------------------------------------------------------------- registration

void register_all() {
  const Flagset floors[] = {kNone, kUserPidMntUtsIpcCg, kPlusNet};
  const Flagset sandboxes[] = {kNone, kUserPidMntUtsIpcCg, kPlusNet, kPlusNetLo};

  common(benchmark::RegisterBenchmark("BM_posix_spawn", BM_posix_spawn, false));
  common(benchmark::RegisterBenchmark("BM_option/oom_score_adj", BM_option,
                                      [](ward::Sandbox& sb) { sb.oom_score_adj(500); }));
  common(benchmark::RegisterBenchmark("BM_option/user", BM_option,
                                      [](ward::Sandbox& sb) { sb.user(65534, 65534); }));
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
  g_true = find_static_true("ward_bench_spawn");
  if (g_true.empty()) return 2;
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
