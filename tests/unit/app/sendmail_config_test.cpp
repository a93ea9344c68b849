// What `taube sendmail` reads of the configuration (app/sendmail_config.hpp): only its keys, so
// that a secret named elsewhere in the file (unreadable for an ordinary user) does not matter.
#include "app/sendmail_config.hpp"

#include <gtest/gtest.h>

#include "app/config.hpp"
#include "app/config_files.hpp"

namespace taube::app {
namespace {

using SendmailConfigTest = test::ConfigFiles;

TEST_F(SendmailConfigTest, DefaultsWithoutAFile) {
  auto c = load_submitter_config("");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->submit_socket, "./var/submit.sock");
  EXPECT_EQ(c->hostname, default_config().server.session.hostname);
  EXPECT_EQ(c->origin, default_config().directory.domains.front());
}

TEST_F(SendmailConfigTest, ItsKeysAndNothingElse) {
  // The SRS secret file does not exist: load_config would refuse this file, sendmail must not.
  const std::string path = write(
      "hostname = \"mx.example.org\"\n[delivery]\ndomains = [\"example.org\", \"example.net\"]\n"
      "[queue]\nsubmit_socket = \"/run/taube/submit.sock\"\n"
      "[srs]\nenabled = true\nsecret_file = \"/nonexistent/srs.secret\"\n");
  EXPECT_FALSE(load_config(path));
  auto c = load_submitter_config(path);
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->hostname, "mx.example.org");
  EXPECT_EQ(c->origin, "example.org");
  EXPECT_EQ(c->submit_socket, "/run/taube/submit.sock");
}

TEST_F(SendmailConfigTest, NoDomainsMeansTheHostNameAndBadTypesAreErrors) {
  auto c = load_submitter_config(write("hostname = \"h.test\"\n[delivery]\ndomains = []\n"));
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->origin, "h.test");
  auto bad = load_submitter_config(write("[queue]\nsubmit_socket = 1\n"));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("queue.submit_socket"), std::string::npos) << bad.error();
  auto syntax = load_submitter_config(write("hostname = \n"));
  ASSERT_FALSE(syntax);
  EXPECT_NE(syntax.error().find(":1:"), std::string::npos) << syntax.error();
  EXPECT_FALSE(load_submitter_config("/nonexistent/taube.toml"));
}

}  // namespace
}  // namespace taube::app
