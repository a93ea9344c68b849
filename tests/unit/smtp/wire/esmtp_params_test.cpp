// Tests for src/smtp/esmtp_params.cpp: MAIL/RCPT parameters (RFC 5321 §4.1.2, RFC 1870 SIZE,
// RFC 6152 BODY, RFC 6531 SMTPUTF8, RFC 3461 DSN) and xtext.
#include "smtp/wire/esmtp_params.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace taube::smtp {
namespace {

const ParamPolicy kEsmtp{};
const ParamPolicy kHelo{false, true, true, true, false};

// Expected outcome of a parse: success, or a reply code + enhanced code.
struct Outcome {
  int code = 0;  // 0: success
  std::string enhanced;
};

struct ParamCase {
  std::string params;
  Outcome expect;
};

void PrintTo(const ParamCase& c, std::ostream* os) {
  *os << ::testing::PrintToString(c.params);
}

const Outcome Ok{};
const Outcome Syntax{501, "5.5.4"};
const Outcome Unknown{555, "5.5.4"};

template <class T>
void expect_outcome(const tl::expected<T, Reply>& r, const Outcome& o, const std::string& in) {
  if (o.code == 0) {
    EXPECT_TRUE(r.has_value()) << in << " -> " << (r ? "" : format_reply(r.error()));
  } else {
    ASSERT_FALSE(r.has_value()) << in << " was accepted";
    EXPECT_EQ(r.error().code, o.code) << in << " -> " << format_reply(r.error());
    EXPECT_EQ(r.error().enhanced, o.enhanced) << in;
  }
}

class MailParamsTable : public ::testing::TestWithParam<ParamCase> {};

TEST_P(MailParamsTable, Outcome) {
  const auto& c = GetParam();
  expect_outcome(parse_mail_params(c.params, kEsmtp), c.expect, c.params);
}

INSTANTIATE_TEST_SUITE_P(
    All, MailParamsTable,
    ::testing::Values(
        // Empty and whitespace-only lists.
        ParamCase{"", Ok}, ParamCase{" ", Ok}, ParamCase{"   ", Ok},
        // SIZE (RFC 1870 §6: 1*20DIGIT).
        ParamCase{" SIZE=0", Ok}, ParamCase{" SIZE=1000", Ok}, ParamCase{" size=1000", Ok},
        ParamCase{" SIZE=18446744073709551615", Ok},  // 20 digits, max uint64
        ParamCase{" SIZE", Syntax}, ParamCase{" SIZE=", Syntax}, ParamCase{" SIZE=abc", Syntax},
        ParamCase{" SIZE=-1", Syntax}, ParamCase{" SIZE=+1", Syntax}, ParamCase{" SIZE=1k", Syntax},
        ParamCase{" SIZE=000000000000000000001", Syntax},
        // BODY (RFC 6152): 7BIT and 8BITMIME; BINARYMIME is not offered.
        ParamCase{" BODY=7BIT", Ok}, ParamCase{" BODY=8BITMIME", Ok},
        ParamCase{" body=8bitmime", Ok}, ParamCase{" BODY=BINARYMIME", Unknown},
        ParamCase{" BODY=8BIT", Syntax}, ParamCase{" BODY=junk", Syntax},
        ParamCase{" BODY", Syntax},
        // SMTPUTF8 (RFC 6531 §3.4) takes no value.
        ParamCase{" SMTPUTF8", Ok}, ParamCase{" smtputf8", Ok}, ParamCase{" SMTPUTF8=YES", Syntax},
        // RET (RFC 3461 §4.3).
        ParamCase{" RET=FULL", Ok}, ParamCase{" RET=HDRS", Ok}, ParamCase{" ret=hdrs", Ok},
        ParamCase{" RET=NONE", Syntax}, ParamCase{" RET", Syntax},
        // ENVID (RFC 3461 §4.4): xtext, at most 100 characters.
        ParamCase{" ENVID=QQ314159", Ok}, ParamCase{" ENVID=a+2Bb", Ok},
        ParamCase{" ENVID=" + std::string(100, 'x'), Ok},
        ParamCase{" ENVID=" + std::string(101, 'x'), Syntax}, ParamCase{" ENVID=a+2", Syntax},
        ParamCase{" ENVID=a+ZZ", Syntax}, ParamCase{" ENVID=+", Syntax},
        ParamCase{" ENVID", Syntax},
        // Everything together, any order, extra spaces.
        ParamCase{" SIZE=10 BODY=8BITMIME SMTPUTF8 RET=FULL ENVID=x", Ok},
        ParamCase{"  ENVID=x   RET=HDRS  SIZE=1  ", Ok},
        // Unknown and unadvertised keywords (RFC 5321 §4.1.1.11): 555 5.5.4.
        ParamCase{" FOO", Unknown}, ParamCase{" FOO=bar", Unknown}, ParamCase{" X-FOO=1", Unknown},
        ParamCase{" AUTH=<>", Unknown}, ParamCase{" NOTIFY=NEVER", Unknown},
        ParamCase{" ORCPT=rfc822;a@b", Unknown},
        // Duplicates are a syntax error (RFC 5321 §4.1.2 permits each keyword once).
        ParamCase{" SIZE=1 SIZE=2", Syntax}, ParamCase{" BODY=7BIT body=7BIT", Syntax},
        ParamCase{" SMTPUTF8 SMTPUTF8", Syntax}, ParamCase{" RET=FULL RET=FULL", Syntax},
        // Malformed keywords and values (esmtp-keyword, esmtp-value).
        ParamCase{" =10", Syntax}, ParamCase{" -X=1", Syntax}, ParamCase{" SI_ZE=1", Syntax},
        ParamCase{" SIZE==1", Syntax}, ParamCase{" SIZE=1=2", Syntax},
        ParamCase{" FOO=a\tb", Syntax}, ParamCase{std::string(" FOO=a\x7f"), Syntax}),
    [](const auto& pi) { return "Case" + std::to_string(pi.index); });

TEST(MailParams, Values) {
  const auto r =
      parse_mail_params(" SIZE=12345 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=ab+2Bcd+3D", kEsmtp);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->size, 12345u);
  EXPECT_EQ(r->body, BodyType::EightBitMime);
  EXPECT_TRUE(r->smtputf8);
  EXPECT_EQ(r->ret, DsnRet::Headers);
  EXPECT_EQ(r->envid, "ab+cd=");
  EXPECT_FALSE(r->auth.has_value());
}

TEST(MailParams, Defaults) {
  const auto r = parse_mail_params("", kEsmtp);
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->size.has_value());
  EXPECT_EQ(r->body, BodyType::SevenBit);
  EXPECT_FALSE(r->smtputf8);
  EXPECT_FALSE(r->ret.has_value());
  EXPECT_FALSE(r->envid.has_value());
}

TEST(MailParams, BinaryMimeNamesTheParameter) {
  const auto r = parse_mail_params(" BODY=BINARYMIME", kEsmtp);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(format_reply(r.error()), "555 5.5.4 Unsupported parameter: BODY=BINARYMIME\r\n");
}

TEST(MailParams, UnknownNamesTheKeyword) {
  const auto r = parse_mail_params(" x-foo=1", kEsmtp);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(format_reply(r.error()), "555 5.5.4 Unsupported parameter: X-FOO\r\n");
}

// After HELO no service extension was negotiated: every parameter is 555 (RFC 5321 §4.1.1.11).
TEST(MailParams, NothingAcceptedAfterHelo) {
  for (const char* p : {" SIZE=10", " BODY=8BITMIME", " SMTPUTF8", " RET=FULL", " ENVID=x"}) {
    expect_outcome(parse_mail_params(p, kHelo), Unknown, p);
  }
  expect_outcome(parse_mail_params("", kHelo), Ok, "(empty)");
}

TEST(MailParams, PolicySwitchesOffExtensions) {
  ParamPolicy p;
  p.dsn = false;
  expect_outcome(parse_mail_params(" RET=FULL", p), Unknown, "RET without DSN");
  expect_outcome(parse_mail_params(" ENVID=x", p), Unknown, "ENVID without DSN");
  p = ParamPolicy{};
  p.smtputf8 = false;
  expect_outcome(parse_mail_params(" SMTPUTF8", p), Unknown, "SMTPUTF8 off");
  p = ParamPolicy{};
  p.eight_bit_mime = false;
  expect_outcome(parse_mail_params(" BODY=8BITMIME", p), Unknown, "8BITMIME off");
  p = ParamPolicy{};
  p.auth = true;
  const auto r = parse_mail_params(" AUTH=<>", p);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->auth, "<>");
  expect_outcome(parse_mail_params(" AUTH", p), Syntax, "AUTH without value");
}

// ---- RCPT ----

class RcptParamsTable : public ::testing::TestWithParam<ParamCase> {};

TEST_P(RcptParamsTable, Outcome) {
  const auto& c = GetParam();
  expect_outcome(parse_rcpt_params(c.params, kEsmtp), c.expect, c.params);
}

INSTANTIATE_TEST_SUITE_P(
    All, RcptParamsTable,
    ::testing::Values(
        ParamCase{"", Ok},
        // NOTIFY (RFC 3461 §4.1): NEVER alone, or a list of SUCCESS/FAILURE/DELAY.
        ParamCase{" NOTIFY=NEVER", Ok}, ParamCase{" NOTIFY=SUCCESS", Ok},
        ParamCase{" NOTIFY=SUCCESS,FAILURE,DELAY", Ok}, ParamCase{" notify=delay,success", Ok},
        ParamCase{" NOTIFY=NEVER,SUCCESS", Syntax}, ParamCase{" NOTIFY=FAILURE,NEVER", Syntax},
        ParamCase{" NOTIFY=SUCCESS,SUCCESS", Syntax}, ParamCase{" NOTIFY=SUCCESS,", Syntax},
        ParamCase{" NOTIFY=,SUCCESS", Syntax}, ParamCase{" NOTIFY=ALWAYS", Syntax},
        ParamCase{" NOTIFY", Syntax}, ParamCase{" NOTIFY=NEVER NOTIFY=NEVER", Syntax},
        // ORCPT (RFC 3461 §4.2): addr-type ";" xtext.
        ParamCase{" ORCPT=rfc822;bob@example.org", Ok},
        ParamCase{" ORCPT=RFC822;bob+40example.org", Ok},
        ParamCase{" ORCPT=rfc822;a+2Bb@example.org", Ok}, ParamCase{" ORCPT=rfc822;", Syntax},
        ParamCase{" ORCPT=;bob@example.org", Syntax}, ParamCase{" ORCPT=rfc822", Syntax},
        ParamCase{" ORCPT=rfc822;a+ZZ", Syntax}, ParamCase{" ORCPT=rfc822;a+4", Syntax},
        ParamCase{" ORCPT=rf_c;a", Syntax}, ParamCase{" ORCPT", Syntax},
        ParamCase{" ORCPT=rfc822;" + std::string(500, 'a'), Ok},
        ParamCase{" ORCPT=rfc822;" + std::string(501, 'a'), Syntax},
        // Together.
        ParamCase{" NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.org", Ok},
        // MAIL parameters are unknown on RCPT.
        ParamCase{" SIZE=10", Unknown}, ParamCase{" SMTPUTF8", Unknown},
        ParamCase{" RET=FULL", Unknown}, ParamCase{" FOO", Unknown}),
    [](const auto& pi) { return "Case" + std::to_string(pi.index); });

TEST(RcptParams, NotifyFlags) {
  auto r = parse_rcpt_params(" NOTIFY=SUCCESS,DELAY", kEsmtp);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->notify, unsigned{NotifySuccess | NotifyDelay});
  r = parse_rcpt_params(" NOTIFY=never", kEsmtp);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->notify, unsigned{NotifyNever});
  r = parse_rcpt_params("", kEsmtp);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->notify, 0u);
}

TEST(RcptParams, OrcptIsDecoded) {
  const auto r = parse_rcpt_params(" ORCPT=RFC822;bob+2Bfilter+40example.org", kEsmtp);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->orcpt_type, "rfc822");
  EXPECT_EQ(r->orcpt_address, "bob+filter@example.org");
}

// RFC 6533 §3: for addr-type "utf-8" the value is utf-8-addr-xtext, which carries raw UTF-8
// (QCHAR includes UTF8-2/3/4) and "\x{HEX}" escapes. esmtp_params.cpp says it supports RFC 6533,
// but it decodes every type as plain xtext and so refuses a UTF-8 original recipient.
TEST(RcptParams, OrcptUtf8AddrTypeAcceptsUtf8) {
  const auto r = parse_rcpt_params(" ORCPT=utf-8;us\xc3\xa9r@example.org", kEsmtp);
  ASSERT_TRUE(r.has_value()) << format_reply(r.error());
  EXPECT_EQ(r->orcpt_type, "utf-8");
  EXPECT_EQ(r->orcpt_address, "us\xc3\xa9r@example.org");
  const auto e = parse_rcpt_params(" ORCPT=utf-8;us\\x{E9}r@example.org", kEsmtp);
  ASSERT_TRUE(e.has_value()) << format_reply(e.error());
  EXPECT_EQ(e->orcpt_address, "us\xc3\xa9r@example.org");
}

TEST(RcptParams, NothingAcceptedAfterHelo) {
  for (const char* p : {" NOTIFY=NEVER", " ORCPT=rfc822;a@b"})
    expect_outcome(parse_rcpt_params(p, kHelo), Unknown, p);
}

// ---- xtext (RFC 3461 §4) ----

TEST(Xtext, Decode) {
  struct {
    std::string in;
    std::optional<std::string> out;
  } const cases[] = {
      {"", std::string()},
      {"abc", std::string("abc")},
      {"a+2Bb", std::string("a+b")},
      {"a+3Db", std::string("a=b")},
      {"+20", std::string(" ")},
      {"+2b", std::string("+")},  // lowercase hex tolerated
      {"+C3+BC", std::string("\xc3\xbc")},
      {"!~", std::string("!~")},
      {"+", std::nullopt},
      {"+2", std::nullopt},
      {"+G0", std::nullopt},
      {"+-1", std::nullopt},
      {"a=b", std::nullopt},
      {"a b", std::nullopt},
      {"\xc3\xbc", std::nullopt},
      {std::string("a\x7f"), std::nullopt},
  };
  for (const auto& c : cases) EXPECT_EQ(decode_xtext(c.in), c.out) << c.in;
}

TEST(Xtext, Encode) {
  EXPECT_EQ(encode_xtext("abc"), "abc");
  EXPECT_EQ(encode_xtext("a+b=c d"), "a+2Bb+3Dc+20d");
  EXPECT_EQ(encode_xtext("\xc3\xbc"), "+C3+BC");
  EXPECT_EQ(encode_xtext(std::string("\0\r\n", 3)), "+00+0D+0A");
  EXPECT_EQ(encode_xtext(""), "");
}

TEST(Xtext, RoundTripsEveryOctet) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  const std::string enc = encode_xtext(all);
  for (const char c : enc) {
    const auto u = static_cast<unsigned char>(c);
    EXPECT_TRUE(u >= 33 && u <= 126 && u != '=') << int{u};
  }
  EXPECT_EQ(decode_xtext(enc), all);
  EXPECT_EQ(decode_xtext(encode_xtext("bob+tag=x@example.org")), "bob+tag=x@example.org");
}

}  // namespace
}  // namespace taube::smtp
