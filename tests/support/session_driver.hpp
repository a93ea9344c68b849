// SessionDriver: runs a ServerSession the way src/net does, without I/O and without gtest, so the
// unit tests, the dialog runner and the session fuzzer share one driver. Each fed piece is
// appended to an input buffer; after every receive() the pending decision is answered through
// SessionAnswers and the unconsumed rest is fed again. Everything the session produces is
// recorded: reply octets, events, committed messages. summary() renders all of it as one string,
// the "result" compared across split points (ARCHITECTURE.md practice 7).
#pragma once

#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "smtp/server/server_session.hpp"
#include "smtp/wire/reply_parser.hpp"
#include "split_plans.hpp"

namespace taube::smtp::testing {

// One complete reply as read from the wire.
struct ReplySeen {
  int code = 0;
  std::string enhanced;            // "" when absent
  std::vector<std::string> lines;  // without CRLF
  const std::string& last_line() const { return lines.back(); }
};

// Splits reply octets into complete replies with the wire codec's ReplyParser (the one the
// client session uses). The octets of an incomplete tail are returned in `rest` when given.
inline std::vector<ReplySeen> parse_replies(std::string_view wire, std::string* rest = nullptr) {
  ReplyParser p;
  const std::size_t used = p.feed(std::span<const char>(wire.data(), wire.size()));
  std::vector<ReplySeen> out;
  while (auto r = p.next()) out.push_back({r->reply.code, r->reply.enhanced, std::move(r->lines)});
  if (rest != nullptr) {
    // Everything after the last complete reply (the parser keeps a partial one to itself).
    std::size_t complete = 0, pos = 0;
    while (pos < used) {
      const auto eol = wire.find('\n', pos);
      if (eol == std::string_view::npos) break;
      const std::string_view line = wire.substr(pos, eol - pos);
      pos = eol + 1;
      if (!(line.size() >= 4 && line[3] == '-')) complete = pos;
    }
    rest->assign(wire.substr(complete));
  }
  return out;
}

inline std::string_view event_name(EventKind k) {
  switch (k) {
    case EventKind::MessageBegin:
      return "MessageBegin";
    case EventKind::MessageAbort:
      return "MessageAbort";
    case EventKind::Reject:
      return "Reject";
    case EventKind::BareNewline:
      return "BareNewline";
    case EventKind::StartTls:
      return "StartTls";
    case EventKind::Authenticated:
      return "Authenticated";
    case EventKind::Close:
      return "Close";
  }
  return "?";
}

// How the driver answers the session's decisions. Every member has a default (below).
struct SessionAnswers {
  // Tried first, for any pending decision: true when it answered (the dialog runner passes the
  // server's own policy::SessionPolicy::answer here, exactly as the inbound connection calls it).
  std::function<bool(ServerSession&)> decide;
  std::function<MailVerdict(const ServerSession&, const MailRequest&)> mail;
  std::function<RcptVerdict(const ServerSession&, const RcptRequest&)> rcpt;
  std::function<AddressVerdict(const ServerSession&, Pending, const AddressRequest&)> address;
  std::function<CommitResult(const Envelope&, const std::string& body)> commit;
  // Answers Pending::Auth (auth_done, auth_challenge, auth_verified...).
  std::function<void(ServerSession&)> auth;
  // Called on a StartTls event once output() was taken: the I/O layer's handshake.
  std::function<void(ServerSession&)> tls;
};

inline Destination mailbox_dest(std::string dir) {
  return Destination{Destination::Route::Mailbox, std::move(dir)};
}

// The unit tests' fake policy. Local domains example.org and localhost; local parts starting
// with "unknown" do not exist, "fwd" is forwarded (251), "tempfail" fails temporarily; other
// domains are relaying (denied). VRFY/EXPN always find the address; senders starting with
// "notmine" are refused as not owned.
inline RcptVerdict fake_rcpt(const ServerSession&, const RcptRequest& req) {
  const std::string local = ascii_lower(req.mailbox.local_part);
  const std::string domain = ascii_lower(req.mailbox.domain);
  if (domain.empty()) return {RcptVerdictKind::Accept, {mailbox_dest("/mail/postmaster")}, {}};
  if (domain != "example.org" && domain != "localhost")
    return {RcptVerdictKind::RelayDenied, {}, {}};
  if (local.starts_with("unknown")) return {RcptVerdictKind::UserUnknown, {}, {}};
  if (local == "fwd")
    return {RcptVerdictKind::Forward, {mailbox_dest("/mail/alice")}, "alice@example.org"};
  if (local == "tempfail") return {RcptVerdictKind::TempFail, {}, {}};
  return {RcptVerdictKind::Accept, {mailbox_dest("/mail/" + local)}, {}};
}

inline MailVerdict fake_mail(const ServerSession&, const MailRequest& req) {
  return req.sender.mailbox.local_part.starts_with("notmine") ? MailVerdict::NotOwned
                                                              : MailVerdict::Accept;
}

inline AddressVerdict fake_address(const ServerSession&, Pending, const AddressRequest& req) {
  return {AddressVerdictKind::Found, {req.mailbox.to_string()}};
}

inline CommitResult fake_commit(const Envelope&, const std::string&) {
  return {CommitStatus::Accepted, "TESTID", {}};
}

// alice / secret is the only valid PLAIN/LOGIN account; no user has a SCRAM secret; a failed
// exchange is answered at once (no throttle, no delay).
inline void fake_auth(ServerSession& s) {
  const AuthRequest& req = s.auth_request();
  switch (req.need) {
    case AuthRequest::Need::VerifyPassword:
      s.auth_checked(req.username == "alice" && req.password == "secret");
      return;
    case AuthRequest::Need::LookupSecret:
      s.auth_secret(std::nullopt);
      return;
    case AuthRequest::Need::Failed:
      s.auth_failed();
      return;
  }
}

inline SessionAnswers default_answers() {
  return {{}, fake_mail, fake_rcpt, fake_address, fake_commit, fake_auth, [](ServerSession& s) {
            s.tls_started("TLSv1.3 TEST");
          }};
}

inline SessionConfig test_config() {
  SessionConfig cfg;
  cfg.hostname = "mx.test";
  return cfg;
}

inline ClientInfo test_client() {
  ClientInfo c;
  c.address = "192.0.2.1";
  return c;
}

class SessionDriver {
 public:
  struct Committed {
    Envelope envelope;
    std::string body;
  };

  explicit SessionDriver(SessionConfig cfg = test_config(),
                         SessionAnswers answers = default_answers(), ChannelPolicy policy = {},
                         ClientInfo client = test_client())
      : cfg_(std::make_unique<SessionConfig>(std::move(cfg))),
        session_(*cfg_, std::move(client), policy),
        answers_(fill_defaults(std::move(answers))) {}
  SessionDriver(const SessionDriver&) = delete;
  SessionDriver& operator=(const SessionDriver&) = delete;

  ServerSession& session() { return session_; }
  SessionAnswers& answers() { return answers_; }
  // Called after every call into the session, once its output and events were collected
  // (the fuzzer checks its invariants here).
  void set_after_call(std::function<void()> f) { after_call_ = std::move(f); }

  void start() {
    session_.start();
    collect();
  }

  // One receive() call, without answering what it leaves pending. Returns the octets consumed.
  std::size_t receive(std::span<const char> in) {
    const std::size_t n = session_.receive(in);
    consumed_ += n;
    collect();
    return n;
  }

  // Answers the pending decision, if any, through SessionAnswers. False when nothing was pending.
  bool answer_pending() {
    if (session_.pending() != Pending::None && answers_.decide && answers_.decide(session_)) {
      collect();
      return true;
    }
    switch (session_.pending()) {
      case Pending::None:
        return false;
      case Pending::Mail:
        session_.resolve_mail(answers_.mail(session_, session_.mail_request()));
        break;
      case Pending::Rcpt:
        session_.resolve_rcpt(answers_.rcpt(session_, session_.rcpt_request()));
        break;
      case Pending::Vrfy:
      case Pending::Expn:
        session_.resolve_address(
            answers_.address(session_, session_.pending(), session_.address_request()));
        break;
      case Pending::Auth:
        answers_.auth(session_);
        break;
      case Pending::Commit:
        commits_.push_back({session_.envelope(), std::move(current_body_)});
        current_body_.clear();
        session_.commit_done(answers_.commit(commits_.back().envelope, commits_.back().body));
        break;
    }
    collect();
    return true;
  }

  // Feeds one piece of client input and runs the session until it needs more input.
  void feed(std::string_view piece) {
    buffer_.append(piece);
    while (true) {
      const std::size_t n = receive(buffer_);
      buffer_.erase(0, n);
      if (!answer_pending()) break;
    }
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
  std::vector<ReplySeen> take_replies() { return parse_replies(take_output()); }
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
  std::uint64_t consumed() const { return consumed_; }
  std::uint64_t body_octets() const { return body_octets_; }
  // Content of the message in progress not yet committed.
  const std::string& current_body() const { return current_body_; }

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
      if (e.kind == EventKind::Reject) s << "(" << e.reply.code << " " << verb_name(e.verb) << ")";
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
  static SessionAnswers fill_defaults(SessionAnswers a) {
    const SessionAnswers d = default_answers();
    if (!a.mail) a.mail = d.mail;
    if (!a.rcpt) a.rcpt = d.rcpt;
    if (!a.address) a.address = d.address;
    if (!a.commit) a.commit = d.commit;
    if (!a.auth) a.auth = d.auth;
    if (!a.tls) a.tls = d.tls;
    return a;
  }

  void collect() {
    all_output_ += session_.output();
    session_.output().clear();
    body_octets_ += session_.body().size();
    current_body_ += session_.body();
    session_.body().clear();
    bool tls = false;
    while (auto e = session_.poll_event()) {
      if (e->kind == EventKind::MessageAbort) current_body_.clear();
      tls = tls || e->kind == EventKind::StartTls;
      events_.push_back(std::move(*e));
    }
    if (after_call_) after_call_();
    // The I/O layer sends output(), does the handshake, then reports it.
    if (tls) {
      answers_.tls(session_);
      collect();
    }
  }

  std::unique_ptr<SessionConfig> cfg_;  // the session keeps a reference: stable address
  ServerSession session_;
  SessionAnswers answers_;
  std::function<void()> after_call_;
  std::string buffer_;
  std::string all_output_;
  std::size_t taken_ = 0;
  std::string current_body_;
  std::uint64_t consumed_ = 0, body_octets_ = 0;
  std::vector<Event> events_;
  std::vector<Committed> commits_;
};

}  // namespace taube::smtp::testing
