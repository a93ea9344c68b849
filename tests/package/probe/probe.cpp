// Uses taube::proxy (and through it taube::inet) and taube::sasl from the installed package: a
// PROXY v1 header is parsed and its source checked against a CIDR network, and a PLAIN exchange
// yields its credentials. Exit status 0 only if all of it behaves.
#include <cstdio>
#include <string>
#include <string_view>
#include <variant>

#include "inet/cidr.hpp"
#include "proxy/proxy_parser.hpp"
#include "sasl/server_mechanism.hpp"

namespace {

// PLAIN needs no cryptography; the factory takes a Crypto for SCRAM.
struct NoCrypto : taube::sasl::Crypto {
  std::string sha256(std::string_view) const override { return {}; }
  std::string hmac_sha256(std::string_view, std::string_view) const override { return {}; }
  std::string random_octets(std::size_t n) override { return std::string(n, 'x'); }
};

bool proxy_ok() {
  constexpr std::string_view header = "PROXY TCP4 192.0.2.1 198.51.100.1 56324 25\r\nEHLO x\r\n";
  const auto r = taube::proxy::parse_proxy_header(header);
  const auto net = taube::inet::Cidr::parse("192.0.2.0/24");
  return r.status == taube::proxy::ParseStatus::Complete && r.header_size == header.size() - 8 &&
         r.header.source && net && net->contains(*r.header.source) && r.header.source_port == 56324;
}

bool sasl_ok() {
  NoCrypto crypto;
  auto mech = taube::sasl::make_server_mechanism("plain", crypto);
  if (!mech) return false;
  using namespace std::string_view_literals;
  const auto step = mech->start("\0alice\0secret"sv);
  const auto* verify = std::get_if<taube::sasl::VerifyPassword>(&step);
  if (!verify || verify->username != "alice" || verify->password != "secret") return false;
  const auto done = mech->credentials_checked(true);
  return std::holds_alternative<taube::sasl::Success>(done) && mech->username() == "alice";
}

}  // namespace

int main() {
  const bool proxy = proxy_ok();
  const bool sasl = sasl_ok();
  std::printf("proxy: %s\nsasl: %s\n", proxy ? "ok" : "FAILED", sasl ? "ok" : "FAILED");
  return proxy && sasl ? 0 : 1;
}
