// SPDX-License-Identifier: Apache-2.0
// Cgroup costs: starting a child inside a cgroup, and making and removing
// one. Every spawn is spawn + wait of the static `true` (bench/static_true.cpp,
// target ward_static_true, found next to this executable or through
// $WARD_STATIC_TRUE), through a ward::Plan built once outside the loop.
//
//   BM_cgroup_spawn/plain              no cgroup (the reference)
//   BM_cgroup_spawn/into_cgroup        Sandbox::cgroup(cg): born in it
//                                      (clone3 CLONE_INTO_CGROUP)
//   BM_cgroup_spawn/then_procs         spawn, then CgroupV2::add(pid) (a write
//                                      of cgroup.procs), then wait. Racy, as
//                                      any move after the fact: counter
//                                      moved_pct says how often the child was
//                                      really moved (see below), add_us the
//                                      median time of the add() call
//   BM_cgroup_gated/into_cgroup        `true gate`, which reads one byte from
//   BM_cgroup_gated/then_procs         stdin before exiting: spawn, [add(pid)],
//                                      write the byte, wait. The child provably
//                                      runs its program inside the cgroup in
//                                      both: this is the honest comparison
//                                      (add_us: the add() call alone)
//   BM_cgroup_paired/gated             both gated variants alternately in one
//                                      loop; counters: medians and their ratio,
//                                      for the whole and for the time until
//                                      the child runs in the cgroup (*_ready)
//   BM_cgroup_paired/into_vs_plain     plain and into_cgroup alternately
//   BM_cgroup_create_destroy/empty     CgroupV2::create + destroy()
//   BM_cgroup_create_destroy/populated create, spawn a gated child into it,
//                                      destroy() (cgroup.kill, wait for
//                                      "populated 0", rmdir), reap
//
// Cgroups are made below the caller's own cgroup in the unified hierarchy
// (CgroupV2::create's default parent): on this project's hybrid hosts,
// /sys/fs/cgroup/unified. That needs root (or a delegated cgroup); otherwise
// every benchmark reports why it was skipped. See bench/README.md.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include <ward/cgroup.hpp>
#include <ward/sandbox.hpp>

#include "bench_util.hpp"

namespace {

using namespace ward_bench;

using clock_type = std::chrono::steady_clock;

std::string g_true;  // path of the static `true`
bool g_root = false;

std::string cgroup_name() {
  static std::atomic<int> n{0};
  return "ward-bench-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

double us_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::micro>(clock_type::now() - t0).count();
}

// The hierarchy path /proc/PID/cgroup shows for `cg`.
std::string proc_view(const ward::CgroupV2& cg) {
  const auto& h = ward::cgroup_host();
  std::string rel = cg.path().substr(h.unified_mount.size());
  if (h.unified_root != "/") rel = h.unified_root + rel;
  return rel.empty() ? "/" : rel;
}

// Whether process `pid` (alive or a zombie: /proc keeps it until it is
// reaped) is, or died, in `cg`.
bool is_in(const ward::CgroupV2& cg, pid_t pid) {
  std::string text, path = "/proc/" + std::to_string(pid) + "/cgroup";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return ward::cgroup_parse::unified_path(text) == proc_view(cg);
}

// Everything one benchmark needs: its cgroup and the plans. Building it
// fails (with the library's message) where cgroups cannot be made.
struct Fixture {
  ward::CgroupV2 cg;
  std::optional<ward::Plan> plain, into, gate, gate_into;

  bool setup(benchmark::State& state) {
    try {
      cg = ward::CgroupV2::create(cgroup_name());
      plain = ward::Sandbox({g_true}).plan();
      into = ward::Sandbox({g_true}).cgroup(cg).plan();
      gate = ward::Sandbox({g_true, "gate"}).stdin_(ward::Stdio::pipe()).plan();
      gate_into = ward::Sandbox({g_true, "gate"}).stdin_(ward::Stdio::pipe()).cgroup(cg).plan();
      return true;
    } catch (const std::exception& e) {
      std::string m = e.what();
      if (!g_root) m = "needs root (creates cgroups): " + m;
      state.SkipWithError(m.c_str());
      return false;
    }
  }
};

bool fail(benchmark::State& state, const std::string& what) {
  state.SkipWithError(what.c_str());
  return false;
}

bool waited_ok(benchmark::State& state, ward::Child& c) {
  auto st = c.wait();
  return st.success() || fail(state, "child " + st.describe());
}

// Lets a gated child go on: one byte, then EOF.
bool release(benchmark::State& state, ward::Child& c) {
  char go = 1;
  bool ok = ::write(c.stdin_pipe().get(), &go, 1) == 1;
  c.stdin_pipe().reset();
  return ok || fail(state, "writing to the gated child's stdin");
}

// ready_us: if given, receives the time until the child was running (held)
// in the cgroup: spawn() returns once it has exec'd.
bool gated_into(benchmark::State& state, Fixture& f, double* ready_us = nullptr) {
  try {
    auto t0 = clock_type::now();
    ward::Child c = f.gate_into->spawn();
    if (ready_us != nullptr) *ready_us = us_since(t0);
    return release(state, c) && waited_ok(state, c);
  } catch (const std::exception& e) {
    return fail(state, e.what());
  }
}

// add_us: if given, receives how long add() (the cgroup.procs write) took;
// ready_us: the time until the child was in the cgroup (spawn() + add()).
bool gated_then_procs(benchmark::State& state, Fixture& f, double* add_us = nullptr,
                      double* ready_us = nullptr) {
  try {
    auto t0 = clock_type::now();
    ward::Child c = f.gate->spawn();
    auto t1 = clock_type::now();
    f.cg.add(c.pid());
    if (add_us != nullptr) *add_us = us_since(t1);
    if (ready_us != nullptr) *ready_us = us_since(t0);
    return release(state, c) && waited_ok(state, c);
  } catch (const std::exception& e) {
    return fail(state, e.what());
  }
}

// ------------------------------------------------------------- benchmarks

void BM_plain(benchmark::State& state) {
  Fixture f;
  if (!f.setup(state)) return;
  for (auto _ : state)
    if (!run_plan(state, *f.plain)) break;
}

void BM_into_cgroup(benchmark::State& state) {
  Fixture f;
  if (!f.setup(state)) return;
  for (auto _ : state)
    if (!run_plan(state, *f.into)) break;
}

// Manual time: the /proc check that tells whether the move took effect is
// made between the two timed parts (before the wait, which reaps the pid).
void BM_then_procs(benchmark::State& state) {
  Fixture f;
  if (!f.setup(state)) return;
  std::int64_t moved = 0;
  std::vector<double> add;
  for (auto _ : state) {
    try {
      auto t0 = clock_type::now();
      ward::Child c = f.plain->spawn();
      auto ta = clock_type::now();
      f.cg.add(c.pid());
      add.push_back(us_since(ta));
      double t = us_since(t0);
      if (is_in(f.cg, c.pid())) ++moved;
      auto t1 = clock_type::now();
      bool ok = waited_ok(state, c);
      t += us_since(t1);
      if (!ok) break;
      state.SetIterationTime(t / 1e6);
    } catch (const std::exception& e) {
      fail(state, e.what());
      break;
    }
  }
  if (state.iterations() > 0)
    state.counters["moved_pct"] =
        100.0 * static_cast<double>(moved) / static_cast<double>(state.iterations());
  state.counters["add_us"] = median(add);
}

void BM_gated_into(benchmark::State& state) {
  Fixture f;
  if (!f.setup(state)) return;
  for (auto _ : state)
    if (!gated_into(state, f)) break;
}

void BM_gated_then_procs(benchmark::State& state) {
  Fixture f;
  if (!f.setup(state)) return;
  // Once, untimed: the held child really is moved before it goes on.
  try {
    ward::Child c = f.gate->spawn();
    f.cg.add(c.pid());
    bool in = is_in(f.cg, c.pid());
    release(state, c);
    c.wait();
    if (!in) {
      fail(state, "the held child was not in the cgroup after add()");
      return;
    }
  } catch (const std::exception& e) {
    fail(state, e.what());
    return;
  }
  std::vector<double> add;
  for (auto _ : state) {
    double t = 0;
    if (!gated_then_procs(state, f, &t)) break;
    add.push_back(t);
  }
  state.counters["add_us"] = median(add);
}

// Besides the whole spawn + wait, the part that differs: the time until the
// child is running in its cgroup (into_ready_us: spawn() with
// CLONE_INTO_CGROUP; procs_ready_us: spawn() + add()), and the median of
// their per-pair ratio (ready_ratio = procs/into). Exec, exit and reaping,
// which dominate the whole and are the same on both sides, are left out.
void BM_paired_gated(benchmark::State& state) {
  Fixture f;
  if (!f.setup(state)) return;
  std::vector<double> into_ready, procs_ready, ready_ratio;
  double a = 0, b = 0;
  // bench_util.hpp's paired_timed: both ways alternately in one loop,
  // counters into_us, procs_us and their per-pair ratio.
  paired_timed(
      state, "into",
      [&] {
        if (!gated_into(state, f, &a)) return false;
        into_ready.push_back(a);
        return true;
      },
      "procs",
      [&] {
        if (!gated_then_procs(state, f, nullptr, &b)) return false;
        procs_ready.push_back(b);
        return true;
      });
  // Pairs in order: the i-th of each list belong together.
  for (std::size_t i = 0; i < std::min(into_ready.size(), procs_ready.size()); ++i)
    ready_ratio.push_back(procs_ready[i] / into_ready[i]);
  state.counters["into_ready_us"] = median(into_ready);
  state.counters["procs_ready_us"] = median(procs_ready);
  state.counters["ready_ratio"] = median(ready_ratio);
}

void BM_paired_into_vs_plain(benchmark::State& state) {
  Fixture f;
  if (!f.setup(state)) return;
  paired_timed(
      state, "plain", [&] { return run_plan(state, *f.plain); }, "into",
      [&] { return run_plan(state, *f.into); });
}

void BM_create_destroy(benchmark::State& state) {
  try {
    ward::CgroupV2::create(cgroup_name()).destroy();
  } catch (const std::exception& e) {
    std::string m = e.what();
    if (!g_root) m = "needs root (creates cgroups): " + m;
    state.SkipWithError(m.c_str());
    return;
  }
  for (auto _ : state) {
    try {
      auto cg = ward::CgroupV2::create(cgroup_name());
      cg.destroy();
    } catch (const std::exception& e) {
      fail(state, e.what());
      break;
    }
  }
}

// The gated child sits in read(2) when destroy() kills it.
void BM_create_destroy_populated(benchmark::State& state) {
  Fixture f;  // only to skip with the reason where cgroups cannot be made
  if (!f.setup(state)) return;
  for (auto _ : state) {
    try {
      auto cg = ward::CgroupV2::create(cgroup_name());
      // The plan names the cgroup, so it is made anew each time (a few us).
      ward::Child c =
          ward::Sandbox({g_true, "gate"}).stdin_(ward::Stdio::pipe()).cgroup(cg).spawn();
      cg.destroy();
      auto st = c.wait();
      if (!st.signaled()) {
        fail(state, "the child was not killed: " + st.describe());
        break;
      }
    } catch (const std::exception& e) {
      fail(state, e.what());
      break;
    }
  }
}

void register_all() {
  common(benchmark::RegisterBenchmark("BM_cgroup_spawn/plain", BM_plain));
  common(benchmark::RegisterBenchmark("BM_cgroup_spawn/into_cgroup", BM_into_cgroup));
  benchmark::RegisterBenchmark("BM_cgroup_spawn/then_procs", BM_then_procs)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  common(benchmark::RegisterBenchmark("BM_cgroup_gated/into_cgroup", BM_gated_into));
  common(benchmark::RegisterBenchmark("BM_cgroup_gated/then_procs", BM_gated_then_procs));
  common(benchmark::RegisterBenchmark("BM_cgroup_paired/gated", BM_paired_gated));
  common(benchmark::RegisterBenchmark("BM_cgroup_paired/into_vs_plain", BM_paired_into_vs_plain));
  common(benchmark::RegisterBenchmark("BM_cgroup_create_destroy/empty", BM_create_destroy));
  common(benchmark::RegisterBenchmark("BM_cgroup_create_destroy/populated",
                                      BM_create_destroy_populated));
}

}  // namespace

int main(int argc, char** argv) {
  g_true = find_static_true("ward_bench_cgroup",
                            " (and, given\nan argument, first reads one byte from stdin)");
  if (g_true.empty()) return 2;
  g_root = ::geteuid() == 0;
  if (!g_root)
    std::fprintf(stderr,
                 "note: not running as root: making cgroups will most likely fail, and every "
                 "benchmark then reports why it was skipped.\n");
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("static_true", g_true);
  try {
    std::string own = ward::own_cgroup();
    benchmark::AddCustomContext("cgroup_parent",
                                ward::cgroup_host().unified_mount + (own == "/" ? "" : own));
    benchmark::AddCustomContext("cgroup_mode", std::string(ward::to_string(ward::cgroup_mode())));
  } catch (const std::exception& e) {
    benchmark::AddCustomContext("cgroup_parent", e.what());
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
