#include "leakprobe/analysis/parser.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "test_snapshots.h"

namespace leakprobe::analysis {
namespace {

using testing::Line;

const char kLeakprobe[] =
    "heap profile:     3:   120012 [    10:   400040] @ heapprofile\n"
    "# leakprobe.format: 1\n"
    "# leakprobe.pid: 4242\n"
    "# leakprobe.ppid: 1\n"
    "# leakprobe.exe: /usr/sbin/mosquitto\n"
    "# leakprobe.time: 1795777200.125\n"
    "# leakprobe.sequence: 2\n"
    "# leakprobe.trigger: request\n"
    "# leakprobe.sampling: 0\n"
    "# leakprobe.depth: 32\n"
    "# leakprobe.stacks: 2\n"
    "# leakprobe.truncated-stacks: 1\n"
    "# leakprobe.probe-bytes: 4718592\n"
    "# leakprobe.some-future-key: whatever\n"
    "# leakprobe.build-id: 5B1C0A6E /usr/sbin/mosquitto\n"
    "# leakprobe.section: sockets\n"
    "#  1: 1 [1: 1] @ 0x1\n"
    "# leakprobe.end-section: sockets\n"
    "     2:    80008 [     5:   200020] @ 0x55d0c0a01234 0x55d0c0a05678 0x7f3a12029d90\n"
    "     1:    40004 [     5:   200020] @ 0x55d0c0a09abc 0x7f3a12029d90\n"
    "\n"
    "MAPPED_LIBRARIES:\n"
    "55d0c0a00000-55d0c0a01000 r--p 00000000 fd:01 1234 /usr/sbin/mosquitto\n"
    "7f3a12028000-7f3a1217d000 r-xp 00028000 fd:01 99   /usr/lib/x86_64-linux-gnu/libc.so.6\n"
    "55d0c0a01000-55d0c0a20000 r-xp 00001000 fd:01 1234 /usr/sbin/mosquitto\n"
    "7ffd1c000000-7ffd1c002000 r-xp 00000000 00:00 0 [vdso]\n"
    "# leakprobe.end\n";

TEST(Parser, ReadsLeakprobeSnapshotWithMetadata) {
  Result<Snapshot> r = parse_snapshot(kLeakprobe, "a.heap");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Snapshot& s = r.value();
  EXPECT_EQ(s.flavour, Flavour::kLeakprobe);
  EXPECT_EQ(s.name, "a.heap");
  EXPECT_EQ(s.sampling, 0);
  EXPECT_EQ(s.format, 1);
  EXPECT_EQ(s.pid, 4242);
  EXPECT_EQ(s.ppid, 1);
  EXPECT_EQ(s.exe, "/usr/sbin/mosquitto");
  EXPECT_DOUBLE_EQ(*s.time, 1795777200.125);
  EXPECT_EQ(s.sequence, 2);
  EXPECT_EQ(s.trigger, "request");
  EXPECT_EQ(s.depth, 32);
  EXPECT_EQ(s.declared_stacks, 2);
  EXPECT_EQ(s.truncated_stacks, 1);
  EXPECT_EQ(s.probe_bytes, 4718592);
  EXPECT_EQ(s.build_ids.at("/usr/sbin/mosquitto"), "5b1c0a6e");  // lowercased
  ASSERT_EQ(s.stacks.size(), 2u);  // the section's "#  ..." line is not a heap stack
  EXPECT_EQ(s.stacks[0].counts, (Counts{2, 80008, 5, 200020}));
  EXPECT_EQ(s.stacks[0].addrs,
            (std::vector<uint64_t>{0x55d0c0a01234, 0x55d0c0a05678, 0x7f3a12029d90}));
  EXPECT_EQ(s.totals, (Counts{3, 120012, 10, 400040}));
  // Executable mappings only, sorted by address.
  ASSERT_EQ(s.mappings.size(), 3u);
  EXPECT_EQ(s.mappings[0].start, 0x55d0c0a01000u);
  EXPECT_EQ(s.mappings[0].end, 0x55d0c0a20000u);
  EXPECT_EQ(s.mappings[0].offset, 0x1000u);
  EXPECT_EQ(s.mappings[0].path, "/usr/sbin/mosquitto");
  EXPECT_EQ(s.mappings[1].path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
  EXPECT_EQ(s.mappings[2].path, "[vdso]");
  EXPECT_EQ(s.program(), "/usr/sbin/mosquitto");
  EXPECT_EQ(s.find_mapping(0x55d0c0a01233), &s.mappings[0]);
  EXPECT_EQ(s.find_mapping(0x55d0c0a20000), nullptr);  // end is exclusive
  EXPECT_EQ(s.find_mapping(0x1000), nullptr);
}

// An attached probe's `attached` line; absent (preloaded) it stays empty.
TEST(Parser, ReadsTheAttachedLine) {
  EXPECT_FALSE(parse_snapshot(kLeakprobe, "a.heap").value().attached);
  std::string text = kLeakprobe;
  const std::string after = "# leakprobe.probe-bytes: 4718592\n";
  text.insert(text.find(after) + after.size(),
              "# leakprobe.attached: since=1795777100.250000 heap-live=3221225472 "
              "unrecorded-frees=17 unrecorded-freed-bytes=4096 a-future-field=x\n");
  Result<Snapshot> r = parse_snapshot(text, "a.heap");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r.value().attached);
  const AttachInfo& at = *r.value().attached;
  EXPECT_DOUBLE_EQ(at.since, 1795777100.25);
  EXPECT_EQ(at.heap_live, 3221225472);
  EXPECT_EQ(at.unrecorded_frees, 17);
  EXPECT_EQ(at.unrecorded_freed_bytes, 4096);
  // Sampled mode writes no unrecorded-* fields.
  text = kLeakprobe;
  text.insert(text.find(after) + after.size(), "# leakprobe.attached: since=1795777100.25\n");
  r = parse_snapshot(text, "a.heap");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r.value().attached->unrecorded_frees);
  EXPECT_FALSE(r.value().attached->heap_live);
  // Without since, or with a field that is not a number: a clear error.
  for (const char* bad :
       {"# leakprobe.attached: heap-live=1\n", "# leakprobe.attached: since=1 heap-live=lots\n"}) {
    text = kLeakprobe;
    text.insert(text.find(after) + after.size(), bad);
    r = parse_snapshot(text, "a.heap");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find("leakprobe.attached"), std::string::npos);
  }
}

TEST(Parser, ReadsGperftoolsDumpAndTakesProgramFromFirstMapping) {
  const std::string text =
      "heap profile:    100:   500650 [   100:   500650] @ heapprofile\n"
      "    50:   500050 [    50:   500050] @ 0x55a4de3dc157 0x55a4de3dc17c\n"
      "    50:      600 [    50:      600] @ 0x7fc2454bc9aa 0x55a4de3dc16c\n"
      "\n"
      "MAPPED_LIBRARIES:\n"
      "55a4de3db000-55a4de3dc000 r--p 00000000 00:00 10954368    /tmp/hd/leak\n"
      "55a4de3dc000-55a4de3dd000 r-xp 00001000 00:00 10954368    /tmp/hd/leak\n"
      "55a502246000-55a502b46000 rw-p 00000000 00:00 0           [heap]\n"
      "7fc244f90000-7fc245200000 rw-p 00000000 00:00 0           \n"
      "7fc245444000-7fc24559a000 r-xp 00026000 00:00 332835      /usr/lib/libc.so.6 (deleted)\n";
  Result<Snapshot> r = parse_snapshot(text, "gp.0001.heap");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Snapshot& s = r.value();
  EXPECT_EQ(s.flavour, Flavour::kGperftools);
  EXPECT_FALSE(s.pid.has_value());
  EXPECT_EQ(s.program(), "/tmp/hd/leak");
  ASSERT_EQ(s.mappings.size(), 2u);
  EXPECT_EQ(s.mappings[1].path, "/usr/lib/libc.so.6");  // " (deleted)" stripped
  EXPECT_EQ(s.totals, (Counts{100, 500650, 100, 500650}));
}

TEST(Parser, AcceptsCrlfLineEndings) {
  std::string text = testing::leakprobe_text({{1, 8, 1, 8, {0x555500001234}}});
  std::string crlf;
  for (char c : text) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  Result<Snapshot> r = parse_snapshot(crlf, "crlf.heap");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().stacks.size(), 1u);
}

// Numbers computed by hand with pprof's formula and checked with `go tool pprof -raw` on
// tests/heapdiff/golden/data/gps.0001.heap (same lines).
TEST(Parser, UnsamplesHeapV2ExactlyAsPprof) {
  const std::string text =
      "heap profile: 4: 1048768 [5: 2097344] @ heap_v2/524288\n"
      "1: 1048576 [2: 2097152] @ 0x4014ff 0x4018ff\n"
      "3: 192 [3: 192] @ 0x4015ff\n"
      "0: 0 [9: 576] @ 0x4016ff\n"
      "\nMAPPED_LIBRARIES:\n"
      "00400000-00409000 r-xp 00000000 00:00 555 /opt/golden/bin/client\n";
  Result<Snapshot> r = parse_snapshot(text, "s.heap");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Snapshot& s = r.value();
  EXPECT_EQ(s.sampling, 524288);
  // avg 1 MiB: scale = 1/(1-e^-2) = 1.1565176...
  // The last field keeps the live objects as recorded: the samples the estimate rests on.
  EXPECT_EQ(s.stacks[0].counts, (Counts{1, 1212696, 2, 2425393, 1}));
  // avg 64 B: scale = 1/(1-e^(-64/524288)) = 8192.50...
  EXPECT_EQ(s.stacks[1].counts, (Counts{24577, 1572960, 24577, 1572960, 3}));
  EXPECT_EQ(s.stacks[2].counts, (Counts{0, 0, 73732, 4718880}));
  EXPECT_EQ(s.totals, (Counts{24578, 2785656, 98311, 8717233}));
}

TEST(Parser, UnsampleLeavesRateOneAndZeroAlone) {
  int64_t c = 3, b = 192;
  unsample(c, b, 1);
  EXPECT_EQ(c, 3);
  EXPECT_EQ(b, 192);
  c = 0;
  b = 0;
  unsample(c, b, 524288);
  EXPECT_EQ(c, 0);
  EXPECT_EQ(b, 0);
}

struct BadCase {
  const char* title;
  std::string text;
  std::string message;  // the complete expected message
};

// Keeps gtest from dumping the raw bytes of the struct into test names and logs.
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.title; }

class ParserRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(ParserRejects, WithAClearMessage) {
  Result<Snapshot> r = parse_snapshot(GetParam().text, "x.heap");
  ASSERT_FALSE(r.ok()) << GetParam().title;
  EXPECT_EQ(r.error().message, GetParam().message) << GetParam().title;
}

const std::string kMaps = "\nMAPPED_LIBRARIES:\n00400000-00409000 r-xp 00000000 00:00 5 /a\n";
const std::string kHdr = "heap profile: 1: 8 [1: 8] @ heapprofile\n";

INSTANTIATE_TEST_SUITE_P(
    BadInput, ParserRejects,
    ::testing::Values(
        BadCase{"empty", "", "x.heap: empty file"},
        BadCase{"blank", "\n  \n\n", "x.heap: empty file"},
        BadCase{"garbage", "hello world\n",
                "x.heap:1: not a heap profile: the first line must be 'heap profile: ...' "
                "(leakprobe snapshot or gperftools HEAPPROFILE dump), found 'hello world'"},
        BadCase{"binary",
                std::string("\x7f"
                            "ELF\x02\x01\x00\x00",
                            8) +
                    "junk",
                "x.heap:1: not a heap profile: the first line must be 'heap profile: ...' "
                "(leakprobe snapshot or gperftools HEAPPROFILE dump), found '?ELF????junk'"},
        BadCase{"unsupported type", "heap profile: 1: 8 [1: 8] @ growthz\n" + kMaps,
                "x.heap:1: unsupported profile type 'growthz' (heapdiff reads 'heapprofile' "
                "and 'heap_v2/<bytes>' heap profiles)"},
        BadCase{"sampled without rate", "heap profile: 1: 8 [1: 8] @ heap_v2/\n" + kMaps,
                "x.heap:1: malformed sampling rate '' in 'heap_v2/' (expected a positive number "
                "of bytes)"},
        BadCase{"gperftools without maps", kHdr + "1: 8 [1: 8] @ 0x401000\n",
                "x.heap: truncated heap profile: no MAPPED_LIBRARIES: section (2 lines read)"},
        BadCase{"leakprobe without trailer",
                kHdr + "# leakprobe.format: 1\n1: 8 [1: 8] @ 0x401000\n" + kMaps,
                "x.heap: truncated leakprobe snapshot: the last line is not '# leakprobe.end' "
                "(6 lines read)"},
        BadCase{"fewer stack lines than declared",
                kHdr + "# leakprobe.format: 1\n# leakprobe.stacks: 3\n1: 8 [1: 8] @ 0x401000\n" +
                    kMaps + "# leakprobe.end\n",
                "x.heap: truncated leakprobe snapshot: 1 stack lines but leakprobe.stacks says 3"},
        BadCase{"malformed count", kHdr + "1x: 8 [1: 8] @ 0x401000\n" + kMaps,
                "x.heap:2: malformed live object count '1x'"},
        BadCase{"malformed bytes", kHdr + "1: 8 [1: 8.5] @ 0x401000\n" + kMaps,
                "x.heap:2: malformed allocated byte count '8.5'"},
        BadCase{"missing bracket", kHdr + "1: 8 1: 8 @ 0x401000\n" + kMaps,
                "x.heap:2: malformed stack line: expected '<objs>: <bytes> [<objs>: <bytes>] @ "
                "<addresses>', found '1: 8 1: 8 @ 0x401000'"},
        BadCase{"zero count with bytes", kHdr + "0: 8 [1: 8] @ 0x401000\n" + kMaps,
                "x.heap:2: live object count is 0 but live bytes is 8"},
        BadCase{"negative", kHdr + "-1: 8 [1: 8] @ 0x401000\n" + kMaps,
                "x.heap:2: negative live object count '-1'"},
        BadCase{"number overflow", kHdr + "1: 99999999999999999999 [1: 8] @ 0x401000\n" + kMaps,
                "x.heap:2: live byte count '99999999999999999999' is out of range (more than "
                "2^63-1)"},
        BadCase{"sum overflow",
                kHdr + "1: 9223372036854775807 [1: 8] @ 0x1\n1: 1 [1: 8] @ 0x2\n" + kMaps,
                "x.heap:3: the sum of the counts overflows 64 bits"},
        BadCase{"bad address", kHdr + "1: 8 [1: 8] @ 0x40zz\n" + kMaps,
                "x.heap:2: malformed address '0x40zz' (expected hex like 0x4005d0)"},
        BadCase{"address overflow", kHdr + "1: 8 [1: 8] @ 0x11112222333344445\n" + kMaps,
                "x.heap:2: address '0x11112222333344445' does not fit in 64 bits"},
        BadCase{"newer format", kHdr + "# leakprobe.format: 2\n" + kMaps + "# leakprobe.end\n",
                "x.heap:2: snapshot format 2 is not supported (this heapdiff reads format 1)"},
        BadCase{"malformed pid", kHdr + "# leakprobe.pid: 12ab\n" + kMaps + "# leakprobe.end\n",
                "x.heap:2: malformed leakprobe.pid value '12ab' (expected an integer)"},
        BadCase{"malformed time", kHdr + "# leakprobe.time: soon\n" + kMaps + "# leakprobe.end\n",
                "x.heap:2: malformed leakprobe.time value 'soon' (expected unix seconds like "
                "1795777200.125)"},
        BadCase{"sampling disagrees",
                kHdr + "# leakprobe.sampling: 4096\n" + kMaps + "# leakprobe.end\n",
                "x.heap: leakprobe.sampling 4096 disagrees with the header's sampling rate 0"},
        // The numbers docs/heapdiff.md promises to refuse: none of these may be
        // skipped or read as something else.
        BadCase{"address without 0x", kHdr + "1: 8 [1: 8] @ 4005d0\n" + kMaps,
                "x.heap:2: malformed address '4005d0' (expected hex like 0x4005d0)"},
        BadCase{"address split by a space", kHdr + "1: 8 [1: 8] @ 0x40 05d0\n" + kMaps,
                "x.heap:2: malformed address '05d0' (expected hex like 0x4005d0)"},
        BadCase{"bare 0x", kHdr + "1: 8 [1: 8] @ 0x\n" + kMaps,
                "x.heap:2: malformed address '0x' (expected hex like 0x4005d0)"},
        BadCase{
            "72-bit map offset",
            kHdr + "\nMAPPED_LIBRARIES:\n00400000-00409000 r-xp 100000000000000000 00:00 5 /a\n",
            "x.heap:4: mapping offset '100000000000000000' does not fit in 64 bits"},
        BadCase{"map start after end",
                kHdr + "\nMAPPED_LIBRARIES:\n00409000-00400000 r-xp 00000000 00:00 5 /a\n",
                "x.heap:4: mapping range '00409000-00400000' does not end after it starts"},
        BadCase{"empty map range",
                kHdr + "\nMAPPED_LIBRARIES:\n00400000-00400000 r-xp 00000000 00:00 5 /a\n",
                "x.heap:4: mapping range '00400000-00400000' does not end after it starts"},
        BadCase{"72-bit map end",
                kHdr + "\nMAPPED_LIBRARIES:\n00400000-100000000000000000 r-xp 0 00:00 5 /a\n",
                "x.heap:4: mapping range '00400000-100000000000000000' does not fit in 64 bits"},
        BadCase{"malformed map offset",
                kHdr + "\nMAPPED_LIBRARIES:\n00400000-00409000 r-xp 0x1000 00:00 5 /a\n",
                "x.heap:4: malformed mapping offset '0x1000' (expected hex like 00028000)"},
        BadCase{"map without permissions", kHdr + "\nMAPPED_LIBRARIES:\n00400000-00409000\n",
                "x.heap:4: malformed mapping: expected permissions like 'r-xp' after "
                "'00400000-00409000'"},
        BadCase{"data after the trailer",
                kHdr + "# leakprobe.format: 1\n" + kMaps + "# leakprobe.end\n\n1: 8 [1: 8] @ 0x1\n",
                "x.heap:8: unexpected data after '# leakprobe.end', the last line of a snapshot: "
                "'1: 8 [1: 8] @ 0x1'"},
        BadCase{
            "zeros after the trailer",
            kHdr + "# leakprobe.format: 1\n" + kMaps + "# leakprobe.end\n" + std::string(100, '\0'),
            "x.heap:7: unexpected data after '# leakprobe.end', the last line of a snapshot: "
            "'????????????????????????????????????????????????????????????...'"},
        BadCase{"more stack lines than declared",
                kHdr + "# leakprobe.format: 1\n# leakprobe.stacks: 1\n1: 8 [1: 8] @ 0x1\n" +
                    "1: 8 [1: 8] @ 0x2\n" + kMaps + "# leakprobe.end\n",
                "x.heap: corrupt leakprobe snapshot: more stack lines than leakprobe.stacks "
                "says (1)"},
        BadCase{"over-long line", kHdr + "1: 8 [1: 8] @" + std::string(70000, ' ') + "0x1\n",
                "x.heap:2: line longer than 65536 bytes (not a heap profile line): '1: 8 [1: 8] "
                "@'"},
        BadCase{"over-long first line", std::string(70000, 'h'),
                "x.heap:1: not a heap profile: the first line must be 'heap profile: ...' "
                "(leakprobe snapshot or gperftools HEAPPROFILE dump), found "
                "'hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh...'"},
        BadCase{"blank lines before the header", "\n\n" + kHdr + kMaps,
                "x.heap:1: not a heap profile: the first line must be 'heap profile: ...' "
                "(leakprobe snapshot or gperftools HEAPPROFILE dump), found ''"}),
    [](const ::testing::TestParamInfo<BadCase>& info) {
      std::string name;
      for (const char* p = info.param.title; *p; ++p) name += std::isalnum(*p) ? *p : '_';
      return name;
    });

TEST(Parser, LinesInTheMapsThatAreNotMappingsAreSkippedAsPprofDoes) {
  Result<Snapshot> r = parse_snapshot(
      kHdr + "1: 8 [1: 8] @ 0x401000\n" + kMaps + "build=/a\nnot a mapping at all\n", "x.heap");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().mappings.size(), 1u);
}

// The streaming reader gives the same answer however the bytes are split.
TEST(Parser, ReaderResultDoesNotDependOnHowTheInputIsSplit) {
  const std::string full = kLeakprobe;
  for (size_t piece : {size_t{1}, size_t{2}, size_t{7}, size_t{64}, full.size()}) {
    SnapshotReader reader("a.heap");
    for (size_t at = 0; at < full.size(); at += piece) {
      ASSERT_TRUE(reader.feed(std::string_view(full).substr(at, piece))) << piece;
    }
    Result<Snapshot> r = reader.finish();
    ASSERT_TRUE(r.ok()) << piece << ": " << r.error().message;
    EXPECT_EQ(r.value().stacks.size(), 2u);
    EXPECT_EQ(r.value().mappings.size(), 3u);
    EXPECT_EQ(r.value().totals, parse_snapshot(full, "a.heap").value().totals);
  }
}

// Refused on the first line, before anything else is looked at: feed() says stop at once.
TEST(Parser, ReaderStopsAtAFirstLineThatIsNotAHeader) {
  SnapshotReader reader("zero");
  EXPECT_TRUE(reader.feed(std::string(1000, '\0')));  // no line yet
  EXPECT_FALSE(reader.feed(std::string(kMaxLineBytes, '\0')));
  Result<Snapshot> r = reader.finish();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.rfind("zero:1: not a heap profile", 0), 0u) << r.error().message;
}

TEST(Parser, ReaderRefusesMoreStackLinesThanItsLimit) {
  SnapshotReader reader("many", 3);
  std::string text = kHdr;
  for (int i = 0; i < 4; ++i) text += "1: 8 [1: 8] @ 0x401000\n";
  EXPECT_FALSE(reader.feed(text));
  Result<Snapshot> r = reader.finish();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "many:5: more than 3 stack lines, the most heapdiff keeps of one snapshot of at most "
            "768 bytes (--max-input raises both)");
}

TEST(Parser, LoadReportsMissingFileAndDirectory) {
  Result<Snapshot> r = load_snapshot("/nonexistent/dir/x.heap");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "/nonexistent/dir/x.heap: cannot open: No such file or directory");
  r = load_snapshot("/");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "/: cannot read: is a directory");
}

// Every prefix of a valid snapshot is either a clean error or (for the gperftools-compatible
// cut right after the maps) a snapshot; never a crash.
TEST(Parser, EveryTruncationOfASnapshotIsAnError) {
  const std::string full = kLeakprobe;
  for (size_t n = 0; n + 1 < full.size(); ++n) {
    Result<Snapshot> r = parse_snapshot(std::string_view(full).substr(0, n), "cut.heap");
    EXPECT_FALSE(r.ok()) << "prefix of " << n << " bytes was accepted";
  }
}

}  // namespace
}  // namespace leakprobe::analysis
