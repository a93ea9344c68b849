// ClientDriver: plays the I/O layer and the server for a smtp::client::ClientSession (gtest-free,
// for the unit tests and the fuzzer). It follows step() as src/net does: writes take_output() to
// the "server", reads what the server answers and feeds it in pieces, completes the TLS handshake,
// hands over messages and their content, and finally QUIT.
//
// The server is a Responder: given what the client wrote since the last read, it returns the
// octets the server sends next (one "turn"), or nullopt to close the connection. ScriptedServer
// returns fixed turns in order. Each turn is cut into pieces by a Splitter (offsets), so that a
// test can replay a conversation with the server's octets split at every byte. All pieces of a
// turn are fed even if the session leaves Read halfway (a real peer's octets would sit in the
// socket buffer): octets after the 220 to STARTTLS must be noticed however they arrive.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "smtp/client/client_session.hpp"
#include "split_plans.hpp"

namespace taube::smtp::testing {

using Responder = std::function<std::optional<std::string>(std::string_view written)>;
// Cut offsets (sorted, each in 1..size-1) for turn `turn` of `size` octets.
using Splitter = std::function<std::vector<std::size_t>(std::size_t turn, std::size_t size)>;

struct ScriptedServer {
  std::vector<std::string> turns;
  std::size_t next = 0;
  std::optional<std::string> operator()(std::string_view) {
    if (next >= turns.size()) return std::nullopt;
    return turns[next++];
  }
};

struct ClientPlan {
  std::vector<client::OutboundMessage> messages;
  std::vector<std::vector<std::string>> contents;  // the content chunks of each message
  bool quit = true;                // QUIT when the messages are done (else just stop)
  bool tls_ok = true;              // the TLS handshake succeeds
  bool close_in_content = false;   // the connection breaks while the content is written
  std::size_t max_steps = 100000;  // a guard against a session that makes no progress
};

struct ClientRun {
  std::string written;  // everything the client wrote, in order
  std::vector<client::MessageResult> results;
  std::optional<client::SessionFailure> failure;
  std::vector<std::string> transcript;
  int tls_handshakes = 0;
  bool done = false;   // reached Step::Done
  bool stuck = false;  // max_steps exceeded
  bool closed_by_server = false;

  std::string summary() const;
};

inline const char* outcome_name(client::Outcome o) {
  switch (o) {
    case client::Outcome::Accepted:
      return "Accepted";
    case client::Outcome::Deferred:
      return "Deferred";
    case client::Outcome::Failed:
      return "Failed";
    case client::Outcome::Unknown:
      return "Unknown";
  }
  return "?";
}

inline std::string ClientRun::summary() const {
  std::ostringstream s;
  s << "written: " << visible(written) << "\n";
  for (std::size_t m = 0; m < results.size(); ++m) {
    s << "message " << m << (results[m].dsn_passed_on ? " dsn" : "") << "\n";
    for (const auto& r : results[m].recipients)
      s << "  rcpt " << r.index << " " << outcome_name(r.outcome) << " [" << r.status << "] "
        << r.reply << (r.local ? " (local)" : "") << "\n";
  }
  if (failure)
    s << "failure: " << outcome_name(failure->outcome) << " [" << failure->status << "] "
      << failure->stage << ": " << failure->reply << (failure->tls_failed ? " tls" : "")
      << (failure->before_any_transaction ? " before-tx" : "") << "\n";
  s << "tls: " << tls_handshakes << (done ? " done" : "") << (stuck ? " STUCK" : "")
    << (closed_by_server ? " closed-by-server" : "") << "\n";
  for (const auto& line : transcript) s << "| " << line << "\n";
  return s.str();
}

inline ClientRun run_client(const client::ClientConfig& config, Responder server,
                            const ClientPlan& plan, const Splitter& split = {}) {
  client::ClientSession session(config);
  ClientRun run;
  std::string unread;  // written since the server last answered
  std::size_t turn = 0, message = 0;
  bool quit_sent = false;
  auto flush = [&] {
    std::string out = session.take_output();
    run.written += out;
    unread += out;
  };
  for (std::size_t steps = 0;; ++steps) {
    if (steps > plan.max_steps) {
      run.stuck = true;
      break;
    }
    const client::Step st = session.step();
    flush();
    if (st == client::Step::Done) {
      run.done = true;
      break;
    }
    if (st == client::Step::Read) {
      std::optional<std::string> octets = server(unread);
      unread.clear();
      if (!octets) {
        run.closed_by_server = true;
        session.closed("connection closed by the server");
        continue;
      }
      const std::vector<std::size_t> cuts =
          split ? split(turn, octets->size()) : std::vector<std::size_t>{};
      ++turn;
      for (const std::string_view piece : cut(*octets, cuts)) {
        if (session.step() == client::Step::Done) break;
        session.received(piece);
        flush();
      }
    } else if (st == client::Step::StartTls) {
      ++run.tls_handshakes;
      if (plan.tls_ok)
        session.tls_established();
      else
        session.tls_failed("handshake failure (test)");
    } else if (st == client::Step::Ready) {
      if (message < plan.messages.size()) {
        session.send(plan.messages[message]);
        ++message;
      } else if (plan.quit && !quit_sent) {
        quit_sent = true;
        session.quit();
      } else {
        break;
      }
    } else if (st == client::Step::Content) {
      if (plan.close_in_content) {
        session.closed("write error (test)");
        continue;
      }
      const std::size_t m = message - 1;
      if (m < plan.contents.size())
        for (const std::string& chunk : plan.contents[m]) session.content(chunk);
      session.content_end();
    }
    while (auto r = session.take_result()) run.results.push_back(std::move(*r));
  }
  while (auto r = session.take_result()) run.results.push_back(std::move(*r));
  run.failure = session.failure();
  run.transcript = session.transcript();
  return run;
}

// The turns of a script cut by one split plan over their concatenation (the cuts that fall
// inside each turn), so that split_plans() of the whole server stream applies.
inline Splitter plan_splitter(const std::vector<std::string>& turns,
                              std::vector<std::size_t> cuts) {
  std::vector<std::size_t> starts;
  std::size_t at = 0;
  for (const auto& t : turns) {
    starts.push_back(at);
    at += t.size();
  }
  return [starts, cuts = std::move(cuts)](std::size_t turn, std::size_t size) {
    std::vector<std::size_t> out;
    if (turn >= starts.size()) return out;
    for (const std::size_t c : cuts)
      if (c > starts[turn] && c < starts[turn] + size) out.push_back(c - starts[turn]);
    return out;
  };
}

inline std::string concat(const std::vector<std::string>& turns) {
  std::string all;
  for (const auto& t : turns) all += t;
  return all;
}

}  // namespace taube::smtp::testing
