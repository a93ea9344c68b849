// The EHLO extension set (RFC 5321 §4.1.1.1, §2.2.2): formatted by the server into its 250 reply,
// parsed by the client from the server's. One type for both sides, so that what Taube advertises
// and what Taube understands cannot drift apart.
//
//   ehlo-ok-rsp = "250" SP Domain [ SP ehlo-greet ] CRLF
//               / "250-" Domain [ SP ehlo-greet ] CRLF *( "250-" ehlo-line CRLF ) "250" SP
//               ehlo-line CRLF
//   ehlo-line   = ehlo-keyword *( SP ehlo-param )
//   ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
//   ehlo-param  = 1*(%d33-126)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/wire/reply.hpp"

namespace taube::smtp {

struct Extension {
  std::string keyword;  // as sent (or added); compared case-insensitively (RFC 5321 §2.4)
  std::string params;   // the rest of the line after the keyword and one separator, "" if none
  friend bool operator==(const Extension&, const Extension&) = default;
};

class ExtensionSet {
 public:
  // ---- client side ----

  // Reads the server's reply to EHLO (or LHLO, RFC 2033 §4.2). The first line is the server's
  // domain and optional greeting; each further line one keyword with its parameters, kept in
  // order. Lenient where real servers differ from the grammar:
  //  * "AUTH=PLAIN LOGIN" (the pre-RFC 2554 form some servers still add) is read as keyword AUTH
  //    with parameters "PLAIN LOGIN";
  //  * runs of spaces between parameters are kept in params() but ignored by the accessors;
  //  * a line whose first word is not an ehlo-keyword is skipped (it cannot name an extension).
  // A reply whose code is not 250 has no extensions: the result is empty (domain() included).
  static ExtensionSet parse_ehlo(const Reply& reply);

  // The first word of the first line, and the rest of that line ("" when absent).
  const std::string& domain() const { return domain_; }
  const std::string& greeting() const { return greeting_; }

  const std::vector<Extension>& entries() const { return entries_; }
  bool has(std::string_view keyword) const;
  // The parameters of the first entry with this keyword; nullopt when it is not present.
  std::optional<std::string_view> params(std::string_view keyword) const;

  // SIZE (RFC 1870 §4): the announced maximum message size in octets; 0 when SIZE is absent, has
  // no parameter (no fixed limit), or its parameter is not a number that fits 64 bits.
  std::uint64_t size_limit() const;
  // AUTH (RFC 4954 §3): the mechanisms of every AUTH line, uppercased, each once, in order.
  std::vector<std::string> auth_mechanisms() const;
  bool pipelining() const { return has("PIPELINING"); }                      // RFC 2920
  bool starttls() const { return has("STARTTLS"); }                          // RFC 3207
  bool eight_bit_mime() const { return has("8BITMIME"); }                    // RFC 6152
  bool smtputf8() const { return has("SMTPUTF8"); }                          // RFC 6531
  bool dsn() const { return has("DSN"); }                                    // RFC 3461
  bool chunking() const { return has("CHUNKING"); }                          // RFC 3030
  bool enhanced_status_codes() const { return has("ENHANCEDSTATUSCODES"); }  // RFC 2034

  // ---- server side ----

  // Appends one extension line. Returns false, and adds nothing, when `keyword` is not an
  // ehlo-keyword, is already present (case-insensitively), or `params` is not a SP-separated list
  // of ehlo-params (printable ASCII, no leading, trailing or doubled SP); nothing that would
  // corrupt the reply can be added.
  bool add(std::string_view keyword, std::string_view params = {});

  // The 250 reply: `hostname` on the first line, then "KEYWORD[ params]" per entry, in the order
  // added. No enhanced code (RFC 2034 §3 exempts the EHLO reply).
  Reply ehlo_reply(std::string_view hostname) const;

 private:
  std::string domain_;
  std::string greeting_;
  std::vector<Extension> entries_;
};

// ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
bool is_ehlo_keyword(std::string_view keyword);

}  // namespace taube::smtp
