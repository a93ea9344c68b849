#include "app/config.hpp"
#include "app/config_files.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace taube::app {
namespace {

using ConfigTest = test::ConfigFiles;

TEST_F(ConfigTest, DefaultsMatchTheReadme) {
  const Config c = default_config();
  ASSERT_EQ(c.server.listeners.size(), 1u);
  EXPECT_EQ(c.server.listeners[0].address, "127.0.0.1");
  EXPECT_EQ(c.server.listeners[0].port, 2525);
  EXPECT_EQ(c.directory.mail_root, "./var/mail");
  EXPECT_EQ(c.directory.domains, std::vector<std::string>{"localhost"});
  EXPECT_TRUE(c.directory.users.empty());
  EXPECT_EQ(c.server.session.limits.max_command_line, 512u);
  EXPECT_EQ(c.server.command_timeout, std::chrono::minutes(5));
  EXPECT_TRUE(validate(c).has_value());
}

TEST_F(ConfigTest, FullFileIsRead) {
  auto c = load_config(write(R"(
hostname = "mx.example.org"
log_level = "warn"
[[listener]]
address = "0.0.0.0"
port = 25
[[listener]]
address = "::1"
port = 2526
[delivery]
mail_root = "/srv/mail"
domains = ["example.org", "Example.NET"]
catch_all = "postmaster@example.org"
mode = "discard"
[users]
"alice@example.org" = ""
"bob@example.org" = "/home/bob/Maildir"
[aliases]
"info@example.org" = ["alice@example.org", "bob@example.org"]
[limits]
max_message_size = 1000
max_recipients = 7
max_errors = 3
max_connections = 9
max_connections_per_ip = 2
max_line_length = 2000
reject_long_lines = true
command_timeout = 1.5
data_timeout = 60
[smtp]
bare_newline = "normalize"
bare_newline_exempt = ["10.0.0.0/8", "2001:db8::/32"]
vrfy = "verify"
expn = true
etrn = true
require_helo = false
[server]
worker_threads = 4
shutdown_grace = 2
)"));
  ASSERT_TRUE(c.has_value()) << c.error();
  EXPECT_EQ(c->server.session.hostname, "mx.example.org");
  EXPECT_EQ(c->log_level, "warn");
  ASSERT_EQ(c->server.listeners.size(), 2u);
  EXPECT_EQ(c->server.listeners[1].address, "::1");
  EXPECT_EQ(c->server.listeners[0].port, 25);
  EXPECT_EQ(c->directory.mail_root, "/srv/mail");
  EXPECT_EQ(c->directory.catch_all, std::optional<std::string>("postmaster@example.org"));
  EXPECT_TRUE(c->server.discard);
  EXPECT_EQ(c->directory.users.at("bob@example.org"), "/home/bob/Maildir");
  EXPECT_EQ(c->directory.aliases.at("info@example.org").size(), 2u);
  const auto& s = c->server.session;
  EXPECT_EQ(s.limits.max_message_size, 1000u);
  EXPECT_EQ(s.limits.max_recipients, 7u);
  EXPECT_EQ(s.limits.max_errors, 3u);
  EXPECT_EQ(s.limits.max_text_line, 2000u);
  EXPECT_TRUE(s.reject_long_lines);
  EXPECT_EQ(c->server.connect.max_connections, 9u);
  EXPECT_EQ(c->server.connect.max_per_client, 2u);
  EXPECT_EQ(c->server.command_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(c->server.data_timeout, std::chrono::seconds(60));
  EXPECT_EQ(s.bare_newline, smtp::BareNewlinePolicy::Normalize);
  EXPECT_EQ(c->server.bare_newline_exempt.size(), 2u);
  EXPECT_EQ(s.vrfy, smtp::VrfyMode::Verify);
  EXPECT_TRUE(s.expn);
  EXPECT_TRUE(s.etrn);
  EXPECT_FALSE(s.require_helo);
  EXPECT_EQ(c->server.worker_threads, 4u);
  EXPECT_TRUE(validate(*c).has_value());
}

struct BadCase {
  const char* text;
  const char* expect;  // substring of the error: key and line
};

class ConfigErrorTest : public ConfigTest, public ::testing::WithParamInterface<BadCase> {};

TEST_P(ConfigErrorTest, NamesTheKeyAndLine) {
  const auto path = write(GetParam().text);
  auto c = load_config(path);
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().find(GetParam().expect), std::string::npos) << c.error();
  EXPECT_EQ(c.error().rfind(path, 0), 0u) << "error should start with the file name: " << c.error();
}

INSTANTIATE_TEST_SUITE_P(
    Bad, ConfigErrorTest,
    ::testing::Values(
        BadCase{"hostname = \"x\"\nbogus = 1\n", ":2: bogus: unknown key"},
        BadCase{"[limits]\nmax_errors = \"many\"\n", ":2: limits.max_errors: expected an integer"},
        BadCase{"[limits]\nmax_recipients = 0\n", "limits.max_recipients: must be between"},
        BadCase{"[smtp]\nbare_newline = \"maybe\"\n", ":2: smtp.bare_newline: must be"},
        BadCase{"[smtp]\nbare_newline_exempt = [\"10.0.0.0/33\"]\n", "invalid network"},
        BadCase{"[smtp]\nvrfy = true\n", "smtp.vrfy: expected a string"},
        BadCase{"[delivery]\nmode = \"mbox\"\n", "delivery.mode: must be"},
        BadCase{"[delivery]\ndomains = \"example.org\"\n", "delivery.domains: expected an array"},
        BadCase{"[[listener]]\nport = 70000\n", "listener.port: must be between"},
        BadCase{"[[listener]]\nadress = \"1.2.3.4\"\n", "listener.adress: unknown key"},
        BadCase{"[limits]\ncommand_timeout = -1\n", "limits.command_timeout"},
        BadCase{"hostname = \n", ":1:"},
        BadCase{"[aliases]\n\"a@localhost\" = []\n", "needs at least one target"}));

TEST_F(ConfigTest, TheDeliveryJournalIsOnByDefaultBesideTheMaildirs) {
  Config c = default_config();
  EXPECT_TRUE(c.journal);
  EXPECT_EQ(journal_path_for(c), "./var/mail/.taube-journal");
  EXPECT_EQ(c.server.journal_size, 32u << 20);
  c.directory.mail_root = "/srv/mail";  // --mail-root moves it along
  EXPECT_EQ(journal_path_for(c), "/srv/mail/.taube-journal");
  c.server.discard = true;  // nothing to journal
  EXPECT_EQ(journal_path_for(c), "");

  auto off = load_config(write("[delivery]\njournal = false\n"));
  ASSERT_TRUE(off) << off.error();
  EXPECT_EQ(journal_path_for(*off), "");

  auto placed = load_config(
      write("[delivery]\njournal_path = \"/var/spool/taube/journal\"\njournal_size_mb = 8\n"));
  ASSERT_TRUE(placed) << placed.error();
  EXPECT_EQ(journal_path_for(*placed), "/var/spool/taube/journal");
  EXPECT_EQ(placed->server.journal_size, 8u << 20);

  auto bad = load_config(write("[delivery]\njournal_size_mb = 0\n"));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("delivery.journal_size_mb: must be between"), std::string::npos)
      << bad.error();
}

TEST_F(ConfigTest, ValidateChecksDirectory) {
  // A target in another domain is forwarded; one that is neither local nor an address is not.
  auto ok = load_config(write("[aliases]\n\"a@localhost\" = [\"x@elsewhere.net\"]\n"));
  ASSERT_TRUE(ok.has_value()) << ok.error();
  EXPECT_TRUE(validate(*ok).has_value());
  auto c = load_config(write("[aliases]\n\"a@localhost\" = [\"no-at-sign\"]\n"));
  ASSERT_TRUE(c.has_value()) << c.error();
  auto d = validate(*c);
  ASSERT_FALSE(d.has_value());
  EXPECT_NE(d.error().find("a@localhost"), std::string::npos) << d.error();
}

TEST(ParseListen, Forms) {
  auto a = parse_listen("127.0.0.1:2525");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->address, "127.0.0.1");
  EXPECT_EQ(a->port, 2525);
  auto b = parse_listen("[::1]:25");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->address, "::1");
  auto c = parse_listen(":0");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->address, "0.0.0.0");
  EXPECT_EQ(c->port, 0);
  EXPECT_FALSE(parse_listen("localhost"));
  EXPECT_FALSE(parse_listen("1.2.3.4:99999"));
  EXPECT_FALSE(parse_listen("1.2.3.4:x"));
}

}  // namespace
}  // namespace taube::app
