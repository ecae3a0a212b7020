// SPDX-License-Identifier: Apache-2.0
// Child side of Landlock: restricting the calling thread with a ruleset the
// parent built (ward/landlock.hpp has the rest; ward::landlock_restrict_raw
// names this function).
#pragma once

#include <sys/syscall.h>

#include <cstdint>

#include <ward/detail/child/syscall.hpp>

namespace ward::detail {

namespace sys {
// 444..446 on every architecture that uses the unified syscall table
// (x86_64, aarch64, arm, riscv, ...).
#ifdef SYS_landlock_create_ruleset
inline constexpr long nr_landlock_create_ruleset = SYS_landlock_create_ruleset;
#else
inline constexpr long nr_landlock_create_ruleset = 444;
#endif
#ifdef SYS_landlock_add_rule
inline constexpr long nr_landlock_add_rule = SYS_landlock_add_rule;
#else
inline constexpr long nr_landlock_add_rule = 445;
#endif
#ifdef SYS_landlock_restrict_self
inline constexpr long nr_landlock_restrict_self = SYS_landlock_restrict_self;
#else
inline constexpr long nr_landlock_restrict_self = 446;
#endif
}  // namespace sys

namespace child {

// Child-safe: landlock_restrict_self(2) on the calling thread, returning 0
// or -errno. Makes no other call: the kernel demands no_new_privs (or
// CAP_SYS_ADMIN in the current user namespace) first, which is the
// caller's job here (prctl(PR_SET_NO_NEW_PRIVS)). `flags` are
// LandlockLog bits (ABI 7); use LandlockRuleset::restrict_flags().
WARD_CHILD_INLINE long landlock_restrict_raw(int ruleset_fd, std::uint32_t flags = 0) noexcept {
  return sys::call(sys::nr_landlock_restrict_self, ruleset_fd, flags);
}

}  // namespace child
}  // namespace ward::detail
