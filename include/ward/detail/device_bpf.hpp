// SPDX-License-Identifier: Apache-2.0
// The compiler of CgroupV2::device_rules: OCI device rules (ward::DeviceRule,
// <ward/cgroup.hpp>) to a BPF_PROG_TYPE_CGROUP_DEVICE eBPF program. Tested
// by tests/unit/cgroup_model_test.cpp ("device program: ...") with the
// interpreter in tests/common/devbpf_interp.hpp.
#pragma once

#include <linux/bpf.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <ward/error.hpp>

namespace ward::detail {

namespace devbpf {

// eBPF encodings (Documentation/bpf/standardization/instruction-set.rst).
constexpr bpf_insn insn(std::uint8_t code, std::uint8_t dst, std::uint8_t src, std::int16_t off,
                        std::int32_t imm) noexcept {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}
// dst = *(u32 *)(src + off)
constexpr bpf_insn ldx_w(std::uint8_t dst, std::uint8_t src, std::int16_t off) noexcept {
  return insn(BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0);
}
constexpr bpf_insn mov32_reg(std::uint8_t dst, std::uint8_t src) noexcept {
  return insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0);
}
constexpr bpf_insn and32_imm(std::uint8_t dst, std::int32_t imm) noexcept {
  return insn(BPF_ALU | BPF_AND | BPF_K, dst, 0, 0, imm);
}
constexpr bpf_insn rsh32_imm(std::uint8_t dst, std::int32_t imm) noexcept {
  return insn(BPF_ALU | BPF_RSH | BPF_K, dst, 0, 0, imm);
}
constexpr bpf_insn mov64_imm(std::uint8_t dst, std::int32_t imm) noexcept {
  return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm);
}
constexpr bpf_insn jne_imm(std::uint8_t dst, std::int32_t imm, std::int16_t off) noexcept {
  return insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm);
}
constexpr bpf_insn jne_reg(std::uint8_t dst, std::uint8_t src, std::int16_t off) noexcept {
  return insn(BPF_JMP | BPF_JNE | BPF_X, dst, src, off, 0);
}
constexpr bpf_insn jeq_imm(std::uint8_t dst, std::int32_t imm, std::int16_t off) noexcept {
  return insn(BPF_JMP | BPF_JEQ | BPF_K, dst, 0, off, imm);
}
constexpr bpf_insn exit_insn() noexcept { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

inline std::uint32_t access_mask(const std::string& access, std::size_t index) {
  if (access.empty()) return BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;
  std::uint32_t m = 0;
  for (char ch : access) {
    if (ch == 'r')
      m |= BPF_DEVCG_ACC_READ;
    else if (ch == 'w')
      m |= BPF_DEVCG_ACC_WRITE;
    else if (ch == 'm')
      m |= BPF_DEVCG_ACC_MKNOD;
    else
      detail::throw_invalid("devices[" + std::to_string(index) + "].access",
                            "'" + access + "' may only contain r, w and m");
  }
  return m;
}

}  // namespace devbpf

// The BPF_PROG_TYPE_CGROUP_DEVICE program for `rules`.
//
// Semantics (those of runc and crun on cgroup v2): rules are OCI's
// linux.resources.devices in order; the LAST rule that matches an access
// decides it; an access no rule matches is denied. A rule matches when its
// type is 'a' or the device's, its major and minor are -1 or the device's,
// and its access covers the request: an allow rule must grant every bit
// asked for (an open for "rw" needs both r and w), a deny rule matches when
// it denies any of them (so {allow a rwm, deny c 1:3 w} refuses an O_RDWR
// open of 1:3). That is how the v1 device controller decides
// (security/device_cgroup.c: match_exception for allow entries,
// match_exception_partial for deny entries); runc's generated program tests
// deny rules for the full set only, which would let that O_RDWR open through.
// runc also folds the list through its v1 emulator first, where an 'a'
// wildcard rule resets the list; that gives the same decisions as
// last-match-wins for the lists runtimes produce.
//
// The context is struct bpf_cgroup_dev_ctx {u32 access_type; u32 major;
// u32 minor}, access_type = (BPF_DEVCG_ACC_* << 16) | BPF_DEVCG_DEV_*
// (include/uapi/linux/bpf.h); the program returns 1 to allow, 0 to deny.
// Layout: load type into r2, access into r3, major into r4, minor into r5;
// then one block per rule, last rule first, each ending in "r0 = verdict;
// exit" with its failed tests jumping to the next block; then "r0 = 0; exit".
// A rule that matches everything ends the program (the verifier refuses
// unreachable instructions, so nothing may follow it).
// A template over the rule type only so this header needs no <ward/cgroup.hpp>:
// `rules` is a std::span or std::vector of ward::DeviceRule.
template <class Rules>
std::vector<bpf_insn> device_filter_program(const Rules& rules) {
  using namespace detail::devbpf;
  constexpr std::uint8_t r0 = 0, r1 = 1, r2 = 2, r3 = 3, r4 = 4, r5 = 5;
  std::vector<bpf_insn> p = {
      ldx_w(r2, r1, 0), and32_imm(r2, 0xffff),  // r2 = type
      ldx_w(r3, r1, 0), rsh32_imm(r3, 16),      // r3 = access
      ldx_w(r4, r1, 4),                         // r4 = major
      ldx_w(r5, r1, 8),                         // r5 = minor
  };
  for (std::size_t k = rules.size(); k-- > 0;) {
    const auto& r = rules[k];
    const std::string field = "devices[" + std::to_string(k) + "]";
    if (r.type != 'a' && r.type != 'b' && r.type != 'c')
      detail::throw_invalid(field + ".type", std::string("'") + r.type + "' is not a, b or c");
    // Linux's dev_t: 12 bits of major, 20 of minor (include/linux/kdev_t.h).
    if (r.major < -1 || r.major > 0xfff)
      detail::throw_invalid(field + ".major", std::to_string(r.major) + " is outside -1..4095");
    if (r.minor < -1 || r.minor > 0xfffff)
      detail::throw_invalid(field + ".minor", std::to_string(r.minor) + " is outside -1..1048575");
    const std::uint32_t acc = access_mask(r.access, k);
    std::vector<bpf_insn> b;
    // Tests with a placeholder offset (patched below to jump past the block).
    if (r.type != 'a')
      b.push_back(jne_imm(r2, r.type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, 0));
    if (acc != (BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE)) {
      b.push_back(mov32_reg(r1, r3));
      b.push_back(and32_imm(r1, static_cast<std::int32_t>(acc)));
      if (r.allow)
        b.push_back(jne_reg(r1, r3, 0));  // some asked-for bit not granted
      else
        b.push_back(jeq_imm(r1, 0, 0));  // no asked-for bit denied
    }
    if (r.major >= 0) b.push_back(jne_imm(r4, static_cast<std::int32_t>(r.major), 0));
    if (r.minor >= 0) b.push_back(jne_imm(r5, static_cast<std::int32_t>(r.minor), 0));
    const bool matches_all = b.empty();
    b.push_back(mov64_imm(r0, r.allow ? 1 : 0));
    b.push_back(exit_insn());
    for (std::size_t i = 0; i < b.size(); ++i)
      if (b[i].code == (BPF_JMP | BPF_JNE | BPF_K) || b[i].code == (BPF_JMP | BPF_JNE | BPF_X) ||
          b[i].code == (BPF_JMP | BPF_JEQ | BPF_K))
        b[i].off = static_cast<std::int16_t>(b.size() - (i + 1));
    p.insert(p.end(), b.begin(), b.end());
    if (matches_all) return p;  // earlier rules can never decide
  }
  p.push_back(mov64_imm(r0, 0));  // default deny
  p.push_back(exit_insn());
  return p;
}

}  // namespace ward::detail
