// Directory: who is local, and where their mail goes. Local domains, users (with optional Maildir
// paths), aliases (one address to several), a catch-all; everything else is not ours.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

namespace taube::policy {

struct DirectoryConfig {
  std::string mail_root = "./var/mail";
  std::vector<std::string> domains = {"localhost"};  // local domains
  // Known users, "local@domain" -> Maildir directory ("" = default <root>/<domain>/<local>/).
  // When empty, every local part of a local domain is a user (the built-in default).
  std::map<std::string, std::string> users;
  // "local@domain" -> targets ("local@domain", each must end at a user of a local domain).
  std::map<std::string, std::vector<std::string>> aliases;
  // Where mail for unknown local parts of local domains goes ("local@domain"), if anywhere.
  std::optional<std::string> catch_all;
  // Local domains whose mailboxes live in another store, reached through the outbound queue
  // (a [transport] "lmtp:..." entry: Dovecot's LMTP, Postfix's virtual_transport). Their
  // recipients are checked against users, aliases and the catch-all like any local domain's
  // (an unknown one is refused at RCPT, no backscatter), but each final address goes to the
  // queue (Resolution::remote) instead of a Maildir. Each must be one of `domains`.
  std::vector<std::string> store_domains;
};

enum class Verdict {
  Local,        // 250: deliver to `maildirs`
  Forward,      // 251: an alias to exactly one other address (`forward_to`), delivered locally
  UserUnknown,  // 550 5.1.1
  RelayDenied,  // 554 5.7.1: the domain is not local
};

struct Resolution {
  Verdict verdict = Verdict::UserUnknown;
  std::vector<std::string> maildirs;   // Local/Forward: Maildir directories, deduplicated
  std::string forward_to;              // Forward: the address it is forwarded to
  std::vector<std::string> remote;     // Local/Forward: addresses for the queue: alias targets
                                       // in other domains, users of store_domains
  std::vector<std::string> expansion;  // the final user addresses (for EXPN and logs)
};

class Directory {
 public:
  // Validates and normalises the configuration (lowercases domains and keys; checks alias
  // targets are local, alias loops, depth <= 16). Errors are human-readable, naming the entry.
  static tl::expected<Directory, std::string> create(DirectoryConfig config);

  // Resolves a recipient. Domains compare case-insensitively; local parts are folded to
  // lowercase for lookup. An empty domain means "postmaster" without a domain (RFC 5321 §4.1.1.3)
  // and resolves to postmaster of the first local domain. postmaster@<any local domain> is always
  // accepted (RFC 5321 §4.5.1), delivered to the user or alias of that name if one exists.
  Resolution resolve(std::string_view local_part, std::string_view domain) const;

  bool is_local_domain(std::string_view domain) const;
  const DirectoryConfig& config() const { return cfg_; }

  // <root>/<domain>/<local>/ with the local part made safe for a file name: '/', NUL, control
  // octets, '%' and a leading '.' are written as %XX, so no local part can escape its directory.
  std::string default_maildir(std::string_view local_lower, std::string_view domain_lower) const;

 private:
  explicit Directory(DirectoryConfig cfg) : cfg_(std::move(cfg)) {}
  DirectoryConfig cfg_;
};

}  // namespace taube::policy
