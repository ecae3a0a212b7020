// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for ward's seccomp compiler: the input bytes describe a
// rule set (arches, actions, rules by number with comparisons, including on
// the same argument twice and actions equal to the default) and then
// seccomp_data; ward's compiled program must decide every one of them as
// the oracle (tests/common/seccomp_oracle.hpp) does. Aborts on a mismatch.
//   build/bin/ward_seccomp_fuzz -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <ward/detail/bpf.hpp>
#include <ward/seccomp.hpp>

#include "seccomp_oracle.hpp"

namespace {

class Bytes {
 public:
  Bytes(const std::uint8_t* d, std::size_t n) : d_(d), n_(n) {}
  bool empty() const { return i_ >= n_; }
  std::uint8_t u8() { return i_ < n_ ? d_[i_++] : 0; }
  std::uint32_t u32() {
    std::uint32_t v = 0;
    for (int k = 0; k < 4; ++k) v = v << 8 | u8();
    return v;
  }
  std::uint64_t u64() { return std::uint64_t{u32()} << 32 | u32(); }
  // A 64-bit value biased towards boundaries and small numbers.
  std::uint64_t value() {
    switch (u8() % 8) {
      case 0: return u8() % 4;
      case 1: return 0xffffffffull + (u8() % 3) - 1;
      case 2: return ~std::uint64_t{0} - (u8() % 2);
      case 3: return std::uint64_t{0x80000000} << (u8() % 2 ? 32 : 0);
      case 4: return u32();
      default: return u64();
    }
  }

 private:
  const std::uint8_t* d_;
  std::size_t n_, i_ = 0;
};

ward::SeccompAction action(Bytes& b) {
  switch (b.u8() % 8) {
    case 0: return ward::SeccompAction::kill_process();
    case 1: return ward::SeccompAction::kill_thread();
    case 2: return ward::SeccompAction::trap();
    case 3: return ward::SeccompAction::errno_ret(b.u8() % 4);
    case 4: return ward::SeccompAction::user_notif();
    case 5: return ward::SeccompAction::trace(b.u8() % 2);
    case 6: return ward::SeccompAction::log();
    default: return ward::SeccompAction::allow();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Bytes b(data, size);
  ward::SeccompFilter f(action(b));
  f.bad_arch_action(action(b));
  const unsigned arch_mask = b.u8();
  static constexpr ward::Arch all[] = {ward::Arch::x86_64,  ward::Arch::i386, ward::Arch::x32,
                                       ward::Arch::aarch64, ward::Arch::arm,  ward::Arch::riscv64};
  std::vector<ward::Arch> arches;
  for (int i = 0; i < 6; ++i) {
    if (arch_mask & (1u << i)) {
      f.add_arch(all[i]);
      arches.push_back(all[i]);
    }
  }
  if (arches.empty()) arches.push_back(ward::detail::native_arch());
  std::vector<std::uint32_t> nrs;
  const int rules = b.u8() % 24;
  for (int r = 0; r < rules && !b.empty(); ++r) {
    const ward::SeccompAction a = action(b);
    const ward::Arch arch = arches[b.u8() % arches.size()];
    std::uint32_t nr = b.u8() % 8;  // few numbers: rules pile up
    if (b.u8() % 4 == 0) nr = b.u32() & 0x3fffffff;
    if (arch == ward::Arch::x32) nr |= ward::x32_syscall_bit;
    nrs.push_back(nr);
    std::vector<ward::ArgCmp> args;
    const int n = b.u8() % 4;
    for (int i = 0; i < n; ++i) {
      ward::ArgCmp c{static_cast<unsigned>(b.u8() % 6), static_cast<ward::Cmp>(b.u8() % 7),
                     b.value()};
      if (c.op == ward::Cmp::masked_eq) c.mask = b.value();
      args.push_back(c);
    }
    f.rule(a, arch, nr, std::move(args));
  }
  const std::vector<sock_filter> prog = f.compile();
  ward::detail::bpf_validate(prog);
  const ward_test::SeccompOracle oracle(f);
  for (int i = 0; i < 64 && !b.empty(); ++i) {
    seccomp_data d{};
    const auto sel = b.u8();
    d.arch = sel % 8 < 6 ? ward::detail::audit_arch(all[sel % 8]) : b.u32();
    d.nr = static_cast<int>(nrs.empty() || sel & 0x80 ? b.u32() : nrs[b.u8() % nrs.size()]);
    if (sel & 0x40) d.nr = static_cast<int>(static_cast<std::uint32_t>(d.nr) ^ 0x40000000u);
    for (auto& a : d.args) a = b.value();
    const std::uint32_t want = oracle.decide(d);
    const std::uint32_t got = ward::detail::bpf_run_validated(prog, d);
    if (want != got) {
      std::fprintf(stderr, "mismatch: arch %#x nr %#x: ward %#x oracle %#x\n%s\n", d.arch,
                   static_cast<unsigned>(d.nr), got, want, f.disassemble().c_str());
      std::abort();
    }
  }
  return 0;
}
