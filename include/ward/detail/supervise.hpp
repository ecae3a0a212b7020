// SPDX-License-Identifier: Apache-2.0
// Helpers of ward::supervise (ward/supervise.hpp): the capped output sink,
// a process's CPU time from /proc, the CPU count. Parent side only.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

namespace ward::detail::sv {

// One captured stream: keeps the first `cap` bytes, counts (and throws
// away) the rest. Reads until EAGAIN or EOF.
struct Sink {
  int fd = -1;
  std::string data;
  std::uint64_t dropped = 0;
  std::uint64_t cap = ~std::uint64_t{0};
  bool eof = false;

  // Returns false on a read error other than EAGAIN/EINTR (errno set).
  bool pump() {
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        std::uint64_t room = data.size() < cap ? cap - data.size() : 0;
        std::uint64_t keep =
            static_cast<std::uint64_t>(n) < room ? static_cast<std::uint64_t>(n) : room;
        data.append(buf, static_cast<std::size_t>(keep));
        dropped += static_cast<std::uint64_t>(n) - keep;
        continue;
      }
      if (n == 0) {
        eof = true;
        return true;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return true;
      return false;
    }
  }
  bool over() const noexcept { return dropped > 0; }
};

// utime + stime + cutime + cstime of `pid` (fields 14-17 of /proc/PID/stat,
// proc(5)): the process's own CPU time and that of the children it waited
// for. Only for a child of ours that is not yet reaped (its pid cannot be
// reused). nullopt when the file cannot be read.
inline std::optional<std::chrono::microseconds> proc_cpu_time(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[1024];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  buf[n] = '\0';
  // The command name (field 2) may hold spaces and ')': fields restart
  // after the last ')'.
  std::string s(buf, static_cast<std::size_t>(n));
  auto close = s.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  const char* p = s.c_str() + close + 1;
  // Field 3 (state) is the first after ')'; fields 14-17 are the 12th to
  // 15th after it.
  unsigned long long sum = 0;
  for (int field = 3; field <= 17; ++field) {
    while (*p == ' ') ++p;
    char* end = nullptr;
    unsigned long long v = field == 3 ? 0 : std::strtoull(p, &end, 10);
    if (field == 3) {
      while (*p && *p != ' ') ++p;
      continue;
    }
    if (end == p) return std::nullopt;
    if (field >= 14) sum += v;
    p = end;
  }
  long hz = ::sysconf(_SC_CLK_TCK);
  if (hz <= 0) hz = 100;
  return std::chrono::microseconds(
      static_cast<std::int64_t>(sum * 1000000ULL / static_cast<unsigned long long>(hz)));
}

// CPUs this process may run on: the most CPU time a tree can use per unit
// of wall time.
inline unsigned cpu_count() noexcept {
  cpu_set_t set;
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<unsigned>(n);
  }
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<unsigned>(n) : 1;
}

}  // namespace ward::detail::sv
