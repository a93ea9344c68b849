// LOGIN (draft-murchison-sasl-login, obsolete but still what many clients use): the user name
// and the password, each in answer to its own challenge.
#include <string>

#include "sasl/mechanisms.hpp"
#include "sasl/octets.hpp"

namespace taube::sasl::detail {

namespace {

// The challenges' texts are ignored by clients (draft §2 suggests "User Name" and "Password");
// these are the ones clients have seen from servers for decades.
constexpr std::string_view kUserChallenge = "Username:";
constexpr std::string_view kPasswordChallenge = "Password:";

class LoginServer final : public ServerMechanism {
 public:
  std::string_view name() const override { return "LOGIN"; }

 private:
  ServerStep on_start(std::optional<std::string_view> initial) override {
    // LOGIN has no initial response, but widespread clients send the user name as one
    // ("AUTH LOGIN <base64 user>"): accept it as the answer to the first challenge.
    if (!initial) return Challenge{std::string(kUserChallenge)};
    return take_user(*initial);
  }
  ServerStep on_step(std::string_view response) override {
    if (!have_user_) return take_user(response);
    // A NUL would be cut off by crypt(3), which would then check a shorter password.
    if (response.empty()) return Failure{"LOGIN: empty password"};
    if (response.find('\0') != std::string_view::npos) return Failure{"LOGIN: NUL in password"};
    return VerifyPassword{username_, std::string(response)};
  }
  ServerStep on_credentials_checked(bool ok) override {
    if (ok) return Success{};
    return Failure{"wrong user name or password"};
  }

  ServerStep take_user(std::string_view user) {
    if (user.empty()) return Failure{"LOGIN: empty user name"};
    if (user.find('\0') != std::string_view::npos) return Failure{"LOGIN: NUL in user name"};
    username_.assign(user);
    have_user_ = true;
    return Challenge{std::string(kPasswordChallenge)};
  }

  bool have_user_ = false;
};

class LoginClient final : public ClientMechanism {
 public:
  explicit LoginClient(ClientCredentials c) : creds_(std::move(c)) {}
  ~LoginClient() override { wipe(creds_.password); }
  std::string_view name() const override { return "LOGIN"; }

  tl::expected<std::optional<std::string>, std::string> initial_response() override {
    return std::optional<std::string>();  // the server asks first
  }
  // The challenges' texts vary between servers and are ignored (draft §1): the first is
  // answered with the user name, the second with the password.
  ClientStep respond(std::string_view) override {
    if (!creds_.authzid.empty() && creds_.authzid != creds_.username)
      return tl::unexpected(std::string("LOGIN: cannot carry an authorization identity"));
    if (answered_ >= 2) return tl::unexpected(std::string("LOGIN: unexpected third challenge"));
    const std::string& field = answered_ == 0 ? creds_.username : creds_.password;
    if (field.empty() || field.find('\0') != std::string::npos)
      return tl::unexpected(std::string("LOGIN: empty user name or password, or a NUL in it"));
    ++answered_;
    return field;
  }
  tl::expected<void, std::string> succeeded(std::optional<std::string_view> data) override {
    if (answered_ < 2) return tl::unexpected(std::string("LOGIN: success before the password"));
    if (data && !data->empty())
      return tl::unexpected(std::string("LOGIN: unexpected additional data"));
    return {};
  }

 private:
  ClientCredentials creds_;
  int answered_ = 0;
};

}  // namespace

std::unique_ptr<ServerMechanism> make_login_server() {
  return std::make_unique<LoginServer>();
}
std::unique_ptr<ClientMechanism> make_login_client(ClientCredentials credentials) {
  return std::make_unique<LoginClient>(std::move(credentials));
}

}  // namespace taube::sasl::detail
