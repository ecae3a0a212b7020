// SPDX-License-Identifier: Apache-2.0
// Sandbox::init_process unprivileged (the rootless tier, e.g. as uid 65534):
// the shared cases, tests/common/init_process_cases.hpp.
#include <unistd.h>

#include <catch2/catch.hpp>

#include "init_process_cases.hpp"

#define WARD_INIT_ROOTLESS_SKIP()                                                                \
  do {                                                                                           \
    if (::geteuid() == 0) WARD_SKIP("running as root; the rootless tier must run unprivileged"); \
    if (!ward::Sandbox::init_process_supported()) WARD_SKIP("no init for this arch");            \
    if (!ward_test::userns_allowed()) WARD_SKIP("unprivileged user namespaces are disabled");    \
  } while (false)

WARD_INIT_PROCESS_CASES("rootless", WARD_INIT_ROOTLESS_SKIP())
