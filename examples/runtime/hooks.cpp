// SPDX-License-Identifier: Apache-2.0
// OCI hooks and the console socket.
#include "runtime.hpp"

namespace wardrt {

// Makes `sb` join every namespace of process `pid` that differs from ours
// (the builder orders the joins: user first).
void join_namespaces_of(ward::Sandbox& sb, pid_t pid) {
  for (ward::NsKind kind : ward::all_ns_kinds) {
    const std::string name(ward::proc_name(kind));
    std::string theirs = "/proc/" + std::to_string(pid) + "/ns/" + name;
    struct stat a1, b1;
    if (::stat(theirs.c_str(), &a1) != 0) continue;
    if (::stat(("/proc/self/ns/" + name).c_str(), &b1) == 0 && a1.st_ino == b1.st_ino) continue;
    sb.join(kind, theirs);
  }
}

// Runs hooks with the state on stdin (config.md "POSIX-platform Hooks");
// a hook that fails or outlives its timeout fails the operation. With
// `in_container`, each hook runs in the namespaces of that process (the
// createContainer and startContainer hooks, config.md "Lifecycle").
void run_hooks(const std::vector<ward::oci::Hook>& hooks, const ward::oci::State& st,
               const char* which, pid_t in_container) {
  if (hooks.empty()) return;
  // The state goes to each hook's stdin from a memory file (memfd), not a
  // pipe: a hook may exit without reading it, and our write into a pipe
  // whose reader is gone would be a SIGPIPE.
  const std::string state_json = ward::oci::to_json(st);
  for (auto& h : hooks) {
    ward::UniqueFd in(::memfd_create("ward-hook-state", MFD_CLOEXEC));
    if (!in) fail(std::string(which) + " hook: memfd_create: " + std::strerror(errno));
    if (::write(in.get(), state_json.data(), state_json.size()) !=
            static_cast<ssize_t>(state_json.size()) ||
        ::lseek(in.get(), 0, SEEK_SET) != 0)
      fail(std::string(which) + " hook: writing the state: " + std::strerror(errno));
    ward::Sandbox sb;
    std::vector<std::string> args = h.args.empty() ? std::vector<std::string>{h.path} : h.args;
    sb.command(args).executable(h.path).env(h.env).stdin_(ward::Stdio::fd(in.get()));
    if (in_container > 0) join_namespaces_of(sb, in_container);
    ward::Child child = [&] {
      try {
        return sb.spawn();
      } catch (const Error& e) {
        fail(std::string(which) + " hook " + h.path + ": " + e.what());
      }
    }();
    in.reset();
    std::optional<ward::ExitStatus> es;
    if (h.timeout) {
      es = child.wait_for(std::chrono::seconds(*h.timeout));
      if (!es) {
        child.kill(SIGKILL);
        child.wait();
        fail(std::string(which) + " hook " + h.path + ": timed out after " +
             std::to_string(*h.timeout) + "s");
      }
    } else {
      es = child.wait();
    }
    if (!es->success()) fail(std::string(which) + " hook " + h.path + " failed: " + es->describe());
  }
}

// ------------------------------------------------------------------ console socket

// Sends the pty master to the engine over the --console-socket (SCM_RIGHTS),
// as runc does; conmon and the containerd shim wait for it there.
void send_console(const std::string& socket_path, int master) {
  try {
    ward::send_console(socket_path, master);
  } catch (const ward::Error& e) {
    fail(e.what());
  }
}

}  // namespace wardrt
