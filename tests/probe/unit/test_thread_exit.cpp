// The probe's one pthread key (thread_exit.h) and the walk cache's hook in it: one key for
// every hook, each hook run once per thread with its value, the walk cache slot given back,
// a free after the hook walking uncached, a hook set from a later key's destructor re-armed.
// Each test runs in its own process (gtest_discover_tests), so the key is created fresh.
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>
#include <vector>

#include "thread_exit.h"
#include "walk_cache.h"

namespace {

using leakprobe::ThreadExitHook;

// Keys a program can still create; all given back again.
int keys_left() {
  std::vector<pthread_key_t> keys;
  pthread_key_t k;
  while (pthread_key_create(&k, nullptr) == 0) keys.push_back(k);
  for (pthread_key_t key : keys) pthread_key_delete(key);
  return static_cast<int>(keys.size());
}

std::atomic<int> g_runs{0};
std::atomic<void*> g_seen{nullptr};
void record_hook(void* v) {
  g_runs.fetch_add(1);
  g_seen.store(v);
}

void run_thread(void* (*fn)(void*), void* arg = nullptr) {
  pthread_t t;
  ASSERT_EQ(pthread_create(&t, nullptr, fn, arg), 0);
  ASSERT_EQ(pthread_join(t, nullptr), 0);  // returns after the thread's key destructors ran
}

}  // namespace

TEST(ThreadExit, EveryHookSharesOneKey) {
  const int before = keys_left();
  leakprobe::walk_cache_init();
  leakprobe::thread_exit_register(ThreadExitHook::kThreadRecord, record_hook);
  ASSERT_TRUE(leakprobe::thread_exit_init());
  ASSERT_TRUE(leakprobe::thread_exit_init());
  EXPECT_EQ(keys_left(), before - 1);
}

TEST(ThreadExit, EachHookRunsOnceWithItsValueWhenTheThreadExits) {
  leakprobe::walk_cache_init();
  leakprobe::thread_exit_register(ThreadExitHook::kThreadRecord, record_hook);
  static int value;
  const int slots = leakprobe::walk_cache_slots_used();
  run_thread([](void*) -> void* {
    EXPECT_TRUE(leakprobe::thread_exit_set(ThreadExitHook::kThreadRecord, &value));
    EXPECT_NE(leakprobe::thread_walk_cache(), nullptr);
    return nullptr;
  });
  EXPECT_EQ(g_runs.load(), 1);
  EXPECT_EQ(g_seen.load(), &value);
  EXPECT_EQ(leakprobe::walk_cache_slots_used(), slots) << "the walk cache slot was given back";
}

TEST(ThreadExit, ThreadsBeyondTheSlotCountEachGetACacheAsSlotsComeBack) {
  leakprobe::walk_cache_init();
  const int slots = leakprobe::walk_cache_slots_used();
  for (int i = 0; i < 600; ++i) {  // 256 slots
    run_thread([](void*) -> void* {
      EXPECT_NE(leakprobe::thread_walk_cache(), nullptr);
      return nullptr;
    });
  }
  EXPECT_EQ(leakprobe::walk_cache_slots_used(), slots);
}

namespace {
pthread_key_t g_later;  // created after the probe's key: its destructor runs after ours
std::atomic<int> g_later_cache{-1};  // 1: the later destructor had a cache, 0: it walked uncached
void later_destructor(void*) {
  g_later_cache.store(leakprobe::thread_walk_cache() != nullptr ? 1 : 0);
}
}  // namespace

TEST(ThreadExit, AnAllocationAfterTheHookWalksUncached) {
  leakprobe::walk_cache_init();
  ASSERT_EQ(pthread_key_create(&g_later, later_destructor), 0);
  const int slots = leakprobe::walk_cache_slots_used();
  run_thread([](void*) -> void* {
    EXPECT_NE(leakprobe::thread_walk_cache(), nullptr);
    pthread_setspecific(g_later, &g_later);
    return nullptr;
  });
  EXPECT_EQ(g_later_cache.load(), 0);
  EXPECT_EQ(leakprobe::walk_cache_slots_used(), slots);
}

TEST(ThreadExit, AFirstAllocationInALaterDestructorReArmsTheKey) {
  // The thread's bookkeeping hook ran (the key fired, glibc cleared it) before the thread
  // claimed a walk cache slot from another key's destructor: that claim arms the key again
  // and the slot comes back in the next round.
  leakprobe::walk_cache_init();
  leakprobe::thread_exit_register(ThreadExitHook::kThreadRecord, record_hook);
  ASSERT_EQ(pthread_key_create(&g_later, later_destructor), 0);
  static int value;
  const int slots = leakprobe::walk_cache_slots_used();
  run_thread([](void*) -> void* {
    EXPECT_TRUE(leakprobe::thread_exit_set(ThreadExitHook::kThreadRecord, &value));
    pthread_setspecific(g_later, &g_later);
    return nullptr;
  });
  EXPECT_EQ(g_runs.load(), 1);
  EXPECT_EQ(g_later_cache.load(), 1);
  EXPECT_EQ(leakprobe::walk_cache_slots_used(), slots) << "the re-armed hook gave it back";
}

TEST(ThreadExit, AForkedChildKeepsOnlyItsOwnSlotAndItsThreadsGiveTheirsBack) {
  leakprobe::walk_cache_init();
  ASSERT_NE(leakprobe::thread_walk_cache(), nullptr);
  static pthread_barrier_t claimed, release;
  pthread_barrier_init(&claimed, nullptr, 2);
  pthread_barrier_init(&release, nullptr, 2);
  pthread_t holder;
  ASSERT_EQ(pthread_create(
                &holder, nullptr,
                [](void*) -> void* {
                  EXPECT_NE(leakprobe::thread_walk_cache(), nullptr);
                  pthread_barrier_wait(&claimed);
                  pthread_barrier_wait(&release);
                  return nullptr;
                },
                nullptr),
            0);
  pthread_barrier_wait(&claimed);
  const int parent_slots = leakprobe::walk_cache_slots_used();
  const pid_t child = fork();
  if (child == 0) {
    leakprobe::walk_cache_after_fork_in_child();  // what fork.cpp's child handler does
    int bad = leakprobe::walk_cache_slots_used() != 1;
    for (int i = 0; i < 300; ++i) {
      pthread_t t;
      if (pthread_create(
              &t, nullptr,
              [](void*) -> void* {
                return reinterpret_cast<void*>(leakprobe::thread_walk_cache() == nullptr);
              },
              nullptr) != 0)
        _exit(3);
      void* no_cache = nullptr;
      pthread_join(t, &no_cache);
      bad |= no_cache != nullptr;
    }
    bad |= (leakprobe::walk_cache_slots_used() != 1) << 1;
    _exit(bad);
  }
  ASSERT_GT(child, 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  pthread_barrier_wait(&release);
  pthread_join(holder, nullptr);
  EXPECT_EQ(parent_slots, 2);
  EXPECT_EQ(leakprobe::walk_cache_slots_used(), 1);
}

TEST(ThreadExit, NoKeyLeftMeansNoCacheAndOneLine) {
  std::vector<pthread_key_t> keys;
  pthread_key_t k;
  while (pthread_key_create(&k, nullptr) == 0) keys.push_back(k);
  ASSERT_EQ(pthread_key_create(&k, nullptr), EAGAIN);
  testing::internal::CaptureStderr();
  leakprobe::walk_cache_init();
  leakprobe::walk_cache_init();
  EXPECT_FALSE(leakprobe::thread_exit_init());
  const std::string said = testing::internal::GetCapturedStderr();
  EXPECT_FALSE(leakprobe::thread_exit_set(ThreadExitHook::kThreadRecord, &k));
  const int slots = leakprobe::walk_cache_slots_used();
  run_thread([](void*) -> void* {
    EXPECT_EQ(leakprobe::thread_walk_cache(), nullptr);
    return nullptr;
  });
  EXPECT_EQ(leakprobe::walk_cache_slots_used(), slots);
  EXPECT_EQ(said.find("no pthread key left"), said.rfind("no pthread key left")) << said;
  EXPECT_NE(said.find("without the per-thread cache"), std::string::npos) << said;
  for (pthread_key_t key : keys) pthread_key_delete(key);
}
