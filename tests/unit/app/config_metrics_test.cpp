// The [metrics] table: listen (off unless set, never an SMTP listener's address and port),
// request_timeout, max_connections.
#include <gtest/gtest.h>

#include <string>

#include "app/config.hpp"
#include "app/config_files.hpp"
#include "app/config_metrics.hpp"

namespace taube::app {
namespace {

using ConfigMetricsTest = test::ConfigFiles;

TEST_F(ConfigMetricsTest, OffByDefault) {
  EXPECT_FALSE(default_config().server.http);
  auto c = load_config(write("[metrics]\nrequest_timeout = 3\n"));
  ASSERT_TRUE(c) << c.error();
  EXPECT_FALSE(c->server.http);
}

TEST_F(ConfigMetricsTest, Read) {
  auto c = load_config(write(R"(
[metrics]
listen = "127.0.0.1:9154"
request_timeout = 2.5
max_connections = 8
)"));
  ASSERT_TRUE(c) << c.error();
  ASSERT_TRUE(c->server.http);
  EXPECT_EQ(c->server.http->address, "127.0.0.1");
  EXPECT_EQ(c->server.http->port, 9154);
  EXPECT_EQ(c->server.http->request_timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(c->server.http->max_connections, 8u);
  auto v6 = load_config(write("[metrics]\nlisten = \"[::1]:0\"\n"));
  ASSERT_TRUE(v6) << v6.error();
  EXPECT_EQ(v6->server.http->address, "::1");
  EXPECT_EQ(v6->server.http->port, 0);
}

TEST_F(ConfigMetricsTest, ErrorsNameTheKeyAndLine) {
  auto bad = load_config(write("[metrics]\n\nlisten = \"localhost\"\n"));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find(":3: metrics.listen: \"localhost\": expected ADDR:PORT"),
            std::string::npos)
      << bad.error();
  auto name = load_config(write("[metrics]\nlisten = \"metrics.host:9154\"\n"));
  ASSERT_FALSE(name);
  EXPECT_NE(name.error().find(":2: metrics.listen: \"metrics.host\" is not an IP address"),
            std::string::npos)
      << name.error();
  auto unknown = load_config(write("[metrics]\nport = 1\n"));
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().find("metrics.port: unknown key"), std::string::npos);
}

TEST_F(ConfigMetricsTest, NeverOnAnSmtpListener) {
  const std::string listeners = R"([[listener]]
address = "127.0.0.1"
port = 2525
[[listener]]
address = "::"
port = 587
)";
  for (const auto& [listen, clash] :
       std::vector<std::pair<std::string, std::string>>{{"127.0.0.1:2525", "127.0.0.1:2525"},
                                                        {"0.0.0.0:2525", "127.0.0.1:2525"},
                                                        {"[::1]:587", "[::]:587"},
                                                        {"127.0.0.1:587", "[::]:587"}}) {
    auto c = load_config(write(listeners + "[metrics]\nlisten = \"" + listen + "\"\n"));
    ASSERT_FALSE(c) << listen;
    EXPECT_NE(c.error().find(":8: metrics.listen: " + listen +
                             " is the address of the SMTP listener " + clash),
              std::string::npos)
        << c.error();
  }
  // Another port, another address of the same port, or port 0 (the kernel picks): fine.
  for (const std::string listen : {"127.0.0.1:9154", "127.0.0.2:2525"}) {
    auto c = load_config(write(listeners + "[metrics]\nlisten = \"" + listen + "\"\n"));
    EXPECT_TRUE(c) << c.error();
  }
  auto zero = load_config(write("[[listener]]\nport = 0\n[metrics]\nlisten = \"127.0.0.1:0\"\n"));
  EXPECT_TRUE(zero) << zero.error();
}

TEST_F(ConfigMetricsTest, ValidateCatchesCommandLineListeners) {
  auto c = load_config(write("[metrics]\nlisten = \"127.0.0.1:2600\"\n"));
  ASSERT_TRUE(c) << c.error();
  auto cfg = *c;
  cfg.server.listeners = {*parse_listen("127.0.0.1:2600")};  // as --listen does
  auto v = validate(cfg);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error(),
            "metrics.listen: 127.0.0.1:2600 is the address of the SMTP listener 127.0.0.1:2600");
}

}  // namespace
}  // namespace taube::app
