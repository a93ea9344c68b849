// Fuzz target: the whole ServerSession (server_session.hpp) fed arbitrary octets in arbitrary
// splits, through the same SessionDriver the unit tests use (tests/support/session_driver.hpp).
//
// Input byte 0 picks the configuration: bits 0-1 the bare-newline policy (Reject, Normalize,
// Note, Reject); bit 2 small limits (max_recipients 3, max_errors 5, max_message_size 100,
// max_text_line 80); bit 3 reject_long_lines; bit 4 VRFY answers from the lookup (else 252);
// bit 5 EXPN and ETRN enabled; bit 6 HELO not required; bit 7 a 48-octet command line limit.
// Byte 1 seeds the splits and which verdicts come first, and picks the listener's channel
// policy: bit 2 STARTTLS offered, bit 3 AUTH offered (also in plaintext), bit 4 TLS required
// before MAIL, bit 5 AUTH required before MAIL, bit 6 implicit TLS. The rest is what the client
// sends; when it starts with "LHLO" the session speaks LMTP (RFC 2033).
//
// The harness plays the I/O layer: it drains output() and body() after every call, polls events,
// answers MAIL, RCPT, VRFY and EXPN alternately positive and negative, AUTH
// through the real sasl:: mechanisms over the deterministic reference crypto (passwords
// alternately accepted and refused, SCRAM secrets alternately present and unknown), commits
// alternately accepted and failed (storage error; for LMTP a status per recipient alternating), and
// completes the TLS handshake right after a StartTls event.
//
// Invariants (abort on violation):
//  * every output line matches ^[2-5][0-9][0-9][ -] and ends in <CRLF>; an enhanced status code,
//    when present, has the reply's class digit; continuation lines repeat the code;
//  * the greeting (220) is the first reply; nothing follows the reply that closed the session
//    (221 or 421); once closed(), receive() and every resolve_*()/commit_done() add no output;
//  * every answered decision produces its reply (LMTP: one per recipient after the data);
//  * a Reject event for every 4xx/5xx reply except the closing 421;
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

#include "fake_sasl_crypto.hpp"
#include "fuzz_support.hpp"
#include "session_driver.hpp"
#include "smtp/server/server_session.hpp"
#include "smtp/wire/reply.hpp"

using namespace taube::smtp;
using taube::fuzz::SplitRng;

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
  using taube::smtp::testing::SessionAnswers;
  using taube::smtp::testing::SessionDriver;
  if (size < 2) return 0;
  const std::uint8_t opt = data[0];
  SplitRng rng(data[1]);
  const auto in = taube::fuzz::as_chars(data + 2, size - 2);

  static taube::test::FakeSaslCrypto crypto;
  static const taube::sasl::ScramSecret scram_secret{4096, std::string(16, 's'),
                                                     std::string(32, 'k'), std::string(32, 'v')};
  SessionConfig cfg;
  cfg.hostname = "mx.example";
  cfg.sasl_crypto = &crypto;
  cfg.sasl_stand_in_key = std::string(32, 'x');
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
  const bool lmtp = in.size() >= 4 && std::string_view(in.data(), 4) == "LHLO";
  channel.dialect = lmtp ? Dialect::Lmtp : Dialect::Smtp;
  ClientInfo client;
  client.address = "192.0.2.1";
  client.tls = (data[1] & 0x40) != 0;
  const std::size_t line_bound = channel.auth
                                     ? std::max<std::size_t>(cfg.limits.max_command_line, 12288)
                                     : cfg.limits.max_command_line;

  ReplyChecker replies;
  bool verdict_positive = (data[1] & 1) != 0;
  bool commit_ok = (data[1] & 2) != 0;
  bool auth_ok = (data[1] & 0x80) != 0;
  bool tls_done_in_call = false;
  bool message_open = false;
  std::size_t data_commits = 0;
  std::size_t events_seen = 0;
  std::size_t commit_replies = 1;  // replies a commit must produce (LMTP: one per recipient)

  SessionAnswers answers;
  answers.mail = [&](const ServerSession& s, const MailRequest&) {
    TAUBE_FUZZ_CHECK(!s.in_transaction());
    verdict_positive = !verdict_positive;
    return verdict_positive ? MailVerdict::Accept : MailVerdict::NotOwned;
  };
  answers.rcpt = [&](const ServerSession& s, const RcptRequest&) {
    TAUBE_FUZZ_CHECK(s.in_transaction());
    TAUBE_FUZZ_CHECK(s.envelope().recipients.size() < cfg.limits.max_recipients);
    verdict_positive = !verdict_positive;
    if (!verdict_positive) return RcptVerdict{RcptVerdictKind::UserUnknown, {}, {}};
    return RcptVerdict{
        RcptVerdictKind::Accept, {Destination{Destination::Route::Mailbox, "/dev/null/dummy"}}, {}};
  };
  answers.address = [&](const ServerSession&, Pending p, const AddressRequest& req) {
    if (p == Pending::Vrfy) TAUBE_FUZZ_CHECK(cfg.vrfy == VrfyMode::Verify);
    if (p == Pending::Expn) TAUBE_FUZZ_CHECK(cfg.expn);
    verdict_positive = !verdict_positive;
    return verdict_positive ? AddressVerdict{AddressVerdictKind::Found, {req.mailbox.to_string()}}
                            : AddressVerdict{AddressVerdictKind::Unknown, {}};
  };
  answers.auth = [&](ServerSession& s) {
    TAUBE_FUZZ_CHECK(channel.auth);
    const AuthRequest& req = s.auth_request();
    TAUBE_FUZZ_CHECK(req.mechanism == "PLAIN" || req.mechanism == "LOGIN" ||
                     req.mechanism == "SCRAM-SHA-256");
    switch (req.need) {
      case AuthRequest::Need::VerifyPassword:
        TAUBE_FUZZ_CHECK(req.mechanism != "SCRAM-SHA-256");
        s.auth_checked(auth_ok);
        TAUBE_FUZZ_CHECK(s.auth_request().password.empty());  // not kept after the verdict
        auth_ok = !auth_ok;
        return;
      case AuthRequest::Need::LookupSecret:
        // Alternately a secret (the proof cannot match a fuzzed input) or an unknown user.
        TAUBE_FUZZ_CHECK(req.mechanism == "SCRAM-SHA-256" && !req.username.empty());
        s.auth_secret(auth_ok ? std::optional(scram_secret) : std::nullopt);
        auth_ok = !auth_ok;
        return;
      case AuthRequest::Need::Failed:
        s.auth_failed((data[1] & 1) ? ReplyId::AuthFailed : ReplyId::AuthTempFail);
        return;
    }
  };
  answers.tls = [&](ServerSession& s) {
    // The last thing said before the handshake is STARTTLS's 220; then the handshake.
    TAUBE_FUZZ_CHECK(channel.starttls);
    TAUBE_FUZZ_CHECK(replies.last_code() == 220);
    TAUBE_FUZZ_CHECK(s.pending() == Pending::None);
    TAUBE_FUZZ_CHECK(!message_open);
    s.tls_started("TLSv1.3 TLS_AES_256_GCM_SHA384");
    tls_done_in_call = true;
  };
  SessionDriver d(cfg, answers, channel, client);
  ServerSession& s = d.session();
  answers = {};  // the driver holds its own copy
  d.answers().commit = [&](const Envelope& env, const std::string&) {
    TAUBE_FUZZ_CHECK(message_open);  // one commit per message begun
    TAUBE_FUZZ_CHECK(!env.recipients.empty());
    TAUBE_FUZZ_CHECK(env.recipients.size() <= cfg.limits.max_recipients);
    if (!env.bdat) {
      // Each DATA commit needs its own 354 (there may be more 354s: aborted messages).
      TAUBE_FUZZ_CHECK(replies.count(354) >= data_commits + 1);
      ++data_commits;
    }
    if (cfg.limits.max_message_size != 0)
      TAUBE_FUZZ_CHECK(s.message_size() <= cfg.limits.max_message_size);
    commit_replies = lmtp ? env.recipients.size() : 1;
    CommitResult r{commit_ok ? CommitStatus::Accepted : CommitStatus::StorageError, "ID", {}};
    if (lmtp)
      for (std::size_t i = 0; i < env.recipients.size(); ++i)
        r.per_recipient.push_back((i % 2 == 0) == commit_ok ? CommitStatus::Accepted
                                                            : CommitStatus::StorageFull);
    commit_ok = !commit_ok;
    message_open = false;
    return r;
  };
  std::string out;
  d.set_after_call([&] {
    const auto& evs = d.events();
    for (; events_seen < evs.size(); ++events_seen) {
      const Event& e = evs[events_seen];
      switch (e.kind) {
        case EventKind::MessageBegin:
          TAUBE_FUZZ_CHECK(!message_open);
          message_open = true;
          break;
        case EventKind::MessageAbort:
          TAUBE_FUZZ_CHECK(message_open);
          message_open = false;
          break;
        case EventKind::Reject:
          TAUBE_FUZZ_CHECK(e.reply.code >= 400 && e.reply.code < 600);
          break;
        case EventKind::BareNewline:
          TAUBE_FUZZ_CHECK(e.bare_lf + e.bare_cr > 0);
          break;
        case EventKind::StartTls:
          TAUBE_FUZZ_CHECK(!message_open);
          break;
        case EventKind::Authenticated:
          // Only PLAIN or LOGIN can succeed here: a fuzzed SCRAM proof never verifies.
          TAUBE_FUZZ_CHECK(!s.client().auth_user.empty());
          TAUBE_FUZZ_CHECK(s.auth_request().mechanism != "SCRAM-SHA-256");
          break;
        case EventKind::Close:
          TAUBE_FUZZ_CHECK(s.closed());
          break;
      }
    }
    out = d.take_output();
    replies.add(out);
    TAUBE_FUZZ_CHECK(taube::smtp::SessionInspector::buffered_line(s) <= line_bound);
    if (s.closed()) TAUBE_FUZZ_CHECK(replies.closed_reply_seen());
  });

  d.start();
  TAUBE_FUZZ_CHECK(d.all_output().rfind("220 ", 0) == 0);

  std::size_t pos = 0;
  for (;;) {
    if (s.pending() != Pending::None) {
      const bool commit = s.pending() == Pending::Commit;
      const bool auth = s.pending() == Pending::Auth;
      const std::size_t before = replies.replies();
      d.answer_pending();
      if (auth && s.pending() == Pending::Auth) {
        // A check that failed comes back as a Failed pause (for the throttle), without a reply.
        TAUBE_FUZZ_CHECK(s.auth_request().need == AuthRequest::Need::Failed);
        TAUBE_FUZZ_CHECK(replies.replies() == before);
        continue;
      }
      TAUBE_FUZZ_CHECK(s.pending() == Pending::None);
      if (commit) {
        TAUBE_FUZZ_CHECK(!s.in_transaction());
        // The closing 421 of max_errors may follow LMTP's refusals.
        TAUBE_FUZZ_CHECK(replies.replies() == before + commit_replies ||
                         (s.closed() && replies.replies() > before));
      } else {
        TAUBE_FUZZ_CHECK(replies.replies() > before);  // the verdict was sent
      }
      continue;
    }
    if (s.closed() || pos >= in.size()) break;

    const std::size_t len = rng.piece(in.size() - pos);
    tls_done_in_call = false;
    const std::size_t before = replies.replies();
    const std::size_t n = d.receive(in.subspan(pos, len));
    TAUBE_FUZZ_CHECK(n <= len);
    // Fewer octets than offered only while paused for a decision (a closed session eats all).
    if (n < len) TAUBE_FUZZ_CHECK(s.pending() != Pending::None && !s.closed());
    // Decoded content never outgrows what was received (per call it may exceed n by one
    // held-back <CR>, so the bound is cumulative).
    TAUBE_FUZZ_CHECK(d.body_octets() <= d.consumed());
    if (tls_done_in_call) {
      TAUBE_FUZZ_CHECK(n == len);  // the pipelined rest was dropped (CVE-2011-0411)
      TAUBE_FUZZ_CHECK(replies.replies() > before);
    }
    pos += n;
  }

  if (s.closed()) {
    // Nothing more comes out of a closed session, whatever the caller does.
    std::string rest(in.data() + pos, in.size() - pos);
    rest += "NOOP\r\nMAIL FROM:<a@b>\r\n";
    TAUBE_FUZZ_CHECK(s.receive(rest) == rest.size());
    s.resolve_mail(MailVerdict::Accept);
    s.resolve_rcpt({RcptVerdictKind::Accept, {Destination{}}, {}});
    s.resolve_address({AddressVerdictKind::Found, {"x@y"}});
    s.commit_done({CommitStatus::Accepted, "ID", {}});
    s.auth_checked(true);
    s.auth_secret(std::nullopt);
    s.auth_failed();
    s.tls_started("TLSv1.3");
    s.timeout();
    s.shutdown();
    TAUBE_FUZZ_CHECK(s.output().empty());
    TAUBE_FUZZ_CHECK(s.body().empty());
    TAUBE_FUZZ_CHECK(s.pending() == Pending::None);
  } else {
    // The connection's idle timer: one 421, then closed.
    s.timeout();
    TAUBE_FUZZ_CHECK(s.closed());
    TAUBE_FUZZ_CHECK(s.output().rfind("421 4.4.2 ", 0) == 0);
    d.receive({});
    TAUBE_FUZZ_CHECK(!message_open);
  }
  return 0;
}
