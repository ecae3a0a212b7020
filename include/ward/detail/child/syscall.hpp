// SPDX-License-Identifier: Apache-2.0
// Raw system calls that never touch errno.
//
// Why not syscall(3)? The sandbox child shares the parent's address space
// (CLONE_VM, see detail/spawn.hpp) and also its thread pointer, so the libc
// wrapper's write to errno would land in the *parent thread's* TLS while
// that thread is running. These wrappers return -errno instead, touch no
// memory but their arguments, and take no locks: safe after clone in a
// multithreaded parent and async-signal-safe.
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <type_traits>

#if defined(__x86_64__) || defined(__aarch64__)
#define WARD_HAVE_RAW_SYSCALL 1
#else
#define WARD_HAVE_RAW_SYSCALL 0
#endif

// The child-code contract. Everything between clone3 and execve lives in
// detail/child/ (namespace ward::detail::child, so its symbols say so) and
// is marked WARD_CHILD_FN (out of line) or WARD_CHILD_INLINE (always
// inlined: no symbol of its own). It may call only other child functions
// and raw system calls: no library function at all, not even one the
// compiler introduces. Why: the child shares the parent's memory and thread
// pointer (CLONE_VM, detail/spawn.hpp). A call to memcpy/strlen in a
// dynamically linked program goes through the PLT, and with lazy binding its
// first use runs the dynamic linker's _dl_fixup in the child, on the parent
// thread's TLS and locks; sanitizer interceptors (__asan_memcpy, ...) keep
// state in the parent's memory too; __stack_chk_fail reads the canary through
// the TLS. So the attributes below stop the compiler from emitting calls:
//  - no_sanitize: no instrumentation (ASan's shadow bookkeeping for this
//    stack would be written into memory shared with the parent);
//  - clang no_builtin / gcc optimize("no-tree-loop-distribute-patterns"):
//    hand-written byte loops stay loops (GCC's loop-idiom pass would turn
//    them into memcpy/memset/strlen calls);
//  - no_stack_protector: __stack_chk_fail is a libc call, and the canary
//    load is a TLS access;
// and aggregate copies, which the compiler may lower to memcpy, go through
// sys::copy_bytes. The proof is a machine check, not this comment:
// scripts/check_child_code.py disassembles the runtime and a dynamically
// linked test program and fails on any call from a child function to a
// symbol outside ward::detail::child (ctest child_code.disasm, every CI
// build); the child's stack use is measured by root.child_stack
// (tests/helpers/child_stack.cpp).
#if defined(__has_attribute)
#if __has_attribute(no_stack_protector)
#define WARD_CHILD_NO_SSP_ no_stack_protector,
#endif
#endif
#ifndef WARD_CHILD_NO_SSP_
#define WARD_CHILD_NO_SSP_
#endif
#if defined(__clang__)
#define WARD_CHILD_ATTRS_                       \
  __attribute__((WARD_CHILD_NO_SSP_ no_builtin, \
                 no_sanitize("address", "undefined", "thread", "memory")))
#elif defined(__GNUC__)
#define WARD_CHILD_ATTRS_                                                         \
  __attribute__((WARD_CHILD_NO_SSP_ optimize("no-tree-loop-distribute-patterns"), \
                 no_sanitize("address", "undefined", "thread")))
#else
#define WARD_CHILD_ATTRS_
#endif
#define WARD_CHILD_FN WARD_CHILD_ATTRS_
// A lambda in child code is a function of its own and needs the attributes
// too; after the parameters, with noexcept (clang wants the attributes
// first, gcc last): [&](int x) WARD_CHILD_LAMBDA -> int { ... }.
#if defined(__clang__)
#define WARD_CHILD_LAMBDA WARD_CHILD_ATTRS_ noexcept
#else
#define WARD_CHILD_LAMBDA noexcept WARD_CHILD_ATTRS_
#endif
// Always inlined, so they take their caller's attributes: GCC refuses to
// always-inline a function whose optimize attribute differs from its
// caller's, and the parent side uses sys::call too.
#if defined(__clang__)
#define WARD_CHILD_INLINE                       \
  __attribute__((WARD_CHILD_NO_SSP_ no_builtin, \
                 no_sanitize("address", "undefined", "thread", "memory"), always_inline)) inline
#elif defined(__GNUC__)
#define WARD_CHILD_INLINE                                                          \
  __attribute__((WARD_CHILD_NO_SSP_ no_sanitize("address", "undefined", "thread"), \
                 always_inline)) inline
#else
#define WARD_CHILD_INLINE inline
#endif

namespace ward::detail::sys {

#if defined(__x86_64__)
WARD_CHILD_INLINE long raw6(long n, long a, long b, long c, long d, long e, long f) noexcept {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}
#elif defined(__aarch64__)
WARD_CHILD_INLINE long raw6(long n, long a, long b, long c, long d, long e, long f) noexcept {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  register long x5 __asm__("x5") = f;
  __asm__ volatile("svc #0"
                   : "+r"(x0)
                   : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                   : "memory");
  return x0;
}
#else
// Other architectures: the spawn code never uses CLONE_VM there (see
// spawn.hpp), so the child owns a private copy of errno and libc's wrapper is
// safe to call.
inline long raw6(long n, long a, long b, long c, long d, long e, long f) noexcept {
  long r = ::syscall(n, a, b, c, d, e, f);
  return r == -1 ? -errno : r;
}
#endif

template <class T>
WARD_CHILD_INLINE long arg(T v) noexcept {
  if constexpr (std::is_null_pointer_v<T>) {
    return 0;
  } else if constexpr (std::is_pointer_v<T>) {
    return reinterpret_cast<long>(v);
  } else {
    return static_cast<long>(v);
  }
}

// call(SYS_x, args...) -> result, or -errno. Every argument is widened to a
// register-sized long, pointers by reinterpretation.
// (Default arguments pad to six, not an array: a partly initialized array
// is zero-filled with a memset call at -O0, which the contract forbids.)
WARD_CHILD_INLINE long call6(long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0,
                             long f = 0) noexcept {
  return raw6(nr, a, b, c, d, e, f);
}
template <class... A>
WARD_CHILD_INLINE long call(long nr, A... a) noexcept {
  static_assert(sizeof...(A) <= 6, "at most six syscall arguments");
  return call6(nr, arg(a)...);
}

// Syscall numbers that older libc headers may lack.
#ifndef SYS_clone3
inline constexpr long nr_clone3 = 435;
#else
inline constexpr long nr_clone3 = SYS_clone3;
#endif
#ifndef SYS_pidfd_open
inline constexpr long nr_pidfd_open = 434;
#else
inline constexpr long nr_pidfd_open = SYS_pidfd_open;
#endif
#ifndef SYS_pidfd_send_signal
inline constexpr long nr_pidfd_send_signal = 424;
#else
inline constexpr long nr_pidfd_send_signal = SYS_pidfd_send_signal;
#endif
#ifndef SYS_close_range
inline constexpr long nr_close_range = 436;
#else
inline constexpr long nr_close_range = SYS_close_range;
#endif
#ifndef SYS_openat2
inline constexpr long nr_openat2 = 437;
#else
inline constexpr long nr_openat2 = SYS_openat2;
#endif

// A few helpers the child uses over and over.
WARD_CHILD_INLINE long write_all(int fd, const void* buf, unsigned long len) noexcept {
  auto p = static_cast<const char*>(buf);
  while (len > 0) {
    long r = call(SYS_write, fd, p, len);
    if (r == -EINTR) continue;
    if (r < 0) return r;
    p += r;
    len -= static_cast<unsigned long>(r);
  }
  return 0;
}

WARD_CHILD_INLINE long read_full(int fd, void* buf, unsigned long len) noexcept {
  auto p = static_cast<char*>(buf);
  unsigned long got = 0;
  while (got < len) {
    long r = call(SYS_read, fd, p + got, len - got);
    if (r == -EINTR) continue;
    if (r < 0) return r;
    if (r == 0) break;
    got += static_cast<unsigned long>(r);
  }
  return static_cast<long>(got);
}

// A byte copy the compiler cannot turn into a memcpy call: the empty asm
// with a memory clobber in the loop body keeps it a loop at every
// optimization level (use it for struct copies in child code: `T x = *p`
// may be lowered to memcpy).
WARD_CHILD_INLINE void copy_bytes(void* dst, const void* src, unsigned long n) noexcept {
  auto* d = static_cast<unsigned char*>(dst);
  auto* s = static_cast<const unsigned char*>(src);
  for (unsigned long i = 0; i < n; ++i) {
    d[i] = s[i];
    __asm__ volatile("" ::: "memory");
  }
}

// Zero-fills `v` without a memset call: the child's `T v{}`, which clang
// lowers to memset at -O0 for structs of a few words (child_code.disasm).
template <class T>
WARD_CHILD_INLINE void zero(T& v) noexcept {
  auto* d = reinterpret_cast<unsigned char*>(&v);
  for (unsigned long i = 0; i < sizeof v; ++i) {
    d[i] = 0;
    __asm__ volatile("" ::: "memory");
  }
}

// major(3)/minor(3) of a dev_t (glibc's encoding, <sys/sysmacros.h>):
// glibc's are functions, called through the PLT when not inlined (-O0).
WARD_CHILD_INLINE unsigned dev_major(std::uint64_t dev) noexcept {
  return static_cast<unsigned>(((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfffULL));
}
WARD_CHILD_INLINE unsigned dev_minor(std::uint64_t dev) noexcept {
  return static_cast<unsigned>((dev & 0xff) | ((dev >> 12) & ~0xffULL));
}

// `v` in decimal at `out` (room for 21 bytes), NUL-terminated; returns the
// number of digits.
WARD_CHILD_INLINE unsigned long decimal(unsigned long v, char* out) noexcept {
  char tmp[20];
  unsigned long n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0 && n < 20);
  for (unsigned long i = 0; i < n; ++i) out[i] = tmp[n - 1 - i];
  out[n] = '\0';
  return n;
}

WARD_CHILD_INLINE unsigned long cstrlen(const char* s) noexcept {
  unsigned long n = 0;
  while (s[n] != '\0') ++n;
  return n;
}

[[noreturn]] WARD_CHILD_INLINE void exit_group(int code) noexcept {
  for (;;) call(SYS_exit_group, code);
}

}  // namespace ward::detail::sys
