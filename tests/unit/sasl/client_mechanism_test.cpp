// The client mechanism factory, and each client against the server mechanism (round trips).
#include "sasl/client_mechanism.hpp"

#include <gtest/gtest.h>

#include <string>

#include "fake_sasl_crypto.hpp"
#include "sasl/sasl_steps.hpp"
#include "sasl/scram_crypto.hpp"
#include "sasl/server_mechanism.hpp"

namespace taube::sasl {
namespace {

using testing::describe;
using testing::is;

TEST(ClientMechanismFactory, KnowsTheListedNames) {
  test::FakeSaslCrypto crypto;
  for (std::string_view name : kClientMechanisms) {
    auto m = make_client_mechanism(name, {"", "u", "p"}, crypto);
    ASSERT_NE(m, nullptr) << name;
    EXPECT_EQ(m->name(), name);
    EXPECT_NE(make_server_mechanism(name, crypto), nullptr) << "a client the server lacks";
  }
  EXPECT_EQ(make_client_mechanism("CRAM-MD5", {"", "u", "p"}, crypto), nullptr);
  EXPECT_EQ(make_client_mechanism("", {"", "u", "p"}, crypto), nullptr);
}

// The server's view of the users: one user, "alice" / "s3cret", with a SCRAM secret.
struct Users {
  explicit Users(const test::FakeSaslCrypto& crypto) {
    auto s = scram_secret_from_salted_password(
        crypto, crypto.pbkdf2_sha256("s3cret", "0123456789abcdef", 4096), "0123456789abcdef", 4096);
    EXPECT_TRUE(s);
    secret = *s;
  }
  bool check(const VerifyPassword& v) const {
    return v.username == "alice" && v.password == "s3cret";
  }
  std::optional<ScramSecret> lookup(const LookupSecret& l) const {
    if (l.username == "alice") return secret;
    return std::nullopt;
  }
  ScramSecret secret;
};

struct Outcome {
  bool server_ok = false;   // the server mechanism ended in Success
  bool client_ok = false;   // ... and the client accepted the end (mutual for SCRAM)
  std::string server_user;  // username() on the server side
  std::string failure;      // why it failed, for the assertion message
  int round_trips = 0;
};

// Plays an SMTP AUTH exchange between the two mechanisms, in-process: the client's initial
// response goes with start(); each Challenge is answered with respond(); Success data travels
// as one more challenge (RFC 4954 §4) whose empty answer ends the exchange.
Outcome play(std::string_view mechanism, ClientCredentials creds, bool send_initial = true) {
  test::FakeSaslCrypto crypto;
  Users users(crypto);
  auto server = make_server_mechanism(mechanism, crypto, "stand-in key");
  auto client = make_client_mechanism(mechanism, std::move(creds), crypto);
  Outcome out;
  std::optional<std::string> initial;
  if (send_initial) {
    auto ir = client->initial_response();
    if (!ir) {
      out.failure = "client: " + ir.error();
      return out;
    }
    initial = *ir;
  }
  ServerStep step = server->start(initial);
  for (int guard = 0; guard < 10; ++guard) {
    if (auto* c = std::get_if<Challenge>(&step)) {
      ++out.round_trips;
      auto r = client->respond(c->data);
      if (!r) {
        out.failure = "client: " + r.error();
        return out;
      }
      step = server->step(*r);
    } else if (auto* v = std::get_if<VerifyPassword>(&step)) {
      step = server->credentials_checked(users.check(*v));
    } else if (auto* l = std::get_if<LookupSecret>(&step)) {
      step = server->provide_secret(users.lookup(*l));
    } else if (auto* ok = std::get_if<Success>(&step)) {
      out.server_ok = true;
      out.server_user = server->username();
      if (ok->data) {
        ++out.round_trips;
        auto r = client->respond(*ok->data);
        if (!r) {
          out.failure = "client: " + r.error();
          return out;
        }
        if (!r->empty()) out.failure = "client answered server-final with data";
      }
      auto done = client->succeeded(std::nullopt);
      out.client_ok = done.has_value() && out.failure.empty();
      if (!done) out.failure = "client: " + done.error();
      return out;
    } else {
      out.failure = "server: " + std::get<Failure>(step).reason;
      return out;
    }
  }
  out.failure = "no end";
  return out;
}

TEST(RoundTrip, EveryMechanismAuthenticatesTheRightPassword) {
  for (std::string_view mech : kClientMechanisms) {
    for (bool initial : {true, false}) {
      const Outcome o = play(mech, {"", "alice", "s3cret"}, initial);
      EXPECT_TRUE(o.server_ok && o.client_ok)
          << mech << " initial=" << initial << ": " << o.failure;
      EXPECT_EQ(o.server_user, "alice") << mech;
    }
  }
  EXPECT_EQ(play("PLAIN", {"", "alice", "s3cret"}).round_trips, 0);
  EXPECT_EQ(play("LOGIN", {"", "alice", "s3cret"}).round_trips, 2);
  EXPECT_EQ(play("SCRAM-SHA-256", {"", "alice", "s3cret"}).round_trips, 2);
}

TEST(RoundTrip, WrongPasswordOrUnknownUserFailsOnTheServer) {
  for (std::string_view mech : kClientMechanisms) {
    const Outcome wrong = play(mech, {"", "alice", "s3cret!"});
    EXPECT_FALSE(wrong.server_ok) << mech;
    EXPECT_EQ(wrong.failure.rfind("server: ", 0), 0u) << mech << ": " << wrong.failure;
    const Outcome ghost = play(mech, {"", "ghost", "s3cret"});
    EXPECT_FALSE(ghost.server_ok) << mech;
    EXPECT_EQ(ghost.failure.rfind("server: ", 0), 0u) << mech << ": " << ghost.failure;
  }
}

TEST(RoundTrip, AuthzidOfTheUserItselfIsFine) {
  EXPECT_TRUE(play("PLAIN", {"alice", "alice", "s3cret"}).client_ok);
  EXPECT_TRUE(play("SCRAM-SHA-256", {"alice", "alice", "s3cret"}).client_ok);
  EXPECT_FALSE(play("PLAIN", {"bob", "alice", "s3cret"}).server_ok);
  EXPECT_FALSE(play("SCRAM-SHA-256", {"bob", "alice", "s3cret"}).server_ok);
}

TEST(RoundTrip, ScramClientRejectsAServerWithoutTheSecret) {
  // A server that has another secret for alice (an impostor that learnt her salt but not her
  // keys) cannot produce her server signature: the client refuses it.
  test::FakeSaslCrypto crypto;
  auto client = make_client_mechanism("SCRAM-SHA-256", {"", "alice", "s3cret"}, crypto);
  auto server = make_server_mechanism("SCRAM-SHA-256", crypto);
  const std::string first = **client->initial_response();
  ASSERT_TRUE(is<LookupSecret>(server->start(first)));
  Users users(crypto);
  const ServerStep sf = server->provide_secret(users.secret);
  ASSERT_TRUE(is<Challenge>(sf));
  auto fin = client->respond(std::get<Challenge>(sf).data);
  ASSERT_TRUE(fin);
  const ServerStep ok = server->step(*fin);
  ASSERT_TRUE(is<Success>(ok)) << describe(ok);
  // The impostor answers with a signature under another ServerKey.
  const std::string forged =
      "v=" + smtp::base64_encode(crypto.hmac_sha256("another ServerKey", "AuthMessage"));
  EXPECT_FALSE(client->respond(forged));
  EXPECT_FALSE(client->succeeded(std::nullopt));
}

}  // namespace
}  // namespace taube::sasl
