// [queue] submit_socket: the local submission socket of `taube sendmail` (net/submit_server.hpp,
// docs/sendmail.md): on by default at ./var/submit.sock, "" turns it off, too long a path is an
// error naming the key; a reload cannot move it.
#include <gtest/gtest.h>

#include <string>

#include "app/config.hpp"
#include "app/config_files.hpp"
#include "app/config_reload.hpp"

namespace taube::app {
namespace {

using ConfigSubmitSocketTest = test::ConfigFiles;

TEST_F(ConfigSubmitSocketTest, DefaultsSetAndOff) {
  EXPECT_EQ(default_config().server.submit_socket, "./var/submit.sock");
  auto set = load_config(write("[queue]\nsubmit_socket = \"/run/taube/submit.sock\"\n"));
  ASSERT_TRUE(set) << set.error();
  EXPECT_EQ(set->server.submit_socket, "/run/taube/submit.sock");
  auto off = load_config(write("[queue]\nsubmit_socket = \"\"\n"));
  ASSERT_TRUE(off) << off.error();
  EXPECT_EQ(off->server.submit_socket, "");
}

TEST_F(ConfigSubmitSocketTest, APathLongerThanSunPathIsRefused) {
  auto bad = load_config(write("[queue]\nsubmit_socket = \"/" + std::string(120, 'x') + "\"\n"));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("submit_socket"), std::string::npos) << bad.error();
  auto typed = load_config(write("[queue]\nsubmit_socket = 3\n"));
  ASSERT_FALSE(typed);
  EXPECT_NE(typed.error().find("submit_socket"), std::string::npos) << typed.error();
}

TEST_F(ConfigSubmitSocketTest, ItIsRestartOnly) {
  // The socket is bound at start: a reload keeps the running one and names the key.
  auto running = load_config(write("[queue]\nsubmit_socket = \"/run/a.sock\"\n"));
  auto next = load_config(write("[queue]\nsubmit_socket = \"/run/b.sock\"\n"));
  ASSERT_TRUE(running && next);
  const auto notes = keep_restart_only(*running, *next);
  EXPECT_EQ(notes, std::vector<std::string>{"queue.submit_socket"});
  EXPECT_EQ(next->server.submit_socket, "/run/a.sock");
}

}  // namespace
}  // namespace taube::app
