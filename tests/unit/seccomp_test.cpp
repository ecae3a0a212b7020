// SPDX-License-Identifier: Apache-2.0
// ward::SeccompFilter and its compiler: API, errors, and properties of the
// programs (deterministic, valid, cacheable by the kernel's action cache,
// long jumps, the 4096-instruction limit, x32 and bad-arch policy). The
// three-way differential test is seccomp_diff_test.cpp; nothing is installed
// here.
#include <linux/audit.h>

#include <cstdint>
#include <cstring>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <ward/detail/bpf.hpp>
#include <ward/seccomp.hpp>

#include <catch2/catch.hpp>

#include "seccomp_oracle.hpp"

using ward::Arch;
using ward::ArgCmp;
using ward::Cmp;
using ward::SeccompAction;
using ward::SeccompFilter;
using ward_test::SeccompOracle;

namespace {

seccomp_data call(std::uint32_t arch, std::uint32_t nr, std::uint64_t a0 = 0,
                  std::uint64_t a1 = 0) {
  seccomp_data d{};
  d.arch = arch;
  d.nr = static_cast<int>(nr);
  d.args[0] = a0;
  d.args[1] = a1;
  return d;
}

std::uint32_t nr(Arch a, const char* name) { return *ward::detail::syscall_nr(a, name); }

// Executed instructions (a counting copy of the interpreter's loop for the
// few opcodes ward emits).
unsigned executed(const std::vector<sock_filter>& p, const seccomp_data& d) {
  unsigned n = 0;
  std::uint32_t a = 0;
  unsigned char bytes[sizeof d];
  std::memcpy(bytes, &d, sizeof d);
  for (std::size_t pc = 0; pc < p.size(); ++pc) {
    ++n;
    const sock_filter& f = p[pc];
    switch (f.code) {
      case BPF_LD | BPF_W | BPF_ABS: std::memcpy(&a, bytes + f.k, 4); break;
      case BPF_ALU | BPF_AND | BPF_K: a &= f.k; break;
      case BPF_JMP | BPF_JA: pc += f.k; break;
      case BPF_JMP | BPF_JEQ | BPF_K: pc += a == f.k ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JGT | BPF_K: pc += a > f.k ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JGE | BPF_K: pc += a >= f.k ? f.jt : f.jf; break;
      case BPF_RET | BPF_K: return n;
      default: FAIL("unexpected opcode " << f.code);
    }
  }
  FAIL("fell off the end");
  return n;
}

}  // namespace

TEST_CASE("seccomp: actions, their values and precedence", "[seccomp]") {
  CHECK(SeccompAction::allow().ret_value() == SECCOMP_RET_ALLOW);
  CHECK(SeccompAction::kill_process().ret_value() == SECCOMP_RET_KILL_PROCESS);
  CHECK(SeccompAction::kill_thread().ret_value() == SECCOMP_RET_KILL_THREAD);
  CHECK(SeccompAction::errno_ret(13).ret_value() == (SECCOMP_RET_ERRNO | 13));
  CHECK(SeccompAction::trace(7).ret_value() == (SECCOMP_RET_TRACE | 7));
  CHECK(SeccompAction::user_notif().ret_value() == SECCOMP_RET_USER_NOTIF);
  CHECK(SeccompAction::log().ret_value() == SECCOMP_RET_LOG);
  CHECK(SeccompAction::trap().ret_value() == SECCOMP_RET_TRAP);
  CHECK(SeccompAction::errno_ret(1).to_string() == "ERRNO(1)");
  CHECK(SeccompAction::kill_process().precedence() > SeccompAction::kill_thread().precedence());
  CHECK(SeccompAction::trap().precedence() > SeccompAction::errno_ret(1).precedence());
  CHECK(SeccompAction::errno_ret(1).precedence() > SeccompAction::user_notif().precedence());
  CHECK(SeccompAction::user_notif().precedence() > SeccompAction::trace(0).precedence());
  CHECK(SeccompAction::trace(0).precedence() > SeccompAction::log().precedence());
  CHECK(SeccompAction::log().precedence() > SeccompAction::allow().precedence());
  CHECK(SeccompAction::from_ret(SECCOMP_RET_ERRNO | 38) == SeccompAction::errno_ret(38));
  CHECK_FALSE(SeccompAction::from_ret(0x12340000u));
  CHECK_THROWS_AS(SeccompAction::errno_ret(4096), ward::Error);
  CHECK_THROWS_AS(SeccompAction::errno_ret(-1), ward::Error);
}

TEST_CASE("seccomp: arg() spells comparisons", "[seccomp]") {
  using ward::arg;
  CHECK((arg(1) == 5) == ArgCmp{1, Cmp::eq, 5});
  CHECK((arg(3) != 7) == ArgCmp{3, Cmp::ne, 7});
  CHECK((arg(0) >= 3) == ArgCmp{0, Cmp::ge, 3});
  CHECK((arg(0) < 3) == ArgCmp{0, Cmp::lt, 3});
  CHECK((arg(2).masked(0xff) == 0x10) == ArgCmp{2, Cmp::masked_eq, 0x10, 0xff});
  CHECK((arg(2).masked(0xff) == 0x10).to_string() == "arg2 & 0xff == 0x10");
}

TEST_CASE("seccomp: rule errors", "[seccomp]") {
  SeccompFilter f(SeccompAction::allow());
  f.add_arch(Arch::x86_64);
  try {
    f.rule(SeccompAction::errno_ret(1), "read", {ward::arg(6) == 1});
    FAIL("no error");
  } catch (const ward::Error& e) {
    CHECK(e.step() == ward::Step::seccomp);
    CHECK(e.error_number() == EINVAL);
    CHECK(std::string(e.what()).find("argument index 6") != std::string::npos);
  }
  CHECK_THROWS_AS(f.rule(SeccompAction::errno_ret(1), "read", {ArgCmp{0, Cmp::eq, 1, 0xff}}),
                  ward::Error);
  CHECK_THROWS_AS(f.rule(SeccompAction::errno_ret(1), Arch::x32, 5), ward::Error);
  CHECK_THROWS_AS(f.rule(SeccompAction::errno_ret(1), Arch::x86_64, 0x40000005u), ward::Error);

  SeccompFilter g(SeccompAction::allow());
  g.add_arch(Arch::x86_64).add_arch(Arch::i386);
  g.rule(SeccompAction::errno_ret(1), "no_such_syscall");
  try {
    (void)g.compile();
    FAIL("no error");
  } catch (const ward::Error& e) {
    CHECK(e.object() == "syscall no_such_syscall");
    CHECK(e.detail().find("x86_64, i386") != std::string::npos);
  }
  g.ignore_unknown_syscalls(true);
  CHECK(g.evaluate(call(AUDIT_ARCH_X86_64, 0)) == SECCOMP_RET_ALLOW);

  // A name missing on one arch is simply absent there: socketcall is i386-only.
  SeccompFilter h(SeccompAction::allow());
  h.add_arch(Arch::x86_64).add_arch(Arch::i386);
  h.rule(SeccompAction::errno_ret(5), "socketcall");
  CHECK(h.evaluate(call(AUDIT_ARCH_I386, nr(Arch::i386, "socketcall"))) == (SECCOMP_RET_ERRNO | 5));
  CHECK(h.evaluate(call(AUDIT_ARCH_X86_64, nr(Arch::i386, "socketcall"))) == SECCOMP_RET_ALLOW);

  // A rule by number on an arch the filter lacks.
  SeccompFilter k(SeccompAction::allow());
  k.add_arch(Arch::x86_64).rule(SeccompAction::trap(), Arch::aarch64, 3);
  CHECK_THROWS_AS(k.compile(), ward::Error);
}

TEST_CASE("seccomp: precedence between rules on one call", "[seccomp]") {
  SeccompFilter f(SeccompAction::errno_ret(1));
  f.add_arch(Arch::x86_64);
  f.rule(SeccompAction::allow(), "write");
  f.rule(SeccompAction::errno_ret(9), "write", {ward::arg(0) == 2});
  f.rule(SeccompAction::errno_ret(7), "write", {ward::arg(1) > 100});
  f.rule(SeccompAction::kill_thread(), "write", {ward::arg(0) == 3, ward::arg(1) == 3});
  const auto w = nr(Arch::x86_64, "write");
  CHECK(f.evaluate(call(AUDIT_ARCH_X86_64, w, 1, 1)) == SECCOMP_RET_ALLOW);
  CHECK(f.evaluate(call(AUDIT_ARCH_X86_64, w, 2, 1)) == (SECCOMP_RET_ERRNO | 9));
  // Both ERRNO rules hold: the first added wins.
  CHECK(f.evaluate(call(AUDIT_ARCH_X86_64, w, 2, 101)) == (SECCOMP_RET_ERRNO | 9));
  CHECK(f.evaluate(call(AUDIT_ARCH_X86_64, w, 3, 3)) == SECCOMP_RET_KILL_THREAD);
  CHECK(f.evaluate(call(AUDIT_ARCH_X86_64, w, 3, 4)) == SECCOMP_RET_ALLOW);
  CHECK(f.evaluate(call(AUDIT_ARCH_X86_64, w, 3, 0x100000003ull)) == (SECCOMP_RET_ERRNO | 7));
  CHECK(f.evaluate(call(AUDIT_ARCH_X86_64, 0)) == (SECCOMP_RET_ERRNO | 1));
}

TEST_CASE("seccomp: 32-bit ABIs compare the low half of arguments", "[seccomp]") {
  SeccompFilter f(SeccompAction::allow());
  f.add_arch(Arch::x86_64).add_arch(Arch::i386);
  f.rule(SeccompAction::errno_ret(1), "write", {ward::arg(0) == 5});
  CHECK(f.evaluate(call(AUDIT_ARCH_I386, nr(Arch::i386, "write"), 0x100000005ull)) ==
        (SECCOMP_RET_ERRNO | 1));
  CHECK(f.evaluate(call(AUDIT_ARCH_X86_64, nr(Arch::x86_64, "write"), 0x100000005ull)) ==
        SECCOMP_RET_ALLOW);
}

TEST_CASE("seccomp: x32 and bad arch policy", "[seccomp]") {
  const std::uint32_t read64 = nr(Arch::x86_64, "read"), read32 = nr(Arch::x32, "read");
  REQUIRE(read32 == (0x40000000u | read64));
  SECTION("x86_64 only: x32 numbers get the bad-arch action") {
    SeccompFilter f(SeccompAction::allow());
    f.add_arch(Arch::x86_64).bad_arch_action(SeccompAction::kill_thread());
    CHECK(f.evaluate(call(AUDIT_ARCH_X86_64, read64)) == SECCOMP_RET_ALLOW);
    CHECK(f.evaluate(call(AUDIT_ARCH_X86_64, read32)) == SECCOMP_RET_KILL_THREAD);
    CHECK(f.evaluate(call(AUDIT_ARCH_X86_64, 0xffffffffu)) == SECCOMP_RET_KILL_THREAD);
    CHECK(f.evaluate(call(AUDIT_ARCH_I386, 3)) == SECCOMP_RET_KILL_THREAD);
    CHECK(f.evaluate(call(0x12345678u, 3)) == SECCOMP_RET_KILL_THREAD);
  }
  SECTION("x32 only: plain x86_64 numbers get the bad-arch action") {
    SeccompFilter f(SeccompAction::errno_ret(1));
    f.add_arch(Arch::x32).rule(SeccompAction::allow(), "read");
    CHECK(f.evaluate(call(AUDIT_ARCH_X86_64, read32)) == SECCOMP_RET_ALLOW);
    CHECK(f.evaluate(call(AUDIT_ARCH_X86_64, read32 + 1)) == (SECCOMP_RET_ERRNO | 1));
    CHECK(f.evaluate(call(AUDIT_ARCH_X86_64, read64)) == SECCOMP_RET_KILL_PROCESS);
  }
  SECTION("both: each number by its own table") {
    SeccompFilter f(SeccompAction::errno_ret(1));
    f.add_arch(Arch::x86_64).add_arch(Arch::x32);
    f.rule(SeccompAction::allow(), Arch::x86_64, read64);
    CHECK(f.evaluate(call(AUDIT_ARCH_X86_64, read64)) == SECCOMP_RET_ALLOW);
    CHECK(f.evaluate(call(AUDIT_ARCH_X86_64, read32)) == (SECCOMP_RET_ERRNO | 1));
  }
}

TEST_CASE("seccomp: Docker's default profile compiles small, fast and cacheable", "[seccomp]") {
  const SeccompFilter f = ward_test::docker_filter();
  const auto prog = f.compile();
  CHECK(ward_test::same_program(prog, f.compile()));  // deterministic
  ward::detail::bpf_validate(prog);
  INFO(ward::detail::bpf_disasm(prog));
  CHECK(prog.size() <= 300);

  const auto allowed = ward_test::docker_allowed(Arch::x86_64);
  REQUIRE(allowed.size() > 250);
  double total = 0;
  for (const auto& [name, n] : allowed) {
    const auto d = call(AUDIT_ARCH_X86_64, n);
    CHECK(ward::detail::bpf_run(prog, d) == SECCOMP_RET_ALLOW);
    total += executed(prog, d);
  }
  const double mean = total / static_cast<double>(allowed.size());
  std::cout << "Docker default: " << prog.size() << " instructions, " << mean
            << " executed per allowed x86_64 call\n";
  CHECK(mean <= 10.0);

  // The action cache: every call whose decision ignores its arguments must
  // reach its action on loads of nr/arch and constant jumps only.
  const SeccompOracle oracle(f);
  int constant_allow = 0;
  for (Arch a : {Arch::x86_64, Arch::i386, Arch::x32}) {
    for (const auto& s : ward::detail::syscalls(a)) {
      if (!oracle.constant(a, s.nr)) continue;
      const auto path = ward_test::constant_path(prog, ward::detail::audit_arch(a), s.nr);
      INFO(ward::detail::to_string(a) << " " << s.name);
      REQUIRE(path);
      CHECK(*path == oracle.decide(call(ward::detail::audit_arch(a), s.nr)));
      if (*path == SECCOMP_RET_ALLOW && a == Arch::x86_64) ++constant_allow;
    }
  }
  CHECK(constant_allow >= 280);
}

TEST_CASE("seccomp: long jumps and the 4096-instruction limit", "[seccomp]") {
  // ~700 predicate rules: a program of thousands of instructions, far beyond
  // the 255 a conditional jump can reach.
  SeccompFilter f(SeccompAction::errno_ret(1));
  f.add_arch(Arch::x86_64).add_arch(Arch::i386);
  std::mt19937_64 rng(7);
  for (std::uint32_t n = 0; n < 700; ++n) {
    f.rule(SeccompAction::allow(), n % 2 ? Arch::x86_64 : Arch::i386, n * 3,
           {ArgCmp{static_cast<unsigned>(n % 6), static_cast<Cmp>(n % 7), rng() % 5, ~0ull}});
  }
  const auto prog = f.compile();
  REQUIRE(prog.size() > 1000);
  ward::detail::bpf_validate(prog);
  const SeccompOracle oracle(f);
  for (int i = 0; i < 20000; ++i) {
    seccomp_data d =
        call(i % 3 ? AUDIT_ARCH_X86_64 : AUDIT_ARCH_I386, static_cast<std::uint32_t>(rng() % 2200));
    for (auto& a : d.args) a = rng() % 6;
    INFO("arch " << d.arch << " nr " << d.nr << " a0.." << d.args[0] << d.args[1] << d.args[2]
                 << d.args[3] << d.args[4] << d.args[5]);
    REQUIRE(ward::detail::bpf_run_validated(prog, d) == oracle.decide(d));
  }

  SeccompFilter big(SeccompAction::allow());
  big.add_arch(Arch::x86_64);
  for (std::uint32_t n = 0; n < 1500; ++n) {
    big.rule(SeccompAction::errno_ret(1), Arch::x86_64, n * 2, {ward::arg(0) == n * 7ull << 33});
  }
  try {
    (void)big.compile();
    FAIL("no error");
  } catch (const ward::Error& e) {
    CHECK(e.step() == ward::Step::seccomp);
    CHECK(e.error_number() == EINVAL);
    CHECK(e.detail().find("BPF_MAXINSNS") != std::string::npos);
  }
}
