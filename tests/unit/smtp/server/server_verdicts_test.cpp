// Typed verdicts (verdicts.hpp): every kind maps to its reply from the table; refusals are
// reported as Reject events with the sender and recipient; command counts for the log line.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "session_test_util.hpp"

namespace taube::smtp {
namespace {

std::string mail_with(MailVerdict v) {
  testing::SessionAnswers a;
  a.mail = [v](const ServerSession&, const MailRequest&) { return v; };
  SessionDriver d(test_config(), a);
  d.start();
  const auto rs = replies_to(d, kEhlo + kMail);
  EXPECT_EQ(d.session().in_transaction(), v == MailVerdict::Accept);
  return rs.back().last_line();
}

TEST(SessionVerdicts, MailKindsMapToTheirReplies) {
  EXPECT_EQ(mail_with(MailVerdict::Accept), "250 2.1.0 Ok");
  EXPECT_EQ(mail_with(MailVerdict::NotOwned),
            "553 5.7.1 <alice@example.org>: Sender address rejected: not owned by the "
            "authenticated user");
  EXPECT_EQ(mail_with(MailVerdict::TempFail),
            "451 4.3.0 <alice@example.org>: Sender address rejected: Temporary lookup failure");
  EXPECT_EQ(mail_with(MailVerdict::Rejected),
            "550 5.7.1 <alice@example.org>: Sender address rejected: Access denied");
}

std::string rcpt_with(RcptVerdict v) {
  testing::SessionAnswers a;
  a.rcpt = [v](const ServerSession&, const RcptRequest&) { return v; };
  SessionDriver d(test_config(), a);
  d.start();
  return replies_to(d, kEhlo + kMail + kRcpt).back().last_line();
}

TEST(SessionVerdicts, RcptKindsMapToTheirReplies) {
  const std::vector<Destination> here{testing::mailbox_dest("/m/bob")};
  EXPECT_EQ(rcpt_with({RcptVerdictKind::Accept, here, {}}), "250 2.1.5 Ok");
  EXPECT_EQ(rcpt_with({RcptVerdictKind::Forward, here, "carol@example.net"}),
            "251 2.1.5 User not local; will forward to <carol@example.net>");
  EXPECT_EQ(rcpt_with({RcptVerdictKind::UserUnknown, {}, {}}),
            "550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown in local "
            "recipient table");
  EXPECT_EQ(rcpt_with({RcptVerdictKind::RelayDenied, {}, {}}),
            "554 5.7.1 <bob@example.org>: Relay access denied");
  EXPECT_EQ(rcpt_with({RcptVerdictKind::TempFail, {}, {}}),
            "451 4.3.0 <bob@example.org>: Temporary lookup failure");
  EXPECT_EQ(rcpt_with({RcptVerdictKind::SrsInvalid, {}, {}}),
            "550 5.1.1 <bob@example.org>: Recipient address rejected: invalid SRS address");
  EXPECT_EQ(rcpt_with({RcptVerdictKind::SrsExpired, {}, {}}),
            "550 5.1.1 <bob@example.org>: Recipient address rejected: SRS address expired");
  // Accepting without any destination would lose the mail: it is a temporary failure instead.
  EXPECT_EQ(rcpt_with({RcptVerdictKind::Accept, {}, {}}),
            "451 4.3.0 <bob@example.org>: Temporary lookup failure");
}

TEST(SessionVerdicts, CommitStatusesMapToTheirReplies) {
  for (auto [st, want] : std::vector<std::pair<CommitStatus, std::string>>{
           {CommitStatus::Accepted, "250 2.0.0 Ok: queued as Q9"},
           {CommitStatus::StorageError, "451 4.3.0 Error: queue file write error"},
           {CommitStatus::StorageFull, "452 4.3.1 Error: insufficient system storage"},
           {CommitStatus::LoopDetected, "554 5.4.6 Error: too many hops (mail loop)"}}) {
    testing::SessionAnswers a;
    a.commit = [st = st](const Envelope&, const std::string&) {
      return CommitResult{st, "Q9", {}};
    };
    SessionDriver d(test_config(), a);
    d.start();
    EXPECT_EQ(replies_to(d, kEhlo + kMail + kRcpt + "DATA\r\nx\r\n.\r\n").back().last_line(), want);
  }
}

TEST(SessionVerdicts, EveryMailPausesAuthenticatedOrNot) {
  SessionConfig cfg = test_config();
  ServerSession s(cfg, ClientInfo{});
  s.start();
  const std::string in = kEhlo + "MAIL FROM:<>\r\n";
  s.receive(in);
  EXPECT_EQ(s.pending(), Pending::Mail);
  EXPECT_TRUE(s.mail_request().sender.null);
}

TEST(SessionVerdicts, RefusalsAreReportedWithSenderAndRecipient) {
  SessionDriver d;
  d.start();
  replies_to(d, kEhlo + kMail + "RCPT TO:<someone@elsewhere.example>\r\nFOO\r\n");
  std::vector<Event> rejects;
  for (const auto& e : d.events())
    if (e.kind == EventKind::Reject) rejects.push_back(e);
  ASSERT_EQ(rejects.size(), 2u);
  EXPECT_EQ(rejects[0].verb, Verb::Rcpt);
  EXPECT_EQ(rejects[0].reply.code, 554);
  EXPECT_EQ(rejects[0].from, "alice@example.org");
  EXPECT_EQ(rejects[0].to, "someone@elsewhere.example");
  EXPECT_EQ(rejects[1].verb, Verb::Unknown);
  EXPECT_EQ(rejects[1].to, "");  // not a RCPT: no recipient
  // A refused MAIL has no transaction, but the event still names the sender.
  testing::SessionAnswers a;
  a.mail = [](const ServerSession&, const MailRequest&) { return MailVerdict::Rejected; };
  SessionDriver m(test_config(), a);
  m.start();
  replies_to(m, kEhlo + "MAIL FROM:<spammer@bad.example>\r\n");
  ASSERT_EQ(m.events().back().kind, EventKind::Reject);
  EXPECT_EQ(m.events().back().from, "spammer@bad.example");
}

TEST(SessionVerdicts, CommandCountsForTheDisconnectLine) {
  SessionDriver d;
  d.start();
  replies_to(d, kEhlo + kMail + kRcpt + "RCPT TO:<unknown@example.org>\r\nDATA\r\nx\r\n.\r\n" +
                    "NOOP\r\nFOO\r\nQUIT\r\n");
  const CommandCounts& c = d.session().command_counts();
  auto sent = [&](Verb v) { return c.sent[static_cast<std::size_t>(v)]; };
  auto ok = [&](Verb v) { return c.ok[static_cast<std::size_t>(v)]; };
  EXPECT_EQ(sent(Verb::Ehlo), 1u);
  EXPECT_EQ(ok(Verb::Ehlo), 1u);
  EXPECT_EQ(sent(Verb::Rcpt), 2u);
  EXPECT_EQ(ok(Verb::Rcpt), 1u);
  EXPECT_EQ(sent(Verb::Data), 1u);  // the 354 does not count, the final 250 does
  EXPECT_EQ(ok(Verb::Data), 1u);
  EXPECT_EQ(sent(Verb::Unknown), 1u);
  EXPECT_EQ(ok(Verb::Unknown), 0u);
  EXPECT_EQ(ok(Verb::Quit), 1u);
}

}  // namespace
}  // namespace taube::smtp
