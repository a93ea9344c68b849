// Shared helpers of the ClientSession tests: configurations, messages, server turns, and the
// split-invariance check (every script replayed with the server's octets cut at every byte, in
// two at every offset and in random ways; all runs must agree on everything observable).
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "client_driver.hpp"
#include "smtp/client/client_session.hpp"

namespace taube::smtp::testing {

inline client::ClientConfig test_client_config() {
  client::ClientConfig c;
  c.helo_name = "client.example";
  c.tls = client::TlsPolicy::None;
  return c;
}

inline Mailbox mbox(std::string local, std::string domain) {
  Mailbox m;
  m.local_part = std::move(local);
  m.domain = std::move(domain);
  return m;
}

inline client::OutboundMessage test_message(std::initializer_list<std::string_view> to) {
  client::OutboundMessage m;
  m.sender.mailbox = mbox("alice", "a.example");
  for (const auto t : to) {
    const auto at = t.find('@');
    m.recipients.push_back({mbox(std::string(t.substr(0, at)), std::string(t.substr(at + 1))), {}});
  }
  return m;
}

inline const std::string kGreeting = "220 mx.example ESMTP test\r\n";

// The 250 reply to EHLO with these extension lines.
inline std::string ehlo_reply(std::initializer_list<std::string_view> extensions) {
  std::string out;
  std::vector<std::string_view> lines = {"mx.example greets client.example"};
  lines.insert(lines.end(), extensions.begin(), extensions.end());
  for (std::size_t i = 0; i < lines.size(); ++i)
    out.append("250").append(i + 1 < lines.size() ? "-" : " ").append(lines[i]).append("\r\n");
  return out;
}

// Runs the script under every split plan of the whole server stream and expects the same run;
// returns the run with the whole turns.
inline ClientRun run_split(const client::ClientConfig& config,
                           const std::vector<std::string>& turns, const ClientPlan& plan) {
  const std::string all = concat(turns);
  const auto plans = split_plans(all.size());
  ClientRun whole = run_client(config, ScriptedServer{turns}, plan);
  const std::string want = whole.summary();
  for (std::size_t i = 1; i < plans.size(); ++i) {
    ClientRun got =
        run_client(config, ScriptedServer{turns}, plan, plan_splitter(turns, plans[i].cuts));
    if (got.summary() != want) {
      ADD_FAILURE() << "split '" << plans[i].name << "' differs.\n--- whole ---\n"
                    << want << "--- split ---\n"
                    << got.summary();
      break;
    }
  }
  EXPECT_FALSE(whole.stuck);
  return whole;
}

inline ClientPlan one_message(client::OutboundMessage m, std::vector<std::string> content) {
  ClientPlan p;
  p.messages.push_back(std::move(m));
  p.contents.push_back(std::move(content));
  return p;
}

}  // namespace taube::smtp::testing
