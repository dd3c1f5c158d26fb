// The one size syntax of every leakprobe tool: "4096", "512K", "64k", "10MiB", "1G", "2TB".
// `leakprobe run --sample-bytes`, LEAKPROBE_SAMPLE_BYTES (read by the probe) and heapdiff's
// --fail-on-growth, --min-bytes and --max-input all parse with this function, so a size one of
// them takes is never refused by another.
//
// Suffixes are case-insensitive and binary (1024-based) with or without the "i" ("K", "KB",
// "KiB" are all 1024), because that is how the reports print sizes and nobody profiling a heap
// means 1000. Like settings.h: no allocation, no libstdc++ types, safe inside the probe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace leakprobe {

// Parses text[0..len) into *out. False when empty, malformed, negative or beyond 2^64-1.
inline bool parse_byte_size(const char* text, size_t len, uint64_t* out) {
  size_t i = 0;
  uint64_t v = 0;
  for (; i < len && text[i] >= '0' && text[i] <= '9'; ++i) {
    const uint64_t d = static_cast<uint64_t>(text[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (i == 0) return false;
  auto upper = [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; };
  // The suffix: nothing, "B", or one of K M G T followed by nothing, "B" or "iB".
  unsigned shift = 0;
  if (i < len) {
    switch (upper(text[i])) {
      case 'B':
        break;
      case 'K':
        shift = 10;
        break;
      case 'M':
        shift = 20;
        break;
      case 'G':
        shift = 30;
        break;
      case 'T':
        shift = 40;
        break;
      default:
        return false;
    }
    ++i;
    if (shift != 0 && i < len) {
      if (upper(text[i]) == 'I') ++i;  // "KiB"
      if (i == len || upper(text[i]) != 'B') return false;
      ++i;
    }
    if (i != len) return false;
  }
  if (shift != 0 && v > (UINT64_MAX >> shift)) return false;
  *out = v << shift;
  return true;
}

}  // namespace leakprobe
