// A deterministic sasl::ClientCrypto for the SASL tests and the fuzzer: real SHA-256, HMAC and
// PBKDF2 (a small reference implementation written from FIPS 180-4, RFC 2104 and RFC 8018, so
// that the RFC 7677 example is reproduced without OpenSSL), scripted "random" octets, and
// switches that make each primitive fail the way sasl/crypto.hpp says a real one fails (an empty
// result). tests/unit/sasl/real_crypto_test.cpp checks it against OpenSSL.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "sasl/crypto.hpp"
#include "sasl/scram_crypto.hpp"

namespace taube::test {

namespace sha256_detail {

__extension__ typedef unsigned __int128 u128;

// The largest x with x^k <= n (k = 2 or 3), by bisection: exact, unlike a floating-point root.
inline std::uint64_t iroot(u128 n, int k) {
  std::uint64_t lo = 0, hi = std::uint64_t{1} << 40;
  while (lo < hi) {
    const std::uint64_t mid = lo + (hi - lo + 1) / 2;
    u128 p = 1;
    for (int i = 0; i < k; ++i) p *= mid;
    if (p <= n)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

// FIPS 180-4 §4.2.2 / §5.3.3: the first 32 bits of the fractional parts of the cube roots of
// the first 64 primes (K) and of the square roots of the first 8 (H0), computed, not typed in.
struct Constants {
  std::array<std::uint32_t, 64> k{};
  std::array<std::uint32_t, 8> h0{};
  Constants() {
    int found = 0;
    for (std::uint64_t p = 2; found < 64; ++p) {
      bool prime = true;
      for (std::uint64_t d = 2; d * d <= p; ++d)
        if (p % d == 0) prime = false;
      if (!prime) continue;
      k[static_cast<std::size_t>(found)] =
          static_cast<std::uint32_t>(iroot(static_cast<u128>(p) << 96, 3));
      if (found < 8)
        h0[static_cast<std::size_t>(found)] =
            static_cast<std::uint32_t>(iroot(static_cast<u128>(p) << 64, 2));
      ++found;
    }
  }
};

inline const Constants& constants() {
  static const Constants c;
  return c;
}

inline std::uint32_t rotr(std::uint32_t x, int n) {
  return (x >> n) | (x << (32 - n));
}

inline void compress(std::array<std::uint32_t, 8>& h, const unsigned char* block) {
  const auto& k = constants().k;
  std::uint32_t w[64];
  for (int t = 0; t < 16; ++t)
    w[t] = (std::uint32_t{block[4 * t]} << 24) | (std::uint32_t{block[4 * t + 1]} << 16) |
           (std::uint32_t{block[4 * t + 2]} << 8) | std::uint32_t{block[4 * t + 3]};
  for (int t = 16; t < 64; ++t) {
    const std::uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
    const std::uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
    w[t] = s1 + w[t - 7] + s0 + w[t - 16];
  }
  std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
  for (int t = 0; t < 64; ++t) {
    const std::uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) +
                             k[static_cast<std::size_t>(t)] + w[t];
    const std::uint32_t t2 =
        (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    hh = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
  h[5] += f;
  h[6] += g;
  h[7] += hh;
}

}  // namespace sha256_detail

// SHA-256 (FIPS 180-4 §6.2) of `data`: 32 octets.
inline std::string reference_sha256(std::string_view data) {
  using namespace sha256_detail;
  std::array<std::uint32_t, 8> h = constants().h0;
  // §5.1.1 padding: 0x80, zeros up to 56 mod 64, the length in bits as 64-bit big-endian.
  std::string m(data);
  const std::uint64_t bits = static_cast<std::uint64_t>(data.size()) * 8;
  m += '\x80';
  while (m.size() % 64 != 56) m += '\0';
  for (int i = 7; i >= 0; --i) m += static_cast<char>((bits >> (8 * i)) & 0xff);
  for (std::size_t i = 0; i < m.size(); i += 64)
    compress(h, reinterpret_cast<const unsigned char*>(m.data() + i));
  std::string out;
  for (std::uint32_t v : h)
    for (int i = 3; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

// HMAC (RFC 2104 §2) over SHA-256, block size 64.
inline std::string reference_hmac_sha256(std::string_view key, std::string_view data) {
  std::string k = key.size() > 64 ? reference_sha256(key) : std::string(key);
  k.resize(64, '\0');
  std::string inner(64, '\0'), outer(64, '\0');
  for (std::size_t i = 0; i < 64; ++i) {
    inner[i] = static_cast<char>(k[i] ^ 0x36);
    outer[i] = static_cast<char>(k[i] ^ 0x5c);
  }
  return reference_sha256(outer + reference_sha256(inner + std::string(data)));
}

// PBKDF2 (RFC 8018 §5.2) with HMAC-SHA-256, `length` octets.
inline std::string reference_pbkdf2_sha256(std::string_view password, std::string_view salt,
                                           int iterations, std::size_t length) {
  std::string out;
  for (std::uint32_t block = 1; out.size() < length; ++block) {
    std::string s(salt);
    for (int i = 3; i >= 0; --i) s += static_cast<char>((block >> (8 * i)) & 0xff);
    std::string u = reference_hmac_sha256(password, s);
    std::string t = u;
    for (int i = 1; i < iterations; ++i) {
      u = reference_hmac_sha256(password, u);
      for (std::size_t j = 0; j < t.size(); ++j) t[j] = static_cast<char>(t[j] ^ u[j]);
    }
    out += t;
  }
  out.resize(length);
  return out;
}

class FakeSaslCrypto final : public sasl::ClientCrypto {
 public:
  std::string sha256(std::string_view data) const override {
    ++calls;
    return sha256_fails ? std::string() : reference_sha256(data);
  }
  std::string hmac_sha256(std::string_view key, std::string_view data) const override {
    ++calls;
    return hmac_fails ? std::string() : reference_hmac_sha256(key, data);
  }
  // Queued octets first, then a counter (0, 1, 2, ...), so that runs are reproducible.
  std::string random_octets(std::size_t n) override {
    ++calls;
    if (random_fails) return {};
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
      if (!queue_.empty()) {
        out += queue_.front();
        queue_.pop_front();
      } else {
        out += static_cast<char>(counter_++);
      }
    }
    return out;
  }
  std::string pbkdf2_sha256(std::string_view password, std::string_view salt,
                            int iterations) const override {
    ++calls;
    ++pbkdf2_calls;
    return pbkdf2_fails ? std::string() : reference_pbkdf2_sha256(password, salt, iterations, 32);
  }

  void queue_random(std::string_view octets) {
    queue_.insert(queue_.end(), octets.begin(), octets.end());
  }
  // Queues the octets that sasl::scram_nonce() turns into exactly `nonce`.
  void queue_nonce(std::string_view nonce) {
    for (char c : nonce) queue_.push_back(static_cast<char>(sasl::kScramNonceAlphabet.find(c)));
  }

  bool sha256_fails = false;
  bool hmac_fails = false;
  bool random_fails = false;
  bool pbkdf2_fails = false;
  mutable int calls = 0;
  mutable int pbkdf2_calls = 0;

 private:
  std::deque<char> queue_;
  unsigned char counter_ = 0;
};

}  // namespace taube::test
