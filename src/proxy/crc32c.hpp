// CRC32c (Castagnoli, the checksum of RFC 4960 Appendix B / RFC 3720 §B.4), which a PROXY v2
// header may carry in a PP2_TYPE_CRC32C TLV (proxy-protocol.txt §2.2.3).
#pragma once

#include <cstdint>
#include <span>

namespace taube::proxy {

// Incremental form: start from kCrc32cInit, feed pieces in order, finish with crc32c_final().
inline constexpr std::uint32_t kCrc32cInit = 0xffffffffu;
std::uint32_t crc32c_update(std::uint32_t state, std::span<const std::uint8_t> data);
inline std::uint32_t crc32c_final(std::uint32_t state) {
  return state ^ 0xffffffffu;
}

// The checksum of one buffer ("123456789" gives 0xe3069283).
inline std::uint32_t crc32c(std::span<const std::uint8_t> data) {
  return crc32c_final(crc32c_update(kCrc32cInit, data));
}

}  // namespace taube::proxy
