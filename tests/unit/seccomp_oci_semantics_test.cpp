// SPDX-License-Identifier: Apache-2.0
// What an OCI seccomp profile means beyond its rules, as runc (libseccomp
// plus its -ENOSYS stub) gives it meaning, on filters loaded in live
// children:
//  - the native architecture is always in the filter, listed or not;
//  - system calls newer than the profile (above the largest number it names
//    on an architecture) get ENOSYS instead of the default errno, so libc
//    falls back to the older call, unless the default action lets calls run
//    (runc libcontainer/seccomp/patchbpf/enosys_linux.go).
// And the compiler agrees with the oracle (tests/common/seccomp_oracle.hpp)
// on random filters that use newer_syscall_action.
#include <linux/audit.h>
#include <sys/syscall.h>

#include <random>
#include <string>
#include <vector>

#include <ward/detail/bpf.hpp>
#include <ward/oci.hpp>

#include <catch2/catch.hpp>

#include "run_util.hpp"
#include "seccomp_oracle.hpp"
#include "test_util.hpp"

using namespace ward;
using ward_test::kv;
using ward_test::probe;
using ward_test::run;

namespace {

SeccompProfile parse(const std::string& text) {
  auto doc = json::parse(text);
  return seccomp_profile_from_json(doc, {}, "config.json", "linux.seccomp");
}

std::string n(long v) { return std::to_string(v); }

// The probe's `mode` ("syscall", "x32", "int80") of `nr` under `f`: the
// errno it saw, or "signal N" when it died of one.
std::string call(const SeccompFilter& f, const std::string& mode, long nr,
                 std::vector<std::string> args = {}) {
  std::vector<std::string> argv = {probe(), mode, n(nr)};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run(Sandbox(std::move(argv)).seccomp(f));
  if (r.status.signaled()) return "signal " + n(r.status.signal());
  REQUIRE(r.status.success());
  return kv(r.out)["errno"];
}

// A JSON array of every name in `arch`'s table numbered at most `max`,
// except `skip`: enough for a program to run under a deny-by-default
// profile whose largest named call is `max`.
std::string names_up_to(Arch arch, std::uint32_t max, const std::vector<std::string>& skip) {
  std::string out = "[";
  for (const auto& s : detail::syscalls(arch)) {
    if (s.nr > max) continue;
    if (std::find(skip.begin(), skip.end(), std::string(s.name)) != skip.end()) continue;
    if (out.size() > 1) out += ",";
    out += "\"" + std::string(s.name) + "\"";
  }
  return out + "]";
}

seccomp_data data(std::uint32_t audit, std::uint32_t nr) {
  seccomp_data d{};
  d.arch = audit;
  d.nr = static_cast<int>(nr);
  return d;
}

}  // namespace

TEST_CASE("seccomp profile: the native architecture is in the filter when architectures omits it") {
#if !defined(__x86_64__)
  WARD_SKIP("x86_64 only (the profiles name x86 and aarch64 as the foreign ones)");
#else
  // Before: only the listed architectures were in the filter, and the first
  // native call got the bad-arch action (KILL_PROCESS: SIGSYS, exit 159).
  for (const char* arch : {"SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"}) {
    INFO(arch);
    auto p =
        parse(std::string(R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": [")") + arch +
              R"("], "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO",
                   "errnoRet": 33}]})");
    CHECK(p.warnings.empty());
    const auto arches = p.filter.arches();
    CHECK(std::find(arches.begin(), arches.end(), Arch::x86_64) != arches.end());
    // Native calls are decided by the profile's rules.
    CHECK(call(p.filter, "syscall", SYS_getppid) == "33");
    CHECK(call(p.filter, "syscall", SYS_getpid) == "0");
    auto sh = run(Sandbox({"/bin/sh", "-c", "echo ok"}).seccomp(p.filter));
    CHECK(sh.status.success());
    CHECK(sh.out == "ok\n");
  }
  // The listed foreign one keeps its own table: i386 getppid is 64.
  auto p = parse(R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"],
      "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 34}]})");
  auto i386 = run(Sandbox({probe(), "int80", "64"}).seccomp(p.filter));
  if (i386.status.signaled()) WARD_SKIP("int 0x80 is not available (no IA32 emulation)");
  CHECK(kv(i386.out)["errno"] == "34");
  // An architecture the profile does not list still gets the bad-arch
  // action: x32 here.
  CHECK(call(p.filter, "x32", SYS_getppid) == "signal " + n(SIGSYS));
#endif
}

TEST_CASE(
    "seccomp profile: system calls newer than the profile get ENOSYS, older unlisted ones the "
    "default errno") {
#if !defined(__x86_64__)
  WARD_SKIP("x86_64 only (the numbers below are x86_64's)");
#else
  // Deny by default (EPERM); allow everything up to clone3 (435) but
  // getppid. faccessat2 (439) and epoll_pwait2 (441) are newer than the
  // profile: ENOSYS, so libc would fall back (faccessat2 -> faccessat).
  // Before: EPERM, which a program takes for "forbidden".
  const std::string names = names_up_to(Arch::x86_64, 435, {"getppid"});
  auto p = parse(R"({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
      "syscalls": [{"names": )" +
                 names + R"(, "action": "SCMP_ACT_ALLOW"}]})");
  REQUIRE(p.filter.newer_syscall_action() == SeccompAction::errno_ret(ENOSYS));
  CHECK(call(p.filter, "syscall", SYS_faccessat2, {"-100", "0", "0", "0"}) == n(ENOSYS));
  CHECK(call(p.filter, "syscall", 441) == n(ENOSYS));
  CHECK(call(p.filter, "syscall", 0x3fffffff) == n(ENOSYS));  // the top of the x86_64 range
  // A gap below the largest named call keeps the default action.
  CHECK(call(p.filter, "syscall", SYS_getppid) == n(EPERM));
  // The named calls themselves are untouched.
  CHECK(call(p.filter, "syscall", SYS_getpid) == "0");
  // x32 is not in this filter: bad-arch action, stub or not (runc: the
  // stub's x86_64 section skips numbers with the x32 bit).
  CHECK(call(p.filter, "x32", SYS_faccessat2) == "signal " + n(SIGSYS));

  // A killing default: the newer calls still get ENOSYS, the unlisted
  // older ones the kill (runc: the stub is skipped only for ALLOW, LOG and
  // TRACE).
  auto k = parse(R"({"defaultAction": "SCMP_ACT_KILL_PROCESS", "syscalls": [{"names": )" + names +
                 R"(, "action": "SCMP_ACT_ALLOW"}]})");
  CHECK(call(k.filter, "syscall", SYS_faccessat2, {"-100", "0", "0", "0"}) == n(ENOSYS));
  CHECK(call(k.filter, "syscall", SYS_getppid) == "signal " + n(SIGSYS));
#endif
}

TEST_CASE(
    "seccomp profile: x32 calls newer than the profile's x32 names get ENOSYS, counted apart "
    "from x86_64's") {
#if !defined(__x86_64__)
  WARD_SKIP("x86_64 only");
#else
  // A profile names calls by name: x32 gets the x32 numbers of the same
  // names, and its own largest one (x32's compat calls sit at 512..547, so
  // a profile naming rt_sigaction has an x32 largest above x86_64's).
  const std::string names = names_up_to(Arch::x86_64, 435, {});
  auto p = parse(R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 77,
      "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
      "syscalls": [{"names": )" +
                 names + R"(, "action": "SCMP_ACT_ALLOW"},
                   {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 55}]})");
  // getppid is in `names` too: the ERRNO rule ranks higher (seccomp(2)).
  CHECK(call(p.filter, "x32", SYS_getppid) == "55");
  CHECK(call(p.filter, "x32", 600) == n(ENOSYS));  // above every x32 number
  CHECK(call(p.filter, "syscall", 441) == n(ENOSYS));

  // By number: x32's largest is getppid (0x40000000|110), x86_64's 435. So
  // x32 getuid (102) is a gap (default), x32 gettid (186) newer (ENOSYS),
  // while x86_64 gettid is named. The filter decides before the kernel
  // looks at the x32 bit, so this holds on kernels without x32 too (where
  // an x32 call the filter lets run fails with ENOSYS as well, which is why
  // the x32 calls checked here are ones the filter refuses).
  SeccompFilter f(SeccompAction::errno_ret(77));
  f.add_arch(Arch::x86_64).add_arch(Arch::x32);
  f.newer_syscall_action(SeccompAction::errno_ret(ENOSYS));
  for (const auto& s : detail::syscalls(Arch::x86_64))
    if (s.nr <= 435) f.rule(SeccompAction::allow(), Arch::x86_64, s.nr);
  f.rule(SeccompAction::errno_ret(56), Arch::x32, 0x40000000u | SYS_getpid);
  f.rule(SeccompAction::errno_ret(55), Arch::x32, 0x40000000u | SYS_getppid);
  CHECK(call(f, "x32", SYS_getpid) == "56");
  CHECK(call(f, "x32", SYS_getuid) == "77");       // 102: a gap below 110
  CHECK(call(f, "x32", SYS_gettid) == n(ENOSYS));  // 186: above 110
  CHECK(call(f, "syscall", SYS_gettid) == "0");    // x86_64: named
  CHECK(call(f, "syscall", 441) == n(ENOSYS));     // x86_64: above 435
#endif
}

TEST_CASE(
    "seccomp profile: no ENOSYS for newer calls when the default lets calls run or already is "
    "ENOSYS") {
  // runc generatePatch(): ALLOW, LOG and TRACE defaults are "permissive"
  // (a tracer should handle future calls itself); a default of ERRNO(ENOSYS)
  // needs no stub. NOTIFY as default is refused elsewhere (config.hpp).
  for (const char* d : {R"("SCMP_ACT_ALLOW")", R"("SCMP_ACT_LOG")", R"("SCMP_ACT_TRACE")",
                        R"("SCMP_ACT_ERRNO", "defaultErrnoRet": 38)"}) {
    INFO(d);
    auto p = parse(std::string(R"({"defaultAction": )") + d +
                   R"(, "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL"}]})");
    CHECK_FALSE(p.filter.newer_syscall_action());
  }
  for (const char* d : {"SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                        "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP"}) {
    INFO(d);
    auto p = parse(std::string(R"({"defaultAction": ")") + d +
                   R"(", "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ALLOW"}]})");
    CHECK(p.filter.newer_syscall_action() == SeccompAction::errno_ret(ENOSYS));
  }
  // A profile without rules: nothing is "newer" (runc skips an arch whose
  // largest named call is 0), so every call gets the default.
  auto none = parse(R"({"defaultAction": "SCMP_ACT_ERRNO"})");
  const auto audit = detail::audit_arch(detail::native_arch());
  CHECK(none.filter.evaluate(data(audit, 441)) == (SECCOMP_RET_ERRNO | EPERM));
  CHECK(none.filter.evaluate(data(audit, 0)) == (SECCOMP_RET_ERRNO | EPERM));
}

TEST_CASE(
    "seccomp profile: filters with newer_syscall_action agree with the oracle on random calls") {
  std::mt19937_64 rng(20260601);
  static constexpr Arch all[] = {Arch::x86_64,  Arch::i386, Arch::x32,
                                 Arch::aarch64, Arch::arm,  Arch::riscv64};
  static constexpr const char* names[] = {"read",    "write",      "close",       "mmap",
                                          "ioctl",   "futex",      "clone3",      "openat",
                                          "getppid", "faccessat2", "epoll_pwait2"};
  std::uint64_t checked = 0;
  for (int s = 0; s < 300; ++s) {
    SeccompFilter f(rng() % 2 ? SeccompAction::errno_ret(1) : SeccompAction::kill_process());
    f.ignore_unknown_syscalls(true);
    const auto mask = rng() % 63 + 1;
    for (int i = 0; i < 6; ++i)
      if (mask & (1u << i)) f.add_arch(all[i]);
    f.bad_arch_action(SeccompAction::errno_ret(99));
    f.newer_syscall_action(SeccompAction::errno_ret(ENOSYS));
    const int k = static_cast<int>(rng() % 5);  // 0: no rules at all
    for (int i = 0; i < k; ++i) {
      std::vector<ArgCmp> args;
      if (rng() % 3 == 0) args.push_back(arg(0) == rng() % 3);
      f.rule(rng() % 2 ? SeccompAction::allow() : SeccompAction::errno_ret(5),
             names[rng() % std::size(names)], args);
    }
    const auto prog = f.compile();
    const ward_test::SeccompOracle oracle(f);
    std::vector<std::uint32_t> nrs = {0, 1, 0x3fffffffu, 0x40000000u, 0x7fffffffu, 0xffffffffu};
    for (const auto& r : f.resolved_rules())
      for (std::uint32_t d : {0u, 1u, 2u}) nrs.push_back(r.nr + d - 1);
    std::vector<std::uint32_t> audits;
    for (Arch a : f.arches()) audits.push_back(detail::audit_arch(a));
    audits.push_back(0x12345678u);
    for (int i = 0; i < 300; ++i) {
      seccomp_data d{};
      d.arch = audits[rng() % audits.size()];
      d.nr =
          static_cast<int>(rng() % 2 ? nrs[rng() % nrs.size()] : static_cast<std::uint32_t>(rng()));
      d.args[0] = rng() % 4;
      INFO(ward_test::describe_rules(f) << " nr " << d.nr << " arch " << d.arch);
      REQUIRE(detail::bpf_run(prog, d) == oracle.decide(d));
      ++checked;
    }
  }
  CHECK(checked == 300 * 300);
}
