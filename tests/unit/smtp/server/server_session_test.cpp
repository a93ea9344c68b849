// Tests for src/smtp/server/server_session.cpp and server_transaction.cpp: greeting, EHLO, the
// pause for decisions (practice 2), pipelining, the envelope at commit, command syntax, and a
// long conversation under split_feed (practice 7).
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
