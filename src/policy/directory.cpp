// Directory: recipient resolution. Everything is validated once in create(), so resolve() cannot
// meet a loop, a non-local alias target or an unknown user at run time.
#include "policy/directory.hpp"

#include <algorithm>
#include <cstdio>

#include "smtp/wire/address.hpp"

namespace taube::policy {

namespace {

constexpr std::size_t kMaxAliasDepth = 16;

// Domains and local parts compare case-insensitively for ASCII letters only; UTF-8 octets
// (>= 0x80) are left as they are (no locale, no Unicode case folding).
std::string lower_ascii(std::string_view s) {
  return smtp::ascii_lower(s);
}

std::string strip_trailing_slashes(std::string s) {
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

// "local@domain" split at the last '@' (a quoted local part may itself contain '@').
bool split_address(std::string_view addr, std::string_view& local, std::string_view& domain) {
  auto at = addr.rfind('@');
  if (at == std::string_view::npos) return false;
  local = addr.substr(0, at);
  domain = addr.substr(at + 1);
  return !domain.empty();
}

std::string quoted(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

bool valid_domain(std::string_view d) {
  if (d.empty() || d.front() == '.' || d.find("..") != std::string_view::npos) return false;
  return std::none_of(d.begin(), d.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return c == '/' || c == '\\' || u < 0x20 || u == 0x7f;
  });
}

void push_unique(std::vector<std::string>& v, std::string s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(std::move(s));
}

bool in_domains(const DirectoryConfig& cfg, std::string_view domain_lower) {
  return std::find(cfg.domains.begin(), cfg.domains.end(), domain_lower) != cfg.domains.end();
}

// A final delivery address (not an alias): a configured user, any local part when no users are
// configured, or postmaster of a local domain (always accepted, RFC 5321 §4.5.1).
bool is_user(const DirectoryConfig& cfg, const std::string& addr) {
  if (cfg.users.empty() || cfg.users.contains(addr)) return true;
  std::string_view local, domain;
  return split_address(addr, local, domain) && local == "postmaster";
}

// Expands `addr` (normalised, in a local domain) into final user addresses, appended to `out`
// without duplicates. `chain` holds the aliases being expanded, for loop detection. A target equal
// to the alias itself means the user of that name (e.g. "bob" -> ["bob", "archive"]).
bool expand(const DirectoryConfig& cfg, const std::string& addr, std::vector<std::string>& chain,
            std::vector<std::string>& out, std::string& err) {
  auto it = cfg.aliases.find(addr);
  if (it == cfg.aliases.end()) {
    if (is_user(cfg, addr)) {
      push_unique(out, addr);
      return true;
    }
    err = "target " + quoted(addr) + " is not a known user";
    return false;
  }
  if (chain.size() >= kMaxAliasDepth) {
    err = "alias nesting deeper than " + std::to_string(kMaxAliasDepth) + " at " + quoted(addr);
    return false;
  }
  chain.push_back(addr);
  for (const auto& target : it->second) {
    std::string_view tl, td;
    if (!split_address(target, tl, td)) {
      err = "target " + quoted(target) + " is not an address (local@domain)";
      return false;
    }
    if (!in_domains(cfg, td)) {
      // Forwarding off-site: the address goes through the outbound queue as it is.
      if (tl.empty() || td.empty() || td.front() == '[') {
        err = "target " + quoted(target) + " is not a forwardable address";
        return false;
      }
      push_unique(out, target);
      continue;
    }
    if (target == addr) {
      if (!is_user(cfg, target)) {
        err = "target " + quoted(target) + " refers to itself but is not a known user";
        return false;
      }
      push_unique(out, target);
      continue;
    }
    if (std::find(chain.begin(), chain.end(), target) != chain.end()) {
      err = "alias loop: ";
      for (const auto& c : chain) err += c + " -> ";
      err += target;
      return false;
    }
    if (!expand(cfg, target, chain, out, err)) return false;
  }
  chain.pop_back();
  return true;
}

// Normalises a map key "local@domain" to lowercase and checks its domain is local.
tl::expected<std::string, std::string> normalise_key(const DirectoryConfig& cfg,
                                                     std::string_view section,
                                                     std::string_view key) {
  std::string k = lower_ascii(key);
  std::string_view local, domain;
  std::string where = std::string(section) + "." + quoted(key) + ": ";
  if (!split_address(k, local, domain)) {
    return tl::unexpected(where + "not an address (local@domain)");
  }
  if (!in_domains(cfg, domain)) {
    return tl::unexpected(where + "domain " + quoted(domain) + " is not a local domain");
  }
  return k;
}

}  // namespace

tl::expected<Directory, std::string> Directory::create(DirectoryConfig config) {
  DirectoryConfig cfg;
  cfg.domains.clear();  // built up from `config` below, not from the defaults
  if (config.mail_root.empty()) return tl::unexpected(std::string("mail_root: must not be empty"));
  cfg.mail_root = strip_trailing_slashes(std::move(config.mail_root));

  for (const auto& d : config.domains) {
    std::string dl = lower_ascii(d);
    if (!valid_domain(dl)) {
      return tl::unexpected("domains: " + quoted(d) + " is not a valid domain name");
    }
    push_unique(cfg.domains, std::move(dl));
  }
  if (cfg.domains.empty()) {
    return tl::unexpected(std::string("domains: at least one local domain is required"));
  }
  for (const auto& d : config.store_domains) {
    std::string dl = lower_ascii(d);
    if (!in_domains(cfg, dl))
      return tl::unexpected("transport." + quoted(d) +
                            ": delivery to a mail store for a domain that is not local");
    push_unique(cfg.store_domains, std::move(dl));
  }

  for (auto& [key, maildir] : config.users) {
    auto k = normalise_key(cfg, "users", key);
    if (!k) return tl::unexpected(k.error());
    std::string md = maildir.empty() ? std::string() : strip_trailing_slashes(maildir);
    if (!cfg.users.emplace(*k, std::move(md)).second) {
      return tl::unexpected("users." + quoted(key) + ": duplicate entry (after case folding)");
    }
  }

  for (auto& [key, targets] : config.aliases) {
    auto k = normalise_key(cfg, "aliases", key);
    if (!k) return tl::unexpected(k.error());
    if (targets.empty()) return tl::unexpected("aliases." + quoted(key) + ": no targets");
    std::vector<std::string> ts;
    for (const auto& t : targets) push_unique(ts, lower_ascii(t));
    if (!cfg.aliases.emplace(*k, std::move(ts)).second) {
      return tl::unexpected("aliases." + quoted(key) + ": duplicate entry (after case folding)");
    }
  }

  // Every alias must end at users of local domains, without loops, within the depth limit.
  for (const auto& [key, targets] : cfg.aliases) {
    std::vector<std::string> chain, out;
    std::string err;
    if (!expand(cfg, key, chain, out, err)) {
      return tl::unexpected("aliases." + quoted(key) + ": " + err);
    }
  }

  if (config.catch_all) {
    std::string c = lower_ascii(*config.catch_all);
    std::string_view local, domain;
    std::string where = "catch_all " + quoted(*config.catch_all) + ": ";
    if (!split_address(c, local, domain)) {
      return tl::unexpected(where + "not an address (local@domain)");
    }
    if (!in_domains(cfg, domain)) {
      return tl::unexpected(where + "domain " + quoted(domain) + " is not a local domain");
    }
    std::vector<std::string> chain, out;
    std::string err;
    if (!expand(cfg, c, chain, out, err)) return tl::unexpected(where + err);
    cfg.catch_all = std::move(c);
  }

  return Directory(std::move(cfg));
}

bool Directory::is_local_domain(std::string_view domain) const {
  return in_domains(cfg_, lower_ascii(domain));
}

std::string Directory::default_maildir(std::string_view local_lower,
                                       std::string_view domain_lower) const {
  std::string safe;
  if (local_lower.empty()) {
    safe = "%22%22";  // the empty quoted local part ""; cannot collide, '%' is always escaped
  }
  for (std::size_t i = 0; i < local_lower.size(); ++i) {
    char c = local_lower[i];
    auto u = static_cast<unsigned char>(c);
    if (c == '/' || c == '\\' || c == '%' || u < 0x20 || u == 0x7f || (i == 0 && c == '.')) {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", static_cast<unsigned>(u));
      safe += hex;
    } else {
      safe += c;
    }
  }
  std::string root = cfg_.mail_root == "/" ? std::string() : cfg_.mail_root;
  return root + "/" + std::string(domain_lower) + "/" + safe;
}

Resolution Directory::resolve(std::string_view local_part, std::string_view domain) const {
  Resolution res;
  std::string local = lower_ascii(local_part);
  std::string dom = lower_ascii(domain);
  if (dom.empty()) {
    // RFC 5321 §4.1.1.3: "<Postmaster>" without a domain must be accepted; nothing else is.
    if (local != "postmaster") return res;
    dom = cfg_.domains.front();
  }
  if (!in_domains(cfg_, dom)) {
    res.verdict = Verdict::RelayDenied;  // includes address literals such as "[127.0.0.1]"
    return res;
  }
  const std::string addr = local + "@" + dom;

  auto deliver_to = [&](const std::string& start) {
    std::vector<std::string> chain;
    std::string err;
    if (!expand(cfg_, start, chain, res.expansion, err)) {  // validated in create(); defensive
      res.expansion.clear();
      return false;
    }
    for (const auto& a : res.expansion) {
      auto at = a.rfind('@');
      const std::string_view ad = std::string_view(a).substr(at + 1);
      // Off-site, or a user whose mailbox is in a store the queue delivers to (LMTP).
      if (!in_domains(cfg_, ad) || std::find(cfg_.store_domains.begin(), cfg_.store_domains.end(),
                                             ad) != cfg_.store_domains.end()) {
        push_unique(res.remote, a);
        continue;
      }
      auto u = cfg_.users.find(a);
      if (u != cfg_.users.end() && !u->second.empty()) {
        push_unique(res.maildirs, u->second);
      } else {
        push_unique(res.maildirs, default_maildir(std::string_view(a).substr(0, at),
                                                  std::string_view(a).substr(at + 1)));
      }
    }
    return true;
  };

  if (cfg_.aliases.contains(addr) || is_user(cfg_, addr)) {
    if (!deliver_to(addr)) return res;
    res.verdict = Verdict::Local;
    if (res.expansion.size() == 1 && res.expansion.front() != addr) {
      res.verdict = Verdict::Forward;  // 251: RFC 5321 §3.4
      res.forward_to = res.expansion.front();
    }
    return res;
  }
  if (cfg_.catch_all) {
    if (!deliver_to(*cfg_.catch_all)) return res;
    res.verdict = Verdict::Local;
    return res;
  }
  return res;
}

}  // namespace taube::policy
