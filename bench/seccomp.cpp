// SPDX-License-Identifier: Apache-2.0
// Docker's default seccomp profile on amd64 (x86_64 + x86 + x32), compiled
// by ward and by libseccomp (optimize=2, the binary tree runc asks for):
//   - program size;
//   - BPF instructions executed per allowed x86_64 system call, counted by an
//     instrumented copy of the interpreter: the mean over the profile's
//     allowed calls (uniform) and over a server mix (kMix below);
//   - how many x86_64 calls the kernel's action cache can serve (a path to
//     ALLOW that loads only nr/arch: kernel/seccomp.c seccomp_cache_prepare);
//   - ns per getppid() in a forked child with the filter installed (and with
//     none), median of several runs of 1e6 calls.
// Then Google Benchmark timings of compile() itself.
//   build/bin/ward_bench_seccomp [--benchmark_filter=...]
#include <linux/audit.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <ward/detail/bpf.hpp>
#include <ward/seccomp.hpp>

#include <benchmark/benchmark.h>

#include "../tests/common/seccomp_oracle.hpp"

namespace {

using Prog = std::vector<sock_filter>;

unsigned executed(const Prog& p, const seccomp_data& d) {
  unsigned n = 0;
  std::uint32_t a = 0;
  unsigned char bytes[sizeof d];
  std::memcpy(bytes, &d, sizeof d);
  for (std::size_t pc = 0; pc < p.size(); ++pc) {
    ++n;
    const sock_filter& f = p[pc];
    const std::uint32_t src = f.k;
    switch (f.code) {
      case BPF_LD | BPF_W | BPF_ABS: std::memcpy(&a, bytes + f.k, 4); break;
      case BPF_ALU | BPF_AND | BPF_K: a &= src; break;
      case BPF_JMP | BPF_JA: pc += f.k; break;
      case BPF_JMP | BPF_JEQ | BPF_K: pc += a == src ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JGT | BPF_K: pc += a > src ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JGE | BPF_K: pc += a >= src ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JSET | BPF_K: pc += (a & src) ? f.jt : f.jf; break;
      case BPF_RET | BPF_K: return n;
      default: std::fprintf(stderr, "opcode %#x not counted\n", f.code); std::abort();
    }
  }
  std::abort();
}

// A server's system call mix (ours, stated rather than measured: the shape of
// `strace -c` on an event-loop network server such as nginx or redis under
// load). Weights in percent; clock_gettime/gettimeofday go through the vDSO
// and are left out.
struct MixEntry {
  const char* name;
  double weight;
};
constexpr MixEntry kMix[] = {
    {"read", 14},       {"write", 10},         {"epoll_wait", 12},   {"futex", 9},
    {"recvfrom", 7},    {"sendto", 7},         {"epoll_ctl", 5},     {"close", 4},
    {"openat", 3},      {"newfstatat", 2},     {"fstat", 2},         {"mmap", 3},
    {"munmap", 2},      {"mprotect", 2},       {"writev", 3},        {"readv", 1},
    {"accept4", 2},     {"rt_sigprocmask", 2}, {"getpid", 1},        {"lseek", 1},
    {"brk", 1},         {"ioctl", 1},          {"poll", 1},          {"nanosleep", 1},
    {"getrandom", 0.5}, {"madvise", 1},        {"sched_yield", 0.5}, {"pread64", 1},
    {"pwrite64", 1},    {"clock_nanosleep", 1}};

struct Figures {
  std::size_t size = 0;
  double mean_uniform = 0, mean_mix = 0;
  int cacheable = 0, allowed = 0;
};

Figures measure(const Prog& p) {
  Figures f;
  f.size = p.size();
  const auto allowed = ward_test::docker_allowed(ward::Arch::x86_64);
  double total = 0;
  for (const auto& [name, nr] : allowed) {
    seccomp_data d{};
    d.arch = AUDIT_ARCH_X86_64;
    d.nr = static_cast<int>(nr);
    total += executed(p, d);
    ++f.allowed;
    const auto c = ward_test::constant_path(p, AUDIT_ARCH_X86_64, nr);
    if (c && *c == SECCOMP_RET_ALLOW) ++f.cacheable;
  }
  f.mean_uniform = total / f.allowed;
  double wsum = 0, wtot = 0;
  for (const MixEntry& m : kMix) {
    seccomp_data d{};
    d.arch = AUDIT_ARCH_X86_64;
    d.nr = static_cast<int>(*ward::detail::syscall_nr(ward::Arch::x86_64, m.name));
    wtot += m.weight * executed(p, d);
    wsum += m.weight;
  }
  f.mean_mix = wtot / wsum;
  return f;
}

// ns per getppid() in a child that installed `p` (none if empty): median of
// 7 runs of 1e6 calls, reported back over a pipe.
double getppid_ns(const Prog& p) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    if (!p.empty()) {
      sock_fprog fp{static_cast<unsigned short>(p.size()), const_cast<sock_filter*>(p.data())};
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
          syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp) != 0) {
        _exit(1);
      }
    }
    std::vector<double> runs;
    for (int r = 0; r < 7; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < 1000000; ++i) syscall(SYS_getppid);
      const auto t1 = std::chrono::steady_clock::now();
      runs.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / 1e6);
    }
    std::sort(runs.begin(), runs.end());
    const double med = runs[runs.size() / 2];
    (void)!write(fds[1], &med, sizeof med);
    _exit(0);
  }
  close(fds[1]);
  double med = -1;
  if (read(fds[0], &med, sizeof med) != sizeof med) med = -1;
  close(fds[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  return med;
}

void print_table() {
  const Prog ward_prog = ward_test::docker_filter().compile();
  std::optional<Prog> lib;
#ifdef WARD_HAVE_LIBSECCOMP
  lib = ward_test::libseccomp_program(ward_test::docker_filter(), 2);
#endif
  std::printf(
      "Docker default seccomp profile, amd64 (x86_64 + x86 + x32), %zu allowed x86_64 calls\n",
      ward_test::docker_allowed(ward::Arch::x86_64).size());
  std::printf("%-26s %8s %12s %12s %10s %14s\n", "compiler", "insns", "exec/uniform", "exec/mix",
              "cacheable", "ns/getppid");
  const double none = getppid_ns({});
  std::printf("%-26s %8s %12s %12s %10s %14.1f\n", "no filter", "-", "-", "-", "-", none);
  auto row = [](const char* name, const Prog& p) {
    const Figures f = measure(p);
    std::printf("%-26s %8zu %12.2f %12.2f %6d/%-3d %14.1f\n", name, f.size, f.mean_uniform,
                f.mean_mix, f.cacheable, f.allowed, getppid_ns(p));
  };
  row("ward", ward_prog);
  if (lib) {
    row("libseccomp 2.5.4 (opt=2)", *lib);
  } else {
    std::printf("libseccomp: not built with it (WARD_HAVE_LIBSECCOMP)\n");
  }
  std::fflush(stdout);
}

void BM_compile_docker(benchmark::State& state) {
  const ward::SeccompFilter f = ward_test::docker_filter();
  for (auto _ : state) benchmark::DoNotOptimize(f.compile());
}
BENCHMARK(BM_compile_docker)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  print_table();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
