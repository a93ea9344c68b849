// Fuzz target: the PROXY protocol v1/v2 header parser (src/proxy/proxy_parser.hpp). Input byte
// 0 picks options: bit 0 a small v2 limit (64 octets), bit 1 no CRC32c check, bit 2 v1 refused,
// bit 3 v2 refused; bits 4-7 choose which prefixes are checked. The rest is the connection's
// first octets.
//
// Invariants: the parser is a pure function of the prefix it is given, never claims more than
// it was given, a Complete header re-parses identically from exactly its own octets, and the
// result is monotonic in the input: every proper prefix of a Complete header is Incomplete
// with need <= its size, every prefix of an Incomplete input is Incomplete, and an Invalid
// input stays Invalid however much follows (the caller peeks at growing prefixes and must see
// one consistent story).
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz_support.hpp"
#include "proxy/proxy_parser.hpp"

using namespace taube::proxy;

namespace {

void check_result(const ParseResult& r, std::size_t size, const ProxyLimits& limits) {
  switch (r.status) {
    case ParseStatus::Complete:
      TAUBE_FUZZ_CHECK(r.header_size > 0 && r.header_size <= size);
      TAUBE_FUZZ_CHECK(r.need == 0 && r.error.empty());
      TAUBE_FUZZ_CHECK(r.header.version == 1 || r.header.version == 2);
      if (r.header.version == 1) {
        TAUBE_FUZZ_CHECK(limits.accept_v1 && r.header_size <= kV1MaxLength);
        TAUBE_FUZZ_CHECK(r.header.command == ProxyCommand::Proxy && r.header.tlvs.empty());
      } else {
        TAUBE_FUZZ_CHECK(limits.accept_v2 && r.header_size <= limits.max_v2_header);
        TAUBE_FUZZ_CHECK(r.header_size >= kV2FixedLength);
      }
      TAUBE_FUZZ_CHECK(r.header.source.has_value() == r.header.destination.has_value());
      if (r.header.source) {
        TAUBE_FUZZ_CHECK(r.header.command == ProxyCommand::Proxy);
        TAUBE_FUZZ_CHECK(r.header.source->family() == r.header.destination->family());
      } else {
        TAUBE_FUZZ_CHECK(r.header.source_port == 0 && r.header.destination_port == 0);
      }
      if (r.header.command == ProxyCommand::Local) TAUBE_FUZZ_CHECK(r.header.tlvs.empty());
      break;
    case ParseStatus::Incomplete:
      TAUBE_FUZZ_CHECK(r.need > size && r.header_size == 0 && r.error.empty());
      TAUBE_FUZZ_CHECK(r.need <= limits.max_header_size());
      break;
    case ParseStatus::Invalid:
      TAUBE_FUZZ_CHECK(!r.error.empty() && r.header_size == 0 && r.need == 0);
      for (const char c : r.error) TAUBE_FUZZ_CHECK(c >= 0x20 && c < 0x7f);
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t opt = data[0];
  const auto in = taube::fuzz::as_chars(data + 1, size - 1);
  ProxyLimits limits;
  if (opt & 1) limits.max_v2_header = 64;
  if (opt & 2) limits.verify_crc32c = false;
  if (opt & 4) limits.accept_v1 = false;
  if (opt & 8) limits.accept_v2 = false;

  const ParseResult r = parse_proxy_header(in, limits);
  check_result(r, in.size(), limits);
  TAUBE_FUZZ_CHECK(parse_proxy_header(in, limits) == r);  // deterministic

  if (r.status == ParseStatus::Complete) {
    // Exactly its own octets give the same header: nothing after it was looked at.
    TAUBE_FUZZ_CHECK(parse_proxy_header(in.first(r.header_size), limits) == r);
    (void)describe(r.header);
  }

  // Prefixes: all of them for short inputs, otherwise a deterministic sample.
  const std::size_t n = in.size();
  taube::fuzz::SplitRng rng(static_cast<std::uint8_t>(opt >> 4));
  const bool all = n <= 160;
  const std::size_t count = all ? n : 48;
  for (std::size_t k = 0; k < count; ++k) {
    const std::size_t len = all ? k : static_cast<std::size_t>(rng.next() % n);
    const ParseResult p = parse_proxy_header(in.first(len), limits);
    check_result(p, len, limits);
    switch (r.status) {
      case ParseStatus::Complete:
        if (len < r.header_size) {
          TAUBE_FUZZ_CHECK(p.status == ParseStatus::Incomplete);
          TAUBE_FUZZ_CHECK(p.need <= r.header_size);
        } else {
          TAUBE_FUZZ_CHECK(p == r);
        }
        break;
      case ParseStatus::Incomplete:
        TAUBE_FUZZ_CHECK(p.status == ParseStatus::Incomplete);
        break;
      case ParseStatus::Invalid:
        // A prefix may still be Incomplete, but never Complete.
        TAUBE_FUZZ_CHECK(p.status != ParseStatus::Complete);
        break;
    }
    // An Invalid prefix stays Invalid with everything that follows.
    if (p.status == ParseStatus::Invalid) TAUBE_FUZZ_CHECK(r.status == ParseStatus::Invalid);
  }
  return 0;
}
