// [queue] journal_size_mb: the queue's journal (store/queue_store.hpp) is on by default with
// 64 MiB, 0 turns it off, and a bad value names the key and its line.
#include <gtest/gtest.h>

#include <string>

#include "app/config.hpp"
#include "app/config_files.hpp"

namespace taube::app {
namespace {

using ConfigQueueTest = test::ConfigFiles;

TEST_F(ConfigQueueTest, TheQueueJournalIsOnByDefaultAndCanBeSizedOrTurnedOff) {
  auto def = load_config(write("[queue]\npath = \"/tmp/q\"\n"));
  ASSERT_TRUE(def) << def.error();
  EXPECT_EQ(def->server.outbound.queue_journal_size, std::uint64_t{64} << 20);
  auto sized = load_config(write("[queue]\njournal_size_mb = 8\n"));
  ASSERT_TRUE(sized) << sized.error();
  EXPECT_EQ(sized->server.outbound.queue_journal_size, std::uint64_t{8} << 20);
  auto off = load_config(write("[queue]\njournal_size_mb = 0\n"));
  ASSERT_TRUE(off) << off.error();
  EXPECT_EQ(off->server.outbound.queue_journal_size, 0u);
}

TEST_F(ConfigQueueTest, ABadJournalSizeNamesTheKeyAndItsLine) {
  auto big = load_config(write("[queue]\n\njournal_size_mb = 5000\n"));
  ASSERT_FALSE(big);
  EXPECT_NE(big.error().find("journal_size_mb"), std::string::npos) << big.error();
  EXPECT_NE(big.error().find("3"), std::string::npos) << big.error();
  auto text = load_config(write("[queue]\njournal_size_mb = \"big\"\n"));
  ASSERT_FALSE(text);
  EXPECT_NE(text.error().find("journal_size_mb"), std::string::npos) << text.error();
}

}  // namespace
}  // namespace taube::app
