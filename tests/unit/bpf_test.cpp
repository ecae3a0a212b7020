// SPDX-License-Identifier: Apache-2.0
// The classic-BPF model (include/ward/detail/bpf.hpp): interpreter, validator
// and disassembler on hand-written programs. Nothing is installed here; see
// bpf_kernel_test.cpp for the comparison with the kernel.
#include <linux/audit.h>

#include <string>
#include <vector>

#include <ward/detail/bpf.hpp>
#include <ward/error.hpp>

#include <catch2/catch.hpp>

using namespace ward::detail;

namespace {

using Prog = std::vector<sock_filter>;

seccomp_data make_data(int nr, std::uint32_t arch, std::uint64_t a0 = 0, std::uint64_t a1 = 0) {
  seccomp_data d{};
  d.nr = nr;
  d.arch = arch;
  d.instruction_pointer = 0x1122334455667788ull;
  d.args[0] = a0;
  d.args[1] = a1;
  for (int i = 2; i < 6; ++i) d.args[i] = 0x0101010101010101ull * static_cast<unsigned>(i);
  return d;
}

// The program of the examples: on x86_64, getppid(0x1deadbeef, ...) fails with
// EPERM, other arches are killed, everything else is allowed.
Prog example_program() {
  return {
      bpf_stmt(BPF_LD | BPF_W | BPF_ABS, seccomp_data_arch),
      bpf_jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 8),
      bpf_stmt(BPF_LD | BPF_W | BPF_ABS, seccomp_data_nr),
      bpf_jump(BPF_JMP | BPF_JEQ | BPF_K, 110, 0, 4),
      bpf_stmt(BPF_LD | BPF_W | BPF_ABS, seccomp_data_arg_hi(0)),
      bpf_jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 2),
      bpf_stmt(BPF_LD | BPF_W | BPF_ABS, seccomp_data_arg_lo(0)),
      bpf_jump(BPF_JMP | BPF_JEQ | BPF_K, 0xdeadbeef, 1, 0),
      bpf_stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      bpf_stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 1),
      bpf_stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
  };
}

// Runs a program on fixed data and returns what it returns (most of the
// programs below end in `ret A`).
std::uint32_t run(const Prog& p, const seccomp_data& d = make_data(1, 2, 3, 4)) {
  return bpf_run(p, d);
}

std::string rejection(const Prog& p) {
  try {
    bpf_validate(p);
  } catch (const ward::Error& e) {
    CHECK(e.step() == ward::Step::seccomp);
    CHECK(e.code() == std::errc::invalid_argument);
    return e.what();
  }
  return "accepted";
}

}  // namespace

TEST_CASE("bpf: seccomp_data field offsets") {
  CHECK(seccomp_data_nr == 0);
  CHECK(seccomp_data_arch == 4);
  CHECK(seccomp_data_arg_lo(0) + seccomp_data_arg_hi(0) == 16 + 20);
  CHECK(seccomp_data_arg_lo(5) + seccomp_data_arg_hi(5) == 56 + 60);
  CHECK(seccomp_data_ip_lo() + seccomp_data_ip_hi() == 8 + 12);
  const seccomp_data d = make_data(7, 9, 0xaaaaaaaabbbbbbbbull);
  CHECK(run({bpf_stmt(BPF_LD | BPF_W | BPF_ABS, seccomp_data_arg_lo(0)),
             bpf_stmt(BPF_RET | BPF_A, 0)},
            d) == 0xbbbbbbbbu);
  CHECK(run({bpf_stmt(BPF_LD | BPF_W | BPF_ABS, seccomp_data_arg_hi(0)),
             bpf_stmt(BPF_RET | BPF_A, 0)},
            d) == 0xaaaaaaaau);
  CHECK(
      run({bpf_stmt(BPF_LD | BPF_W | BPF_ABS, seccomp_data_ip_hi()), bpf_stmt(BPF_RET | BPF_A, 0)},
          d) == 0x11223344u);
}

TEST_CASE("bpf: arch check, syscall dispatch and 64-bit argument compare") {
  const Prog p = example_program();
  REQUIRE_NOTHROW(bpf_validate(p));
  CHECK(bpf_run(p, make_data(110, AUDIT_ARCH_X86_64, 0x1deadbeefull)) == (SECCOMP_RET_ERRNO | 1));
  // Only the low half matches, only the high half matches, wrong syscall.
  CHECK(bpf_run(p, make_data(110, AUDIT_ARCH_X86_64, 0xdeadbeefull)) == SECCOMP_RET_ALLOW);
  CHECK(bpf_run(p, make_data(110, AUDIT_ARCH_X86_64, 0x1deadbeeeull)) == SECCOMP_RET_ALLOW);
  CHECK(bpf_run(p, make_data(111, AUDIT_ARCH_X86_64, 0x1deadbeefull)) == SECCOMP_RET_ALLOW);
  // Another ABI with the same number is killed before the number is looked at.
  CHECK(bpf_run(p, make_data(110, AUDIT_ARCH_I386, 0x1deadbeefull)) == SECCOMP_RET_KILL_PROCESS);
}

TEST_CASE("bpf: loads, stores and register moves") {
  CHECK(run({bpf_stmt(BPF_LD | BPF_W | BPF_LEN, 0), bpf_stmt(BPF_RET | BPF_A, 0)}) == 64);
  CHECK(run({bpf_stmt(BPF_LDX | BPF_W | BPF_LEN, 0), bpf_stmt(BPF_MISC | BPF_TXA, 0),
             bpf_stmt(BPF_RET | BPF_A, 0)}) == 64);
  CHECK(run({bpf_stmt(BPF_LD | BPF_IMM, 42), bpf_stmt(BPF_RET | BPF_A, 0)}) == 42);
  CHECK(run({bpf_stmt(BPF_LDX | BPF_IMM, 43), bpf_stmt(BPF_MISC | BPF_TXA, 0),
             bpf_stmt(BPF_RET | BPF_A, 0)}) == 43);
  // A -> M[3] -> X via TAX/TXA and LDX MEM; X -> M[15] -> A.
  CHECK(run({bpf_stmt(BPF_LD | BPF_IMM, 7), bpf_stmt(BPF_ST, 3), bpf_stmt(BPF_LD | BPF_IMM, 0),
             bpf_stmt(BPF_LDX | BPF_MEM, 3), bpf_stmt(BPF_MISC | BPF_TXA, 0),
             bpf_stmt(BPF_RET | BPF_A, 0)}) == 7);
  CHECK(run({bpf_stmt(BPF_LDX | BPF_IMM, 9), bpf_stmt(BPF_STX, 15), bpf_stmt(BPF_LD | BPF_MEM, 15),
             bpf_stmt(BPF_RET | BPF_A, 0)}) == 9);
  CHECK(run({bpf_stmt(BPF_LD | BPF_IMM, 5), bpf_stmt(BPF_MISC | BPF_TAX, 0),
             bpf_stmt(BPF_LD | BPF_IMM, 0), bpf_stmt(BPF_MISC | BPF_TXA, 0),
             bpf_stmt(BPF_RET | BPF_A, 0)}) == 5);
  CHECK(run({bpf_stmt(BPF_RET | BPF_K, SECCOMP_RET_TRAP)}) == SECCOMP_RET_TRAP);
}

TEST_CASE("bpf: every ALU operation, with K and with X") {
  struct Case {
    std::uint16_t op;
    std::uint32_t a, operand, expected;
  };
  const Case cases[] = {
      {BPF_ADD, 0xfffffffe, 3, 1},          {BPF_SUB, 1, 3, 0xfffffffe},
      {BPF_MUL, 0x10000, 0x10001, 0x10000}, {BPF_DIV, 100, 7, 14},
      {BPF_AND, 0xf0f0, 0xff00, 0xf000},    {BPF_OR, 0xf0f0, 0x0f00, 0xfff0},
      {BPF_XOR, 0xf0f0, 0xff00, 0x0ff0},    {BPF_LSH, 0x80000001, 4, 0x10},
      {BPF_RSH, 0x80000000, 31, 1},
  };
  for (const Case& c : cases) {
    INFO("op " << c.op << " a " << c.a << " operand " << c.operand);
    CHECK(run({bpf_stmt(BPF_LD | BPF_IMM, c.a), bpf_stmt(BPF_ALU | c.op | BPF_K, c.operand),
               bpf_stmt(BPF_RET | BPF_A, 0)}) == c.expected);
    CHECK(run({bpf_stmt(BPF_LDX | BPF_IMM, c.operand), bpf_stmt(BPF_LD | BPF_IMM, c.a),
               bpf_stmt(BPF_ALU | c.op | BPF_X, 0), bpf_stmt(BPF_RET | BPF_A, 0)}) == c.expected);
  }
  CHECK(run({bpf_stmt(BPF_LD | BPF_IMM, 1), bpf_stmt(BPF_ALU | BPF_NEG, 0),
             bpf_stmt(BPF_RET | BPF_A, 0)}) == 0xffffffffu);
  // What the kernel's translation does where C would be undefined: division
  // by X == 0 returns 0 (SECCOMP_RET_KILL_THREAD), shifts by X use X & 31.
  CHECK(run({bpf_stmt(BPF_LDX | BPF_IMM, 0), bpf_stmt(BPF_LD | BPF_IMM, 5),
             bpf_stmt(BPF_ALU | BPF_DIV | BPF_X, 0),
             bpf_stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)}) == SECCOMP_RET_KILL_THREAD);
  CHECK(run({bpf_stmt(BPF_LDX | BPF_IMM, 33), bpf_stmt(BPF_LD | BPF_IMM, 5),
             bpf_stmt(BPF_ALU | BPF_LSH | BPF_X, 0), bpf_stmt(BPF_RET | BPF_A, 0)}) == 10);
}

TEST_CASE("bpf: every jump, with K and with X, taken and not taken") {
  struct Case {
    std::uint16_t op;
    std::uint32_t a, operand;
    bool taken;
  };
  const Case cases[] = {
      {BPF_JEQ, 5, 5, true},  {BPF_JEQ, 5, 6, false},  {BPF_JGT, 6, 5, true},
      {BPF_JGT, 5, 5, false}, {BPF_JGE, 5, 5, true},   {BPF_JGE, 4, 5, false},
      {BPF_JSET, 6, 2, true}, {BPF_JSET, 6, 1, false}, {BPF_JGT, 0xffffffff, 1, true},  // unsigned
  };
  for (const Case& c : cases) {
    INFO("op " << c.op << " a " << c.a << " operand " << c.operand);
    const std::uint32_t want = c.taken ? 1 : 2;
    CHECK(run({bpf_stmt(BPF_LD | BPF_IMM, c.a), bpf_jump(BPF_JMP | c.op | BPF_K, c.operand, 1, 0),
               bpf_stmt(BPF_RET | BPF_K, 2), bpf_stmt(BPF_RET | BPF_K, 1)}) == want);
    CHECK(run({bpf_stmt(BPF_LDX | BPF_IMM, c.operand), bpf_stmt(BPF_LD | BPF_IMM, c.a),
               bpf_jump(BPF_JMP | c.op | BPF_X, 0, 1, 0), bpf_stmt(BPF_RET | BPF_K, 2),
               bpf_stmt(BPF_RET | BPF_K, 1)}) == want);
  }
  CHECK(run({bpf_stmt(BPF_JMP | BPF_JA, 2), bpf_stmt(BPF_RET | BPF_K, 1),
             bpf_stmt(BPF_RET | BPF_K, 2), bpf_stmt(BPF_RET | BPF_K, 3)}) == 3);
  // jt and jf are 8 bits: the longest conditional jump is +255.
  Prog far(258, bpf_stmt(BPF_RET | BPF_K, 1));
  far[0] = bpf_jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 255);  // A is 0: not equal
  far[256] = bpf_stmt(BPF_RET | BPF_K, 256);
  CHECK(run(far) == 256);
}

TEST_CASE("bpf: the validator rejects what the kernel rejects") {
  const auto ret = bpf_stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  CHECK_THAT(rejection({}), Catch::Contains("empty"));
  CHECK(rejection(Prog(BPF_MAXINSNS, ret)) == "accepted");
  CHECK_THAT(rejection(Prog(BPF_MAXINSNS + 1, ret)), Catch::Contains("BPF_MAXINSNS"));
  // Jumps out of range.
  CHECK_THAT(rejection({bpf_jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0), ret}),
             Catch::Contains("BPF instruction 0") && Catch::Contains("past the end"));
  CHECK_THAT(rejection({ret, bpf_jump(BPF_JMP | BPF_JGT | BPF_K, 0, 0, 1), ret}),
             Catch::Contains("BPF instruction 1"));
  CHECK_THAT(rejection({bpf_stmt(BPF_JMP | BPF_JA, 1), ret}),
             Catch::Contains("BPF instruction 0") && Catch::Contains("ja +1"));
  CHECK_THAT(rejection({bpf_stmt(BPF_JMP | BPF_JA, 0xffffffff), ret}),
             Catch::Contains("past the end"));
  // No return at the end.
  CHECK_THAT(rejection({bpf_stmt(BPF_LD | BPF_W | BPF_ABS, 0)}),
             Catch::Contains("BPF instruction 0") && Catch::Contains("not a return"));
  CHECK_THAT(rejection({ret, bpf_stmt(BPF_MISC | BPF_TAX, 0)}),
             Catch::Contains("BPF instruction 1") && Catch::Contains("not a return"));
  // Classic BPF that seccomp does not allow.
  for (std::uint16_t code :
       {BPF_LD | BPF_B | BPF_ABS, BPF_LD | BPF_H | BPF_ABS, BPF_LD | BPF_W | BPF_IND,
        BPF_LDX | BPF_B | BPF_MSH, BPF_ALU | BPF_MOD | BPF_K, BPF_ALU | BPF_MOD | BPF_X, 0xffff}) {
    INFO("opcode " << code);
    CHECK_THAT(rejection({bpf_stmt(code, 0), ret}),
               Catch::Contains("BPF instruction 0") && Catch::Contains("not allowed"));
  }
  // Data loads: 32-bit, aligned, inside struct seccomp_data.
  CHECK_THAT(rejection({bpf_stmt(BPF_LD | BPF_W | BPF_ABS, 2), ret}), Catch::Contains("offset 2"));
  CHECK_THAT(rejection({bpf_stmt(BPF_LD | BPF_W | BPF_ABS, 64), ret}),
             Catch::Contains("offset 64"));
  CHECK(rejection({bpf_stmt(BPF_LD | BPF_W | BPF_ABS, 60), ret}) == "accepted");
  // The classic checker's own rules.
  CHECK_THAT(rejection({bpf_stmt(BPF_ALU | BPF_DIV | BPF_K, 0), ret}),
             Catch::Contains("division by constant 0"));
  CHECK_THAT(rejection({bpf_stmt(BPF_ALU | BPF_LSH | BPF_K, 32), ret}),
             Catch::Contains("shift by 32"));
  CHECK_THAT(rejection({bpf_stmt(BPF_ST, 16), ret}), Catch::Contains("scratch cell 16"));
  CHECK_THAT(rejection({bpf_stmt(BPF_LD | BPF_MEM, 0), ret}),
             Catch::Contains("BPF instruction 0") && Catch::Contains("before it is written"));
  // Written on one path only.
  CHECK_THAT(rejection({bpf_jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1), bpf_stmt(BPF_ST, 2),
                        bpf_stmt(BPF_LDX | BPF_MEM, 2), ret}),
             Catch::Contains("BPF instruction 2"));
  CHECK(rejection({bpf_stmt(BPF_ST, 2), bpf_jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1), ret,
                   bpf_stmt(BPF_LDX | BPF_MEM, 2), ret}) == "accepted");
  // bpf_run validates too.
  CHECK_THROWS_AS(bpf_run(Prog{bpf_stmt(BPF_LD | BPF_IMM, 0)}, make_data(0, 0)), ward::Error);
}

TEST_CASE("bpf: disassembly") {
  Prog p = example_program();
  p.push_back(bpf_stmt(BPF_RET | BPF_A, 0));
  p.push_back(bpf_stmt(BPF_ALU | BPF_AND | BPF_K, 0xff));
  p.push_back(bpf_stmt(BPF_ALU | BPF_ADD | BPF_X, 0));
  p.push_back(bpf_stmt(BPF_JMP | BPF_JA, 1));
  p.push_back(bpf_stmt(BPF_ST, 3));
  p.push_back(bpf_stmt(BPF_MISC | BPF_TAX, 0));
  p.push_back(bpf_stmt(BPF_LD | BPF_B | BPF_ABS, 0));
  const std::string want =
      " line  OP   JT   JF   K\n"
      "=================================\n"
      " 0000: 0x20 0x00 0x00 0x00000004   ld  $data[4]\n"
      " 0001: 0x15 0x00 0x08 0xc000003e   jeq 3221225534 true:0002 false:0010\n"
      " 0002: 0x20 0x00 0x00 0x00000000   ld  $data[0]\n"
      " 0003: 0x15 0x00 0x04 0x0000006e   jeq 110  true:0004 false:0008\n"
      " 0004: 0x20 0x00 0x00 0x00000014   ld  $data[20]\n"
      " 0005: 0x15 0x00 0x02 0x00000001   jeq 1    true:0006 false:0008\n"
      " 0006: 0x20 0x00 0x00 0x00000010   ld  $data[16]\n"
      " 0007: 0x15 0x01 0x00 0xdeadbeef   jeq 3735928559 true:0009 false:0008\n"
      " 0008: 0x06 0x00 0x00 0x7fff0000   ret ALLOW\n"
      " 0009: 0x06 0x00 0x00 0x00050001   ret ERRNO(1)\n"
      " 0010: 0x06 0x00 0x00 0x80000000   ret KILL_PROCESS\n"
      " 0011: 0x16 0x00 0x00 0x00000000   ret $acc\n"
      " 0012: 0x54 0x00 0x00 0x000000ff   and 0x000000ff\n"
      " 0013: 0x0c 0x00 0x00 0x00000000   add X\n"
      " 0014: 0x05 0x00 0x00 0x00000001   jmp 0016\n"
      " 0015: 0x02 0x00 0x00 0x00000003   st  $temp[3]\n"
      " 0016: 0x07 0x00 0x00 0x00000000   tax\n"
      " 0017: 0x30 0x00 0x00 0x00000000   ???\n";
  if (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__) CHECK(bpf_disasm(p) == want);
  CHECK(seccomp_action_string(SECCOMP_RET_KILL_THREAD) == "KILL_THREAD");
  CHECK(seccomp_action_string(SECCOMP_RET_TRACE | 7) == "TRACE(7)");
  CHECK(seccomp_action_string(SECCOMP_RET_USER_NOTIF) == "NOTIFY");
  CHECK(seccomp_action_string(SECCOMP_RET_LOG) == "LOG");
  CHECK(seccomp_action_string(SECCOMP_RET_TRAP) == "TRAP");
  CHECK(seccomp_action_string(0x12345678) == "0x12345678");
}
