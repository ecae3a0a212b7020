// SPDX-License-Identifier: Apache-2.0
// Small value checks used by ward/oci/config.hpp's config.json parser: SemVer
// versions, CPU lists, path and name rules. Each returns a reason string
// (empty when the value is fine) so the caller can attach the JSON path.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace ward::detail::oci_check {

// SemVer 2.0.0 (https://semver.org, §2, §9, §10), which runtime-spec
// config.md "Specification version" requires of ociVersion:
// MAJOR.MINOR.PATCH, numeric identifiers without leading zeros, then an
// optional -prerelease (dot-separated [0-9A-Za-z-] identifiers, numeric ones
// without leading zeros) and +build metadata (same, leading zeros allowed).
struct SemVer {
  std::uint64_t maj = 0, min = 0, patch = 0;
};

inline std::optional<SemVer> parse_semver(std::string_view s) {
  auto number = [&](std::uint64_t& out) {
    std::size_t n = 0;
    while (n < s.size() && s[n] >= '0' && s[n] <= '9') ++n;
    if (n == 0 || (n > 1 && s[0] == '0')) return false;
    const auto r = std::from_chars(s.data(), s.data() + n, out);
    if (r.ec != std::errc()) return false;
    s.remove_prefix(n);
    return true;
  };
  auto identifiers = [&](bool numeric_no_leading_zero) {
    // One or more dot-separated non-empty identifiers, up to '+' or the end.
    for (;;) {
      std::size_t n = 0;
      bool all_digits = true;
      while (n < s.size() && s[n] != '.' && s[n] != '+') {
        const char c = s[n];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-'))
          return false;
        all_digits = all_digits && c >= '0' && c <= '9';
        ++n;
      }
      if (n == 0) return false;
      if (numeric_no_leading_zero && all_digits && n > 1 && s[0] == '0') return false;
      s.remove_prefix(n);
      if (s.empty() || s[0] == '+') return true;
      s.remove_prefix(1);  // '.'
    }
  };
  SemVer v;
  if (!number(v.maj) || s.empty() || s[0] != '.') return std::nullopt;
  s.remove_prefix(1);
  if (!number(v.min) || s.empty() || s[0] != '.') return std::nullopt;
  s.remove_prefix(1);
  if (!number(v.patch)) return std::nullopt;
  if (!s.empty() && s[0] == '-') {
    s.remove_prefix(1);
    if (!identifiers(true)) return std::nullopt;
  }
  if (!s.empty() && s[0] == '+') {
    s.remove_prefix(1);
    if (!identifiers(false) || !s.empty()) return std::nullopt;
  }
  if (!s.empty()) return std::nullopt;
  return v;
}

// The highest CPU number a list may name. Linux's NR_CPUS is at most 8192
// today; the margin keeps the expanded list small while never refusing a
// real machine.
inline constexpr unsigned kMaxCpu = 65535;

// A CPU (or memory node) list as the runtime-spec describes it for
// process.execCPUAffinity and linux.resources.cpu.cpus/mems: "a
// comma-separated list, with dashes to represent ranges", e.g. "0-3,7".
// Returns the numbers in order of appearance, or nullopt with *why set.
// The empty string is the empty list.
inline std::optional<std::vector<unsigned>> parse_cpu_list(std::string_view s, std::string* why) {
  std::vector<unsigned> out;
  if (s.empty()) return out;
  auto num = [&](std::string_view t, unsigned& v) {
    if (t.empty()) return false;
    const auto r = std::from_chars(t.data(), t.data() + t.size(), v);
    return r.ec == std::errc() && r.ptr == t.data() + t.size() && v <= kMaxCpu;
  };
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = s.find(',', start);
    const std::string_view item =
        s.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    const std::size_t dash = item.find('-');
    unsigned lo = 0, hi = 0;
    bool ok;
    if (dash == std::string_view::npos) {
      ok = num(item, lo);
      hi = lo;
    } else {
      ok = num(item.substr(0, dash), lo) && num(item.substr(dash + 1), hi) && lo <= hi;
    }
    if (!ok) {
      *why = "\"" + std::string(item) + "\" is not a number or a range like 0-3 (numbers up to " +
             std::to_string(kMaxCpu) + ")";
      return std::nullopt;
    }
    for (unsigned c = lo;; ++c) {
      out.push_back(c);
      if (c == hi) break;
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

// A name that becomes one path component (a cgroup file, a resctrl
// directory): not empty, not "." or "..", no '/' and no NUL, so it cannot
// leave the directory it is joined to.
inline bool is_plain_file_name(std::string_view s) noexcept {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string_view::npos &&
         s.find('\0') == std::string_view::npos;
}

// A sysctl name as sysctl(8) takes it: "net.ipv4.ip_forward" or, when a
// component itself holds dots (an interface "eth0.1"), with slashes
// "net/ipv4/conf/eth0.1/forwarding". It becomes a path under /proc/sys, so
// no component may be empty, "." or "..".
inline bool is_sysctl_name(std::string_view s) noexcept {
  if (s.empty() || s.find('\0') != std::string_view::npos) return false;
  const char sep = s.find('/') != std::string_view::npos ? '/' : '.';
  std::size_t start = 0;
  for (;;) {
    const std::size_t e = s.find(sep, start);
    const std::string_view c =
        s.substr(start, e == std::string_view::npos ? std::string_view::npos : e - start);
    if (c.empty() || c == "." || c == "..") return false;
    if (e == std::string_view::npos) return true;
    start = e + 1;
  }
}

// A hugepage size as runtime-spec config-linux.md "Huge page limits" writes
// it: "<size><unit-prefix>B" (64KB, 2MB, 1GB); it becomes part of a cgroup
// file name (hugetlb.<size>.max).
inline bool is_hugepage_size(std::string_view s) noexcept {
  std::size_t n = 0;
  while (n < s.size() && s[n] >= '0' && s[n] <= '9') ++n;
  if (n == 0 || n == s.size()) return false;
  std::string_view unit = s.substr(n);
  if (unit.size() == 2) {
    const char p = unit[0];
    if (p != 'K' && p != 'M' && p != 'G' && p != 'T' && p != 'P' && p != 'E') return false;
    unit.remove_prefix(1);
  }
  return unit == "B";
}

}  // namespace ward::detail::oci_check
