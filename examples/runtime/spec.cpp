// SPDX-License-Identifier: Apache-2.0
// spec: the default config.json.
#include "runtime.hpp"

namespace wardrt {

// ------------------------------------------------------------------ spec / features / version

// What `ward spec` writes: runc's default (a busybox-friendly `sh` in
// ./rootfs, three capabilities, the usual mounts, masked and read-only
// paths), with a user namespace mapping the caller to root when rootless.
std::string default_spec(bool rootless) {
  using json::Value;
  auto strs = [](std::initializer_list<const char*> l) {
    json::Array a;
    for (auto* s : l) a.emplace_back(s);
    return Value(std::move(a));
  };
  Value caps = strs({"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"});
  Value process = Value::object(
      {{"terminal", true},
       {"user", Value::object({{"uid", 0}, {"gid", 0}})},
       {"args", strs({"sh"})},
       {"env",
        strs({"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"})},
       {"cwd", "/"},
       {"capabilities",
        Value::object(
            {{"bounding", caps}, {"effective", caps}, {"permitted", caps}, {"ambient", caps}})},
       {"rlimits",
        Value::array({Value::object({{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}})})},
       {"noNewPrivileges", true}});
  auto mount = [&](const char* dst, const char* type, const char* src,
                   std::initializer_list<const char*> opts) {
    return Value::object(
        {{"destination", dst}, {"type", type}, {"source", src}, {"options", strs(opts)}});
  };
  json::Array mounts = {
      mount("/proc", "proc", "proc", {}),
      mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      rootless ? mount("/dev/pts", "devpts", "devpts",
                       {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"})
               : mount("/dev/pts", "devpts", "devpts",
                       {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
      mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      rootless ? mount("/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"})
               : mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
  };
  if (!rootless)
    // "cgroup", as runc's and crun's specs: cgroup2 on a v2 host, the
    // container's v1 view where the host has v1 hierarchies
    // (tests/root/oci_cgroup_view_test.cpp).
    mounts.push_back(mount("/sys/fs/cgroup", "cgroup", "cgroup",
                           {"nosuid", "noexec", "nodev", "relatime", "ro"}));
  json::Array ns;
  for (const char* t : {"pid", "network", "ipc", "uts", "mount"})
    ns.push_back(Value::object({{"type", t}}));
  if (rootless) ns.push_back(Value::object({{"type", "user"}}));
  Value linux_v = Value::object({{"namespaces", Value(std::move(ns))}});
  if (rootless) {
    linux_v.set(
        "uidMappings",
        Value::array({Value::object({{"containerID", 0}, {"hostID", ::getuid()}, {"size", 1}})}));
    linux_v.set(
        "gidMappings",
        Value::array({Value::object({{"containerID", 0}, {"hostID", ::getgid()}, {"size", 1}})}));
  } else {
    linux_v.set(
        "resources",
        Value::object(
            {{"devices", Value::array({Value::object({{"allow", false}, {"access", "rwm"}})})}}));
  }
  linux_v.set("maskedPaths", [] {
    json::Array a;
    for (auto& p : ward::default_masked_paths()) a.emplace_back(p);
    return Value(std::move(a));
  }());
  linux_v.set("readonlyPaths", [] {
    json::Array a;
    for (auto& p : ward::default_readonly_paths()) a.emplace_back(p);
    return Value(std::move(a));
  }());
  Value spec = Value::object({{"ociVersion", std::string(ward::oci::kOciVersionMax)},
                              {"process", std::move(process)},
                              {"root", Value::object({{"path", "rootfs"}, {"readonly", true}})},
                              {"hostname", "ward"},
                              {"mounts", Value(std::move(mounts))},
                              {"linux", std::move(linux_v)}});
  return json::dump(spec, {.indent = 4}) + "\n";
}

int cmd_spec(const std::string& bundle, bool rootless) {
  std::string dir = bundle.empty() ? "." : bundle;
  std::string path = dir + "/config.json";
  if (::access(path.c_str(), F_OK) == 0) fail("File " + path + " exists. Remove it first");
  write_atomic(path, default_spec(rootless));
  return 0;
}

}  // namespace wardrt
