// SPDX-License-Identifier: Apache-2.0
// Spawning without namespaces: needs no privileges.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "run_util.hpp"

using namespace ward;
using ward_test::probe;
using ward_test::run;

TEST_CASE("exit status, signals and rusage come back through the pidfd") {
  auto r = Sandbox({probe(), "exit", "7"}).spawn().wait();
  CHECK(r.exited());
  CHECK(r.exit_code() == 7);
  CHECK(r.shell_status() == 7);

  auto k = Sandbox({probe(), "kill-self", "15"}).spawn().wait();
  CHECK(k.signaled());
  CHECK(k.signal() == SIGTERM);
  CHECK(k.shell_status() == 128 + SIGTERM);
  CHECK(k.describe() == "killed by signal 15 (SIGTERM)");

  auto busy =
      Sandbox({"/bin/sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"}).spawn().wait();
  CHECK(busy.success());
  CHECK(busy.usage.ru_utime.tv_sec * 1000000 + busy.usage.ru_utime.tv_usec > 0);
}

TEST_CASE("try_wait, wait_for and kill") {
  Child c = Sandbox({probe(), "sleep", "10000"}).spawn();
  CHECK(c.pid() > 0);
  CHECK(c.pidfd() >= 0);
  CHECK_FALSE(c.try_wait());
  CHECK_FALSE(c.wait_for(std::chrono::milliseconds(20)));
  c.kill(SIGKILL);
  auto s = c.wait_for(std::chrono::seconds(10));
  REQUIRE(s);
  CHECK(s->signal() == SIGKILL);
  CHECK(c.wait().signal() == SIGKILL);  // same answer again
  CHECK_NOTHROW(c.kill());              // already reaped: nothing to do
}

TEST_CASE("a Child that goes out of scope is killed and reaped") {
  pid_t pid;
  {
    Child c = Sandbox({probe(), "sleep", "10000"}).spawn();
    pid = c.pid();
  }
  // Reaped: it is no longer our child, and no zombie is left.
  CHECK(::waitpid(pid, nullptr, WNOHANG) == -1);
  CHECK(errno == ECHILD);
}

TEST_CASE("detach() leaves the process running") {
  pid_t pid;
  {
    Child c = Sandbox({probe(), "sleep", "10000"}).spawn();
    pid = c.pid();
    c.detach();
  }
  CHECK(::kill(pid, 0) == 0);
  ::kill(pid, SIGKILL);
  int st = 0;
  CHECK(::waitpid(pid, &st, 0) == pid);
  CHECK(WIFSIGNALED(st));
}

TEST_CASE("a missing executable is an exec error from spawn()") {
  try {
    (void)Sandbox({"/nonexistent/program"}).spawn();
    FAIL("spawn succeeded");
  } catch (const Error& e) {
    CHECK(e.step() == Step::exec);
    CHECK(e.code() == std::errc::no_such_file_or_directory);
    CHECK_THAT(e.what(), Catch::Contains("exec /nonexistent/program") && Catch::Contains("ENOENT"));
  }
  try {
    (void)Sandbox({"ward-no-such-program"}).spawn();
    FAIL("spawn succeeded");
  } catch (const Error& e) {
    CHECK(e.step() == Step::exec);
    CHECK(e.code() == std::errc::no_such_file_or_directory);
    CHECK_THAT(e.what(), Catch::Contains("executable file not found in $PATH"));
  }
}

TEST_CASE("a file that is not executable reports EACCES") {
  char path[] = "/tmp/ward-noexec-XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  ::close(fd);
  try {
    (void)Sandbox({path}).spawn();
    FAIL("spawn succeeded");
  } catch (const Error& e) {
    CHECK(e.step() == Step::exec);
    CHECK(e.code() == std::errc::permission_denied);
  }
  ::unlink(path);
}

TEST_CASE("PATH lookup finds programs the way execvp does") {
  auto r = run(Sandbox({"sh", "-c", "echo found"}).setenv("PATH", "/nonexistent:/usr/bin:/bin"));
  CHECK(r.status.success());
  CHECK(r.out == "found\n");
}

TEST_CASE("argv, environment and cwd are exactly what was asked") {
  auto r = run(Sandbox({probe(), "env"}).env({"A=1", "B=two words"}));
  CHECK(r.out == "A=1\nB=two words\n");
  auto info = ward_test::kv(run(Sandbox({probe(), "info"}).cwd("/tmp")).out);
  CHECK(info["cwd"] == "/tmp");
  auto sh = run(Sandbox({"/bin/sh", "-c", "printf '%s|' \"$0\" \"$@\"", "zero", "a b", ""}));
  CHECK(sh.out == "zero|a b||");
}

TEST_CASE("a bad cwd is a chdir error naming the directory") {
  try {
    (void)Sandbox({probe(), "info"}).cwd("/nonexistent/dir").spawn();
    FAIL("spawn succeeded");
  } catch (const Error& e) {
    CHECK(e.step() == Step::chdir);
    CHECK(e.code() == std::errc::no_such_file_or_directory);
    CHECK_THAT(e.what(), Catch::Contains("/nonexistent/dir"));
  }
}

TEST_CASE("the child sees only the descriptors it was told to keep") {
  // Open some descriptors the child must not see, one without O_CLOEXEC.
  int leak = ::open("/dev/null", O_RDONLY);
  int leak2 = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  REQUIRE(leak >= 0);
  auto r = run(Sandbox({probe(), "fds"}));
  CHECK(r.out == "0 1 2\n");

  int keep = ::open("/dev/zero", O_RDONLY | O_CLOEXEC);
  auto k = run(Sandbox({probe(), "fds"}).keep_fd(keep, 7).keep_fd(keep));
  CHECK(k.out == (keep < 7 ? "0 1 2 " + std::to_string(keep) + " 7\n"
                           : "0 1 2 7 " + std::to_string(keep) + "\n"));

  auto n = run(Sandbox({probe(), "fds"}).stdin_(Stdio::null()).stderr_(Stdio::null()));
  CHECK(n.out == "0 1 2\n");
  ::close(leak);
  ::close(leak2);
  ::close(keep);
}

TEST_CASE("a kept descriptor may take a number another kept one had") {
  int a = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int b = ::open("/dev/zero", O_RDONLY | O_CLOEXEC);
  // a -> b's number and b -> a's number: a swap.
  auto r = run(Sandbox({"/bin/sh", "-c",
                        "readlink /proc/self/fd/" + std::to_string(a) + " /proc/self/fd/" +
                            std::to_string(b)})
                   .keep_fd(a, b)
                   .keep_fd(b, a));
  CHECK(r.out == "/dev/zero\n/dev/null\n");
  ::close(a);
  ::close(b);
}

TEST_CASE("stdin and stdout pipes") {
  Child c = Sandbox({probe(), "cat"}).stdin_(Stdio::pipe()).stdout_(Stdio::pipe()).spawn();
  REQUIRE(c.stdin_pipe());
  REQUIRE(c.stdout_pipe());
  const std::string msg = "hello through the sandbox\n";
  REQUIRE(::write(c.stdin_pipe().get(), msg.data(), msg.size()) ==
          static_cast<ssize_t>(msg.size()));
  c.stdin_pipe().reset();
  CHECK(ward_test::read_all(c.stdout_pipe().get()) == msg);
  CHECK(c.wait().success());
}

TEST_CASE("signals: mask cleared, and an ignored signal stays ignored as across execve") {
  struct sigaction old_pipe {
  }, ign{};
  ign.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ign, &old_pipe);
  sigset_t block, old_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  ::pthread_sigmask(SIG_BLOCK, &block, &old_mask);
  auto info = ward_test::kv(run(Sandbox({probe(), "info"})).out);
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ::sigaction(SIGPIPE, &old_pipe, nullptr);
  CHECK(info["sigblk"] == "0000000000000000");
  // Like execve(2) and CLONE_CLEAR_SIGHAND, an ignored signal stays ignored.
  CHECK((std::stoull(info["sigign"], nullptr, 16) & (1ull << (SIGPIPE - 1))) != 0);
}

TEST_CASE("new session and parent-death signal") {
  auto info =
      ward_test::kv(run(Sandbox({probe(), "info"}).new_session().parent_death_signal(SIGKILL)).out);
  CHECK(info["session_leader"] == "1");
  CHECK(info["pdeathsig"] == std::to_string(SIGKILL));
  auto plain = ward_test::kv(run(Sandbox({probe(), "info"})).out);
  CHECK(plain["session_leader"] == "0");
  CHECK(plain["pdeathsig"] == "0");
}

TEST_CASE("a plan spawns many times and from several threads") {
  Plan plan = Sandbox({probe(), "exit", "0"}).stdin_(Stdio::null()).plan();
  auto before = ward_test::open_fds();
  constexpr int kThreads = 8, kSpawns = 200;
  std::atomic<int> ok{0}, bad{0};
  std::atomic<bool> stop{false};
  // Other threads churn the allocator the whole time: a child that took a
  // malloc lock, or wrote into the parent's memory, would hang or corrupt.
  std::vector<std::thread> churn;
  for (int i = 0; i < 2; ++i)
    churn.emplace_back([&] {
      std::vector<std::unique_ptr<char[]>> v;
      std::size_t n = 0;
      while (!stop) {
        v.emplace_back(new char[(n++ % 64 + 1) * 1024]);
        if (v.size() > 256) v.clear();
      }
    });
  std::vector<std::thread> spawners;
  for (int t = 0; t < kThreads; ++t)
    spawners.emplace_back([&] {
      for (int i = 0; i < kSpawns; ++i) {
        try {
          if (plan.spawn().wait().success())
            ++ok;
          else
            ++bad;
        } catch (const Error&) {
          ++bad;
        }
      }
    });
  for (auto& t : spawners) t.join();
  stop = true;
  for (auto& t : churn) t.join();
  CHECK(ok == kThreads * kSpawns);
  CHECK(bad == 0);
  CHECK(ward_test::open_fds() == before);        // no descriptor leaked
  CHECK(::waitpid(-1, nullptr, WNOHANG) == -1);  // no zombie: nothing left to reap
  CHECK(errno == ECHILD);
}

TEST_CASE("fork mode gives the same results") {
  auto r = run(Sandbox({probe(), "fds"}).spawn_mode(SpawnMode::fork));
  CHECK(r.status.success());
  CHECK(r.out == "0 1 2\n");
  try {
    (void)Sandbox({"/nonexistent"}).spawn_mode(SpawnMode::fork).spawn();
    FAIL("spawn succeeded");
  } catch (const Error& e) {
    CHECK(e.step() == Step::exec);
  }
}

TEST_CASE("spawning leaves the plan's memory, which the child reads, as it was") {
  // The CLONE_VM child reads its argv and environment straight out of the
  // plan's strings in our memory until execve; it must never write them
  // (detail/spawn.hpp: it "writes only its own stack"). 64 KiB strings make
  // that memory span pages; the child prints what it got, so the test also
  // sees that it really read them.
  std::string arg(64 * 1024, 'a');
  for (std::size_t i = 0; i < arg.size(); ++i) arg[i] = static_cast<char>('a' + (i * 31) % 26);
  const std::string var = "BIG=" + arg;
  Plan plan = Sandbox({probe(), "env", arg}).env({var, "PATH=/bin"}).stdout_(Stdio::pipe()).plan();
  const std::vector<std::string> argv_before = plan.argv(), env_before = plan.env();
  for (int i = 0; i < 20; ++i) {
    Child c = plan.spawn();
    std::string out = ward_test::read_all(c.stdout_pipe().get());
    CHECK(c.wait().success());
    CHECK(out == var + "\nPATH=/bin\n");
  }
  CHECK(plan.argv() == argv_before);
  CHECK(plan.env() == env_before);
}

TEST_CASE("start_gate: the child is set up and waits before exec until a byte arrives") {
  int gate[2], out[2];
  REQUIRE(::pipe2(gate, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  Child c = Sandbox({"/bin/sh", "-c", "echo started"})
                .stdout_(Stdio::fd(out[1]))
                .start_gate(gate[0])
                .spawn();
  ::close(out[1]);
  ::close(gate[0]);
  // Not started: nothing to read for a while.
  pollfd pfd{out[0], POLLIN, 0};
  CHECK(::poll(&pfd, 1, 200) == 0);
  REQUIRE(::write(gate[1], "x", 1) == 1);
  ::close(gate[1]);
  CHECK(ward_test::read_all(out[0]) == "started\n");
  ::close(out[0]);
  CHECK(c.wait().exit_code() == 0);
}

TEST_CASE("before_exec: runs in the parent while the child waits, and the program runs after it") {
  int out[2];
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  int runs = 0;
  Child c = Sandbox({"/bin/sh", "-c", "echo program"})
                .stdout_(Stdio::fd(out[1]))
                .before_exec([&] {
                  ++runs;
                  // Slow on purpose: the child, long set up, must still wait.
                  std::this_thread::sleep_for(std::chrono::milliseconds(150));
                  REQUIRE(::write(out[1], "parent\n", 7) == 7);
                })
                .spawn();
  ::close(out[1]);
  CHECK(runs == 1);
  CHECK(ward_test::read_all(out[0]) == "parent\nprogram\n");
  ::close(out[0]);
  CHECK(c.wait().exit_code() == 0);
}

TEST_CASE("before_exec: what it throws comes out of spawn, and the child is gone") {
  int out[2];
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  Sandbox sb = Sandbox({"/bin/sh", "-c", "echo program"}).stdout_(Stdio::fd(out[1]));
  sb.before_exec([] { throw std::runtime_error("not today"); });
  CHECK_THROWS_WITH(sb.spawn(), "not today");
  ::close(out[1]);
  CHECK(ward_test::read_all(out[0]).empty());  // the program never ran
  ::close(out[0]);
  CHECK(::waitpid(-1, nullptr, WNOHANG) == -1);  // reaped: no child left
  CHECK(errno == ECHILD);
}

TEST_CASE("before_exec: a child that fails during its setup is reported as usual") {
  bool ran = false;
  try {
    Sandbox({"no-such-program-here"}).before_exec([&] { ran = true; }).spawn();
    FAIL("spawned");
  } catch (const Error& e) {
    CHECK(e.step() == Step::exec);
  }
  CHECK(ran);  // it runs as soon as the child exists
  CHECK(::waitpid(-1, nullptr, WNOHANG) == -1);
}

TEST_CASE("start_gate: a missing executable is reported by spawn, before the gate") {
  int gate[2];
  REQUIRE(::pipe2(gate, O_CLOEXEC) == 0);
  try {
    Sandbox({"no-such-program-here"}).start_gate(gate[0]).spawn();
    FAIL("spawned");
  } catch (const Error& e) {
    CHECK(e.step() == Step::exec);
    CHECK_THAT(e.what(), Catch::Contains("executable file not found in $PATH"));
  }
  ::close(gate[0]);
  ::close(gate[1]);
}
