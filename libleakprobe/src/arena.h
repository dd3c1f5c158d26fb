// The probe's own memory. Everything the probe keeps comes from mmap, never from the
// interposed malloc: the tables must not show up in the host's profile, must not recurse,
// and must survive the host corrupting its own heap for as long as possible.
#pragma once

#include <cstddef>
#include <cstdint>

#include "spinlock.h"

namespace leakprobe {

// Anonymous private mapping, zero-filled; nullptr on failure. Pages are only backed when
// touched (MAP_NORESERVE), so a large reserved table costs address space, not memory.
void* map_pages(size_t bytes);
void unmap_pages(void* p, size_t bytes);

// Bytes currently mapped by the probe (reported as probe-bytes in every snapshot).
uint64_t mapped_bytes();

// Bytes of the probe's own mappings that are resident now (mincore), for the memory
// section: the kernel may merge our anonymous mappings with the host's neighbours, so
// /proc/self/smaps alone cannot tell them apart. Mappings beyond the registry's capacity
// are not counted (`unlisted` gets their bytes).
uint64_t resident_probe_bytes(uint64_t* unlisted);

// Resident bytes in [start, start + len), whole pages, counted with mincore(); 0 when the
// range is not mapped (it may have gone since it was listed). Never touches the memory.
uint64_t resident_bytes(uintptr_t start, size_t len);

// fork: the child has only the forking thread; the registry's lock must not stay held.
void arena_reset_after_fork_in_child();

// Insert-only bump allocator in 1 MiB chunks, for objects that live until the process ends
// (stack buckets). Thread-safe; nullptr when mmap fails.
class Arena {
 public:
  void* alloc(size_t bytes, size_t align = 16);
  SpinLock& lock() { return lock_; }

 private:
  static constexpr size_t kChunk = 1 << 20;
  SpinLock lock_;
  char* cur_ = nullptr;
  size_t left_ = 0;
};

}  // namespace leakprobe
