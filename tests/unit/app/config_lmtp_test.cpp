// [transport] lmtp: entries: parsed and checked when the file is read (errors name the key), and
// a local domain with such an entry keeps its users here but its mailboxes in that store.
#include <gtest/gtest.h>

#include <string>

#include "app/config.hpp"
#include "app/config_files.hpp"
#include "app/config_outbound.hpp"

namespace taube::app {
namespace {

using ConfigLmtpTest = test::ConfigFiles;

TEST_F(ConfigLmtpTest, ALocalDomainWithAnLmtpEntryIsDeliveredToTheStore) {
  auto c = load_config(write(R"(
[delivery]
domains = ["example.org", "store.test"]
[users]
"alice@example.org" = ""
"bob@store.test" = ""
[transport]
"Store.Test" = "lmtp:unix:/run/dovecot/lmtp"
"tcp.test" = "lmtp:[127.0.0.1]:2424"
)"));
  ASSERT_TRUE(c) << c.error();
  const auto& t = c->server.outbound.routing.transports;
  ASSERT_TRUE(t.contains("store.test"));
  auto dir = validate(*c);
  ASSERT_TRUE(dir) << dir.error();
  EXPECT_EQ(dir->config().store_domains, std::vector<std::string>{"store.test"});
  auto bob = dir->resolve("bob", "store.test");
  EXPECT_EQ(bob.verdict, policy::Verdict::Local);
  EXPECT_TRUE(bob.maildirs.empty());
  EXPECT_EQ(bob.remote, std::vector<std::string>{"bob@store.test"});
  EXPECT_EQ(dir->resolve("nobody", "store.test").verdict, policy::Verdict::UserUnknown);
  EXPECT_FALSE(dir->resolve("alice", "example.org").maildirs.empty());
  // tcp.test is not local: an lmtp: route for relayed mail, nothing for the directory.
  EXPECT_EQ(dir->resolve("x", "tcp.test").verdict, policy::Verdict::RelayDenied);
  for (const auto& w : outbound_warnings(*c)) EXPECT_EQ(w.find("transport."), std::string::npos);
}

TEST_F(ConfigLmtpTest, BadEntriesNameTheKeyAndLine) {
  struct Case {
    const char* entry;
    const char* expect;
  };
  for (const Case& k : {Case{"lmtp:dovecot.test", "no port"}, Case{"lmtp:127.0.0.1:25", "RFC 2033"},
                        Case{"lmtp:unix:private/dovecot-lmtp", "must be absolute"},
                        Case{"lmtp:unix:", "no socket path"}}) {
    auto c =
        load_config(write(std::string("[transport]\n\n\"store.test\" = \"") + k.entry + "\"\n"));
    ASSERT_FALSE(c) << k.entry;
    EXPECT_NE(c.error().find(":3: transport.store.test: "), std::string::npos) << c.error();
    EXPECT_NE(c.error().find(k.expect), std::string::npos) << c.error();
  }
}

TEST_F(ConfigLmtpTest, OtherEntriesOfALocalDomainAreReportedAsUnused) {
  auto c = load_config(write(R"(
[delivery]
domains = ["example.org"]
[transport]
"example.org" = "smtp:[192.0.2.1]:25"
)"));
  ASSERT_TRUE(c) << c.error();
  auto dir = validate(*c);
  ASSERT_TRUE(dir) << dir.error();
  EXPECT_TRUE(dir->config().store_domains.empty());
  bool warned = false;
  for (const auto& w : outbound_warnings(*c))
    warned = warned || w.find("transport.\"example.org\"") != std::string::npos;
  EXPECT_TRUE(warned);
}

TEST_F(ConfigLmtpTest, DomainsReplacedAfterTheFileAreHonoured) {
  // --domains replaces delivery.domains after the file: validate() decides on the final list.
  auto c = load_config(write("[transport]\n\"store.test\" = \"lmtp:unix:/run/lmtp\"\n"));
  ASSERT_TRUE(c) << c.error();
  EXPECT_TRUE(validate(*c)->config().store_domains.empty());  // not local: a route only
  c->directory.domains = {"store.test"};
  EXPECT_EQ(validate(*c)->config().store_domains, std::vector<std::string>{"store.test"});
}

}  // namespace
}  // namespace taube::app
