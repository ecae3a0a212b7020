// SPDX-License-Identifier: Apache-2.0
// The exec gate Sandbox::plan puts in front of a seccomp filter
// (SeccompOptions::allow_initial_exec, and USER_NOTIF filters): 13 classic
// BPF instructions that send exactly the child's own execve, recognised by
// this plan's argv and envp pointers, to SECCOMP_RET_USER_NOTIF.
#pragma once

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cerrno>
#include <cstdint>
#include <span>
#include <vector>

#include <ward/detail/bpf.hpp>
#include <ward/error.hpp>

namespace ward::detail {

// `prog` with the gate prepended. The exec is syscall `nr` on `arch` with
// argv and envp as arguments `argi` and `argi + 1`.
inline std::vector<sock_filter> exec_gate_program(std::span<const sock_filter> prog,
                                                  std::uint32_t arch, long nr, unsigned argi,
                                                  std::uint64_t argv_ptr, std::uint64_t envp_ptr) {
  auto lo = [](std::uint64_t v) { return static_cast<std::uint32_t>(v); };
  auto hi = [](std::uint64_t v) { return static_cast<std::uint32_t>(v >> 32); };
  constexpr auto ld = BPF_LD | BPF_W | BPF_ABS;
  constexpr auto jeq = BPF_JMP | BPF_JEQ | BPF_K;
  std::vector<sock_filter> g = {
      bpf_stmt(ld, seccomp_data_arch),
      bpf_jump(jeq, arch, 0, 11),
      bpf_stmt(ld, seccomp_data_nr),
      bpf_jump(jeq, static_cast<std::uint32_t>(nr), 0, 9),
      bpf_stmt(ld, seccomp_data_arg_lo(argi)),
      bpf_jump(jeq, lo(argv_ptr), 0, 7),
      bpf_stmt(ld, seccomp_data_arg_hi(argi)),
      bpf_jump(jeq, hi(argv_ptr), 0, 5),
      bpf_stmt(ld, seccomp_data_arg_lo(argi + 1)),
      bpf_jump(jeq, lo(envp_ptr), 0, 3),
      bpf_stmt(ld, seccomp_data_arg_hi(argi + 1)),
      bpf_jump(jeq, hi(envp_ptr), 0, 1),
      bpf_stmt(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
  };
  g.insert(g.end(), prog.begin(), prog.end());
  if (g.size() > BPF_MAXINSNS)
    throw Error(Step::seccomp, E2BIG, "filter",
                "no room for the 13-instruction exec gate under the 4096 limit");
  return g;
}

}  // namespace ward::detail
