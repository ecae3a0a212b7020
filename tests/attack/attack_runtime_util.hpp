// SPDX-License-Identifier: Apache-2.0
// Helpers of the attack tier's runtime tests (proc_attack_test.cpp,
// cve_attack_test.cpp): config mounts, and the runtime started with a
// chosen descriptor 3.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include <ward/ward.hpp>

#include <catch2/catch.hpp>

#include "runtime_util.hpp"

namespace ward_test {

inline json::Value mount_entry(const std::string& dst, const std::string& type,
                               const std::string& src, std::vector<std::string> opts = {}) {
  json::Array o;
  for (auto& s : opts) o.emplace_back(s);
  return json::Value::object(
      {{"destination", dst}, {"type", type}, {"source", src}, {"options", json::Value(o)}});
}

// `run -d` of `args` (config edited by `edit`) as container b.id(name);
// returns the id. The test deletes it (the Bundle does if a check fails).
inline std::string run_detached(Bundle& b, const std::vector<std::string>& args,
                                const std::string& name,
                                const std::function<void(json::Value&)>& edit = {}) {
  b.set(args, edit);
  const std::string id = b.id(name);
  auto d = b.cmd({"run", "-d", "--bundle", b.dir.path, id});
  INFO(d.err);
  REQUIRE(d.status == 0);
  return id;
}

}  // namespace ward_test
