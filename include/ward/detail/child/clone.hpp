// SPDX-License-Identifier: Apache-2.0
// clone3(2) that runs a function on a caller-provided stack.
//
// With CLONE_VM the child returns from the system call on a new, empty
// stack, so it cannot return into C++ code that expects the parent's frame.
// Like libc's clone(), this does the system call in assembly and, in the
// child, calls fn(arg) and exits with its result without ever returning.
#pragma once

#include <linux/sched.h>
#include <sys/syscall.h>

#include <cstdint>

#include <ward/detail/child/syscall.hpp>

namespace ward::detail {

// The kernel's struct clone_args up to CLONE_ARGS_SIZE_VER2 (Linux 5.7,
// adds cgroup). Declared here so we do not depend on the libc headers' age.
struct CloneArgs {
  std::uint64_t flags = 0;
  std::uint64_t pidfd = 0;
  std::uint64_t child_tid = 0;
  std::uint64_t parent_tid = 0;
  std::uint64_t exit_signal = 0;
  std::uint64_t stack = 0;
  std::uint64_t stack_size = 0;
  std::uint64_t tls = 0;
  std::uint64_t set_tid = 0;
  std::uint64_t set_tid_size = 0;
  std::uint64_t cgroup = 0;
};
static_assert(sizeof(CloneArgs) == 88, "clone_args v2 is 88 bytes");

inline constexpr std::uint64_t kCloneClearSighand = 0x100000000ULL;  // 5.5
inline constexpr std::uint64_t kCloneIntoCgroup = 0x200000000ULL;    // 5.7
inline constexpr std::uint64_t kCloneNewTime = 0x00000080ULL;        // 5.6

using ChildFn = int (*)(void*) noexcept;

namespace child {

// Returns the child's pid (in the caller's pid namespace) or -errno in the
// parent; never returns in the child. When args->stack is 0 the child
// continues on a copy of the parent's stack (fork semantics).
#if defined(__x86_64__)
WARD_CHILD_INLINE long clone3_run(CloneArgs* args, ChildFn fn, void* arg) noexcept {
  long ret;
  register long r12 __asm__("r12") = reinterpret_cast<long>(fn);
  register long r13 __asm__("r13") = reinterpret_cast<long>(arg);
  // The kernel points %rsp at stack + stack_size (16-byte aligned by the
  // caller); `call` then leaves the callee's %rsp at 8 mod 16 as the SysV
  // ABI requires. %rbp is cleared so unwinders stop at this frame.
  __asm__ volatile(
      "syscall\n\t"
      "testq %%rax, %%rax\n\t"
      "jnz 1f\n\t"
      "xorl %%ebp, %%ebp\n\t"
      "movq %%r13, %%rdi\n\t"
      "callq *%%r12\n\t"
      "movl %%eax, %%edi\n\t"
      "movl $231, %%eax\n\t"  // exit_group
      "syscall\n\t"
      "hlt\n"
      "1:\n\t"
      : "=a"(ret)
      : "a"(sys::nr_clone3), "D"(args), "S"(sizeof(CloneArgs)), "r"(r12), "r"(r13)
      : "rcx", "r11", "memory");
  return ret;
}
#elif defined(__aarch64__)
WARD_CHILD_INLINE long clone3_run(CloneArgs* args, ChildFn fn, void* arg) noexcept {
  register long x8 __asm__("x8") = sys::nr_clone3;
  register long x0 __asm__("x0") = reinterpret_cast<long>(args);
  register long x1 __asm__("x1") = sizeof(CloneArgs);
  register long x9 __asm__("x9") = reinterpret_cast<long>(fn);
  register long x10 __asm__("x10") = reinterpret_cast<long>(arg);
  __asm__ volatile(
      "svc #0\n\t"
      "cbnz x0, 1f\n\t"
      "mov x29, xzr\n\t"
      "mov x30, xzr\n\t"
      "mov x0, x10\n\t"
      "blr x9\n\t"
      "mov x8, #94\n\t"  // exit_group
      "svc #0\n\t"
      "brk #0\n"
      "1:\n\t"
      : "+r"(x0)
      : "r"(x8), "r"(x1), "r"(x9), "r"(x10)
      : "x30", "memory");
  return x0;
}
#else
// Elsewhere only fork semantics (stack == 0) are used, where returning from
// the libc wrapper in the child is fine.
inline long clone3_run(CloneArgs* args, ChildFn fn, void* arg) noexcept {
  long r = ::syscall(sys::nr_clone3, args, sizeof(CloneArgs));
  if (r == 0) sys::exit_group(fn(arg));
  return r == -1 ? -errno : r;
}
#endif

}  // namespace child

// The parent side runs clone3_run too (spawn_plan): the trampoline is always
// inlined into its caller, so it has no symbol of its own.
using child::clone3_run;

}  // namespace ward::detail
