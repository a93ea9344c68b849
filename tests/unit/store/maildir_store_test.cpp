#include "store/maildir_store.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/failing_fs.hpp"

namespace taube::store {
namespace {

using test::bytes;
using test::FailingFs;
using test::list_dir;
using test::Op;
using test::read_file;
using test::TempDir;

bool is_dir(const std::string& p) {
  struct ::stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

ino_t inode(const std::string& p) {
  struct ::stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_ino;
}

// begin / write (in chunks) / commit, aborting on any error.
tl::expected<std::string, StoreError> deliver(MaildirStore& store,
                                              const std::vector<std::string>& maildirs,
                                              const std::string& content) {
  auto msg = store.begin(maildirs);
  if (!msg) return tl::unexpected(msg.error());
  for (std::size_t i = 0; i < content.size(); i += 7) {
    if (auto r = msg->write(bytes(content.substr(i, 7))); !r) {
      store.abort(*msg);
      return tl::unexpected(r.error());
    }
  }
  if (auto r = store.commit(*msg); !r) return tl::unexpected(r.error());
  return msg->unique_name();
}

TEST(MaildirStore, EnsureMaildirCreatesParentsAndSubdirs) {
  TempDir t;
  MaildirStore store("host");
  ASSERT_TRUE(store.ensure_maildir(t / "x/y/z/"));
  for (auto d : {"x/y/z", "x/y/z/tmp", "x/y/z/new", "x/y/z/cur"}) EXPECT_TRUE(is_dir(t / d)) << d;
  struct ::stat st {};
  ASSERT_EQ(::stat((t / "x/y/z/new").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_TRUE(store.ensure_maildir(t / "x/y/z"));  // existing: fine
}

TEST(MaildirStore, EnsureMaildirOverAFileFails) {
  TempDir t;
  test::write_file(t / "file", "x");
  MaildirStore store("host");
  EXPECT_FALSE(store.ensure_maildir(t / "file"));
}

TEST(MaildirStore, CommitDeliversToNew) {
  TempDir t;
  MaildirStore store("host");
  auto name = deliver(store, {t / "md"}, "Subject: hi\n\nbody\n");
  ASSERT_TRUE(name);
  EXPECT_EQ(read_file(t / "md/new/" + *name), "Subject: hi\n\nbody\n");
  EXPECT_TRUE(list_dir(t / "md/tmp").empty());
  EXPECT_TRUE(list_dir(t / "md/cur").empty());
}

TEST(MaildirStore, MultiMaildirCommitLinksOneInodeAndDedupes) {
  TempDir t;
  MaildirStore store("host");
  std::string content = "From: a@b\n\nsame content\n";
  auto name = deliver(store, {t / "a", t / "b", t / "a", t / "b/", t / "c"}, content);
  ASSERT_TRUE(name);
  for (auto d : {"a", "b", "c"}) {
    auto files = list_dir(t / d + "/new");
    ASSERT_EQ(files.size(), 1u) << d;
    EXPECT_EQ(files[0], *name);
    EXPECT_EQ(read_file(t / d + "/new/" + *name), content);
    EXPECT_TRUE(list_dir(t / d + "/tmp").empty());
  }
  EXPECT_EQ(inode(t / "a/new/" + *name), inode(t / "b/new/" + *name));
  EXPECT_EQ(inode(t / "a/new/" + *name), inode(t / "c/new/" + *name));
  struct ::stat st {};
  ASSERT_EQ(::stat((t / "a/new/" + *name).c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 3u);  // three names, the temp name is gone
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(MaildirStore, BeginWithoutMaildirsFails) {
  MaildirStore store("host");
  EXPECT_FALSE(store.begin({}));
  EXPECT_FALSE(store.begin({""}));
}

TEST(MaildirStore, AbortLeavesNothing) {
  TempDir t;
  MaildirStore store("host");
  auto msg = store.begin({t / "a", t / "b"});
  ASSERT_TRUE(msg);
  ASSERT_TRUE(msg->write(bytes("x")));
  EXPECT_EQ(msg->size(), 1u);
  store.abort(*msg);
  for (auto d : {"a/tmp", "a/new", "b/tmp", "b/new"}) EXPECT_TRUE(list_dir(t / d).empty()) << d;
}

TEST(MaildirStore, DroppedMessageIsAborted) {
  TempDir t;
  MaildirStore store("host");
  {
    auto msg = store.begin({t / "a"});
    ASSERT_TRUE(msg);
    ASSERT_TRUE(msg->write(bytes("x")));
    // An anonymous (O_TMPFILE) temp file has no name in tmp/ at all.
    EXPECT_EQ(list_dir(t / "a/tmp").size(), can_link_anonymous_files() ? 0u : 1u);
  }
  EXPECT_TRUE(list_dir(t / "a/tmp").empty());
  EXPECT_TRUE(list_dir(t / "a/new").empty());
}

TEST(MaildirStore, EnsuredMaildirsAreCached) {
  TempDir t;
  FailingFs fs;
  MaildirStore store("host", fs);
  ASSERT_TRUE(deliver(store, {t / "a", t / "b"}, "x"));
  int mkdirs = fs.calls(Op::Mkdir);
  EXPECT_GE(mkdirs, 8);
  ASSERT_TRUE(deliver(store, {t / "a", t / "b"}, "y"));
  EXPECT_EQ(fs.calls(Op::Mkdir), mkdirs);
}

TEST(MaildirStore, ExdevFallbackCopiesIntoEachNew) {
  TempDir t;
  FailingFs fs;
  fs.fail_always(Op::Link, EXDEV);
  MaildirStore store("host", fs);
  std::string content = "Subject: copy\n\n" + std::string(100'000, 'z') + "\n";
  auto name = deliver(store, {t / "a", t / "b"}, content);
  ASSERT_TRUE(name);
  EXPECT_EQ(read_file(t / "a/new/" + *name), content);
  EXPECT_EQ(read_file(t / "b/new/" + *name), content);
  EXPECT_NE(inode(t / "a/new/" + *name), inode(t / "b/new/" + *name));
  EXPECT_TRUE(list_dir(t / "a/tmp").empty());
  EXPECT_TRUE(list_dir(t / "b/tmp").empty());
}

// ARCHITECTURE.md practice 13: fail each syscall of begin/write/commit in turn. Every failure
// must be reported (NoSpace for ENOSPC), leave nothing in any new/ and leave tmp/ empty.
struct FailEachCase {
  int err;
  bool precreate;  // maildirs exist already (mkdir -> EEXIST path) or are created by begin()
  bool exdev;      // link() fails with EXDEV: the copy fallback is exercised
};

class FailEachSyscall : public ::testing::TestWithParam<FailEachCase> {};

TEST_P(FailEachSyscall, NothingPartialRemains) {
  const auto param = GetParam();
  const std::string content = "Subject: fail\n\n" + std::string(50, 'x') + "\n";
  int n = 1;
  for (;; ++n) {
    ASSERT_LT(n, 1000) << "never succeeded";
    TempDir t;
    std::vector<std::string> dirs{t / "m/a", t / "m/b", t / "m/a"};
    if (param.precreate) {
      MaildirStore plain("host");
      ASSERT_TRUE(plain.ensure_maildir(t / "m/a"));
      ASSERT_TRUE(plain.ensure_maildir(t / "m/b"));
    }
    FailingFs fs;
    if (param.exdev) fs.fail_always(Op::Link, EXDEV);
    fs.fail_nth(Op::Any, n, param.err);
    MaildirStore store("host", fs);
    auto r = deliver(store, dirs, content);
    if (!fs.injected()) {
      ASSERT_TRUE(r) << "call " << n;
      EXPECT_EQ(read_file(t / "m/a/new/" + *r), content);
      EXPECT_EQ(read_file(t / "m/b/new/" + *r), content);
      break;
    }
    ASSERT_FALSE(r) << "failing call " << n << " was not reported";
    if (param.err == ENOSPC) {
      EXPECT_EQ(r.error(), StoreError::NoSpace) << "call " << n;
    }
    for (auto d : {"m/a/new", "m/b/new", "m/a/tmp", "m/b/tmp", "m/a/cur", "m/b/cur"}) {
      EXPECT_TRUE(list_dir(t / d).empty()) << "call " << n << ": " << d << " not empty";
    }
  }
  RecordProperty("syscalls", n - 1);
  // mkdirs, open, writes, fsync, close, links (or copies), directory fsyncs and unlink: a full
  // run makes at least this many calls, each of which was failed once above.
  EXPECT_GE(n - 1, param.exdev ? 45 : 28);
}

INSTANTIATE_TEST_SUITE_P(
    Store, FailEachSyscall,
    ::testing::Values(FailEachCase{ENOSPC, false, false}, FailEachCase{EIO, false, false},
                      FailEachCase{ENOSPC, true, false}, FailEachCase{EIO, true, false},
                      FailEachCase{ENOSPC, true, true}, FailEachCase{EIO, false, true}));

TEST(MaildirStore, UniqueNameFormat) {
  MaildirStore store("mx.example.org");
  std::regex re(R"(^(\d+)\.M(\d+)P(\d+)Q(\d+)_taube\.mx\.example\.org$)");
  std::smatch m;
  std::string name = store.unique_name();
  ASSERT_TRUE(std::regex_match(name, m, re)) << name;
  EXPECT_LT(std::stoul(m[2].str()), 1'000'000u);
  EXPECT_EQ(std::stoul(m[3].str()), static_cast<unsigned long>(::getpid()));
}

TEST(MaildirStore, HostnameIsEscaped) {
  MaildirStore store("a/b:c");
  std::string name = store.unique_name();
  EXPECT_TRUE(name.ends_with("_taube.a\\057b\\072c")) << name;
  EXPECT_EQ(name.find('/'), std::string::npos);
  EXPECT_EQ(name.find(':'), std::string::npos);
}

TEST(MaildirStore, UniqueNamesAreUnique) {
  MaildirStore store("host");
  std::set<std::string> names;
  for (int i = 0; i < 10'000; ++i) names.insert(store.unique_name());
  EXPECT_EQ(names.size(), 10'000u);
}

TEST(MaildirStore, UniqueNamesAreUniqueAcrossThreadsAndStores) {
  MaildirStore s1("host");
  MaildirStore s2("host");
  std::mutex mu;
  std::set<std::string> names;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::string> local;
      for (int i = 0; i < 2'000; ++i) local.push_back((t % 2 ? s1 : s2).unique_name());
      std::lock_guard lock(mu);
      names.insert(local.begin(), local.end());
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(names.size(), 16'000u);
}

TEST(MaildirStore, ConcurrentDeliveries) {
  TempDir t;
  MaildirStore store("host");
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < 25; ++j) {
        auto r = deliver(store, {t / "shared", t / ("own" + std::to_string(i))}, "m\n");
        EXPECT_TRUE(r);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(list_dir(t / "shared/new").size(), 200u);
  EXPECT_TRUE(list_dir(t / "shared/tmp").empty());
}

void set_mtime(const std::string& path, std::time_t when) {
  struct timespec ts[2] = {{when, 0}, {when, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), ts, 0), 0) << path;
}

TEST(MaildirStore, CleanTmp) {
  TempDir t;
  MaildirStore store("host");
  ASSERT_TRUE(store.ensure_maildir(t / "md"));
  const std::string tmp = t / "md/tmp";
  const std::time_t now = std::time(nullptr);

  std::string own_fresh = store.unique_name();
  std::string own_copy = store.unique_name() + ".copy";
  test::write_file(tmp + "/" + own_fresh, "1");
  test::write_file(tmp + "/" + own_copy, "1");
  test::write_file(tmp + "/1700000000.M1P2Q3_taube.otherhost", "1");  // another host's Taube
  test::write_file(tmp + "/foreign.fresh", "1");
  test::write_file(tmp + "/foreign.35h", "1");
  set_mtime(tmp + "/foreign.35h", now - 35 * 3600);
  test::write_file(tmp + "/foreign.37h", "1");
  set_mtime(tmp + "/foreign.37h", now - 37 * 3600);
  ASSERT_EQ(::mkdir((tmp + "/subdir").c_str(), 0700), 0);
  set_mtime(tmp + "/subdir", now - 100 * 3600);
  test::write_file(t / "md/new/old-but-new", "1");
  set_mtime(t / "md/new/old-but-new", now - 100 * 3600);

  // Normal run: only what is older than 36 hours.
  EXPECT_EQ(store.clean_tmp(t / "md", now, false), 1u);
  auto left = list_dir(tmp);
  std::set<std::string> s(left.begin(), left.end());
  EXPECT_EQ(s, (std::set<std::string>{own_fresh, own_copy, "1700000000.M1P2Q3_taube.otherhost",
                                      "foreign.fresh", "foreign.35h", "subdir"}));

  // Start-up: our own files go at once; other hosts' and foreign files stay until stale.
  EXPECT_EQ(store.clean_tmp(t / "md/", now, true), 2u);
  left = list_dir(tmp);
  s = std::set<std::string>(left.begin(), left.end());
  EXPECT_EQ(s, (std::set<std::string>{"1700000000.M1P2Q3_taube.otherhost", "foreign.fresh",
                                      "foreign.35h", "subdir"}));

  // 2 hours later the 35-hour-old file is stale too.
  EXPECT_EQ(store.clean_tmp(t / "md", now + 2 * 3600, false), 1u);
  EXPECT_EQ(read_file(t / "md/new/old-but-new"), "1");  // new/ is never touched
}

TEST(MaildirStore, CleanTmpOfMissingMaildirIsZero) {
  TempDir t;
  MaildirStore store("host");
  EXPECT_EQ(store.clean_tmp(t / "none", std::time(nullptr), true), 0u);
}

}  // namespace
}  // namespace taube::store
