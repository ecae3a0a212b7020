// SPDX-License-Identifier: Apache-2.0
// ward::seccomp_presets, each tried with real system calls in a child
// (tests/helpers/probe.cpp "syscall NR ARGS": the raw result and errno), and
// Docker's built-in profile compared with the profile file.
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>

#include <filesystem>

#include <ward/oci.hpp>
#include <ward/seccomp_presets.hpp>

#include <catch2/catch.hpp>

#include "run_util.hpp"
#include "seccomp_oracle.hpp"
#include "test_util.hpp"

using namespace ward;
using ward_test::kv;
using ward_test::probe;
using ward_test::run;

namespace {
std::string n(long v) { return std::to_string(v); }
// errno of one raw call under `f` ("0" when it succeeded); "SIGSYS" when
// the filter killed the child.
std::string errno_of(const SeccompFilter& f, std::vector<std::string> call,
                     const char* how = "syscall") {
  call.insert(call.begin(), {probe(), how});
  auto r = run(Sandbox(std::move(call)).seccomp(f));
  if (r.status.signaled())
    return r.status.signal() == SIGSYS ? "SIGSYS" : "signal " + n(r.status.signal());
  REQUIRE(r.status.success());
  return kv(r.out)["errno"];
}
constexpr long kAfVsock = 40;
constexpr long kSockStream = 1;
}  // namespace

TEST_CASE("seccomp presets: compute_only runs a static and a dynamic program, kills the rest") {
  const SeccompFilter f = seccomp_presets::compute_only();
  // Static (busybox-static's applets are one static binary).
  if (std::filesystem::exists("/bin/busybox")) {
    auto r = run(Sandbox({"/bin/busybox", "echo", "static hello"}).seccomp(f));
    INFO(r.status.describe());
    CHECK(r.status.success());
    CHECK(r.out == "static hello\n");
  } else {
    WARN("no /bin/busybox (busybox-static): the static program case is not run");
  }
  // Dynamic: the probe (libstdc++) starts and calls getpid.
  CHECK(errno_of(f, {n(SYS_getpid)}) == "0");
  // Computation and stdio (and reading files) are enough for sort(1).
  auto s = run(Sandbox({"/usr/bin/sort", "/etc/hostname", "/etc/passwd"}).seccomp(f));
  CHECK(s.status.success());
  CHECK(!s.out.empty());
  // Anything else is fatal: a socket, a mkdir, kill of the process group.
  CHECK(errno_of(f, {n(SYS_socket), n(AF_UNIX), n(kSockStream), "0"}) == "SIGSYS");
  CHECK(errno_of(f, {n(SYS_mkdir), "/tmp/x", "0700"}) == "SIGSYS");
  CHECK(errno_of(f, {n(SYS_kill), "0", "0"}) == "SIGSYS");
  // An open for writing is not an open for reading (the path is NULL:
  // EFAULT once seccomp lets it through).
  CHECK(errno_of(f, {n(SYS_openat), n(AT_FDCWD), "0", n(O_RDONLY)}) == n(EFAULT));
  CHECK(errno_of(f, {n(SYS_openat), n(AT_FDCWD), "0", n(O_WRONLY)}) == "SIGSYS");
  CHECK(errno_of(f, {n(SYS_openat), n(AT_FDCWD), "0", n(O_RDONLY | O_CREAT)}) == "SIGSYS");
  // isatty works; other ioctls say "not a terminal".
  CHECK(errno_of(f, {n(SYS_ioctl), "0", n(TCGETS), "0"}) != "SIGSYS");
  CHECK(errno_of(f, {n(SYS_ioctl), "0", n(TIOCSTI), "0"}) == n(ENOTTY));
}

TEST_CASE("seccomp presets: the side-channel set refuses keyrings, vsock, locks, io_uring") {
  for (const SeccompFilter& f :
       {seccomp_presets::isolate_default(), seccomp_presets::compute_only()}) {
    CHECK(errno_of(f, {n(SYS_keyctl), "0", "0"}) == n(ENOSYS));
    CHECK(errno_of(f, {n(SYS_add_key), "0", "0", "0", "0", "0"}) == n(ENOSYS));
    CHECK(errno_of(f, {n(SYS_request_key), "0", "0", "0", "0"}) == n(ENOSYS));
    CHECK(errno_of(f, {n(SYS_socket), n(kAfVsock), n(kSockStream), "0"}) == n(EAFNOSUPPORT));
    CHECK(errno_of(f, {n(SYS_flock), "1", n(LOCK_EX)}) == n(EPERM));
    CHECK(errno_of(f, {n(SYS_fcntl), "1", n(F_SETLK), "0"}) == n(EPERM));
    CHECK(errno_of(f, {n(SYS_fcntl), "1", n(F_OFD_SETLKW), "0"}) == n(EPERM));
    CHECK(errno_of(f, {n(SYS_fcntl), "1", n(F_SETLEASE), "0"}) == n(EPERM));
    CHECK(errno_of(f, {n(SYS_fcntl), "1", n(F_GETFD)}) == "0");
    CHECK(errno_of(f, {n(SYS_io_uring_setup), "1", "0"}) == n(ENOSYS));
    // A foreign architecture (i386's getpid, 20, through int 0x80) is killed.
    CHECK(errno_of(f, {"20"}, "int80") == "SIGSYS");
  }
  // Without the preset, those calls get past seccomp (to the kernel's own answers).
  SeccompFilter open_filter(SeccompAction::allow());
  open_filter.bad_arch_action(SeccompAction::allow());
  CHECK(errno_of(open_filter, {n(SYS_keyctl), "0", "0"}) != n(ENOSYS));
  CHECK(errno_of(open_filter, {n(SYS_fcntl), "1", n(F_GETLK), "0"}) != n(EPERM));
  CHECK(errno_of(open_filter, {"20"}, "int80") == "0");
}

TEST_CASE("seccomp presets: no nested user namespaces") {
  SeccompFilter f(SeccompAction::allow());
  seccomp_presets::deny_nested_user_namespaces(f);
  CHECK(errno_of(f, {n(SYS_unshare), n(CLONE_NEWUSER)}) == n(EPERM));
  CHECK(errno_of(f, {n(SYS_unshare), n(CLONE_NEWUSER | CLONE_NEWNS)}) == n(EPERM));
  CHECK(errno_of(f, {n(SYS_clone), n(CLONE_NEWUSER | SIGCHLD)}) == n(EPERM));
  CHECK(errno_of(f, {n(SYS_clone3), "0", "0"}) == n(ENOSYS));
  CHECK(errno_of(f, {n(SYS_unshare), "0"}) == "0");
  // A real program: util-linux unshare(1) cannot make one either.
  auto r = run(Sandbox({"/usr/bin/unshare", "--user", "/bin/true"}).seccomp(f));
  CHECK(!r.status.success());
  auto ok = run(Sandbox({"/usr/bin/unshare", "--user", "/bin/true"}));
  CHECK(ok.status.success());  // the attack works without the filter
}

TEST_CASE("seccomp presets: Docker's default profile is built in") {
  const SeccompFilter d = seccomp_presets::docker_default();
  // The same program as the rules generated from the fixture
  // (tests/unit/docker_profile_rules.inc, tests/gen_docker_rules.py).
  SeccompFilter generated = ward_test::docker_filter();
  generated.newer_syscall_action(SeccompAction::errno_ret(ENOSYS));  // runc's stub
  CHECK(detail::bpf_disasm(d.compile()) == detail::bpf_disasm(generated.compile()));
  CHECK(errno_of(d, {n(SYS_keyctl), "0"}) == n(EPERM));
  CHECK(errno_of(d, {n(SYS_clone3), "0", "0"}) == n(ENOSYS));
  CHECK(errno_of(d, {n(SYS_socket), n(kAfVsock), n(kSockStream), "0"}) == n(EPERM));
  CHECK(errno_of(d, {n(SYS_getppid)}) == "0");
  // And the decisions of the profile file as ward's OCI loader reads it.
  const auto file = std::filesystem::path(WARD_FIXTURES_DIR) / "docker-default-seccomp.json";
  if (!std::filesystem::exists(file)) WARD_SKIP("fixture " << file << " is absent");
  const auto p = load_seccomp_profile(file);
  const auto a = d.compile(), b = p.filter.compile();
  struct Call {
    std::uint32_t arch;
    std::uint32_t base;
  };
  std::size_t compared = 0;
  for (Call c : {Call{0xC000003E, 0}, Call{0xC000003E, 0x40000000u}, Call{0x40000003, 0}})
    for (std::uint32_t nr = 0; nr < 470; ++nr)
      for (std::uint64_t a0 :
           {std::uint64_t{0}, std::uint64_t{8}, std::uint64_t{38}, std::uint64_t{39},
            std::uint64_t{40}, std::uint64_t{41}, std::uint64_t{0x20000}, std::uint64_t{0xffffffff},
            std::uint64_t{CLONE_NEWUSER}, std::uint64_t{CLONE_NEWNS}}) {
        seccomp_data sd{};
        sd.nr = static_cast<int>(c.base + nr);
        sd.arch = c.arch;
        sd.args[0] = a0;
        INFO("arch " << c.arch << " nr " << sd.nr << " a0 " << a0);
        REQUIRE(detail::bpf_run(a, sd) == detail::bpf_run(b, sd));
        ++compared;
      }
  CHECK(compared == 3 * 470 * 10);
}
