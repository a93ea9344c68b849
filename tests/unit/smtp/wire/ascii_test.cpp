// Tests for src/smtp/wire/ascii.hpp: locale-free ASCII classification and case folding.
#include "smtp/wire/ascii.hpp"

#include <gtest/gtest.h>

#include <string>

// address.hpp must keep providing the helpers it used to declare (existing callers include it).
#include "smtp/wire/address.hpp"

namespace taube::smtp {
namespace {

TEST(Ascii, ClassifiesEveryOctetLikeTheRfc5234CoreRules) {
  for (int i = 0; i < 256; ++i) {
    const char c = static_cast<char>(i);
    const bool digit = i >= '0' && i <= '9';
    const bool upper = i >= 'A' && i <= 'Z';
    const bool lower = i >= 'a' && i <= 'z';
    const bool hex = digit || (i >= 'a' && i <= 'f') || (i >= 'A' && i <= 'F');
    EXPECT_EQ(is_ascii_digit(c), digit) << i;
    EXPECT_EQ(is_ascii_upper(c), upper) << i;
    EXPECT_EQ(is_ascii_lower(c), lower) << i;
    EXPECT_EQ(is_ascii_alpha(c), upper || lower) << i;
    EXPECT_EQ(is_ascii_alnum(c), upper || lower || digit) << i;
    EXPECT_EQ(is_ascii_xdigit(c), hex) << i;
    EXPECT_EQ(is_ascii_graphic(c), i >= 33 && i <= 126) << i;
    EXPECT_EQ(is_ascii_control(c), i < 32 || i == 127) << i;
    EXPECT_EQ(ascii_to_lower(c), upper ? static_cast<char>(i + 32) : c) << i;
    EXPECT_EQ(ascii_to_upper(c), lower ? static_cast<char>(i - 32) : c) << i;
  }
}

TEST(Ascii, CaseFoldingLeavesUtf8Alone) {
  EXPECT_EQ(ascii_lower("MiXeD-123"), "mixed-123");
  EXPECT_EQ(ascii_upper("MiXeD-123"), "MIXED-123");
  // "Ä" is C3 84, "ä" is C3 A4: not ASCII letters, so not folded.
  EXPECT_EQ(ascii_lower("\xC3\x84X"), "\xC3\x84x");
  EXPECT_EQ(ascii_upper("\xC3\xA4x"), "\xC3\xA4X");
  EXPECT_FALSE(ascii_iequals("\xC3\x84", "\xC3\xA4"));
}

TEST(Ascii, CaseInsensitiveComparison) {
  EXPECT_TRUE(ascii_iequals("EHLO", "ehlo"));
  EXPECT_TRUE(ascii_iequals("", ""));
  EXPECT_FALSE(ascii_iequals("EHLO", "EHL"));
  EXPECT_FALSE(ascii_iequals("[", "{"));  // 0x5B vs 0x7B differ by 0x20 but are not letters
  EXPECT_FALSE(ascii_iequals("@", "`"));
  EXPECT_TRUE(ascii_istarts_with("From:<a@b>", "FROM:"));
  EXPECT_FALSE(ascii_istarts_with("FRO", "FROM:"));
  static_assert(ascii_iequals("Size", "SIZE"));
}

TEST(Ascii, IsAsciiString) {
  EXPECT_TRUE(is_ascii(""));
  EXPECT_TRUE(is_ascii("plain \x7f"));
  EXPECT_FALSE(is_ascii("caf\xC3\xA9"));
  EXPECT_FALSE(is_ascii(std::string(1, '\x80')));
}

}  // namespace
}  // namespace taube::smtp
