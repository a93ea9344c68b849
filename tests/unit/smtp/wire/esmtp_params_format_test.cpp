// Tests for src/smtp/wire/esmtp_params_format.cpp: the client side of the MAIL/RCPT parameters
// (RFC 1870, RFC 6152, RFC 6531, RFC 3461, RFC 4954 §5) and utf-8-addr-xtext (RFC 6533 §3).
// Everything formatted must be read back by parse_*_params as the same value.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "smtp/wire/esmtp_params.hpp"

namespace taube::smtp {
namespace {

// Every extension advertised, AUTH included: the parser accepts everything the formatter writes.
const ParamPolicy kAll{true, true, true, true, true};

std::string mail(const MailParams& p) {
  auto r = format_mail_params(p);
  EXPECT_TRUE(r.has_value()) << (r ? "" : describe(r.error()));
  return r.value_or("");
}

std::string rcpt(const RcptParams& p) {
  auto r = format_rcpt_params(p);
  EXPECT_TRUE(r.has_value()) << (r ? "" : describe(r.error()));
  return r.value_or("");
}

TEST(FormatMailParams, ExactOutput) {
  EXPECT_EQ(mail({}), "");
  MailParams p;
  p.size = 123;
  p.body = BodyType::EightBitMime;
  p.smtputf8 = true;
  p.ret = DsnRet::Headers;
  p.envid = "xtext";
  EXPECT_EQ(mail(p), " SIZE=123 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=xtext");
  p.ret = DsnRet::Full;
  p.auth = "<>";
  p.envid = "QQ+1 =x";
  EXPECT_EQ(mail(p), " SIZE=123 BODY=8BITMIME SMTPUTF8 RET=FULL ENVID=QQ+2B1+20+3Dx AUTH=<>");
}

TEST(FormatMailParams, SevenBitBodyIsTheDefaultAndNotWritten) {
  MailParams p;
  p.body = BodyType::SevenBit;
  p.size = 0;
  EXPECT_EQ(mail(p), " SIZE=0");
}

TEST(FormatMailParams, EnvidLimitAtNAndNPlusOne) {
  ASSERT_EQ(kMaxEnvidLength, 100u);
  MailParams p;
  p.envid = std::string(100, 'e');
  EXPECT_EQ(mail(p), " ENVID=" + std::string(100, 'e'));
  p.envid = std::string(101, 'e');
  EXPECT_EQ(format_mail_params(p), tl::unexpected(FormatError::ValueTooLong));
  // The limit applies to the xtext as sent: 33 escapes are 99 characters, 34 are 102.
  p.envid = std::string(33, '+') + "x";
  EXPECT_TRUE(format_mail_params(p).has_value());
  p.envid = std::string(34, '+');
  EXPECT_EQ(format_mail_params(p), tl::unexpected(FormatError::ValueTooLong));
}

TEST(FormatMailParams, ValuesWithoutAWireFormAreErrors) {
  MailParams p;
  p.envid = "";
  EXPECT_EQ(format_mail_params(p), tl::unexpected(FormatError::BadValue));
  for (const std::string bad : {"", "a b", "a=b", "a\r\nRSET", "caf\xC3\xA9", "x\x7f"}) {
    MailParams q;
    q.auth = bad;
    EXPECT_EQ(format_mail_params(q), tl::unexpected(FormatError::BadValue)) << bad;
  }
}

TEST(FormatMailParams, RoundTripThroughTheParser) {
  const std::vector<std::optional<std::uint64_t>> sizes = {std::nullopt, 0, 1, 52428800,
                                                           UINT64_MAX};
  const std::vector<std::optional<DsnRet>> rets = {std::nullopt, DsnRet::Full, DsnRet::Headers};
  const std::vector<std::optional<std::string>> envids = {
      std::nullopt,        "abc", "a+b=c", std::string("\x01\xff \x7f~!", 7), std::string(100, 'Z'),
      std::string(33, '=')};
  const std::vector<std::optional<std::string>> auths = {std::nullopt, "<>", "alice+40example.org"};
  int n = 0;
  for (const auto& size : sizes)
    for (const BodyType body : {BodyType::SevenBit, BodyType::EightBitMime})
      for (const bool utf8 : {false, true})
        for (const auto& ret : rets)
          for (const auto& envid : envids)
            for (const auto& auth : auths) {
              MailParams p;
              p.size = size;
              p.body = body;
              p.smtputf8 = utf8;
              p.ret = ret;
              p.envid = envid;
              p.auth = auth;
              const std::string wire = mail(p);
              const auto back = parse_mail_params(wire, kAll);
              ASSERT_TRUE(back.has_value()) << wire << " -> " << format_reply(back.error());
              EXPECT_EQ(*back, p) << wire;
              ++n;
            }
  EXPECT_EQ(n, 5 * 2 * 2 * 3 * 6 * 3);
}

TEST(FormatRcptParams, ExactOutput) {
  EXPECT_EQ(rcpt({}), "");
  RcptParams p;
  p.notify = NotifySuccess | NotifyFailure;
  p.orcpt_type = "rfc822";
  p.orcpt_address = "xtext";
  EXPECT_EQ(rcpt(p), " NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;xtext");
  p.notify = NotifyDelay | NotifySuccess;
  p.orcpt_address = "bob+tag=1@example.org";
  EXPECT_EQ(rcpt(p), " NOTIFY=SUCCESS,DELAY ORCPT=rfc822;bob+2Btag+3D1@example.org");
  p.notify = NotifyNever;
  p.orcpt_type = "utf-8";
  p.orcpt_address =
      "b\xC3\xB6"
      "b@example.org";
  EXPECT_EQ(rcpt(p), " NOTIFY=NEVER ORCPT=utf-8;b\\x{F6}b@example.org");
}

TEST(FormatRcptParams, EveryNotifyCombination) {
  for (unsigned bits = 0; bits < 32; ++bits) {
    RcptParams p;
    p.notify = bits;
    const auto wire = format_rcpt_params(p);
    const bool valid = bits < 16 && (!(bits & NotifyNever) || bits == NotifyNever);
    ASSERT_EQ(wire.has_value(), valid) << bits;
    if (!valid) {
      EXPECT_EQ(wire.error(), FormatError::BadValue);
      continue;
    }
    const auto back = parse_rcpt_params(*wire, kAll);
    ASSERT_TRUE(back.has_value()) << *wire;
    EXPECT_EQ(*back, p) << *wire;
  }
}

TEST(FormatRcptParams, OrcptRoundTrip) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"rfc822", "bob@example.org"},
      {"rfc822", "\"john doe\"@example.org"},
      {"rfc822", "a+b=c@example.org"},
      {"rfc822", std::string(500, 'r')},
      {"utf-8",
       "b\xC3\xB6"
       "b@example.org"},
      {"utf-8", "\xE7\x94\xA8\xE6\x88\xB7@\xE4\xBE\x8B\xE5\xAD\x90.\xE5\xB9\xBF\xE5\x91\x8A"},
      {"utf-8", "tab\there+plus=eq\\bs@x \x7f"},
      {"utf-8", "\xF0\x9F\x98\x80@emoji.example"},
      {"x-private", std::string("\x00\x01\r\n\xff", 5)},  // unknown type: plain xtext of any octets
  };
  for (const auto& [type, addr] : cases) {
    RcptParams p;
    p.orcpt_type = type;
    p.orcpt_address = addr;
    const std::string wire = rcpt(p);
    const auto back = parse_rcpt_params(wire, kAll);
    ASSERT_TRUE(back.has_value()) << wire << " -> " << format_reply(back.error());
    EXPECT_EQ(*back, p) << wire;
    // The encoded parameter is 7-bit and one word.
    for (const char c : wire.substr(1)) {
      EXPECT_LT(static_cast<unsigned char>(c), 0x80) << wire;
      EXPECT_TRUE(c > ' ' && c < 0x7f) << wire;
    }
  }
}

TEST(FormatRcptParams, OrcptLimitAtNAndNPlusOne) {
  ASSERT_EQ(kMaxOrcptLength, 500u);
  RcptParams p;
  p.orcpt_type = "rfc822";
  p.orcpt_address = std::string(500, 'a');
  EXPECT_TRUE(format_rcpt_params(p).has_value());
  p.orcpt_address = std::string(501, 'a');
  EXPECT_EQ(format_rcpt_params(p), tl::unexpected(FormatError::ValueTooLong));
  p.orcpt_type = "utf-8";
  EXPECT_EQ(format_rcpt_params(p), tl::unexpected(FormatError::ValueTooLong));
}

TEST(FormatRcptParams, OrcptWithoutAWireFormIsAnError) {
  auto err = [](std::optional<std::string> type, std::optional<std::string> addr) {
    RcptParams p;
    p.orcpt_type = std::move(type);
    p.orcpt_address = std::move(addr);
    const auto r = format_rcpt_params(p);
    return r ? std::optional<FormatError>{} : std::optional<FormatError>{r.error()};
  };
  EXPECT_EQ(err("rfc822", std::nullopt), FormatError::BadValue);
  EXPECT_EQ(err(std::nullopt, "a@b"), FormatError::BadValue);
  EXPECT_EQ(err("", "a@b"), FormatError::BadValue);
  EXPECT_EQ(err("rfc822", ""), FormatError::BadValue);
  EXPECT_EQ(err("rfc 822", "a@b"), FormatError::BadValue);
  EXPECT_EQ(err("rfc822;x", "a@b"), FormatError::BadValue);
  // RFC 3461 §4.2: an rfc822 address is printable US-ASCII.
  EXPECT_EQ(err("rfc822",
                "b\xC3\xB6"
                "b@example.org"),
            FormatError::BadValue);
  EXPECT_EQ(err("RFC822", "a\r\n@b"), FormatError::BadValue);
  // utf-8: must be UTF-8, and CR/LF have no HEXPOINT.
  EXPECT_EQ(err("utf-8", "\xC3"), FormatError::BadValue);
  EXPECT_EQ(err("UTF-8", "a\nb@x"), FormatError::BadValue);
  EXPECT_EQ(err("rfc822", "ok@example.org"), std::nullopt);
}

TEST(EncodeUtf8AddrXtext, ExactForms) {
  auto enc = [](std::string_view s) { return encode_utf8_addr_xtext(s); };
  EXPECT_EQ(enc("user@example.org"), "user@example.org");
  EXPECT_EQ(enc("a+b=c\\d"), "a\\x{2B}b\\x{3D}c\\x{5C}d");
  EXPECT_EQ(enc("a b\tc\x7f"), "a\\x{20}b\\x{09}c\\x{7F}");
  EXPECT_EQ(enc("\x01\x19"), "\\x{01}\\x{19}");
  EXPECT_EQ(enc("\xC3\xBC"), "\\x{FC}");              // U+00FC: two digits
  EXPECT_EQ(enc("\xC4\x80"), "\\x{100}");             // U+0100: three
  EXPECT_EQ(enc("\xE2\x82\xAC"), "\\x{20AC}");        // U+20AC: four
  EXPECT_EQ(enc("\xF0\x9F\x98\x80"), "\\x{1F600}");   // U+1F600: five
  EXPECT_EQ(enc("\xF4\x8F\xBF\xBF"), "\\x{10FFFF}");  // U+10FFFF: six
}

TEST(EncodeUtf8AddrXtext, RefusesWhatHexpointCannotExpress) {
  for (const std::string bad : {std::string(), std::string(1, '\0'), std::string("\n"),
                                std::string("\r"), std::string("\x0b"), std::string("\x0f"),
                                std::string("\x1a"), std::string("\x1f"), std::string("\xC3"),
                                std::string("\xED\xA0\x80"),  // a surrogate
                                std::string("\xC0\xAF")})     // an overlong "/"
    EXPECT_EQ(encode_utf8_addr_xtext(bad), std::nullopt) << ::testing::PrintToString(bad);
}

TEST(EncodeUtf8AddrXtext, DecodeInvertsEncodeForEveryAsciiCodePointAndSamples) {
  std::vector<std::string> inputs;
  for (int c = 1; c < 0x80; ++c) inputs.emplace_back(1, static_cast<char>(c));
  inputs.push_back("\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBD\xF0\x90\x80\x80");
  inputs.push_back("Ren\xC3\xA9+tag@caf\xC3\xA9.example");
  int encoded = 0;
  for (const std::string& in : inputs) {
    const auto x = encode_utf8_addr_xtext(in);
    if (!x) continue;  // the controls without a HEXPOINT (checked above)
    ++encoded;
    for (const char c : *x) EXPECT_TRUE(c > ' ' && c < 0x7f && c != '+' && c != '=') << *x;
    EXPECT_EQ(decode_utf8_addr_xtext(*x), in) << *x;
  }
  EXPECT_EQ(encoded, 127 - 12 + 2);  // 0x0A-0x0F and 0x1A-0x1F have no form
}

}  // namespace
}  // namespace taube::smtp
