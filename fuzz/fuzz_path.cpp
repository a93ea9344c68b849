// Fuzz target: path and mailbox parsing (address.hpp), ESMTP parameters (esmtp_params.hpp) and
// xtext. Input byte 0: bit 0 reverse/forward path, bit 1 SMTPUTF8, bit 2 small limits, bit 3
// HELO (no parameters accepted), bits 4-5 DSN / SMTPUTF8 / 8BITMIME advertised. The rest is the
// text after "MAIL FROM:" / "RCPT TO:".
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "smtp/wire/address.hpp"
#include "smtp/wire/esmtp_params.hpp"

using namespace taube::smtp;

namespace {

bool has_non_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return true;
  return false;
}

void check_mailbox(const Mailbox& m, const Limits& limits, bool utf8) {
  TAUBE_FUZZ_CHECK(m.local_part.size() <= limits.max_local_part);
  TAUBE_FUZZ_CHECK(m.domain.size() <= limits.max_domain);
  TAUBE_FUZZ_CHECK(is_valid_utf8(m.local_part) && is_valid_utf8(m.domain));
  if (!utf8) TAUBE_FUZZ_CHECK(!has_non_ascii(m.local_part) && !has_non_ascii(m.domain));
  if (m.domain.empty()) return;  // <postmaster>
  if (m.domain_is_literal) {
    TAUBE_FUZZ_CHECK(m.domain.front() == '[' && m.domain.back() == ']');
  } else {
    TAUBE_FUZZ_CHECK(is_valid_domain(m.domain, true));
  }
  // The wire form re-parses to the same mailbox (what the store writes into Return-Path and
  // what a DSN would send back must mean the same address).
  const std::string wire = m.to_string();
  auto again = parse_mailbox(wire, true, limits);
  TAUBE_FUZZ_CHECK(again.has_value());
  TAUBE_FUZZ_CHECK(*again == m);
  TAUBE_FUZZ_CHECK(again->to_string() == wire);
}

// What the session can pass: the text comes from a command line, which never holds control
// octets other than HT (parse_command makes such a line Invalid).
bool from_command_line(std::string_view s) {
  for (unsigned char c : s)
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  return true;
}

void check_params(std::string_view rest, const ParamPolicy& policy) {
  if (auto mp = parse_mail_params(rest, policy)) {
    if (!policy.esmtp) TAUBE_FUZZ_CHECK(rest.find_first_not_of(' ') == std::string_view::npos);
    if (mp->envid) TAUBE_FUZZ_CHECK(mp->envid->size() <= 100);
    if (mp->smtputf8) TAUBE_FUZZ_CHECK(policy.smtputf8);
    if (mp->ret) TAUBE_FUZZ_CHECK(policy.dsn);
    if (mp->auth) TAUBE_FUZZ_CHECK(policy.auth);
  } else {
    const Reply& r = mp.error();
    TAUBE_FUZZ_CHECK(r.code == 501 || r.code == 555);
    TAUBE_FUZZ_CHECK(r.enhanced == "5.5.4");
    // The reply echoes the offending parameter: it must not break the reply's framing. (Only
    // checked for what a command line can carry; see docs/fuzzing.md, finding F5.)
    if (from_command_line(rest)) {
      TAUBE_FUZZ_CHECK(r.text.find('\n') == std::string::npos);
      TAUBE_FUZZ_CHECK(r.text.find('\r') == std::string::npos);
    }
  }
  if (auto rp = parse_rcpt_params(rest, policy)) {
    if (!policy.esmtp) TAUBE_FUZZ_CHECK(rest.find_first_not_of(' ') == std::string_view::npos);
    TAUBE_FUZZ_CHECK(rp->notify < 16);
    if (rp->notify & NotifyNever) TAUBE_FUZZ_CHECK(rp->notify == NotifyNever);
    TAUBE_FUZZ_CHECK(rp->orcpt_type.has_value() == rp->orcpt_address.has_value());
    if (rp->orcpt_address) TAUBE_FUZZ_CHECK(rp->orcpt_address->size() <= 500);
  } else {
    const Reply& r = rp.error();
    TAUBE_FUZZ_CHECK(r.code == 501 || r.code == 555);
    if (from_command_line(rest)) TAUBE_FUZZ_CHECK(r.text.find('\n') == std::string::npos);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t opt = data[0];
  const auto chars = taube::fuzz::as_chars(data + 1, size - 1);
  const std::string_view in(chars.data(), chars.size());

  const PathKind kind = (opt & 1) ? PathKind::ForwardPath : PathKind::ReversePath;
  const bool utf8 = (opt & 2) != 0;
  Limits limits;
  if (opt & 4) {
    limits.max_path = 24;
    limits.max_local_part = 8;
    limits.max_domain = 12;
  }
  ParamPolicy policy;
  policy.esmtp = (opt & 8) == 0;
  policy.dsn = (opt & 0x10) == 0;
  policy.smtputf8 = (opt & 0x20) == 0;
  policy.eight_bit_mime = (opt & 0x20) == 0;
  policy.auth = (opt & 0x40) != 0;

  auto parsed = parse_path(in, kind, utf8, limits);
  if (parsed) {
    const Path& p = parsed->path;
    // The rest is a suffix of the input; the path itself is within max_path.
    TAUBE_FUZZ_CHECK(parsed->rest.size() <= in.size());
    if (!parsed->rest.empty())
      TAUBE_FUZZ_CHECK(parsed->rest.data() + parsed->rest.size() == in.data() + in.size());
    const std::size_t path_len = in.size() - parsed->rest.size();
    const bool bracketed = in.front() == '<';
    TAUBE_FUZZ_CHECK(path_len + (bracketed ? 0 : 2) <= limits.max_path);
    if (p.null) {
      TAUBE_FUZZ_CHECK(kind == PathKind::ReversePath && p.mailbox.empty());
    } else {
      if (p.mailbox.domain.empty()) {
        // Only <postmaster> goes without a domain, and only as a recipient.
        TAUBE_FUZZ_CHECK(kind == PathKind::ForwardPath);
        TAUBE_FUZZ_CHECK(p.mailbox.local_part == "postmaster");
      }
      check_mailbox(p.mailbox, limits, utf8);
    }
    check_params(parsed->rest, policy);
  } else {
    check_params(in, policy);
  }

  // A bare mailbox, as configuration and VRFY use it.
  if (auto mb = parse_mailbox(in, utf8, limits)) {
    TAUBE_FUZZ_CHECK(!mb->domain.empty());
    check_mailbox(*mb, limits, utf8);
  }

  // xtext: decoding the encoding gives the original; a decoded value re-encodes to the
  // canonical (uppercase hex) form, which decodes to the same value.
  const std::string enc = encode_xtext(in);
  auto dec = decode_xtext(enc);
  TAUBE_FUZZ_CHECK(dec.has_value() && *dec == in);
  if (auto d = decode_xtext(in)) {
    TAUBE_FUZZ_CHECK(d->size() <= in.size());
    auto d2 = decode_xtext(encode_xtext(*d));
    TAUBE_FUZZ_CHECK(d2.has_value() && *d2 == *d);
  }
  return 0;
}
