#include "dns/answers.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace taube::dns {

std::string_view to_string(Rcode r) {
  switch (r) {
    case Rcode::Ok:
      return "ok";
    case Rcode::NxDomain:
      return "NXDOMAIN";
    case Rcode::ServFail:
      return "SERVFAIL";
  }
  return "?";
}

std::string normalize_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string out(name);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::optional<MxRecord> parse_mx_rdata(std::span<const std::uint8_t> rdata) {
  if (rdata.size() < 3) return std::nullopt;
  MxRecord r;
  r.preference = static_cast<std::uint16_t>(rdata[0] << 8 | rdata[1]);
  std::size_t i = 2;
  std::size_t wire_len = 0;
  std::string name;
  for (;;) {
    if (i >= rdata.size()) return std::nullopt;
    const std::uint8_t len = rdata[i++];
    ++wire_len;
    if (len == 0) break;
    // 0xC0: a compression pointer; 0x40/0x80: the obsolete extended label types (RFC 6891 §5).
    if (len > 63) return std::nullopt;
    if (i + len > rdata.size()) return std::nullopt;
    wire_len += len;
    if (wire_len > 255) return std::nullopt;  // RFC 1035 §3.1
    if (!name.empty()) name += '.';
    name.append(reinterpret_cast<const char*>(rdata.data() + i), len);
    i += len;
  }
  if (i != rdata.size()) return std::nullopt;
  r.exchange = normalize_name(name);
  return r;
}

std::optional<inet::IpAddress> parse_address_rdata(std::span<const std::uint8_t> rdata, bool ipv6) {
  if (ipv6) {
    if (rdata.size() != 16) return std::nullopt;
    std::array<std::uint8_t, 16> o{};
    std::memcpy(o.data(), rdata.data(), 16);
    return inet::IpAddress::from_v6(o);
  }
  if (rdata.size() != 4) return std::nullopt;
  std::array<std::uint8_t, 4> o{};
  std::memcpy(o.data(), rdata.data(), 4);
  return inet::IpAddress::from_v4(o);
}

std::optional<ServerAddress> parse_server(std::string_view spec) {
  ServerAddress out;
  std::string_view host = spec;
  std::string_view port;
  if (!spec.empty() && spec.front() == '[') {
    const auto close = spec.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = spec.substr(1, close - 1);
    const std::string_view rest = spec.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return std::nullopt;
    port = rest.substr(1);
    if (port.empty()) return std::nullopt;
  } else if (std::count(spec.begin(), spec.end(), ':') == 1) {
    // One colon: IPv4 with a port (an IPv6 address has at least two).
    const auto colon = spec.find(':');
    host = spec.substr(0, colon);
    port = spec.substr(colon + 1);
    if (port.empty()) return std::nullopt;
  }
  auto addr = inet::IpAddress::parse(host);
  if (!addr) return std::nullopt;
  out.address = *addr;
  if (!port.empty()) {
    unsigned p = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || p > 65535) return std::nullopt;
      p = p * 10 + static_cast<unsigned>(c - '0');
    }
    if (p == 0 || p > 65535) return std::nullopt;
    out.port = static_cast<std::uint16_t>(p);
  }
  return out;
}

}  // namespace taube::dns
