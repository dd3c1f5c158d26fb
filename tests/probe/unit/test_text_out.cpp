// The probe's text sink (text_out.h) on its own: the one decimal formatter at its edges, the
// metadata line, a buffer flushed across its size, and a sink that fails.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "leakprobe/snapshot_format.h"
#include "text_out.h"

namespace {

class StringOut final : public leakprobe::Out {
 public:
  std::string text;
  size_t sinks = 0;
  bool fail = false;
  ~StringOut() = default;

 private:
  bool sink(const char* data, size_t n) override {
    ++sinks;
    if (fail) return false;
    text.append(data, n);
    return true;
  }
};

std::string decimal(uint64_t v) {
  char buf[leakprobe::kMaxDecimal + 1];
  const size_t n = leakprobe::format_decimal(buf, v);
  EXPECT_EQ(n, std::string(buf).size());
  return buf;
}

TEST(TextOut, OneDecimalFormatterAtItsEdges) {
  EXPECT_EQ(decimal(0), "0");
  EXPECT_EQ(decimal(7), "7");
  EXPECT_EQ(decimal(10), "10");
  EXPECT_EQ(decimal(4096), "4096");
  EXPECT_EQ(decimal(std::numeric_limits<uint64_t>::max()), "18446744073709551615");
  StringOut out;
  out.put_u64(0);
  out.put_char(' ');
  out.put_i64(-1);
  out.put_char(' ');
  out.put_i64(std::numeric_limits<int64_t>::min());
  out.put_char(' ');
  out.put_i64(std::numeric_limits<int64_t>::max());
  out.put_char(' ');
  out.put_hex(0);
  out.put_char(' ');
  out.put_hex(0x7f00dead10ULL);
  ASSERT_TRUE(out.finish());
  EXPECT_EQ(out.text, "0 -1 -9223372036854775808 9223372036854775807 0x0 0x7f00dead10");
}

TEST(TextOut, MetaLinesSpellTheFormatsPrefix) {
  StringOut out;
  leakprobe::meta(out, "pid", uint64_t{4242});
  leakprobe::meta(out, "trigger", "signal");
  leakprobe::meta_key(out, "recording");
  out.put("on\n");
  ASSERT_TRUE(out.finish());
  const std::string p = leakprobe::format::kMetaPrefix;
  EXPECT_EQ(out.text, p + "pid: 4242\n" + p + "trigger: signal\n" + p + "recording: on\n");
}

TEST(TextOut, LongOutputIsFlushedInPiecesAndArrivesWhole) {
  StringOut out;
  std::string want;
  for (int i = 0; i < 5000; ++i) {
    out.put_u64(static_cast<uint64_t>(i) * 1000003);
    out.put_char('\n');
    want += std::to_string(static_cast<uint64_t>(i) * 1000003) + "\n";
  }
  ASSERT_GT(want.size(), 16384u * 2);  // several buffers' worth
  ASSERT_TRUE(out.finish());
  EXPECT_EQ(out.text, want);
  EXPECT_GE(out.sinks, 3u);
}

TEST(TextOut, AFailedWriteIsReportedByFinishAndNothingMoreIsSunk) {
  StringOut out;
  out.fail = true;
  std::string big(20000, 'x');
  out.put(big.c_str());  // fills the buffer: the first flush fails
  EXPECT_FALSE(out.ok());
  const size_t sinks = out.sinks;
  out.put(big.c_str());
  EXPECT_FALSE(out.finish());
  EXPECT_EQ(out.sinks, sinks);  // after a failure nothing more is handed to the sink
  EXPECT_TRUE(out.text.empty());
}

}  // namespace
