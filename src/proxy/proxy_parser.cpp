#include "proxy/proxy_parser.hpp"

#include <algorithm>
#include <array>
#include <ostream>

#include "proxy/crc32c.hpp"

namespace taube::proxy {

namespace {

using inet::IpAddress;

// §2.1: "PROXY" and exactly one space.
constexpr std::string_view kV1Signature = "PROXY ";
// §2.2: the 12-octet v2 signature (it contains a NUL, hence the explicit length).
constexpr std::string_view kV2Signature{"\r\n\r\n\0\r\nQUIT\n", 12};

// §2.2 address block sizes.
constexpr std::size_t kInetBlock = 2 * 4 + 2 * 2;
constexpr std::size_t kInet6Block = 2 * 16 + 2 * 2;
constexpr std::size_t kUnixBlock = 2 * 108;
constexpr std::size_t kTlvHeader = 3;  // type, 16-bit length

// The longest address text a v1 field can hold (full IPv6 with a dotted quad tail) and the
// longest port. Used to refuse a partial line early.
constexpr std::size_t kV1MaxAddrText = 45;
constexpr std::size_t kV1MaxPortText = 5;

ParseResult incomplete(std::size_t need) {
  ParseResult r;
  r.status = ParseStatus::Incomplete;
  r.need = need;
  return r;
}

ParseResult invalid(std::string_view why) {
  ParseResult r;
  r.status = ParseStatus::Invalid;
  r.error = why;
  return r;
}

ParseResult complete(std::size_t size, ProxyHeader h) {
  ParseResult r;
  r.status = ParseStatus::Complete;
  r.header_size = size;
  r.header = std::move(h);
  return r;
}

// Whether `in` (any length) starts like `sig` as far as both go.
bool matches_prefix(std::string_view in, std::string_view sig) {
  const std::size_t n = std::min(in.size(), sig.size());
  return in.substr(0, n) == sig.substr(0, n);
}

// ---- Version 1 (§2.1) -------------------------------------------------------------------------

// A port: decimal 0-65535, no leading zeros.
std::optional<std::uint16_t> parse_port(std::string_view f) {
  if (f.empty() || f.size() > kV1MaxPortText) return std::nullopt;
  if (f.size() > 1 && f[0] == '0') return std::nullopt;
  unsigned v = 0;
  for (const char c : f) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

// Whether a field still being received can become valid: the octets allowed in it and its
// longest length. (A complete field is checked by parsing it.)
bool partial_field_ok(std::string_view f, std::size_t index, bool v4) {
  if (index >= 2) {
    if (f.size() > 1 && f[0] == '0') return false;
    return f.size() <= kV1MaxPortText &&
           std::all_of(f.begin(), f.end(), [](char c) { return c >= '0' && c <= '9'; });
  }
  const std::size_t max = v4 ? 15 : kV1MaxAddrText;
  return f.size() <= max && std::all_of(f.begin(), f.end(), [v4](char c) {
           const bool digit = c >= '0' && c <= '9';
           if (v4) return digit || c == '.';
           return digit || c == '.' || c == ':' || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

// The four space-separated fields after "TCP4 " / "TCP6 ": source address, destination address,
// source port, destination port, each separated by exactly one space. With `whole` the text is
// the complete rest of the line and the fields are decoded into `out`; otherwise it is what has
// arrived so far and only its viability is checked, so that a line that cannot become valid is
// refused before its CRLF. Every prefix of a valid line passes the partial check. Returns an
// error text or an empty view.
std::string_view check_tcp_fields(std::string_view text, bool v4, bool whole, ProxyHeader* out) {
  std::array<std::string_view, 4> f;
  std::size_t n = 0;
  while (true) {
    if (n == f.size()) return "v1: too many fields";
    const std::size_t sp = text.find(' ');
    f[n++] = text.substr(0, sp);
    if (sp == std::string_view::npos) break;
    text.remove_prefix(sp + 1);
  }
  if (whole && n != f.size()) return "v1: too few fields";
  for (std::size_t i = 0; i < n; ++i) {
    if (!whole && i == n - 1) {
      if (!partial_field_ok(f[i], i, v4)) return "v1: bad octet in the line";
      break;
    }
    if (f[i].empty()) return "v1: empty field (two spaces?)";
    if (i < 2) {
      const auto a = IpAddress::parse(f[i]);
      if (!a) return "v1: bad address";
      if (a->is_v4() != v4) return "v1: address family does not match TCP4/TCP6";
      if (out) (i == 0 ? out->source : out->destination) = *a;
    } else {
      const auto p = parse_port(f[i]);
      if (!p) return "v1: bad port";
      if (out) (i == 2 ? out->source_port : out->destination_port) = *p;
    }
  }
  return {};
}

// `line` is the line without its CRLF (whole) or all that has arrived without a CRLF (partial,
// a trailing CR removed). It starts with kV1Signature or a prefix of it.
std::string_view check_v1_line(std::string_view line, bool whole, ProxyHeader* out) {
  if (line.size() < kV1Signature.size()) return whole ? "v1: line too short" : "";
  const std::string_view rest = line.substr(kV1Signature.size());
  for (const std::string_view proto : {"TCP4 ", "TCP6 "}) {
    if (!matches_prefix(rest, proto)) continue;
    if (rest.size() < proto.size()) return whole ? "v1: line too short" : "";
    return check_tcp_fields(rest.substr(proto.size()), proto[3] == '4', whole, out);
  }
  // "UNKNOWN", then either the end of the line or a space and anything, which is ignored (§2.1).
  constexpr std::string_view kUnknown = "UNKNOWN";
  if (!matches_prefix(rest, kUnknown)) return "v1: protocol is not TCP4, TCP6 or UNKNOWN";
  if (rest.size() < kUnknown.size()) return whole ? "v1: line too short" : "";
  if (rest.size() > kUnknown.size() && rest[kUnknown.size()] != ' ')
    return "v1: protocol is not TCP4, TCP6 or UNKNOWN";
  return {};
}

ParseResult parse_v1(std::string_view in) {
  if (!matches_prefix(in, kV1Signature)) return invalid("not a PROXY protocol header");
  // The line ends at the first CRLF, which must lie within kV1MaxLength octets; a CR or LF on
  // its own is an error, not a line end (§2.1).
  const std::size_t window = std::min(in.size(), kV1MaxLength);
  for (std::size_t i = 0; i < window; ++i) {
    if (in[i] == '\n') return invalid("v1: LF without CR");
    if (in[i] != '\r') continue;
    if (i + 1 == in.size()) break;  // the LF may be next
    if (in[i + 1] != '\n') return invalid("v1: CR without LF");
    if (i + 2 > kV1MaxLength) break;
    ProxyHeader h;
    h.version = 1;
    h.command = ProxyCommand::Proxy;
    const auto err = check_v1_line(in.substr(0, i), true, &h);
    if (!err.empty()) return invalid(err);
    return complete(i + 2, std::move(h));
  }
  // No CRLF yet: the shortest line this can still become must fit.
  const bool ends_in_cr = !in.empty() && in.back() == '\r';
  const std::size_t shortest = in.size() + (ends_in_cr ? 1 : 2);
  if (shortest > kV1MaxLength) return invalid("v1: no CRLF within 107 octets");
  const auto err = check_v1_line(in.substr(0, in.size() - (ends_in_cr ? 1 : 0)), false, nullptr);
  if (!err.empty()) return invalid(err);
  return incomplete(in.size() + 1);
}

// ---- Version 2 (§2.2) -------------------------------------------------------------------------

std::uint8_t octet(std::string_view in, std::size_t i) {
  return static_cast<std::uint8_t>(in[i]);
}

std::uint16_t be16(std::string_view in, std::size_t i) {
  return static_cast<std::uint16_t>(octet(in, i) << 8 | octet(in, i + 1));
}

// The size of the address block of a PROXY header's family/transport octet, or nullopt when
// its layout is unknown (AF_UNSPEC or an UNSPEC transport: the block is ignored, §2.2).
std::optional<std::size_t> address_block_size(std::uint8_t fam) {
  const unsigned family = fam >> 4, transport = fam & 0xfu;
  if (family == 0 || transport == 0) return std::nullopt;
  if (family == 1) return kInetBlock;
  if (family == 2) return kInet6Block;
  return kUnixBlock;
}

template <std::size_t N>
IpAddress read_address(std::string_view in, std::size_t at) {
  std::array<std::uint8_t, N> o{};
  for (std::size_t i = 0; i < N; ++i) o[i] = octet(in, at + i);
  if constexpr (N == 4) {
    return IpAddress::from_v4(o);
  } else {
    return IpAddress::from_v6(o);
  }
}

// §2.2.3: the CRC32c of the whole header computed with the checksum's own 4 octets as zeros.
bool crc32c_matches(std::string_view header, std::size_t value_at, std::uint32_t expected) {
  const auto bytes = [&](std::size_t from, std::size_t to) {
    return std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(header.data()) + from, to - from);
  };
  static constexpr std::array<std::uint8_t, 4> kZeros{};
  std::uint32_t s = crc32c_update(kCrc32cInit, bytes(0, value_at));
  s = crc32c_update(s, kZeros);
  s = crc32c_update(s, bytes(value_at + 4, header.size()));
  return crc32c_final(s) == expected;
}

// The TLVs in header[from, header.size()): each must fit entirely (§2.2).
std::string_view read_tlvs(std::string_view header, std::size_t from, const ProxyLimits& limits,
                           std::vector<Tlv>& out) {
  bool seen_crc = false;
  std::size_t pos = from;
  while (pos < header.size()) {
    if (header.size() - pos < kTlvHeader) return "v2: truncated TLV";
    const std::size_t len = be16(header, pos + 1);
    if (header.size() - pos - kTlvHeader < len) return "v2: TLV longer than the header";
    Tlv t;
    t.type = octet(header, pos);
    t.value.assign(header.substr(pos + kTlvHeader, len));
    if (t.type == tlv_type::kCrc32c && limits.verify_crc32c) {
      if (len != 4) return "v2: CRC32C TLV is not 4 octets";
      if (seen_crc) return "v2: more than one CRC32C TLV";
      seen_crc = true;
      const std::uint32_t expected =
          static_cast<std::uint32_t>(be16(header, pos + 3)) << 16 | be16(header, pos + 5);
      if (!crc32c_matches(header, pos + kTlvHeader, expected)) return "v2: CRC32C mismatch";
    }
    out.push_back(std::move(t));
    pos += kTlvHeader + len;
  }
  return {};
}

ParseResult parse_v2(std::string_view in, const ProxyLimits& limits) {
  if (!matches_prefix(in, kV2Signature)) return invalid("not a PROXY protocol header");
  // Octet 13: version (high nibble, must be 2) and command (LOCAL 0, PROXY 1; others must be
  // refused). Octet 14 is validated only for PROXY: LOCAL ignores the whole block (§2.2).
  if (in.size() > 12) {
    const std::uint8_t vc = octet(in, 12);
    if ((vc >> 4) != 2) return invalid("v2: version is not 2");
    if ((vc & 0xfu) > 1) return invalid("v2: command is neither LOCAL nor PROXY");
  }
  const bool proxy = in.size() > 12 && (octet(in, 12) & 0xfu) == 1;
  if (proxy && in.size() > 13) {
    const std::uint8_t fam = octet(in, 13);
    if ((fam >> 4) > 3) return invalid("v2: unknown address family");
    if ((fam & 0xfu) > 2) return invalid("v2: unknown transport protocol");
  }
  if (in.size() < kV2FixedLength) return incomplete(kV2FixedLength);

  const std::size_t total = kV2FixedLength + be16(in, 14);
  if (total > limits.max_v2_header) return invalid("v2: header larger than the limit");
  const auto block = proxy ? address_block_size(octet(in, 13)) : std::nullopt;
  if (block && total - kV2FixedLength < *block)
    return invalid("v2: address block shorter than its family needs");
  if (in.size() < total) return incomplete(total);

  const std::string_view header = in.substr(0, total);
  ProxyHeader h;
  h.version = 2;
  h.command = proxy ? ProxyCommand::Proxy : ProxyCommand::Local;
  if (!block) return complete(total, std::move(h));  // LOCAL, or a block of unknown layout

  const std::uint8_t fam = octet(in, 13);
  if ((fam & 0xfu) == 1 && (fam >> 4) == 1) {  // TCP over IPv4
    h.source = read_address<4>(header, 16);
    h.destination = read_address<4>(header, 20);
    h.source_port = be16(header, 24);
    h.destination_port = be16(header, 26);
  } else if ((fam & 0xfu) == 1 && (fam >> 4) == 2) {  // TCP over IPv6
    h.source = read_address<16>(header, 16);
    h.destination = read_address<16>(header, 32);
    h.source_port = be16(header, 48);
    h.destination_port = be16(header, 50);
  }
  // DGRAM and AF_UNIX: the caller keeps the socket's addresses (§2.2: a receiver falls back to
  // UNSPEC for what it does not support), but the layout is known, so the TLVs are read.
  const auto err = read_tlvs(header, kV2FixedLength + *block, limits, h.tlvs);
  if (!err.empty()) return invalid(err);
  return complete(total, std::move(h));
}

}  // namespace

const Tlv* ProxyHeader::find_tlv(std::uint8_t type) const {
  for (const Tlv& t : tlvs)
    if (t.type == type) return &t;
  return nullptr;
}

ParseResult parse_proxy_header(std::span<const char> data, const ProxyLimits& limits) {
  const std::string_view in(data.data(), data.size());
  if (in.empty()) return incomplete(1);
  // §2.2 "identifying the protocol version": the first octet already tells them apart ('P' or
  // CR); anything else is neither, and is refused at once.
  if (in[0] == kV1Signature[0]) {
    if (!limits.accept_v1) return invalid("v1 PROXY header not accepted here");
    return parse_v1(in);
  }
  if (in[0] == kV2Signature[0]) {
    if (!limits.accept_v2) return invalid("v2 PROXY header not accepted here");
    return parse_v2(in, limits);
  }
  return invalid("not a PROXY protocol header");
}

std::string describe(const ProxyHeader& h) {
  std::string s = "v" + std::to_string(h.version);
  if (h.command == ProxyCommand::Local) return s + " LOCAL";
  s += " PROXY";
  if (!h.source || !h.destination) return s + " (no addresses)";
  const auto endpoint = [](const IpAddress& a, std::uint16_t port) {
    return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(port);
  };
  s += " " + endpoint(*h.source, h.source_port) + " -> " +
       endpoint(*h.destination, h.destination_port);
  if (!h.tlvs.empty()) s += " (" + std::to_string(h.tlvs.size()) + " TLVs)";
  return s;
}

std::string_view to_string(ParseStatus s) {
  switch (s) {
    case ParseStatus::Incomplete:
      return "Incomplete";
    case ParseStatus::Complete:
      return "Complete";
    case ParseStatus::Invalid:
      return "Invalid";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, ParseStatus s) {
  return os << to_string(s);
}

std::ostream& operator<<(std::ostream& os, const ParseResult& r) {
  os << r.status;
  switch (r.status) {
    case ParseStatus::Incomplete:
      return os << " need=" << r.need;
    case ParseStatus::Complete:
      return os << " size=" << r.header_size << " " << describe(r.header);
    case ParseStatus::Invalid:
      return os << " (" << r.error << ")";
  }
  return os;
}

}  // namespace taube::proxy
