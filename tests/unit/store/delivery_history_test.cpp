// DeliveryHistory and its records: a record survives its text form (escapes, UTF-8, attempts),
// a torn or foreign line is skipped and never joins the next record, the cap drops the oldest
// segment first, a search runs newest first by each field with pages that neither skip nor
// repeat, and the attempts file of a queued item keeps what it was given.
#include "store/delivery_history.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "store/failing_fs.hpp"

namespace taube::store {
namespace {

using test::FailingFs;
using test::Op;
using test::TempDir;

DeliveryRecord record(int n, const std::string& status = "sent") {
  DeliveryRecord r;
  r.time = 1700000000 + n;
  r.status = status;
  r.queue_id = "QID" + std::to_string(n);
  r.queue_file = "1700000000.M" + std::to_string(n) + "P1.host";
  r.message_id = "<msg" + std::to_string(n) + "@example.org>";
  r.sender = "alice" + std::to_string(n) + "@example.org";
  r.recipient = "bob" + std::to_string(n) + "@remote.test";
  r.arrival = 1700000000;
  r.dsn = status == "sent" ? "2.0.0" : "5.1.1";
  r.reply = status == "sent" ? "250 2.0.0 ok" : "550 5.1.1 no such user";
  r.relay = "remote.test[127.0.0.2]:25";
  AttemptRecord a;
  a.time = r.time;
  a.host = "remote.test";
  a.address = "127.0.0.2";
  a.reply = r.reply;
  a.seconds = 0.25;
  a.tls = true;
  a.status = status;
  r.attempts.push_back(a);
  return r;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> segment_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".jsonl") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(DeliveryRecord, RoundTripsEveryField) {
  DeliveryRecord r = record(1);
  r.sender = "";  // the null sender
  r.original = "Bob.Alias@example.org";
  r.reply = "451 4.7.1 \"quoted\"\\ tab\there\r\nnext line \xc3\xa9\xe2\x82\xac";
  r.attempts.push_back(r.attempts.front());
  r.attempts.back().tls = false;
  r.attempts.back().address = "";
  r.attempts.back().seconds = 12.5;
  const std::string line = encode_record(r);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line";
  auto back = decode_record(line);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, r);
}

TEST(DeliveryRecord, TornAndForeignLinesDoNotDecode) {
  const std::string line = encode_record(record(1));
  for (std::size_t cut = 0; cut + 1 < line.size(); ++cut)
    EXPECT_FALSE(decode_record(line.substr(0, cut))) << cut;
  EXPECT_FALSE(decode_record("{}"));
  EXPECT_FALSE(decode_record("{\"v\": 2, \"time\": 1, \"status\": \"sent\", \"queue_id\": \"A\"}"));
  EXPECT_FALSE(decode_record("not json at all"));
  EXPECT_FALSE(decode_record(line.substr(0, 20) + line));  // a torn line joined to a whole one
}

TEST(DeliveryRecord, KeepsTheLastAttempts) {
  DeliveryRecord r = record(1);
  r.attempts.clear();
  for (int i = 0; i < 30; ++i) {
    AttemptRecord a;
    a.time = i;
    a.status = "deferred";
    r.attempts.push_back(a);
  }
  auto back = decode_record(encode_record(r));
  ASSERT_TRUE(back);
  ASSERT_EQ(back->attempts.size(), kMaxAttempts);
  EXPECT_EQ(back->attempts.front().time, 10);
  EXPECT_EQ(back->attempts.back().time, 29);
}

TEST(DeliveryRecord, MatchesByEachField) {
  const DeliveryRecord r = record(7, "bounced");
  auto m = [&r](std::string text, std::string status = "", std::string id = "") {
    RecordQuery q{std::move(text), std::move(status), std::move(id)};
    const bool full = matches(r, q);
    if (full) EXPECT_TRUE(may_match(encode_record(r), q)) << "the pre-filter may not say no";
    return full;
  };
  EXPECT_TRUE(m(""));
  EXPECT_TRUE(m("qid7"));                // queue id, any case
  EXPECT_TRUE(m("M7P1"));                // queue file
  EXPECT_TRUE(m("<MSG7@example.org>"));  // Message-ID
  EXPECT_TRUE(m("alice7@"));             // sender
  EXPECT_TRUE(m("BOB7@remote.test"));    // recipient
  EXPECT_FALSE(m("no such user"));       // the reply is not a search field
  EXPECT_FALSE(m("carol"));
  EXPECT_TRUE(m("", "bounced"));
  EXPECT_FALSE(m("", "sent"));
  EXPECT_TRUE(m("", "", "QID7"));
  EXPECT_FALSE(m("", "", "qid7"));  // an id is exact
  EXPECT_FALSE(m("", "", "QID"));
}

TEST(DeliveryRecord, MessageIdOfHeaders) {
  EXPECT_EQ(message_id_of("From: a@b\nMessage-ID: <1@x>\nSubject: s\n\nMessage-ID: <body>\n"),
            "<1@x>");
  EXPECT_EQ(message_id_of("message-id:\n   <folded@x>  \r\nX: y\n"), "<folded@x>");
  EXPECT_EQ(message_id_of("Subject: s\n\nMessage-ID: <in the body>\n"), "");
  EXPECT_EQ(message_id_of("Message-IDs: <no>\n"), "");
}

TEST(DeliveryHistory, SurvivesReopenAndSearchesNewestFirst) {
  TempDir dir;
  const std::string h = dir.path() + "/history";
  {
    DeliveryHistory hist(h, 1 << 20);
    ASSERT_TRUE(hist.open());
    ASSERT_TRUE(hist.append({record(1), record(2)}));
    ASSERT_TRUE(hist.append({record(3, "bounced")}));
  }
  DeliveryHistory hist(h, 1 << 20);
  ASSERT_TRUE(hist.open());
  auto all = hist.search({}, 10);
  ASSERT_EQ(all.records.size(), 3u);
  EXPECT_EQ(all.records[0], record(3, "bounced"));
  EXPECT_EQ(all.records[2], record(1));
  EXPECT_FALSE(all.next);
  EXPECT_EQ(hist.search({"", "bounced", ""}, 10).records.size(), 1u);
  EXPECT_EQ(hist.search({"msg2@", "", ""}, 10).records.at(0).queue_id, "QID2");
  EXPECT_EQ(hist.search({"", "", "QID1"}, 10).records.at(0).recipient, "bob1@remote.test");
  EXPECT_TRUE(hist.search({"nobody", "", ""}, 10).records.empty());
}

TEST(DeliveryHistory, PagesNeitherSkipNorRepeat) {
  TempDir dir;
  // A small cap: many segments, pages cross them.
  DeliveryHistory hist(dir.path() + "/h", 64 * 1024);
  ASSERT_TRUE(hist.open());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(hist.append({record(i, i % 3 ? "sent" : "expired")}));
  ASSERT_GT(hist.segments(), 2u);
  std::vector<std::string> seen;
  std::optional<DeliveryHistory::Cursor> cur;
  for (int pages = 0;; ++pages) {
    ASSERT_LT(pages, 50);
    auto p = hist.search({"", "expired", ""}, 7, cur);
    for (const auto& r : p.records) seen.push_back(r.queue_id);
    if (!p.next) break;
    auto text = DeliveryHistory::cursor_text(*p.next);
    ASSERT_EQ(DeliveryHistory::parse_cursor(text), p.next);
    cur = p.next;
  }
  std::vector<std::string> want;
  for (int i = 99; i >= 0; --i)
    if (i % 3 == 0) want.push_back("QID" + std::to_string(i));
  EXPECT_EQ(seen, want);
  EXPECT_FALSE(DeliveryHistory::parse_cursor("1"));
  EXPECT_FALSE(DeliveryHistory::parse_cursor("1.x"));
  EXPECT_FALSE(DeliveryHistory::parse_cursor("-1.2"));
  EXPECT_FALSE(DeliveryHistory::parse_cursor(".2"));
}

TEST(DeliveryHistory, TheCapDropsTheOldestSegmentFirst) {
  TempDir dir;
  const std::string h = dir.path() + "/h";
  const std::uint64_t cap = 64 * 1024;
  DeliveryHistory hist(h, cap);
  ASSERT_TRUE(hist.open());
  const std::size_t one = encode_record(record(1000)).size();
  const int n = static_cast<int>(3 * cap / one);
  for (int i = 1000; i < 1000 + n; ++i) {
    ASSERT_TRUE(hist.append({record(i)}));
    ASSERT_LE(hist.bytes(), cap);
    std::uint64_t on_disk = 0;
    for (const auto& f : segment_files(h)) on_disk += std::filesystem::file_size(f);
    ASSERT_EQ(on_disk, hist.bytes());
  }
  // Between nine tenths of the cap and the cap (a segment is a tenth), the newest kept.
  EXPECT_GE(hist.bytes(), cap * 8 / 10);
  auto p = hist.search({}, 1000000);
  ASSERT_FALSE(p.records.empty());
  EXPECT_EQ(p.records.front().queue_id, "QID" + std::to_string(999 + n));
  const int oldest = std::stoi(p.records.back().queue_id.substr(3));
  EXPECT_GT(oldest, 1000);
  EXPECT_EQ(static_cast<int>(p.records.size()), 1000 + n - oldest) << "contiguous";
  EXPECT_TRUE(hist.search({"", "", "QID1000"}, 10).records.empty());
  // A lower cap at the next start drops more.
  DeliveryHistory smaller(h, cap / 4);
  ASSERT_TRUE(smaller.open());
  EXPECT_LE(smaller.bytes(), cap / 4);
  EXPECT_EQ(smaller.search({}, 1).records.at(0).queue_id, "QID" + std::to_string(999 + n));
}

TEST(DeliveryHistory, ATornTailIsSkippedAndEnded) {
  TempDir dir;
  const std::string h = dir.path() + "/h";
  {
    DeliveryHistory hist(h, 1 << 20);
    ASSERT_TRUE(hist.open());
    ASSERT_TRUE(hist.append({record(1), record(2)}));
  }
  // A crash in the middle of the third record's write.
  const auto files = segment_files(h);
  ASSERT_EQ(files.size(), 1u);
  const std::string third = encode_record(record(3));
  {
    std::ofstream out(files[0], std::ios::app | std::ios::binary);
    out << third.substr(0, third.size() / 2);
  }
  DeliveryHistory hist(h, 1 << 20);
  ASSERT_TRUE(hist.open());
  auto p = hist.search({}, 10);
  ASSERT_EQ(p.records.size(), 2u);
  EXPECT_EQ(p.records[0].queue_id, "QID2");
  // The next record is a line of its own, not glued to the torn one.
  ASSERT_TRUE(hist.append({record(4)}));
  p = hist.search({}, 10);
  ASSERT_EQ(p.records.size(), 3u);
  EXPECT_EQ(p.records[0].queue_id, "QID4");
  EXPECT_EQ(p.records[1].queue_id, "QID2");
  // Garbage between records costs only itself.
  {
    std::ofstream out(files[0], std::ios::app | std::ios::binary);
    out << "garbage\n{\"v\": 1}\n";
  }
  DeliveryHistory again(h, 1 << 20);
  ASSERT_TRUE(again.open());
  ASSERT_TRUE(again.append({record(5)}));
  EXPECT_EQ(again.search({}, 10).records.size(), 4u);
}

TEST(DeliveryHistory, AFailedWriteLosesOnlyItsRecord) {
  TempDir dir;
  FailingFs fs;
  DeliveryHistory hist(dir.path() + "/h", 1 << 20, fs);
  ASSERT_TRUE(hist.open());
  ASSERT_TRUE(hist.append({record(1)}));
  fs.fail_nth(Op::Write, fs.calls(Op::Write) + 1, ENOSPC);
  EXPECT_FALSE(hist.append({record(2)}));
  ASSERT_TRUE(hist.append({record(3)}));
  auto p = hist.search({}, 10);
  ASSERT_EQ(p.records.size(), 2u);
  EXPECT_EQ(p.records[0].queue_id, "QID3");
  EXPECT_EQ(p.records[1].queue_id, "QID1");
}

TEST(DeliveryHistory, ConcurrentAppendsAndSearchesSeeOnlyWholeRecords) {
  TempDir dir;
  // Small: rotation and drops happen while the readers read.
  DeliveryHistory hist(dir.path() + "/h", 256 * 1024);
  ASSERT_TRUE(hist.open());
  constexpr int kWriters = 4, kEach = 400;
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::thread reader([&] {
    while (!done) {
      auto p = hist.search({"", "", ""}, 100000);
      std::set<std::string> ids;
      for (const auto& r : p.records)
        if (r.attempts.size() != 1 || !ids.insert(r.queue_id).second) ++bad;
    }
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w)
    writers.emplace_back([&hist, w] {
      for (int i = 0; i < kEach; ++i) hist.append({record(w * 100000 + i)});
    });
  for (auto& t : writers) t.join();
  done = true;
  reader.join();
  EXPECT_EQ(bad, 0);
  EXPECT_LE(hist.bytes(), 256u * 1024);
  // Each writer's records kept are its newest, in its order, without gaps (newest first).
  std::map<int, std::vector<int>> by_writer;
  for (const auto& r : hist.search({"", "", ""}, 100000).records) {
    const int n = std::stoi(r.queue_id.substr(3));
    by_writer[n / 100000].push_back(n % 100000);
  }
  ASSERT_FALSE(by_writer.empty());
  for (const auto& [w, ns] : by_writer) {
    EXPECT_EQ(ns.front(), kEach - 1) << w;
    for (std::size_t k = 1; k < ns.size(); ++k) EXPECT_EQ(ns[k], ns[k - 1] - 1) << w;
  }
}

TEST(DeliveryHistory, AttemptsOfAQueuedItem) {
  TempDir dir;
  DeliveryHistory hist(dir.path() + "/h", 1 << 20);
  ASSERT_TRUE(hist.open());
  const std::string name = "1700000000.M1P2.host";
  EXPECT_TRUE(hist.attempts_of(name).empty());
  AttemptRecord a = record(1).attempts[0];
  a.status = "deferred";
  ASSERT_TRUE(hist.add_attempts(name, {{0, a}, {2, a}}));
  a.time += 60;
  ASSERT_TRUE(hist.add_attempts(name, {{0, a}}));
  auto got = hist.attempts_of(name);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].rcpt, 0u);
  EXPECT_EQ(got[1].rcpt, 2u);
  EXPECT_EQ(got[2].attempt, a);
  // A torn last line (a crash in the write) is left out.
  {
    std::ofstream out(dir.path() + "/h/attempts/" + name, std::ios::app);
    out << "{\"time\": 5, \"rcpt\": 1, \"ho";
  }
  EXPECT_EQ(hist.attempts_of(name).size(), 3u);
  hist.forget_attempts(name);
  EXPECT_TRUE(hist.attempts_of(name).empty());
  EXPECT_FALSE(hist.add_attempts("../escape", {{0, a}}));
  // Stale files are swept at start-up by age.
  ASSERT_TRUE(hist.add_attempts("old", {{0, a}}));
  DeliveryHistory later(dir.path() + "/h", 1 << 20);
  ASSERT_TRUE(later.open(::time(nullptr) + 10));
  EXPECT_TRUE(later.attempts_of("old").empty());
}

}  // namespace
}  // namespace taube::store
