#include "smtp/server/server_session.hpp"

#include "smtp/wire/base64.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <memory>

namespace taube::smtp {

namespace {

bool has_non_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return true;
  return false;
}

bool path_has_non_ascii(const Path& p) {
  return has_non_ascii(p.mailbox.local_part) || has_non_ascii(p.mailbox.domain);
}

}  // namespace

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
  // RFC 5321 §4.3.1: the greeting is the first reply; 220 with our name.
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
  const CommandSpec& spec = spec_for(cmd.verb);
  if (spec.needs_helo && cfg_.require_helo && state_ == State::Connected) {
    reply(ReplyId::NeedHelo);
    return;
  }
  (this->*spec.handler)(cmd);
}

// ---- HELO / EHLO (RFC 5321 §4.1.1.1) ----
void ServerSession::on_helo(const Command& cmd) {
  const bool ehlo = cmd.verb == Verb::Ehlo;
  if (cmd.argument.empty() || cmd.argument.size() > 255 || has_non_ascii(cmd.argument)) {
    reply(ReplyId::SyntaxHelo, ehlo ? "EHLO" : "HELO");
    return;
  }
  // RFC 5321 §4.1.4: EHLO/HELO in a transaction is equivalent to RSET plus greeting.
  reset_transaction();
  client_.helo.assign(cmd.argument);
  client_.esmtp = ehlo;
  state_ = State::Ready;
  if (ehlo) {
    reply_ehlo();
  } else {
    reply(ReplyId::HeloOk, cfg_.hostname);
  }
}

void ServerSession::reply_ehlo() {
  // RFC 5321 §4.1.1.1: first line is our name, then one extension keyword per line.
  std::string text = cfg_.hostname;
  text += "\nPIPELINING";  // RFC 2920
  text += "\nSIZE";        // RFC 1870
  if (cfg_.limits.max_message_size != 0)
    text.append(" ").append(std::to_string(cfg_.limits.max_message_size));
  if (cfg_.vrfy != VrfyMode::Disabled) text += "\nVRFY";
  if (cfg_.etrn) text += "\nETRN";                             // RFC 1985
  if (policy_.starttls && !client_.tls) text += "\nSTARTTLS";  // RFC 3207
  // RFC 4954 §4: advertise AUTH only where it may be used (over TLS unless allowed in plaintext).
  if (policy_.auth && (client_.tls || policy_.plaintext_auth))
    text += policy_.scram ? "\nAUTH PLAIN LOGIN SCRAM-SHA-256" : "\nAUTH PLAIN LOGIN";
  text += "\nENHANCEDSTATUSCODES";  // RFC 2034
  text += "\n8BITMIME";             // RFC 6152
  text += "\nDSN";                  // RFC 3461
  text += "\nSMTPUTF8";             // RFC 6531
  text += "\nCHUNKING";             // RFC 3030
  reply(Reply{250, "", std::move(text)});
}

// ---- MAIL (RFC 5321 §4.1.1.2) ----
void ServerSession::on_mail(const Command& cmd) {
  if (tx_) {
    reply(ReplyId::NestedMail);
    return;
  }
  // RFC 3207 §4 / RFC 6409 §4.3: the listener may require TLS and/or authentication first.
  if (policy_.tls_required && !client_.tls) {
    reply(ReplyId::TlsRequired);
    return;
  }
  if (policy_.auth_required && client_.auth_user.empty()) {
    reply(ReplyId::AuthRequired);
    return;
  }
  std::string_view arg = cmd.argument;
  if (!strip_keyword_prefix(arg, "FROM:")) {
    reply(ReplyId::SyntaxMail);
    return;
  }
  auto parsed = parse_path(arg, PathKind::ReversePath, true, cfg_.limits);
  if (!parsed) {
    reply(parsed.error() == AddressError::TooLong ? ReplyId::SenderTooLong
                                                  : ReplyId::BadSenderSyntax);
    return;
  }
  const ParamPolicy policy{client_.esmtp, true, true, true, policy_.auth};
  auto params = parse_mail_params(parsed->rest, policy);
  if (!params) {
    reply(params.error());
    return;
  }
  // RFC 6531 §3.5: a UTF-8 address needs the SMTPUTF8 parameter.
  if (!params->smtputf8 && path_has_non_ascii(parsed->path)) {
    reply(ReplyId::Utf8NeedsSmtputf8);
    return;
  }
  // RFC 1870 §6.1: refuse up front a message declared larger than we accept.
  if (params->size && cfg_.limits.max_message_size != 0 &&
      *params->size > cfg_.limits.max_message_size) {
    reply(ReplyId::SizeTooBigAtMail);
    return;
  }
  if (!client_.auth_user.empty()) {
    // An authenticated client may be limited to its own addresses: ask the I/O layer.
    pending_sender_ = parsed->path;
    pending_mail_params_ = std::move(*params);
    start_lookup(LookupKind::Sender, std::move(parsed->path.mailbox), arg);
    return;
  }
  tx_.emplace();
  tx_->envelope.sender = std::move(parsed->path);
  tx_->envelope.mail_params = std::move(*params);
  state_ = State::Mail;
  reply(ReplyId::MailOk);
}

// ---- RCPT (RFC 5321 §4.1.1.3) ----
void ServerSession::on_rcpt(const Command& cmd) {
  if (!tx_) {
    reply(cfg_.require_helo && state_ == State::Connected ? ReplyId::NeedHelo : ReplyId::NeedMail);
    return;
  }
  std::string_view arg = cmd.argument;
  if (!strip_keyword_prefix(arg, "TO:")) {
    reply(ReplyId::SyntaxRcpt);
    return;
  }
  tx_->rcpt_attempted = true;
  // RFC 5321 §4.5.3.1.8: more recipients than we buffer is a temporary failure.
  if (tx_->envelope.recipients.size() >= cfg_.limits.max_recipients) {
    reply(ReplyId::TooManyRecipients);
    return;
  }
  if (tx_->envelope.bdat) {
    // RFC 3030 §2: the envelope is complete once the first chunk arrived (MessageBegin).
    reply(ReplyId::RcptAfterBdat);
    return;
  }
  const bool utf8 = tx_->envelope.mail_params.smtputf8;
  auto parsed = parse_path(arg, PathKind::ForwardPath, utf8, cfg_.limits);
  if (!parsed) {
    switch (parsed.error()) {
      case AddressError::TooLong:
        reply(ReplyId::RecipientTooLong);
        break;
      case AddressError::Utf8NotAllowed:
        reply(ReplyId::Utf8NeedsSmtputf8);
        break;
      case AddressError::Syntax:
        reply(ReplyId::BadRecipientSyntax);
        break;
    }
    return;
  }
  const ParamPolicy policy{client_.esmtp, true, true, true, false};
  auto params = parse_rcpt_params(parsed->rest, policy);
  if (!params) {
    reply(params.error());
    return;
  }
  pending_rcpt_ = Recipient{parsed->path.mailbox, std::move(*params), {}};
  start_lookup(LookupKind::Rcpt, std::move(parsed->path.mailbox), arg);
}

void ServerSession::start_lookup(LookupKind kind, Mailbox mailbox, std::string_view raw) {
  lookup_ = LookupRequest{kind, std::move(mailbox), std::string(raw)};
  pending_ = Pending::Lookup;
}

void ServerSession::resolve_lookup(Reply r, std::vector<std::string> destinations) {
  if (pending_ != Pending::Lookup) return;
  pending_ = Pending::None;
  if (lookup_.kind == LookupKind::Rcpt && pending_rcpt_) {
    if (r.positive() && tx_) {
      pending_rcpt_->destinations = std::move(destinations);
      tx_->envelope.recipients.push_back(std::move(*pending_rcpt_));
      state_ = State::Rcpt;
    }
    pending_rcpt_.reset();
  }
  if (lookup_.kind == LookupKind::Sender && pending_sender_) {
    if (r.positive()) {
      tx_.emplace();
      tx_->envelope.sender = std::move(*pending_sender_);
      tx_->envelope.mail_params = std::move(pending_mail_params_);
      state_ = State::Mail;
    }
    pending_sender_.reset();
  }
  reply(r);
}

// ---- DATA (RFC 5321 §4.1.1.4) ----
void ServerSession::on_data(const Command& cmd) {
  if (!cmd.argument.empty()) {
    reply(ReplyId::SyntaxNoArgs, "DATA");
    return;
  }
  if (!tx_) {
    reply(cfg_.require_helo && state_ == State::Connected ? ReplyId::NeedHelo : ReplyId::NeedMail);
    return;
  }
  if (tx_->envelope.bdat) {
    reply(ReplyId::DataAfterBdat);  // RFC 3030 §3: DATA and BDAT do not mix in one transaction
    return;
  }
  if (tx_->envelope.recipients.empty()) {
    // RFC 5321 §3.3 / RFC 2920 §3.1: 554 when RCPTs were tried and all failed.
    reply(tx_->rcpt_attempted ? ReplyId::NoValidRecipients : ReplyId::NeedRcpt);
    return;
  }
  DataDecoderOptions opt;
  opt.bare_newline = bare_newline_;
  opt.max_size = cfg_.limits.max_message_size;
  opt.max_line = cfg_.limits.max_text_line;
  opt.reject_long_lines = cfg_.reject_long_lines;
  dot_.emplace(opt);
  message_size_ = 0;
  message_open_ = true;
  push(Event{EventKind::MessageBegin, {}, 0, 0, std::make_shared<const Envelope>(tx_->envelope)});
  state_ = State::Data;
  reply(ReplyId::DataStart);
}

std::size_t ServerSession::receive_data(std::span<const char> in) {
  const std::size_t n = dot_->feed(in, body_);
  message_size_ = dot_->size();
  if (dot_->done()) end_message();
  return n;
}

void ServerSession::end_message() {
  DataError err = DataError::None;
  if (dot_) {
    if (dot_->bare_lf() + dot_->bare_cr() > 0)
      push(Event{EventKind::BareNewline, {}, dot_->bare_lf(), dot_->bare_cr(), nullptr});
    err = dot_->error();
    dot_.reset();
  } else if (bdat_) {
    bdat_->finish(body_);
    if (bdat_->too_big()) err = DataError::TooBig;
    bdat_.reset();
  }
  state_ = State::Ready;
  switch (err) {
    case DataError::TooBig:
      abort_message(make_reply(ReplyId::MessageTooBig));
      return;
    case DataError::BareNewline:
      abort_message(make_reply(ReplyId::BareNewline));
      return;
    case DataError::LineTooLong:
      abort_message(
          make_reply(ReplyId::TextLineTooLong, std::to_string(cfg_.limits.max_text_line)));
      return;
    case DataError::None:
      break;
  }
  pending_ = Pending::Commit;
}

void ServerSession::commit_done(Reply r) {
  if (pending_ != Pending::Commit) return;
  pending_ = Pending::None;
  message_open_ = false;  // the caller committed or discarded the spool itself
  // A storage failure is ours, not the client's: it does not count towards max_errors.
  append_reply(out_, r);
  reset_transaction();
  state_ = State::Ready;
}

void ServerSession::abort_message(const Reply& r) {
  if (message_open_) {
    push(Event{EventKind::MessageAbort, r, 0, 0, nullptr});
    message_open_ = false;
    body_.clear();  // undrained content belongs to the dropped message, not to a later one
  }
  reply(r);
  reset_transaction();
  // reply() may have closed the session (max_errors): nothing may follow that 421.
  if (state_ != State::Closed) state_ = idle_state();
}

// ---- BDAT (RFC 3030 §2) ----
void ServerSession::on_bdat(const Command& cmd) {
  // bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ]; chunk-size = 1*DIGIT; end-marker = "LAST"
  std::string_view arg = cmd.argument;
  const auto sp = arg.find(' ');
  const std::string_view num = arg.substr(0, sp);
  std::string_view marker = sp == std::string_view::npos ? std::string_view{} : arg.substr(sp + 1);
  while (!marker.empty() && marker.front() == ' ') marker.remove_prefix(1);
  std::uint64_t size = 0;
  const auto res = std::from_chars(num.data(), num.data() + num.size(), size);
  const bool ok = !num.empty() && res.ec == std::errc{} && res.ptr == num.data() + num.size() &&
                  (marker.empty() || ascii_iequals(marker, "LAST"));
  if (!ok) {
    // Without a valid size the chunk cannot be skipped: its octets would be read as commands.
    // Refuse and close rather than risk interpreting message content (RFC 3030 §2).
    reply(ReplyId::SyntaxBdat);
    close_with(ReplyId::BdatLostSync);
    return;
  }
  bdat_last_ = !marker.empty();
  bdat_chunk_size_ = size;
  std::optional<ReplyId> refuse;
  if (!tx_) {
    refuse =
        cfg_.require_helo && state_ == State::Connected ? ReplyId::NeedHelo : ReplyId::NeedMail;
  } else if (tx_->envelope.recipients.empty()) {
    refuse = tx_->rcpt_attempted ? ReplyId::NoValidRecipients : ReplyId::NeedRcpt;
  }
  if (refuse) {
    // The client sends the chunk regardless; consume it, then answer.
    bdat_discard_ = true;
    discard_remaining_ = size;
    bdat_reply_ = make_reply(*refuse);
    state_ = State::Bdat;
    if (size == 0) bdat_chunk_complete();
    return;
  }
  if (!tx_->envelope.bdat) {
    tx_->envelope.bdat = true;
    bdat_.emplace(cfg_.limits.max_message_size);
    message_size_ = 0;
    message_open_ = true;
    push(Event{EventKind::MessageBegin, {}, 0, 0, std::make_shared<const Envelope>(tx_->envelope)});
  }
  bdat_->start_chunk(size);
  state_ = State::Bdat;
  if (size == 0) bdat_chunk_complete();
}

std::size_t ServerSession::receive_bdat(std::span<const char> in) {
  std::size_t n;
  if (bdat_discard_) {
    n = static_cast<std::size_t>(std::min<std::uint64_t>(in.size(), discard_remaining_));
    discard_remaining_ -= n;
    if (discard_remaining_ == 0) bdat_chunk_complete();
    return n;
  }
  n = bdat_->feed(in, body_);
  message_size_ = bdat_->size();
  if (bdat_->chunk_done()) bdat_chunk_complete();
  return n;
}

void ServerSession::bdat_chunk_complete() {
  if (bdat_discard_) {
    bdat_discard_ = false;
    reset_transaction();
    state_ = idle_state();
    reply(bdat_reply_);
    return;
  }
  if (bdat_->too_big()) {
    // RFC 3030 §2: an error reply to a chunk fails the whole transaction.
    bdat_.reset();
    abort_message(make_reply(ReplyId::MessageTooBig));
    return;
  }
  if (bdat_last_) {
    end_message();
    return;
  }
  state_ = State::Rcpt;
  reply(ReplyId::ChunkOk, std::to_string(bdat_chunk_size_));
}

// ---- RSET, NOOP, QUIT, HELP (RFC 5321 §4.1.1.5, .9, .10, .8) ----
void ServerSession::on_rset(const Command& cmd) {
  if (!cmd.argument.empty()) {
    reply(ReplyId::SyntaxNoArgs, "RSET");
    return;
  }
  reset_transaction();
  state_ = idle_state();
  reply(ReplyId::ResetOk);
}

void ServerSession::on_noop(const Command&) {
  reply(ReplyId::NoopOk);
}  // may carry a string

void ServerSession::on_quit(const Command& cmd) {
  if (!cmd.argument.empty()) {
    reply(ReplyId::SyntaxNoArgs, "QUIT");
    return;
  }
  reset_transaction();
  reply(ReplyId::Bye);
  state_ = State::Closed;
  push(Event{EventKind::Close, {}, 0, 0, nullptr});
}

void ServerSession::on_help(const Command&) {
  reply(ReplyId::Help);
}

// ---- VRFY / EXPN (RFC 5321 §3.5, §7.3) ----
void ServerSession::on_vrfy(const Command& cmd) {
  if (cfg_.vrfy == VrfyMode::Disabled) {
    reply(ReplyId::VrfyDisabled);
    return;
  }
  if (cmd.argument.empty()) {
    reply(Reply{501, "5.5.4", "Syntax: VRFY address"});
    return;
  }
  if (cfg_.vrfy == VrfyMode::CannotVerify) {
    // RFC 5321 §3.5.3: 252 when we will not say whether the user exists.
    reply(ReplyId::VrfyCannot);
    return;
  }
  on_expn(cmd);
}

void ServerSession::on_expn(const Command& cmd) {
  const bool vrfy = cmd.verb == Verb::Vrfy;
  if (!vrfy && !cfg_.expn) {
    reply(ReplyId::ExpnDisabled);
    return;
  }
  std::string_view arg = cmd.argument;
  if (arg.empty()) {
    reply(Reply{501, "5.5.4", vrfy ? "Syntax: VRFY address" : "Syntax: EXPN address"});
    return;
  }
  if (arg.size() >= 2 && arg.front() == '<' && arg.back() == '>')
    arg = arg.substr(1, arg.size() - 2);
  Mailbox mb;
  if (arg.find('@') == std::string_view::npos) {
    mb.local_part.assign(arg);  // a bare user name: the caller picks the domain
  } else {
    auto parsed = parse_mailbox(arg, true, cfg_.limits);
    if (!parsed) {
      reply(ReplyId::BadRecipientSyntax);
      return;
    }
    mb = std::move(*parsed);
  }
  start_lookup(vrfy ? LookupKind::Vrfy : LookupKind::Expn, std::move(mb), cmd.argument);
}

// ---- ETRN (RFC 1985) ----
void ServerSession::on_etrn(const Command& cmd) {
  if (!cfg_.etrn) {
    reply(ReplyId::EtrnDisabled);
    return;
  }
  if (cmd.argument.empty()) {
    reply(Reply{501, "5.5.4", "Syntax: ETRN domain"});
    return;
  }
  if (tx_) {
    reply(Reply{503, "5.5.1", "Error: MAIL transaction in progress"});  // RFC 1985 §5
    return;
  }
  reply(ReplyId::EtrnNoQueue, cmd.argument);
}

void ServerSession::on_not_implemented(const Command&) {
  reply(ReplyId::NotImplemented);
}

// ---- STARTTLS (RFC 3207) ----
void ServerSession::on_starttls(const Command& cmd) {
  if (client_.tls) {
    reply(ReplyId::TlsAlreadyActive);
    return;
  }
  if (!policy_.starttls) {
    reply(ReplyId::NotImplemented);
    return;
  }
  if (!cmd.argument.empty()) {
    reply(ReplyId::SyntaxNoArgs, "STARTTLS");  // RFC 3207 §4: no parameters
    return;
  }
  reset_transaction();
  reply(ReplyId::StartTlsReady);
  state_ = State::TlsPending;
  line_.clear();
  line_overflow_ = false;
  push(Event{EventKind::StartTls, {}, 0, 0, nullptr});
}

void ServerSession::tls_started(std::string tls_info) {
  if (state_ != State::TlsPending) return;
  // RFC 3207 §4.2: discard any knowledge obtained from the client before TLS.
  client_.tls = true;
  client_.tls_info = std::move(tls_info);
  client_.helo.clear();
  client_.esmtp = false;
  client_.auth_user.clear();
  reset_transaction();
  line_.clear();
  line_overflow_ = false;
  state_ = State::Connected;
}

// ---- AUTH (RFC 4954; PLAIN RFC 4616; LOGIN draft-murchison-sasl-login) ----
void ServerSession::on_auth(const Command& cmd) {
  if (!policy_.auth) {
    reply(ReplyId::NotImplemented);
    return;
  }
  if (!client_.tls && !policy_.plaintext_auth) {
    reply(ReplyId::AuthNeedsTls);  // RFC 4954 §4: 538 when the mechanism needs encryption
    return;
  }
  if (client_.helo.empty() || !client_.esmtp) {
    reply(ReplyId::NeedHelo);  // AUTH is an ESMTP extension: EHLO first
    return;
  }
  if (!client_.auth_user.empty()) {
    reply(ReplyId::AuthAlready);  // RFC 4954 §4: no AUTH after a successful AUTH
    return;
  }
  if (tx_) {
    reply(ReplyId::AuthInTransaction);  // RFC 4954 §4: not during a mail transaction
    return;
  }
  std::string_view arg = cmd.argument;
  const auto sp = arg.find(' ');
  std::string mech(arg.substr(0, sp));
  for (char& c : mech)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  std::string_view initial = sp == std::string_view::npos ? std::string_view{} : arg.substr(sp + 1);
  if (mech.empty() || initial.find(' ') != std::string_view::npos) {
    reply(ReplyId::SyntaxAuth);
    return;
  }
  if (mech != "PLAIN" && mech != "LOGIN" && !(mech == "SCRAM-SHA-256" && policy_.scram)) {
    reply(ReplyId::AuthUnknownMechanism);
    return;
  }
  auth_ = AuthRequest{};
  auth_.mechanism = mech;
  auth_stage_ = 0;
  if (initial.empty()) {
    state_ = State::AuthResponse;
    // PLAIN and SCRAM: an empty challenge; LOGIN: "Username:".
    reply(ReplyId::AuthChallenge, mech == "LOGIN" ? base64_encode("Username:") : "");
    return;
  }
  if (initial == "=") {  // RFC 4954 §4: "=" is an empty initial response
    auth_step("");
    return;
  }
  auto decoded = base64_decode(initial);
  if (!decoded) {
    reply(ReplyId::AuthBadBase64);
    return;
  }
  auth_step(*decoded);
}

void ServerSession::on_auth_response(std::string_view line) {
  state_ = idle_state();
  if (line == "*") {
    reply(ReplyId::AuthCancelled);  // RFC 4954 §4: the client cancelled
    return;
  }
  auto decoded = base64_decode(line);
  if (!decoded) {
    reply(ReplyId::AuthBadBase64);
    return;
  }
  auth_step(*decoded);
}

void ServerSession::auth_step(std::string_view decoded) {
  if (auth_.mechanism == "SCRAM-SHA-256") {
    scram_step(decoded);
    return;
  }
  if (auth_.mechanism == "PLAIN") {
    // RFC 4616 §2: [authzid] NUL authcid NUL passwd
    const auto a = decoded.find('\0');
    const auto b = a == std::string_view::npos ? a : decoded.find('\0', a + 1);
    if (b == std::string_view::npos || decoded.find('\0', b + 1) != std::string_view::npos ||
        b == a + 1) {
      reply(ReplyId::AuthFailed);
      return;
    }
    auth_.authzid.assign(decoded.substr(0, a));
    // RFC 4616 §2: acting as another identity needs authorisation Taube does not grant.
    if (!auth_.authzid.empty() && auth_.authzid != decoded.substr(a + 1, b - a - 1)) {
      reply(ReplyId::AuthFailed);
      return;
    }
    auth_.username.assign(decoded.substr(a + 1, b - a - 1));
    auth_.password.assign(decoded.substr(b + 1));
    pending_ = Pending::Auth;
    return;
  }
  // LOGIN: user name, then password, each in its own response.
  if (auth_stage_ == 0) {
    auth_.username.assign(decoded);
    auth_stage_ = 1;
    state_ = State::AuthResponse;
    reply(ReplyId::AuthChallenge, base64_encode("Password:"));
    return;
  }
  auth_.password.assign(decoded);
  pending_ = Pending::Auth;
}

// RFC 5802 §5 message flow; the I/O layer does the cryptography between the steps.
void ServerSession::scram_step(std::string_view decoded) {
  if (auth_stage_ == 0) {
    auto first = parse_scram_client_first(decoded);
    // RFC 5802 §5.1: acting as another identity (a=) needs authorisation Taube does not grant.
    if (!first || (!first->authzid.empty() && first->authzid != first->username)) {
      reply(ReplyId::AuthFailed);
      return;
    }
    auth_.username = first->username;
    auth_.scram_first = std::move(*first);
    auth_.step = 0;
    pending_ = Pending::Auth;
    return;
  }
  if (auth_stage_ == 1) {
    auth_.sasl_message.assign(decoded);
    auth_.step = 1;
    pending_ = Pending::Auth;
    return;
  }
  // Stage 2: the server's signature was sent; the client answers with an empty response.
  if (!decoded.empty()) {
    reply(ReplyId::AuthFailed);
    return;
  }
  client_.auth_user = auth_.username;
  reply(ReplyId::AuthOk);
}

void ServerSession::auth_challenge(std::string_view data) {
  auth_continue(1, data);
}

void ServerSession::auth_verified(std::string_view data) {
  auth_continue(2, data);
}

// Answers the pending AUTH with a 334 challenge and moves the SASL exchange to `stage`.
void ServerSession::auth_continue(int stage, std::string_view data) {
  if (pending_ != Pending::Auth) return;
  pending_ = Pending::None;
  auth_stage_ = stage;
  state_ = State::AuthResponse;
  reply(ReplyId::AuthChallenge, base64_encode(data));
}

void ServerSession::auth_done(bool ok, ReplyId failure) {
  if (pending_ != Pending::Auth) return;
  pending_ = Pending::None;
  if (ok) {
    client_.auth_user = auth_.username;
    reply(ReplyId::AuthOk);
  } else {
    reply(failure);
  }
  // Credentials do not linger in memory longer than needed.
  std::fill(auth_.password.begin(), auth_.password.end(), '\0');
  auth_.password.clear();
}

void ServerSession::on_unknown(const Command&) {
  reply(ReplyId::UnknownCommand);
}
void ServerSession::on_invalid(const Command&) {
  reply(ReplyId::BadCommandLine);
}

// ---- shared ----
ServerSession::State ServerSession::idle_state() const {
  if (tx_) return tx_->envelope.recipients.empty() ? State::Mail : State::Rcpt;
  return client_.helo.empty() ? State::Connected : State::Ready;
}

void ServerSession::reset_transaction() {
  if (message_open_) {
    push(Event{EventKind::MessageAbort, {}, 0, 0, nullptr});
    message_open_ = false;
    body_.clear();
  }
  tx_.reset();
  dot_.reset();
  bdat_.reset();
  pending_rcpt_.reset();
  pending_sender_.reset();
}

void ServerSession::reply(ReplyId id, std::string_view arg) {
  reply(make_reply(id, arg));
}

void ServerSession::reply(const Reply& r) {
  append_reply(out_, r);
  if (r.code >= 400 && state_ != State::Closed) {
    // RFC 5321 §4.2.5 allows closing after repeated errors; bounded work per connection.
    if (++errors_ >= cfg_.limits.max_errors) close_with(ReplyId::TooManyErrors);
  }
}

void ServerSession::close_with(ReplyId id) {
  if (state_ == State::Closed) return;
  reset_transaction();
  std::fill(auth_.password.begin(), auth_.password.end(), '\0');
  auth_.password.clear();
  append_reply(out_, make_reply(id, cfg_.hostname));
  state_ = State::Closed;
  pending_ = Pending::None;
  push(Event{EventKind::Close, {}, 0, 0, nullptr});
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
