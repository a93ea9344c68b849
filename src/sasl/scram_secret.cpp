#include "sasl/scram_secret.hpp"

#include <charconv>
#include <vector>

#include "smtp/wire/base64.hpp"

namespace taube::sasl {

bool is_valid(const ScramSecret& s) {
  return s.iterations >= kScramMinIterations && !s.salt.empty() &&
         s.stored_key.size() == kScramKeyLength && s.server_key.size() == kScramKeyLength;
}

std::string format_scram_secret(const ScramSecret& s) {
  return std::string(kScramFieldPrefix) + std::to_string(s.iterations) + "," +
         smtp::base64_encode(s.salt) + "," + smtp::base64_encode(s.stored_key) + "," +
         smtp::base64_encode(s.server_key);
}

tl::expected<ScramSecret, std::string> parse_scram_secret(std::string_view field) {
  if (field.substr(0, kScramFieldPrefix.size()) != kScramFieldPrefix)
    return tl::unexpected(std::string("not a scram-sha-256 secret"));
  field.remove_prefix(kScramFieldPrefix.size());
  std::vector<std::string_view> parts;
  while (true) {
    const auto comma = field.find(',');
    parts.push_back(field.substr(0, comma));
    if (comma == std::string_view::npos) break;
    field.remove_prefix(comma + 1);
  }
  if (parts.size() != 4) return tl::unexpected(std::string("expected 4 comma-separated values"));
  ScramSecret s;
  const std::string_view count = parts[0];
  auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), s.iterations);
  if (ec != std::errc() || end != count.data() + count.size() || s.iterations < kScramMinIterations)
    return tl::unexpected(std::string("iteration count must be a number >= 4096"));
  auto salt = smtp::base64_decode(parts[1]);
  auto stored = smtp::base64_decode(parts[2]);
  auto server = smtp::base64_decode(parts[3]);
  if (!salt || !stored || !server) return tl::unexpected(std::string("bad base64"));
  s.salt = std::move(*salt);
  s.stored_key = std::move(*stored);
  s.server_key = std::move(*server);
  if (!is_valid(s)) return tl::unexpected(std::string("bad salt or key"));
  return s;
}

}  // namespace taube::sasl
