// Replies are values. Every reply Taube sends is one entry of the table in reply.cpp, with its RFC
// reference; only the text's `{}` placeholder varies. Multi-line formatting lives in one function.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace taube::smtp {

// Identifies one entry in the reply table (reply.cpp).
enum class ReplyId {
  Greeting,              // 220 <host> ESMTP Taube
  ShuttingDown,          // 421 4.3.2
  TooManyConnections,    // 421 4.7.0
  TooManyErrors,         // 421 4.7.0
  Timeout,               // 421 4.4.2
  HeloOk,                // 250 <host>
  MailOk,                // 250 2.1.0
  RcptOk,                // 250 2.1.5
  RcptForward,           // 251 2.1.5
  DataStart,             // 354
  Queued,                // 250 2.0.0 Ok: queued as <id>
  ChunkOk,               // 250 2.0.0 (BDAT, not LAST)
  ResetOk,               // 250 2.0.0
  NoopOk,                // 250 2.0.0
  Bye,                   // 221 2.0.0
  VrfyCannot,            // 252 2.5.2
  VrfyOk,                // 250 2.1.5
  VrfyUnknown,           // 550 5.1.1
  VrfyDisabled,          // 502 5.5.1
  ExpnDisabled,          // 502 5.5.1
  EtrnDisabled,          // 502 5.5.1
  EtrnNoQueue,           // 458 4.3.0
  EtrnStarted,           // 250 2.0.0
  EtrnNothing,           // 251 2.0.0
  EtrnBadNode,           // 459 4.3.0
  Help,                  // 214 2.0.0
  NotImplemented,        // 502 5.5.1
  NeedHelo,              // 503 5.5.1
  NeedMail,              // 503 5.5.1
  NeedRcpt,              // 503 5.5.1
  NestedMail,            // 503 5.5.1
  DataAfterBdat,         // 503 5.5.1
  BdatAfterData,         // 503 5.5.1 (unused: DATA resets; kept for BDAT without chunks)
  SyntaxHelo,            // 501 5.5.4
  SyntaxMail,            // 501 5.5.4
  SyntaxRcpt,            // 501 5.5.4
  SyntaxBdat,            // 501 5.5.4
  SyntaxNoArgs,          // 501 5.5.4
  SyntaxParam,           // 501 5.5.4
  BadSenderSyntax,       // 501 5.1.7
  BadRecipientSyntax,    // 501 5.1.3
  SenderTooLong,         // 553 5.1.7
  RecipientTooLong,      // 553 5.1.3
  Utf8NeedsSmtputf8,     // 553 5.6.7
  UnknownCommand,        // 500 5.5.1
  BadCommandLine,        // 500 5.5.2
  CommandTooLong,        // 500 5.5.6
  UnknownParam,          // 555 5.5.4
  TooManyRecipients,     // 452 4.5.3
  SizeTooBigAtMail,      // 552 5.3.4
  MessageTooBig,         // 552 5.3.4
  BareNewline,           // 550 5.5.2
  TextLineTooLong,       // 500 5.5.6
  UserUnknown,           // 550 5.1.1
  RelayDenied,           // 554 5.7.1
  StorageError,          // 451 4.3.0
  StorageFull,           // 452 4.3.1
  LocalError,            // 451 4.3.0 (recipient lookup failed temporarily)
  NoValidRecipients,     // 554 5.5.1
  StartTlsReady,         // 220 2.0.0
  TlsAlreadyActive,      // 503 5.5.1
  TlsRequired,           // 530 5.7.0
  AuthRequired,          // 530 5.7.0
  AuthOk,                // 235 2.7.0
  AuthFailed,            // 535 5.7.8
  AuthNeedsTls,          // 538 5.7.11
  AuthAlready,           // 503 5.5.1
  AuthInTransaction,     // 503 5.5.1
  AuthUnknownMechanism,  // 504 5.5.4
  AuthBadBase64,         // 501 5.5.2
  AuthCancelled,         // 501 5.7.0
  AuthChallenge,         // 334 <base64>
  AuthTempFail,          // 454 4.7.0
  AuthTooManyFailures,   // 421 4.7.0
  SenderNotOwned,        // 553 5.7.1
  SyntaxAuth,            // 501 5.5.4
  RcptAfterBdat,         // 503 5.5.1
  BdatLostSync,          // 421 4.5.0
  PregreetViolation,     // 554 5.5.1
  SenderTempFail,        // 451 4.3.0
  SenderRejected,        // 550 5.7.1
  LoopDetected,          // 554 5.4.6
  SrsInvalid,            // 550 5.1.1
  SrsExpired,            // 550 5.1.1
};

struct Reply {
  int code = 0;
  std::string enhanced;  // RFC 3463 "x.y.z", empty where the RFC forbids one (220, 354, HELO)
  std::string text;      // may contain '\n' to make a multi-line reply

  bool positive() const { return code >= 200 && code < 400; }
  bool transient() const { return code >= 400 && code < 500; }
  bool permanent() const { return code >= 500; }
  friend bool operator==(const Reply&, const Reply&) = default;
};

struct ReplyEntry {
  ReplyId id;
  int code;
  std::string_view enhanced;
  std::string_view text;  // "{}" is replaced by the argument of make_reply
  std::string_view rfc;   // where the code comes from
};

// The whole table, for tests that check every entry's consistency.
const std::vector<ReplyEntry>& reply_table();

// Builds the reply for `id`, substituting `arg` for "{}" in the table text.
Reply make_reply(ReplyId id, std::string_view arg = {});

// Appends the wire form: "250-2.0.0 line1\r\n250 2.0.0 line2\r\n". RFC 5321 §4.2.1 (multi-line),
// RFC 2034 §3 (the enhanced code on every line).
void append_reply(std::string& out, const Reply& reply);
std::string format_reply(const Reply& reply);

}  // namespace taube::smtp
