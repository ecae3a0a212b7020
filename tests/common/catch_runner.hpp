// SPDX-License-Identifier: Apache-2.0
// The Catch2 session runner of every ward test binary: runs Catch2 and turns
// "the one test case run was skipped with WARD_SKIP and nothing failed" into
// exit status 77, which ctest counts as skipped (SKIP_RETURN_CODE 77).
//
// Include exactly once per test binary, in the translation unit that defines
// CATCH_CONFIG_RUNNER and main().
#pragma once

#include <cstdio>
#include <string_view>

#include <catch2/catch.hpp>

#include "test_util.hpp"

namespace ward_test {

class SkipListener : public Catch::TestEventListenerBase {
 public:
  using Catch::TestEventListenerBase::TestEventListenerBase;

  void testCaseStarting(Catch::TestCaseInfo const& info) override {
    auto& s = run_state();
    ++s.test_cases_run;
    s.skip_requested = false;
    s.assertion_failed = false;
    Catch::TestEventListenerBase::testCaseStarting(info);
  }

  bool assertionEnded(Catch::AssertionStats const& stats) override {
    if (!stats.assertionResult.isOk()) run_state().assertion_failed = true;
    return Catch::TestEventListenerBase::assertionEnded(stats);
  }
};

// (Registered inside the namespace: the macro pastes the name into an identifier.)
CATCH_REGISTER_LISTENER(SkipListener)

inline int run_catch_session(int argc, char** argv) {
  int rc = Catch::Session().run(argc, argv);
  if (rc == kSkipExitCode) rc = 1;  // 77 failed assertions must not read as "skipped"
  const RunState& s = run_state();
  // A test name that matches nothing must not pass vacuously (ctest runs one
  // test case per process by name). Listing runs none, legitimately.
  bool listing = false;
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]).rfind("--list", 0) == 0 || std::string_view(argv[i]) == "-h" ||
        std::string_view(argv[i]) == "--help")
      listing = true;
  if (rc == 0 && s.test_cases_run == 0 && !listing && argc > 1) {
    std::fprintf(stderr, "ward-test: no test case matched the command line\n");
    return 1;
  }
  if (rc == 0 && s.test_cases_run == 1 && s.skip_requested && !s.assertion_failed) {
    return kSkipExitCode;
  }
  return rc;
}

}  // namespace ward_test
