// SPDX-License-Identifier: Apache-2.0
// Root filesystems for mount tests: a scratch directory, a busybox rootfs,
// and a snapshot of a mount table to prove the host's did not change.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>

#include "test_util.hpp"

namespace ward_test {

// Gives this test process a private mount namespace: mounts the test makes
// itself (MountGuard, scratch tmpfs) and the "before/after" mount tables
// then concern this process only, not tests running beside it. Sandboxes
// spawned from here still start from this namespace, as from the host's.
inline void isolate_mounts() {
  if (::unshare(CLONE_NEWNS) != 0 ||
      ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    throw std::runtime_error("private mount namespace for the test");
}

// A directory under /tmp, removed (without crossing into other
// filesystems, should a test have left something mounted) when done.
struct ScratchDir {
  std::string path;
  explicit ScratchDir(const char* tag = "mnt") {
    std::string t = std::string("/tmp/ward-") + tag + "-XXXXXX";
    if (::mkdtemp(t.data()) == nullptr) throw std::runtime_error("mkdtemp");
    path = t;
    ::chmod(path.c_str(), 0755);  // the rootless tier's uid must reach it
  }
  ~ScratchDir() {
    std::string cmd = "rm -rf --one-file-system '" + path + "' 2>/dev/null";
    if (std::system(cmd.c_str()) != 0) {
    }
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string operator/(const std::string& rel) const { return path + "/" + rel; }
};

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  if (!f) throw std::runtime_error("write " + path);
}

inline std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A static busybox, or "" (the tests then skip: install busybox-static).
inline std::string static_busybox() {
  for (const char* b : {"/bin/busybox", "/usr/bin/busybox"}) {
    if (::access(b, X_OK) != 0) continue;
    std::string cmd = std::string("ldd ") + b + " >/dev/null 2>&1";
    int rc = std::system(cmd.c_str());
    if (WIFEXITED(rc) && WEXITSTATUS(rc) != 0) return b;  // "not a dynamic executable"
  }
  return {};
}

// A minimal rootfs: bin/busybox and its applets as symlinks, nothing else.
// Everything the sandbox needs (proc, dev, tmp) it must create itself, so
// the tests also see what setup creates.
struct BusyboxRootfs : ScratchDir {
  explicit BusyboxRootfs(const std::string& busybox) : ScratchDir("rootfs") {
    ::mkdir((path + "/bin").c_str(), 0755);
    std::string cmd = "cp '" + busybox + "' '" + path + "/bin/busybox'";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("copy busybox");
    for (const char* a : {"sh", "cat", "ls", "echo", "touch", "mkdir", "stat", "readlink", "id",
                          "true", "sleep", "mount", "grep", "wc", "rm", "test"}) {
      if (::symlink("busybox", (path + "/bin/" + a).c_str()) != 0)
        throw std::runtime_error("symlink applet");
    }
  }
};

// The mount table of a process, without mount ids (which churn): one
// "mountpoint fstype source root options super-options" entry per mount.
inline std::multiset<std::string> mount_table(const std::string& pid = "self") {
  std::ifstream f("/proc/" + pid + "/mountinfo");
  std::multiset<std::string> out;
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string id, parent, devno, root, mp, opts, field;
    in >> id >> parent >> devno >> root >> mp >> opts;
    while (in >> field && field != "-") {
    }
    std::string fstype, source, super;
    in >> fstype >> source >> super;
    out.insert(mp + " " + fstype + " " + source + " " + root + " " + opts + " " + super);
  }
  return out;
}

// The mount points of a process's namespace (mountinfo's fifth field),
// for "nothing was added or left" checks that must not depend on options.
inline std::multiset<std::string> mount_points(const std::string& pid = "self") {
  std::ifstream f("/proc/" + pid + "/mountinfo");
  std::multiset<std::string> out;
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string id, parent, dev, root, mp;
    in >> id >> parent >> dev >> root >> mp;
    out.insert(mp);
  }
  return out;
}

// "/"'s mountinfo line without its two ids: its propagation fields say
// whether something made it a slave or private.
inline std::string root_mount_line() {
  std::ifstream f("/proc/self/mountinfo");
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string id, parent, dev, root, mp;
    in >> id >> parent >> dev >> root >> mp;
    if (mp == "/") return line.substr(line.find(' ', line.find(' ') + 1));
  }
  return {};
}

// A process in a mount namespace of its own made with unshare(CLONE_NEWNS)
// from ours (shared mounts become peers: mount_namespaces(7)), held until
// this object goes, as runtime-tools' linux_ns_path holds one with
// `unshare --mount`.
struct NsHolder {
  pid_t pid = -1;
  int go = -1;
  NsHolder() {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork");
    if (pid == 0) {
      ::close(p[1]);
      if (::unshare(CLONE_NEWNS) != 0) ::_exit(1);
      char b;
      if (::read(p[0], &b, 1) < 0) ::_exit(2);
      ::_exit(0);
    }
    ::close(p[0]);
    go = p[1];
    ::usleep(100'000);
  }
  ~NsHolder() {
    ::close(go);
    ::waitpid(pid, nullptr, 0);
  }
  NsHolder(const NsHolder&) = delete;
  NsHolder& operator=(const NsHolder&) = delete;
  std::string pid_s() const { return std::to_string(pid); }
  std::string ns_path() const { return "/proc/" + pid_s() + "/ns/mnt"; }
};

}  // namespace ward_test

// A busybox rootfs `var` in a private mount namespace of the test's own
// (isolate_mounts); skips without root or a static busybox.
#define NEED_ISOLATED_BUSYBOX(var)                                                        \
  WARD_SKIP_UNLESS_ROOT();                                                                \
  ward_test::isolate_mounts();                                                            \
  std::string var##_bin = ward_test::static_busybox();                                    \
  if (var##_bin.empty()) WARD_SKIP("no static busybox (apt-get install busybox-static)"); \
  ward_test::BusyboxRootfs var(var##_bin)
