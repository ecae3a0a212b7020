// SPDX-License-Identifier: Apache-2.0
// Running a sandboxed child and collecting what it printed.
#pragma once

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <ward/ward.hpp>

namespace ward_test {

inline const char* probe() { return WARD_TEST_PROBE; }

// Whether an unprivileged user may create user namespaces here.
inline bool userns_allowed() {
  std::ifstream f("/proc/sys/kernel/unprivileged_userns_clone");
  int v = 1;
  if (f >> v && v == 0) return false;
  std::ifstream m("/proc/sys/user/max_user_namespaces");
  long n = 1;
  return !(m >> n) || n > 0;
}

struct Run {
  ward::ExitStatus status;
  std::string out;
};

inline std::string read_all(int fd) {
  std::string s;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    s.append(buf, static_cast<size_t>(n));
  }
  return s;
}

// Spawns `sb` with stdout on a pipe, reads it to EOF, waits.
inline Run run(ward::Sandbox sb) {
  sb.stdout_(ward::Stdio::pipe());
  ward::Child c = sb.spawn();
  Run r;
  r.out = read_all(c.stdout_pipe().get());
  r.status = c.wait();
  return r;
}

// Parses "key=value" lines.
inline std::map<std::string, std::string> kv(const std::string& out) {
  std::map<std::string, std::string> m;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) m[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return m;
}

inline std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Our own open descriptors, for leak checks.
inline std::vector<int> open_fds() {
  std::vector<int> fds;
  DIR* d = ::opendir("/proc/self/fd");
  int self = ::dirfd(d);
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    int fd = std::atoi(e->d_name);
    if (fd != self) fds.push_back(fd);
  }
  ::closedir(d);
  return fds;
}

}  // namespace ward_test
