// Split plans (ARCHITECTURE.md practice 7): an input cut whole, byte by byte, in two at every
// index, and in ~50 random ways (fixed seed). No gtest here, so fuzzers and drivers can use it too;
// split_feed.hpp adds the gtest expectation.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace taube::smtp::testing {

using Pieces = std::vector<std::string_view>;

// One way of cutting an input: the sorted offsets where a piece ends.
struct SplitPlan {
  std::string name;
  std::vector<std::size_t> cuts;
};

// Cuts `input` at the given sorted offsets (each in 1..size-1). No cuts: the whole input.
inline Pieces cut(std::string_view input, const std::vector<std::size_t>& cuts) {
  Pieces out;
  std::size_t prev = 0;
  for (const std::size_t c : cuts) {
    out.push_back(input.substr(prev, c - prev));
    prev = c;
  }
  out.push_back(input.substr(prev));
  return out;
}

// Every plan for an input of `n` octets, the whole input first. The random plans use a fixed seed
// so a failure reproduces; each picks between 1 and min(n-1, 64) distinct cut points.
inline std::vector<SplitPlan> split_plans(std::size_t n, std::size_t random_count = 50,
                                          std::uint32_t seed = 0x7a0be) {
  std::vector<SplitPlan> plans;
  plans.push_back({"whole", {}});
  if (n < 2) return plans;
  SplitPlan bytes{"byte-by-byte", {}};
  for (std::size_t i = 1; i < n; ++i) bytes.cuts.push_back(i);
  plans.push_back(std::move(bytes));
  for (std::size_t i = 1; i < n; ++i) plans.push_back({"at " + std::to_string(i), {i}});
  std::mt19937 rng(seed);
  const std::size_t max_cuts = std::min<std::size_t>(n - 1, 64);
  std::uniform_int_distribution<std::size_t> count_dist(1, max_cuts);
  std::uniform_int_distribution<std::size_t> pos_dist(1, n - 1);
  for (std::size_t r = 0; r < random_count; ++r) {
    std::set<std::size_t> cuts;
    const std::size_t k = count_dist(rng);
    while (cuts.size() < k) cuts.insert(pos_dist(rng));
    SplitPlan p{"random #" + std::to_string(r) + " {", {cuts.begin(), cuts.end()}};
    for (const std::size_t c : p.cuts) p.name += std::to_string(c) + ",";
    p.name += "}";
    plans.push_back(std::move(p));
  }
  return plans;
}

// Makes control characters visible in failure messages.
inline std::string visible(std::string_view s) {
  std::string r;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\r') {
      r += "\\r";
    } else if (c == '\n') {
      r += "\\n";
    } else if (c == '\t') {
      r += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      r += "\\x";
      r += kHex[c >> 4];
      r += kHex[c & 15];
    } else {
      r += ch;
    }
  }
  return r;
}

}  // namespace taube::smtp::testing
