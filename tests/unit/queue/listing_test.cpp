// queue/listing: the console's filter and pages, its JSON item, and the header section.
#include "queue/listing.hpp"

#include "queue/attempt.hpp"

#include <gtest/gtest.h>

namespace taube::queue {
namespace {

QueuedRecipient rcpt(const std::string& local, const std::string& domain, RecipientState s) {
  QueuedRecipient r;
  r.mailbox = {local, domain};
  r.state = s;
  return r;
}

ListedItem item(const std::string& id, const std::string& sender,
                std::vector<QueuedRecipient> rcpts, std::int64_t held = 0) {
  ListedItem i;
  i.name = "file-" + id;
  i.envelope.id = id;
  i.envelope.arrival = 1000;
  if (sender.empty()) {
    i.envelope.sender.null = true;
  } else {
    const auto at = sender.find('@');
    i.envelope.sender.mailbox = {sender.substr(0, at), sender.substr(at + 1)};
  }
  i.envelope.recipients = std::move(rcpts);
  i.envelope.held = held;
  return i;
}

std::vector<ListedItem> sample() {
  std::vector<ListedItem> v;
  v.push_back(
      item("A1", "alice@example.org", {rcpt("bob", "Remote.Test", RecipientState::Pending)}));
  auto deferred = rcpt("carol", "other.test", RecipientState::Deferred);
  deferred.attempts = 2;
  v.push_back(item("B2", "Bob@Example.org", {deferred}));
  v.push_back(item("C3", "", {rcpt("alice", "example.org", RecipientState::Pending)}, 77));
  return v;
}

std::vector<std::string> ids(const ListPage& p) {
  std::vector<std::string> out;
  for (const auto& i : p.items) out.push_back(i.envelope.id);
  return out;
}

TEST(ListingFilter, EmptyMatchesEverything) {
  const auto p = select_page(sample(), {}, 1, 50);
  EXPECT_EQ(p.total, 3u);
  EXPECT_EQ(ids(p), (std::vector<std::string>{"A1", "B2", "C3"}));
}

TEST(ListingFilter, SenderIsACaseInsensitiveSubstringAndNullSenderIsAngleBrackets) {
  EXPECT_EQ(ids(select_page(sample(), {.sender = "bob@EXAMPLE"}, 1, 50)),
            (std::vector<std::string>{"B2"}));
  EXPECT_EQ(ids(select_page(sample(), {.sender = "example.org"}, 1, 50)),
            (std::vector<std::string>{"A1", "B2"}));
  EXPECT_EQ(ids(select_page(sample(), {.sender = "<>"}, 1, 50)), (std::vector<std::string>{"C3"}));
}

TEST(ListingFilter, RecipientDomainAndState) {
  EXPECT_EQ(ids(select_page(sample(), {.recipient = "CAROL"}, 1, 50)),
            (std::vector<std::string>{"B2"}));
  // Exactly the domain, in any case; a suffix is not a match.
  EXPECT_EQ(ids(select_page(sample(), {.domain = "remote.test"}, 1, 50)),
            (std::vector<std::string>{"A1"}));
  EXPECT_TRUE(select_page(sample(), {.domain = "test"}, 1, 50).items.empty());
  EXPECT_EQ(ids(select_page(sample(), {.state = "deferred"}, 1, 50)),
            (std::vector<std::string>{"B2"}));
  EXPECT_EQ(ids(select_page(sample(), {.state = "hold"}, 1, 50)), (std::vector<std::string>{"C3"}));
  EXPECT_EQ(ids(select_page(sample(), {.state = "incoming"}, 1, 50)),
            (std::vector<std::string>{"A1"}));
  // Filters combine.
  EXPECT_TRUE(select_page(sample(), {.sender = "alice", .state = "hold"}, 1, 50).items.empty());
}

TEST(ListingPage, PagesCountFromOneAndTotalCountsEveryMatch) {
  auto p = select_page(sample(), {}, 1, 2);
  EXPECT_EQ(ids(p), (std::vector<std::string>{"A1", "B2"}));
  EXPECT_EQ(p.total, 3u);
  p = select_page(sample(), {}, 2, 2);
  EXPECT_EQ(ids(p), (std::vector<std::string>{"C3"}));
  EXPECT_EQ(p.total, 3u);
  p = select_page(sample(), {}, 3, 2);
  EXPECT_TRUE(p.items.empty());
  EXPECT_EQ(p.total, 3u);
}

TEST(ListingPage, AHugePageDoesNotWrapAround) {
  const auto p = select_page(sample(), {}, SIZE_MAX, SIZE_MAX / 2);
  EXPECT_TRUE(p.items.empty());
  EXPECT_EQ(p.total, 3u);
}

TEST(ListingJson, QuoteEscapesControlsAndQuotes) {
  EXPECT_EQ(json_quote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
  EXPECT_EQ(json_quote("\xc3\xa9"), "\"\xc3\xa9\"");
}

TEST(ListingJson, ItemHasEveryRecipientWithItsState) {
  auto i = sample()[1];
  i.envelope.recipients.push_back(rcpt("dave", "other.test", RecipientState::Delivered));
  i.envelope.recipients[0].last_reply = "451 4.7.1 \"later\"";
  i.envelope.recipients[0].next_attempt = 2000;
  const std::string j = json_item(i);
  EXPECT_NE(j.find("\"queue_id\": \"B2\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"queue_name\": \"deferred\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"sender\": \"Bob@Example.org\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"address\": \"carol@other.test\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"last_reply\": \"451 4.7.1 \\\"later\\\"\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"state\": \"delivered\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"next_attempt\": 2000"), std::string::npos) << j;
  EXPECT_EQ(j.front(), '{');
  EXPECT_EQ(j.back(), '}');
}

TEST(ListingHeaders, HeaderSectionEndsAtTheEmptyLine) {
  EXPECT_EQ(header_section("A: 1\r\nB: 2\r\n\r\nbody\r\n"), "A: 1\r\nB: 2\r\n");
  EXPECT_EQ(header_section("A: 1\nB: 2\n\nbody\n"), "A: 1\nB: 2\n");
  EXPECT_EQ(header_section("A: 1\r\n"), "A: 1\r\n");
  EXPECT_EQ(header_section("\r\nbody"), "");
}

}  // namespace
}  // namespace taube::queue

namespace taube::queue {
namespace {

// The summary of every envelope agrees with what the decoder and queue_name() say.
TEST(ListingPeek, AgreesWithTheDecoder) {
  auto base = sample();
  std::vector<ListedItem> items = base;
  auto tried_failed = base[0];
  tried_failed.envelope.recipients[0].state = RecipientState::Failed;
  tried_failed.envelope.recipients[0].attempts = 3;
  tried_failed.envelope.recipients.push_back(rcpt("x y", "b.test", RecipientState::DelayNotified));
  tried_failed.envelope.recipients.back().last_reply = "451 state=failed attempts=9";
  items.push_back(tried_failed);
  auto none = base[1];
  none.envelope.recipients[0].state = RecipientState::Delivered;
  items.push_back(none);
  for (const auto& i : items) {
    const std::string text = encode_envelope(i.envelope);
    const auto s = peek_envelope(text);
    ASSERT_TRUE(s.ok) << text;
    EXPECT_EQ(s.arrival, i.envelope.arrival);
    EXPECT_EQ(queue_name(s), queue_name(i)) << text;
    std::size_t queued = 0;
    for (const auto& r : i.envelope.recipients) queued += is_queued(r.state) ? 1 : 0;
    EXPECT_EQ(s.queued, queued) << text;
  }
  EXPECT_FALSE(peek_envelope("taube-envelope 1\nid X\nend\n").ok);
}

// may_match never says no to an item that matches (and says no to most that do not).
TEST(ListingPeek, MayMatchIsANecessaryCondition) {
  std::vector<ListFilter> filters = {
      {.sender = "alice"},        {.sender = "ICE@EXAM"},    {.sender = "<>"},
      {.sender = "nobody"},       {.recipient = "bob@"},     {.recipient = "@other"},
      {.recipient = "zed"},       {.domain = "remote.test"}, {.domain = "REMOTE.TEST"},
      {.domain = "nowhere.test"}, {.recipient = "\"q\"@x"}};
  int refused = 0;
  for (const auto& i : sample()) {
    const std::string text = encode_envelope(i.envelope);
    for (const auto& f : filters) {
      if (matches(i, f)) EXPECT_TRUE(may_match(text, f)) << text << " " << f.sender << f.recipient;
      if (!may_match(text, f)) ++refused;
    }
  }
  EXPECT_GE(refused, 9);  // nobody, zed, nowhere.test on each of three items
}

}  // namespace
}  // namespace taube::queue
