// console/log_feed: the live log's ring, read after a sequence number, filtered.
#include "console/log_feed.hpp"

#include <gtest/gtest.h>
#include <spdlog/logger.h>

namespace taube::console {
namespace {

TEST(ConsoleLogFeed, LinesAfterASequenceNumberFilteredAndBounded) {
  auto feed = std::make_shared<LogFeed>(3);
  spdlog::logger log("taube/smtpd", feed);
  log.info("connect from a");
  log.warn("ABC123: to=<b@remote.test>\nstatus=deferred");
  log.info("connect from c");
  log.info("ABC123: removed");
  std::vector<LogFeed::Line> out;
  const auto last = feed->since(0, "", 10, out);
  EXPECT_EQ(last, 4u);
  ASSERT_EQ(out.size(), 3u);  // the ring keeps three
  EXPECT_EQ(out[0].seq, 2u);
  EXPECT_NE(out[0].text.find(" taube/smtpd warning: ABC123: to=<b@remote.test> status=deferred"),
            std::string::npos)
      << out[0].text;
  out.clear();
  feed->since(2, "ABC123", 10, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seq, 4u);
  out.clear();
  feed->since(0, "", 1, out);  // at most one: the newest
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seq, 4u);
}

}  // namespace
}  // namespace taube::console
