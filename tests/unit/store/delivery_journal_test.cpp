#include "store/delivery_journal.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/failing_fs.hpp"

namespace taube::store {
namespace {

using test::FailingFs;
using test::Op;
using test::read_file;
using test::TempDir;
using test::write_file;

constexpr std::uint64_t kSize = DeliveryJournal::kMinSize;  // 1 MiB

std::unique_ptr<DeliveryJournal> open_ok(const std::string& path, Fs& fs = posix_fs(),
                                         std::uint64_t size = kSize) {
  auto j = DeliveryJournal::open(fs, path, size);
  EXPECT_TRUE(j) << "open " << path;
  return j ? std::move(*j) : nullptr;
}

std::uint64_t append_ok(DeliveryJournal& j, const std::string& unique, const std::string& content,
                        std::vector<std::string> dirs = {"/m/a"}) {
  auto seq = j.append(unique, dirs, content);
  EXPECT_TRUE(seq) << unique;
  return seq ? *seq : 0;
}

std::vector<std::string> uniques(const std::vector<JournalRecord>& recs) {
  std::vector<std::string> out;
  for (const auto& r : recs) out.push_back(r.unique);
  return out;
}

// Flips one byte of the file at `offset`.
void corrupt(const std::string& path, std::uint64_t offset) {
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  char c = 0;
  ASSERT_EQ(::pread(fd, &c, 1, static_cast<off_t>(offset)), 1);
  c = static_cast<char>(c ^ 0x5a);
  ASSERT_EQ(::pwrite(fd, &c, 1, static_cast<off_t>(offset)), 1);
  ::close(fd);
}

// Where `needle` first occurs in the file.
std::uint64_t find_in_file(const std::string& path, const std::string& needle) {
  const std::string all = read_file(path);
  auto pos = all.find(needle);
  EXPECT_NE(pos, std::string::npos) << needle;
  return pos;
}

TEST(DeliveryJournal, CreatesAPreallocatedEmptyJournal) {
  TempDir t;
  auto j = open_ok(t / "journal", posix_fs(), 3u << 20);
  ASSERT_TRUE(j);
  struct ::stat st {};
  ASSERT_EQ(::stat((t / "journal").c_str(), &st), 0);
  EXPECT_EQ(static_cast<std::uint64_t>(st.st_size), 3u << 20);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Preallocated: every block is there, so overwriting needs no metadata change.
  EXPECT_GE(static_cast<std::uint64_t>(st.st_blocks) * 512, 3u << 20);
  EXPECT_TRUE(j->take_recovered().empty());
  EXPECT_EQ(j->unreleased(), 0u);
  EXPECT_EQ(test::list_dir(t.path()), std::vector<std::string>{"journal"});  // no .new left
}

TEST(DeliveryJournal, SizeBelowTheMinimumIsRaised) {
  TempDir t;
  auto j = open_ok(t / "journal", posix_fs(), 4096);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->size(), DeliveryJournal::kMinSize);
}

TEST(DeliveryJournal, UnreleasedRecordsAreRecoveredInOrderAfterAReopen) {
  TempDir t;
  {
    auto j = open_ok(t / "journal");
    ASSERT_TRUE(j);
    auto s1 = append_ok(*j, "u1", "first\n", {"/m/a", "/m/b"});
    EXPECT_LT(s1, append_ok(*j, "u2", "second\n"));
    append_ok(*j, "u3", std::string(5000, 'x'));
    EXPECT_EQ(j->unreleased(), 3u);
  }  // "crash": nothing released
  auto j = open_ok(t / "journal");
  ASSERT_TRUE(j);
  auto recs = j->take_recovered();
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(uniques(recs), (std::vector<std::string>{"u1", "u2", "u3"}));
  EXPECT_EQ(recs[0].maildirs(), (std::vector<std::string>{"/m/a", "/m/b"}));
  EXPECT_EQ(recs[0].content, "first\n");
  EXPECT_EQ(recs[1].content, "second\n");
  EXPECT_EQ(recs[2].content, std::string(5000, 'x'));
  EXPECT_LT(recs[0].seq, recs[1].seq);
  EXPECT_EQ(recs[1].seq + 1, recs[2].seq);
}

TEST(DeliveryJournal, ReleasedRecordsAreGoneOncePersisted) {
  TempDir t;
  {
    auto j = open_ok(t / "journal");
    ASSERT_TRUE(j);
    auto s1 = append_ok(*j, "u1", "a");
    auto s2 = append_ok(*j, "u2", "b");
    append_ok(*j, "u3", "c");
    j->release(s2);  // out of order: the tail stays at u1
    ASSERT_TRUE(j->persist(true));
    j->release(s1);
    ASSERT_TRUE(j->persist(true));
    EXPECT_EQ(j->unreleased(), 1u);
  }
  auto j = open_ok(t / "journal");
  ASSERT_TRUE(j);
  EXPECT_EQ(uniques(j->take_recovered()), std::vector<std::string>{"u3"});
}

TEST(DeliveryJournal, ReleaseWithoutPersistRecoversTooMuchNeverTooLittle) {
  TempDir t;
  {
    auto j = open_ok(t / "journal");
    ASSERT_TRUE(j);
    j->release(append_ok(*j, "u1", "a"));
    append_ok(*j, "u2", "b");
    ASSERT_TRUE(j->persist(false));  // not worth a header write yet
  }
  auto j = open_ok(t / "journal");
  ASSERT_TRUE(j);
  // u1 comes back (recovery skips what is already in the Maildir); u2 must come back.
  EXPECT_EQ(uniques(j->take_recovered()), (std::vector<std::string>{"u1", "u2"}));
}

TEST(DeliveryJournal, ResetEmptiesAndNumbersFarBeyond) {
  TempDir t;
  std::uint64_t old_seq = 0;
  {
    auto j = open_ok(t / "journal");
    ASSERT_TRUE(j);
    append_ok(*j, "u1", "a");
    old_seq = append_ok(*j, "u2", "b");
  }
  {
    auto j = open_ok(t / "journal");
    ASSERT_TRUE(j);
    EXPECT_EQ(j->take_recovered().size(), 2u);
    ASSERT_TRUE(j->reset());
    EXPECT_EQ(j->unreleased(), 0u);
    EXPECT_GT(append_ok(*j, "u3", "c"), old_seq + (std::uint64_t{1} << 32));
  }
  auto j = open_ok(t / "journal");
  ASSERT_TRUE(j);
  EXPECT_EQ(uniques(j->take_recovered()), std::vector<std::string>{"u3"});
}

TEST(DeliveryJournal, ACorruptRecordEndsTheLog) {
  TempDir t;
  {
    auto j = open_ok(t / "journal");
    ASSERT_TRUE(j);
    append_ok(*j, "u1", "content-one");
    append_ok(*j, "u2", "content-two");
    append_ok(*j, "u3", "content-three");
  }
  corrupt(t / "journal", find_in_file(t / "journal", "content-two") + 3);
  auto j = open_ok(t / "journal");
  ASSERT_TRUE(j);
  EXPECT_EQ(uniques(j->take_recovered()), std::vector<std::string>{"u1"});
  // A reopened journal takes nothing before reset(): the intact u3 after the broken u2 could
  // otherwise pass for the record after a new one written where u2 was.
  auto refused = j->append("u4", {"/m/a"}, "content-four");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), JournalRefusal::Failed);
  ASSERT_TRUE(j->reset());
  append_ok(*j, "u4", "content-four");
  j.reset();
  auto j2 = open_ok(t / "journal");
  ASSERT_TRUE(j2);
  EXPECT_EQ(uniques(j2->take_recovered()), std::vector<std::string>{"u4"});
}

TEST(DeliveryJournal, WrapsAroundTheEnd) {
  TempDir t;
  const std::string big(200 * 1024, 'w');  // five of these do not fit in 1 MiB
  std::vector<std::string> live;
  {
    auto j = open_ok(t / "journal");
    ASSERT_TRUE(j);
    std::vector<std::uint64_t> seqs;
    for (int i = 0; i < 12; ++i) {
      auto name = "w" + std::to_string(i);
      auto seq = j->append(name, {"/m/a"}, big + name);
      ASSERT_TRUE(seq) << "record " << i << " refused: " << static_cast<int>(seq.error());
      seqs.push_back(*seq);
      // Keep the last two unreleased; release the older ones and make their space reusable.
      if (seqs.size() > 2) {
        j->release(seqs[seqs.size() - 3]);
        ASSERT_TRUE(j->persist(true));
      }
    }
    live = {"w10", "w11"};
  }
  auto j = open_ok(t / "journal");
  ASSERT_TRUE(j);
  auto recs = j->take_recovered();
  EXPECT_EQ(uniques(recs), live);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[1].content, big + "w11");
}

TEST(DeliveryJournal, FullUntilReleasedSpaceIsPersisted) {
  TempDir t;
  auto j = open_ok(t / "journal");
  ASSERT_TRUE(j);
  const std::string chunk(100 * 1024, 'f');
  std::vector<std::uint64_t> seqs;
  for (;;) {
    auto seq = j->append("f" + std::to_string(seqs.size()), {"/m/a"}, chunk);
    if (!seq) {
      EXPECT_EQ(seq.error(), JournalRefusal::Full);
      break;
    }
    seqs.push_back(*seq);
    ASSERT_LT(seqs.size(), 20u);
  }
  EXPECT_GE(seqs.size(), 8u);
  for (auto s : seqs) j->release(s);
  // Released but the header on disk still names the old tail: still full.
  EXPECT_EQ(j->append("g", {"/m/a"}, chunk).error(), JournalRefusal::Full);
  ASSERT_TRUE(j->persist(true));
  EXPECT_TRUE(j->append("g", {"/m/a"}, chunk));
}

TEST(DeliveryJournal, RefusesRecordsLargerThanAQuarter) {
  TempDir t;
  auto j = open_ok(t / "journal");
  ASSERT_TRUE(j);
  auto r = j->append("big", {"/m/a"}, std::string(j->max_record(), 'b'));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), JournalRefusal::TooLarge);
  // Names that could escape the Maildir are refused too.
  EXPECT_FALSE(j->append("../x", {"/m/a"}, "c"));
  EXPECT_FALSE(j->append("", {"/m/a"}, "c"));
  EXPECT_FALSE(j->append("ok", std::vector<std::string>{}, "c"));
}

TEST(DeliveryJournal, AFailedFdatasyncFailsThatRecordAndEveryLaterOne) {
  TempDir t;
  FailingFs fs;
  {
    auto j = open_ok(t / "journal", fs);
    ASSERT_TRUE(j);
    append_ok(*j, "before", "kept");
    fs.fail_nth(Op::Fdatasync, fs.calls(Op::Fdatasync) + 1, EIO);
    auto r = j->append("failed", {"/m/a"}, "x");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), JournalRefusal::Failed);
    // fsyncgate: no retry on the same journal; everything after is refused.
    auto r2 = j->append("after", {"/m/a"}, "y");
    ASSERT_FALSE(r2);
    EXPECT_EQ(r2.error(), JournalRefusal::Failed);
    EXPECT_EQ(j->unreleased(), 1u);
  }
  auto j = open_ok(t / "journal");
  ASSERT_TRUE(j);
  // The acknowledged record survives; the failed one may or may not be on disk, but if its
  // bytes made it, it is recovered (a duplicate at worst, never a loss).
  auto recs = uniques(j->take_recovered());
  ASSERT_FALSE(recs.empty());
  EXPECT_EQ(recs.front(), "before");
  EXPECT_EQ(std::count(recs.begin(), recs.end(), "after"), 0);
}

TEST(DeliveryJournal, AFailedWriteIsRefusedToo) {
  TempDir t;
  FailingFs fs;
  auto j = open_ok(t / "journal", fs);
  ASSERT_TRUE(j);
  fs.fail_nth(Op::Pwrite, fs.calls(Op::Pwrite) + 1, ENOSPC);
  auto r = j->append("w", {"/m/a"}, "x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), JournalRefusal::Failed);
  EXPECT_EQ(j->unreleased(), 0u);
}

TEST(DeliveryJournal, ConcurrentAppendsAreAllDurableAndDistinct) {
  TempDir t;
  constexpr int kThreads = 8;
  constexpr int kEach = 150;
  {
    auto j = open_ok(t / "journal", posix_fs(), 4u << 20);
    ASSERT_TRUE(j);
    std::vector<std::thread> threads;
    std::vector<std::vector<std::uint64_t>> seqs(kThreads);
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        for (int k = 0; k < kEach; ++k) {
          auto name = "t" + std::to_string(i) + "m" + std::to_string(k);
          auto s = j->append(name, {"/m/" + std::to_string(i)}, name + std::string(700, '.'));
          if (s) seqs[i].push_back(*s);
        }
      });
    }
    for (auto& th : threads) th.join();
    std::set<std::uint64_t> all;
    for (const auto& v : seqs) all.insert(v.begin(), v.end());
    EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kEach));
  }
  auto j = open_ok(t / "journal");
  ASSERT_TRUE(j);
  auto recs = j->take_recovered();
  ASSERT_EQ(recs.size(), static_cast<std::size_t>(kThreads * kEach));
  std::set<std::string> names;
  for (const auto& r : recs) {
    EXPECT_EQ(r.content, r.unique + std::string(700, '.'));
    names.insert(r.unique);
  }
  EXPECT_EQ(names.size(), recs.size());
}

TEST(DeliveryJournal, ABrokenHeaderSlotFallsBackToTheOtherOne) {
  TempDir t;
  {
    auto j = open_ok(t / "journal");
    ASSERT_TRUE(j);
    auto s1 = append_ok(*j, "u1", "a");
    append_ok(*j, "u2", "b");
    j->release(s1);
    ASSERT_TRUE(j->persist(true));  // header counter 2: slot 0
  }
  corrupt(t / "journal", 20);  // inside slot 0
  auto j = open_ok(t / "journal");
  ASSERT_TRUE(j);
  // The older header (slot 1, from creation) is used: u1 comes back as well. Safe: recovery
  // skips what already arrived.
  EXPECT_EQ(uniques(j->take_recovered()), (std::vector<std::string>{"u1", "u2"}));
}

TEST(DeliveryJournal, AFileThatIsNoJournalIsAnError) {
  TempDir t;
  write_file(t / "journal", std::string(DeliveryJournal::kMinSize, 'z'));
  EXPECT_FALSE(DeliveryJournal::open(posix_fs(), t / "journal", kSize));
  write_file(t / "short", "tiny");
  EXPECT_FALSE(DeliveryJournal::open(posix_fs(), t / "short", kSize));
}

TEST(DeliveryJournal, CreationFailureLeavesNothing) {
  TempDir t;
  for (Op op : {Op::Open, Op::Pwrite, Op::Fsync, Op::Rename}) {
    FailingFs fs;
    fs.fail_nth(op, 1, ENOSPC);
    EXPECT_FALSE(DeliveryJournal::open(fs, t / "journal", kSize)) << static_cast<int>(op);
    EXPECT_TRUE(test::list_dir(t.path()).empty()) << static_cast<int>(op);
  }
}

// Damage anywhere (flipped bytes, records overwritten with garbage) must never crash recovery or
// produce a record that was not written: what comes back is always a prefix of what was there.
TEST(DeliveryJournal, RandomDamageYieldsAPrefixOfTheRecords) {
  TempDir t;
  const std::string pristine = t / "pristine";
  std::vector<std::string> contents;
  {
    auto j = open_ok(pristine);
    ASSERT_TRUE(j);
    for (int i = 0; i < 40; ++i) {
      contents.push_back("record " + std::to_string(i) +
                         std::string(static_cast<std::size_t>(i * 37), 'r'));
      append_ok(*j, "n" + std::to_string(i), contents.back(), {"/m/a", "/m/b" + std::to_string(i)});
    }
  }
  const std::string image = read_file(pristine);
  std::mt19937 rng(20261129);
  for (int round = 0; round < 300; ++round) {
    std::string damaged = image;
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int k = 0; k < flips; ++k) {
      // Mostly where the records are (the first ~40 KiB), sometimes the headers.
      const std::size_t limit = rng() % 4 == 0 ? 1024 : 4096 + 40 * 1024;
      const std::size_t at = rng() % limit;
      if (rng() % 3 == 0) {
        for (std::size_t n = 0; n < 64 && at + n < damaged.size(); ++n)
          damaged[at + n] = static_cast<char>(rng());
      } else {
        damaged[at] = static_cast<char>(damaged[at] ^ (1 + rng() % 255));
      }
    }
    const std::string path = t / ("damaged" + std::to_string(round));
    write_file(path, damaged);
    auto j = DeliveryJournal::open(posix_fs(), path, kSize);
    if (!j) continue;  // both header slots broken: an error, not a crash
    auto recs = (*j)->take_recovered();
    ASSERT_LE(recs.size(), contents.size());
    for (std::size_t i = 0; i < recs.size(); ++i) {
      ASSERT_EQ(recs[i].unique, "n" + std::to_string(i)) << "round " << round;
      ASSERT_EQ(recs[i].content, contents[i]) << "round " << round;
    }
    std::remove(path.c_str());
  }
}

TEST(DeliveryJournal, ReadsBackAnUnreleasedRecord) {
  TempDir t;
  auto j = open_ok(t / "journal");
  ASSERT_TRUE(j);
  auto s = append_ok(*j, "u1", "body", {"/m/a", "/m/b"});
  auto r = j->read(s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->unique, "u1");
  EXPECT_EQ(r->content, "body");
  EXPECT_EQ(r->maildirs(), (std::vector<std::string>{"/m/a", "/m/b"}));
  j->release(s);
  EXPECT_FALSE(j->read(s));
}

}  // namespace
}  // namespace taube::store

namespace taube::store {
namespace {

// The first payload format (0: Maildir directories, no kinds), as a journal of the first
// version wrote it, must still be recovered; an unknown destination kind is not delivered.
std::string le(std::uint64_t v, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return s;
}

// Rewrites the record of `seq` at the start of the data area with `payload` in `format`.
void write_record(const std::string& path, std::uint64_t seq, const std::string& payload,
                  std::uint32_t format) {
  const auto pcrc = static_cast<std::uint32_t>(::crc32(
      0, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(payload.size())));
  const std::string tail = le(seq, 8) + le(payload.size(), 4);
  const auto rcrc = static_cast<std::uint32_t>(
      ::crc32(pcrc, reinterpret_cast<const Bytef*>(tail.data()), static_cast<uInt>(tail.size())));
  const std::string rec = le(0x4a524543, 4) + le(payload.size(), 4) + le(seq, 8) + le(rcrc, 4) +
                          le(format, 4) + payload + std::string(64, '\0');
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, rec.data(), rec.size(), DeliveryJournal::kDataStart),
            static_cast<ssize_t>(rec.size()));
  ::close(fd);
}

std::string payload(const std::string& unique,
                    const std::vector<std::pair<int, std::string>>& dests,
                    const std::string& content, bool typed) {
  std::string p = le(unique.size(), 2) + unique + le(dests.size(), 2);
  for (const auto& [kind, target] : dests) {
    if (typed) p.push_back(static_cast<char>(kind));
    p += le(target.size(), 2) + target;
  }
  return p + content;
}

TEST(DeliveryJournalFormats, TypedDestinationsRoundTrip) {
  TempDir t;
  const std::string path = t / "j";
  {
    auto j = open_ok(path);
    ASSERT_TRUE(j->reset());
    append_ok(*j, "u1", "c1", {"/m/a", "/m/b"});
  }
  auto j = open_ok(path);
  auto recs = j->take_recovered();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].destinations,
            (std::vector<JournalDestination>{{JournalDestination::Kind::Maildir, "/m/a"},
                                             {JournalDestination::Kind::Maildir, "/m/b"}}));
  EXPECT_TRUE(recs[0].all_known());
}

TEST(DeliveryJournalFormats, FirstFormatIsStillRead) {
  TempDir t;
  const std::string path = t / "j";
  std::uint64_t seq = 0;
  {
    auto j = open_ok(path);
    ASSERT_TRUE(j->reset());
    seq = append_ok(*j, "u1", "x");
  }
  write_record(path, seq, payload("old1", {{0, "/m/a"}, {0, "/m/b"}}, "old content", false), 0);
  auto j = open_ok(path);
  auto recs = j->take_recovered();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].unique, "old1");
  EXPECT_EQ(recs[0].maildirs(), (std::vector<std::string>{"/m/a", "/m/b"}));
  EXPECT_EQ(recs[0].content, "old content");
}

TEST(DeliveryJournalFormats, UnknownKindsAreKeptNotDelivered) {
  TempDir t;
  const std::string path = t / "j";
  std::uint64_t seq = 0;
  {
    auto j = open_ok(path);
    ASSERT_TRUE(j->reset());
    seq = append_ok(*j, "u1", "x");
  }
  write_record(path, seq, payload("new1", {{1, "/m/a"}, {7, "somewhere"}}, "c", true), 1);
  auto j = open_ok(path);
  auto recs = j->take_recovered();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_FALSE(recs[0].all_known());
  EXPECT_EQ(recs[0].maildirs(), (std::vector<std::string>{"/m/a"}));
  // A payload format from the future is not a record at all: the log ends before it.
  write_record(path, seq, payload("new2", {{1, "/m/a"}}, "c", true), 2);
  auto k = open_ok(path);
  EXPECT_TRUE(k->take_recovered().empty());
}

}  // namespace
}  // namespace taube::store
