// Every command in every state (practice 3: one command table): the reply and what happens to
// the transaction.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "session_split.hpp"
#include "session_test_util.hpp"
#include "smtp/server/server_session.hpp"
#include "smtp/wire/base64.hpp"
#include "split_feed.hpp"

namespace taube::smtp {
namespace {

using testing::expect_session_split_invariant;

// ---- every command x every state ----

enum class St { Connected, Helo, Ehlo, Mail, Rcpt, BdatMid };

std::string setup_for(St s) {
  switch (s) {
    case St::Connected:
      return "";
    case St::Helo:
      return "HELO client.example\r\n";
    case St::Ehlo:
      return kEhlo;
    case St::Mail:
      return kEhlo + kMail;
    case St::Rcpt:
      return kEhlo + kMail + kRcpt;
    case St::BdatMid:
      return kEhlo + kMail + kRcpt + "BDAT 3\r\nabc";
  }
  return "";
}

const char* state_name(St s) {
  switch (s) {
    case St::Connected:
      return "Connected";
    case St::Helo:
      return "AfterHelo";
    case St::Ehlo:
      return "AfterEhlo";
    case St::Mail:
      return "AfterMail";
    case St::Rcpt:
      return "AfterRcpt";
    case St::BdatMid:
      return "BetweenBdatChunks";
  }
  return "?";
}

struct Cmd {
  const char* name;
  std::string wire;
};

const std::vector<Cmd>& commands() {
  static const std::vector<Cmd> c = {
      {"HELO", "HELO other.example\r\n"},
      {"EHLO", "EHLO other.example\r\n"},
      {"MAIL", "MAIL FROM:<carol@example.org>\r\n"},
      {"RCPT", "RCPT TO:<dave@example.org>\r\n"},
      {"DATA", "DATA\r\n"},
      // The chunk is "QUIT": it must be consumed as data whatever the verdict on BDAT.
      {"BDAT", "BDAT 4\r\nQUIT"},
      {"RSET", "RSET\r\n"},
      {"NOOP", "NOOP\r\n"},
      {"QUIT", "QUIT\r\n"},
      {"VRFY", "VRFY bob\r\n"},
      {"EXPN", "EXPN info\r\n"},
      {"HELP", "HELP\r\n"},
      {"ETRN", "ETRN example.org\r\n"},
      {"STARTTLS", "STARTTLS\r\n"},
      {"AUTH", "AUTH PLAIN\r\n"},
      {"Unknown", "FOO bar\r\n"},
      {"Invalid", std::string("NO\0OP\r\n", 7)},
  };
  return c;
}

struct Expect {
  int code;
  const char* enhanced;
  bool tx_after;  // in_transaction() after the command
};

// expectations[command][state]: Connected, Helo, Ehlo, Mail, Rcpt, BdatMid.
// T/F: transaction exists afterwards.
constexpr bool T = true, F = false;
const Expect kTable[][6] = {
    // HELO/EHLO: always accepted; in a transaction they reset it (RFC 5321 §4.1.4).
    {{250, "", F}, {250, "", F}, {250, "", F}, {250, "", F}, {250, "", F}, {250, "", F}},
    {{250, "", F}, {250, "", F}, {250, "", F}, {250, "", F}, {250, "", F}, {250, "", F}},
    // MAIL: HELO first; no nested MAIL (RFC 5321 §4.1.4, §3.3).
    {{503, "5.5.1", F},
     {250, "2.1.0", T},
     {250, "2.1.0", T},
     {503, "5.5.1", T},
     {503, "5.5.1", T},
     {503, "5.5.1", T}},
    // RCPT: needs MAIL; not after BDAT chunks have started (the envelope is complete at
    // MessageBegin, session.hpp).
    {{503, "5.5.1", F},
     {503, "5.5.1", F},
     {503, "5.5.1", F},
     {250, "2.1.5", T},
     {250, "2.1.5", T},
     {503, "5.5.1", T}},
    // DATA: needs a recipient; not in a BDAT transaction (RFC 3030 §3).
    {{503, "5.5.1", F},
     {503, "5.5.1", F},
     {503, "5.5.1", F},
     {503, "5.5.1", T},
     {354, "", T},
     {503, "5.5.1", T}},
    // BDAT: a refused chunk is consumed and fails the transaction (RFC 3030 §2).
    {{503, "5.5.1", F},
     {503, "5.5.1", F},
     {503, "5.5.1", F},
     {503, "5.5.1", F},
     {250, "2.0.0", T},
     {250, "2.0.0", T}},
    // RSET
    {{250, "2.0.0", F},
     {250, "2.0.0", F},
     {250, "2.0.0", F},
     {250, "2.0.0", F},
     {250, "2.0.0", F},
     {250, "2.0.0", F}},
    // NOOP
    {{250, "2.0.0", F},
     {250, "2.0.0", F},
     {250, "2.0.0", F},
     {250, "2.0.0", T},
     {250, "2.0.0", T},
     {250, "2.0.0", T}},
    // QUIT
    {{221, "2.0.0", F},
     {221, "2.0.0", F},
     {221, "2.0.0", F},
     {221, "2.0.0", F},
     {221, "2.0.0", F},
     {221, "2.0.0", F}},
    // VRFY (default: cannot verify, RFC 5321 §3.5.3)
    {{252, "2.5.2", F},
     {252, "2.5.2", F},
     {252, "2.5.2", F},
     {252, "2.5.2", T},
     {252, "2.5.2", T},
     {252, "2.5.2", T}},
    // EXPN (default: off)
    {{502, "5.5.1", F},
     {502, "5.5.1", F},
     {502, "5.5.1", F},
     {502, "5.5.1", T},
     {502, "5.5.1", T},
     {502, "5.5.1", T}},
    // HELP
    {{214, "2.0.0", F},
     {214, "2.0.0", F},
     {214, "2.0.0", F},
     {214, "2.0.0", T},
     {214, "2.0.0", T},
     {214, "2.0.0", T}},
    // ETRN (default: off; needs HELO first)
    {{503, "5.5.1", F},
     {502, "5.5.1", F},
     {502, "5.5.1", F},
     {502, "5.5.1", T},
     {502, "5.5.1", T},
     {502, "5.5.1", T}},
    // STARTTLS (not offered by default)
    {{502, "5.5.1", F},
     {502, "5.5.1", F},
     {502, "5.5.1", F},
     {502, "5.5.1", T},
     {502, "5.5.1", T},
     {502, "5.5.1", T}},
    // AUTH (not offered by default)
    {{502, "5.5.1", F},
     {502, "5.5.1", F},
     {502, "5.5.1", F},
     {502, "5.5.1", T},
     {502, "5.5.1", T},
     {502, "5.5.1", T}},
    // unknown verb
    {{500, "5.5.1", F},
     {500, "5.5.1", F},
     {500, "5.5.1", F},
     {500, "5.5.1", T},
     {500, "5.5.1", T},
     {500, "5.5.1", T}},
    // invalid line
    {{500, "5.5.2", F},
     {500, "5.5.2", F},
     {500, "5.5.2", F},
     {500, "5.5.2", T},
     {500, "5.5.2", T},
     {500, "5.5.2", T}},
};

struct Cell {
  std::size_t cmd;
  St state;
};

std::ostream& operator<<(std::ostream& os, const Cell& c) {
  return os << commands()[c.cmd].name << " in " << state_name(c.state);
}

std::vector<Cell> all_cells() {
  std::vector<Cell> v;
  for (std::size_t c = 0; c < commands().size(); ++c)
    for (const St s : {St::Connected, St::Helo, St::Ehlo, St::Mail, St::Rcpt, St::BdatMid})
      v.push_back({c, s});
  return v;
}

class CommandInState : public ::testing::TestWithParam<Cell> {};

TEST_P(CommandInState, ReplyAndTransaction) {
  const Cell& cell = GetParam();
  const Cmd& cmd = commands()[cell.cmd];
  const Expect& e = kTable[cell.cmd][static_cast<int>(cell.state)];
  SessionDriver d;
  d.start();
  d.feed(setup_for(cell.state));
  ASSERT_FALSE(d.session().closed());
  const auto before = d.take_replies();
  for (const auto& r : before) ASSERT_LT(r.code, 400) << "setup failed: " << r.last_line();
  d.clear_events();

  const auto rs = replies_to(d, cmd.wire);
  ASSERT_EQ(rs.size(), 1u) << "replies: " << codes(rs);
  EXPECT_EQ(rs[0].code, e.code) << rs[0].last_line();
  EXPECT_EQ(rs[0].enhanced, e.enhanced) << rs[0].last_line();
  EXPECT_EQ(d.session().in_transaction(), e.tx_after);
  EXPECT_EQ(d.session().closed(), std::string_view(cmd.name) == "QUIT");
  EXPECT_TRUE(d.unconsumed().empty());
  // A message in progress (BDAT) is aborted exactly when the transaction goes away.
  if (cell.state == St::BdatMid) {
    const auto kinds = d.event_kinds();
    const bool aborted =
        std::find(kinds.begin(), kinds.end(), EventKind::MessageAbort) != kinds.end();
    EXPECT_EQ(aborted, !e.tx_after);
  }
}

INSTANTIATE_TEST_SUITE_P(All, CommandInState, ::testing::ValuesIn(all_cells()), [](const auto& pi) {
  return std::string(commands()[pi.param.cmd].name) + "_" + state_name(pi.param.state);
});

}  // namespace
}  // namespace taube::smtp
