// The resource-tracking core: which descriptors, POSIX timers and threads are live, and the
// call stack that created each. Driven by the interposers (interpose_fd.cpp,
// interpose_thread.cpp, interpose_timer.cpp) and directly by unit tests; knows nothing of
// LD_PRELOAD. All state lives in one ResourceTable reached through resources().
//
// Every update is lock-free except the rare ones (a new creating stack, a thread record):
// the interposed calls are system calls the host makes from any thread, and the probe may
// hold no lock across them. Creations are recorded after the real call returns, releases
// before the real call (as with free: once the kernel has the number back, another thread
// can get it and record its own creation, which a late release would then erase).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "arena.h"
#include "leakprobe/snapshot_format.h"
#include "pointer_map.h"
#include "spinlock.h"
#include "stack_table.h"

namespace leakprobe {

using format::ResourceKind;

class ResourceTable {
 public:
  // Descriptors numbered at or above this are not recorded (counted in overflow_fds()).
  static constexpr int kMaxFds = 1 << 20;
  // Threads created by the host that may be alive at once.
  static constexpr uint32_t kMaxThreads = 1 << 16;

  // Maps the tables. False (after one stderr line) if memory cannot be had.
  bool init(size_t max_stacks, int depth);
  int depth() const { return depth_; }

  // ---- descriptors ----
  // A descriptor created by the host at the given stack (leaf first). A live entry still at
  // that number was closed by a path we cannot see and is released first.
  void fd_created(int fd, ResourceKind kind, const uintptr_t* frames, int depth, bool truncated);
  // The same, capturing the caller's stack (the interposers' entry). Preserves errno.
  void fd_created_here(int fd, ResourceKind kind);
  // Open before the probe loaded: counted under the kind without a stack.
  void fd_inherited(int fd, ResourceKind kind);
  // One of the probe's own descriptors: known, so never "untracked", and never reported.
  void fd_own(int fd);
  // Before the real close. Unknown numbers are ignored.
  void fd_closed(int fd);
  // close_range(lo, hi) / closefrom(lo): every known descriptor in [lo, hi].
  void fds_closed(unsigned lo, unsigned hi);
  // The kind recorded for fd (for dup and accept, which create the same kind), or kOtherFd.
  ResourceKind fd_kind(int fd) const;
  bool fd_known(int fd) const;

  // ---- POSIX timers ----
  void timer_created_here(const void* id);
  void timer_created(const void* id, const uintptr_t* frames, int depth, bool truncated);
  void timer_deleted(const void* id);  // before the real timer_delete

  // ---- threads ----
  // What a tracked thread runs first: the host's routine and argument, and the creating
  // stack. prepare (creator, stack captured, counted) -> started (in the new thread) ->
  // exited (its TLS destructor); abandon if the real pthread_create failed.
  struct ThreadRecord {
    void* (*fn)(void*);
    void* arg;
    uint32_t bucket;
    std::atomic<uint32_t> state;  // kFree, kPending, kRunning
    uintptr_t owner;              // pthread_self() of the thread, once running
  };
  ThreadRecord* thread_prepare_here(void* (*fn)(void*), void* arg);
  ThreadRecord* thread_prepare(void* (*fn)(void*), void* arg, const uintptr_t* frames, int depth,
                               bool truncated);
  void thread_started(ThreadRecord* r, uintptr_t self);
  void thread_exited(ThreadRecord* r);
  void thread_abandon(ThreadRecord* r);

  // ---- snapshot ----
  // Live descriptor numbers in [0, limit()).
  int limit() const { return fd_limit_.load(std::memory_order_acquire); }
  // Compares the table with the descriptors actually open (`open_fd` bitmap of `nbits`
  // bits, from /proc/self/fd, read after `before` was copied from the table). Entries open in
  // `before` but absent from the bitmap, and unchanged since, were closed where we could not
  // see it: released. Returns the number released; *untracked = open descriptors the table
  // does not know.
  uint64_t reconcile(const uint64_t* before, const uint64_t* open_fd, int nbits,
                     uint64_t* untracked);
  // Copies the raw entries of [0, n) into out (for reconcile).
  void copy_entries(uint64_t* out, int n) const;

  // Buckets of every creating stack; the kind is bucket_kind(), the frames the first
  // bucket_depth() of b->frames. Live = created - released (Bucket::live().objs).
  const Bucket* first_bucket() const { return stacks_.first(); }
  static ResourceKind bucket_kind(const Bucket* b) {
    return static_cast<ResourceKind>(b->frames[b->depth - 1]);
  }
  static uint32_t bucket_depth(const Bucket* b) { return b->depth - 1; }
  uint64_t overflow_fds() const { return overflow_.load(std::memory_order_relaxed); }

  // fork: prepare holds every lock; in the child only the forking thread exists, and POSIX
  // timers are not inherited (descriptors are, with the table as it is).
  void lock_for_fork();
  void unlock_after_fork();
  void reset_after_fork_in_child(uintptr_t self);

  // Entry layout (public for the tests): bits 0-31 bucket index + 1 (0: none), bit 32 the
  // probe's own, bits 40-63 a generation bumped on every change, so that reconcile() can
  // tell "still the entry I saw" from "closed and created again since".
  static constexpr uint64_t kOwnBit = uint64_t{1} << 32;
  static constexpr int kGenShift = 40;
  static bool entry_live(uint64_t e) { return (e & (kOwnBit | 0xffffffffu)) != 0; }
  static uint32_t entry_bucket(uint64_t e) { return static_cast<uint32_t>(e); }

 private:
  Bucket* intern(ResourceKind kind, const uintptr_t* frames, int depth, bool truncated);
  Bucket* intern_here(ResourceKind kind);
  void set_entry(int fd, uint64_t low_bits);
  void release_entry_value(uint64_t e);
  void note_fd(int fd);

  StackTable stacks_;
  Arena arena_;
  int depth_ = 32;
  std::atomic<uint64_t>* fds_ = nullptr;  // kMaxFds entries, pages touched as used
  std::atomic<int> fd_limit_{0};          // 1 + highest number ever recorded
  std::atomic<uint64_t> overflow_{0};
  PointerMap timers_;
  ThreadRecord* threads_ = nullptr;  // kMaxThreads records
  uint32_t* free_threads_ = nullptr;
  uint32_t free_top_ = 0;      // under threads_lock_
  uint32_t threads_used_ = 0;  // records ever handed out (under threads_lock_)
  SpinLock threads_lock_;
  std::atomic<bool> full_said_{false};
};

// The one table; nullptr when resource tracking is off (LEAKPROBE_RESOURCES=0, dormant
// probe) or before the probe started.
ResourceTable* resources();
// Creates it in static storage; nullptr (after one stderr line) on failure.
ResourceTable* create_resources(size_t max_stacks, int depth);

namespace detail {
extern std::atomic<ResourceTable*> g_resources;
}
inline ResourceTable* resources() { return detail::g_resources.load(std::memory_order_acquire); }

// The kind of socket(domain, type, ...).
ResourceKind socket_kind(int domain, int type);

}  // namespace leakprobe
