// Client commands on the wire (RFC 5321 §4.1.1), the inverse of command_parser.hpp: each function
// returns one complete command line ending in CRLF. Functions with an argument check it and
// return a FormatError instead of writing a line the server would misread; none of them drops,
// shortens or re-encodes a value behind the caller's back (format_error.hpp). Verbs are written in
// uppercase, arguments as given.
//
// What the formatters do not check: the overall length of MAIL and RCPT lines. RFC 5321
// §4.5.3.1.4 allows 512 octets, but every parameter extension raises it (RFC 1870 §3 SIZE, RFC
// 3461 §4 DSN, RFC 4954 §5 AUTH), and the path is sent as received (RFC 5321 §4.5.3.1: "the
// maximum extent possible"); the server answers 500 5.5.6 if it disagrees.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "smtp/wire/address.hpp"
#include "smtp/wire/esmtp_params.hpp"
#include "smtp/wire/format_error.hpp"

namespace taube::smtp {

// RFC 4954 §4: an AUTH command with its initial response must fit the 512-octet command line
// (RFC 5321 §4.5.3.1.4, CRLF included); otherwise the response goes after an empty challenge.
inline constexpr std::size_t kMaxAuthCommandLine = 512;

// "HELO domain" / "EHLO domain" / "LHLO domain" (RFC 2033 §4.1). `domain` is an ASCII domain or
// an address literal ("[192.0.2.1]", RFC 5321 §4.1.4); anything else is BadDomain.
tl::expected<std::string, FormatError> format_helo(std::string_view domain);
tl::expected<std::string, FormatError> format_ehlo(std::string_view domain);
tl::expected<std::string, FormatError> format_lhlo(std::string_view domain);

// "<local@domain>", "<>" (reverse-path only) or "<postmaster>" (forward-path only, a Mailbox
// with that local part in any case and no domain). The local part is quoted when it is not a
// Dot-string. The result is checked by reading it back with parse_path (without its length
// limits): BadAddress when it does not give the same mailbox (a CTL in the local part, an invalid
// domain or literal, domain_is_literal not matching the domain), Utf8NeedsSmtputf8 for non-ASCII
// without `smtputf8`.
tl::expected<std::string, FormatError> format_path(const Path& path, PathKind kind, bool smtputf8);

// "MAIL FROM:<path> params"; UTF-8 in the path is allowed when params.smtputf8 is set.
tl::expected<std::string, FormatError> format_mail(const Path& from, const MailParams& params);
// "RCPT TO:<mailbox> params"; UTF-8 in the mailbox is allowed when the transaction's MAIL carried
// SMTPUTF8, which the caller passes as `smtputf8`.
tl::expected<std::string, FormatError> format_rcpt(const Mailbox& to, const RcptParams& params,
                                                   bool smtputf8 = false);

std::string format_data();                               // "DATA"
std::string format_bdat(std::uint64_t size, bool last);  // "BDAT 123" / "BDAT 123 LAST" (RFC 3030)
std::string format_rset();                               // "RSET"
std::string format_quit();                               // "QUIT"
std::string format_noop();                               // "NOOP"
std::string format_starttls();                           // "STARTTLS" (RFC 3207)

// "AUTH mechanism [initial-response]" (RFC 4954 §4). `mechanism` is a SASL name, 1-20 of
// uppercase letters, digits, "-" and "_" (RFC 4422 §3.1; lowercase accepted and sent as given).
// `initial_response` is already base64, "=" for an empty one; BadValue if it is not base64.
// LineTooLong when the line would exceed kMaxAuthCommandLine: send AUTH without it, then the
// response with format_auth_response after the server's empty 334.
tl::expected<std::string, FormatError> format_auth(
    std::string_view mechanism, std::optional<std::string_view> initial_response = std::nullopt);
// One SASL response line (RFC 4954 §4): base64 ("" for an empty response), or "*" to cancel.
tl::expected<std::string, FormatError> format_auth_response(std::string_view base64);

// "ETRN node" (RFC 1985 §5): a domain, "@domain" (subdomains too) or "#queue" (printable ASCII).
tl::expected<std::string, FormatError> format_etrn(std::string_view node);
// "VRFY string" (RFC 5321 §4.1.1.6): printable ASCII, inner spaces allowed (a quoted string or a
// user name); empty, CTL, non-ASCII or leading/trailing SP is BadValue.
tl::expected<std::string, FormatError> format_vrfy(std::string_view what);

}  // namespace taube::smtp
