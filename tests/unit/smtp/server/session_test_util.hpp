// Shared helpers of the ServerSession tests (tests/unit/smtp/server/*_test.cpp).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "session_driver.hpp"
#include "smtp/server/server_session.hpp"

namespace taube::smtp {

using testing::parse_replies;
using testing::ReplySeen;
using testing::SessionDriver;
using testing::test_config;
using testing::visible;

inline const std::string kEhlo = "EHLO client.example\r\n";
inline const std::string kMail = "MAIL FROM:<alice@example.org>\r\n";
inline const std::string kRcpt = "RCPT TO:<bob@example.org>\r\n";

// Feeds `input` to a started session and returns the replies it produced.
inline std::vector<ReplySeen> replies_to(SessionDriver& d, std::string_view input) {
  d.take_output();
  d.feed(input);
  return d.take_replies();
}

inline std::string codes(const std::vector<ReplySeen>& rs) {
  std::string s;
  for (const auto& r : rs) {
    if (!s.empty()) s += ",";
    s += std::to_string(r.code);
    if (!r.enhanced.empty()) s += " " + r.enhanced;
  }
  return s;
}

// Runs `input` through a fresh session and returns the reply codes ("250 2.1.0,354,...").
inline std::string run_codes(std::string_view input, const SessionConfig& cfg = test_config()) {
  SessionDriver d(cfg);
  d.start();
  return codes(replies_to(d, input));
}

inline std::vector<std::string> ehlo_lines(SessionConfig cfg, ChannelPolicy policy = {}) {
  SessionDriver d(std::move(cfg), {}, policy);
  d.start();
  const auto rs = replies_to(d, kEhlo);
  EXPECT_EQ(rs.size(), 1u);
  std::vector<std::string> out;
  for (const auto& l : rs.at(0).lines) out.push_back(l.substr(4));
  return out;
}

}  // namespace taube::smtp
