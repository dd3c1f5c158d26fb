#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include "pointer_map.h"

using leakprobe::Bucket;
using leakprobe::PointerMap;
using leakprobe::PtrEntry;

namespace {
Bucket* fake_bucket(uintptr_t i) { return reinterpret_cast<Bucket*>(i * 64); }
const void* ptr(uintptr_t i) { return reinterpret_cast<const void*>(0x10000 + i * 16); }
}  // namespace

TEST(PointerMap, InsertTakeAndMiss) {
  auto m = std::make_unique<PointerMap>();
  ASSERT_TRUE(m->init());
  ASSERT_TRUE(m->insert(ptr(1), fake_bucket(1), 40004));
  PtrEntry e;
  EXPECT_FALSE(m->take(ptr(2), &e));
  ASSERT_TRUE(m->take(ptr(1), &e));
  EXPECT_EQ(e.bucket, fake_bucket(1));
  EXPECT_EQ(e.size, 40004u);
  EXPECT_FALSE(m->take(ptr(1), &e)) << "taken once";
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
    PtrEntry e;
    if (ref.count(k)) {
      ASSERT_TRUE(m->take(ptr(k), &e)) << step;
      ASSERT_EQ(e.size, ref[k]);
      ASSERT_EQ(e.bucket, fake_bucket(k));
      ref.erase(k);
    } else {
      uint64_t size = rng() % 5000;
      ASSERT_TRUE(m->insert(ptr(k), fake_bucket(k), size));
      ref[k] = size;
    }
  }
  EXPECT_EQ(m->size(), ref.size());
  for (auto& [k, size] : ref) {
    PtrEntry e;
    ASSERT_TRUE(m->take(ptr(k), &e));
    EXPECT_EQ(e.size, size);
  }
  EXPECT_EQ(m->size(), 0u);
}

TEST(PointerMap, MemoryPerLiveEntryStaysUnder64Bytes) {
  auto m = std::make_unique<PointerMap>();
  ASSERT_TRUE(m->init());
  const size_t n = 1 << 20;
  for (size_t i = 0; i < n; ++i) ASSERT_TRUE(m->insert(ptr(i), fake_bucket(1), 8));
  EXPECT_LE(static_cast<double>(m->table_bytes()) / n, 64.0);
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
          ASSERT_TRUE(m->insert(ptr(k), fake_bucket(k), i));
        }
        for (uintptr_t i = 0; i < 2000; ++i) {
          uintptr_t k = static_cast<uintptr_t>(th) * 1000000 + i;
          PtrEntry e;
          ASSERT_TRUE(m->take(ptr(k), &e));
          ASSERT_EQ(e.size, i);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(m->size(), 0u);
}
