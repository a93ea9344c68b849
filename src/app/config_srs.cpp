#include "app/config_srs.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>

#include "crypto/crypto.hpp"
#include "smtp/wire/address.hpp"
#include "smtp/wire/ascii.hpp"

namespace taube::app {

namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

}  // namespace

tl::expected<std::vector<std::string>, std::string> read_srs_secrets(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return tl::unexpected("cannot read \"" + path + "\": " + std::strerror(errno));
  std::ostringstream all;
  all << in.rdbuf();
  if (in.bad()) return tl::unexpected("cannot read \"" + path + "\"");
  const std::string text = all.str();
  std::vector<std::string> secrets;
  std::size_t pos = 0;
  for (int line = 1; pos < text.size(); ++line) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string s = text.substr(pos, end - pos);
    pos = end + 1;
    if (!s.empty() && s.back() == '\r') s.pop_back();
    if (s.empty()) continue;
    const std::string where = path + ":" + std::to_string(line) + ": ";
    if (is_blank(s.front()) || is_blank(s.back()))
      return tl::unexpected(where + "a secret with leading or trailing white space");
    for (char c : s) {
      const auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f)
        return tl::unexpected(where + "a secret with a control character");
    }
    secrets.push_back(std::move(s));
  }
  if (secrets.empty()) return tl::unexpected("\"" + path + "\" holds no secret (one per line)");
  return secrets;
}

tl::expected<void, std::string> read_srs(TableReader& r, Config& c) {
  auto& s = c.srs;
  TRY(r.boolean("enabled", s.enabled));
  TRY(r.str("domain", s.domain));
  if (!s.domain.empty()) {
    s.domain = smtp::ascii_lower(s.domain);
    if (!smtp::is_valid_domain(s.domain, false))
      return tl::unexpected(r.where(r.get("domain"), "domain") + ": invalid domain \"" + s.domain +
                            "\"");
  }
  TRY(r.str("secret_file", c.srs_secret_file));
  // Below 1024: the time stamp counts days mod 1024, so a longer age would accept every stamp.
  TRY(r.integer("max_age_days", s.max_age_days, 1, 1000));
  TRY(r.strings("exclude_domains", s.exclude_domains));
  for (auto& d : s.exclude_domains) {
    d = smtp::ascii_lower(d);
    if (!smtp::is_valid_domain(d, true))
      return tl::unexpected(r.where(r.get("exclude_domains"), "exclude_domains") +
                            ": invalid domain \"" + d + "\"");
  }
  TRY(r.no_unknown_keys());
  if (!s.enabled) return {};
  if (c.srs_secret_file.empty())
    return tl::unexpected(r.where(r.get("enabled"), "secret_file") +
                          ": required when srs.enabled = true (a file with one secret per line)");
  auto secrets = read_srs_secrets(c.srs_secret_file);
  if (!secrets)
    return tl::unexpected(r.where(r.get("secret_file"), "secret_file") + ": " + secrets.error());
  s.secrets = std::move(*secrets);
  return {};
}

std::string srs_domain(const Config& c) {
  if (!c.srs.domain.empty()) return c.srs.domain;
  return c.directory.domains.empty() ? std::string()
                                     : smtp::ascii_lower(c.directory.domains.front());
}

void finish_srs(Config& c) {
  if (!c.srs.enabled) {
    c.server.relay.srs.reset();
    return;
  }
  // The domain stays "" when not configured: recipient policy takes the first local domain when
  // it is built, after command-line overrides of the domains.
  c.server.relay.srs =
      std::make_shared<const policy::Srs>(c.srs, [](std::string_view key, std::string_view data) {
        return crypto::hmac_sha1(key, data).value_or(std::string());
      });
  c.server.relay.today = [] {
    return policy::srs_day(static_cast<std::int64_t>(std::time(nullptr)));
  };
}

std::vector<std::string> srs_notes(const Config& c) {
  if (!c.srs.enabled) return {};
  std::string n = "SRS on: forwarded mail is sent as SRS0=...@" + srs_domain(c) + ", " +
                  std::to_string(c.srs.secrets.size()) +
                  (c.srs.secrets.size() == 1 ? " secret" : " secrets") +
                  ", bounce addresses valid " + std::to_string(c.srs.max_age_days) + " days";
  if (!c.srs.exclude_domains.empty()) {
    n += ", not for senders in";
    for (const auto& d : c.srs.exclude_domains) n += " " + d;
  }
  return {n};
}

}  // namespace taube::app
