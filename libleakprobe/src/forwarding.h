// The one load the interposed malloc and free make first: may this call only forward?
//
// A dormant probe (LEAKPROBE_ENABLED=0, or after `leakprobe disable`) sees every malloc and
// free of the host and records none of them. Asking the pieces one by one (is the real
// allocator resolved, is this thread inside the probe, is there a tracker, is it active, is
// it recording) cost ~40 instructions a call (callgrind); one byte that each piece keeps up to
// date costs a load and a compare. Each bit says "something to do besides forwarding"; a call
// that sees 0 forwards, and any other value takes the full path, which decides as before.
#pragma once

#include <atomic>
#include <cstdint>

namespace leakprobe {

enum ForwardBit : uint8_t {
  kRealNotReady = 1,  // the real allocator is not resolved yet (pool, dlsym recursion)
  kRecording = 2,     // new blocks are recorded: malloc has work
  kEverRecorded = 4,  // some block may be in the pointer map: free has work
};

namespace detail {
extern std::atomic<uint8_t> g_forward_bits;
}

inline bool malloc_only_forwards() {
  return (detail::g_forward_bits.load(std::memory_order_acquire) & (kRealNotReady | kRecording)) ==
         0;
}
inline bool free_only_forwards() {
  return (detail::g_forward_bits.load(std::memory_order_acquire) &
          (kRealNotReady | kEverRecorded)) == 0;
}

// Set a bit before the state it stands for becomes true, clear it after it became false.
inline void forward_bits_set(uint8_t bits) {
  detail::g_forward_bits.fetch_or(bits, std::memory_order_seq_cst);
}
inline void forward_bits_clear(uint8_t bits) {
  detail::g_forward_bits.fetch_and(static_cast<uint8_t>(~bits), std::memory_order_seq_cst);
}

}  // namespace leakprobe
