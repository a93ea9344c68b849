// Tests for src/queue/dsn.cpp: every DSN is read back with the strict walker of
// tests/support/mini_mime.hpp and every field is checked; hostile replies and addresses (CR/LF,
// 2000 octets, the boundary itself) cannot change the structure; RET, ENVID and the SMTPUTF8
// (RFC 6533) variants.
#include "queue/dsn.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "dsn_test_support.hpp"

namespace taube::queue {
namespace {

using namespace dsn_test;
using testing::MimeEntity;
TEST(Dsn, FailureReportEveryField) {
  QueueEnvelope e = envelope();
  e.params.envid = "QQ314159";
  auto d = build_dsn(e, request({failed_report()}), kOriginal);
  ASSERT_TRUE(d) << describe(d.error());
  EXPECT_FALSE(d->global);
  EXPECT_FALSE(d->smtputf8);
  EXPECT_FALSE(d->eight_bit);
  EXPECT_FALSE(d->full_content);
  Parsed p;
  ASSERT_TRUE(read_dsn(d->message, p)) << d->message;

  const MimeEntity& top = p.top;
  EXPECT_EQ(field(top, "From"), "Mail Delivery System <MAILER-DAEMON@mx.taube.example>");
  EXPECT_EQ(field(top, "To"), "<alice@example.org>");
  EXPECT_EQ(field(top, "Subject"), "Undelivered Mail Returned to Sender");
  EXPECT_EQ(field(top, "Date"), "Mon, 1 Dec 2025 14:41:01 +0000");
  EXPECT_EQ(field(top, "Message-ID"), "<dsn.4F2A1B9C3D@mx.taube.example>");
  EXPECT_EQ(field(top, "Auto-Submitted"), "auto-replied");
  EXPECT_EQ(field(top, "MIME-Version"), "1.0");
  EXPECT_EQ(testing::mime_param(field(top, "Content-Type"), "report-type"), "delivery-status");
  EXPECT_EQ(testing::mime_param(field(top, "Content-Type"), "boundary"),
            "=_taube_0123456789abcdef");
  EXPECT_EQ(top.count("Content-Transfer-Encoding"), 0u);
  EXPECT_EQ(top.fields.size(), 8u);

  EXPECT_EQ(field(p.parts[0], "Content-Type"), "text/plain; charset=us-ascii");
  const std::string text = flat(p.parts[0].body);
  EXPECT_NE(text.find("This is the mail system at mx.taube.example."), std::string::npos);
  EXPECT_NE(text.find("could not be delivered"), std::string::npos);
  EXPECT_NE(text.find("<bob@remote.test>: host mx.remote.test said: 550 5.1.1 "
                      "<bob@remote.test>: user unknown"),
            std::string::npos)
      << text;

  EXPECT_EQ(testing::media_type(p.parts[1]), "message/delivery-status");
  ASSERT_EQ(p.groups.size(), 2u);
  const MimeEntity& msg = p.groups[0];
  EXPECT_EQ(field(msg, "Reporting-MTA"), "dns; mx.taube.example");
  EXPECT_EQ(field(msg, "Original-Envelope-Id"), "QQ314159");
  EXPECT_EQ(field(msg, "Arrival-Date"), "Mon, 1 Dec 2025 14:40:00 +0000");
  EXPECT_EQ(field(msg, "X-Taube-Queue-ID"), "4F2A1B9C3D");
  const MimeEntity& rcpt = p.groups[1];
  EXPECT_EQ(field(rcpt, "Original-Recipient"), "rfc822; Bob@Remote.Test");
  EXPECT_EQ(field(rcpt, "Final-Recipient"), "rfc822; bob@remote.test");
  EXPECT_EQ(field(rcpt, "Action"), "failed");
  EXPECT_EQ(field(rcpt, "Status"), "5.1.1");
  EXPECT_EQ(field(rcpt, "Remote-MTA"), "dns; mx.remote.test");
  EXPECT_EQ(field(rcpt, "Diagnostic-Code"), "smtp; 550 5.1.1 <bob@remote.test>: user unknown");
  EXPECT_EQ(field(rcpt, "Last-Attempt-Date"), "Mon, 1 Dec 2025 14:41:00 +0000");
  EXPECT_EQ(rcpt.count("Will-Retry-Until"), 0u);
  EXPECT_EQ(rcpt.fields.size(), 7u);

  EXPECT_EQ(testing::media_type(p.parts[2]), "text/rfc822-headers");
  EXPECT_EQ(p.parts[2].body, kOriginal.substr(0, kOriginal.find("\n\n")));
}

TEST(Dsn, DelayReportAndOptionalFields) {
  RecipientReport r;
  r.final_recipient = "carol@slow.test";
  r.action = DsnAction::Delayed;
  r.status = "4.4.1";
  r.diagnostic_type = "X-Taube";
  r.diagnostic = "connect to mx.slow.test[192.0.2.9]:25: Connection timed out";
  r.will_retry_until = kArrival + 432000;
  const Parsed p = build_and_read(envelope(), request({r}));
  EXPECT_EQ(field(p.top, "Subject"), "Delayed Mail (still being retried)");
  ASSERT_EQ(p.groups.size(), 2u);
  EXPECT_EQ(p.groups[0].count("Original-Envelope-Id"), 0u);  // no ENVID given
  const MimeEntity& g = p.groups[1];
  EXPECT_EQ(g.count("Original-Recipient"), 0u);  // no ORCPT given
  EXPECT_EQ(g.count("Remote-MTA"), 0u);
  EXPECT_EQ(g.count("Last-Attempt-Date"), 0u);
  EXPECT_EQ(field(g, "Action"), "delayed");
  EXPECT_EQ(field(g, "Diagnostic-Code"),
            "X-Taube; connect to mx.slow.test[192.0.2.9]:25: Connection timed out");
  EXPECT_EQ(field(g, "Will-Retry-Until"), "Sat, 6 Dec 2025 14:40:00 +0000");
  EXPECT_NE(flat(p.parts[0].body).find("not been delivered yet"), std::string::npos);
  EXPECT_NE(flat(p.parts[0].body).find("Sat, 6 Dec 2025 14:40:00 +0000"), std::string::npos);
  EXPECT_NE(flat(p.parts[0].body).find("<carol@slow.test>: connect to"), std::string::npos);

  r.action = DsnAction::Delivered;  // Will-Retry-Until belongs to delays only
  const Parsed q = build_and_read(envelope(), request({r}));
  EXPECT_EQ(q.groups[1].count("Will-Retry-Until"), 0u);
}

TEST(Dsn, SubjectFollowsTheWeightiestAction) {
  const auto subject = [](std::vector<DsnAction> actions) {
    std::vector<RecipientReport> rs;
    for (DsnAction a : actions) {
      RecipientReport r = failed_report();
      r.action = a;
      r.status = a == DsnAction::Failed ? "5.1.1" : a == DsnAction::Delayed ? "4.4.1" : "2.0.0";
      rs.push_back(r);
    }
    return field(build_and_read(envelope(), request(rs)).top, "Subject");
  };
  EXPECT_EQ(subject({DsnAction::Delayed, DsnAction::Failed}),
            "Undelivered Mail Returned to Sender");
  EXPECT_EQ(subject({DsnAction::Delivered, DsnAction::Delayed}),
            "Delayed Mail (still being retried)");
  EXPECT_EQ(subject({DsnAction::Relayed, DsnAction::Delivered}), "Successful Mail Delivery Report");
  EXPECT_EQ(subject({DsnAction::Expanded}), "Successful Mail Delivery Report");
  EXPECT_EQ(subject({DsnAction::Relayed}), "Relayed Mail");
}

TEST(Dsn, SeveralRecipientsInOrder) {
  RecipientReport a = failed_report(), b = failed_report();
  b.final_recipient = "dave@remote.test";
  b.original_type.clear();
  b.expanded_from = "team@example.org";
  const Parsed p = build_and_read(envelope(), request({a, b}));
  ASSERT_EQ(p.groups.size(), 3u);
  EXPECT_EQ(field(p.groups[1], "Final-Recipient"), "rfc822; bob@remote.test");
  EXPECT_EQ(field(p.groups[2], "Final-Recipient"), "rfc822; dave@remote.test");
  EXPECT_NE(flat(p.parts[0].body).find("<dave@remote.test> (expanded from <team@example.org>)"),
            std::string::npos);
}

TEST(Dsn, RetFullReturnsTheWholeMessageOnlyForFailures) {
  QueueEnvelope e = envelope();
  e.params.ret = smtp::DsnRet::Full;
  auto d = build_dsn(e, request({failed_report()}), kOriginal);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->full_content);
  Parsed p;
  ASSERT_TRUE(read_dsn(d->message, p));
  EXPECT_EQ(testing::media_type(p.parts[2]), "message/rfc822");
  EXPECT_EQ(p.parts[2].body, kOriginal.substr(0, kOriginal.size() - 1));  // LF goes to delimiter
  EXPECT_NE(flat(p.parts[0].body).find("The message is attached below."), std::string::npos);

  RecipientReport delayed = failed_report();
  delayed.action = DsnAction::Delayed;
  delayed.status = "4.4.1";
  p = build_and_read(e, request({delayed}));
  EXPECT_EQ(testing::media_type(p.parts[2]), "text/rfc822-headers");

  e.params.ret = smtp::DsnRet::Headers;
  p = build_and_read(e, request({failed_report()}));
  EXPECT_EQ(testing::media_type(p.parts[2]), "text/rfc822-headers");
}

TEST(Dsn, RetFullSizeLimitAtNAndNPlusOne) {
  QueueEnvelope e = envelope();
  e.params.ret = smtp::DsnRet::Full;
  DsnRequest q = request({failed_report()});
  q.max_returned_content = kOriginal.size();
  EXPECT_TRUE(build_dsn(e, q, kOriginal)->full_content);
  q.max_returned_content = kOriginal.size() - 1;
  auto d = build_dsn(e, q, kOriginal);
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->full_content);
  Parsed p;
  ASSERT_TRUE(read_dsn(d->message, p));
  EXPECT_EQ(testing::media_type(p.parts[2]), "text/rfc822-headers");
  EXPECT_NE(flat(p.parts[0].body).find("too large"), std::string::npos);
}

TEST(Dsn, RetFullLineLimitAtNAndNPlusOne) {
  QueueEnvelope e = envelope();
  e.params.ret = smtp::DsnRet::Full;
  const std::string fits = "Subject: x\n\n" + std::string(998, 'b') + "\n";
  const std::string over = "Subject: x\n\n" + std::string(999, 'b') + "\n";
  EXPECT_TRUE(build_dsn(e, request({failed_report()}), fits)->full_content);
  EXPECT_FALSE(build_dsn(e, request({failed_report()}), over)->full_content);
}

TEST(Dsn, OriginalHeaderBlockShapes) {
  const QueueEnvelope e = envelope();
  // No empty line: all of it is header. CRs are dropped. A long header line is cut.
  const std::string long_value(1500, 'v');
  Parsed p = build_and_read(e, request({failed_report()}),
                            "Subject: a\r\nX-Long: " + long_value + "\r\nFrom: b");
  const std::string& h = p.parts[2].body;
  EXPECT_EQ(h.substr(0, 11), "Subject: a\n");
  EXPECT_EQ(h.substr(h.size() - 8), "\nFrom: b");
  auto lines = testing::parse_entity(h + "\n\n");
  ASSERT_TRUE(lines) << lines.error();
  std::string unfolded = field(*lines, "X-Long");
  std::erase(unfolded, ' ');
  EXPECT_EQ(unfolded, long_value);
  // Starts with the empty line: no header at all; the part is empty.
  p = build_and_read(e, request({failed_report()}), "\nbody only\n");
  EXPECT_EQ(p.parts[2].body, "");
  p = build_and_read(e, request({failed_report()}), "");
  EXPECT_EQ(p.parts[2].body, "");
}

TEST(Dsn, CrLfInRepliesAndAddressesCannotInjectFields) {
  QueueEnvelope e = envelope();
  e.params.envid = "id\r\nX-Injected: envid";
  RecipientReport r = failed_report();
  r.diagnostic = "550 5.1.1 no\r\nX-Injected: yes\r\n\r\nFinal-Recipient: rfc822; evil@x\n";
  r.final_recipient = "bob@remote.test\r\nBcc: victim@example.net";
  r.remote_mta = "mx\n\nAction: delivered";
  r.original_address = "o\r\n.\r\n";
  const Parsed p = build_and_read(e, request({r}));
  ASSERT_EQ(p.groups.size(), 2u);
  for (const MimeEntity& g : p.groups) {
    EXPECT_EQ(g.count("X-Injected"), 0u);
    EXPECT_EQ(g.count("Bcc"), 0u);
  }
  EXPECT_EQ(p.groups[1].count("Final-Recipient"), 1u);
  EXPECT_EQ(p.groups[1].count("Action"), 1u);
  EXPECT_EQ(field(p.groups[1], "Action"), "failed");
  EXPECT_EQ(field(p.groups[1], "Diagnostic-Code"),
            "smtp; 550 5.1.1 no X-Injected: yes Final-Recipient: rfc822; evil@x");
  EXPECT_EQ(field(p.groups[1], "Final-Recipient"),
            "rfc822; bob@remote.test Bcc: victim@example.net");
  EXPECT_EQ(field(p.groups[0], "Original-Envelope-Id"), "id X-Injected: envid");
  EXPECT_EQ(p.top.count("Bcc"), 0u);
}

TEST(Dsn, LongRepliesAreFoldedNotBroken) {
  std::string spaced;
  while (spaced.size() < 2000) spaced += "word" + std::to_string(spaced.size()) + " ";
  spaced.pop_back();
  const std::string solid = "550 " + std::string(2000, 'x');
  RecipientReport a = failed_report(), b = failed_report();
  a.diagnostic = spaced;
  b.diagnostic = solid;
  const Parsed p = build_and_read(envelope(), request({a, b}));
  ASSERT_EQ(p.groups.size(), 3u);
  EXPECT_EQ(field(p.groups[1], "Diagnostic-Code"), "smtp; " + spaced);  // unfolds exactly
  std::string got = field(p.groups[2], "Diagnostic-Code");
  std::erase(got, ' ');
  std::string want = "smtp;" + solid;
  std::erase(want, ' ');
  EXPECT_EQ(got, want);  // cut into lines, nothing lost
}

TEST(Dsn, ValueLimitAtNAndNPlusOne) {
  RecipientReport r = failed_report();
  r.diagnostic = std::string(kMaxReportValue, 'd');
  Parsed p = build_and_read(envelope(), request({r}));
  std::string v = field(p.groups[1], "Diagnostic-Code");
  std::erase(v, ' ');
  EXPECT_EQ(v, "smtp;" + std::string(kMaxReportValue, 'd'));
  r.diagnostic += 'e';
  p = build_and_read(envelope(), request({r}));
  v = field(p.groups[1], "Diagnostic-Code");
  std::erase(v, ' ');
  EXPECT_EQ(v, "smtp;" + std::string(kMaxReportValue, 'd'));  // the extra octet is cut
}

TEST(Dsn, Smtputf8MailGetsGlobalParts) {
  QueueEnvelope e = envelope();
  e.params.smtputf8 = true;
  e.sender.mailbox = smtp::Mailbox{"jörg", "bücher.example", false};
  RecipientReport r = failed_report();
  r.final_recipient = "用户@example.net";
  r.original_type = "utf-8";
  r.original_address = "用户@example.net";
  r.diagnostic = "550 5.1.1 用户不存在";
  const std::string original = "From: jörg@bücher.example\nSubject: Grüße\n\nHallo\n";
  auto d = build_dsn(e, request({r}), original);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->global);
  EXPECT_TRUE(d->smtputf8);
  EXPECT_TRUE(d->eight_bit);
  Parsed p;
  ASSERT_TRUE(read_dsn(d->message, p)) << d->message;
  EXPECT_EQ(field(p.top, "To"), "<jörg@bücher.example>");
  EXPECT_EQ(testing::mime_param(field(p.top, "Content-Type"), "report-type"),
            "global-delivery-status");
  EXPECT_EQ(field(p.top, "Content-Transfer-Encoding"), "8bit");
  EXPECT_EQ(field(p.parts[0], "Content-Type"), "text/plain; charset=utf-8");
  EXPECT_NE(flat(p.parts[0].body).find("<用户@example.net>: host"), std::string::npos);
  EXPECT_EQ(testing::media_type(p.parts[1]), "message/global-delivery-status");
  EXPECT_EQ(field(p.parts[1], "Content-Transfer-Encoding"), "8bit");
  EXPECT_EQ(field(p.groups[1], "Final-Recipient"), "utf-8; 用户@example.net");
  EXPECT_EQ(field(p.groups[1], "Original-Recipient"), "utf-8; 用户@example.net");
  EXPECT_EQ(field(p.groups[1], "Diagnostic-Code"), "smtp; 550 5.1.1 用户不存在");
  EXPECT_EQ(testing::media_type(p.parts[2]), "message/global-headers");
  EXPECT_EQ(p.parts[2].body, "From: jörg@bücher.example\nSubject: Grüße");

  e.params.ret = smtp::DsnRet::Full;
  p = build_and_read(e, request({r}), original);
  EXPECT_EQ(testing::media_type(p.parts[2]), "message/global");
  EXPECT_EQ(p.parts[2].body, original.substr(0, original.size() - 1));
}

TEST(Dsn, Smtputf8MailFromAnAsciiSenderNeedsOnly8BitMime) {
  QueueEnvelope e = envelope();
  e.params.smtputf8 = true;
  RecipientReport r = failed_report();
  r.final_recipient = "用户@example.net";
  auto d = build_dsn(e, request({r}), kOriginal);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->global);
  EXPECT_FALSE(d->smtputf8);  // the top-level header is ASCII
  EXPECT_TRUE(d->eight_bit);
  const QueueEnvelope de = dsn_envelope(e, *d, "5A5A5A", kArrival + 62);
  EXPECT_FALSE(de.params.smtputf8);
  EXPECT_EQ(de.params.body, smtp::BodyType::EightBitMime);
}

TEST(Dsn, SevenBitReportsEncodeUtf8AddressesAndMaskReplies) {
  RecipientReport r = failed_report();
  r.original_type = "utf-8";
  r.original_address = "jörg@example.net";
  r.diagnostic = "550 5.1.1 nicht zustellbar: Empfänger unbekannt";
  auto d = build_dsn(envelope(), request({r}), kOriginal);
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->global);
  EXPECT_FALSE(d->eight_bit);
  EXPECT_TRUE(smtp::is_ascii(d->message));
  Parsed p;
  ASSERT_TRUE(read_dsn(d->message, p));
  // RFC 6533 §3: utf-8-addr-xtext in a 7-bit report.
  EXPECT_EQ(field(p.groups[1], "Original-Recipient"), "utf-8; j\\x{F6}rg@example.net");
  EXPECT_EQ(field(p.groups[1], "Diagnostic-Code"),
            "smtp; 550 5.1.1 nicht zustellbar: Empf??nger unbekannt");
}

TEST(Dsn, EightBitOriginalHeadersAreMarked) {
  auto d = build_dsn(envelope(), request({failed_report()}),
                     "Subject: Gr\xc3\xbc\xc3\x9f"
                     "e\n\n");
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->global);
  EXPECT_FALSE(d->smtputf8);
  EXPECT_TRUE(d->eight_bit);
  Parsed p;
  ASSERT_TRUE(read_dsn(d->message, p));
  EXPECT_EQ(field(p.parts[2], "Content-Transfer-Encoding"), "8bit");
  EXPECT_EQ(field(p.top, "Content-Transfer-Encoding"), "8bit");
  EXPECT_EQ(p.parts[0].count("Content-Transfer-Encoding"), 0u);
}

TEST(Dsn, Refusals) {
  const auto error = [](QueueEnvelope e, DsnRequest q, std::string original = kOriginal) {
    auto d = build_dsn(e, q, original);
    return d ? std::string("ok") : std::string(describe(d.error()));
  };
  const QueueEnvelope e = envelope();
  const DsnRequest q = request({failed_report()});
  EXPECT_EQ(error(e, q), "ok");
  QueueEnvelope null = e;
  null.sender = smtp::Path{{}, true};
  EXPECT_EQ(error(null, q), describe(DsnError::NullSender));
  EXPECT_EQ(error(e, request({})), describe(DsnError::NoReports));
  for (const char* bad :
       {"", "5.1", "6.0.0", "3.0.0", "5.1.1 ", "5.1111.1", "5.1.1111", "5..1", "5.1.", "a.b.c"}) {
    DsnRequest b = q;
    b.reports[0].status = bad;
    EXPECT_EQ(error(e, b), describe(DsnError::BadStatus)) << bad;
  }
  for (const char* good : {"2.0.0", "4.4.7", "5.123.456"}) {
    DsnRequest b = q;
    b.reports[0].status = good;
    EXPECT_EQ(error(e, b), "ok") << good;
  }
  for (const char* bad : {"", "mx taube", "mx\n", "mx>x", "bücher.example"}) {
    DsnRequest b = q;
    b.reporting_mta = bad;
    EXPECT_EQ(error(e, b), describe(DsnError::BadHostname)) << bad;
  }
  for (const char* bad : {"", "id@x", "<a b@x>", "<>", "<id@x>\n"}) {
    DsnRequest b = q;
    b.message_id = bad;
    EXPECT_EQ(error(e, b), describe(DsnError::BadMessageId)) << bad;
  }
  DsnRequest b = q;
  b.boundary = std::string(70, 'b');
  EXPECT_EQ(error(e, b), "ok");  // N
  b.boundary = std::string(71, 'b');
  EXPECT_EQ(error(e, b), describe(DsnError::BadBoundary));  // N+1
  for (const char* bad : {"", "a b", "a\nb", "a\"b", "a;b"}) {
    b.boundary = bad;
    EXPECT_EQ(error(e, b), describe(DsnError::BadBoundary)) << bad;
  }
}

TEST(Dsn, BoundaryInTheContentIsRefused) {
  const QueueEnvelope e = envelope();
  DsnRequest q = request({failed_report()});
  const std::string delim = "--" + q.boundary;
  EXPECT_EQ(build_dsn(e, q, "Subject: x\n" + delim + "\n\n").error(), DsnError::BoundaryInContent);
  EXPECT_EQ(build_dsn(e, q, "Subject: a" + q.boundary + "b\n\n").error(),
            DsnError::BoundaryInContent);
  QueueEnvelope full = e;
  full.params.ret = smtp::DsnRet::Full;
  EXPECT_EQ(build_dsn(full, q, "Subject: x\n\n" + delim + "--\n").error(),
            DsnError::BoundaryInContent);
  q.reports[0].diagnostic = "550 " + delim;
  EXPECT_EQ(build_dsn(e, q, kOriginal).error(), DsnError::BoundaryInContent);
  q = request({failed_report()});
  QueueEnvelope sender = e;
  sender.sender.mailbox.local_part = q.boundary;
  EXPECT_EQ(build_dsn(sender, q, kOriginal).error(), DsnError::BoundaryInContent);
}

}  // namespace
}  // namespace taube::queue
