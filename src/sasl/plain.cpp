// PLAIN (RFC 4616): one message, [authzid] NUL authcid NUL passwd.
#include <string>

#include "sasl/mechanisms.hpp"
#include "sasl/octets.hpp"

namespace taube::sasl::detail {

namespace {

class PlainServer final : public ServerMechanism {
 public:
  std::string_view name() const override { return "PLAIN"; }

 private:
  ServerStep on_start(std::optional<std::string_view> initial) override {
    // RFC 4422 §3.3: without an initial response the server sends an empty challenge.
    if (!initial) return Challenge{};
    return take(*initial);
  }
  ServerStep on_step(std::string_view response) override { return take(response); }
  ServerStep on_credentials_checked(bool ok) override {
    if (ok) return Success{};
    return Failure{"wrong user name or password"};
  }

  ServerStep take(std::string_view msg) {
    // RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd
    const auto a = msg.find('\0');
    if (a == std::string_view::npos) return Failure{"PLAIN: no NUL separator"};
    const auto b = msg.find('\0', a + 1);
    if (b == std::string_view::npos) return Failure{"PLAIN: one NUL separator, expected two"};
    if (msg.find('\0', b + 1) != std::string_view::npos)
      return Failure{"PLAIN: more than two NUL separators"};
    const std::string_view authzid = msg.substr(0, a);
    const std::string_view authcid = msg.substr(a + 1, b - a - 1);
    const std::string_view passwd = msg.substr(b + 1);
    // authcid = 1*SAFE, passwd = 1*SAFE
    if (authcid.empty()) return Failure{"PLAIN: empty authentication identity"};
    username_.assign(authcid);
    if (passwd.empty()) return Failure{"PLAIN: empty password"};
    // RFC 4616 §2: acting as another identity needs an authorisation Taube never grants.
    if (!authzid.empty() && authzid != authcid)
      return Failure{"PLAIN: authorization identity differs from the user"};
    return VerifyPassword{std::string(authcid), std::string(passwd)};
  }
};

class PlainClient final : public ClientMechanism {
 public:
  explicit PlainClient(ClientCredentials c) : creds_(std::move(c)) {}
  ~PlainClient() override { wipe(creds_.password); }
  std::string_view name() const override { return "PLAIN"; }

  tl::expected<std::optional<std::string>, std::string> initial_response() override {
    auto m = message();
    if (!m) return tl::unexpected(m.error());
    return std::optional<std::string>(std::move(*m));
  }
  ClientStep respond(std::string_view challenge) override {
    // The only challenge PLAIN has is the empty one of a server given no initial response.
    if (!challenge.empty()) return tl::unexpected(std::string("PLAIN: unexpected challenge"));
    return message();
  }
  tl::expected<void, std::string> succeeded(std::optional<std::string_view> data) override {
    if (!sent_) return tl::unexpected(std::string("PLAIN: success before the credentials"));
    if (data && !data->empty())
      return tl::unexpected(std::string("PLAIN: unexpected additional data"));
    return {};
  }

 private:
  ClientStep message() {
    if (sent_) return tl::unexpected(std::string("PLAIN: credentials already sent"));
    const auto& c = creds_;
    if (c.username.empty() || c.password.empty())
      return tl::unexpected(std::string("PLAIN: empty user name or password"));
    const auto has_nul = [](const std::string& f) { return f.find('\0') != std::string::npos; };
    if (has_nul(c.authzid) || has_nul(c.username) || has_nul(c.password))
      return tl::unexpected(std::string("PLAIN: NUL in the credentials"));
    sent_ = true;
    std::string m = c.authzid;
    m.append(1, '\0').append(c.username).append(1, '\0').append(c.password);
    return m;
  }

  ClientCredentials creds_;
  bool sent_ = false;
};

}  // namespace

std::unique_ptr<ServerMechanism> make_plain_server() {
  return std::make_unique<PlainServer>();
}
std::unique_ptr<ClientMechanism> make_plain_client(ClientCredentials credentials) {
  return std::make_unique<PlainClient>(std::move(credentials));
}

}  // namespace taube::sasl::detail
