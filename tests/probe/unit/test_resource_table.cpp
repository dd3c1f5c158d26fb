// The resource table driven directly, without LD_PRELOAD: creations and releases by number,
// stale entries, reconciliation with the kernel's list, timers and thread records.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "resource_table.h"

namespace leakprobe {
namespace {

const Bucket* find(const ResourceTable& t, ResourceKind kind, uintptr_t leaf) {
  for (const Bucket* b = t.first_bucket(); b; b = b->next) {
    if (ResourceTable::bucket_kind(b) != kind) continue;
    if (leaf == 0 ? ResourceTable::bucket_depth(b) == 0
                  : ResourceTable::bucket_depth(b) > 0 && b->frames[0] == leaf)
      return b;
  }
  return nullptr;
}

class ResourceTableTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(t.init(1024, 8)); }
  ResourceTable t;
  const uintptr_t conn[2] = {0x401000, 0x402000};
  const uintptr_t file[2] = {0x403000, 0x402000};
};

TEST_F(ResourceTableTest, CountsByKindAndStackAndReleasesByNumber) {
  for (int fd = 10; fd < 15; ++fd) t.fd_created(fd, ResourceKind::kTcp, conn, 2, false);
  t.fd_created(20, ResourceKind::kFile, file, 2, false);
  t.fd_closed(11);
  t.fd_closed(11);    // twice: the second is an unknown number
  t.fd_closed(9999);  // never seen
  const Bucket* b = find(t, ResourceKind::kTcp, conn[0]);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->live().objs, 4);
  EXPECT_EQ(b->alloc_objs.load(), 5u);
  EXPECT_EQ(t.fd_kind(12), ResourceKind::kTcp);
  EXPECT_EQ(t.fd_kind(11), ResourceKind::kOtherFd);  // closed
  t.fds_closed(12, ~0u);                             // closefrom(12)
  EXPECT_EQ(b->live().objs, 1);                      // 10 is left
  EXPECT_EQ(find(t, ResourceKind::kFile, file[0])->live().objs, 0);
}

TEST_F(ResourceTableTest, ANumberCreatedAgainReleasesTheStaleEntry) {
  t.fd_created(5, ResourceKind::kTcp, conn, 2, false);
  // Closed by a raw system call (unseen), then the kernel hands 5 out again.
  t.fd_created(5, ResourceKind::kFile, file, 2, false);
  EXPECT_EQ(find(t, ResourceKind::kTcp, conn[0])->live().objs, 0);
  EXPECT_EQ(find(t, ResourceKind::kFile, file[0])->live().objs, 1);
}

TEST_F(ResourceTableTest, ReconcileDropsUnseenClosesAndCountsUntracked) {
  t.fd_created(3, ResourceKind::kTcp, conn, 2, false);
  t.fd_created(4, ResourceKind::kTcp, conn, 2, false);
  t.fd_inherited(0, ResourceKind::kPipe);
  t.fd_own(7);
  std::vector<uint64_t> before(t.limit());
  t.copy_entries(before.data(), t.limit());
  // The kernel says: 0, 3, 7 and 9 are open (4 was closed unseen, 9 opened unseen).
  std::vector<uint64_t> open(ResourceTable::kMaxFds / 64, 0);
  for (int fd : {0, 3, 7, 9}) open[fd / 64] |= uint64_t{1} << (fd % 64);
  // Meanwhile 4 is created again, after the copy: that newer entry must be kept.
  t.fd_closed(4);
  t.fd_created(4, ResourceKind::kFile, file, 2, false);
  uint64_t untracked = 0;
  EXPECT_EQ(t.reconcile(before.data(), open.data(), ResourceTable::kMaxFds, &untracked), 0u);
  EXPECT_EQ(untracked, 1u);  // 9; 7 is the probe's own
  EXPECT_TRUE(t.fd_known(4));

  // Without the re-creation, 4 is dropped as closed where no interposer saw it.
  t.fd_closed(4);
  t.fd_created(6, ResourceKind::kTcp, conn, 2, false);
  t.copy_entries(before.data(), t.limit());
  EXPECT_EQ(t.reconcile(before.data(), open.data(), ResourceTable::kMaxFds, &untracked), 1u);
  EXPECT_FALSE(t.fd_known(6));
  EXPECT_EQ(find(t, ResourceKind::kTcp, conn[0])->live().objs, 1);  // 3
  EXPECT_EQ(find(t, ResourceKind::kPipe, 0)->live().objs, 1);       // inherited, no stack
}

TEST_F(ResourceTableTest, TimersLiveUntilDeleted) {
  int a = 0, b = 0;
  t.timer_created(&a, conn, 2, false);
  t.timer_created(&b, conn, 2, false);
  t.timer_created(nullptr, conn, 2, false);  // kernel timer id 0
  t.timer_deleted(&a);
  t.timer_deleted(&a);  // unknown now
  EXPECT_EQ(find(t, ResourceKind::kTimer, conn[0])->live().objs, 2);
}

TEST_F(ResourceTableTest, ThreadsCountFromCreationUntilExitAndForkKeepsOnlyTheCaller) {
  auto fn = [](void*) -> void* { return nullptr; };
  ResourceTable::ThreadRecord* r1 = t.thread_prepare(fn, nullptr, conn, 2, false);
  ResourceTable::ThreadRecord* r2 = t.thread_prepare(fn, nullptr, conn, 2, false);
  ResourceTable::ThreadRecord* r3 = t.thread_prepare(fn, nullptr, conn, 2, false);
  ASSERT_TRUE(r1 && r2 && r3);
  const Bucket* b = find(t, ResourceKind::kThread, conn[0]);
  EXPECT_EQ(b->live().objs, 3);  // counted before they first run
  t.thread_abandon(r3);          // pthread_create failed: never created
  EXPECT_EQ(b->live().objs, 2);
  EXPECT_EQ(b->alloc_objs.load(), 2u);
  t.thread_started(r1, 111);
  t.thread_started(r2, 222);
  t.thread_exited(r2);
  EXPECT_EQ(b->live().objs, 1);
  ResourceTable::ThreadRecord* r4 = t.thread_prepare(fn, nullptr, conn, 2, false);
  t.thread_started(r4, 444);
  EXPECT_EQ(b->live().objs, 2);
  t.lock_for_fork();
  t.reset_after_fork_in_child(444);  // the child is thread 444's copy
  EXPECT_EQ(b->live().objs, 1);
  t.thread_exited(r1);  // a record the child already gave back: no double count
  EXPECT_EQ(b->live().objs, 1);
}

}  // namespace
}  // namespace leakprobe
