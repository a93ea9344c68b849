// Tests for src/queue/dsn_notice.cpp: which NOTIFY values get which notice (RFC 3461 §4.1), the
// reports selected from an envelope's events, and the DSN's own envelope.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "dsn_test_support.hpp"
#include "queue/dsn.hpp"

namespace taube::queue {
namespace {

using namespace dsn_test;

TEST(NoticeWanted, Rfc3461Rules) {
  using smtp::NotifyDelay, smtp::NotifyFailure, smtp::NotifyNever, smtp::NotifySuccess;
  const auto row = [](unsigned n) {
    std::string s;
    for (DsnAction a : {DsnAction::Failed, DsnAction::Delayed, DsnAction::Delivered,
                        DsnAction::Relayed, DsnAction::Expanded})
      s += notice_wanted(n, a) ? '1' : '0';
    return s;
  };
  EXPECT_EQ(row(0), "11000");
  EXPECT_EQ(row(NotifyNever), "00000");
  EXPECT_EQ(row(NotifySuccess), "00111");
  EXPECT_EQ(row(NotifyFailure), "10000");
  EXPECT_EQ(row(NotifyDelay), "01000");
  EXPECT_EQ(row(NotifySuccess | NotifyFailure | NotifyDelay), "11111");
  EXPECT_EQ(row(NotifyNever | NotifyFailure), "00000");  // malformed: NEVER wins
}

TEST(SelectReports, FiltersByNotifyAndFillsAddresses) {
  QueueEnvelope e = envelope();
  QueuedRecipient never, success, plain;
  never.mailbox = {"n", "x.test", false};
  never.params.notify = smtp::NotifyNever;
  success.mailbox = {"s", "x.test", false};
  success.params.notify = smtp::NotifySuccess;
  success.params.orcpt_type = "rfc822";
  success.params.orcpt_address = "S@X.test";
  plain.mailbox = {"p", "x.test", false};
  plain.original = "alias@example.org";
  e.recipients = {never, success, plain};
  std::vector<RecipientEvent> events(5);
  events[0] = {0, DsnAction::Failed, "5.1.1", "mx.x.test"};
  events[1] = {1, DsnAction::Failed, "5.1.1", "mx.x.test"};  // SUCCESS only: no failure notice
  events[2] = {1, DsnAction::Delivered, "2.0.0", ""};
  events[3] = {2, DsnAction::Failed, "5.2.2", "mx.x.test", "smtp", "552 5.2.2 full", 7, {}};
  events[4] = {9, DsnAction::Failed, "5.1.1", ""};  // no such recipient
  const auto reports = select_reports(e, events);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].final_recipient, "s@x.test");
  EXPECT_EQ(reports[0].action, DsnAction::Delivered);
  EXPECT_EQ(reports[0].original_type, "rfc822");
  EXPECT_EQ(reports[0].original_address, "S@X.test");
  EXPECT_EQ(reports[1].final_recipient, "p@x.test");
  EXPECT_EQ(reports[1].expanded_from, "alias@example.org");
  EXPECT_EQ(reports[1].diagnostic, "552 5.2.2 full");
  EXPECT_EQ(reports[1].last_attempt, 7);
  EXPECT_TRUE(reports[1].original_type.empty());

  e.sender = smtp::Path{{}, true};
  EXPECT_TRUE(select_reports(e, events).empty());
}

TEST(DsnEnvelope, FromNullToTheSender) {
  const QueueEnvelope e = envelope();
  auto d = build_dsn(e, request({failed_report()}), kOriginal);
  ASSERT_TRUE(d);
  const QueueEnvelope de = dsn_envelope(e, *d, "5A5A5A", kArrival + 62);
  EXPECT_EQ(de.id, "5A5A5A");
  EXPECT_EQ(de.arrival, kArrival + 62);
  EXPECT_TRUE(de.sender.null);
  ASSERT_EQ(de.recipients.size(), 1u);
  EXPECT_EQ(de.recipients[0].mailbox, e.sender.mailbox);
  EXPECT_EQ(de.params.size, d->message.size());
  EXPECT_EQ(de.params.body, smtp::BodyType::SevenBit);
  EXPECT_FALSE(de.params.smtputf8);
  // The queue can store it.
  EXPECT_TRUE(decode_envelope(encode_envelope(de)));
}

}  // namespace
}  // namespace taube::queue
