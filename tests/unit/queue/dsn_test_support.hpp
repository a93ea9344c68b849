// Shared by the DSN tests: a sample envelope and reports, and read_dsn(), which reads a DSN back
// with the strict walker of tests/support/mini_mime.hpp.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mini_mime.hpp"
#include "queue/dsn.hpp"
#include "queue/mail_text.hpp"

namespace taube::queue::dsn_test {

using testing::MimeEntity;

constexpr std::int64_t kArrival = 1764600000;  // Mon, 1 Dec 2025 14:40:00 +0000
inline const std::string kOriginal =
    "Received: from client.example\nFrom: Alice <alice@example.org>\nSubject: Hello\n"
    "Message-ID: <m1@example.org>\n\nBody line one\nBody line two\n";

inline QueueEnvelope envelope() {
  QueueEnvelope e;
  e.id = "4F2A1B9C3D";
  e.arrival = kArrival;
  e.sender.mailbox = smtp::Mailbox{"alice", "example.org", false};
  return e;
}

inline RecipientReport failed_report() {
  RecipientReport r;
  r.final_recipient = "bob@remote.test";
  r.original_type = "rfc822";
  r.original_address = "Bob@Remote.Test";
  r.action = DsnAction::Failed;
  r.status = "5.1.1";
  r.remote_mta = "mx.remote.test";
  r.diagnostic = "550 5.1.1 <bob@remote.test>: user unknown";
  r.last_attempt = kArrival + 60;
  return r;
}

inline DsnRequest request(std::vector<RecipientReport> reports) {
  DsnRequest q;
  q.reporting_mta = "mx.taube.example";
  q.date = kArrival + 61;
  q.message_id = "<dsn.4F2A1B9C3D@mx.taube.example>";
  q.boundary = "=_taube_0123456789abcdef";
  q.reports = std::move(reports);
  return q;
}

struct Parsed {
  MimeEntity top;
  std::vector<MimeEntity> parts;
  std::vector<MimeEntity> groups;  // of the delivery-status part
};

// Reads a DSN strictly: no CR, no line over 998 octets, a well-formed header, a multipart/report
// of three parts whose boundary occurs only in its delimiter lines, and status groups.
inline ::testing::AssertionResult read_dsn(const std::string& msg, Parsed& out) {
  if (msg.find('\r') != std::string::npos) return ::testing::AssertionFailure() << "CR";
  if (msg.empty() || msg.back() != '\n') return ::testing::AssertionFailure() << "no final LF";
  for (std::size_t pos = 0; pos < msg.size();) {
    const std::size_t nl = msg.find('\n', pos);
    if (nl - pos > kMaxLineOctets) return ::testing::AssertionFailure() << "long line";
    pos = nl + 1;
  }
  auto top = testing::parse_entity(msg);
  if (!top) return ::testing::AssertionFailure() << top.error();
  if (testing::media_type(*top) != "multipart/report")
    return ::testing::AssertionFailure() << "type " << testing::media_type(*top);
  const auto boundary = testing::mime_param(*top->field("Content-Type"), "boundary");
  if (!boundary) return ::testing::AssertionFailure() << "no boundary";
  auto texts = testing::split_multipart(top->body, *boundary);
  if (!texts) return ::testing::AssertionFailure() << texts.error();
  if (texts->size() != 3) return ::testing::AssertionFailure() << texts->size() << " parts";
  out = {};
  out.top = std::move(*top);
  for (const std::string& t : *texts) {
    auto p = testing::parse_entity(t);
    if (!p) return ::testing::AssertionFailure() << p.error();
    out.parts.push_back(std::move(*p));
  }
  auto groups = testing::parse_status_groups(out.parts[1].body);
  if (!groups) return ::testing::AssertionFailure() << groups.error();
  out.groups = std::move(*groups);
  return ::testing::AssertionSuccess();
}

inline Parsed build_and_read(const QueueEnvelope& e, const DsnRequest& q,
                             const std::string& original = kOriginal) {
  Parsed p;
  auto d = build_dsn(e, q, original);
  EXPECT_TRUE(d) << describe(d.error());
  if (d) EXPECT_TRUE(read_dsn(d->message, p)) << d->message;
  return p;
}

// The text part with its wrapped lines joined again (on one line, for searching).
inline std::string flat(std::string text) {
  for (std::size_t at; (at = text.find("\n    ")) != std::string::npos;) text.replace(at, 5, " ");
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

inline std::string field(const MimeEntity& e, std::string_view name) {
  const std::string* v = e.field(name);
  return v ? *v : "<absent>";
}

}  // namespace taube::queue::dsn_test
