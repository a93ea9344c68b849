// Tests for src/smtp/session.cpp: the state machine. Every command in every state, the pause for
// decisions (practice 2), pipelining, limits at N and N+1 (practice 11), DATA/BDAT, SMTPUTF8,
// STARTTLS and AUTH. Scripts run under split_feed (practice 7) where the result must not depend
// on how the input was cut.
#include "smtp/server/server_session.hpp"

#include "smtp/wire/base64.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "session_driver.hpp"
#include "session_split.hpp"
#include "split_feed.hpp"

namespace taube::smtp {
namespace {

using testing::expect_session_split_invariant;
using testing::parse_replies;
using testing::ParsedReply;
using testing::SessionDriver;
using testing::test_config;
using testing::visible;

const std::string kEhlo = "EHLO client.example\r\n";
const std::string kMail = "MAIL FROM:<alice@example.org>\r\n";
const std::string kRcpt = "RCPT TO:<bob@example.org>\r\n";

// Feeds `input` to a started session and returns the replies it produced.
std::vector<ParsedReply> replies_to(SessionDriver& d, std::string_view input) {
  d.take_output();
  d.feed(input);
  return d.take_replies();
}

std::string codes(const std::vector<ParsedReply>& rs) {
  std::string s;
  for (const auto& r : rs) {
    if (!s.empty()) s += ",";
    s += std::to_string(r.code);
    if (!r.enhanced.empty()) s += " " + r.enhanced;
  }
  return s;
}

// Runs `input` through a fresh session and returns the reply codes ("250 2.1.0,354,...").
std::string run_codes(std::string_view input, const SessionConfig& cfg = test_config()) {
  SessionDriver d(cfg);
  d.start();
  return codes(replies_to(d, input));
}

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

// ---- greeting, EHLO ----

TEST(Session, GreetingComesFirst) {
  SessionDriver d;
  EXPECT_EQ(d.session().receive(std::string_view("NOOP\r\n")), 0u) << "nothing before start()";
  d.start();
  EXPECT_EQ(d.take_output(), "220 mx.test ESMTP Taube\r\n");
  d.session().start();  // idempotent
  EXPECT_EQ(d.session().output(), "");
}

TEST(Session, RejectConnectionBeforeStart) {
  SessionDriver d;
  d.session().reject_connection(ReplyId::TooManyConnections);
  d.start();
  EXPECT_EQ(d.take_output(), "421 4.7.0 mx.test Error: too many connections, try again later\r\n");
  EXPECT_TRUE(d.session().closed());
  EXPECT_EQ(d.event_kinds(), std::vector<EventKind>{EventKind::Close});
}

std::vector<std::string> ehlo_lines(SessionConfig cfg, ChannelPolicy policy = {}) {
  SessionDriver d(std::move(cfg), {}, policy);
  d.start();
  const auto rs = replies_to(d, kEhlo);
  EXPECT_EQ(rs.size(), 1u);
  std::vector<std::string> out;
  for (const auto& l : rs.at(0).lines) out.push_back(l.substr(4));
  return out;
}

TEST(Session, EhloAdvertisesExtensions) {
  const auto lines = ehlo_lines(test_config());
  const std::vector<std::string> want = {
      "mx.test",  "PIPELINING", "SIZE 52428800", "VRFY",    "ENHANCEDSTATUSCODES",
      "8BITMIME", "DSN",        "SMTPUTF8",      "CHUNKING"};
  EXPECT_EQ(lines, want);
}

TEST(Session, EhloReflectsConfiguration) {
  SessionConfig cfg = test_config();
  cfg.limits.max_message_size = 0;
  cfg.vrfy = VrfyMode::Disabled;
  cfg.etrn = true;
  const auto lines = ehlo_lines(cfg);
  EXPECT_NE(std::find(lines.begin(), lines.end(), "SIZE"), lines.end());
  EXPECT_EQ(std::find(lines.begin(), lines.end(), "VRFY"), lines.end());
  EXPECT_NE(std::find(lines.begin(), lines.end(), "ETRN"), lines.end());
  ChannelPolicy p;
  p.starttls = true;
  p.auth = true;
  const auto tls = ehlo_lines(test_config(), p);
  EXPECT_NE(std::find(tls.begin(), tls.end(), "STARTTLS"), tls.end());
  // RFC 4954 §4: no AUTH in plaintext unless allowed.
  EXPECT_EQ(std::find(tls.begin(), tls.end(), "AUTH PLAIN LOGIN"), tls.end());
  p.plaintext_auth = true;
  const auto plain = ehlo_lines(test_config(), p);
  EXPECT_NE(std::find(plain.begin(), plain.end(), "AUTH PLAIN LOGIN"), plain.end());
}

TEST(Session, HeloReply) {
  EXPECT_EQ(run_codes("HELO client.example\r\n"), "250");
  SessionDriver d;
  d.start();
  d.take_output();
  d.feed("HELO client.example\r\n");
  EXPECT_EQ(d.take_output(), "250 mx.test\r\n");
  EXPECT_EQ(d.session().client().helo, "client.example");
  EXPECT_FALSE(d.session().client().esmtp);
}

TEST(Session, HeloEhloArgumentRules) {
  EXPECT_EQ(run_codes("HELO\r\n"), "501 5.5.4");
  EXPECT_EQ(run_codes("EHLO\r\n"), "501 5.5.4");
  EXPECT_EQ(run_codes("EHLO   \r\n"), "501 5.5.4");
  EXPECT_EQ(run_codes("EHLO b\xc3\xbc"
                      "cher.example\r\n"),
            "501 5.5.4");
  EXPECT_EQ(run_codes("EHLO " + std::string(255, 'h') + "\r\n"), "250");
  EXPECT_EQ(run_codes("EHLO " + std::string(256, 'h') + "\r\n"), "501 5.5.4");
  EXPECT_EQ(run_codes("EHLO [192.0.2.1]\r\n"), "250");
  // A failed EHLO leaves the previous state: still no HELO.
  EXPECT_EQ(run_codes("EHLO\r\n" + kMail), "501 5.5.4,503 5.5.1");
}

// RFC 1869 / RFC 5321 §4.1.1.11: after HELO no extension exists, so no parameter does.
TEST(Session, ParametersOnlyAfterEhlo) {
  EXPECT_EQ(run_codes("HELO c\r\nMAIL FROM:<a@example.org> SIZE=10\r\n"), "250,555 5.5.4");
  EXPECT_EQ(run_codes("HELO c\r\nMAIL FROM:<a@example.org> BODY=8BITMIME\r\n"), "250,555 5.5.4");
  EXPECT_EQ(run_codes("HELO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.org> "
                      "NOTIFY=NEVER\r\n"),
            "250,250 2.1.0,555 5.5.4");
  EXPECT_EQ(run_codes(kEhlo + "MAIL FROM:<a@example.org> SIZE=10 BODY=8BITMIME\r\nRCPT "
                              "TO:<bob@example.org> NOTIFY=NEVER ORCPT=rfc822;x+40y\r\n"),
            "250,250 2.1.0,250 2.1.5");
}

// ---- practice 2: pause for a decision ----

TEST(Session, PipelinedRepliesWaitForTheVerdict) {
  SessionConfig cfg = test_config();
  ServerSession s(cfg, ClientInfo{});
  s.start();
  s.output().clear();
  const std::string in = kEhlo + kMail + "RCPT TO:<bob@example.org>\r\n" +
                         "RCPT TO:<unknown@example.org>\r\n" + "DATA\r\n";
  std::string_view rest = in;
  rest.remove_prefix(s.receive(rest));
  // EHLO is answered; MAIL waits for the sender verdict (every MAIL pauses).
  ASSERT_EQ(s.pending(), Pending::Mail);
  EXPECT_EQ(s.mail_request().sender.mailbox.to_string(), "alice@example.org");
  EXPECT_EQ(codes(parse_replies(s.output())), "250");
  s.output().clear();
  EXPECT_EQ(s.receive(rest), 0u);
  s.resolve_mail(MailVerdict::Accept);
  rest.remove_prefix(s.receive(rest));
  // The first RCPT waits for its verdict.
  ASSERT_EQ(s.pending(), Pending::Rcpt);
  EXPECT_EQ(s.rcpt_request().mailbox.to_string(), "bob@example.org");
  EXPECT_EQ(rest, "RCPT TO:<unknown@example.org>\r\nDATA\r\n");
  EXPECT_EQ(codes(parse_replies(s.output())), "250 2.1.0");
  s.output().clear();
  // Withheld verdict: feeding again consumes nothing and says nothing.
  EXPECT_EQ(s.receive(rest), 0u);
  EXPECT_EQ(s.output(), "");
  // Verdict 1, then the second RCPT pauses.
  s.resolve_rcpt({RcptVerdictKind::Accept, {testing::mailbox_dest("/mail/bob")}, {}});
  rest.remove_prefix(s.receive(rest));
  ASSERT_EQ(s.pending(), Pending::Rcpt);
  EXPECT_EQ(s.rcpt_request().mailbox.local_part, "unknown");
  EXPECT_EQ(s.receive(rest), 0u);
  s.resolve_rcpt({RcptVerdictKind::UserUnknown, {}, {}});
  rest.remove_prefix(s.receive(rest));
  EXPECT_TRUE(rest.empty());
  EXPECT_EQ(s.pending(), Pending::None);
  EXPECT_EQ(s.output(),
            "250 2.1.5 Ok\r\n"
            "550 5.1.1 <unknown@example.org>: Recipient address rejected: User unknown in local "
            "recipient table\r\n"
            "354 End data with <CR><LF>.<CR><LF>\r\n");
  EXPECT_TRUE(s.receiving_message());
  ASSERT_EQ(s.envelope().recipients.size(), 1u);
  EXPECT_EQ(s.envelope().recipients[0].destinations,
            std::vector<Destination>{testing::mailbox_dest("/mail/bob")});
}

TEST(Session, RcptRequestCarriesTheParameters) {
  SessionConfig cfg = test_config();
  ServerSession s(cfg, ClientInfo{});
  s.start();
  const std::string in = kEhlo + kMail + "RCPT TO:<Bob@Example.ORG> NOTIFY=NEVER\r\n";
  std::string_view rest = in;
  rest.remove_prefix(s.receive(rest));
  s.resolve_mail(MailVerdict::Accept);
  s.receive(rest);
  ASSERT_EQ(s.pending(), Pending::Rcpt);
  EXPECT_EQ(s.rcpt_request().mailbox.local_part, "Bob");
  EXPECT_EQ(s.rcpt_request().mailbox.domain, "Example.ORG");
  EXPECT_EQ(s.rcpt_request().params.notify, unsigned{NotifyNever});
}

TEST(Session, CommitPausesEverythingAfterTheBody) {
  SessionConfig cfg = test_config();
  ServerSession s(cfg, ClientInfo{});
  s.start();
  const std::string in = kEhlo + kMail + kRcpt;
  std::string_view rest = in;
  rest.remove_prefix(s.receive(rest));
  s.resolve_mail(MailVerdict::Accept);
  rest.remove_prefix(s.receive(rest));
  s.resolve_rcpt({RcptVerdictKind::Accept, {testing::mailbox_dest("/mail/bob")}, {}});
  EXPECT_EQ(s.receive(rest), rest.size());
  s.output().clear();
  // Body, terminator and the next commands in one read.
  const std::string more = "DATA\r\nSubject: x\r\n\r\nhi\r\n.\r\nNOOP\r\nMAIL FROM:<>\r\n";
  rest = more;
  rest.remove_prefix(s.receive(rest));
  EXPECT_EQ(rest, "NOOP\r\nMAIL FROM:<>\r\n");
  ASSERT_EQ(s.pending(), Pending::Commit);
  EXPECT_EQ(s.body(), "Subject: x\n\nhi\n");
  EXPECT_EQ(s.message_size(), 18u);  // CRLF counts two
  EXPECT_EQ(s.output(), "354 End data with <CR><LF>.<CR><LF>\r\n");
  s.output().clear();
  EXPECT_EQ(s.receive(rest), 0u);
  EXPECT_EQ(s.output(), "");
  EXPECT_EQ(s.envelope().recipients.size(), 1u);  // still available to the committer
  s.commit_done({CommitStatus::Accepted, "Q1", {}});
  EXPECT_FALSE(s.in_transaction());
  rest.remove_prefix(s.receive(rest));
  ASSERT_EQ(s.pending(), Pending::Mail);
  s.resolve_mail(MailVerdict::Accept);
  EXPECT_TRUE(rest.empty());
  EXPECT_EQ(s.output(), "250 2.0.0 Ok: queued as Q1\r\n250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n");
}

TEST(Session, StorageErrorEndsTheTransactionWithoutCountingAsClientError) {
  SessionConfig cfg = test_config();
  cfg.limits.max_errors = 1;
  testing::SessionAnswers a;
  a.commit = [](const Envelope&, const std::string&) {
    return CommitResult{CommitStatus::StorageError, {}, {}};
  };
  SessionDriver d(cfg, a);
  d.start();
  const auto rs = replies_to(d, kEhlo + kMail + kRcpt + "DATA\r\nx\r\n.\r\nNOOP\r\n");
  EXPECT_EQ(codes(rs), "250,250 2.1.0,250 2.1.5,354,451 4.3.0,250 2.0.0");
  EXPECT_FALSE(d.session().closed());
  EXPECT_FALSE(d.session().in_transaction());
}

// Pipelining across the DATA boundary: a whole transaction and the next one in one read.
TEST(Session, PipeliningAcrossDataBoundary) {
  const std::string in = kEhlo + kMail + kRcpt + "DATA\r\nline 1\r\n..dot\r\n.\r\n" +
                         "MAIL FROM:<>\r\nRCPT TO:<postmaster>\r\nDATA\r\nsecond\r\n.\r\nQUIT\r\n";
  const std::string summary = expect_session_split_invariant(in);
  SessionDriver d;
  d.start();
  d.feed(in);
  EXPECT_EQ(codes(parse_replies(d.all_output())),
            "220,250,250 2.1.0,250 2.1.5,354,250 2.0.0,250 2.1.0,250 2.1.5,354,250 2.0.0,221 "
            "2.0.0");
  ASSERT_EQ(d.commits().size(), 2u);
  EXPECT_EQ(d.commits()[0].body, "line 1\n.dot\n");
  EXPECT_EQ(d.commits()[1].body, "second\n");
  EXPECT_TRUE(d.commits()[1].envelope.sender.null);
  EXPECT_EQ(d.commits()[1].envelope.recipients.at(0).mailbox.local_part, "postmaster");
  EXPECT_EQ(d.event_kinds(), (std::vector<EventKind>{EventKind::MessageBegin,
                                                     EventKind::MessageBegin, EventKind::Close}));
}

// The envelope handed to the committer.
TEST(Session, EnvelopeAtCommit) {
  SessionDriver d;
  d.start();
  d.feed(kEhlo + "MAIL FROM:<alice@example.org> SIZE=100 BODY=8BITMIME RET=HDRS ENVID=e+2B1\r\n" +
         "RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+40example.org\r\n" +
         "RCPT TO:<fwd@example.org>\r\nRCPT TO:<unknown@example.org>\r\n" +
         "RCPT TO:<x@relay.example>\r\nDATA\r\nhi\r\n.\r\n");
  ASSERT_EQ(d.commits().size(), 1u);
  const Envelope& e = d.commits()[0].envelope;
  EXPECT_EQ(e.sender.mailbox.to_string(), "alice@example.org");
  EXPECT_EQ(e.mail_params.size, 100u);
  EXPECT_EQ(e.mail_params.body, BodyType::EightBitMime);
  EXPECT_EQ(e.mail_params.ret, DsnRet::Headers);
  EXPECT_EQ(e.mail_params.envid, "e+1");
  ASSERT_EQ(e.recipients.size(), 2u);  // 251 counts, 550s do not
  EXPECT_EQ(e.recipients[0].params.notify, unsigned{NotifySuccess | NotifyFailure});
  EXPECT_EQ(e.recipients[0].params.orcpt_address, "bob@example.org");
  EXPECT_EQ(e.recipients[0].destinations,
            std::vector<Destination>{testing::mailbox_dest("/mail/bob")});
  EXPECT_EQ(e.recipients[1].mailbox.local_part, "fwd");
  EXPECT_FALSE(e.bdat);
  EXPECT_EQ(codes(parse_replies(d.all_output())),
            "220,250,250 2.1.0,250 2.1.5,251 2.1.5,550 5.1.1,554 5.7.1,354,250 2.0.0");
}

TEST(Session, RecipientVerdicts) {
  EXPECT_EQ(run_codes(kEhlo + kMail + "RCPT TO:<tempfail@example.org>\r\nDATA\r\n"),
            "250,250 2.1.0,451 4.3.0,554 5.5.1");
  EXPECT_EQ(run_codes(kEhlo + kMail + "DATA\r\n"), "250,250 2.1.0,503 5.5.1");
  EXPECT_EQ(run_codes(kEhlo + kMail + "RCPT TO:<POSTMASTER>\r\n"), "250,250 2.1.0,250 2.1.5");
  EXPECT_EQ(run_codes(kEhlo + kMail + "RCPT TO:<x@[192.0.2.1]>\r\n"), "250,250 2.1.0,554 5.7.1");
}

// ---- syntax errors of MAIL/RCPT/DATA/RSET/QUIT ----

TEST(Session, CommandSyntaxErrors) {
  struct {
    std::string cmd;
    const char* want;
  } const cases[] = {
      {"MAIL FROM <a@example.org>", "501 5.5.4"},
      {"MAIL TO:<a@example.org>", "501 5.5.4"},
      {"MAIL", "501 5.5.4"},
      {"MAIL FROM:", "501 5.1.7"},
      {"MAIL FROM:<a@example.org", "501 5.1.7"},
      {"MAIL FROM:<a..b@example.org>", "501 5.1.7"},
      {"MAIL FROM:<" + std::string(65, 'a') + "@example.org>", "553 5.1.7"},
      {"MAIL FROM:<a@example.org> FOO=1", "555 5.5.4"},
      {"MAIL FROM:<a@example.org> SIZE=x", "501 5.5.4"},
      {"MAIL FROM:<a@example.org> BODY=BINARYMIME", "555 5.5.4"},
      {"MAIL FROM: <a@example.org>", "250 2.1.0"},
      {"mail from:<a@example.org>", "250 2.1.0"},
      {"MAIL FROM:a@example.org", "250 2.1.0"},
      {"MAIL FROM:<>", "250 2.1.0"},
      {"MAIL FROM:<@r.example:a@example.org>", "250 2.1.0"},
      {"DATA now", "501 5.5.4"},
      {"RSET now", "501 5.5.4"},
      {"QUIT now", "501 5.5.4"},
      {"VRFY", "501 5.5.4"},
      {"NOOP anything goes", "250 2.0.0"},
      {"HELP MAIL", "214 2.0.0"},
  };
  for (const auto& c : cases)
    EXPECT_EQ(run_codes(kEhlo + c.cmd + "\r\n"), std::string("250,") + c.want) << c.cmd;
  struct {
    std::string cmd;
    const char* want;
  } const rcpt[] = {
      {"RCPT <bob@example.org>", "501 5.5.4"},
      {"RCPT TO:", "501 5.1.3"},
      {"RCPT TO:<>", "501 5.1.3"},
      {"RCPT TO:<bob>", "501 5.1.3"},
      {"RCPT TO:<" + std::string(65, 'b') + "@example.org>", "553 5.1.3"},
      {"RCPT TO:<bob@example.org> SIZE=1", "555 5.5.4"},
      {"RCPT TO:<bob@example.org> NOTIFY=NEVER,DELAY", "501 5.5.4"},
      {"RCPT TO:bob@example.org", "250 2.1.5"},
      {"rcpt to: <bob@example.org>", "250 2.1.5"},
  };
  for (const auto& c : rcpt)
    EXPECT_EQ(run_codes(kEhlo + kMail + c.cmd + "\r\n"), std::string("250,250 2.1.0,") + c.want)
        << c.cmd;
}

// ---- limits at N and N+1 (practice 11) ----

// RFC 5321 §4.5.3.1.4: 512 octets including <CRLF>.
TEST(SessionLimits, CommandLine512AndSplitOverManyReads) {
  const std::string n = "NOOP " + std::string(512 - 7, 'x') + "\r\n";
  ASSERT_EQ(n.size(), 512u);
  const std::string n1 = "NOOP " + std::string(512 - 6, 'x') + "\r\n";
  const std::string in = n + n1 + "NOOP\r\n";
  expect_session_split_invariant(in);
  EXPECT_EQ(run_codes(in), "250 2.0.0,500 5.5.6,250 2.0.0");
}

TEST(SessionLimits, CommandLineLimitIsConfigurable) {
  SessionConfig cfg = test_config();
  cfg.limits.max_command_line = 20;
  const std::string n = "NOOP " + std::string(13, 'x') + "\r\n";  // 20
  const std::string n1 = "NOOP " + std::string(14, 'x') + "\r\n";
  const std::string far = "NOOP " + std::string(100, 'x') + "\r\n";
  const std::string in = n + n1 + far + "NOOP\r\n";
  expect_session_split_invariant(in, cfg);
  EXPECT_EQ(run_codes(in, cfg), "250 2.0.0,500 5.5.6,500 5.5.6,250 2.0.0");
}

// An over-long line is skipped whole: nothing in it is executed.
TEST(SessionLimits, OverlongLineIsNotExecuted) {
  const std::string in =
      kEhlo + "MAIL FROM:<a@example.org> " + std::string(600, 'x') + "\r\n" + kMail + "QUIT\r\n";
  expect_session_split_invariant(in);
  EXPECT_EQ(run_codes(in), "250,500 5.5.6,250 2.1.0,221 2.0.0");
}

TEST(SessionLimits, MaxRecipients) {
  SessionConfig cfg = test_config();
  cfg.limits.max_recipients = 3;
  const std::string in = kEhlo + kMail + "RCPT TO:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n" +
                         "RCPT TO:<c@example.org>\r\nRCPT TO:<d@example.org>\r\nDATA\r\nx\r\n.\r\n";
  expect_session_split_invariant(in, cfg);
  SessionDriver d(cfg);
  d.start();
  EXPECT_EQ(codes(replies_to(d, in)),
            "250,250 2.1.0,250 2.1.5,250 2.1.5,250 2.1.5,452 4.5.3,354,250 2.0.0");
  ASSERT_EQ(d.commits().size(), 1u);
  EXPECT_EQ(d.commits()[0].envelope.recipients.size(), 3u);
}

TEST(SessionLimits, MaxErrorsClosesWith421) {
  SessionConfig cfg = test_config();
  cfg.limits.max_errors = 3;
  // N-1 errors: still open.
  SessionDriver ok(cfg);
  ok.start();
  EXPECT_EQ(codes(replies_to(ok, "FOO\r\nBAR\r\nNOOP\r\n")), "500 5.5.1,500 5.5.1,250 2.0.0");
  EXPECT_FALSE(ok.session().closed());
  // N errors: 421 and closed; nothing after it is executed.
  const std::string in = "FOO\r\nBAR\r\nBAZ\r\nNOOP\r\n";
  expect_session_split_invariant(in, cfg);
  SessionDriver d(cfg);
  d.start();
  const auto rs = replies_to(d, in);
  EXPECT_EQ(codes(rs), "500 5.5.1,500 5.5.1,500 5.5.1,421 4.7.0");
  EXPECT_EQ(rs.back().last_line(), "421 4.7.0 mx.test Error: too many errors");
  EXPECT_TRUE(d.session().closed());
  // Each refusal is reported (logs, metrics), then the close.
  EXPECT_EQ(d.event_kinds(), (std::vector<EventKind>{EventKind::Reject, EventKind::Reject,
                                                     EventKind::Reject, EventKind::Close}));
  EXPECT_EQ(d.session().errors(), 3u);
}

// The error that reaches max_errors may be the rejection of a message (bare LF, size, long line).
// abort_message() calls reply() -- which closes the session -- and then sets state_ =
// idle_state(), reopening it: the 421 is followed by replies to further commands.
TEST(SessionLimits, MaxErrorsReachedByRejectedMessageStaysClosed) {
  SessionConfig cfg = test_config();
  cfg.limits.max_errors = 2;
  const std::string in = kEhlo + "FOO\r\n" + kMail + kRcpt + "DATA\r\nbare\nlf\r\n.\r\nNOOP\r\n";
  SessionDriver d(cfg);
  d.start();
  const auto rs = replies_to(d, in);
  EXPECT_EQ(codes(rs), "250,500 5.5.1,250 2.1.0,250 2.1.5,354,550 5.5.2,421 4.7.0");
  EXPECT_TRUE(d.session().closed());
}

TEST(SessionLimits, MaxErrorsReachedByOversizedBdatStaysClosed) {
  SessionConfig cfg = test_config();
  cfg.limits.max_errors = 2;
  cfg.limits.max_message_size = 5;
  const std::string in = kEhlo + "FOO\r\n" + kMail + kRcpt + "BDAT 10 LAST\r\n0123456789NOOP\r\n";
  SessionDriver d(cfg);
  d.start();
  EXPECT_EQ(codes(replies_to(d, in)), "250,500 5.5.1,250 2.1.0,250 2.1.5,552 5.3.4,421 4.7.0");
  EXPECT_TRUE(d.session().closed());
}

// RFC 1870 §6.1: a declared SIZE over the limit is refused at MAIL.
TEST(SessionLimits, SizeParameterAtMail) {
  SessionConfig cfg = test_config();
  cfg.limits.max_message_size = 1000;
  EXPECT_EQ(run_codes(kEhlo + "MAIL FROM:<a@example.org> SIZE=1000\r\n", cfg), "250,250 2.1.0");
  EXPECT_EQ(run_codes(kEhlo + "MAIL FROM:<a@example.org> SIZE=1001\r\n", cfg), "250,552 5.3.4");
  cfg.limits.max_message_size = 0;  // unlimited
  EXPECT_EQ(run_codes(kEhlo + "MAIL FROM:<a@example.org> SIZE=99999999999\r\n", cfg),
            "250,250 2.1.0");
  EXPECT_EQ(run_codes(kEhlo + "MAIL FROM:<a@example.org> SIZE=52428801\r\n"), "250,552 5.3.4");
}

// RFC 1870 §6.3: the message itself over the limit is refused at the end of data, with a
// MessageAbort event, and the session goes on.
TEST(SessionLimits, MessageOverLimitAtEndOfData) {
  SessionConfig cfg = test_config();
  cfg.limits.max_message_size = 100;
  const std::string in = kEhlo + kMail + kRcpt + "DATA\r\n" + std::string(150, 'x') + "\r\n" +
                         std::string(150, 'y') + "\r\n.\r\n" + kMail + kRcpt +
                         "DATA\r\nsmall\r\n.\r\n";
  expect_session_split_invariant(in, cfg);
  SessionDriver d(cfg);
  d.start();
  EXPECT_EQ(codes(replies_to(d, in)),
            "250,250 2.1.0,250 2.1.5,354,552 5.3.4,250 2.1.0,250 2.1.5,354,250 2.0.0");
  ASSERT_EQ(d.commits().size(), 1u);
  EXPECT_EQ(d.commits()[0].body, "small\n");
  const auto& ev = d.events();
  ASSERT_GE(ev.size(), 2u);
  EXPECT_EQ(ev[0].kind, EventKind::MessageBegin);
  EXPECT_EQ(ev[1].kind, EventKind::MessageAbort);
  EXPECT_EQ(ev[1].reply.code, 552);
  EXPECT_EQ(ev[1].reply.enhanced, "5.3.4");
}

// N and N+1 for the message size through DATA: "123456789\r\n" is 11 octets (RFC 1870 §3 counts
// CRLF as two). With a limit of 10 it must be refused; the dot decoder never checks the final
// <CR> it counts (see dot_decoder_test OneOctetOverLimitEndingInCrlfIsTooBig). BDAT gets it right.
TEST(SessionLimits, MessageSizeNAndNPlusOne) {
  SessionConfig cfg = test_config();
  cfg.limits.max_message_size = 10;
  const std::string pre = kEhlo + kMail + kRcpt;
  EXPECT_EQ(run_codes(pre + "DATA\r\n12345678\r\n.\r\n", cfg),
            "250,250 2.1.0,250 2.1.5,354,250 2.0.0");
  EXPECT_EQ(run_codes(pre + "BDAT 10 LAST\r\n12345678\r\n", cfg),
            "250,250 2.1.0,250 2.1.5,250 2.0.0");
  EXPECT_EQ(run_codes(pre + "BDAT 11 LAST\r\n123456789\r\n", cfg),
            "250,250 2.1.0,250 2.1.5,552 5.3.4");
  EXPECT_EQ(run_codes(pre + "DATA\r\n123456789\r\n.\r\n", cfg),
            "250,250 2.1.0,250 2.1.5,354,552 5.3.4");
}

TEST(SessionLimits, LongTextLines) {
  const std::string pre = kEhlo + kMail + kRcpt + "DATA\r\n";
  const std::string l1000 = std::string(998, 'a') + "\r\n";
  const std::string l1001 = std::string(999, 'a') + "\r\n";
  EXPECT_EQ(run_codes(pre + l1001 + ".\r\n"), "250,250 2.1.0,250 2.1.5,354,250 2.0.0");
  SessionConfig cfg = test_config();
  cfg.reject_long_lines = true;
  EXPECT_EQ(run_codes(pre + l1000 + ".\r\n", cfg), "250,250 2.1.0,250 2.1.5,354,250 2.0.0");
  SessionDriver d(cfg);
  d.start();
  const auto rs = replies_to(d, pre + l1001 + ".\r\nNOOP\r\n");
  EXPECT_EQ(codes(rs), "250,250 2.1.0,250 2.1.5,354,500 5.5.6,250 2.0.0");
  EXPECT_EQ(rs.at(4).last_line(), "500 5.5.6 Error: text line longer than 1000 octets");
  EXPECT_TRUE(d.commits().empty());
}

// ---- DATA content ----

TEST(SessionData, BareLfIsRejectedAfterTheTerminator) {
  const std::string in = kEhlo + kMail + kRcpt + "DATA\r\nline one\nline two\r\n.\r\nNOOP\r\n";
  expect_session_split_invariant(in);
  SessionDriver d;
  d.start();
  EXPECT_EQ(codes(replies_to(d, in)), "250,250 2.1.0,250 2.1.5,354,550 5.5.2,250 2.0.0");
  EXPECT_TRUE(d.commits().empty());
  const auto& ev = d.events();
  ASSERT_EQ(ev.size(), 4u);  // MessageBegin, BareNewline, MessageAbort, Reject
  EXPECT_EQ(ev[1].kind, EventKind::BareNewline);
  EXPECT_EQ(ev[3].kind, EventKind::Reject);
  EXPECT_EQ(ev[3].verb, Verb::Data);
  EXPECT_EQ(ev[3].from, "alice@example.org");
  EXPECT_EQ(ev[1].bare_lf, 1u);
  EXPECT_EQ(ev[2].kind, EventKind::MessageAbort);
  EXPECT_EQ(ev[2].reply.code, 550);
}

TEST(SessionData, BareNewlinePolicyOverride) {
  SessionDriver d;
  d.start();
  d.session().set_bare_newline_policy(BareNewlinePolicy::Note);
  d.feed(kEhlo + kMail + kRcpt + "DATA\r\na\nb\rc\r\n.\r\n");
  ASSERT_EQ(d.commits().size(), 1u);
  EXPECT_EQ(d.commits()[0].body, "a\nb\rc\n");
  ASSERT_GE(d.events().size(), 2u);
  EXPECT_EQ(d.events()[1].kind, EventKind::BareNewline);
  EXPECT_EQ(d.events()[1].bare_lf, 1u);
  EXPECT_EQ(d.events()[1].bare_cr, 1u);
  SessionConfig cfg = test_config();
  cfg.bare_newline = BareNewlinePolicy::Normalize;
  SessionDriver n(cfg);
  n.start();
  n.feed(kEhlo + kMail + kRcpt + "DATA\r\na\nb\rc\r\n.\r\n");
  ASSERT_EQ(n.commits().size(), 1u);
  EXPECT_EQ(n.commits()[0].body, "a\nb\nc\n");
}

// SMTP smuggling (CVE-2023-51764 class): commands hidden behind a non-CRLF "end of data" are
// message content; the client sees one reply for the whole message.
TEST(SessionData, SmuggledCommandsAreNeverExecuted) {
  for (const std::string sep : {"\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n", "\r\n.\r\r\n"}) {
    for (const auto policy :
         {BareNewlinePolicy::Reject, BareNewlinePolicy::Normalize, BareNewlinePolicy::Note}) {
      SessionConfig cfg = test_config();
      cfg.bare_newline = policy;
      const std::string in = kEhlo + kMail + kRcpt + "DATA\r\nSubject: hi\r\n\r\nbody" + sep +
                             "MAIL FROM:<evil@example.net>\r\nRCPT TO:<victim@example.org>\r\n"
                             "DATA\r\nsmuggled\r\n.\r\nQUIT\r\n";
      SessionDriver d(cfg);
      d.start();
      const std::string got = codes(replies_to(d, in));
      const std::string verdict = policy == BareNewlinePolicy::Reject ? "550 5.5.2" : "250 2.0.0";
      EXPECT_EQ(got, "250,250 2.1.0,250 2.1.5,354," + verdict + ",221 2.0.0")
          << visible(sep) << " policy " << static_cast<int>(policy);
      EXPECT_LE(d.commits().size(), 1u);
    }
  }
}

TEST(SessionData, EmptyMessage) {
  SessionDriver d;
  d.start();
  d.feed(kEhlo + kMail + kRcpt + "DATA\r\n.\r\n");
  ASSERT_EQ(d.commits().size(), 1u);
  EXPECT_EQ(d.commits()[0].body, "");
}

// ---- SMTPUTF8 (RFC 6531) ----

TEST(SessionUtf8, Rules) {
  const std::string u = "\xc3\xbc";
  struct {
    std::string in;
    const char* want;
  } const cases[] = {
      {"MAIL FROM:<" + u + "@example.org>\r\n", "250,553 5.6.7"},
      {"MAIL FROM:<" + u + "@example.org> SMTPUTF8\r\n", "250,250 2.1.0"},
      {"MAIL FROM:<a@b" + u + "cher.example> SMTPUTF8\r\n", "250,250 2.1.0"},
      {"MAIL FROM:<a@b" + u + "cher.example>\r\n", "250,553 5.6.7"},
      {kMail + "RCPT TO:<" + u + "@example.org>\r\n", "250,250 2.1.0,553 5.6.7"},
      {"MAIL FROM:<a@example.org> SMTPUTF8\r\nRCPT TO:<" + u + "@example.org>\r\n",
       "250,250 2.1.0,250 2.1.5"},
      {"MAIL FROM:<\xc3@example.org> SMTPUTF8\r\n", "250,501 5.1.7"},
      {"MAIL FROM:<a@example.org> SMTPUTF8=YES\r\n", "250,501 5.5.4"},
      {"MAIL FROM:<a@example.org> SMTPUTF8\r\nRCPT TO:<\xed\xa0\x80@example.org>\r\n",
       "250,250 2.1.0,501 5.1.3"},
  };
  for (const auto& c : cases) EXPECT_EQ(run_codes(kEhlo + c.in), c.want) << visible(c.in);
  // SMTPUTF8 is an extension: not after HELO.
  EXPECT_EQ(run_codes("HELO c\r\nMAIL FROM:<a@example.org> SMTPUTF8\r\n"), "250,555 5.5.4");
}

// ---- BDAT (RFC 3030) ----

TEST(SessionBdat, ChunksAndLast) {
  const std::string in =
      kEhlo + kMail + kRcpt + "BDAT 7\r\nhello\r\nBDAT 9 LAST\r\nworld\r\n\r\n" + "NOOP\r\n";
  expect_session_split_invariant(in);
  SessionDriver d;
  d.start();
  const auto rs = replies_to(d, in);
  EXPECT_EQ(codes(rs), "250,250 2.1.0,250 2.1.5,250 2.0.0,250 2.0.0,250 2.0.0");
  EXPECT_EQ(rs.at(3).last_line(), "250 2.0.0 Ok: 7 octets received");
  EXPECT_EQ(rs.at(4).last_line(), "250 2.0.0 Ok: queued as TESTID");
  ASSERT_EQ(d.commits().size(), 1u);
  EXPECT_EQ(d.commits()[0].body, "hello\nworld\n\n");
  EXPECT_TRUE(d.commits()[0].envelope.bdat);
}

TEST(SessionBdat, CrlfSplitAcrossChunks) {
  SessionDriver d;
  d.start();
  d.feed(kEhlo + kMail + kRcpt + "BDAT 3\r\nab\rBDAT 3 LAST\r\n\ncd");
  ASSERT_EQ(d.commits().size(), 1u);
  EXPECT_EQ(d.commits()[0].body, "ab\ncd");
}

TEST(SessionBdat, TrailingCrIsKept) {
  SessionDriver d;
  d.start();
  d.feed(kEhlo + kMail + kRcpt + "BDAT 3\r\nab\rBDAT 0 LAST\r\n");
  ASSERT_EQ(d.commits().size(), 1u);
  EXPECT_EQ(d.commits()[0].body, "ab\r");
}

TEST(SessionBdat, ZeroLastAlone) {
  SessionDriver d;
  d.start();
  EXPECT_EQ(codes(replies_to(d, kEhlo + kMail + kRcpt + "BDAT 0 LAST\r\n")),
            "250,250 2.1.0,250 2.1.5,250 2.0.0");
  ASSERT_EQ(d.commits().size(), 1u);
  EXPECT_EQ(d.commits()[0].body, "");
}

TEST(SessionBdat, ChunkContentIsNeverACommand) {
  // The chunk holds command-looking text, including QUIT and a DATA terminator.
  const std::string chunk = "QUIT\r\n.\r\nRSET\r\n";
  const std::string in = kEhlo + kMail + kRcpt + "BDAT " + std::to_string(chunk.size()) +
                         " LAST\r\n" + chunk + "NOOP\r\n";
  expect_session_split_invariant(in);
  SessionDriver d;
  d.start();
  EXPECT_EQ(codes(replies_to(d, in)), "250,250 2.1.0,250 2.1.5,250 2.0.0,250 2.0.0");
  EXPECT_EQ(d.commits().at(0).body, "QUIT\n.\nRSET\n");
}

TEST(SessionBdat, WithoutMailConsumesTheChunkThen503) {
  const std::string in = kEhlo + "BDAT 6\r\nQUIT\r\nNOOP\r\n";
  expect_session_split_invariant(in);
  EXPECT_EQ(run_codes(in), "250,503 5.5.1,250 2.0.0");
  EXPECT_EQ(run_codes("BDAT 6 LAST\r\nQUIT\r\nNOOP\r\n"), "503 5.5.1,250 2.0.0");
  EXPECT_EQ(run_codes(kEhlo + kMail + "BDAT 6 LAST\r\nQUIT\r\nNOOP\r\n"),
            "250,250 2.1.0,503 5.5.1,250 2.0.0");
  EXPECT_EQ(
      run_codes(kEhlo + kMail + "RCPT TO:<unknown@example.org>\r\nBDAT 6\r\nQUIT\r\nNOOP\r\n"),
      "250,250 2.1.0,550 5.1.1,554 5.5.1,250 2.0.0");
}

TEST(SessionBdat, DataAfterBdatIs503) {
  EXPECT_EQ(run_codes(kEhlo + kMail + kRcpt + "BDAT 2\r\nabDATA\r\nBDAT 1 LAST\r\nc"),
            "250,250 2.1.0,250 2.1.5,250 2.0.0,503 5.5.1,250 2.0.0");
}

TEST(SessionBdat, BadSyntaxCloses) {
  for (const char* bad : {"BDAT", "BDAT x", "BDAT 5 FIRST", "BDAT -1", "BDAT +5", "BDAT 5 LAST x",
                          "BDAT 99999999999999999999999", "BDAT 0x10"}) {
    SessionDriver d;
    d.start();
    const auto rs = replies_to(d, kEhlo + kMail + kRcpt + bad + "\r\nNOOP\r\n");
    EXPECT_EQ(codes(rs), "250,250 2.1.0,250 2.1.5,501 5.5.4,421 4.5.0") << bad;
    EXPECT_TRUE(d.session().closed()) << bad;
  }
  EXPECT_EQ(run_codes(kEhlo + kMail + kRcpt + "bdat 1 last\r\nx"),
            "250,250 2.1.0,250 2.1.5,250 2.0.0");
}

TEST(SessionBdat, RsetBetweenChunksAbortsTheMessage) {
  const std::string in = kEhlo + kMail + kRcpt + "BDAT 3\r\nabcRSET\r\nBDAT 3 LAST\r\ndefNOOP\r\n";
  expect_session_split_invariant(in);
  SessionDriver d;
  d.start();
  EXPECT_EQ(codes(replies_to(d, in)),
            "250,250 2.1.0,250 2.1.5,250 2.0.0,250 2.0.0,503 5.5.1,250 2.0.0");
  EXPECT_TRUE(d.commits().empty());
  EXPECT_EQ(d.event_kinds(), (std::vector<EventKind>{EventKind::MessageBegin,
                                                     EventKind::MessageAbort, EventKind::Reject}));
}

TEST(SessionBdat, OverLimitFailsTheTransaction) {
  SessionConfig cfg = test_config();
  cfg.limits.max_message_size = 10;
  const std::string in = kEhlo + kMail + kRcpt + "BDAT 6\r\n123456BDAT 6 LAST\r\n789012NOOP\r\n" +
                         "BDAT 1 LAST\r\nxNOOP\r\n";
  expect_session_split_invariant(in, cfg);
  SessionDriver d(cfg);
  d.start();
  EXPECT_EQ(codes(replies_to(d, in)),
            "250,250 2.1.0,250 2.1.5,250 2.0.0,552 5.3.4,250 2.0.0,503 5.5.1,250 2.0.0");
  EXPECT_TRUE(d.commits().empty());
  ASSERT_GE(d.events().size(), 2u);
  EXPECT_EQ(d.events()[1].kind, EventKind::MessageAbort);
  EXPECT_EQ(d.events()[1].reply.code, 552);
}

// ---- timeout, shutdown, QUIT ----

TEST(SessionEnd, TimeoutAndShutdown) {
  SessionDriver t;
  t.start();
  t.take_output();
  t.session().timeout();
  EXPECT_EQ(t.session().output(), "421 4.4.2 mx.test Error: timeout exceeded\r\n");
  EXPECT_TRUE(t.session().closed());
  EXPECT_EQ(t.session().poll_event()->kind, EventKind::Close);

  SessionDriver s;
  s.start();
  s.take_output();
  s.session().shutdown();
  EXPECT_EQ(s.session().output(),
            "421 4.3.2 mx.test Service shutting down, closing transmission channel\r\n");
  EXPECT_TRUE(s.session().closed());
  EXPECT_EQ(s.session().poll_event()->kind, EventKind::Close);
  // Closed is final: more input is swallowed without output, a second 421 is not sent.
  s.session().output().clear();
  EXPECT_EQ(s.session().receive(std::string_view("NOOP\r\n")), 6u);
  s.session().timeout();
  EXPECT_EQ(s.session().output(), "");
}

TEST(SessionEnd, TimeoutDuringDataAbortsTheMessage) {
  SessionDriver d;
  d.start();
  d.feed(kEhlo + kMail + kRcpt + "DATA\r\npartial\r\n");
  ASSERT_TRUE(d.session().receiving_message());
  d.clear_events();
  d.session().timeout();
  std::vector<EventKind> kinds;
  while (auto e = d.session().poll_event()) kinds.push_back(e->kind);
  EXPECT_EQ(kinds, (std::vector<EventKind>{EventKind::MessageAbort, EventKind::Close}));
}

TEST(SessionEnd, TimeoutWhileWaitingForALookup) {
  SessionConfig cfg = test_config();
  ServerSession s(cfg, ClientInfo{});
  s.start();
  const std::string in = kEhlo + kMail + kRcpt;
  std::string_view rest = in;
  rest.remove_prefix(s.receive(rest));
  s.resolve_mail(MailVerdict::Accept);
  s.receive(rest);
  ASSERT_EQ(s.pending(), Pending::Rcpt);
  s.output().clear();
  s.timeout();
  EXPECT_EQ(s.pending(), Pending::None);
  s.resolve_rcpt({RcptVerdictKind::Accept, {testing::mailbox_dest("/x")}, {}});  // late: ignored
  EXPECT_EQ(s.output(), "421 4.4.2 mx.test Error: timeout exceeded\r\n");
}

TEST(SessionEnd, NothingAfterQuit) {
  const std::string in = kEhlo + "QUIT\r\nNOOP\r\nMAIL FROM:<a@example.org>\r\n";
  expect_session_split_invariant(in);
  SessionConfig cfg = test_config();
  ServerSession s(cfg, ClientInfo{});
  s.start();
  s.output().clear();
  EXPECT_EQ(s.receive(in), in.size());
  EXPECT_EQ(s.output(),
            "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-VRFY\r\n"
            "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n"
            "250 CHUNKING\r\n221 2.0.0 Bye\r\n");
  EXPECT_TRUE(s.closed());
  EXPECT_EQ(s.poll_event()->kind, EventKind::Close);
  EXPECT_FALSE(s.poll_event().has_value());
}

TEST(SessionEnd, QuitDuringBdatAbortsTheMessage) {
  SessionDriver d;
  d.start();
  d.feed(kEhlo + kMail + kRcpt + "BDAT 1\r\nxQUIT\r\n");
  EXPECT_EQ(d.event_kinds(), (std::vector<EventKind>{EventKind::MessageBegin,
                                                     EventKind::MessageAbort, EventKind::Close}));
}

// ---- resets ----

TEST(SessionReset, RsetAndHeloEndTheTransaction) {
  EXPECT_EQ(run_codes(kEhlo + kMail + kRcpt + "RSET\r\nDATA\r\n" + kMail),
            "250,250 2.1.0,250 2.1.5,250 2.0.0,503 5.5.1,250 2.1.0");
  EXPECT_EQ(run_codes(kEhlo + kMail + kRcpt + "EHLO again\r\nDATA\r\n" + kMail),
            "250,250 2.1.0,250 2.1.5,250,503 5.5.1,250 2.1.0");
  // RSET before HELO does not count as HELO.
  EXPECT_EQ(run_codes("RSET\r\n" + kMail), "250 2.0.0,503 5.5.1");
}

// ---- VRFY / EXPN / ETRN configured on ----

TEST(SessionVrfy, Modes) {
  SessionConfig cfg = test_config();
  cfg.vrfy = VrfyMode::Disabled;
  EXPECT_EQ(run_codes("VRFY bob\r\n", cfg), "502 5.5.1");
  cfg.vrfy = VrfyMode::Verify;
  cfg.expn = true;
  SessionDriver d(cfg);
  d.start();
  const auto rs = replies_to(d,
                             "VRFY <bob@example.org>\r\nEXPN info@example.org\r\nVRFY\r\n"
                             "EXPN\r\nVRFY a..b@example.org\r\n");
  EXPECT_EQ(codes(rs), "250 2.1.5,250 2.1.5,501 5.5.4,501 5.5.4,501 5.1.3");
  EXPECT_EQ(rs.at(0).last_line(), "250 2.1.5 <bob@example.org>");
}

TEST(SessionEtrn, Enabled) {
  SessionConfig cfg = test_config();
  cfg.etrn = true;
  EXPECT_EQ(run_codes(kEhlo + "ETRN example.org\r\nETRN\r\n" + kMail + "ETRN example.org\r\n", cfg),
            "250,458 4.3.0,501 5.5.4,250 2.1.0,503 5.5.1");
}

// ---- STARTTLS (RFC 3207) ----

TEST(SessionTls, PlaintextPipelinedAfterStarttlsIsDiscarded) {
  ChannelPolicy p;
  p.starttls = true;
  SessionDriver d(test_config(), {}, p);
  d.start();
  // CVE-2011-0411: "MAIL FROM" injected in the same packet as STARTTLS must not run.
  const auto rs = replies_to(d, kEhlo + "STARTTLS\r\n" + kMail + "RCPT TO:<bob@example.org>\r\n");
  EXPECT_EQ(codes(rs), "250,220 2.0.0");
  EXPECT_EQ(d.event_kinds(), std::vector<EventKind>{EventKind::StartTls});
  EXPECT_TRUE(d.session().client().tls);
  EXPECT_FALSE(d.session().in_transaction());
  // After the handshake: HELO knowledge is gone, STARTTLS is no longer offered.
  EXPECT_EQ(codes(replies_to(d, kMail)), "503 5.5.1");
  const auto ehlo = replies_to(d, kEhlo);
  for (const auto& l : ehlo.at(0).lines) EXPECT_EQ(l.find("STARTTLS"), std::string::npos);
  EXPECT_EQ(codes(replies_to(d, "STARTTLS\r\n" + kMail)), "503 5.5.1,250 2.1.0");
}

TEST(SessionTls, StarttlsRules) {
  ChannelPolicy p;
  p.starttls = true;
  SessionDriver d(test_config(), {}, p);
  d.start();
  EXPECT_EQ(codes(replies_to(d, "STARTTLS now\r\n")), "501 5.5.4");
  p.tls_required = true;
  SessionDriver r(test_config(), {}, p);
  r.start();
  EXPECT_EQ(codes(replies_to(r, kEhlo + kMail)), "250,530 5.7.0");
}

// ---- AUTH (RFC 4954) ----

ChannelPolicy auth_policy() {
  ChannelPolicy p;
  p.auth = true;
  p.plaintext_auth = true;
  return p;
}

std::unique_ptr<SessionDriver> auth_driver() {
  auto d = std::make_unique<SessionDriver>(test_config(), testing::SessionAnswers{}, auth_policy());
  d->start();
  return d;
}

TEST(SessionAuth, PlainSuccessAndFailure) {
  auto d = auth_driver();
  // base64("\0alice\0secret") = AGFsaWNlAHNlY3JldA==
  EXPECT_EQ(codes(replies_to(*d, kEhlo + "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n" + kMail)),
            "250,235 2.7.0,250 2.1.0");
  EXPECT_EQ(d->session().client().auth_user, "alice");
  auto f = auth_driver();
  // base64("\0alice\0wrong") = AGFsaWNlAHdyb25n
  EXPECT_EQ(codes(replies_to(*f, kEhlo + "AUTH PLAIN AGFsaWNlAHdyb25n\r\n")), "250,535 5.7.8");
  EXPECT_EQ(f->session().client().auth_user, "");
}

TEST(SessionAuth, LoginExchange) {
  auto d = auth_driver();
  // "alice" = YWxpY2U=, "secret" = c2VjcmV0
  const auto rs = replies_to(*d, kEhlo + "AUTH LOGIN\r\nYWxpY2U=\r\nc2VjcmV0\r\n");
  EXPECT_EQ(codes(rs), "250,334,334,235 2.7.0");
  EXPECT_EQ(rs.at(1).last_line(), "334 VXNlcm5hbWU6");
  EXPECT_EQ(rs.at(2).last_line(), "334 UGFzc3dvcmQ6");
}

TEST(SessionAuth, Rules) {
  auto d = auth_driver();
  EXPECT_EQ(codes(replies_to(*d, "AUTH PLAIN\r\n")), "503 5.5.1");  // EHLO first
  EXPECT_EQ(codes(replies_to(*d, kEhlo + "AUTH CRAM-MD5\r\nAUTH PLAIN\r\n*\r\nAUTH PLAIN !!\r\n")),
            "250,504 5.5.4,334,501 5.7.0,501 5.5.2");
  EXPECT_EQ(codes(replies_to(*d, kMail + "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n")),
            "250 2.1.0,503 5.5.1");
  ChannelPolicy p;
  p.auth = true;  // but not in plaintext
  SessionDriver n(test_config(), {}, p);
  n.start();
  EXPECT_EQ(codes(replies_to(n, kEhlo + "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n")), "250,538 5.7.11");
}

// ---- AUTH SCRAM-SHA-256 (RFC 5802, RFC 7677): the session's part of the exchange ----

ChannelPolicy scram_policy() {
  ChannelPolicy p = auth_policy();
  p.scram = true;
  return p;
}

// Plays the I/O layer: a fixed server nonce, and a client-final that must be exactly `expect`.
std::unique_ptr<SessionDriver> scram_driver(std::string expect) {
  auto d =
      std::make_unique<SessionDriver>(test_config(), testing::SessionAnswers{}, scram_policy());
  d->answers().auth = [expect](ServerSession& s) {
    const auto& req = s.auth_request();
    if (req.step == 0) {
      s.auth_challenge("r=" + req.scram_first.nonce + "SRV,s=c2FsdA==,i=4096");
    } else if (req.sasl_message == expect) {
      s.auth_verified("v=c2lnbmF0dXJl");
    } else {
      s.auth_done(false);
    }
  };
  d->start();
  return d;
}

TEST(SessionScram, AdvertisedOnlyWhenOffered) {
  const auto plain = ehlo_lines(test_config(), auth_policy());
  EXPECT_NE(std::find(plain.begin(), plain.end(), "AUTH PLAIN LOGIN"), plain.end());
  auto p = auth_driver();
  EXPECT_EQ(codes(replies_to(*p, kEhlo + "AUTH SCRAM-SHA-256\r\n")), "250,504 5.5.4");
  const auto scram = ehlo_lines(test_config(), scram_policy());
  EXPECT_NE(std::find(scram.begin(), scram.end(), "AUTH PLAIN LOGIN SCRAM-SHA-256"), scram.end());
}

TEST(SessionScram, FullExchange) {
  const std::string final_msg = "c=biws,r=cnonceSRV,p=cHJvb2Y=";
  auto d = scram_driver(final_msg);
  // client-first "n,,n=alice,r=cnonce" as the initial response
  const auto rs =
      replies_to(*d, kEhlo + "AUTH scram-sha-256 " + base64_encode("n,,n=alice,r=cnonce") + "\r\n" +
                         base64_encode(final_msg) + "\r\n\r\n" + kMail);
  EXPECT_EQ(codes(rs), "250,334,334,235 2.7.0,250 2.1.0");
  EXPECT_EQ(rs.at(1).last_line(), "334 " + base64_encode("r=cnonceSRV,s=c2FsdA==,i=4096"));
  EXPECT_EQ(rs.at(2).last_line(), "334 " + base64_encode("v=c2lnbmF0dXJl"));
  EXPECT_EQ(d->session().client().auth_user, "alice");
  EXPECT_EQ(d->session().auth_request().scram_first.bare, "n=alice,r=cnonce");
  EXPECT_EQ(d->session().auth_request().scram_first.gs2_header, "n,,");
}

TEST(SessionScram, WithoutInitialResponse) {
  const std::string final_msg = "c=biws,r=xyzSRV,p=cHJvb2Y=";
  auto d = scram_driver(final_msg);
  const auto rs =
      replies_to(*d, kEhlo + "AUTH SCRAM-SHA-256\r\n" + base64_encode("n,,n=bob,r=xyz") + "\r\n" +
                         base64_encode(final_msg) + "\r\n=\r\n");
  // "=" is not an empty response inside the exchange: only an empty line is.
  EXPECT_EQ(codes(rs), "250,334,334,334,501 5.5.2");
  EXPECT_EQ(rs.at(1).last_line(), "334 ");
  EXPECT_EQ(d->session().client().auth_user, "");
}

TEST(SessionScram, Failures) {
  const std::string first = base64_encode("n,,n=alice,r=cnonce");
  {
    auto d = scram_driver("c=biws,r=cnonceSRV,p=cHJvb2Y=");
    EXPECT_EQ(codes(replies_to(*d, kEhlo + "AUTH SCRAM-SHA-256 " + first + "\r\n" +
                                       base64_encode("c=biws,r=cnonceSRV,p=d3Jvbmc=") + "\r\n")),
              "250,334,535 5.7.8");
    EXPECT_EQ(d->session().client().auth_user, "");
  }
  {  // a non-empty answer to the server's signature
    auto d = scram_driver("c=biws,r=cnonceSRV,p=cHJvb2Y=");
    EXPECT_EQ(codes(replies_to(*d, kEhlo + "AUTH SCRAM-SHA-256 " + first + "\r\n" +
                                       base64_encode("c=biws,r=cnonceSRV,p=cHJvb2Y=") + "\r\n" +
                                       base64_encode("x") + "\r\n")),
              "250,334,334,535 5.7.8");
    EXPECT_EQ(d->session().client().auth_user, "");
  }
  {  // cancelled, bad base64, channel binding, another identity, malformed
    auto d = scram_driver("");
    EXPECT_EQ(
        codes(replies_to(
            *d, kEhlo + "AUTH SCRAM-SHA-256 " + first + "\r\n*\r\n" + "AUTH SCRAM-SHA-256 !!\r\n" +
                    "AUTH SCRAM-SHA-256 " + base64_encode("p=tls-unique,,n=alice,r=x") + "\r\n" +
                    "AUTH SCRAM-SHA-256 " + base64_encode("n,a=bob,n=alice,r=x") + "\r\n" +
                    "AUTH SCRAM-SHA-256 " + base64_encode("n,,r=x") + "\r\n")),
        "250,334,501 5.7.0,501 5.5.2,535 5.7.8,535 5.7.8,535 5.7.8");
  }
}

// ---- practice 7 for a long mixed conversation ----

TEST(SessionSplit, LongConversationIsSplitInvariant) {
  const std::string in =
      "EHLO client.example\r\nNOOP\r\nMAIL FROM:<> SIZE=20\r\nRCPT TO:<bob@example.org>\r\n"
      "RCPT TO:<unknown@example.org>\r\nRCPT TO:<fwd@example.org>\r\nDATA\r\nSubject: a\r\n\r\n"
      "..stuffed\r\n.\r\nHELP\r\nFOO\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<postmaster>\r\n"
      "BDAT 4\r\nab\r\nBDAT 0 LAST\r\nRSET\r\nVRFY x\r\nMAIL FROM:<a@example.org>\r\n"
      "RCPT TO:<bob@example.org>\r\nDATA\r\nbad\nline\r\n.\r\nQUIT\r\nNOOP\r\n";
  const std::string summary = expect_session_split_invariant(in);
  EXPECT_NE(summary.find("closed=1"), std::string::npos) << summary;
  EXPECT_NE(summary.find("body=Subject: a\\n\\n.stuffed\\n"), std::string::npos) << summary;
  EXPECT_NE(summary.find("bdat body=ab\\n"), std::string::npos) << summary;
}

}  // namespace
}  // namespace taube::smtp
