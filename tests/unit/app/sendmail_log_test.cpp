// The log lines of a local submission (the submit socket of `taube sendmail`,
// docs/logging.md): Postfix's pickup line under taube/pickup, rejects naming the uid, no smtpd
// connect/disconnect lines at info, uid and pid in the json fields.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "app/log_observer.hpp"
#include "app/log_output.hpp"

namespace taube::app {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class SendmailLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/taube-log-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

events::Peer local_peer() {
  events::Peer p{"127.0.0.1", "localhost", 0, "/run/taube/submit.sock"};
  p.uid = 1000;
  p.pid = 4242;
  return p;
}

events::Transaction accepted() {
  events::Transaction t;
  t.peer = local_peer();
  t.queue_id = "ABCDEF0123456789";
  t.from = "alice@example.org";
  t.to = {"root@example.org"};
  t.mailboxes = {"root@example.org"};
  t.size = 321;
  t.helo = "mx.example.org";
  t.protocol = "ESMTP";
  t.accepted = true;
  return t;
}

events::Rejected refused() {
  events::Rejected r;
  r.peer = local_peer();
  r.verb = smtp::Verb::Rcpt;
  r.reply = {554, "5.7.1", "<x@[192.0.2.1]>: Relay access denied"};
  r.from = "alice@example.org";
  r.to = "x@[192.0.2.1]";
  r.helo = "mx.example.org";
  r.esmtp = true;
  return r;
}

TEST_F(SendmailLogTest, PickupShapesInTheText) {
  LogConfig cfg;
  cfg.output = dir_ + "/mail.log";
  auto out = LogOutput::open(cfg, "info");
  ASSERT_TRUE(out) << out.error();
  LogObserver obs(**out);
  obs.connected({local_peer(), false});
  obs.rejected(refused());
  obs.transaction(accepted());
  obs.disconnected({local_peer(), {}, false, smtp::Verb::Quit, false, false});
  const std::string text = slurp(cfg.output);
  const std::string stamp = R"([A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d \S+ )";
  const std::regex want(
      "^" + stamp +
      R"(taube/pickup\[\d+\]: NOQUEUE: reject: RCPT from uid=1000: 554 5\.7\.1 <x@\[192\.0\.2\.1\]>: Relay access denied; from=<alice@example\.org> to=<x@\[192\.0\.2\.1\]> proto=ESMTP helo=<mx\.example\.org>
)" + stamp +
      R"(taube/pickup\[\d+\]: ABCDEF0123456789: uid=1000 from=<alice@example\.org>
)" + stamp +
      R"(taube/qmgr\[\d+\]: ABCDEF0123456789: from=<alice@example\.org>, size=321, nrcpt=1 \(queue active\)
)" + stamp +
      R"(taube/local\[\d+\]: ABCDEF0123456789: to=<root@example\.org>, relay=local, .*status=sent \(delivered to maildir\)
$)");
  // The session's start and end are debug lines: nothing of smtpd's at info.
  EXPECT_TRUE(std::regex_match(text, want)) << text;
}

TEST_F(SendmailLogTest, JsonHasUidAndPid) {
  LogConfig cfg;
  cfg.output = dir_ + "/mail.json";
  cfg.format = LogFormat::Json;
  auto out = LogOutput::open(cfg, "debug");
  ASSERT_TRUE(out) << out.error();
  LogObserver obs(**out);
  obs.connected({local_peer(), false});
  obs.transaction(accepted());
  const std::string text = slurp(cfg.output);
  EXPECT_NE(text.find(R"("tag":"taube/pickup")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("event":"pickup")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("uid":1000,"pid":4242)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("listener":"/run/taube/submit.sock")"), std::string::npos) << text;
  EXPECT_NE(text.find("local submission from uid=1000 pid=4242"), std::string::npos) << text;
  EXPECT_EQ(text.find("taube/smtpd"), std::string::npos) << text;
}

}  // namespace
}  // namespace taube::app
