// SPDX-License-Identifier: Apache-2.0
// Classic BPF as seccomp uses it: instruction builders, a validator that
// applies the kernel's rules, an interpreter and a disassembler. ward's seccomp
// compiler emits these programs; the interpreter lets tests run them without
// installing them, and the validator catches what the kernel would refuse with
// a bare EINVAL before a sandboxed child gets that far.
#pragma once

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include <ward/error.hpp>

namespace ward::detail {

// The builders of <linux/filter.h> (BPF_STMT, BPF_JUMP), as functions.
constexpr sock_filter bpf_stmt(std::uint16_t code, std::uint32_t k) noexcept {
  return sock_filter{code, 0, 0, k};
}
constexpr sock_filter bpf_jump(std::uint16_t code, std::uint32_t k, std::uint8_t jt,
                               std::uint8_t jf) noexcept {
  return sock_filter{code, jt, jf, k};
}

// Offsets of seccomp_data's fields for 32-bit loads. BPF_LD|BPF_W|BPF_ABS
// reads a host-endian 32-bit word, so the two halves of a 64-bit argument sit
// at offsets that depend on the byte order (seccomp(2), "Caveats").
inline constexpr std::uint32_t seccomp_data_nr = offsetof(seccomp_data, nr);
inline constexpr std::uint32_t seccomp_data_arch = offsetof(seccomp_data, arch);
constexpr std::uint32_t seccomp_data_ip_lo() noexcept {
  return offsetof(seccomp_data, instruction_pointer) +
         (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__ ? 4 : 0);
}
constexpr std::uint32_t seccomp_data_ip_hi() noexcept { return seccomp_data_ip_lo() ^ 4; }
constexpr std::uint32_t seccomp_data_arg_lo(unsigned i) noexcept {
  return static_cast<std::uint32_t>(offsetof(seccomp_data, args) + 8 * i) +
         (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__ ? 4 : 0);
}
constexpr std::uint32_t seccomp_data_arg_hi(unsigned i) noexcept {
  return seccomp_data_arg_lo(i) ^ 4;
}

namespace bpf_impl {

// The instructions seccomp accepts: kernel/seccomp.c seccomp_check_filter()
// lists them explicitly. Everything else classic BPF has (BPF_IND, BPF_MSH,
// byte/halfword loads, BPF_MOD, ancillary loads) is refused with EINVAL.
constexpr bool seccomp_allows(std::uint16_t code) noexcept {
  switch (code) {
    case BPF_LD | BPF_W | BPF_ABS:
    case BPF_LD | BPF_W | BPF_LEN:
    case BPF_LDX | BPF_W | BPF_LEN:
    case BPF_RET | BPF_K:
    case BPF_RET | BPF_A:
    case BPF_ALU | BPF_ADD | BPF_K:
    case BPF_ALU | BPF_ADD | BPF_X:
    case BPF_ALU | BPF_SUB | BPF_K:
    case BPF_ALU | BPF_SUB | BPF_X:
    case BPF_ALU | BPF_MUL | BPF_K:
    case BPF_ALU | BPF_MUL | BPF_X:
    case BPF_ALU | BPF_DIV | BPF_K:
    case BPF_ALU | BPF_DIV | BPF_X:
    case BPF_ALU | BPF_AND | BPF_K:
    case BPF_ALU | BPF_AND | BPF_X:
    case BPF_ALU | BPF_OR | BPF_K:
    case BPF_ALU | BPF_OR | BPF_X:
    case BPF_ALU | BPF_XOR | BPF_K:
    case BPF_ALU | BPF_XOR | BPF_X:
    case BPF_ALU | BPF_LSH | BPF_K:
    case BPF_ALU | BPF_LSH | BPF_X:
    case BPF_ALU | BPF_RSH | BPF_K:
    case BPF_ALU | BPF_RSH | BPF_X:
    case BPF_ALU | BPF_NEG:
    case BPF_LD | BPF_IMM:
    case BPF_LDX | BPF_IMM:
    case BPF_MISC | BPF_TAX:
    case BPF_MISC | BPF_TXA:
    case BPF_LD | BPF_MEM:
    case BPF_LDX | BPF_MEM:
    case BPF_ST:
    case BPF_STX:
    case BPF_JMP | BPF_JA:
    case BPF_JMP | BPF_JEQ | BPF_K:
    case BPF_JMP | BPF_JEQ | BPF_X:
    case BPF_JMP | BPF_JGE | BPF_K:
    case BPF_JMP | BPF_JGE | BPF_X:
    case BPF_JMP | BPF_JGT | BPF_K:
    case BPF_JMP | BPF_JGT | BPF_X:
    case BPF_JMP | BPF_JSET | BPF_K:
    case BPF_JMP | BPF_JSET | BPF_X: return true;
    default: return false;
  }
}

constexpr bool is_cond_jump(std::uint16_t code) noexcept {
  return BPF_CLASS(code) == BPF_JMP && BPF_OP(code) != BPF_JA;
}

[[noreturn]] inline void reject(std::size_t pc, std::string why) {
  throw Error(Step::seccomp, EINVAL, "BPF instruction " + std::to_string(pc), std::move(why));
}

inline std::string hex(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

}  // namespace bpf_impl

// Throws ward::Error (Step::seccomp, EINVAL, object "BPF instruction N") if
// the kernel would refuse `prog` in seccomp(SECCOMP_SET_MODE_FILTER). The
// rules, in the kernel's order: net/core/filter.c bpf_check_basics_ok() and
// bpf_check_classic() (1..BPF_MAXINSNS instructions, division by constant
// zero, shifts by 32 or more, scratch cells 0..15, jumps that stay inside the
// program, a return as the last instruction, no scratch cell read before a
// store on some path: check_load_and_stores()), then kernel/seccomp.c
// seccomp_check_filter() (the opcode subset above; data loads 32-bit, aligned
// and inside struct seccomp_data).
inline void bpf_validate(std::span<const sock_filter> prog) {
  using namespace bpf_impl;
  const std::size_t len = prog.size();
  if (len == 0) {
    throw Error(Step::seccomp, EINVAL, "BPF program", "it is empty");
  }
  if (len > BPF_MAXINSNS) {
    throw Error(Step::seccomp, EINVAL, "BPF program",
                std::to_string(len) + " instructions, more than BPF_MAXINSNS (" +
                    std::to_string(BPF_MAXINSNS) + ")");
  }
  for (std::size_t pc = 0; pc < len; ++pc) {
    const sock_filter& f = prog[pc];
    if (!seccomp_allows(f.code)) {
      reject(pc, "opcode " + hex(f.code) + " is not allowed in a seccomp filter");
    }
    switch (f.code) {
      case BPF_ALU | BPF_DIV | BPF_K:
        if (f.k == 0) reject(pc, "division by constant 0");
        break;
      case BPF_ALU | BPF_LSH | BPF_K:
      case BPF_ALU | BPF_RSH | BPF_K:
        if (f.k >= 32) reject(pc, "shift by " + std::to_string(f.k) + " (max 31)");
        break;
      case BPF_LD | BPF_MEM:
      case BPF_LDX | BPF_MEM:
      case BPF_ST:
      case BPF_STX:
        if (f.k >= BPF_MEMWORDS) {
          reject(pc, "scratch cell " + std::to_string(f.k) + " (there are " +
                         std::to_string(BPF_MEMWORDS) + ")");
        }
        break;
      case BPF_LD | BPF_W | BPF_ABS:
        if (f.k >= sizeof(seccomp_data) || (f.k & 3) != 0) {
          reject(pc, "load from offset " + std::to_string(f.k) +
                         ": not a 4-byte aligned offset inside struct seccomp_data (" +
                         std::to_string(sizeof(seccomp_data)) + " bytes)");
        }
        break;
      case BPF_JMP | BPF_JA:
        // k is 32 bits; compare in 64 so a huge k cannot wrap.
        if (static_cast<std::uint64_t>(f.k) >= len - pc - 1) {
          reject(pc, "ja +" + std::to_string(f.k) + " jumps past the end");
        }
        break;
      default:
        if (is_cond_jump(f.code) && (pc + f.jt + 1 >= len || pc + f.jf + 1 >= len)) {
          reject(pc, "conditional jump (true +" + std::to_string(f.jt) + ", false +" +
                         std::to_string(f.jf) + ") past the end");
        }
        break;
    }
  }
  const std::uint16_t last = prog[len - 1].code;
  if (last != (BPF_RET | BPF_K) && last != (BPF_RET | BPF_A)) {
    reject(len - 1, "the last instruction is not a return");
  }
  // check_load_and_stores(): one bit per scratch cell, "written on every path
  // to here"; a jump target gets the AND over all edges into it.
  std::vector<std::uint16_t> masks(len, 0xffff);
  std::uint16_t valid = 0;
  for (std::size_t pc = 0; pc < len; ++pc) {
    const sock_filter& f = prog[pc];
    valid &= masks[pc];
    if (f.code == BPF_ST || f.code == BPF_STX) {
      valid = static_cast<std::uint16_t>(valid | (1u << f.k));
    } else if (f.code == (BPF_LD | BPF_MEM) || f.code == (BPF_LDX | BPF_MEM)) {
      if ((valid & (1u << f.k)) == 0) {
        reject(pc, "scratch cell " + std::to_string(f.k) + " may be read before it is written");
      }
    } else if (f.code == (BPF_JMP | BPF_JA)) {
      masks[pc + 1 + f.k] &= valid;
      valid = 0xffff;
    } else if (is_cond_jump(f.code)) {
      masks[pc + 1 + f.jt] &= valid;
      masks[pc + 1 + f.jf] &= valid;
      valid = 0xffff;
    }
  }
}

// Runs `prog` on `data` as the kernel would and returns the SECCOMP_RET_*
// value. Validates first (bpf_validate), so it throws what the kernel refuses.
// Semantics follow the kernel's classic-to-eBPF translation
// (net/core/filter.c bpf_convert_filter()): A, X and the scratch cells are
// 32-bit and start at 0; A / X with X == 0 ends the program returning 0
// (SECCOMP_RET_KILL_THREAD); shifts by X use the low 5 bits of X.
//
// bpf_run_validated() is the same without the validation, for callers that
// run one program many times (differential tests): `prog` must have passed
// bpf_validate().
inline std::uint32_t bpf_run_validated(std::span<const sock_filter> prog,
                                       const seccomp_data& data) {
  std::uint32_t a = 0, x = 0;
  std::uint32_t mem[BPF_MEMWORDS] = {};
  unsigned char bytes[sizeof(seccomp_data)];
  std::memcpy(bytes, &data, sizeof bytes);
  for (std::size_t pc = 0; pc < prog.size(); ++pc) {
    const sock_filter& f = prog[pc];
    const std::uint32_t src = BPF_SRC(f.code) == BPF_X ? x : f.k;
    switch (f.code) {
      case BPF_LD | BPF_W | BPF_ABS: std::memcpy(&a, bytes + f.k, sizeof a); break;
      case BPF_LD | BPF_W | BPF_LEN: a = sizeof(seccomp_data); break;
      case BPF_LDX | BPF_W | BPF_LEN: x = sizeof(seccomp_data); break;
      case BPF_LD | BPF_IMM: a = f.k; break;
      case BPF_LDX | BPF_IMM: x = f.k; break;
      case BPF_LD | BPF_MEM: a = mem[f.k]; break;
      case BPF_LDX | BPF_MEM: x = mem[f.k]; break;
      case BPF_ST: mem[f.k] = a; break;
      case BPF_STX: mem[f.k] = x; break;
      case BPF_MISC | BPF_TAX: x = a; break;
      case BPF_MISC | BPF_TXA: a = x; break;
      case BPF_ALU | BPF_ADD | BPF_K:
      case BPF_ALU | BPF_ADD | BPF_X: a += src; break;
      case BPF_ALU | BPF_SUB | BPF_K:
      case BPF_ALU | BPF_SUB | BPF_X: a -= src; break;
      case BPF_ALU | BPF_MUL | BPF_K:
      case BPF_ALU | BPF_MUL | BPF_X: a *= src; break;
      case BPF_ALU | BPF_DIV | BPF_K:
      case BPF_ALU | BPF_DIV | BPF_X:
        if (src == 0) return 0;
        a /= src;
        break;
      case BPF_ALU | BPF_AND | BPF_K:
      case BPF_ALU | BPF_AND | BPF_X: a &= src; break;
      case BPF_ALU | BPF_OR | BPF_K:
      case BPF_ALU | BPF_OR | BPF_X: a |= src; break;
      case BPF_ALU | BPF_XOR | BPF_K:
      case BPF_ALU | BPF_XOR | BPF_X: a ^= src; break;
      case BPF_ALU | BPF_LSH | BPF_K:
      case BPF_ALU | BPF_LSH | BPF_X: a <<= (src & 31); break;
      case BPF_ALU | BPF_RSH | BPF_K:
      case BPF_ALU | BPF_RSH | BPF_X: a >>= (src & 31); break;
      case BPF_ALU | BPF_NEG: a = 0u - a; break;
      case BPF_JMP | BPF_JA: pc += f.k; break;
      case BPF_JMP | BPF_JEQ | BPF_K:
      case BPF_JMP | BPF_JEQ | BPF_X: pc += a == src ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JGT | BPF_K:
      case BPF_JMP | BPF_JGT | BPF_X: pc += a > src ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JGE | BPF_K:
      case BPF_JMP | BPF_JGE | BPF_X: pc += a >= src ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JSET | BPF_K:
      case BPF_JMP | BPF_JSET | BPF_X: pc += (a & src) != 0 ? f.jt : f.jf; break;
      case BPF_RET | BPF_K: return f.k;
      case BPF_RET | BPF_A: return a;
      default: bpf_impl::reject(pc, "opcode " + bpf_impl::hex(f.code) + " (validator bug)");
    }
  }
  // Unreachable: bpf_validate() requires a return as the last instruction and
  // every jump to land inside the program.
  bpf_impl::reject(prog.size(), "fell off the end (validator bug)");
}

inline std::uint32_t bpf_run(std::span<const sock_filter> prog, const seccomp_data& data) {
  bpf_validate(prog);
  return bpf_run_validated(prog, data);
}

// Whether any return of `prog` is SECCOMP_RET_USER_NOTIF: such a filter
// needs a listener, and so the install as the child's last step.
inline bool returns_user_notif(std::span<const sock_filter> prog) noexcept {
  for (const sock_filter& insn : prog)
    if (insn.code == (BPF_RET | BPF_K) &&
        (insn.k & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_USER_NOTIF)
      return true;
  return false;
}

// "ALLOW", "ERRNO(1)", "KILL_PROCESS", ...: a SECCOMP_RET_* value the way
// seccomp(2) names the actions.
inline std::string seccomp_action_string(std::uint32_t ret) {
  const std::uint32_t data = ret & SECCOMP_RET_DATA;
  switch (ret & SECCOMP_RET_ACTION_FULL) {
    case SECCOMP_RET_KILL_PROCESS: return data ? bpf_impl::hex(ret) : "KILL_PROCESS";
    case SECCOMP_RET_KILL_THREAD: return data ? bpf_impl::hex(ret) : "KILL_THREAD";
    case SECCOMP_RET_TRAP: return data ? "TRAP(" + std::to_string(data) + ")" : "TRAP";
    case SECCOMP_RET_ERRNO: return "ERRNO(" + std::to_string(data) + ")";
    case SECCOMP_RET_USER_NOTIF: return data ? bpf_impl::hex(ret) : "NOTIFY";
    case SECCOMP_RET_TRACE: return "TRACE(" + std::to_string(data) + ")";
    case SECCOMP_RET_LOG: return data ? bpf_impl::hex(ret) : "LOG";
    case SECCOMP_RET_ALLOW: return data ? bpf_impl::hex(ret) : "ALLOW";
    default: return bpf_impl::hex(ret);
  }
}

// One line per instruction, after libseccomp's scmp_bpf_disasm:
//    line  OP   JT   JF   K
//   =================================
//    0000: 0x20 0x00 0x00 0x00000004   ld  $data[4]
//    0001: 0x15 0x00 0x03 0xc000003e   jeq 3221225534 true:0002 false:0005
// Jump targets are absolute line numbers; X operands print as "X"; opcodes
// seccomp does not allow print as "???". Does not validate: it is for looking
// at programs, including broken ones.
inline std::string bpf_disasm(std::span<const sock_filter> prog) {
  std::string out = " line  OP   JT   JF   K\n=================================\n";
  char buf[96];
  for (std::size_t pc = 0; pc < prog.size(); ++pc) {
    const sock_filter& f = prog[pc];
    std::snprintf(buf, sizeof buf, " %04zu: 0x%02x 0x%02x 0x%02x 0x%08x   ", pc,
                  static_cast<unsigned>(f.code), static_cast<unsigned>(f.jt),
                  static_cast<unsigned>(f.jf), static_cast<unsigned>(f.k));
    std::string line = buf;
    const bool x = BPF_SRC(f.code) == BPF_X;
    const std::string k = std::to_string(f.k);
    auto op = [&](const char* name, const std::string& arg) {
      std::snprintf(buf, sizeof buf, "%-3s %s", name, arg.c_str());
      line += buf;
    };
    auto alu = [&](const char* name) {
      const bool mask = BPF_OP(f.code) == BPF_AND || BPF_OP(f.code) == BPF_OR;
      if (x) {
        op(name, "X");
      } else if (mask) {
        std::snprintf(buf, sizeof buf, "0x%08x", static_cast<unsigned>(f.k));
        op(name, buf);
      } else {
        op(name, k);
      }
    };
    auto jmp = [&](const char* name) {
      std::snprintf(buf, sizeof buf, "%-4s true:%04zu false:%04zu", x ? "X" : k.c_str(),
                    pc + 1 + f.jt, pc + 1 + f.jf);
      op(name, buf);
    };
    switch (bpf_impl::seccomp_allows(f.code) ? f.code : 0xffff) {
      case BPF_LD | BPF_W | BPF_ABS: op("ld", "$data[" + k + "]"); break;
      case BPF_LD | BPF_W | BPF_LEN: op("ld", "len($data)"); break;
      case BPF_LDX | BPF_W | BPF_LEN: op("ldx", "len($data)"); break;
      case BPF_LD | BPF_IMM: op("ld", k); break;
      case BPF_LDX | BPF_IMM: op("ldx", k); break;
      case BPF_LD | BPF_MEM: op("ld", "$temp[" + k + "]"); break;
      case BPF_LDX | BPF_MEM: op("ldx", "$temp[" + k + "]"); break;
      case BPF_ST: op("st", "$temp[" + k + "]"); break;
      case BPF_STX: op("stx", "$temp[" + k + "]"); break;
      case BPF_MISC | BPF_TAX: line += "tax"; break;
      case BPF_MISC | BPF_TXA: line += "txa"; break;
      case BPF_ALU | BPF_ADD | BPF_K:
      case BPF_ALU | BPF_ADD | BPF_X: alu("add"); break;
      case BPF_ALU | BPF_SUB | BPF_K:
      case BPF_ALU | BPF_SUB | BPF_X: alu("sub"); break;
      case BPF_ALU | BPF_MUL | BPF_K:
      case BPF_ALU | BPF_MUL | BPF_X: alu("mul"); break;
      case BPF_ALU | BPF_DIV | BPF_K:
      case BPF_ALU | BPF_DIV | BPF_X: alu("div"); break;
      case BPF_ALU | BPF_AND | BPF_K:
      case BPF_ALU | BPF_AND | BPF_X: alu("and"); break;
      case BPF_ALU | BPF_OR | BPF_K:
      case BPF_ALU | BPF_OR | BPF_X: alu("or"); break;
      case BPF_ALU | BPF_XOR | BPF_K:
      case BPF_ALU | BPF_XOR | BPF_X: alu("xor"); break;
      case BPF_ALU | BPF_LSH | BPF_K:
      case BPF_ALU | BPF_LSH | BPF_X: alu("lsh"); break;
      case BPF_ALU | BPF_RSH | BPF_K:
      case BPF_ALU | BPF_RSH | BPF_X: alu("rsh"); break;
      case BPF_ALU | BPF_NEG: line += "neg"; break;
      case BPF_JMP | BPF_JA:
        std::snprintf(buf, sizeof buf, "%04llu", static_cast<unsigned long long>(pc) + 1 + f.k);
        op("jmp", buf);
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
      case BPF_JMP | BPF_JEQ | BPF_X: jmp("jeq"); break;
      case BPF_JMP | BPF_JGT | BPF_K:
      case BPF_JMP | BPF_JGT | BPF_X: jmp("jgt"); break;
      case BPF_JMP | BPF_JGE | BPF_K:
      case BPF_JMP | BPF_JGE | BPF_X: jmp("jge"); break;
      case BPF_JMP | BPF_JSET | BPF_K:
      case BPF_JMP | BPF_JSET | BPF_X: jmp("jset"); break;
      case BPF_RET | BPF_K: op("ret", seccomp_action_string(f.k)); break;
      case BPF_RET | BPF_A: op("ret", "$acc"); break;
      default: line += "???"; break;
    }
    out += line;
    out += '\n';
  }
  return out;
}

}  // namespace ward::detail
