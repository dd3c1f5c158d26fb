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
