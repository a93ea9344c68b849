// ServerSession: the SMTP (and LMTP) server state machine, sans I/O.
//
// Theory of operation
// -------------------
// The caller (src/net, or a test driver) feeds the octets it reads with receive() and sends what
// output() holds. The session never blocks and never performs I/O; when it needs an outside
// decision it pauses, and pending() says which answer it waits for:
//   * Mail    a MAIL FROM (always)               -> resolve_mail(MailVerdict)
//   * Rcpt    a RCPT TO                          -> resolve_rcpt(RcptVerdict)
//   * Vrfy, Expn                                 -> resolve_address(AddressVerdict)
//   * Commit  the durable commit of a message    -> commit_done(CommitResult)
//   * Auth    SASL credentials to verify (AUTH)  -> auth_done() / auth_challenge() / ...
// Verdicts are kinds (verdicts.hpp); the session maps each kind to its reply from the table.
// STARTTLS: after "220 Ready to start TLS" the session emits EventKind::StartTls and discards
// every octet received until tls_started() (RFC 3207 §4.2, CVE-2011-0411: plaintext pipelined
// after STARTTLS must never be executed); then it is back in the pre-EHLO state.
// While paused, receive() consumes nothing, so replies to pipelined commands stay in order
// (RFC 2920 §3.1). Notifications that need no answer (a message starts, is aborted, a command
// was refused, the client sent bare newlines) are queued as events, taken with poll_event().
//
// Dialects: SMTP (RFC 5321) and LMTP (RFC 2033): LHLO instead of HELO/EHLO, and after the end
// of data one reply per accepted recipient, in RCPT order (§4.2).
//
// States: Greeting (before start()) -> Connected (no HELO yet) -> Ready (HELO/EHLO done)
//   -> Mail (MAIL accepted) -> Rcpt (>= 1 recipient) -> Data | Bdat -> Ready ... -> Closed;
//   Ready -> AuthResponse (SASL exchange lines) -> Ready; any -> TlsPending -> Connected.
// Session state: HELO name, EHLO-ness, error count, command counts. Transaction state
// (optional Transaction): sender, parameters, recipients, the message being received.
// Resets of the transaction (RFC 5321 §4.1.4): RSET, HELO/EHLO, end of data (accepted or
// not), a failed BDAT chunk (RFC 3030 §2), and STARTTLS.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sasl/server_mechanism.hpp"
#include "smtp/server/verdicts.hpp"
#include "smtp/wire/bdat_decoder.hpp"
#include "smtp/wire/command_parser.hpp"
#include "smtp/wire/dialect.hpp"
#include "smtp/wire/dot_decoder.hpp"
#include "smtp/wire/envelope.hpp"
#include "smtp/wire/header_scanner.hpp"
#include "smtp/wire/limits.hpp"
#include "smtp/wire/reply.hpp"

namespace taube::smtp {

enum class VrfyMode { Disabled, CannotVerify, Verify };

struct SessionConfig {
  std::string hostname = "localhost";
  Limits limits;
  BareNewlinePolicy bare_newline = BareNewlinePolicy::Reject;
  bool reject_long_lines = false;  // text lines over limits.max_text_line
  VrfyMode vrfy = VrfyMode::CannotVerify;
  bool expn = false;
  bool etrn = false;  // advertise ETRN (RFC 1985)
  // The queue's ETRN hook: makes the mail queued for a domain due now and returns how many
  // recipients that was; empty (no queue: discard mode, tests): 458.
  std::function<std::size_t(const std::string& domain)> etrn_run;
  bool require_helo = true;
  // The SASL mechanisms' cryptography (process-wide, crypto::OpenSslSasl in the server) and a
  // per-process random key for SCRAM's stand-in secrets (sasl/server_mechanism.hpp). Without
  // them PLAIN and LOGIN still work; SCRAM-SHA-256 then always fails.
  sasl::Crypto* sasl_crypto = nullptr;
  std::string sasl_stand_in_key;
};

// What the listener this connection came in on offers (src/net fills it in).
struct ChannelPolicy {
  Dialect dialect = Dialect::Smtp;
  bool starttls = false;        // STARTTLS offered (a certificate is configured, not implicit TLS)
  bool tls_required = false;    // 530 5.7.0 to MAIL before TLS
  bool auth = false;            // AUTH PLAIN/LOGIN offered
  bool scram = false;           // AUTH SCRAM-SHA-256 offered too (users with SCRAM secrets)
  bool plaintext_auth = false;  // AUTH also without TLS (otherwise 538 5.7.11)
  bool auth_required = false;   // submission (RFC 6409 §4.3): 530 5.7.0 to MAIL before AUTH
};

enum class Pending { None, Mail, Rcpt, Vrfy, Expn, Commit, Auth };

// What an AUTH exchange needs from outside (RFC 4954; the mechanisms are sasl::'s). The session
// pauses with Pending::Auth and one of:
//   VerifyPassword  PLAIN/LOGIN: check username/password, answer auth_checked(ok);
//   LookupSecret    SCRAM-SHA-256: the user's secret, answer auth_secret(secret or nullopt);
//   Failed          the exchange failed (`reason` is for the log): the I/O layer counts it (AUTH
//                   throttle), waits its failure delay, and answers auth_failed().
// Every failure pauses as Failed, so the throttle and the delay apply to all of them alike.
struct AuthRequest {
  enum class Need { VerifyPassword, LookupSecret, Failed };
  Need need = Need::Failed;
  std::string mechanism;  // "PLAIN", "LOGIN" or "SCRAM-SHA-256"
  std::string username;
  std::string password;  // VerifyPassword only; wiped once answered
  std::string reason;    // Failed
};

enum class EventKind {
  MessageBegin,   // the body starts: open a message in the sink (envelope is complete)
  MessageAbort,   // the message in progress is dropped (client error, RSET, reject): discard
  Reject,         // a command got a 4xx/5xx reply (verb, reply, from, to): for logs and metrics
  BareNewline,    // a message contained bare <CR>/<LF> (counts in the event), for the log
  StartTls,       // send output(), then start the TLS handshake; call tls_started() after it
  Authenticated,  // AUTH succeeded (client().auth_user, auth_request().mechanism)
  Close,          // close the connection once output() has been sent
};

struct Event {
  EventKind kind;
  Reply reply;                // MessageAbort (when a reply was sent), Reject
  Verb verb = Verb::Invalid;  // Reject: the refused command
  std::string from, to;       // Reject: the transaction's sender and the refused recipient
  std::uint64_t bare_lf = 0;  // BareNewline
  std::uint64_t bare_cr = 0;
  // MessageBegin: the envelope as it is when the body starts. A copy, because by the time the
  // caller handles the event the transaction may already have ended (an oversized first BDAT
  // chunk in the same receive()).
  std::shared_ptr<const Envelope> envelope;
};

// How many of each command the client sent and how many succeeded (Postfix's "disconnect from"
// line: ehlo=1 mail=1 rcpt=0/1 data=0/1 quit=1 commands=3/5).
struct CommandCounts {
  static constexpr std::size_t kVerbs = static_cast<std::size_t>(Verb::Invalid) + 1;
  std::uint32_t sent[kVerbs] = {};
  std::uint32_t ok[kVerbs] = {};
};

class ServerSession {
 public:
  ServerSession(const SessionConfig& config, ClientInfo client, ChannelPolicy policy = {});

  // Queues the 220 greeting. (A server over its limits sends reject_connection() instead.)
  void start();
  // Queues a 421 (the given id) and closes: before start() when over the connection limit, or
  // at any time for a policy decision of the I/O layer (too many authentication failures).
  void reject_connection(ReplyId id);

  // Feeds received octets. Returns how many were consumed: fewer than in.size() when the session
  // paused for a decision or closed; the caller keeps the rest and feeds it again after resuming.
  std::size_t receive(std::span<const char> in);

  // Reply octets to send (appended in order); the caller clears what it sent.
  std::string& output() { return out_; }
  // Decoded message content to append to the message; the caller clears what it wrote.
  std::string& body() { return body_; }
  std::optional<Event> poll_event();

  Pending pending() const { return pending_; }
  const MailRequest& mail_request() const { return mail_req_; }
  const RcptRequest& rcpt_request() const { return rcpt_req_; }
  const AddressRequest& address_request() const { return addr_req_; }
  // Answer the pending MAIL / RCPT / VRFY or EXPN. Ignored when nothing of that kind is pending.
  void resolve_mail(MailVerdict verdict);
  void resolve_rcpt(RcptVerdict verdict);
  void resolve_address(AddressVerdict verdict);
  // Answers the pending commit. The transaction ends. SMTP: one reply; LMTP: one per recipient.
  void commit_done(const CommitResult& result);

  const AuthRequest& auth_request() const { return auth_; }
  // The answers to a pending AUTH (see AuthRequest). auth_failed() answers a Failed pause with
  // `reply` (535 5.7.8), or any pending AUTH with 454 4.7.0 when the check could not be made.
  void auth_checked(bool ok);
  void auth_secret(std::optional<sasl::ScramSecret> secret);
  void auth_failed(ReplyId reply = ReplyId::AuthFailed);

  // The TLS handshake after STARTTLS succeeded: the session forgets everything it knew from
  // the client (RFC 3207 §4.2) and expects EHLO again. For implicit TLS (RFC 8314) the I/O
  // layer calls set_implicit_tls() before start() instead.
  void tls_started(std::string tls_info);
  // Implicit TLS (RFC 8314 §3): the channel is encrypted from the start; call before start().
  void set_implicit_tls(std::string tls_info) {
    client_.tls = true;
    client_.tls_info = std::move(tls_info);
  }

  // The I/O layer's timers and shutdown. Both queue a 421 and a Close event.
  void timeout();
  void shutdown();

  // Per-client override of the configured bare-newline policy (the I/O layer relaxes Reject to
  // Note for clients in an exempt network). Takes effect at the next DATA.
  void set_bare_newline_policy(BareNewlinePolicy p) { bare_newline_ = p; }

  bool closed() const { return state_ == State::Closed; }
  bool in_transaction() const { return tx_.has_value(); }
  // True while message content is being received (DATA or BDAT).
  bool receiving_message() const { return state_ == State::Data || state_ == State::Bdat; }
  const Envelope& envelope() const { return tx_->envelope; }
  const ClientInfo& client() const { return client_; }
  Dialect dialect() const { return policy_.dialect; }
  std::size_t errors() const { return errors_; }
  const CommandCounts& command_counts() const { return counts_; }
  // The command whose reply came last (for "lost connection after DATA" logs).
  Verb last_command() const { return current_verb_; }
  // Decoded size of the message being received or just committed.
  std::uint64_t message_size() const { return message_size_; }

 private:
  enum class State {
    Greeting,
    Connected,
    Ready,
    Mail,
    Rcpt,
    Data,
    Bdat,
    AuthResponse,
    TlsPending,
    Closed
  };
  struct Transaction {
    // Explicit constructor: clang 14 does not see a nested class with default member
    // initialisers as default-constructible while the outer class is incomplete (CWG 1397).
    Transaction() {}
    Envelope envelope;
    bool rcpt_attempted = false;
  };

  // server_session.cpp: input, dispatch, replies, events.
  std::size_t receive_commands(std::span<const char> in);
  void handle_line(std::string_view line);
  void handle_command(const Command& cmd);
  std::size_t line_limit() const;
  struct CommandSpec;
  static const CommandSpec& spec_for(Verb verb);
  State idle_state() const;
  // Queues a reply to a command; 4xx/5xx count towards limits.max_errors and are reported as
  // Reject events. 3xx replies are intermediate and do not complete the command.
  void reply(const Reply& r);
  void reply(ReplyId id, std::string_view arg = {});
  void count_reply(const Reply& r);
  void reset_transaction();
  void close_with(ReplyId id);
  void push(Event e) { events_.push_back(std::move(e)); }

  // server_transaction.cpp: the mail transaction (HELO/EHLO/LHLO, MAIL, RCPT, DATA, BDAT, RSET).
  void on_helo(const Command& cmd);
  void on_mail(const Command& cmd);
  void on_rcpt(const Command& cmd);
  void on_data(const Command& cmd);
  void on_bdat(const Command& cmd);
  void on_rset(const Command& cmd);
  std::size_t receive_data(std::span<const char> in);
  std::size_t receive_bdat(std::span<const char> in);
  void bdat_chunk_complete();
  void reply_ehlo();
  void end_message();  // DATA or last BDAT complete: commit or reject
  // Refuses the message in progress with `r`. end_of_data: the refusal answers the end of the
  // data (DATA's final dot, BDAT LAST), which LMTP answers once per accepted recipient.
  void abort_message(const Reply& r, bool end_of_data = false);
  void begin_message();

  // server_commands.cpp: the commands outside a transaction.
  void on_noop(const Command& cmd);
  void on_quit(const Command& cmd);
  void on_vrfy(const Command& cmd);
  void on_expn(const Command& cmd);
  void on_help(const Command& cmd);
  void on_etrn(const Command& cmd);
  void on_unknown(const Command& cmd);
  void on_invalid(const Command& cmd);

  // server_auth.cpp: STARTTLS and AUTH.
  void on_starttls(const Command& cmd);
  void on_auth(const Command& cmd);
  void on_auth_response(std::string_view line);
  void auth_next(sasl::ServerStep step);
  void end_auth();
  void forget_password();

  const SessionConfig& cfg_;
  ClientInfo client_;
  State state_ = State::Greeting;
  Pending pending_ = Pending::None;
  MailRequest mail_req_;
  RcptRequest rcpt_req_;
  AddressRequest addr_req_;
  std::optional<Transaction> tx_;
  std::optional<DotDecoder> dot_;
  std::optional<BdatDecoder> bdat_;
  bool bdat_last_ = false;
  std::uint64_t bdat_chunk_size_ = 0;
  bool bdat_discard_ = false;  // the current chunk is refused: consume without storing
  std::uint64_t discard_remaining_ = 0;
  Reply bdat_reply_;           // reply to send after a refused chunk is consumed
  bool message_open_ = false;  // MessageBegin sent, no commit/abort yet
  ChannelPolicy policy_;
  AuthRequest auth_;
  std::unique_ptr<sasl::ServerMechanism> mech_;  // the exchange in progress
  // SCRAM's server-final message went out in a 334: the client's empty response completes the
  // AUTH (RFC 4954 §4: SMTP has no additional data with success).
  bool success_sent_ = false;
  BareNewlinePolicy bare_newline_;
  std::uint64_t message_size_ = 0;
  HeaderScanner headers_;       // Received: count of the message in progress (loop detection)
  std::string line_;            // a partial command line carried between receive() calls
  bool line_overflow_ = false;  // the current command line exceeded the limit: skip to LF
  std::string out_;
  std::string body_;
  // A vector, not a deque: libstdc++'s deque allocates ~600 bytes even when empty, per session.
  std::vector<Event> events_;
  std::size_t events_head_ = 0;
  std::size_t errors_ = 0;
  CommandCounts counts_;
  Verb current_verb_ = Verb::Invalid;
  bool counted_ = true;  // the current command's final reply was counted
  // The addresses of the command being answered, for Reject events (MAIL's sender, RCPT's
  // recipient): the transaction may not hold them (a refused MAIL has no transaction).
  std::string cmd_from_, cmd_to_;

  friend struct SessionInspector;  // tests/support: read-only access for invariant checks
};

// Read-only views of a session's internals for test drivers and fuzzers (tests/support), so
// they need no access tricks: the partial command line the session buffers.
struct SessionInspector {
  static std::size_t buffered_line(const ServerSession& s) { return s.line_.size(); }
};

}  // namespace taube::smtp
