#include "smtp/wire/reply.hpp"

#include <algorithm>

namespace taube::smtp {

namespace {
// clang-format off
const std::vector<ReplyEntry> kTable = {
  {ReplyId::Greeting,           220, "",      "{} ESMTP Taube",                                     "RFC 5321 §4.3.1"},
  {ReplyId::ShuttingDown,       421, "4.3.2", "{} Service shutting down, closing transmission channel", "RFC 5321 §3.8"},
  {ReplyId::TooManyConnections, 421, "4.7.0", "{} Error: too many connections, try again later",  "RFC 5321 §3.8, RFC 3463"},
  {ReplyId::TooManyErrors,      421, "4.7.0", "{} Error: too many errors",                         "RFC 5321 §4.2.5"},
  {ReplyId::Timeout,            421, "4.4.2", "{} Error: timeout exceeded",                        "RFC 5321 §4.5.3.2"},
  {ReplyId::HeloOk,             250, "",      "{}",                                                "RFC 5321 §4.1.1.1"},
  {ReplyId::MailOk,             250, "2.1.0", "Ok",                                                "RFC 5321 §4.1.1.2"},
  {ReplyId::RcptOk,             250, "2.1.5", "Ok",                                                "RFC 5321 §4.1.1.3"},
  {ReplyId::RcptForward,        251, "2.1.5", "User not local; will forward to <{}>",              "RFC 5321 §3.4"},
  {ReplyId::DataStart,          354, "",      "End data with <CR><LF>.<CR><LF>",                   "RFC 5321 §4.1.1.4"},
  {ReplyId::Queued,             250, "2.0.0", "Ok: queued as {}",                                  "RFC 5321 §4.1.1.4"},
  {ReplyId::ChunkOk,            250, "2.0.0", "Ok: {} octets received",                            "RFC 3030 §2"},
  {ReplyId::ResetOk,            250, "2.0.0", "Ok",                                                "RFC 5321 §4.1.1.5"},
  {ReplyId::NoopOk,             250, "2.0.0", "Ok",                                                "RFC 5321 §4.1.1.9"},
  {ReplyId::Bye,                221, "2.0.0", "Bye",                                               "RFC 5321 §4.1.1.10"},
  {ReplyId::VrfyCannot,         252, "2.5.2", "Cannot VRFY user, but will accept message and attempt delivery", "RFC 5321 §3.5.3"},
  {ReplyId::VrfyOk,             250, "2.1.5", "<{}>",                                              "RFC 5321 §3.5.1"},
  {ReplyId::VrfyUnknown,        550, "5.1.1", "<{}>: Recipient address rejected: User unknown",    "RFC 5321 §3.5.3"},
  {ReplyId::VrfyDisabled,       502, "5.5.1", "VRFY command is disabled",                          "RFC 5321 §3.5.3"},
  {ReplyId::ExpnDisabled,       502, "5.5.1", "EXPN command is disabled",                          "RFC 5321 §3.5.2"},
  {ReplyId::EtrnDisabled,       502, "5.5.1", "ETRN command is disabled",                          "RFC 1985 §5"},
  {ReplyId::EtrnNoQueue,        458, "4.3.0", "Unable to queue messages for node {}",              "RFC 1985 §5"},
  {ReplyId::EtrnStarted,        250, "2.0.0", "Queuing for node {} started",                       "RFC 1985 §5"},
  {ReplyId::EtrnNothing,        251, "2.0.0", "No messages waiting for node {}",                   "RFC 1985 §5"},
  {ReplyId::EtrnBadNode,        459, "4.3.0", "Node {} not allowed: not a domain name",            "RFC 1985 §5"},
  {ReplyId::Help,               214, "2.0.0", "Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP; see RFC 5321", "RFC 5321 §4.1.1.8"},
  {ReplyId::NotImplemented,     502, "5.5.1", "Error: command not implemented",                    "RFC 5321 §4.2.4"},
  {ReplyId::NeedHelo,           503, "5.5.1", "Error: send HELO/EHLO first",                       "RFC 5321 §4.1.4"},
  {ReplyId::NeedMail,           503, "5.5.1", "Error: need MAIL command",                          "RFC 5321 §4.1.4"},
  {ReplyId::NeedRcpt,           503, "5.5.1", "Error: need RCPT command",                          "RFC 5321 §4.1.4"},
  {ReplyId::NestedMail,         503, "5.5.1", "Error: nested MAIL command",                        "RFC 5321 §4.1.4"},
  {ReplyId::DataAfterBdat,      503, "5.5.1", "Error: DATA not allowed after BDAT",                "RFC 3030 §3"},
  {ReplyId::BdatAfterData,      503, "5.5.1", "Error: BDAT not allowed here",                      "RFC 3030 §3"},
  {ReplyId::SyntaxHelo,         501, "5.5.4", "Syntax: {} hostname",                               "RFC 5321 §4.1.1.1"},
  {ReplyId::SyntaxMail,         501, "5.5.4", "Syntax: MAIL FROM:<address>",                       "RFC 5321 §4.1.1.2"},
  {ReplyId::SyntaxRcpt,         501, "5.5.4", "Syntax: RCPT TO:<address>",                         "RFC 5321 §4.1.1.3"},
  {ReplyId::SyntaxBdat,         501, "5.5.4", "Syntax: BDAT count [LAST]",                         "RFC 3030 §2"},
  {ReplyId::SyntaxNoArgs,       501, "5.5.4", "Syntax: {} takes no arguments",                     "RFC 5321 §4.1.1"},
  {ReplyId::SyntaxParam,        501, "5.5.4", "Bad parameter syntax: {}",                          "RFC 5321 §4.1.2, RFC 3461"},
  {ReplyId::BadSenderSyntax,    501, "5.1.7", "Bad sender address syntax",                         "RFC 5321 §4.1.2, RFC 3463"},
  {ReplyId::BadRecipientSyntax, 501, "5.1.3", "Bad recipient address syntax",                      "RFC 5321 §4.1.2, RFC 3463"},
  {ReplyId::SenderTooLong,      553, "5.1.7", "Sender address too long",                           "RFC 5321 §4.5.3.1"},
  {ReplyId::RecipientTooLong,   553, "5.1.3", "Recipient address too long",                        "RFC 5321 §4.5.3.1"},
  {ReplyId::Utf8NeedsSmtputf8,  553, "5.6.7", "Non-ASCII address requires the SMTPUTF8 parameter", "RFC 6531 §3.5"},
  {ReplyId::UnknownCommand,     500, "5.5.1", "Error: command not recognized",                     "RFC 5321 §4.2.4"},
  {ReplyId::BadCommandLine,     500, "5.5.2", "Error: bad syntax",                                 "RFC 5321 §4.2.2"},
  {ReplyId::CommandTooLong,     500, "5.5.6", "Error: line too long",                              "RFC 5321 §4.5.3.1.4"},
  {ReplyId::UnknownParam,       555, "5.5.4", "Unsupported parameter: {}",                         "RFC 5321 §4.1.1.11"},
  {ReplyId::TooManyRecipients,  452, "4.5.3", "Error: too many recipients",                        "RFC 5321 §4.5.3.1.8"},
  {ReplyId::SizeTooBigAtMail,   552, "5.3.4", "Message size exceeds fixed limit",                  "RFC 1870 §6.1"},
  {ReplyId::MessageTooBig,      552, "5.3.4", "Error: message file too big",                       "RFC 1870 §6.3"},
  {ReplyId::BareNewline,        550, "5.5.2", "Error: bare <CR> or <LF> received; use <CR><LF> line endings", "RFC 5321 §2.3.8"},
  {ReplyId::TextLineTooLong,    500, "5.5.6", "Error: text line longer than {} octets",            "RFC 5321 §4.5.3.1.6"},
  {ReplyId::UserUnknown,        550, "5.1.1", "<{}>: Recipient address rejected: User unknown in local recipient table", "RFC 5321 §3.3, RFC 3463"},
  {ReplyId::RelayDenied,        554, "5.7.1", "<{}>: Relay access denied",                         "RFC 5321 §3.6.2"},
  {ReplyId::StorageError,       451, "4.3.0", "Error: queue file write error",                     "RFC 5321 §4.2.3"},
  {ReplyId::StorageFull,        452, "4.3.1", "Error: insufficient system storage",                "RFC 5321 §4.2.3, RFC 3463"},
  {ReplyId::LocalError,         451, "4.3.0", "<{}>: Temporary lookup failure",                    "RFC 5321 §4.2.3"},
  {ReplyId::NoValidRecipients,  554, "5.5.1", "Error: no valid recipients",                        "RFC 5321 §3.3"},
  {ReplyId::StartTlsReady,      220, "2.0.0", "Ready to start TLS",                                "RFC 3207 §4"},
  {ReplyId::TlsAlreadyActive,   503, "5.5.1", "Error: TLS already active",                         "RFC 3207 §4.2"},
  {ReplyId::TlsRequired,        530, "5.7.0", "Must issue a STARTTLS command first",               "RFC 3207 §4"},
  {ReplyId::AuthRequired,       530, "5.7.0", "Authentication required",                           "RFC 4954 §6"},
  {ReplyId::AuthOk,             235, "2.7.0", "Authentication successful",                         "RFC 4954 §6"},
  {ReplyId::AuthFailed,         535, "5.7.8", "Authentication credentials invalid",                "RFC 4954 §6"},
  {ReplyId::AuthNeedsTls,       538, "5.7.11", "Encryption required for requested authentication mechanism", "RFC 4954 §6"},
  {ReplyId::AuthAlready,        503, "5.5.1", "Error: already authenticated",                      "RFC 4954 §4"},
  {ReplyId::AuthInTransaction,  503, "5.5.1", "Error: MAIL transaction in progress",               "RFC 4954 §4"},
  {ReplyId::AuthUnknownMechanism, 504, "5.5.4", "Unrecognized authentication type",                "RFC 4954 §4"},
  {ReplyId::AuthBadBase64,      501, "5.5.2", "Error: invalid base64 data",                        "RFC 4954 §4"},
  {ReplyId::AuthCancelled,      501, "5.7.0", "Authentication cancelled",                          "RFC 4954 §4"},
  {ReplyId::AuthChallenge,      334, "",      "{}",                                                "RFC 4954 §4"},
  {ReplyId::AuthTempFail,       454, "4.7.0", "Temporary authentication failure",                  "RFC 4954 §6"},
  {ReplyId::AuthTooManyFailures, 421, "4.7.0", "{} Error: too many authentication failures",       "RFC 5321 §3.8"},
  {ReplyId::SenderNotOwned,     553, "5.7.1", "<{}>: Sender address rejected: not owned by the authenticated user", "RFC 4954 §5, RFC 3463"},
  {ReplyId::SyntaxAuth,         501, "5.5.4", "Syntax: AUTH mechanism [initial-response]",         "RFC 4954 §4"},
  {ReplyId::RcptAfterBdat,      503, "5.5.1", "Error: RCPT not allowed after BDAT",                "RFC 3030 §2"},
  {ReplyId::BdatLostSync,       421, "4.5.0", "{} Error: cannot find the end of a malformed BDAT chunk", "RFC 3030 §2"},
  {ReplyId::PregreetViolation,  554, "5.5.1", "{} Error: SMTP protocol violation: client talked before the greeting", "RFC 5321 §3.1, §4.3.1"},
  {ReplyId::SenderTempFail,     451, "4.3.0", "<{}>: Sender address rejected: Temporary lookup failure", "RFC 5321 §4.2.3"},
  {ReplyId::SenderRejected,     550, "5.7.1", "<{}>: Sender address rejected: Access denied",        "RFC 5321 §4.1.1.2, RFC 3463"},
  {ReplyId::LoopDetected,       554, "5.4.6", "Error: too many hops (mail loop)",                    "RFC 5321 §6.3, RFC 3463"},
  {ReplyId::SrsInvalid,         550, "5.1.1", "<{}>: Recipient address rejected: invalid SRS address", "RFC 3463 §3.2 (X.1.1), SRS"},
  {ReplyId::SrsExpired,         550, "5.1.1", "<{}>: Recipient address rejected: SRS address expired", "RFC 3463 §3.2 (X.1.1), SRS"},
};
// clang-format on
}  // namespace

const std::vector<ReplyEntry>& reply_table() {
  return kTable;
}

Reply make_reply(ReplyId id, std::string_view arg) {
  // The table is ordered like the enum; reply_test checks make_reply(id) returns id's entry.
  const ReplyEntry& e = kTable[static_cast<size_t>(id)];
  Reply r{e.code, std::string(e.enhanced), {}};
  const auto pos = e.text.find("{}");
  if (pos == std::string_view::npos) {
    r.text = e.text;
  } else {
    r.text.reserve(e.text.size() + arg.size());
    r.text.append(e.text.substr(0, pos)).append(arg).append(e.text.substr(pos + 2));
  }
  return r;
}

void append_reply(std::string& out, const Reply& reply) {
  char code[4] = {static_cast<char>('0' + reply.code / 100 % 10),
                  static_cast<char>('0' + reply.code / 10 % 10),
                  static_cast<char>('0' + reply.code % 10), 0};
  std::string_view text = reply.text;
  for (;;) {
    const auto nl = text.find('\n');
    const bool last = nl == std::string_view::npos;
    out.append(code, 3).push_back(last ? ' ' : '-');
    if (!reply.enhanced.empty()) out.append(reply.enhanced).push_back(' ');
    out.append(last ? text : text.substr(0, nl)).append("\r\n");
    if (last) break;
    text.remove_prefix(nl + 1);
  }
}

std::string format_reply(const Reply& reply) {
  std::string out;
  append_reply(out, reply);
  return out;
}

}  // namespace taube::smtp
