// Helpers shared by the fuzz targets: a deterministic split generator and an invariant check that
// aborts (so that libFuzzer and the replay tests both report it as a crash with the input).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>

namespace taube::fuzz {

// Aborts with a message when an invariant does not hold. Not assert(): it must stay active in
// Release builds (libFuzzer runs) and in the replay tests.
#define TAUBE_FUZZ_CHECK(cond)                                                               \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: fuzz invariant violated: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)

// A small xorshift generator seeded from an input byte, so that the way the input is split into
// receive()/feed() calls is part of the test case and reproducible from it.
class SplitRng {
 public:
  explicit SplitRng(std::uint8_t seed) : s_(0x9E3779B97F4A7C15ull ^ (seed * 0x100000001B3ull)) {
    if (s_ == 0) s_ = 1;
  }
  std::uint64_t next() {
    s_ ^= s_ << 13;
    s_ ^= s_ >> 7;
    s_ ^= s_ << 17;
    return s_;
  }
  // The length of the next piece of `remaining` octets: mostly short (1..16) to exercise state
  // carried across calls, sometimes everything that is left.
  std::size_t piece(std::size_t remaining) {
    if (remaining == 0) return 0;
    const auto r = next();
    std::size_t n;
    switch (r & 3) {
      case 0:
        n = remaining;
        break;
      case 1:
        n = 1;
        break;
      default:
        n = 1 + static_cast<std::size_t>((r >> 8) % 16);
        break;
    }
    return n < remaining ? n : remaining;
  }

 private:
  std::uint64_t s_;
};

inline std::span<const char> as_chars(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

inline bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace taube::fuzz
