// SPDX-License-Identifier: Apache-2.0
// Test support for ward's seccomp compiler (also used by bench/seccomp.cpp):
//   - Oracle: decides a seccomp_data straight from the rules, written from the
//     semantics documented in <ward/seccomp.hpp>, no BPF involved;
//   - constant_path(): the kernel's action-cache emulation (kernel/seccomp.c
//     seccomp_is_const_allow()), to check which calls the cache can serve;
//   - docker_filter(): Docker's default profile as runc builds it on amd64;
//   - libseccomp_program(): the same rules compiled by libseccomp (when the
//     build found it: WARD_HAVE_LIBSECCOMP), exported as BPF.
#pragma once

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ward/detail/bpf.hpp>
#include <ward/seccomp.hpp>

#ifdef WARD_HAVE_LIBSECCOMP
#include <seccomp.h>
#endif

namespace ward_test {

// ---------------------------------------------------------------------------
// The oracle.
// ---------------------------------------------------------------------------
class SeccompOracle {
 public:
  explicit SeccompOracle(const ward::SeccompFilter& f)
      : default_(f.default_action().ret_value()), bad_arch_(f.bad_arch_action().ret_value()) {
    for (ward::Arch a : f.arches()) arches_.push_back(a);
    for (const auto& r : f.resolved_rules()) {
      by_call_[{r.arch, r.nr}].push_back(Rule{r.action, r.args});
      auto& m = largest_[r.arch];
      m = std::max(m, r.nr);
    }
    if (auto n = f.newer_syscall_action()) newer_ = n->ret_value();
  }

  // Which rule table decides a call: nullopt means bad_arch_action.
  std::optional<ward::Arch> arch_of(const seccomp_data& d) const {
    auto has = [&](ward::Arch a) {
      for (ward::Arch x : arches_) {
        if (x == a) return true;
      }
      return false;
    };
    if (d.arch == AUDIT_ARCH_X86_64) {
      const ward::Arch a =
          static_cast<std::uint32_t>(d.nr) >= 0x40000000u ? ward::Arch::x32 : ward::Arch::x86_64;
      return has(a) ? std::optional(a) : std::nullopt;
    }
    for (ward::Arch a : arches_) {
      if (a != ward::Arch::x86_64 && a != ward::Arch::x32 &&
          ward::detail::audit_arch(a) == d.arch) {
        return a;
      }
    }
    return std::nullopt;
  }

  std::uint32_t decide(const seccomp_data& d) const {
    const auto arch = arch_of(d);
    if (!arch) return bad_arch_;
    auto it = by_call_.find({*arch, static_cast<std::uint32_t>(d.nr)});
    if (it == by_call_.end()) {
      // A number above every one the rules of its architecture name.
      auto l = largest_.find(*arch);
      if (newer_ && l != largest_.end() && static_cast<std::uint32_t>(d.nr) > l->second)
        return *newer_;
      return default_;
    }
    const bool narrow = *arch == ward::Arch::i386 || *arch == ward::Arch::arm;
    const Rule* best = nullptr;
    for (const Rule& r : it->second) {  // in the order added
      bool all = true;
      for (const ward::ArgCmp& c : r.args) {
        std::uint64_t v = d.args[c.arg];
        if (narrow) v &= 0xffffffffu;
        all = all && holds(c, v);
      }
      if (all && (!best || r.action.precedence() > best->action.precedence())) best = &r;
    }
    return best ? best->action.ret_value() : default_;
  }

  // Whether the decision for (arch, nr) never looks at arguments.
  bool constant(ward::Arch arch, std::uint32_t nr) const {
    auto it = by_call_.find({arch, nr});
    if (it == by_call_.end()) return true;
    for (const Rule& r : it->second) {
      if (!r.args.empty()) return false;
    }
    return true;
  }

  static bool holds(const ward::ArgCmp& c, std::uint64_t v) {
    switch (c.op) {
      case ward::Cmp::eq: return v == c.value;
      case ward::Cmp::ne: return v != c.value;
      case ward::Cmp::lt: return v < c.value;
      case ward::Cmp::le: return v <= c.value;
      case ward::Cmp::gt: return v > c.value;
      case ward::Cmp::ge: return v >= c.value;
      case ward::Cmp::masked_eq: return (v & c.mask) == c.value;
    }
    return false;
  }

 private:
  struct Rule {
    ward::SeccompAction action;
    std::vector<ward::ArgCmp> args;
  };
  std::uint32_t default_, bad_arch_;
  std::optional<std::uint32_t> newer_;
  std::map<ward::Arch, std::uint32_t> largest_;  // largest number a rule names
  std::vector<ward::Arch> arches_;
  std::map<std::pair<ward::Arch, std::uint32_t>, std::vector<Rule>> by_call_;
};

// The rules, one per line, for failure messages.
inline std::string describe_rules(const ward::SeccompFilter& f) {
  std::string s = "default " + f.default_action().to_string() + ", bad arch " +
                  f.bad_arch_action().to_string() + ", arches";
  for (ward::Arch a : f.arches()) s += " " + std::string(ward::detail::to_string(a));
  s += "\n";
  for (const auto& r : f.rules()) {
    s += "  " + r.action.to_string() + " " +
         (r.arch ? std::string(ward::detail::to_string(*r.arch)) + " #" + std::to_string(r.nr)
                 : r.syscall);
    for (const auto& c : r.args) s += " [" + c.to_string() + "]";
    s += "\n";
  }
  return s;
}

// Instruction-by-instruction equality (sock_filter has no operator==).
inline bool same_program(const std::vector<sock_filter>& a, const std::vector<sock_filter>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof a[0]) == 0);
}

// ---------------------------------------------------------------------------
// The kernel's action cache (Linux 5.11+, kernel/seccomp.c
// seccomp_is_const_allow()): it runs the filter for each (arch, nr) knowing
// only those two; any other load makes the call uncacheable. Returns the
// action reached, or nullopt when the path loads an argument or the
// instruction pointer (or uses an instruction the emulator does not know).
// ---------------------------------------------------------------------------
inline std::optional<std::uint32_t> constant_path(const std::vector<sock_filter>& prog,
                                                  std::uint32_t arch, std::uint32_t nr) {
  std::uint32_t a = 0;
  for (std::size_t pc = 0; pc < prog.size(); ++pc) {
    const sock_filter& f = prog[pc];
    switch (f.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (f.k == ward::detail::seccomp_data_nr) {
          a = nr;
        } else if (f.k == ward::detail::seccomp_data_arch) {
          a = arch;
        } else {
          return std::nullopt;
        }
        break;
      case BPF_JMP | BPF_JA: pc += f.k; break;
      case BPF_JMP | BPF_JEQ | BPF_K: pc += a == f.k ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JGE | BPF_K: pc += a >= f.k ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JGT | BPF_K: pc += a > f.k ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JSET | BPF_K: pc += (a & f.k) != 0 ? f.jt : f.jf; break;
      case BPF_ALU | BPF_AND | BPF_K: a &= f.k; break;
      case BPF_RET | BPF_K: return f.k;
      default: return std::nullopt;
    }
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Docker's default profile (tests/unit/docker_profile_rules.inc, generated by
// tests/gen_docker_rules.py).
// ---------------------------------------------------------------------------
struct DockerRule {
  ward::SeccompAction action;
  std::string_view name;
  std::vector<ward::ArgCmp> args;
};

inline const std::vector<DockerRule>& docker_rules() {
  static const std::vector<DockerRule> rules = {
#include "../unit/docker_profile_rules.inc"
  };
  return rules;
}

// As runc builds it for amd64: default ERRNO(1), x86_64 + x86 + x32, names
// unknown to all three skipped. Bad-arch action: KILL_PROCESS (runc leaves
// libseccomp's default, KILL_THREAD; the choice changes nothing measured here).
inline ward::SeccompFilter docker_filter() {
  ward::SeccompFilter f(ward::SeccompAction::errno_ret(1));
  f.add_arch(ward::Arch::x86_64).add_arch(ward::Arch::i386).add_arch(ward::Arch::x32);
  f.ignore_unknown_syscalls(true);
  for (const DockerRule& r : docker_rules()) f.rule(r.action, r.name, r.args);
  return f;
}

// The names of the profile's ALLOW rules that exist on `arch`, with their
// numbers (sorted by name).
inline std::vector<std::pair<std::string_view, std::uint32_t>> docker_allowed(ward::Arch arch) {
  std::map<std::string_view, std::uint32_t> out;
  for (const DockerRule& r : docker_rules()) {
    if (r.action != ward::SeccompAction::allow()) continue;
    if (auto nr = ward::detail::syscall_nr(arch, r.name)) out.emplace(r.name, *nr);
  }
  return {out.begin(), out.end()};
}

#ifdef WARD_HAVE_LIBSECCOMP
// ---------------------------------------------------------------------------
// libseccomp: the same rules, one context per architecture (so that a rule
// given for one architecture stays on it), merged, exported as BPF through a
// memfd. Names are given as libseccomp's own number for the name (it
// translates per architecture, as runc relies on). nullopt (and `why`) when
// libseccomp refuses the rule set.
// ---------------------------------------------------------------------------
inline std::uint32_t scmp_token(ward::Arch a) {
  switch (a) {
    case ward::Arch::x86_64: return SCMP_ARCH_X86_64;
    case ward::Arch::i386: return SCMP_ARCH_X86;
    case ward::Arch::x32: return SCMP_ARCH_X32;
    case ward::Arch::aarch64: return SCMP_ARCH_AARCH64;
    case ward::Arch::arm: return SCMP_ARCH_ARM;
    case ward::Arch::riscv64: return SCMP_ARCH_RISCV64;
  }
  return 0;
}

inline std::optional<std::vector<sock_filter>> libseccomp_program(const ward::SeccompFilter& f,
                                                                  int optimize,
                                                                  std::string* why = nullptr) {
  auto fail = [&](std::string w) -> std::optional<std::vector<sock_filter>> {
    if (why) *why = std::move(w);
    return std::nullopt;
  };
  const auto rules = f.resolved_rules();
  scmp_filter_ctx merged = nullptr;
  for (ward::Arch a : f.arches()) {
    scmp_filter_ctx ctx = seccomp_init(f.default_action().ret_value());
    if (!ctx) return fail("seccomp_init");
    if (seccomp_arch_native() != scmp_token(a)) {
      seccomp_arch_add(ctx, scmp_token(a));
      seccomp_arch_remove(ctx, SCMP_ARCH_NATIVE);
    }
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, f.bad_arch_action().ret_value());
    if (rc == 0 && optimize > 1) rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, optimize);
    if (rc != 0) {
      seccomp_release(ctx);
      if (merged) seccomp_release(merged);
      return fail("seccomp_attr_set: " + std::to_string(rc));
    }
    for (const auto& r : rules) {
      if (r.arch != a) continue;
      const std::string name(ward::detail::syscall_name(a, r.nr));
      const int nr = name.empty() ? -1 : seccomp_syscall_resolve_name(name.c_str());
      std::vector<scmp_arg_cmp> cmps;
      for (const ward::ArgCmp& c : r.args) {
        static constexpr scmp_compare ops[] = {SCMP_CMP_EQ,       SCMP_CMP_NE, SCMP_CMP_LT,
                                               SCMP_CMP_LE,       SCMP_CMP_GT, SCMP_CMP_GE,
                                               SCMP_CMP_MASKED_EQ};
        const auto op = ops[static_cast<int>(c.op)];
        cmps.push_back(op == SCMP_CMP_MASKED_EQ ? scmp_arg_cmp{c.arg, op, c.mask, c.value}
                                                : scmp_arg_cmp{c.arg, op, c.value, 0});
      }
      // Not _exact_: runc uses seccomp_rule_add_array(), which on x86 also
      // adds socketcall/ipc multiplexer variants of socket and ipc calls.
      rc = nr == -1 ? -ENOENT
                    : seccomp_rule_add_array(ctx, r.action.ret_value(), nr,
                                             static_cast<unsigned>(cmps.size()), cmps.data());
      if (rc != 0) {
        seccomp_release(ctx);
        if (merged) seccomp_release(merged);
        return fail("rule " + name + " on " + std::string(ward::detail::to_string(a)) + ": " +
                    std::to_string(rc));
      }
    }
    if (!merged) {
      merged = ctx;
    } else if ((rc = seccomp_merge(merged, ctx)) != 0) {
      seccomp_release(ctx);
      seccomp_release(merged);
      return fail("seccomp_merge: " + std::to_string(rc));
    }
  }
  const int fd = memfd_create("libseccomp-bpf", MFD_CLOEXEC);
  std::vector<sock_filter> prog;
  if (fd >= 0 && seccomp_export_bpf(merged, fd) == 0 && lseek(fd, 0, SEEK_SET) == 0) {
    sock_filter ins;
    while (read(fd, &ins, sizeof ins) == static_cast<ssize_t>(sizeof ins)) prog.push_back(ins);
  }
  if (fd >= 0) close(fd);
  seccomp_release(merged);
  if (prog.empty()) return fail("seccomp_export_bpf");
  return prog;
}
#endif

}  // namespace ward_test
