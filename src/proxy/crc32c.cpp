#include "proxy/crc32c.hpp"

#include <array>

namespace taube::proxy {

namespace {

// The reflected Castagnoli polynomial 0x1EDC6F41.
constexpr std::uint32_t kPolynomial = 0x82f63b78u;

constexpr std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ kPolynomial : c >> 1;
    t[i] = c;
  }
  return t;
}

constexpr auto kTable = make_table();

}  // namespace

std::uint32_t crc32c_update(std::uint32_t state, std::span<const std::uint8_t> data) {
  for (const std::uint8_t b : data) state = kTable[(state ^ b) & 0xffu] ^ (state >> 8);
  return state;
}

}  // namespace taube::proxy
