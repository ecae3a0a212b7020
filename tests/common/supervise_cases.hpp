// SPDX-License-Identifier: Apache-2.0
// ward::supervise's cases, shared by the root tier (tests/root/supervise_test.cpp:
// a cgroup, no namespaces) and the rootless tier
// (tests/rootless/supervise_rootless_test.cpp: no cgroup on this host, so
// rlimits and a user + pid namespace). Each prints the verdict's meta text,
// which names the mechanism that enforced every limit.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <ward/supervise.hpp>

#include <catch2/catch.hpp>

#include "run_util.hpp"
#include "test_util.hpp"

namespace ward_test::sv {

using namespace std::chrono_literals;
using ward::Limits;
using ward::Mechanism;
using ward::Verdict;
using S = ward::Verdict::Status;

inline void show(const std::string& name, const Verdict& v) {
  std::cout << "---- " << name << "\n" << v.to_meta();
  if (!v.stderr_data.empty()) std::cout << "(stderr) " << v.stderr_data.substr(0, 300) << "\n";
  std::cout << std::flush;
}

// Any process whose command line contains `marker`.
inline std::vector<pid_t> processes_with(const std::string& marker) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (auto* e = ::readdir(d)) {
    pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    std::ifstream f(std::string("/proc/") + e->d_name + "/cmdline");
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (s.find(marker) != std::string::npos) out.push_back(pid);
  }
  ::closedir(d);
  return out;
}

inline const char* kPython = "/usr/bin/python3";

// State, parent and cgroup of a process, for a failure message.
inline std::string describe_process(pid_t pid) {
  auto slurp = [](const std::string& path) {
    std::ifstream f(path);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  };
  std::string st = slurp("/proc/" + std::to_string(pid) + "/status"), out = std::to_string(pid);
  for (const char* key : {"State:", "PPid:", "NSpid:"}) {
    auto at = st.find(key);
    if (at != std::string::npos) out += " " + st.substr(at, st.find('\n', at) - at);
  }
  std::string cmd = slurp("/proc/" + std::to_string(pid) + "/cmdline");
  for (char& ch : cmd)
    if (ch == '\0') ch = ' ';
  return out + " cgroup " + slurp("/proc/" + std::to_string(pid) + "/cgroup") + " cmd " + cmd;
}

}  // namespace ward_test::sv

// The cases, for a tier: BOX(argv) makes the tier's Sandbox; SKIP_IF is a
// statement run first in every case (it WARD_SKIPs when the tier cannot run).
#define WARD_SUPERVISE_CASES(TIER, BOX, SKIP_IF)                                                \
  TEST_CASE(TIER ": supervise: a clean exit is OK, with its output and the meta text") {        \
    SKIP_IF;                                                                                    \
    using namespace ward_test::sv;                                                              \
    auto v = ward::supervise(BOX({"/bin/sh", "-c", "echo hello; echo oops >&2"}), Limits{});    \
    show("ok", v);                                                                              \
    CHECK(v.status == S::OK);                                                                   \
    CHECK(v.stdout_data == "hello\n");                                                          \
    CHECK(v.stderr_data == "oops\n");                                                           \
    CHECK(v.exit_code == 0);                                                                    \
    auto m = v.to_meta();                                                                       \
    CHECK(m.find("exitcode:0\n") != std::string::npos);                                         \
    CHECK(m.find("time-wall:") != std::string::npos);                                           \
    CHECK(m.find("status:") == std::string::npos);                                              \
  }                                                                                             \
  TEST_CASE(TIER ": supervise: a nonzero exit is RE") {                                         \
    SKIP_IF;                                                                                    \
    using namespace ward_test::sv;                                                              \
    auto v = ward::supervise(BOX({"/bin/sh", "-c", "exit 3"}), Limits{});                       \
    show("re", v);                                                                              \
    CHECK(v.status == S::RE);                                                                   \
    CHECK(v.exit_code == 3);                                                                    \
    CHECK(v.to_meta().find("status:RE\n") != std::string::npos);                                \
    CHECK(!v.killed);                                                                           \
  }                                                                                             \
  TEST_CASE(TIER ": supervise: a fatal signal is SG") {                                         \
    SKIP_IF;                                                                                    \
    using namespace ward_test::sv;                                                              \
    /* A real fault: a pid namespace's init ignores a kill(2)'d SIGSEGV */                      \
    auto v =                                                                                    \
        ward::supervise(BOX({kPython, "-c", "import ctypes; ctypes.string_at(0)"}), Limits{});  \
    show("sg", v);                                                                              \
    CHECK(v.status == S::SG);                                                                   \
    CHECK(v.exit_signal == SIGSEGV);                                                            \
    CHECK(v.to_meta().find("exitsig:11\n") != std::string::npos);                               \
    CHECK(!v.killed);                                                                           \
  }                                                                                             \
  TEST_CASE(TIER ": supervise: a busy loop is TO by CPU time") {                                \
    SKIP_IF;                                                                                    \
    using namespace ward_test::sv;                                                              \
    Limits l;                                                                                   \
    l.cpu_time = 500ms;                                                                         \
    l.wall_time = 20s;                                                                          \
    auto v = ward::supervise(BOX({"/bin/sh", "-c", "while :; do :; done"}), l);                 \
    show("busy", v);                                                                            \
    CHECK(v.status == S::TO);                                                                   \
    CHECK(v.killed);                                                                            \
    CHECK(v.kill_reason == "cpu time");                                                         \
    CHECK(v.message == "Time limit exceeded");                                                  \
    CHECK(v.cpu_time >= 500ms);                                                                 \
    CHECK(v.cpu_time < 2s);                                                                     \
    CHECK(v.enforced.cpu_time != Mechanism::none);                                              \
  }                                                                                             \
  TEST_CASE(TIER ": supervise: extra time lets the tree run on past the CPU limit, still TO") { \
    SKIP_IF;                                                                                    \
    using namespace ward_test::sv;                                                              \
    Limits l;                                                                                   \
    l.cpu_time = 300ms;                                                                         \
    l.extra_time = 400ms;                                                                       \
    l.wall_time = 20s;                                                                          \
    auto v = ward::supervise(BOX({"/bin/sh", "-c", "while :; do :; done"}), l);                 \
    show("extra", v);                                                                           \
    CHECK(v.status == S::TO);                                                                   \
    CHECK(v.cpu_time >= 700ms);                                                                 \
  }                                                                                             \
  TEST_CASE(TIER ": supervise: sleep is TO by wall time") {                                     \
    SKIP_IF;                                                                                    \
    using namespace ward_test::sv;                                                              \
    Limits l;                                                                                   \
    l.cpu_time = 5s;                                                                            \
    l.wall_time = 300ms;                                                                        \
    auto v = ward::supervise(BOX({"/bin/sleep", "10"}), l);                                     \
    show("sleep", v);                                                                           \
    CHECK(v.status == S::TO);                                                                   \
    CHECK(v.kill_reason == "wall time");                                                        \
    CHECK(v.message == "Time limit exceeded (wall clock)");                                     \
    CHECK(v.wall_time >= 300ms);                                                                \
    CHECK(v.wall_time < 3s);                                                                    \
    CHECK(v.cpu_time < 200ms);                                                                  \
    CHECK(v.enforced.wall_time == Mechanism::supervisor);                                       \
  }                                                                                             \
  TEST_CASE(TIER ": supervise: four busy processes share one CPU budget") {                     \
    SKIP_IF;                                                                                    \
    using namespace ward_test::sv;                                                              \
    Limits l;                                                                                   \
    l.cpu_time = 1000ms;                                                                        \
    l.wall_time = 30s;                                                                          \
    auto v = ward::supervise(                                                                   \
        BOX({"/bin/sh", "-c", "for i in 1 2 3 4; do (while :; do :; done) & done; wait"}), l);  \
    show("four", v);                                                                            \
    std::cout << "cpu-time mechanism: " << to_string(v.enforced.cpu_time) << "\n";              \
    CHECK(v.status == S::TO);                                                                   \
    CHECK(v.cpu_time >= 1000ms);                                                                \
    if (v.enforced.cpu_time == Mechanism::rlimit) {                                             \
      /* per process: each child is held to 1 s by its own RLIMIT_CPU, */                       \
      /* and the main process's waited-for children's time (from /proc) */                      \
      /* crosses the budget once two of them are reaped */                                      \
      CHECK(v.cpu_time < 4500ms);                                                               \
    } else {                                                                                    \
      /* the tree's: killed once the four together used the budget */                           \
      CHECK(v.kill_reason == "cpu time");                                                       \
      CHECK(v.cpu_time < 2500ms);                                                               \
      CHECK(v.wall_time < 4s);                                                                  \
    }                                                                                           \
  }                                                                                             \
  TEST_CASE(TIER ": supervise: a memory hog is stopped at the memory limit") {                  \
    SKIP_IF;                                                                                    \
    using namespace ward_test::sv;                                                              \
    Limits l;                                                                                   \
    l.memory = 128u << 20;                                                                      \
    l.wall_time = 30s;                                                                          \
    auto v = ward::supervise(                                                                   \
        BOX({kPython, "-c",                                                                     \
             "b = []\nfor i in range(1024): b.append(bytearray(1 << 20))\nprint(len(b))"}),     \
        l);                                                                                     \
    show("memory", v);                                                                          \
    std::cout << "memory mechanism: " << to_string(v.enforced.memory) << "\n";                  \
    CHECK(v.stdout_data != "1024\n");                                                           \
    CHECK(v.max_rss < (160u << 20));                                                            \
    if (v.enforced.memory == Mechanism::rlimit) {                                               \
      /* RLIMIT_AS: MemoryError inside the program */                                           \
      CHECK(v.status == S::RE);                                                                 \
      CHECK(v.stderr_data.find("MemoryError") != std::string::npos);                            \
    } else {                                                                                    \
      CHECK(v.status == S::ML);                                                                 \
      CHECK(v.cg_oom_killed);                                                                   \
      CHECK(v.exit_signal == SIGKILL);                                                          \
      REQUIRE(v.cg_mem.has_value());                                                            \
      CHECK(*v.cg_mem <= (129u << 20));                                                         \
      CHECK(*v.cg_mem >= (100u << 20));                                                         \
    }                                                                                           \
  }                                                                                             \
  TEST_CASE(TIER ": supervise: a fork loop is held to the process limit") {                     \
    SKIP_IF;                                                                                    \
    using namespace ward_test::sv;                                                              \
    Limits l;                                                                                   \
    l.processes = 10;                                                                           \
    l.wall_time = 30s;                                                                          \
    auto v = ward::supervise(BOX({kPython, "-c",                                                \
                                  "import os, time\n"                                           \
                                  "n = 0\n"                                                     \
                                  "try:\n"                                                      \
                                  "  while n < 100:\n"                                          \
                                  "    if os.fork() == 0:\n"                                    \
                                  "      time.sleep(100); os._exit(0)\n"                        \
                                  "    n += 1\n"                                                \
                                  "except OSError as e:\n"                                      \
                                  "  print('refused', e.errno)\n"                               \
                                  "print(n)\n"}),                                               \
                             l);                                                                \
    show("fork", v);                                                                            \
    std::cout << "processes mechanism: " << to_string(v.enforced.processes) << "\n";            \
    CHECK(v.status == S::OK);                                                                   \
    CHECK(v.stdout_data.rfind("refused 11\n", 0) == 0);                                         \
    int n = std::atoi(v.stdout_data.substr(v.stdout_data.find('\n') + 1).c_str());              \
    CHECK(n >= 1);                                                                              \
    CHECK(n < 10);                                                                              \
    CHECK(v.enforced.processes != Mechanism::none);                                             \
  }                                                                                             \
  TEST_CASE(TIER ": supervise: an output flood is OL, the bytes beyond the cap counted") {      \
    SKIP_IF;                                                                                    \
    using namespace ward_test::sv;                                                              \
    Limits l;                                                                                   \
    l.output = 1000;                                                                            \
    l.wall_time = 20s;                                                                          \
    auto v = ward::supervise(BOX({"/usr/bin/yes"}), l);                                         \
    show("flood", v);                                                                           \
    CHECK(v.status == S::OL);                                                                   \
    CHECK(v.killed);                                                                            \
    CHECK(v.stdout_data.size() == 1000);                                                        \
    CHECK(v.stdout_data.substr(0, 4) == "y\ny\n");                                              \
    CHECK(v.stdout_dropped > 0);                                                                \
    CHECK(v.enforced.output == Mechanism::supervisor);                                          \
    /* Not killed: every byte is drained and counted */                                         \
    l.kill_on_output_overflow = false;                                                          \
    auto w = ward::supervise(BOX({"/usr/bin/head", "-c", "300000", "/dev/zero"}), l);           \
    show("flood-drained", w);                                                                   \
    CHECK(w.status == S::OK);                                                                   \
    CHECK(!w.killed);                                                                           \
    CHECK(w.stdout_data.size() == 1000);                                                        \
    CHECK(w.stdout_dropped == 299000);                                                          \
    CHECK(w.message == "output truncated");                                                     \
  }                                                                                             \
  TEST_CASE(TIER ": supervise: a large file is cut at the file size limit") {                   \
    SKIP_IF;                                                                                    \
    using namespace ward_test::sv;                                                              \
    char dir[] = "/tmp/ward-fsize-XXXXXX";                                                      \
    REQUIRE(::mkdtemp(dir) != nullptr);                                                         \
    ::chmod(dir, 0777);                                                                         \
    std::string file = std::string(dir) + "/big";                                               \
    Limits l;                                                                                   \
    l.file_size = 10000;                                                                        \
    l.wall_time = 20s;                                                                          \
    const std::vector<std::string> argv = {"/bin/sh", "-c",                                     \
                                           "exec /usr/bin/head -c 100000 /dev/zero > " + file}; \
    auto v = ward::supervise(BOX(argv), l);                                                     \
    show("fsize", v);                                                                           \
    struct stat st {};                                                                          \
    CHECK(::stat(file.c_str(), &st) == 0);                                                      \
    CHECK(st.st_size <= 10000);                                                                 \
    ::unlink(file.c_str());                                                                     \
    CHECK(v.enforced.file_size == Mechanism::rlimit);                                           \
    /* With a pid namespace, ward's init is its pid 1 (SuperviseOptions:: */                    \
    /* init_process) and the program dies of SIGXFSZ as without one. */                         \
    if (v.enforced.tree_kill == Mechanism::pid_namespace)                                       \
      CHECK(v.init_process == ward::Sandbox::init_process_supported());                         \
    if (v.enforced.tree_kill != Mechanism::pid_namespace || v.init_process) {                   \
      CHECK(v.status == S::SG);                                                                 \
      CHECK(v.exit_signal == SIGXFSZ);                                                          \
    }                                                                                           \
    if (v.enforced.tree_kill == Mechanism::pid_namespace) {                                     \
      /* Without the init the program is the pid namespace's init, which */                     \
      /* the kernel does not signal with SIGXFSZ: its write fails with EFBIG */                 \
      ward::SuperviseOptions o;                                                                 \
      o.init_process = false;                                                                   \
      auto pid1 = ward::supervise(BOX(argv), l, o);                                             \
      show("fsize, no init", pid1);                                                             \
      CHECK_FALSE(pid1.init_process);                                                           \
      CHECK(pid1.status == S::RE);                                                              \
      CHECK(pid1.stderr_data.find("File too large") != std::string::npos);                      \
      CHECK(::stat(file.c_str(), &st) == 0);                                                    \
      CHECK(st.st_size == 10000);                                                               \
      ::unlink(file.c_str());                                                                   \
    }                                                                                           \
    ::rmdir(dir);                                                                               \
  }                                                                                             \
  TEST_CASE(TIER ": supervise: nothing the run started survives it") {                          \
    SKIP_IF;                                                                                    \
    using namespace ward_test::sv;                                                              \
    std::string marker = "1000." + std::to_string(std::random_device{}() % 1000000 + 1000000);  \
    /* A grandchild that double-forks and leaves the session, then the */                       \
    /* main process exits 0 at once. */                                                         \
    auto v = ward::supervise(BOX({"/bin/sh", "-c",                                              \
                                  "(setsid /bin/sh -c '/bin/sleep " + marker +                  \
                                      " </dev/null >/dev/null 2>&1 &' &); sleep 0.3; exit 0"}), \
                             Limits{});                                                         \
    show("survivor", v);                                                                        \
    CHECK(v.status == S::OK);                                                                   \
    CHECK(v.enforced.tree_kill != Mechanism::none);                                             \
    auto left = processes_with(marker);                                                         \
    for (pid_t p : left) std::cout << "left: " << describe_process(p) << "\n";                  \
    CHECK(left.empty());                                                                        \
    for (pid_t p : left) ::kill(p, SIGKILL);                                                    \
  }
