// JSON string escaping: control characters and quotes escaped, valid UTF-8 kept, every byte of an
// invalid sequence as \u00XX, so that the result is always valid JSON.
#include <gtest/gtest.h>

#include <string>

#include "text/json.hpp"

namespace taube::text {
namespace {

TEST(JsonEscape, QuotesBackslashAndControls) {
  EXPECT_EQ(json_escape("a\"b\\c"), "a\\\"b\\\\c");
  EXPECT_EQ(json_escape("\r\n\t"), "\\r\\n\\t");
  EXPECT_EQ(json_escape(std::string("\x00\x01\x1f\x7f", 4)), "\\u0000\\u0001\\u001f\\u007f");
  EXPECT_EQ(json_escape("plain <a@b> 250 2.0.0 Ok"), "plain <a@b> 250 2.0.0 Ok");
}

TEST(JsonEscape, ValidUtf8PassesThrough) {
  for (const char* s : {"j\xc3\xb6rg@b\xc3\xbc"
                        "cher.example",
                        "\xe2\x82\xac", "\xf0\x9f\x93\xa7", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf"})
    EXPECT_EQ(json_escape(s), s);
}

TEST(JsonEscape, InvalidUtf8BecomesU00PerByte) {
  EXPECT_EQ(json_escape("caf\xe9"), "caf\\u00e9");                             // Latin-1
  EXPECT_EQ(json_escape("\xc0\xaf"), "\\u00c0\\u00af");                        // overlong '/'
  EXPECT_EQ(json_escape("\xe0\x80\xaf"), "\\u00e0\\u0080\\u00af");             // overlong, 3 bytes
  EXPECT_EQ(json_escape("\xed\xa0\x80"), "\\u00ed\\u00a0\\u0080");             // a UTF-16 surrogate
  EXPECT_EQ(json_escape("\xf4\x90\x80\x80"), "\\u00f4\\u0090\\u0080\\u0080");  // > U+10FFFF
  EXPECT_EQ(json_escape("\xe2\x82"), "\\u00e2\\u0082");    // truncated at the end
  EXPECT_EQ(json_escape("\xe2\x82x"), "\\u00e2\\u0082x");  // truncated in the middle
  EXPECT_EQ(json_escape("\x80"), "\\u0080");               // a lone continuation byte
}

TEST(JsonEscape, StringHasQuotes) {
  std::string out = "x=";
  append_json_string(out, "a\"");
  EXPECT_EQ(out, "x=\"a\\\"\"");
}

// Every one- and two-byte input gives output of printable ASCII or valid UTF-8 only, with no
// raw control character and no unescaped quote.
TEST(JsonEscape, EveryShortInputIsValidJsonText) {
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      const char in[2] = {static_cast<char>(a), static_cast<char>(b)};
      const std::string out = json_escape(std::string_view(in, 2));
      for (std::size_t i = 0; i < out.size(); ++i) {
        const auto c = static_cast<unsigned char>(out[i]);
        ASSERT_GE(c, 0x20) << a << " " << b;
        ASSERT_NE(c, 0x7f);
        if (c == '"') ASSERT_TRUE(i > 0 && out[i - 1] == '\\') << a << " " << b;
      }
    }
  }
}

}  // namespace
}  // namespace taube::text
