// ServerSession: the mail transaction. HELO/EHLO/LHLO, MAIL, RCPT, DATA, BDAT, RSET, the end of
// data and the verdicts that answer MAIL, RCPT and the commit.
#include <algorithm>
#include <charconv>

#include "smtp/server/server_session.hpp"
#include "smtp/wire/extensions.hpp"

namespace taube::smtp {

namespace {

bool has_non_ascii(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

bool path_has_non_ascii(const Path& p) {
  return has_non_ascii(p.mailbox.local_part) || has_non_ascii(p.mailbox.domain);
}

}  // namespace

Reply commit_reply(CommitStatus status, const std::string& queue_id) {
  switch (status) {
    case CommitStatus::Accepted:
      return make_reply(ReplyId::Queued, queue_id);
    case CommitStatus::StorageFull:
      return make_reply(ReplyId::StorageFull);
    case CommitStatus::LoopDetected:
      return make_reply(ReplyId::LoopDetected);
    case CommitStatus::StorageError:
      break;
  }
  return make_reply(ReplyId::StorageError);
}

// ---- HELO / EHLO (RFC 5321 §4.1.1.1), LHLO (RFC 2033 §4.1) ----
void ServerSession::on_helo(const Command& cmd) {
  // RFC 2033 §4.1: an LMTP server must not accept HELO or EHLO, an SMTP server knows no LHLO.
  const bool lmtp = policy_.dialect == Dialect::Lmtp;
  if (lmtp != (cmd.verb == Verb::Lhlo)) {
    reply(ReplyId::UnknownCommand);
    return;
  }
  const bool ehlo = cmd.verb != Verb::Helo;
  if (cmd.argument.empty() || cmd.argument.size() > 255 || has_non_ascii(cmd.argument)) {
    reply(ReplyId::SyntaxHelo, verb_name(cmd.verb));
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
  // RFC 5321 §4.1.1.1: first line is our name, then one extension keyword per line, formatted
  // by the wire codec's ExtensionSet (the client side parses the same type).
  ExtensionSet ext;
  ext.add("PIPELINING");  // RFC 2920 (RFC 2033 §5: an LMTP server must offer it)
  ext.add("SIZE", cfg_.limits.max_message_size != 0 ? std::to_string(cfg_.limits.max_message_size)
                                                    : std::string());  // RFC 1870
  if (cfg_.vrfy != VrfyMode::Disabled) ext.add("VRFY");
  if (cfg_.etrn) ext.add("ETRN");                             // RFC 1985
  if (policy_.starttls && !client_.tls) ext.add("STARTTLS");  // RFC 3207
  // RFC 4954 §4: advertise AUTH only where it may be used (over TLS unless allowed in plaintext).
  if (policy_.auth && (client_.tls || policy_.plaintext_auth))
    ext.add("AUTH", policy_.scram ? "PLAIN LOGIN SCRAM-SHA-256" : "PLAIN LOGIN");
  ext.add("ENHANCEDSTATUSCODES");  // RFC 2034 (RFC 2033 §5: required for LMTP)
  ext.add("8BITMIME");             // RFC 6152
  ext.add("DSN");                  // RFC 3461
  ext.add("SMTPUTF8");             // RFC 6531
  ext.add("CHUNKING");             // RFC 3030
  reply(ext.ehlo_reply(cfg_.hostname));
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
  cmd_from_ = parsed->path.mailbox.to_string();
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
  // Every sender goes to policy (restrict_sender for authenticated clients, SPF later).
  mail_req_ = MailRequest{std::move(parsed->path), std::move(*params)};
  pending_ = Pending::Mail;
}

void ServerSession::resolve_mail(MailVerdict verdict) {
  if (pending_ != Pending::Mail) return;
  pending_ = Pending::None;
  const std::string addr = mail_req_.sender.mailbox.to_string();
  switch (verdict) {
    case MailVerdict::Accept:
      tx_.emplace();
      tx_->envelope.sender = std::move(mail_req_.sender);
      tx_->envelope.mail_params = std::move(mail_req_.params);
      state_ = State::Mail;
      reply(ReplyId::MailOk);
      return;
    case MailVerdict::NotOwned:
      reply(ReplyId::SenderNotOwned, addr);
      return;
    case MailVerdict::TempFail:
      reply(ReplyId::SenderTempFail, addr);
      return;
    case MailVerdict::Rejected:
      reply(ReplyId::SenderRejected, addr);
      return;
  }
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
  cmd_to_ = parsed->path.mailbox.to_string();
  const ParamPolicy policy{client_.esmtp, true, true, true, false};
  auto params = parse_rcpt_params(parsed->rest, policy);
  if (!params) {
    reply(params.error());
    return;
  }
  rcpt_req_ = RcptRequest{std::move(parsed->path.mailbox), std::move(*params)};
  pending_ = Pending::Rcpt;
}

void ServerSession::resolve_rcpt(RcptVerdict verdict) {
  if (pending_ != Pending::Rcpt) return;
  pending_ = Pending::None;
  const std::string addr = rcpt_req_.mailbox.to_string();
  const bool accepted =
      verdict.kind == RcptVerdictKind::Accept || verdict.kind == RcptVerdictKind::Forward;
  if (accepted && verdict.destinations.empty()) verdict.kind = RcptVerdictKind::TempFail;
  switch (verdict.kind) {
    case RcptVerdictKind::Accept:
    case RcptVerdictKind::Forward:
      tx_->envelope.recipients.push_back(Recipient{std::move(rcpt_req_.mailbox),
                                                   std::move(rcpt_req_.params),
                                                   std::move(verdict.destinations)});
      state_ = State::Rcpt;
      if (verdict.kind == RcptVerdictKind::Forward) {
        reply(ReplyId::RcptForward, verdict.forward_to);
      } else {
        reply(ReplyId::RcptOk);
      }
      return;
    case RcptVerdictKind::UserUnknown:
      reply(ReplyId::UserUnknown, addr);
      return;
    case RcptVerdictKind::RelayDenied:
      reply(ReplyId::RelayDenied, addr);
      return;
    case RcptVerdictKind::TempFail:
      reply(ReplyId::LocalError, addr);
      return;
    case RcptVerdictKind::SrsInvalid:
      reply(ReplyId::SrsInvalid, addr);
      return;
    case RcptVerdictKind::SrsExpired:
      reply(ReplyId::SrsExpired, addr);
      return;
  }
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
  begin_message();
  state_ = State::Data;
  reply(ReplyId::DataStart);
}

void ServerSession::begin_message() {
  message_size_ = 0;
  headers_ = HeaderScanner{};
  message_open_ = true;
  push(Event{EventKind::MessageBegin,
             {},
             Verb::Invalid,
             {},
             {},
             0,
             0,
             std::make_shared<const Envelope>(tx_->envelope)});
}

std::size_t ServerSession::receive_data(std::span<const char> in) {
  const std::size_t before = body_.size();
  const std::size_t n = dot_->feed(in, body_);
  headers_.feed(std::span<const char>(body_.data() + before, body_.size() - before));
  message_size_ = dot_->size();
  if (dot_->done()) end_message();
  return n;
}

void ServerSession::end_message() {
  DataError err = DataError::None;
  if (dot_) {
    if (dot_->bare_lf() + dot_->bare_cr() > 0)
      push(Event{EventKind::BareNewline,
                 {},
                 Verb::Invalid,
                 {},
                 {},
                 dot_->bare_lf(),
                 dot_->bare_cr(),
                 nullptr});
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
      abort_message(make_reply(ReplyId::MessageTooBig), true);
      return;
    case DataError::BareNewline:
      abort_message(make_reply(ReplyId::BareNewline), true);
      return;
    case DataError::LineTooLong:
      abort_message(make_reply(ReplyId::TextLineTooLong, std::to_string(cfg_.limits.max_text_line)),
                    true);
      return;
    case DataError::None:
      break;
  }
  // RFC 5321 §6.3: a message that has passed too many hops is looping.
  if (cfg_.limits.max_received_headers != 0 &&
      headers_.received() > cfg_.limits.max_received_headers) {
    abort_message(make_reply(ReplyId::LoopDetected), true);
    return;
  }
  pending_ = Pending::Commit;
}

void ServerSession::commit_done(const CommitResult& result) {
  if (pending_ != Pending::Commit) return;
  pending_ = Pending::None;
  message_open_ = false;  // the caller committed or discarded the message itself
  // A storage failure is ours, not the client's: it does not count towards max_errors.
  auto emit = [this](const Reply& r, std::string to) {
    append_reply(out_, r);
    count_reply(r);  // the DATA (or BDAT) command, once
    if (r.code < 400) return;
    const Path& from = tx_->envelope.sender;
    push(Event{EventKind::Reject, r, current_verb_, from.null ? "" : from.mailbox.to_string(),
               std::move(to), 0, 0, nullptr});
  };
  if (policy_.dialect == Dialect::Lmtp) {
    // RFC 2033 §4.2: one reply per recipient that got a 250 to RCPT, in the order of the RCPTs.
    const auto& rcpts = tx_->envelope.recipients;
    for (std::size_t i = 0; i < rcpts.size(); ++i) {
      const CommitStatus st =
          i < result.per_recipient.size() ? result.per_recipient[i] : result.status;
      Reply r = commit_reply(st, result.queue_id);
      r.text = "<" + rcpts[i].mailbox.to_string() + "> " + r.text;
      emit(r, rcpts[i].mailbox.to_string());
    }
  } else {
    emit(commit_reply(result.status, result.queue_id), {});
  }
  reset_transaction();
  state_ = State::Ready;
}

void ServerSession::abort_message(const Reply& r, bool end_of_data) {
  if (message_open_) {
    push(Event{EventKind::MessageAbort, r, Verb::Invalid, {}, {}, 0, 0, nullptr});
    message_open_ = false;
    body_.clear();  // undrained content belongs to the dropped message, not to a later one
  }
  const bool per_recipient =
      end_of_data && policy_.dialect == Dialect::Lmtp && tx_ && !tx_->envelope.recipients.empty();
  if (!per_recipient) {
    reply(r);
  } else {
    // RFC 2033 §4.2: one reply per accepted recipient after the end of data, also when the
    // message is refused as a whole: the client waits for all of them. Only the last goes
    // through reply(), so the refusal counts once (Reject event, max_errors).
    const auto& rcpts = tx_->envelope.recipients;
    for (std::size_t i = 0; i < rcpts.size(); ++i) {
      Reply each = r;
      each.text = "<" + rcpts[i].mailbox.to_string() + "> " + r.text;
      if (i + 1 < rcpts.size())
        append_reply(out_, each);
      else
        reply(each);
    }
  }
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
    begin_message();
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
  const std::size_t before = body_.size();
  n = bdat_->feed(in, body_);
  headers_.feed(std::span<const char>(body_.data() + before, body_.size() - before));
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
    // RFC 3030 §2: an error reply to a chunk fails the whole transaction. The LAST chunk ends
    // the data: in LMTP it is answered per recipient (RFC 2033 §4.2), another chunk once.
    bdat_.reset();
    abort_message(make_reply(ReplyId::MessageTooBig), bdat_last_);
    return;
  }
  if (bdat_last_) {
    end_message();
    return;
  }
  state_ = State::Rcpt;
  reply(ReplyId::ChunkOk, std::to_string(bdat_chunk_size_));
}

// ---- RSET (RFC 5321 §4.1.1.5) ----
void ServerSession::on_rset(const Command& cmd) {
  if (!cmd.argument.empty()) {
    reply(ReplyId::SyntaxNoArgs, "RSET");
    return;
  }
  reset_transaction();
  state_ = idle_state();
  reply(ReplyId::ResetOk);
}

}  // namespace taube::smtp
