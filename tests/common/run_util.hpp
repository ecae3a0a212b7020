// SPDX-License-Identifier: Apache-2.0
// Running a sandboxed child and collecting what it printed.
#pragma once

#include <dirent.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <ward/ward.hpp>

namespace ward_test {

inline const char* probe() { return WARD_TEST_PROBE; }

// A unix socket of `type` (SOCK_STREAM, SOCK_DGRAM) bound at `path`.
inline ward::UniqueFd bound_unix_socket(const std::string& path, int type) {
  ward::UniqueFd sock(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (!sock || path.size() >= sizeof a.sun_path)
    throw std::runtime_error("unix socket for " + path + ": " + std::strerror(errno));
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  if (::bind(sock.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    throw std::runtime_error("bind " + path + ": " + std::strerror(errno));
  return sock;
}

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
  std::string err;  // run_out_err only
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

// Spawns `sb` with stdout and stderr on pipes, reads both to EOF, waits.
// Both at once (poll(2)): a child that fills one pipe while the test waits
// on the other would block forever.
inline Run run_out_err(ward::Sandbox sb) {
  sb.stdout_(ward::Stdio::pipe()).stderr_(ward::Stdio::pipe());
  ward::Child c = sb.spawn();
  Run r;
  pollfd p[2] = {{c.stdout_pipe().get(), POLLIN, 0}, {c.stderr_pipe().get(), POLLIN, 0}};
  std::string* into[2] = {&r.out, &r.err};
  while (p[0].fd >= 0 || p[1].fd >= 0) {
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (p[i].fd < 0 || p[i].revents == 0) continue;
      char buf[4096];
      ssize_t n = ::read(p[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        p[i].fd = -1;  // EOF (or an error): poll(2) skips a negative fd
      else
        into[i]->append(buf, static_cast<size_t>(n));
    }
  }
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
