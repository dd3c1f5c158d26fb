#include "leakprobe/analysis/units.h"

#include <cstdio>
#include <cstdlib>

#include "leakprobe/byte_size.h"

namespace leakprobe::analysis {

std::optional<int64_t> parse_byte_size(std::string_view text) {
  uint64_t value = 0;
  if (!leakprobe::parse_byte_size(text.data(), text.size(), &value)) return std::nullopt;
  if (value > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return static_cast<int64_t>(value);
}

std::string format_bytes(int64_t bytes, bool signed_) {
  const char* sign = bytes < 0 ? "-" : (signed_ && bytes > 0 ? "+" : "");
  // Magnitude as unsigned: INT64_MIN has no positive int64 counterpart.
  const uint64_t mag = bytes < 0 ? 0 - static_cast<uint64_t>(bytes) : static_cast<uint64_t>(bytes);
  char buf[64];
  if (mag < 1024) {
    std::snprintf(buf, sizeof buf, "%s%llu B", sign, static_cast<unsigned long long>(mag));
  } else if (mag < (1ULL << 20)) {
    std::snprintf(buf, sizeof buf, "%s%.1f KiB", sign, static_cast<double>(mag) / 1024.0);
  } else if (mag < (1ULL << 30)) {
    std::snprintf(buf, sizeof buf, "%s%.1f MiB", sign, static_cast<double>(mag) / 1048576.0);
  } else {
    std::snprintf(buf, sizeof buf, "%s%.2f GiB", sign, static_cast<double>(mag) / 1073741824.0);
  }
  return buf;
}

std::string format_count(int64_t n, bool signed_) {
  return (signed_ && n > 0 ? "+" : "") + std::to_string(n);
}

std::string format_age(double seconds) {
  const auto s = static_cast<long long>(seconds < 0 ? 0 : seconds + 0.5);
  char buf[48];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  } else if (s < 86400) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, s % 3600 / 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
  }
  return buf;
}

const char* age_bucket_label(int bucket) {
  static const char* const kLabels[] = {"<1m", "<1h", "<1d", ">1d"};
  return bucket >= 0 && bucket < 4 ? kLabels[bucket] : "-";
}

std::string format_hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace leakprobe::analysis
