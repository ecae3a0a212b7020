// SPDX-License-Identifier: Apache-2.0
// Installing a classic-BPF seccomp filter, and what this kernel supports.
#pragma once

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include <ward/detail/child/seccomp.hpp>
#include <ward/error.hpp>
#include <ward/fd.hpp>

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif

namespace ward {

// seccomp(2) SECCOMP_SET_MODE_FILTER flags, with the kernel that added each.
enum class SeccompFlag : std::uint32_t {
  tsync = SECCOMP_FILTER_FLAG_TSYNC,                            // 3.17
  log = SECCOMP_FILTER_FLAG_LOG,                                // 4.14
  spec_allow = SECCOMP_FILTER_FLAG_SPEC_ALLOW,                  // 4.17
  new_listener = SECCOMP_FILTER_FLAG_NEW_LISTENER,              // 5.0
  tsync_esrch = SECCOMP_FILTER_FLAG_TSYNC_ESRCH,                // 5.7
  wait_killable_recv = SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,  // 5.19
};

constexpr std::string_view to_string(SeccompFlag f) noexcept {
  switch (f) {
    case SeccompFlag::tsync: return "TSYNC (Linux 3.17)";
    case SeccompFlag::log: return "LOG (Linux 4.14)";
    case SeccompFlag::spec_allow: return "SPEC_ALLOW (Linux 4.17)";
    case SeccompFlag::new_listener: return "NEW_LISTENER (Linux 5.0)";
    case SeccompFlag::tsync_esrch: return "TSYNC_ESRCH (Linux 5.7)";
    case SeccompFlag::wait_killable_recv: return "WAIT_KILLABLE_RECV (Linux 5.19)";
  }
  return "?";
}

namespace detail {

// Which filter flags this kernel knows, probed once. The probe is the one
// libseccomp uses: SECCOMP_SET_MODE_FILTER with a NULL program fails with
// EFAULT when the flags are understood and EINVAL when they are not, and
// installs nothing either way.
inline std::uint32_t seccomp_flags_supported() {
  static const std::uint32_t v = [] {
    std::uint32_t ok = 0;
    for (auto f :
         {SeccompFlag::tsync, SeccompFlag::log, SeccompFlag::spec_allow, SeccompFlag::new_listener,
          SeccompFlag::tsync_esrch, SeccompFlag::wait_killable_recv}) {
      auto bits = static_cast<std::uint32_t>(f);
      // NEW_LISTENER with TSYNC needs TSYNC_ESRCH; probe each flag alone.
      if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, bits, nullptr) < 0 && errno == EFAULT)
        ok |= bits;
    }
    return ok;
  }();
  return v;
}

// Throws naming the first requested flag the kernel lacks.
inline void check_seccomp_flags(std::uint32_t flags) {
  std::uint32_t missing = flags & ~seccomp_flags_supported();
  if (missing == 0) return;
  for (std::uint32_t bit = 1; bit != 0; bit <<= 1)
    if (missing & bit)
      throw Error(Step::seccomp, EINVAL, "seccomp filter flag",
                  "this kernel lacks " + std::string(to_string(static_cast<SeccompFlag>(bit))));
}

// Whether the kernel knows a SECCOMP_RET_* action (SECCOMP_GET_ACTION_AVAIL,
// Linux 4.14; /proc/sys/kernel/seccomp/actions_avail says the same).
inline bool seccomp_action_available(std::uint32_t ret_action) {
  std::uint32_t a = ret_action & SECCOMP_RET_ACTION_FULL;
  return ::syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &a) == 0;
}

}  // namespace detail

// Install a compiled filter on the calling thread (or, with
// SeccompFlag::tsync, every thread of the process). Needs no_new_privs or
// CAP_SYS_ADMIN in the caller's user namespace (seccomp(2)); set
// `set_no_new_privs` to do the former first. Returns the notification
// listener when `flags` has new_listener, else an empty UniqueFd.
inline UniqueFd install_seccomp_filter(const std::vector<sock_filter>& prog,
                                       std::uint32_t flags = 0, bool set_no_new_privs = true) {
  detail::check_seccomp_flags(flags);
  if (prog.empty() || prog.size() > BPF_MAXINSNS)
    throw Error(Step::seccomp, EINVAL, "filter",
                std::to_string(prog.size()) + " instructions; the kernel accepts 1 to 4096");
  if (set_no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    detail::throw_errno(Step::seccomp, "PR_SET_NO_NEW_PRIVS");
  struct sock_fprog fprog {
    static_cast<unsigned short>(prog.size()), const_cast<sock_filter*>(prog.data())
  };
  long r = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog);
  if (r < 0) {
    int e = errno;
    throw Error(Step::seccomp, e, "SECCOMP_SET_MODE_FILTER",
                e == EACCES ? "needs no_new_privs or CAP_SYS_ADMIN" : "");
  }
  return (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER)
             ? UniqueFd(detail::off_stdio(static_cast<int>(r)))
             : UniqueFd();
}

}  // namespace ward
