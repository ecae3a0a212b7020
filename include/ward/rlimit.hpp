// SPDX-License-Identifier: Apache-2.0
// Resource limits (getrlimit(2)) by name, checked before any process exists.
#pragma once

#include <sys/resource.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <ward/error.hpp>

namespace ward {

struct Rlimit {
  int resource = 0;  // RLIMIT_*
  std::uint64_t soft = RLIM_INFINITY;
  std::uint64_t hard = RLIM_INFINITY;
};

inline constexpr std::array<std::pair<std::string_view, int>, 16> kRlimitNames = {{
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
}};

inline std::string rlimit_name(int resource) {
  for (auto& [n, r] : kRlimitNames)
    if (r == resource) return std::string(n);
  return "RLIMIT_" + std::to_string(resource);
}

// "RLIMIT_NOFILE" or "nofile" (any case).
inline std::optional<int> rlimit_from_name(std::string_view name) {
  std::string n;
  for (char ch : name) n += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (n.rfind("RLIMIT_", 0) != 0) n = "RLIMIT_" + n;
  for (auto& [k, r] : kRlimitNames)
    if (n == k) return r;
  return std::nullopt;
}

namespace detail {

// The kernel's rules for setrlimit(2), checked in the parent so the error
// names the limit instead of arriving as a bare EPERM from the child:
// soft <= hard, and raising a hard limit needs CAP_SYS_RESOURCE in the
// initial user namespace (a user namespace's root does not have it for
// this). `can_raise` says whether the caller has it.
inline void check_rlimit(const Rlimit& l, bool can_raise) {
  std::string name = rlimit_name(l.resource);
  if (l.resource < 0 || l.resource >= RLIM_NLIMITS) throw_invalid("rlimits", name + ": unknown");
  if (l.soft > l.hard)
    throw_invalid("rlimits." + name, "soft limit " + std::to_string(l.soft) +
                                         " is above the hard limit " + std::to_string(l.hard));
  struct rlimit cur {};
  if (::getrlimit(l.resource, &cur) != 0) throw_errno(Step::rlimit, name, "getrlimit");
  auto show = [](std::uint64_t v) {
    return v == RLIM_INFINITY ? std::string("unlimited") : std::to_string(v);
  };
  if (l.hard > cur.rlim_max && !can_raise)
    throw Error(Step::rlimit, EPERM, name,
                "raising the hard limit from " + show(cur.rlim_max) + " to " + show(l.hard) +
                    " needs CAP_SYS_RESOURCE, which this process lacks");
}

}  // namespace detail
}  // namespace ward
