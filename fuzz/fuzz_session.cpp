// Fuzz target: the whole ServerSession (session.hpp) fed arbitrary octets in arbitrary splits.
//
// Input byte 0 picks the configuration: bits 0-1 the bare-newline policy (Reject, Normalize,
// Note, Reject); bit 2 small limits (max_recipients 3, max_errors 5, max_message_size 100,
// max_text_line 80); bit 3 reject_long_lines; bit 4 VRFY answers from the lookup (else 252);
// bit 5 EXPN and ETRN enabled; bit 6 HELO not required; bit 7 a 48-octet command line limit.
// Byte 1 seeds the splits and which verdicts come first, and picks the listener's channel
// policy: bit 2 STARTTLS offered, bit 3 AUTH offered (also in plaintext), bit 4 TLS required
// before MAIL, bit 5 AUTH required before MAIL, bit 6 implicit TLS. The rest is what the client
// sends.
//
// The harness plays the I/O layer: it drains output() and body() after every call, polls events,
// answers lookups alternately positive (250, with a dummy destination) and negative (550), AUTH
// alternately accepted and refused (SCRAM-SHA-256: challenged, then alternately verified and
// refused), commits alternately with 250 "queued as ID" and 451 (storage
// error), and completes the TLS handshake right after a StartTls event.
//
// Invariants (abort on violation):
//  * every output line matches ^[2-5][0-9][0-9][ -] and ends in <CRLF>; an enhanced status code,
//    when present, has the reply's class digit; continuation lines repeat the code;
//  * the greeting (220) is the first reply; nothing follows the reply that closed the session
//    (221 or 421); once closed(), receive()/resolve_lookup()/commit_done() add no output;
//  * after STARTTLS's 220 nothing else is answered before the handshake (the rest of that input
//    is dropped, CVE-2011-0411);
//  * receive() consumes fewer octets than offered only while a decision is pending;
//  * events are well-nested: MessageBegin only when no message is open, MessageAbort only for an
//    open message, a Close event only when closed();
//  * a commit happens only for an open message (so at most one per DATA/BDAT transaction), after a
//    354 for DATA, with 1..max_recipients recipients and a size within max_message_size;
//  * memory stays bounded: body() never holds more than the octets consumed so far; the partial
//    command line the session buffers never exceeds limits.max_command_line (12288 for a SASL
//    response line, RFC 4954 §4).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "fuzz_support.hpp"
#include "smtp/wire/reply.hpp"
#include "smtp/server/server_session.hpp"

using namespace taube::smtp;
using taube::fuzz::SplitRng;

// Read access to ServerSession::line_ (the buffered partial command line) without touching src/:
// explicit template instantiation is exempt from access checking ([temp.spec.general]/6).
namespace {
struct LineTag {
  using type = std::string ServerSession::*;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-template-friend"
#endif
  friend type get_member(LineTag);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
};
template <typename Tag, typename Tag::type M>
struct Rob {
  friend typename Tag::type get_member(Tag) { return M; }
};
template struct Rob<LineTag, &ServerSession::line_>;
}  // namespace

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Checks reply lines as they appear in the output stream.
class ReplyChecker {
 public:
  void add(std::string& out) {
    if (closed_reply_seen_) TAUBE_FUZZ_CHECK(out.empty());
    tail_ += out;
    out.clear();
    for (;;) {
      const auto crlf = tail_.find("\r\n");
      if (crlf == std::string::npos) break;
      check_line(std::string_view(tail_).substr(0, crlf));
      tail_.erase(0, crlf + 2);
    }
    // Replies are always appended whole.
    TAUBE_FUZZ_CHECK(tail_.empty());
  }
  bool closed_reply_seen() const { return closed_reply_seen_; }
  std::size_t count(int code) const { return code == 354 ? n354_ : 0; }
  std::size_t replies() const { return replies_; }
  int last_code() const { return last_code_; }

 private:
  void check_line(std::string_view line) {
    TAUBE_FUZZ_CHECK(!closed_reply_seen_);
    TAUBE_FUZZ_CHECK(line.size() >= 4);
    TAUBE_FUZZ_CHECK(line[0] >= '2' && line[0] <= '5' && is_digit(line[1]) && is_digit(line[2]));
    TAUBE_FUZZ_CHECK(line[3] == ' ' || line[3] == '-');
    TAUBE_FUZZ_CHECK(line.find('\r') == std::string_view::npos);
    TAUBE_FUZZ_CHECK(line.find('\n') == std::string_view::npos);
    const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (first_) TAUBE_FUZZ_CHECK(code == 220);  // RFC 5321 §4.3.1: the greeting comes first
    first_ = false;
    if (multiline_code_ != 0) TAUBE_FUZZ_CHECK(code == multiline_code_);
    // Enhanced status code "c.sss.ddd" (RFC 3463): its class is the reply's first digit.
    const std::string_view text = line.substr(4);
    std::size_t i = 0;
    auto digits = [&](std::size_t max) {
      std::size_t n = 0;
      while (i < text.size() && is_digit(text[i]) && n < max + 1) ++i, ++n;
      return n >= 1 && n <= max;
    };
    if (digits(1) && i < text.size() && text[i] == '.' && (++i, digits(3)) && i < text.size() &&
        text[i] == '.' && (++i, digits(3)) && (i == text.size() || text[i] == ' '))
      TAUBE_FUZZ_CHECK(text[0] == line[0]);
    if (line[3] == '-') {
      multiline_code_ = code;
      return;
    }
    multiline_code_ = 0;
    ++replies_;
    last_code_ = code;
    if (code == 354) ++n354_;
    if (code == 221 || code == 421) closed_reply_seen_ = true;
  }

  std::string tail_;
  bool first_ = true;
  int multiline_code_ = 0;
  bool closed_reply_seen_ = false;
  std::size_t n354_ = 0;
  std::size_t replies_ = 0;
  int last_code_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t opt = data[0];
  SplitRng rng(data[1]);
  const auto in = taube::fuzz::as_chars(data + 2, size - 2);

  SessionConfig cfg;
  cfg.hostname = "mx.example";
  static constexpr BareNewlinePolicy kPolicies[] = {
      BareNewlinePolicy::Reject, BareNewlinePolicy::Normalize, BareNewlinePolicy::Note,
      BareNewlinePolicy::Reject};
  cfg.bare_newline = kPolicies[opt & 3];
  if (opt & 4) {
    cfg.limits.max_recipients = 3;
    cfg.limits.max_errors = 5;
    cfg.limits.max_message_size = 100;
    cfg.limits.max_text_line = 80;
  }
  cfg.reject_long_lines = (opt & 8) != 0;
  cfg.vrfy = (opt & 0x10) ? VrfyMode::Verify : VrfyMode::CannotVerify;
  cfg.expn = cfg.etrn = (opt & 0x20) != 0;
  cfg.require_helo = (opt & 0x40) == 0;
  if (opt & 0x80) cfg.limits.max_command_line = 48;

  ChannelPolicy channel;
  channel.starttls = (data[1] & 0x04) != 0;
  channel.auth = channel.plaintext_auth = (data[1] & 0x08) != 0;
  channel.scram = channel.auth;
  channel.tls_required = (data[1] & 0x10) != 0;
  channel.auth_required = (data[1] & 0x20) != 0;
  ClientInfo client;
  client.address = "192.0.2.1";
  client.tls = (data[1] & 0x40) != 0;
  const std::size_t line_bound = channel.auth
                                     ? std::max<std::size_t>(cfg.limits.max_command_line, 12288)
                                     : cfg.limits.max_command_line;

  ServerSession s(cfg, client, channel);
  const auto line_member = get_member(LineTag{});
  ReplyChecker replies;
  bool lookup_positive = (data[1] & 1) != 0;
  bool commit_ok = (data[1] & 2) != 0;
  bool auth_ok = (data[1] & 0x80) != 0;
  bool tls_pending = false;
  bool message_open = false;
  std::size_t data_commits = 0;

  auto drain_events = [&] {
    while (auto e = s.poll_event()) {
      switch (e->kind) {
        case EventKind::MessageBegin:
          TAUBE_FUZZ_CHECK(!message_open);
          message_open = true;
          break;
        case EventKind::MessageAbort:
          TAUBE_FUZZ_CHECK(message_open);
          message_open = false;
          break;
        case EventKind::BareNewline:
          TAUBE_FUZZ_CHECK(e->bare_lf + e->bare_cr > 0);
          break;
        case EventKind::StartTls:
          TAUBE_FUZZ_CHECK(channel.starttls && !tls_pending);
          TAUBE_FUZZ_CHECK(!message_open);
          tls_pending = true;
          break;
        case EventKind::Close:
          TAUBE_FUZZ_CHECK(s.closed());
          break;
      }
    }
  };
  auto after_call = [&] {
    drain_events();
    replies.add(s.output());
    TAUBE_FUZZ_CHECK((s.*line_member).size() <= line_bound);
    if (s.closed()) TAUBE_FUZZ_CHECK(replies.closed_reply_seen());
  };

  s.start();
  TAUBE_FUZZ_CHECK(s.output().rfind("220 ", 0) == 0);
  after_call();

  std::size_t pos = 0;
  std::size_t consumed_total = 0, body_total = 0;
  for (;;) {
    if (s.pending() == Pending::Lookup) {
      const LookupRequest& req = s.lookup();
      if (req.kind == LookupKind::Vrfy) TAUBE_FUZZ_CHECK(cfg.vrfy == VrfyMode::Verify);
      if (req.kind == LookupKind::Expn) TAUBE_FUZZ_CHECK(cfg.expn);
      const std::string who = req.mailbox.to_string();
      const std::size_t before = replies.replies();
      if (req.kind == LookupKind::Sender) {
        TAUBE_FUZZ_CHECK(!s.in_transaction());
        if (lookup_positive)
          s.resolve_lookup(make_reply(ReplyId::MailOk));
        else
          s.resolve_lookup(make_reply(ReplyId::SenderNotOwned, who));
      } else if (req.kind == LookupKind::Rcpt) {
        TAUBE_FUZZ_CHECK(s.in_transaction());
        if (lookup_positive)
          s.resolve_lookup(make_reply(ReplyId::RcptOk), {"/dev/null/dummy"});
        else
          s.resolve_lookup(make_reply(ReplyId::UserUnknown, who));
        TAUBE_FUZZ_CHECK(!s.in_transaction() ||
                         s.envelope().recipients.size() <= cfg.limits.max_recipients);
      } else {
        s.resolve_lookup(make_reply(lookup_positive ? ReplyId::VrfyOk : ReplyId::VrfyUnknown, who));
      }
      lookup_positive = !lookup_positive;
      TAUBE_FUZZ_CHECK(s.pending() == Pending::None);
      after_call();
      TAUBE_FUZZ_CHECK(replies.replies() > before);  // the verdict was sent
      continue;
    }
    if (s.pending() == Pending::Auth) {
      TAUBE_FUZZ_CHECK(channel.auth);
      const AuthRequest& req = s.auth_request();
      TAUBE_FUZZ_CHECK(req.mechanism == "PLAIN" || req.mechanism == "LOGIN" ||
                       req.mechanism == "SCRAM-SHA-256");
      const std::size_t before = replies.replies();
      if (req.mechanism == "SCRAM-SHA-256") {
        // Plays the SCRAM server: a challenge after client-first, then alternately the
        // server signature (the client's empty answer completes the AUTH) or a refusal.
        TAUBE_FUZZ_CHECK(req.step == 0 || req.step == 1);
        if (req.step == 0) {
          TAUBE_FUZZ_CHECK(req.username == req.scram_first.username && !req.username.empty());
          s.auth_challenge("r=" + req.scram_first.nonce + "srv,s=c2FsdA==,i=4096");
        } else if (auth_ok) {
          s.auth_verified("v=c2lnbmF0dXJl");
        } else {
          s.auth_done(false);
        }
        if (req.step == 1) auth_ok = !auth_ok;
        TAUBE_FUZZ_CHECK(s.pending() == Pending::None);
        after_call();
        TAUBE_FUZZ_CHECK(replies.replies() > before);
        continue;
      }
      if (auth_ok)
        s.auth_done(true);
      else
        s.auth_done(false, (data[1] & 1) ? ReplyId::AuthFailed : ReplyId::AuthTempFail);
      auth_ok = !auth_ok;
      TAUBE_FUZZ_CHECK(s.pending() == Pending::None);
      TAUBE_FUZZ_CHECK(s.auth_request().password.empty());  // not kept after the verdict
      after_call();
      TAUBE_FUZZ_CHECK(replies.replies() > before);
      continue;
    }
    if (s.pending() == Pending::Commit) {
      TAUBE_FUZZ_CHECK(message_open);  // one commit per message begun
      TAUBE_FUZZ_CHECK(s.in_transaction());
      const Envelope& env = s.envelope();
      TAUBE_FUZZ_CHECK(!env.recipients.empty());
      TAUBE_FUZZ_CHECK(env.recipients.size() <= cfg.limits.max_recipients);
      if (!env.bdat) {
        // Each DATA commit needs its own 354 (there may be more 354s: aborted messages).
        TAUBE_FUZZ_CHECK(replies.count(354) >= data_commits + 1);
        ++data_commits;
      }
      if (cfg.limits.max_message_size != 0)
        TAUBE_FUZZ_CHECK(s.message_size() <= cfg.limits.max_message_size);
      const std::size_t before = replies.replies();
      s.commit_done(commit_ok ? make_reply(ReplyId::Queued, "ID")
                              : make_reply(ReplyId::StorageError));
      commit_ok = !commit_ok;
      message_open = false;
      TAUBE_FUZZ_CHECK(s.pending() == Pending::None);
      TAUBE_FUZZ_CHECK(!s.in_transaction());
      after_call();
      TAUBE_FUZZ_CHECK(replies.replies() == before + 1);
      continue;
    }
    if (s.closed() || pos >= in.size()) break;

    const std::size_t len = rng.piece(in.size() - pos);
    const std::size_t n = s.receive(in.subspan(pos, len));
    TAUBE_FUZZ_CHECK(n <= len);
    // Fewer octets than offered only while paused for a decision (a closed session eats all).
    if (n < len) TAUBE_FUZZ_CHECK(s.pending() != Pending::None && !s.closed());
    // The caller drains body() after every call. Decoded content never outgrows what was
    // received (per call it may exceed n by one held-back <CR>, so the bound is cumulative).
    consumed_total += n;
    body_total += s.body().size();
    TAUBE_FUZZ_CHECK(body_total <= consumed_total);
    s.body().clear();
    const bool was_tls_pending = tls_pending;
    after_call();
    pos += n;
    if (tls_pending) {
      // The last thing said before the handshake is STARTTLS's 220; then the handshake.
      TAUBE_FUZZ_CHECK(replies.last_code() == 220);
      TAUBE_FUZZ_CHECK(s.pending() == Pending::None);
      if (!was_tls_pending) TAUBE_FUZZ_CHECK(n == len);  // the pipelined rest was dropped
      const std::size_t before = replies.replies();
      s.tls_started("TLSv1.3 TLS_AES_256_GCM_SHA384");
      tls_pending = false;
      after_call();
      TAUBE_FUZZ_CHECK(replies.replies() == before);
    }
  }

  if (s.closed()) {
    // Nothing more comes out of a closed session, whatever the caller does.
    std::string rest(in.data() + pos, in.size() - pos);
    rest += "NOOP\r\nMAIL FROM:<a@b>\r\n";
    TAUBE_FUZZ_CHECK(s.receive(rest) == rest.size());
    s.resolve_lookup(make_reply(ReplyId::RcptOk));
    s.commit_done(make_reply(ReplyId::Queued, "ID"));
    s.auth_done(true);
    s.auth_challenge("r=x,s=c2FsdA==,i=4096");
    s.auth_verified("v=x");
    s.tls_started("TLSv1.3");
    s.timeout();
    s.shutdown();
    TAUBE_FUZZ_CHECK(s.output().empty());
    TAUBE_FUZZ_CHECK(s.body().empty());
    TAUBE_FUZZ_CHECK(s.pending() == Pending::None);
    drain_events();
  } else {
    // The connection's idle timer: one 421, then closed.
    s.timeout();
    TAUBE_FUZZ_CHECK(s.closed());
    TAUBE_FUZZ_CHECK(s.output().rfind("421 4.4.2 ", 0) == 0);
    after_call();
    TAUBE_FUZZ_CHECK(!message_open);
  }
  return 0;
}
