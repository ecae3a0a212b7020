// SPDX-License-Identifier: Apache-2.0
// Helpers the OCI mapping headers (oci/sandbox.hpp, oci/resources.hpp) share:
// warnings, "unsupported" errors and errors that name the config's field.
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <vector>

#include <ward/error.hpp>

namespace ward::oci::detail::mapping {

inline void warn(std::vector<std::string>* w, std::string msg) {
  if (w != nullptr) w->push_back(std::move(msg));
}

// A value ward cannot honour: an error naming the field (config.md "Valid
// values": "Runtimes MUST generate an error when invalid or unsupported
// values are encountered").
[[noreturn]] inline void unsupported(const std::string& field, const std::string& why) {
  throw Error(Step::validate, EOPNOTSUPP, field, "unsupported: " + why);
}

// Runs `f`; a ward::Error from it is thrown again with `field` in front of
// its object, so it names the config's field and what failed beneath
// ("linux.resources.memory.limit (/sys/fs/cgroup/c1/memory.max)").
template <class F>
void at_field(const std::string& field, F&& f) {
  try {
    f();
  } catch (const Error& e) {
    throw Error(e.step(), e.error_number(),
                e.object().empty() ? field : field + " (" + e.object() + ")", e.detail());
  }
}

inline std::string idx(const std::string& field, std::size_t i) {
  return field + "[" + std::to_string(i) + "]";
}

}  // namespace ward::oci::detail::mapping
