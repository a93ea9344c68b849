#include "store/user_db.hpp"

#include <crypt.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <vector>

#include "crypto/crypto.hpp"
#include "sasl/scram_secret.hpp"

namespace taube::store {

namespace {

std::string crypt_string(std::string_view password, const std::string& setting) {
  auto data = std::make_unique<crypt_data>();
  const std::string pw(password);
  const char* out = crypt_rn(pw.c_str(), setting.c_str(), data.get(), sizeof(crypt_data));
  std::string r = (out == nullptr || out[0] == '*') ? std::string() : std::string(out);
  explicit_bzero(data.get(), sizeof(crypt_data));
  return r;
}

}  // namespace

UserDb::UserDb() {
  // A hash of a random password with the default method: verify() of an unknown user costs
  // the same as a wrong password.
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$y$", 0, nullptr, 0, salt, sizeof salt) != nullptr)
    dummy_hash_ = crypt_string("taube-dummy-password", salt);
  // Without randomness the stand-in salts become predictable; the keys below stay unusable.
}

const ScramSecret* UserDb::scram_secret(std::string_view user) const {
  const auto it = scram_.find(std::string(user));
  return it == scram_.end() ? nullptr : &it->second;
}

tl::expected<UserDb, std::string> UserDb::parse(std::string_view text, const std::string& name) {
  UserDb db;
  std::size_t lineno = 0;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++lineno;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0)
      return tl::unexpected(name + ":" + std::to_string(lineno) + ": expected user:hash");
    std::string_view rest = line.substr(colon + 1);
    const auto hash_end = rest.find(':');
    std::string_view hash = rest.substr(0, hash_end);
    rest.remove_prefix(hash_end == std::string_view::npos ? rest.size() : hash_end + 1);
    if (hash.empty() || hash.front() == '*' || hash.front() == '!')
      continue;  // a locked account (shadow convention): never authenticates
    const std::string user(line.substr(0, colon));
    db.users_[user] = std::string(hash);
    // Further fields: a SCRAM secret is recognised by its prefix, anything else is ignored.
    while (!rest.empty()) {
      const auto end = rest.find(':');
      const std::string_view field = rest.substr(0, end);
      rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
      if (field.substr(0, sasl::kScramFieldPrefix.size()) != sasl::kScramFieldPrefix) continue;
      auto secret = sasl::parse_scram_secret(field);
      if (!secret)
        return tl::unexpected(name + ":" + std::to_string(lineno) + ": bad scram-sha-256 secret (" +
                              secret.error() + ")");
      db.scram_[user] = std::move(*secret);
    }
  }
  return db;
}

tl::expected<UserDb, std::string> UserDb::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return tl::unexpected(path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path);
}

bool UserDb::verify(std::string_view user, std::string_view password) const {
  const auto it = users_.find(std::string(user));
  const std::string& hash = it == users_.end() ? dummy_hash_ : it->second;
  if (hash.empty()) return false;
  const std::string computed = crypt_string(password, hash);
  const bool match = !computed.empty() && crypto::constant_time_equal(computed, hash);
  return match && it != users_.end();
}

tl::expected<std::string, std::string> UserDb::hash_password(std::string_view password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$y$", 0, nullptr, 0, salt, sizeof salt) == nullptr)
    return tl::unexpected(std::string("crypt_gensalt failed"));
  std::string h = crypt_string(password, salt);
  if (h.empty()) return tl::unexpected(std::string("crypt failed"));
  return h;
}

tl::expected<void, std::string> UserDb::set_password(const std::string& path, std::string_view user,
                                                     std::string_view password) {
  if (user.empty() || user.find_first_of(":\n\r") != std::string_view::npos)
    return tl::unexpected("invalid user name '" + std::string(user) + "'");
  auto crypt_hash = hash_password(password);
  if (!crypt_hash) return tl::unexpected(crypt_hash.error());
  auto scram = scram_derive(password);
  if (!scram) return tl::unexpected(scram.error());
  // The crypt(3) hash for PLAIN/LOGIN, and the SCRAM-SHA-256 secret.
  const std::string entry = *crypt_hash + ":" + sasl::format_scram_secret(*scram);
  std::vector<std::string> lines;
  bool replaced = false;
  {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      const auto colon = line.find(':');
      if (colon != std::string::npos && std::string_view(line).substr(0, colon) == user) {
        line = std::string(user) + ":" + entry;
        replaced = true;
      }
      lines.push_back(line);
    }
  }
  if (!replaced) lines.push_back(std::string(user) + ":" + entry);
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return tl::unexpected(tmp + ": cannot create");
  std::string content;
  for (const auto& l : lines) content += l + "\n";
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  ok = ok && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return tl::unexpected(path + ": write failed");
  }
  return {};
}

}  // namespace taube::store
