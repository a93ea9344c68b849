// ServerSession: the SMTP server state machine, sans I/O.
//
// Theory of operation
// -------------------
// The caller (src/net) feeds the octets it reads with receive() and sends what output() holds.
// The session never blocks and never performs I/O; when it needs an outside decision it pauses:
//   * a recipient (RCPT), VRFY or EXPN lookup  -> pending() == Pending::Lookup, answer with
//     resolve_lookup();
//   * the durable commit of a complete message -> pending() == Pending::Commit, answer with
//     commit_done();
//   * SASL credentials to verify (AUTH)        -> pending() == Pending::Auth, answer with
//     auth_done();
//   * the sender of an authenticated client    -> Pending::Lookup with LookupKind::Sender.
// STARTTLS: after "220 Ready to start TLS" the session emits EventKind::StartTls and discards
// every octet received until tls_started() (RFC 3207 §4.2, CVE-2011-0411: plaintext pipelined
// after STARTTLS must never be executed); then it is back in the pre-EHLO state.
// While paused, receive() consumes nothing, so replies to pipelined commands stay in order
// (RFC 2920 §3.1). Notifications that need no answer (a message starts, is aborted, the client
// sent bare newlines) are queued as events, taken with poll_event().
//
// States: Greeting (before start()) -> Connected (no HELO yet) -> Ready (HELO/EHLO done)
//   -> Mail (MAIL accepted) -> Rcpt (>= 1 recipient) -> Data | Bdat -> Ready ... -> Closed;
//   Ready -> AuthResponse (SASL exchange lines) -> Ready; any -> TlsPending -> Connected.
// Session state: HELO name, EHLO-ness, error count. Transaction state (optional Transaction):
// sender, parameters, recipients, the message being received.
// Resets of the transaction (RFC 5321 §4.1.4): RSET, HELO/EHLO, end of data (accepted or
// not), a failed BDAT chunk (RFC 3030 §2), and STARTTLS.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/wire/bdat_decoder.hpp"
#include "smtp/wire/command_parser.hpp"
#include "smtp/wire/dot_decoder.hpp"
#include "smtp/wire/envelope.hpp"
#include "smtp/wire/limits.hpp"
#include "smtp/wire/reply.hpp"
#include "sasl/scram_messages.hpp"

namespace taube::smtp {

enum class VrfyMode { Disabled, CannotVerify, Verify };

struct SessionConfig {
  std::string hostname = "localhost";
  Limits limits;
  BareNewlinePolicy bare_newline = BareNewlinePolicy::Reject;
  bool reject_long_lines = false;  // text lines over limits.max_text_line
  VrfyMode vrfy = VrfyMode::CannotVerify;
  bool expn = false;
  bool etrn = false;  // advertise ETRN (answers 458 until a queue exists)
  bool require_helo = true;
};

// What the listener this connection came in on offers (src/net fills it in).
struct ChannelPolicy {
  bool starttls = false;        // STARTTLS offered (a certificate is configured, not implicit TLS)
  bool tls_required = false;    // 530 5.7.0 to MAIL before TLS
  bool auth = false;            // AUTH PLAIN/LOGIN offered
  bool scram = false;           // AUTH SCRAM-SHA-256 offered too (users with SCRAM secrets)
  bool plaintext_auth = false;  // AUTH also without TLS (otherwise 538 5.7.11)
  bool auth_required = false;   // submission (RFC 6409 §4.3): 530 5.7.0 to MAIL before AUTH
};

enum class Pending { None, Lookup, Commit, Auth };
enum class LookupKind { Rcpt, Vrfy, Expn, Sender };

// Credentials from a completed SASL exchange (RFC 4954, RFC 4616 PLAIN, LOGIN).
struct AuthRequest {
  std::string mechanism;  // "PLAIN", "LOGIN" or "SCRAM-SHA-256"
  std::string authzid;    // PLAIN only; empty when absent
  std::string username;
  std::string password;  // PLAIN and LOGIN
  // SCRAM-SHA-256 (RFC 5802): step 0, the client-first message arrived (scram_first); answer
  // with auth_challenge(server-first). Step 1, the client-final message arrived (sasl_message);
  // answer with auth_verified(server-final) or auth_done(false).
  int step = 0;
  ScramClientFirst scram_first;
  std::string sasl_message;
};

struct LookupRequest {
  LookupKind kind;
  Mailbox mailbox;  // for VRFY/EXPN without '@' the domain is empty
  std::string raw;  // the argument as sent (VRFY/EXPN)
};

enum class EventKind {
  MessageBegin,  // the body starts: open a spool file (envelope() is complete)
  MessageAbort,  // the message in progress is dropped (client error, RSET, reject): discard
  BareNewline,   // a message contained bare <CR>/<LF> (counts in the event), for the log
  StartTls,      // send output(), then start the TLS handshake; call tls_started() after it
  Close,         // close the connection once output() has been sent
};

struct Event {
  EventKind kind;
  Reply reply;                // MessageAbort: the reply that was sent
  std::uint64_t bare_lf = 0;  // BareNewline
  std::uint64_t bare_cr = 0;
  // MessageBegin: the envelope as it is when the body starts. A copy, because by the time the
  // caller handles the event the transaction may already have ended (an oversized first BDAT
  // chunk in the same receive()).
  std::shared_ptr<const Envelope> envelope;
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
  // Decoded message content to append to the spool file; the caller clears what it wrote.
  std::string& body() { return body_; }
  std::optional<Event> poll_event();

  Pending pending() const { return pending_; }
  const LookupRequest& lookup() const { return lookup_; }
  // Answers the pending lookup. For RCPT a positive reply adds the recipient with its
  // destinations; for VRFY/EXPN the reply is sent as is.
  void resolve_lookup(Reply reply, std::vector<std::string> destinations = {});
  // Answers the pending commit: 250 (queued) or the storage error. The transaction ends.
  void commit_done(Reply reply);

  const AuthRequest& auth_request() const { return auth_; }
  // Answers the pending AUTH: on success the session is authenticated as auth_request().username
  // (235 2.7.0); `failure` is the reply otherwise (535 5.7.8, or 454 4.7.0 for a lookup error).
  void auth_done(bool ok, ReplyId failure = ReplyId::AuthFailed);
  // SCRAM: answers the pending AUTH with a 334 challenge carrying `data` (base64-encoded here)
  // and waits for the client's next message.
  void auth_challenge(std::string_view data);
  // SCRAM: the client's proof is valid. `data` (the server's signature) goes out in a 334, and
  // the client's empty response completes the AUTH with 235: SMTP AUTH has no additional data
  // with success (RFC 4954 §4).
  void auth_verified(std::string_view data);

  // The TLS handshake after STARTTLS succeeded: the session forgets everything it knew from
  // the client (RFC 3207 §4.2) and expects EHLO again. For implicit TLS (RFC 8314) the I/O
  // layer sets ClientInfo::tls before start() instead.
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
  std::size_t errors() const { return errors_; }
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

  std::size_t receive_commands(std::span<const char> in);
  std::size_t receive_data(std::span<const char> in);
  std::size_t receive_bdat(std::span<const char> in);
  void handle_line(std::string_view line);
  void handle_command(const Command& cmd);

  // One handler per verb; the command table in session.cpp maps verbs to them.
  void on_helo(const Command& cmd);
  void on_mail(const Command& cmd);
  void on_rcpt(const Command& cmd);
  void on_data(const Command& cmd);
  void on_bdat(const Command& cmd);
  void on_rset(const Command& cmd);
  void on_noop(const Command& cmd);
  void on_quit(const Command& cmd);
  void on_vrfy(const Command& cmd);
  void on_expn(const Command& cmd);
  void on_help(const Command& cmd);
  void on_etrn(const Command& cmd);
  void on_not_implemented(const Command& cmd);
  void on_starttls(const Command& cmd);
  void on_auth(const Command& cmd);
  void on_auth_response(std::string_view line);
  void auth_step(std::string_view decoded);
  void scram_step(std::string_view decoded);
  void auth_continue(int stage, std::string_view data);
  std::size_t line_limit() const;
  void on_unknown(const Command& cmd);
  void on_invalid(const Command& cmd);
  struct CommandSpec;
  static const CommandSpec& spec_for(Verb verb);

  void start_lookup(LookupKind kind, Mailbox mailbox, std::string_view raw);
  void bdat_chunk_complete();
  State idle_state() const;

  // Queues a reply to a command; 4xx/5xx count towards limits.max_errors.
  void reply(const Reply& r);
  void reply(ReplyId id, std::string_view arg = {});
  void reply_ehlo();
  void end_message();  // DATA or last BDAT complete: commit or reject
  void abort_message(const Reply& r);
  void reset_transaction();
  void close_with(ReplyId id);
  void push(Event e) { events_.push_back(std::move(e)); }

  const SessionConfig& cfg_;
  ClientInfo client_;
  State state_ = State::Greeting;
  Pending pending_ = Pending::None;
  LookupRequest lookup_;
  std::optional<Transaction> tx_;
  std::optional<DotDecoder> dot_;
  std::optional<BdatDecoder> bdat_;
  bool bdat_last_ = false;
  std::uint64_t bdat_chunk_size_ = 0;
  bool bdat_discard_ = false;  // the current chunk is refused: consume without storing
  std::uint64_t discard_remaining_ = 0;
  Reply bdat_reply_;           // reply to send after a refused chunk is consumed
  bool message_open_ = false;  // MessageBegin sent, no commit/abort yet
  std::optional<Recipient> pending_rcpt_;
  std::optional<Path> pending_sender_;  // MAIL waiting for the Sender lookup
  MailParams pending_mail_params_;
  ChannelPolicy policy_;
  AuthRequest auth_;
  // LOGIN: 0 wants the user name, 1 the password. SCRAM: 0 wants the client-first message, 1
  // the client-final, 2 (proof verified) the client's empty response.
  int auth_stage_ = 0;
  BareNewlinePolicy bare_newline_;
  std::uint64_t message_size_ = 0;
  std::string line_;            // a partial command line carried between receive() calls
  bool line_overflow_ = false;  // the current command line exceeded the limit: skip to LF
  std::string out_;
  std::string body_;
  // A vector, not a deque: libstdc++'s deque allocates ~600 bytes even when empty, per session.
  std::vector<Event> events_;
  std::size_t events_head_ = 0;
  std::size_t errors_ = 0;
};

}  // namespace taube::smtp
