// SPDX-License-Identifier: Apache-2.0
// What the spawn benchmarks share (bench/spawn.cpp, bench/rootfs.cpp,
// bench/cgroup.cpp): the static `true` they run, counters, ward plans built
// and run with errors reported to Google Benchmark, the paired loop that
// alternates two spawners, and the hand-written clone3 floor's parent side.
#pragma once

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
#include <optional>
#include <string>
#include <vector>

#include <ward/detail/child/clone.hpp>
#include <ward/detail/child/syscall.hpp>
#include <ward/sandbox.hpp>

#include <benchmark/benchmark.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace ward_bench {

namespace sys = ward::detail::sys;

// ------------------------------------------------------------- the program

// The static `true` (bench/static_true.cpp, target ward_static_true): from
// $WARD_STATIC_TRUE, else next to this executable. Empty, after telling the
// user on stderr, if there is none; `needs` is what else the program must
// do, for that message.
inline std::string find_static_true(const char* program, const char* needs = "") {
  std::string path;
  if (const char* e = std::getenv("WARD_STATIC_TRUE"); e != nullptr && *e != '\0') {
    path = e;
  } else {
    char buf[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0) {
      std::string self(buf, static_cast<std::size_t>(n));
      auto slash = self.rfind('/');
      path = (slash == std::string::npos ? std::string(".") : self.substr(0, slash)) +
             "/ward_static_true";
    }
  }
  if (path.empty() || ::access(path.c_str(), X_OK) != 0) {
    std::fprintf(stderr,
                 "%s: no static `true` at '%s'.\n"
                 "Build the target ward_static_true (it lands next to this benchmark), or\n"
                 "set WARD_STATIC_TRUE to a statically linked program that exits 0%s.\n",
                 program, path.c_str(), needs);
    return {};
  }
  return path;
}

// ------------------------------------------------------------- counters

inline double children_cpu_us() {
  struct rusage ru {};
  ::getrusage(RUSAGE_CHILDREN, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

inline double parent_rss_mib() {
  long size = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) /
         (1024.0 * 1024.0);
}

// Counters every benchmark reports: spawns per (wall-clock) second, the
// children's CPU time per spawn (what the child spends in its setup, exec
// and exit; namespace teardown in kernel workers is in neither column), and
// with an RSS argument the parent's resident size.
struct Counters {
  double child_cpu0 = children_cpu_us();
  void finish(benchmark::State& state, bool with_rss = false) {
    auto it = static_cast<double>(state.iterations());
    state.counters["spawns_per_s"] = benchmark::Counter(it, benchmark::Counter::kIsRate);
    if (it > 0) state.counters["child_cpu_us"] = (children_cpu_us() - child_cpu0) / it;
    if (with_rss) state.counters["parent_rss_mib"] = parent_rss_mib();
  }
};

inline bool check_status(benchmark::State& state, int wstatus) {
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) return true;
  std::string m = "child failed, wait status " + std::to_string(wstatus);
  state.SkipWithError(m.c_str());
  return false;
}

inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Wall-clock microseconds that `fn()` took, or -1 if it returned false.
template <class Fn>
double timed_us(Fn&& fn) {
  auto t0 = std::chrono::steady_clock::now();
  bool ok = fn();
  auto d = std::chrono::steady_clock::now() - t0;
  return ok ? std::chrono::duration<double, std::micro>(d).count() : -1;
}

// ------------------------------------------------------------- ward plans

// Builds a plan before the timed loop: false, after SkipWithError, if
// `make()` throws.
template <class Make>
bool build_plan(benchmark::State& state, std::optional<ward::Plan>& plan, Make&& make) {
  try {
    plan = make();
    return true;
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return false;
  }
}

// plan.spawn().wait(): false, after SkipWithError, unless the child ran and
// exited 0.
inline bool run_plan(benchmark::State& state, const ward::Plan& plan) {
  try {
    auto st = plan.spawn().wait();
    if (st.success()) return true;
    state.SkipWithError(("child " + st.describe()).c_str());
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
  return false;
}

// ------------------------------------------------------------- paired

// Two spawners, alternately in the same loop (which one goes first
// alternates too), each timed on its own: `a()` and `b()` return their
// spawn's wall-clock µs, or < 0 after they called SkipWithError. The time
// reported is per pair; the counters are medians over this run's pairs:
// <a_name>_us, <b_name>_us, and ratio = median of b/a per pair. Background
// load that drifts during a run hits both sides equally, so this ratio is
// far steadier on a shared machine than the ratio of two separate
// benchmarks.
template <class A, class B>
void paired_loop(benchmark::State& state, const char* a_name, A&& a, const char* b_name, B&& b) {
  std::vector<double> ta, tb, ratio;
  bool b_first = false;
  for (auto _ : state) {
    double t_a = 0, t_b = 0;
    if (b_first) {
      if ((t_b = b()) < 0 || (t_a = a()) < 0) break;
    } else {
      if ((t_a = a()) < 0 || (t_b = b()) < 0) break;
    }
    b_first = !b_first;
    ta.push_back(t_a);
    tb.push_back(t_b);
    ratio.push_back(t_b / t_a);
  }
  state.counters[std::string(a_name) + "_us"] = median(ta);
  state.counters[std::string(b_name) + "_us"] = median(tb);
  state.counters["ratio"] = median(ratio);
}

// paired_loop for two functions that do one spawn + wait each and return
// false after SkipWithError on failure: each call is timed here.
template <class A, class B>
void paired_timed(benchmark::State& state, const char* a_name, A&& a, const char* b_name, B&& b) {
  paired_loop(
      state, a_name, [&] { return timed_us(a); }, b_name, [&] { return timed_us(b); });
}

// glibc posix_spawn (clone(CLONE_VM|CLONE_VFORK) + execve) + waitpid: false,
// after SkipWithError, unless the child exited 0.
inline bool posix_spawn_wait(benchmark::State& state, const char* path, char* const* argv,
                             char* const* envp) {
  pid_t pid;
  int rc = ::posix_spawn(&pid, path, nullptr, nullptr, argv, envp);
  if (rc != 0) {
    state.SkipWithError(("posix_spawn: " + std::string(std::strerror(rc))).c_str());
    return false;
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  return check_status(state, st);
}

// ------------------------------------------------------------- raw clone3 floor

// One private stack for the floors, mapped once (a 4 KiB guard below it):
// a floor pays no per-spawn mmap. Benchmarks run on one thread.
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

inline RawStack& raw_stack() {
  static RawStack s;
  return s;
}

inline bool write_map(pid_t pid, const char* file, const char* text, std::size_t len,
                      std::string& err) {
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

// The floor child's context: read-only for the child (it shares our
// memory). `extra` is for a child function that does more than exec.
struct RawCtx {
  const char* path;
  char* const* argv;
  char* const* envp;
  int sync_rd;  // -1: no user namespace, go at once
  const void* extra;
};

// In the child: with a user namespace, block until the parent has written
// the id maps (one byte on the sync pipe); false if the parent gave up.
WARD_CHILD_FN inline bool raw_child_sync(const RawCtx* c) noexcept {
  if (c->sync_rd < 0) return true;
  char b;
  return sys::read_full(c->sync_rd, &b, 1) == 1;
}

// The plain floor child: exec at once (after the id maps).
WARD_CHILD_FN inline int raw_child_exec(void* arg) noexcept {
  const auto* c = static_cast<const RawCtx*>(arg);
  if (!raw_child_sync(c)) sys::exit_group(126);
  sys::call(SYS_execve, c->path, c->argv, c->envp);
  sys::exit_group(127);
}

// The floor's parent side, set up once per benchmark:
// clone3(CLONE_VM | CLONE_PIDFD | CLONE_CLEAR_SIGHAND | <nsflags>) of
// `child` on raw_stack(); with CLONE_NEWUSER, the parent writes uid_map and
// gid_map ("0 <uid> 1", "0 <gid> 1"; setgroups is left alone since we are
// root) right after clone3 and then releases the child through a pipe; then
// waitid(P_PIDFD).
class RawFloor {
 public:
  RawFloor(std::uint64_t nsflags, const char* path, char* const* argv, char* const* envp,
           ward::detail::ChildFn child = &raw_child_exec, const void* extra = nullptr)
      : nsflags_(nsflags), path_(path), argv_(argv), envp_(envp), child_(child), extra_(extra) {
    user_ = (nsflags_ & CLONE_NEWUSER) != 0;
    uid_len_ = std::snprintf(uid_map_, sizeof uid_map_, "0 %u 1\n", ::geteuid());
    gid_len_ = std::snprintf(gid_map_, sizeof gid_map_, "0 %u 1\n", ::getegid());
  }

  // One spawn + wait: false after SkipWithError on failure.
  bool spawn(benchmark::State& state) {
    std::string err;
    if (spawn(err)) return true;
    state.SkipWithError(err.c_str());
    return false;
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
    RawCtx ctx{path_, argv_, envp_, sync[0], extra_};
    int pidfd = -1;
    ward::detail::CloneArgs a{};
    a.flags = CLONE_VM | CLONE_PIDFD | ward::detail::kCloneClearSighand | nsflags_;
    a.pidfd = reinterpret_cast<std::uint64_t>(&pidfd);
    a.exit_signal = SIGCHLD;
    a.stack = reinterpret_cast<std::uint64_t>(stack.base);
    a.stack_size = RawStack::kSize;
    long pid = ward::detail::clone3_run(&a, child_, &ctx);
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
  const char* path_;
  char* const* argv_;
  char* const* envp_;
  ward::detail::ChildFn child_;
  const void* extra_;
  bool user_;
  char uid_map_[32], gid_map_[32];
  int uid_len_, gid_len_;
};

// ------------------------------------------------------------- registration

inline benchmark::internal::Benchmark* common(benchmark::internal::Benchmark* b) {
  return b->UseRealTime()->Unit(benchmark::kMicrosecond);
}

}  // namespace ward_bench
