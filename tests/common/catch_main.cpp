// SPDX-License-Identifier: Apache-2.0
// main() of ward_unit_tests and ward_root_tests: Catch2's runner, compiled
// once (CMake object library ward_catch_main) and linked into both.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "catch_runner.hpp"

int main(int argc, char** argv) { return ward_test::run_catch_session(argc, argv); }
