// SPDX-License-Identifier: Apache-2.0
// Private stacks for CLONE_VM children.
#pragma once

#include <sys/mman.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

#include <ward/error.hpp>

namespace ward::detail {

// `count` stacks of `size` bytes, each below a PROT_NONE guard page, in one
// mapping. The child's stack usage is bounded (no recursion, buffers of a
// few KiB), so a stack overflow would be a ward bug; the guard turns it into
// a clean SIGSEGV of the child rather than silent corruption of the parent.
class StackArea {
 public:
  static constexpr std::size_t kGuard = 4096;

  StackArea(std::size_t size, int count) : size_(size), count_(count) {
    total_ = (size_ + kGuard) * static_cast<std::size_t>(count_);
    void* p = ::mmap(nullptr, total_, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw_errno(Step::stack, "mmap " + std::to_string(total_) + " bytes");
    base_ = static_cast<char*>(p);
    for (int i = 0; i < count_; ++i) {
      if (::mprotect(base_ + static_cast<std::size_t>(i) * (size_ + kGuard), kGuard, PROT_NONE) !=
          0) {
        int e = errno;
        ::munmap(base_, total_);
        throw Error(Step::stack, e, "guard page");
      }
    }
#ifdef WARD_TEST_CHILD_STACK
    test_fill();
#endif
  }
  StackArea(const StackArea&) = delete;
  StackArea& operator=(const StackArea&) = delete;
  StackArea(StackArea&& o) noexcept
      : size_(o.size_),
        count_(o.count_),
        total_(o.total_),
        base_(std::exchange(o.base_, nullptr)) {}
  StackArea& operator=(StackArea&&) = delete;
  ~StackArea() {
    if (base_ != nullptr) ::munmap(base_, total_);
  }

  int count() const noexcept { return count_; }

  // Gives the mapping up without unmapping it: for stacks a child may still
  // run on (detail/spawn.hpp, spawn_plan's unwind guard). Never reused.
  void leak() noexcept { base_ = nullptr; }

  // Lowest usable address of stack i (what clone_args.stack wants).
  std::uint64_t base(int i) const noexcept {
    return reinterpret_cast<std::uint64_t>(base_ + static_cast<std::size_t>(i) * (size_ + kGuard) +
                                           kGuard);
  }
  std::uint64_t size() const noexcept { return size_; }

#ifdef WARD_TEST_CHILD_STACK
  // Test-only (compiled in only with WARD_TEST_CHILD_STACK, so a normal
  // build pays nothing): the deepest byte any child touched. The stacks are
  // filled with a pattern when made and after each measure; the lowest byte
  // that differs from it bounds the use (the child's stack grows down from
  // base(i) + size()). tests/helpers/child_stack.cpp asserts the peak is at
  // most half the stack (root.child_stack).
  static constexpr unsigned char kTestFill = 0xa5;
  void test_fill() noexcept {
    for (int i = 0; i < count_; ++i)
      std::memset(reinterpret_cast<void*>(base(i)), kTestFill, size_);
  }
  std::size_t test_used(int i) const noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(base(i));
    std::size_t off = 0;
    while (off < size_ && p[off] == kTestFill) ++off;
    return size_ - off;
  }
#endif

 private:
  std::size_t size_;
  int count_;
  std::size_t total_ = 0;
  char* base_ = nullptr;
};

#ifdef WARD_TEST_CHILD_STACK
// What the last spawn of this thread used of each stack (stage one, stage
// two), recorded by spawn_plan when it is done with the stacks.
struct TestStackUse {
  std::size_t used[2] = {0, 0};
  std::size_t size = 0;
  int count = 0;
};
inline thread_local TestStackUse test_stack_use;
#endif

}  // namespace ward::detail
