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
