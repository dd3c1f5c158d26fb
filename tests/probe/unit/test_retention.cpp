// LEAKPROBE_KEEP's rules on real files: the first interval snapshot and the newest stay, at
// most `keep` in all, and nothing is deleted that is not still the very file the probe wrote.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "retention.h"

using leakprobe::PublishResult;
using leakprobe::Retention;

namespace {

constexpr int kPid = 4242;

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lp_retention_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { ASSERT_EQ(std::system(("rm -rf " + dir_).c_str()), 0); }

  std::string path(unsigned seq) const {
    char name[64];
    snprintf(name, sizeof(name), "/leakprobe.%d.%04u.heap", kPid, seq);
    return dir_ + name;
  }
  // What publish_snapshot reports for a file it just wrote.
  PublishResult publish(unsigned seq) const {
    std::ofstream(path(seq)) << "snapshot " << seq << "\n";
    struct stat st;
    EXPECT_EQ(stat(path(seq).c_str(), &st), 0);
    PublishResult r;
    r.ok = true;
    r.sequence = seq;
    r.dev = st.st_dev;
    r.ino = st.st_ino;
    return r;
  }
  bool exists(unsigned seq) const { return access(path(seq).c_str(), F_OK) == 0; }

  std::string dir_;
};

}  // namespace

TEST_F(RetentionTest, KeepsTheFirstAndTheNewest) {
  Retention r;
  ASSERT_TRUE(r.init(4));
  for (unsigned seq = 1; seq <= 10; ++seq)
    r.on_interval_published(publish(seq), dir_.c_str(), kPid);
  EXPECT_TRUE(exists(1)) << "the first is the baseline";
  for (unsigned seq = 2; seq <= 7; ++seq) EXPECT_FALSE(exists(seq)) << seq;
  for (unsigned seq = 8; seq <= 10; ++seq) EXPECT_TRUE(exists(seq)) << seq;
  EXPECT_EQ(r.kept(), 4u);
  EXPECT_EQ(r.deleted(), 6u);
}

TEST_F(RetentionTest, OtherSnapshotsBetweenAreNeverTouched) {
  Retention r;
  ASSERT_TRUE(r.init(2));
  r.on_interval_published(publish(1), dir_.c_str(), kPid);
  publish(2);  // a request snapshot: the writer never hands it to the retention
  r.on_interval_published(publish(3), dir_.c_str(), kPid);
  publish(4);  // a signal snapshot
  r.on_interval_published(publish(5), dir_.c_str(), kPid);
  EXPECT_TRUE(exists(1));
  EXPECT_TRUE(exists(2));
  EXPECT_FALSE(exists(3));
  EXPECT_TRUE(exists(4));
  EXPECT_TRUE(exists(5));
}

TEST_F(RetentionTest, AFileReplacedUnderOurNameIsLeftAlone) {
  Retention r;
  ASSERT_TRUE(r.init(2));
  r.on_interval_published(publish(1), dir_.c_str(), kPid);
  r.on_interval_published(publish(2), dir_.c_str(), kPid);
  // Someone moves our file away and puts their own under the name (a new inode).
  ASSERT_EQ(rename(path(2).c_str(), (dir_ + "/moved.heap").c_str()), 0);
  std::ofstream(path(2)) << "not the probe's\n";
  r.on_interval_published(publish(3), dir_.c_str(), kPid);
  EXPECT_TRUE(exists(2)) << "a file the probe did not write must survive";
  std::ifstream in(path(2));
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "not the probe's");
  EXPECT_EQ(access((dir_ + "/moved.heap").c_str(), F_OK), 0) << "renamed away: not followed";
  // A directory under the next name due for deletion.
  ASSERT_EQ(unlink(path(3).c_str()), 0);
  ASSERT_EQ(mkdir(path(3).c_str(), 0700), 0);
  r.on_interval_published(publish(4), dir_.c_str(), kPid);
  struct stat st;
  ASSERT_EQ(stat(path(3).c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  ASSERT_EQ(rmdir(path(3).c_str()), 0);
}

TEST_F(RetentionTest, AChildStartsCountingAfresh) {
  Retention r;
  ASSERT_TRUE(r.init(2));
  r.on_interval_published(publish(1), dir_.c_str(), kPid);
  r.on_interval_published(publish(2), dir_.c_str(), kPid);
  r.reset_in_child();
  EXPECT_EQ(r.kept(), 0u);
  // The child's files have the child's pid; here the same names stand in for them.
  r.on_interval_published(publish(5), dir_.c_str(), kPid);
  r.on_interval_published(publish(6), dir_.c_str(), kPid);
  EXPECT_TRUE(exists(1) && exists(2) && exists(5) && exists(6)) << "the parent's files stay";
}

// The check both deletions go through (interval retention and the peak snapshot's
// replacement): only the very file published under that name is deleted.
TEST_F(RetentionTest, RemoveIfSameFileDeletesOnlyThatFile) {
  const PublishResult a = publish(1);
  EXPECT_TRUE(leakprobe::remove_if_same_file(path(1).c_str(), a.dev, a.ino));
  EXPECT_FALSE(exists(1));
  EXPECT_FALSE(leakprobe::remove_if_same_file(path(1).c_str(), a.dev, a.ino)) << "gone";

  const PublishResult b = publish(2);
  // Replaced under the same name (cp + mv: a new inode), as a user keeping a copy might.
  std::ofstream(dir_ + "/copy") << "someone's\n";
  ASSERT_EQ(rename((dir_ + "/copy").c_str(), path(2).c_str()), 0);
  EXPECT_FALSE(leakprobe::remove_if_same_file(path(2).c_str(), b.dev, b.ino));
  EXPECT_TRUE(exists(2));
  // A symlink to the very file is not the file.
  const PublishResult c = publish(3);
  ASSERT_EQ(symlink(path(3).c_str(), path(4).c_str()), 0);
  EXPECT_FALSE(leakprobe::remove_if_same_file(path(4).c_str(), c.dev, c.ino));
  EXPECT_TRUE(exists(3));
}
