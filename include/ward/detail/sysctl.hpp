// SPDX-License-Identifier: Apache-2.0
// Sandbox::sysctl's table: which sysctls are namespaced, and by which
// namespace (runc's list, libcontainer/configs/validate: net.*, the IPC
// ones, kernel.hostname and kernel.domainname, user.*).
#pragma once

#include <optional>
#include <string>

#include <ward/error.hpp>
#include <ward/namespace.hpp>

namespace ward::detail {

// The namespaced sysctls (runc's list): each needs its namespace to be
// new or joined, else the write would change the host.
inline std::string sysctl_path(const std::string& key, NsSet created, NsSet joined) {
  std::string field = "sysctl." + key;
  if (key.empty() ||
      key.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/") !=
          std::string::npos ||
      key.find("..") != std::string::npos || key.front() == '.' || key.front() == '/')
    throw_invalid(field, "not a sysctl name");
  std::string k = key;
  for (auto& ch : k)
    if (ch == '/') ch = '.';
  auto starts = [&](const char* pfx) { return k.rfind(pfx, 0) == 0; };
  std::optional<NsKind> ns;
  if (starts("net."))
    ns = NsKind::net;
  else if (starts("kernel.shm") || starts("kernel.msg") || k == "kernel.sem" ||
           starts("fs.mqueue."))
    ns = NsKind::ipc;
  else if (k == "kernel.hostname" || k == "kernel.domainname")
    ns = NsKind::uts;
  else if (starts("user."))
    // The ucounts limits (max_user_namespaces, max_*_watches...) are per
    // user namespace (user_namespaces(7), kernel/ucount.c): the child,
    // inside its own, writes its namespace's limits, which count on top
    // of every ancestor's. In the host's they would change the host's
    // (runc's validator: "setting ucounts without a user namespace not
    // allowed").
    ns = NsKind::user;
  if (!ns) throw_invalid(field, "not a namespaced sysctl: it would change the whole host");
  if (!created.contains(*ns) && !joined.contains(*ns))
    throw_invalid(field, "needs a " + std::string(to_string(*ns)) +
                             " namespace (unshare(NsKind::" + std::string(to_string(*ns)) +
                             ")), else it would change the host's value");
  std::string path = "/proc/sys/";
  for (char ch : k) path += ch == '.' ? '/' : ch;
  return path;
}

}  // namespace ward::detail
