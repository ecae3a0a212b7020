// SPDX-License-Identifier: Apache-2.0
// Sandbox::sealed_exec: the program is exec'd from the sealed-memfd
// trampoline, never from the caller's binary (CVE-2019-5736). The attack is
// a program that is a script "#!/proc/self/exe": binfmt_script resolves that
// interpreter in the exec'ing process, so without the trampoline it runs the
// caller's own binary (here: this test binary, which then says "No test
// cases matched"); through the trampoline it runs the trampoline again,
// which refuses it (exit 127). Under a seccomp filter, on every way the
// filter can be installed, the trampoline stays, or the plan is refused
// naming what the filter refuses; it is never dropped silently.
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>

#include "run_util.hpp"
#include "test_util.hpp"

using namespace ward;

namespace {

// nr == `nr` on the native arch -> `action`, anything else -> ALLOW.
std::vector<sock_filter> one_syscall(std::uint32_t nr, std::uint32_t action) {
  using detail::bpf_jump;
  using detail::bpf_stmt;
  const std::uint32_t arch = detail::audit_arch(detail::native_arch());
  return {
      bpf_stmt(BPF_LD | BPF_W | BPF_ABS, detail::seccomp_data_arch),
      bpf_jump(BPF_JMP | BPF_JEQ | BPF_K, arch, 0, 3),
      bpf_stmt(BPF_LD | BPF_W | BPF_ABS, detail::seccomp_data_nr),
      bpf_jump(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
      bpf_stmt(BPF_RET | BPF_K, action),
      bpf_stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
}

// The hostile program: a script whose interpreter is /proc/self/exe.
struct Evil {
  std::string dir, path;
  Evil() {
    char t[] = "/tmp/ward-sealed-XXXXXX";
    REQUIRE(::mkdtemp(t) != nullptr);
    dir = t;
    path = dir + "/evil";
    std::ofstream(path) << "#!/proc/self/exe\n";
    REQUIRE(::chmod(path.c_str(), 0755) == 0);
  }
  ~Evil() {
    ::unlink(path.c_str());
    ::rmdir(dir.c_str());
  }
};

// Runs `sb`; Catch prints its "No test cases matched" on stdout.
ward_test::Run run_all(Sandbox sb) {
  sb.stderr_(Stdio::null());
  return ward_test::run(std::move(sb));
}

void check_sealed(const ward_test::Run& r) {
  INFO("output: " << r.out);
  CHECK(r.status.exit_code() == 127);  // the trampoline refused "#!/proc/self/exe"
  CHECK(r.out.find("test case") == std::string::npos);
}

}  // namespace

TEST_CASE("sealed_exec: a #!/proc/self/exe program runs the trampoline, not the caller's binary") {
  if (!Sandbox::sealed_exec_supported()) WARD_SKIP("no exec trampoline for this architecture");
  Evil evil;
  // The attack, seen to work: without the trampoline this binary runs.
  auto bare = run_all(Sandbox({evil.path}));
  INFO("without sealed_exec: " << bare.out);
  CHECK_THAT(bare.out, Catch::Contains("No test cases matched"));
  check_sealed(run_all(Sandbox({evil.path}).sealed_exec()));
}

TEST_CASE("sealed_exec: the trampoline stays under a seccomp filter, however it is installed") {
  if (!Sandbox::sealed_exec_supported()) WARD_SKIP("no exec trampoline for this architecture");
  Evil evil;
  auto deny_acct = one_syscall(SYS_acct, SECCOMP_RET_ERRNO | EPERM);
  SECTION("installed last, before the exec") {
    check_sealed(run_all(Sandbox({evil.path}).sealed_exec().seccomp(deny_acct)));
  }
  SECTION("installed before the credentials change (SeccompOptions::before_credentials)") {
    check_sealed(run_all(Sandbox({evil.path})
                             .sealed_exec()
                             .seccomp(deny_acct, SeccompOptions{.before_credentials = true})));
  }
  SECTION("a filter that refuses execveat: the exec gate lets the trampoline's through, once") {
    check_sealed(run_all(Sandbox({evil.path})
                             .sealed_exec()
                             .seccomp(one_syscall(SYS_execveat, SECCOMP_RET_ERRNO | EPERM))));
  }
}

TEST_CASE("sealed_exec: a filter that refuses what the trampoline needs fails the plan, named") {
  if (!Sandbox::sealed_exec_supported()) WARD_SKIP("no exec trampoline for this architecture");
  Evil evil;
  auto refused = [&](std::uint32_t nr, SeccompOptions o = {}) -> std::string {
    try {
      (void)Sandbox({evil.path})
          .sealed_exec()
          .seccomp(one_syscall(nr, SECCOMP_RET_ERRNO | EPERM), o)
          .plan();
    } catch (const Error& e) {
      return e.what();
    }
    return "(planned)";
  };
  // What the trampoline itself calls, under any install.
  CHECK_THAT(refused(SYS_execve), Catch::Contains("sealed_exec") && Catch::Contains("execve of"));
  CHECK_THAT(refused(SYS_fcntl), Catch::Contains("sealed_exec") && Catch::Contains("fcntl"));
  CHECK_THAT(refused(SYS_prctl), Catch::Contains("sealed_exec") && Catch::Contains("prctl"));
  // Installed early there is no exec gate: the execveat must pass as well.
  CHECK_THAT(refused(SYS_execveat, SeccompOptions{.before_credentials = true}),
             Catch::Contains("sealed_exec") && Catch::Contains("execveat of the trampoline"));
  CHECK_THAT(refused(SYS_write, SeccompOptions{.before_credentials = true}),
             Catch::Contains("sealed_exec") && Catch::Contains("write"));
  CHECK_THAT(refused(SYS_dup3, SeccompOptions{.before_credentials = true}),
             Catch::Contains("dup3"));
  // Nothing refused: planned.
  CHECK(refused(SYS_acct, SeccompOptions{.before_credentials = true}) == "(planned)");
}
