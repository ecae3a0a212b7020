// SPDX-License-Identifier: Apache-2.0
// What the cgroup v1 root tests share (tests/root/cgroup_v1_test.cpp,
// tests/root/oci_resources_v1_test.cpp): cgroup names, a held shell, and a
// skip for hosts that do not mount a controller as a v1 hierarchy.
//
// Cgroups are made below each v1 hierarchy's mount as
// ward-test-v1-<pid>-<n>[/...]: never inside the host's own cgroups. Every
// one is a CgroupV1 object, so it is removed even when a check fails.
// Children are held by `read x` on a stdin pipe until add() has moved them,
// then let go with a newline.
#pragma once

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include <ward/cgroup.hpp>
#include <ward/sandbox.hpp>

#include <catch2/catch.hpp>

#include "test_util.hpp"

namespace ward_test::v1 {

// ward-test-v1-<pid>-<n>, a new n each call.
inline std::string name() {
  static int n = 0;
  return "ward-test-v1-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

// A file's contents without trailing newlines and blanks ("" if unreadable).
inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::string s((std::istreambuf_iterator<char>(in)), {});
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// A shell held at `read x` until release(), stdout and stderr piped.
struct Held {
  ward::Child child;
  explicit Held(const std::string& script)
      : child(ward::Sandbox({"/bin/sh", "-c", "read x; " + script})
                  .stdin_(ward::Stdio::pipe())
                  .stdout_(ward::Stdio::pipe())
                  .stderr_(ward::Stdio::pipe())
                  .spawn()) {}
  void release() {
    REQUIRE(::write(child.stdin_pipe().get(), "\n", 1) == 1);
    child.stdin_pipe().reset();
  }
};

// Polls `pred` every 10 ms for up to `ms`.
template <class P>
bool eventually(P pred, int ms = 5000) {
  for (int i = 0; i < ms / 10; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

}  // namespace ward_test::v1

// First line of a v1 test: root, and every controller named mounted as a
// v1 hierarchy, or the test skips saying which is not.
#define NEED_V1(...)                                                                \
  do {                                                                              \
    WARD_SKIP_UNLESS_ROOT();                                                        \
    for (const char* c_ : {__VA_ARGS__})                                            \
      if (ward::cgroup_host().v1_hierarchy(c_) == nullptr)                          \
        WARD_SKIP("controller " << c_ << " is not mounted as a v1 hierarchy here"); \
  } while (false)
