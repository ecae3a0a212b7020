// SPDX-License-Identifier: Apache-2.0
// Seccomp filters: rules, and ward's own compiler from rules to classic BPF.
// No libseccomp at run time: the program is built here, checked with
// detail::bpf_validate() and handed to seccomp(SECCOMP_SET_MODE_FILTER) as is.
//
// Semantics (what the compiled program decides for one system call):
//   1. The architecture: seccomp_data.arch must be the AUDIT_ARCH_* of one of
//      the filter's architectures, else bad_arch_action() (default
//      KILL_PROCESS). x32 shares AUDIT_ARCH_X86_64 with x86_64; the two are
//      told apart by the number: nr >= __X32_SYSCALL_BIT (0x40000000, compared
//      unsigned, so "negative" numbers count as x32 too, as in libseccomp) is
//      decided by the x32 rules if Arch::x32 was added and by bad_arch_action()
//      otherwise; a smaller nr by the x86_64 rules if Arch::x86_64 was added,
//      by bad_arch_action() otherwise. An x32 call is never allowed by an
//      x86_64 rule, nor the other way round.
//   2. The rules of that architecture and number: the comparisons of one rule
//      are ANDed, the rules are ORed; of the rules whose comparisons all hold,
//      the one whose action the kernel ranks highest wins (KILL_PROCESS >
//      KILL_THREAD > TRAP > ERRNO > USER_NOTIF > TRACE > LOG > ALLOW, the order
//      in which the kernel resolves several filters, seccomp(2) "Filter return
//      values"), ties going to the rule added first. No rule holds: the
//      default action, or newer_syscall_action() for a number above the
//      largest any rule of that architecture names.
//   3. Comparisons are unsigned 64-bit. On the 32-bit ABIs (i386, arm) an
//      argument is its low 32 bits: their compat entry points truncate every
//      argument to 32 bits before the system call sees it, while seccomp_data
//      may carry a full 64-bit register (int 0x80 from 64-bit code), so
//      comparing the upper half would test bits the system call ignores (a
//      deny rule on "a0 == 5" would not stop 0x100000005). x32 calls use
//      64-bit registers unchanged: compared on 64 bits. A value with bits
//      above 32 therefore never equals a 32-bit ABI's argument.
//
// The compiled program (see SeccompFilter::compile()):
//   ld arch; jeq <primary arch> ...; ld nr; <search tree>; ... ; rets
// The primary architecture (the one ward is compiled for, if the filter has
// it) is checked first and falls through into its tree. For each AUDIT_ARCH
// value the numbers 0..2^32-1 are cut into ranges of equal decision (a run of
// numbers with the same constant action, the numbers nobody mentions taking
// the default action, is one range; x86_64 below and x32 above
// __X32_SYSCALL_BIT are one list, so "is this x32?" costs no extra test), and
// a binary search over the ranges with jge on nr, shaped to minimise the
// expected number of jumps (weights: the system calls a range lets run,
// native ones first), reaches either a return or, for a number with argument
// predicates, the code that tests them. Arguments are loaded only there, so
// every number with a constant action walks only loads of nr/arch, constant
// jumps and a return: the kernel's action cache (Linux 5.11+,
// kernel/seccomp.c seccomp_cache_prepare()) can answer those calls without
// running the filter at all.
#pragma once

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <ward/detail/bpf.hpp>
#include <ward/detail/syscall_tables.hpp>
#include <ward/error.hpp>

namespace ward {

using Arch = detail::Arch;

namespace detail {
inline std::string hex64(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}
}  // namespace detail

// What a filter returns for a system call (seccomp(2), "Filter return values").
class SeccompAction {
 public:
  // In the kernel's precedence order, highest first.
  enum class Kind : std::uint8_t {
    kill_process,
    kill_thread,
    trap,
    errno_ret,
    user_notif,
    trace,
    log,
    allow
  };

  static constexpr SeccompAction allow() noexcept { return {Kind::allow, 0}; }
  static constexpr SeccompAction kill_process() noexcept { return {Kind::kill_process, 0}; }
  static constexpr SeccompAction kill_thread() noexcept { return {Kind::kill_thread, 0}; }
  static constexpr SeccompAction trap() noexcept { return {Kind::trap, 0}; }
  static constexpr SeccompAction log() noexcept { return {Kind::log, 0}; }
  static constexpr SeccompAction user_notif() noexcept { return {Kind::user_notif, 0}; }
  static constexpr SeccompAction trace(std::uint16_t msg) noexcept { return {Kind::trace, msg}; }
  // The kernel clamps SECCOMP_RET_ERRNO data to MAX_ERRNO (4095); a larger
  // value would silently become 4095, so it is refused here.
  static SeccompAction errno_ret(int e) {
    if (e < 0 || e > 4095) {
      throw Error(Step::seccomp, EINVAL, "errno action",
                  "errno " + std::to_string(e) + " is outside 0..4095 (MAX_ERRNO)");
    }
    return {Kind::errno_ret, static_cast<std::uint16_t>(e)};
  }
  // The action a SECCOMP_RET_* value stands for; nullopt for a value that is
  // no action ward builds (an unknown action, data on an action without any).
  static constexpr std::optional<SeccompAction> from_ret(std::uint32_t ret) noexcept {
    const auto data = static_cast<std::uint16_t>(ret & SECCOMP_RET_DATA);
    switch (ret & SECCOMP_RET_ACTION_FULL) {
      case SECCOMP_RET_KILL_PROCESS: return data ? std::nullopt : std::optional(kill_process());
      case SECCOMP_RET_KILL_THREAD: return data ? std::nullopt : std::optional(kill_thread());
      case SECCOMP_RET_TRAP: return data ? std::nullopt : std::optional(trap());
      case SECCOMP_RET_ERRNO:
        return data > 4095 ? std::nullopt : std::optional(SeccompAction{Kind::errno_ret, data});
      case SECCOMP_RET_USER_NOTIF: return data ? std::nullopt : std::optional(user_notif());
      case SECCOMP_RET_TRACE: return trace(data);
      case SECCOMP_RET_LOG: return data ? std::nullopt : std::optional(log());
      case SECCOMP_RET_ALLOW: return data ? std::nullopt : std::optional(allow());
      default: return std::nullopt;
    }
  }

  constexpr Kind kind() const noexcept { return kind_; }
  constexpr std::uint16_t data() const noexcept { return data_; }
  // SECCOMP_RET_<action> | data: what the BPF program returns.
  constexpr std::uint32_t ret_value() const noexcept {
    switch (kind_) {
      case Kind::kill_process: return SECCOMP_RET_KILL_PROCESS;
      case Kind::kill_thread: return SECCOMP_RET_KILL_THREAD;
      case Kind::trap: return SECCOMP_RET_TRAP | data_;
      case Kind::errno_ret: return SECCOMP_RET_ERRNO | data_;
      case Kind::user_notif: return SECCOMP_RET_USER_NOTIF;
      case Kind::trace: return SECCOMP_RET_TRACE | data_;
      case Kind::log: return SECCOMP_RET_LOG;
      case Kind::allow: return SECCOMP_RET_ALLOW;
    }
    return SECCOMP_RET_KILL_PROCESS;
  }
  // 7 (kill_process) .. 0 (allow): higher wins.
  constexpr int precedence() const noexcept { return 7 - static_cast<int>(kind_); }
  // Whether the system call runs (ALLOW, LOG, or handed to a tracer or
  // supervisor that usually lets it): what the compiler optimises the
  // search for.
  constexpr bool lets_run() const noexcept {
    return kind_ == Kind::allow || kind_ == Kind::log || kind_ == Kind::trace ||
           kind_ == Kind::user_notif;
  }

  friend constexpr bool operator==(const SeccompAction&, const SeccompAction&) = default;
  std::string to_string() const { return detail::seccomp_action_string(ret_value()); }

 private:
  constexpr SeccompAction(Kind k, std::uint16_t d) noexcept : kind_(k), data_(d) {}
  Kind kind_;
  std::uint16_t data_;
};

// How an argument is compared. All comparisons are unsigned 64-bit;
// masked_eq is (arg & mask) == value.
enum class Cmp : std::uint8_t { eq, ne, lt, le, gt, ge, masked_eq };

constexpr std::string_view to_string(Cmp c) noexcept {
  switch (c) {
    case Cmp::eq: return "==";
    case Cmp::ne: return "!=";
    case Cmp::lt: return "<";
    case Cmp::le: return "<=";
    case Cmp::gt: return ">";
    case Cmp::ge: return ">=";
    case Cmp::masked_eq: return "masked ==";
  }
  return "?";
}

// One comparison of system call argument `arg` (0..5). `mask` is used by
// masked_eq only and must stay ~0 for the other operators.
struct ArgCmp {
  unsigned arg = 0;
  Cmp op = Cmp::eq;
  std::uint64_t value = 0;
  std::uint64_t mask = ~std::uint64_t{0};

  friend bool operator==(const ArgCmp&, const ArgCmp&) = default;
  std::string to_string() const {
    std::string s = "arg" + std::to_string(arg);
    if (op == Cmp::masked_eq) s += " & " + detail::hex64(mask);
    s += ' ';
    s += ward::to_string(op == Cmp::masked_eq ? Cmp::eq : op);
    s += ' ';
    s += detail::hex64(value);
    return s;
  }
};

// ward::arg(1) == 5, arg(2).masked(0xff) == 0x10, arg(0) >= 3: ArgCmps.
struct ArgMasked {
  unsigned index;
  std::uint64_t mask;
  constexpr ArgCmp operator==(std::uint64_t v) const noexcept {
    return {index, Cmp::masked_eq, v, mask};
  }
};
struct ArgRef {
  unsigned index;
  constexpr ArgCmp operator==(std::uint64_t v) const noexcept { return {index, Cmp::eq, v}; }
  constexpr ArgCmp operator!=(std::uint64_t v) const noexcept { return {index, Cmp::ne, v}; }
  constexpr ArgCmp operator<(std::uint64_t v) const noexcept { return {index, Cmp::lt, v}; }
  constexpr ArgCmp operator<=(std::uint64_t v) const noexcept { return {index, Cmp::le, v}; }
  constexpr ArgCmp operator>(std::uint64_t v) const noexcept { return {index, Cmp::gt, v}; }
  constexpr ArgCmp operator>=(std::uint64_t v) const noexcept { return {index, Cmp::ge, v}; }
  constexpr ArgMasked masked(std::uint64_t mask) const noexcept { return {index, mask}; }
};
constexpr ArgRef arg(unsigned i) noexcept { return {i}; }

// __X32_SYSCALL_BIT (<asm/unistd.h> on x86): set in every x32 system call
// number, so x32 and x86_64 calls, which share AUDIT_ARCH_X86_64, differ.
inline constexpr std::uint32_t x32_syscall_bit = 0x40000000u;

// Whether `arch`'s system calls take 32-bit arguments (see the semantics at
// the top: only the low half of each argument is compared there).
constexpr bool seccomp_args_are_32bit(Arch a) noexcept { return a == Arch::i386 || a == Arch::arm; }

// A rule as added: by name (resolved per architecture at compile time) or by
// number on one architecture.
struct SeccompRule {
  SeccompAction action;
  std::string syscall;       // empty when given by number
  std::optional<Arch> arch;  // set when given by number
  std::uint32_t nr = 0;      // when given by number
  std::vector<ArgCmp> args;  // ANDed
};

// A rule after name resolution: one architecture, one number. `index` is its
// position in SeccompFilter::rules() (ties between actions of equal
// precedence go to the lower index).
struct ResolvedSeccompRule {
  SeccompAction action;
  Arch arch;
  std::uint32_t nr;
  std::vector<ArgCmp> args;
  std::size_t index;
};

namespace detail::seccomp_impl {
struct Compiler;
}

class SeccompFilter {
 public:
  explicit SeccompFilter(SeccompAction default_action) : default_(default_action) {}

  // The architectures the filter admits; none added means {native_arch()}.
  // Adding one twice is harmless.
  SeccompFilter& add_arch(Arch a) {
    if (std::find(arches_.begin(), arches_.end(), a) == arches_.end()) arches_.push_back(a);
    return *this;
  }
  // What a call of any other architecture gets (default KILL_PROCESS: a
  // process that switches ABI to dodge the filter should not survive it).
  SeccompFilter& bad_arch_action(SeccompAction a) {
    bad_arch_ = a;
    return *this;
  }
  // OCI runtimes skip profile names that no architecture of the filter knows
  // (profiles list calls of every architecture and of newer kernels). Off by
  // default: compile() then throws an Error naming the system call.
  SeccompFilter& ignore_unknown_syscalls(bool ignore) {
    ignore_unknown_ = ignore;
    return *this;
  }

  // What a number above the largest one the rules name on an architecture
  // gets (a system call newer than the rules know of) instead of the default
  // action; nullopt (the default): the default action. runc prepends this
  // as its "-ENOSYS stub" (libcontainer/seccomp/patchbpf/enosys_linux.go)
  // with ERRNO(ENOSYS), so a program calling something newer than its
  // profile (clone3, faccessat2) sees "not implemented" and falls back to
  // the older call, instead of a default EPERM that reads as "forbidden".
  // As there: an architecture whose rules name no call at all keeps the
  // default action, and x86_64 and x32 are counted apart (x32 numbers
  // include __X32_SYSCALL_BIT). Numbers in the gaps below the largest keep
  // the default action.
  SeccompFilter& newer_syscall_action(std::optional<SeccompAction> a) {
    newer_ = a;
    return *this;
  }
  std::optional<SeccompAction> newer_syscall_action() const noexcept { return newer_; }

  // A rule by name, on every architecture of the filter that has the call
  // (aarch64 has no `open`: the rule does not exist there).
  SeccompFilter& rule(SeccompAction a, std::string_view syscall, std::vector<ArgCmp> args = {}) {
    check_args(std::string(syscall), args);
    rules_.push_back(SeccompRule{a, std::string(syscall), std::nullopt, 0, std::move(args)});
    return *this;
  }
  // A rule by number on one architecture (x32 numbers include
  // __X32_SYSCALL_BIT, x86_64 numbers must not).
  SeccompFilter& rule(SeccompAction a, Arch arch, std::uint32_t nr, std::vector<ArgCmp> args = {}) {
    const std::string what =
        "syscall " + std::to_string(nr) + " on " + std::string(detail::to_string(arch));
    if (arch == Arch::x32 && nr < x32_syscall_bit) {
      throw Error(Step::seccomp, EINVAL, what,
                  "x32 system call numbers include __X32_SYSCALL_BIT (0x40000000)");
    }
    if (arch == Arch::x86_64 && nr >= x32_syscall_bit) {
      throw Error(Step::seccomp, EINVAL, what,
                  "x86_64 numbers are below __X32_SYSCALL_BIT (0x40000000); that range is x32's");
    }
    check_args(what, args);
    rules_.push_back(SeccompRule{a, {}, arch, nr, std::move(args)});
    return *this;
  }

  SeccompAction default_action() const noexcept { return default_; }
  SeccompAction bad_arch_action() const noexcept { return bad_arch_; }
  bool ignores_unknown_syscalls() const noexcept { return ignore_unknown_; }
  const std::vector<SeccompRule>& rules() const noexcept { return rules_; }
  // The architectures in the order the program checks them: the one ward is
  // compiled for first (when the filter has it), then the others as added.
  std::vector<Arch> arches() const {
    std::vector<Arch> out = arches_;
#ifdef WARD_NATIVE_ARCH_KNOWN
    if (out.empty()) out.push_back(detail::native_arch());
    auto it = std::find(out.begin(), out.end(), detail::native_arch());
    if (it != out.end()) std::rotate(out.begin(), it, it + 1);
#endif
    if (out.empty()) {
      throw Error(Step::seccomp, EINVAL, "seccomp filter",
                  "no architecture (ward has no system call table for this machine)");
    }
    return out;
  }

  // Every rule on every architecture, numbers resolved. Throws an Error for
  // a name no architecture of the filter knows (unless ignored) and for a
  // rule by number on an architecture the filter does not have.
  std::vector<ResolvedSeccompRule> resolved_rules() const {
    const std::vector<Arch> archs = arches();
    std::vector<ResolvedSeccompRule> out;
    for (std::size_t i = 0; i < rules_.size(); ++i) {
      const SeccompRule& r = rules_[i];
      if (r.arch) {
        if (std::find(archs.begin(), archs.end(), *r.arch) == archs.end()) {
          throw Error(
              Step::seccomp, EINVAL,
              "syscall " + std::to_string(r.nr) + " on " + std::string(detail::to_string(*r.arch)),
              "the filter does not include that architecture (add_arch)");
        }
        out.push_back({r.action, *r.arch, r.nr, r.args, i});
        continue;
      }
      bool found = false;
      for (Arch a : archs) {
        if (auto nr = detail::syscall_nr(a, r.syscall)) {
          out.push_back({r.action, a, *nr, r.args, i});
          found = true;
        }
      }
      if (!found && !ignore_unknown_) {
        std::string list;
        for (Arch a : archs) list += (list.empty() ? "" : ", ") + std::string(detail::to_string(a));
        throw Error(Step::seccomp, EINVAL, "syscall " + r.syscall,
                    "unknown on every architecture of the filter (" + list +
                        "); ignore_unknown_syscalls(true) skips such names");
      }
    }
    return out;
  }

  // The BPF program. Deterministic (same rules, same program), validated
  // with detail::bpf_validate(); throws an Error (EINVAL) beyond the
  // kernel's BPF_MAXINSNS (4096) instructions.
  inline std::vector<sock_filter> compile() const;

  // What the compiled program returns for `d` (SECCOMP_RET_* | data).
  std::uint32_t evaluate(const seccomp_data& d) const { return detail::bpf_run(compile(), d); }
  std::string disassemble() const { return detail::bpf_disasm(compile()); }

 private:
  static void check_args(const std::string& what, const std::vector<ArgCmp>& args) {
    for (const ArgCmp& c : args) {
      if (c.arg > 5) {
        throw Error(
            Step::seccomp, EINVAL, what,
            "argument index " + std::to_string(c.arg) + ": system calls have arguments 0..5");
      }
      if (c.op > Cmp::masked_eq) {
        throw Error(Step::seccomp, EINVAL, what, "unknown comparison operator");
      }
      if (c.op != Cmp::masked_eq && c.mask != ~std::uint64_t{0}) {
        throw Error(Step::seccomp, EINVAL, what,
                    c.to_string() + ": a mask is only used by Cmp::masked_eq");
      }
    }
  }

  SeccompAction default_;
  SeccompAction bad_arch_ = SeccompAction::kill_process();
  std::optional<SeccompAction> newer_;
  bool ignore_unknown_ = false;
  std::vector<Arch> arches_;
  std::vector<SeccompRule> rules_;
};

namespace detail::seccomp_impl {

using Node = std::size_t;  // an instruction, by its position in emission order

// The program is emitted backwards, last instruction first (the approach of
// Chromium's sandbox/linux/bpf_dsl/codegen.cc): every jump target already
// exists when a jump is made, so offsets are known at once. Classic BPF
// jumps only forward, jt/jf are 8 bits, `ja` has 32: a conditional jump to a
// target more than 255 instructions away goes through a `ja` placed right
// after it, and a return that is too far is simply emitted again (same size
// as a `ja`, one instruction less to run). Identical instructions with
// identical successors are emitted once (`memo_`), which shares returns and
// identical argument checks (x86_64 and x32 rules of one profile).
class Emitter {
 public:
  std::size_t size() const noexcept { return rev_.size(); }

  Node ret(std::uint32_t k) {
    auto it = ret_.find(k);
    if (it != ret_.end()) return it->second;
    return new_ret(k);
  }

  // A non-jump instruction (a load, an ALU operation) followed by `next`.
  Node stmt(std::uint16_t code, std::uint32_t k, Node next) {
    const Key key{code, k, canon_[next], canon_[next]};
    if (auto it = memo_.find(key); it != memo_.end()) return it->second;
    if (distance(next) != 0) next = reach(next, 0);
    const Node n = append(bpf_stmt(code, k), static_cast<Node>(-1));
    memo_.emplace(key, n);
    return n;
  }

  // A conditional jump; a test whose two outcomes are the same is no test.
  Node jump(std::uint16_t code, std::uint32_t k, Node jt, Node jf) {
    if (canon_[jt] == canon_[jf]) return jt;
    const Key key{code, k, canon_[jt], canon_[jf]};
    if (auto it = memo_.find(key); it != memo_.end()) return it->second;
    // The jt trampoline is emitted first; a jf trampoline after it moves jt
    // one further away, hence 254.
    jt = reach(jt, 254);
    jf = reach(jf, 255);
    const Node n = append(bpf_jump(code, k, static_cast<std::uint8_t>(distance(jt)),
                                   static_cast<std::uint8_t>(distance(jf))),
                          static_cast<Node>(-1));
    memo_.emplace(key, n);
    return n;
  }

  // The program in execution order.
  std::vector<sock_filter> program() const { return {rev_.rbegin(), rev_.rend()}; }

 private:
  using Key = std::tuple<std::uint16_t, std::uint32_t, Node, Node>;

  // Instructions between a new instruction and `target`.
  std::size_t distance(Node target) const noexcept { return rev_.size() - target - 1; }

  Node append(sock_filter f, Node canon) {
    rev_.push_back(f);
    canon_.push_back(canon == static_cast<Node>(-1) ? rev_.size() - 1 : canon);
    return rev_.size() - 1;
  }

  Node new_ret(std::uint32_t k) {
    const Node n = append(bpf_stmt(BPF_RET | BPF_K, k), static_cast<Node>(-1));
    auto [it, fresh] = ret_.emplace(k, n);
    if (fresh) {
      canon_[n] = n;
    } else {
      canon_[n] = canon_[it->second];
      it->second = n;  // later jumps share the nearest copy
    }
    return n;
  }

  // `target`, or something that behaves like it within `range` of the next
  // instruction.
  Node reach(Node target, std::size_t range) {
    if (distance(target) <= range) return target;
    const sock_filter& f = rev_[target];
    if (f.code == (BPF_RET | BPF_K)) return new_ret(f.k);
    const auto k = static_cast<std::uint32_t>(distance(target));
    return append(bpf_stmt(BPF_JMP | BPF_JA, k), canon_[target]);
  }

  std::vector<sock_filter> rev_;
  std::vector<Node> canon_;  // the instruction a node stands for (copies, trampolines)
  std::map<Key, Node> memo_;
  std::map<std::uint32_t, Node> ret_;  // nearest return of each value
};

// What one number decides on one architecture: the rules that can matter, in
// the order they are tried (precedence, then order added), and the action when
// none holds. No rules: a constant action.
struct Decision {
  std::vector<std::pair<std::uint32_t, const std::vector<ArgCmp>*>> tests;
  std::uint32_t otherwise = 0;
  bool runs = false;  // some outcome lets the call run (for the weights)

  bool constant() const noexcept { return tests.empty(); }
  friend bool operator==(const Decision& a, const Decision& b) {
    if (a.otherwise != b.otherwise || a.tests.size() != b.tests.size()) return false;
    for (std::size_t i = 0; i < a.tests.size(); ++i) {
      if (a.tests[i].first != b.tests[i].first || *a.tests[i].second != *b.tests[i].second) {
        return false;
      }
    }
    return true;
  }
};

struct Range {
  std::uint32_t lo, hi;  // inclusive
  Decision decision;
  Arch arch;
  std::uint64_t weight = 1;
};

inline Decision decide(std::vector<const ResolvedSeccompRule*> rules, SeccompAction dflt) {
  std::stable_sort(rules.begin(), rules.end(), [](const auto* a, const auto* b) {
    if (a->action.precedence() != b->action.precedence()) {
      return a->action.precedence() > b->action.precedence();
    }
    return a->index < b->index;
  });
  Decision d;
  SeccompAction otherwise = dflt;
  std::vector<const ResolvedSeccompRule*> live;
  for (const auto* r : rules) {
    if (r->args.empty()) {  // always holds: nothing after it is ever reached
      otherwise = r->action;
      break;
    }
    live.push_back(r);
  }
  // A rule whose action is what happens anyway when it fails changes nothing
  // at the end of the list.
  while (!live.empty() && live.back()->action == otherwise) live.pop_back();
  d.otherwise = otherwise.ret_value();
  d.runs = otherwise.lets_run();
  for (const auto* r : live) {
    d.tests.emplace_back(r->action.ret_value(), &r->args);
    d.runs = d.runs || r->action.lets_run();
  }
  return d;
}

struct Compiler {
  const SeccompFilter& filter;
  std::vector<ResolvedSeccompRule> rules;
  std::vector<Arch> arches;
  Emitter e;

  // One arch's decisions over [lo, hi], appended to `out` as ranges of equal
  // decision (merged with the previous range across the x86_64/x32 border
  // when both are the same constant action).
  void add_ranges(std::vector<Range>& out, Arch arch, std::uint32_t lo, std::uint32_t hi,
                  bool present) {
    auto push = [&](std::uint32_t a, std::uint32_t b, Decision d) {
      if (!out.empty() && out.back().hi + 1 == a && out.back().decision == d &&
          (d.constant() || out.back().arch == arch)) {
        out.back().hi = b;
        return;
      }
      out.push_back(Range{a, b, std::move(d), arch, 1});
    };
    Decision dflt;
    dflt.otherwise = (present ? filter.default_action() : filter.bad_arch_action()).ret_value();
    dflt.runs = present && filter.default_action().lets_run();
    if (!present) {
      push(lo, hi, dflt);
      return;
    }
    std::map<std::uint32_t, std::vector<const ResolvedSeccompRule*>> by_nr;
    for (const auto& r : rules) {
      if (r.arch == arch) by_nr[r.nr].push_back(&r);
    }
    std::uint64_t next = lo;
    for (auto& [nr, rs] : by_nr) {
      if (nr > next) push(static_cast<std::uint32_t>(next), nr - 1, dflt);
      push(nr, nr, decide(rs, filter.default_action()));
      next = std::uint64_t{nr} + 1;
    }
    if (next > hi) return;
    const auto newer = filter.newer_syscall_action();
    if (newer && !by_nr.empty()) {
      // Above the largest number the rules name (see newer_syscall_action).
      Decision d;
      d.otherwise = newer->ret_value();
      d.runs = newer->lets_run();
      push(static_cast<std::uint32_t>(next), hi, d);
    } else {
      push(static_cast<std::uint32_t>(next), hi, dflt);
    }
  }

  // Weights for the search: every system call in the table of `arch` counts
  // for the range it falls in, the calls that run far more than the others
  // (they are what a program makes all day), the primary architecture's far
  // more than a compat ABI's.
  static void add_weights(std::vector<Range>& ranges, Arch arch, std::uint64_t scale) {
    for (const SyscallEntry& s : syscalls(arch)) {
      auto it = std::upper_bound(ranges.begin(), ranges.end(), s.nr,
                                 [](std::uint32_t v, const Range& r) { return v < r.lo; });
      Range& r = *(it - 1);
      if (r.arch != arch && !r.decision.constant()) continue;
      r.weight += scale * (r.decision.runs ? 100 : 2);
    }
  }

  // The search tree over ranges[i..j]: the jge splits chosen to minimise the
  // weighted number of jumps (optimal alphabetic tree by dynamic programming,
  // with Knuth's bound on the root, O(n^2)); weight-balanced splits for very
  // long lists.
  struct Tree {
    std::size_t n;
    std::vector<std::uint32_t> root;  // n*n, root[i*n+j] = first range of the right side
  };

  Node emit_tree(const std::vector<Range>& rs, std::size_t i, std::size_t j, const Tree& t,
                 const std::vector<std::uint64_t>& prefix) {
    if (i == j) return emit_leaf(rs[i]);
    std::size_t s;
    if (!t.root.empty()) {
      s = t.root[i * t.n + j];
    } else {
      // Weighted median: the split that best halves the weight.
      const std::uint64_t total = prefix[j + 1] - prefix[i];
      s = i + 1;
      std::uint64_t best = ~std::uint64_t{0};
      for (std::size_t k = i + 1; k <= j; ++k) {
        const std::uint64_t left = prefix[k] - prefix[i];
        const std::uint64_t diff = left * 2 > total ? left * 2 - total : total - left * 2;
        if (diff < best) {
          best = diff;
          s = k;
        }
      }
    }
    const Node right = emit_tree(rs, s, j, t, prefix);
    const Node left = emit_tree(rs, i, s - 1, t, prefix);
    return e.jump(BPF_JMP | BPF_JGE | BPF_K, rs[s].lo, right, left);
  }

  static Tree plan_tree(const std::vector<Range>& rs, const std::vector<std::uint64_t>& prefix) {
    const std::size_t n = rs.size();
    Tree t{n, {}};
    if (n > 600) return t;
    t.root.assign(n * n, 0);
    std::vector<std::uint64_t> cost(n * n, 0);
    for (std::size_t i = 0; i + 1 < n; ++i) {
      t.root[i * n + i + 1] = static_cast<std::uint32_t>(i + 1);
      cost[i * n + i + 1] = prefix[i + 2] - prefix[i];
    }
    for (std::size_t len = 3; len <= n; ++len) {
      for (std::size_t i = 0; i + len <= n; ++i) {
        const std::size_t j = i + len - 1;
        const std::size_t lo = std::max<std::size_t>(t.root[i * n + j - 1], i + 1);
        const std::size_t hi = std::min<std::size_t>(t.root[(i + 1) * n + j], j);
        std::uint64_t best = ~std::uint64_t{0};
        std::size_t best_s = lo;
        for (std::size_t s = lo; s <= hi; ++s) {
          const std::uint64_t c = cost[i * n + s - 1] + cost[s * n + j];
          if (c < best) {
            best = c;
            best_s = s;
          }
        }
        t.root[i * n + j] = static_cast<std::uint32_t>(best_s);
        cost[i * n + j] = best + prefix[j + 1] - prefix[i];
      }
    }
    return t;
  }

  Node emit_leaf(const Range& r) {
    const Decision& d = r.decision;
    Node node = e.ret(d.otherwise);
    const bool narrow = seccomp_args_are_32bit(r.arch);
    // Tried last to first. Consecutive rules with the same action that each
    // compare one and the same argument (Docker's socket: a0 < 38 || a0 == 39
    // || a0 > 40; personality: five values) are one set membership test.
    std::size_t i = d.tests.size();
    while (i > 0) {
      std::size_t g = i - 1;
      auto single = [&](std::size_t t) {
        const auto& a = *d.tests[t].second;
        return a.size() == 1 && a[0].op != Cmp::masked_eq;
      };
      if (single(g)) {
        while (g > 0 && single(g - 1) && d.tests[g - 1].first == d.tests[i - 1].first &&
               (*d.tests[g - 1].second)[0].arg == (*d.tests[i - 1].second)[0].arg) {
          --g;
        }
      }
      const Node pass = e.ret(d.tests[i - 1].first);
      if (g + 1 < i) {
        std::vector<ArgCmp> cmps;
        for (std::size_t t = g; t < i; ++t) cmps.push_back((*d.tests[t].second)[0]);
        node = emit_set(cmps, narrow, pass, node);
      } else {
        Node p = pass;
        const auto& args = *d.tests[g].second;
        for (auto c = args.rbegin(); c != args.rend(); ++c) p = emit_cmp(*c, narrow, p, node);
        node = p;
      }
      i = g;
    }
    return node;
  }

  // Whether arg is in the union of the comparisons' sets (all on one
  // argument), as a search on its upper and then its lower word.
  Node emit_set(const std::vector<ArgCmp>& cmps, bool narrow, Node pass, Node fail) {
    using U64 = std::uint64_t;
    constexpr U64 max = ~U64{0};
    std::vector<std::pair<U64, U64>> iv;  // inclusive intervals
    for (const ArgCmp& c : cmps) {
      const U64 v = c.value;
      switch (c.op) {
        case Cmp::eq: iv.emplace_back(v, v); break;
        case Cmp::ne:
          if (v > 0) iv.emplace_back(0, v - 1);
          if (v < max) iv.emplace_back(v + 1, max);
          break;
        case Cmp::lt:
          if (v > 0) iv.emplace_back(0, v - 1);
          break;
        case Cmp::le: iv.emplace_back(0, v); break;
        case Cmp::gt:
          if (v < max) iv.emplace_back(v + 1, max);
          break;
        case Cmp::ge: iv.emplace_back(v, max); break;
        case Cmp::masked_eq: break;  // not grouped
      }
    }
    std::sort(iv.begin(), iv.end());
    std::vector<std::pair<U64, U64>> u;  // merged
    for (const auto& x : iv) {
      if (!u.empty() && (u.back().second == max || x.first <= u.back().second + 1)) {
        u.back().second = std::max(u.back().second, x.second);
      } else {
        u.push_back(x);
      }
    }
    auto in = [&](U64 x) {
      auto it = std::upper_bound(u.begin(), u.end(), x,
                                 [](U64 v, const std::pair<U64, U64>& p) { return v < p.first; });
      return it != u.begin() && x <= std::prev(it)->second;
    };
    // Points where membership changes.
    std::vector<U64> breaks;
    for (const auto& x : u) {
      if (x.first != 0) breaks.push_back(x.first);
      if (x.second != max) breaks.push_back(x.second + 1);
    }
    auto low_block = [&](std::uint32_t h) {
      std::vector<std::pair<std::uint32_t, Node>> segs{{0, in(U64{h} << 32) ? pass : fail}};
      for (U64 b : breaks) {
        if ((b >> 32) == h && static_cast<std::uint32_t>(b) != 0) {
          segs.emplace_back(static_cast<std::uint32_t>(b), in(b) ? pass : fail);
        }
      }
      return word_search(seccomp_data_arg_lo(cmps[0].arg), segs);
    };
    if (narrow) return low_block(0);
    std::vector<std::uint32_t> starts{0};
    std::vector<std::uint32_t> mixed;
    for (U64 b : breaks) {
      const auto h = static_cast<std::uint32_t>(b >> 32);
      if (static_cast<std::uint32_t>(b) == 0) {
        starts.push_back(h);
      } else {
        mixed.push_back(h);
        starts.push_back(h);
        if (h != 0xffffffffu) starts.push_back(h + 1);
      }
    }
    std::sort(starts.begin(), starts.end());
    starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
    std::sort(mixed.begin(), mixed.end());
    std::vector<std::pair<std::uint32_t, Node>> segs;
    // Emitted from the top down so the lower blocks end up first.
    for (auto it = starts.rbegin(); it != starts.rend(); ++it) {
      const bool m = std::binary_search(mixed.begin(), mixed.end(), *it);
      segs.emplace_back(*it, m ? low_block(*it) : in(U64{*it} << 32) ? pass : fail);
    }
    std::reverse(segs.begin(), segs.end());
    return word_search(seccomp_data_arg_hi(cmps[0].arg), segs);
  }

  // `ld word` and a search over a step function of it: segs are (first
  // value, target), sorted, the first starting at 0.
  Node word_search(std::uint32_t offset, std::vector<std::pair<std::uint32_t, Node>> segs) {
    std::vector<std::pair<std::uint32_t, Node>> m;
    for (const auto& s : segs) {
      if (m.empty() || m.back().second != s.second) m.push_back(s);
    }
    if (m.size() == 1) return m[0].second;
    // Two outcomes, one of them only at single values: a jeq chain.
    std::map<Node, std::size_t> count;
    for (const auto& s : m) ++count[s.second];
    if (count.size() == 2) {
      for (const auto& [target, n] : count) {
        std::vector<std::uint32_t> points;
        bool singles = true;
        for (std::size_t i = 0; i < m.size() && singles; ++i) {
          if (m[i].second != target) continue;
          const bool one =
              i + 1 < m.size() ? m[i + 1].first == m[i].first + 1 : m[i].first == 0xffffffffu;
          singles = one;
          points.push_back(m[i].first);
        }
        if (!singles) continue;
        Node other = m[0].second == target ? m[1].second : m[0].second;
        Node node = other;
        for (auto p = points.rbegin(); p != points.rend(); ++p) {
          node = e.jump(BPF_JMP | BPF_JEQ | BPF_K, *p, target, node);
        }
        return e.stmt(BPF_LD | BPF_W | BPF_ABS, offset, node);
      }
    }
    const Node tree = step_tree(m, 0, m.size() - 1);
    return e.stmt(BPF_LD | BPF_W | BPF_ABS, offset, tree);
  }

  Node step_tree(const std::vector<std::pair<std::uint32_t, Node>>& m, std::size_t i,
                 std::size_t j) {
    if (i == j) return m[i].second;
    const std::size_t s = i + (j - i + 1) / 2;
    const Node right = step_tree(m, s, j);
    const Node left = step_tree(m, i, s - 1);
    return e.jump(BPF_JMP | BPF_JGE | BPF_K, m[s].first, right, left);
  }

  // `ld word; [and mask;] j<op> k, t, f`, or the known outcome when the word
  // is known (the upper half on a 32-bit ABI is taken as 0).
  Node word_test(std::optional<std::uint32_t> known, std::uint32_t offset, std::uint32_t mask,
                 std::uint16_t op, std::uint32_t k, Node t, Node f) {
    if (known || mask == 0) {
      const std::uint32_t v = known.value_or(0) & mask;
      const bool r = op == BPF_JEQ ? v == k : op == BPF_JGT ? v > k : v >= k;
      return r ? t : f;
    }
    const Node j = e.jump(BPF_JMP | op | BPF_K, k, t, f);
    if (j == t || j == f) return j;  // both outcomes the same: no load needed
    const Node m = mask == 0xffffffffu ? j : e.stmt(BPF_ALU | BPF_AND | BPF_K, mask, j);
    return e.stmt(BPF_LD | BPF_W | BPF_ABS, offset, m);
  }

  // 64-bit comparisons on 32-bit halves (seccomp(2): BPF loads 32-bit words;
  // args[i] is at offset 16 + 8*i, its low word first on little-endian).
  Node emit_cmp(const ArgCmp& c, bool narrow, Node pass, Node fail) {
    const auto vh = static_cast<std::uint32_t>(c.value >> 32);
    const auto vl = static_cast<std::uint32_t>(c.value);
    const std::uint32_t ho = seccomp_data_arg_hi(c.arg), lo = seccomp_data_arg_lo(c.arg);
    const std::optional<std::uint32_t> hk = narrow ? std::optional<std::uint32_t>(0) : std::nullopt;
    switch (c.op) {
      case Cmp::eq:
      case Cmp::ne:
      case Cmp::masked_eq: {
        if (c.op == Cmp::ne) std::swap(pass, fail);
        const auto mh = static_cast<std::uint32_t>(c.mask >> 32);
        const auto ml = static_cast<std::uint32_t>(c.mask);
        // Bits of the value outside the mask can never be matched.
        if ((vh & ~mh) != 0 || (vl & ~ml) != 0) return fail;
        const Node low = word_test(std::nullopt, lo, ml, BPF_JEQ, vl, pass, fail);
        return word_test(hk, ho, mh, BPF_JEQ, vh, low, fail);
      }
      case Cmp::gt:
      case Cmp::le: {
        if (c.op == Cmp::le) std::swap(pass, fail);  // a <= v is !(a > v)
        const Node low =
            vl == 0xffffffffu ? fail : word_test(std::nullopt, lo, ~0u, BPF_JGT, vl, pass, fail);
        return upper(hk, ho, vh, low, pass, fail);
      }
      case Cmp::ge:
      case Cmp::lt: {
        if (c.op == Cmp::lt) std::swap(pass, fail);  // a < v is !(a >= v)
        const Node low = vl == 0 ? pass : word_test(std::nullopt, lo, ~0u, BPF_JGE, vl, pass, fail);
        return upper(hk, ho, vh, low, pass, fail);
      }
    }
    return fail;
  }

  // The upper half of an ordered comparison: above vh passes, equal decides
  // on the low half (`low`), below fails.
  Node upper(std::optional<std::uint32_t> known, std::uint32_t ho, std::uint32_t vh, Node low,
             Node pass, Node fail) {
    if (known) return *known > vh ? pass : *known == vh ? low : fail;
    if (low == pass) return vh == 0 ? pass : word_test(known, ho, ~0u, BPF_JGE, vh, pass, fail);
    if (low == fail)
      return vh == 0xffffffffu ? fail : word_test(known, ho, ~0u, BPF_JGT, vh, pass, fail);
    if (vh == 0xffffffffu) return word_test(known, ho, ~0u, BPF_JEQ, vh, low, fail);
    if (vh == 0) return word_test(known, ho, ~0u, BPF_JGT, 0, pass, low);
    const Node eq = e.jump(BPF_JMP | BPF_JEQ | BPF_K, vh, low, fail);
    const Node gt = e.jump(BPF_JMP | BPF_JGT | BPF_K, vh, pass, eq);
    return e.stmt(BPF_LD | BPF_W | BPF_ABS, ho, gt);
  }

  std::vector<sock_filter> run() {
    arches = filter.arches();
    rules = filter.resolved_rules();
    const Arch primary = arches.front();
    // One group per AUDIT_ARCH value, in check order.
    struct Group {
      std::uint32_t audit;
      std::vector<Range> ranges;
    };
    std::vector<Group> groups;
    for (Arch a : arches) {
      const std::uint32_t audit = audit_arch(a);
      if (std::any_of(groups.begin(), groups.end(),
                      [&](const Group& g) { return g.audit == audit; })) {
        continue;
      }
      Group g{audit, {}};
      auto has = [&](Arch x) { return std::find(arches.begin(), arches.end(), x) != arches.end(); };
      auto scale = [&](Arch x) -> std::uint64_t { return x == primary ? 100 : 1; };
      if (audit == audit_arch(Arch::x86_64)) {
        add_ranges(g.ranges, Arch::x86_64, 0, x32_syscall_bit - 1, has(Arch::x86_64));
        add_ranges(g.ranges, Arch::x32, x32_syscall_bit, 0xffffffffu, has(Arch::x32));
        if (has(Arch::x86_64)) add_weights(g.ranges, Arch::x86_64, scale(Arch::x86_64));
        if (has(Arch::x32)) add_weights(g.ranges, Arch::x32, scale(Arch::x32));
      } else {
        add_ranges(g.ranges, a, 0, 0xffffffffu, true);
        add_weights(g.ranges, a, scale(a));
      }
      groups.push_back(std::move(g));
    }
    // Returns first (they end up last), the most used nearest the trees.
    std::map<std::uint32_t, std::uint64_t> uses;
    for (const Group& g : groups) {
      for (const Range& r : g.ranges) {
        uses[r.decision.otherwise] += r.weight;
        for (const auto& t : r.decision.tests) uses[t.first] += r.weight;
      }
    }
    uses[filter.bad_arch_action().ret_value()] += 0;
    std::vector<std::pair<std::uint64_t, std::uint32_t>> order;
    for (auto [k, w] : uses) order.emplace_back(w, k);
    std::sort(order.begin(), order.end());
    for (auto [w, k] : order) e.ret(k);

    Node next = e.ret(filter.bad_arch_action().ret_value());
    for (auto g = groups.rbegin(); g != groups.rend(); ++g) {
      std::vector<std::uint64_t> prefix(g->ranges.size() + 1, 0);
      for (std::size_t i = 0; i < g->ranges.size(); ++i)
        prefix[i + 1] = prefix[i] + g->ranges[i].weight;
      const Tree t = plan_tree(g->ranges, prefix);
      const Node tree = emit_tree(g->ranges, 0, g->ranges.size() - 1, t, prefix);
      const Node load = e.stmt(BPF_LD | BPF_W | BPF_ABS, seccomp_data_nr, tree);
      next = e.jump(BPF_JMP | BPF_JEQ | BPF_K, g->audit, load, next);
    }
    e.stmt(BPF_LD | BPF_W | BPF_ABS, seccomp_data_arch, next);
    std::vector<sock_filter> prog = e.program();
    if (prog.size() > BPF_MAXINSNS) {
      throw Error(Step::seccomp, EINVAL, "seccomp filter",
                  "the program has " + std::to_string(prog.size()) +
                      " instructions, more than the kernel's limit of " +
                      std::to_string(BPF_MAXINSNS) + " (BPF_MAXINSNS)");
    }
    bpf_validate(prog);
    return prog;
  }
};

}  // namespace detail::seccomp_impl

inline std::vector<sock_filter> SeccompFilter::compile() const {
  detail::seccomp_impl::Compiler c{*this, {}, {}, {}};
  return c.run();
}

}  // namespace ward
