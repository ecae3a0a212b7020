// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for include/ward/oci/json.hpp. Any input either fails
// with ParseError or parses; a parsed value must survive dump() and parse()
// unchanged, compact and indented, under both duplicate-key modes. Anything
// else (another exception, a crash, a sanitizer report, a leak) is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <ward/oci/json.hpp>

namespace json = ward::json;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void round_trip(std::string_view text, const json::ParseOptions& opts) {
  json::Value v;
  try {
    v = json::parse(text, opts);
  } catch (const json::ParseError& e) {
    // Positions must point into (or just past) the input.
    check(e.offset() <= text.size() && e.line() >= 1 && e.column() >= 1);
    return;
  }
  // A parsed value is always writable: no NaN/inf, strings are UTF-8.
  const std::string compact = json::dump(v);
  check(json::parse(compact, opts) == v);
  check(json::dump(json::parse(compact, opts)) == compact);  // canonical form is stable
  const std::string pretty = json::dump(v, {.indent = 2});
  check(json::parse(pretty, opts) == v);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  round_trip(text, {});
  round_trip(text, {.max_depth = 32, .duplicate_keys = json::DuplicateKeys::last_wins});
  return 0;
}
