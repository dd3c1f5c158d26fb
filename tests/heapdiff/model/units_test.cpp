#include "leakprobe/analysis/units.h"

#include <gtest/gtest.h>

namespace leakprobe::analysis {
namespace {

TEST(Units, ParsesByteSizesWithBinarySuffixes) {
  EXPECT_EQ(parse_byte_size("0"), 0);
  EXPECT_EQ(parse_byte_size("4096"), 4096);
  EXPECT_EQ(parse_byte_size("512B"), 512);
  EXPECT_EQ(parse_byte_size("10K"), 10240);
  EXPECT_EQ(parse_byte_size("10k"), 10240);
  EXPECT_EQ(parse_byte_size("10KiB"), 10240);
  EXPECT_EQ(parse_byte_size("2M"), 2 * 1048576);
  EXPECT_EQ(parse_byte_size("2MiB"), 2 * 1048576);
  EXPECT_EQ(parse_byte_size("1G"), 1073741824);
  EXPECT_EQ(parse_byte_size("3GiB"), 3LL * 1073741824);
  EXPECT_EQ(parse_byte_size("64kb"), 65536);
  EXPECT_EQ(parse_byte_size("1T"), 1LL << 40);
  EXPECT_EQ(parse_byte_size("1TiB"), 1LL << 40);
}

TEST(Units, RejectsMalformedSizes) {
  for (const char* bad : {"", "K", "-1", "+1", "1.5M", "10X", "10 K", "10Ki", "10KiBB", "10BB",
                          "10iB", "0x10", "9999999999999999999", "9000000000G", "8388608T"}) {
    EXPECT_FALSE(parse_byte_size(bad).has_value()) << bad;
  }
}

TEST(Units, FormatsBytesForPeople) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(3 * 1048576), "3.0 MiB");
  EXPECT_EQ(format_bytes(5LL * 1073741824), "5.00 GiB");
  EXPECT_EQ(format_bytes(2048, true), "+2.0 KiB");
  EXPECT_EQ(format_bytes(-2048, true), "-2.0 KiB");
  EXPECT_EQ(format_bytes(INT64_MIN), "-8589934592.00 GiB");
  EXPECT_EQ(format_count(3, true), "+3");
  EXPECT_EQ(format_count(-3, true), "-3");
  EXPECT_EQ(format_count(0, true), "0");
}

}  // namespace
}  // namespace leakprobe::analysis
