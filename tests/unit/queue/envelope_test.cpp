// Tests for src/queue/envelope.cpp: the queue envelope's text form round-trips every field, and
// the decoder refuses anything it did not write (truncation, unknown records, bad values).
#include "queue/envelope.hpp"

#include <gtest/gtest.h>

namespace taube::queue {
namespace {

QueueEnvelope sample() {
  QueueEnvelope e;
  e.id = "4F2A1B9C3D";
  e.arrival = 1764600000;
  e.sender.mailbox = smtp::Mailbox{"alice", "example.org", false};
  e.params.size = 1234;
  e.params.body = smtp::BodyType::EightBitMime;
  e.params.ret = smtp::DsnRet::Headers;
  e.params.envid = "env id+1=2";
  e.auth_user = "alice@example.org";
  e.client_address = "192.0.2.7";
  e.client_helo = "client.example";
  QueuedRecipient a;
  a.mailbox = smtp::Mailbox{"bob", "remote.test", false};
  a.params.notify = smtp::NotifySuccess | smtp::NotifyFailure;
  a.params.orcpt_type = "rfc822";
  a.params.orcpt_address = "Bob@Remote.Test";
  a.original = "info@example.org";
  QueuedRecipient b;
  b.mailbox = smtp::Mailbox{"a b\"c", "[192.0.2.1]", true};  // quoted local part, literal
  b.state = RecipientState::Deferred;
  b.attempts = 3;
  b.next_attempt = 1764600900;
  b.route = "[mx.remote.test]:25";
  b.last_reply = "451 4.7.1 Greylisted, try again later";
  e.recipients = {a, b};
  return e;
}

TEST(QueueEnvelope, RoundTripsEveryField) {
  const QueueEnvelope e = sample();
  const std::string text = encode_envelope(e);
  auto d = decode_envelope(text);
  ASSERT_TRUE(d) << d.error() << "\n" << text;
  EXPECT_EQ(*d, e);
  EXPECT_EQ(encode_envelope(*d), text);  // canonical
}

// A held item (taube queue hold) is written as version 2 with its "hold" record; everything
// else stays version 1, and version 1 cannot carry "hold".
TEST(QueueEnvelope, AHeldItemIsVersion2AndRoundTrips) {
  QueueEnvelope e = sample();
  EXPECT_EQ(encode_envelope(e).rfind("taube-envelope 1\n", 0), 0u);
  e.held = 1764601234;
  const std::string text = encode_envelope(e);
  EXPECT_EQ(text.rfind("taube-envelope 2\n", 0), 0u);
  EXPECT_NE(text.find("\nhold 1764601234\n"), std::string::npos);
  auto d = decode_envelope(text);
  ASSERT_TRUE(d) << d.error();
  EXPECT_EQ(*d, e);
  EXPECT_EQ(encode_envelope(*d), text);
  std::string v1 = text;
  v1.replace(0, 16, "taube-envelope 1");
  EXPECT_FALSE(decode_envelope(v1));
  std::string zero = text;
  zero.replace(zero.find("hold 1764601234"), 15, "hold 0");
  EXPECT_FALSE(decode_envelope(zero));
}

TEST(QueueEnvelope, NullSenderUtf8AndEmptyDomain) {
  QueueEnvelope e = sample();
  e.sender = smtp::Path{{}, true};
  e.params = {};
  e.params.smtputf8 = true;
  e.auth_user.clear();
  e.client_address.clear();
  e.recipients[0].mailbox = smtp::Mailbox{"jörg", "bücher.example", false};
  e.recipients[0].params.orcpt_type = "utf-8";
  e.recipients[0].params.orcpt_address = "jörg@bücher.example";
  e.recipients[1].mailbox = smtp::Mailbox{"postmaster", "", false};
  e.recipients[1].state = RecipientState::DelayNotified;
  auto d = decode_envelope(encode_envelope(e));
  ASSERT_TRUE(d) << d.error();
  EXPECT_EQ(*d, e);
  EXPECT_TRUE(d->sender.null);
}

TEST(QueueEnvelope, EveryStateRoundTrips) {
  for (auto st : {RecipientState::Pending, RecipientState::Deferred, RecipientState::DelayNotified,
                  RecipientState::Delivered, RecipientState::Failed}) {
    QueueEnvelope e = sample();
    e.recipients[0].state = st;
    auto d = decode_envelope(encode_envelope(e));
    ASSERT_TRUE(d) << d.error();
    EXPECT_EQ(d->recipients[0].state, st) << to_string(st);
  }
}

TEST(QueueEnvelope, ValuesCannotBreakTheFormat) {
  QueueEnvelope e = sample();
  e.recipients[1].last_reply = "550 5.1.1 line\nrcpt evil x state=delivered\nend";
  e.client_helo = "evil end\nend";
  const std::string text = encode_envelope(e);
  EXPECT_EQ(text.find("\nrcpt evil"), std::string::npos);
  auto d = decode_envelope(text);
  ASSERT_TRUE(d) << d.error();
  EXPECT_EQ(*d, e);
}

TEST(QueueEnvelope, EveryTruncationIsRefused) {
  const std::string text = encode_envelope(sample());
  // Any prefix of the file (a write cut short) fails to decode.
  for (std::size_t n = 0; n < text.size(); ++n)
    EXPECT_FALSE(decode_envelope(std::string_view(text).substr(0, n))) << "prefix " << n;
}

TEST(QueueEnvelope, RefusesWhatItDidNotWrite) {
  const std::string good = encode_envelope(sample());
  auto with = [&](std::string_view from, std::string_view to) {
    std::string t = good;
    const auto at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    t.replace(at, from.size(), to);
    return decode_envelope(t);
  };
  EXPECT_FALSE(with("taube-envelope 1", "taube-envelope 3"));
  EXPECT_FALSE(with("arrival 1764600000", "arrival soon"));
  EXPECT_FALSE(with("state=pending", "state=lost"));
  EXPECT_FALSE(with("state=pending", "colour=blue"));
  EXPECT_FALSE(with("notify=6", "notify=99"));
  EXPECT_FALSE(with("body=8bitmime", "body=binarymime"));
  EXPECT_FALSE(with("\nend\n", "\nend\nrcpt x y state=pending\n"));
  EXPECT_FALSE(with("\nid ", "\nid 4F\nid "));  // repeated id
  EXPECT_FALSE(with("env+20id", "env id"));     // a raw space splits the value
  auto e = with("\nend\n", "\nbogus record\nend\n");
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().find("line "), std::string::npos) << e.error();
  QueueEnvelope none = sample();
  none.recipients.clear();
  EXPECT_FALSE(decode_envelope(encode_envelope(none)));
}

}  // namespace
}  // namespace taube::queue
