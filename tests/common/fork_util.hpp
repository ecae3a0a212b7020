// SPDX-License-Identifier: Apache-2.0
// Running a piece of a test in a forked child, for things that change the
// calling process for good (Landlock domains, controlling terminals). The
// child reports "key=value" lines over a pipe; Catch2 assertions run in the
// parent only.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>

namespace ward_test {

// What a forked child reports.
class ForkReport {
 public:
  explicit ForkReport(int fd) : fd_(fd) {}
  void put(const std::string& key, const std::string& value) {
    std::string line = key + "=" + value + "\n";
    const char* p = line.data();
    size_t n = line.size();
    while (n > 0) {
      ssize_t w = ::write(fd_, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) ::_exit(120);
      p += w;
      n -= static_cast<size_t>(w);
    }
  }
  void put(const std::string& key, long value) { put(key, std::to_string(value)); }
  // "0" for success, else the errno name ("EACCES"). errno is read here,
  // right after `rc_or_fd` was computed (an `errno` argument next to the
  // call would be evaluated in unspecified order).
  void result(const std::string& key, long rc_or_fd) {
    const int err = errno;
    put(key, rc_or_fd >= 0 ? std::string("0") : errno_name(err));
  }
  static std::string errno_name(int err) {
    const char* n = ::strerrorname_np(err);
    return n ? n : "errno" + std::to_string(err);
  }

 private:
  int fd_;
};

struct ForkResult {
  int status = -1;  // waitpid status
  std::map<std::string, std::string> kv;
  std::string out;
  bool exited_ok() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }
};

// fork(); the child runs fn(report) and _exits 0 (an exception: 121), the
// parent collects the report (up to `timeout_ms` for EOF) and reaps it.
inline ForkResult run_forked(const std::function<void(ForkReport&)>& fn, int timeout_ms = 20000) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork");
  if (pid == 0) {
    ::close(p[0]);
    ForkReport r(p[1]);
    try {
      fn(r);
    } catch (const std::exception& e) {
      r.put("exception", e.what());
      ::_exit(121);
    }
    ::_exit(0);
  }
  ::close(p[1]);
  ForkResult res;
  char buf[4096];
  for (;;) {
    pollfd pfd{p[0], POLLIN, 0};
    int pr = ::poll(&pfd, 1, timeout_ms);
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) {
      ::kill(pid, SIGKILL);
      res.kv["timeout"] = "1";
      break;
    }
    ssize_t n = ::read(p[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    res.out.append(buf, static_cast<size_t>(n));
  }
  ::close(p[0]);
  while (::waitpid(pid, &res.status, 0) < 0 && errno == EINTR) {
  }
  std::istringstream in(res.out);
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) res.kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return res;
}

}  // namespace ward_test
