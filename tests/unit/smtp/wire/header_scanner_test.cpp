// Tests for src/smtp/wire/header_scanner.cpp: Received: headers counted in the header section
// only, case-insensitively, whatever the cuts.
#include "smtp/wire/header_scanner.hpp"

#include <gtest/gtest.h>

#include <string>

#include "split_feed.hpp"

namespace taube::smtp {
namespace {

std::string scan(std::string_view content) {
  return testing::expect_split_invariant(content, [](const testing::Pieces& pieces) {
    HeaderScanner h;
    for (auto p : pieces) h.feed(p);
    return std::to_string(h.received()) + (h.headers_done() ? " done" : " open");
  });
}

TEST(HeaderScanner, CountsReceivedInTheHeaderSection) {
  EXPECT_EQ(scan("Received: a\nreceived: b\nRECEIVED:c\nSubject: x\n\nReceived: body\n"), "3 done");
  // Folded continuation lines are part of the header above them.
  EXPECT_EQ(scan("Received: from a\n\tby b\n received: no\nX: y\n\n"), "1 done");
  // Not a Received: header: the name must start the line and be complete.
  EXPECT_EQ(scan("X-Received: a\nReceivedX: b\nReceive: c\n Received: d\n\n"), "0 done");
  EXPECT_EQ(scan(""), "0 open");
  EXPECT_EQ(scan("\nReceived: in the body\n"), "0 done");
  EXPECT_EQ(scan("Received: no end of headers yet"), "1 open");
}

TEST(HeaderScanner, ManyHeaders) {
  std::string m;
  for (int i = 0; i < 51; ++i) m += "Received: from hop" + std::to_string(i) + "\n";
  m += "\nbody\n";
  HeaderScanner h;
  h.feed(m);
  EXPECT_EQ(h.received(), 51u);
}

}  // namespace
}  // namespace taube::smtp
