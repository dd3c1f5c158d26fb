// The memory section (docs/snapshot-format.md, "Memory section") as the parser reads it, and
// the account and verdict built on it (memory.h): retention, a leak, growth outside the heap.
#include "leakprobe/analysis/memory.h"

#include <gtest/gtest.h>

#include <string>

#include "leakprobe/analysis/parser.h"
#include "test_snapshots.h"

namespace leakprobe::analysis {
namespace {

constexpr uint64_t kMiB = 1 << 20;

// The figures of issue 17's program after it freed 63 of 64 blocks (4 threads), from a real
// snapshot of tests/memory/retention_target.c.
const std::string kRetained =
    "# leakprobe.memory.rss: total=211050496 heap=20480 arena-heaps=201621504 stacks=139264 "
    "anon=1937408 file=3084288 probe=4247552\n"
    "# leakprobe.memory.recorded: blocks=3134 requested=3137408 usable=3137456\n"
    "# leakprobe.memory.before-recording: bytes=73664 since=1796532220\n"
    "# leakprobe.memory.allocator: glibc 2.36\n"
    "# leakprobe.memory.mallinfo2: arena=201756672 ordblks=3137 smblks=8 hblks=0 hblkhd=0 "
    "fsmblks=384 uordblks=3247696 fordblks=198508976 keepcost=49520\n"
    "# leakprobe.memory.arena: nr=0 system=135168 fast=0 fast-chunks=0 rest=49520 "
    "rest-chunks=1 top=49520 subheaps=0 sizes=\n"
    "# leakprobe.memory.arena: nr=1 system=50405376 fast=96 fast-chunks=2 rest=49615551 "
    "rest-chunks=784 top=17328 subheaps=1 sizes=33-48:2:96,161-63505:783:49598223\n"
    "# leakprobe.memory.arena: nr=2 system=50405376 fast=96 fast-chunks=2 rest=49615551 "
    "rest-chunks=784 top=17328 subheaps=1 sizes=33-48:2:96,161-63505:783:49598223\n"
    "# leakprobe.memory.arena: nr=3 system=50405376 fast=96 fast-chunks=2 rest=49615551 "
    "rest-chunks=784 top=17328 subheaps=1 sizes=33-48:2:96,161-63505:783:49598223\n"
    "# leakprobe.memory.arena: nr=4 system=50405376 fast=96 fast-chunks=2 rest=49615551 "
    "rest-chunks=784 top=17328 subheaps=1 sizes=33-48:2:96,161-63505:783:49598223\n"
    "# leakprobe.memory.top-resident: bytes=65536 main=0 measured=5 arenas=5\n"
    "# leakprobe.memory.census-us: total=646 maps=152\n";

MemoryFacts parse(const std::string& meta) {
  Result<Snapshot> r =
      parse_snapshot(testing::leakprobe_text({{1, 8, 1, 8, {0x555500001000}}}, 0x555500000000,
                                             "/opt/t/app", 100, meta),
                     "t.heap");
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? r.value().memory : MemoryFacts{};
}

MemoryAccount small_base() {
  MemoryAccount a;
  a.rss = 3 * kMiB;
  a.heap_known = true;
  a.heap_live = 8192;
  a.file = 2 * kMiB;
  a.other_anon = kMiB - 8192;
  return a;
}

TEST(Memory, ParsesEveryLineOfTheSection) {
  const MemoryFacts f = parse(kRetained);
  ASSERT_TRUE(f.present());
  EXPECT_TRUE(f.glibc());
  EXPECT_EQ(f.rss_total, 211050496u);
  EXPECT_EQ(f.rss_arena_heaps, 201621504u);
  EXPECT_EQ(f.recorded_usable, 3137456u);
  EXPECT_EQ(f.before_recording_bytes, 73664u);
  EXPECT_EQ(f.mi_uordblks, 3247696u);
  ASSERT_EQ(f.arenas.size(), 5u);
  EXPECT_EQ(f.arenas[1].top, 17328u);
  ASSERT_EQ(f.arenas[1].sizes.size(), 2u);
  // The first entry makes up the fast figure; the second is a bin whose raw size field is odd.
  EXPECT_TRUE(f.arenas[1].sizes[0].fast);
  EXPECT_FALSE(f.arenas[1].sizes[1].fast);
  EXPECT_EQ(f.top_resident, 65536u);
}

TEST(Memory, MalformedValuesAreErrorsUnknownNamesAreNot) {
  Result<Snapshot> bad = parse_snapshot(
      testing::leakprobe_text({{1, 8, 1, 8, {0x555500001000}}}, 0x555500000000, "/opt/t/app", 100,
                              "# leakprobe.memory.rss: total=12x\n"),
      "t.heap");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("memory.rss"), std::string::npos) << bad.error().message;
  Result<Snapshot> sizes = parse_snapshot(
      testing::leakprobe_text({{1, 8, 1, 8, {0x555500001000}}}, 0x555500000000, "/opt/t/app", 100,
                              "# leakprobe.memory.arena: nr=1 sizes=1-2:3\n"),
      "t.heap");
  EXPECT_FALSE(sizes.ok());
  const MemoryFacts f =
      parse("# leakprobe.memory.rss: total=100 future=7\n# leakprobe.memory.some-future-key: 1\n");
  EXPECT_EQ(f.rss_total, 100u);
}

TEST(Memory, RetainedFreeMemoryIsAllocatorRetentionAndAddsUpToRss) {
  const MemoryFacts f = parse(kRetained);
  const MemoryAccount now = account_memory(f, 3137408, false);
  EXPECT_EQ(now.sum(), now.rss) << "nothing was cut at 0 here, so the parts are exact";
  EXPECT_EQ(now.heap_overhead, 48u + 8u * 3134u);
  EXPECT_EQ(now.heap_free_top, 65536u);
  EXPECT_GT(now.heap_free_interior, 180 * kMiB);
  // 4 arenas x 783 chunks of ~63 KiB: all but 48 + 4096 bytes of each, all resident.
  const double expected = 4 * 783 * (49598223.0 / 783 - 4144);
  EXPECT_NEAR(static_cast<double>(now.releasable), expected, expected * 0.01);
  const MemoryReport r = compare_memory(small_base(), now, 4242);
  EXPECT_EQ(r.verdict, MemoryVerdict::kAllocatorRetention) << r.reason;
  ASSERT_FALSE(r.advice.empty());
  EXPECT_EQ(r.advice[0].kind, MemoryAdvice::Kind::kTrim);
  EXPECT_NE(r.advice[0].text.find("leakprobe trim 4242"), std::string::npos);
  bool arena_max = false;
  for (const MemoryAdvice& a : r.advice) arena_max |= a.kind == MemoryAdvice::Kind::kArenaMax;
  EXPECT_TRUE(arena_max) << "4 of 5 arenas hold ~47 MiB free each";
}

TEST(Memory, LiveGrowthIsALeakEvenWhenItFillsRetainedMemory) {
  MemoryAccount base = small_base(), now = small_base();
  now.heap_live += 50 * kMiB;
  now.rss += 52 * kMiB;
  now.other_anon += 2 * kMiB;
  EXPECT_EQ(compare_memory(base, now, {}).verdict, MemoryVerdict::kLiveHeapGrowth);
  // Reusing free memory malloc already had: RSS flat, live heap up.
  base.heap_free_interior = 40 * kMiB;
  base.rss += 40 * kMiB;
  now = base;
  now.heap_live += 30 * kMiB;
  now.heap_free_interior -= 30 * kMiB;
  const MemoryReport r = compare_memory(base, now, {});
  EXPECT_EQ(r.verdict, MemoryVerdict::kLiveHeapGrowth) << r.reason;
}

TEST(Memory, GrowthOutsideTheHeapAndNoGrowth) {
  MemoryAccount base = small_base(), now = small_base();
  now.thread_stacks += 16 * kMiB;
  now.rss += 16 * kMiB;
  EXPECT_EQ(compare_memory(base, now, {}).verdict, MemoryVerdict::kNonHeapGrowth);
  now = base;
  now.rss += 512 * 1024;
  now.other_anon += 512 * 1024;
  EXPECT_EQ(compare_memory(base, now, {}).verdict, MemoryVerdict::kNoGrowth);
}

TEST(Memory, ForeignAllocatorHasOnlyTheKernelsView) {
  const MemoryFacts f = parse(
      "# leakprobe.memory.rss: total=104857600 heap=0 arena-heaps=0 stacks=1048576 "
      "anon=94371840 file=8388608 probe=1048576\n"
      "# leakprobe.memory.allocator: foreign /usr/lib/x86_64-linux-gnu/libjemalloc.so.2\n");
  EXPECT_FALSE(f.glibc());
  const MemoryAccount a = account_memory(f, 10 * kMiB, false);
  EXPECT_FALSE(a.heap_known);
  EXPECT_EQ(a.sum(), a.rss);
  EXPECT_EQ(a.releasable, 0u);
  MemoryAccount base = a;
  base.rss -= 60 * kMiB;
  base.other_anon -= 60 * kMiB;
  const MemoryReport r = compare_memory(base, a, {});
  EXPECT_EQ(r.verdict, MemoryVerdict::kNonHeapGrowth);
  EXPECT_NE(r.reason.find("not glibc"), std::string::npos) << r.reason;
  ASSERT_EQ(r.advice.size(), 1u);
  EXPECT_EQ(r.advice[0].kind, MemoryAdvice::Kind::kForeignAllocator);
}

}  // namespace
}  // namespace leakprobe::analysis
