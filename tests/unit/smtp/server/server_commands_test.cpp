// The end of a session (timeout, shutdown, QUIT), resets, VRFY/EXPN/ETRN.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "session_split.hpp"
#include "session_test_util.hpp"
#include "smtp/server/server_session.hpp"
#include "smtp/wire/base64.hpp"
#include "split_feed.hpp"

namespace taube::smtp {
namespace {

using testing::expect_session_split_invariant;

// ---- timeout, shutdown, QUIT ----

TEST(SessionEnd, TimeoutAndShutdown) {
  SessionDriver t;
  t.start();
  t.take_output();
  t.session().timeout();
  EXPECT_EQ(t.session().output(), "421 4.4.2 mx.test Error: timeout exceeded\r\n");
  EXPECT_TRUE(t.session().closed());
  EXPECT_EQ(t.session().poll_event()->kind, EventKind::Close);

  SessionDriver s;
  s.start();
  s.take_output();
  s.session().shutdown();
  EXPECT_EQ(s.session().output(),
            "421 4.3.2 mx.test Service shutting down, closing transmission channel\r\n");
  EXPECT_TRUE(s.session().closed());
  EXPECT_EQ(s.session().poll_event()->kind, EventKind::Close);
  // Closed is final: more input is swallowed without output, a second 421 is not sent.
  s.session().output().clear();
  EXPECT_EQ(s.session().receive(std::string_view("NOOP\r\n")), 6u);
  s.session().timeout();
  EXPECT_EQ(s.session().output(), "");
}

TEST(SessionEnd, TimeoutDuringDataAbortsTheMessage) {
  SessionDriver d;
  d.start();
  d.feed(kEhlo + kMail + kRcpt + "DATA\r\npartial\r\n");
  ASSERT_TRUE(d.session().receiving_message());
  d.clear_events();
  d.session().timeout();
  std::vector<EventKind> kinds;
  while (auto e = d.session().poll_event()) kinds.push_back(e->kind);
  EXPECT_EQ(kinds, (std::vector<EventKind>{EventKind::MessageAbort, EventKind::Close}));
}

TEST(SessionEnd, TimeoutWhileWaitingForALookup) {
  SessionConfig cfg = test_config();
  ServerSession s(cfg, ClientInfo{});
  s.start();
  const std::string in = kEhlo + kMail + kRcpt;
  std::string_view rest = in;
  rest.remove_prefix(s.receive(rest));
  s.resolve_mail(MailVerdict::Accept);
  s.receive(rest);
  ASSERT_EQ(s.pending(), Pending::Rcpt);
  s.output().clear();
  s.timeout();
  EXPECT_EQ(s.pending(), Pending::None);
  s.resolve_rcpt({RcptVerdictKind::Accept, {testing::mailbox_dest("/x")}, {}});  // late: ignored
  EXPECT_EQ(s.output(), "421 4.4.2 mx.test Error: timeout exceeded\r\n");
}

TEST(SessionEnd, NothingAfterQuit) {
  const std::string in = kEhlo + "QUIT\r\nNOOP\r\nMAIL FROM:<a@example.org>\r\n";
  expect_session_split_invariant(in);
  SessionConfig cfg = test_config();
  ServerSession s(cfg, ClientInfo{});
  s.start();
  s.output().clear();
  EXPECT_EQ(s.receive(in), in.size());
  EXPECT_EQ(s.output(),
            "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-VRFY\r\n"
            "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n"
            "250 CHUNKING\r\n221 2.0.0 Bye\r\n");
  EXPECT_TRUE(s.closed());
  EXPECT_EQ(s.poll_event()->kind, EventKind::Close);
  EXPECT_FALSE(s.poll_event().has_value());
}

TEST(SessionEnd, QuitDuringBdatAbortsTheMessage) {
  SessionDriver d;
  d.start();
  d.feed(kEhlo + kMail + kRcpt + "BDAT 1\r\nxQUIT\r\n");
  EXPECT_EQ(d.event_kinds(), (std::vector<EventKind>{EventKind::MessageBegin,
                                                     EventKind::MessageAbort, EventKind::Close}));
}

// ---- resets ----

TEST(SessionReset, RsetAndHeloEndTheTransaction) {
  EXPECT_EQ(run_codes(kEhlo + kMail + kRcpt + "RSET\r\nDATA\r\n" + kMail),
            "250,250 2.1.0,250 2.1.5,250 2.0.0,503 5.5.1,250 2.1.0");
  EXPECT_EQ(run_codes(kEhlo + kMail + kRcpt + "EHLO again\r\nDATA\r\n" + kMail),
            "250,250 2.1.0,250 2.1.5,250,503 5.5.1,250 2.1.0");
  // RSET before HELO does not count as HELO.
  EXPECT_EQ(run_codes("RSET\r\n" + kMail), "250 2.0.0,503 5.5.1");
}

// ---- VRFY / EXPN / ETRN configured on ----

TEST(SessionVrfy, Modes) {
  SessionConfig cfg = test_config();
  cfg.vrfy = VrfyMode::Disabled;
  EXPECT_EQ(run_codes("VRFY bob\r\n", cfg), "502 5.5.1");
  cfg.vrfy = VrfyMode::Verify;
  cfg.expn = true;
  SessionDriver d(cfg);
  d.start();
  const auto rs = replies_to(d,
                             "VRFY <bob@example.org>\r\nEXPN info@example.org\r\nVRFY\r\n"
                             "EXPN\r\nVRFY a..b@example.org\r\n");
  EXPECT_EQ(codes(rs), "250 2.1.5,250 2.1.5,501 5.5.4,501 5.5.4,501 5.1.3");
  EXPECT_EQ(rs.at(0).last_line(), "250 2.1.5 <bob@example.org>");
}

TEST(SessionEtrn, Enabled) {
  SessionConfig cfg = test_config();
  cfg.etrn = true;
  EXPECT_EQ(run_codes(kEhlo + "ETRN example.org\r\nETRN\r\n" + kMail + "ETRN example.org\r\n", cfg),
            "250,458 4.3.0,501 5.5.4,250 2.1.0,503 5.5.1");
}

TEST(SessionEtrn, StartsAQueueRun) {
  SessionConfig cfg = test_config();
  cfg.etrn = true;
  std::vector<std::string> asked;
  cfg.etrn_run = [&](const std::string& domain) -> std::size_t {
    asked.push_back(domain);
    return domain == "busy.example" ? 3 : 0;
  };
  SessionDriver d(cfg);
  d.start();
  const auto rs = replies_to(d, kEhlo +
                                    "ETRN busy.example\r\nETRN @idle.example\r\n"
                                    "ETRN #queue1\r\nETRN not_a..domain\r\n");
  EXPECT_EQ(codes(rs), "250,250 2.0.0,251 2.0.0,458 4.3.0,459 4.3.0");
  EXPECT_EQ(rs.at(1).last_line(), "250 2.0.0 Queuing for node busy.example started");
  EXPECT_EQ(rs.at(2).last_line(), "251 2.0.0 No messages waiting for node idle.example");
  EXPECT_EQ(asked, (std::vector<std::string>{"busy.example", "idle.example"}));
}

}  // namespace
}  // namespace taube::smtp
