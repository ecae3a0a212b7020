// SPDX-License-Identifier: Apache-2.0
// Choosing the mount API for a test, and proving which executor path ran.
//
// Setting WARD_MOUNT_API in a test says nothing about what ran; these
// helpers force the API through ward::force_mount_api and then observe a
// difference only the chosen path shows: the legacy component walk refuses
// a symlink on the way to a destination (ELOOP), the modern one resolves it
// inside the root (openat2 RESOLVE_IN_ROOT).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

#include <ward/ward.hpp>

#include "rootfs_util.hpp"

namespace ward_test {

// Forces the mount API while in scope.
struct ForceMountApi {
  explicit ForceMountApi(ward::MountApi api) { ward::force_mount_api(api); }
  ~ForceMountApi() { ward::force_mount_api(std::nullopt); }
  ForceMountApi(const ForceMountApi&) = delete;
  ForceMountApi& operator=(const ForceMountApi&) = delete;
};

namespace detail_api {
// root/api-probe-dir and root/api-probe-link -> api-probe-dir, removed again.
struct ProbeLink {
  std::string root;
  explicit ProbeLink(std::string r) : root(std::move(r)) {
    if (::mkdir((root + "/api-probe-dir").c_str(), 0755) != 0 ||
        ::symlink("api-probe-dir", (root + "/api-probe-link").c_str()) != 0)
      throw std::runtime_error("api probe link in " + root);
  }
  ~ProbeLink() {
    ::unlink((root + "/api-probe-link").c_str());
    ::rmdir((root + "/api-probe-dir/x").c_str());
    ::rmdir((root + "/api-probe-dir").c_str());
  }
};
inline ward::MountApi from_error(const ward::Error& e) {
  if (e.code().value() == ELOOP) return ward::MountApi::legacy;
  throw e;
}
}  // namespace detail_api

// Which path MountGuard::mount takes now (mounts and unmounts a tmpfs in
// the caller's mount namespace: call ward_test::isolate_mounts() first).
inline ward::MountApi mount_guard_api_that_runs() {
  ScratchDir root("api-probe");
  detail_api::ProbeLink link(root.path);
  try {
    ward::MountGuard g = ward::MountGuard::mount(
        ward::MountSpec::tmpfs("/api-probe-link/x").option("size", "4k"), root.path);
    return ward::MountApi::modern;
  } catch (const ward::Error& e) {
    return detail_api::from_error(e);
  }
}

// Which path a sandbox's mount executor takes now, in a child with
// `rootfs` (which must hold an executable /bin/true or busybox's).
inline ward::MountApi sandbox_api_that_runs(const std::string& rootfs) {
  detail_api::ProbeLink link(rootfs);
  try {
    ward::Sandbox sb;
    sb.command({"/bin/true"})
        .unshare(ward::NsSet{ward::NsKind::mount})
        .rootfs(rootfs)
        .mount(ward::MountSpec::tmpfs("/api-probe-link/x").option("size", "4k"));
    if (!sb.spawn().wait().success()) throw std::runtime_error("api probe: /bin/true failed");
    return ward::MountApi::modern;
  } catch (const ward::Error& e) {
    return detail_api::from_error(e);
  }
}

// Why this kernel cannot make an idmapped mount of `dir` ("" when it can),
// asked of the kernel directly with open_tree + mount_setattr
// (MOUNT_ATTR_IDMAP): a test skips only for that, never for an error that
// came out of ward (which must fail it).
inline std::string idmap_unsupported(const std::string& dir) {
  namespace mnt = ward::detail::mnt;
  ward::UserNsOptions opts;
  opts.uid_map = ward::IdMap::single(1000, 2000);
  opts.gid_map = ward::IdMap::single(1000, 3000);
  ward::Namespace userns =
      std::move(ward::Namespace::create_set(ward::NsSet{ward::NsKind::user}, opts).front());
  long t = ::syscall(mnt::nr_open_tree, AT_FDCWD, dir.c_str(), mnt::kOpenTreeClone | O_CLOEXEC);
  if (t < 0) return std::string("open_tree: ") + std::strerror(errno);
  mnt::MountAttr a{mnt::kAttrIdmap, 0, 0, static_cast<std::uint64_t>(userns.fd())};
  long r = ::syscall(mnt::nr_mount_setattr, t, "", mnt::kAtEmptyPath, &a, sizeof a);
  int e = errno;
  ::close(static_cast<int>(t));
  return r == 0 ? "" : std::string("mount_setattr(MOUNT_ATTR_IDMAP): ") + std::strerror(e);
}

}  // namespace ward_test
