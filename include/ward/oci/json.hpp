// SPDX-License-Identifier: Apache-2.0
// A small, strict JSON (RFC 8259) parser and serializer, for what a container
// runtime reads and writes: OCI config.json, seccomp profiles, state files and
// JSON logs. Strict because these files configure a security boundary: input
// that another parser might read differently (duplicate keys, comments,
// trailing commas, invalid UTF-8, numbers that lose precision) is rejected
// with an error that names the line and column, rather than guessed at.
//
//   Value v = parse(text, {.source_name = "config.json"});
//   std::uint64_t limit = get_uint64(v, "limit", "linux.resources.memory");
//   std::string out = dump(Value::object({{"ociVersion", "1.0.2"}, {"pid", 1234}}));
//
// Decisions (each also explained where it is implemented):
//   - Integers without fraction or exponent are kept exactly, as int64 or (above
//     INT64_MAX) uint64; everything else is a double, correctly rounded. "-0" is
//     the double -0.0 (int64 has no negative zero).
//   - A number too large for a double (1e400) is an error; one too small
//     (1e-400) is zero, with its sign.
//   - Duplicate object keys are an error by default (ParseOptions::duplicate_keys).
//   - Objects keep insertion order, so dump() output is deterministic.
//   - Error columns count Unicode code points (UTF-8 characters), 1-based.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include <ward/error.hpp>

namespace ward::json {

class Value;
using Array = std::vector<Value>;
using Member = std::pair<std::string, Value>;
// A vector, not a map: RFC 8259 §4 leaves member order to the implementation,
// and keeping the input's order makes dump() deterministic and diffs readable.
using Object = std::vector<Member>;

enum class Type : std::uint8_t { null, boolean, integer, number, string, array, object };

constexpr std::string_view to_string(Type t) noexcept {
  switch (t) {
    case Type::null: return "null";
    case Type::boolean: return "boolean";
    case Type::integer: return "integer";
    case Type::number: return "number";
    case Type::string: return "string";
    case Type::array: return "array";
    case Type::object: return "object";
  }
  return "unknown";
}

namespace impl {
[[noreturn]] inline void type_error(std::string_view expected, Type held) {
  throw Error(Step::validate, EINVAL, "json value",
              "expected " + std::string(expected) + ", holds " + std::string(to_string(held)));
}
}  // namespace impl

// One JSON value. Integers are stored exactly: as int64 when they fit, as
// uint64 only above INT64_MAX (so each integer has one representation and
// equality is simple). Doubles never hold NaN or infinity when they come from
// parse(); dump() refuses them.
class Value {
 public:
  Value() noexcept = default;
  Value(std::nullptr_t) noexcept {}
  // A template so that pointers (which convert to bool) do not pick it.
  template <std::same_as<bool> B>
  Value(B b) noexcept : v_(b) {}
  template <std::integral I>
  requires(!std::same_as<I, bool> && !std::same_as<I, char>) Value(I i)
  noexcept {
    if constexpr (std::is_signed_v<I>) {
      v_ = static_cast<std::int64_t>(i);
    } else if (static_cast<std::uint64_t>(i) <=
               static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      v_ = static_cast<std::int64_t>(i);
    } else {
      v_ = static_cast<std::uint64_t>(i);
    }
  }
  // A char is more likely a mistake than a number: say Value(std::string(1, c)).
  Value(char) = delete;
  Value(double d) noexcept : v_(d) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(std::string_view s) : v_(std::string(s)) {}
  Value(std::string s) noexcept : v_(std::move(s)) {}
  Value(Array a) noexcept : v_(std::move(a)) {}
  Value(Object o) noexcept : v_(std::move(o)) {}

  // Builders: Value::object({{"ociVersion", "1.0.2"}, {"pid", 1234}}) and
  // Value::array({1, "two", nullptr}). Keys are taken as given, duplicates
  // included: use set() to replace.
  static Value array(std::initializer_list<Value> elements = {}) { return Value(Array(elements)); }
  static Value object(std::initializer_list<Member> members = {}) { return Value(Object(members)); }

  Type type() const noexcept {
    switch (v_.index()) {
      case 0: return Type::null;
      case 1: return Type::boolean;
      case 2:
      case 3: return Type::integer;
      case 4: return Type::number;
      case 5: return Type::string;
      case 6: return Type::array;
      default: return Type::object;
    }
  }
  bool is_null() const noexcept { return v_.index() == 0; }
  bool is_bool() const noexcept { return v_.index() == 1; }
  // An integer literal that fits in int64 or uint64 (no fraction, no exponent).
  bool is_int() const noexcept { return v_.index() == 2 || v_.index() == 3; }
  bool is_double() const noexcept { return v_.index() == 4; }
  bool is_number() const noexcept { return is_int() || is_double(); }
  bool is_string() const noexcept { return v_.index() == 5; }
  bool is_array() const noexcept { return v_.index() == 6; }
  bool is_object() const noexcept { return v_.index() == 7; }
  // Whether as_int64() / as_uint64() would succeed.
  bool fits_int64() const noexcept { return v_.index() == 2; }
  bool fits_uint64() const noexcept {
    return v_.index() == 3 || (v_.index() == 2 && std::get<2>(v_) >= 0);
  }

  // The accessors throw ward::Error (Step::validate, EINVAL) when the value
  // holds something else; see Reader / get_*() for errors that name a path.
  bool as_bool() const {
    if (!is_bool()) impl::type_error("a boolean", type());
    return std::get<1>(v_);
  }
  std::int64_t as_int64() const {
    if (v_.index() == 2) return std::get<2>(v_);
    if (v_.index() == 3) impl::type_error("an integer in int64 range", type());
    impl::type_error("an integer", type());
  }
  std::uint64_t as_uint64() const {
    if (v_.index() == 3) return std::get<3>(v_);
    if (v_.index() == 2 && std::get<2>(v_) >= 0) return static_cast<std::uint64_t>(std::get<2>(v_));
    if (v_.index() == 2) impl::type_error("a non-negative integer", type());
    impl::type_error("an integer", type());
  }
  // Any number, as a double (integers beyond 2^53 are rounded).
  double as_double() const {
    switch (v_.index()) {
      case 2: return static_cast<double>(std::get<2>(v_));
      case 3: return static_cast<double>(std::get<3>(v_));
      case 4: return std::get<4>(v_);
      default: impl::type_error("a number", type());
    }
  }
  const std::string& as_string() const {
    if (!is_string()) impl::type_error("a string", type());
    return std::get<5>(v_);
  }
  std::string& as_string() {
    if (!is_string()) impl::type_error("a string", type());
    return std::get<5>(v_);
  }
  const Array& as_array() const {
    if (!is_array()) impl::type_error("an array", type());
    return std::get<6>(v_);
  }
  Array& as_array() {
    if (!is_array()) impl::type_error("an array", type());
    return std::get<6>(v_);
  }
  const Object& as_object() const {
    if (!is_object()) impl::type_error("an object", type());
    return std::get<7>(v_);
  }
  Object& as_object() {
    if (!is_object()) impl::type_error("an object", type());
    return std::get<7>(v_);
  }

  // The member named `key` of an object, or nullptr (also when this is not an
  // object). Linear: the objects ward reads have a handful of members. With
  // duplicate keys (only possible in values built by hand), the first wins.
  const Value* find(std::string_view key) const noexcept {
    if (!is_object()) return nullptr;
    for (const auto& [k, v] : std::get<7>(v_)) {
      if (k == key) return &v;
    }
    return nullptr;
  }
  Value* find(std::string_view key) noexcept {
    return const_cast<Value*>(std::as_const(*this).find(key));
  }
  bool contains(std::string_view key) const noexcept { return find(key) != nullptr; }

  // Object: replace the member `key` in place, or append it. A null value
  // becomes an empty object first.
  Value& set(std::string_view key, Value v) {
    if (is_null()) v_ = Object{};
    if (Value* existing = find(key)) return *existing = std::move(v);
    Object& o = as_object();
    o.emplace_back(std::string(key), std::move(v));
    return o.back().second;
  }
  // Array: append. A null value becomes an empty array first.
  Value& push_back(Value v) {
    if (is_null()) v_ = Array{};
    Array& a = as_array();
    a.push_back(std::move(v));
    return a.back();
  }
  // Elements of an array or members of an object; 0 for everything else.
  std::size_t size() const noexcept {
    if (is_array()) return std::get<6>(v_).size();
    if (is_object()) return std::get<7>(v_).size();
    return 0;
  }

  // Structural equality; object members compare in order. Integers and
  // doubles never compare equal (1 != 1.0: they are different JSON texts
  // after a round trip), and doubles compare by value and sign (-0.0 != 0.0),
  // so parse(dump(v)) == v is a real round-trip check.
  friend bool operator==(const Value& a, const Value& b) noexcept {
    if (a.v_.index() != b.v_.index()) return false;
    if (a.is_double()) {
      double x = std::get<4>(a.v_), y = std::get<4>(b.v_);
      return x == y && std::signbit(x) == std::signbit(y);
    }
    return a.v_ == b.v_;
  }

 private:
  std::variant<std::nullptr_t, bool, std::int64_t, std::uint64_t, double, std::string, Array,
               Object>
      v_{nullptr};

 public:
  // For the serializer: the raw alternative without type checks.
  template <class F>
  decltype(auto) visit(F&& f) const {
    return std::visit(std::forward<F>(f), v_);
  }
};

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

// A syntax error: object() is "<source>:<line>:<column>", detail() says what
// is wrong, e.g.
//   ward: validate config.json:3:14: Invalid argument (EINVAL): expected ',' or '}' after object
//   member
// line() and column() are 1-based. Lines are separated by LF (a CR before it
// belongs to the line it ends). column() counts Unicode code points, i.e.
// UTF-8 characters, from the start of the line (a tab is one column); offset()
// is the 0-based byte offset in the input.
class ParseError : public Error {
 public:
  ParseError(const std::string& source, std::size_t line, std::size_t column, std::size_t offset,
             std::string reason)
      : Error(Step::validate, EINVAL,
              source + ":" + std::to_string(line) + ":" + std::to_string(column), reason),
        line_(line),
        column_(column),
        offset_(offset) {}

  std::size_t line() const noexcept { return line_; }
  std::size_t column() const noexcept { return column_; }
  std::size_t offset() const noexcept { return offset_; }
  const std::string& reason() const noexcept { return detail(); }

 private:
  std::size_t line_, column_, offset_;
};

// A well-formed document with the wrong content, found by Reader / get_*():
// object() is the source name, detail() is "<json path>: <reason>", e.g.
//   ward: validate config.json: Invalid argument (EINVAL): linux.resources.memory.limit: expected
//   an integer
class FieldError : public Error {
 public:
  FieldError(const std::string& source, std::string path, std::string reason)
      : Error(Step::validate, EINVAL, source,
              (path.empty() ? std::string("(root)") : path) + ": " + reason),
        path_(std::move(path)),
        reason_(std::move(reason)) {}

  // "linux.resources.memory.limit"; empty for the top-level value.
  const std::string& path() const noexcept { return path_; }
  const std::string& reason() const noexcept { return reason_; }

 private:
  std::string path_, reason_;
};

// ---------------------------------------------------------------------------
// UTF-8 (RFC 3629 §4, which RFC 8259 §8.1 requires)
// ---------------------------------------------------------------------------
namespace impl {

// Length of the well-formed UTF-8 sequence at s[i], or 0 with *bad set to the
// offset of the first byte that makes it ill-formed. The ranges are Unicode's
// table 3-7 (the same as RFC 3629 §4's grammar): they exclude overlong forms
// (C0, C1, E0 80-9F, F0 80-8F), UTF-16 surrogates (ED A0-BF) and code points
// above U+10FFFF (F4 90-BF, F5-FF).
inline std::size_t utf8_sequence(std::string_view s, std::size_t i, std::size_t* bad) noexcept {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  std::size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    *bad = i;
    return 0;
  }
  for (std::size_t k = 1; k < n; ++k) {
    if (i + k >= s.size()) {
      *bad = i + k;  // == s.size(): truncated at the end
      return 0;
    }
    const unsigned char cc = b(i + k);
    if (cc < (k == 1 ? lo : 0x80) || cc > (k == 1 ? hi : 0xBF)) {
      *bad = i + k;
      return 0;
    }
  }
  return n;
}

inline void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

inline std::string hex_byte(unsigned char c) {
  constexpr char digits[] = "0123456789ABCDEF";
  return std::string("0x") + digits[c >> 4] + digits[c & 0xF];
}

}  // namespace impl

// Whether `s` is well-formed UTF-8.
inline bool is_valid_utf8(std::string_view s) noexcept {
  std::size_t bad = 0;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = impl::utf8_sequence(s, i, &bad);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------

// RFC 8259 §4: "The names within an object SHOULD be unique", and parsers
// differ on duplicates (first wins, last wins, error). A config that two
// tools would read differently is refused by default.
enum class DuplicateKeys : std::uint8_t {
  reject,     // ParseError naming the key, at the second occurrence
  last_wins,  // the last value, at the position of the first occurrence (as
              // JavaScript's JSON.parse and Python's json do)
};

struct ParseOptions {
  // Used in error messages: "<source_name>:<line>:<column>".
  std::string source_name = "json";
  // Arrays and objects nested deeper than this are an error; the top-level
  // array or object is depth 1. The parser, dump(), operator== and Value's
  // destructor recurse once per level, so this also bounds their stack use.
  std::size_t max_depth = 256;
  DuplicateKeys duplicate_keys = DuplicateKeys::reject;
};

namespace impl {

class Parser {
 public:
  Parser(std::string_view text, const ParseOptions& opts) : s_(text), opts_(opts) {}

  Value parse_document() {
    // RFC 8259 §8.1: implementations "MUST NOT add a byte order mark" and
    // "MAY ignore" one; we refuse it, so a file has one meaning everywhere.
    if (s_.size() >= 3 && s_.substr(0, 3) == "\xEF\xBB\xBF") {
      fail(0, "byte order mark (U+FEFF) at the start is not allowed (RFC 8259 §8.1)");
    }
    skip_ws();
    Value v = parse_value(0);
    skip_ws();
    if (pos_ != s_.size())
      fail(pos_, "unexpected " + describe(pos_) + " after the top-level value");
    return v;
  }

 private:
  [[noreturn]] void fail(std::size_t at, std::string reason) const {
    // Line and column are computed only here, so the happy path pays nothing.
    std::size_t line = 1, line_start = 0;
    for (std::size_t i = 0; i < at && i < s_.size(); ++i) {
      if (s_[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    }
    std::size_t column = 1;
    for (std::size_t i = line_start; i < at && i < s_.size(); ++i) {
      // Count the lead byte of each UTF-8 character (everything but
      // continuation bytes 10xxxxxx): columns are code points.
      if ((static_cast<unsigned char>(s_[i]) & 0xC0) != 0x80) ++column;
    }
    throw ParseError(opts_.source_name, line, column, at, std::move(reason));
  }

  std::string describe(std::size_t at) const {
    if (at >= s_.size()) return "end of input";
    const auto c = static_cast<unsigned char>(s_[at]);
    if (c > 0x20 && c < 0x7F) return std::string("'") + static_cast<char>(c) + "'";
    return "byte " + hex_byte(c);
  }

  bool at_end() const noexcept { return pos_ >= s_.size(); }
  char peek() const noexcept { return at_end() ? '\0' : s_[pos_]; }

  // RFC 8259 §2: ws = space, horizontal tab, line feed, carriage return.
  void skip_ws() noexcept {
    while (!at_end()) {
      const char c = s_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
      ++pos_;
    }
  }

  Value parse_value(std::size_t depth) {
    if (at_end()) fail(pos_, "expected a JSON value, found end of input");
    switch (s_[pos_]) {
      case '{': return parse_object(depth + 1);
      case '[': return parse_array(depth + 1);
      case '"': return Value(parse_string());
      case 't': return parse_literal("true", Value(true));
      case 'f': return parse_literal("false", Value(false));
      case 'n': return parse_literal("null", Value(nullptr));
      default:
        if (s_[pos_] == '-' || (s_[pos_] >= '0' && s_[pos_] <= '9')) return parse_number();
        fail(pos_, "expected a JSON value, found " + describe(pos_));
    }
  }

  Value parse_literal(std::string_view word, Value v) {
    // RFC 8259 §3: the literal names MUST be lowercase.
    if (s_.substr(pos_, word.size()) != word) {
      fail(pos_, "invalid literal, expected '" + std::string(word) + "'");
    }
    pos_ += word.size();
    return v;
  }

  void enter(std::size_t depth, std::size_t at) const {
    // RFC 8259 §9 lets a parser limit nesting; without a limit, "[[[[..."
    // would recurse until the stack overflows.
    if (depth > opts_.max_depth) fail(at, "nesting deeper than " + std::to_string(opts_.max_depth));
  }

  // RFC 8259 §5: begin-array [ value *( value-separator value ) ] end-array.
  Value parse_array(std::size_t depth) {
    enter(depth, pos_);
    ++pos_;  // '['
    Array a;
    skip_ws();
    if (peek() == ']') {
      ++pos_;
      return Value(std::move(a));
    }
    for (;;) {
      skip_ws();
      if (peek() == ']') fail(pos_, "expected a value after ',' (trailing commas are not allowed)");
      a.push_back(parse_value(depth));
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        return Value(std::move(a));
      }
      fail(pos_, "expected ',' or ']' after array element, found " + describe(pos_));
    }
  }

  // RFC 8259 §4: begin-object [ member *( value-separator member ) ] end-object,
  // member = string name-separator value.
  Value parse_object(std::size_t depth) {
    enter(depth, pos_);
    ++pos_;  // '{'
    Object o;
    std::vector<std::size_t> key_offsets;  // for duplicate-key errors
    skip_ws();
    if (peek() == '}') {
      ++pos_;
      return Value(std::move(o));
    }
    for (;;) {
      skip_ws();
      if (peek() != '"') {
        if (peek() == '}' && !o.empty()) {
          fail(pos_, "expected a member after ',' (trailing commas are not allowed)");
        }
        fail(pos_,
             std::string(o.empty() ? "expected a string key or '}'" : "expected a string key") +
                 ", found " + describe(pos_));
      }
      key_offsets.push_back(pos_);
      std::string key = parse_string();
      skip_ws();
      if (peek() != ':') fail(pos_, "expected ':' after object key, found " + describe(pos_));
      ++pos_;
      skip_ws();
      o.emplace_back(std::move(key), parse_value(depth));
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        break;
      }
      fail(pos_, "expected ',' or '}' after object member, found " + describe(pos_));
    }
    resolve_duplicates(o, key_offsets);
    return Value(std::move(o));
  }

  // Sorting member indices by key finds duplicates in O(n log n), so a
  // hostile object with 10^5 members costs no more than parsing it.
  void resolve_duplicates(Object& o, const std::vector<std::size_t>& key_offsets) const {
    if (o.size() < 2) return;
    std::vector<std::size_t> idx(o.size());
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    std::stable_sort(idx.begin(), idx.end(),
                     [&](std::size_t a, std::size_t b) { return o[a].first < o[b].first; });
    // Within a run of equal keys the indices are ascending (stable sort).
    std::size_t first_dup = o.size();  // index of the earliest repeated occurrence
    std::vector<bool> drop;
    for (std::size_t r = 0; r < idx.size();) {
      std::size_t e = r + 1;
      while (e < idx.size() && o[idx[e]].first == o[idx[r]].first) ++e;
      if (e - r > 1) {
        first_dup = std::min(first_dup, idx[r + 1]);
        if (opts_.duplicate_keys == DuplicateKeys::last_wins) {
          if (drop.empty()) drop.assign(o.size(), false);
          // Last value, first position.
          o[idx[r]].second = std::move(o[idx[e - 1]].second);
          for (std::size_t k = r + 1; k < e; ++k) drop[idx[k]] = true;
        }
      }
      r = e;
    }
    if (first_dup == o.size()) return;
    if (opts_.duplicate_keys == DuplicateKeys::reject) {
      fail(key_offsets[first_dup], "duplicate key " + quote(o[first_dup].first));
    }
    std::size_t out = 0;
    for (std::size_t i = 0; i < o.size(); ++i) {
      if (!drop[i]) {
        if (out != i) o[out] = std::move(o[i]);
        ++out;
      }
    }
    o.resize(out);
  }

  static std::string quote(const std::string& key);  // defined after dump()

  static int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // The 4 hex digits of a \u escape whose backslash is at `esc`.
  std::uint32_t parse_hex4(std::size_t esc) {
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const std::size_t at = esc + 2 + k;
      const int h = at < s_.size() ? hex_value(s_[at]) : -1;
      if (h < 0) fail(at, "expected 4 hex digits after \\u, found " + describe(at));
      v = v * 16 + static_cast<std::uint32_t>(h);
    }
    return v;
  }

  // RFC 8259 §7.
  std::string parse_string() {
    ++pos_;  // opening quote
    std::string out;
    for (;;) {
      if (at_end()) fail(pos_, "unterminated string");
      const auto c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c == '\\') {
        parse_escape(out);
        continue;
      }
      if (c < 0x20) {
        // §7: "the control characters (U+0000 through U+001F)" MUST be escaped.
        fail(pos_, "control character " + hex_byte(c) + " in string must be escaped");
      }
      if (c < 0x80) {
        // Copy the run of plain ASCII at once.
        std::size_t e = pos_ + 1;
        while (e < s_.size()) {
          const auto d = static_cast<unsigned char>(s_[e]);
          if (d == '"' || d == '\\' || d < 0x20 || d >= 0x80) break;
          ++e;
        }
        out.append(s_.data() + pos_, e - pos_);
        pos_ = e;
        continue;
      }
      // §8.1: JSON text exchanged between systems MUST be UTF-8.
      std::size_t bad = 0;
      const std::size_t n = utf8_sequence(s_, pos_, &bad);
      if (n == 0) utf8_error(bad);
      out.append(s_.data() + pos_, n);
      pos_ += n;
    }
  }

  // Says why the UTF-8 sequence at pos_ is ill-formed; `bad` is the first
  // byte that makes it so (from utf8_sequence()).
  [[noreturn]] void utf8_error(std::size_t bad) const {
    const auto lead = static_cast<unsigned char>(s_[pos_]);
    if (bad == pos_) fail(pos_, "invalid UTF-8 byte " + hex_byte(lead));
    const auto b = bad < s_.size() ? static_cast<unsigned char>(s_[bad]) : 0;
    if (bad >= s_.size() || (b & 0xC0) != 0x80) {
      fail(pos_, "incomplete UTF-8 sequence starting with byte " + hex_byte(lead));
    }
    // A continuation byte, but outside the range the lead byte allows.
    const char* why = lead == 0xED   ? "UTF-16 surrogate"
                      : lead == 0xF4 ? "above U+10FFFF"
                                     : "overlong";
    fail(bad, "invalid UTF-8 byte " + hex_byte(b) + " after " + hex_byte(lead) + " (" + why + ")");
  }

  void parse_escape(std::string& out) {
    const std::size_t esc = pos_;
    if (esc + 1 >= s_.size()) fail(esc + 1, "unterminated string");
    const char e = s_[esc + 1];
    pos_ = esc + 2;
    switch (e) {
      case '"': out += '"'; return;
      case '\\': out += '\\'; return;
      case '/': out += '/'; return;
      case 'b': out += '\b'; return;
      case 'f': out += '\f'; return;
      case 'n': out += '\n'; return;
      case 'r': out += '\r'; return;
      case 't': out += '\t'; return;
      case 'u': break;
      default:
        if (static_cast<unsigned char>(e) > 0x20 && static_cast<unsigned char>(e) < 0x7F) {
          fail(esc, std::string("invalid escape '\\") + e + "'");
        }
        fail(esc,
             "invalid escape: '\\' followed by byte " + hex_byte(static_cast<unsigned char>(e)));
    }
    std::uint32_t cp = parse_hex4(esc);
    pos_ = esc + 6;
    // §7: characters outside the BMP are written as a UTF-16 surrogate pair;
    // §8.2 allows parsers to accept lone surrogates, but they cannot be
    // encoded in UTF-8, so we refuse them.
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
      fail(esc, "lone low surrogate \\u" + hex4(cp));
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (s_.substr(pos_, 2) != "\\u") {
        fail(esc, "lone high surrogate \\u" + hex4(cp) + " (expected \\uDC00-\\uDFFF to follow)");
      }
      const std::uint32_t lo = parse_hex4(pos_);
      if (lo < 0xDC00 || lo > 0xDFFF) {
        fail(pos_, "high surrogate \\u" + hex4(cp) + " followed by \\u" + hex4(lo) +
                       ", not a low surrogate \\uDC00-\\uDFFF");
      }
      pos_ += 6;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    append_utf8(out, cp);
  }

  static std::string hex4(std::uint32_t v) {
    constexpr char digits[] = "0123456789ABCDEF";
    std::string s(4, '0');
    for (int k = 3; k >= 0; --k, v >>= 4) s[static_cast<std::size_t>(k)] = digits[v & 0xF];
    return s;
  }

  static bool digit(char c) noexcept { return c >= '0' && c <= '9'; }

  // RFC 8259 §6: number = [ minus ] int [ frac ] [ exp ]; int = zero / ( digit1-9 *DIGIT ).
  Value parse_number() {
    const std::size_t start = pos_;
    const bool negative = peek() == '-';
    if (negative) ++pos_;
    if (!digit(peek())) fail(pos_, "expected a digit after '-', found " + describe(pos_));
    const std::size_t int_start = pos_;
    if (peek() == '0') {
      ++pos_;
      if (digit(peek())) fail(int_start, "leading zeros are not allowed");
    } else {
      while (digit(peek())) ++pos_;
    }
    const std::size_t int_end = pos_;
    bool integral = true;
    std::size_t frac_start = pos_, frac_end = pos_;
    if (peek() == '.') {
      integral = false;
      ++pos_;
      if (!digit(peek())) fail(pos_, "expected a digit after '.', found " + describe(pos_));
      frac_start = pos_;
      while (digit(peek())) ++pos_;
      frac_end = pos_;
    }
    std::int64_t exponent = 0;  // saturated: only its sign and rough size matter
    if (peek() == 'e' || peek() == 'E') {
      integral = false;
      ++pos_;
      bool exp_negative = false;
      if (peek() == '+' || peek() == '-') {
        exp_negative = peek() == '-';
        ++pos_;
      }
      if (!digit(peek())) fail(pos_, "expected a digit in the exponent, found " + describe(pos_));
      while (digit(peek())) {
        if (exponent < 1'000'000'000) exponent = exponent * 10 + (s_[pos_] - '0');
        ++pos_;
      }
      if (exp_negative) exponent = -exponent;
    }
    const char* first = s_.data() + start;
    const char* last = s_.data() + pos_;

    if (integral) {
      // §6 notes that integers beyond 2^53 lose precision in many parsers;
      // OCI's 64-bit fields (memory limits, seccomp argument values) need all
      // 64 bits, so integers are kept exactly when int64 or uint64 holds them.
      if (negative) {
        if (int_end - int_start == 1 && s_[int_start] == '0') return Value(-0.0);
        std::int64_t i = 0;
        const auto r = std::from_chars(first, last, i);
        if (r.ec == std::errc() && r.ptr == last) return Value(i);
      } else {
        std::uint64_t u = 0;
        const auto r = std::from_chars(first, last, u);
        if (r.ec == std::errc() && r.ptr == last) return Value(u);
      }
      // Out of 64-bit range: falls through to a double, like any other number.
    }
    double d = 0;
    const auto r = std::from_chars(first, last, d);
    if (r.ec == std::errc() && r.ptr == last) return Value(d);
    if (r.ec != std::errc::result_out_of_range || r.ptr != last) {
      fail(start, "invalid number");  // not reached: the grammar was checked above
    }
    // from_chars reports both overflow and underflow as out of range. The
    // decimal order of magnitude tells them apart: values that overflow are
    // above 1e308, values that underflow below 1e-323.
    std::int64_t order;
    if (!(int_end - int_start == 1 && s_[int_start] == '0')) {
      order = static_cast<std::int64_t>(int_end - int_start) - 1 + exponent;
    } else {
      std::size_t k = frac_start;
      while (k < frac_end && s_[k] == '0') ++k;
      order = -static_cast<std::int64_t>(k - frac_start) - 1 + exponent;
    }
    if (order > 0) {
      // §6 lets implementations limit range; infinity has no JSON spelling, so
      // turning 1e400 into it would make dump() fail later and far away.
      fail(start, "number out of range for a double");
    }
    // Underflow: the correctly rounded result is zero (from_chars reports
    // out of range only below half the smallest subnormal).
    return Value(negative ? -0.0 : 0.0);
  }

  std::string_view s_;
  const ParseOptions& opts_;
  std::size_t pos_ = 0;
};

}  // namespace impl

// Parses one JSON text (RFC 8259 §2: a single value, optionally surrounded by
// whitespace). Throws ParseError.
inline Value parse(std::string_view text, const ParseOptions& options = {}) {
  return impl::Parser(text, options).parse_document();
}

// Reads and parses a file; source_name defaults to the path. Throws
// ward::Error (Step::io) when the file cannot be read, ParseError otherwise.
inline Value parse_file(const std::filesystem::path& path, ParseOptions options = {}) {
  if (options.source_name == ParseOptions{}.source_name) options.source_name = path.string();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) ward::detail::throw_errno(Step::io, path.string(), "open");
  std::string text;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw Error(Step::io, err, path.string(), "read");
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return parse(text, options);
}

// ---------------------------------------------------------------------------
// Serializer
// ---------------------------------------------------------------------------

struct DumpOptions {
  // 0: compact, one line, no spaces. N > 0: one member or element per line,
  // indented by N spaces per level, "key": value.
  int indent = 0;
};

namespace impl {

// RFC 8259 §7: '"', '\\' and U+0000..U+001F must be escaped; the short forms
// are used where they exist. Everything else, including '/' and non-ASCII,
// is copied: the output is UTF-8 (§8.1). Invalid UTF-8 is refused rather
// than written, since the result would not be JSON.
inline void dump_string(std::string& out, std::string_view s) {
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      std::size_t bad = 0;
      const std::size_t n = utf8_sequence(s, i, &bad);
      if (n == 0) {
        throw Error(Step::validate, EINVAL, "json string",
                    "not valid UTF-8 at byte " + std::to_string(bad) + ", cannot be written");
      }
      out.append(s.data() + i, n);
      i += n;
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          constexpr char digits[] = "0123456789abcdef";
          out += "\\u00";
          out += digits[c >> 4];
          out += digits[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
}

inline void dump_double(std::string& out, double d) {
  // §6: "Numeric values that cannot be represented [...] (such as Infinity
  // and NaN) are not permitted."
  if (!std::isfinite(d)) {
    throw Error(
        Step::validate, EINVAL, "json number",
        std::isnan(d) ? "NaN cannot be written as JSON" : "infinity cannot be written as JSON");
  }
  char buf[32];
  // Shortest representation that reads back as the same double.
  const auto r = std::to_chars(buf, buf + sizeof buf, d);
  const std::string_view text(buf, static_cast<std::size_t>(r.ptr - buf));
  out += text;
  // "100" or "-0" would read back as an integer: keep doubles doubles.
  if (text.find_first_of(".e") == std::string_view::npos) out += ".0";
}

inline void newline(std::string& out, int indent, std::size_t depth) {
  if (indent <= 0) return;
  out += '\n';
  out.append(depth * static_cast<std::size_t>(indent), ' ');
}

inline void dump_value(std::string& out, const Value& v, int indent, std::size_t depth) {
  v.visit([&](const auto& x) {
    using T = std::decay_t<decltype(x)>;
    if constexpr (std::is_same_v<T, std::nullptr_t>) {
      out += "null";
    } else if constexpr (std::is_same_v<T, bool>) {
      out += x ? "true" : "false";
    } else if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, std::uint64_t>) {
      char buf[24];
      const auto r = std::to_chars(buf, buf + sizeof buf, x);
      out.append(buf, r.ptr);
    } else if constexpr (std::is_same_v<T, double>) {
      dump_double(out, x);
    } else if constexpr (std::is_same_v<T, std::string>) {
      dump_string(out, x);
    } else if constexpr (std::is_same_v<T, Array>) {
      out += '[';
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (i) out += ',';
        newline(out, indent, depth + 1);
        dump_value(out, x[i], indent, depth + 1);
      }
      if (!x.empty()) newline(out, indent, depth);
      out += ']';
    } else {
      out += '{';
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (i) out += ',';
        newline(out, indent, depth + 1);
        dump_string(out, x[i].first);
        out += indent > 0 ? ": " : ":";
        dump_value(out, x[i].second, indent, depth + 1);
      }
      if (!x.empty()) newline(out, indent, depth);
      out += '}';
    }
  });
}

inline std::string Parser::quote(const std::string& key) {
  std::string out;
  dump_string(out, key);  // the key was parsed, so it is valid UTF-8
  return out;
}

}  // namespace impl

// Serializes `v` as JSON text (no trailing newline). Throws ward::Error
// (Step::validate) for NaN, infinity, or a string that is not UTF-8.
inline std::string dump(const Value& v, const DumpOptions& options = {}) {
  std::string out;
  impl::dump_value(out, v, options.indent, 0);
  return out;
}

// ---------------------------------------------------------------------------
// Typed access with errors that name the JSON path, for mapping documents
// (OCI config.json, seccomp profiles) onto C++ structures:
//
//   Reader root(doc, "config.json");
//   Reader mem = root["linux"]["resources"]["memory"];     // missing -> absent
//   if (auto limit = mem.optional_uint64("limit")) ...    // wrong type -> FieldError
//   // ward: validate config.json: Invalid argument (EINVAL): linux.resources.memory.limit:
//   expected an integer
//
// Paths are written as in jq: members as ".name" (or ["na.me"] when the
// name is not an identifier), elements as "[3]"; the top level is "".
// Following the Go encoding/json semantics that runc and the OCI spec's
// schema use, a member whose value is null counts as absent in optional_*()
// and has().
// ---------------------------------------------------------------------------

// `path` extended by member `key`.
inline std::string path_join(std::string_view path, std::string_view key) {
  bool identifier = !key.empty();
  for (const char c : key) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '$')) {
      identifier = false;
      break;
    }
  }
  std::string out(path);
  if (identifier) {
    if (!out.empty()) out += '.';
    out += key;
  } else {
    out += '[';
    std::string quoted;
    try {
      impl::dump_string(quoted, key);
    } catch (const Error&) {
      quoted = "\"<invalid UTF-8>\"";
    }
    out += quoted;
    out += ']';
  }
  return out;
}

// `path` extended by array index `i`.
inline std::string path_index(std::string_view path, std::size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

// A view of a value inside a document, with its path and the document's
// source name. Cheap to copy; the Value must outlive it. An absent Reader
// (a missing member) reads as null.
class Reader {
 public:
  explicit Reader(const Value& v, std::string source = "json", std::string path = {})
      : v_(&v), source_(std::move(source)), path_(std::move(path)) {}
  // A Reader points into its Value: a temporary would dangle.
  Reader(Value&&, std::string = {}, std::string = {}) = delete;

  const Value& value() const noexcept { return v_ ? *v_ : null_value(); }
  const std::string& path() const noexcept { return path_; }
  const std::string& source() const noexcept { return source_; }
  // Present and not null.
  bool present() const noexcept { return v_ != nullptr && !v_->is_null(); }
  explicit operator bool() const noexcept { return present(); }

  [[noreturn]] void fail(std::string reason) const {
    throw FieldError(source_, path_, std::move(reason));
  }

  // Member `key` of this object (absent if missing); fails unless this is an
  // object or absent/null.
  Reader operator[](std::string_view key) const {
    Reader r(Absent{}, source_, path_join(path_, key));
    if (!present()) return r;
    if (!v_->is_object()) fail("expected an object");
    r.v_ = v_->find(key);
    return r;
  }
  // Like operator[], but a missing (or null) member is an error.
  Reader required(std::string_view key) const {
    Reader r = (*this)[key];
    if (!present()) fail(v_ ? "expected an object" : "required field is missing");
    if (!r.present()) r.fail("required field is missing");
    return r;
  }
  bool has(std::string_view key) const { return (*this)[key].present(); }

  // Typed values: "expected <what>" when the value has another type (or is
  // absent), a range error for integers that do not fit.
  bool boolean() const {
    if (!present() || !v_->is_bool()) fail("expected a boolean");
    return v_->as_bool();
  }
  const std::string& string() const {
    if (!present() || !v_->is_string()) fail("expected a string");
    return v_->as_string();
  }
  double number() const {
    if (!present() || !v_->is_number()) fail("expected a number");
    return v_->as_double();
  }
  std::uint64_t uint64() const { return integer<std::uint64_t>(); }
  std::int64_t int64() const { return integer<std::int64_t>(); }
  // Any integer type, range-checked: integer<std::uint32_t>() for a uid.
  template <std::integral T>
  requires(!std::same_as<T, bool>) T integer()
  const {
    return static_cast<T>(integer_in(std::numeric_limits<T>::min(), std::numeric_limits<T>::max()));
  }
  // An integer within [lo, hi]: integer<std::int64_t>(0, 1000).
  template <std::integral T>
  requires(!std::same_as<T, bool>) T integer(T lo, T hi)
  const { return static_cast<T>(integer_in(lo, hi)); }

  // Arrays and objects. elements() / members() give Readers with paths.
  const Array& array() const {
    if (!present() || !v_->is_array()) fail("expected an array");
    return v_->as_array();
  }
  const Object& object() const {
    if (!present() || !v_->is_object()) fail("expected an object");
    return v_->as_object();
  }
  std::vector<Reader> elements() const {
    const Array& a = array();
    std::vector<Reader> out;
    out.reserve(a.size());
    for (std::size_t i = 0; i < a.size(); ++i)
      out.emplace_back(a[i], source_, path_index(path_, i));
    return out;
  }
  std::vector<std::pair<std::string_view, Reader>> members() const {
    const Object& o = object();
    std::vector<std::pair<std::string_view, Reader>> out;
    out.reserve(o.size());
    for (const auto& [k, v] : o) out.emplace_back(k, Reader(v, source_, path_join(path_, k)));
    return out;
  }
  // Every element of an array of strings.
  std::vector<std::string> strings() const {
    std::vector<std::string> out;
    for (const Reader& e : elements()) out.push_back(e.string());
    return out;
  }

  // Optional members: std::nullopt when missing or null, FieldError when
  // present with the wrong type.
  std::optional<bool> optional_bool(std::string_view key) const {
    Reader r = (*this)[key];
    return r.present() ? std::optional(r.boolean()) : std::nullopt;
  }
  std::optional<std::string> optional_string(std::string_view key) const {
    Reader r = (*this)[key];
    return r.present() ? std::optional(r.string()) : std::nullopt;
  }
  std::optional<std::uint64_t> optional_uint64(std::string_view key) const {
    Reader r = (*this)[key];
    return r.present() ? std::optional(r.uint64()) : std::nullopt;
  }
  std::optional<std::int64_t> optional_int64(std::string_view key) const {
    Reader r = (*this)[key];
    return r.present() ? std::optional(r.int64()) : std::nullopt;
  }
  template <std::integral T>
  std::optional<T> optional_integer(std::string_view key) const {
    Reader r = (*this)[key];
    return r.present() ? std::optional(r.integer<T>()) : std::nullopt;
  }

 private:
  struct Absent {};
  Reader(Absent, std::string source, std::string path)
      : v_(nullptr), source_(std::move(source)), path_(std::move(path)) {}

  static const Value& null_value() noexcept {
    static const Value null;
    return null;
  }

  // Returns the value as int64 or uint64 bits; the caller's T is in range.
  template <std::integral T>
  std::uint64_t integer_in(T lo, T hi) const {
    if (!present() || !v_->is_int()) fail("expected an integer");
    bool ok;
    std::uint64_t bits;
    if (v_->fits_int64()) {
      const std::int64_t i = v_->as_int64();
      bits = static_cast<std::uint64_t>(i);
      if constexpr (std::is_signed_v<T>) {
        ok = i >= static_cast<std::int64_t>(lo) && i <= static_cast<std::int64_t>(hi);
      } else {
        ok = i >= 0 && static_cast<std::uint64_t>(i) >= static_cast<std::uint64_t>(lo) &&
             static_cast<std::uint64_t>(i) <= static_cast<std::uint64_t>(hi);
      }
    } else {
      bits = v_->as_uint64();  // above INT64_MAX
      ok = std::is_unsigned_v<T> && bits >= static_cast<std::uint64_t>(lo) &&
           bits <= static_cast<std::uint64_t>(hi);
    }
    if (!ok) {
      fail("expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi) +
           ", got " + dump(*v_));
    }
    return bits;
  }

  const Value* v_;
  std::string source_;
  std::string path_;
};

// Free-function shorthands for one member of `obj`, whose own path is `path`
// ("" for the top level); errors name "<path>.<key>". The get_*() forms
// require the member, the find_*() forms return std::nullopt when it is
// missing or null. `source` is the document's name in the error's object().
//   get_uint64(memory, "limit", "linux.resources.memory")
//   -> FieldError "linux.resources.memory.limit: expected an integer"
inline std::uint64_t get_uint64(const Value& obj, std::string_view key, std::string_view path = {},
                                std::string source = "json") {
  return Reader(obj, std::move(source), std::string(path)).required(key).uint64();
}
inline std::int64_t get_int64(const Value& obj, std::string_view key, std::string_view path = {},
                              std::string source = "json") {
  return Reader(obj, std::move(source), std::string(path)).required(key).int64();
}
inline bool get_bool(const Value& obj, std::string_view key, std::string_view path = {},
                     std::string source = "json") {
  return Reader(obj, std::move(source), std::string(path)).required(key).boolean();
}
inline const std::string& get_string(const Value& obj, std::string_view key,
                                     std::string_view path = {}, std::string source = "json") {
  return Reader(obj, std::move(source), std::string(path)).required(key).string();
}
inline const Value& get_object(const Value& obj, std::string_view key, std::string_view path = {},
                               std::string source = "json") {
  Reader r = Reader(obj, std::move(source), std::string(path)).required(key);
  r.object();
  return r.value();
}
inline const Value& get_array(const Value& obj, std::string_view key, std::string_view path = {},
                              std::string source = "json") {
  Reader r = Reader(obj, std::move(source), std::string(path)).required(key);
  r.array();
  return r.value();
}
inline std::optional<std::uint64_t> find_uint64(const Value& obj, std::string_view key,
                                                std::string_view path = {},
                                                std::string source = "json") {
  return Reader(obj, std::move(source), std::string(path)).optional_uint64(key);
}
inline std::optional<std::int64_t> find_int64(const Value& obj, std::string_view key,
                                              std::string_view path = {},
                                              std::string source = "json") {
  return Reader(obj, std::move(source), std::string(path)).optional_int64(key);
}
inline std::optional<bool> find_bool(const Value& obj, std::string_view key,
                                     std::string_view path = {}, std::string source = "json") {
  return Reader(obj, std::move(source), std::string(path)).optional_bool(key);
}
inline std::optional<std::string> find_string(const Value& obj, std::string_view key,
                                              std::string_view path = {},
                                              std::string source = "json") {
  return Reader(obj, std::move(source), std::string(path)).optional_string(key);
}

}  // namespace ward::json
