#include "queue/destination_view.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "queue/attempt.hpp"
#include "queue/envelope.hpp"

namespace taube::queue {
namespace {

constexpr std::int64_t kNow = 1'700'000'000;

QueuedRecipient rcpt(const std::string& local, const std::string& domain, RecipientState s) {
  QueuedRecipient r;
  r.mailbox = {local, domain};
  r.state = s;
  return r;
}

TEST(PeekQueuedDomains, AgreesWithTheDecoderOnQueuedRecipients) {
  QueueEnvelope env;
  env.id = "ABC";
  env.arrival = kNow;
  env.sender.mailbox = {"alice", "example.org"};
  env.recipients.push_back(rcpt("bob", "Remote.Test", RecipientState::Pending));
  auto d = rcpt("carol", "other.test", RecipientState::Deferred);
  d.attempts = 3;
  d.last_reply = "451 4.7.1 try again later state=delivered";  // a reply cannot fool it
  env.recipients.push_back(d);
  env.recipients.push_back(rcpt("dave", "done.test", RecipientState::Delivered));
  env.recipients.push_back(rcpt("erin", "gone.test", RecipientState::Failed));
  env.recipients.push_back(rcpt("frank", "warned.test", RecipientState::DelayNotified));
  // A domain that xtext encodes (a '+' and a '='), and an address literal.
  env.recipients.push_back(rcpt("x y", "a+b=c.test", RecipientState::Pending));
  auto lit = rcpt("root", "[192.0.2.1]", RecipientState::Pending);
  lit.mailbox.domain_is_literal = true;
  env.recipients.push_back(lit);
  const std::string text = encode_envelope(env);
  auto decoded = decode_envelope(text);
  ASSERT_TRUE(decoded);
  std::vector<std::string> want;
  for (const auto& r : decoded->recipients)
    if (is_queued(r.state)) want.push_back(r.mailbox.domain);
  EXPECT_EQ(peek_queued_domains(text), want);
  EXPECT_EQ(want.size(), 5u);
  EXPECT_TRUE(peek_queued_domains("").empty());
  EXPECT_TRUE(peek_queued_domains("rcpt onlyonefield\n").empty());
}

TEST(DestinationShape, CountsMessagesByStateAndQshapesAgeColumns) {
  DestinationShape shape;
  shape.add("a:25", QueueState::Deferred, kNow - 30, 2, kNow);           // < 5 min
  shape.add("a:25", QueueState::Deferred, kNow - 7 * 60, 1, kNow);       // 5..10
  shape.add("a:25", QueueState::Hold, kNow - 2000 * 60, 1, kNow);        // 1280+
  shape.add("a:25", QueueState::Active, kNow - 1280 * 60 + 1, 1, kNow);  // 640..1280
  shape.add("b:25", QueueState::Incoming, kNow + 100, 1, kNow);          // from the future: < 5
  auto& rows = shape.rows();
  ASSERT_EQ(rows.size(), 2u);
  const auto& a = rows.at("a:25");
  EXPECT_EQ(a.key, "a:25");
  EXPECT_EQ(a.queued(), 4u);
  EXPECT_EQ(a.recipients, 5u);
  EXPECT_EQ(a.messages[static_cast<std::size_t>(QueueState::Deferred)], 2u);
  EXPECT_EQ(a.messages[static_cast<std::size_t>(QueueState::Hold)], 1u);
  EXPECT_EQ(a.messages[static_cast<std::size_t>(QueueState::Active)], 1u);
  EXPECT_EQ(a.oldest_arrival, kNow - 2000 * 60);
  EXPECT_EQ(a.ages, (std::array<std::size_t, kAgeBuckets>{1, 1, 0, 0, 0, 0, 0, 0, 1, 1}));
  EXPECT_EQ(rows.at("b:25").ages[0], 1u);
}

std::vector<DestinationRow> sample_rows() {
  std::vector<DestinationRow> v(4);
  v[0].key = "busy.test:25";
  v[0].messages[static_cast<std::size_t>(QueueState::Deferred)] = 9;
  v[0].oldest_arrival = kNow - 100;
  v[0].history.last_hour[static_cast<std::size_t>(AttemptKind::Delivered)] = 2;
  v[1].key = "old.test:25";
  v[1].messages[static_cast<std::size_t>(QueueState::Hold)] = 1;
  v[1].oldest_arrival = kNow - 100000;
  v[1].held_until = kNow + 600;
  v[1].history.last_hour[static_cast<std::size_t>(AttemptKind::Deferred)] = 7;
  v[2].key = "broken.test:25";
  v[2].messages[static_cast<std::size_t>(QueueState::Deferred)] = 3;
  v[2].oldest_arrival = kNow - 5000;
  v[2].held_until = kNow + 60;
  v[2].history.last_hour[static_cast<std::size_t>(AttemptKind::ConnectionError)] = 4;
  v[2].history.last_hour[static_cast<std::size_t>(AttemptKind::TlsFailure)] = 1;
  v[3].key = "idle.test:25";
  v[3].history.last_hour[static_cast<std::size_t>(AttemptKind::Delivered)] = 50;
  return v;
}

std::vector<std::string> keys(const std::vector<DestinationRow>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.key);
  return out;
}

TEST(SortDestinations, EachOrder) {
  using V = std::vector<std::string>;
  auto sorted = [](DestinationSort by) {
    auto rows = sample_rows();
    sort_destinations(rows, by, kNow);
    return keys(rows);
  };
  EXPECT_EQ(sorted(DestinationSort::Queued),
            (V{"busy.test:25", "broken.test:25", "old.test:25", "idle.test:25"}));
  EXPECT_EQ(sorted(DestinationSort::Age),
            (V{"old.test:25", "broken.test:25", "busy.test:25", "idle.test:25"}));
  EXPECT_EQ(sorted(DestinationSort::Deferred).front(), "old.test:25");
  EXPECT_EQ(sorted(DestinationSort::Errors).front(), "broken.test:25");
  EXPECT_EQ(sorted(DestinationSort::Delivered),
            (V{"idle.test:25", "busy.test:25", "broken.test:25", "old.test:25"}));
  EXPECT_EQ(sorted(DestinationSort::Held),
            (V{"old.test:25", "broken.test:25", "busy.test:25", "idle.test:25"}));
  EXPECT_EQ(sorted(DestinationSort::Name),
            (V{"broken.test:25", "busy.test:25", "idle.test:25", "old.test:25"}));
}

TEST(SortDestinations, ParsesItsWordsAndNothingElse) {
  for (std::string_view w : {"queued", "age", "deferred", "errors", "delivered", "held", "name"})
    EXPECT_TRUE(parse_destination_sort(w)) << w;
  EXPECT_FALSE(parse_destination_sort(""));
  EXPECT_FALSE(parse_destination_sort("Queued"));
  EXPECT_FALSE(parse_destination_sort("size"));
}

TEST(JsonDestination, HasEveryField) {
  auto rows = sample_rows();
  rows[2].history.last_error = "connect to 192.0.2.1: \"refused\"";
  rows[2].history.last_failure = kNow - 5;
  rows[2].connections = 1;
  rows[2].limit = 2;
  rows[2].consecutive_failures = 3;
  rows[2].scheduled = true;
  rows[2].ages[3] = 3;
  const std::string j = json_destination(rows[2], kNow);
  EXPECT_EQ(j,
            "{\"destination\": \"broken.test:25\", \"queued\": 3, \"recipients\": 0, "
            "\"messages\": {\"incoming\": 0, \"active\": 0, \"deferred\": 3, \"hold\": 0}, "
            "\"ages\": [0, 0, 0, 3, 0, 0, 0, 0, 0, 0], \"oldest_arrival\": 1699995000, "
            "\"oldest_age\": 5000, \"scheduled\": true, \"connections\": 1, \"limit\": 2, "
            "\"waiting\": 0, \"held\": true, \"held_until\": 1700000060, "
            "\"consecutive_failures\": 3, \"plaintext_until\": 0, \"last_hour\": {\"delivered\": "
            "0, \"deferred\": 0, \"bounced\": 0, \"connection_errors\": 4, \"tls_failures\": 1}, "
            "\"total\": {\"delivered\": 0, \"deferred\": 0, \"bounced\": 0, "
            "\"connection_errors\": 0, \"tls_failures\": 0}, \"last_success\": 0, "
            "\"last_failure\": 1699999995, \"last_error\": \"connect to 192.0.2.1: "
            "\\\"refused\\\"\"}");
  // A hold that has ended is not a hold.
  EXPECT_NE(json_destination(rows[2], kNow + 61).find("\"held\": false, \"held_until\": 0"),
            std::string::npos);
}

TEST(DestinationsText, QshapeTableThenHealthLines) {
  auto rows = sample_rows();
  rows[0].ages[0] = 9;
  rows[2].ages[6] = 3;
  rows[1].ages[9] = 1;
  rows[2].history.last_error = "connect to 192.0.2.1[192.0.2.1]:25: Connection refused";
  rows[2].history.last_failure = kNow - 5;
  rows[2].consecutive_failures = 2;
  sort_destinations(rows, DestinationSort::Queued, kNow);
  const std::string t = destinations_text(rows, kNow);
  // The header of qshape, the total, a line per destination with mail.
  EXPECT_NE(t.find("     T     5    10    20    40    80   160   320   640  1280 1280+\n"),
            std::string::npos)
      << t;
  EXPECT_NE(
      t.find("         TOTAL    13     9     0     0     0     0     0     3     0     0     1\n"),
      std::string::npos)
      << t;
  EXPECT_NE(t.find("  busy.test:25     9     9"), std::string::npos) << t;
  EXPECT_EQ(t.find("  idle.test:25     0"), std::string::npos) << t;  // no mail: not in the shape
  // Health: the hold with its end, the last error under its line.
  EXPECT_NE(t.find("held until 22:14:20 (2 failures)"), std::string::npos) << t;
  EXPECT_NE(t.find("    last error 22:13:15: connect to 192.0.2.1[192.0.2.1]:25: Connection "
                   "refused\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("-- 4 destination(s), 13 message(s) queued"), std::string::npos) << t;
}

}  // namespace
}  // namespace taube::queue
