// ClientSession: replies, connection setup (greeting, EHLO/HELO, STARTTLS, AUTH), failures and
// the transcript. The mail transaction is in client_transaction.cpp.
#include "smtp/client/client_session.hpp"

#include <utility>

#include "smtp/client/client_transaction.hpp"
#include "smtp/wire/command_format.hpp"

namespace taube::smtp::client {

namespace {

int reply_class(const ParsedReply& r) {
  return r.reply.code / 100;
}

// Control characters (a hostile peer's escape sequences) never reach a log or a DSN as they are.
void append_visible(std::string& out, std::string_view s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? '?' : c);
  }
}

}  // namespace

std::string reply_line(const Reply& reply) {
  std::string out = std::to_string(reply.code);
  if (!reply.enhanced.empty()) out.append(" ").append(reply.enhanced);
  if (!reply.text.empty()) {
    out.push_back(' ');
    std::string text = reply.text;
    for (char& c : text)
      if (c == '\n') c = ' ';
    append_visible(out, text);
  }
  if (out.size() > kMaxReplyLine) {
    out.resize(kMaxReplyLine - 3);
    out.append("...");
  }
  return out;
}

std::string reply_status(const Reply& reply) {
  if (!reply.enhanced.empty() && reply.enhanced[0] == static_cast<char>('0' + reply.code / 100))
    return reply.enhanced;
  return std::to_string(reply.code / 100) + ".0.0";
}

Outcome reply_outcome(const Reply& reply) {
  const int c = reply.code / 100;
  return c == 2 ? Outcome::Accepted : c == 4 ? Outcome::Deferred : Outcome::Failed;
}

ClientSession::ClientSession(ClientConfig config)
    : config_(std::move(config)), parser_(config_.reply_limits) {
  tls_active_ = config_.tls_active;
  expect_.push_back({Expect::Greeting});
}

ClientSession::~ClientSession() = default;
ClientSession::ClientSession(ClientSession&&) noexcept = default;
ClientSession& ClientSession::operator=(ClientSession&&) noexcept = default;

Step ClientSession::step() const {
  switch (state_) {
    case State::Handshake:
      return Step::StartTls;
    case State::Ready:
      return Step::Ready;
    case State::Content:
      return Step::Content;
    case State::Done:
      return Step::Done;
    default:
      return Step::Read;
  }
}

std::string ClientSession::take_output() {
  return std::exchange(out_, {});
}

std::optional<MessageResult> ClientSession::take_result() {
  if (results_.empty()) return std::nullopt;
  MessageResult r = std::move(results_.front());
  results_.pop_front();
  return r;
}

std::chrono::seconds ClientSession::timeout() const {
  const ClientTimeouts& t = config_.timeouts;
  if (state_ == State::Content) return t.block;
  if (state_ == State::Handshake) return t.starttls;
  if (state_ == State::Done || state_ == State::Ready || expect_.empty())
    return std::chrono::seconds{0};
  switch (expect_.front().what) {
    case Expect::Greeting:
      return t.greeting;
    case Expect::Ehlo:
    case Expect::Helo:
      return t.helo;
    case Expect::StartTls:
      return t.starttls;
    case Expect::Auth:
      return t.auth;
    case Expect::Mail:
      return t.mail;
    case Expect::Rcpt:
      return t.rcpt;
    case Expect::Data:
      return t.data;
    case Expect::Bdat:
      return t.block;
    case Expect::DataAbort:
    case Expect::EndOfData:
      return t.final_dot;
    case Expect::Rset:
      return t.rset;
    case Expect::Quit:
      return t.quit;
  }
  return t.quit;
}

std::string_view ClientSession::stage_of(Expect e) const {
  switch (e) {
    case Expect::Greeting:
      return "greeting";
    case Expect::Ehlo:
      return "ehlo";
    case Expect::Helo:
      return "helo";
    case Expect::StartTls:
      return "starttls";
    case Expect::Auth:
      return "auth";
    case Expect::Mail:
      return "mail";
    case Expect::Rcpt:
      return "rcpt";
    case Expect::Data:
      return "data";
    case Expect::Bdat:
      return "content";
    case Expect::DataAbort:
    case Expect::EndOfData:
      return "end-of-data";
    case Expect::Rset:
      return "rset";
    case Expect::Quit:
      return "quit";
  }
  return "idle";
}

// ---- input ----

void ClientSession::received(std::string_view octets) {
  if (state_ == State::Done || octets.empty()) return;
  if (state_ == State::Handshake) {
    // Octets after the 220 to STARTTLS and before the handshake were sent in plaintext: whoever
    // sent them could make them read as the first encrypted replies (CVE-2011-0411).
    fail(Outcome::Deferred, "plaintext received after the 220 to STARTTLS (response injection)",
         "4.7.0", "starttls", false);
    return;
  }
  parser_.feed(octets);
  process_replies();
  if (state_ != State::Done && parser_.failed())
    broken("reply stream broken: " + std::string(parser_.error_reason()), "4.5.0");
}

void ClientSession::process_replies() {
  while (state_ != State::Done && state_ != State::Handshake) {
    std::optional<ParsedReply> r = parser_.next();
    if (!r) return;
    for (const std::string& line : r->lines) log("< " + line);
    if (expect_.empty()) {
      // Nothing was asked: a 421 before an idle close (RFC 5321 §3.8) ends the session; anything
      // else means the peer and the session no longer agree on which reply answers what.
      if (r->reply.code == 421)
        fail_reply(*r, state_ == State::Content ? "content" : "idle", false);
      else
        broken("unexpected reply: " + reply_line(r->reply), "4.5.0");
      return;
    }
    const Pending p = expect_.front();
    expect_.pop_front();
    on_reply(p, *r);
  }
}

void ClientSession::on_reply(const Pending& p, const ParsedReply& r) {
  if (p.what == Expect::Quit) {  // whatever the answer, the session is over (RFC 5321 §4.1.1.10)
    state_ = State::Done;
    expect_.clear();
    return;
  }
  if (r.reply.code == 421) {
    // RFC 5321 §3.8: the peer is closing. Every recipient without an answer yet is Deferred
    // with this reply (it answers the end of data too: that message was not taken).
    if (tx_) settle_all_open(Outcome::Deferred, reply_line(r.reply), reply_status(r.reply));
    fail_reply(r, std::string(stage_of(p.what)), false);
    return;
  }
  // 3xx only where the command asks for more (DATA's 354, AUTH's 334); DATA is not answered
  // with 2xx. Anything else: the reply stream is out of step with the commands.
  const bool intermediate = reply_class(r) == 3;
  const bool allows_3xx = p.what == Expect::Data || p.what == Expect::Auth;
  if ((intermediate && !allows_3xx) || (p.what == Expect::Data && reply_class(r) == 2) ||
      (intermediate && p.what == Expect::Data && r.reply.code != 354)) {
    broken("unexpected reply to " + std::string(stage_of(p.what)) + ": " + reply_line(r.reply),
           "4.5.0");
    return;
  }
  switch (p.what) {
    case Expect::Greeting:
      on_greeting(r);
      return;
    case Expect::Ehlo:
      on_ehlo(r, false);
      return;
    case Expect::Helo:
      on_ehlo(r, true);
      return;
    case Expect::StartTls:
      on_starttls(r);
      return;
    case Expect::Auth:
      on_auth(r);
      return;
    case Expect::DataAbort:  // the answer to the lone "." (RFC 2920 §3.1), whatever it is
      send_rset();
      return;
    case Expect::Rset:
      if (reply_class(r) != 2) {
        fail_reply(r, "rset", true);
      } else if (expect_.empty()) {
        become_ready();
      }
      return;
    default:
      on_tx_reply(p, r);
      return;
  }
}

// ---- connection setup ----

void ClientSession::on_greeting(const ParsedReply& r) {
  greeting_ = reply_line(r.reply);
  if (r.reply.code == 220) {
    send_hello();
  } else if (reply_class(r) == 2) {
    fail(Outcome::Deferred, "unexpected greeting: " + greeting_, "4.5.0", "greeting", true);
  } else {
    // RFC 5321 §3.1: after a 554 greeting the client SHOULD send QUIT; likewise after 4xx.
    fail_reply(r, "greeting", true);
  }
}

void ClientSession::send_hello() {
  const bool lmtp = config_.dialect == Dialect::Lmtp;
  auto line = lmtp ? format_lhlo(config_.helo_name) : format_ehlo(config_.helo_name);
  if (!line) {
    fail(Outcome::Deferred,
         "local configuration: helo_name: " + std::string(describe(line.error())), "4.3.5", "ehlo",
         true);
    return;
  }
  state_ = State::Ehlo;
  command(std::move(*line), Expect::Ehlo);
}

void ClientSession::on_ehlo(const ParsedReply& r, bool helo) {
  if (reply_class(r) == 2) {
    extensions_ = helo ? ExtensionSet{} : ExtensionSet::parse_ehlo(r.reply);
    after_hello();
    return;
  }
  // RFC 5321 §3.2: a server that does not know EHLO answers 5xx (500/502); fall back to HELO.
  // Not for LMTP, which has only LHLO (RFC 2033 §4.1).
  if (!helo && reply_class(r) == 5 && config_.dialect == Dialect::Smtp) {
    auto line = format_helo(config_.helo_name);
    if (line) {
      state_ = State::Helo;
      command(std::move(*line), Expect::Helo);
      return;
    }
  }
  fail_reply(r, helo ? "helo" : "ehlo", true);
}

void ClientSession::after_hello() {
  if (!tls_active_ && config_.tls != TlsPolicy::None && extensions_.starttls() &&
      !starttls_refused_) {
    state_ = State::StartTls;
    command(format_starttls(), Expect::StartTls);
    return;
  }
  if (!tls_active_ && config_.tls == TlsPolicy::Required) {
    fail(Outcome::Deferred, "TLS required but not offered by the peer", "4.7.10", "starttls", true);
    return;
  }
  if (config_.credentials && !authenticated_) {
    start_auth();
    return;
  }
  become_ready();
}

void ClientSession::on_starttls(const ParsedReply& r) {
  if (r.reply.code == 220) {
    // RFC 3207 §4.2 / CVE-2011-0411: nothing may follow the 220 before the handshake.
    if (parser_.queued() > 0 || parser_.partial() || parser_.failed()) {
      fail(Outcome::Deferred, "plaintext received after the 220 to STARTTLS (response injection)",
           "4.7.0", "starttls", false);
      return;
    }
    state_ = State::Handshake;
    return;
  }
  if (config_.tls == TlsPolicy::Required) {
    fail(Outcome::Deferred, "TLS required, STARTTLS refused: " + reply_line(r.reply), "4.7.10",
         "starttls", true);
    return;
  }
  // Opportunistic (RFC 3207 §4.1): the peer declined; go on in plaintext with what EHLO said.
  starttls_refused_ = true;
  after_hello();
}

void ClientSession::tls_established() {
  if (state_ != State::Handshake) return;
  // RFC 3207 §4.2: forget everything learnt before TLS and ask again.
  tls_active_ = true;
  extensions_ = ExtensionSet{};
  send_hello();
}

void ClientSession::tls_failed(std::string reason) {
  if (state_ == State::Done) return;
  fail(Outcome::Deferred, "TLS handshake failed: " + reason, "4.7.5", "tls", false);
  if (failure_) failure_->tls_failed = true;
}

void ClientSession::become_ready() {
  if (state_ != State::Done && expect_.empty()) state_ = State::Ready;
}

void ClientSession::quit() {
  if (state_ != State::Ready) return;
  state_ = State::Quit;
  command(format_quit(), Expect::Quit);
}

// ---- output, failures, transcript ----

void ClientSession::command(std::string line, Expect what, std::size_t index,
                            std::string_view logged) {
  if (logged.empty()) {
    std::string_view l = line;
    if (l.size() >= 2) l.remove_suffix(2);  // the CRLF
    log("> " + std::string(l));
  } else {
    log("> " + std::string(logged));
  }
  out_ += line;
  expect_.push_back({what, index});
}

void ClientSession::fail(Outcome outcome, std::string reply, std::string status, std::string stage,
                         bool polite) {
  if (state_ == State::Done) return;
  if (tx_) {
    settle_all_open(Outcome::Deferred, reply, status.starts_with('4') ? status : "4.0.0", true);
    finish_transaction();
  }
  if (polite) {
    out_ += format_quit();
    log("> QUIT");
  }
  SessionFailure f;
  f.outcome = outcome == Outcome::Failed ? Outcome::Failed : Outcome::Deferred;
  // The status agrees with the outcome's class (a 2xx or 3xx where a refusal was due is a
  // protocol error, RFC 3463 X.5.0).
  const char want = f.outcome == Outcome::Failed ? '5' : '4';
  if (status.empty() || status[0] != want) status = std::string(1, want) + ".5.0";
  f.reply = std::move(reply);
  f.status = std::move(status);
  f.stage = std::move(stage);
  f.before_any_transaction = !any_transaction_;
  failure_ = std::move(f);
  mech_.reset();
  expect_.clear();
  state_ = State::Done;
}

void ClientSession::fail_reply(const ParsedReply& r, std::string stage, bool polite) {
  fail(reply_outcome(r.reply), reply_line(r.reply), reply_status(r.reply), std::move(stage),
       polite);
}

void ClientSession::broken(std::string reason, std::string status) {
  if (state_ == State::Done) return;
  if (state_ == State::Quit) {  // everything was settled; whatever the peer does now is harmless
    state_ = State::Done;
    expect_.clear();
    return;
  }
  std::string stage = !expect_.empty()             ? std::string(stage_of(expect_.front().what))
                      : state_ == State::Content   ? "content"
                      : state_ == State::Handshake ? "tls"
                                                   : "idle";
  if (tx_) settle_lost(reason, status);
  fail(Outcome::Deferred, std::move(reason), std::move(status), std::move(stage), false);
}

void ClientSession::closed(std::string reason) {
  if (state_ == State::Done) return;
  broken("connection lost: " + reason, "4.4.2");  // clean while quitting (see broken())
}

std::vector<std::string> ClientSession::restart_transcript() {
  std::vector<std::string> old;
  old.swap(transcript_);
  transcript_octets_ = 0;
  transcript_full_ = false;
  return old;
}

void ClientSession::log(std::string line) {
  if (transcript_full_) return;
  std::string visible;
  append_visible(visible, line);
  if (transcript_.size() + 1 >= kTranscriptLines ||
      transcript_octets_ + visible.size() > kTranscriptOctets) {
    transcript_.push_back("[... truncated]");
    transcript_full_ = true;
    return;
  }
  transcript_octets_ += visible.size();
  transcript_.push_back(std::move(visible));
}

}  // namespace taube::smtp::client
