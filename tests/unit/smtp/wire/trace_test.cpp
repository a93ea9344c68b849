// Tests for src/smtp/wire/trace.cpp: the with-protocol of the Received header (RFC 3848 §2,
// RFC 6531 §3.7.3) for every combination of the channel facts, and the header's shape.
#include "smtp/wire/trace.hpp"

#include <gtest/gtest.h>

#include <string>

namespace taube::smtp {
namespace {

TraceInfo base() {
  TraceInfo t;
  t.helo = "client.example";
  t.client_ip = "192.0.2.1";
  t.hostname = "mx.test";
  t.id = "QID";
  t.date = "Thu, 1 Jan 2026 00:00:00 +0000";
  return t;
}

std::string with_of(const TraceInfo& t) {
  const std::string h = received_header(t);
  const auto at = h.find(" with ");
  if (at == std::string::npos) return "?";
  const auto end = h.find_first_of(" \n", at + 6);
  return h.substr(at + 6, end - at - 6);
}

TEST(ReceivedHeader, WithProtocolForEveryCombination) {
  struct Case {
    bool esmtp, lmtp, utf8, tls, auth;
    const char* want;
  };
  const Case cases[] = {
      {false, false, false, false, false, "SMTP"},
      {false, false, false, true, true, "SMTP"},  // HELO: no suffixes (RFC 3848 §2)
      {true, false, false, false, false, "ESMTP"},
      {true, false, false, true, false, "ESMTPS"},
      {true, false, false, false, true, "ESMTPA"},
      {true, false, false, true, true, "ESMTPSA"},
      {true, false, true, false, false, "UTF8SMTP"},
      {true, false, true, true, true, "UTF8SMTPSA"},
      // LHLO sets esmtp too; LMTP wins over ESMTP.
      {true, true, false, false, false, "LMTP"},
      {true, true, false, true, false, "LMTPS"},
      {true, true, false, false, true, "LMTPA"},
      {true, true, false, true, true, "LMTPSA"},
      {true, true, true, false, false, "UTF8LMTP"},
      {true, true, true, true, true, "UTF8LMTPSA"},
  };
  for (const auto& c : cases) {
    TraceInfo t = base();
    t.esmtp = c.esmtp;
    t.lmtp = c.lmtp;
    t.smtputf8 = c.utf8;
    t.tls = c.tls;
    t.authenticated = c.auth;
    EXPECT_EQ(with_of(t), c.want) << "esmtp=" << c.esmtp << " lmtp=" << c.lmtp << " utf8=" << c.utf8
                                  << " tls=" << c.tls << " auth=" << c.auth;
  }
}

TEST(ReceivedHeader, Shape) {
  TraceInfo t = base();
  t.esmtp = true;
  t.lmtp = true;
  t.for_rcpt = "alice@example.org";
  EXPECT_EQ(received_header(t),
            "Received: from client.example ([192.0.2.1])\n"
            "\tby mx.test (Taube) with LMTP id QID\n"
            "\tfor <alice@example.org>; Thu, 1 Jan 2026 00:00:00 +0000\n");
}

TEST(ReceivedHeader, LocalSubmissionHasPickupShape) {
  TraceInfo t = base();
  t.esmtp = true;
  t.local_uid = 1000;
  EXPECT_EQ(received_header(t),
            "Received: by mx.test (Taube, from userid 1000)\n"
            "\tid QID; Thu, 1 Jan 2026 00:00:00 +0000\n");
  t.local_uid = 0;
  t.for_rcpt = "root@localhost";
  EXPECT_EQ(received_header(t),
            "Received: by mx.test (Taube, from userid 0)\n"
            "\tid QID\n\tfor <root@localhost>; Thu, 1 Jan 2026 00:00:00 +0000\n");
}

}  // namespace
}  // namespace taube::smtp
