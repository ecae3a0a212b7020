// SPDX-License-Identifier: Apache-2.0
// The BPF model against the real kernel: programs are installed with
// seccomp(SECCOMP_SET_MODE_FILTER) in a forked child and what getppid(2)
// returns there is compared with what bpf_run() predicts for the same
// seccomp_data; and programs bpf_validate() rejects must get EINVAL from the
// kernel. No privileges needed: PR_SET_NO_NEW_PRIVS is enough to install a
// filter (seccomp(2)), so this is a unit test.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <ward/detail/bpf.hpp>
#include <ward/detail/syscall_tables.hpp>

#include <catch2/catch.hpp>

#include "test_util.hpp"

using namespace ward::detail;

namespace {

using Prog = std::vector<sock_filter>;

struct Outcome {
  long ret;
  int err;
};

// Child: no_new_privs, install `prog`, then getppid(a0, a1, ...) per case,
// sending each (return value, errno) back over a pipe. Returns nothing if
// the child died (a kill action, or installation failed: exit status 3).
std::vector<Outcome> kernel_outcomes(
    const Prog& prog, const std::vector<std::pair<std::uint64_t, std::uint64_t>>& args,
    int* install_errno = nullptr) {
  int p[2];
  REQUIRE(::pipe(p) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(p[0]);
    sock_fprog fprog{static_cast<unsigned short>(prog.size()),
                     const_cast<sock_filter*>(prog.data())};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(2);
    if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) {
      const int e = errno;
      if (::write(p[1], &e, sizeof e) != sizeof e) ::_exit(4);
      ::_exit(3);
    }
    for (const auto& [a0, a1] : args) {
      errno = 0;
      Outcome o{::syscall(SYS_getppid, a0, a1, 0, 0, 0, 0), 0};
      o.err = errno;
      if (::write(p[1], &o, sizeof o) != sizeof o) ::_exit(4);
    }
    ::_exit(0);
  }
  ::close(p[1]);
  std::vector<Outcome> out;
  int install_err = 0;
  bool install_failed = false;
  for (;;) {
    Outcome o;
    const ssize_t n = ::read(p[0], &o, sizeof o);
    if (n == sizeof o) {
      out.push_back(o);
    } else if (n == sizeof(int)) {
      std::memcpy(&install_err, &o, sizeof install_err);
      install_failed = true;
    } else {
      break;
    }
  }
  ::close(p[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  if (install_errno) *install_errno = install_failed ? install_err : 0;
  if (!install_errno) {
    INFO("child status " << status << ", install errno " << install_err);
    CHECK(WIFEXITED(status));
  }
  return out;
}

// What the kernel does with a SECCOMP_RET_* value for getppid: ALLOW runs it
// (our pid, from the child), ERRNO(n) fails with n (capped at MAX_ERRNO 4095,
// kernel/seccomp.c __seccomp_filter(); 0 means "return 0").
Outcome predicted(std::uint32_t action) {
  if ((action & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ALLOW) return {::getpid(), 0};
  REQUIRE((action & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ERRNO);
  const int data = static_cast<int>(std::min<std::uint32_t>(action & SECCOMP_RET_DATA, 4095));
  if (data == 0) return {0, 0};
  return {-1, data};
}

seccomp_data data_for(std::uint64_t a0, std::uint64_t a1) {
  seccomp_data d{};
  d.nr = static_cast<int>(SYS_getppid);
  d.arch = audit_arch(native_arch());
  d.args[0] = a0;
  d.args[1] = a1;
  return d;
}

void compare(const Prog& prog, const std::vector<std::pair<std::uint64_t, std::uint64_t>>& args) {
  REQUIRE_NOTHROW(bpf_validate(prog));
  const auto got = kernel_outcomes(prog, args);
  REQUIRE(got.size() == args.size());
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::uint32_t action = bpf_run(prog, data_for(args[i].first, args[i].second));
    const Outcome want = predicted(action);
    INFO("getppid(" << std::hex << args[i].first << ", " << args[i].second << std::dec
                    << "): predicted " << seccomp_action_string(action));
    CHECK(got[i].ret == want.ret);
    CHECK(got[i].err == want.err);
  }
}

// Arch check, then for getppid: ERRNO(11) if args[0] == 0x1deadbeef, else
// ERRNO(args[1] & 0xff) computed in A, with 0 meaning ALLOW.
Prog arg_program() {
  const std::uint32_t getppid = *syscall_nr(native_arch(), "getppid");
  return {
      bpf_stmt(BPF_LD | BPF_W | BPF_ABS, seccomp_data_arch),
      bpf_jump(BPF_JMP | BPF_JEQ | BPF_K, audit_arch(native_arch()), 0, 13),
      bpf_stmt(BPF_LD | BPF_W | BPF_ABS, seccomp_data_nr),
      bpf_jump(BPF_JMP | BPF_JEQ | BPF_K, getppid, 0, 9),
      bpf_stmt(BPF_LD | BPF_W | BPF_ABS, seccomp_data_arg_hi(0)),
      bpf_jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 2),
      bpf_stmt(BPF_LD | BPF_W | BPF_ABS, seccomp_data_arg_lo(0)),
      bpf_jump(BPF_JMP | BPF_JEQ | BPF_K, 0xdeadbeef, 6, 0),
      bpf_stmt(BPF_LD | BPF_W | BPF_ABS, seccomp_data_arg_lo(1)),
      bpf_stmt(BPF_ALU | BPF_AND | BPF_K, 0xff),
      bpf_jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 2, 0),
      bpf_stmt(BPF_ALU | BPF_OR | BPF_K, SECCOMP_RET_ERRNO),
      bpf_stmt(BPF_RET | BPF_A, 0),
      bpf_stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      bpf_stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 11),
      bpf_stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
  };
}

// For getppid: A = (args[1] <op> args[0]) (X form) or (args[1] <op> k),
// through scratch memory, returned as ERRNO(A & 0xfff).
Prog alu_program(std::uint16_t code, std::uint32_t k) {
  const std::uint32_t getppid = *syscall_nr(native_arch(), "getppid");
  return {
      bpf_stmt(BPF_LD | BPF_W | BPF_ABS, seccomp_data_arch),
      bpf_jump(BPF_JMP | BPF_JEQ | BPF_K, audit_arch(native_arch()), 0, 12),
      bpf_stmt(BPF_LD | BPF_W | BPF_ABS, seccomp_data_nr),
      bpf_jump(BPF_JMP | BPF_JEQ | BPF_K, getppid, 1, 0),
      bpf_stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      bpf_stmt(BPF_LD | BPF_W | BPF_ABS, seccomp_data_arg_lo(0)),
      bpf_stmt(BPF_ST, 5),
      bpf_stmt(BPF_LDX | BPF_MEM, 5),
      bpf_stmt(BPF_LD | BPF_W | BPF_ABS, seccomp_data_arg_lo(1)),
      bpf_stmt(code, k),
      bpf_stmt(BPF_ALU | BPF_AND | BPF_K, 0xfff),
      bpf_stmt(BPF_ALU | BPF_OR | BPF_K, SECCOMP_RET_ERRNO),
      bpf_stmt(BPF_MISC | BPF_TAX, 0),
      bpf_stmt(BPF_MISC | BPF_TXA, 0),
      bpf_stmt(BPF_RET | BPF_A, 0),
  };
}

bool seccomp_available() { return ::prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0; }

}  // namespace

TEST_CASE("bpf kernel: argument checks behave as the interpreter predicts") {
  if (!seccomp_available()) WARD_SKIP("seccomp is not available (PR_GET_SECCOMP failed)");
  compare(arg_program(), {{0, 0},
                          {0x1deadbeef, 0},
                          {0xdeadbeef, 0},
                          {0x2deadbeef, 0x105},
                          {0x1deadbeef, 7},
                          {0, 0xff},
                          {0, 0x300},
                          {0xffffffffffffffff, 0xffffffff00000001}});
}

TEST_CASE("bpf kernel: ALU operations behave as the interpreter predicts") {
  if (!seccomp_available()) WARD_SKIP("seccomp is not available (PR_GET_SECCOMP failed)");
  const std::vector<std::pair<std::uint64_t, std::uint64_t>> args = {
      {1, 0x1234}, {3, 0xffffffff}, {31, 0x80000001}, {33, 0x5}, {0x100, 0xabcdef}, {7, 7}};
  for (std::uint16_t op :
       {BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_AND, BPF_OR, BPF_XOR, BPF_LSH, BPF_RSH}) {
    INFO("op " << op);
    compare(alu_program(BPF_ALU | op | BPF_X, 0), args);  // X != 0 in every case
    compare(alu_program(BPF_ALU | op | BPF_K, 3), args);
  }
  compare(alu_program(BPF_ALU | BPF_NEG, 0), args);
}

TEST_CASE("bpf kernel: programs the validator rejects get EINVAL from the kernel") {
  if (!seccomp_available()) WARD_SKIP("seccomp is not available (PR_GET_SECCOMP failed)");
  const auto ret = bpf_stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  const std::vector<Prog> bad = {
      {bpf_jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0), ret},
      {bpf_stmt(BPF_JMP | BPF_JA, 1), ret},
      {bpf_stmt(BPF_LD | BPF_W | BPF_ABS, 0)},
      {bpf_stmt(BPF_LD | BPF_B | BPF_ABS, 0), ret},
      {bpf_stmt(BPF_ALU | BPF_MOD | BPF_K, 3), ret},
      {bpf_stmt(BPF_LD | BPF_W | BPF_ABS, 2), ret},
      {bpf_stmt(BPF_LD | BPF_W | BPF_ABS, 64), ret},
      {bpf_stmt(BPF_ALU | BPF_DIV | BPF_K, 0), ret},
      {bpf_stmt(BPF_ALU | BPF_LSH | BPF_K, 32), ret},
      {bpf_stmt(BPF_ST, 16), ret},
      {bpf_stmt(BPF_LD | BPF_MEM, 0), ret},
      {bpf_jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1), bpf_stmt(BPF_ST, 2),
       bpf_stmt(BPF_LDX | BPF_MEM, 2), ret},
      Prog(BPF_MAXINSNS + 1, ret),
  };
  for (std::size_t i = 0; i < bad.size(); ++i) {
    INFO("bad program " << i << ":\n" << bpf_disasm(bad[i]));
    CHECK_THROWS_AS(bpf_validate(bad[i]), ward::Error);
    int err = -1;
    kernel_outcomes(bad[i], {}, &err);
    CHECK(err == EINVAL);
  }
  // And the edge cases that are fine are fine for both.
  const std::vector<Prog> good = {
      {bpf_stmt(BPF_LD | BPF_W | BPF_ABS, 60), ret},
      {bpf_stmt(BPF_ALU | BPF_LSH | BPF_K, 31), ret},
      {bpf_stmt(BPF_ST, 15), bpf_stmt(BPF_LDX | BPF_MEM, 15), ret},
      Prog(BPF_MAXINSNS, ret),
  };
  for (std::size_t i = 0; i < good.size(); ++i) {
    INFO("good program " << i);
    CHECK_NOTHROW(bpf_validate(good[i]));
    int err = -1;
    kernel_outcomes(good[i], {}, &err);
    CHECK(err == 0);
  }
}
