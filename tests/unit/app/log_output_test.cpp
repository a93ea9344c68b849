// LogOutput and LogObserver: the file shape (syslog's), json lines, the reopen after a rename,
// the [log] keys and their errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "app/config.hpp"
#include "app/config_files.hpp"
#include "app/log_observer.hpp"
#include "app/log_output.hpp"
#include "spdlog/spdlog.h"

namespace taube::app {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class LogOutputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/taube-log-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

events::Peer peer() {
  events::Peer p;
  p.address = "192.0.2.7";
  p.port = 40000;
  p.listener = "127.0.0.1:25";
  return p;
}

TEST_F(LogOutputTest, FileLinesHaveSyslogShapeAndTags) {
  LogConfig cfg;
  cfg.output = dir_ + "/mail.log";
  auto out = LogOutput::open(cfg, "info");
  ASSERT_TRUE(out) << out.error();
  LogObserver obs(**out);
  obs.connected({peer(), false});
  events::Delivery d;
  d.queue_id = "ABCDEF0123456789";
  d.to = "bob@remote.test";
  d.relay = "mx.remote.test[192.0.2.1]:25";
  d.delay = 1.234;
  d.delays[3] = 0.5;
  d.dsn = "2.0.0";
  d.status = "sent";
  d.reply = "250 2.0.0 Ok";
  obs.delivery(d);
  const std::string text = slurp(cfg.output);
  const std::regex line(
      R"(^[A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d \S+ taube/smtpd\[\d+\]: connect from unknown\[192\.0\.2\.7\]
[A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d \S+ taube/smtp\[\d+\]: ABCDEF0123456789: to=<bob@remote\.test>, relay=mx\.remote\.test\[192\.0\.2\.1\]:25, delay=1\.2, delays=0/0/0/0\.5, dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok\)
$)");
  EXPECT_TRUE(std::regex_match(text, line)) << text;
}

TEST_F(LogOutputTest, ReopenFollowsARename) {
  LogConfig cfg;
  cfg.output = dir_ + "/mail.log";
  auto out = LogOutput::open(cfg, "info");
  ASSERT_TRUE(out) << out.error();
  LogObserver obs(**out);
  obs.connected({peer(), false});
  std::filesystem::rename(cfg.output, dir_ + "/mail.log.1");
  obs.connected({peer(), false});  // still into the renamed file, as before logrotate's signal
  ASSERT_TRUE((*out)->reopen());
  obs.disconnected({peer(), {}, false, smtp::Verb::Invalid, false, false});
  const auto old_text = slurp(dir_ + "/mail.log.1");
  const auto new_text = slurp(cfg.output);
  EXPECT_EQ(std::count(old_text.begin(), old_text.end(), '\n'), 2) << old_text;
  EXPECT_NE(new_text.find("taube/smtpd["), std::string::npos) << new_text;
  EXPECT_NE(new_text.find("]: disconnect from unknown[192.0.2.7] commands=0"), std::string::npos)
      << new_text;
}

TEST_F(LogOutputTest, ReopenFailureKeepsTheOldFile) {
  LogConfig cfg;
  cfg.output = dir_ + "/sub/mail.log";
  std::filesystem::create_directory(dir_ + "/sub");
  auto out = LogOutput::open(cfg, "info");
  ASSERT_TRUE(out) << out.error();
  // The directory is replaced by a file: the path cannot be opened (spdlog would recreate a
  // missing directory).
  std::filesystem::rename(dir_ + "/sub", dir_ + "/gone");
  std::ofstream(dir_ + "/sub") << "not a directory";
  auto r = (*out)->reopen();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("mail.log"), std::string::npos) << r.error();
  LogObserver obs(**out);
  obs.connected({peer(), false});
  EXPECT_NE(slurp(dir_ + "/gone/mail.log").find("connect from"), std::string::npos);
}

TEST_F(LogOutputTest, JsonCarriesTheEventFields) {
  LogConfig cfg;
  cfg.output = dir_ + "/mail.json";
  cfg.format = LogFormat::Json;
  auto out = LogOutput::open(cfg, "info");
  ASSERT_TRUE(out) << out.error();
  LogObserver obs(**out);
  obs.tls_established({peer(), "TLSv1.3", "TLS_AES_256_GCM_SHA384"});
  events::Rejected r;
  r.peer = peer();
  r.verb = smtp::Verb::Rcpt;
  r.reply = {554, "5.7.1", "<x@y.test>: Relay access \"denied\""};
  r.from = "a@b.test";
  r.to = "x@y.test";
  r.helo = "h";
  r.esmtp = true;
  obs.rejected(r);
  spdlog::info("plain line");
  const auto text = slurp(cfg.output);
  std::istringstream lines(text);
  std::string tls, reject, plain;
  std::getline(lines, tls);
  std::getline(lines, reject);
  std::getline(lines, plain);
  EXPECT_NE(tls.find(R"("tag":"taube/smtpd")"), std::string::npos) << tls;
  EXPECT_NE(tls.find(R"("event":"tls")"), std::string::npos) << tls;
  EXPECT_NE(reject.find(R"("event":"reject","client":"unknown[192.0.2.7]")"), std::string::npos)
      << reject;
  EXPECT_NE(reject.find(R"("tls":"TLSv1.3")"), std::string::npos) << reject;
  EXPECT_NE(
      reject.find(R"("code":554,"dsn":"5.7.1","reason":"<x@y.test>: Relay access \"denied\"")"),
      std::string::npos)
      << reject;
  EXPECT_NE(reject.find(R"("from":"a@b.test","to":"x@y.test")"), std::string::npos) << reject;
  EXPECT_EQ(reject.front(), '{');
  EXPECT_EQ(reject.back(), '}');
  EXPECT_NE(plain.find(R"("tag":"taube/master")"), std::string::npos) << plain;
  EXPECT_NE(plain.find(R"("event":"message")"), std::string::npos) << plain;
  EXPECT_NE(plain.find(R"("text":"plain line"})"), std::string::npos) << plain;
}

TEST(LogText, JsonEscape) {
  EXPECT_EQ(json_escape("a\"b\\c\n\x01"), "a\\\"b\\\\c\\n\\u0001");
  EXPECT_EQ(json_escape("j\xc3\xbcrg"), "j\xc3\xbcrg");
}

TEST(LogText, DelayText) {
  EXPECT_EQ(delay_text(0), "0");
  EXPECT_EQ(delay_text(0.004), "0");
  EXPECT_EQ(delay_text(0.12), "0.12");
  EXPECT_EQ(delay_text(0.5), "0.5");
  EXPECT_EQ(delay_text(1.34), "1.3");
  EXPECT_EQ(delay_text(2.0), "2");
  EXPECT_EQ(delay_text(14.4), "14");
}

TEST(LogText, DeliveryTags) {
  events::Delivery d;
  d.relay = "mx[192.0.2.1]:25";
  EXPECT_EQ(delivery_tag(d), LogTag::Smtp);
  d.agent = "lmtp";
  EXPECT_EQ(delivery_tag(d), LogTag::Lmtp);
  d.status = "expired";
  EXPECT_EQ(delivery_tag(d), LogTag::Qmgr);
  d.relay = "local";
  EXPECT_EQ(delivery_tag(d), LogTag::Local);
  EXPECT_EQ(tag_name(LogTag::Bounce), "taube/bounce");
}

using LogConfigTest = test::ConfigFiles;

TEST_F(LogConfigTest, Defaults) {
  const Config c = default_config();
  EXPECT_EQ(c.log.output, "stderr");
  EXPECT_EQ(c.log.format, LogFormat::Text);
}

TEST_F(LogConfigTest, Read) {
  auto c =
      load_config(write("[log]\noutput = \"/var/log/taube.log\"\nformat = \"json\"\n"
                        "level = \"debug\"\n"));
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->log.output, "/var/log/taube.log");
  EXPECT_EQ(c->log.format, LogFormat::Json);
  EXPECT_EQ(c->log_level, "debug");
  c = load_config(write("log_format = \"json\"\n[log]\noutput = \"syslog\"\n"));
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->log.output, "syslog");
  EXPECT_EQ(c->log.format, LogFormat::Json);
}

TEST_F(LogConfigTest, ErrorsNameTheKeyAndLine) {
  auto c = load_config(write("[log]\n\nformat = \"xml\"\n"));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find(":3: log.format: must be \"text\" or \"json\""), std::string::npos)
      << c.error();
  c = load_config(write("[log]\noutput = \"taube.log\"\n"));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find(":2: log.output: \"taube.log\" is neither"), std::string::npos)
      << c.error();
  c = load_config(write("[log]\nlevel = \"verbose\"\n"));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find(":2: log.level: must be"), std::string::npos) << c.error();
  c = load_config(write("log_level = \"loud\"\n"));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find(":1: log_level: must be"), std::string::npos) << c.error();
  c = load_config(write("[log]\nfacility = \"mail\"\n"));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find(":2: log.facility: unknown key"), std::string::npos) << c.error();
}

}  // namespace
}  // namespace taube::app
