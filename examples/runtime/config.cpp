// SPDX-License-Identifier: Apache-2.0
// The container's config: what create read is what the container keeps.
// start, exec and delete read the bundle's config.json again before this;
// whoever could write the bundle could then drop an exec'd process's
// seccomp filter, raise its capabilities or add hooks that run as host
// root (runc and crun keep what create parsed too). Proof: attack
// "config.json rewritten after create changes nothing"
// (tests/attack/config_attack_test.cpp).
#include "runtime.hpp"

namespace wardrt {

namespace {

constexpr const char* kSaved = "config.json";

std::string read_all(const std::string& path, int flags) {
  ward::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | flags));
  if (!fd) ward::detail::throw_errno(ward::Step::io, path, "open");
  std::string text;
  if (!read_fd(fd.get(), text)) ward::detail::throw_errno(ward::Step::io, path, "read");
  return text;
}

}  // namespace

// The bundle's config.json, read once: its bytes (for save_config) and
// what they parse to.
ward::oci::Config read_config(const std::string& file, std::string& bytes) {
  bytes = read_all(file, 0);
  return ward::oci::parse_config(bytes, file);
}

// Into the state directory: a new file (O_EXCL, O_NOFOLLOW: nothing that
// is already there, a symlink least of all, is written through), 0600,
// renamed over the name only once it is whole.
void save_config(const std::string& dir, const std::string& bytes) {
  ward::UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!d) fail("open " + dir + ": " + std::strerror(errno));
  const std::string tmp = std::string(kSaved) + ".tmp";
  ward::UniqueFd fd(
      ::openat(d.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) fail("open " + dir + "/" + tmp + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = n < 0 ? errno : EIO;
      ::unlinkat(d.get(), tmp.c_str(), 0);
      fail("write " + dir + "/" + tmp + ": " + std::strerror(e));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd.release()) != 0 || ::renameat(d.get(), tmp.c_str(), d.get(), kSaved) != 0) {
    int e = errno;
    ::unlinkat(d.get(), tmp.c_str(), 0);
    fail("write " + dir + "/" + kSaved + ": " + std::strerror(e));
  }
}

// What create stored; never the bundle's file, which may have changed.
ward::oci::Config saved_config(const Container& c) {
  const std::string path = c.dir + "/" + kSaved;
  std::string bytes;
  try {
    bytes = read_all(path, O_NOFOLLOW);
  } catch (const Error& e) {
    if (e.code().value() == ENOENT)
      fail("container " + c.id + ": no config saved at create (" + path +
           "): created by an older ward? delete and create it again");
    throw;
  }
  return ward::oci::parse_config(bytes, path);
}

}  // namespace wardrt
