// Tests for src/smtp/wire/command_format.cpp: client command lines (RFC 5321 §4.1.1). Each line is
// read back with the server's own parser (parse_command, parse_path, parse_*_params) and must give
// the same command, path and parameters.
#include "smtp/wire/command_format.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "smtp/wire/command_parser.hpp"
#include "split_feed.hpp"

namespace taube::smtp {
namespace {

using testing::visible;

const ParamPolicy kAll{true, true, true, true, true};

std::string ok(const tl::expected<std::string, FormatError>& r) {
  EXPECT_TRUE(r.has_value()) << (r ? "" : describe(r.error()));
  return r.value_or("");
}

std::optional<FormatError> err(const tl::expected<std::string, FormatError>& r) {
  if (r) return std::nullopt;
  return r.error();
}

// The line without its CRLF, checking that it has exactly one, at the end.
std::string_view body(std::string_view wire) {
  EXPECT_TRUE(wire.ends_with("\r\n")) << visible(wire);
  wire.remove_suffix(2);
  EXPECT_EQ(wire.find_first_of("\r\n"), std::string_view::npos) << visible(wire);
  return wire;
}

TEST(CommandFormat, FixedCommands) {
  EXPECT_EQ(format_data(), "DATA\r\n");
  EXPECT_EQ(format_rset(), "RSET\r\n");
  EXPECT_EQ(format_quit(), "QUIT\r\n");
  EXPECT_EQ(format_noop(), "NOOP\r\n");
  EXPECT_EQ(format_starttls(), "STARTTLS\r\n");
  EXPECT_EQ(format_bdat(0, true), "BDAT 0 LAST\r\n");
  EXPECT_EQ(format_bdat(1024, false), "BDAT 1024\r\n");
  EXPECT_EQ(format_bdat(UINT64_MAX, false), "BDAT 18446744073709551615\r\n");
}

TEST(CommandFormat, EveryCommandParsesBackToItsVerb) {
  const std::vector<std::pair<std::string, Verb>> lines = {
      {ok(format_helo("client.example")), Verb::Helo},
      {ok(format_ehlo("client.example")), Verb::Ehlo},
      {ok(format_mail(Path{{"a", "b.example", false}, false}, {})), Verb::Mail},
      {ok(format_rcpt(Mailbox{"c", "d.example", false}, {})), Verb::Rcpt},
      {format_data(), Verb::Data},
      {format_bdat(5, true), Verb::Bdat},
      {format_rset(), Verb::Rset},
      {format_quit(), Verb::Quit},
      {format_noop(), Verb::Noop},
      {format_starttls(), Verb::Starttls},
      {ok(format_auth("PLAIN", "AGFsaWNlAHNlY3JldA==")), Verb::Auth},
      {ok(format_etrn("example.org")), Verb::Etrn},
      {ok(format_vrfy("postmaster")), Verb::Vrfy},
  };
  for (const auto& [wire, verb] : lines) {
    const Command c = parse_command(body(wire));
    EXPECT_EQ(c.verb, verb) << visible(wire);
  }
  // LHLO is LMTP's (RFC 2033 §4.1): unknown to the SMTP parser, but a well-formed verb.
  const std::string lhlo = ok(format_lhlo("client.example"));
  EXPECT_EQ(lhlo, "LHLO client.example\r\n");
  EXPECT_EQ(parse_command(body(lhlo)).verb_text, "LHLO");
}

TEST(CommandFormat, HeloDomains) {
  EXPECT_EQ(ok(format_ehlo("mx.example.org")), "EHLO mx.example.org\r\n");
  EXPECT_EQ(ok(format_helo("[192.0.2.1]")), "HELO [192.0.2.1]\r\n");
  EXPECT_EQ(ok(format_ehlo("[IPv6:2001:db8::1]")), "EHLO [IPv6:2001:db8::1]\r\n");
  for (const std::string bad : {"", "a b", "mx.example\r\nRSET", "bad_domain.example", "-a.example",
                                "a..b", "ex\xC3\xA4mple.org", "[300.1.1.1]", "[192.0.2.1"})
    EXPECT_EQ(err(format_ehlo(bad)), FormatError::BadDomain) << visible(bad);
}

struct PathCase {
  Path path;
  bool smtputf8;
  std::string wire;  // the path as written
};

void PrintTo(const PathCase& c, std::ostream* os) {
  *os << visible(c.wire);
}

const std::vector<PathCase>& mail_paths() {
  static const std::vector<PathCase> cases = {
      {Path{{}, true}, false, "<>"},
      {Path{{"alice", "example.org", false}, false}, false, "<alice@example.org>"},
      {Path{{"first.last+tag", "sub.example.org", false}, false}, false,
       "<first.last+tag@sub.example.org>"},
      {Path{{"john doe", "example.org", false}, false}, false, "<\"john doe\"@example.org>"},
      {Path{{"a\"b\\c", "example.org", false}, false}, false, "<\"a\\\"b\\\\c\"@example.org>"},
      {Path{{".leading", "example.org", false}, false}, false, "<\".leading\"@example.org>"},
      {Path{{"a..b", "example.org", false}, false}, false, "<\"a..b\"@example.org>"},
      {Path{{"a>b", "example.org", false}, false}, false, "<\"a>b\"@example.org>"},
      {Path{{"", "example.org", false}, false}, false, "<\"\"@example.org>"},
      {Path{{"user", "[192.0.2.1]", true}, false}, false, "<user@[192.0.2.1]>"},
      {Path{{"user", "[IPv6:2001:db8::1]", true}, false}, false, "<user@[IPv6:2001:db8::1]>"},
      {Path{{"user", "[x-tag:abc]", true}, false}, false, "<user@[x-tag:abc]>"},
      {Path{{"\xCE\xB4\xCE\xBF\xCE\xBA", "\xCF\x80\xCE\xB1.example", false}, false}, true,
       "<\xCE\xB4\xCE\xBF\xCE\xBA@\xCF\x80\xCE\xB1.example>"},
      {Path{{"\xC3\xB6 \xC3\xB6", "example.org", false}, false}, true,
       "<\"\xC3\xB6 \xC3\xB6\"@example.org>"},
      {Path{{std::string(80, 'l'), "example.org", false}, false}, false,
       "<" + std::string(80, 'l') + "@example.org>"},  // over 64: the client relays it as is
  };
  return cases;
}

class MailPathRoundTrip : public ::testing::TestWithParam<PathCase> {};

TEST_P(MailPathRoundTrip, ServerParsersReadBackTheSamePathAndParams) {
  const PathCase& c = GetParam();
  std::vector<MailParams> params(3);
  params[0].smtputf8 = c.smtputf8;
  params[1].smtputf8 = c.smtputf8;
  params[1].size = 4096;
  params[1].body = BodyType::EightBitMime;
  params[2].smtputf8 = c.smtputf8;
  params[2].ret = DsnRet::Headers;
  params[2].envid = "id 1+2=3";
  params[2].auth = "<>";
  for (const MailParams& p : params) {
    const std::string wire = ok(format_mail(c.path, p));
    const auto params_text = format_mail_params(p);
    ASSERT_TRUE(params_text.has_value());
    EXPECT_EQ(wire, "MAIL FROM:" + c.wire + *params_text + "\r\n");

    const Command cmd = parse_command(body(wire));
    ASSERT_EQ(cmd.verb, Verb::Mail) << visible(wire);
    std::string_view arg = cmd.argument;
    ASSERT_TRUE(strip_keyword_prefix(arg, "FROM:"));
    Limits limits;
    limits.max_local_part = 100;  // one case relays an 80-octet local part
    const auto path = parse_path(arg, PathKind::ReversePath, p.smtputf8, limits);
    ASSERT_TRUE(path.has_value()) << visible(wire);
    EXPECT_EQ(path->path.null, c.path.null);
    EXPECT_EQ(path->path.mailbox, c.path.mailbox);
    const auto back = parse_mail_params(path->rest, kAll);
    ASSERT_TRUE(back.has_value()) << visible(wire);
    EXPECT_EQ(*back, p);
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, MailPathRoundTrip, ::testing::ValuesIn(mail_paths()));

TEST(CommandFormat, RcptRoundTripIncludingPostmaster) {
  RcptParams p;
  p.notify = NotifyFailure | NotifyDelay;
  p.orcpt_type = "rfc822";
  p.orcpt_address = "bob@example.org";
  const std::vector<std::pair<Mailbox, bool>> rcpts = {
      {{"bob", "example.org", false}, false},
      {{"john q", "example.org", false}, false},
      {{"postmaster", "", false}, false},
      {{"user", "[192.0.2.7]", true}, false},
      {{"\xC3\xB6", "\xE4\xBE\x8B\xE3\x81\x88.jp", false}, true},
  };
  for (const auto& [mb, utf8] : rcpts) {
    for (const RcptParams& params : {RcptParams{}, p}) {
      const std::string wire = ok(format_rcpt(mb, params, utf8));
      const Command cmd = parse_command(body(wire));
      ASSERT_EQ(cmd.verb, Verb::Rcpt) << visible(wire);
      std::string_view arg = cmd.argument;
      ASSERT_TRUE(strip_keyword_prefix(arg, "TO:"));
      const auto path = parse_path(arg, PathKind::ForwardPath, utf8, Limits{});
      ASSERT_TRUE(path.has_value()) << visible(wire);
      EXPECT_EQ(path->path.mailbox, mb) << visible(wire);
      const auto back = parse_rcpt_params(path->rest, kAll);
      ASSERT_TRUE(back.has_value()) << visible(wire);
      EXPECT_EQ(*back, params);
    }
  }
  EXPECT_EQ(ok(format_rcpt(Mailbox{"postmaster", "", false}, {})), "RCPT TO:<postmaster>\r\n");
  EXPECT_EQ(ok(format_rcpt(Mailbox{"PostMaster", "", false}, {})), "RCPT TO:<PostMaster>\r\n");
  EXPECT_EQ(ok(format_rcpt(Mailbox{"bob", "example.org", false},
                           RcptParams{NotifySuccess | NotifyFailure, "rfc822", "bob@example.org"})),
            "RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.org\r\n");
}

TEST(CommandFormat, Utf8AddressNeedsSmtputf8) {
  const Mailbox utf8{"\xC3\xB6", "example.org", false};
  EXPECT_EQ(err(format_mail(Path{utf8, false}, {})), FormatError::Utf8NeedsSmtputf8);
  EXPECT_EQ(err(format_rcpt(utf8, {})), FormatError::Utf8NeedsSmtputf8);
  EXPECT_EQ(err(format_rcpt(Mailbox{"a", "\xC3\xB6.example", false}, {})),
            FormatError::Utf8NeedsSmtputf8);
  MailParams p;
  p.smtputf8 = true;
  EXPECT_EQ(ok(format_mail(Path{utf8, false}, p)), "MAIL FROM:<\xC3\xB6@example.org> SMTPUTF8\r\n");
  EXPECT_TRUE(format_rcpt(utf8, {}, true).has_value());
}

TEST(CommandFormat, PathsWithoutAWireFormAreBadAddress) {
  const std::vector<Mailbox> bad = {
      {"a\r\nRSET", "example.org", false},             // CR LF: command injection
      {std::string("a\0b", 3), "example.org", false},  // NUL
      {"a\tb", "example.org", false},                  // HT is not qtextSMTP
      {"alice", "", false},                            // no domain
      {"alice", "a..b", false},                        // invalid domain
      {"alice", "ex ample.org", false},
      {"alice", "example.org>", false},
      {"alice", "[192.0.2.1]", false},  // a literal not marked as one
      {"alice", "example.org", true},   // marked as a literal but is not one
      {"alice", "[999.0.0.1]", true},
      {"\xC3", "example.org", false},  // not UTF-8 (with SMTPUTF8)
  };
  MailParams utf8;
  utf8.smtputf8 = true;
  for (const Mailbox& m : bad) {
    EXPECT_EQ(err(format_mail(Path{m, false}, utf8)), FormatError::BadAddress)
        << visible(m.local_part);
    EXPECT_EQ(err(format_rcpt(m, {}, true)), FormatError::BadAddress) << visible(m.local_part);
  }
  // <> is a reverse-path only; <postmaster> a forward-path only.
  EXPECT_EQ(err(format_path(Path{{}, true}, PathKind::ForwardPath, false)),
            FormatError::BadAddress);
  EXPECT_EQ(err(format_mail(Path{{"postmaster", "", false}, false}, {})), FormatError::BadAddress);
}

TEST(CommandFormat, ParameterErrorsPropagate) {
  MailParams mp;
  mp.envid = std::string(101, 'x');
  EXPECT_EQ(err(format_mail(Path{{}, true}, mp)), FormatError::ValueTooLong);
  RcptParams rp;
  rp.notify = NotifyNever | NotifySuccess;
  EXPECT_EQ(err(format_rcpt(Mailbox{"a", "b.example", false}, rp)), FormatError::BadValue);
}

TEST(CommandFormat, Auth) {
  EXPECT_EQ(ok(format_auth("PLAIN")), "AUTH PLAIN\r\n");
  EXPECT_EQ(ok(format_auth("PLAIN", "=")), "AUTH PLAIN =\r\n");
  EXPECT_EQ(ok(format_auth("PLAIN", "AGFsaWNlAHNlY3JldA==")),
            "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
  EXPECT_EQ(ok(format_auth("SCRAM-SHA-256", "biwsbj1hbGljZSxyPXh5eg==")),
            "AUTH SCRAM-SHA-256 biwsbj1hbGljZSxyPXh5eg==\r\n");
  EXPECT_EQ(ok(format_auth("X_MECH-2")), "AUTH X_MECH-2\r\n");
  for (const std::string mech : {"", "PL AIN", "PLAIN\r\n", "A23456789012345678901", "PL=AIN"})
    EXPECT_EQ(err(format_auth(mech)), FormatError::BadValue) << visible(mech);
  EXPECT_TRUE(format_auth("A2345678901234567890").has_value());  // 20 characters
  for (const std::string ir : {"", "abc", "ab=c", "a===", "YWJj\r\n", "YW Jj", "YWJj*AAA"})
    EXPECT_EQ(err(format_auth("PLAIN", ir)), FormatError::BadValue) << visible(ir);
}

TEST(CommandFormat, AuthLineLimitAtNAndNPlusOne) {
  ASSERT_EQ(kMaxAuthCommandLine, 512u);
  const std::string ir(500, 'A');  // base64 is a multiple of 4 octets, so vary the mechanism
  EXPECT_EQ(ok(format_auth("XYZW", ir)).size(), 512u);                 // "AUTH XYZW " + 500 + CRLF
  EXPECT_EQ(err(format_auth("XYZWV", ir)), FormatError::LineTooLong);  // 513
  // Without the initial response the same mechanism is fine: send it after the 334.
  EXPECT_TRUE(format_auth("XYZWV").has_value());
}

TEST(CommandFormat, AuthResponse) {
  EXPECT_EQ(ok(format_auth_response("dXNlcg==")), "dXNlcg==\r\n");
  EXPECT_EQ(ok(format_auth_response("")), "\r\n");  // an empty response is an empty line
  EXPECT_EQ(ok(format_auth_response("*")), "*\r\n");
  EXPECT_EQ(ok(format_auth_response(std::string(12000, 'Q'))).size(), 12002u);
  for (const std::string bad : {"dXNlcg", "dX Nl", "dXNl\r\nQUIT", "=", "**"})
    EXPECT_EQ(err(format_auth_response(bad)), FormatError::BadValue) << visible(bad);
}

TEST(CommandFormat, Etrn) {
  EXPECT_EQ(ok(format_etrn("example.org")), "ETRN example.org\r\n");
  EXPECT_EQ(ok(format_etrn("@example.org")), "ETRN @example.org\r\n");
  EXPECT_EQ(ok(format_etrn("#queue-1")), "ETRN #queue-1\r\n");
  EXPECT_EQ(ok(format_etrn("[192.0.2.1]")), "ETRN [192.0.2.1]\r\n");
  for (const std::string bad : {"", "@", "#", "# q", "a b", "a\r\n", "@bad_domain", "#q\xC3\xA9"})
    EXPECT_EQ(err(format_etrn(bad)), FormatError::BadDomain) << visible(bad);
}

TEST(CommandFormat, Vrfy) {
  EXPECT_EQ(ok(format_vrfy("postmaster")), "VRFY postmaster\r\n");
  EXPECT_EQ(ok(format_vrfy("\"John Smith\"")), "VRFY \"John Smith\"\r\n");
  EXPECT_EQ(ok(format_vrfy("<bob@example.org>")), "VRFY <bob@example.org>\r\n");
  for (const std::string bad : {"", " a", "a ", "a\r\nQUIT", "a\tb", "\xC3\xB6"})
    EXPECT_EQ(err(format_vrfy(bad)), FormatError::BadValue) << visible(bad);
}

TEST(CommandFormat, DescribeEveryError) {
  for (const FormatError e :
       {FormatError::BadDomain, FormatError::BadAddress, FormatError::Utf8NeedsSmtputf8,
        FormatError::BadValue, FormatError::ValueTooLong, FormatError::LineTooLong})
    EXPECT_NE(describe(e), "unknown format error");
}

}  // namespace
}  // namespace taube::smtp
