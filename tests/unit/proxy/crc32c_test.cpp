// Tests for src/proxy/crc32c.cpp against published CRC32c check values.
#include "proxy/crc32c.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string_view>
#include <vector>

namespace taube::proxy {
namespace {

std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

TEST(Crc32c, CheckValue) {
  // The "check" value of the CRC catalogue for CRC-32/ISCSI.
  EXPECT_EQ(crc32c(as_bytes("123456789")), 0xe3069283u);
  EXPECT_EQ(crc32c({}), 0u);
}

// RFC 3720 §B.4 test patterns (32 octets each).
TEST(Crc32c, Rfc3720Vectors) {
  std::array<std::uint8_t, 32> zeros{};
  EXPECT_EQ(crc32c(zeros), 0x8a9136aau);
  std::array<std::uint8_t, 32> ones{};
  ones.fill(0xff);
  EXPECT_EQ(crc32c(ones), 0x62a8ab43u);
  std::array<std::uint8_t, 32> up{}, down{};
  for (std::size_t i = 0; i < 32; ++i) {
    up[i] = static_cast<std::uint8_t>(i);
    down[i] = static_cast<std::uint8_t>(31 - i);
  }
  EXPECT_EQ(crc32c(up), 0x46dd794eu);
  EXPECT_EQ(crc32c(down), 0x113fdb5cu);
}

TEST(Crc32c, IncrementalEqualsOneShot) {
  const std::string_view text = "The PROXY protocol, version 2, with a CRC32C TLV";
  const auto all = crc32c(as_bytes(text));
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    std::uint32_t s = crc32c_update(kCrc32cInit, as_bytes(text.substr(0, cut)));
    s = crc32c_update(s, as_bytes(text.substr(cut)));
    EXPECT_EQ(crc32c_final(s), all) << cut;
  }
}

}  // namespace
}  // namespace taube::proxy
