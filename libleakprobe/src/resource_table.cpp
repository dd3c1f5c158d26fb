#include "resource_table.h"

#include <sys/socket.h>

#include <cerrno>
#include <new>

#include "log.h"
#include "unwind.h"

namespace leakprobe {

namespace detail {
std::atomic<ResourceTable*> g_resources{nullptr};
}

namespace {
alignas(ResourceTable) char g_storage[sizeof(ResourceTable)];

constexpr uint64_t kGenOne = uint64_t{1} << ResourceTable::kGenShift;

uint64_t next_gen(uint64_t e) {
  return (e >> ResourceTable::kGenShift << ResourceTable::kGenShift) + kGenOne;
}

// Timer ids are small integers (kernel timers) or pointers (glibc's SIGEV_THREAD records);
// the pointer map keeps 0 for "empty", hashes away the low 4 bits and compares keys on their
// low PointerMap::kKeyBits: fold what lies above into those, and never give 0.
const void* timer_key(const void* id) {
  constexpr int kRoom = PointerMap::kKeyBits - 4;
  uint64_t k = reinterpret_cast<uintptr_t>(id) + 1;
  k = (k ^ (k >> kRoom)) & ((uint64_t{1} << kRoom) - 1);
  return reinterpret_cast<const void*>((k ? k : 1) << 4);
}

enum : uint32_t { kFree = 0, kPending = 1, kRunning = 2 };
}  // namespace

ResourceTable* create_resources(size_t max_stacks, int depth) {
  // Static storage, as for the tracker: not from the host's malloc, never destroyed at exit.
  auto* t = new (g_storage) ResourceTable();
  if (!t->init(max_stacks, depth)) return nullptr;
  detail::g_resources.store(t, std::memory_order_release);
  return t;
}

ResourceKind socket_kind(int domain, int type) {
  const int base = type & 0xf;  // without SOCK_NONBLOCK / SOCK_CLOEXEC
  if (domain == AF_UNIX) return ResourceKind::kUnix;
  if (domain == AF_INET || domain == AF_INET6) {
    if (base == SOCK_STREAM) return ResourceKind::kTcp;
    if (base == SOCK_DGRAM) return ResourceKind::kUdp;
  }
  return ResourceKind::kOtherFd;
}

bool ResourceTable::init(size_t max_stacks, int depth) {
  depth_ = depth < 1 ? 1 : depth > kMaxDepth ? kMaxDepth : depth;
  fds_ = static_cast<std::atomic<uint64_t>*>(map_pages(kMaxFds * sizeof(uint64_t)));
  threads_ = static_cast<ThreadRecord*>(map_pages(kMaxThreads * sizeof(ThreadRecord)));
  free_threads_ = static_cast<uint32_t*>(map_pages(kMaxThreads * sizeof(uint32_t)));
  if (!fds_ || !threads_ || !free_threads_ || !stacks_.init(max_stacks, &arena_) ||
      !timers_.init()) {
    log_line(
        "cannot map memory for the resource tables; not tracking descriptors, timers, "
        "threads");
    return false;
  }
  return true;
}

Bucket* ResourceTable::intern(ResourceKind kind, const uintptr_t* frames, int depth,
                              bool truncated) {
  // The kind is the last word of the key: the same stack may create two kinds (a helper
  // that opens either a socket or a file), and they are reported apart.
  uintptr_t key[kMaxDepth + 1];
  if (depth > kMaxDepth) depth = kMaxDepth;
  for (int i = 0; i < depth; ++i) key[i] = frames[i];
  key[depth] = static_cast<uintptr_t>(kind);
  Bucket* b = stacks_.intern(key, static_cast<uint32_t>(depth + 1), truncated);
  if (!b)
    log_once(full_said_,
             "the resource stack table is full or out of memory; new creating stacks of "
             "descriptors, timers and threads are not recorded");
  return b;
}

Bucket* ResourceTable::intern_here(ResourceKind kind) {
  uintptr_t frames[kMaxDepth];
  bool truncated = false;
  int n = capture_stack(frames, depth_, &truncated);
  return intern(kind, frames, n, truncated);
}

void ResourceTable::note_fd(int fd) {
  int lim = fd_limit_.load(std::memory_order_relaxed);
  while (fd >= lim && !fd_limit_.compare_exchange_weak(lim, fd + 1, std::memory_order_release,
                                                       std::memory_order_relaxed)) {
  }
}

void ResourceTable::release_entry_value(uint64_t e) {
  const uint32_t idx = entry_bucket(e);
  if (idx) stacks_.at(idx - 1)->on_free(0);
}

void ResourceTable::set_entry(int fd, uint64_t low_bits) {
  if (fd < 0) return;
  if (fd >= kMaxFds) {
    overflow_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  note_fd(fd);
  std::atomic<uint64_t>& slot = fds_[fd];
  uint64_t old = slot.load(std::memory_order_relaxed);
  while (!slot.compare_exchange_weak(old, next_gen(old) | low_bits, std::memory_order_acq_rel,
                                     std::memory_order_relaxed)) {
  }
  // Still live: its close happened where no interposer sees it (a raw system call, a close
  // inside glibc), and the kernel gave the number out again.
  if (entry_live(old)) release_entry_value(old);
}

void ResourceTable::fd_created(int fd, ResourceKind kind, const uintptr_t* frames, int depth,
                               bool truncated) {
  if (fd < 0) return;
  Bucket* b = intern(kind, frames, depth, truncated);
  if (!b) return;
  b->on_alloc(0);
  set_entry(fd, b->index + 1);
}

void ResourceTable::fd_created_here(int fd, ResourceKind kind) {
  if (fd < 0) return;
  const int saved_errno = errno;
  if (Bucket* b = intern_here(kind)) {
    b->on_alloc(0);
    set_entry(fd, b->index + 1);
  }
  errno = saved_errno;
}

void ResourceTable::fd_inherited(int fd, ResourceKind kind) {
  fd_created(fd, kind, nullptr, 0, false);
}

void ResourceTable::fd_own(int fd) { set_entry(fd, kOwnBit); }

void ResourceTable::fd_closed(int fd) {
  if (fd < 0 || fd >= fd_limit_.load(std::memory_order_acquire)) return;
  std::atomic<uint64_t>& slot = fds_[fd];
  uint64_t old = slot.load(std::memory_order_relaxed);
  do {
    if (!entry_live(old)) return;  // unknown: not ours to count
  } while (!slot.compare_exchange_weak(old, next_gen(old), std::memory_order_acq_rel,
                                       std::memory_order_relaxed));
  release_entry_value(old);
}

void ResourceTable::fds_closed(unsigned lo, unsigned hi) {
  const unsigned lim = static_cast<unsigned>(fd_limit_.load(std::memory_order_acquire));
  if (hi >= lim) hi = lim ? lim - 1 : 0;
  if (lim == 0) return;
  for (unsigned fd = lo; fd <= hi; ++fd) fd_closed(static_cast<int>(fd));
}

bool ResourceTable::fd_known(int fd) const {
  return fd >= 0 && fd < fd_limit_.load(std::memory_order_acquire) &&
         entry_live(fds_[fd].load(std::memory_order_relaxed));
}

ResourceKind ResourceTable::fd_kind(int fd) const {
  if (fd < 0 || fd >= fd_limit_.load(std::memory_order_acquire)) return ResourceKind::kOtherFd;
  const uint32_t idx = entry_bucket(fds_[fd].load(std::memory_order_relaxed));
  return idx ? bucket_kind(stacks_.at(idx - 1)) : ResourceKind::kOtherFd;
}

void ResourceTable::copy_entries(uint64_t* out, int n) const {
  for (int i = 0; i < n; ++i) out[i] = fds_[i].load(std::memory_order_acquire);
}

uint64_t ResourceTable::reconcile(const uint64_t* before, const uint64_t* open_fd, int nbits,
                                  uint64_t* untracked) {
  uint64_t released = 0, unknown = 0;
  const int lim = limit();
  auto is_open = [&](int fd) { return fd < nbits && (open_fd[fd / 64] >> (fd % 64) & 1) != 0; };
  for (int fd = 0; fd < lim; ++fd) {
    uint64_t e = before[fd];
    if (!entry_live(e) || is_open(fd)) continue;
    // Compare-and-swap against what was copied *before* /proc/self/fd was read: a newer
    // creation at this number (generation bumped) is kept.
    if (fds_[fd].compare_exchange_strong(e, next_gen(e), std::memory_order_acq_rel)) {
      release_entry_value(e);
      ++released;
    }
  }
  for (int fd = 0; fd < nbits; ++fd) {
    if (!is_open(fd)) continue;
    // Read again now: a descriptor created after the copy is known by now, not untracked.
    if (fd >= kMaxFds || !entry_live(fds_[fd].load(std::memory_order_acquire))) ++unknown;
  }
  *untracked = unknown;
  return released;
}

void ResourceTable::timer_created(const void* id, const uintptr_t* frames, int depth,
                                  bool truncated) {
  Bucket* b = intern(ResourceKind::kTimer, frames, depth, truncated);
  if (!b) return;
  uint64_t stale;
  if (timers_.take(timer_key(id), &stale)) stacks_.at(static_cast<uint32_t>(stale))->on_free(0);
  if (!timers_.insert(timer_key(id), b->index)) return;
  b->on_alloc(0);
}

void ResourceTable::timer_created_here(const void* id) {
  const int saved_errno = errno;
  uintptr_t frames[kMaxDepth];
  bool truncated = false;
  int n = capture_stack(frames, depth_, &truncated);
  timer_created(id, frames, n, truncated);
  errno = saved_errno;
}

void ResourceTable::timer_deleted(const void* id) {
  uint64_t idx;
  if (timers_.take(timer_key(id), &idx)) stacks_.at(static_cast<uint32_t>(idx))->on_free(0);
}

ResourceTable::ThreadRecord* ResourceTable::thread_prepare(void* (*fn)(void*), void* arg,
                                                           const uintptr_t* frames, int depth,
                                                           bool truncated) {
  Bucket* b = intern(ResourceKind::kThread, frames, depth, truncated);
  if (!b) return nullptr;
  ThreadRecord* r = nullptr;
  {
    SpinGuard g(threads_lock_);
    if (free_top_) {
      r = &threads_[free_threads_[--free_top_]];
    } else if (threads_used_ < kMaxThreads) {
      r = &threads_[threads_used_++];
    }
  }
  if (!r) return nullptr;  // 65536 live threads: the rest run untracked
  r->fn = fn;
  r->arg = arg;
  r->bucket = b->index;
  r->owner = 0;
  // Counted from here, not from when it first runs: on a busy machine a new thread may wait
  // a long time for a CPU, and it is the program's thread all that time.
  b->on_alloc(0);
  r->state.store(kPending, std::memory_order_release);
  return r;
}

ResourceTable::ThreadRecord* ResourceTable::thread_prepare_here(void* (*fn)(void*), void* arg) {
  const int saved_errno = errno;
  uintptr_t frames[kMaxDepth];
  bool truncated = false;
  int n = capture_stack(frames, depth_, &truncated);
  ThreadRecord* r = thread_prepare(fn, arg, frames, n, truncated);
  errno = saved_errno;
  return r;
}

void ResourceTable::thread_started(ThreadRecord* r, uintptr_t self) {
  r->owner = self;
  r->state.store(kRunning, std::memory_order_release);
}

void ResourceTable::thread_abandon(ThreadRecord* r) {
  // pthread_create failed: the thread never existed, so it was never created either. (A
  // reader sees the counters freed-first, so taking one back cannot show a negative count.)
  stacks_.at(r->bucket)->alloc_objs.fetch_sub(1, std::memory_order_relaxed);
  r->state.store(kFree, std::memory_order_relaxed);
  SpinGuard g(threads_lock_);
  free_threads_[free_top_++] = static_cast<uint32_t>(r - threads_);
}

void ResourceTable::thread_exited(ThreadRecord* r) {
  uint32_t expected = kRunning;
  // A forked child has already released the records of threads it does not have.
  if (!r->state.compare_exchange_strong(expected, kFree, std::memory_order_acq_rel)) return;
  stacks_.at(r->bucket)->on_free(0);
  SpinGuard g(threads_lock_);
  free_threads_[free_top_++] = static_cast<uint32_t>(r - threads_);
}

void ResourceTable::lock_for_fork() {
  threads_lock_.lock();
  stacks_.insert_lock().lock();
  arena_.lock().lock();
  timers_.lock_all();
}

void ResourceTable::unlock_after_fork() {
  timers_.unlock_all();
  arena_.lock().unlock();
  stacks_.insert_lock().unlock();
  threads_lock_.unlock();
}

void ResourceTable::reset_after_fork_in_child(uintptr_t self) {
  timers_.reset_locks_in_child();
  arena_.lock().reset();
  stacks_.insert_lock().reset();
  threads_lock_.reset();
  // Only the forking thread exists here: every other record is given back.
  free_top_ = 0;
  for (uint32_t i = 0; i < threads_used_; ++i) {
    ThreadRecord& r = threads_[i];
    const uint32_t st = r.state.load(std::memory_order_relaxed);
    if (st == kRunning && r.owner == self) continue;
    if (st != kFree) stacks_.at(r.bucket)->on_free(0);
    r.state.store(kFree, std::memory_order_relaxed);
    free_threads_[free_top_++] = i;
  }
  // POSIX timers are not inherited by a child (timer_create(2)).
  for (const Bucket* c = stacks_.first(); c; c = c->next) {
    if (bucket_kind(c) != ResourceKind::kTimer) continue;
    auto* b = const_cast<Bucket*>(c);
    b->freed_objs.store(b->alloc_objs.load(std::memory_order_relaxed), std::memory_order_relaxed);
  }
  new (&timers_) PointerMap();  // the parent's entries name timers this process does not have
  if (!timers_.init()) log_line("cannot map the timer table in the forked child");
}

}  // namespace leakprobe
