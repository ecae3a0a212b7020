// SPDX-License-Identifier: Apache-2.0
// Shared by the "systemd vm:" cases (tests/vm/systemd_*_vm_test.cpp).
#pragma once

#include <unistd.h>

#include <fstream>
#include <string>

namespace ward_test {

// Why the systemd cases cannot run here ("" when they can): systemd must
// be pid 1 with its system bus (scripts/vm-run.sh --init systemd).
inline std::string systemd_unavailable() {
  std::ifstream comm("/proc/1/comm");
  std::string c;
  std::getline(comm, c);
  if (c != "systemd")
    return "pid 1 is \"" + c + "\", not systemd (run in scripts/vm-run.sh --init systemd)";
  if (::access("/run/dbus/system_bus_socket", F_OK) != 0) return "no system bus socket";
  return {};
}

}  // namespace ward_test
