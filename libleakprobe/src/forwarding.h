// The one load the interposed malloc and free make first: may this call only forward?
//
// A dormant probe (LEAKPROBE_ENABLED=0, or after `leakprobe disable`) sees every malloc and
// free of the host and records none of them. Asking the pieces one by one (is the real
// allocator resolved, is this thread inside the probe, is there a tracker, is it active, is
// it recording) cost ~40 instructions a call (callgrind); one byte that each piece keeps up to
// date costs a load and a compare. malloc forwards unless kRealNotReady or kRecording is set,
// free unless kRealNotReady or kEverRecorded is; in sampled mode both also have a short cut
// (interpose.cpp). Anything else takes the full path, which decides as before.
// A forwarding free must never hand a bootstrap pool block to libc; while no pool block was
// ever handed out (kPoolUsed clear: the usual case, the real allocator is found without
// allocating), it need not even compare the address with the pool's.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace leakprobe {

enum ForwardBit : uint8_t {
  kRealNotReady = 1,  // the real allocator is not resolved yet (pool, dlsym recursion)
  kRecording = 2,     // new blocks are recorded: malloc has work
  kEverRecorded = 4,  // some block may be in the pointer map: free has work
  kSampled = 8,       // sampled mode: g_sample_filter is set (never cleared)
  kPoolUsed = 16,     // a bootstrap pool block was handed out: free must look for pool blocks
};

// The sampled-free filter (tracker.h): one count per 4 KiB page of address space (modulo
// 4 GiB) of the sampled blocks live on it. A free whose page count is 0 only forwards: the
// block was surely not sampled, and no hash probe or lock is needed to know it, as tcmalloc
// and Go know a sampled span from its span.
inline constexpr size_t kSampleFilterSlots = size_t{1} << 20;
inline size_t sample_filter_index(const void* p) {
  return (reinterpret_cast<uintptr_t>(p) >> 12) & (kSampleFilterSlots - 1);
}

namespace detail {
extern std::atomic<uint8_t> g_forward_bits;
extern std::atomic<uint16_t>* g_sample_filter;
}  // namespace detail

// Set a bit before the state it stands for becomes true, clear it after it became false.
inline void forward_bits_set(uint8_t bits) {
  detail::g_forward_bits.fetch_or(bits, std::memory_order_seq_cst);
}
inline void forward_bits_clear(uint8_t bits) {
  detail::g_forward_bits.fetch_and(static_cast<uint8_t>(~bits), std::memory_order_seq_cst);
}

}  // namespace leakprobe
