// Fuzz target: the server side of the SASL mechanisms (sasl/server_mechanism.hpp) fed arbitrary
// client responses, over the deterministic reference crypto of the unit tests.
//
// Input byte 0 picks the exchange: bits 0-1 the mechanism (0 PLAIN, 1 LOGIN, 2-3 SCRAM-SHA-256);
// bit 2: the first response goes in as the initial response (else start() without one); bit 3
// (SCRAM): "assisted" - the harness answers server-first with the correct client-final for the
// exchange so far, then XORs the octet at (line byte 0) with (line byte 1) if the input line
// has two octets, so that the fuzzer reaches and probes the proof check; bit 4: the user lookup
// finds nobody (provide_secret(nullopt)), even for "user". The rest: the client's decoded
// responses, separated by '\n'.
//
// The harness plays the protocol: it answers Challenge with the next response, VerifyPassword
// with the truth about "user" / "pencil", LookupSecret with the RFC 7677 §3 secret of "user"
// (unless bit 4), until Success or Failure, then makes one more call.
//
// Invariants (abort on violation):
//  * each step is one the mechanism may produce: VerifyPassword only from PLAIN and LOGIN,
//    LookupSecret only from SCRAM, each at most once; PLAIN's only challenge is the empty one
//    before any response, LOGIN's are "Username:" and "Password:", SCRAM's are the empty one
//    and a server-first message whose nonce extends the client's;
//  * never Success without the right credentials: for PLAIN/LOGIN only right after
//    credentials_checked(true), which the harness says only for "user" / "pencil"; for SCRAM only
//    for a known user, when the last client-final carries c= of the GS2 header, the combined
//    nonce and exactly ClientKey XOR HMAC(StoredKey, AuthMessage), and its data is then
//    "v=" base64(HMAC(ServerKey, AuthMessage));
//  * username() after Success is "user"; finished() after Success or Failure, and every later
//    call is a Failure.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fake_sasl_crypto.hpp"
#include "fuzz_support.hpp"
#include "sasl/scram_crypto.hpp"
#include "sasl/scram_messages.hpp"
#include "sasl/server_mechanism.hpp"
#include "smtp/wire/base64.hpp"

using namespace taube::sasl;

namespace {

constexpr std::string_view kUser = "user";
constexpr std::string_view kPassword = "pencil";

// "user"'s keys (RFC 7677 §3: password "pencil", this salt, 4096 iterations), computed once: the
// reference PBKDF2 is too slow to run per input.
struct Keys {
  taube::test::FakeSaslCrypto crypto;
  ScramKeys keys;
  ScramSecret secret;
  Keys() {
    const std::string salt = *taube::smtp::base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==");
    const std::string salted = crypto.pbkdf2_sha256(kPassword, salt, 4096);
    keys = *scram_keys(crypto, salted);
    secret = *scram_secret_from_salted_password(crypto, salted, salt, 4096);
  }
};

const Keys& user_keys() {
  static const Keys k;
  return k;
}

std::vector<std::string_view> split_lines(std::string_view s) {
  std::vector<std::string_view> out;
  while (true) {
    const auto nl = s.find('\n');
    out.push_back(s.substr(0, nl));
    if (nl == std::string_view::npos) break;
    s.remove_prefix(nl + 1);
  }
  return out;
}

// The client-final a client knowing "user"'s password sends for this exchange.
std::string correct_final(const ScramClientFirst& first, std::string_view server_first) {
  const Keys& k = user_keys();
  auto sf = parse_scram_server_first(server_first);
  TAUBE_FUZZ_CHECK(sf.has_value());
  const std::string without_proof =
      "c=" + taube::smtp::base64_encode(first.gs2_header) + ",r=" + sf->nonce;
  const std::string auth = scram_auth_message(first.bare, server_first, without_proof);
  return without_proof +
         ",p=" + taube::smtp::base64_encode(scram_client_proof(k.crypto, k.keys, auth));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t opt = data[0];
  const int kind = opt & 3;
  const bool plain = kind == 0, login = kind == 1, scram = kind >= 2;
  const bool initial = (opt & 4) != 0;
  const bool assisted = (opt & 8) != 0;
  const bool unknown_user = (opt & 16) != 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::vector<std::string_view> lines = split_lines(rest);

  taube::test::FakeSaslCrypto crypto;
  auto mech = make_server_mechanism(plain   ? "PLAIN"
                                    : login ? "LOGIN"
                                            : "SCRAM-SHA-256",
                                    crypto, "key");
  TAUBE_FUZZ_CHECK(mech != nullptr);

  std::size_t next = 0;
  bool password_checks = false, lookups = false, responded = false;
  bool known_secret = false;
  std::optional<ScramClientFirst> first;  // SCRAM: the client-first message that was taken
  std::string server_first;               // SCRAM: the server-first message that was sent
  std::string last_final;                 // SCRAM: the last response after server-first

  ServerStep step = initial ? mech->start(lines[next++]) : mech->start(std::nullopt);
  if (initial) {
    responded = true;
    if (scram) {
      auto f = parse_scram_client_first(lines[0]);
      if (f) first = std::move(*f);
    }
  }
  for (int guard = 0; guard < 64; ++guard) {
    if (auto* c = std::get_if<Challenge>(&step)) {
      if (plain) TAUBE_FUZZ_CHECK(c->data.empty() && !responded);
      if (login) TAUBE_FUZZ_CHECK(c->data == "Username:" || c->data == "Password:");
      if (scram && !c->data.empty()) {
        TAUBE_FUZZ_CHECK(first.has_value() && lookups && server_first.empty());
        auto sf = parse_scram_server_first(c->data);
        TAUBE_FUZZ_CHECK(sf.has_value());
        TAUBE_FUZZ_CHECK(sf->nonce.size() > first->nonce.size() &&
                         sf->nonce.compare(0, first->nonce.size(), first->nonce) == 0);
        server_first = c->data;
      }
      if (scram && c->data.empty()) TAUBE_FUZZ_CHECK(!responded);
      if (next >= lines.size()) return 0;  // the client went away mid-exchange
      std::string response(lines[next++]);
      if (scram && !server_first.empty()) {
        if (assisted) {
          const std::string mask = response;
          response = correct_final(*first, server_first);
          if (mask.size() >= 2)
            response[static_cast<unsigned char>(mask[0]) % response.size()] ^= mask[1];
        }
        last_final = response;
      } else if (scram && !first) {
        auto f = parse_scram_client_first(response);
        if (f) first = std::move(*f);
      }
      responded = true;
      step = mech->step(response);
    } else if (auto* v = std::get_if<VerifyPassword>(&step)) {
      TAUBE_FUZZ_CHECK(!scram && !password_checks);
      password_checks = true;
      const bool ok = v->username == kUser && v->password == kPassword;
      TAUBE_FUZZ_CHECK(v->username == mech->username());
      step = mech->credentials_checked(ok);
      if (std::holds_alternative<Success>(step)) TAUBE_FUZZ_CHECK(ok);
    } else if (auto* l = std::get_if<LookupSecret>(&step)) {
      TAUBE_FUZZ_CHECK(scram && !lookups && first.has_value());
      TAUBE_FUZZ_CHECK(l->username == first->username);
      lookups = true;
      known_secret = !unknown_user && l->username == kUser;
      step = mech->provide_secret(known_secret ? std::optional(user_keys().secret) : std::nullopt);
    } else if (auto* ok = std::get_if<Success>(&step)) {
      TAUBE_FUZZ_CHECK(mech->finished());
      TAUBE_FUZZ_CHECK(mech->username() == kUser);
      if (!scram) {
        TAUBE_FUZZ_CHECK(password_checks && !ok->data);
      } else {
        // The proof must be exactly the right one for this exchange.
        TAUBE_FUZZ_CHECK(known_secret && first.has_value() && !server_first.empty());
        auto fin = parse_scram_client_final(last_final);
        TAUBE_FUZZ_CHECK(fin.has_value());
        TAUBE_FUZZ_CHECK(fin->channel_binding == taube::smtp::base64_encode(first->gs2_header));
        TAUBE_FUZZ_CHECK(fin->nonce == parse_scram_server_first(server_first)->nonce);
        const Keys& k = user_keys();
        const std::string auth = scram_auth_message(first->bare, server_first, fin->without_proof);
        TAUBE_FUZZ_CHECK(taube::smtp::base64_decode(fin->proof) ==
                         scram_client_proof(k.crypto, k.keys, auth));
        TAUBE_FUZZ_CHECK(ok->data == "v=" + taube::smtp::base64_encode(scram_server_signature(
                                                k.crypto, k.keys.server_key, auth)));
      }
      TAUBE_FUZZ_CHECK(std::holds_alternative<Failure>(mech->step("")));
      return 0;
    } else {
      TAUBE_FUZZ_CHECK(mech->finished());
      TAUBE_FUZZ_CHECK(std::holds_alternative<Failure>(mech->credentials_checked(true)));
      TAUBE_FUZZ_CHECK(std::holds_alternative<Failure>(mech->provide_secret(user_keys().secret)));
      return 0;
    }
  }
  TAUBE_FUZZ_CHECK(false);  // every mechanism ends within a few steps
  return 0;
}
