// ClientSession: one mail transaction (RFC 5321 §3.3): the local checks against the peer's
// extensions, MAIL, RCPT, DATA or BDAT, the content, and each recipient's outcome.
#include <utility>

#include "smtp/client/client_session.hpp"
#include "smtp/client/client_transaction.hpp"
#include "smtp/wire/command_format.hpp"

namespace taube::smtp::client {

namespace {

bool ok(const ParsedReply& r) {
  return r.reply.code / 100 == 2;
}

std::string format_problem(FormatError e) {
  return std::string(describe(e));
}

}  // namespace

void ClientSession::send(OutboundMessage message) {
  if (state_ != State::Ready) return;
  tx_ = std::make_unique<Transaction>();
  Transaction& t = *tx_;
  t.message = std::move(message);
  const OutboundMessage& m = t.message;
  const std::size_t n = m.recipients.size();
  t.results.resize(n);
  t.rcpt_lines.resize(n);
  t.dsn = extensions_.dsn();
  if (n == 0) {
    finish_transaction();
    return;
  }

  // Local checks: what the peer said in EHLO already decides these, no command is sent.
  const std::uint64_t limit = extensions_.size_limit();
  if (limit != 0 && m.params.size && *m.params.size > limit) {
    // RFC 1870 §6: a message over the announced limit is a permanent failure.
    settle_all_open(Outcome::Failed,
                    "552 5.3.4 message size " + std::to_string(*m.params.size) +
                        " exceeds the peer's limit of " + std::to_string(limit),
                    "5.3.4", true);
    finish_transaction();
    return;
  }
  if (m.params.smtputf8 && !extensions_.smtputf8()) {
    // RFC 6531 §3.2: a message that needs SMTPUTF8 must not be sent to a server without it.
    settle_all_open(Outcome::Failed, "553 5.6.7 SMTPUTF8 needed but not offered by the peer",
                    "5.6.7", true);
    finish_transaction();
    return;
  }

  MailParams p;
  if (extensions_.has("SIZE")) p.size = m.params.size;  // RFC 1870 §3
  // RFC 6152 §3: BODY=8BITMIME only to a peer that offers 8BITMIME. To one that does not, the
  // content goes as it is, without BODY= and without conversion (like Postfix with
  // disable_mime_output_conversion): nearly every server takes 8-bit octets anyway, and a
  // downgrade to 7 bit would break signatures.
  if (m.params.body == BodyType::EightBitMime && extensions_.eight_bit_mime())
    p.body = BodyType::EightBitMime;
  p.smtputf8 = m.params.smtputf8;  // checked above: offered
  if (t.dsn) {                     // RFC 3461 §4: DSN parameters only to a peer offering DSN
    p.ret = m.params.ret;
    p.envid = m.params.envid;
  }
  if (authenticated_) p.auth = m.params.auth;  // RFC 4954 §5
  auto mail = format_mail(m.sender, p);
  if (!mail) {
    const bool utf8 = mail.error() == FormatError::Utf8NeedsSmtputf8;
    const bool address = mail.error() == FormatError::BadAddress;
    const std::string status = utf8 ? "5.6.7" : address ? "5.1.7" : "5.5.4";
    settle_all_open(Outcome::Failed,
                    "553 " + status + " sender cannot be sent: " + format_problem(mail.error()),
                    status, true);
    finish_transaction();
    return;
  }
  t.mail_line = std::move(*mail);
  for (std::size_t i = 0; i < n; ++i) {
    const RcptParams rp = t.dsn ? m.recipients[i].params : RcptParams{};
    auto line = format_rcpt(m.recipients[i].mailbox, rp, p.smtputf8);
    if (!line) {
      const bool utf8 = line.error() == FormatError::Utf8NeedsSmtputf8;
      const bool address = line.error() == FormatError::BadAddress;
      const std::string status = utf8 ? "5.6.7" : address ? "5.1.3" : "5.5.4";
      settle(i, Outcome::Failed,
             "553 " + status + " recipient cannot be sent: " + format_problem(line.error()), status,
             true);
      continue;
    }
    t.rcpt_lines[i] = std::move(*line);
    t.to_send.push_back(i);
  }
  if (t.to_send.empty()) {
    finish_transaction();
    return;
  }

  t.pipelined = extensions_.pipelining();
  // BDAT only when the chunks can be pipelined (RFC 3030 §4.2 with RFC 2920), so that content()
  // never has to wait for a reply; and never for LMTP (see client_session.hpp).
  t.bdat =
      config_.use_bdat && extensions_.chunking() && t.pipelined && config_.dialect == Dialect::Smtp;
  t.encoder = DotEncoder(t.bdat ? DotEncoder::Mode::Bdat : DotEncoder::Mode::Data);
  any_transaction_ = true;
  state_ = State::Busy;
  command(t.mail_line, Expect::Mail);
  if (t.pipelined) {
    // RFC 2920 §3.1: MAIL, the RCPTs and DATA in one group; the replies come back in order.
    for (const std::size_t i : t.to_send) command(t.rcpt_lines[i], Expect::Rcpt, i);
    if (!t.bdat) command(format_data(), Expect::Data);
  }
}

void ClientSession::on_tx_reply(const Pending& p, const ParsedReply& r) {
  if (!tx_) {  // a reply for a transaction already settled (cannot happen: expect_ is cleared)
    broken("unexpected reply: " + reply_line(r.reply), "4.5.0");
    return;
  }
  Transaction& t = *tx_;
  switch (p.what) {
    case Expect::Mail:
      if (!ok(r)) t.mail_refused = r;
      if (!t.pipelined) {
        if (t.mail_refused)
          envelope_done();
        else
          command(t.rcpt_lines[t.to_send[0]], Expect::Rcpt, t.to_send[0]);
      }
      return;
    case Expect::Rcpt:
      // After a refused MAIL the pipelined RCPTs are answered 503: the MAIL reply is the reason.
      if (!t.mail_refused) {
        if (ok(r))
          t.accepted.push_back(p.index);
        else
          settle_from_reply(p.index, r);
      }
      if (!t.pipelined) {
        if (++t.next_rcpt < t.to_send.size()) {
          const std::size_t i = t.to_send[t.next_rcpt];
          command(t.rcpt_lines[i], Expect::Rcpt, i);
        } else {
          envelope_done();
        }
      } else if (t.bdat && expect_.empty()) {
        envelope_done();
      }
      return;
    case Expect::Data:
      t.data_reply = r;
      envelope_done();
      return;
    case Expect::Bdat:
      if (!ok(r) && !t.chunk_failure) t.chunk_failure = r;
      return;
    case Expect::EndOfData: {
      // RFC 3030 §2: after a refused chunk the message is refused, whatever LAST is answered.
      const ParsedReply& decisive = t.chunk_failure ? *t.chunk_failure : r;
      if (config_.dialect == Dialect::Lmtp) {
        // RFC 2033 §4.2: one reply per accepted recipient, in RCPT order.
        settle_from_reply(t.accepted[p.index], decisive);
        if (p.index + 1 < t.accepted.size()) return;
      } else {
        for (const std::size_t i : t.accepted) settle_from_reply(i, decisive);
      }
      finish_transaction();
      become_ready();
      return;
    }
    default:
      return;
  }
}

// Every reply to MAIL and the RCPTs is in (and to DATA when it was pipelined).
void ClientSession::envelope_done() {
  Transaction& t = *tx_;
  if (t.mail_refused)
    for (const std::size_t i : t.to_send) settle_from_reply(i, *t.mail_refused);
  const bool go = !t.mail_refused && !t.accepted.empty();
  if (!t.bdat && go && !t.data_reply) {  // one command at a time: now DATA
    command(format_data(), Expect::Data);
    return;
  }
  const bool data_354 = t.data_reply && t.data_reply->reply.code == 354;
  if (go && (t.bdat || data_354)) {
    t.content_started = true;
    state_ = State::Content;
    return;
  }
  if (go && t.data_reply) {  // DATA refused: the accepted recipients get its reply
    for (const std::size_t i : t.accepted) settle_from_reply(i, *t.data_reply);
  }
  finish_transaction();
  if (data_354) {
    // RFC 2920 §3.1: a pipelined DATA answered 354 although no recipient was accepted: end the
    // (empty) message with "." at once, then RSET.
    command(".\r\n", Expect::DataAbort);
    return;
  }
  // The server still holds the sender (and any recipients): RSET before the next message.
  send_rset();
}

void ClientSession::send_rset() {
  state_ = State::Busy;
  command(format_rset(), Expect::Rset);
}

void ClientSession::content(std::string_view chunk) {
  if (state_ != State::Content || !tx_) return;
  Transaction& t = *tx_;
  t.content_octets += chunk.size();
  if (!t.bdat) {
    t.encoder.encode(chunk, out_);  // CRLF line endings and dot-stuffing (RFC 5321 §4.5.2)
    return;
  }
  t.encoder.encode(chunk, t.bdat_buffer);  // CRLF line endings, no stuffing (RFC 3030 §2)
  const std::size_t size = config_.bdat_chunk == 0 ? 1 : config_.bdat_chunk;
  std::size_t done = 0;
  while (t.bdat_buffer.size() - done >= size) {
    emit_bdat(std::string_view(t.bdat_buffer).substr(done, size), false);
    done += size;
  }
  t.bdat_buffer.erase(0, done);
}

void ClientSession::content_end() {
  if (state_ != State::Content || !tx_) return;
  Transaction& t = *tx_;
  log("> [content: " + std::to_string(t.content_octets) + " octets]");
  if (t.bdat) {
    t.encoder.finish(t.bdat_buffer);
    emit_bdat(t.bdat_buffer, true);
    t.bdat_buffer.clear();
  } else {
    t.encoder.finish(out_);  // the final ".<CRLF>"
    const std::size_t replies = config_.dialect == Dialect::Lmtp ? t.accepted.size() : 1;
    for (std::size_t k = 0; k < replies; ++k) expect_.push_back({Expect::EndOfData, k});
  }
  t.end_sent = true;
  state_ = State::Busy;
}

void ClientSession::emit_bdat(std::string_view data, bool last) {
  out_ += format_bdat(data.size(), last);
  out_ += data;
  expect_.push_back({last ? Expect::EndOfData : Expect::Bdat, 0});
}

void ClientSession::settle(std::size_t index, Outcome outcome, std::string reply,
                           std::string status, bool local) {
  if (!tx_ || index >= tx_->results.size() || tx_->results[index]) return;
  tx_->results[index] = RecipientResult{index, outcome, std::move(reply), std::move(status), local};
}

void ClientSession::settle_all_open(Outcome outcome, const std::string& reply,
                                    const std::string& status, bool local) {
  if (!tx_) return;
  for (std::size_t i = 0; i < tx_->results.size(); ++i) settle(i, outcome, reply, status, local);
}

void ClientSession::settle_from_reply(std::size_t index, const ParsedReply& r) {
  settle(index, reply_outcome(r.reply), reply_line(r.reply), reply_status(r.reply));
}

void ClientSession::settle_lost(const std::string& reason, const std::string& status) {
  Transaction& t = *tx_;
  if (t.chunk_failure) {  // a refused chunk already decided the message
    for (const std::size_t i : t.accepted) settle_from_reply(i, *t.chunk_failure);
  }
  // Once the end of data is out, the peer may have taken the message: only it knows (RFC 5321
  // §6.1 duplicates are the lesser evil; the caller decides what Unknown means).
  settle_all_open(t.end_sent ? Outcome::Unknown : Outcome::Deferred, reason, status, true);
}

void ClientSession::finish_transaction() {
  if (!tx_) return;
  MessageResult result;
  result.dsn_passed_on = tx_->dsn;
  for (std::size_t i = 0; i < tx_->results.size(); ++i) {
    if (!tx_->results[i])
      tx_->results[i] =
          RecipientResult{i, Outcome::Deferred, "451 4.3.0 not attempted", "4.3.0", true};
    result.recipients.push_back(std::move(*tx_->results[i]));
  }
  results_.push_back(std::move(result));
  tx_.reset();
}

}  // namespace taube::smtp::client
