// Hosts that run out of descriptors (a connection leak taken to EMFILE): the probe must
// neither burn CPU on a control request it cannot accept nor lose the exit snapshot.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "harness.h"

using namespace probe_test;

namespace {

class FdExhaustion : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = make_temp_dir("fdfull"); }
  void TearDown() override {
    if (!HasFailure())
      remove_tree(dir_);
    else
      fprintf(stderr, "kept %s for inspection\n", dir_.c_str());
  }
  std::string dir_;
};

}  // namespace

TEST_F(FdExhaustion, ExitSnapshotIsWrittenWhenTheHostUsedEveryDescriptor) {
  RunResult r = run({PROG_FDFULL, "exit"}, dir_);
  ASSERT_TRUE(r.exited_ok()) << r.status << r.err;
  EXPECT_EQ(r.out, "full\n");
  EXPECT_EQ(r.err.find("cannot"), std::string::npos) << r.err;
  auto files = snapshot_files(dir_);
  ASSERT_EQ(files.size(), 1u) << r.err;
  Snapshot s = load(files[0]);
  expect_well_formed(s);
  EXPECT_EQ(s.get("trigger"), "exit");
}
