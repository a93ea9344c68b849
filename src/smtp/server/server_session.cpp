// ServerSession: input, command dispatch, replies and events. The commands themselves are in
// server_transaction.cpp (the mail transaction), server_commands.cpp (everything else) and
// server_auth.cpp (STARTTLS, AUTH). See server_session.hpp for the theory of operation.
#include "smtp/server/server_session.hpp"

#include <algorithm>
#include <cstring>

namespace taube::smtp {

// The command table (ARCHITECTURE.md practice 3): each verb once, with its handler and whether
// it needs HELO/EHLO first. Sequence checks that depend on the transaction live in the handler.
struct ServerSession::CommandSpec {
  Verb verb;
  void (ServerSession::*handler)(const Command&);
  bool needs_helo;  // RFC 5321 §4.1.4 lets a server require HELO/EHLO before a transaction
};

const ServerSession::CommandSpec& ServerSession::spec_for(Verb verb) {
  static const CommandSpec kTable[] = {
      {Verb::Helo, &ServerSession::on_helo, false},
      {Verb::Ehlo, &ServerSession::on_helo, false},
      {Verb::Lhlo, &ServerSession::on_helo, false},
      {Verb::Mail, &ServerSession::on_mail, true},
      {Verb::Rcpt, &ServerSession::on_rcpt, false},
      {Verb::Data, &ServerSession::on_data, false},
      {Verb::Bdat, &ServerSession::on_bdat, false},
      {Verb::Rset, &ServerSession::on_rset, false},
      {Verb::Noop, &ServerSession::on_noop, false},
      {Verb::Quit, &ServerSession::on_quit, false},
      {Verb::Vrfy, &ServerSession::on_vrfy, false},
      {Verb::Expn, &ServerSession::on_expn, false},
      {Verb::Help, &ServerSession::on_help, false},
      {Verb::Etrn, &ServerSession::on_etrn, true},
      {Verb::Starttls, &ServerSession::on_starttls, false},
      {Verb::Auth, &ServerSession::on_auth, false},
      {Verb::Unknown, &ServerSession::on_unknown, false},
      {Verb::Invalid, &ServerSession::on_invalid, false},
  };
  for (const auto& s : kTable)
    if (s.verb == verb) return s;
  return kTable[sizeof(kTable) / sizeof(kTable[0]) - 1];
}

ServerSession::ServerSession(const SessionConfig& config, ClientInfo client, ChannelPolicy policy)
    : cfg_(config),
      client_(std::move(client)),
      policy_(policy),
      bare_newline_(config.bare_newline) {}

void ServerSession::start() {
  if (state_ != State::Greeting) return;
  // RFC 5321 §4.3.1: the greeting is the first reply; 220 with our name. RFC 2033 §4: an LMTP
  // server greets the same way.
  out_.clear();
  append_reply(out_, make_reply(ReplyId::Greeting, cfg_.hostname));
  state_ = State::Connected;
}

void ServerSession::reject_connection(ReplyId id) {
  close_with(id);
}

std::size_t ServerSession::receive(std::span<const char> in) {
  std::size_t used = 0;
  while (used < in.size() && pending_ == Pending::None && state_ != State::Closed &&
         state_ != State::Greeting) {
    if (state_ == State::TlsPending) return in.size();  // CVE-2011-0411: drop plaintext
    const auto rest = in.subspan(used);
    std::size_t n;
    switch (state_) {
      case State::Data:
        n = receive_data(rest);
        break;
      case State::Bdat:
        n = receive_bdat(rest);
        break;
      default:
        n = receive_commands(rest);
        break;
    }
    used += n;
    if (n == 0 && state_ != State::Bdat) break;
  }
  // After the session closed nothing more is read; the caller drops the rest.
  return state_ == State::Closed ? in.size() : used;
}

std::size_t ServerSession::receive_commands(std::span<const char> in) {
  std::size_t i = 0;
  while (i < in.size()) {
    const char* start = in.data() + i;
    const std::size_t avail = in.size() - i;
    const void* nl = std::memchr(start, '\n', avail);
    if (nl == nullptr) {
      // A partial line: keep it (bounded by the command line limit) for the next receive().
      if (!line_overflow_) {
        if (line_.size() + avail > line_limit()) {
          line_overflow_ = true;
          line_.clear();
        } else {
          line_.append(start, avail);
        }
      }
      return in.size();
    }
    const std::size_t len = static_cast<std::size_t>(static_cast<const char*>(nl) - start);
    i += len + 1;
    if (line_overflow_) {
      // RFC 5321 §4.5.3.1.4: 512 octets including <CRLF>; the over-long line was skipped.
      line_overflow_ = false;
      current_verb_ = Verb::Invalid;
      counted_ = false;
      reply(ReplyId::CommandTooLong);
    } else {
      std::string_view line;
      if (!line_.empty()) {
        line_.append(start, len);
        line = line_;
      } else {
        line = std::string_view(start, len);
      }
      // Commands end in <CRLF>; a bare <LF> is accepted as the end of a command line (only the
      // end of DATA needs to be strict, see dot_decoder.hpp).
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.size() + 2 > line_limit()) {
        current_verb_ = Verb::Invalid;
        counted_ = false;
        reply(ReplyId::CommandTooLong);
      } else {
        handle_line(line);
      }
      line_.clear();
    }
    // After STARTTLS everything already received is plaintext injected before the handshake.
    if (state_ == State::TlsPending) return in.size();
    if (pending_ != Pending::None || state_ == State::Closed || state_ == State::Data ||
        state_ == State::Bdat)
      return i;
  }
  return i;
}

std::size_t ServerSession::line_limit() const {
  // RFC 4954 §4: a SASL response line may be up to 12288 octets.
  return state_ == State::AuthResponse ? std::max<std::size_t>(cfg_.limits.max_command_line, 12288)
                                       : cfg_.limits.max_command_line;
}

void ServerSession::handle_line(std::string_view line) {
  if (state_ == State::AuthResponse) {
    on_auth_response(line);
    return;
  }
  handle_command(parse_command(line));
}

void ServerSession::handle_command(const Command& cmd) {
  current_verb_ = cmd.verb;
  counted_ = false;
  cmd_from_.clear();
  cmd_to_.clear();
  const CommandSpec& spec = spec_for(cmd.verb);
  if (spec.needs_helo && cfg_.require_helo && state_ == State::Connected) {
    reply(ReplyId::NeedHelo);
    return;
  }
  (this->*spec.handler)(cmd);
}

ServerSession::State ServerSession::idle_state() const {
  if (tx_) return tx_->envelope.recipients.empty() ? State::Mail : State::Rcpt;
  return client_.helo.empty() ? State::Connected : State::Ready;
}

void ServerSession::reset_transaction() {
  if (message_open_) {
    push(Event{EventKind::MessageAbort, {}, Verb::Invalid, {}, {}, 0, 0, nullptr});
    message_open_ = false;
    body_.clear();
  }
  tx_.reset();
  dot_.reset();
  bdat_.reset();
}

void ServerSession::reply(ReplyId id, std::string_view arg) {
  reply(make_reply(id, arg));
}

void ServerSession::count_reply(const Reply& r) {
  if (counted_ || (r.code >= 300 && r.code < 400)) return;  // 334, 354: not the final reply
  counted_ = true;
  const auto v = static_cast<std::size_t>(current_verb_);
  ++counts_.sent[v];
  if (r.positive()) ++counts_.ok[v];
}

void ServerSession::reply(const Reply& r) {
  append_reply(out_, r);
  count_reply(r);
  if (r.code >= 400 && state_ != State::Closed) {
    Event e{EventKind::Reject, r, current_verb_, cmd_from_, cmd_to_, 0, 0, nullptr};
    if (tx_ && e.from.empty() && !tx_->envelope.sender.null)
      e.from = tx_->envelope.sender.mailbox.to_string();
    push(std::move(e));
    // RFC 5321 §4.2.5 allows closing after repeated errors; bounded work per connection.
    if (++errors_ >= cfg_.limits.max_errors) close_with(ReplyId::TooManyErrors);
  }
}

void ServerSession::close_with(ReplyId id) {
  if (state_ == State::Closed) return;
  reset_transaction();
  forget_password();
  append_reply(out_, make_reply(id, cfg_.hostname));
  state_ = State::Closed;
  pending_ = Pending::None;
  push(Event{EventKind::Close, {}, Verb::Invalid, {}, {}, 0, 0, nullptr});
}

void ServerSession::timeout() {
  close_with(ReplyId::Timeout);
}

void ServerSession::shutdown() {
  close_with(ReplyId::ShuttingDown);
}

std::optional<Event> ServerSession::poll_event() {
  if (events_head_ == events_.size()) {
    events_.clear();
    events_head_ = 0;
    return std::nullopt;
  }
  return std::move(events_[events_head_++]);
}

}  // namespace taube::smtp
