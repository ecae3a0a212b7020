// SPDX-License-Identifier: Apache-2.0
// Sandbox::init_process's cases (ward's init as pid 1 of a new pid
// namespace, the program pid 2), shared by the root tier
// (tests/root/init_process_test.cpp) and the rootless tier
// (tests/rootless/init_process_rootless_test.cpp). Every sandbox has a user,
// pid and mount namespace and its own /proc; each behaviour is shown with
// the init and, where it differs, without it (the program then is pid 1).
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <ward/ward.hpp>

#include <catch2/catch.hpp>

#include "rootfs_util.hpp"
#include "run_util.hpp"
#include "test_util.hpp"

namespace ward_test::init {

// Any process whose command line contains `marker`.
inline std::vector<pid_t> processes_with(const std::string& marker) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (auto* e = ::readdir(d)) {
    pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    std::string s;
    try {
      s = ward_test::read_file(std::string("/proc/") + e->d_name + "/cmdline");
    } catch (...) {
    }
    if (s.find(marker) != std::string::npos) out.push_back(pid);
  }
  ::closedir(d);
  return out;
}

inline bool have_python() { return ::access("/usr/bin/python3", X_OK) == 0; }

inline ward::Sandbox box(std::vector<std::string> argv, bool init) {
  ward::Sandbox sb(std::move(argv));
  sb.unshare(ward::NsSet{ward::NsKind::user, ward::NsKind::pid, ward::NsKind::mount})
      .mount(ward::MountSpec::proc())
      .stdin_(ward::Stdio::null());
  sb.init_process(init);
  return sb;
}

inline ward::Sandbox py(const std::string& code, bool init) {
  return box({"/usr/bin/python3", "-c", code}, init);
}

// The secret the attacker looks for in pid 1's memory: random, made at run
// time, so it is in this process's memory (and in nobody's binary).
inline const std::string& secret() {
  static const std::string s = [] {
    std::random_device rd;
    std::string t = "WARD-SECRET-";
    for (int i = 0; i < 24; ++i) t += "0123456789abcdef"[rd() % 16];
    return t;
  }();
  return s;
}

// The first entry of this process's own environment (what a pid 1 that is
// a copy of us would show in /proc/1/environ).
inline std::string caller_env_entry() {
  std::string env = ward_test::read_file("/proc/self/environ");
  auto nul = env.find('\0');
  return env.substr(0, nul);
}

// Run inside the sandbox against pid 1 (argv: secret, caller's env entry).
// One line per attack: "<what> <result>", results: an errno name (the
// attack was refused), "FOUND" (the caller's secret or environment seen),
// "WROTE" (pid 1's executable written), "ok" (done, nothing of the caller's).
inline const char* kAttacker = R"PY(
import ctypes, errno, os, sys
secret, envline = sys.argv[1].encode(), sys.argv[2].encode()
def err(e): return errno.errorcode.get(e.errno, str(e.errno))
try:
    maps = open('/proc/1/maps').read().splitlines()
    mem = os.open('/proc/1/mem', os.O_RDONLY)
    found = False
    for line in maps:
        rng, perms = line.split()[:2]
        if perms[0] != 'r': continue
        lo, hi = (int(x, 16) for x in rng.split('-'))
        try:
            if secret in os.pread(mem, hi - lo, lo): found = True
        except OSError: pass
    print('mem', 'FOUND' if found else 'ok')
except OSError as e: print('mem', err(e))
libc = ctypes.CDLL(None, use_errno=True)
if libc.ptrace(16, 1, 0, 0) == 0:  # PTRACE_ATTACH
    print('ptrace ATTACHED')
    os.waitpid(1, 0x40000000)  # its stop (__WALL), then detach without the SIGSTOP
    libc.ptrace(17, 1, 0, 0)  # PTRACE_DETACH
else: print('ptrace', errno.errorcode[ctypes.get_errno()])
try:
    fd = os.open('/proc/1/exe', os.O_RDWR)
    try:
        os.write(fd, b'\x7fELF'); print('exe WROTE')
    except OSError as e: print('exe', err(e))
except OSError as e: print('exe', err(e))
try:
    env = open('/proc/1/environ', 'rb').read()
    print('environ', 'FOUND' if envline in env.split(b'\0') or secret in env else 'ok')
except OSError as e: print('environ', err(e))
try: print('exe-link', os.readlink('/proc/1/exe'))
except OSError as e: print('exe-link', err(e))
)PY";

inline ward::Sandbox attacker(ward::Sandbox sb) {
  sb.stdout_(ward::Stdio::pipe()).stderr_(ward::Stdio::pipe());
  return sb;
}

// What the attacker may never see, whoever it runs as: the caller's memory,
// environment or binary through pid 1. Without CAP_SYS_PTRACE in the
// sandbox's user namespace it may not even look (`privileged` false).
inline void check_attack(const ward_test::Run& r, bool privileged) {
  INFO(r.out << r.err);
  CHECK(r.status.exit_code() == 0);
  CHECK(r.out.find("FOUND") == std::string::npos);
  CHECK(r.out.find("WROTE") == std::string::npos);
  CHECK((r.out.find("exe-link /memfd:ward-init") != std::string::npos ||
         r.out.find("exe-link EACCES") != std::string::npos ||
         r.out.find("exe-link EPERM") != std::string::npos));
  if (!privileged) {
    CHECK_THAT(r.out, Catch::Contains("mem EACCES") || Catch::Contains("mem EPERM"));
    CHECK(r.out.find("ptrace EPERM") != std::string::npos);
    CHECK(r.out.find("environ ok") == std::string::npos);  // refused, not read
  }
}

}  // namespace ward_test::init

// The cases, for one tier. SKIP: the statement that skips the case where
// the tier cannot run (root / unprivileged, user namespaces allowed).
#define WARD_INIT_PROCESS_CASES(TIER, SKIP)                                                        \
  TEST_CASE(TIER ": init_process: past RLIMIT_FSIZE the program dies of SIGXFSZ (pid 1: EFBIG)") { \
    SKIP;                                                                                          \
    /* head, not python3: CPython ignores SIGXFSZ at startup. */                                   \
    ward_test::ScratchDir d("init-fsize");                                                         \
    const std::vector<std::string> argv = {"/bin/sh", "-c",                                        \
                                           "exec head -c 20000 /dev/zero > " + (d / "f")};         \
    auto with = ward_test::run_out_err(                                                            \
        ward_test::init::box(argv, true).rlimit(RLIMIT_FSIZE, 10000, 10000));                      \
    INFO(with.err);                                                                                \
    CHECK(with.status.signaled());                                                                 \
    CHECK(with.status.signal() == SIGXFSZ);                                                        \
    auto without = ward_test::run_out_err(                                                         \
        ward_test::init::box(argv, false).rlimit(RLIMIT_FSIZE, 10000, 10000));                     \
    INFO(without.err);                                                                             \
    CHECK(without.status.exit_code() == 1);                                                        \
    CHECK_THAT(without.err, Catch::Contains("File too large"));                                    \
  }                                                                                                \
  TEST_CASE(TIER                                                                                   \
            ": init_process: the program's own SIGABRT and SIGTERM end it (pid 1: ignored)") {     \
    SKIP;                                                                                          \
    if (!ward_test::init::have_python()) WARD_SKIP("no /usr/bin/python3");                         \
    for (int sig : {SIGABRT, SIGTERM}) {                                                           \
      const std::string code =                                                                     \
          "import os\nos.kill(os.getpid(), " + std::to_string(sig) + ")\nprint('alive')\n";        \
      auto with = ward_test::run(ward_test::init::py(code, true));                                 \
      INFO(sig << ": " << with.out);                                                               \
      CHECK(with.status.signaled());                                                               \
      CHECK(with.status.signal() == sig);                                                          \
      CHECK(with.out.empty());                                                                     \
      auto without = ward_test::run(ward_test::init::py(code, false));                             \
      CHECK(without.status.exit_code() == 0);                                                      \
      CHECK(without.out == "alive\n");                                                             \
    }                                                                                              \
  }                                                                                                \
  TEST_CASE(TIER                                                                                   \
            ": init_process: exit codes pass through, 137 is no signal, the program is pid 2") {   \
    SKIP;                                                                                          \
    auto three = ward_test::run(ward_test::init::box({"/bin/sh", "-c", "echo $$; exit 3"}, true)); \
    CHECK(three.status.exited());                                                                  \
    CHECK(three.status.exit_code() == 3);                                                          \
    CHECK(three.out == "2\n");                                                                     \
    auto k = ward_test::run(ward_test::init::box({"/bin/sh", "-c", "exit 137"}, true));            \
    CHECK(k.status.exited());                                                                      \
    CHECK(k.status.exit_code() == 137);                                                            \
    CHECK_FALSE(k.status.signaled());                                                              \
  }                                                                                                \
  TEST_CASE(TIER ": init_process: orphans are reaped and nothing outlives the program") {          \
    SKIP;                                                                                          \
    const std::string marker = "1000." + std::to_string(std::random_device{}() % 900000 + 100000); \
    /* A short-lived orphan (reaped by the init: no zombie left), a long one */                    \
    /* (killed with the namespace when the program exits). */                                      \
    auto r = ward_test::run(                                                                       \
        ward_test::init::box({"/bin/sh", "-c",                                                     \
                              "(/bin/true &); (/bin/sleep " + marker +                             \
                                  " </dev/null >/dev/null 2>&1 &); sleep 0.3;"                     \
                                  "grep -l '^State:.*Z' /proc/[0-9]*/status | wc -l; exit 5"},     \
                             true));                                                               \
    INFO(r.out);                                                                                   \
    CHECK(r.status.exit_code() == 5);                                                              \
    CHECK(r.out == "0\n");                                                                         \
    std::vector<pid_t> left;                                                                       \
    for (int i = 0; i < 50; ++i) {                                                                 \
      left = ward_test::init::processes_with(marker);                                              \
      if (left.empty()) break;                                                                     \
      ::usleep(10000);                                                                             \
    }                                                                                              \
    for (pid_t pid : left) ::kill(pid, SIGKILL);                                                   \
    CHECK(left.empty());                                                                           \
  }                                                                                                \
  TEST_CASE(TIER                                                                                   \
            ": init_process: signals to the Child reach the program, SIGKILL ends the init") {     \
    SKIP;                                                                                          \
    if (!ward_test::init::have_python()) WARD_SKIP("no /usr/bin/python3");                         \
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) {                                           \
      auto sb = ward_test::init::py(                                                               \
          "import os, signal, time\n"                                                              \
          "def h(s, f):\n  os.write(1, b'got %d\\n' % s); os._exit(40)\n"                          \
          "signal.signal(" +                                                                       \
              std::to_string(sig) +                                                                \
              ", h)\n"                                                                             \
              "print('ready', flush=True)\ntime.sleep(30)\n",                                      \
          true);                                                                                   \
      sb.stdout_(ward::Stdio::pipe());                                                             \
      ward::Child c = sb.spawn();                                                                  \
      std::string out;                                                                             \
      char ch;                                                                                     \
      while (out.find("ready\n") == std::string::npos &&                                           \
             ::read(c.stdout_pipe().get(), &ch, 1) == 1)                                           \
        out += ch;                                                                                 \
      c.kill(sig);                                                                                 \
      out += ward_test::read_all(c.stdout_pipe().get());                                           \
      auto st = c.wait();                                                                          \
      INFO(sig << ": " << out);                                                                    \
      CHECK(st.exit_code() == 40);                                                                 \
      CHECK_THAT(out, Catch::Contains("got " + std::to_string(sig)));                              \
    }                                                                                              \
    ward::Child c = ward_test::init::box({"/bin/sleep", "30"}, true).spawn();                      \
    c.kill(SIGKILL);                                                                               \
    auto st = c.wait();                                                                            \
    CHECK(st.signaled());                                                                          \
    CHECK(st.signal() == SIGKILL);                                                                 \
  }                                                                                                \
  TEST_CASE(TIER ": init_process: an exec failure is still spawn's error, naming the path") {      \
    SKIP;                                                                                          \
    try {                                                                                          \
      ward_test::init::box({"/nonexistent/ward-prog"}, true).spawn();                              \
      FAIL("spawned a program that does not exist");                                               \
    } catch (const ward::Error& e) {                                                               \
      CHECK(e.code().value() == ENOENT);                                                           \
      CHECK_THAT(e.what(), Catch::Contains("/nonexistent/ward-prog"));                             \
    }                                                                                              \
    if (ward::Sandbox::sealed_exec_supported()) {                                                  \
      try {                                                                                        \
        ward_test::init::box({"/nonexistent/ward-prog"}, true).sealed_exec().spawn();              \
        FAIL("spawned a program that does not exist (sealed_exec)");                               \
      } catch (const ward::Error& e) {                                                             \
        CHECK(e.code().value() == ENOENT);                                                         \
        CHECK_THAT(e.what(), Catch::Contains("/nonexistent/ward-prog"));                           \
      }                                                                                            \
    }                                                                                              \
    auto ok = ward_test::run(ward_test::init::box({"/bin/sh", "-c", "echo $$"}, true)              \
                                 .sealed_exec(ward::Sandbox::sealed_exec_supported()));            \
    CHECK(ok.out == "2\n");                                                                        \
  }                                                                                                \
  TEST_CASE(TIER ": init_process: a compute-only filter binds the program, never the init") {      \
    SKIP;                                                                                          \
    /* compute_only has an exec gate (allow_initial_exec): its listener is */                      \
    /* taken from the program's process; the init, under no filter, still */                       \
    /* reaps and reports (the filter would deny its wait4 and kill). */                            \
    auto r = ward_test::run(ward_test::init::box({"/bin/sh", "-c", "echo $$; exit 6"}, true)       \
                                .seccomp(ward::seccomp_presets::compute_only()));                  \
    INFO(r.out);                                                                                   \
    CHECK(r.out == "2\n");                                                                         \
    CHECK(r.status.exit_code() == 6);                                                              \
    /* the filter is the program's: its kill(2) is refused (SIGSYS) */                             \
    auto k =                                                                                       \
        ward_test::run(ward_test::init::box({"/bin/sh", "-c", "kill -TERM $$; echo alive"}, true)  \
                           .seccomp(ward::seccomp_presets::compute_only()));                       \
    CHECK(k.status.signal() == SIGSYS);                                                            \
    /* with sealed_exec, under a filter that lets the trampoline work */                           \
    if (ward::Sandbox::sealed_exec_supported()) {                                                  \
      auto t =                                                                                     \
          ward_test::run(ward_test::init::box({"/bin/sh", "-c", "echo $$; kill -ABRT $$"}, true)   \
                             .seccomp(ward::seccomp_presets::isolate_default())                    \
                             .sealed_exec());                                                      \
      CHECK(t.out == "2\n");                                                                       \
      CHECK(t.status.signal() == SIGABRT);                                                         \
    }                                                                                              \
  }                                                                                                \
  TEST_CASE(TIER ": init_process: in fork mode and with a CLONE_VFORK second stage") {             \
    SKIP;                                                                                          \
    auto f =                                                                                       \
        ward_test::run(ward_test::init::box({"/bin/sh", "-c", "echo $$; kill -TERM $$"}, true)     \
                           .spawn_mode(ward::SpawnMode::fork));                                    \
    CHECK(f.out == "2\n");                                                                         \
    CHECK(f.status.signal() == SIGTERM);                                                           \
    /* oom_score_adj: the pid namespace's first process is a CLONE_VFORK */                        \
    /* second stage (Sandbox::plan) */                                                             \
    auto o = ward_test::run(                                                                       \
        ward_test::init::box({"/bin/sh", "-c", "echo $$ $(cat /proc/self/oom_score_adj); exit 4"}, \
                             true)                                                                 \
            .oom_score_adj(300));                                                                  \
    CHECK(o.out == "2 300\n");                                                                     \
    CHECK(o.status.exit_code() == 4);                                                              \
  }                                                                                                \
  TEST_CASE(TIER ": init_process: refused without a new pid namespace, naming the option") {       \
    SKIP;                                                                                          \
    try {                                                                                          \
      ward::Sandbox({"/bin/true"}).unshare(ward::NsKind::user).init_process().plan();              \
      FAIL("planned an init without a pid namespace");                                             \
    } catch (const ward::Error& e) {                                                               \
      CHECK_THAT(e.what(), Catch::Contains("init_process"));                                       \
      CHECK_THAT(e.what(), Catch::Contains("pid namespace"));                                      \
    }                                                                                              \
  }                                                                                                \
  TEST_CASE(TIER " attack: pid 1 holds nothing of the caller (mem, ptrace, exe, environ)") {       \
    SKIP;                                                                                          \
    if (!ward_test::init::have_python()) WARD_SKIP("no /usr/bin/python3");                         \
    const std::string secret = ward_test::init::secret();                                          \
    const std::string env = ward_test::init::caller_env_entry();                                   \
    std::vector<std::string> argv = {"/usr/bin/python3", "-c", ward_test::init::kAttacker, secret, \
                                     env};                                                         \
    /* root of the user namespace with every capability in it: may look at */                      \
    /* pid 1 (its namespace's), finds nothing of ours */                                           \
    auto full = ward_test::run_out_err(ward_test::init::box(argv, true));                          \
    std::cout << "---- root in userns, all caps\n" << full.out << full.err;                        \
    ward_test::init::check_attack(full, true);                                                     \
    /* root of the user namespace without capabilities (ward-box's): may not */                    \
    auto none = ward_test::run_out_err(                                                            \
        ward_test::init::box(argv, true).capabilities(ward::Capabilities::none()));                \
    std::cout << "---- root in userns, no caps\n" << none.out << none.err;                         \
    ward_test::init::check_attack(none, false);                                                    \
  }
