// Tests for src/smtp/address.cpp: paths and mailboxes (RFC 5321 §4.1.2, §4.1.3, §4.5.3.1; RFC 6531
// §3.3 for UTF-8).
#include "smtp/wire/address.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace taube::smtp {
namespace {

constexpr auto Rev = PathKind::ReversePath;
constexpr auto Fwd = PathKind::ForwardPath;

// A syntactically valid domain of exactly `len` octets (labels of at most 63).
std::string domain_of(std::size_t len) {
  std::string d;
  while (len - d.size() > 63) d += std::string(62, 'a') + ".";
  d += std::string(len - d.size(), 'b');
  return d;
}

struct PathCase {
  std::string name;
  std::string input;
  PathKind kind = Rev;
  bool utf8 = false;
  // Expected: either an error or the parsed parts.
  std::optional<AddressError> error;
  std::string local;
  std::string domain;
  bool literal = false;
  bool null = false;
  std::string rest;
};

std::ostream& operator<<(std::ostream& os, const PathCase& c) {
  return os << c.name;
}

PathCase ok(std::string name, std::string in, PathKind kind, std::string local, std::string domain,
            std::string rest = "", bool utf8 = false) {
  PathCase c;
  c.name = std::move(name);
  c.input = std::move(in);
  c.kind = kind;
  c.utf8 = utf8;
  c.local = std::move(local);
  c.domain = std::move(domain);
  c.literal = c.domain.starts_with("[");
  c.rest = std::move(rest);
  return c;
}

PathCase bad(std::string name, std::string in, AddressError e, PathKind kind = Rev,
             bool utf8 = false) {
  PathCase c;
  c.name = std::move(name);
  c.input = std::move(in);
  c.kind = kind;
  c.utf8 = utf8;
  c.error = e;
  return c;
}

PathCase null_path(std::string name, std::string in, std::string rest) {
  PathCase c;
  c.name = std::move(name);
  c.input = std::move(in);
  c.null = true;
  c.rest = std::move(rest);
  return c;
}

const auto Syn = AddressError::Syntax;
const auto Long = AddressError::TooLong;
const auto NoUtf8 = AddressError::Utf8NotAllowed;

std::vector<PathCase> path_cases() {
  const std::string l64(64, 'l');
  const std::string l65(65, 'l');
  return {
      // The null reverse-path, only for MAIL (RFC 5321 §4.1.1.2).
      null_path("NullPath", "<>", ""),
      null_path("NullPathWithParams", "<> SIZE=10", " SIZE=10"),
      bad("NullPathNotForRcpt", "<>", Syn, Fwd),
      // <postmaster> without domain, only for RCPT, any case (RFC 5321 §4.1.1.3).
      ok("PostmasterLower", "<postmaster>", Fwd, "postmaster", ""),
      ok("PostmasterUpper", "<POSTMASTER>", Fwd, "postmaster", ""),
      ok("PostmasterMixed", "<PostMaster> NOTIFY=NEVER", Fwd, "postmaster", "", " NOTIFY=NEVER"),
      ok("PostmasterUnbracketed", "Postmaster", Fwd, "postmaster", ""),
      bad("PostmasterNotForMail", "<postmaster>", Syn, Rev),
      ok("PostmasterWithDomainIsOrdinary", "<postmaster@example.org>", Fwd, "postmaster",
         "example.org"),
      // Ordinary mailboxes; case is preserved (RFC 5321 §2.4).
      ok("Simple", "<alice@example.org>", Rev, "alice", "example.org"),
      ok("SimpleRcpt", "<alice@example.org>", Fwd, "alice", "example.org"),
      ok("CasePreserved", "<Alice.Smith@Example.ORG>", Rev, "Alice.Smith", "Example.ORG"),
      ok("AllAtext", "<a!#$%&'*+-/=?^_`{|}~z@example.org>", Rev, "a!#$%&'*+-/=?^_`{|}~z",
         "example.org"),
      ok("DottedLocal", "<a.b.c@sub.example.org>", Rev, "a.b.c", "sub.example.org"),
      ok("Hyphens", "<u@a-b.x-y.example>", Rev, "u", "a-b.x-y.example"),
      ok("NumericLabels", "<u@1.2.3.4>", Rev, "u", "1.2.3.4"),
      ok("ALabel", "<u@xn--bcher-kva.example>", Rev, "u", "xn--bcher-kva.example"),
      ok("Minimal", "<u@e>", Rev, "u", "e"),
      ok("Params", "<a@b.c> SIZE=1 BODY=8BITMIME", Rev, "a", "b.c", " SIZE=1 BODY=8BITMIME"),
      // Source routes are accepted and ignored (RFC 5321 §4.1.2, Appendix C).
      ok("SourceRoute1", "<@relay.example:user@c.example>", Fwd, "user", "c.example"),
      ok("SourceRoute2", "<@a.example,@b.example:user@c.example>", Rev, "user", "c.example"),
      ok("SourceRouteLiteral", "<@[192.0.2.1]:user@c.example>", Fwd, "user", "c.example"),
      ok("SourceRouteToPostmaster", "<@a.example:postmaster>", Fwd, "postmaster", ""),
      bad("SourceRouteNoColon", "<@a.example,user@c.example>", Syn),
      bad("SourceRouteEmptyDomain", "<@:user@c.example>", Syn),
      bad("SourceRouteBadDomain", "<@bad_dom:user@c.example>", Syn),
      bad("SourceRouteMissingAt", "<@a.example,b.example:user@c.example>", Syn),
      bad("SourceRouteNoMailbox", "<@a.example:>", Syn),
      // Quoted local parts (RFC 5321 §4.1.2 Quoted-string, quoted-pairSMTP).
      ok("QuotedSpace", "<\"john doe\"@example.org>", Rev, "john doe", "example.org"),
      ok("QuotedEscapedQuote", "<\"a\\\"b\"@example.org>", Rev, "a\"b", "example.org"),
      ok("QuotedEscapedBackslash", "<\"a\\\\b\"@example.org>", Rev, "a\\b", "example.org"),
      ok("QuotedNeedlessEscape", "<\"\\a\"@example.org>", Rev, "a", "example.org"),
      ok("QuotedAt", "<\"a@b\"@example.org>", Rev, "a@b", "example.org"),
      ok("QuotedAngle", "<\"a>b\"@example.org>", Rev, "a>b", "example.org"),
      ok("QuotedEmpty", "<\"\"@example.org>", Rev, "", "example.org"),
      ok("QuotedDots", "<\"..a..\"@example.org>", Rev, "..a..", "example.org"),
      bad("QuotedUnterminated", "<\"abc@example.org>", Syn),
      bad("QuotedUnterminatedEscape", "<\"abc\\", Syn),
      bad("QuotedControlChar", std::string("<\"a\x01z\"@example.org>"), Syn),
      bad("QuotedTab", "<\"a\tb\"@example.org>", Syn),
      bad("QuotedEscapedControl", std::string("<\"a\\\x01\"@example.org>"), Syn),
      bad("QuotedThenJunk", "<\"a\"b@example.org>", Syn),
      // Address literals (RFC 5321 §4.1.3).
      ok("Ipv4Literal", "<user@[192.0.2.1]>", Rev, "user", "[192.0.2.1]"),
      ok("Ipv4LiteralMax", "<user@[255.255.255.255]>", Rev, "user", "[255.255.255.255]"),
      ok("Ipv6Literal", "<user@[IPv6:2001:db8::1]>", Rev, "user", "[IPv6:2001:db8::1]"),
      ok("Ipv6Loopback", "<user@[IPv6:::1]>", Rev, "user", "[IPv6:::1]"),
      ok("Ipv6Full", "<user@[IPv6:1:2:3:4:5:6:7:8]>", Rev, "user", "[IPv6:1:2:3:4:5:6:7:8]"),
      ok("Ipv6TrailingCompression", "<user@[IPv6:fe80::]>", Rev, "user", "[IPv6:fe80::]"),
      ok("Ipv6V4Mapped", "<user@[IPv6:::ffff:192.0.2.1]>", Rev, "user", "[IPv6:::ffff:192.0.2.1]"),
      ok("Ipv6V4Full", "<user@[IPv6:1:2:3:4:5:6:192.0.2.1]>", Rev, "user",
         "[IPv6:1:2:3:4:5:6:192.0.2.1]"),
      ok("Ipv6TagAnyCase", "<user@[ipv6:::1]>", Rev, "user", "[ipv6:::1]"),
      ok("GeneralLiteral", "<user@[x-tag:some-thing]>", Rev, "user", "[x-tag:some-thing]"),
      bad("Ipv4ThreeParts", "<a@[1.2.3]>", Syn),
      bad("Ipv4Octet256", "<a@[1.2.3.256]>", Syn),
      bad("Ipv4FiveParts", "<a@[1.2.3.4.5]>", Syn),
      bad("Ipv4FourDigits", "<a@[1.2.3.0004]>", Syn),
      bad("Ipv6TwoCompressions", "<a@[IPv6:1::2::3]>", Syn),
      bad("Ipv6LongGroup", "<a@[IPv6:12345::1]>", Syn),
      bad("Ipv6NonHex", "<a@[IPv6:g::1]>", Syn),
      bad("Ipv6SevenGroups", "<a@[IPv6:1:2:3:4:5:6:7]>", Syn),
      bad("Ipv6NineGroups", "<a@[IPv6:1:2:3:4:5:6:7:8:9]>", Syn),
      bad("Ipv6LeadingSingleColon", "<a@[IPv6::1:2:3:4:5:6:7]>", Syn),
      bad("Ipv6TrailingSingleColon", "<a@[IPv6:1:2:3:4:5:6:7:]>", Syn),
      bad("Ipv6Empty", "<a@[IPv6:]>", Syn),
      bad("EmptyLiteral", "<a@[]>", Syn),
      bad("LiteralWithoutTag", "<a@[foo]>", Syn),
      bad("GeneralLiteralEmptyContent", "<a@[tag:]>", Syn),
      bad("GeneralLiteralBadTag", "<a@[t_g:x]>", Syn),
      bad("LiteralUnterminated", "<a@[1.2.3.4>", Syn),
      // Malformed paths.
      bad("Empty", "", Syn),
      bad("LoneBracket", "<", Syn),
      bad("NoAt", "<alice>", Syn),
      bad("NoAtUnbracketed", "alice", Syn),
      bad("EmptyLocal", "<@example.org>", Syn),
      bad("EmptyDomain", "<alice@>", Syn),
      bad("OnlyAt", "<@>", Syn),
      bad("DoubleDotLocal", "<a..b@example.org>", Syn),
      bad("LeadingDotLocal", "<.a@example.org>", Syn),
      bad("TrailingDotLocal", "<a.@example.org>", Syn),
      bad("DoubleDotDomain", "<a@example..org>", Syn),
      bad("LeadingDotDomain", "<a@.example.org>", Syn),
      bad("TrailingDotDomain", "<a@example.org.>", Syn),
      bad("LeadingHyphenLabel", "<a@-example.org>", Syn),
      bad("TrailingHyphenLabel", "<a@example-.org>", Syn),
      bad("UnderscoreInDomain", "<a@exa_mple.org>", Syn),
      bad("Label64", "<a@" + std::string(64, 'x') + ".org>", Syn),
      bad("SpaceInLocal", "<a b@example.org>", Syn),
      bad("ControlInLocal", std::string("<a\x01z@example.org>"), Syn),
      bad("NulInLocal", std::string("<a\0z@example.org>", sizeof("<a\0z@example.org>") - 1), Syn),
      bad("TwoAts", "<a@b@example.org>", Syn),
      bad("MissingClose", "<a@example.org", Syn),
      bad("UnbracketedTwoAts", "a@b@example.org", Syn),
      bad("UnbracketedWithClose", "a@example.org>", Syn),
      bad("SpaceBeforeClose", "<a@example.org >", Syn),
      // The lenient unbracketed form (like Postfix strict_rfc821_envelopes=no).
      ok("Unbracketed", "alice@example.org", Rev, "alice", "example.org"),
      ok("UnbracketedRest", "alice@example.org SIZE=10", Rev, "alice", "example.org", " SIZE=10"),
      ok("UnbracketedRcpt", "bob@example.org NOTIFY=NEVER", Fwd, "bob", "example.org",
         " NOTIFY=NEVER"),
      // UTF-8 only with SMTPUTF8 (RFC 6531 §3.3, §3.5).
      ok("Utf8Local", "<\xc3\xbc@example.org>", Rev, "\xc3\xbc", "example.org", "", true),
      ok("Utf8Domain",
         "<u@b\xc3\xbc"
         "cher.example>",
         Fwd, "u",
         "b\xc3\xbc"
         "cher.example",
         "", true),
      ok("Utf8Cjk", "<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.example>", Rev,
         "\xe7\x94\xa8\xe6\x88\xb7", "\xe4\xbe\x8b\xe5\xad\x90.example", "", true),
      ok("Utf8FourByte", "<\xf0\x9f\x98\x80@example.org>", Rev, "\xf0\x9f\x98\x80", "example.org",
         "", true),
      ok("Utf8Quoted", "<\"\xc3\xbc \xc3\xbc\"@example.org>", Rev, "\xc3\xbc \xc3\xbc",
         "example.org", "", true),
      ok("Utf8Unbracketed", "\xc3\xbc@example.org", Fwd, "\xc3\xbc", "example.org", "", true),
      bad("Utf8LocalWithoutSmtputf8", "<\xc3\xbc@example.org>", NoUtf8, Rev),
      bad("Utf8DomainWithoutSmtputf8",
          "<u@b\xc3\xbc"
          "cher.example>",
          NoUtf8, Fwd),
      bad("Utf8QuotedWithoutSmtputf8", "<\"\xc3\xbc\"@example.org>", NoUtf8, Rev),
      bad("Utf8UnbracketedWithoutSmtputf8", "\xc3\xbc@example.org", NoUtf8, Fwd),
      bad("Utf8Truncated", "<\xc3@example.org>", Syn, Rev, true),
      bad("Utf8TruncatedAtEnd", "<u@example\xc3>", Syn, Rev, true),
      bad("Utf8Overlong", "<\xc0\xaf@example.org>", Syn, Rev, true),
      bad("Utf8Overlong3", "<\xe0\x80\xaf@example.org>", Syn, Rev, true),
      bad("Utf8Surrogate", "<\xed\xa0\x80@example.org>", Syn, Rev, true),
      bad("Utf8BeyondMax", "<\xf4\x90\x80\x80@example.org>", Syn, Rev, true),
      bad("Utf8LoneContinuation", "<\x80@example.org>", Syn, Rev, true),
      bad("Utf8InvalidLead", "<\xff@example.org>", Syn, Rev, true),
      bad("Utf8MalformedEvenWithoutSmtputf8", "<\xc3@example.org>", Syn, Rev, false),
      // Limits (RFC 5321 §4.5.3.1): local part 64, path 256 including the brackets.
      ok("LocalPart64", "<" + l64 + "@example.org>", Rev, l64, "example.org"),
      bad("LocalPart65", "<" + l65 + "@example.org>", Long, Rev),
      ok("QuotedLocalPart64Wire", "<\"" + std::string(62, 'q') + "\"@example.org>", Rev,
         std::string(62, 'q'), "example.org"),
      bad("QuotedLocalPart65Wire", "<\"" + std::string(63, 'q') + "\"@example.org>", Long, Rev),
      ok("Path256", "<a@" + domain_of(252) + ">", Fwd, "a", domain_of(252)),
      bad("Path257", "<a@" + domain_of(253) + ">", Long, Fwd),
      ok("Path256WithLongLocal", "<" + l64 + "@" + domain_of(189) + ">", Rev, l64, domain_of(189)),
      bad("Path257WithLongLocal", "<" + l64 + "@" + domain_of(190) + ">", Long, Rev),
      bad("Path257WithSourceRoute", "<@r.example:a@" + domain_of(242) + ">", Long, Fwd),
      ok("Unbracketed254", "a@" + domain_of(252), Fwd, "a", domain_of(252)),
      bad("Unbracketed255", "a@" + domain_of(253), Long, Fwd),
  };
}

class ParsePath : public ::testing::TestWithParam<PathCase> {};

TEST_P(ParsePath, Parses) {
  const PathCase& c = GetParam();
  const auto r = parse_path(c.input, c.kind, c.utf8, Limits{});
  if (c.error) {
    ASSERT_FALSE(r.has_value()) << "parsed as <" << r->path.mailbox.to_string() << ">";
    EXPECT_EQ(static_cast<int>(r.error()), static_cast<int>(*c.error));
    return;
  }
  ASSERT_TRUE(r.has_value()) << "error " << static_cast<int>(r.error());
  EXPECT_EQ(r->path.null, c.null);
  EXPECT_EQ(r->path.mailbox.local_part, c.local);
  EXPECT_EQ(r->path.mailbox.domain, c.domain);
  EXPECT_EQ(r->path.mailbox.domain_is_literal, c.literal);
  EXPECT_EQ(r->rest, c.rest);
}

INSTANTIATE_TEST_SUITE_P(Cases, ParsePath, ::testing::ValuesIn(path_cases()),
                         [](const auto& pi) { return pi.param.name; });

// RFC 5321 §4.1.3 IPv6-comp: "No more than 6 groups in addition to the '::' may be present", and
// IPv6v4-comp allows at most 4 groups besides "::" and the IPv4 part.
TEST(ParsePathBugs, Ipv6CompressedFormAllowsAtMostSixGroups) {
  for (const char* lit : {"<a@[IPv6:1:2:3:4:5:6:7::]>", "<a@[IPv6:::1:2:3:4:5:6:7]>",
                          "<a@[IPv6:1:2:3::4:5:6:7]>", "<a@[IPv6:1:2:3:4:5::192.0.2.1]>"}) {
    const auto r = parse_path(lit, Rev, false, Limits{});
    EXPECT_FALSE(r.has_value()) << lit << " is not an RFC 5321 IPv6 address literal";
  }
  // The boundary itself is fine.
  EXPECT_TRUE(parse_path("<a@[IPv6:1:2:3:4:5:6::]>", Rev, false, Limits{}).has_value());
  EXPECT_TRUE(parse_path("<a@[IPv6:1:2:3:4::192.0.2.1]>", Rev, false, Limits{}).has_value());
}

// Limits are configurable (practice 11): N and N+1 with small custom limits.
TEST(ParsePathLimits, CustomLocalPartLimit) {
  Limits lim;
  lim.max_local_part = 5;
  EXPECT_TRUE(parse_path("<abcde@x.example>", Rev, false, lim).has_value());
  const auto r = parse_path("<abcdef@x.example>", Rev, false, lim);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), AddressError::TooLong);
}

TEST(ParsePathLimits, CustomPathLimit) {
  Limits lim;
  lim.max_path = 20;
  const std::string n = "<abc@" + domain_of(14) + ">";  // 20 octets
  ASSERT_EQ(n.size(), 20u);
  EXPECT_TRUE(parse_path(n, Fwd, false, lim).has_value());
  const auto r = parse_path("<abcd@" + domain_of(14) + ">", Fwd, false, lim);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), AddressError::TooLong);
  // The unbracketed form counts the brackets it lacks.
  EXPECT_TRUE(parse_path("abc@" + domain_of(14), Fwd, false, lim).has_value());
  EXPECT_FALSE(parse_path("abcd@" + domain_of(14), Fwd, false, lim).has_value());
}

TEST(ParsePathLimits, CustomDomainLimit) {
  Limits lim;
  lim.max_domain = 10;
  EXPECT_TRUE(parse_path("<a@" + domain_of(10) + ">", Fwd, false, lim).has_value());
  const auto r = parse_path("<a@" + domain_of(11) + ">", Fwd, false, lim);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), AddressError::TooLong);
}

// RFC 5321 §4.5.3.1.2: a domain is at most 255 octets; Limits::max_domain says so and over-long
// paths are TooLong (553) elsewhere. With a generous path limit, a 256-octet domain must be
// reported as TooLong like every other limit, not as a syntax error.
TEST(ParsePathLimits, DefaultDomainLimitAtNPlusOneIsTooLong) {
  Limits lim;
  lim.max_path = 1000;
  EXPECT_TRUE(parse_path("<a@" + domain_of(255) + ">", Fwd, false, lim).has_value());
  const auto r = parse_path("<a@" + domain_of(256) + ">", Fwd, false, lim);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(static_cast<int>(r.error()), static_cast<int>(AddressError::TooLong));
}

// ---- parse_mailbox (configuration addresses) ----

TEST(ParseMailbox, AcceptsBareMailbox) {
  const auto r = parse_mailbox("alice@example.org");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->local_part, "alice");
  EXPECT_EQ(r->domain, "example.org");
  EXPECT_FALSE(r->domain_is_literal);
}

TEST(ParseMailbox, RejectsBracketsTrailingTextAndMissingDomain) {
  for (const char* in : {"<alice@example.org>", "alice@example.org ", "alice", "alice@", "",
                         "alice@example.org>", "a..b@example.org"})
    EXPECT_FALSE(parse_mailbox(in).has_value()) << in;
}

TEST(ParseMailbox, Utf8FlagAndLimits) {
  EXPECT_TRUE(parse_mailbox("\xc3\xbc@example.org").has_value());
  const auto r = parse_mailbox("\xc3\xbc@example.org", false);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), AddressError::Utf8NotAllowed);
  const auto t = parse_mailbox(std::string(65, 'a') + "@example.org");
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error(), AddressError::TooLong);
}

TEST(ParseMailbox, Literal) {
  const auto r = parse_mailbox("u@[IPv6:::1]");
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->domain_is_literal);
  EXPECT_EQ(r->domain, "[IPv6:::1]");
}

// ---- Mailbox::to_string ----

struct ToStringCase {
  std::string local, domain, wire;
};

TEST(MailboxToString, QuotesOnlyWhenNeeded) {
  const ToStringCase cases[] = {
      {"alice", "example.org", "alice@example.org"},
      {"a.b", "example.org", "a.b@example.org"},
      {"john doe", "example.org", "\"john doe\"@example.org"},
      {"a\"b", "example.org", "\"a\\\"b\"@example.org"},
      {"a\\b", "example.org", "\"a\\\\b\"@example.org"},
      {"", "example.org", "\"\"@example.org"},
      {".a", "example.org", "\".a\"@example.org"},
      {"a.", "example.org", "\"a.\"@example.org"},
      {"a..b", "example.org", "\"a..b\"@example.org"},
      {"a@b", "example.org", "\"a@b\"@example.org"},
      {"a,b", "example.org", "\"a,b\"@example.org"},
      {"postmaster", "", "postmaster"},
      {"\xc3\xbc",
       "b\xc3\xbc"
       "cher.example",
       "\xc3\xbc@b\xc3\xbc"
       "cher.example"},
      {"u", "[192.0.2.1]", "u@[192.0.2.1]"},
  };
  for (const auto& c : cases) {
    Mailbox m{c.local, c.domain, c.domain.starts_with("[")};
    EXPECT_EQ(m.to_string(), c.wire) << c.local;
  }
}

// to_string's output parses back to the same mailbox.
TEST(MailboxToString, RoundTrips) {
  const Mailbox cases[] = {
      {"alice", "example.org", false},    {"john doe", "example.org", false},
      {"a\"b\\c", "example.org", false},  {"", "example.org", false},
      {"..x", "example.org", false},      {"u", "[192.0.2.1]", true},
      {"\xc3\xbc", "example.org", false}, {"a@b", "example.org", false},
  };
  for (const auto& m : cases) {
    const auto r = parse_path("<" + m.to_string() + ">", Fwd, true, Limits{});
    ASSERT_TRUE(r.has_value()) << m.to_string();
    EXPECT_EQ(r->path.mailbox, m) << m.to_string();
  }
}

TEST(MailboxEmpty, OnlyWhenBothPartsEmpty) {
  EXPECT_TRUE(Mailbox{}.empty());
  EXPECT_FALSE((Mailbox{"", "example.org", false}.empty()));
  EXPECT_FALSE((Mailbox{"postmaster", "", false}.empty()));
}

// ---- helpers ----

TEST(IsValidUtf8, Table) {
  struct {
    std::string s;
    bool valid;
  } const cases[] = {
      {"", true},
      {"plain ascii", true},
      {"\xc3\xbc", true},
      {"\xe2\x82\xac", true},
      {"\xf0\x9f\x98\x80", true},
      {"\xf4\x8f\xbf\xbf", true},  // U+10FFFF
      {"\xed\x9f\xbf", true},      // U+D7FF
      {"\xee\x80\x80", true},      // U+E000
      {"\xc3", false},
      {"\xe2\x82", false},
      {"\xf0\x9f\x98", false},
      {"\xc0\x80", false},          // overlong NUL
      {"\xc1\xbf", false},          // overlong
      {"\xe0\x9f\xbf", false},      // overlong 3-byte
      {"\xf0\x8f\xbf\xbf", false},  // overlong 4-byte
      {"\xed\xa0\x80", false},      // U+D800
      {"\xed\xbf\xbf", false},      // U+DFFF
      {"\xf4\x90\x80\x80", false},  // U+110000
      {"\xf8\x88\x80\x80\x80", false},
      {"\x80", false},
      {"\xc3\x28", false},
      {"a\xc3\xbc"
       "b\xff",
       false},
  };
  for (const auto& c : cases)
    EXPECT_EQ(is_valid_utf8(c.s), c.valid) << ::testing::PrintToString(c.s);
}

TEST(IsValidDomain, Table) {
  struct {
    std::string d;
    bool utf8;
    bool valid;
  } const cases[] = {
      {"example.org", false, true},
      {"a", false, true},
      {"a-b.c", false, true},
      {"xn--bcher-kva.example", false, true},
      {std::string(63, 'a') + ".org", false, true},
      {std::string(64, 'a') + ".org", false, false},
      {domain_of(255), false, true},
      {domain_of(256), false, false},
      {"", false, false},
      {".", false, false},
      {"example.org.", false, false},
      {".example.org", false, false},
      {"a..b", false, false},
      {"-a.org", false, false},
      {"a-.org", false, false},
      {"a_b.org", false, false},
      {"a b.org", false, false},
      {"b\xc3\xbc"
       "cher.example",
       false, false},
      {"b\xc3\xbc"
       "cher.example",
       true, true},
      {"b\xc3"
       "cher.example",
       true, false},
  };
  for (const auto& c : cases) EXPECT_EQ(is_valid_domain(c.d, c.utf8), c.valid) << c.d;
}

TEST(AsciiLower, FoldsOnlyAscii) {
  EXPECT_EQ(ascii_lower("AbC.Example-ORG"), "abc.example-org");
  EXPECT_EQ(ascii_lower("\xc3\x9c"), "\xc3\x9c");  // Ü untouched
  EXPECT_EQ(ascii_lower(""), "");
}

}  // namespace
}  // namespace taube::smtp
