// SPDX-License-Identifier: Apache-2.0
// The D-Bus wire format (D-Bus Specification, "Message Protocol"): values,
// type signatures, messages, and their marshalling in both directions.
//
// Everything that comes in is validated as the specification requires and no
// more trusting than that: lengths against what is left of the message (and
// the specification's maxima), alignment padding (must be zero), booleans (0
// or 1), strings (UTF-8, no NUL inside, NUL-terminated), object paths, names,
// signatures, and nesting (32 arrays, 32 structs, 64 containers in all,
// variants included). A malformed message is a WireError, never a read out of
// bounds, an unbounded allocation or unbounded recursion.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ward::detail::dbus_wire {

// The specification's maxima ("Valid Signatures", "Message Format").
inline constexpr std::size_t kMaxMessageSize = std::size_t{1} << 27;  // 128 MiB
inline constexpr std::size_t kMaxArrayBytes = std::size_t{1} << 26;   // 64 MiB
inline constexpr std::size_t kMaxSignature = 255;
inline constexpr int kMaxArrayDepth = 32;
inline constexpr int kMaxStructDepth = 32;
inline constexpr int kMaxTotalDepth = 64;

// A message (or value) that breaks the format. what() says what and where.
class WireError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void fail(std::string what) { throw WireError(std::move(what)); }

// ---------------------------------------------------------------------------
// Type signatures
// ---------------------------------------------------------------------------

inline bool is_basic(char c) noexcept {
  switch (c) {
    case 'y':
    case 'b':
    case 'n':
    case 'q':
    case 'i':
    case 'u':
    case 'x':
    case 't':
    case 'd':
    case 'h':
    case 's':
    case 'o':
    case 'g': return true;
    default: return false;
  }
}

inline std::size_t alignment(char c) noexcept {
  switch (c) {
    case 'n':
    case 'q': return 2;
    case 'b':
    case 'i':
    case 'u':
    case 'h':
    case 's':
    case 'o':
    case 'a': return 4;
    case 'x':
    case 't':
    case 'd':
    case '(':
    case '{': return 8;
    default: return 1;  // y g v
  }
}

// The end of the single complete type that starts at sig[pos], or npos when
// there is none (bad character, unbalanced, too deep, empty struct, dict
// entry outside an array or with a non-basic key).
inline std::size_t complete_type_end(std::string_view sig, std::size_t pos, int arrays = 0,
                                     int structs = 0, bool in_array = false) {
  if (pos >= sig.size()) return std::string_view::npos;
  char c = sig[pos];
  if (is_basic(c) || c == 'v') return pos + 1;
  if (c == 'a') {
    if (arrays + 1 > kMaxArrayDepth || arrays + structs + 1 > kMaxTotalDepth)
      return std::string_view::npos;
    return complete_type_end(sig, pos + 1, arrays + 1, structs, true);
  }
  if (c == '(') {
    if (structs + 1 > kMaxStructDepth || arrays + structs + 1 > kMaxTotalDepth)
      return std::string_view::npos;
    std::size_t p = pos + 1;
    int members = 0;
    while (p < sig.size() && sig[p] != ')') {
      p = complete_type_end(sig, p, arrays, structs + 1, false);
      if (p == std::string_view::npos) return p;
      ++members;
    }
    if (p >= sig.size() || members == 0) return std::string_view::npos;
    return p + 1;
  }
  if (c == '{') {
    if (!in_array || structs + 1 > kMaxStructDepth || arrays + structs + 1 > kMaxTotalDepth)
      return std::string_view::npos;
    if (pos + 1 >= sig.size() || !is_basic(sig[pos + 1])) return std::string_view::npos;
    std::size_t p = complete_type_end(sig, pos + 2, arrays, structs + 1, false);
    if (p == std::string_view::npos || p >= sig.size() || sig[p] != '}')
      return std::string_view::npos;
    return p + 1;
  }
  return std::string_view::npos;
}

// A valid signature: zero or more complete types, at most 255 bytes.
inline bool valid_signature(std::string_view sig) {
  if (sig.size() > kMaxSignature) return false;
  std::size_t p = 0;
  while (p < sig.size()) {
    p = complete_type_end(sig, p);
    if (p == std::string_view::npos) return false;
  }
  return true;
}

inline bool single_complete_type(std::string_view sig) {
  return sig.size() <= kMaxSignature && !sig.empty() && complete_type_end(sig, 0) == sig.size();
}

// The complete types of a signature, in order (the signature must be valid).
inline std::vector<std::string_view> split_signature(std::string_view sig) {
  std::vector<std::string_view> out;
  std::size_t p = 0;
  while (p < sig.size()) {
    std::size_t e = complete_type_end(sig, p);
    if (e == std::string_view::npos) fail("invalid signature \"" + std::string(sig) + "\"");
    out.push_back(sig.substr(p, e - p));
    p = e;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Strings and names
// ---------------------------------------------------------------------------

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
// Also refuses NUL, which D-Bus strings cannot hold.
inline bool valid_utf8_no_nul(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::size_t n = s.size(), i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c == 0) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    std::uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

// "/" or "/" followed by elements of [A-Za-z0-9_], separated by single "/".
inline bool valid_object_path(std::string_view s) noexcept {
  if (s.empty() || s[0] != '/') return false;
  if (s.size() == 1) return true;
  if (s.back() == '/') return false;
  bool prev_slash = true;
  for (std::size_t i = 1; i < s.size(); ++i) {
    char c = s[i];
    if (c == '/') {
      if (prev_slash) return false;
      prev_slash = true;
    } else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '_') {
      prev_slash = false;
    } else {
      return false;
    }
  }
  return true;
}

namespace name_detail {
inline bool name_char(char c, bool allow_dash, bool allow_digit) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
         (allow_digit && c >= '0' && c <= '9') || (allow_dash && c == '-');
}
// Dot-separated elements of name characters, at least `min_elements`, at most
// 255 bytes; `digit_first` allows an element to start with a digit.
inline bool dotted(std::string_view s, bool allow_dash, bool digit_first,
                   std::size_t min_elements) noexcept {
  if (s.empty() || s.size() > 255) return false;
  std::size_t elements = 0, start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '.') {
      if (i == start) return false;
      ++elements;
      start = i + 1;
      continue;
    }
    if (!name_char(s[i], allow_dash, i != start || digit_first)) return false;
  }
  return elements >= min_elements;
}
}  // namespace name_detail

inline bool valid_interface_name(std::string_view s) noexcept {
  return name_detail::dotted(s, false, false, 2);
}
inline bool valid_error_name(std::string_view s) noexcept { return valid_interface_name(s); }
inline bool valid_member_name(std::string_view s) noexcept {
  return !s.empty() && s.find('.') == std::string_view::npos &&
         name_detail::dotted(s, false, false, 1);
}
// A unique name (":1.42") or a well-known name ("org.freedesktop.systemd1").
inline bool valid_bus_name(std::string_view s) noexcept {
  if (!s.empty() && s[0] == ':') return name_detail::dotted(s.substr(1), true, true, 2);
  return name_detail::dotted(s, true, false, 2);
}

// ---------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------

// One D-Bus value of any type. `type` is its single complete type; the
// payload is in `number` (y b n q i u x t h, and d as its IEEE bits; signed
// types as two's complement), `text` (s o g) or `items` (array elements,
// struct / dict entry members, or for a variant the one value it holds,
// whose own type is the variant's signature).
struct Value {
  std::string type;
  std::uint64_t number = 0;
  std::string text;
  std::vector<Value> items;

  static Value byte(std::uint8_t v) { return {"y", v, {}, {}}; }
  static Value boolean(bool v) { return {"b", v ? 1u : 0u, {}, {}}; }
  static Value int32(std::int32_t v) { return {"i", static_cast<std::uint32_t>(v), {}, {}}; }
  static Value uint32(std::uint32_t v) { return {"u", v, {}, {}}; }
  static Value int64(std::int64_t v) { return {"x", static_cast<std::uint64_t>(v), {}, {}}; }
  static Value uint64(std::uint64_t v) { return {"t", v, {}, {}}; }
  static Value string(std::string v) { return {"s", 0, std::move(v), {}}; }
  static Value object_path(std::string v) { return {"o", 0, std::move(v), {}}; }
  static Value signature(std::string v) { return {"g", 0, std::move(v), {}}; }
  static Value array(std::string element_type, std::vector<Value> elements) {
    return {"a" + element_type, 0, {}, std::move(elements)};
  }
  static Value structure(std::vector<Value> members) {
    std::string t = "(";
    for (const auto& m : members) t += m.type;
    t += ')';
    return {std::move(t), 0, {}, std::move(members)};
  }
  static Value dict_entry(Value key, Value value) {
    std::string t = "{" + key.type + value.type + "}";
    return {std::move(t), 0, {}, {std::move(key), std::move(value)}};
  }
  static Value variant(Value inner) { return {"v", 0, {}, {std::move(inner)}}; }
  static Value bytes(std::span<const std::uint8_t> b) {
    std::vector<Value> v;
    v.reserve(b.size());
    for (auto x : b) v.push_back(byte(x));
    return array("y", std::move(v));
  }
  static Value strings(const std::vector<std::string>& s) {
    std::vector<Value> v;
    for (const auto& x : s) v.push_back(string(x));
    return array("s", std::move(v));
  }
  static Value uint32s(const std::vector<std::uint32_t>& s) {
    std::vector<Value> v;
    for (auto x : s) v.push_back(uint32(x));
    return array("u", std::move(v));
  }

  // Typed access; a WireError when the value has another type.
  std::uint64_t as_number(char t) const {
    if (type.size() != 1 || type[0] != t)
      fail("expected a value of type " + std::string(1, t) + ", got " + type);
    return number;
  }
  std::uint32_t as_uint32() const { return static_cast<std::uint32_t>(as_number('u')); }
  std::uint64_t as_uint64() const { return as_number('t'); }
  bool as_bool() const { return as_number('b') != 0; }
  const std::string& as_string() const {
    if (type != "s" && type != "o" && type != "g")
      fail("expected a string, object path or signature, got " + type);
    return text;
  }
  const Value& as_variant() const {
    if (type != "v" || items.size() != 1) fail("expected a variant, got " + type);
    return items[0];
  }
  bool operator==(const Value&) const = default;
};

// ---------------------------------------------------------------------------
// Marshalling (native byte order)
// ---------------------------------------------------------------------------

class Writer {
 public:
  explicit Writer(std::string& out, std::size_t base = 0) : out_(out), base_(base) {}

  void pad(std::size_t a) {
    while ((out_.size() - base_) % a) out_.push_back('\0');
  }
  template <class T>
  void raw(T v) {
    pad(sizeof(T));
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out_.append(b, sizeof(T));
  }

  // Writes `v`, checking it against its own type as strictly as a reader
  // would (so we never send what a peer must reject).
  void value(const Value& v, int depth = 0) {
    // (A dict entry is a complete type only as an array's element.)
    if (!single_complete_type(v.type) && !(v.type[0] == '{' && single_complete_type("a" + v.type)))
      fail("invalid value type \"" + v.type + "\"");
    if (depth > kMaxTotalDepth) fail("value nested deeper than " + std::to_string(kMaxTotalDepth));
    char c = v.type[0];
    auto scalar = [&] {
      if (!v.items.empty() || !v.text.empty()) fail("scalar " + v.type + " with contents");
    };
    switch (c) {
      case 'y': scalar(); return raw(static_cast<std::uint8_t>(v.number));
      case 'b':
        scalar();
        if (v.number > 1) fail("boolean " + std::to_string(v.number));
        return raw(static_cast<std::uint32_t>(v.number));
      case 'n':
      case 'q': scalar(); return raw(static_cast<std::uint16_t>(v.number));
      case 'i':
      case 'u':
      case 'h': scalar(); return raw(static_cast<std::uint32_t>(v.number));
      case 'x':
      case 't':
      case 'd': scalar(); return raw(v.number);
      case 's':
      case 'o': {
        if (!valid_utf8_no_nul(v.text)) fail("string is not UTF-8 without NUL");
        if (c == 'o' && !valid_object_path(v.text)) fail("invalid object path \"" + v.text + "\"");
        if (v.text.size() > kMaxArrayBytes) fail("string too long");
        raw(static_cast<std::uint32_t>(v.text.size()));
        out_ += v.text;
        out_.push_back('\0');
        return;
      }
      case 'g':
        if (!valid_signature(v.text)) fail("invalid signature \"" + v.text + "\"");
        raw(static_cast<std::uint8_t>(v.text.size()));
        out_ += v.text;
        out_.push_back('\0');
        return;
      case 'v': {
        if (v.items.size() != 1) fail("variant must hold exactly one value");
        const Value& in = v.items[0];
        if (!single_complete_type(in.type)) fail("variant holds invalid type \"" + in.type + "\"");
        raw(static_cast<std::uint8_t>(in.type.size()));
        out_ += in.type;
        out_.push_back('\0');
        return value(in, depth + 1);
      }
      case 'a': {
        std::string_view elem = std::string_view(v.type).substr(1);
        pad(4);
        std::size_t len_at = out_.size();
        raw(std::uint32_t{0});
        pad(alignment(elem[0]));
        std::size_t start = out_.size();
        for (const auto& e : v.items) {
          if (e.type != elem) fail("array of " + std::string(elem) + " holds a " + e.type);
          value(e, depth + 1);
        }
        std::size_t len = out_.size() - start;
        if (len > kMaxArrayBytes) fail("array of " + std::to_string(len) + " bytes");
        auto l = static_cast<std::uint32_t>(len);
        std::memcpy(out_.data() + len_at, &l, 4);
        return;
      }
      case '(':
      case '{': {
        pad(8);
        std::string t(1, c);
        for (const auto& m : v.items) t += m.type;
        t += c == '(' ? ')' : '}';
        if (t != v.type) fail("struct members " + t + " do not match type " + v.type);
        for (const auto& m : v.items) value(m, depth + 1);
        return;
      }
      default: fail("invalid value type \"" + v.type + "\"");
    }
  }

 private:
  std::string& out_;
  std::size_t base_;
};

// ---------------------------------------------------------------------------
// Unmarshalling (either byte order), every step checked
// ---------------------------------------------------------------------------

class Reader {
 public:
  // `data` starts at an 8-aligned offset of the message, so alignment is
  // counted from its start.
  Reader(std::string_view data, bool little_endian) : d_(data), le_(little_endian) {}

  std::size_t pos() const noexcept { return pos_; }
  bool at_end() const noexcept { return pos_ == d_.size(); }

  void align(std::size_t a) {
    std::size_t to = (pos_ + a - 1) / a * a;
    if (to > d_.size()) fail("alignment padding runs past the end at offset " + at());
    for (std::size_t i = pos_; i < to; ++i)
      if (d_[i] != '\0') fail("non-zero alignment padding at offset " + std::to_string(i));
    pos_ = to;
  }

  template <class T>
  T raw() {
    align(sizeof(T));
    if (d_.size() - pos_ < sizeof(T))
      fail("truncated: " + std::to_string(sizeof(T)) + "-byte value at offset " + at());
    T v;
    std::memcpy(&v, d_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    if (le_ != (std::endian::native == std::endian::little)) v = byteswap_(v);
    return v;
  }

  // One value of single complete type `type` (already validated).
  Value value(std::string_view type, int arrays = 0, int structs = 0, int variants = 0) {
    if (arrays > kMaxArrayDepth || structs > kMaxStructDepth ||
        arrays + structs + variants > kMaxTotalDepth)
      fail("containers nested too deep at offset " + at());
    Value v;
    v.type = std::string(type);
    char c = type[0];
    switch (c) {
      case 'y': v.number = raw<std::uint8_t>(); return v;
      case 'b': {
        std::size_t p = pos_;
        v.number = raw<std::uint32_t>();
        if (v.number > 1)
          fail("boolean " + std::to_string(v.number) + " at offset " + std::to_string(p));
        return v;
      }
      case 'n':
      case 'q': v.number = raw<std::uint16_t>(); return v;
      case 'i':
      case 'u':
      case 'h': v.number = raw<std::uint32_t>(); return v;
      case 'x':
      case 't':
      case 'd': v.number = raw<std::uint64_t>(); return v;
      case 's':
      case 'o': {
        std::size_t p = pos_;
        std::uint32_t len = raw<std::uint32_t>();
        if (len >= d_.size() - pos_)  // the bytes and their NUL
          fail("string of " + std::to_string(len) + " bytes at offset " + std::to_string(p) +
               " runs past the end (" + std::to_string(d_.size() - pos_) + " left)");
        v.text.assign(d_.substr(pos_, len));
        if (d_[pos_ + len] != '\0') fail("string not NUL-terminated at offset " + at());
        pos_ += len + 1;
        if (!valid_utf8_no_nul(v.text))
          fail("string at offset " + std::to_string(p) + " is not UTF-8 without NUL");
        if (c == 'o' && !valid_object_path(v.text))
          fail("invalid object path at offset " + std::to_string(p));
        return v;
      }
      case 'g': v.text = sig(); return v;
      case 'v': {
        std::size_t p = pos_;
        std::string inner = sig();
        if (!single_complete_type(inner))
          fail("variant signature \"" + inner + "\" at offset " + std::to_string(p) +
               " is not one complete type");
        v.items.push_back(value(inner, arrays, structs, variants + 1));
        return v;
      }
      case 'a': {
        std::size_t p = pos_;
        std::uint32_t len = raw<std::uint32_t>();
        if (len > kMaxArrayBytes)
          fail("array length " + std::to_string(len) + " at offset " + std::to_string(p) +
               " exceeds the 64 MiB maximum");
        std::string_view elem = type.substr(1);
        align(alignment(elem[0]));
        if (len > d_.size() - pos_)
          fail("array of " + std::to_string(len) + " bytes at offset " + std::to_string(p) +
               " runs past the end (" + std::to_string(d_.size() - pos_) + " left)");
        std::size_t end = pos_ + len;
        // Elements are read against a view that ends with the array.
        std::string_view saved = d_;
        d_ = d_.substr(0, end);
        while (pos_ < end) v.items.push_back(value(elem, arrays + 1, structs, variants));
        d_ = saved;
        return v;
      }
      case '(':
      case '{': {
        align(8);
        std::size_t p = 1;
        while (p < type.size() - 1) {
          std::size_t e = complete_type_end(type, p);
          v.items.push_back(value(type.substr(p, e - p), arrays, structs + 1, variants));
          p = e;
        }
        return v;
      }
      default: fail("invalid type code '" + std::string(1, c) + "'");
    }
  }

 private:
  std::string at() const { return std::to_string(pos_); }
  std::string sig() {
    std::size_t p = pos_;
    std::uint8_t len = raw<std::uint8_t>();
    if (static_cast<std::size_t>(len) >= d_.size() - pos_)
      fail("signature at offset " + std::to_string(p) + " runs past the end");
    std::string s(d_.substr(pos_, len));
    if (d_[pos_ + len] != '\0') fail("signature not NUL-terminated at offset " + at());
    pos_ += len + 1;
    if (!valid_signature(s)) fail("invalid signature \"" + s + "\" at offset " + std::to_string(p));
    return s;
  }
  template <class T>
  static T byteswap_(T v) {
    if constexpr (sizeof(T) == 1) {
      return v;
    } else {
      T r{};
      auto* a = reinterpret_cast<unsigned char*>(&v);
      auto* b = reinterpret_cast<unsigned char*>(&r);
      for (std::size_t i = 0; i < sizeof(T); ++i) b[i] = a[sizeof(T) - 1 - i];
      return r;
    }
  }

  std::string_view d_;
  std::size_t pos_ = 0;
  bool le_;
};

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

enum class MessageType : std::uint8_t { method_call = 1, method_return = 2, error = 3, signal = 4 };

inline constexpr std::uint8_t kNoReplyExpected = 0x1;
inline constexpr std::uint8_t kNoAutoStart = 0x2;

struct Message {
  MessageType type = MessageType::method_call;
  std::uint8_t flags = 0;
  std::uint32_t serial = 0;
  std::string path, interface, member, error_name, destination, sender, signature;
  std::optional<std::uint32_t> reply_serial;
  std::vector<Value> body;  // one value per complete type of `signature`
};

// Header field codes ("Header Fields").
enum : std::uint8_t {
  kFieldPath = 1,
  kFieldInterface = 2,
  kFieldMember = 3,
  kFieldErrorName = 4,
  kFieldReplySerial = 5,
  kFieldDestination = 6,
  kFieldSender = 7,
  kFieldSignature = 8,
  kFieldUnixFds = 9,
};

// The header fields each message type requires ("Message Types").
inline void check_required_fields(const Message& m) {
  switch (m.type) {
    case MessageType::method_call:
      if (m.path.empty() || m.member.empty()) fail("method call without path or member");
      break;
    case MessageType::signal:
      if (m.path.empty() || m.member.empty() || m.interface.empty())
        fail("signal without path, interface or member");
      break;
    case MessageType::error:
      if (m.error_name.empty()) fail("error without an error name");
      [[fallthrough]];
    case MessageType::method_return:
      if (!m.reply_serial) fail("reply without a reply serial");
      break;
  }
}

// The message `m` with serial `serial`, in native byte order. The body
// signature is computed from the body values.
inline std::string encode(const Message& m, std::uint32_t serial) {
  if (serial == 0) fail("serial 0");
  std::string body;
  std::string sigstr;
  {
    Writer w(body);
    for (const auto& v : m.body) {
      w.value(v);
      sigstr += v.type;
    }
  }
  if (!valid_signature(sigstr)) fail("body signature \"" + sigstr + "\" is too long");
  if (body.size() > kMaxMessageSize) fail("body of " + std::to_string(body.size()) + " bytes");
  std::vector<Value> fields;
  auto field = [&](std::uint8_t code, Value v) {
    fields.push_back(Value::structure({Value::byte(code), Value::variant(std::move(v))}));
  };
  if (!m.path.empty()) field(kFieldPath, Value::object_path(m.path));
  if (!m.interface.empty()) {
    if (!valid_interface_name(m.interface)) fail("invalid interface \"" + m.interface + "\"");
    field(kFieldInterface, Value::string(m.interface));
  }
  if (!m.member.empty()) {
    if (!valid_member_name(m.member)) fail("invalid member \"" + m.member + "\"");
    field(kFieldMember, Value::string(m.member));
  }
  if (!m.error_name.empty()) {
    if (!valid_error_name(m.error_name)) fail("invalid error name \"" + m.error_name + "\"");
    field(kFieldErrorName, Value::string(m.error_name));
  }
  if (m.reply_serial) field(kFieldReplySerial, Value::uint32(*m.reply_serial));
  if (!m.destination.empty()) {
    if (!valid_bus_name(m.destination)) fail("invalid destination \"" + m.destination + "\"");
    field(kFieldDestination, Value::string(m.destination));
  }
  if (!m.sender.empty()) field(kFieldSender, Value::string(m.sender));
  if (!sigstr.empty()) field(kFieldSignature, Value::signature(sigstr));
  check_required_fields(m);
  std::string out;
  Writer w(out);
  w.raw<std::uint8_t>(std::endian::native == std::endian::little ? 'l' : 'B');
  w.raw<std::uint8_t>(static_cast<std::uint8_t>(m.type));
  w.raw<std::uint8_t>(m.flags);
  w.raw<std::uint8_t>(1);
  w.raw<std::uint32_t>(static_cast<std::uint32_t>(body.size()));
  w.raw<std::uint32_t>(serial);
  w.value(Value::array("(yv)", std::move(fields)));
  w.pad(8);
  out += body;
  if (out.size() > kMaxMessageSize) fail("message of " + std::to_string(out.size()) + " bytes");
  return out;
}

// How many bytes the message at the start of `buf` has in all, from its
// first 16 bytes; nullopt when fewer than 16 are there. A WireError when the
// fixed header is invalid or the message would exceed `limit` bytes (checked
// before anything of that size is read or allocated).
inline std::optional<std::size_t> frame_size(std::string_view buf,
                                             std::size_t limit = kMaxMessageSize) {
  if (buf.size() < 16) return std::nullopt;
  char e = buf[0];
  if (e != 'l' && e != 'B') fail("bad endianness byte " + std::to_string(std::uint8_t(e)));
  if (buf[3] != 1) fail("unsupported protocol version " + std::to_string(std::uint8_t(buf[3])));
  Reader r(buf.substr(0, 16), e == 'l');
  (void)r.raw<std::uint32_t>();
  std::uint64_t body = r.raw<std::uint32_t>();
  (void)r.raw<std::uint32_t>();
  std::uint64_t fields = r.raw<std::uint32_t>();
  if (fields > kMaxArrayBytes) fail("header field array of " + std::to_string(fields) + " bytes");
  std::uint64_t total = (16 + fields + 7) / 8 * 8 + body;
  if (total > limit || total > kMaxMessageSize)
    fail("message of " + std::to_string(total) + " bytes exceeds the limit of " +
         std::to_string(std::min(limit, kMaxMessageSize)));
  return static_cast<std::size_t>(total);
}

// Parses and validates one whole message (exactly frame_size bytes).
inline Message decode(std::string_view data) {
  auto size = frame_size(data);
  if (!size) fail("truncated: " + std::to_string(data.size()) + "-byte message");
  if (*size != data.size())
    fail("message is " + std::to_string(data.size()) + " bytes, its header says " +
         std::to_string(*size));
  bool le = data[0] == 'l';
  Reader r(data, le);
  Message m;
  (void)r.raw<std::uint8_t>();
  std::uint8_t type = r.raw<std::uint8_t>();
  if (type < 1 || type > 4) fail("unknown message type " + std::to_string(type));
  m.type = static_cast<MessageType>(type);
  m.flags = r.raw<std::uint8_t>();
  (void)r.raw<std::uint8_t>();
  std::uint32_t body_len = r.raw<std::uint32_t>();
  m.serial = r.raw<std::uint32_t>();
  if (m.serial == 0) fail("serial 0");
  Value fields = r.value("a(yv)");
  r.align(8);
  if (data.size() - r.pos() != body_len) fail("body length does not match the message size");
  std::uint32_t seen = 0;
  bool have_sig = false;
  for (const auto& f : fields.items) {
    auto code = static_cast<std::uint8_t>(f.items[0].number);
    const Value& v = f.items[1].as_variant();
    if (code == 0) fail("header field code 0");
    if (code <= 31) {
      if (seen & (1u << code)) fail("header field " + std::to_string(code) + " repeated");
      seen |= 1u << code;
    }
    auto want = [&](const char* t) {
      if (v.type != t)
        fail("header field " + std::to_string(code) + " has type " + v.type + ", not " + t);
    };
    // A string-typed field: its type, its validity, where it goes.
    auto text = [&](const char* t, bool (*valid)(std::string_view), const char* what,
                    std::string& out) {
      want(t);
      if (!valid(v.text)) fail(std::string("invalid ") + what + " \"" + v.text + "\"");
      out = v.text;
    };
    switch (code) {
      case kFieldPath: text("o", valid_object_path, "path", m.path); break;
      case kFieldInterface: text("s", valid_interface_name, "interface name", m.interface); break;
      case kFieldMember: text("s", valid_member_name, "member name", m.member); break;
      case kFieldErrorName: text("s", valid_error_name, "error name", m.error_name); break;
      case kFieldReplySerial:
        want("u");
        if (v.number == 0) fail("reply serial 0");
        m.reply_serial = static_cast<std::uint32_t>(v.number);
        break;
      case kFieldDestination: text("s", valid_bus_name, "destination", m.destination); break;
      case kFieldSender: text("s", valid_bus_name, "sender", m.sender); break;
      case kFieldSignature:
        want("g");
        m.signature = v.text;
        have_sig = true;
        break;
      case kFieldUnixFds:
        want("u");
        // We never negotiate fd passing, so no message may claim any.
        if (v.number != 0) fail("message carries " + std::to_string(v.number) + " unix fds");
        break;
      default: break;  // unknown fields are ignored ("Header Fields")
    }
  }
  check_required_fields(m);
  if (!have_sig && body_len != 0) fail("body without a signature");
  Reader b(data.substr(r.pos()), le);
  for (auto t : split_signature(m.signature)) {
    if (b.at_end()) fail("body ends before its signature \"" + m.signature + "\" does");
    m.body.push_back(b.value(t));
  }
  if (!b.at_end())
    fail("body has " + std::to_string(body_len - b.pos()) + " bytes past its signature");
  return m;
}

}  // namespace ward::detail::dbus_wire
