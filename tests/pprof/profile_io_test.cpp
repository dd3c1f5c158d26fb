// tools/pprof: gzip round trips and failures, content detection, validation, the string
// table, files; and, when Go is installed, that `go tool pprof` reads what we write.
#include "leakprobe/pprof/profile_io.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "leakprobe/pprof/profile_stream.h"

namespace fs = std::filesystem;
using leakprobe::pprof::Profile;
using leakprobe::pprof::StringTable;

namespace {

// A Go-shaped heap profile: two stacks, main.leak <- main.main and main.keep <- main.main.
Profile sample_profile() {
  Profile p;
  StringTable st(p);
  for (const char* name : {"inuse_objects", "inuse_space"}) {
    auto* vt = p.add_sample_type();
    vt->set_type(st.index(name));
    vt->set_unit(st.index(std::string(name) == "inuse_objects" ? "count" : "bytes"));
  }
  p.mutable_period_type()->set_type(st.index("space"));
  p.mutable_period_type()->set_unit(st.index("bytes"));
  p.set_period(524288);
  auto* m = p.add_mapping();
  m->set_id(1);
  m->set_memory_start(0x400000);
  m->set_memory_limit(0x800000);
  m->set_filename(st.index("/usr/bin/service"));
  m->set_has_functions(true);
  const char* names[] = {"main.leak", "main.keep", "main.main"};
  for (int i = 0; i < 3; ++i) {
    auto* f = p.add_function();
    f->set_id(i + 1);
    f->set_name(st.index(names[i]));
    f->set_system_name(f->name());
    f->set_filename(st.index("/src/service/main.go"));
    auto* loc = p.add_location();
    loc->set_id(i + 1);
    loc->set_mapping_id(1);
    loc->set_address(0x401000 + 0x100 * i);
    auto* line = loc->add_line();
    line->set_function_id(i + 1);
    line->set_line(10 * (i + 1));
  }
  auto* s = p.add_sample();
  s->add_location_id(1);
  s->add_location_id(3);
  s->add_value(3);
  s->add_value(3072);
  s = p.add_sample();
  s->add_location_id(2);
  s->add_location_id(3);
  s->add_value(1);
  s->add_value(512);
  return p;
}

fs::path temp_dir() {
  char pattern[] = "/tmp/leakprobe-pprof-io-XXXXXX";
  const char* dir = mkdtemp(pattern);
  return dir ? fs::path(dir) : fs::path();
}

TEST(Gzip, RoundTripsAndIsDetectedByContent) {
  std::string text(200000, 'x');
  for (size_t i = 0; i < text.size(); i += 7) text[i] = static_cast<char>('a' + i % 26);
  std::string packed, unpacked, error;
  ASSERT_TRUE(leakprobe::pprof::gzip(text, packed, error)) << error;
  EXPECT_TRUE(leakprobe::pprof::is_gzip(packed));
  EXPECT_FALSE(leakprobe::pprof::is_gzip(text));
  EXPECT_LT(packed.size(), text.size());
  ASSERT_TRUE(leakprobe::pprof::gunzip(packed, unpacked, error)) << error;
  EXPECT_EQ(unpacked, text);
}

TEST(Gzip, ConcatenatedMembersReadAsOneStream) {
  std::string a, b, out, error;
  ASSERT_TRUE(leakprobe::pprof::gzip("hello ", a, error));
  ASSERT_TRUE(leakprobe::pprof::gzip("world", b, error));
  ASSERT_TRUE(leakprobe::pprof::gunzip(a + b, out, error)) << error;
  EXPECT_EQ(out, "hello world");
}

TEST(Gzip, TruncatedCorruptAndOversizedStreamsFail) {
  std::string packed, out, error;
  ASSERT_TRUE(leakprobe::pprof::gzip(std::string(100000, 'q'), packed, error));
  EXPECT_FALSE(leakprobe::pprof::gunzip(packed.substr(0, packed.size() / 2), out, error));
  EXPECT_NE(error.find("truncated"), std::string::npos) << error;

  std::string corrupt = packed;
  corrupt[12] = static_cast<char>(corrupt[12] ^ 0x55);
  corrupt[13] = static_cast<char>(corrupt[13] ^ 0x55);
  EXPECT_FALSE(leakprobe::pprof::gunzip(corrupt, out, error));

  EXPECT_FALSE(leakprobe::pprof::gunzip(packed + "junk", out, error));
  EXPECT_NE(error.find("junk"), std::string::npos) << error;

  EXPECT_FALSE(leakprobe::pprof::gunzip(packed, out, error, 50000));
  EXPECT_NE(error.find("limit"), std::string::npos) << error;

  EXPECT_FALSE(leakprobe::pprof::gunzip("", out, error));
  EXPECT_FALSE(leakprobe::pprof::gunzip("plain text", out, error));
}

TEST(Profile, ParsesGzippedAndRawBytes) {
  const Profile p = sample_profile();
  std::string error, gz;
  ASSERT_TRUE(leakprobe::pprof::serialize_gzipped(p, gz, error)) << error;
  Profile back;
  ASSERT_TRUE(leakprobe::pprof::parse_profile(gz, back, error)) << error;
  EXPECT_EQ(back.SerializeAsString(), p.SerializeAsString());

  Profile raw_back;
  ASSERT_TRUE(leakprobe::pprof::parse_profile(p.SerializeAsString(), raw_back, error)) << error;
  EXPECT_EQ(raw_back.sample_size(), 2);
  EXPECT_EQ(leakprobe::pprof::string_at(raw_back, raw_back.function(0).name()), "main.leak");
}

TEST(Profile, RejectsWhatIsNotAProfile) {
  Profile out;
  std::string error;
  EXPECT_FALSE(leakprobe::pprof::parse_profile("", out, error));
  EXPECT_FALSE(
      leakprobe::pprof::parse_profile("heap profile: 1: 2 [3: 4] @ heapprofile\n", out, error));
  EXPECT_FALSE(leakprobe::pprof::parse_profile(std::string("\xff\xff\xff\xff\xff", 5), out, error));
  std::string gz;
  ASSERT_TRUE(leakprobe::pprof::gzip("this is text, not protobuf", gz, error));
  EXPECT_FALSE(leakprobe::pprof::parse_profile(gz, out, error));
  // A gzipped profile cut short is a gzip error, not a silently smaller profile.
  ASSERT_TRUE(leakprobe::pprof::serialize_gzipped(sample_profile(), gz, error));
  EXPECT_FALSE(leakprobe::pprof::parse_profile(gz.substr(0, gz.size() - 10), out, error));
}

TEST(Profile, ValidationNamesTheBrokenReference) {
  std::string error;
  {
    Profile p = sample_profile();
    p.mutable_sample(0)->add_value(7);
    EXPECT_FALSE(leakprobe::pprof::validate_profile(p, error));
    EXPECT_NE(error.find("3 values"), std::string::npos) << error;
  }
  {
    Profile p = sample_profile();
    p.mutable_sample(1)->add_location_id(99);
    EXPECT_FALSE(leakprobe::pprof::validate_profile(p, error));
    EXPECT_NE(error.find("undefined location 99"), std::string::npos) << error;
  }
  {
    Profile p = sample_profile();
    p.mutable_function(1)->set_name(10000);
    EXPECT_FALSE(leakprobe::pprof::validate_profile(p, error));
    EXPECT_NE(error.find("string table"), std::string::npos) << error;
  }
  {
    Profile p = sample_profile();
    p.mutable_location(0)->mutable_line(0)->set_function_id(42);
    EXPECT_FALSE(leakprobe::pprof::validate_profile(p, error));
    EXPECT_NE(error.find("undefined function 42"), std::string::npos) << error;
  }
  {
    Profile p = sample_profile();
    p.mutable_location(2)->set_id(1);
    EXPECT_FALSE(leakprobe::pprof::validate_profile(p, error));
    EXPECT_NE(error.find("duplicate location id 1"), std::string::npos) << error;
  }
  {
    Profile p = sample_profile();
    p.set_string_table(0, "x");
    EXPECT_FALSE(leakprobe::pprof::validate_profile(p, error));
  }
  {
    Profile p = sample_profile();
    p.clear_sample_type();
    EXPECT_FALSE(leakprobe::pprof::validate_profile(p, error));
  }
}

// The streaming reader (profile_stream.h): samples folded by stack as they arrive, whatever
// the order of the fields, with the whole-message reader's checks and messages.
namespace stream {

using leakprobe::pprof::FoldedProfile;
using leakprobe::pprof::MemorySource;

bool read_folded(const std::string& bytes, FoldedProfile& out, std::string& error,
                 size_t max = leakprobe::pprof::kMaxProfileBytes) {
  MemorySource source(bytes);
  return leakprobe::pprof::read_folded_profile(source, out, error, max);
}

// `p` with its samples serialized before every other field: a producer may write them first.
std::string samples_first(const Profile& p) {
  Profile samples, rest = p;
  *samples.mutable_sample() = p.sample();
  rest.clear_sample();
  return samples.SerializeAsString() + rest.SerializeAsString();
}

TEST(Stream, FoldsIdenticalStacksAndSumsTheirValues) {
  Profile p = sample_profile();
  for (int i = 0; i < 1000; ++i) *p.add_sample() = p.sample(0);  // the same stack again
  std::string gz, error;
  ASSERT_TRUE(leakprobe::pprof::serialize_gzipped(p, gz, error)) << error;
  FoldedProfile f;
  ASSERT_TRUE(read_folded(gz, f, error)) << error;
  EXPECT_EQ(f.sample_count, 1002u);
  ASSERT_EQ(f.samples.size(), 2u);
  EXPECT_EQ(f.samples[0].location_ids, (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ(f.samples[0].values, (std::vector<int64_t>{3 * 1001, 3072 * 1001}));
  EXPECT_EQ(f.samples[0].samples, 1001u);
  EXPECT_EQ(f.samples[1].values, (std::vector<int64_t>{1, 512}));
  EXPECT_EQ(f.samples[1].first, 1u);
  EXPECT_EQ(f.tables.sample_size(), 0);
  EXPECT_EQ(f.tables.location_size(), 3);
  EXPECT_EQ(f.tables.period(), 524288);
  EXPECT_FALSE(f.negative);
}

TEST(Stream, SamplesBeforeTheTablesTheyReferTo) {
  const std::string raw = samples_first(sample_profile());
  FoldedProfile f;
  std::string error;
  ASSERT_TRUE(read_folded(raw, f, error)) << error;
  ASSERT_EQ(f.samples.size(), 2u);
  EXPECT_EQ(leakprobe::pprof::string_at(f.tables, f.tables.function(0).name()), "main.leak");
  // Gzipped in two members, split inside a sample: the same.
  std::string a, b;
  ASSERT_TRUE(leakprobe::pprof::gzip(raw.substr(0, 7), a, error));
  ASSERT_TRUE(leakprobe::pprof::gzip(raw.substr(7), b, error));
  FoldedProfile g;
  ASSERT_TRUE(read_folded(a + b, g, error)) << error;
  EXPECT_EQ(g.samples.size(), 2u);
  EXPECT_EQ(g.samples[0].values, f.samples[0].values);
}

TEST(Stream, ChecksTheSamplesOnceTheTablesHaveArrived) {
  std::string error;
  FoldedProfile f;
  {
    Profile p = sample_profile();
    p.mutable_sample(1)->add_location_id(99);
    EXPECT_FALSE(read_folded(samples_first(p), f, error));
    EXPECT_EQ(error, "invalid pprof profile: sample 1 refers to undefined location 99");
  }
  {
    Profile p = sample_profile();
    p.mutable_sample(1)->add_value(7);
    EXPECT_FALSE(read_folded(samples_first(p), f, error));
    EXPECT_EQ(error,
              "invalid pprof profile: sample 1 has 3 values, the profile has 2 sample types");
  }
  {
    // Two samples of one stack with different value counts: one of them is wrong.
    Profile p = sample_profile();
    *p.add_sample() = p.sample(0);
    p.mutable_sample(2)->add_value(7);
    EXPECT_FALSE(read_folded(p.SerializeAsString(), f, error));
    EXPECT_EQ(error,
              "invalid pprof profile: sample 2 has 3 values, the profile has 2 sample types");
  }
  {
    Profile p = sample_profile();
    auto* label = p.mutable_sample(1)->add_label();
    label->set_key(1);
    label->set_str(5000);
    EXPECT_FALSE(read_folded(p.SerializeAsString(), f, error));
    EXPECT_EQ(error, "invalid pprof profile: sample 1 has a label outside the string table");
    label->set_str(-1);
    EXPECT_FALSE(read_folded(p.SerializeAsString(), f, error));
    EXPECT_EQ(error, "invalid pprof profile: sample 1 has a label outside the string table");
  }
  {
    Profile p = sample_profile();
    p.mutable_function(1)->set_name(10000);
    EXPECT_FALSE(read_folded(samples_first(p), f, error));
    EXPECT_NE(error.find("string table"), std::string::npos) << error;
  }
}

TEST(Stream, NegativeValuesAndOverflowingSumsAreReportedNotHidden) {
  Profile p = sample_profile();
  p.mutable_sample(1)->set_value(0, -5);
  FoldedProfile f;
  std::string error;
  ASSERT_TRUE(read_folded(p.SerializeAsString(), f, error)) << error;
  EXPECT_TRUE(f.negative);
  EXPECT_EQ(f.negative_sample, 1u);
  EXPECT_EQ(f.negative_column, 0);
  EXPECT_EQ(f.negative_value, -5);
  Profile q = sample_profile();
  q.mutable_sample(0)->set_value(1, INT64_MAX);
  ASSERT_TRUE(read_folded(q.SerializeAsString(), f, error)) << error;
  ASSERT_EQ(f.overflowed.size(), 2u);
  EXPECT_FALSE(f.overflowed[0]);
  EXPECT_TRUE(f.overflowed[1]) << "INT64_MAX + 512";
}

TEST(Stream, BadBytesLimitsAndCutsGetTheWholeReadersMessages) {
  FoldedProfile f;
  std::string error;
  EXPECT_FALSE(read_folded("", f, error));
  EXPECT_EQ(error, "empty file, not a pprof profile");
  EXPECT_FALSE(read_folded(std::string("\xff\xff\xff\xff\xff", 5), f, error));
  EXPECT_EQ(error, "not a pprof profile (protobuf decoding failed)");
  const std::string raw = sample_profile().SerializeAsString();
  EXPECT_FALSE(read_folded(raw.substr(0, raw.size() - 3), f, error)) << "cut inside a field";
  EXPECT_EQ(error, "not a pprof profile (protobuf decoding failed)");
  EXPECT_FALSE(read_folded(raw, f, error, raw.size() - 1));
  EXPECT_NE(error.find("exceeds the limit"), std::string::npos) << error;
  std::string gz;
  ASSERT_TRUE(leakprobe::pprof::gzip(raw, gz, error));
  EXPECT_FALSE(read_folded(gz.substr(0, gz.size() - 10), f, error));
  EXPECT_EQ(error, "gzip: truncated stream");
  EXPECT_FALSE(read_folded(gz, f, error, raw.size() - 1));
  EXPECT_NE(error.find("decompressed size exceeds the limit"), std::string::npos) << error;
  EXPECT_FALSE(read_folded(gz + "junk", f, error));
  EXPECT_EQ(error, "junk after the gzip stream");
  // A group (wire type 3) was never part of profile.proto.
  EXPECT_FALSE(read_folded(raw + std::string("\x7b\x7c", 2), f, error));
  // The whole-message reader accepts what this one does, with the same samples.
  Profile whole;
  ASSERT_TRUE(leakprobe::pprof::parse_profile(gz, whole, error)) << error;
  ASSERT_TRUE(read_folded(gz, f, error)) << error;
  EXPECT_EQ(static_cast<int>(f.sample_count), whole.sample_size());
}

// pprof producers write names as the binary has them; Go's reader never checks UTF-8, and
// neither may ours: a Latin-1 file name made the whole profile "not a pprof profile".
TEST(Stream, NamesThatAreNotUtf8AreRead) {
  Profile p = sample_profile();
  p.set_string_table(p.function(0).filename(), std::string("/src/caf\xe9/main.go"));
  std::string gz, error;
  ASSERT_TRUE(leakprobe::pprof::serialize_gzipped(p, gz, error)) << error;
  Profile whole;
  ASSERT_TRUE(leakprobe::pprof::parse_profile(gz, whole, error)) << error;
  FoldedProfile f;
  ASSERT_TRUE(read_folded(gz, f, error)) << error;
  EXPECT_EQ(leakprobe::pprof::string_at(f.tables, f.tables.function(0).filename()),
            "/src/caf\xe9/main.go");
}

}  // namespace stream

TEST(StringTable, InternsAndKeepsIndexZeroEmpty) {
  Profile p;
  StringTable st(p);
  EXPECT_EQ(st.index(""), 0);
  const int64_t a = st.index("alpha");
  EXPECT_EQ(st.index("beta"), a + 1);
  EXPECT_EQ(st.index("alpha"), a);
  EXPECT_EQ(p.string_table_size(), 3);
  // A table over a profile that already has strings reuses them.
  StringTable again(p);
  EXPECT_EQ(again.index("beta"), a + 1);
  EXPECT_EQ(leakprobe::pprof::string_at(p, 99), "");
}

TEST(Files, WriteThenReadAndMessages) {
  const fs::path dir = temp_dir();
  ASSERT_FALSE(dir.empty());
  const std::string path = (dir / "heap.pb.gz").string();
  std::string error;
  ASSERT_TRUE(leakprobe::pprof::write_profile_file(path, sample_profile(), error)) << error;
  Profile back;
  ASSERT_TRUE(leakprobe::pprof::read_profile_file(path, back, error)) << error;
  EXPECT_EQ(back.sample_size(), 2);

  EXPECT_FALSE(leakprobe::pprof::read_profile_file((dir / "missing").string(), back, error));
  EXPECT_NE(error.find("cannot open"), std::string::npos) << error;
  EXPECT_FALSE(leakprobe::pprof::read_profile_file(dir.string(), back, error));
  EXPECT_NE(error.find("directory"), std::string::npos) << error;
  EXPECT_FALSE(leakprobe::pprof::write_profile_file((dir / "no/such/dir/x").string(), back, error));
  fs::remove_all(dir);
}

#ifdef LEAKPROBE_GO
// What we write is what pprof reads: `go tool pprof -raw` lists our samples and functions.
TEST(Files, GoToolPprofReadsWhatWeWrite) {
  const fs::path dir = temp_dir();
  ASSERT_FALSE(dir.empty());
  const std::string path = (dir / "heap.pb.gz").string();
  std::string error;
  ASSERT_TRUE(leakprobe::pprof::write_profile_file(path, sample_profile(), error)) << error;
  const std::string out = (dir / "raw.txt").string();
  const std::string cmd = "cd '" + dir.string() + "' && HOME='" + dir.string() + "' GOCACHE='" +
                          dir.string() + "/cache' PPROF_TMPDIR='" + dir.string() +
                          "' timeout 120 " LEAKPROBE_GO " tool pprof -raw '" + path + "' >'" + out +
                          "' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream in(out);
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  EXPECT_NE(text.find("inuse_objects/count inuse_space/bytes"), std::string::npos) << text;
  EXPECT_NE(text.find("3       3072"), std::string::npos) << text;
  EXPECT_NE(text.find("main.leak"), std::string::npos) << text;
  EXPECT_NE(text.find("main.keep"), std::string::npos) << text;
  fs::remove_all(dir);
}
#else
TEST(Files, GoToolPprofReadsWhatWeWrite) {
  GTEST_SKIP() << "go not found at configure time: `go tool pprof` cannot check what we write "
                  "(scripts/deps.sh installs golang-go; reconfigure)";
}
#endif

}  // namespace
