// SPDX-License-Identifier: Apache-2.0
// The container's config: what create read is what the container keeps.
// start, exec and delete read the bundle's config.json again before this;
// whoever could write the bundle could then drop an exec'd process's
// seccomp filter, raise its capabilities or add hooks that run as host
// root (runc and crun keep what create parsed too). Proof: attack
// "config: a config.json rewritten after create changes nothing"
// (tests/attack/config_attack_test.cpp).
#include "runtime.hpp"

namespace wardrt {

namespace {

constexpr const char* kSaved = "config.json";

std::string read_all(const std::string& path) {
  ward::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) fail("open " + path + ": " + std::strerror(errno));
  std::string text;
  if (!read_fd(fd.get(), text)) fail("read " + path + ": " + std::strerror(errno));
  return text;
}

}  // namespace

// The bundle's config.json, read once: its bytes (for save_config) and
// what they parse to.
ward::oci::Config read_config(const std::string& file, std::string& bytes) {
  bytes = read_all(file);
  return ward::oci::parse_config(bytes, file);
}

// Into the state directory, 0600, atomically (write_atomic_at: a new
// O_EXCL|O_NOFOLLOW file renamed over the name once it is whole).
void save_config(const Container& c, const std::string& bytes) {
  write_atomic_at(c.dfd.get(), kSaved, bytes, 0600, c.dir + "/" + kSaved);
}

// What create stored; never the bundle's file, which may have changed.
// Read below the container's directory descriptor, never through a symlink.
std::string config_rootfs(const std::string& bundle, const ward::oci::Config& cfg) {
  fs::path root = cfg.root.path;
  if (root.is_relative()) root = fs::path(bundle) / root;
  return fs::absolute(root).lexically_normal().string();
}

// Two containers on one root.path, neither with a mount namespace of its
// own: the second's clone would be made of, and stacked on, the first's,
// so that a delete could reach only the one on top (umount2(2) takes the
// topmost mount of a place). Containers of this --root are checked: the
// mount root.path leads to must not be one a record names. Test:
// "runtime: a container without a mount namespace of its own ..." ("a
// second container on the same root.path is refused").
void refuse_rootfs_in_use(const std::string& id, const std::string& bundle,
                          const ward::oci::Config& cfg) {
  if (cfg.linux_)
    for (const auto& n : cfg.linux_->namespaces)
      if (n.type == ward::oci::NamespaceType::mount && n.path.empty()) return;
  const std::string rootfs = config_rootfs(bundle, cfg);
  bool mount_root = false;
  ward::RootfsMount top;
  try {
    top = ward::RootfsMount::at(rootfs, &mount_root);
  } catch (const Error&) {
    return;  // the plan names the path and its errno
  }
  if (!mount_root) return;
  std::string holder;
  for (const auto& n : container_entries()) {
    if (n == id) continue;
    try {
      Container other = load(n, true);
      if (other.rootfs_mount.id == top.id && other.rootfs_mount.unique == top.unique &&
          other.rootfs_mount.ns_ino == 0)
        holder = n;
    } catch (...) {
    }
  }
  if (!holder.empty())
    fail("root.path: " + rootfs + " holds the mounts of container " + holder +
         " (neither has a mount namespace of its own): " + std::strerror(EBUSY) + " (EBUSY)");
}

ward::oci::Config saved_config(const Container& c) {
  const std::string shown = c.dir + "/" + kSaved;
  ward::UniqueFd fd(::openat(c.dfd.get(), kSaved, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT)
      fail("container " + c.id + ": no config saved at create (" + shown +
           "): created by an older ward? delete and create it again");
    fail("open " + shown + ": " + std::strerror(errno));
  }
  std::string bytes;
  if (!read_fd(fd.get(), bytes)) fail("read " + shown + ": " + std::strerror(errno));
  return ward::oci::parse_config(bytes, shown);
}

}  // namespace wardrt
