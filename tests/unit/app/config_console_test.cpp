// The [console] table: users_file turns it on; its own listener (loopback only) or the metrics
// one; session times; errors naming the key and line.
#include <gtest/gtest.h>

#include <string>

#include "app/config.hpp"
#include "app/config_files.hpp"

namespace taube::app {
namespace {

using ConfigConsoleTest = test::ConfigFiles;

TEST_F(ConfigConsoleTest, OffByDefault) {
  EXPECT_FALSE(default_config().console.enabled);
  auto c = load_config(write("[metrics]\nlisten = \"127.0.0.1:9154\"\n"));
  ASSERT_TRUE(c) << c.error();
  EXPECT_FALSE(c->console.enabled);
}

TEST_F(ConfigConsoleTest, OwnListenerByDefaultOnLoopback) {
  auto c =
      load_config(write("[auth]\nusers_file = \"mail-users\"\n[console]\n"
                        "users_file = \"admins\"\nsession_lifetime = 600\n"
                        "session_idle = 120\nsecure_cookie = true\nmax_login_failures = 3\n"));
  ASSERT_TRUE(c) << c.error();
  const auto& k = c->console;
  EXPECT_TRUE(k.enabled);
  EXPECT_EQ(k.users_file, "admins");
  EXPECT_EQ(k.mail_users_file, "mail-users");
  ASSERT_TRUE(k.listen);
  EXPECT_EQ(k.listen->address, "127.0.0.1");
  EXPECT_EQ(k.listen->port, 9155);
  EXPECT_EQ(k.listen->name, "console");
  EXPECT_EQ(k.sessions.lifetime, std::chrono::seconds(600));
  EXPECT_EQ(k.sessions.idle, std::chrono::seconds(120));
  EXPECT_TRUE(k.secure_cookie);
  EXPECT_EQ(k.login_throttle.max_failures, 3u);
}

TEST_F(ConfigConsoleTest, SharesTheMetricsListenerWhenNoListenIsGiven) {
  auto c =
      load_config(write("[metrics]\nlisten = \"127.0.0.1:9154\"\n[console]\n"
                        "users_file = \"admins\"\n"));
  ASSERT_TRUE(c) << c.error();
  EXPECT_TRUE(c->console.enabled);
  EXPECT_FALSE(c->console.listen);
  auto own =
      load_config(write("[metrics]\nlisten = \"127.0.0.1:9154\"\n[console]\n"
                        "users_file = \"admins\"\nlisten = \"[::1]:0\"\n"));
  ASSERT_TRUE(own) << own.error();
  ASSERT_TRUE(own->console.listen);
  EXPECT_EQ(own->console.listen->address, "::1");
}

TEST_F(ConfigConsoleTest, ErrorsNameTheKeyAndLine) {
  auto none = load_config(write("[console]\nlisten = \"127.0.0.1:9155\"\n"));
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().find("console.users_file: required"), std::string::npos) << none.error();
  auto remote = load_config(write("[console]\nusers_file = \"a\"\n\nlisten = \"0.0.0.0:9155\"\n"));
  ASSERT_FALSE(remote);
  EXPECT_NE(remote.error().find(":4: console.listen: 0.0.0.0 is not a loopback address"),
            std::string::npos)
      << remote.error();
  auto metrics_remote =
      load_config(write("[metrics]\nlisten = \"0.0.0.0:9154\"\n[console]\n"
                        "users_file = \"a\"\n"));
  ASSERT_FALSE(metrics_remote);
  EXPECT_NE(metrics_remote.error().find("console.listen: the [metrics] listener 0.0.0.0"),
            std::string::npos)
      << metrics_remote.error();
  auto bad = load_config(write("[console]\nusers_file = \"a\"\nlisten = \"localhost\"\n"));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find(":3: console.listen: \"localhost\": expected ADDR:PORT"),
            std::string::npos)
      << bad.error();
  auto idle =
      load_config(write("[console]\nusers_file = \"a\"\nsession_lifetime = 600\n"
                        "session_idle = 601\n"));
  ASSERT_FALSE(idle);
  EXPECT_NE(idle.error().find(":4: console.session_idle: longer than session_lifetime"),
            std::string::npos)
      << idle.error();
  auto small = load_config(write("[console]\nusers_file = \"a\"\nsession_lifetime = 1\n"));
  ASSERT_FALSE(small);
  EXPECT_NE(small.error().find("console.session_lifetime: must be between 60 and"),
            std::string::npos)
      << small.error();
  auto unknown = load_config(write("[console]\nusers_file = \"a\"\nport = 1\n"));
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().find("console.port: unknown key"), std::string::npos);
}

TEST_F(ConfigConsoleTest, OffLoopbackOnlyWithTls) {
  auto c =
      load_config(write("[console]\nusers_file = \"a\"\nlisten = \"0.0.0.0:9155\"\n"
                        "tls = true\n"));
  ASSERT_TRUE(c) << c.error();
  EXPECT_TRUE(c->console.tls);
  EXPECT_EQ(c->console.listen->address, "0.0.0.0");
  // HTTPS needs the server's certificate.
  auto none =
      load_config(write("[tls]\nenabled = false\n[console]\nusers_file = \"a\"\n"
                        "tls = true\n"));
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().find(":5: console.tls: needs the server's certificate"), std::string::npos)
      << none.error();
  // tls = true never shares the (plaintext) metrics listener: its own default one.
  auto own =
      load_config(write("[metrics]\nlisten = \"127.0.0.1:9154\"\n[console]\n"
                        "users_file = \"a\"\ntls = true\n"));
  ASSERT_TRUE(own) << own.error();
  ASSERT_TRUE(own->console.listen);
  EXPECT_EQ(own->console.listen->port, 9155);
}

TEST_F(ConfigConsoleTest, NeverOnAnSmtpOrTheMetricsListener) {
  auto smtp =
      load_config(write("[[listener]]\naddress = \"127.0.0.1\"\nport = 2525\n"
                        "[console]\nusers_file = \"a\"\nlisten = \"127.0.0.1:2525\"\n"));
  ASSERT_FALSE(smtp);
  EXPECT_NE(smtp.error().find("console.listen: 127.0.0.1:2525 is the address of the SMTP "
                              "listener 127.0.0.1:2525"),
            std::string::npos)
      << smtp.error();
  auto metrics =
      load_config(write("[metrics]\nlisten = \"127.0.0.1:9154\"\n[console]\n"
                        "users_file = \"a\"\nlisten = \"127.0.0.1:9154\"\n"));
  ASSERT_FALSE(metrics);
  EXPECT_NE(metrics.error().find("is the address of the [metrics] listener"), std::string::npos)
      << metrics.error();
}

}  // namespace
}  // namespace taube::app
