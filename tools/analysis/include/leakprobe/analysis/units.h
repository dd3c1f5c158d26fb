// Numbers for people: byte sizes in reports and from the command line (--fail-on-growth,
// --min-bytes), counts, and addresses/offsets in hex.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace leakprobe::analysis {

// "1536" -> 1536, "10K"/"10KiB"/"10k" -> 10240, "2M"/"2MiB" -> 2 MiB, "1G"/"1GiB": the syntax
// of leakprobe/byte_size.h, shared with `leakprobe run` and the probe. nullopt when malformed,
// negative or beyond int64.
std::optional<int64_t> parse_byte_size(std::string_view text);

// 512 -> "512 B", 1536 -> "1.5 KiB", 3 MiB -> "3.0 MiB", with a sign when `signed_` is set.
std::string format_bytes(int64_t bytes, bool signed_ = false);

// 12 -> "12", with "+" for positive values when `signed_` is set.
std::string format_count(int64_t n, bool signed_ = false);

// An age for people: 42 -> "42s", 754 -> "12m34s", 7384 -> "2h03m", 180000 -> "2d02h".
std::string format_age(double seconds);

// The age buckets as reports print them (format::kAgeBucketNames order): "<1m", "<1h", "<1d",
// ">1d".
const char* age_bucket_label(int bucket);

// 0x4005d0 -> "0x4005d0": lowercase, no padding, as pprof and the snapshot format write them.
std::string format_hex(uint64_t v);

}  // namespace leakprobe::analysis
