#include "store/durable_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <string>

#include "store/failing_fs.hpp"

namespace taube::store {
namespace {

using test::bytes;
using test::FailingFs;
using test::list_dir;
using test::Op;
using test::read_file;
using test::TempDir;

bool exists(const std::string& p) {
  struct ::stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

TEST(StoreError, FromErrno) {
  EXPECT_EQ(error_from_errno(ENOSPC), StoreError::NoSpace);
  EXPECT_EQ(error_from_errno(EDQUOT), StoreError::NoSpace);
  EXPECT_EQ(error_from_errno(EACCES), StoreError::Permission);
  EXPECT_EQ(error_from_errno(EPERM), StoreError::Permission);
  EXPECT_EQ(error_from_errno(EROFS), StoreError::Permission);
  EXPECT_EQ(error_from_errno(EIO), StoreError::Io);
  EXPECT_EQ(error_from_errno(EEXIST), StoreError::Io);
}

TEST(StoreError, ToStringIsDistinct) {
  std::set<std::string> names{to_string(StoreError::Io), to_string(StoreError::NoSpace),
                              to_string(StoreError::Permission)};
  EXPECT_EQ(names.size(), 3u);
}

TEST(DurableFile, WritePublishesUnderAllNames) {
  TempDir t;
  auto f = DurableFile::create(posix_fs(), t / "tmpfile");
  ASSERT_TRUE(f);
  struct ::stat st {};
  ASSERT_EQ(::stat((t / "tmpfile").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE(f->write(bytes("hello ")));
  ASSERT_TRUE(f->write(bytes("world\n")));
  EXPECT_EQ(f->size(), 12u);
  ASSERT_TRUE(f->publish({t / "one", t / "two", t / "one"}));
  EXPECT_FALSE(exists(t / "tmpfile"));
  EXPECT_EQ(read_file(t / "one"), "hello world\n");
  EXPECT_EQ(read_file(t / "two"), "hello world\n");
  // Published and finished: a second publish or abort must not touch anything.
  EXPECT_FALSE(f->publish({t / "three"}));
  f->abort();
  EXPECT_TRUE(exists(t / "one"));
  EXPECT_FALSE(exists(t / "three"));
}

TEST(DurableFile, CreateIsExclusive) {
  TempDir t;
  test::write_file(t / "taken", "x");
  auto f = DurableFile::create(posix_fs(), t / "taken");
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error(), StoreError::Io);
  EXPECT_EQ(read_file(t / "taken"), "x");
}

TEST(DurableFile, CreateInMissingDirectoryFails) {
  TempDir t;
  EXPECT_FALSE(DurableFile::create(posix_fs(), t / "nope/file"));
}

TEST(DurableFile, AbortRemovesTempAndIsIdempotent) {
  TempDir t;
  auto f = DurableFile::create(posix_fs(), t / "tmpfile");
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->write(bytes("data")));
  f->abort();
  EXPECT_FALSE(exists(t / "tmpfile"));
  f->abort();
  EXPECT_FALSE(f->write(bytes("more")));
  EXPECT_FALSE(f->publish({t / "final"}));
  EXPECT_FALSE(exists(t / "final"));
}

TEST(DurableFile, DestructorAborts) {
  TempDir t;
  {
    auto f = DurableFile::create(posix_fs(), t / "tmpfile");
    ASSERT_TRUE(f);
    ASSERT_TRUE(exists(t / "tmpfile"));
  }
  EXPECT_FALSE(exists(t / "tmpfile"));
}

TEST(DurableFile, MovedFromDoesNotUnlink) {
  TempDir t;
  auto f = DurableFile::create(posix_fs(), t / "tmpfile");
  ASSERT_TRUE(f);
  {
    DurableFile moved(std::move(*f));
    f->abort();  // moved-from: no effect
    EXPECT_TRUE(exists(t / "tmpfile"));
    ASSERT_TRUE(moved.write(bytes("abc")));
    DurableFile again = std::move(moved);
    ASSERT_TRUE(again.publish({t / "final"}));
  }
  EXPECT_EQ(read_file(t / "final"), "abc");
  EXPECT_FALSE(exists(t / "tmpfile"));
}

TEST(DurableFile, MoveAssignmentAbortsTheOverwrittenFile) {
  TempDir t;
  auto a = DurableFile::create(posix_fs(), t / "a");
  auto b = DurableFile::create(posix_fs(), t / "b");
  ASSERT_TRUE(a && b);
  *a = std::move(*b);
  EXPECT_FALSE(exists(t / "a"));
  EXPECT_TRUE(exists(t / "b"));
  EXPECT_EQ(a->tmp_path(), t / "b");
  a->abort();
  EXPECT_FALSE(exists(t / "b"));
}

TEST(DurableFile, ShortWritesAndEintrAreRetried) {
  TempDir t;
  FailingFs fs;
  fs.max_write(3);
  fs.fail_nth(Op::Write, 2, EINTR);
  auto f = DurableFile::create(fs, t / "tmpfile");
  ASSERT_TRUE(f);
  std::string data = "0123456789abcdefghij";
  ASSERT_TRUE(f->write(bytes(data)));
  EXPECT_TRUE(fs.injected());
  EXPECT_GE(fs.calls(Op::Write), 8);
  ASSERT_TRUE(f->publish({t / "final"}));
  EXPECT_EQ(read_file(t / "final"), data);
}

TEST(DurableFile, WriteErrorMapsNoSpace) {
  TempDir t;
  FailingFs fs;
  fs.fail_nth(Op::Write, 1, ENOSPC);
  auto f = DurableFile::create(fs, t / "tmpfile");
  ASSERT_TRUE(f);
  auto r = f->write(bytes("x"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), StoreError::NoSpace);
  EXPECT_EQ(f->size(), 0u);
}

TEST(DurableFile, ExistingFinalNameFailsAndUndoesEarlierNames) {
  TempDir t;
  test::write_file(t / "existing", "someone else's");
  auto f = DurableFile::create(posix_fs(), t / "tmpfile");
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->write(bytes("mine")));
  ASSERT_FALSE(f->publish({t / "first", t / "existing"}));
  EXPECT_FALSE(exists(t / "first"));
  EXPECT_FALSE(exists(t / "tmpfile"));
  EXPECT_EQ(read_file(t / "existing"), "someone else's");  // never remove what we did not create
}

TEST(DurableFile, FsyncsFileAndEachDistinctDirectory) {
  TempDir t;
  ASSERT_EQ(::mkdir((t / "d1").c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((t / "d2").c_str(), 0700), 0);
  FailingFs fs;
  auto f = DurableFile::create(fs, t / "tmpfile");
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->write(bytes("x")));
  ASSERT_TRUE(f->publish({t / "d1/a", t / "d1/b", t / "d2/a"}));
  EXPECT_EQ(fs.calls(Op::Fsync), 3);  // the file, d1, d2
  EXPECT_EQ(fs.calls(Op::Link), 3);
}

// Cross-device publishing: link() fails with EXDEV, so each final name gets a durable copy
// written in the sibling tmp/ directory and renamed into place.
TEST(DurableFile, ExdevFallsBackToCopyThroughSiblingTmp) {
  TempDir t;
  for (auto d : {"a", "a/tmp", "a/new", "b", "b/tmp", "b/new"}) {
    ASSERT_EQ(::mkdir((t / d).c_str(), 0700), 0);
  }
  FailingFs fs;
  fs.fail_always(Op::Link, EXDEV);
  fs.max_write(1000);  // also exercise short writes in the copy loop
  std::string data(200'000, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 251);
  auto f = DurableFile::create(fs, t / "a/tmp/msg");
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->write(bytes(data)));
  ASSERT_TRUE(f->publish({t / "a/new/msg", t / "b/new/msg"}));
  EXPECT_EQ(read_file(t / "a/new/msg"), data);
  EXPECT_EQ(read_file(t / "b/new/msg"), data);
  EXPECT_EQ(fs.calls(Op::Rename), 2);
  EXPECT_TRUE(list_dir(t / "a/tmp").empty());
  EXPECT_TRUE(list_dir(t / "b/tmp").empty());
  struct ::stat st {};
  ASSERT_EQ(::stat((t / "b/new/msg").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(DurableFile, ExdevCopyFailureRemovesEverything) {
  TempDir t;
  for (auto d : {"a", "a/tmp", "a/new", "b", "b/tmp", "b/new"}) {
    ASSERT_EQ(::mkdir((t / d).c_str(), 0700), 0);
  }
  FailingFs fs;
  fs.fail_always(Op::Link, EXDEV);
  fs.fail_nth(Op::Rename, 2, ENOSPC);  // the second copy fails at its rename
  auto f = DurableFile::create(fs, t / "a/tmp/msg");
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->write(bytes("data")));
  auto r = f->publish({t / "a/new/msg", t / "b/new/msg"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), StoreError::NoSpace);
  for (auto d : {"a/tmp", "a/new", "b/tmp", "b/new"}) EXPECT_TRUE(list_dir(t / d).empty()) << d;
}

// Anonymous temp files (O_TMPFILE): no name exists before publish(), the first final name is
// linked from the descriptor, further ones from that name.
class AnonymousDurableFile : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!can_link_anonymous_files()) GTEST_SKIP() << "/proc/self/fd not available";
    for (auto d : {"a", "a/tmp", "a/new", "b", "b/tmp", "b/new"}) {
      ASSERT_EQ(::mkdir((t / d).c_str(), 0700), 0);
    }
  }
  std::uint64_t inode(const std::string& p) {
    struct ::stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_ino;
  }
  TempDir t;
};

TEST_F(AnonymousDurableFile, PublishesUnderAllNamesAndNeverHasATempName) {
  FailingFs fs;
  auto f = DurableFile::create_anonymous(fs, t / "a/tmp", t / "a/tmp/fallback");
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->anonymous());
  EXPECT_TRUE(f->tmp_path().empty());
  ASSERT_TRUE(f->write(bytes("hello world\n")));
  EXPECT_TRUE(list_dir(t / "a/tmp").empty());
  ASSERT_TRUE(f->publish({t / "a/new/m", t / "b/new/m", t / "a/new/m"}));
  EXPECT_EQ(read_file(t / "a/new/m"), "hello world\n");
  EXPECT_EQ(read_file(t / "b/new/m"), "hello world\n");
  EXPECT_EQ(inode(t / "a/new/m"), inode(t / "b/new/m"));  // hard links, one copy on disk
  struct ::stat st {};
  ASSERT_EQ(::stat((t / "a/new/m").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_nlink, 2u);
  EXPECT_EQ(fs.calls(Op::Fsync), 3);   // the file, a/new, b/new
  EXPECT_EQ(fs.calls(Op::Link), 2);    // linkat from the descriptor, then link
  EXPECT_EQ(fs.calls(Op::Unlink), 0);  // no temp name to remove
  EXPECT_TRUE(list_dir(t / "a/tmp").empty());
}

TEST_F(AnonymousDurableFile, AbortAndDestructorLeaveNothing) {
  {
    auto f = DurableFile::create_anonymous(posix_fs(), t / "a/tmp", t / "a/tmp/fallback");
    ASSERT_TRUE(f);
    ASSERT_TRUE(f->write(bytes("x")));
    f->abort();
    f->abort();
    EXPECT_FALSE(f->publish({t / "a/new/m"}));
  }
  {
    auto g = DurableFile::create_anonymous(posix_fs(), t / "a/tmp", t / "a/tmp/fallback");
    ASSERT_TRUE(g);
    ASSERT_TRUE(g->write(bytes("y")));
  }
  for (auto d : {"a/tmp", "a/new"}) EXPECT_TRUE(list_dir(t / d).empty()) << d;
}

TEST_F(AnonymousDurableFile, FailedSecondLinkRemovesTheFirstName) {
  FailingFs fs;
  fs.fail_nth(Op::Link, 2, ENOSPC);
  auto f = DurableFile::create_anonymous(fs, t / "a/tmp", t / "a/tmp/fallback");
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->write(bytes("data")));
  auto r = f->publish({t / "a/new/m", t / "b/new/m"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), StoreError::NoSpace);
  for (auto d : {"a/tmp", "a/new", "b/tmp", "b/new"}) EXPECT_TRUE(list_dir(t / d).empty()) << d;
}

TEST_F(AnonymousDurableFile, ExistingFinalNameIsNeverReplaced) {
  {
    std::ofstream o(t / "a/new/m");
    o << "someone else's";
  }
  auto f = DurableFile::create_anonymous(posix_fs(), t / "a/tmp", t / "a/tmp/fallback");
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->write(bytes("mine")));
  EXPECT_FALSE(f->publish({t / "a/new/m"}));
  EXPECT_EQ(read_file(t / "a/new/m"), "someone else's");
}

// new/ on another file system than tmp/: linkat fails with EXDEV, and the copies read the
// file through its still-open descriptor.
TEST_F(AnonymousDurableFile, ExdevCopiesThroughTheDescriptor) {
  FailingFs fs;
  fs.fail_always(Op::Link, EXDEV);
  std::string data(150'000, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 13 + i / 97);
  auto f = DurableFile::create_anonymous(fs, t / "a/tmp", t / "a/tmp/fallback");
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->write(bytes(data)));
  ASSERT_TRUE(f->publish({t / "a/new/m", t / "b/new/m"}));
  EXPECT_EQ(read_file(t / "a/new/m"), data);
  EXPECT_EQ(read_file(t / "b/new/m"), data);
  for (auto d : {"a/tmp", "b/tmp"}) EXPECT_TRUE(list_dir(t / d).empty()) << d;
}

// A file system without O_TMPFILE answers EOPNOTSUPP (or EISDIR on old kernels): a named temp
// file is used instead.
TEST_F(AnonymousDurableFile, FallsBackToANamedTempFile) {
  for (int err : {EOPNOTSUPP, EISDIR}) {
    FailingFs fs;
    fs.fail_nth(Op::Open, 1, err);
    auto f = DurableFile::create_anonymous(fs, t / "a/tmp", t / "a/tmp/fallback");
    ASSERT_TRUE(f) << err;
    EXPECT_FALSE(f->anonymous());
    EXPECT_EQ(f->tmp_path(), t / "a/tmp/fallback");
    EXPECT_EQ(list_dir(t / "a/tmp").size(), 1u);
    ASSERT_TRUE(f->write(bytes("z")));
    ASSERT_TRUE(f->publish({t / "a/new/m" + std::to_string(err)}));
    EXPECT_TRUE(list_dir(t / "a/tmp").empty());
  }
}

TEST_F(AnonymousDurableFile, OtherOpenErrorsAreReported) {
  FailingFs fs;
  fs.fail_nth(Op::Open, 1, ENOSPC);
  auto f = DurableFile::create_anonymous(fs, t / "a/tmp", t / "a/tmp/fallback");
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error(), StoreError::NoSpace);
  EXPECT_FALSE(DurableFile::create_anonymous(posix_fs(), t / "missing", t / "missing/x"));
}

}  // namespace
}  // namespace taube::store
