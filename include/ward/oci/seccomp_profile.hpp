// SPDX-License-Identifier: Apache-2.0
// Seccomp profiles in JSON: the OCI runtime-spec `linux.seccomp` object and
// Docker's profile format (the same plus `archMap` and per-rule
// `includes`/`excludes`), mapped onto SeccompFilter.
//
// The mapping follows what runc (OCI) and Docker/moby (profile) do, so a
// profile means here what it means there:
//  - SCMP_ACT_ERRNO and SCMP_ACT_TRACE without errnoRet use EPERM; the
//    default action uses defaultErrnoRet. SCMP_ACT_KILL is libseccomp's
//    KILL_THREAD.
//  - Several `args` of one rule are ANDed, unless two of them test the same
//    argument: then each becomes a rule of its own (ORed), as runc does.
//    SCMP_CMP_MASKED_EQ compares (arg & value) == valueTwo.
//  - Unknown syscall names are ignored (runtime-spec: "the runtime MUST
//    ignore" names it does not know for the architecture).
//  - Docker rules are kept when every `includes.caps` capability is in the
//    container's set, none of `excludes.caps` is, the native architecture is
//    (not) in `includes.arches`/`excludes.arches` (Go names: amd64, arm64,
//    386, arm, riscv64), and the kernel is at least `includes.minKernel`.
//  - `archMap`: the native architecture's entry and its subArchitectures;
//    `architectures` (OCI) as listed. The native architecture is always
//    included, listed or not (libseccomp's filters always have it).
//    Architectures ward has no tables for are left out and reported in
//    `warnings`; their calls then get the bad-arch action (kill), which is
//    never less strict.
//  - System calls newer than the profile (above the largest number it
//    names on an architecture) get ENOSYS unless the default action lets
//    calls run: runc's -ENOSYS stub (SeccompFilter::newer_syscall_action).
#pragma once

#include <sys/utsname.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <ward/capabilities.hpp>
#include <ward/detail/seccomp_load.hpp>
#include <ward/detail/syscall_tables.hpp>
#include <ward/oci/json.hpp>
#include <ward/seccomp.hpp>

namespace ward {

struct SeccompProfileOptions {
  // The container's capabilities, for Docker's includes/excludes.caps.
  CapabilitySet capabilities = CapabilitySet::docker_default();
  // Kernel version (major, minor) for includes.minKernel; default: uname.
  std::optional<std::pair<int, int>> kernel;
};

struct SeccompProfile {
  SeccompFilter filter{SeccompAction::allow()};
  std::uint32_t flags = 0;  // SeccompFlag bits
  std::string listener_path, listener_metadata;
  std::vector<std::string> warnings;
};

namespace detail {

inline std::string_view go_arch_name(Arch a) noexcept {
  switch (a) {
    case Arch::x86_64: return "amd64";
    case Arch::i386: return "386";
    case Arch::x32: return "amd64";
    case Arch::aarch64: return "arm64";
    case Arch::arm: return "arm";
    case Arch::riscv64: return "riscv64";
  }
  return "?";
}

inline std::pair<int, int> running_kernel() {
  struct utsname u {};
  ::uname(&u);
  int major = 0, minor = 0;
  std::sscanf(u.release, "%d.%d", &major, &minor);
  return {major, minor};
}

inline SeccompAction profile_action(const json::Reader& action, const json::Reader& errno_ret) {
  const std::string& a = action.string();
  auto ret = [&] { return errno_ret.present() ? errno_ret.integer<int>(0, 4095) : EPERM; };
  if (a == "SCMP_ACT_ALLOW") return SeccompAction::allow();
  if (a == "SCMP_ACT_ERRNO") return SeccompAction::errno_ret(ret());
  if (a == "SCMP_ACT_KILL" || a == "SCMP_ACT_KILL_THREAD") return SeccompAction::kill_thread();
  if (a == "SCMP_ACT_KILL_PROCESS") return SeccompAction::kill_process();
  if (a == "SCMP_ACT_TRAP") return SeccompAction::trap();
  if (a == "SCMP_ACT_TRACE") return SeccompAction::trace(static_cast<std::uint16_t>(ret()));
  if (a == "SCMP_ACT_LOG") return SeccompAction::log();
  if (a == "SCMP_ACT_NOTIFY") return SeccompAction::user_notif();
  action.fail("unknown action \"" + a + "\"");
}

inline ArgCmp profile_arg(const json::Reader& r) {
  ArgCmp c;
  c.arg = r.required("index").integer<unsigned>(0, 5);
  const std::uint64_t value = r.required("value").uint64();
  const std::uint64_t two = r["valueTwo"].present() ? r["valueTwo"].uint64() : 0;
  const std::string& op = r.required("op").string();
  c.value = value;
  if (op == "SCMP_CMP_EQ")
    c.op = Cmp::eq;
  else if (op == "SCMP_CMP_NE")
    c.op = Cmp::ne;
  else if (op == "SCMP_CMP_LT")
    c.op = Cmp::lt;
  else if (op == "SCMP_CMP_LE")
    c.op = Cmp::le;
  else if (op == "SCMP_CMP_GT")
    c.op = Cmp::gt;
  else if (op == "SCMP_CMP_GE")
    c.op = Cmp::ge;
  else if (op == "SCMP_CMP_MASKED_EQ") {
    c.op = Cmp::masked_eq;
    c.mask = value;
    c.value = two;
  } else {
    r["op"].fail("unknown comparison \"" + op + "\"");
  }
  return c;
}

inline std::uint32_t profile_flag(const json::Reader& r) {
  const std::string& f = r.string();
  if (f == "SECCOMP_FILTER_FLAG_TSYNC") return static_cast<std::uint32_t>(SeccompFlag::tsync);
  if (f == "SECCOMP_FILTER_FLAG_LOG") return static_cast<std::uint32_t>(SeccompFlag::log);
  if (f == "SECCOMP_FILTER_FLAG_SPEC_ALLOW")
    return static_cast<std::uint32_t>(SeccompFlag::spec_allow);
  if (f == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV")
    return static_cast<std::uint32_t>(SeccompFlag::wait_killable_recv);
  r.fail("unknown flag \"" + f + "\"");
}

}  // namespace detail

// Map a parsed profile. `source` names the document in errors and `path` is
// the profile's place in it ("linux.seccomp" in a config.json), so an error
// reads "config.json: linux.seccomp.syscalls[3].action: unknown action ...".
inline SeccompProfile seccomp_profile_from_json(const json::Value& doc,
                                                const SeccompProfileOptions& opts = {},
                                                std::string source = "seccomp profile",
                                                std::string path = {}) {
  using json::Reader;
  Reader root(doc, std::move(source), std::move(path));
  root.object();
  const Arch native = detail::native_arch();
  const auto kernel = opts.kernel.value_or(detail::running_kernel());

  SeccompProfile out;
  out.filter = SeccompFilter(
      detail::profile_action(root.required("defaultAction"), root["defaultErrnoRet"]));
  out.filter.ignore_unknown_syscalls(true);

  // Architectures.
  std::vector<std::string> arch_names;
  if (root.has("architectures")) {
    arch_names = root["architectures"].strings();
  } else if (root.has("archMap")) {
    for (const Reader& m : root["archMap"].elements()) {
      auto a = detail::arch_from_string(m.required("architecture").string());
      if (a != native) continue;
      arch_names.push_back(m["architecture"].string());
      if (m.has("subArchitectures"))
        for (auto& s : m["subArchitectures"].strings()) arch_names.push_back(s);
    }
  }
  // The native architecture is always in: libseccomp's seccomp_init() makes
  // a filter with SCMP_ARCH_NATIVE and `architectures` only adds to it
  // (runc's InitSeccomp calls seccomp_arch_add for each), so a profile that
  // lists only SCMP_ARCH_X86 still governs the native x86_64 calls by its
  // rules, instead of killing the process on its first call.
  out.filter.add_arch(native);
  for (const auto& n : arch_names) {
    if (auto a = detail::arch_from_string(n)) {
      out.filter.add_arch(*a);
    } else {
      out.warnings.push_back("architecture " + n +
                             " is not supported; its calls get the bad-arch action");
    }
  }
  // runc's -ENOSYS stub (libcontainer/seccomp/patchbpf/enosys_linux.go,
  // generatePatch): system calls above the largest the profile names get
  // ENOSYS, unless the default action already lets calls run (ALLOW, LOG,
  // TRACE: "a good tracer should support future syscalls") or is itself
  // ERRNO(ENOSYS). runc adds the stub only for the architectures listed in
  // `architectures`; ward adds it for the implied native one too, since an
  // unlisted native architecture is as much a part of the filter.
  {
    const SeccompAction d = out.filter.default_action();
    using K = SeccompAction::Kind;
    const bool runs = d.kind() == K::allow || d.kind() == K::log || d.kind() == K::trace;
    if (!runs && d != SeccompAction::errno_ret(ENOSYS))
      out.filter.newer_syscall_action(SeccompAction::errno_ret(ENOSYS));
  }

  if (root.has("flags"))
    for (const Reader& f : root["flags"].elements()) out.flags |= detail::profile_flag(f);
  if (auto lp = root.optional_string("listenerPath")) out.listener_path = *lp;
  if (auto lm = root.optional_string("listenerMetadata")) out.listener_metadata = *lm;

  if (!root.has("syscalls")) return out;
  for (const Reader& rule : root["syscalls"].elements()) {
    // Docker's conditions.
    const Reader inc = rule["includes"], exc = rule["excludes"];
    auto has_cap = [&](const std::string& name) {
      auto c = capability_from_name(name);
      return c && opts.capabilities.contains(*c);
    };
    auto arch_listed = [&](const Reader& arches) {
      if (!arches.present()) return false;
      for (auto& a : arches.strings())
        if (a == detail::go_arch_name(native)) return true;
      return false;
    };
    bool keep = true;
    if (inc.present()) {
      if (inc.has("caps"))
        for (auto& c : inc["caps"].strings()) keep = keep && has_cap(c);
      if (inc.has("arches")) keep = keep && arch_listed(inc["arches"]);
      if (auto mk = inc.optional_string("minKernel")) {
        int major = 0, minor = 0;
        if (std::sscanf(mk->c_str(), "%d.%d", &major, &minor) < 1)
          inc["minKernel"].fail("expected a version like \"4.8\"");
        keep = keep && std::pair(kernel.first, kernel.second) >= std::pair(major, minor);
      }
    }
    if (exc.present()) {
      if (exc.has("caps"))
        for (auto& c : exc["caps"].strings()) keep = keep && !has_cap(c);
      if (exc.has("arches")) keep = keep && !arch_listed(exc["arches"]);
    }
    // Validate the rest even when the rule does not apply: a typo in a rule
    // for another architecture is still a typo.
    const SeccompAction action = detail::profile_action(rule.required("action"), rule["errnoRet"]);
    std::vector<ArgCmp> args;
    if (rule.has("args"))
      for (const Reader& a : rule["args"].elements()) args.push_back(detail::profile_arg(a));
    std::vector<std::string> names;
    if (rule.has("names")) names = rule["names"].strings();
    if (auto n = rule.optional_string("name")) names.push_back(*n);  // old Docker profiles
    if (!keep) continue;
    bool same_index = false;
    for (std::size_t i = 0; i < args.size(); ++i)
      for (std::size_t j = 0; j < i; ++j) same_index = same_index || args[i].arg == args[j].arg;
    for (const auto& name : names) {
      if (same_index) {
        for (const auto& a : args) out.filter.rule(action, name, {a});
      } else {
        out.filter.rule(action, name, args);
      }
    }
  }
  return out;
}

inline SeccompProfile load_seccomp_profile(const std::filesystem::path& file,
                                           const SeccompProfileOptions& opts = {}) {
  auto doc = json::parse_file(file);
  return seccomp_profile_from_json(doc, opts, file.string());
}

}  // namespace ward
