// The command line of `taube sendmail` and of the binary called as `sendmail` or `newaliases`
// (docs/sendmail.md): sendmail(8)'s flags, parsed the way getopt(3) does on Linux (clustered
// flags, "-fADDR" and "-f ADDR", options after operands, "--" ends the options), with the
// option letters Postfix's sendmail accepts. Pure: no I/O.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "smtp/wire/esmtp_params.hpp"

namespace taube::app {

enum class SendmailMode {
  Deliver,     // -bm (the default): a message on standard input
  Smtp,        // -bs: an SMTP session on standard input and output
  ListQueue,   // -bp: mailq
  Flush,       // -q: flush the queue (-qRdomain: that domain's mail)
  Newaliases,  // -bi, -I, or called as newaliases
};

struct SendmailArgs {
  SendmailMode mode = SendmailMode::Deliver;
  bool extract_recipients = false;       // -t: To, Cc, Bcc of the message
  bool ignore_dots = false;              // -i, -oi: a line "." does not end the input
  std::optional<std::string> sender;     // -f / -r; "" is the null sender <>
  std::optional<std::string> full_name;  // -F
  std::string config;                    // -C FILE
  bool verbose = false;                  // -v
  unsigned notify = 0;                   // -N (smtp::NotifyFlags; 0: not given)
  std::optional<smtp::BodyType> body;    // -B 7BIT|8BITMIME
  std::optional<std::string> envid;      // -V envid (RFC 3461 ENVID)
  std::optional<smtp::DsnRet> ret;       // -R full|hdrs
  std::string flush_domain;              // -qRdomain
  std::vector<std::string> recipients;   // the operands
  std::vector<std::string> ignored;      // options accepted and ignored (shown with -v)
};

// argv without the program name. The error text is the usage message's first line; the caller
// exits EX_USAGE (64).
tl::expected<SendmailArgs, std::string> parse_sendmail_args(const std::vector<std::string>& args);

// -N's value: "never", or a comma list of success, failure, delay (RFC 3461 §4.1).
std::optional<unsigned> parse_notify(std::string_view value);

}  // namespace taube::app
