// QueueStore's journal (the fast path of queue_store.hpp): a small relayed message is durable as
// one journal record, served from memory, and leaves no file when it is delivered at once; an
// item that stays is written out as queue files; what a crash leaves in the journal is filed at
// the next open, except records whose item was finished (journal.done).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "store/delivery_journal.hpp"
#include "store/failing_fs.hpp"
#include "store/maildir_store.hpp"
#include "store/queue_store.hpp"
#include "store/spool_sink.hpp"

namespace taube::store {
namespace {

using test::list_dir;
using test::read_file;
using test::TempDir;

constexpr std::uint64_t kSize = 1 << 20;

MessageInfo relay_info(const std::string& id) {
  MessageInfo info;
  info.queue_id = id;
  info.arrival = 1700000000;
  info.envelope.sender = smtp::Path{*smtp::parse_mailbox("alice@local.test"), false};
  smtp::Recipient r;
  r.mailbox = *smtp::parse_mailbox("bob@remote.test");
  r.destinations.push_back({smtp::Destination::Route::Queue, "bob@remote.test"});
  info.envelope.recipients.push_back(r);
  return info;
}

// A queue with its journal open and the spool sink filing into it; `names` collects what the
// sink hands to the runner.
struct JournalQueue {
  TempDir dir;
  MaildirStore maildir{"host.test"};
  std::unique_ptr<QueueStore> q;
  std::unique_ptr<RelaySpoolSink> sink;
  std::mutex mu;
  std::vector<std::string> names;
  std::vector<std::shared_ptr<const std::string>> contents;

  JournalQueue() { reopen(); }
  // A new QueueStore on the same directory (the next start).
  JournalRecovery reopen() {
    sink.reset();
    q.reset();
    q = std::make_unique<QueueStore>(dir / "queue");
    auto r = q->open_journal(kSize);
    EXPECT_TRUE(r);
    sink = std::make_unique<RelaySpoolSink>(maildir, *q);
    sink->on_queued([this](const std::string& name, const queue::QueueEnvelope&,
                           std::shared_ptr<const std::string> content) {
      std::lock_guard l(mu);
      names.push_back(name);
      contents.push_back(std::move(content));
    });
    return r ? *r : JournalRecovery{};
  }
  std::string spool(const std::string& id, const std::string& body) {
    auto w = sink->begin(relay_info(id), "Received: x\n");
    w->append(body);
    EXPECT_TRUE(w->commit("Received: x\n").ok());
    std::lock_guard l(mu);
    return names.back();
  }
  std::vector<std::string> files(const char* sub) {
    return list_dir(dir / ("queue/" + std::string(sub)));
  }
};

TEST(QueueJournal, ADeliveredItemNeverBecomesAFile) {
  JournalQueue jq;
  const std::string name = jq.spool("J1", "Subject: hi\n\nbody\n");
  EXPECT_EQ(jq.q->journalled(), 1u);
  EXPECT_TRUE(jq.files("new").empty());
  EXPECT_TRUE(jq.files("env").empty());
  auto msg = jq.q->read_message(name);
  ASSERT_TRUE(msg);
  EXPECT_EQ(*msg, "Received: x\nSubject: hi\n\nbody\n");
  ASSERT_TRUE(jq.contents.back());
  EXPECT_EQ(*jq.contents.back(), *msg);
  auto env = jq.q->load(name);
  ASSERT_TRUE(env) << env.error();
  EXPECT_EQ(env->id, "J1");

  ASSERT_TRUE(jq.q->remove(name));
  EXPECT_EQ(jq.q->journalled(), 0u);
  EXPECT_EQ(jq.q->tidy(true), 0u);
  EXPECT_TRUE(jq.files("new").empty());
  EXPECT_TRUE(jq.files("env").empty());
  EXPECT_TRUE(jq.files("tmp").empty());
  // The release is on record for the next start.
  EXPECT_NE(read_file(jq.dir / "queue/journal.done.0").find(" " + name + "\n"), std::string::npos);
}

TEST(QueueJournal, AnUpdatedItemIsWrittenOutWithItsNewState) {
  JournalQueue jq;
  const std::string name = jq.spool("J2", "a\n");
  auto env = *jq.q->load(name);
  env.recipients[0].state = queue::RecipientState::Deferred;
  env.recipients[0].attempts = 1;
  env.recipients[0].last_reply = "451 4.7.1 try later";
  ASSERT_TRUE(jq.q->update(name, env));
  EXPECT_EQ(jq.q->journalled(), 0u);
  EXPECT_EQ(jq.files("env"), std::vector<std::string>{name});
  EXPECT_EQ(jq.files("new"), std::vector<std::string>{name});
  EXPECT_EQ(read_file(jq.q->message_path(name)), "Received: x\na\n");
  auto again = jq.q->load(name);
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ(*again, env);
  // From now on it is an item in files like any other.
  env.recipients[0].attempts = 2;
  ASSERT_TRUE(jq.q->update(name, env));
  EXPECT_EQ(jq.q->load(name)->recipients[0].attempts, 2u);
  ASSERT_TRUE(jq.q->remove(name));
  EXPECT_TRUE(jq.files("new").empty());
}

TEST(QueueJournal, AnItemStillWaitingAfterTheHoldIsWrittenOut) {
  JournalQueue jq;
  jq.q->set_journal_hold(std::chrono::milliseconds(20));
  const std::string name = jq.spool("J3", "waiting\n");
  for (int i = 0; i < 500 && jq.q->journalled() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(jq.q->journalled(), 0u);
  auto scan = jq.q->scan();
  ASSERT_TRUE(scan);
  ASSERT_EQ(scan->items.size(), 1u);
  EXPECT_EQ(scan->items[0].name, name);
  EXPECT_EQ(scan->items[0].envelope.id, "J3");
  EXPECT_EQ(*jq.q->read_message(name), "Received: x\nwaiting\n");
}

TEST(QueueJournal, LargeMessagesTakeTheFileWay) {
  JournalQueue jq;
  const std::string big(RelaySpoolSink::kKeepContent + 1, 'b');
  auto w = jq.sink->begin(relay_info("BIG"), "Received: x\n");
  w->append(big);
  w->flush();
  ASSERT_TRUE(w->commit("Received: x\n").ok());
  EXPECT_EQ(jq.q->journalled(), 0u);
  EXPECT_EQ(jq.files("new").size(), 1u);
  EXPECT_FALSE(jq.contents.back());
}

// kill -9 (abandon_journal: the publisher stops, nothing written out): the next open files the
// items whose records were not finished and only those.
TEST(QueueJournal, TheNextStartFilesWhatACrashLeftInTheJournal) {
  JournalQueue jq;
  const std::string kept = jq.spool("K1", "kept\n");
  const std::string delivered = jq.spool("K2", "delivered\n");
  const std::string updated = jq.spool("K3", "updated\n");
  const std::string gone = jq.spool("K4", "written out, then delivered\n");
  ASSERT_TRUE(jq.q->remove(delivered));
  auto env = *jq.q->load(updated);
  env.recipients[0].attempts = 1;
  env.recipients[0].state = queue::RecipientState::Deferred;
  ASSERT_TRUE(jq.q->update(updated, env));
  ASSERT_TRUE(jq.q->update(gone, *jq.q->load(gone)));
  ASSERT_TRUE(jq.q->remove(gone));
  jq.q->abandon_journal();

  auto rec = jq.reopen();
  EXPECT_EQ(rec.filed, 1u);     // kept
  EXPECT_EQ(rec.finished, 3u);  // delivered, updated (in files), gone
  EXPECT_TRUE(rec.rescued.empty());
  auto scan = jq.q->scan();
  ASSERT_TRUE(scan);
  std::vector<std::string> names;
  for (const auto& i : scan->items) names.push_back(i.name);
  std::sort(names.begin(), names.end());
  std::vector<std::string> want{kept, updated};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(names, want);
  EXPECT_EQ(*jq.q->read_message(kept), "Received: x\nkept\n");
  EXPECT_EQ(jq.q->load(updated)->recipients[0].attempts, 1u);  // the written-out state wins
  // The journal starts empty: a second start finds nothing more.
  jq.q->abandon_journal();
  auto second = jq.reopen();
  EXPECT_EQ(second.filed, 0u);
  EXPECT_EQ(second.finished, 0u);
}

// A crash while the publisher wrote an item out, between the envelope's link and the
// message's: the next start must still write it out (and start at all).
TEST(QueueJournal, AHalfWrittenOutItemIsWrittenOutAgain) {
  JournalQueue jq;
  const std::string name = jq.spool("H1", "half\n");
  jq.q->abandon_journal();
  test::write_file(jq.dir / ("queue/env/" + name), "taube-envelope 1\nstale\n");
  auto rec = jq.reopen();
  EXPECT_EQ(rec.filed, 1u);
  auto scan = jq.q->scan();
  ASSERT_TRUE(scan);
  ASSERT_EQ(scan->items.size(), 1u);
  EXPECT_EQ(scan->items[0].envelope.id, "H1");
  EXPECT_EQ(*jq.q->read_message(name), "Received: x\nhalf\n");
}

TEST(QueueJournal, ARecordThatIsNotAQueueItemIsKeptAside) {
  TempDir dir;
  {
    QueueStore q(dir / "queue");
    ASSERT_TRUE(q.ensure());
  }
  {
    auto j = DeliveryJournal::open(posix_fs(), dir / "queue/journal", kSize);
    ASSERT_TRUE(j);
    ASSERT_TRUE((*j)->reset());
    ASSERT_TRUE((*j)->append("123.M1P2Q3_taube.host", std::vector<std::string>{"/x/Maildir"},
                             "Subject: stray\n"));
  }
  QueueStore q(dir / "queue");
  auto rec = q.open_journal(kSize);
  ASSERT_TRUE(rec);
  ASSERT_EQ(rec->rescued, std::vector<std::string>{"123.M1P2Q3_taube.host"});
  EXPECT_EQ(read_file(dir / "queue/corrupt/123.M1P2Q3_taube.host.journal"), "Subject: stray\n");
}

// The runner's update()/remove() racing the publisher's write-out of the same items: every
// item ends either removed (no file) or in files with the state of its update.
TEST(QueueJournal, UpdatesAndRemovalsRacingThePublisherLeaveExactlyTheirResult) {
  JournalQueue jq;
  jq.q->set_journal_hold(std::chrono::milliseconds(0));
  constexpr int kItems = 200;
  std::vector<std::string> names;
  for (int i = 0; i < kItems; ++i) names.push_back(jq.spool("R" + std::to_string(i), "x\n"));
  std::atomic<int> next{0};
  auto worker = [&] {
    for (int i; (i = next++) < kItems;) {
      if (i % 2 == 0) {
        EXPECT_TRUE(jq.q->remove(names[i]));
      } else {
        auto env = *jq.q->load(names[i]);
        env.recipients[0].attempts = 7;
        EXPECT_TRUE(jq.q->update(names[i], env));
      }
    }
  };
  std::thread a(worker), b(worker);
  a.join();
  b.join();
  jq.q->tidy(true);
  EXPECT_EQ(jq.q->journalled(), 0u);
  auto scan = jq.q->scan();
  ASSERT_TRUE(scan);
  ASSERT_EQ(scan->items.size(), static_cast<std::size_t>(kItems / 2));
  for (const auto& item : scan->items) EXPECT_EQ(item.envelope.recipients[0].attempts, 7u);
  // And after a crash now, nothing comes back.
  jq.q->abandon_journal();
  auto rec = jq.reopen();
  EXPECT_EQ(rec.filed, 0u);
  EXPECT_EQ(jq.q->scan()->items.size(), static_cast<std::size_t>(kItems / 2));
}

}  // namespace
}  // namespace taube::store
