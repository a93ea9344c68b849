// [queue] history_size_mb: the delivery history (store/delivery_history.hpp) is on by default
// with 64 MiB, 0 turns it off, and a bad value names the key and its line.
#include <gtest/gtest.h>

#include <string>

#include "app/config.hpp"
#include "app/config_files.hpp"

namespace taube::app {
namespace {

using ConfigHistoryTest = test::ConfigFiles;

TEST_F(ConfigHistoryTest, TheHistoryIsOnByDefaultAndCanBeSizedOrTurnedOff) {
  auto def = load_config(write("[queue]\npath = \"/tmp/q\"\n"));
  ASSERT_TRUE(def) << def.error();
  EXPECT_EQ(def->server.outbound.history_size, std::uint64_t{64} << 20);
  auto sized = load_config(write("[queue]\nhistory_size_mb = 1\n"));
  ASSERT_TRUE(sized) << sized.error();
  EXPECT_EQ(sized->server.outbound.history_size, std::uint64_t{1} << 20);
  auto off = load_config(write("[queue]\nhistory_size_mb = 0\n"));
  ASSERT_TRUE(off) << off.error();
  EXPECT_EQ(off->server.outbound.history_size, 0u);
}

TEST_F(ConfigHistoryTest, ABadHistorySizeNamesTheKeyAndItsLine) {
  for (const char* bad : {"-1", "65537", "\"big\"", "1.5"}) {
    auto r = load_config(write(std::string("[queue]\n\nhistory_size_mb = ") + bad + "\n"));
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().find("queue.history_size_mb"), std::string::npos) << r.error();
    EXPECT_NE(r.error().find("3"), std::string::npos) << r.error();
  }
}

}  // namespace
}  // namespace taube::app
