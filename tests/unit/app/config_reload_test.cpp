// SIGHUP: keep_restart_only() puts back what only a restart can change and names its keys;
// everything else of the new file is applied.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "app/config_files.hpp"
#include "app/config_reload.hpp"

namespace taube::app {
namespace {

using ConfigReloadTest = test::ConfigFiles;

bool named(const std::vector<std::string>& notes, const std::string& key) {
  return std::find(notes.begin(), notes.end(), key) != notes.end();
}

TEST_F(ConfigReloadTest, TheSameFileChangesNothing) {
  auto a = load_config(
      write("[delivery]\nmail_root = \"/tmp/m\"\n[metrics]\nlisten = \"127.0.0.1:9\"\n"));
  ASSERT_TRUE(a) << a.error();
  Config b = *a;
  EXPECT_TRUE(keep_restart_only(*a, b).empty());
}

TEST_F(ConfigReloadTest, RestartOnlyKeysAreKeptAndNamedOnce) {
  auto running = load_config(
      write("hostname = \"mx.test\"\n[[listener]]\naddress = \"127.0.0.1\"\nport = 2525\n"
            "[delivery]\nmail_root = \"/tmp/a\"\n[queue]\npath = \"/tmp/qa\"\n[dns]\nservers = "
            "[\"127.0.0.1\"]\n[server]\nworker_threads = 4\n"));
  ASSERT_TRUE(running) << running.error();
  auto next = load_config(
      write("hostname = \"other.test\"\n[[listener]]\naddress = \"127.0.0.1\"\nport = 2526\n"
            "[delivery]\nmail_root = \"/tmp/b\"\n[queue]\npath = \"/tmp/qb\"\nretry_min = 77\n"
            "[dns]\nservers = [\"127.0.0.2\"]\n[server]\nworker_threads = 8\n"
            "[limits]\nmax_message_size = 1234\n[metrics]\nlisten = \"127.0.0.1:9\"\n"));
  ASSERT_TRUE(next) << next.error();
  const auto notes = keep_restart_only(*running, *next);
  for (const char* k : {"listener", "hostname", "delivery.mail_root", "queue.path", "dns.servers",
                        "server.worker_threads", "metrics.listen"})
    EXPECT_TRUE(named(notes, k)) << k;
  EXPECT_EQ(std::count(notes.begin(), notes.end(), "dns.servers"), 1);
  // Put back...
  EXPECT_EQ(next->server.listeners, running->server.listeners);
  EXPECT_EQ(next->server.session.hostname, "mx.test");
  EXPECT_EQ(next->directory.mail_root, "/tmp/a");
  EXPECT_EQ(next->server.outbound.queue_path, "/tmp/qa");
  EXPECT_EQ(next->server.outbound.dns_servers, running->server.outbound.dns_servers);
  EXPECT_EQ(next->server.worker_threads, 4u);
  EXPECT_FALSE(next->server.http.has_value());
  // ...while the reloadable keys of the same file stay as the new file says.
  EXPECT_EQ(next->server.session.limits.max_message_size, 1234u);
  EXPECT_EQ(next->server.outbound.retry.retry_min.count(), 77);
  EXPECT_FALSE(named(notes, "limits.max_message_size"));
}

TEST_F(ConfigReloadTest, PolicyKeysAreNotRestartOnly) {
  auto running = load_config(write("[delivery]\ndomains = [\"a.test\"]\n"));
  auto next = load_config(
      write("[delivery]\ndomains = [\"a.test\", \"b.test\"]\n[relay]\nnetworks = [\"10.0.0.0/8\"]\n"
            "[auth]\nmax_failures = 3\n[aliases]\n\"x@a.test\" = [\"y@a.test\"]\n"
            "[transport]\n\"remote.test\" = \"smtp:[127.0.0.2]:2526\"\n"));
  ASSERT_TRUE(running) << running.error();
  ASSERT_TRUE(next) << next.error();
  EXPECT_TRUE(keep_restart_only(*running, *next).empty());
  EXPECT_EQ(next->directory.domains.size(), 2u);
  EXPECT_EQ(next->server.relay.networks.size(), 1u);
  EXPECT_EQ(next->server.outbound.routing.transports.size(), 1u);
}

}  // namespace
}  // namespace taube::app
