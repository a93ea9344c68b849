// Fuzz target: the ClientSession (smtp/client/client_session.hpp) against a hostile server whose
// whole reply stream is the input, fed in arbitrary splits through the same ClientDriver the unit
// tests use (tests/support/client_driver.hpp).
//
// Byte 0 picks the configuration: bit 0 LMTP; bits 1-2 the TLS policy (None, Opportunistic,
// Required, Required); bit 3 implicit TLS; bit 4 credentials (SCRAM-capable crypto); bit 5
// plaintext AUTH allowed; bit 6 BDAT off; bit 7 3-octet BDAT chunks and small reply limits.
// Byte 1 seeds the splits and picks the plan: bit 0 the handshake fails, bit 1 the connection
// breaks while the content is written. The rest is what the server sends; when it runs out the
// connection is closed.
//
// Invariants (abort on violation):
//  * the session always ends (Done) or goes idle in Ready, within a bounded number of steps;
//  * one result per message handed over, one RecipientResult per recipient, indices in order;
//    every status is an RFC 3463 code whose class agrees with the outcome (2 Accepted, 4 Deferred
//    and Unknown, 5 Failed); replies are one line without control characters, bounded;
//  * a failure is Deferred or Failed with a status of its class;
//  * no STARTTLS handshake unless the policy asks for TLS and TLS is not already active; no AUTH
//    in plaintext unless allowed;
//  * the transcript stays within its bounds and never holds the password or the content.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "client_driver.hpp"
#include "fake_sasl_crypto.hpp"
#include "fuzz_support.hpp"
#include "smtp/client/client_session.hpp"

using namespace taube::smtp;
using taube::fuzz::SplitRng;

namespace {

bool is_status(std::string_view s, char cls) {
  // class "." 1*3digit "." 1*3digit
  if (s.size() < 5 || s[0] != cls || s[1] != '.') return false;
  std::size_t i = 2, n = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++n;
  if (n < 1 || n > 3 || i >= s.size() || s[i] != '.') return false;
  ++i;
  n = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++n;
  return n >= 1 && n <= 3 && i == s.size();
}

bool visible_line(std::string_view s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return false;
  }
  return true;
}

char class_of(client::Outcome o) {
  switch (o) {
    case client::Outcome::Accepted:
      return '2';
    case client::Outcome::Failed:
      return '5';
    default:
      return '4';
  }
}

Mailbox mb(std::string l, std::string d) {
  Mailbox m;
  m.local_part = std::move(l);
  m.domain = std::move(d);
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t opt = data[0];
  const std::uint8_t plan_byte = data[1];
  const std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);

  taube::test::FakeSaslCrypto crypto;
  client::ClientConfig cfg;
  cfg.helo_name = "client.example";
  cfg.dialect = (opt & 1) ? Dialect::Lmtp : Dialect::Smtp;
  const int tls = (opt >> 1) & 3;
  cfg.tls = tls == 0   ? client::TlsPolicy::None
            : tls == 1 ? client::TlsPolicy::Opportunistic
                       : client::TlsPolicy::Required;
  cfg.tls_active = (opt & 8) != 0;
  if (opt & 16) {
    cfg.credentials = taube::sasl::ClientCredentials{"", "alice", "Pa55word"};
    cfg.sasl_crypto = &crypto;
  }
  cfg.plaintext_auth = (opt & 32) != 0;
  cfg.use_bdat = (opt & 64) == 0;
  if (opt & 128) {
    cfg.bdat_chunk = 3;
    cfg.reply_limits.max_line = 64;
    cfg.reply_limits.max_lines = 4;
  }

  testing::ClientPlan plan;
  plan.tls_ok = (plan_byte & 1) == 0;
  plan.close_in_content = (plan_byte & 2) != 0;
  plan.max_steps = 10000 + 4 * input.size();
  for (int m = 0; m < 2; ++m) {
    client::OutboundMessage msg;
    msg.sender.mailbox = mb("alice", "a.example");
    msg.params.size = 40;
    msg.params.body = BodyType::EightBitMime;
    msg.params.ret = DsnRet::Headers;
    msg.params.envid = "id" + std::to_string(m);
    msg.recipients.push_back({mb("bob", "b.example"), {}});
    msg.recipients.push_back({mb("carol", "c.example"), {}});
    msg.recipients[1].params.notify = NotifySuccess | NotifyDelay;
    plan.messages.push_back(msg);
    plan.contents.push_back({"Subject: SECRETBODY\n", ".\n..x\r", "\nend"});
  }

  // One turn: the whole input, cut by the split seed. Later reads get nothing: closed.
  SplitRng rng(plan_byte);
  testing::ScriptedServer server{{std::string(input)}};
  const testing::Splitter split = [&rng](std::size_t, std::size_t n) {
    std::vector<std::size_t> cuts;
    for (std::size_t at = rng.piece(n); at < n; at += rng.piece(n - at)) cuts.push_back(at);
    return cuts;
  };
  const testing::ClientRun run = testing::run_client(cfg, server, plan, split);

  TAUBE_FUZZ_CHECK(!run.stuck);
  TAUBE_FUZZ_CHECK(run.results.size() <= plan.messages.size());
  for (const auto& result : run.results) {
    TAUBE_FUZZ_CHECK(result.recipients.size() == 2);
    for (std::size_t i = 0; i < result.recipients.size(); ++i) {
      const auto& r = result.recipients[i];
      TAUBE_FUZZ_CHECK(r.index == i);
      TAUBE_FUZZ_CHECK(is_status(r.status, class_of(r.outcome)));
      TAUBE_FUZZ_CHECK(visible_line(r.reply));
      TAUBE_FUZZ_CHECK(r.reply.size() <= client::kMaxReplyLine + 200);
    }
  }
  if (run.failure) {
    const auto& f = *run.failure;
    TAUBE_FUZZ_CHECK(f.outcome == client::Outcome::Deferred ||
                     f.outcome == client::Outcome::Failed);
    TAUBE_FUZZ_CHECK(is_status(f.status, class_of(f.outcome)));
    TAUBE_FUZZ_CHECK(run.done);
  }
  // A message handed over always gets its result, unless the session is still idle (it only
  // stops in Ready when the plan has nothing more to do).
  if (run.done && run.written.find("MAIL FROM:") != std::string::npos)
    TAUBE_FUZZ_CHECK(!run.results.empty());
  if (cfg.tls == client::TlsPolicy::None || cfg.tls_active)
    TAUBE_FUZZ_CHECK(run.tls_handshakes == 0);
  TAUBE_FUZZ_CHECK(run.tls_handshakes <= 1);
  if (!cfg.plaintext_auth && !cfg.tls_active && run.tls_handshakes == 0)
    TAUBE_FUZZ_CHECK(run.written.find("AUTH ") == std::string::npos);
  std::size_t octets = 0;
  TAUBE_FUZZ_CHECK(run.transcript.size() <= client::ClientSession::kTranscriptLines);
  for (const auto& line : run.transcript) {
    octets += line.size();
    TAUBE_FUZZ_CHECK(visible_line(line));
    if (line.rfind("> ", 0) != 0) continue;  // the server's lines are the input's
    TAUBE_FUZZ_CHECK(line.find("SECRETBODY") == std::string::npos);
    TAUBE_FUZZ_CHECK(line.find("Pa55word") == std::string::npos);
  }
  TAUBE_FUZZ_CHECK(octets <= client::ClientSession::kTranscriptOctets + 32);
  return 0;
}
