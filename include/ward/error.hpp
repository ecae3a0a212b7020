// SPDX-License-Identifier: Apache-2.0
// ward::Error: the one exception type at ward's API surface.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>

namespace ward {

// Every place where setting up a sandbox can fail. The child reports one of
// these as a number over its error pipe, so the values are part of the
// parent/child protocol: append, never reorder.
enum class Step : std::uint16_t {
  none = 0,
  validate,        // builder input rejected before any process exists
  resolve_exec,    // PATH lookup in the parent
  pipe,            // creating the report/sync pipes
  stack,           // mapping the child's stack
  clone,           // clone3(2)
  sync,            // parent/child handshake
  uid_map,         // writing /proc/PID/uid_map
  gid_map,         // writing /proc/PID/gid_map
  setgroups_file,  // writing /proc/PID/setgroups
  setns,           // joining an existing namespace
  unshare,         // creating a namespace after clone
  setresgid,
  setresuid,
  setgroups,
  hostname,
  domainname,
  loopback,      // bringing lo up over rtnetlink
  time_offsets,  // writing /proc/self/timens_offsets
  pdeathsig,
  setsid,
  fds,  // arranging kept fds and closing the rest
  chdir,
  sigmask,
  exec,
  wait,
  signal,
  open_namespace,
  persist_namespace,
  pidfd,
  io,
  mount,
  cgroup,
  capabilities,
  seccomp,
  rlimit,
  landlock,
  rootfs,      // preparing the root filesystem (bind onto itself, read-only root)
  pivot_root,  // pivot_root(2), or the MS_MOVE + chroot fallback
  terminal,    // the sandbox's pseudo-terminal (its /dev/pts/ptmx, /dev/console)
  net_device,  // moving a network device into a network namespace (net_device.hpp)
  keyring,     // joining a new session keyring (Sandbox::session_keyring)
  dbus,        // talking to a D-Bus peer (dbus.hpp)
  systemd,     // asking systemd for a unit (systemd.hpp)
};

constexpr std::string_view to_string(Step s) noexcept {
  switch (s) {
    case Step::none: return "none";
    case Step::validate: return "validate";
    case Step::resolve_exec: return "resolve executable";
    case Step::pipe: return "pipe";
    case Step::stack: return "child stack";
    case Step::clone: return "clone3";
    case Step::sync: return "parent/child sync";
    case Step::uid_map: return "uid_map";
    case Step::gid_map: return "gid_map";
    case Step::setgroups_file: return "setgroups policy";
    case Step::setns: return "setns";
    case Step::unshare: return "unshare";
    case Step::setresgid: return "setresgid";
    case Step::setresuid: return "setresuid";
    case Step::setgroups: return "setgroups";
    case Step::hostname: return "sethostname";
    case Step::domainname: return "setdomainname";
    case Step::loopback: return "loopback up";
    case Step::time_offsets: return "time namespace offsets";
    case Step::pdeathsig: return "parent-death signal";
    case Step::setsid: return "setsid";
    case Step::fds: return "file descriptors";
    case Step::chdir: return "chdir";
    case Step::sigmask: return "signal mask";
    case Step::exec: return "exec";
    case Step::wait: return "wait";
    case Step::signal: return "signal";
    case Step::open_namespace: return "open namespace";
    case Step::persist_namespace: return "persist namespace";
    case Step::pidfd: return "pidfd";
    case Step::io: return "io";
    case Step::mount: return "mount";
    case Step::cgroup: return "cgroup";
    case Step::capabilities: return "capabilities";
    case Step::seccomp: return "seccomp";
    case Step::rlimit: return "rlimit";
    case Step::landlock: return "landlock";
    case Step::rootfs: return "rootfs";
    case Step::pivot_root: return "pivot_root";
    case Step::terminal: return "terminal";
    case Step::net_device: return "network device";
    case Step::keyring: return "session keyring";
    case Step::dbus: return "dbus";
    case Step::systemd: return "systemd";
  }
  return "unknown";
}

namespace detail {
// "ENOENT" rather than only "No such file or directory": people grep for it.
inline std::string errno_name(int err) {
  if (err == 0) return "0";
  const char* n = ::strerrorname_np(err);
  return n ? std::string(n) : "errno " + std::to_string(err);
}
}  // namespace detail

// Error names the step that failed, the errno, and the object involved
// (a path, a builder field, a namespace kind), e.g.
//   ward: exec /no/such/bin: No such file or directory (ENOENT)
// code() is a std::generic_category error_code, so callers can compare it
// with std::errc values.
class Error : public std::system_error {
 public:
  Error(Step step, int err, std::string object, std::string detail = {})
      : std::system_error(err, std::generic_category()),
        step_(step),
        object_(std::move(object)),
        detail_(std::move(detail)),
        message_(format(step_, err, object_, detail_)) {}

  // Our own message: std::system_error's would append strerror a second time.
  const char* what() const noexcept override { return message_.c_str(); }

  Step step() const noexcept { return step_; }
  int error_number() const noexcept { return code().value(); }
  const std::string& object() const noexcept { return object_; }
  const std::string& detail() const noexcept { return detail_; }

 private:
  static std::string format(Step step, int err, const std::string& object,
                            const std::string& detail) {
    std::string m = "ward: ";
    m += to_string(step);
    if (!object.empty()) {
      m += ' ';
      m += object;
    }
    if (err != 0) {
      m += ": ";
      m += std::strerror(err);
      m += " (";
      m += detail::errno_name(err);
      m += ')';
    }
    if (!detail.empty()) {
      m += ": ";
      m += detail;
    }
    return m;
  }

  Step step_;
  std::string object_;
  std::string detail_;
  std::string message_;
};

namespace detail {
[[noreturn]] inline void throw_errno(Step step, std::string object, std::string detail = {}) {
  throw Error(step, errno, std::move(object), std::move(detail));
}
[[noreturn]] inline void throw_invalid(std::string field, std::string why) {
  throw Error(Step::validate, EINVAL, std::move(field), std::move(why));
}
}  // namespace detail

}  // namespace ward
