// Tests for src/proxy/proxy_parser.cpp, version 1 (proxy-protocol.txt §2.1) and what is common
// to both versions: telling them apart, refusing other protocols at once, describe().
// Version 2 is in proxy_parser_v2_test.cpp.
#include "proxy/proxy_parser.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "proxy_test_support.hpp"

namespace taube::proxy {
namespace {

using namespace taube::proxy::testing;

inet::IpAddress ip(const char* s) {
  return inet::IpAddress::parse(s).value();
}

// 39 characters: the longest IPv6 text without a dotted quad.
const std::string kFullV6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";

TEST(ProxyV1, SpecExampleBeforeHttp) {
  const std::string line = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
  const auto r = expect_valid(line);
  const auto with_request = parse(line + "GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n");
  EXPECT_EQ(with_request, r);
  EXPECT_EQ(r.header_size, 47u);
  EXPECT_EQ(r.header.version, 1);
  EXPECT_EQ(r.header.command, ProxyCommand::Proxy);
  EXPECT_EQ(r.header.source, ip("192.168.0.1"));
  EXPECT_EQ(r.header.destination, ip("192.168.0.11"));
  EXPECT_EQ(r.header.source_port, 56324);
  EXPECT_EQ(r.header.destination_port, 443);
  EXPECT_TRUE(r.header.tlvs.empty());
}

TEST(ProxyV1, Tcp6) {
  const auto r = expect_valid("PROXY TCP6 2001:db8::1 2001:DB8::25 40000 25\r\n");
  EXPECT_EQ(r.header.source, ip("2001:db8::1"));
  EXPECT_EQ(r.header.destination, ip("2001:db8::25"));
  EXPECT_EQ(r.header.source_port, 40000);
  EXPECT_EQ(r.header.destination_port, 25);
  // A v4-mapped source stays as sent; the caller may unmap it.
  const auto m = expect_valid("PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n");
  EXPECT_EQ(m.header.source, ip("::ffff:192.0.2.1"));
  EXPECT_EQ(m.header.source->unmapped(), ip("192.0.2.1"));
}

// §2.1: the longest lines a receiver must support.
TEST(ProxyV1, SpecMaximumLines) {
  const std::string tcp4 = "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n";
  EXPECT_EQ(tcp4.size(), 56u);
  EXPECT_EQ(expect_valid(tcp4).header.source_port, 65535);
  const std::string tcp6 = "PROXY TCP6 " + kFullV6 + " " + kFullV6 + " 65535 65535\r\n";
  EXPECT_EQ(tcp6.size(), 104u);
  EXPECT_EQ(expect_valid(tcp6).header.destination, ip(kFullV6.c_str()));
  const std::string unknown_short = "PROXY UNKNOWN\r\n";
  EXPECT_EQ(unknown_short.size(), 15u);
  const auto u = expect_valid(unknown_short);
  EXPECT_EQ(u.header.command, ProxyCommand::Proxy);
  EXPECT_FALSE(u.header.source);
  EXPECT_FALSE(u.header.destination);
  const std::string worst = "PROXY UNKNOWN " + kFullV6 + " " + kFullV6 + " 65535 65535\r\n";
  EXPECT_EQ(worst.size(), 107u);
  EXPECT_FALSE(expect_valid(worst).header.source);  // UNKNOWN: the rest is ignored
}

TEST(ProxyV1, LengthLimitAt107And108) {
  const std::string head = "PROXY UNKNOWN ";
  const std::string ok = head + std::string(107 - head.size() - 2, 'x') + "\r\n";
  ASSERT_EQ(ok.size(), 107u);
  EXPECT_EQ(expect_valid(ok).header_size, 107u);
  const std::string too_long = head + std::string(108 - head.size() - 2, 'x') + "\r\n";
  ASSERT_EQ(too_long.size(), 108u);
  expect_invalid(too_long);
  // Refused as soon as the CRLF can no longer fit: 105 octets of line text may still end at
  // 107; 106 without a CR cannot.
  EXPECT_EQ(parse(too_long.substr(0, 105)).status, ParseStatus::Incomplete);
  EXPECT_EQ(parse(too_long.substr(0, 105)).need, 106u);
  expect_invalid(too_long.substr(0, 106));
  EXPECT_EQ(parse(ok.substr(0, 106)).status, ParseStatus::Incomplete);  // ends in CR
  // A TCP6 line with two dotted-quad addresses is well formed but longer than 107.
  const std::string a = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255";
  expect_invalid("PROXY TCP6 " + a + " " + a + " 65535 65535\r\n");
  // No CRLF at all within 107 octets.
  expect_invalid(head + std::string(200, 'x'));
}

TEST(ProxyV1, UnknownIgnoresTheRest) {
  const auto r = expect_valid("PROXY UNKNOWN whatever the sender puts here 1 2 3\r\n");
  EXPECT_FALSE(r.header.source);
  EXPECT_EQ(r.header.source_port, 0);
  expect_valid("PROXY UNKNOWN \r\n");
  static constexpr char kBinary[] = "PROXY UNKNOWN \x01\xff\0 binary\r\n";
  expect_valid(std::string(kBinary, sizeof kBinary - 1));
  expect_invalid("PROXY UNKNOWNX\r\n");
  expect_invalid("PROXY UNKNOWN\tx\r\n");
  expect_invalid("PROXY UNKNOWN x\ry\r\n");  // a lone CR even in the ignored part
  expect_invalid("PROXY UNKNOWN x\ny\r\n");
}

TEST(ProxyV1, Ports) {
  const auto zero = expect_valid("PROXY TCP4 192.0.2.1 192.0.2.2 0 0\r\n");
  EXPECT_EQ(zero.header.source_port, 0);
  EXPECT_EQ(zero.header.destination_port, 0);
  expect_valid("PROXY TCP4 192.0.2.1 192.0.2.2 65535 1\r\n");
  for (const char* bad : {"65536", "01", "00", "-1", "+1", "1a", "0x19", "99999", "100000"}) {
    expect_invalid(std::string("PROXY TCP4 192.0.2.1 192.0.2.2 ") + bad + " 25\r\n");
    expect_invalid(std::string("PROXY TCP4 192.0.2.1 192.0.2.2 25 ") + bad + "\r\n");
  }
}

TEST(ProxyV1, AddressesAndFamilies) {
  for (const char* bad : {"192.168.000.1", "192.168.0.01", "256.0.0.1", "1.2.3", "1.2.3.4.5",
                          "localhost", "1.2.3.4/8"}) {
    expect_invalid(std::string("PROXY TCP4 ") + bad + " 192.0.2.2 1 2\r\n");
    expect_invalid(std::string("PROXY TCP4 192.0.2.2 ") + bad + " 1 2\r\n");
  }
  // The family named must be the family of both addresses.
  expect_invalid("PROXY TCP4 2001:db8::1 192.0.2.2 1 2\r\n");
  expect_invalid("PROXY TCP4 192.0.2.1 2001:db8::1 1 2\r\n");
  expect_invalid("PROXY TCP6 192.0.2.1 2001:db8::1 1 2\r\n");
  expect_invalid("PROXY TCP6 2001:db8::1 192.0.2.1 1 2\r\n");
  expect_invalid("PROXY TCP6 1::2::3 ::1 1 2\r\n");
  expect_invalid("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n");
  expect_invalid("PROXY TCP6 [::1] ::1 1 2\r\n");
}

TEST(ProxyV1, ExactlyOneSpace) {
  expect_invalid("PROXY  TCP4 192.0.2.1 192.0.2.2 1 2\r\n");
  expect_invalid("PROXY TCP4  192.0.2.1 192.0.2.2 1 2\r\n");
  expect_invalid("PROXY TCP4 192.0.2.1  192.0.2.2 1 2\r\n");
  expect_invalid("PROXY TCP4 192.0.2.1 192.0.2.2 1  2\r\n");
  expect_invalid("PROXY TCP4 192.0.2.1 192.0.2.2 1 2 \r\n");
  expect_invalid("PROXY TCP4 192.0.2.1 192.0.2.2 1\t2\r\n");
  expect_invalid("PROXY\tTCP4 192.0.2.1 192.0.2.2 1 2\r\n");
  expect_invalid("PROXY TCP4 192.0.2.1 192.0.2.2 1 2 3\r\n");  // too many fields
  expect_invalid("PROXY TCP4 192.0.2.1 192.0.2.2 1\r\n");      // too few
  expect_invalid("PROXY TCP4 192.0.2.1\r\n");
  expect_invalid("PROXY TCP4\r\n");
  expect_invalid("PROXY \r\n");
  expect_invalid("PROXY\r\n");
}

TEST(ProxyV1, CaseAndKeywords) {
  expect_invalid("proxy TCP4 192.0.2.1 192.0.2.2 1 2\r\n");
  expect_invalid("PROXY tcp4 192.0.2.1 192.0.2.2 1 2\r\n");
  expect_invalid("PROXY TCP5 192.0.2.1 192.0.2.2 1 2\r\n");
  expect_invalid("PROXY UDP4 192.0.2.1 192.0.2.2 1 2\r\n");
  expect_invalid("PROXY unknown\r\n");
}

TEST(ProxyV1, LineEnd) {
  const std::string line = "PROXY TCP4 192.0.2.1 192.0.2.2 1 2";
  expect_invalid(line + "\n");   // LF alone
  expect_invalid(line + "\rX");  // CR alone
  expect_invalid(line + "\r\r\n");
  expect_invalid(line + "\n\r\n");
  const auto cr = parse(line + "\r");  // the LF may still come
  EXPECT_EQ(cr.status, ParseStatus::Incomplete);
  EXPECT_EQ(cr.need, line.size() + 2);
  const auto none = parse(line);  // the line is not over yet ("2" may become "25")
  EXPECT_EQ(none.status, ParseStatus::Incomplete);
  EXPECT_EQ(none.need, line.size() + 1);
  // The header ends at the first CRLF; a second line is not part of it.
  EXPECT_EQ(parse(line + "\r\nPROXY UNKNOWN\r\n").header_size, line.size() + 2);
}

// Before the CRLF arrives, a line that cannot become valid is refused already.
TEST(ProxyV1, RefusedBeforeTheLineEnds) {
  for (const char* partial :
       {"PROXY TCP4 192.0.2.1x", "PROXY TCP4 192.0.2.1.5 ", "PROXY TCP4 2001:db8::1",
        "PROXY TCP4 192.0.2.1 192.0.2.2 99999 ", "PROXY TCP4 192.0.2.1 192.0.2.2 1 2 ",
        "PROXY TCP4 192.0.2.1 192.0.2.2 1 01", "PROXY TCP4 192.0.2.1 192.0.2.2 123456",
        "PROXY TCP6 2001:db8::1 192.0.2.1 ", "PROXY TCP6 2001:db8::g", "PROXY TCP6  ",
        "PROXY TCP4 1234567890123456", "PROXY UNKNOWNX", "PROXY UNKNOWN\t", "PROXY TCPX", "PROXY X",
        "PROXY  ", "PROXYX", "PROX "}) {
    const auto r = parse(partial);
    EXPECT_EQ(r.status, ParseStatus::Invalid) << partial << ": " << r;
  }
}

TEST(Proxy, EmptyInputWaitsForOneOctet) {
  const auto r = parse("");
  EXPECT_EQ(r.status, ParseStatus::Incomplete);
  EXPECT_EQ(r.need, 1u);
}

// Anything that is neither signature is refused on its first octet, so a client that talks
// SMTP (or TLS) to a PROXY listener is dropped at once.
TEST(Proxy, OtherProtocolsAreRefusedAtOnce) {
  for (const char* s : {"EHLO x\r\n", "HELO client\r\n", "GET / HTTP/1.1\r\n", "\x16\x03\x01",
                        "QUIT\r\n", "\n", " PROXY TCP4 1.2.3.4 1.2.3.4 1 2\r\n", "p"}) {
    expect_invalid(s);
    EXPECT_EQ(parse(std::string_view(s).substr(0, 1)).status, ParseStatus::Invalid) << s;
  }
  expect_invalid(std::string(1, '\0'));
  expect_invalid("\xff\xfe garbage");
  // A prefix of the v1 signature that goes wrong is refused at the wrong octet.
  EXPECT_EQ(parse("PRO").status, ParseStatus::Incomplete);
  EXPECT_EQ(parse("PROXI").status, ParseStatus::Invalid);
  EXPECT_EQ(parse("PROXY").status, ParseStatus::Incomplete);
  EXPECT_EQ(parse("PROXY-").status, ParseStatus::Invalid);
}

TEST(Proxy, VersionsCanBeRefused) {
  ProxyLimits v2_only;
  v2_only.accept_v1 = false;
  expect_invalid("PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\n", v2_only);
  EXPECT_EQ(parse("P", v2_only).status, ParseStatus::Invalid);
  expect_valid(v2(0x20, 0x00, ""), v2_only);
  ProxyLimits v1_only;
  v1_only.accept_v2 = false;
  expect_invalid(v2(0x20, 0x00, ""), v1_only);
  EXPECT_EQ(parse("\r", v1_only).status, ParseStatus::Invalid);
  expect_valid("PROXY UNKNOWN\r\n", v1_only);
}

TEST(Proxy, MaxHeaderSize) {
  EXPECT_EQ(ProxyLimits{}.max_header_size(), 4096u);
  ProxyLimits small;
  small.max_v2_header = 28;
  EXPECT_EQ(small.max_header_size(), kV1MaxLength);
}

TEST(Proxy, Describe) {
  EXPECT_EQ(describe(parse("PROXY TCP4 192.0.2.1 198.51.100.1 56324 25\r\n").header),
            "v1 PROXY 192.0.2.1:56324 -> 198.51.100.1:25");
  EXPECT_EQ(describe(parse("PROXY TCP6 2001:db8::1 2001:db8::2 1 25\r\n").header),
            "v1 PROXY [2001:db8::1]:1 -> [2001:db8::2]:25");
  EXPECT_EQ(describe(parse("PROXY UNKNOWN\r\n").header), "v1 PROXY (no addresses)");
  EXPECT_EQ(describe(parse(v2(0x20, 0x00, "")).header), "v2 LOCAL");
  EXPECT_EQ(describe(parse(v2(0x21, 0x11, inet_block() + tlv(0xe0, "x"))).header),
            "v2 PROXY 192.0.2.1:56324 -> 198.51.100.25:25 (1 TLVs)");
  std::ostringstream os;
  os << parse("EHLO");
  EXPECT_EQ(os.str(), "Invalid (not a PROXY protocol header)");
}

}  // namespace
}  // namespace taube::proxy
