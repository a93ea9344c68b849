// The one-line form of replies and their RFC 3463 status, as the client reports them.
#include <gtest/gtest.h>

#include "smtp/client/client_session.hpp"

namespace taube::smtp::client {
namespace {

TEST(ClientReply, OneLineWithEnhancedCode) {
  EXPECT_EQ(reply_line({550, "5.1.1", "<b@x>: unknown"}), "550 5.1.1 <b@x>: unknown");
  EXPECT_EQ(reply_line({250, "", ""}), "250");
  EXPECT_EQ(reply_line({452, "4.2.2", "full\nreally full"}), "452 4.2.2 full really full");
  EXPECT_EQ(reply_line({550, "", "a\x1b[31mb\tc"}), "550 a?[31mb?c");
  const std::string long_line = reply_line({550, "5.0.0", std::string(5000, 'x')});
  EXPECT_EQ(long_line.size(), kMaxReplyLine);
  EXPECT_EQ(long_line.substr(long_line.size() - 3), "...");
}

TEST(ClientReply, StatusFollowsTheClass) {
  EXPECT_EQ(reply_status({550, "5.1.1", ""}), "5.1.1");
  EXPECT_EQ(reply_status({550, "", ""}), "5.0.0");
  EXPECT_EQ(reply_status({451, "5.1.1", ""}), "4.0.0");
  EXPECT_EQ(reply_status({250, "", "ok"}), "2.0.0");
  EXPECT_EQ(reply_outcome({250, "", ""}), Outcome::Accepted);
  EXPECT_EQ(reply_outcome({421, "", ""}), Outcome::Deferred);
  EXPECT_EQ(reply_outcome({554, "", ""}), Outcome::Failed);
}

}  // namespace
}  // namespace taube::smtp::client
