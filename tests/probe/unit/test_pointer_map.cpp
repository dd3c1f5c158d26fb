#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include "pointer_map.h"

using leakprobe::PointerMap;

namespace {
// Values are opaque to the map; make each one depend on its key and a size.
uint64_t value(uintptr_t k, uint64_t size) { return (k << 38) | size; }
const void* ptr(uintptr_t i) { return reinterpret_cast<const void*>(0x10000 + i * 16); }
}  // namespace

TEST(PointerMap, InsertTakeAndMiss) {
  auto m = std::make_unique<PointerMap>();
  ASSERT_TRUE(m->init());
  ASSERT_TRUE(m->insert(ptr(1), value(1, 40004)));
  uint64_t v = 0;
  EXPECT_FALSE(m->take(ptr(2), &v));
  ASSERT_TRUE(m->take(ptr(1), &v));
  EXPECT_EQ(v, value(1, 40004));
  EXPECT_FALSE(m->take(ptr(1), &v)) << "taken once";
  EXPECT_EQ(m->size(), 0u);
}

TEST(PointerMap, GrowsAndKeepsEveryEntryAgainstAReferenceMap) {
  auto m = std::make_unique<PointerMap>();
  ASSERT_TRUE(m->init());
  std::unordered_map<uintptr_t, uint64_t> ref;
  std::mt19937_64 rng(7);
  // Random inserts and erases, well past several growths of every shard.
  for (int step = 0; step < 300000; ++step) {
    uintptr_t k = rng() % 100000;
    uint64_t v = 0;
    if (ref.count(k)) {
      ASSERT_TRUE(m->take(ptr(k), &v)) << step;
      ASSERT_EQ(v, value(k, ref[k]));
      ref.erase(k);
    } else {
      uint64_t size = rng() % 5000;
      ASSERT_TRUE(m->insert(ptr(k), value(k, size)));
      ref[k] = size;
    }
  }
  EXPECT_EQ(m->size(), ref.size());
  for (auto& [k, size] : ref) {
    uint64_t v = 0;
    ASSERT_TRUE(m->take(ptr(k), &v));
    EXPECT_EQ(v, value(k, size));
  }
  EXPECT_EQ(m->size(), 0u);
}

TEST(PointerMap, MemoryPerLiveEntryStaysUnder43Bytes) {
  auto m = std::make_unique<PointerMap>();
  ASSERT_TRUE(m->init());
  const size_t n = 1 << 20;
  for (size_t i = 0; i < n; ++i) ASSERT_TRUE(m->insert(ptr(i), value(1, 8)));
  // 16-byte entries, grown at 3/4 load: at most 16 / (3/8) bytes per live entry.
  EXPECT_LE(static_cast<double>(m->table_bytes()) / n, 43.0);
}

TEST(PointerMap, ConcurrentThreadsOnDisjointPointers) {
  auto m = std::make_unique<PointerMap>();
  ASSERT_TRUE(m->init());
  std::vector<std::thread> threads;
  for (int th = 0; th < 8; ++th) {
    threads.emplace_back([&, th] {
      for (int round = 0; round < 20; ++round) {
        for (uintptr_t i = 0; i < 2000; ++i) {
          uintptr_t k = static_cast<uintptr_t>(th) * 1000000 + i;
          ASSERT_TRUE(m->insert(ptr(k), value(k, i)));
        }
        for (uintptr_t i = 0; i < 2000; ++i) {
          uintptr_t k = static_cast<uintptr_t>(th) * 1000000 + i;
          uint64_t v = 0;
          ASSERT_TRUE(m->take(ptr(k), &v));
          ASSERT_EQ(v, value(k, i));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(m->size(), 0u);
}

// The allocation time rides in the key's top bits (pointer_map.h): it comes back with the
// value, never disturbs a lookup, and survives growth and backward-shift deletion.
TEST(PointerMap, KeepsEachEntrysAllocationTime) {
  auto m = std::make_unique<PointerMap>();
  ASSERT_TRUE(m->init());
  const uint32_t kBig = 5000;
  for (uintptr_t i = 0; i < kBig; ++i) ASSERT_TRUE(m->insert(ptr(i), value(i, i), 1000 + i));
  for (uintptr_t i = 0; i < kBig; i += 2) {  // holes everywhere: backward shifts move entries
    uint64_t v = 0;
    uint32_t at = 0;
    ASSERT_TRUE(m->take(ptr(i), &v, &at));
    EXPECT_EQ(at, 1000 + i);
  }
  for (uintptr_t i = 1; i < kBig; i += 2) {
    uint64_t v = 0;
    uint32_t at = 0;
    ASSERT_TRUE(m->take(ptr(i), &v, &at));
    EXPECT_EQ(v, value(i, i));
    EXPECT_EQ(at, 1000 + i);
  }
}

// A process that runs past 18 h: the shard doubles its unit and halves what it holds, so
// every time comes back rounded down to the new unit, never wrapped or reordered.
TEST(PointerMap, CoarsensItsUnitWhenATimeNoLongerFits) {
  auto m = std::make_unique<PointerMap>();
  ASSERT_TRUE(m->init());
  const uint32_t day = 86400, week = 7 * day;
  ASSERT_TRUE(m->insert(ptr(1), 1, 7));
  ASSERT_TRUE(m->insert(ptr(2), 2, day + 3));   // > 0xffff s: this shard goes to 2 s units
  ASSERT_TRUE(m->insert(ptr(3), 3, week + 1));  // 16 s units
  uint64_t v = 0;
  uint32_t at = 0;
  ASSERT_TRUE(m->take(ptr(3), &v, &at));
  EXPECT_LE(at, week + 1);
  EXPECT_GT(at + 16, week + 1);
  // Keys hash to shards: the first two may sit in other shards with finer units. Either
  // way: rounded down, within that shard's unit (at most 16 s here).
  ASSERT_TRUE(m->take(ptr(2), &v, &at));
  EXPECT_LE(at, day + 3);
  EXPECT_GT(at + 16, day + 3);
  ASSERT_TRUE(m->take(ptr(1), &v, &at));
  EXPECT_LE(at, 7u);
  EXPECT_EQ(m->size(), 0u);
}

// Only the low 48 bits name the block; a stamp never makes two pointers collide or one miss.
TEST(PointerMap, CopyShardHandsOutEveryLiveEntryOnce) {
  auto m = std::make_unique<PointerMap>();
  ASSERT_TRUE(m->init());
  const size_t n = 20000;
  for (uintptr_t i = 0; i < n; ++i) ASSERT_TRUE(m->insert(ptr(i), value(i, 1), 60 + i % 100));
  std::vector<leakprobe::PtrEntry> buf(n);
  size_t seen = 0;
  for (int s = 0; s < PointerMap::kShards; ++s) {
    unsigned shift = 99;
    EXPECT_EQ(m->copy_shard(s, buf.data(), 0, &shift) == PointerMap::kTooSmall,
              m->shard_size(s) > 0);
    size_t k = m->copy_shard(s, buf.data(), buf.size(), &shift);
    ASSERT_NE(k, PointerMap::kTooSmall);
    EXPECT_EQ(shift, 0u);
    for (size_t j = 0; j < k; ++j) {
      const uint64_t key = buf[j].key & PointerMap::kKeyMask;
      const uintptr_t i = (key - 0x10000) / 16;
      EXPECT_EQ(buf[j].value, value(i, 1));
      EXPECT_EQ(PointerMap::alloc_s_of(buf[j], shift), 60 + i % 100);
    }
    seen += k;
  }
  EXPECT_EQ(seen, n);
}
