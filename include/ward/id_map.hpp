// SPDX-License-Identifier: Apache-2.0
// IdMap: the uid or gid mapping of a user namespace.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <ward/error.hpp>

namespace ward {

// One line of /proc/PID/uid_map: ids [inside, inside+count) in the new
// namespace are ids [outside, outside+count) in the parent namespace.
struct IdMapEntry {
  std::uint32_t inside = 0;
  std::uint32_t outside = 0;
  std::uint32_t count = 1;
  friend bool operator==(const IdMapEntry&, const IdMapEntry&) = default;
};

class IdMap {
 public:
  // The kernel's limit on lines per map since Linux 4.15 (user_namespaces(7)).
  static constexpr std::size_t kMaxEntries = 340;

  IdMap() = default;
  IdMap(std::initializer_list<IdMapEntry> e) : entries_(e) {}
  explicit IdMap(std::vector<IdMapEntry> e) : entries_(std::move(e)) {}

  static IdMap single(std::uint32_t inside, std::uint32_t outside, std::uint32_t count = 1) {
    return IdMap{{inside, outside, count}};
  }

  IdMap& add(std::uint32_t inside, std::uint32_t outside, std::uint32_t count) {
    entries_.push_back({inside, outside, count});
    return *this;
  }

  bool empty() const noexcept { return entries_.empty(); }
  const std::vector<IdMapEntry>& entries() const noexcept { return entries_; }

  // Does the map give `inside` an id in the parent namespace?
  bool maps_inside(std::uint32_t id) const noexcept {
    return std::any_of(entries_.begin(), entries_.end(), [&](const IdMapEntry& e) {
      return id >= e.inside && id - e.inside < e.count;
    });
  }

  // Reject what the kernel would reject, with the reason, before any process
  // exists: empty ranges, ranges that wrap, overlapping ranges on either
  // side, too many lines. `field` names the map in the error ("uid_map").
  void validate(const std::string& field) const {
    if (entries_.size() > kMaxEntries)
      detail::throw_invalid(field, std::to_string(entries_.size()) + " ranges; the kernel allows " +
                                       std::to_string(kMaxEntries));
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      const auto& e = entries_[i];
      std::string at = field + "[" + std::to_string(i) + "]";
      if (e.count == 0) detail::throw_invalid(at, "count is 0");
      if (std::uint64_t{e.inside} + e.count > 0x100000000ULL ||
          std::uint64_t{e.outside} + e.count > 0x100000000ULL)
        detail::throw_invalid(at, "range runs past 2^32-1");
      // 4294967295 (uid -1) cannot be mapped: it is the "no id" value.
      if (std::uint64_t{e.inside} + e.count > 0xffffffffULL ||
          std::uint64_t{e.outside} + e.count > 0xffffffffULL)
        detail::throw_invalid(at, "range includes 4294967295, which is never mappable");
      for (std::size_t j = 0; j < i; ++j) {
        const auto& o = entries_[j];
        auto overlap = [](std::uint64_t a, std::uint64_t n, std::uint64_t b, std::uint64_t m) {
          return a < b + m && b < a + n;
        };
        if (overlap(e.inside, e.count, o.inside, o.count))
          detail::throw_invalid(at,
                                "inside range overlaps " + field + "[" + std::to_string(j) + "]");
        if (overlap(e.outside, e.count, o.outside, o.count))
          detail::throw_invalid(at,
                                "outside range overlaps " + field + "[" + std::to_string(j) + "]");
      }
    }
  }

  // The text written to /proc/PID/uid_map: "inside outside count\n" lines.
  std::string to_proc_text() const {
    std::string s;
    for (const auto& e : entries_) {
      s += std::to_string(e.inside) + ' ' + std::to_string(e.outside) + ' ' +
           std::to_string(e.count) + '\n';
    }
    return s;
  }

  friend bool operator==(const IdMap&, const IdMap&) = default;

 private:
  std::vector<IdMapEntry> entries_;
};

// Whether the new user namespace may call setgroups(2). An unprivileged
// parent must deny it before writing a gid map (user_namespaces(7)).
enum class Setgroups { automatic, allow, deny };

}  // namespace ward
