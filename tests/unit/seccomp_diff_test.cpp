// SPDX-License-Identifier: Apache-2.0
// Three-way differential test of ward's seccomp compiler: for each profile,
// ward's BPF program (run by detail::bpf_run_validated), libseccomp's program
// for the same rules (when the build found libseccomp) and the oracle
// (tests/common/seccomp_oracle.hpp) decide random and boundary seccomp_data.
// ward must agree with the oracle every time. Where libseccomp disagrees the
// oracle is right by definition; those cases are counted and printed.
//
// Iterations: 1,000,000 seccomp_data for Docker's profile and 1,000,000 spread
// over random rule sets; $WARD_SECCOMP_DIFF_SCALE (a factor, e.g. 0.2) scales
// both.
#include <linux/audit.h>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <set>
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

double scale() {
  const char* s = std::getenv("WARD_SECCOMP_DIFF_SCALE");
  return s ? std::atof(s) : 1.0;
}

constexpr std::uint64_t kBoundaries[] = {0,
                                         1,
                                         0x7fffffffull,
                                         0x80000000ull,
                                         0xffffffffull,
                                         0x100000000ull,
                                         0x100000001ull,
                                         0x8000000000000000ull,
                                         0xfffffffffffffffeull,
                                         0xffffffffffffffffull};

constexpr std::uint32_t kArchValues[] = {AUDIT_ARCH_X86_64,  AUDIT_ARCH_I386,
                                         AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM,
                                         AUDIT_ARCH_RISCV64, 0x12345678u /* bogus */};

// Random seccomp_data aimed at the rules: numbers the rules mention (and their
// neighbours, and the x32 border), argument values the rules compare with
// (and their neighbours) or boundaries or anything.
class DataGen {
 public:
  DataGen(const SeccompFilter& f, std::uint64_t seed) : rng_(seed) {
    for (const auto& r : f.resolved_rules()) {
      nrs_.push_back(r.nr);
      for (const ArgCmp& c : r.args) {
        values_.push_back(c.value);
        values_.push_back(c.value + 1);
        values_.push_back(c.value - 1);
        values_.push_back(c.value | ~c.mask);
        values_.push_back(c.value ^ (std::uint64_t{1} << 32));
      }
    }
    for (std::uint64_t b : kBoundaries) values_.push_back(b);
    for (std::uint32_t n : {0u, 1u, 0x3fffffffu, 0x40000000u, 0x40000001u, 0x7fffffffu, 0x80000000u,
                            0xbfffffffu, 0xc0000000u, 0xffffffffu}) {
      nrs_.push_back(n);
    }
    for (Arch a : f.arches()) audits_.push_back(ward::detail::audit_arch(a));
  }

  seccomp_data next() {
    seccomp_data d{};
    const auto pick = rng_() % 100;
    d.arch = pick < 80   ? audits_[rng_() % audits_.size()]
             : pick < 95 ? kArchValues[rng_() % std::size(kArchValues)]
                         : static_cast<std::uint32_t>(rng_());
    const auto n = rng_() % 100;
    std::uint32_t nr = nrs_[rng_() % nrs_.size()];
    if (n < 15) nr += static_cast<std::uint32_t>(rng_() % 5) - 2;
    if (n >= 15 && n < 20) nr = static_cast<std::uint32_t>(rng_() % 600);
    if (n >= 20 && n < 25) nr = static_cast<std::uint32_t>(rng_() % 600) | 0x40000000u;
    if (n == 25) nr = static_cast<std::uint32_t>(rng_());
    d.nr = static_cast<int>(nr);
    d.instruction_pointer = rng_();
    for (auto& a : d.args) {
      const auto k = rng_() % 10;
      if (k < 6) {
        a = values_[rng_() % values_.size()];
      } else if (k < 8) {
        a = rng_() & 0xffffffffu;
      } else {
        a = rng_();
      }
    }
    return d;
  }

  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
  std::vector<std::uint32_t> nrs_;
  std::vector<std::uint64_t> values_;
  std::vector<std::uint32_t> audits_;
};

struct Tally {
  std::uint64_t checked = 0;
  std::uint64_t lib_checked = 0;
  std::uint64_t lib_disagree = 0;
  std::uint64_t lib_sets_refused = 0;
  std::map<std::string, std::uint64_t> lib_kinds;
  std::vector<std::string> examples;
};

std::string describe(const seccomp_data& d) {
  std::string s = "arch=" + ward::detail::hex64(d.arch) +
                  " nr=" + ward::detail::hex64(static_cast<std::uint32_t>(d.nr)) + " args=";
  for (int i = 0; i < 6; ++i) s += (i ? "," : "") + ward::detail::hex64(d.args[i]);
  return s;
}

// Compares the three on `count` data from `gen` (plus every boundary
// combination for each rule number and arch).
void compare(const SeccompFilter& f, const std::vector<sock_filter>& ward_prog,
             const std::vector<sock_filter>* lib_prog, DataGen& gen, std::uint64_t count, Tally& t,
             const std::string& profile) {
  const SeccompOracle oracle(f);
  auto one = [&](const seccomp_data& d) {
    const std::uint32_t want = oracle.decide(d);
    const std::uint32_t got = ward::detail::bpf_run_validated(ward_prog, d);
    ++t.checked;
    if (got != want) {
      INFO(profile << ": " << describe(d) << "\n" << f.disassemble());
      REQUIRE(ward::detail::seccomp_action_string(got) ==
              ward::detail::seccomp_action_string(want));
    }
    if (lib_prog) {
      ++t.lib_checked;
      const std::uint32_t lib = ward::detail::bpf_run_validated(*lib_prog, d);
      if (lib != want) {
        ++t.lib_disagree;
        const auto arch = oracle.arch_of(d);
        std::string kind = arch ? std::string(ward::detail::to_string(*arch)) : "bad-arch";
        bool high = false;
        for (auto a : d.args) high = high || (a >> 32) != 0;
        if (arch && ward::seccomp_args_are_32bit(*arch) && high) kind += ", upper arg bits set";
        ++t.lib_kinds[kind];
        // One example per kind, with the rules.
        if (t.lib_kinds[kind] == 1 && t.examples.size() < 20) {
          t.examples.push_back(profile + ": " + describe(d) +
                               " oracle=" + ward::detail::seccomp_action_string(want) +
                               " libseccomp=" + ward::detail::seccomp_action_string(lib) +
                               "\n    rules: " + ward_test::describe_rules(f));
        }
      }
    }
  };
  // Boundaries: every boundary value in every argument, each rule's number,
  // every arch value.
  std::set<std::uint32_t> nrs;
  for (const auto& r : f.resolved_rules()) nrs.insert(r.nr);
  for (std::uint32_t nr : nrs) {
    for (std::uint32_t arch : kArchValues) {
      for (std::uint64_t b : kBoundaries) {
        seccomp_data d{};
        d.arch = arch;
        d.nr = static_cast<int>(nr);
        for (auto& a : d.args) a = b;
        one(d);
      }
    }
  }
  for (std::uint64_t i = 0; i < count; ++i) one(gen.next());
}

void report(const Tally& t, const char* what) {
  std::cout << what << ": " << t.checked << " seccomp_data checked, ward == oracle on all; "
            << "libseccomp checked on " << t.lib_checked << ", disagreed with the oracle on "
            << t.lib_disagree;
  if (t.lib_sets_refused) std::cout << " (" << t.lib_sets_refused << " rule sets refused)";
  std::cout << "\n";
  for (const auto& [k, n] : t.lib_kinds)
    std::cout << "  libseccomp wrong on " << k << ": " << n << "\n";
  for (const auto& e : t.examples) std::cout << "  e.g. " << e << "\n";
}

}  // namespace

TEST_CASE("seccomp differential: Docker default profile, ward vs libseccomp vs oracle",
          "[seccomp]") {
  const SeccompFilter f = ward_test::docker_filter();
  const auto prog = f.compile();
  Tally t;
  std::optional<std::vector<sock_filter>> lib;
#ifdef WARD_HAVE_LIBSECCOMP
  std::string why;
  lib = ward_test::libseccomp_program(f, 2, &why);
  INFO(why);
  REQUIRE(lib);
  ward::detail::bpf_validate(*lib);
#endif
  DataGen gen(f, 1);
  compare(f, prog, lib ? &*lib : nullptr, gen, static_cast<std::uint64_t>(1'000'000 * scale()), t,
          "docker");
  report(t, "Docker default");
  CHECK(t.checked >= static_cast<std::uint64_t>(1'000'000 * scale()));
}

namespace {

// A random rule set: a few arches, a small pool of system calls (so rules
// pile up on the same call), actions other than the default, up to three
// 64-bit comparisons on distinct arguments.
SeccompFilter random_filter(std::mt19937_64& rng) {
  auto action = [&]() {
    switch (rng() % 8) {
      case 0: return SeccompAction::kill_process();
      case 1: return SeccompAction::kill_thread();
      case 2: return SeccompAction::trap();
      case 3: return SeccompAction::errno_ret(static_cast<int>(rng() % 3 + 1));
      case 4: return SeccompAction::trace(static_cast<std::uint16_t>(rng() % 2));
      case 5: return SeccompAction::log();
      default: return SeccompAction::allow();
    }
  };
  const SeccompAction dflt = action();
  SeccompFilter f(dflt);
  f.ignore_unknown_syscalls(true);  // arm has no mmap, only mmap2
  static constexpr Arch all[] = {Arch::x86_64,  Arch::i386, Arch::x32,
                                 Arch::aarch64, Arch::arm,  Arch::riscv64};
  const auto mask = rng() % 63 + 1;
  for (int i = 0; i < 6; ++i) {
    if (mask & (1u << i)) f.add_arch(all[i]);
  }
  SeccompAction bad = action();
  f.bad_arch_action(bad);
  static constexpr const char* names[] = {"read",  "write", "close", "mmap",
                                          "ioctl", "futex", "clone", "openat"};
  const auto values = [&]() -> std::uint64_t {
    switch (rng() % 6) {
      case 0: return rng() % 4;
      case 1: return kBoundaries[rng() % std::size(kBoundaries)];
      case 2: return (rng() % 3) << 32 | (rng() % 3);
      case 3: return rng() & 0xffffffffu;
      default: return rng();
    }
  };
  const int n = static_cast<int>(rng() % 10 + 1);
  for (int i = 0; i < n; ++i) {
    SeccompAction a = action();
    while (a == dflt) a = action();
    std::vector<ArgCmp> args;
    unsigned used = 0;
    const int k = static_cast<int>(rng() % 4);
    for (int j = 0; j < k; ++j) {
      unsigned idx = static_cast<unsigned>(rng() % 6);
      if (used & (1u << idx)) continue;
      used |= 1u << idx;
      const auto op = static_cast<Cmp>(rng() % 7);
      ArgCmp c{idx, op, values()};
      if (op == Cmp::masked_eq) {
        c.mask = rng() % 3 == 0 ? (rng() % 3 == 0 ? 0xffffffff00000000ull : 0xffull) : rng();
        if (rng() % 2) c.value &= c.mask;
      }
      args.push_back(c);
    }
    f.rule(a, names[rng() % std::size(names)], std::move(args));
  }
  return f;
}

}  // namespace

TEST_CASE("seccomp differential: random rule sets, ward vs libseccomp vs oracle", "[seccomp]") {
  std::mt19937_64 rng(20240601);
  const auto sets = static_cast<int>(2000 * scale()) + 1;
  const std::uint64_t per_set = 500;
  Tally t;
  for (int s = 0; s < sets; ++s) {
    const SeccompFilter f = random_filter(rng);
    const auto prog = f.compile();
    REQUIRE(ward_test::same_program(prog, f.compile()));
    std::optional<std::vector<sock_filter>> lib;
#ifdef WARD_HAVE_LIBSECCOMP
    lib = ward_test::libseccomp_program(f, 2);
    if (lib) {
      ward::detail::bpf_validate(*lib);
    } else {
      ++t.lib_sets_refused;
    }
#endif
    DataGen gen(f, rng());
    compare(f, prog, lib ? &*lib : nullptr, gen, per_set, t, "random set " + std::to_string(s));
  }
  report(t, "random rule sets");
  CHECK(t.checked >= static_cast<std::uint64_t>(sets) * per_set);
}
