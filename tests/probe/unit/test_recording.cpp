// Recording switched at run time (LEAKPROBE_ENABLED=0, `leakprobe enable/disable PID`): a
// dormant tracker records nothing yet stays active for the writer and the control socket;
// after enabling, only blocks allocated from then on are live; frees of blocks it never saw
// change nothing.
#include <gtest/gtest.h>

#include <memory>

#include "tracker.h"

using leakprobe::Options;
using leakprobe::Tracker;

namespace {

std::unique_ptr<Tracker> dormant_tracker() {
  Options o;
  o.enabled = false;
  o.depth = 8;
  auto t = std::make_unique<Tracker>();
  EXPECT_TRUE(t->init(o));
  return t;
}

// Distinct fake block addresses: the tracker never dereferences them.
const void* block(uintptr_t i) { return reinterpret_cast<const void*>(0x100000 + i * 64); }

int64_t live_bytes(const Tracker& t) {
  int64_t n = 0;
  for (const auto* b = t.stacks().first(); b; b = b->next) n += b->live_bytes();
  return n;
}

}  // namespace

TEST(Recording, DormantTrackerRecordsNothingButStaysActive) {
  auto t = dormant_tracker();
  EXPECT_TRUE(t->active()) << "the writer and control socket must keep running";
  EXPECT_FALSE(t->recording());
  EXPECT_FALSE(t->ever_recorded());
  t->on_alloc(block(1), 100);
  t->on_free(block(1));
  t->on_free(block(2));  // never seen: nothing to do, nothing said
  EXPECT_EQ(t->live_pointers(), 0u);
  EXPECT_EQ(t->stacks().size(), 0u) << "no stack was even captured";
}

TEST(Recording, EnablingShowsGrowthFromThenOn) {
  auto t = dormant_tracker();
  t->on_alloc(block(1), 100);  // before enabling: never known
  EXPECT_FALSE(t->set_recording(true));
  EXPECT_TRUE(t->recording());
  t->on_alloc(block(2), 200);
  t->on_alloc(block(3), 300);
  EXPECT_EQ(t->live_pointers(), 2u);
  EXPECT_EQ(live_bytes(*t), 500);
  t->on_free(block(1));  // allocated while dormant: the map does not know it
  EXPECT_EQ(t->live_pointers(), 2u);
  EXPECT_EQ(live_bytes(*t), 500);
  t->on_free(block(2));
  EXPECT_EQ(live_bytes(*t), 300);
}

TEST(Recording, DisablingStopsNewRecordsButFreesStillCount) {
  auto t = dormant_tracker();
  t->set_recording(true);
  t->on_alloc(block(1), 100);
  EXPECT_TRUE(t->set_recording(false));
  t->on_alloc(block(2), 200);  // not recorded
  EXPECT_EQ(t->live_pointers(), 1u);
  // A block recorded before disabling and freed while disabled must not stay "live" for the
  // next enable.
  t->on_free(block(1));
  t->on_free(block(2));
  EXPECT_EQ(t->live_pointers(), 0u);
  EXPECT_EQ(live_bytes(*t), 0);
  t->set_recording(true);
  t->on_alloc(block(3), 300);
  EXPECT_EQ(live_bytes(*t), 300) << "only growth since the second enable";
}

TEST(Recording, ReallocOfADormantBlockRecordsTheNewBlockOnly) {
  auto t = dormant_tracker();
  // Allocated while dormant, reallocated (moved) after enabling.
  t->set_recording(true);
  const auto ticket = t->realloc_begin(block(1));
  EXPECT_FALSE(ticket.tracked);
  t->realloc_end(ticket, block(1), block(5), 400);
  EXPECT_EQ(t->live_pointers(), 1u);
  EXPECT_EQ(live_bytes(*t), 400);
  // And a failed realloc of it leaves nothing behind.
  const auto failed = t->realloc_begin(block(6));
  t->realloc_end(failed, block(6), nullptr, 50);
  EXPECT_EQ(t->live_pointers(), 1u);
}
