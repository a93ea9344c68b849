#include "store/journaled_delivery.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/failing_fs.hpp"

namespace taube::store {
namespace {

using test::FailingFs;
using test::list_dir;
using test::Op;
using test::read_file;
using test::TempDir;
using test::write_file;

struct Fixture {
  TempDir t;
  std::string a = t / "mail/a";
  std::string b = t / "mail/b";
  std::string journal = t / "journal";

  std::unique_ptr<DeliveryJournal> open_journal(Fs& fs = posix_fs()) {
    auto j = DeliveryJournal::open(fs, journal, DeliveryJournal::kMinSize);
    EXPECT_TRUE(j);
    return j ? std::move(*j) : nullptr;
  }
};

// A message as the SMTP side makes it: content written into the anonymous temp file.
std::optional<MaildirStore::Message> make_message(MaildirStore& store,
                                                  const std::vector<std::string>& dirs,
                                                  const std::string& content) {
  auto m = store.begin(dirs);
  EXPECT_TRUE(m);
  if (!m) return std::nullopt;
  EXPECT_TRUE(m->write(content));
  return std::move(*m);
}

// A JournaledDelivery that recovered (nothing) and runs its publisher.
std::unique_ptr<JournaledDelivery> started(MaildirStore& store, Fixture& f, Fs& fs = posix_fs()) {
  auto jd = std::make_unique<JournaledDelivery>(store, f.open_journal(fs), fs);
  EXPECT_TRUE(jd->recover(f.journal + ".rescue"));
  jd->start();
  return jd;
}

std::vector<std::string> new_files(const std::string& maildir) {
  return list_dir(maildir + "/new");
}

TEST(JournaledDelivery, AcceptedMessagesArePublishedIntoEveryNew) {
  Fixture f;
  MaildirStore store("host");
  auto started_jd = started(store, f);
  auto& jd = *started_jd;
  std::vector<std::string> names;
  for (int i = 0; i < 20; ++i) {
    auto m = make_message(store, {f.a, f.b}, "message " + std::to_string(i) + "\n");
    ASSERT_TRUE(m);
    names.push_back(m->unique_name());
    ASSERT_TRUE(jd.accept(m, "message " + std::to_string(i) + "\n"));
    EXPECT_FALSE(m) << "the journal took the message over";
  }
  // Published within the batch window, without a stop().
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while ((new_files(f.a).size() < 20 || new_files(f.b).size() < 20) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(read_file(f.a + "/new/" + names[i]), "message " + std::to_string(i) + "\n");
    EXPECT_EQ(read_file(f.b + "/new/" + names[i]), "message " + std::to_string(i) + "\n");
  }
  jd.stop();
  EXPECT_EQ(jd.outstanding(), 0u);
  EXPECT_TRUE(list_dir(f.a + "/tmp").empty());
  // Everything released: a restart finds nothing to deliver.
  JournaledDelivery again(store, f.open_journal());
  auto r = again.recover(f.journal + ".rescue");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->delivered + r->present + r->rescued, 0u);
}

TEST(JournaledDelivery, RefusesBeforeStartAndAfterStop) {
  Fixture f;
  MaildirStore store("host");
  JournaledDelivery jd(store, f.open_journal());
  ASSERT_TRUE(jd.recover(f.journal + ".rescue"));
  auto m = make_message(store, {f.a}, "x");
  EXPECT_FALSE(jd.accept(m, "x"));
  ASSERT_TRUE(m) << "a refused message stays with the caller";
  jd.start();
  jd.stop();
  EXPECT_FALSE(jd.accept(m, "x"));
  ASSERT_TRUE(m);
  ASSERT_TRUE(store.commit(*m));  // the direct path still works
  EXPECT_EQ(new_files(f.a).size(), 1u);
}

TEST(JournaledDelivery, ADestinationThatCannotTakeALinkIsLeftToTheDirectPath) {
  Fixture f;
  MaildirStore store("host");
  auto started_jd = started(store, f);
  auto& jd = *started_jd;
  ASSERT_TRUE(store.ensure_maildir(f.b));
  ::rmdir((f.b + "/new").c_str());
  write_file(f.b + "/new", "not a directory");
  auto m = make_message(store, {f.a, f.b}, "x");
  ASSERT_TRUE(m);
  EXPECT_FALSE(jd.accept(m, "x"));
  ASSERT_TRUE(m);
  EXPECT_FALSE(store.commit(*m));  // which reports the error to the client
  jd.stop();
  EXPECT_TRUE(new_files(f.a).empty());
}

TEST(JournaledDelivery, RecoveryDeliversWhatIsMissingAndSkipsWhatArrived) {
  Fixture f;
  MaildirStore store("host");
  {
    auto j = f.open_journal();
    ASSERT_TRUE(j->append("m1", {f.a, f.b}, "one\n"));
    ASSERT_TRUE(j->append("m2", {f.a}, "two\n"));
    ASSERT_TRUE(j->append("m3", {f.a, f.b}, "three\n"));
  }  // the crash
  // m2 had arrived and was read (moved to cur/ with flags); m3 arrived in a only.
  ASSERT_TRUE(store.ensure_maildir(f.a));
  write_file(f.a + "/cur/m2:2,S", "two\n");
  write_file(f.a + "/new/m3", "three\n");

  JournaledDelivery jd(store, f.open_journal());
  auto r = jd.recover(f.journal + ".rescue");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->delivered, 2u);  // m1 (both), m3 (b only)
  EXPECT_EQ(r->present, 1u);    // m2
  EXPECT_EQ(r->rescued, 0u);
  EXPECT_EQ(read_file(f.a + "/new/m1"), "one\n");
  EXPECT_EQ(read_file(f.b + "/new/m1"), "one\n");
  EXPECT_EQ(read_file(f.b + "/new/m3"), "three\n");
  EXPECT_EQ(new_files(f.a).size(), 2u);  // m1, m3: no second copy of m2
  EXPECT_EQ(list_dir(f.a + "/cur").size(), 1u);
  // The journal is empty now and takes new messages.
  jd.start();
  auto m = make_message(store, {f.a}, "new\n");
  EXPECT_TRUE(jd.accept(m, "new\n"));
  jd.stop();
  EXPECT_EQ(new_files(f.a).size(), 3u);
}

TEST(JournaledDelivery, AnUndeliverableRecordIsRescuedNotLost) {
  Fixture f;
  MaildirStore store("host");
  write_file(f.t / "blocker", "a file where a directory should be");
  const std::string broken = f.t / "blocker/user";
  {
    auto j = f.open_journal();
    ASSERT_TRUE(j->append("m1", {broken}, "precious\n"));
  }
  JournaledDelivery jd(store, f.open_journal());
  auto r = jd.recover(f.journal + ".rescue");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rescued, 1u);
  EXPECT_EQ(read_file(f.journal + ".rescue/m1"), "X-Taube-Rescued-For: " + broken + "\nprecious\n");
}

TEST(JournaledDelivery, AFailedLinkIsRetriedFromTheJournal) {
  Fixture f;
  FailingFs fs;
  MaildirStore store("host", fs);
  JournaledDelivery jd(store, f.open_journal(), fs);
  ASSERT_TRUE(jd.recover(f.journal + ".rescue"));
  ASSERT_TRUE(store.ensure_maildir(f.a));
  fs.fail_always(Op::Link, EIO);  // the publisher's link_fd fails
  jd.start();
  auto m = make_message(store, {f.a}, "retry me\n");
  ASSERT_TRUE(m);
  const std::string name = m->unique_name();
  ASSERT_TRUE(jd.accept(m, "retry me\n"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (fs.calls(Op::Link) == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_GE(fs.calls(Op::Link), 1);
  EXPECT_TRUE(new_files(f.a).empty());
  fs.fail_always(Op::Link, 0);
  jd.stop();  // retries once more before stopping: from the journal's copy (the direct path)
  EXPECT_EQ(read_file(f.a + "/new/" + name), "retry me\n");
  EXPECT_TRUE(list_dir(f.a + "/tmp").empty());
}

TEST(JournaledDelivery, AMessageStillFailingAtStopStaysInTheJournal) {
  Fixture f;
  FailingFs fs;
  MaildirStore store("host", fs);
  std::string name;
  {
    JournaledDelivery jd(store, f.open_journal(), fs);
    ASSERT_TRUE(jd.recover(f.journal + ".rescue"));
    ASSERT_TRUE(store.ensure_maildir(f.a));
    jd.start();
    auto m = make_message(store, {f.a}, "later\n");
    ASSERT_TRUE(m);
    name = m->unique_name();
    fs.fail_always(Op::Link, EIO);
    ASSERT_TRUE(jd.accept(m, "later\n"));
    jd.stop();
    EXPECT_TRUE(new_files(f.a).empty());
  }
  // The next start delivers it.
  MaildirStore healthy("host");
  JournaledDelivery jd(healthy, f.open_journal());
  auto r = jd.recover(f.journal + ".rescue");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->delivered, 1u);
  EXPECT_EQ(read_file(f.a + "/new/" + name), "later\n");
}

TEST(JournaledDelivery, WhenSyncfsFailsEachFileIsFsynced) {
  Fixture f;
  FailingFs fs;
  fs.fail_always(Op::Syncfs, EIO);
  MaildirStore store("host");
  auto started_jd = started(store, f, fs);
  auto& jd = *started_jd;
  for (int i = 0; i < 5; ++i) {
    auto m = make_message(store, {f.a}, "m\n");
    ASSERT_TRUE(jd.accept(m, "m\n"));
  }
  jd.stop();
  EXPECT_EQ(new_files(f.a).size(), 5u);
  EXPECT_GE(fs.calls(Op::Fsync), 5);
}

TEST(JournaledDelivery, ConcurrentAcceptsArePublishedExactlyOnce) {
  Fixture f;
  MaildirStore store("host");
  auto started_jd = started(store, f);
  auto& jd = *started_jd;
  constexpr int kThreads = 8;
  constexpr int kEach = 60;
  std::vector<std::thread> threads;
  std::atomic<int> taken{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int k = 0; k < kEach; ++k) {
        const std::string body = "t" + std::to_string(i) + "." + std::to_string(k) + "\n";
        auto m = make_message(store, {f.a}, body);
        if (!m) continue;
        if (jd.accept(m, body)) {
          ++taken;
        } else if (store.commit(*m)) {
          ++taken;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  jd.stop();
  EXPECT_EQ(taken.load(), kThreads * kEach);
  auto files = new_files(f.a);
  EXPECT_EQ(files.size(), static_cast<std::size_t>(kThreads * kEach));
  std::set<std::string> bodies;
  for (const auto& n : files) bodies.insert(read_file(f.a + "/new/" + n));
  EXPECT_EQ(bodies.size(), files.size());
}

}  // namespace
}  // namespace taube::store
