// console/reject_reasons: rejects by verb, code and enhanced status, examples without addresses.
#include "console/reject_reasons.hpp"

#include <gtest/gtest.h>

namespace taube::console {
namespace {

smtp::Reply reply(int code, std::string enhanced, std::string text) {
  return smtp::Reply{code, std::move(enhanced), std::move(text)};
}

TEST(RejectReasons, OneRowPerVerbCodeAndStatusWithTheFirstExample) {
  RejectReasons r;
  r.add("RCPT", reply(554, "5.7.1", "<bob@remote.test>: Relay access denied"));
  r.add("RCPT", reply(554, "5.7.1", "<carol@remote.test>: Relay access denied"));
  r.add("RCPT", reply(550, "5.1.1", "<nobody@example.org>: Recipient address rejected"));
  r.add("HELO", reply(501, "", "Syntax: HELO hostname"));
  const auto& rows = r.rows();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows.at("RCPT 554 5.7.1").count, 2u);
  EXPECT_EQ(rows.at("RCPT 554 5.7.1").example, "<\xE2\x80\xA6>: Relay access denied");
  EXPECT_EQ(rows.at("RCPT 550 5.1.1").count, 1u);
  EXPECT_EQ(rows.at("HELO 501").example, "Syntax: HELO hostname");
}

TEST(RejectReasons, ExamplesAreOneCleanBoundedLine) {
  EXPECT_EQ(reject_example("Client host [192.0.2.7] blocked\nsecond line"),
            "Client host [\xE2\x80\xA6] blocked");
  EXPECT_EQ(reject_example("unclosed <bracket"), "unclosed <bracket");
  EXPECT_EQ(reject_example("bell\x07 and \xC3\xA9"), "bell? and ??");
  EXPECT_EQ(reject_example(std::string(500, 'x')).size(), 120u);
}

TEST(RejectReasons, BoundedRowsTheRestUnderOther) {
  RejectReasons r;
  for (int i = 0; i < 100; ++i) r.add("RCPT", reply(550 + i % 50, "5.0." + std::to_string(i), "x"));
  EXPECT_EQ(r.rows().size(), RejectReasons::kMaxReasons + 1);
  EXPECT_EQ(r.rows().at("other").count, 100u - RejectReasons::kMaxReasons);
}

}  // namespace
}  // namespace taube::console
