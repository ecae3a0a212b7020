// SPDX-License-Identifier: Apache-2.0
// The kernel's capget(2)/capset(2) ABI, version 3 (_LINUX_CAPABILITY_VERSION_3):
// each set is two 32-bit words, low word first.
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

#include <ward/detail/child/syscall.hpp>

namespace ward::detail {

struct CapHeader {
  std::uint32_t version = 0x20080522;  // _LINUX_CAPABILITY_VERSION_3
  int pid = 0;                         // 0: the calling thread
  // The sandbox child makes one: see MountStep's constructor.
  WARD_CHILD_INLINE CapHeader() noexcept {}
};

struct CapData {
  std::uint32_t effective, permitted, inheritable;
};

struct CapMasks {
  std::uint64_t effective = 0, permitted = 0, inheritable = 0;
};

// The calling thread's sets as 64-bit masks; false if capget fails.
inline bool capget_self(CapMasks& out) noexcept {
  CapHeader hdr;
  CapData data[2] = {};
  if (::syscall(SYS_capget, &hdr, data) != 0) return false;
  auto join = [](std::uint32_t lo, std::uint32_t hi) {
    return std::uint64_t{lo} | (std::uint64_t{hi} << 32);
  };
  out.effective = join(data[0].effective, data[1].effective);
  out.permitted = join(data[0].permitted, data[1].permitted);
  out.inheritable = join(data[0].inheritable, data[1].inheritable);
  return true;
}

}  // namespace ward::detail
