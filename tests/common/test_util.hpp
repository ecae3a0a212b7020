// SPDX-License-Identifier: Apache-2.0
// Helpers shared by ward's tests.
#pragma once

#include <unistd.h>

#include <iostream>

namespace ward_test {

// Exit status with which a test binary tells ctest "skipped" (every ward test
// has the ctest property SKIP_RETURN_CODE 77; 77 is the automake convention).
inline constexpr int kSkipExitCode = 77;

// Per-process bookkeeping behind WARD_SKIP; see catch_runner.hpp.
struct RunState {
  int test_cases_run = 0;
  bool skip_requested = false;    // WARD_SKIP ran in the current test case
  bool assertion_failed = false;  // an assertion of the current test case failed
};
inline RunState& run_state() {
  static RunState state;
  return state;
}

}  // namespace ward_test

// WARD_SKIP(reason): ends the current TEST_CASE as *skipped*.
//
// Prints one line "WARD-SKIP: <reason>" to stdout, flushes, and returns from
// the test case. ctest runs every TEST_CASE in its own process; when that one
// test case skipped and nothing failed, the test binary exits with status 77,
// which ctest reports as "Skipped" (property SKIP_RETURN_CODE 77). A skip
// never hides a failure: a failed assertion before the skip, a sanitizer
// report, a crash in a destructor all still fail the test.
// (Run a test binary directly over several test cases and a skipped test
// case just passes, with the WARD-SKIP line in the output.)
//
// `reason` is streamed, so WARD_SKIP("needs " << what) works. Use it directly
// in a TEST_CASE or SECTION body: `return` only leaves the enclosing function.
#define WARD_SKIP(reason)                              \
  do {                                                 \
    ::ward_test::run_state().skip_requested = true;    \
    std::cout << "WARD-SKIP: " << reason << std::endl; \
    return;                                            \
  } while (false)

// WARD_SKIP_UNLESS_ROOT(): first line of a test under tests/root/.
#define WARD_SKIP_UNLESS_ROOT()                             \
  do {                                                      \
    if (::geteuid() != 0) WARD_SKIP("needs root (euid 0)"); \
  } while (false)
