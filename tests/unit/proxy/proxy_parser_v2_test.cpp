// Tests for src/proxy/proxy_parser.cpp, version 2 (proxy-protocol.txt §2.2): commands, families,
// address block lengths, TLVs, CRC32c, the header size limit.
#include <gtest/gtest.h>

#include <string>

#include "proxy/proxy_parser.hpp"
#include "proxy_test_support.hpp"

namespace taube::proxy {
namespace {

using namespace taube::proxy::testing;

inet::IpAddress ip(const char* s) {
  return inet::IpAddress::parse(s).value();
}

TEST(ProxyV2, TcpOverIpv4) {
  const std::string h = v2(0x21, 0x11, inet_block());
  ASSERT_EQ(h.size(), 28u);
  const auto r = expect_valid(h);
  EXPECT_EQ(r.header.version, 2);
  EXPECT_EQ(r.header.command, ProxyCommand::Proxy);
  EXPECT_EQ(r.header.source, ip("192.0.2.1"));
  EXPECT_EQ(r.header.destination, ip("198.51.100.25"));
  EXPECT_EQ(r.header.source_port, 56324);
  EXPECT_EQ(r.header.destination_port, 25);
  EXPECT_TRUE(r.header.tlvs.empty());
}

TEST(ProxyV2, TcpOverIpv6) {
  const std::string h = v2(0x21, 0x21, inet6_block());
  ASSERT_EQ(h.size(), 52u);
  const auto r = expect_valid(h);
  EXPECT_EQ(r.header.source, ip("2001:db8::1"));
  EXPECT_EQ(r.header.destination, ip("2001:db8::25"));
  EXPECT_EQ(r.header.source_port, 443);
  EXPECT_EQ(r.header.destination_port, 25);
}

// LOCAL (health checks): the connection's own endpoints apply; the block, family included, is
// skipped whatever it holds (§2.2).
TEST(ProxyV2, Local) {
  const auto r = expect_valid(v2(0x20, 0x00, ""));
  EXPECT_EQ(r.header_size, 16u);
  EXPECT_EQ(r.header.command, ProxyCommand::Local);
  EXPECT_EQ(r.header.version, 2);
  EXPECT_FALSE(r.header.source);
  EXPECT_FALSE(r.header.destination);
  const auto with_block = expect_valid(v2(0x20, 0x11, inet_block() + tlv(0x01, "smtp")));
  EXPECT_EQ(with_block.header.command, ProxyCommand::Local);
  EXPECT_FALSE(with_block.header.source);
  EXPECT_TRUE(with_block.header.tlvs.empty());
  // "Receivers MUST ... not assume zero is presented for LOCAL connections."
  EXPECT_EQ(expect_valid(v2(0x20, 0xff, "xyz")).header_size, 19u);
  EXPECT_EQ(expect_valid(v2(0x20, 0x21, "short")).header_size, 21u);
}

TEST(ProxyV2, UnspecifiedFamilyOrTransportHasNoAddresses) {
  const auto r = expect_valid(v2(0x21, 0x00, ""));
  EXPECT_EQ(r.header.command, ProxyCommand::Proxy);
  EXPECT_FALSE(r.header.source);
  // Whatever follows an AF_UNSPEC header is address information of unknown form: ignored, not
  // read as TLVs.
  const auto junk = expect_valid(v2(0x21, 0x00, "\x01\xff\xff"));
  EXPECT_TRUE(junk.header.tlvs.empty());
  EXPECT_FALSE(expect_valid(v2(0x21, 0x01, "")).header.source);  // UNSPEC family, STREAM
  EXPECT_FALSE(expect_valid(v2(0x21, 0x10, "")).header.source);  // AF_INET, UNSPEC transport
  EXPECT_FALSE(expect_valid(v2(0x21, 0x20, "abc")).header.source);
}

// Valid combinations this receiver does not use fall back to UNSPEC (§2.2): no addresses, but
// the block size is known, so it is checked and the TLVs after it are read.
TEST(ProxyV2, DgramAndUnixHaveNoAddresses) {
  const auto udp4 = expect_valid(v2(0x21, 0x12, inet_block()));
  EXPECT_FALSE(udp4.header.source);
  EXPECT_EQ(udp4.header.source_port, 0);
  EXPECT_FALSE(expect_valid(v2(0x21, 0x22, inet6_block())).header.source);
  const std::string unix_block(216, 'u');
  const auto unix_stream = expect_valid(v2(0x21, 0x31, unix_block + tlv(0x02, "mx.example")));
  EXPECT_FALSE(unix_stream.header.source);
  ASSERT_EQ(unix_stream.header.tlvs.size(), 1u);
  EXPECT_EQ(unix_stream.header.tlvs[0].value, "mx.example");
  expect_valid(v2(0x21, 0x32, unix_block));
  expect_invalid(v2(0x21, 0x31, std::string(215, 'u')));
}

TEST(ProxyV2, AddressBlockMustHoldTheFamily) {
  expect_invalid(v2(0x21, 0x11, inet_block().substr(0, 11)));
  expect_invalid(v2(0x21, 0x21, inet6_block().substr(0, 35)));
  expect_invalid(v2(0x21, 0x12, ""));
  expect_invalid(v2(0x21, 0x21, inet_block()));  // an IPv4 block under AF_INET6
  // Known as soon as the length field is in, before the block arrives.
  const std::string short_v4 = v2(0x21, 0x11, std::string(11, '\0'));
  EXPECT_EQ(parse(short_v4.substr(0, 16)).status, ParseStatus::Invalid);
  EXPECT_EQ(parse(short_v4.substr(0, 15)).status, ParseStatus::Incomplete);
}

TEST(ProxyV2, VersionAndCommand) {
  for (const int vc : {0x01, 0x11, 0x31, 0xf1, 0x10, 0x00})
    expect_invalid(v2(vc, 0x11, inet_block()));
  for (const int vc : {0x22, 0x23, 0x2f}) expect_invalid(v2(vc, 0x11, inet_block()));
  // Refused at the 13th octet, not after the whole header.
  EXPECT_EQ(parse(kV2Sig + "\x11").status, ParseStatus::Invalid);
  EXPECT_EQ(parse(kV2Sig + "\x22").status, ParseStatus::Invalid);
  EXPECT_EQ(parse(kV2Sig + "\x21").status, ParseStatus::Incomplete);
  EXPECT_EQ(parse(kV2Sig + "\x21").need, 16u);
}

TEST(ProxyV2, FamilyAndTransport) {
  for (const int fam : {0x41, 0x51, 0xf1, 0x13, 0x1f, 0x03, 0x44})
    expect_invalid(v2(0x21, fam, std::string(216, '\0')));
  EXPECT_EQ(parse(kV2Sig + "\x21\x41").status, ParseStatus::Invalid);  // at the 14th octet
  EXPECT_EQ(parse(kV2Sig + "\x21\x13").status, ParseStatus::Invalid);
  EXPECT_EQ(parse(kV2Sig + "\x21\x11").status, ParseStatus::Incomplete);
}

TEST(ProxyV2, SignatureIsCheckedOctetByOctet) {
  const std::string h = v2(0x21, 0x11, inet_block());
  for (std::size_t i = 0; i < 12; ++i) {
    std::string bad = h;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    if (i == 0) continue;  // a changed first octet is not the v2 path at all (see below)
    EXPECT_EQ(parse(std::string_view(bad).substr(0, i + 1)).status, ParseStatus::Invalid) << i;
    EXPECT_EQ(parse(std::string_view(bad).substr(0, i)).status, ParseStatus::Incomplete) << i;
    expect_invalid(bad);
  }
  EXPECT_EQ(parse("\r\n\r\n").status, ParseStatus::Incomplete);  // could still be v2
  expect_invalid("\r\n\r\nX");
  expect_invalid(kV2Sig.substr(0, 11) + "\r");
}

TEST(ProxyV2, Tlvs) {
  const std::string body = inet_block() + tlv(0x01, "smtp") + tlv(0x02, "mx.example.org") +
                           tlv(0x04, "") + tlv(0xe0, std::string("\0\1\2", 3)) +
                           tlv(0x20, std::string("\x01\0\0\0\0", 5) + tlv(0x21, "TLSv1.3"));
  const auto r = expect_valid(v2(0x21, 0x11, body));
  ASSERT_EQ(r.header.tlvs.size(), 5u);
  EXPECT_EQ(r.header.tlvs[0], (Tlv{tlv_type::kAlpn, "smtp"}));
  EXPECT_EQ(r.header.tlvs[1], (Tlv{tlv_type::kAuthority, "mx.example.org"}));
  EXPECT_EQ(r.header.tlvs[2], (Tlv{tlv_type::kNoop, ""}));
  EXPECT_EQ(r.header.tlvs[3], (Tlv{0xe0, std::string("\0\1\2", 3)}));  // unknown: kept
  EXPECT_EQ(r.header.tlvs[4].type, tlv_type::kSsl);  // sub-TLVs stay inside the value
  EXPECT_EQ(r.header.tlvs[4].value.size(), 5u + 3u + 7u);
  ASSERT_NE(r.header.find_tlv(tlv_type::kAuthority), nullptr);
  EXPECT_EQ(r.header.find_tlv(tlv_type::kAuthority)->value, "mx.example.org");
  EXPECT_EQ(r.header.find_tlv(tlv_type::kUniqueId), nullptr);
  EXPECT_EQ(r.header.source, ip("192.0.2.1"));  // TLVs do not disturb the addresses
  // TLVs after an IPv6 block, and a zero-length one last.
  const auto r6 = expect_valid(v2(0x21, 0x21, inet6_block() + tlv(0x05, "id-1") + tlv(0xf0, "")));
  ASSERT_EQ(r6.header.tlvs.size(), 2u);
  EXPECT_EQ(r6.header.tlvs[1], (Tlv{0xf0, ""}));
  // A TLV as long as a TLV can be (within the limit).
  ProxyLimits big;
  big.max_v2_header = 16 + 12 + 3 + 65535 - 28 - 3;
  EXPECT_EQ(
      expect_valid(v2(0x21, 0x11, inet_block() + tlv(0xe1, std::string(65535 - 28 - 3, 'v'))), big)
          .header.tlvs[0]
          .value.size(),
      65535u - 28u - 3u);
}

TEST(ProxyV2, TruncatedTlvs) {
  const std::string a = inet_block();
  expect_invalid(v2(0x21, 0x11, a + "\x01"));                // 1 octet: no room for a TLV header
  expect_invalid(v2(0x21, 0x11, a + octets({0x01, 0x00})));  // 2 octets
  expect_invalid(v2(0x21, 0x11, a + tlv(0x01, "smtp").substr(0, 6)));  // value cut short
  expect_invalid(v2(0x21, 0x11, a + tlv(0x01, "ab") + octets({0x02, 0x00, 0x05}) + "xy"));
  expect_invalid(v2(0x21, 0x11, a + "\x01\xff\xff"));  // claims 65535 octets
  // A TLV that overruns the header is an error even though the octets behind it (not part of
  // the header) would have covered it.
  const std::string h = v2(0x21, 0x11, a + octets({0x01, 0x00, 0x04}) + "sm");
  expect_invalid(h + "tp");
}

TEST(ProxyV2, Crc32c) {
  const std::string a = inet_block();
  const std::string zero(4, '\0');
  // The checksum covers the whole header with its own field zeroed (§2.2.3).
  const std::string body = a + tlv(0x01, "smtp") + tlv(0x03, zero) + tlv(0xe0, "x");
  const std::size_t at = 16 + a.size() + 7 + 3;
  const std::string good = with_crc(v2(0x21, 0x11, body), at);
  const auto r = expect_valid(good);
  ASSERT_EQ(r.header.tlvs.size(), 3u);
  EXPECT_EQ(r.header.tlvs[1].type, tlv_type::kCrc32c);
  EXPECT_EQ(r.header.tlvs[1].value, good.substr(at, 4));
  // Any changed octet is detected.
  for (const std::size_t i : {std::size_t{16}, std::size_t{27}, at, at + 3, good.size() - 1}) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 1);
    expect_invalid(bad);
    ProxyLimits trusting;
    trusting.verify_crc32c = false;
    EXPECT_EQ(parse(bad, trusting).status, ParseStatus::Complete) << i;
  }
  expect_invalid(v2(0x21, 0x11, a + tlv(0x03, "abc")));  // not 4 octets
  expect_invalid(v2(0x21, 0x11, a + tlv(0x03, "abcde")));
  // Two checksums: refused even when both fields would match.
  const std::string two = v2(0x21, 0x11, a + tlv(0x03, zero) + tlv(0x03, zero));
  expect_invalid(with_crc(two, 16 + 12 + 3));
}

// The limit on 16 + length, at N and N+1, refused after 16 octets without waiting for the rest.
TEST(ProxyV2, HeaderSizeLimit) {
  const std::string at_limit =
      v2(0x21, 0x11, inet_block() + tlv(0xe0, std::string(4096 - 31, 'z')));
  ASSERT_EQ(at_limit.size(), kDefaultMaxV2Header);
  expect_valid(at_limit);
  const std::string over = v2(0x21, 0x11, inet_block() + tlv(0xe0, std::string(4096 - 30, 'z')));
  ASSERT_EQ(over.size(), kDefaultMaxV2Header + 1);
  expect_invalid(over);
  EXPECT_EQ(parse(over.substr(0, 16)).status, ParseStatus::Invalid);
  EXPECT_EQ(parse(over.substr(0, 15)).status, ParseStatus::Incomplete);
  // The largest length field.
  EXPECT_EQ(parse(kV2Sig + "\x21\x11\xff\xff").status, ParseStatus::Invalid);
  ProxyLimits small;
  small.max_v2_header = 28;
  expect_valid(v2(0x21, 0x11, inet_block()), small);
  expect_invalid(v2(0x21, 0x00, std::string(13, '\0')), small);
  expect_valid(v2(0x21, 0x00, std::string(12, '\0')), small);
  ProxyLimits max;
  max.max_v2_header = 16 + 65535;
  expect_valid(v2(0x21, 0x00, std::string(65535, '\0')), max);
}

}  // namespace
}  // namespace taube::proxy
