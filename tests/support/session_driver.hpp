// SessionDriver: runs a ServerSession the way src/net does, without I/O. Each fed piece is
// appended to an input buffer; after every receive() a pending lookup is answered by a resolver
// and a pending commit by a committer, and the unconsumed rest is fed again. Everything the
// session produces is recorded: reply octets, events, committed messages. summary() renders all of
// it as one string, the "result" compared across split points (practice 7).
#pragma once

#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "smtp/server/server_session.hpp"
#include "split_feed.hpp"

namespace taube::smtp::testing {

// One complete reply as read from the wire.
struct ParsedReply {
  int code = 0;
  std::string enhanced;            // from the last line, "" when absent
  std::vector<std::string> lines;  // without CRLF
  const std::string& last_line() const { return lines.back(); }
};

// Splits reply octets into complete replies ("ddd-..." continuation lines up to "ddd ..."). The
// octets of an incomplete tail are returned in `rest` when given.
inline std::vector<ParsedReply> parse_replies(std::string_view wire, std::string* rest = nullptr) {
  std::vector<ParsedReply> out;
  ParsedReply cur;
  std::string_view pending = wire;  // start of the reply being assembled
  while (true) {
    const auto eol = wire.find("\r\n");
    if (eol == std::string_view::npos) break;
    const std::string_view line = wire.substr(0, eol);
    wire.remove_prefix(eol + 2);
    cur.lines.emplace_back(line);
    if (line.size() >= 4 && line[3] == '-') continue;
    cur.code = 0;
    for (std::size_t i = 0; i < 3 && i < line.size(); ++i)
      cur.code = cur.code * 10 + (line[i] - '0');
    // An enhanced code "d.d.d" follows the code when the first word looks like one.
    if (line.size() > 4) {
      const std::string_view text = line.substr(4);
      const std::string_view word = text.substr(0, text.find(' '));
      if (word.size() >= 5 && (word[0] == '2' || word[0] == '4' || word[0] == '5') &&
          word[1] == '.' && word.find('.', 2) != std::string_view::npos)
        cur.enhanced = std::string(word);
    }
    out.push_back(std::move(cur));
    cur = ParsedReply{};
    pending = wire;
  }
  if (rest != nullptr) rest->assign(pending);
  return out;
}

inline std::string_view event_name(EventKind k) {
  switch (k) {
    case EventKind::MessageBegin:
      return "MessageBegin";
    case EventKind::MessageAbort:
      return "MessageAbort";
    case EventKind::BareNewline:
      return "BareNewline";
    case EventKind::StartTls:
      return "StartTls";
    case EventKind::Close:
      return "Close";
  }
  return "?";
}

struct LookupAnswer {
  Reply reply;
  std::vector<std::string> destinations;
};
using Resolver = std::function<LookupAnswer(const LookupRequest&)>;
using Committer = std::function<Reply(const Envelope&, const std::string& body)>;
// Verifies SASL credentials: true accepts.
using Authenticator = std::function<bool(const AuthRequest&)>;

// The unit tests' fake directory. Local domains example.org and localhost; local parts starting
// with "unknown" do not exist, "fwd" is forwarded (251), "tempfail" fails temporarily; other
// domains are relaying (denied). VRFY/EXPN always succeed.
inline LookupAnswer fake_resolve(const LookupRequest& req) {
  const std::string local = ascii_lower(req.mailbox.local_part);
  const std::string domain = ascii_lower(req.mailbox.domain);
  if (req.kind == LookupKind::Sender) return {make_reply(ReplyId::MailOk), {}};
  if (req.kind != LookupKind::Rcpt)
    return {make_reply(ReplyId::VrfyOk, req.mailbox.to_string()), {}};
  if (domain.empty()) return {make_reply(ReplyId::RcptOk), {"/mail/postmaster"}};
  if (domain != "example.org" && domain != "localhost")
    return {make_reply(ReplyId::RelayDenied, req.mailbox.to_string()), {}};
  if (local.starts_with("unknown"))
    return {make_reply(ReplyId::UserUnknown, req.mailbox.to_string()), {}};
  if (local == "fwd")
    return {make_reply(ReplyId::RcptForward, "alice@example.org"), {"/mail/alice"}};
  if (local == "tempfail") return {make_reply(ReplyId::LocalError, req.mailbox.to_string()), {}};
  return {make_reply(ReplyId::RcptOk), {"/mail/" + local}};
}

inline Reply fake_commit(const Envelope&, const std::string&) {
  return make_reply(ReplyId::Queued, "TESTID");
}

// alice / secret is the only valid account.
inline bool fake_auth(const AuthRequest& req) {
  return req.username == "alice" && req.password == "secret";
}

inline SessionConfig test_config() {
  SessionConfig cfg;
  cfg.hostname = "mx.test";
  return cfg;
}

class SessionDriver {
 public:
  struct Committed {
    Envelope envelope;
    std::string body;
  };

  explicit SessionDriver(SessionConfig cfg = test_config(), Resolver resolver = fake_resolve,
                         Committer committer = fake_commit, ChannelPolicy policy = {},
                         Authenticator auth = fake_auth)
      : cfg_(std::make_unique<SessionConfig>(std::move(cfg))),
        session_(*cfg_, client_info(), policy),
        resolver_(std::move(resolver)),
        committer_(std::move(committer)),
        auth_(std::move(auth)) {}
  SessionDriver(const SessionDriver&) = delete;
  SessionDriver& operator=(const SessionDriver&) = delete;

  ServerSession& session() { return session_; }
  // Answers Pending::Auth itself (multi-step mechanisms: auth_challenge, auth_verified, ...).
  void set_auth_hook(std::function<void(ServerSession&)> hook) { auth_hook_ = std::move(hook); }

  void start() {
    session_.start();
    collect();
  }

  // Feeds one piece of client input and runs the session until it needs more input.
  void feed(std::string_view piece) {
    buffer_.append(piece);
    while (true) {
      const std::size_t n = session_.receive(buffer_);
      buffer_.erase(0, n);
      collect();
      if (session_.pending() == Pending::Lookup) {
        LookupAnswer a = resolver_(session_.lookup());
        session_.resolve_lookup(std::move(a.reply), std::move(a.destinations));
        continue;
      }
      if (session_.pending() == Pending::Auth) {
        if (auth_hook_) {
          auth_hook_(session_);
        } else {
          session_.auth_done(auth_(session_.auth_request()));
        }
        continue;
      }
      if (session_.pending() == Pending::Commit) {
        commits_.push_back({session_.envelope(), std::move(current_body_)});
        current_body_.clear();
        session_.commit_done(committer_(commits_.back().envelope, commits_.back().body));
        continue;
      }
      break;
    }
    collect();
  }
  void feed_pieces(const Pieces& pieces) {
    for (const auto p : pieces) feed(p);
  }

  // Reply octets produced since the last take_output().
  std::string take_output() {
    std::string r = all_output_.substr(taken_);
    taken_ = all_output_.size();
    return r;
  }
  std::vector<ParsedReply> take_replies() { return parse_replies(take_output()); }
  const std::string& all_output() const { return all_output_; }
  const std::vector<Event>& events() const { return events_; }
  std::vector<EventKind> event_kinds() const {
    std::vector<EventKind> r;
    for (const auto& e : events_) r.push_back(e.kind);
    return r;
  }
  void clear_events() { events_.clear(); }
  const std::vector<Committed>& commits() const { return commits_; }
  // Input the session did not consume (only after it closed... or a bug).
  const std::string& unconsumed() const { return buffer_; }

  // Everything observable, as text: the "result" that must not depend on input splits.
  std::string summary() const {
    std::ostringstream s;
    s << "output:\n";
    std::string_view out = all_output_;
    while (!out.empty()) {
      const auto eol = out.find("\r\n");
      const std::string_view line =
          out.substr(0, eol == std::string_view::npos ? out.npos : eol + 2);
      s << "  " << visible(line) << "\n";
      out.remove_prefix(line.size());
    }
    s << "events:";
    for (const auto& e : events_) {
      s << " " << event_name(e.kind);
      if (e.kind == EventKind::MessageAbort && e.reply.code != 0) s << "(" << e.reply.code << ")";
      if (e.kind == EventKind::BareNewline) s << "(lf=" << e.bare_lf << ",cr=" << e.bare_cr << ")";
    }
    s << "\ncommits:\n";
    for (const auto& c : commits_) {
      s << "  from=<" << (c.envelope.sender.null ? "" : c.envelope.sender.mailbox.to_string())
        << "> to=";
      for (const auto& r : c.envelope.recipients) s << "<" << r.mailbox.to_string() << ">";
      s << (c.envelope.bdat ? " bdat" : " data") << " body=" << visible(c.body) << "\n";
    }
    s << "closed=" << session_.closed() << " unconsumed=" << buffer_.size()
      << " body_left=" << visible(current_body_) << "\n";
    return s.str();
  }

 private:
  void collect() {
    all_output_ += session_.output();
    session_.output().clear();
    current_body_ += session_.body();
    session_.body().clear();
    while (auto e = session_.poll_event()) {
      if (e->kind == EventKind::MessageAbort) current_body_.clear();
      const bool tls = e->kind == EventKind::StartTls;
      events_.push_back(std::move(*e));
      // The I/O layer sends output(), does the handshake, then reports it.
      if (tls) session_.tls_started("TLSv1.3 TEST");
    }
  }

  static ClientInfo client_info() {
    ClientInfo c;
    c.address = "192.0.2.1";
    return c;
  }

  std::unique_ptr<SessionConfig> cfg_;  // the session keeps a reference: stable address
  ServerSession session_;
  Resolver resolver_;
  Committer committer_;
  Authenticator auth_;
  std::function<void(ServerSession&)> auth_hook_;
  std::string buffer_;
  std::string all_output_;
  std::size_t taken_ = 0;
  std::string current_body_;
  std::vector<Event> events_;
  std::vector<Committed> commits_;
};

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
