// SPDX-License-Identifier: Apache-2.0
// OCI and Docker seccomp profiles: mapping, errors, and Docker's default
// profile behaving as Docker documents, on live children.
#include <sys/syscall.h>

#include <filesystem>

#include <ward/oci.hpp>

#include <catch2/catch.hpp>

#include "run_util.hpp"
#include "test_util.hpp"

using namespace ward;
using ward_test::kv;
using ward_test::probe;
using ward_test::run;

namespace {
std::filesystem::path docker_profile() {
  return std::filesystem::path(WARD_FIXTURES_DIR) / "docker-default-seccomp.json";
}
std::string errno_of(const SeccompFilter& f, std::vector<std::string> call) {
  call.insert(call.begin(), {probe(), "syscall"});
  auto r = run(Sandbox(std::move(call)).seccomp(f));
  REQUIRE(r.status.success());
  return kv(r.out)["errno"];
}
std::string n(long v) { return std::to_string(v); }
SeccompProfile parse(const std::string& text, SeccompProfileOptions o = {}) {
  auto doc = json::parse(text);
  return seccomp_profile_from_json(doc, o, "config.json", "linux.seccomp");
}
std::string error_of(const std::string& text) {
  try {
    (void)parse(text).filter.compile();
  } catch (const Error& e) {
    return e.what();
  }
  return "accepted";
}
}  // namespace

TEST_CASE("profile: Docker's default profile loads, compiles small, and behaves as documented") {
  if (!std::filesystem::exists(docker_profile()))
    WARD_SKIP("fixture " << docker_profile() << " is absent");
  auto p = load_seccomp_profile(docker_profile());
  CHECK(p.warnings.empty());
  auto prog = p.filter.compile();
  CHECK(prog.size() <= 300);
  // Ordinary programs run.
  auto sh =
      run(Sandbox({"/bin/sh", "-c", "echo hi; ls / >/dev/null && cat /proc/self/status >/dev/null"})
              .seccomp(p.filter));
  CHECK(sh.status.success());
  CHECK(sh.out == "hi\n");
  // The default action: EPERM (defaultErrnoRet 1).
  CHECK(errno_of(p.filter, {n(SYS_keyctl), "0"}) == n(EPERM));
  CHECK(errno_of(p.filter, {n(SYS_acct), "0"}) == n(EPERM));
  // Namespaces and mounts need CAP_SYS_ADMIN, which the default set lacks.
  CHECK(errno_of(p.filter, {n(SYS_unshare), n(CLONE_NEWUSER)}) == n(EPERM));
  CHECK(errno_of(p.filter, {n(SYS_setns), "-1", "0"}) == n(EPERM));
  // clone3 answers ENOSYS, so libc falls back to clone, whose namespace
  // flags are then filtered by argument.
  CHECK(errno_of(p.filter, {n(SYS_clone3), "0", "0"}) == n(ENOSYS));
  // personality: only the listed personas.
  CHECK(errno_of(p.filter, {n(SYS_personality), "0xffffffff"}) == "0");
  CHECK(errno_of(p.filter, {n(SYS_personality), "0x41"}) == n(EPERM));
  // socket: every family but AF_VSOCK (40).
  CHECK(errno_of(p.filter, {n(SYS_socket), "40", "1", "0"}) == n(EPERM));
  CHECK(errno_of(p.filter, {n(SYS_getppid)}) == "0");

  // With CAP_SYS_ADMIN (as `docker run --cap-add SYS_ADMIN`), unshare is allowed.
  SeccompProfileOptions admin;
  admin.capabilities = CapabilitySet::docker_default() | CapabilitySet{CAP_SYS_ADMIN};
  auto pa = load_seccomp_profile(docker_profile(), admin);
  auto us = run(Sandbox({probe(), "syscall", n(SYS_unshare), n(CLONE_NEWUTS)})
                    .unshare(NsSet{NsKind::user})  // so the unshare itself is permitted
                    .seccomp(pa.filter));
  CHECK(kv(us.out)["errno"] == "0");
}

TEST_CASE("profile: OCI linux.seccomp fields map onto the filter") {
  auto p = parse(R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "flags": ["SECCOMP_FILTER_FLAG_LOG"],
    "syscalls": [
      {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 33},
      {"names": ["getpid"], "action": "SCMP_ACT_ERRNO",
       "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_EQ"},
                {"index": 0, "value": 6, "op": "SCMP_CMP_EQ"}]},
      {"names": ["gettid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 44,
       "args": [{"index": 0, "value": 255, "valueTwo": 7, "op": "SCMP_CMP_MASKED_EQ"},
                {"index": 1, "value": 9, "op": "SCMP_CMP_GT"}]},
      {"names": ["no_such_syscall_anywhere"], "action": "SCMP_ACT_KILL"}
    ]})");
  CHECK(p.flags == static_cast<std::uint32_t>(SeccompFlag::log));
  CHECK(p.filter.arches().size() == 3);
  CHECK(errno_of(p.filter, {n(SYS_getppid)}) == "33");
  // Two args on one index: runc makes them separate rules (OR).
  CHECK(errno_of(p.filter, {n(SYS_getpid), "5"}) == n(EPERM));
  CHECK(errno_of(p.filter, {n(SYS_getpid), "6"}) == n(EPERM));
  CHECK(errno_of(p.filter, {n(SYS_getpid), "7"}) == "0");
  // Different indexes: ANDed. (a0 & 0xff) == 7 && a1 > 9.
  CHECK(errno_of(p.filter, {n(SYS_gettid), "0x107", "10"}) == "44");
  CHECK(errno_of(p.filter, {n(SYS_gettid), "0x107", "9"}) == "0");
  CHECK(errno_of(p.filter, {n(SYS_gettid), "0x108", "10"}) == "0");
}

TEST_CASE("profile: bad values are refused with their JSON path") {
  CHECK_THAT(error_of(R"({"syscalls": []})"),
             Catch::Contains("linux.seccomp.defaultAction: required field is missing"));
  CHECK_THAT(error_of(R"({"defaultAction": "SCMP_ACT_NOPE"})"),
             Catch::Contains("linux.seccomp.defaultAction: unknown action \"SCMP_ACT_NOPE\""));
  CHECK_THAT(error_of(R"({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                    "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]})"),
             Catch::Contains("linux.seccomp.syscalls[0].args[0].index"));
  CHECK_THAT(error_of(R"({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": "x"}]})"),
             Catch::Contains("linux.seccomp.syscalls[0].errnoRet: expected an integer"));
  CHECK_THAT(error_of(R"({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_X"]})"),
             Catch::Contains("linux.seccomp.flags[0]: unknown flag"));
  CHECK_THAT(error_of(R"({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                    "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_LIKE"}]}]})"),
             Catch::Contains("linux.seccomp.syscalls[0].args[0].op: unknown comparison"));
}

TEST_CASE("profile: Docker includes and excludes by capability, architecture and kernel") {
  const std::string text = R"({
    "defaultAction": "SCMP_ACT_ERRNO",
    "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
                {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
    "syscalls": [
      {"names": ["getppid"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
      {"names": ["getpid"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
      {"names": ["gettid"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "99.0"}},
      {"names": ["getuid"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "arm64"]}},
      {"names": ["getgid"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["amd64", "arm64"]}}
    ]})";
  auto plain = parse(text);
  SeccompProfileOptions admin_opts;
  admin_opts.capabilities = CapabilitySet{CAP_SYS_ADMIN};
  auto admin = parse(text, admin_opts);
  const auto arch = detail::audit_arch(detail::native_arch());
  auto decide = [&](const SeccompProfile& p, long nr) {
    seccomp_data d{};
    d.nr = static_cast<int>(nr);
    d.arch = arch;
    return p.filter.evaluate(d) & SECCOMP_RET_ACTION_FULL;
  };
  CHECK(decide(plain, SYS_getppid) == SECCOMP_RET_ERRNO);
  CHECK(decide(admin, SYS_getppid) == SECCOMP_RET_ALLOW);
  CHECK(decide(plain, SYS_getpid) == SECCOMP_RET_ALLOW);
  CHECK(decide(admin, SYS_getpid) == SECCOMP_RET_ERRNO);
  CHECK(decide(plain, SYS_gettid) == SECCOMP_RET_ERRNO);
  CHECK(decide(plain, SYS_getuid) == SECCOMP_RET_ALLOW);
  CHECK(decide(plain, SYS_getgid) == SECCOMP_RET_ERRNO);
  // archMap: the native entry and its sub-architectures.
  CHECK(plain.filter.arches().size() == 2);
}
