// SPDX-License-Identifier: Apache-2.0
// Seccomp filters installed by Sandbox, on the live kernel. The programs are
// written by hand here (the compiler has its own tests), so these check the
// installation path: order, no_new_privs, the exec gate, the listener.
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include <catch2/catch.hpp>

#include "run_util.hpp"
#include "test_util.hpp"

using namespace ward;
using ward_test::kv;
using ward_test::probe;
using ward_test::run;

namespace {
using detail::bpf_jump;
using detail::bpf_stmt;

// nr == `nr` on the native arch -> `action`, anything else -> ALLOW.
std::vector<sock_filter> one_syscall(std::uint32_t nr, std::uint32_t action) {
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
std::string nr(long n) { return std::to_string(n); }
}  // namespace

TEST_CASE("seccomp: a denied syscall returns the configured errno") {
  auto r = run(Sandbox({probe(), "syscall", nr(SYS_getppid)})
                   .seccomp(one_syscall(SYS_getppid, SECCOMP_RET_ERRNO | 42)));
  REQUIRE(r.status.success());
  auto out = kv(r.out);
  CHECK(out["ret"] == "-1");
  CHECK(out["errno"] == "42");
  // and other calls are untouched
  auto ok = kv(run(Sandbox({probe(), "syscall", nr(SYS_getpid)})
                       .seccomp(one_syscall(SYS_getppid, SECCOMP_RET_ERRNO | 42)))
                   .out);
  CHECK(ok["errno"] == "0");
}

TEST_CASE("seccomp: KILL_PROCESS kills with SIGSYS") {
  auto r = run(Sandbox({probe(), "syscall", nr(SYS_getppid)})
                   .seccomp(one_syscall(SYS_getppid, SECCOMP_RET_KILL_PROCESS)));
  CHECK(r.status.signaled());
  CHECK(r.status.signal() == SIGSYS);
}

TEST_CASE("seccomp: TRAP delivers SIGSYS with si_syscall set") {
  auto r = run(Sandbox({probe(), "trap", nr(SYS_getppid)})
                   .seccomp(one_syscall(SYS_getppid, SECCOMP_RET_TRAP | 5)));
  REQUIRE(r.status.success());
  CHECK_THAT(r.out, Catch::StartsWith("sigsys syscall=" + nr(SYS_getppid)));
  CHECK_THAT(r.out, Catch::Contains("errno=5"));  // SECCOMP_RET_DATA arrives in si_errno
}

TEST_CASE("seccomp: LOG allows the call") {
  auto r = run(Sandbox({probe(), "syscall", nr(SYS_getppid)})
                   .seccomp(one_syscall(SYS_getppid, SECCOMP_RET_LOG)));
  CHECK(kv(r.out)["errno"] == "0");
}

TEST_CASE("seccomp: no_new_privs is set with a filter, and only then") {
  auto with = run(Sandbox({"/bin/grep", "NoNewPrivs", "/proc/self/status"})
                      .seccomp(one_syscall(SYS_getppid, SECCOMP_RET_ERRNO | 1)));
  CHECK_THAT(with.out, Catch::Contains("1"));
  auto without = run(Sandbox({"/bin/grep", "NoNewPrivs", "/proc/self/status"}));
  CHECK_THAT(without.out, Catch::Contains("0"));
  auto mode = run(Sandbox({"/bin/grep", "^Seccomp:", "/proc/self/status"})
                      .seccomp(one_syscall(SYS_getppid, SECCOMP_RET_ERRNO | 1)));
  CHECK_THAT(mode.out, Catch::Contains("2"));  // SECCOMP_MODE_FILTER
}

TEST_CASE("seccomp: before_credentials loads the filter while CAP_SYS_ADMIN is held, without NNP") {
  if (!ward_test::userns_allowed()) WARD_SKIP("user namespaces are not allowed here");
  // In a user namespace the child starts with every capability; it drops
  // them all and keeps no_new_privs off, so only an early filter can load.
  auto sb = [](bool early) {
    SeccompOptions o;
    o.before_credentials = early;
    Sandbox s({"/bin/grep", "-E", "^(NoNewPrivs|Seccomp|CapEff):", "/proc/self/status"});
    s.unshare(NsKind::user)
        .capabilities(Capabilities{})
        .no_new_privs(false)
        .seccomp(one_syscall(SYS_getppid, SECCOMP_RET_ERRNO | 1), o);
    return s;
  };
  auto r = run(sb(true));
  INFO(r.out);
  REQUIRE(r.status.success());
  CHECK_THAT(r.out, Catch::Contains("NoNewPrivs:\t0\n"));
  CHECK_THAT(r.out, Catch::Contains("Seccomp:\t2\n"));
  CHECK_THAT(r.out, Catch::Contains("CapEff:\t0000000000000000"));
  // Installed last, after the drop, the kernel refuses it (seccomp(2): no
  // CAP_SYS_ADMIN and no no_new_privs).
  try {
    run(sb(false));
    FAIL("spawned");
  } catch (const Error& e) {
    CHECK(e.step() == Step::seccomp);
    CHECK(e.code().value() == EACCES);
  }
  // USER_NOTIF needs the late install: refused before any process exists.
  SeccompOptions o;
  o.before_credentials = true;
  CHECK_THROWS_WITH(
      Sandbox({"/bin/true"}).seccomp(one_syscall(SYS_getppid, SECCOMP_RET_USER_NOTIF), o).plan(),
      Catch::Contains("before_credentials"));
}

// A profile that does not list close_range (runtime-tools' default, Docker's
// before 2021) with no_new_privs off: the filter is installed before the
// descriptors are closed, and close_range(2) gets the profile's errno.
// The child must still close everything but what it keeps (#13: before,
// spawn failed "fds close_range: EPERM"). The descriptor below is open
// without O_CLOEXEC, so only the child's closing keeps it out.
TEST_CASE(
    "seccomp: an early filter that denies close_range still closes every descriptor not kept") {
  if (!ward_test::userns_allowed()) WARD_SKIP("user namespaces are not allowed here");
  int leak = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC
  REQUIRE(leak > 2);
  for (int err : {EPERM, ENOSYS, EACCES}) {
    SeccompOptions o;
    o.before_credentials = true;
    Sandbox s({ward_test::probe(), "fds"});
    s.unshare(NsKind::user)
        .capabilities(Capabilities{})
        .no_new_privs(false)
        .seccomp(one_syscall(detail::sys::nr_close_range, SECCOMP_RET_ERRNO | err), o);
    auto r = run(std::move(s));
    INFO("close_range fails with errno " << err << "; the child's descriptors: " << r.out);
    CHECK(r.status.success());
    CHECK(r.out == "0 1 2\n");
  }
  ::close(leak);
}

TEST_CASE("start_gate: a child killed on its way to the gate fails spawn, naming the signal") {
  // A gated child reports "ready" right after it checks its executable with
  // faccessat2(2) (faccessat where that is refused). An early filter that
  // kills on faccessat2 kills it there, without a step to report: spawn()
  // must not hand back a dead child.
  int gate[2];
  REQUIRE(::pipe2(gate, O_CLOEXEC) == 0);
  SeccompOptions o;
  o.before_credentials = true;
  try {
    Sandbox({"/bin/true"})
        .seccomp(one_syscall(SYS_faccessat2, SECCOMP_RET_KILL_PROCESS), o)
        .start_gate(gate[0])
        .spawn();
    FAIL("spawned");
  } catch (const Error& e) {
    CHECK(e.step() == Step::sync);
    CHECK_THAT(e.what(),
               Catch::Contains("start gate") && Catch::Contains("killed by signal 31 (SIGSYS)"));
  }
  CHECK(::waitpid(-1, nullptr, WNOHANG) == -1);  // reaped, not left a zombie
  ::close(gate[0]);
  ::close(gate[1]);
}

TEST_CASE("seccomp: a profile that denies execve still starts the program, once") {
  auto deny_exec = one_syscall(SYS_execve, SECCOMP_RET_ERRNO | EPERM);
  // The program starts: ward lets exactly its own execve through ...
  auto r = run(Sandbox({probe(), "exec", "/bin/true"}).seccomp(deny_exec));
  REQUIRE(r.status.success());
  // ... and every later execve gets the profile's answer.
  CHECK(r.out == "exec-errno=" + nr(EPERM) + "\n");

  // Without the gate, the program cannot start, and spawn() says why.
  try {
    (void)Sandbox({probe(), "exit", "0"})
        .seccomp(deny_exec, SeccompOptions{.allow_initial_exec = false})
        .spawn();
    FAIL("spawn succeeded");
  } catch (const Error& e) {
    CHECK(e.step() == Step::exec);
    CHECK(e.code() == std::errc::operation_not_permitted);
  }
}

TEST_CASE("seccomp: the exec gate works in a new pid namespace (two stages)") {
  if (::geteuid() != 0) WARD_SKIP("needs root for a pid namespace without a user namespace");
  auto deny_exec = one_syscall(SYS_execve, SECCOMP_RET_KILL_PROCESS);
  auto r = run(Sandbox({probe(), "info"})
                   .join(Namespace::current(NsKind::net))
                   .unshare(NsKind::pid)
                   .seccomp(deny_exec));
  REQUIRE(r.status.success());
  CHECK(kv(r.out)["pid"] == "1");
}

TEST_CASE("seccomp: USER_NOTIF round-trips to the supervisor") {
  Child c = Sandbox({probe(), "syscall", nr(SYS_getppid), "7"})
                .seccomp(one_syscall(SYS_getppid, SECCOMP_RET_USER_NOTIF))
                .stdout_(Stdio::pipe())
                .spawn();
  REQUIRE(c.seccomp_listener());
  SeccompListener listener(std::move(c.seccomp_listener()));
  auto n = listener.receive(std::chrono::seconds(10));
  REQUIRE(n);
  CHECK(n->nr() == SYS_getppid);
  CHECK(n->pid == c.pid());
  CHECK(n->arg(0) == 7);
  CHECK(listener.id_valid(n->id));
  listener.respond_value(*n, 4242);
  auto out = kv(ward_test::read_all(c.stdout_pipe().get()));
  CHECK(out["ret"] == "4242");
  CHECK(c.wait().success());
}

TEST_CASE("seccomp: the supervisor reads target memory and injects a descriptor") {
  // openat -> USER_NOTIF: the supervisor reads the path, opens it itself,
  // and puts the result in the target (what an unprivileged runtime does to
  // give a container access to one file).
  Child c = Sandbox({"/bin/cat", "/ward/virtual/file"})
                .seccomp(one_syscall(SYS_openat, SECCOMP_RET_USER_NOTIF))
                .stdout_(Stdio::pipe())
                .spawn();
  SeccompListener listener(std::move(c.seccomp_listener()));
  bool served = false;
  std::thread supervisor([&] {
    while (auto n = listener.receive(std::chrono::seconds(10))) {
      std::string path = listener.read_string(*n, n->arg(1));
      if (path == "/ward/virtual/file") {
        UniqueFd fd(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));  // any readable file
        int pipefd[2];
        REQUIRE(::pipe2(pipefd, O_CLOEXEC) == 0);
        REQUIRE(::write(pipefd[1], "served\n", 7) == 7);
        ::close(pipefd[1]);
        listener.add_fd(*n, pipefd[0], -1, true, /*and_respond=*/true);
        ::close(pipefd[0]);
        served = true;
      } else {
        listener.respond_continue(*n);  // the loader's own opens
      }
    }
  });
  std::string out = ward_test::read_all(c.stdout_pipe().get());
  auto st = c.wait();
  supervisor.join();
  CHECK(served);
  CHECK(out == "served\n");
  CHECK(st.success());
}

TEST_CASE("seccomp: bad programs and flags are refused before any process exists") {
  try {
    (void)Sandbox({probe()}).seccomp({bpf_stmt(BPF_LD | BPF_W | BPF_ABS, 0)}).plan();
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK(e.step() == Step::seccomp);
  }
  auto supported = detail::seccomp_flags_supported();
  CHECK((supported & SECCOMP_FILTER_FLAG_TSYNC) != 0);
  CHECK((supported & SECCOMP_FILTER_FLAG_NEW_LISTENER) != 0);
}

TEST_CASE("seccomp: i386 and x32 calls are decided by their arch") {
#if !defined(__x86_64__)
  WARD_SKIP("x86_64 only");
#else
  // Deny getppid for i386 (nr 64) and x32 (nr 110|X32 bit) callers only.
  std::vector<sock_filter> prog = {
      bpf_stmt(BPF_LD | BPF_W | BPF_ABS, detail::seccomp_data_arch),
      bpf_jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, 0, 3),
      bpf_stmt(BPF_LD | BPF_W | BPF_ABS, detail::seccomp_data_nr),
      bpf_jump(BPF_JMP | BPF_JEQ | BPF_K, 64, 0, 4),
      bpf_stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 11),
      bpf_stmt(BPF_LD | BPF_W | BPF_ABS, detail::seccomp_data_nr),
      bpf_jump(BPF_JMP | BPF_JEQ | BPF_K, 0x40000000u | SYS_getppid, 0, 1),
      bpf_stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 12),
      bpf_stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  auto native = kv(run(Sandbox({probe(), "syscall", nr(SYS_getppid)}).seccomp(prog)).out);
  CHECK(native["errno"] == "0");
  auto i386 = run(Sandbox({probe(), "int80", "64"}).seccomp(prog));
  if (i386.status.signaled()) WARD_SKIP("int 0x80 is not available (no IA32 emulation)");
  CHECK(kv(i386.out)["errno"] == "11");
  auto x32 = kv(run(Sandbox({probe(), "x32", nr(SYS_getppid)}).seccomp(prog)).out);
  CHECK(x32["errno"] == "12");  // the filter decides before the kernel's x32 check
#endif
}

TEST_CASE("seccomp: SeccompFilter rules decide i386 and x32 calls by their own tables") {
#if !defined(__x86_64__)
  WARD_SKIP("x86_64 only");
#else
  SeccompFilter f(SeccompAction::allow());
  f.add_arch(Arch::x86_64).add_arch(Arch::i386).add_arch(Arch::x32);
  f.rule(SeccompAction::errno_ret(11), Arch::i386, 64);                        // i386 getppid
  f.rule(SeccompAction::errno_ret(12), Arch::x32, 0x40000000u | SYS_getppid);  // x32 getppid
  f.rule(SeccompAction::errno_ret(13), "getpid", {arg(0) == 7});
  auto native = kv(run(Sandbox({probe(), "syscall", nr(SYS_getppid)}).seccomp(f)).out);
  CHECK(native["errno"] == "0");
  auto i386 = run(Sandbox({probe(), "int80", "64"}).seccomp(f));
  if (i386.status.signaled()) WARD_SKIP("int 0x80 is not available (no IA32 emulation)");
  CHECK(kv(i386.out)["errno"] == "11");
  auto x32 = kv(run(Sandbox({probe(), "x32", nr(SYS_getppid)}).seccomp(f)).out);
  CHECK(x32["errno"] == "12");
  // An argument rule: only the matching value is refused.
  CHECK(kv(run(Sandbox({probe(), "syscall", nr(SYS_getpid), "7"}).seccomp(f)).out)["errno"] ==
        "13");
  CHECK(kv(run(Sandbox({probe(), "syscall", nr(SYS_getpid), "8"}).seccomp(f)).out)["errno"] == "0");
  // Without x32 in the filter, an x32 call gets the bad-arch action.
  SeccompFilter no_x32(SeccompAction::allow());
  no_x32.add_arch(Arch::x86_64).bad_arch_action(SeccompAction::errno_ret(99));
  CHECK(kv(run(Sandbox({probe(), "x32", nr(SYS_getppid)}).seccomp(no_x32)).out)["errno"] == "99");
#endif
}
