// SPDX-License-Identifier: Apache-2.0
// Child side of seccomp: installing the filter the parent compiled
// (detail/seccomp_load.hpp has the parent side).
#pragma once

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>

#include <cstdint>

#include <ward/detail/child/syscall.hpp>

namespace ward::detail::child {

// Child side: install `prog` on the calling thread. Returns the listener fd
// (with NEW_LISTENER), 0, or -errno. Raw syscall: safe in the spawn child.
WARD_CHILD_INLINE long seccomp_install_raw(const struct sock_fprog* prog,
                                           std::uint32_t flags) noexcept {
  return sys::call(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, prog);
}

}  // namespace ward::detail::child
