// Tests for src/smtp/command_parser.cpp (RFC 5321 §4.1.1, §2.4 case-insensitivity).
#include "smtp/wire/command_parser.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace taube::smtp {
namespace {

struct VerbCase {
  std::string name;
  Verb verb;
};

const std::vector<VerbCase>& all_verbs() {
  static const std::vector<VerbCase> v = {
      {"HELO", Verb::Helo}, {"EHLO", Verb::Ehlo},         {"MAIL", Verb::Mail},
      {"RCPT", Verb::Rcpt}, {"DATA", Verb::Data},         {"BDAT", Verb::Bdat},
      {"RSET", Verb::Rset}, {"NOOP", Verb::Noop},         {"QUIT", Verb::Quit},
      {"VRFY", Verb::Vrfy}, {"EXPN", Verb::Expn},         {"HELP", Verb::Help},
      {"ETRN", Verb::Etrn}, {"STARTTLS", Verb::Starttls}, {"AUTH", Verb::Auth},
  };
  return v;
}

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// Alternating case: "MaIl".
std::string mixed(std::string s) {
  for (std::size_t i = 0; i < s.size(); ++i)
    if (i % 2 == 1 && s[i] >= 'A' && s[i] <= 'Z') s[i] = static_cast<char>(s[i] - 'A' + 'a');
  return s;
}

void PrintTo(const VerbCase& c, std::ostream* os) {
  *os << c.name;
}

class EveryVerb : public ::testing::TestWithParam<VerbCase> {};

TEST_P(EveryVerb, RecognisedInAnyCase) {
  const VerbCase& c = GetParam();
  for (const std::string& spelled : {c.name, lower(c.name), mixed(c.name)}) {
    const Command cmd = parse_command(spelled);
    EXPECT_EQ(cmd.verb, c.verb) << spelled;
    EXPECT_EQ(cmd.verb_text, spelled);
    EXPECT_EQ(cmd.argument, "");
  }
}

TEST_P(EveryVerb, WithArgument) {
  const VerbCase& c = GetParam();
  const std::string line = lower(c.name) + " some argument";
  const Command cmd = parse_command(line);
  EXPECT_EQ(cmd.verb, c.verb);
  EXPECT_EQ(cmd.argument, "some argument");
}

TEST_P(EveryVerb, PrefixOrSuffixIsUnknown) {
  const VerbCase& c = GetParam();
  EXPECT_EQ(parse_command(c.name + "X").verb, Verb::Unknown);
  EXPECT_EQ(parse_command(c.name.substr(1)).verb, Verb::Unknown);
}

TEST_P(EveryVerb, NameRoundTrips) {
  EXPECT_EQ(verb_name(GetParam().verb), GetParam().name);
}

INSTANTIATE_TEST_SUITE_P(All, EveryVerb, ::testing::ValuesIn(all_verbs()),
                         [](const auto& pi) { return pi.param.name; });

struct ArgCase {
  std::string line;
  Verb verb;
  std::string argument;
};

TEST(ParseCommand, ArgumentTrimming) {
  const ArgCase cases[] = {
      {"MAIL FROM:<a@b>", Verb::Mail, "FROM:<a@b>"},
      {"MAIL  FROM:<a@b>", Verb::Mail, "FROM:<a@b>"},
      {"MAIL FROM:<a@b>   ", Verb::Mail, "FROM:<a@b>"},
      {"MAIL\tFROM:<a@b>\t", Verb::Mail, "FROM:<a@b>"},
      {"MAIL \t FROM:<a@b> \t ", Verb::Mail, "FROM:<a@b>"},
      {"HELO client.example", Verb::Helo, "client.example"},
      {"EHLO   client.example  ", Verb::Ehlo, "client.example"},
      {"NOOP ", Verb::Noop, ""},
      {"QUIT   ", Verb::Quit, ""},
      {"DATA\t", Verb::Data, ""},
      {"VRFY John Smith", Verb::Vrfy, "John Smith"},
      {"RCPT TO:<a@b>  NOTIFY=NEVER", Verb::Rcpt, "TO:<a@b>  NOTIFY=NEVER"},
      {"BDAT 10 LAST", Verb::Bdat, "10 LAST"},
      // Non-ASCII is allowed in the argument (SMTPUTF8 addresses are checked later).
      {"MAIL FROM:<\xc3\xbc@example.org> SMTPUTF8", Verb::Mail,
       "FROM:<\xc3\xbc@example.org> SMTPUTF8"},
  };
  for (const auto& c : cases) {
    const Command cmd = parse_command(c.line);
    EXPECT_EQ(cmd.verb, c.verb) << c.line;
    EXPECT_EQ(cmd.argument, c.argument) << c.line;
  }
}

TEST(ParseCommand, UnknownVerbs) {
  for (const char* line : {"FOO", "XYZZY bar", "MAILX FROM:<a@b>", "HELLO x", "X1", "ONION",
                           "ABCDEFGHIJKLMNOP", "123", "Q"}) {
    const Command cmd = parse_command(line);
    EXPECT_EQ(cmd.verb, Verb::Unknown) << line;
    EXPECT_FALSE(cmd.verb_text.empty()) << line;
  }
}

TEST(ParseCommand, InvalidLines) {
  const std::string cases[] = {
      "",                                    // empty line
      " ",                                   // only a space
      "\t",                                  // only a tab
      " HELO x",                             // leading space: empty verb
      std::string("NO\0OP", 5),              // NUL in the verb
      std::string("NOOP \0", 6),             // NUL in the argument
      std::string("MAIL FROM:<a\0@b>", 16),  // NUL in the path
      "NOOP\rQUIT",                          // bare CR
      "NOOP\r",                              // trailing bare CR (the session strips one CR only)
      "HELO a\nb",                           // LF inside
      "\x01NOOP",                            // control octet
      "NOOP \x1b[31m",                       // escape sequence
      "NOOP \x7f",                           // DEL
      "\xc3\x9c"
      "BER x",                   // non-ASCII verb
      "M\xc3\xa4IL FROM:<a@b>",  // non-ASCII inside the verb
      "MAIL: x",                 // punctuation in the verb
      "HE-LO x",                 // punctuation in the verb
      "ABCDEFGHIJKLMNOPQ",       // absurdly long verb
  };
  for (const auto& line : cases) {
    const Command cmd = parse_command(line);
    EXPECT_EQ(cmd.verb, Verb::Invalid) << ::testing::PrintToString(line);
  }
}

TEST(ParseCommand, TabIsASeparator) {
  const Command cmd = parse_command("HELO\tclient.example");
  EXPECT_EQ(cmd.verb, Verb::Helo);
  EXPECT_EQ(cmd.argument, "client.example");
}

TEST(VerbName, UnknownAndInvalid) {
  EXPECT_EQ(verb_name(Verb::Unknown), "UNKNOWN");
  EXPECT_EQ(verb_name(Verb::Invalid), "INVALID");
}

struct PrefixCase {
  std::string arg;
  std::string prefix;
  bool ok;
  std::string rest;
};

TEST(StripKeywordPrefix, Table) {
  const PrefixCase cases[] = {
      {"FROM:<a@b>", "FROM:", true, "<a@b>"},
      {"from:<a@b>", "FROM:", true, "<a@b>"},
      {"From:<a@b>", "FROM:", true, "<a@b>"},
      {"FROM: <a@b>", "FROM:", true, "<a@b>"},
      {"FROM:    <a@b> SIZE=1", "FROM:", true, "<a@b> SIZE=1"},
      {"TO:<a@b>", "TO:", true, "<a@b>"},
      {"to: <a@b>", "TO:", true, "<a@b>"},
      {"FROM:", "FROM:", true, ""},
      {"FROM: ", "FROM:", true, ""},
      {"FROM <a@b>", "FROM:", false, "FROM <a@b>"},
      {"FRO", "FROM:", false, "FRO"},
      {"", "FROM:", false, ""},
      {"TO:<a@b>", "FROM:", false, "TO:<a@b>"},
      {"FROMM:<a@b>", "FROM:", false, "FROMM:<a@b>"},
  };
  for (const auto& c : cases) {
    std::string_view arg = c.arg;
    EXPECT_EQ(strip_keyword_prefix(arg, c.prefix), c.ok) << c.arg;
    EXPECT_EQ(arg, c.rest) << c.arg;
  }
}

}  // namespace
}  // namespace taube::smtp
