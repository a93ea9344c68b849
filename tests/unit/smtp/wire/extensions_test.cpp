// Tests for src/smtp/wire/extensions.cpp: the EHLO keyword set, parsed (client) and formatted
// (server), RFC 5321 §4.1.1.1.
#include "smtp/wire/extensions.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "smtp/wire/reply_parser.hpp"

namespace taube::smtp {
namespace {

ExtensionSet parse_wire(std::string_view wire) {
  ReplyParser p;
  EXPECT_EQ(p.feed(wire), wire.size());
  auto r = p.next();
  EXPECT_TRUE(r.has_value());
  return r ? ExtensionSet::parse_ehlo(r->reply) : ExtensionSet{};
}

TEST(ExtensionSet, ParsesARealEhloReply) {
  const ExtensionSet s = parse_wire(
      "250-mx.google.com at your service, [192.0.2.1]\r\n250-SIZE 157286400\r\n"
      "250-8BITMIME\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n"
      "250-CHUNKING\r\n250 SMTPUTF8\r\n");
  EXPECT_EQ(s.domain(), "mx.google.com");
  EXPECT_EQ(s.greeting(), "at your service, [192.0.2.1]");
  EXPECT_EQ(s.size_limit(), 157286400u);
  EXPECT_TRUE(s.eight_bit_mime());
  EXPECT_TRUE(s.starttls());
  EXPECT_TRUE(s.enhanced_status_codes());
  EXPECT_TRUE(s.pipelining());
  EXPECT_TRUE(s.chunking());
  EXPECT_TRUE(s.smtputf8());
  EXPECT_FALSE(s.dsn());
  EXPECT_TRUE(s.auth_mechanisms().empty());
  ASSERT_EQ(s.entries().size(), 7u);
  EXPECT_EQ(s.entries()[0], (Extension{"SIZE", "157286400"}));
  EXPECT_EQ(s.entries()[6], (Extension{"SMTPUTF8", ""}));
}

TEST(ExtensionSet, SingleLineReplyHasNoExtensions) {
  const ExtensionSet s = ExtensionSet::parse_ehlo(Reply{250, "", "mail.example.org"});
  EXPECT_EQ(s.domain(), "mail.example.org");
  EXPECT_EQ(s.greeting(), "");
  EXPECT_TRUE(s.entries().empty());
  EXPECT_FALSE(s.pipelining());
  EXPECT_EQ(s.size_limit(), 0u);
}

TEST(ExtensionSet, KeywordsAreCaseInsensitiveAndKeptAsSent) {
  const ExtensionSet s =
      ExtensionSet::parse_ehlo(Reply{250, "", "mx\npipelining\nStartTLS\nX-Vendor-Thing a=1 b"});
  EXPECT_TRUE(s.pipelining());
  EXPECT_TRUE(s.starttls());
  EXPECT_TRUE(s.has("PIPELINING"));
  EXPECT_TRUE(s.has("x-vendor-thing"));
  EXPECT_EQ(s.entries()[1].keyword, "StartTLS");
  // Unknown keywords are kept with their parameters.
  EXPECT_EQ(s.params("X-VENDOR-THING"), std::optional<std::string_view>("a=1 b"));
  EXPECT_EQ(s.params("STARTTLS"), std::optional<std::string_view>(""));
  EXPECT_FALSE(s.params("DSN").has_value());
}

TEST(ExtensionSet, SizeLimit) {
  auto size = [](std::string_view line) {
    return ExtensionSet::parse_ehlo(Reply{250, "", "mx\n" + std::string(line)}).size_limit();
  };
  EXPECT_EQ(size("SIZE 1000"), 1000u);
  EXPECT_EQ(size("size 52428800"), 52428800u);
  EXPECT_EQ(size("SIZE"), 0u);  // announced without a fixed maximum
  EXPECT_EQ(size("SIZE 0"), 0u);
  EXPECT_EQ(size("SIZE 18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(size("SIZE 18446744073709551616"), 0u);  // does not fit: unknown, treated as none
  EXPECT_EQ(size("SIZE 12x"), 0u);
  EXPECT_EQ(size("SIZE -1"), 0u);
  EXPECT_EQ(size("PIPELINING"), 0u);
}

TEST(ExtensionSet, AuthMechanismsFromEveryAuthLineIncludingTheOldEqualsForm) {
  const ExtensionSet s = ExtensionSet::parse_ehlo(Reply{
      250, "", "mx\nAUTH PLAIN LOGIN  CRAM-MD5\nAUTH=LOGIN PLAIN xoauth2\nauth scram-sha-256"});
  EXPECT_EQ(s.auth_mechanisms(),
            (std::vector<std::string>{"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "SCRAM-SHA-256"}));
  ASSERT_EQ(s.entries().size(), 3u);
  EXPECT_EQ(s.entries()[1], (Extension{"AUTH", "LOGIN PLAIN xoauth2"}));
}

TEST(ExtensionSet, LinesThatAreNotKeywordsAreSkipped) {
  const ExtensionSet s =
      ExtensionSet::parse_ehlo(Reply{250, "", "mx\n\n-BAD\nBAD_KEYWORD\n\xC3\xA9t\xC3\xA9\nDSN"});
  ASSERT_EQ(s.entries().size(), 1u);
  EXPECT_TRUE(s.dsn());
}

TEST(ExtensionSet, NonPositiveReplyIsEmpty) {
  for (const Reply& r : {Reply{502, "5.5.1", "mx\nPIPELINING"}, Reply{421, "4.3.2", "mx"},
                         Reply{220, "", "mx\nSTARTTLS"}}) {
    const ExtensionSet s = ExtensionSet::parse_ehlo(r);
    EXPECT_TRUE(s.entries().empty()) << r.code;
    EXPECT_TRUE(s.domain().empty()) << r.code;
  }
}

TEST(ExtensionSet, AddRejectsWhatWouldCorruptTheReply) {
  ExtensionSet s;
  EXPECT_TRUE(s.add("PIPELINING"));
  EXPECT_TRUE(s.add("SIZE", "1000"));
  EXPECT_TRUE(s.add("AUTH", "PLAIN LOGIN"));
  EXPECT_TRUE(s.add("8BITMIME"));
  EXPECT_FALSE(s.add("pipelining"));         // duplicate, case-insensitively
  EXPECT_FALSE(s.add(""));                   // empty keyword
  EXPECT_FALSE(s.add("-X"));                 // must start with a letter or digit
  EXPECT_FALSE(s.add("X_Y"));                // '_' is not in ehlo-keyword
  EXPECT_FALSE(s.add("X Y"));                // the keyword is one word
  EXPECT_FALSE(s.add("X\r\nRSET"));          // no line breaks
  EXPECT_FALSE(s.add("XA", "a\nb"));         // nor in the parameters
  EXPECT_FALSE(s.add("XB", " a"));           // leading SP
  EXPECT_FALSE(s.add("XC", "a "));           // trailing SP
  EXPECT_FALSE(s.add("XD", "a  b"));         // doubled SP
  EXPECT_FALSE(s.add("XE", "a\tb"));         // HT is not an ehlo-param separator
  EXPECT_FALSE(s.add("XF", "caf\xC3\xA9"));  // ehlo-param is ASCII
  EXPECT_EQ(s.entries().size(), 4u);
  EXPECT_EQ(s.ehlo_reply("mx.example.org"),
            (Reply{250, "", "mx.example.org\nPIPELINING\nSIZE 1000\nAUTH PLAIN LOGIN\n8BITMIME"}));
}

TEST(ExtensionSet, FormatThenParseGivesTheSameSet) {
  ExtensionSet s;
  ASSERT_TRUE(s.add("PIPELINING"));
  ASSERT_TRUE(s.add("SIZE", "35882577"));
  ASSERT_TRUE(s.add("AUTH", "PLAIN LOGIN SCRAM-SHA-256"));
  ASSERT_TRUE(s.add("X-EXPERIMENT", "a=b c"));
  ASSERT_TRUE(s.add("CHUNKING"));
  const std::string wire = format_reply(s.ehlo_reply("relay.example.net"));
  EXPECT_EQ(wire,
            "250-relay.example.net\r\n250-PIPELINING\r\n250-SIZE 35882577\r\n"
            "250-AUTH PLAIN LOGIN SCRAM-SHA-256\r\n250-X-EXPERIMENT a=b c\r\n250 CHUNKING\r\n");
  const ExtensionSet back = parse_wire(wire);
  EXPECT_EQ(back.domain(), "relay.example.net");
  EXPECT_EQ(back.entries(), s.entries());
  EXPECT_EQ(back.size_limit(), 35882577u);
  EXPECT_EQ(back.auth_mechanisms(), (std::vector<std::string>{"PLAIN", "LOGIN", "SCRAM-SHA-256"}));
}

// ---- The EHLO reply of today's ServerSession (src/smtp/server/server_session.cpp,
// ServerSession::reply_ehlo), rebuilt with ExtensionSet: the session can switch to it without
// changing one octet on the wire. The expected strings below are what the session sends.

struct EhloInputs {
  std::uint64_t max_message_size = 50ull * 1024 * 1024;
  bool vrfy = true;       // cfg.vrfy != VrfyMode::Disabled
  bool etrn = false;      // cfg.etrn
  bool starttls = false;  // policy.starttls && !client.tls
  bool auth = false;      // policy.auth && (client.tls || policy.plaintext_auth)
  bool scram = false;     // policy.scram
};

// The order and spelling of reply_ehlo(), one add() per line.
Reply session_ehlo(std::string_view hostname, const EhloInputs& in) {
  ExtensionSet s;
  EXPECT_TRUE(s.add("PIPELINING"));
  EXPECT_TRUE(s.add(
      "SIZE", in.max_message_size != 0 ? std::to_string(in.max_message_size) : std::string()));
  if (in.vrfy) EXPECT_TRUE(s.add("VRFY"));
  if (in.etrn) EXPECT_TRUE(s.add("ETRN"));
  if (in.starttls) EXPECT_TRUE(s.add("STARTTLS"));
  if (in.auth) EXPECT_TRUE(s.add("AUTH", in.scram ? "PLAIN LOGIN SCRAM-SHA-256" : "PLAIN LOGIN"));
  EXPECT_TRUE(s.add("ENHANCEDSTATUSCODES"));
  EXPECT_TRUE(s.add("8BITMIME"));
  EXPECT_TRUE(s.add("DSN"));
  EXPECT_TRUE(s.add("SMTPUTF8"));
  EXPECT_TRUE(s.add("CHUNKING"));
  return s.ehlo_reply(hostname);
}

TEST(ExtensionSet, MatchesServerSessionEhloWithDefaultConfig) {
  // SessionConfig{hostname "mx.test"} with ChannelPolicy{}: what server tests see today.
  EXPECT_EQ(format_reply(session_ehlo("mx.test", {})),
            "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-VRFY\r\n"
            "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n"
            "250 CHUNKING\r\n");
}

TEST(ExtensionSet, MatchesServerSessionEhloWithEverythingOffered) {
  EhloInputs in;
  in.etrn = true;
  in.starttls = true;
  in.auth = true;
  in.scram = true;
  EXPECT_EQ(format_reply(session_ehlo("mx.example.org", in)),
            "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-VRFY\r\n"
            "250-ETRN\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN SCRAM-SHA-256\r\n"
            "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n"
            "250 CHUNKING\r\n");
}

TEST(ExtensionSet, MatchesServerSessionEhloWithNoSizeLimitNoVrfyAuthWithoutScram) {
  EhloInputs in;
  in.max_message_size = 0;  // "SIZE" without a number
  in.vrfy = false;
  in.auth = true;
  EXPECT_EQ(format_reply(session_ehlo("mx.test", in)),
            "250-mx.test\r\n250-PIPELINING\r\n250-SIZE\r\n250-AUTH PLAIN LOGIN\r\n"
            "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n"
            "250 CHUNKING\r\n");
}

}  // namespace
}  // namespace taube::smtp
