// Small octet-string helpers the mechanisms share: comparison that does not leak where two
// secrets differ, and wiping of secrets before their memory is released.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace taube::sasl {

// Equal length and content. The loop does not exit early, so the time depends on the length
// only (lengths are fixed by the hash, not secret).
inline bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff = static_cast<unsigned char>(
        diff | (static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i])));
  return diff == 0;
}

// Overwrites the octets through a volatile pointer (so the stores are not optimised away as
// dead), then clears the string.
inline void wipe(std::string& s) {
  volatile char* p = s.data();
  for (std::size_t i = 0; i < s.size(); ++i) p[i] = '\0';
  s.clear();
}

// a XOR b for strings of equal length (callers check the lengths first).
inline std::string xor_octets(std::string_view a, std::string_view b) {
  std::string out(a.size(), '\0');
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i)
    out[i] = static_cast<char>(static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i]));
  return out;
}

}  // namespace taube::sasl
