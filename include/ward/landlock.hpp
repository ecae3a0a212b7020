// SPDX-License-Identifier: Apache-2.0
// Landlock: unprivileged access control for files, TCP ports and IPC scopes
// (landlock(7), landlock_create_ruleset(2), landlock_add_rule(2),
// landlock_restrict_self(2)).
//
// A LandlockRuleset says which kinds of access are *handled* (denied unless a
// rule allows them) and which file hierarchies and TCP ports are allowed
// which of them. restrict_self() (or landlock_restrict_raw() in a sandbox
// child) turns it into a domain that the thread and everything it later
// starts can never leave; domains only stack and get stricter.
//
// The kernel's Landlock grows by ABI version, and an old kernel rejects a
// ruleset that names rights it does not know. ward negotiates:
//
//   ABI 1 (5.13)  filesystem: execute .. make_sym
//   ABI 2 (5.19)  fs refer (link/rename across directories)
//   ABI 3 (6.2)   fs truncate
//   ABI 4 (6.7)   TCP bind/connect rules (LANDLOCK_RULE_NET_PORT)
//   ABI 5 (6.10)  fs ioctl_dev
//   ABI 6 (6.12)  scopes: abstract unix sockets, signals
//   ABI 7 (6.15)  audit logging flags for landlock_restrict_self(2)
//
// best_effort (the default) drops what the running ABI lacks and says what
// in dropped(); strict throws, naming what is missing and the ABI it needs.
// The values and structures are defined here, not taken from
// <linux/landlock.h>: Debian 12's header (Linux 6.1) stops at ABI 2.
#pragma once

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ward/detail/child/landlock.hpp>
#include <ward/error.hpp>
#include <ward/fd.hpp>

namespace ward {

namespace detail::landlock {

// uapi values (include/uapi/linux/landlock.h), under our own names so that
// a program that also includes <linux/landlock.h> sees no clash.
inline constexpr std::uint32_t create_ruleset_version = 1U << 0;  // LANDLOCK_CREATE_RULESET_VERSION
inline constexpr std::uint32_t create_ruleset_errata = 1U << 1;   // LANDLOCK_CREATE_RULESET_ERRATA
inline constexpr int rule_path_beneath = 1;                       // LANDLOCK_RULE_PATH_BENEATH
inline constexpr int rule_net_port = 2;                           // LANDLOCK_RULE_NET_PORT (ABI 4)

// struct landlock_ruleset_attr. It grew: handled_access_fs (ABI 1),
// handled_access_net (ABI 4), scoped (ABI 6). We pass the size the
// running ABI knows (ruleset_attr_size) so an older kernel never sees
// members it would reject with E2BIG.
struct RulesetAttr {
  std::uint64_t handled_access_fs = 0;
  std::uint64_t handled_access_net = 0;
  std::uint64_t scoped = 0;
};
static_assert(sizeof(RulesetAttr) == 24);

inline constexpr unsigned long ruleset_attr_size(int abi) noexcept {
  return abi >= 6 ? 24 : abi >= 4 ? 16 : 8;
}

// struct landlock_path_beneath_attr: packed, 12 bytes.
struct __attribute__((packed)) PathBeneathAttr {
  std::uint64_t allowed_access;
  std::int32_t parent_fd;
};
static_assert(sizeof(PathBeneathAttr) == 12);

// struct landlock_net_port_attr (ABI 4): port in host byte order.
struct NetPortAttr {
  std::uint64_t allowed_access;
  std::uint64_t port;
};
static_assert(sizeof(NetPortAttr) == 16);

// One named right: its bit, ward's name for it, the ABI that added it.
struct RightInfo {
  std::uint64_t bit;
  std::string_view name;
  int abi;
};

// LANDLOCK_ACCESS_FS_*
inline constexpr std::array<RightInfo, 16> fs_rights = {{
    {1ULL << 0, "execute", 1},
    {1ULL << 1, "write_file", 1},
    {1ULL << 2, "read_file", 1},
    {1ULL << 3, "read_dir", 1},
    {1ULL << 4, "remove_dir", 1},
    {1ULL << 5, "remove_file", 1},
    {1ULL << 6, "make_char", 1},
    {1ULL << 7, "make_dir", 1},
    {1ULL << 8, "make_reg", 1},
    {1ULL << 9, "make_sock", 1},
    {1ULL << 10, "make_fifo", 1},
    {1ULL << 11, "make_block", 1},
    {1ULL << 12, "make_sym", 1},
    {1ULL << 13, "refer", 2},
    {1ULL << 14, "truncate", 3},
    {1ULL << 15, "ioctl_dev", 5},
}};
// LANDLOCK_ACCESS_NET_*
inline constexpr std::array<RightInfo, 2> net_rights = {{
    {1ULL << 0, "bind_tcp", 4},
    {1ULL << 1, "connect_tcp", 4},
}};
// LANDLOCK_SCOPE_*
inline constexpr std::array<RightInfo, 2> scopes = {{
    {1ULL << 0, "abstract_unix_socket", 6},
    {1ULL << 1, "signal", 6},
}};
// LANDLOCK_RESTRICT_SELF_LOG_* (ABI 7)
inline constexpr std::array<RightInfo, 3> log_flags = {{
    {1ULL << 0, "log_same_exec_off", 7},
    {1ULL << 1, "log_new_exec_on", 7},
    {1ULL << 2, "log_subdomains_off", 7},
}};

template <std::size_t N>
constexpr std::uint64_t bits_up_to(const std::array<RightInfo, N>& table, int abi) noexcept {
  std::uint64_t m = 0;
  for (const auto& r : table)
    if (r.abi <= abi) m |= r.bit;
  return m;
}

template <std::size_t N>
std::string names(const std::array<RightInfo, N>& table, std::uint64_t bits) {
  std::string s;
  for (const auto& r : table)
    if (bits & r.bit) {
      if (!s.empty()) s += ", ";
      s += r.name;
    }
  std::uint64_t known = bits_up_to(table, 1000);
  if (bits & ~known) {
    if (!s.empty()) s += ", ";
    s += "unknown bits 0x";
    static constexpr char hex[] = "0123456789abcdef";
    std::uint64_t u = bits & ~known;
    std::string h;
    do {
      h.insert(h.begin(), hex[u & 15]);
      u >>= 4;
    } while (u);
    s += h;
  }
  return s;
}

// "truncate, ioctl_dev (need ABI 3, 5)"
template <std::size_t N>
std::string names_with_abi(const std::array<RightInfo, N>& table, std::uint64_t bits) {
  std::string s = names(table, bits);
  std::vector<int> abis;
  for (const auto& r : table)
    if ((bits & r.bit) && std::find(abis.begin(), abis.end(), r.abi) == abis.end())
      abis.push_back(r.abi);
  std::sort(abis.begin(), abis.end());
  if (!abis.empty()) {
    s += " (need ABI ";
    for (std::size_t i = 0; i < abis.size(); ++i) {
      if (i) s += ", ";
      s += std::to_string(abis[i]);
    }
    s += ')';
  }
  return s;
}

// Shared by the four bitmask types below: a strong type per kind of right,
// so a filesystem right can never be passed where a TCP right is meant.
template <class D>
class Mask {
 public:
  constexpr Mask() noexcept = default;
  constexpr explicit Mask(std::uint64_t bits) noexcept : bits_(bits) {}
  constexpr std::uint64_t bits() const noexcept { return bits_; }
  constexpr bool empty() const noexcept { return bits_ == 0; }
  constexpr explicit operator bool() const noexcept { return bits_ != 0; }
  constexpr bool contains(D o) const noexcept { return (bits_ & o.bits()) == o.bits(); }

  friend constexpr D operator|(D a, D b) noexcept { return D(a.bits() | b.bits()); }
  friend constexpr D operator&(D a, D b) noexcept { return D(a.bits() & b.bits()); }
  friend constexpr D operator~(D a) noexcept { return D(~a.bits()); }
  friend constexpr D& operator|=(D& a, D b) noexcept { return a = a | b; }
  friend constexpr D& operator&=(D& a, D b) noexcept { return a = a & b; }
  friend constexpr bool operator==(D a, D b) noexcept { return a.bits() == b.bits(); }

 private:
  std::uint64_t bits_ = 0;
};

}  // namespace detail::landlock

// Filesystem access rights (LANDLOCK_ACCESS_FS_*). Only execute,
// write_file, read_file, truncate and ioctl_dev apply to a file itself; the
// others apply to a directory's content (see landlock(7)).
class LandlockFs : public detail::landlock::Mask<LandlockFs> {
 public:
  using Mask::Mask;
  static const LandlockFs execute, write_file, read_file, read_dir, remove_dir, remove_file,
      make_char, make_dir, make_reg, make_sock, make_fifo, make_block, make_sym,
      refer,      // ABI 2: link or rename a file into a different directory
      truncate,   // ABI 3: truncate(2), ftruncate(2), open(O_TRUNC)
      ioctl_dev;  // ABI 5: ioctl(2) on character and block devices

  static constexpr LandlockFs none() noexcept { return LandlockFs(); }
  // Every right ward knows (ABI 5 level).
  static constexpr LandlockFs all() noexcept { return for_abi(1000); }
  // Every right the given ABI knows: handled_fs = LandlockFs::for_abi(3)
  // with strict mode demands exactly an ABI 3 kernel or newer.
  static constexpr LandlockFs for_abi(int abi) noexcept {
    return LandlockFs(detail::landlock::bits_up_to(detail::landlock::fs_rights, abi));
  }
  // The rights that apply to a non-directory (the kernel's ACCESS_FILE).
  static constexpr LandlockFs file_rights() noexcept;
  // read_file | read_dir.
  static constexpr LandlockFs read_only() noexcept;
  // execute (combine with read_only() for a tree of programs).
  static constexpr LandlockFs execute_only() noexcept;
  // read_only() plus writing, creating and removing regular files,
  // directories, sockets, fifos and symlinks, refer and truncate. Not:
  // execute, make_char, make_block, ioctl_dev.
  static constexpr LandlockFs read_write() noexcept;

  std::string to_string() const {
    return detail::landlock::names(detail::landlock::fs_rights, bits());
  }
};
inline constexpr LandlockFs LandlockFs::execute{1ULL << 0};
inline constexpr LandlockFs LandlockFs::write_file{1ULL << 1};
inline constexpr LandlockFs LandlockFs::read_file{1ULL << 2};
inline constexpr LandlockFs LandlockFs::read_dir{1ULL << 3};
inline constexpr LandlockFs LandlockFs::remove_dir{1ULL << 4};
inline constexpr LandlockFs LandlockFs::remove_file{1ULL << 5};
inline constexpr LandlockFs LandlockFs::make_char{1ULL << 6};
inline constexpr LandlockFs LandlockFs::make_dir{1ULL << 7};
inline constexpr LandlockFs LandlockFs::make_reg{1ULL << 8};
inline constexpr LandlockFs LandlockFs::make_sock{1ULL << 9};
inline constexpr LandlockFs LandlockFs::make_fifo{1ULL << 10};
inline constexpr LandlockFs LandlockFs::make_block{1ULL << 11};
inline constexpr LandlockFs LandlockFs::make_sym{1ULL << 12};
inline constexpr LandlockFs LandlockFs::refer{1ULL << 13};
inline constexpr LandlockFs LandlockFs::truncate{1ULL << 14};
inline constexpr LandlockFs LandlockFs::ioctl_dev{1ULL << 15};
constexpr LandlockFs LandlockFs::file_rights() noexcept {
  return execute | write_file | read_file | truncate | ioctl_dev;
}
constexpr LandlockFs LandlockFs::read_only() noexcept { return read_file | read_dir; }
constexpr LandlockFs LandlockFs::execute_only() noexcept { return execute; }
constexpr LandlockFs LandlockFs::read_write() noexcept {
  return read_only() | write_file | remove_dir | remove_file | make_dir | make_reg | make_sock |
         make_fifo | make_sym | refer | truncate;
}

// TCP access rights (LANDLOCK_ACCESS_NET_*, ABI 4). Landlock's network
// rules cover TCP bind(2) and connect(2) only; UDP and other protocols are
// not restricted by them.
class LandlockNet : public detail::landlock::Mask<LandlockNet> {
 public:
  using Mask::Mask;
  static const LandlockNet bind_tcp, connect_tcp;
  static constexpr LandlockNet none() noexcept { return LandlockNet(); }
  static constexpr LandlockNet all() noexcept;
  std::string to_string() const {
    return detail::landlock::names(detail::landlock::net_rights, bits());
  }
};
inline constexpr LandlockNet LandlockNet::bind_tcp{1ULL << 0};
inline constexpr LandlockNet LandlockNet::connect_tcp{1ULL << 1};
constexpr LandlockNet LandlockNet::all() noexcept { return bind_tcp | connect_tcp; }

// IPC scopes (LANDLOCK_SCOPE_*, ABI 6): with a scope set, the domain may
// not reach outside itself: connect to an abstract unix socket created by
// a process outside the domain (EPERM), or send a signal to one (EPERM).
class LandlockScope : public detail::landlock::Mask<LandlockScope> {
 public:
  using Mask::Mask;
  static const LandlockScope abstract_unix_socket, signal;
  static constexpr LandlockScope none() noexcept { return LandlockScope(); }
  static constexpr LandlockScope all() noexcept;
  std::string to_string() const {
    return detail::landlock::names(detail::landlock::scopes, bits());
  }
};
inline constexpr LandlockScope LandlockScope::abstract_unix_socket{1ULL << 0};
inline constexpr LandlockScope LandlockScope::signal{1ULL << 1};
constexpr LandlockScope LandlockScope::all() noexcept { return abstract_unix_socket | signal; }

// Audit logging flags for landlock_restrict_self(2) (LANDLOCK_RESTRICT_SELF_LOG_*,
// ABI 7). Denials are logged through the audit subsystem by default for the
// process that restricted itself until it execs; these change that.
class LandlockLog : public detail::landlock::Mask<LandlockLog> {
 public:
  using Mask::Mask;
  static const LandlockLog same_exec_off,  // no logs before the next execve
      new_exec_on,                         // also log after execve
      subdomains_off;                      // silence nested domains' logs
  std::string to_string() const {
    return detail::landlock::names(detail::landlock::log_flags, bits());
  }
};
inline constexpr LandlockLog LandlockLog::same_exec_off{1ULL << 0};
inline constexpr LandlockLog LandlockLog::new_exec_on{1ULL << 1};
inline constexpr LandlockLog LandlockLog::subdomains_off{1ULL << 2};

// What the running kernel offers.
struct LandlockSupport {
  int abi = 0;               // highest ABI version; 0: Landlock is not usable
  int error = 0;             // when abi == 0: the errno of the version query
  std::string reason;        // when abi == 0: why, for people
  std::uint32_t errata = 0;  // LANDLOCK_CREATE_RULESET_ERRATA bits (fixed issues), if known
};

namespace detail::landlock {
inline LandlockSupport query_support() {
  LandlockSupport s;
  long v = sys::call(sys::nr_landlock_create_ruleset, nullptr, 0, create_ruleset_version);
  if (v > 0) {
    s.abi = static_cast<int>(v);
    // Older kernels reject the errata flag (EINVAL): no errata known.
    long e = sys::call(sys::nr_landlock_create_ruleset, nullptr, 0, create_ruleset_errata);
    if (e > 0) s.errata = static_cast<std::uint32_t>(e);
    return s;
  }
  s.error = v < 0 ? static_cast<int>(-v) : EINVAL;
  switch (s.error) {
    case ENOSYS:
      s.reason =
          "the kernel has no Landlock (before 5.13, or built without CONFIG_SECURITY_LANDLOCK)";
      break;
    case EOPNOTSUPP:
      s.reason = "Landlock is built in but not enabled at boot (add \"landlock\" to lsm=)";
      break;
    default:
      s.reason =
          "landlock_create_ruleset(LANDLOCK_CREATE_RULESET_VERSION) failed: " + errno_name(s.error);
  }
  return s;
}
}  // namespace detail::landlock

// Asked once per process (landlock_create_ruleset(2) with
// LANDLOCK_CREATE_RULESET_VERSION); thread-safe.
inline const LandlockSupport& landlock_support() {
  static const LandlockSupport s = detail::landlock::query_support();
  return s;
}
// The running kernel's Landlock ABI version, 0 when unsupported or disabled
// (landlock_support().reason says which).
inline int landlock_abi() { return landlock_support().abi; }

// Child-safe landlock_restrict_self(2): detail/child/landlock.hpp.
using detail::child::landlock_restrict_raw;

enum class LandlockMode {
  // Drop what the running ABI lacks; dropped() lists it.
  best_effort,
  // Throw ward::Error(Step::landlock, EOPNOTSUPP) naming what is missing.
  strict,
};

// How much of what was asked restrict_self() enforces.
enum class LandlockEnforcement {
  none,     // nothing: Landlock unavailable, or everything asked for was dropped
  partial,  // some rights/scopes/flags were dropped (see dropped())
  full,     // all of it
};

struct LandlockOptions {
  // Access that is denied unless a rule allows it. Default: every
  // filesystem right ward knows, so nothing outside allow_path() trees is
  // reachable; TCP and scopes are not handled unless named.
  LandlockFs handled_fs = LandlockFs::all();
  LandlockNet handled_net = LandlockNet::none();
  LandlockScope scoped = LandlockScope::none();
  LandlockMode mode = LandlockMode::best_effort;
  // ABI 7 audit-logging flags for landlock_restrict_self(2).
  LandlockLog log = LandlockLog();
  // Pretend the kernel is (at most) this ABI version: for testing the
  // negotiation on a new kernel. 0 pretends Landlock is unavailable.
  std::optional<int> assume_abi = std::nullopt;
};

// A Landlock ruleset being built, then an open ruleset descriptor.
//
//   ward::LandlockRuleset rs({.handled_net = ward::LandlockNet::all()});
//   rs.allow_path("/usr", LandlockFs::read_only() | LandlockFs::execute)
//     .allow_path("/tmp/work", LandlockFs::read_write())
//     .allow_port(443, LandlockNet::connect_tcp);
//   rs.restrict_self();  // this thread, and whatever it starts, from now on
//
// The REFER quirk: linking or renaming a file into a *different* directory
// is denied (EXDEV) inside every Landlock domain unless the domain handles
// LandlockFs::refer and a rule allows it on both sides. ABI 1 kernels have
// no refer right at all, so there such renames are always denied, even in
// best_effort mode (which then drops refer and says so in dropped()):
// programs that move files between directories (package managers, some
// editors' atomic saves across directories) fail on ABI 1.
class LandlockRuleset {
 public:
  using Options = LandlockOptions;
  using Mode = LandlockMode;

  explicit LandlockRuleset(Options o = {}) : opts_(o) {
    const LandlockSupport& sup = landlock_support();
    abi_ = sup.abi;
    if (opts_.assume_abi && *opts_.assume_abi < abi_) abi_ = std::max(0, *opts_.assume_abi);
    namespace ll = detail::landlock;
    const std::uint64_t fs_ok = ll::bits_up_to(ll::fs_rights, abi_);
    const std::uint64_t net_ok = ll::bits_up_to(ll::net_rights, abi_);
    const std::uint64_t scope_ok = ll::bits_up_to(ll::scopes, abi_);
    const std::uint64_t log_ok = ll::bits_up_to(ll::log_flags, abi_);
    fs_ = LandlockFs(opts_.handled_fs.bits() & fs_ok);
    net_ = LandlockNet(opts_.handled_net.bits() & net_ok);
    scoped_ = LandlockScope(opts_.scoped.bits() & scope_ok);
    log_ = LandlockLog(opts_.log.bits() & log_ok);
    const std::uint64_t d_fs = opts_.handled_fs.bits() & ~fs_ok;
    const std::uint64_t d_net = opts_.handled_net.bits() & ~net_ok;
    const std::uint64_t d_scope = opts_.scoped.bits() & ~scope_ok;
    const std::uint64_t d_log = opts_.log.bits() & ~log_ok;

    std::string missing;
    auto part = [&missing](std::string_view group, const std::string& what) {
      if (!missing.empty()) missing += "; ";
      missing += group;
      missing += ": ";
      missing += what;
    };
    if (d_fs) {
      part("fs", ll::names_with_abi(ll::fs_rights, d_fs));
      if (d_fs & LandlockFs::refer.bits())
        missing += " [without refer, links and renames across directories fail with EXDEV]";
    }
    if (d_net) part("net", ll::names_with_abi(ll::net_rights, d_net));
    if (d_scope) part("scope", ll::names_with_abi(ll::scopes, d_scope));
    if (d_log) part("log", ll::names_with_abi(ll::log_flags, d_log));

    std::string have =
        abi_ == 0 ? std::string("no Landlock") : "Landlock ABI " + std::to_string(abi_);
    if (abi_ == 0) {
      std::string why = opts_.assume_abi && *opts_.assume_abi <= 0 && sup.abi > 0
                            ? std::string("pretending Landlock is unavailable (assume_abi)")
                            : sup.reason;
      if (opts_.mode == Mode::strict)
        throw Error(Step::landlock, sup.abi == 0 ? sup.error : EOPNOTSUPP, "ruleset", why);
      dropped_ = "landlock unavailable: " + why;
      return;
    }
    if (!missing.empty()) {
      if (opts_.assume_abi && abi_ < sup.abi)
        have += " (assumed; the kernel has " + std::to_string(sup.abi) + ")";
      if (opts_.mode == Mode::strict)
        throw Error(Step::landlock, EOPNOTSUPP, "ruleset",
                    "this kernel has " + have + "; missing " + missing);
      dropped_ = missing;
    }
  }

  LandlockRuleset(LandlockRuleset&&) noexcept = default;
  LandlockRuleset& operator=(LandlockRuleset&&) noexcept = default;

  // Allow `access` beneath `path` (a directory: the whole hierarchy; a
  // file: that file). The path is opened now (O_PATH | O_CLOEXEC, following
  // symlinks), so a missing path is an Error naming it, and the rule
  // refers to what the path named at this moment. For a non-directory only
  // LandlockFs::file_rights() can apply (the kernel rejects the others with
  // EINVAL): they are masked off. Rights outside Options::handled_fs are a
  // mistake (EINVAL); rights the running ABI lacks were dropped (or
  // refused in strict mode) already.
  LandlockRuleset& allow_path(const std::string& path, LandlockFs access) {
    const LandlockFs unhandled = access & ~opts_.handled_fs;
    if (unhandled)
      throw Error(Step::landlock, EINVAL, path,
                  "rights " + unhandled.to_string() + " are not in Options::handled_fs");
    // Opened even when nothing will be enforced: a wrong path is an error on
    // every kernel alike.
    // Kept until create(): off 0-2 (fd.hpp off_stdio).
    UniqueFd fd(detail::off_stdio(::open(path.c_str(), O_PATH | O_CLOEXEC)));
    if (!fd) detail::throw_errno(Step::landlock, path, "opening the rule's path (O_PATH)");
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) detail::throw_errno(Step::landlock, path, "fstat");
    if (!S_ISDIR(st.st_mode)) {
      const LandlockFs dir_only = access & ~LandlockFs::file_rights();
      access &= LandlockFs::file_rights();
      if (access.empty())
        throw Error(Step::landlock, EINVAL, path,
                    "not a directory, and " + dir_only.to_string() + " apply only to directories");
    }
    access &= fs_;
    if (access.empty()) return *this;  // all it allowed was dropped (ABI), or no Landlock
    if (fd_) {
      add_path_rule(fd_.get(), fd.get(), path, access);
    } else {
      paths_.push_back({std::move(fd), path, access});
    }
    return *this;
  }

  // Allow `access` (bind_tcp, connect_tcp) on TCP `port` (host byte order).
  // Port 0 with bind_tcp allows binding to an ephemeral port.
  LandlockRuleset& allow_port(std::uint16_t port, LandlockNet access) {
    const LandlockNet unhandled = access & ~opts_.handled_net;
    if (unhandled || access.empty())
      throw Error(Step::landlock, EINVAL, "tcp port " + std::to_string(port),
                  access.empty()
                      ? std::string("no access rights given")
                      : "rights " + unhandled.to_string() + " are not in Options::handled_net");
    access &= net_;
    if (access.empty()) return *this;  // ABI < 4: dropped
    if (fd_) {
      add_port_rule(fd_.get(), port, access);
    } else {
      ports_.push_back({port, access});
    }
    return *this;
  }

  // Creates the ruleset descriptor and adds every rule (idempotent; later
  // allow_*() calls add to the descriptor directly). With nothing left to
  // enforce (no Landlock, or all asked for was dropped) there is no
  // descriptor: fd() stays -1.
  LandlockRuleset& create() {
    if (fd_ || !enforces_anything()) return *this;
    detail::landlock::RulesetAttr attr;
    attr.handled_access_fs = fs_.bits();
    attr.handled_access_net = net_.bits();
    attr.scoped = scoped_.bits();
    long r = detail::sys::call(detail::sys::nr_landlock_create_ruleset, &attr,
                               detail::landlock::ruleset_attr_size(abi_), 0);
    if (r < 0)
      throw Error(Step::landlock, static_cast<int>(-r), "ruleset",
                  "landlock_create_ruleset(2) handling fs {" + fs_.to_string() + "} net {" +
                      net_.to_string() + "} scoped {" + scoped_.to_string() + "}");
    UniqueFd fd(detail::off_stdio(static_cast<int>(r)));  // the kernel makes it O_CLOEXEC
    for (auto& p : paths_) {
      add_path_rule(fd.get(), p.fd.get(), p.path, p.access);
      p.fd.reset();
    }
    for (auto& p : ports_) add_port_rule(fd.get(), p.port, p.access);
    paths_.clear();
    ports_.clear();
    fd_ = std::move(fd);
    return *this;
  }

  // The ruleset descriptor (borrowed; -1 before create() or when nothing is
  // enforced). Pass it to landlock_restrict_raw() in a child.
  int fd() const noexcept { return fd_.get(); }

  // Applies the ruleset to the calling thread (landlock_restrict_self(2)),
  // creating it first if needed. Only this thread: other threads of the
  // process keep running unrestricted, threads and processes it creates
  // afterwards inherit the domain. The kernel requires no_new_privs or
  // CAP_SYS_ADMIN; with `set_no_new_privs` (the default) PR_SET_NO_NEW_PRIVS
  // is set first — always, even when nothing is enforced, so a program's
  // setuid behaviour does not depend on the kernel it runs on.
  LandlockEnforcement restrict_self(bool set_no_new_privs = true) {
    if (set_no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
      detail::throw_errno(Step::landlock, "no_new_privs", "prctl(PR_SET_NO_NEW_PRIVS)");
    create();
    if (!fd_) return LandlockEnforcement::none;
    long r = landlock_restrict_raw(fd_.get(), restrict_flags());
    if (r < 0) {
      int err = static_cast<int>(-r);
      std::string why = "landlock_restrict_self(2)";
      if (err == EPERM)
        why += ": needs no_new_privs (restrict_self(true)) or CAP_SYS_ADMIN";
      else if (err == E2BIG)
        why += ": the thread is already in 16 stacked Landlock domains";
      throw Error(Step::landlock, err, "ruleset", why);
    }
    return enforcement();
  }

  // What restrict_self() enforces relative to what was asked.
  LandlockEnforcement enforcement() const noexcept {
    if (!enforces_anything()) return LandlockEnforcement::none;
    return dropped_.empty() ? LandlockEnforcement::full : LandlockEnforcement::partial;
  }

  // The ABI negotiated with (the kernel's, or assume_abi if lower).
  int abi() const noexcept { return abi_; }
  LandlockMode mode() const noexcept { return opts_.mode; }
  // What is actually handled after negotiation.
  LandlockFs handled_fs() const noexcept { return fs_; }
  LandlockNet handled_net() const noexcept { return net_; }
  LandlockScope scoped() const noexcept { return scoped_; }
  // Flags for landlock_restrict_self(2) / landlock_restrict_raw().
  std::uint32_t restrict_flags() const noexcept { return static_cast<std::uint32_t>(log_.bits()); }
  // Empty when everything asked for is enforced; otherwise what best_effort
  // dropped, e.g. "fs: truncate, ioctl_dev (need ABI 3, 5); net: bind_tcp,
  // connect_tcp (need ABI 4)", or "landlock unavailable: <reason>".
  const std::string& dropped() const noexcept { return dropped_; }

 private:
  struct PendingPath {
    UniqueFd fd;
    std::string path;
    LandlockFs access;
  };
  struct PendingPort {
    std::uint16_t port;
    LandlockNet access;
  };

  bool enforces_anything() const noexcept { return abi_ > 0 && (fs_ || net_ || scoped_); }

  static void add_path_rule(int ruleset_fd, int parent_fd, const std::string& path,
                            LandlockFs access) {
    detail::landlock::PathBeneathAttr a{};
    a.allowed_access = access.bits();
    a.parent_fd = parent_fd;
    long r = detail::sys::call(detail::sys::nr_landlock_add_rule, ruleset_fd,
                               detail::landlock::rule_path_beneath, &a, 0);
    if (r < 0)
      throw Error(Step::landlock, static_cast<int>(-r), path,
                  "landlock_add_rule(2) LANDLOCK_RULE_PATH_BENEATH allowing " + access.to_string());
  }

  static void add_port_rule(int ruleset_fd, std::uint16_t port, LandlockNet access) {
    detail::landlock::NetPortAttr a{};
    a.allowed_access = access.bits();
    a.port = port;
    long r = detail::sys::call(detail::sys::nr_landlock_add_rule, ruleset_fd,
                               detail::landlock::rule_net_port, &a, 0);
    if (r < 0)
      throw Error(Step::landlock, static_cast<int>(-r), "tcp port " + std::to_string(port),
                  "landlock_add_rule(2) LANDLOCK_RULE_NET_PORT allowing " + access.to_string());
  }

  Options opts_;
  int abi_ = 0;
  LandlockFs fs_;
  LandlockNet net_;
  LandlockScope scoped_;
  LandlockLog log_;
  std::string dropped_;
  std::vector<PendingPath> paths_;
  std::vector<PendingPort> ports_;
  UniqueFd fd_;
};

}  // namespace ward
