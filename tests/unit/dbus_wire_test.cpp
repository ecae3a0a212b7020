// SPDX-License-Identifier: Apache-2.0
// The D-Bus wire format (include/ward/detail/dbus_wire.hpp): round trips of
// every type a runtime sends, and malformed input a hostile or broken bus
// could send: each must be a WireError (never a crash, an out-of-bounds read
// or a huge allocation).
#include <cstring>
#include <random>
#include <string>

#include <ward/detail/dbus_wire.hpp>

#include <catch2/catch.hpp>

namespace w = ward::detail::dbus_wire;
using w::Message;
using w::MessageType;
using w::Value;

namespace {

// A message with header fields `fields` (code, value) and a body given as
// raw bytes with signature `sig`, in little-endian: for crafting bad input.
std::string craft(MessageType type, const std::string& sig, const std::string& body,
                  std::vector<std::pair<std::uint8_t, Value>> fields, std::uint32_t serial = 7) {
  std::vector<Value> f;
  for (auto& [code, v] : fields)
    f.push_back(Value::structure({Value::byte(code), Value::variant(v)}));
  if (!sig.empty())
    f.push_back(
        Value::structure({Value::byte(w::kFieldSignature), Value::variant(Value::signature(sig))}));
  std::string out;
  w::Writer wr(out);
  wr.raw<std::uint8_t>('l');
  wr.raw<std::uint8_t>(static_cast<std::uint8_t>(type));
  wr.raw<std::uint8_t>(0);
  wr.raw<std::uint8_t>(1);
  wr.raw<std::uint32_t>(static_cast<std::uint32_t>(body.size()));
  wr.raw<std::uint32_t>(serial);
  wr.value(Value::array("(yv)", std::move(f)));
  wr.pad(8);
  return out + body;
}

std::string reply_with(const std::string& sig, const std::string& body) {
  return craft(MessageType::method_return, sig, body, {{w::kFieldReplySerial, Value::uint32(1)}});
}

std::string le32(std::uint32_t v) {
  std::string s(4, '\0');
  std::memcpy(s.data(), &v, 4);
  return s;
}

std::string decode_error(const std::string& bytes) {
  try {
    (void)w::decode(bytes);
  } catch (const w::WireError& e) {
    return e.what();
  }
  return "(accepted)";
}

Message sample() {
  Message m;
  m.destination = "org.freedesktop.systemd1";
  m.path = "/org/freedesktop/systemd1";
  m.interface = "org.freedesktop.systemd1.Manager";
  m.member = "StartTransientUnit";
  std::vector<Value> props;
  auto prop = [&](const char* name, Value v) {
    props.push_back(Value::structure({Value::string(name), Value::variant(std::move(v))}));
  };
  prop("Description", Value::string("ward container x"));
  prop("Delegate", Value::boolean(true));
  prop("PIDs", Value::uint32s({1234}));
  prop("MemoryMax", Value::uint64(1ull << 30));
  prop("CPUWeight", Value::uint64(100));
  prop("AllowedCPUs", Value::bytes(std::vector<std::uint8_t>{0x0f, 0x01}));
  prop(
      "DeviceAllow",
      Value::array("(ss)", {Value::structure({Value::string("/dev/null"), Value::string("rwm")})}));
  prop("Nice", Value::int32(-5));
  prop("Big", Value::int64(-(1ll << 40)));
  prop("Names", Value::strings({"a", "b"}));
  m.body = {Value::string("ward-x.scope"), Value::string("fail"), Value::array("(sv)", props),
            Value::array("(sa(sv))", {})};
  return m;
}

}  // namespace

TEST_CASE("dbus wire: a StartTransientUnit call round-trips with every property type") {
  Message m = sample();
  std::string bytes = w::encode(m, 42);
  REQUIRE(bytes.size() % 1 == 0);
  REQUIRE(w::frame_size(bytes) == bytes.size());
  Message d = w::decode(bytes);
  CHECK(d.serial == 42);
  CHECK(d.type == MessageType::method_call);
  CHECK(d.destination == m.destination);
  CHECK(d.path == m.path);
  CHECK(d.interface == m.interface);
  CHECK(d.member == m.member);
  CHECK(d.signature == "ssa(sv)a(sa(sv))");
  REQUIRE(d.body.size() == 4);
  CHECK(d.body == m.body);
  // Every prefix is truncated: a WireError or "need more", never a crash.
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    std::string_view p(bytes.data(), n);
    if (n >= 16) CHECK_THROWS_AS(w::decode(p), w::WireError);
    if (n < 16) CHECK_FALSE(w::frame_size(p).has_value());
  }
}

TEST_CASE("dbus wire: known bytes of a Hello call") {
  Message m;
  m.destination = "org.freedesktop.DBus";
  m.path = "/org/freedesktop/DBus";
  m.interface = "org.freedesktop.DBus";
  m.member = "Hello";
  std::string b = w::encode(m, 1);
  // Fixed header: 'l', method call, no flags, version 1, empty body, serial 1.
  CHECK(b.substr(0, 12) == std::string("l\1\0\1\0\0\0\0\1\0\0\0", 12));
  // First header field at offset 16: code 1 (PATH), variant signature "o".
  CHECK(b.substr(16, 4) == std::string("\1\1o\0", 4));
  CHECK(b.size() % 8 == 0);
}

TEST_CASE("dbus wire: a big-endian message decodes") {
  // Method return, serial 5, reply serial 3, body "u" 0x01020304.
  std::string f;
  auto be32 = [](std::uint32_t v) {
    return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  };
  std::string fields;
  fields += std::string("\5\1u\0", 4) + be32(3);                  // REPLY_SERIAL, 8 bytes
  fields += std::string("\x8\1g\0\1u\0", 7) + std::string(1, 0);  // SIGNATURE "u" + pad
  std::string msg = std::string("B\2\0\1", 4) + be32(4) + be32(5) + be32(15) + fields.substr(0, 15);
  msg += std::string(1, '\0');  // pad to 8
  msg += be32(0x01020304);
  Message d = w::decode(msg);
  CHECK(d.reply_serial == 3u);
  REQUIRE(d.body.size() == 1);
  CHECK(d.body[0].as_uint32() == 0x01020304u);
}

TEST_CASE("dbus wire: signatures are validated") {
  CHECK(w::valid_signature("ssa(sv)a(sa(sv))"));
  CHECK(w::valid_signature("a{sv}"));
  CHECK(w::valid_signature(""));
  CHECK_FALSE(w::valid_signature("("));
  CHECK_FALSE(w::valid_signature("()"));
  CHECK_FALSE(w::valid_signature("{sv}"));   // dict entry outside an array
  CHECK_FALSE(w::valid_signature("a{vs}"));  // non-basic key
  CHECK_FALSE(w::valid_signature("a{sss}"));
  CHECK_FALSE(w::valid_signature("a"));
  CHECK_FALSE(w::valid_signature("z"));
  CHECK(w::valid_signature(std::string(32, 'a') + "u"));
  CHECK_FALSE(w::valid_signature(std::string(33, 'a') + "u"));
  CHECK(w::valid_signature(std::string(32, '(') + "u" + std::string(32, ')')));
  CHECK_FALSE(w::valid_signature(std::string(33, '(') + "u" + std::string(33, ')')));
  CHECK_FALSE(w::valid_signature(std::string(256, 'u')));
}

TEST_CASE("dbus wire: names and paths are validated") {
  CHECK(w::valid_object_path("/"));
  CHECK(w::valid_object_path("/org/freedesktop/systemd1/job/42"));
  CHECK_FALSE(w::valid_object_path("/a//b"));
  CHECK_FALSE(w::valid_object_path("/a/"));
  CHECK_FALSE(w::valid_object_path("a"));
  CHECK_FALSE(w::valid_object_path("/a-b"));
  CHECK(w::valid_bus_name(":1.42"));
  CHECK(w::valid_bus_name("org.freedesktop.systemd1"));
  CHECK_FALSE(w::valid_bus_name("org"));
  CHECK_FALSE(w::valid_bus_name("org..x"));
  CHECK_FALSE(w::valid_bus_name("1org.x"));
  CHECK(w::valid_member_name("StartTransientUnit"));
  CHECK_FALSE(w::valid_member_name("Start.Unit"));
  CHECK_FALSE(w::valid_member_name("9x"));
  CHECK(w::valid_utf8_no_nul("h\xc3\xa9llo"));
  CHECK_FALSE(w::valid_utf8_no_nul(std::string("a\0b", 3)));
  CHECK_FALSE(w::valid_utf8_no_nul("\xc0\x80"));          // overlong NUL
  CHECK_FALSE(w::valid_utf8_no_nul("\xed\xa0\x80"));      // surrogate
  CHECK_FALSE(w::valid_utf8_no_nul("\xf4\x90\x80\x80"));  // above U+10FFFF
  CHECK_FALSE(w::valid_utf8_no_nul("\xe2\x82"));          // truncated
}

TEST_CASE("dbus wire: a huge array length is rejected before anything is read") {
  // Attack: reply "as" whose array claims 0xfffffff0 bytes in a 24-byte body.
  std::string ok = reply_with("as", le32(8) + le32(3) + std::string("abc\0", 4) + "\0\0\0\0");
  REQUIRE(ok.size() % 1 == 0);
  std::string body_ok = le32(6) + le32(1) + std::string("x\0", 2);
  CHECK(decode_error(reply_with("as", body_ok)) == "(accepted)");
  std::string huge = le32(0xfffffff0u) + le32(1) + std::string("x\0", 2);
  CHECK_THAT(decode_error(reply_with("as", huge)), Catch::Contains("exceeds the 64 MiB maximum"));
  std::string past = le32(0x1000) + le32(1) + std::string("x\0", 2);
  CHECK_THAT(decode_error(reply_with("as", past)),
             Catch::Contains("array of 4096 bytes at offset 0 runs past the end"));
  // An array whose last element would straddle its end.
  std::string straddle = le32(5) + le32(1) + std::string("x\0", 2);
  CHECK_THAT(decode_error(reply_with("as", straddle)), Catch::Contains("past"));
}

TEST_CASE("dbus wire: huge string and message lengths are rejected") {
  std::string s = le32(0xffffffffu) + "abc";
  s.resize(8, '\0');
  CHECK_THAT(decode_error(reply_with("s", s)), Catch::Contains("runs past the end"));
  // A fixed header claiming a 2 GiB body: frame_size refuses it from the
  // first 16 bytes, before any of it is read or allocated.
  std::string m = reply_with("u", le32(1));
  std::uint32_t big = 0x7ffffff0u;
  std::memcpy(m.data() + 4, &big, 4);
  CHECK_THROWS_WITH(w::frame_size(m, std::size_t{1} << 24),
                    Catch::Contains("exceeds the limit of 16777216"));
  // The header field array length likewise.
  std::string h = reply_with("u", le32(1));
  std::uint32_t hf = 0x7fffffffu;
  std::memcpy(h.data() + 12, &hf, 4);
  CHECK_THROWS_WITH(w::frame_size(h), Catch::Contains("header field array"));
}

TEST_CASE("dbus wire: padding booleans and strings are checked") {
  // "(yu)" body: y then 3 padding bytes that must be zero.
  std::string good = std::string("\1\0\0\0", 4) + le32(2);
  CHECK(decode_error(reply_with("yu", good)) == "(accepted)");
  std::string bad = std::string("\1\0\7\0", 4) + le32(2);
  CHECK_THAT(decode_error(reply_with("yu", bad)), Catch::Contains("non-zero alignment padding"));
  CHECK_THAT(decode_error(reply_with("b", le32(2))), Catch::Contains("boolean 2"));
  CHECK_THAT(decode_error(reply_with("s", le32(1) + std::string("ab\0\0", 4))),
             Catch::Contains("not NUL-terminated"));
  CHECK_THAT(decode_error(reply_with("s", le32(2) + std::string("\xc0\x80\0\0", 4))),
             Catch::Contains("not UTF-8"));
  CHECK_THAT(decode_error(reply_with("s", le32(2) + std::string("a\0\0\0", 4))),
             Catch::Contains("not UTF-8"));
  CHECK_THAT(decode_error(reply_with("o", le32(2) + std::string("/-\0\0", 4))),
             Catch::Contains("invalid object path"));
  // Bytes past the signature's values, and a body shorter than its signature.
  CHECK_THAT(decode_error(reply_with("u", le32(1) + le32(2))),
             Catch::Contains("past its signature"));
  CHECK_THAT(decode_error(reply_with("uu", le32(1))), Catch::Contains("ends before"));
}

TEST_CASE("dbus wire: variants must hold one type and nest at most 64 deep") {
  // A variant whose signature is two types.
  std::string two = std::string("\2uu\0", 4) + le32(1) + le32(2);
  CHECK_THAT(decode_error(reply_with("v", two)), Catch::Contains("not one complete type"));
  // Variants inside variants: 63 wrap a uint32 fine, 70 are too deep (each
  // level is 3 bytes: length 1, 'v', NUL; a signature alone cannot say so).
  auto nested = [](int depth) {
    std::string b;
    for (int i = 0; i < depth - 1; ++i) b += std::string("\1v\0", 3);
    b += std::string("\1u\0", 3);
    while (b.size() % 4) b += '\0';
    return b + le32(9);
  };
  CHECK(decode_error(reply_with("v", nested(63))) == "(accepted)");
  CHECK_THAT(decode_error(reply_with("v", nested(70))), Catch::Contains("nested too deep"));
  // Nested to a depth that would exhaust the stack without the limit.
  CHECK_THAT(decode_error(reply_with("v", nested(20000))), Catch::Contains("nested too deep"));
}

TEST_CASE("dbus wire: header fields are checked") {
  // No reply serial on a method return.
  CHECK_THAT(decode_error(craft(MessageType::method_return, "", "", {})),
             Catch::Contains("without a reply serial"));
  // REPLY_SERIAL of the wrong type.
  CHECK_THAT(decode_error(craft(MessageType::method_return, "", "",
                                {{w::kFieldReplySerial, Value::string("1")}})),
             Catch::Contains("has type s, not u"));
  // A message claiming unix fds we never negotiated.
  CHECK_THAT(decode_error(craft(
                 MessageType::method_return, "", "",
                 {{w::kFieldReplySerial, Value::uint32(1)}, {w::kFieldUnixFds, Value::uint32(3)}})),
             Catch::Contains("unix fds"));
  CHECK_THAT(
      decode_error(craft(MessageType::error, "", "", {{w::kFieldReplySerial, Value::uint32(1)}})),
      Catch::Contains("without an error name"));
  CHECK_THAT(decode_error(craft(MessageType::method_return, "", "",
                                {{w::kFieldReplySerial, Value::uint32(1)},
                                 {w::kFieldReplySerial, Value::uint32(2)}})),
             Catch::Contains("repeated"));
  CHECK_THAT(decode_error(craft(MessageType::method_return, "", "",
                                {{w::kFieldReplySerial, Value::uint32(1)}}, 0)),
             Catch::Contains("serial 0"));
  // Unknown message type 9.
  std::string m = reply_with("", "");
  m[1] = 9;
  CHECK_THAT(decode_error(m), Catch::Contains("unknown message type"));
  m = reply_with("", "");
  m[0] = 'X';
  CHECK_THROWS_WITH(w::frame_size(m), Catch::Contains("endianness"));
  // A body with no SIGNATURE field.
  CHECK_THAT(decode_error(craft(MessageType::method_return, "", le32(1),
                                {{w::kFieldReplySerial, Value::uint32(1)}})),
             Catch::Contains("without a signature"));
}

TEST_CASE("dbus wire: random corruption is a WireError or a valid message") {
  std::string base = w::encode(sample(), 3);
  std::mt19937 rng(12345);
  int rejected = 0, accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string b = base;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) b[rng() % b.size()] = static_cast<char>(rng());
    try {
      auto size = w::frame_size(b);
      if (size && *size == b.size()) {
        (void)w::decode(b);
        ++accepted;
      } else {
        ++rejected;
      }
    } catch (const w::WireError&) {
      ++rejected;
    }
  }
  CHECK(rejected > 0);
  INFO("accepted " << accepted << " rejected " << rejected);
  SUCCEED();
}

TEST_CASE("dbus wire: the writer refuses what a reader must reject") {
  Message m = sample();
  m.body.push_back(Value::string(std::string("a\0b", 3)));
  CHECK_THROWS_AS(w::encode(m, 1), w::WireError);
  m = sample();
  m.body.push_back(Value::array("u", {Value::string("x")}));
  CHECK_THROWS_WITH(w::encode(m, 1), Catch::Contains("array of u holds a s"));
  m = sample();
  m.body.push_back(Value::object_path("not/a/path"));
  CHECK_THROWS_AS(w::encode(m, 1), w::WireError);
  m = sample();
  m.member = "Bad.Member";
  CHECK_THROWS_AS(w::encode(m, 1), w::WireError);
}
