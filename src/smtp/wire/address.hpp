// Mailbox and path parsing, RFC 5321 §4.1.2 (with RFC 6531 §3.3 for UTF-8 addresses).
#pragma once

#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "smtp/wire/ascii.hpp"  // ascii_lower, ascii_iequals: callers used to find them here
#include "smtp/wire/limits.hpp"

namespace taube::smtp {

struct Mailbox {
  // The local part's value: for a quoted local part, the content with quoting removed
  // ("a b"@x has local_part `a b`). Case is preserved (RFC 5321 §2.4); lookups fold it.
  std::string local_part;
  // The domain as sent, or the address literal including brackets ("[127.0.0.1]"). Empty only for
  // the special <postmaster> recipient (RFC 5321 §4.1.1.3).
  std::string domain;
  bool domain_is_literal = false;

  bool empty() const { return local_part.empty() && domain.empty(); }
  // Wire form without angle brackets; re-quotes the local part when it is not a Dot-string.
  std::string to_string() const;
  friend bool operator==(const Mailbox&, const Mailbox&) = default;
};

// A reverse- or forward-path. The null reverse-path <> has `null` set and an empty mailbox.
struct Path {
  Mailbox mailbox;
  bool null = false;
};

enum class AddressError {
  Syntax,         // not a path at all
  TooLong,        // over a length limit of RFC 5321 §4.5.3.1
  Utf8NotAllowed  // non-ASCII octets without SMTPUTF8 (RFC 6531 §3.5)
};

enum class PathKind { ReversePath, ForwardPath };

struct PathParse {
  Path path;
  // The remainder after the path (ESMTP parameters, leading spaces not yet skipped).
  std::string_view rest;
};

// Parses a path at the start of `in` (the text after "FROM:" / "TO:").
// - "<>" only as a reverse-path; "<postmaster>" (any case) only as a forward-path.
// - A source route "<@a,@b:user@c>" is accepted and ignored (RFC 5321 §4.1.2, §C).
// - A path without angle brackets is accepted when it contains no spaces, like Postfix with
//   strict_rfc821_envelopes=no: many hand-typed and old clients send that.
// - `utf8` allows UTF-8 in the local part and domain (the transaction has SMTPUTF8).
tl::expected<PathParse, AddressError> parse_path(std::string_view in, PathKind kind, bool utf8,
                                                 const Limits& limits);

// Parses a bare mailbox "local@domain" (configuration, aliases). No angle brackets.
tl::expected<Mailbox, AddressError> parse_mailbox(std::string_view in, bool utf8 = true,
                                                  const Limits& limits = {});

// Domain syntax of RFC 5321 §4.1.2 (sub-domains of letters, digits, hyphens; or U-labels when
// utf8 is set). No trailing dot.
bool is_valid_domain(std::string_view domain, bool utf8);

// True when `s` is well-formed UTF-8 (RFC 3629), rejecting overlongs and surrogates.
bool is_valid_utf8(std::string_view s);

// address-literal of RFC 5321 §4.1.3, brackets included: "[192.0.2.1]", "[IPv6:2001:db8::1]",
// or a General-address-literal "[tag:content]".
bool is_valid_address_literal(std::string_view literal);

}  // namespace taube::smtp
