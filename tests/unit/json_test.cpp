// SPDX-License-Identifier: Apache-2.0
// The strict JSON parser and serializer (include/ward/oci/json.hpp).
// Acceptance (y_), rejection (n_) and implementation-defined (i_) cases in
// the spirit of JSONTestSuite, written from RFC 8259; round trips over random
// values; error positions; the OCI fixtures in WARD_FIXTURES_DIR.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <ward/error.hpp>
#include <ward/oci/json.hpp>

#include <catch2/catch.hpp>

#include "test_util.hpp"

using namespace ward::json;

namespace {

struct Accept {
  const char* name;
  std::string text;
  std::string canonical;  // dump(parse(text))
};

struct Reject {
  const char* name;
  std::string text;
  std::string reason;  // substring of ParseError::reason()
};

std::string reason_of(std::string_view text, const ParseOptions& opts = {}) {
  try {
    (void)parse(text, opts);
  } catch (const ParseError& e) {
    return e.reason();
  }
  return "(accepted)";
}

ParseError error_of(std::string_view text, const ParseOptions& opts = {}) {
  try {
    (void)parse(text, opts);
  } catch (const ParseError& e) {
    return e;
  }
  FAIL("accepted: " << text);
  throw std::logic_error("unreachable");
}

std::string nested(std::size_t depth, char open = '[', char close = ']') {
  return std::string(depth, open) + std::string(depth, close);
}

}  // namespace

// RFC 8259 texts every conforming parser accepts, with their canonical form
// (compact, shortest numbers, minimal escapes).
TEST_CASE("json: accepts valid texts (y_)") {
  const std::vector<Accept> cases = {
      // §2 structure: any value at the top level, whitespace around tokens.
      {"y_structure_lonely_null", "null", "null"},
      {"y_structure_lonely_true", "true", "true"},
      {"y_structure_lonely_false", "false", "false"},
      {"y_structure_lonely_int", "42", "42"},
      {"y_structure_lonely_negative_real", "-0.1", "-0.1"},
      {"y_structure_lonely_string", "\"asd\"", "\"asd\""},
      {"y_structure_whitespace_array", " [] ", "[]"},
      {"y_structure_all_whitespace", " \t\r\n[ \t\r\n1 \t\r\n, \t\r\n2 \t\r\n] \t\r\n", "[1,2]"},
      {"y_structure_trailing_newline", "[\"a\"]\n", "[\"a\"]"},
      {"y_structure_true_in_array", "[true]", "[true]"},
      // §4 objects.
      {"y_object_empty", "{}", "{}"},
      {"y_object_empty_key", "{\"\":0}", "{\"\":0}"},
      {"y_object_basic", "{\"asd\":\"sdf\"}", "{\"asd\":\"sdf\"}"},
      {"y_object_simple", "{\"a\":[]}", "{\"a\":[]}"},
      {"y_object_order_kept", "{\"b\":1,\"a\":2,\"c\":3}", "{\"b\":1,\"a\":2,\"c\":3}"},
      {"y_object_same_key_different_case", "{\"a\":1,\"A\":2}", "{\"a\":1,\"A\":2}"},
      {"y_object_long_strings", "{\"x\":[{\"id\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}]}",
       "{\"x\":[{\"id\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}]}"},
      {"y_object_escaped_null_in_key", "{\"foo\\u0000bar\": 42}", "{\"foo\\u0000bar\":42}"},
      {"y_object_nested", "{\"a\":{\"b\":{\"c\":null}}}", "{\"a\":{\"b\":{\"c\":null}}}"},
      // §5 arrays.
      {"y_array_empty", "[]", "[]"},
      {"y_array_empty_string", "[\"\"]", "[\"\"]"},
      {"y_array_heterogeneous", "[null, 1, \"1\", {}]", "[null,1,\"1\",{}]"},
      {"y_array_nested_empty", "[[],[[]]]", "[[],[[]]]"},
      {"y_array_with_leading_space", " [1]", "[1]"},
      // §6 numbers.
      {"y_number_zero", "0", "0"},
      {"y_number_negative_int", "[-123]", "[-123]"},
      {"y_number_negative_one", "[-1]", "[-1]"},
      {"y_number_simple_real", "[123.456789]", "[123.456789]"},
      {"y_number_real_exponent", "[123e45]", "[1.23e+47]"},
      {"y_number_real_capital_e", "[1E22]", "[1e+22]"},
      {"y_number_real_capital_e_neg_exp", "[1E-2]", "[0.01]"},
      {"y_number_real_capital_e_pos_exp", "[1E+2]", "[100.0]"},
      {"y_number_real_fraction_exponent", "[123.456e78]", "[1.23456e+80]"},
      {"y_number_real_neg_exp", "[1e-2]", "[0.01]"},
      {"y_number_real_pos_exponent", "[1e+2]", "[100.0]"},
      {"y_number_0e1", "[0e1]", "[0.0]"},
      {"y_number_0e+1", "[0e+1]", "[0.0]"},
      {"y_number_after_space", "[ 4]", "[4]"},
      {"y_number_int_with_exp", "[20e1]", "[200.0]"},
      {"y_number_minus_zero_real", "[-0.0]", "[-0.0]"},
      {"y_number_trailing_fraction_zeros", "[1.50000]", "[1.5]"},
      {"y_number_max_double", "[1.7976931348623157e308]", "[1.7976931348623157e+308]"},
      {"y_number_min_subnormal", "[5e-324]", "[5e-324]"},
      {"y_number_int64_max", "[9223372036854775807]", "[9223372036854775807]"},
      {"y_number_int64_min", "[-9223372036854775808]", "[-9223372036854775808]"},
      {"y_number_uint64_max", "[18446744073709551615]", "[18446744073709551615]"},
      {"y_number_2_pow_63", "[9223372036854775808]", "[9223372036854775808]"},
      {"y_number_0.1_shortest", "[0.1]", "[0.1]"},
      {"y_number_long_fraction", "[0.30000000000000004]", "[0.30000000000000004]"},
      // §7 strings.
      {"y_string_simple_ascii", "\"asd \"", "\"asd \""},
      {"y_string_space", "\" \"", "\" \""},
      {"y_string_all_short_escapes", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
       "\"\\\"\\\\/\\b\\f\\n\\r\\t\""},
      {"y_string_backslash_and_u_escaped_zero", "\"\\\\u0000\"", "\"\\\\u0000\""},
      {"y_string_escaped_control_character", "\"\\u0012\"", "\"\\u0012\""},
      {"y_string_escaped_noncharacter", "\"\\uFFFF\"", "\"\xEF\xBF\xBF\""},
      {"y_string_u+2028_line_sep", "\"\xE2\x80\xA8\"", "\"\xE2\x80\xA8\""},
      {"y_string_unicode_escape_lowercase", "\"\\u00e9\"", "\"\xC3\xA9\""},
      {"y_string_unicode_escape_uppercase", "\"\\u00E9\"", "\"\xC3\xA9\""},
      {"y_string_uEscape_1_2_3_bytes", "\"\\u0061\\u0430\\u4e2d\"", "\"a\xD0\xB0\xE4\xB8\xAD\""},
      {"y_string_surrogate_pair", "\"\\uD834\\uDD1E\"", "\"\xF0\x9D\x84\x9E\""},
      {"y_string_last_surrogates_1_and_2", "\"\\uDBFF\\uDFFF\"", "\"\xF4\x8F\xBF\xBF\""},
      {"y_string_accepted_surrogate_pairs", "\"\\ud83d\\ude39\\ud83d\\udc8d\"",
       "\"\xF0\x9F\x98\xB9\xF0\x9F\x92\x8D\""},
      {"y_string_utf8_two_byte", "\"\xC2\xA2\"", "\"\xC2\xA2\""},
      {"y_string_utf8_three_byte", "\"\xE2\x82\xAC\"", "\"\xE2\x82\xAC\""},
      {"y_string_utf8_four_byte", "\"\xF0\x9D\x84\x9E\"", "\"\xF0\x9D\x84\x9E\""},
      {"y_string_utf8_max_code_point", "\"\xF4\x8F\xBF\xBF\"", "\"\xF4\x8F\xBF\xBF\""},
      {"y_string_del_raw", "\"\x7F\"", "\"\x7F\""},
      {"y_string_null_escape", "\"\\u0000\"", "\"\\u0000\""},
      {"y_string_comments_are_text", "\"a/*b*/c/*d//e\"", "\"a/*b*/c/*d//e\""},
      {"y_string_nul_in_key", "{\"\\u0000\":1}", "{\"\\u0000\":1}"},
  };
  for (const auto& c : cases) {
    INFO(c.name << ": " << c.text);
    Value v;
    REQUIRE_NOTHROW(v = parse(c.text));
    CHECK(dump(v) == c.canonical);
    CHECK(parse(dump(v)) == v);
  }
  CHECK(cases.size() >= 60);
}

// Texts RFC 8259 does not allow; each must fail with the given reason.
TEST_CASE("json: rejects invalid texts (n_)") {
  const std::vector<Reject> cases = {
      // §2: one value, nothing else.
      {"n_structure_no_data", "", "expected a JSON value, found end of input"},
      {"n_structure_whitespace_only", " \n\t ", "found end of input"},
      {"n_structure_two_values", "[] []", "after the top-level value"},
      {"n_structure_trailing_garbage", "{}x", "unexpected 'x' after the top-level value"},
      {"n_structure_array_trailing_garbage", "[1]x", "after the top-level value"},
      {"n_structure_double_array", "[][]", "after the top-level value"},
      {"n_structure_close_unopened_array", "1]", "unexpected ']'"},
      {"n_structure_null_byte_outside_string", std::string("[1]\x00", 4),
       "byte 0x00 after the top-level value"},
      {"n_structure_lone_open_bracket", "[", "found end of input"},
      {"n_structure_unclosed_array", "[1", "expected ',' or ']' after array element"},
      {"n_structure_unclosed_object", "{\"a\":1", "expected ',' or '}' after object member"},
      {"n_structure_utf8_bom", "\xEF\xBB\xBF{}", "byte order mark"},
      {"n_structure_comment_block", "[1]/* c */", "after the top-level value"},
      {"n_structure_comment_line", "// c\n[1]", "expected a JSON value, found '/'"},
      {"n_structure_single_quote", "['a']", "expected a JSON value, found '''"},
      {"n_structure_formfeed_ws", "[\f]", "byte 0x0C"},
      {"n_structure_vertical_tab_ws", "[\v1]", "byte 0x0B"},
      {"n_structure_nbsp_ws",
       "[\xC2\xA0"
       "1]",
       "byte 0xC2"},
      {"n_structure_angle_bracket", "<.>", "found '<'"},
      // §3 literals: lowercase, exact.
      {"n_incomplete_true", "[tru]", "expected 'true'"},
      {"n_incomplete_false", "[fals]", "expected 'false'"},
      {"n_incomplete_null", "[nul", "expected 'null'"},
      {"n_capitalized_True", "[True]", "found 'T'"},
      {"n_literal_NULL", "NULL", "found 'N'"},
      {"n_literal_trailing_letters", "[truex]", "expected ',' or ']'"},
      // §4 objects.
      {"n_object_trailing_comma", "{\"id\":0,}", "trailing commas are not allowed"},
      {"n_object_unquoted_key", "{a:1}", "expected a string key or '}', found 'a'"},
      {"n_object_single_quoted_key", "{'a':1}", "found '''"},
      {"n_object_missing_colon", "{\"a\" 1}", "expected ':' after object key"},
      {"n_object_double_colon", "{\"a\"::1}", "expected a JSON value, found ':'"},
      {"n_object_missing_value", "{\"a\":}", "expected a JSON value, found '}'"},
      {"n_object_comma_instead_of_colon", "{\"x\", null}", "expected ':' after object key"},
      {"n_object_missing_comma", "{\"a\":1 \"b\":2}", "expected ',' or '}' after object member"},
      {"n_object_non_string_key", "{1:1}", "expected a string key"},
      {"n_object_leading_comma", "{,\"a\":1}", "expected a string key or '}'"},
      {"n_object_double_comma", "{\"a\":1,,\"b\":2}", "expected a string key, found ','"},
      // §5 arrays.
      {"n_array_extra_comma", "[1,]", "trailing commas are not allowed"},
      {"n_array_double_comma", "[1,,2]", "expected a JSON value, found ','"},
      {"n_array_comma_only", "[,]", "found ','"},
      {"n_array_missing_separator", "[1 2]", "expected ',' or ']' after array element"},
      {"n_array_colon_instead_of_comma", "[\"\": 1]", "expected ',' or ']'"},
      {"n_array_extra_close", "[\"\"]]", "after the top-level value"},
      // §6 numbers.
      {"n_number_plus", "[+1]", "found '+'"},
      {"n_number_leading_zero", "[012]", "leading zeros are not allowed"},
      {"n_number_neg_leading_zero", "[-012]", "leading zeros are not allowed"},
      {"n_number_leading_zero_then_zero", "[00]", "leading zeros are not allowed"},
      {"n_number_dot_first", "[.5]", "found '.'"},
      {"n_number_trailing_dot", "[1.]", "expected a digit after '.'"},
      {"n_number_dot_exponent", "[1.e1]", "expected a digit after '.'"},
      {"n_number_minus_alone", "[-]", "expected a digit after '-'"},
      {"n_number_minus_space", "[- 1]", "expected a digit after '-'"},
      {"n_number_exponent_empty", "[1e]", "expected a digit in the exponent"},
      {"n_number_exponent_sign_only", "[1e+]", "expected a digit in the exponent"},
      {"n_number_hex", "[0x1]", "expected ',' or ']'"},
      {"n_number_NaN", "[NaN]", "found 'N'"},
      {"n_number_Infinity", "[Infinity]", "found 'I'"},
      {"n_number_minus_Infinity", "[-Infinity]", "expected a digit after '-'"},
      {"n_number_double_minus", "[--1]", "expected a digit after '-'"},
      {"n_number_comma_decimal", "[1,5.]", "expected a digit after '.'"},
      {"n_number_overflow_double", "[1e400]", "number out of range for a double"},
      {"n_number_overflow_negative", "[-1e400]", "number out of range for a double"},
      {"n_number_overflow_huge_exponent", "[1e99999999999999999999]", "out of range"},
      // §7 strings.
      {"n_string_unterminated", "\"abc", "unterminated string"},
      {"n_string_unterminated_after_escape", "\"\\", "unterminated string"},
      {"n_string_single_quotes", "'abc'", "found '''"},
      {"n_string_raw_newline", "[\"a\nb\"]", "control character 0x0A in string must be escaped"},
      {"n_string_raw_tab", "[\"\t\"]", "control character 0x09"},
      {"n_string_raw_nul", std::string("[\"\x00\"]", 5), "control character 0x00"},
      {"n_string_escape_x", "[\"\\x00\"]", "invalid escape '\\x'"},
      {"n_string_escape_single_quote", "[\"\\'\"]", "invalid escape '\\''"},
      {"n_string_escape_uppercase_U", "[\"\\U0041\"]", "invalid escape '\\U'"},
      {"n_string_escape_newline", "[\"\\\n\"]", "invalid escape: '\\' followed by byte 0x0A"},
      {"n_string_incomplete_u", "[\"\\u00A\"]", "expected 4 hex digits after \\u, found '\"'"},
      {"n_string_u_non_hex", "[\"\\uqqqq\"]", "expected 4 hex digits after \\u, found 'q'"},
      {"n_string_u_at_end", "\"\\u", "expected 4 hex digits after \\u, found end of input"},
      {"n_string_lone_high_surrogate", "[\"\\uD800\"]", "lone high surrogate \\uD800"},
      {"n_string_lone_low_surrogate", "[\"\\uDC00\"]", "lone low surrogate \\uDC00"},
      {"n_string_high_high", "[\"\\uD800\\uD800\"]", "not a low surrogate"},
      {"n_string_high_then_bmp", "[\"\\uD800\\u0041\"]", "not a low surrogate"},
      {"n_string_high_then_text", "[\"\\uD800abc\"]", "lone high surrogate"},
      {"n_string_high_then_short_escape", "[\"\\uD800\\n\"]", "lone high surrogate"},
      {"n_string_low_then_high", "[\"\\uDC00\\uD800\"]", "lone low surrogate"},
      // §8.1 UTF-8.
      {"n_utf8_continuation_alone", "[\"\x80\"]", "invalid UTF-8 byte 0x80"},
      {"n_utf8_overlong_C0", "[\"\xC0\xAF\"]", "invalid UTF-8 byte 0xC0"},
      {"n_utf8_overlong_C1", "[\"\xC1\xBF\"]", "invalid UTF-8 byte 0xC1"},
      {"n_utf8_overlong_E0", "[\"\xE0\x80\xAF\"]", "invalid UTF-8 byte 0x80 after 0xE0 (overlong)"},
      {"n_utf8_overlong_F0", "[\"\xF0\x80\x80\xAF\"]", "invalid UTF-8 byte 0x80"},
      {"n_utf8_surrogate_D800", "[\"\xED\xA0\x80\"]",
       "invalid UTF-8 byte 0xA0 after 0xED (UTF-16 surrogate)"},
      {"n_utf8_surrogate_DFFF", "[\"\xED\xBF\xBF\"]", "invalid UTF-8 byte 0xBF"},
      {"n_utf8_above_10FFFF", "[\"\xF4\x90\x80\x80\"]",
       "invalid UTF-8 byte 0x90 after 0xF4 (above U+10FFFF)"},
      {"n_utf8_F5", "[\"\xF5\x80\x80\x80\"]", "invalid UTF-8 byte 0xF5"},
      {"n_utf8_FF", "[\"\xFF\"]", "invalid UTF-8 byte 0xFF"},
      {"n_utf8_truncated_2", "[\"\xC3\"]", "incomplete UTF-8 sequence starting with byte 0xC3"},
      {"n_utf8_truncated_3", "[\"\xE2\x82\"]", "incomplete UTF-8 sequence"},
      {"n_utf8_truncated_4", "[\"\xF0\x9D\x84\"]", "incomplete UTF-8 sequence"},
      {"n_utf8_truncated_at_eof", "\"\xE2\x82",
       "incomplete UTF-8 sequence starting with byte 0xE2"},
      {"n_utf8_5_byte_form", "[\"\xF8\x88\x80\x80\x80\"]", "invalid UTF-8 byte 0xF8"},
      {"n_utf8_ascii_in_sequence",
       "[\"\xE2"
       "a\xAC\"]",
       "incomplete UTF-8 sequence"},
  };
  for (const auto& c : cases) {
    INFO(c.name << ": " << c.text);
    CHECK_THAT(reason_of(c.text), Catch::Contains(c.reason));
  }
  CHECK(cases.size() >= 60);
}

// Where RFC 8259 leaves the choice to the implementation, ward's choices.
TEST_CASE("json: implementation-defined cases (i_)") {
  // §6: range and precision are implementation-defined.
  SECTION("integers stay exact in 64 bits, then become doubles") {
    Value v = parse("18446744073709551615");
    CHECK(v.is_int());
    CHECK(v.as_uint64() == std::numeric_limits<std::uint64_t>::max());
    CHECK(dump(v) == "18446744073709551615");

    v = parse("-9223372036854775808");
    CHECK(v.is_int());
    CHECK(v.as_int64() == std::numeric_limits<std::int64_t>::min());

    v = parse("9223372036854775808");  // 2^63: uint64 only
    CHECK(v.is_int());
    CHECK_FALSE(v.fits_int64());
    CHECK(v.as_uint64() == 9223372036854775808ull);
    CHECK_THROWS_AS(v.as_int64(), ward::Error);

    v = parse("18446744073709551616");  // 2^64: a double
    CHECK(v.is_double());
    CHECK(v.as_double() == 18446744073709551616.0);
    CHECK(dump(v) == "18446744073709551616.0");  // to_chars: fixed wins the tie; still a double
    CHECK(parse(dump(v)) == v);

    v = parse("-9223372036854775809");  // below INT64_MIN
    CHECK(v.is_double());
    CHECK(v.as_double() == -9223372036854775808.0);

    v = parse("100000000000000000000000000000");
    CHECK(v.is_double());
  }
  SECTION("-0 is the double -0.0") {
    for (const char* t : {"-0", "-0.0", "-0e0"}) {
      Value v = parse(t);
      CHECK(v.is_double());
      CHECK(std::signbit(v.as_double()));
      CHECK(dump(v) == "-0.0");
    }
    CHECK(parse("0").is_int());
  }
  SECTION("1e400 is an error, 1e-400 is zero") {
    CHECK(reason_of("1e400") == "number out of range for a double");
    CHECK(reason_of("1.7976931348623159e308") == "number out of range for a double");
    CHECK(reason_of("123456789e301") == "number out of range for a double");
    Value v = parse("1E-400");
    CHECK(v.is_double());
    CHECK(v.as_double() == 0.0);
    CHECK_FALSE(std::signbit(v.as_double()));
    v = parse("-1e-400");
    CHECK(std::signbit(v.as_double()));
    CHECK(parse("0.000000000000000000000000001e-400").as_double() == 0.0);
    CHECK(parse("2.4e-324").as_double() == 0.0);  // below half the smallest subnormal
    CHECK(parse("2.5e-324").as_double() == 5e-324);
    CHECK(parse("1e-99999999999999999999").as_double() == 0.0);
    CHECK(parse("0e99999999999999999999").as_double() == 0.0);
  }
  SECTION("doubles are correctly rounded") {
    CHECK(parse("0.1").as_double() == 0.1);
    CHECK(parse("2.2250738585072011e-308").as_double() == 2.2250738585072011e-308);
    CHECK(parse("9007199254740993").as_int64() == 9007199254740993);  // 2^53 + 1 exact
    CHECK(parse("9007199254740993.0").as_double() == 9007199254740992.0);
    // 1 + 2^-53 exactly: halfway, ties to even (1.0); a hair above rounds up.
    CHECK(parse("1.00000000000000011102230246251565404236316680908203125").as_double() == 1.0);
    CHECK(parse("1.00000000000000011102230246251565404236316680908203126").as_double() ==
          1.0000000000000002);
  }
  SECTION("a BOM is refused") {
    const ParseError e = error_of("\xEF\xBB\xBF[]");
    CHECK(e.line() == 1);
    CHECK(e.column() == 1);
    CHECK_THAT(e.reason(), Catch::Contains("RFC 8259 §8.1"));
  }
  SECTION("lone surrogates, valid in the grammar, are refused (§8.2)") {
    CHECK_THAT(reason_of("\"\\uDFAA\""), Catch::Contains("lone low surrogate"));
    CHECK_THAT(reason_of("\"\\uDADA\""), Catch::Contains("lone high surrogate"));
  }
  SECTION("noncharacters and U+0000 are accepted") {
    CHECK(parse("\"\\uFDD0\\uFFFE\"").as_string() == "\xEF\xB7\x90\xEF\xBF\xBE");
    CHECK(parse("\"\xEF\xBF\xBF\"").as_string() == "\xEF\xBF\xBF");
    CHECK(parse("\"a\\u0000b\"").as_string() == std::string("a\0b", 3));
  }
}

TEST_CASE("json: every escape and surrogate pairs decode") {
  CHECK(parse(R"("\"\\\/\b\f\n\r\t")").as_string() == "\"\\/\b\f\n\r\t");
  CHECK(parse(R"("\u0041\u00DF\u6771\uD834\uDD1E")").as_string() ==
        "A\xC3\x9F\xE6\x9D\xB1\xF0\x9D\x84\x9E");
  CHECK(parse(R"("\ud800\udc00")").as_string() == "\xF0\x90\x80\x80");  // U+10000
  CHECK(parse(R"("\uDBFF\uDFFF")").as_string() == "\xF4\x8F\xBF\xBF");  // U+10FFFF
  CHECK(parse(R"("\u007F\u0080\u07FF\u0800\uFFFF")").as_string() ==
        "\x7F\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF");
  // Every control character: must be escaped raw, and is escaped on output.
  for (int c = 0; c < 0x20; ++c) {
    const std::string raw = std::string("\"") + static_cast<char>(c) + "\"";
    INFO("control " << c);
    CHECK_THAT(reason_of(raw), Catch::Contains("must be escaped"));
    const std::string s(1, static_cast<char>(c));
    CHECK(parse(dump(Value(s))).as_string() == s);
  }
  CHECK(dump(Value(std::string("\x01\x1F\x7F"))) == "\"\\u0001\\u001f\x7F\"");
}

TEST_CASE("json: UTF-8 validation") {
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8(
      "a\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xF0\x90\x80\x80\xF4\x8F\xBF\xBF"));
  const std::vector<std::string> bad = {
      "\x80",
      "\xBF",
      "\xC0\x80",
      "\xC1\xBF",
      "\xC2",
      "\xC2\x41",
      "\xE0\x9F\xBF",
      "\xED\xA0\x80",
      "\xED\xBF\xBF",
      "\xE1\x80",
      "\xF0\x8F\xBF\xBF",
      "\xF4\x90\x80\x80",
      "\xF5\x80\x80\x80",
      "\xF8\x80\x80\x80\x80",
      "\xFE",
      "\xFF",
      "\xF0\x90\x80",
      "\xE2\x82\xAC\x80",
  };
  for (const auto& s : bad) {
    INFO("bytes of size " << s.size());
    CHECK_FALSE(is_valid_utf8(s));
    CHECK_THAT(reason_of("\"" + s + "\""), Catch::Contains("UTF-8"));
    CHECK_THROWS_AS(dump(Value(s)), ward::Error);
  }
  // Non-ASCII outside strings is never valid.
  CHECK_THAT(reason_of("\xC3\xA9"), Catch::Contains("byte 0xC3"));
}

TEST_CASE("json: nesting depth limit") {
  CHECK_NOTHROW(parse(nested(256)));
  CHECK_NOTHROW(parse("{\"a\":" + nested(255) + "}"));
  CHECK(reason_of("{\"a\":" + nested(256) + "}") == "nesting deeper than 256");
  const ParseError e = error_of(nested(257));
  CHECK(e.reason() == "nesting deeper than 256");
  CHECK(e.column() == 257);  // at the bracket that goes too deep

  CHECK_NOTHROW(parse(nested(3), {.max_depth = 3}));
  CHECK(reason_of(nested(4), {.max_depth = 3}) == "nesting deeper than 3");
  CHECK(reason_of("[{\"a\":[{}]}]", {.max_depth = 3}) == "nesting deeper than 3");
  CHECK(reason_of("{}", {.max_depth = 0}) == "nesting deeper than 0");
  CHECK_NOTHROW(parse("1", {.max_depth = 0}));

  // Far past the limit: an error, not a stack overflow.
  CHECK(reason_of(std::string(1'000'000, '[')) == "nesting deeper than 256");
  CHECK(reason_of(std::string(1'000'000, '{')).find("expected a string key") == 0);
  std::string objects;
  for (int i = 0; i < 100'000; ++i) objects += "{\"a\":";
  CHECK(reason_of(objects) == "nesting deeper than 256");
}

TEST_CASE("json: duplicate keys") {
  const std::string text = "{\n  \"limit\": 1,\n  \"other\": 2,\n  \"limit\": 3\n}";
  SECTION("rejected by default, at the second occurrence") {
    const ParseError e = error_of(text);
    CHECK(e.reason() == "duplicate key \"limit\"");
    CHECK(e.line() == 4);
    CHECK(e.column() == 3);
    CHECK(e.object() == "json:4:3");
  }
  SECTION("the earliest repeat is reported when several keys repeat") {
    CHECK(reason_of("{\"b\":1,\"a\":1,\"a\":2,\"b\":2}") == "duplicate key \"a\"");
    CHECK(reason_of("{\"b\":1,\"a\":1,\"b\":2,\"a\":2}") == "duplicate key \"b\"");
    CHECK(reason_of("{\"a\":{\"x\":1,\"x\":1}}") == "duplicate key \"x\"");
    CHECK(reason_of("{\"\\u0061\":1,\"a\":2}") == "duplicate key \"a\"");  // after unescaping
    CHECK(reason_of("{\"k\\n\":1,\"k\\n\":2}") == "duplicate key \"k\\n\"");
  }
  SECTION("last_wins: last value, first position") {
    const Value v = parse(text, {.duplicate_keys = DuplicateKeys::last_wins});
    CHECK(dump(v) == "{\"limit\":3,\"other\":2}");
    const Value w = parse("{\"a\":1,\"b\":2,\"a\":3,\"c\":4,\"a\":5,\"b\":6}",
                          {.duplicate_keys = DuplicateKeys::last_wins});
    CHECK(dump(w) == "{\"a\":5,\"b\":6,\"c\":4}");
  }
  SECTION("many members stay fast and exact") {
    std::string big = "{";
    for (int i = 0; i < 50'000; ++i)
      big += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":" + std::to_string(i);
    CHECK(parse(big + "}").size() == 50'000);
    CHECK(reason_of(big + ",\"k49999\":0}") == "duplicate key \"k49999\"");
  }
}

TEST_CASE("json: error positions") {
  SECTION("lines and columns are 1-based") {
    const ParseError e =
        error_of("{\n  \"a\": 1,\n  \"b\": [1, 2,, 3]\n}", {.source_name = "config.json"});
    CHECK(e.line() == 3);
    CHECK(e.column() == 14);
    CHECK(e.offset() == 25);
    CHECK(e.object() == "config.json:3:14");
    CHECK(e.step() == ward::Step::validate);
    CHECK(e.code() == std::errc::invalid_argument);
    CHECK(std::string(e.what()) ==
          "ward: validate config.json:3:14: Invalid argument (EINVAL): expected a JSON value, "
          "found ','");
  }
  SECTION("missing comma between members") {
    const ParseError e = error_of("{\n\t\"a\": 1\n\t\"b\": 2\n}");
    CHECK(e.reason() == "expected ',' or '}' after object member, found '\"'");
    CHECK(e.line() == 3);
    CHECK(e.column() == 2);  // a tab is one column
  }
  SECTION("columns count code points, not bytes") {
    // "é" is two bytes, "😀" four: the bad byte is the 7th character.
    const ParseError e = error_of("[\"\xC3\xA9\xF0\x9F\x98\x80\x01\"]");
    CHECK(e.line() == 1);
    CHECK(e.column() == 5);
    CHECK(e.offset() == 8);
    const ParseError u = error_of("\n \"\xC3\xA9\xE0\x80\x80\"");
    CHECK(u.line() == 2);
    CHECK(u.column() == 5);  // the 0x80 that makes E0 overlong
    CHECK(u.reason() == "invalid UTF-8 byte 0x80 after 0xE0 (overlong)");
  }
  SECTION("CRLF line ends") {
    const ParseError e = error_of("[\r\n1,\r\n2\r\n,]");
    CHECK(e.line() == 4);
    CHECK(e.column() == 2);
  }
  SECTION("end of input") {
    const ParseError e = error_of("{\"a\":\n[1,\n");
    CHECK(e.line() == 3);
    CHECK(e.column() == 1);
    CHECK(e.reason() == "expected a JSON value, found end of input");
  }
  SECTION("escapes point at the backslash") {
    const ParseError e = error_of("\"abc\\q\"");
    CHECK(e.column() == 5);
    const ParseError s = error_of("  \"x\\uD800\\u0041\"");
    CHECK(s.column() == 11);  // the second \u
  }
}

TEST_CASE("json: dump") {
  const Value v = Value::object({
      {"ociVersion", "1.0.2"},
      {"pid", 1234},
      {"status", "running"},
      {"big", std::numeric_limits<std::uint64_t>::max()},
      {"neg", std::numeric_limits<std::int64_t>::min()},
      {"ratio", 0.5},
      {"empty", Value::array()},
      {"obj", Value::object()},
      {"list", Value::array({1, "two", nullptr, false, Value::object({{"k", "v"}})})},
  });
  CHECK(dump(v) ==
        R"({"ociVersion":"1.0.2","pid":1234,"status":"running","big":18446744073709551615,)"
        R"("neg":-9223372036854775808,"ratio":0.5,"empty":[],"obj":{},)"
        R"("list":[1,"two",null,false,{"k":"v"}]})");
  CHECK(dump(v, {.indent = 2}) == R"({
  "ociVersion": "1.0.2",
  "pid": 1234,
  "status": "running",
  "big": 18446744073709551615,
  "neg": -9223372036854775808,
  "ratio": 0.5,
  "empty": [],
  "obj": {},
  "list": [
    1,
    "two",
    null,
    false,
    {
      "k": "v"
    }
  ]
})");
  CHECK(parse(dump(v, {.indent = 4})) == v);

  CHECK(dump(Value("a\"b\\c/d\xC3\xA9\n")) == "\"a\\\"b\\\\c/d\xC3\xA9\\n\"");
  CHECK(dump(Value(1.0)) == "1.0");
  CHECK(dump(Value(1e21)) == "1e+21");
  CHECK(dump(Value(0.1 + 0.2)) == "0.30000000000000004");
  CHECK(dump(Value(5e-324)) == "5e-324");
  CHECK(dump(Value(-0.0)) == "-0.0");
  CHECK(dump(Value(9223372036854775808.0)) == "9223372036854775808.0");
  CHECK(dump(Value(std::uint64_t{5})) == "5");
  CHECK(Value(std::uint64_t{5}) == Value(5));  // one representation per integer
  CHECK(dump(Value(std::numeric_limits<double>::max())) == "1.7976931348623157e+308");
  CHECK_THROWS_AS(dump(Value(std::nan(""))), ward::Error);
  CHECK_THROWS_AS(dump(Value::array({std::numeric_limits<double>::infinity()})), ward::Error);
  CHECK_THROWS_AS(dump(Value(-std::numeric_limits<double>::infinity())), ward::Error);
  CHECK_THROWS_AS(dump(Value::object({{"\xFF", 1}})), ward::Error);
}

TEST_CASE("json: dump of parse is canonical") {
  const std::vector<std::pair<std::string, std::string>> samples = {
      {" { \"a\" : [ 1 , 2.50 , -3E2 ] , \"b\" : { } } ", R"({"a":[1,2.5,-300.0],"b":{}})"},
      {R"(["\u0041\u00e9\/\uD83D\uDE00"])", "[\"A\xC3\xA9/\xF0\x9F\x98\x80\"]"},
      {R"("\u001F\u007f")", "\"\\u001f\x7F\""},
      {"[1E0, 1e-0, 10.0e-1, 0.1e1]", "[1.0,1.0,1.0,1.0]"},
      // std::to_chars picks the shorter of fixed and scientific, fixed on a tie.
      {"[0.0000001, 1234567890123456789012, 1e23]", "[1e-07,1234567890123456774144.0,1e+23]"},
  };
  for (const auto& [in, out] : samples) {
    INFO(in);
    CHECK(dump(parse(in)) == out);
    CHECK(dump(parse(out)) == out);  // idempotent
  }
}

namespace {

// Random values over the whole domain: integers from both 64-bit ranges,
// doubles from random bit patterns, strings of random code points
// (controls, escapes, every UTF-8 length), nested arrays and objects.
class RandomValue {
 public:
  explicit RandomValue(std::uint64_t seed) : rng_(seed) {}

  Value operator()(int depth = 0) {
    const int kind = pick(depth < 5 ? 9 : 7);
    switch (kind) {
      case 0: return Value(nullptr);
      case 1: return Value(pick(2) == 1);
      case 2: return Value(static_cast<std::int64_t>(rng_()));
      case 3: return Value(static_cast<std::uint64_t>(rng_()));
      case 4: return Value(static_cast<std::int64_t>(pick(2000)) - 1000);
      case 5: return Value(random_double());
      case 6: return Value(random_string());
      case 7: {
        Value a = Value::array();
        for (int n = pick(6); n > 0; --n) a.push_back((*this)(depth + 1));
        return a;
      }
      default: {
        Value o = Value::object();
        std::set<std::string> keys;
        for (int n = pick(6); n > 0; --n) {
          std::string k = random_string();
          if (keys.insert(k).second) o.as_object().emplace_back(k, (*this)(depth + 1));
        }
        return o;
      }
    }
  }

 private:
  int pick(int n) { return static_cast<int>(rng_() % static_cast<std::uint64_t>(n)); }

  double random_double() {
    if (pick(3) == 0) return static_cast<double>(pick(1000)) / 8.0 - 50;
    for (;;) {
      const std::uint64_t bits = rng_();
      double d;
      static_assert(sizeof d == sizeof bits);
      std::memcpy(&d, &bits, sizeof d);
      if (std::isfinite(d)) return d;
    }
  }

  std::string random_string() {
    std::string s;
    for (int n = pick(12); n > 0; --n) {
      std::uint32_t cp;
      switch (pick(5)) {
        case 0: cp = static_cast<std::uint32_t>(pick(0x20)); break;
        case 1: cp = "\"\\/abc"[pick(6)]; break;
        case 2: cp = 0x20 + static_cast<std::uint32_t>(pick(0x60)); break;
        case 3: cp = 0x80 + static_cast<std::uint32_t>(pick(0xD800 - 0x80)); break;
        default: cp = 0xE000 + static_cast<std::uint32_t>(pick(0x110000 - 0xE000)); break;
      }
      ward::json::impl::append_utf8(s, cp);
    }
    return s;
  }

  std::mt19937_64 rng_;
};

}  // namespace

TEST_CASE("json: parse(dump(v)) == v for random values") {
  RandomValue gen(20240601);
  for (int i = 0; i < 3000; ++i) {
    const Value v = gen();
    const std::string compact = dump(v);
    INFO("iteration " << i << ": " << compact);
    REQUIRE(parse(compact) == v);
    REQUIRE(parse(dump(v, {.indent = 2})) == v);
    REQUIRE(dump(parse(compact)) == compact);
  }
}

TEST_CASE("json: Value accessors say what they hold") {
  const Value v = parse(R"({"s":"x","i":-1,"u":18446744073709551615,"d":1.5,"b":true,"n":null,
                            "a":[1],"o":{"k":1}})");
  CHECK(v.is_object());
  CHECK(v.size() == 8);
  CHECK(v.find("s")->as_string() == "x");
  CHECK(v.find("i")->as_int64() == -1);
  CHECK_THROWS_WITH(v.find("i")->as_uint64(), Catch::Contains("expected a non-negative integer"));
  CHECK(v.find("u")->as_uint64() == 18446744073709551615ull);
  CHECK(v.find("d")->is_double());
  CHECK_FALSE(v.find("d")->is_int());
  CHECK(v.find("d")->is_number());
  CHECK_THROWS_WITH(v.find("d")->as_int64(), Catch::Contains("expected an integer, holds number"));
  CHECK(v.find("i")->as_double() == -1.0);
  CHECK(v.find("b")->as_bool());
  CHECK(v.find("n")->is_null());
  CHECK(v.find("a")->as_array().size() == 1);
  CHECK(v.find("o")->find("k")->as_int64() == 1);
  CHECK(v.find("missing") == nullptr);
  CHECK(v.find("s")->find("x") == nullptr);
  CHECK(v.find("s")->type() == Type::string);
  CHECK_THROWS_AS(v.find("s")->as_array(), ward::Error);

  Value w;
  w.set("a", 1);
  w.set("b", 2);
  w.set("a", 3);  // replaced in place
  CHECK(dump(w) == R"({"a":3,"b":2})");
  Value arr;
  arr.push_back("x");
  CHECK(dump(arr) == R"(["x"])");
  CHECK(Value(1) != Value(1.0));
  CHECK(Value(0.0) != Value(-0.0));
  CHECK(Value::object({{"a", 1}, {"b", 2}}) != Value::object({{"b", 2}, {"a", 1}}));
}

TEST_CASE("json: Reader and get_*() name the JSON path") {
  const Value doc = parse(R"({
    "ociVersion": "1.0.2",
    "process": {"user": {"uid": 1000, "gid": -1}, "args": ["sh", 5]},
    "linux": {"resources": {"memory": {"limit": "lots", "swap": 18446744073709551615,
                                       "reservation": null}}},
    "annotations": {"org.example.key": 1}
  })");
  const Value& memory = *doc.find("linux")->find("resources")->find("memory");

  auto detail_of = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const FieldError& e) {
      CHECK(e.step() == ward::Step::validate);
      CHECK(e.code() == std::errc::invalid_argument);
      return e.detail();
    }
    return "(no error)";
  };

  CHECK(detail_of([&] { get_uint64(memory, "limit", "linux.resources.memory"); }) ==
        "linux.resources.memory.limit: expected an integer");
  CHECK(get_uint64(memory, "swap", "linux.resources.memory") == 18446744073709551615ull);
  CHECK(detail_of([&] { get_uint64(memory, "kernel", "linux.resources.memory"); }) ==
        "linux.resources.memory.kernel: required field is missing");
  CHECK(find_uint64(memory, "kernel", "linux.resources.memory") == std::nullopt);
  CHECK(find_uint64(memory, "reservation", "linux.resources.memory") == std::nullopt);  // null
  CHECK(get_string(doc, "ociVersion") == "1.0.2");
  CHECK(detail_of([&] { get_bool(doc, "ociVersion"); }) == "ociVersion: expected a boolean");

  try {
    get_uint64(memory, "limit", "linux.resources.memory", "config.json");
    FAIL("no error");
  } catch (const FieldError& e) {
    CHECK(e.path() == "linux.resources.memory.limit");
    CHECK(e.reason() == "expected an integer");
    CHECK(e.object() == "config.json");
    CHECK(std::string(e.what()) ==
          "ward: validate config.json: Invalid argument (EINVAL): linux.resources.memory.limit: "
          "expected an integer");
  }

  const Reader root(doc, "config.json");
  CHECK(root["process"]["user"]["uid"].integer<std::uint32_t>() == 1000);
  CHECK(detail_of([&] { root["process"]["user"]["gid"].integer<std::uint32_t>(); }) ==
        "process.user.gid: expected an integer from 0 to 4294967295, got -1");
  CHECK(detail_of([&] { root["process"]["args"].strings(); }) ==
        "process.args[1]: expected a string");
  CHECK(detail_of([&] { root["ociVersion"]["x"]; }) == "ociVersion: expected an object");
  CHECK(detail_of([&] { root.required("hostname"); }) == "hostname: required field is missing");
  CHECK(detail_of([&] { root["linux"]["seccomp"].required("defaultAction"); }) ==
        "linux.seccomp: required field is missing");
  CHECK_FALSE(root["linux"]["seccomp"]["defaultAction"].present());  // absent chains stay absent
  CHECK(root["linux"]["resources"]["memory"].optional_uint64("swap") == 18446744073709551615ull);
  CHECK(detail_of([&] { root["linux"]["resources"]["memory"].optional_uint64("limit"); }) ==
        "linux.resources.memory.limit: expected an integer");
  CHECK(detail_of([&] { root["process"]["args"].elements()[1].fail("not an argument"); }) ==
        "process.args[1]: not an argument");
  const auto members = root["annotations"].members();
  REQUIRE(members.size() == 1);
  CHECK(members[0].first == "org.example.key");
  CHECK(members[0].second.path() == "annotations[\"org.example.key\"]");
  CHECK(detail_of([&] { members[0].second.string(); }) ==
        "annotations[\"org.example.key\"]: expected a string");
  CHECK(detail_of([&] { Reader(doc).uint64(); }) == "(root): expected an integer");
  CHECK(root["process"]["user"]["gid"].integer<std::int64_t>(-1, 10) == -1);
  CHECK(path_join("", "a") == "a");
  CHECK(path_join("a", "b c") == "a[\"b c\"]");
  CHECK(path_index("x", 2) == "x[2]");
}

TEST_CASE("json: builder") {
  Value state = Value::object({{"ociVersion", "1.0.2"},
                               {"id", "box"},
                               {"status", "created"},
                               {"pid", 1234},
                               {"bundle", "/run/box"},
                               {"annotations", Value::object({{"a", "b"}})}});
  state.set("status", "running");
  CHECK(dump(state) ==
        R"({"ociVersion":"1.0.2","id":"box","status":"running","pid":1234,"bundle":"/run/box",)"
        R"("annotations":{"a":"b"}})");
  const std::string s = "str";
  const std::string_view sv = "sv";
  CHECK(dump(Value::array({s, sv, 1u, -1L, 2.5f, true})) == R"(["str","sv",1,-1,2.5,true])");
}

TEST_CASE("json: parse_file and the OCI fixtures") {
  namespace fs = std::filesystem;
  CHECK_THROWS_AS(parse_file("/nonexistent/config.json"), ward::Error);
  try {
    parse_file("/nonexistent/config.json");
  } catch (const ward::Error& e) {
    CHECK(e.step() == ward::Step::io);
    CHECK(e.code() == std::errc::no_such_file_or_directory);
  }

  const fs::path dir = WARD_FIXTURES_DIR;
  if (!fs::is_directory(dir)) WARD_SKIP("no fixtures directory " << dir);
  int parsed = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    INFO(entry.path());
    Value v;
    REQUIRE_NOTHROW(v = parse_file(entry.path()));
    CHECK(v.is_object());
    CHECK(parse(dump(v)) == v);
    CHECK(parse(dump(v, {.indent = 1})) == v);
    ++parsed;
  }
  CHECK(parsed >= 5);

  const Value spec = parse_file(dir / "runc-1.1.5-spec.json");
  const Reader r(spec, "runc-1.1.5-spec.json");
  CHECK(r["ociVersion"].string() == "1.0.2-dev");
  CHECK(r["process"]["user"]["uid"].integer<std::uint32_t>() == 0);
  CHECK(r["process"]["args"].strings() == std::vector<std::string>{"sh"});
  CHECK(r["root"]["path"].string() == "rootfs");
  CHECK(r["linux"]["namespaces"].elements().size() >= 5);

  const Value seccomp = parse_file(dir / "docker-default-seccomp.json");
  CHECK(get_string(seccomp, "defaultAction") == "SCMP_ACT_ERRNO");
  CHECK(Reader(seccomp)["syscalls"].elements().size() > 10);

  const Value crun = parse_file(dir / "crun-1.8.1-spec.json");
  CHECK(crun.find("ociVersion")->is_string());
  const Value features = parse_file(dir / "runc-1.1.5-features.json");
  CHECK(features.is_object());
}
