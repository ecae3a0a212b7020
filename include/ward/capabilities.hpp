// SPDX-License-Identifier: Apache-2.0
// CapabilitySet and Capabilities: the five capability sets of a process
// (capabilities(7)).
#pragma once

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <ward/detail/capability_abi.hpp>
#include <ward/error.hpp>

namespace ward {

// Capability numbers are those of <linux/capability.h>; the names below are
// every capability that header defines up to CAP_CHECKPOINT_RESTORE (40,
// Linux 5.9). A newer kernel may know more: cap_last_cap() reads the running
// kernel's highest number, and such capabilities are named "cap_N".
inline constexpr std::array<std::string_view, 41> kCapabilityNames = {"chown",
                                                                      "dac_override",
                                                                      "dac_read_search",
                                                                      "fowner",
                                                                      "fsetid",
                                                                      "kill",
                                                                      "setgid",
                                                                      "setuid",
                                                                      "setpcap",
                                                                      "linux_immutable",
                                                                      "net_bind_service",
                                                                      "net_broadcast",
                                                                      "net_admin",
                                                                      "net_raw",
                                                                      "ipc_lock",
                                                                      "ipc_owner",
                                                                      "sys_module",
                                                                      "sys_rawio",
                                                                      "sys_chroot",
                                                                      "sys_ptrace",
                                                                      "sys_pacct",
                                                                      "sys_admin",
                                                                      "sys_boot",
                                                                      "sys_nice",
                                                                      "sys_resource",
                                                                      "sys_time",
                                                                      "sys_tty_config",
                                                                      "mknod",
                                                                      "lease",
                                                                      "audit_write",
                                                                      "audit_control",
                                                                      "setfcap",
                                                                      "mac_override",
                                                                      "mac_admin",
                                                                      "syslog",
                                                                      "wake_alarm",
                                                                      "block_suspend",
                                                                      "audit_read",
                                                                      "perfmon",
                                                                      "bpf",
                                                                      "checkpoint_restore"};

// The running kernel's highest capability number
// (/proc/sys/kernel/cap_last_cap), read once; 40 if it cannot be read.
// Plain read(2), no std::ifstream: a program's first stream builds the C++
// locale, and a program that has no other use for streams should not pay
// for it (the `ward` runtime: ~3 % of a `ward run`, bench/README.md).
inline int cap_last_cap() {
  static const int v = [] {
    const int fallback = static_cast<int>(kCapabilityNames.size()) - 1;
    const int fd = ::open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fallback;
    char buf[16];
    const ssize_t len = ::read(fd, buf, sizeof buf);
    ::close(fd);
    int n = -1;
    if (len <= 0 || std::from_chars(buf, buf + len, n).ec != std::errc()) return fallback;
    return n >= 0 && n < 64 ? n : fallback;
  }();
  return v;
}

// "CAP_NET_ADMIN" for 12; "CAP_41" for a number this header has no name for.
inline std::string capability_name(int cap) {
  std::string s = "CAP_";
  if (cap >= 0 && cap < static_cast<int>(kCapabilityNames.size())) {
    for (char ch : kCapabilityNames[static_cast<std::size_t>(cap)])
      s += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  } else {
    s += std::to_string(cap);
  }
  return s;
}

// Accepts "CAP_NET_ADMIN", "net_admin", "cap_net_admin" (any case), and
// "CAP_41"/"41" for numbers up to cap_last_cap().
inline std::optional<int> capability_from_name(std::string_view name) {
  std::string n;
  for (char ch : name) n += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (n.rfind("cap_", 0) == 0) n.erase(0, 4);
  for (std::size_t i = 0; i < kCapabilityNames.size(); ++i)
    if (n == kCapabilityNames[i]) return static_cast<int>(i);
  if (!n.empty() && n.size() <= 2 && std::isdigit(static_cast<unsigned char>(n[0])) &&
      (n.size() == 1 || std::isdigit(static_cast<unsigned char>(n[1])))) {
    int v = std::stoi(n);
    if (v <= cap_last_cap()) return v;
  }
  return std::nullopt;
}

// A set of capabilities, by number (a 64-bit mask, as the kernel keeps it).
class CapabilitySet {
 public:
  constexpr CapabilitySet() = default;
  constexpr explicit CapabilitySet(std::uint64_t mask) : bits_(mask) {}
  CapabilitySet(std::initializer_list<int> caps) {
    for (int c : caps) add(c);
  }

  static constexpr CapabilitySet none() { return CapabilitySet(); }
  // Every capability the running kernel knows.
  static CapabilitySet all() {
    int last = cap_last_cap();
    return CapabilitySet(last >= 63 ? ~0ull : (1ull << (last + 1)) - 1);
  }
  // Parses names; an unknown name is an error that names it (and every
  // other unknown one), with `field` as the object.
  static CapabilitySet from_names(const std::vector<std::string>& names,
                                  const std::string& field = "capabilities") {
    CapabilitySet s;
    std::string unknown;
    for (const auto& n : names) {
      if (auto c = capability_from_name(n)) {
        s.add(*c);
      } else {
        if (!unknown.empty()) unknown += ", ";
        unknown += n;
      }
    }
    if (!unknown.empty()) detail::throw_invalid(field, "unknown capabilities: " + unknown);
    return s;
  }
  // The default set of Docker and runc (`runc spec`), also podman's.
  static CapabilitySet docker_default() {
    return CapabilitySet{CAP_CHOWN,   CAP_DAC_OVERRIDE, CAP_FSETID,           CAP_FOWNER,
                         CAP_MKNOD,   CAP_NET_RAW,      CAP_SETGID,           CAP_SETUID,
                         CAP_SETFCAP, CAP_SETPCAP,      CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT,
                         CAP_KILL,    CAP_AUDIT_WRITE};
  }

  CapabilitySet& add(int cap) {
    check(cap);
    bits_ |= 1ull << cap;
    return *this;
  }
  CapabilitySet& remove(int cap) {
    check(cap);
    bits_ &= ~(1ull << cap);
    return *this;
  }
  constexpr bool contains(int cap) const noexcept {
    return cap >= 0 && cap < 64 && (bits_ >> cap) & 1;
  }
  constexpr bool empty() const noexcept { return bits_ == 0; }
  constexpr std::uint64_t mask() const noexcept { return bits_; }
  constexpr int size() const noexcept { return std::popcount(bits_); }
  constexpr bool subset_of(CapabilitySet o) const noexcept { return (bits_ & ~o.bits_) == 0; }

  constexpr CapabilitySet operator|(CapabilitySet o) const {
    return CapabilitySet(bits_ | o.bits_);
  }
  constexpr CapabilitySet operator&(CapabilitySet o) const {
    return CapabilitySet(bits_ & o.bits_);
  }
  constexpr CapabilitySet operator-(CapabilitySet o) const {
    return CapabilitySet(bits_ & ~o.bits_);
  }
  constexpr bool operator==(const CapabilitySet&) const = default;

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (int c = 0; c < 64; ++c)
      if (contains(c)) out.push_back(capability_name(c));
    return out;
  }
  // "CAP_CHOWN,CAP_KILL" (or "none").
  std::string to_string() const {
    std::string s;
    for (auto& n : names()) s += (s.empty() ? "" : ",") + n;
    return s.empty() ? "none" : s;
  }

 private:
  static void check(int cap) {
    if (cap < 0 || cap > 63)
      detail::throw_invalid("capability", std::to_string(cap) + " is not a capability number");
  }
  std::uint64_t bits_ = 0;
};

// The five sets. The rules that relate them (capabilities(7)): effective
// and inheritable ⊆ permitted after capset; ambient ⊆ permitted ∩
// inheritable; bounding limits what execve can grant.
struct Capabilities {
  CapabilitySet bounding, permitted, effective, inheritable, ambient;

  // What a root process keeps: `s` in bounding, permitted and effective;
  // nothing inheritable or ambient (never inheritable by default:
  // CVE-2022-29162).
  static Capabilities only(CapabilitySet s) { return {s, s, s, {}, {}}; }
  static Capabilities none() { return {}; }
  // For a non-root uid to keep `s` across execve the kernel offers only the
  // ambient set, which requires the same bits inheritable. Asking for this
  // is the explicit request for inheritable.
  static Capabilities ambient_set(CapabilitySet s) { return {s, s, s, s, s}; }
  // The calling thread's five sets (capget(2) and prctl(2) for the others).
  static Capabilities current() {
    Capabilities c;
    detail::CapMasks m;
    if (!detail::capget_self(m)) detail::throw_errno(Step::capabilities, "capget");
    c.effective = CapabilitySet(m.effective);
    c.permitted = CapabilitySet(m.permitted);
    c.inheritable = CapabilitySet(m.inheritable);
    for (int cap = 0; cap <= cap_last_cap(); ++cap) {
      if (::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) c.bounding.add(cap);
      if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) == 1) c.ambient.add(cap);
    }
    return c;
  }

  // The kernel's rules, checked before any process exists.
  void validate() const {
    auto fail = [](const char* field, const std::string& why) {
      detail::throw_invalid(field, why);
    };
    if (!effective.subset_of(permitted))
      fail("capabilities.effective", "not in permitted: " + (effective - permitted).to_string());
    if (!permitted.subset_of(bounding))
      fail("capabilities.permitted",
           "not in bounding, so execve would drop them: " + (permitted - bounding).to_string());
    if (!ambient.subset_of(permitted & inheritable))
      fail("capabilities.ambient",
           "ambient capabilities must be permitted and inheritable (capabilities(7)): " +
               (ambient - (permitted & inheritable)).to_string());
    if ((bounding | permitted | effective | inheritable | ambient).mask() >> (cap_last_cap() + 1) !=
            0 &&
        cap_last_cap() < 63)
      fail("capabilities", "a capability beyond this kernel's cap_last_cap (" +
                               std::to_string(cap_last_cap()) + ")");
  }
  bool operator==(const Capabilities&) const = default;
};

}  // namespace ward
