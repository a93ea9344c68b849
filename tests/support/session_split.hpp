// The split-invariance check for whole sessions (gtest): a conversation fed whole and under every
// split plan must give the same replies, events and commits.
#pragma once

#include "session_driver.hpp"
#include "split_feed.hpp"

namespace taube::smtp::testing {

// Runs `input` through a fresh started session under every split plan and expects identical
// summaries; returns the whole-input summary.
inline std::string expect_session_split_invariant(std::string_view input,
                                                  const SessionConfig& cfg = test_config()) {
  return expect_split_invariant(input, [&](const Pieces& pieces) {
    SessionDriver d(cfg);
    d.start();
    d.feed_pieces(pieces);
    return d.summary();
  });
}

}  // namespace taube::smtp::testing
