// QueueStore and the relay spool sink that fills it: items written by the sink are found by
// scan(), state updates replace the envelope atomically, crash leftovers and corrupt items are
// handled as the header promises.
#include "store/queue_store.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <mutex>
#include <string>
#include <vector>

#include "store/failing_fs.hpp"
#include "store/maildir_store.hpp"
#include "store/spool_sink.hpp"

namespace taube::store {
namespace {

using test::FailingFs;
using test::list_dir;
using test::Op;
using test::read_file;
using test::TempDir;
using test::write_file;

MessageInfo relay_info(const std::string& id) {
  MessageInfo info;
  info.queue_id = id;
  info.arrival = 1700000000;
  info.envelope.sender = smtp::Path{*smtp::parse_mailbox("alice@local.test"), false};
  smtp::Recipient r;
  r.mailbox = *smtp::parse_mailbox("bob@remote.test");
  r.params.notify = smtp::NotifyFailure;
  r.destinations.push_back({smtp::Destination::Route::Queue, "bob@remote.test"});
  info.envelope.recipients.push_back(r);
  info.client_address = "127.0.0.1";
  info.client_helo = "client.test";
  return info;
}

// What the sink hands to the queue runner.
struct Queued {
  std::mutex mu;
  std::vector<std::pair<std::string, queue::QueueEnvelope>> items;
  std::vector<std::shared_ptr<const std::string>> contents;
  void listen(RelaySpoolSink& sink) {
    sink.on_queued([this](const std::string& name, const queue::QueueEnvelope& env,
                          std::shared_ptr<const std::string> content) {
      std::lock_guard l(mu);
      items.emplace_back(name, env);
      contents.push_back(std::move(content));
    });
  }
};

// A queue directory with the relay spool sink filing into it (the real file system).
struct Spool {
  TempDir dir;
  MaildirStore maildir{"host.test"};
  QueueStore q{dir / "queue"};
  RelaySpoolSink sink{maildir, q};
  Spool() { EXPECT_TRUE(q.ensure()); }
};

std::string spool(RelaySpoolSink& sink, const MessageInfo& info, const std::string& body) {
  auto w = sink.begin(info, "Return-Path: <alice@local.test>\nReceived: x\n");
  w->append(body);
  auto out = w->commit("Return-Path: <alice@local.test>\nReceived: x\n");
  EXPECT_TRUE(out.ok());
  return body;
}

TEST(QueueStore, SpooledItemIsScannedWithItsEnvelope) {
  Spool sp;
  auto& [dir, maildir, q, sink] = sp;
  Queued seen;
  seen.listen(sink);
  spool(sink, relay_info("ABC123"), "Subject: hi\n\nbody\n");
  ASSERT_EQ(seen.items.size(), 1u);
  const std::string name = seen.items[0].first;
  EXPECT_EQ(seen.items[0].second.id, "ABC123");

  auto scan = q.scan();
  ASSERT_TRUE(scan);
  ASSERT_EQ(scan->items.size(), 1u);
  EXPECT_TRUE(scan->corrupt.empty());
  EXPECT_EQ(scan->items[0].name, name);
  EXPECT_EQ(scan->items[0].envelope, seen.items[0].second);
  EXPECT_EQ(scan->items[0].envelope.recipients.at(0).mailbox.to_string(), "bob@remote.test");
  auto msg = q.read_message(name);
  ASSERT_TRUE(msg);
  EXPECT_EQ(*msg, "Received: x\nSubject: hi\n\nbody\n");
  EXPECT_EQ(scan->items[0].size, msg->size());
  // The runner gets the same bytes with the item, so its first attempt reads nothing back.
  ASSERT_TRUE(seen.contents[0]);
  EXPECT_EQ(*seen.contents[0], *msg);
}

// A message larger than the copy kept for the runner is filed whole and handed over without
// content (the runner reads the file); streaming to the file (flush) does not lose the copy's
// bytes of a small message either.
TEST(QueueStore, LargeMessagesAreHandedOverWithoutContent) {
  Spool sp;
  auto& [dir, maildir, q, sink] = sp;
  Queued seen;
  seen.listen(sink);
  const std::string big(RelaySpoolSink::kKeepContent + 10, 'a');
  auto w = sink.begin(relay_info("BIG"), "Received: x\n");
  for (std::size_t off = 0; off < big.size(); off += 100000) {
    w->append(big.substr(off, 100000));
    w->flush();
  }
  ASSERT_TRUE(w->commit("Received: x\n").ok());
  auto small = sink.begin(relay_info("SMALL"), "Received: x\n");
  small->append("part one\n");
  small->flush();
  small->append("part two\n");
  ASSERT_TRUE(small->commit("Received: x\n").ok());
  ASSERT_EQ(seen.contents.size(), 2u);
  EXPECT_FALSE(seen.contents[0]);
  auto file = q.read_message(seen.items[0].first);
  ASSERT_TRUE(file);
  EXPECT_EQ(*file, "Received: x\n" + big);
  ASSERT_TRUE(seen.contents[1]);
  EXPECT_EQ(*seen.contents[1], "Received: x\npart one\npart two\n");
  EXPECT_EQ(*q.read_message(seen.items[1].first), *seen.contents[1]);
}

TEST(QueueStore, UpdateReplacesTheEnvelopeAndRemoveDeletesTheItem) {
  Spool sp;
  auto& [dir, maildir, q, sink] = sp;
  spool(sink, relay_info("ID1"), "a\n");
  auto scan = q.scan();
  ASSERT_TRUE(scan && scan->items.size() == 1);
  auto item = scan->items[0];
  item.envelope.recipients[0].state = queue::RecipientState::Deferred;
  item.envelope.recipients[0].attempts = 3;
  item.envelope.recipients[0].last_reply = "451 4.7.1 greylisted";
  ASSERT_TRUE(q.update(item.name, item.envelope));
  auto again = q.load(item.name);
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ(*again, item.envelope);
  EXPECT_TRUE(list_dir(dir / "queue/tmp").empty());

  q.save_transcript(item.name, "> EHLO x\n< 250 ok\n");
  EXPECT_EQ(q.read_transcript(item.name), "> EHLO x\n< 250 ok\n");
  ASSERT_TRUE(q.remove(item.name));
  EXPECT_TRUE(list_dir(dir / "queue/new").empty());
  EXPECT_TRUE(list_dir(dir / "queue/transcripts").empty());
  EXPECT_EQ(q.tidy(true), 0u);
  EXPECT_TRUE(list_dir(dir / "queue/env").empty());
  auto empty = q.scan();
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->items.empty());
}

// remove() does not wait for a flush: the envelope stays until a flush that started after the
// message's unlink has succeeded (never a message without envelope after a power cut), be it a
// submission's or tidy()'s.
TEST(QueueStore, TheEnvelopeOfARemovedItemGoesAfterTheNextFlush) {
  TempDir dir;
  MaildirStore maildir("host.test");
  FailingFs fs;
  QueueStore q(dir / "queue", fs);
  ASSERT_TRUE(q.ensure());
  RelaySpoolSink sink(maildir, q);
  spool(sink, relay_info("R1"), "a\n");
  const std::string first = list_dir(dir / "queue/new").at(0);
  const int flushes = fs.calls(Op::Syncfs);
  ASSERT_TRUE(q.remove(first));
  EXPECT_EQ(fs.calls(Op::Syncfs), flushes);  // no flush of its own
  EXPECT_TRUE(list_dir(dir / "queue/new").empty());
  EXPECT_EQ(list_dir(dir / "queue/env"), std::vector<std::string>{first});
  EXPECT_EQ(q.tidy(false), 1u);  // no flush since: it waits
  // A submission's flushes cover the removal: its envelope goes with it.
  spool(sink, relay_info("R2"), "b\n");
  EXPECT_EQ(list_dir(dir / "queue/env"), list_dir(dir / "queue/new"));
  EXPECT_EQ(list_dir(dir / "queue/env").size(), 1u);
  // A failed flush keeps it waiting; the next good one lets it go.
  const std::string second = list_dir(dir / "queue/new").at(0);
  ASSERT_TRUE(q.remove(second));
  fs.fail_nth(Op::Syncfs, fs.calls(Op::Syncfs) + 1, EIO);
  EXPECT_EQ(q.tidy(true), 1u);
  EXPECT_EQ(list_dir(dir / "queue/env"), std::vector<std::string>{second});
  EXPECT_EQ(q.tidy(true), 0u);
  EXPECT_TRUE(list_dir(dir / "queue/env").empty());
}

TEST(QueueStore, FailedUpdateKeepsTheOldState) {
  TempDir dir;
  MaildirStore maildir("host.test");
  FailingFs fs;
  QueueStore q(dir / "queue", fs);
  ASSERT_TRUE(q.ensure());
  RelaySpoolSink sink(maildir, q);
  spool(sink, relay_info("ID2"), "a\n");
  auto scan = q.scan();
  ASSERT_TRUE(scan && scan->items.size() == 1);
  const auto before = scan->items[0].envelope;
  auto changed = before;
  changed.recipients[0].state = queue::RecipientState::Delivered;
  for (Op op : {Op::Open, Op::Write, Op::Fsync, Op::Rename}) {
    fs.fail_nth(op, fs.calls(op) + 1, EIO);
    EXPECT_FALSE(q.update(scan->items[0].name, changed));
    auto now = q.load(scan->items[0].name);
    ASSERT_TRUE(now);
    EXPECT_EQ(*now, before) << "op " << static_cast<int>(op);
    EXPECT_TRUE(list_dir(dir / "queue/tmp").empty());
  }
}

TEST(QueueStore, ScanRemovesAnEnvelopeWithoutMessageAndTmpLeftovers) {
  TempDir dir;
  QueueStore q(dir / "queue");
  ASSERT_TRUE(q.ensure());
  queue::QueueEnvelope env;
  env.id = "X1";
  env.sender = smtp::Path{{}, true};
  write_file(dir / "queue/env/1.half", queue::encode_envelope(env));
  write_file(dir / "queue/tmp/junk", "partial");
  auto scan = q.scan();
  ASSERT_TRUE(scan);
  EXPECT_TRUE(scan->items.empty());
  EXPECT_EQ(scan->incomplete, std::vector<std::string>{"1.half"});
  EXPECT_TRUE(list_dir(dir / "queue/env").empty());
  EXPECT_TRUE(list_dir(dir / "queue/tmp").empty());
}

// A power cut after remove() can bring back the item's transcript (its unlink is not fsynced):
// scan() removes transcripts without an envelope, and those of items it removes itself.
TEST(QueueStore, ScanRemovesTranscriptsOfItemsThatAreGone) {
  TempDir dir;
  QueueStore q(dir / "queue");
  ASSERT_TRUE(q.ensure());
  queue::QueueEnvelope env;
  env.id = "X1";
  env.sender = smtp::Path{{}, true};
  env.recipients.push_back({});
  env.recipients.back().mailbox = *smtp::parse_mailbox("bob@remote.test");
  write_file(dir / "queue/env/1.kept", queue::encode_envelope(env));
  write_file(dir / "queue/new/1.kept", "Received: x\n\nbody\n");
  write_file(dir / "queue/transcripts/1.kept", "> EHLO x\n");
  write_file(dir / "queue/transcripts/2.removed", "> EHLO x\n");
  write_file(dir / "queue/env/3.half", queue::encode_envelope(env));
  write_file(dir / "queue/transcripts/3.half", "> EHLO x\n");
  auto scan = q.scan();
  ASSERT_TRUE(scan);
  ASSERT_EQ(scan->items.size(), 1u);
  EXPECT_EQ(scan->incomplete, std::vector<std::string>{"3.half"});
  EXPECT_EQ(list_dir(dir / "queue/transcripts"), std::vector<std::string>{"1.kept"});
  EXPECT_EQ(q.read_transcript("1.kept"), "> EHLO x\n");
}

TEST(QueueStore, CorruptItemIsMovedAsideAndTheRestIsKept) {
  Spool sp;
  auto& [dir, maildir, q, sink] = sp;
  spool(sink, relay_info("GOOD"), "good\n");
  write_file(dir / "queue/env/2.bad", "taube-envelope 1\nid X\ngarbage here\n");
  write_file(dir / "queue/new/2.bad", "some message\n");
  write_file(dir / "queue/new/3.orphan", "no envelope\n");
  auto scan = q.scan();
  ASSERT_TRUE(scan);
  ASSERT_EQ(scan->items.size(), 1u);
  EXPECT_EQ(scan->items[0].envelope.id, "GOOD");
  ASSERT_EQ(scan->corrupt.size(), 2u);
  EXPECT_NE(scan->corrupt[0].find("2.bad: line"), std::string::npos) << scan->corrupt[0];
  EXPECT_NE(scan->corrupt[1].find("3.orphan"), std::string::npos);
  auto moved = list_dir(dir / "queue/corrupt");
  std::sort(moved.begin(), moved.end());
  EXPECT_EQ(moved, (std::vector<std::string>{"2.bad", "2.bad.env", "3.orphan"}));
  EXPECT_EQ(read_file(dir / "queue/corrupt/2.bad"), "some message\n");
  // A second scan finds the same good item and nothing corrupt.
  auto again = q.scan();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->items.size(), 1u);
  EXPECT_TRUE(again->corrupt.empty());
}

// The start-up's two halves: survey() decides from the listings alone (an envelope that does not
// parse is still a name then), load_item() reads one envelope and sorts out a corrupt one.
TEST(QueueStore, SurveyListsTheItemsAndLoadItemReadsOne) {
  Spool sp;
  auto& [dir, maildir, q, sink] = sp;
  spool(sink, relay_info("GOOD"), "good\n");
  const std::string good = list_dir(dir / "queue/env").at(0);
  write_file(dir / "queue/env/2.bad", "taube-envelope 1\nid X\ngarbage here\n");
  write_file(dir / "queue/new/2.bad", "some message\n");
  write_file(dir / "queue/env/1.half", "taube-envelope 1\n");
  write_file(dir / "queue/tmp/leftover", "x");
  write_file(dir / "queue/transcripts/9.gone", "> EHLO x\n");
  auto survey = q.survey();
  ASSERT_TRUE(survey);
  std::vector<std::string> want{"2.bad", good};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(survey->names, want);
  EXPECT_EQ(survey->incomplete, std::vector<std::string>{"1.half"});
  EXPECT_TRUE(survey->corrupt.empty());
  EXPECT_TRUE(list_dir(dir / "queue/tmp").empty());
  EXPECT_TRUE(list_dir(dir / "queue/transcripts").empty());

  auto ok = q.load_item(good);
  ASSERT_EQ(ok.status, LoadedItem::Status::Ok);
  EXPECT_EQ(ok.envelope.id, "GOOD");
  EXPECT_EQ(ok.text, read_file(dir / ("queue/env/" + good)));
  EXPECT_EQ(queue::decode_envelope(ok.text).value(), ok.envelope);

  auto bad = q.load_item("2.bad");
  ASSERT_EQ(bad.status, LoadedItem::Status::Corrupt);
  EXPECT_NE(bad.problem.find("2.bad: line"), std::string::npos) << bad.problem;
  auto moved = list_dir(dir / "queue/corrupt");
  std::sort(moved.begin(), moved.end());
  EXPECT_EQ(moved, (std::vector<std::string>{"2.bad", "2.bad.env"}));

  auto gone = q.load_item("7.never");
  EXPECT_EQ(gone.status, LoadedItem::Status::Error);
  EXPECT_TRUE(gone.error.has_value());
}

// file() is all or nothing at every failing step: the commit fails and neither name is left
// (the client gets a 451 and sends again), or it succeeds and the item is complete. Every call
// of each kind a successful filing makes is failed once in turn.
TEST(QueueStore, FilingFailsWithoutLeavingANameAtEveryStep) {
  TempDir dir;
  FailingFs fs;
  MaildirStore maildir("host.test", fs);
  QueueStore q(dir / "queue", fs);
  ASSERT_TRUE(q.ensure());
  RelaySpoolSink sink(maildir, q);
  const char* prefix = "Received: x\n";
  // A dry run counts the calls of each kind one filing makes.
  std::array<int, static_cast<std::size_t>(Op::kCount)> per_commit{};
  {
    std::array<int, static_cast<std::size_t>(Op::kCount)> before{};
    for (std::size_t k = 1; k < before.size(); ++k) before[k] = fs.calls(static_cast<Op>(k));
    auto w = sink.begin(relay_info("DRY"), prefix);
    w->append("body\n");
    ASSERT_TRUE(w->commit(prefix).ok());
    for (std::size_t k = 1; k < before.size(); ++k)
      per_commit[k] = fs.calls(static_cast<Op>(k)) - before[k];
    ASSERT_TRUE(q.remove(list_dir(dir / "queue/new").at(0)));
    q.tidy(true);
  }
  ASSERT_GE(per_commit[static_cast<std::size_t>(Op::Syncfs)], 2);  // the two shared flushes
  EXPECT_EQ(per_commit[static_cast<std::size_t>(Op::Rename)], 0);
  int failures = 0;
  for (Op op : {Op::Open, Op::Write, Op::Fsync, Op::Close, Op::Link, Op::Syncfs}) {
    for (int n = 1; n <= per_commit[static_cast<std::size_t>(op)]; ++n) {
      fs.fail_nth(op, fs.calls(op) + n, EIO);
      auto w = sink.begin(relay_info("F"), prefix);
      w->append("body\n");
      const bool ok = w->commit(prefix).ok();
      fs.fail_nth(Op::Any, 0, 0);  // a call that may fail harmlessly was not reached
      auto names = list_dir(dir / "queue/new");
      auto envs = list_dir(dir / "queue/env");
      if (ok) {
        ASSERT_EQ(names.size(), 1u) << "op " << static_cast<int>(op) << " #" << n;
        ASSERT_EQ(envs, names);
        ASSERT_TRUE(q.remove(names[0]));
        q.tidy(true);
      } else {
        ++failures;
        EXPECT_TRUE(names.empty()) << "op " << static_cast<int>(op) << " #" << n;
        EXPECT_TRUE(envs.empty()) << "op " << static_cast<int>(op) << " #" << n;
      }
    }
  }
  EXPECT_GT(failures, 5);
  auto scan = q.scan();
  ASSERT_TRUE(scan);
  EXPECT_TRUE(scan->items.empty());
}

}  // namespace
}  // namespace taube::store
