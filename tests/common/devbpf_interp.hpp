// SPDX-License-Identifier: Apache-2.0
// A tiny eBPF interpreter for exactly the instructions that
// ward::detail::device_filter_program() emits, so tests can check a device program's
// decisions without loading it. Anything else throws: a new instruction in the
// generator must be taught here on purpose.
#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

namespace ward_test {

struct DevAccess {
  char type;  // 'b' or 'c'
  std::uint32_t major, minor;
  std::string access;  // any of "rwm", e.g. "rw" for open(O_RDWR)
};

// struct bpf_cgroup_dev_ctx for `a`.
inline bpf_cgroup_dev_ctx dev_ctx(const DevAccess& a) {
  std::uint32_t acc = 0;
  for (char ch : a.access)
    acc |= ch == 'r' ? BPF_DEVCG_ACC_READ : ch == 'w' ? BPF_DEVCG_ACC_WRITE : BPF_DEVCG_ACC_MKNOD;
  std::uint32_t type = a.type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR;
  return bpf_cgroup_dev_ctx{(acc << 16) | type, a.major, a.minor};
}

// Runs `prog` on `ctx`; returns r0 at exit (1 allow, 0 deny).
inline std::uint64_t run_dev_program(std::span<const bpf_insn> prog,
                                     const bpf_cgroup_dev_ctx& ctx) {
  std::uint64_t r[11] = {};
  bool r1_is_ctx = true;  // r1 holds the context pointer until written
  std::size_t pc = 0;
  for (int steps = 0; steps < 100000; ++steps) {
    if (pc >= prog.size()) throw std::runtime_error("fell off the end at " + std::to_string(pc));
    const bpf_insn& i = prog[pc];
    const auto dst = i.dst_reg, src = i.src_reg;
    if (dst > 10 || src > 10) throw std::runtime_error("bad register");
    auto jump = [&](bool take) { pc += 1 + (take ? static_cast<std::ptrdiff_t>(i.off) : 0); };
    switch (i.code) {
      case BPF_LDX | BPF_W | BPF_MEM: {
        if (src != 1 || !r1_is_ctx) throw std::runtime_error("load not from the context");
        if (i.off == 0)
          r[dst] = ctx.access_type;
        else if (i.off == 4)
          r[dst] = ctx.major;
        else if (i.off == 8)
          r[dst] = ctx.minor;
        else
          throw std::runtime_error("context offset " + std::to_string(i.off));
        if (dst == 1) r1_is_ctx = false;
        ++pc;
        break;
      }
      case BPF_ALU | BPF_MOV | BPF_X:
        r[dst] = static_cast<std::uint32_t>(r[src]);
        if (dst == 1) r1_is_ctx = false;
        ++pc;
        break;
      case BPF_ALU | BPF_AND | BPF_K:
        r[dst] = static_cast<std::uint32_t>(r[dst]) & static_cast<std::uint32_t>(i.imm);
        ++pc;
        break;
      case BPF_ALU | BPF_RSH | BPF_K:
        r[dst] = static_cast<std::uint32_t>(r[dst]) >> (i.imm & 31);
        ++pc;
        break;
      case BPF_ALU64 | BPF_MOV | BPF_K:
        r[dst] = static_cast<std::uint64_t>(static_cast<std::int64_t>(i.imm));
        ++pc;
        break;
      case BPF_JMP | BPF_JNE | BPF_K:
        jump(r[dst] != static_cast<std::uint64_t>(static_cast<std::int64_t>(i.imm)));
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
        jump(r[dst] == static_cast<std::uint64_t>(static_cast<std::int64_t>(i.imm)));
        break;
      case BPF_JMP | BPF_JNE | BPF_X: jump(r[dst] != r[src]); break;
      case BPF_JMP | BPF_EXIT: return r[0];
      default:
        throw std::runtime_error("instruction code " + std::to_string(i.code) + " at " +
                                 std::to_string(pc) + " is not one the generator emits");
    }
  }
  throw std::runtime_error("no exit within 100000 steps");
}

inline bool dev_allowed(std::span<const bpf_insn> prog, const DevAccess& a) {
  return run_dev_program(prog, dev_ctx(a)) == 1;
}

}  // namespace ward_test
