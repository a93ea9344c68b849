// Fuzz target: the DSN builder (src/queue/dsn.hpp) with hostile recipient addresses, remote
// replies, host names, ENVID, sender and original header blocks.
//
// Input: byte 0 options (bit 0 SMTPUTF8, bit 1 RET=FULL, bit 2 ENVID given, bits 3-5 the first
// report's action, bit 6 a tiny max_returned_content); then pieces separated by NUL: the original
// message, the sender's local part, the ENVID, then per report (at most 8) its final recipient,
// its diagnostic and its remote MTA.
//
// Invariants when a DSN is built: LF lines only (no CR), each at most 998 octets, the last one
// ending in LF; every line of the top-level header is "Name: value" or a continuation; the MIME
// boundary occurs only as delimiter lines (and once, as the parameter, in the header), which cut
// the body into exactly three parts; the status part has one group per report plus the
// per-message group, each with exactly one Action. When it is refused, the only reason can be the
// boundary found in the content, and then the input held it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "mini_mime.hpp"
#include "queue/dsn.hpp"
#include "queue/mail_text.hpp"

namespace {

constexpr std::string_view kBoundary = "=_fz.q7Kx9";

void check_top_header(std::string_view msg) {
  std::size_t pos = 0;
  while (true) {
    const std::size_t nl = msg.find('\n', pos);
    TAUBE_FUZZ_CHECK(nl != std::string_view::npos);
    const std::string_view line = msg.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty()) return;
    if (line[0] == ' ' || line[0] == '\t') {
      TAUBE_FUZZ_CHECK(line.find_first_not_of(" \t") != std::string_view::npos);
      continue;
    }
    const std::size_t colon = line.find(':');
    TAUBE_FUZZ_CHECK(colon != std::string_view::npos);
    TAUBE_FUZZ_CHECK(taube::testing::is_field_name(line.substr(0, colon)));
    TAUBE_FUZZ_CHECK(colon + 1 == line.size() || line[colon + 1] == ' ');
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace taube::queue;
  if (size == 0) return 0;
  const auto in = taube::fuzz::as_chars(data, size);
  const unsigned options = static_cast<unsigned char>(in[0]);
  std::vector<std::string> pieces;
  {
    std::string_view rest(in.data() + 1, in.size() - 1);
    while (true) {
      const std::size_t nul = rest.find('\0');
      pieces.emplace_back(rest.substr(0, nul));
      if (nul == std::string_view::npos) break;
      rest.remove_prefix(nul + 1);
    }
  }
  pieces.resize(std::max<std::size_t>(pieces.size(), 6));

  QueueEnvelope env;
  env.id = "FUZZ1";
  env.arrival = 1764600000;
  env.params.smtputf8 = (options & 1) != 0;
  if (options & 2) env.params.ret = taube::smtp::DsnRet::Full;
  env.sender.mailbox = taube::smtp::Mailbox{pieces[1], "example.org", false};
  if (options & 4) env.params.envid = pieces[2];

  DsnRequest req;
  req.reporting_mta = "mx.taube.example";
  req.date = env.arrival + 3600;
  req.message_id = "<dsn.FUZZ1@mx.taube.example>";
  req.boundary = std::string(kBoundary);
  if (options & 0x40) req.max_returned_content = 64;
  constexpr DsnAction kActions[] = {DsnAction::Failed, DsnAction::Delayed, DsnAction::Delivered,
                                    DsnAction::Relayed, DsnAction::Expanded};
  for (std::size_t i = 3; i + 2 < pieces.size() && req.reports.size() < 8; i += 3) {
    RecipientReport r;
    const std::size_t n = req.reports.size();
    r.action = kActions[((options >> 3) + n) % 5];
    r.status = r.action == DsnAction::Failed    ? "5.1.1"
               : r.action == DsnAction::Delayed ? "4.4.1"
                                                : "2.0.0";
    r.final_recipient = pieces[i];
    r.diagnostic = pieces[i + 1];
    r.remote_mta = pieces[i + 2];
    if (n % 2 == 1) {
      r.original_type = (n % 4 == 1) ? "utf-8" : "rfc822";
      r.original_address = pieces[i];
      r.expanded_from = pieces[i + 1].substr(0, 40);
    }
    r.last_attempt = env.arrival + static_cast<std::int64_t>(n);
    if (r.action == DsnAction::Delayed) r.will_retry_until = env.arrival + 432000;
    req.reports.push_back(std::move(r));
  }

  const auto dsn = build_dsn(env, req, pieces[0]);
  if (!dsn) {
    TAUBE_FUZZ_CHECK(dsn.error() == DsnError::BoundaryInContent);
    std::string input(in.data() + 1, in.size() - 1);
    std::erase(input, '\r');  // the builder drops CRs of the original
    TAUBE_FUZZ_CHECK(input.find(kBoundary) != std::string::npos);
    return 0;
  }
  const std::string& msg = dsn->message;
  TAUBE_FUZZ_CHECK(!msg.empty() && msg.back() == '\n');
  TAUBE_FUZZ_CHECK(msg.find('\r') == std::string::npos);
  for (std::size_t pos = 0; pos < msg.size();) {
    const std::size_t nl = msg.find('\n', pos);
    TAUBE_FUZZ_CHECK(nl - pos <= kMaxLineOctets);
    pos = nl + 1;
  }
  check_top_header(msg);

  auto top = taube::testing::parse_entity(msg);
  TAUBE_FUZZ_CHECK(top.has_value());
  const std::string* ct = top->field("Content-Type");
  TAUBE_FUZZ_CHECK(ct != nullptr);
  TAUBE_FUZZ_CHECK(taube::testing::mime_param(*ct, "boundary") == kBoundary);
  // Once in the header (the parameter), and nowhere in the body but its delimiter lines.
  const std::string header = msg.substr(0, msg.size() - top->body.size());
  TAUBE_FUZZ_CHECK(header.find(kBoundary) == header.rfind(kBoundary));
  const auto parts = taube::testing::split_multipart(top->body, kBoundary);
  TAUBE_FUZZ_CHECK(parts.has_value());
  TAUBE_FUZZ_CHECK(parts->size() == 3);
  auto status = taube::testing::parse_entity((*parts)[1]);
  TAUBE_FUZZ_CHECK(status.has_value());
  const auto groups = taube::testing::parse_status_groups(status->body);
  TAUBE_FUZZ_CHECK(groups.has_value());
  TAUBE_FUZZ_CHECK(groups->size() == req.reports.size() + 1);
  for (std::size_t i = 1; i < groups->size(); ++i)
    TAUBE_FUZZ_CHECK((*groups)[i].count("Action") == 1 &&
                     (*groups)[i].count("Final-Recipient") == 1);
  if (!dsn->global) TAUBE_FUZZ_CHECK(taube::smtp::is_ascii((*parts)[1]));
  return 0;
}
