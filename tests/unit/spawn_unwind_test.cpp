// SPDX-License-Identifier: Apache-2.0
// Whatever leaves Sandbox::spawn while a child is being set up (an exception
// of any type from a callback, or the forced unwind of pthread_cancel) kills
// and reaps every process of that spawn and leaves the caller intact
// (detail/spawn.hpp, spawn_plan's UnwindGuard).
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <new>
#include <thread>

#include <ward/ward.hpp>

#include <catch2/catch.hpp>

#include "test_util.hpp"

using namespace ward;

namespace {

// No child of this test process is left, running or zombie.
bool no_children_left() {
  return ::waitpid(-1, nullptr, WNOHANG | __WALL) == -1 && errno == ECHILD;
}

struct CancelCase {
  Sandbox sb;
  std::atomic<bool> in_callback{false};
  int block_rd = -1;  // the callback blocks reading this: a cancellation point
  bool spawned = false;
};

void* spawn_thread(void* arg) {
  auto* cc = static_cast<CancelCase*>(arg);
  // Deferred cancellation (the default): the thread is cancelled inside the
  // callback's read(2), which unwinds through spawn_plan.
  Child c = cc->sb.spawn();
  cc->spawned = true;
  return nullptr;
}

// Runs cc.sb.spawn() on a thread, cancels it while the callback blocks, and
// checks that the thread ended as cancelled and the process lives on (an
// exception handler that swallowed the forced unwind would have called
// std::terminate and aborted the whole test binary).
void cancel_during_callback(CancelCase& cc) {
  pthread_t t;
  REQUIRE(::pthread_create(&t, nullptr, &spawn_thread, &cc) == 0);
  for (int i = 0; i < 5000 && !cc.in_callback.load(); ++i) ::usleep(1000);
  REQUIRE(cc.in_callback.load());
  ::usleep(20000);  // let it reach the read
  REQUIRE(::pthread_cancel(t) == 0);
  void* result = nullptr;
  REQUIRE(::pthread_join(t, &result) == 0);
  CHECK(result == PTHREAD_CANCELED);
  CHECK_FALSE(cc.spawned);
}

}  // namespace

TEST_CASE(
    "spawn: pthread_cancel inside before_exec kills and reaps the child, the caller lives on") {
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  CancelCase cc;
  cc.block_rd = p[0];
  cc.sb = Sandbox({"/bin/true"});
  cc.sb.before_exec([&cc] {
    cc.in_callback = true;
    char b;
    ssize_t n = ::read(cc.block_rd, &b, 1);  // blocks until cancelled
    (void)n;
  });
  cancel_during_callback(cc);
  CHECK(no_children_left());
  ::close(p[0]);
  ::close(p[1]);
  // The engine still works on this thread afterwards.
  CHECK(Sandbox({"/bin/true"}).spawn().wait().exit_code() == 0);
}

TEST_CASE("spawn: pthread_cancel inside before_pivot kills and reaps the child") {
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  CancelCase cc;
  cc.block_rd = p[0];
  cc.sb = Sandbox({"/bin/true"});
  cc.sb.before_pivot([&cc](pid_t) {
    cc.in_callback = true;
    char b;
    ssize_t n = ::read(cc.block_rd, &b, 1);
    (void)n;
  });
  cancel_during_callback(cc);
  CHECK(no_children_left());
  ::close(p[0]);
  ::close(p[1]);
}

TEST_CASE("spawn: an exception of a foreign type from a callback comes out, the child is reaped") {
  SECTION("an int from before_pivot") {
    Sandbox sb({"/bin/true"});
    sb.before_pivot([](pid_t) { throw 42; });
    CHECK_THROWS_AS(sb.spawn(), int);
  }
  SECTION("std::bad_alloc from before_exec") {
    Sandbox sb({"/bin/true"});
    sb.before_exec([] { throw std::bad_alloc(); });
    CHECK_THROWS_AS(sb.spawn(), std::bad_alloc);
  }
  CHECK(no_children_left());
  CHECK(Sandbox({"/bin/true"}).spawn().wait().exit_code() == 0);
}

TEST_CASE("spawn: in two stages, an unwind kills and reaps both stages") {
  WARD_SKIP_UNLESS_ROOT();  // joining a namespace (setns) needs CAP_SYS_ADMIN
  // Joining first, then a new pid namespace: a second stage execs.
  auto make = [] {
    return Sandbox({"/bin/true"}).join(Namespace::current(NsKind::net)).unshare(NsKind::pid);
  };
  REQUIRE(make().plan().two_stage());
  SECTION("a throw from before_exec") {
    Sandbox sb = make();
    sb.before_exec([] { throw std::bad_alloc(); });
    CHECK_THROWS_AS(sb.spawn(), std::bad_alloc);
  }
  SECTION("a cancel inside before_exec") {
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    CancelCase cc;
    cc.block_rd = p[0];
    cc.sb = make();
    cc.sb.before_exec([&cc] {
      cc.in_callback = true;
      char b;
      ssize_t n = ::read(cc.block_rd, &b, 1);
      (void)n;
    });
    cancel_during_callback(cc);
    ::close(p[0]);
    ::close(p[1]);
  }
  CHECK(no_children_left());
  CHECK(make().spawn().wait().exit_code() == 0);  // the stacks are still good
}
