// A tiny test-and-test-and-set lock. The critical sections it protects (one pointer-map
// probe, one bump of the arena) are a few dozen instructions, and a pthread mutex could
// call into code that is not safe inside malloc. Yields after spinning a while, since on a
// 2-core machine the holder may be descheduled.
#pragma once

#include <sched.h>

#include <atomic>

namespace leakprobe {

class SpinLock {
 public:
  void lock() {
    for (int spins = 0;; ++spins) {
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins > 64) {
          sched_yield();
          spins = 0;
        } else {
          __builtin_ia32_pause();
        }
      }
    }
  }
  void unlock() { locked_.store(false, std::memory_order_release); }
  // A forked child inherits the lock as the parent's prepare handler left it (held).
  void reset() { locked_.store(false, std::memory_order_relaxed); }

 private:
  std::atomic<bool> locked_{false};
};

class SpinGuard {
 public:
  explicit SpinGuard(SpinLock& l) : l_(l) { l_.lock(); }
  ~SpinGuard() { l_.unlock(); }
  SpinGuard(const SpinGuard&) = delete;
  SpinGuard& operator=(const SpinGuard&) = delete;

 private:
  SpinLock& l_;
};

}  // namespace leakprobe
