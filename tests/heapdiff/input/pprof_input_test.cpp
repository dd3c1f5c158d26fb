// pprof input: Go heap and goroutine profiles built in memory with tools/pprof, read back as
// snapshots, and analysed: sample types by name, the profile's own names and lines, frames
// lining up across profiles whose addresses differ, Go runtime frames skipped for the site,
// --fold past runtime.gopark, kinds that must not be compared, and bad input.
#include "leakprobe/analysis/pprof_input.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "leakprobe/analysis/analysis.h"
#include "leakprobe/analysis/compat.h"
#include "leakprobe/analysis/go_frames.h"
#include "leakprobe/analysis/names.h"
#include "leakprobe/analysis/report.h"
#include "leakprobe/analysis/report_pprof.h"
#include "leakprobe/pprof/profile_io.h"
#include "test_snapshots.h"

namespace leakprobe::analysis {
namespace {

namespace pp = leakprobe::pprof;

// Builds Go-shaped profiles: functions by name, one location per (function, line), samples
// by stack (leaf first). `shift` moves every address, as another build of the program would.
class GoProfile {
 public:
  GoProfile(std::vector<std::pair<std::string, std::string>> types, uint64_t shift = 0,
            int64_t period = 1,
            std::pair<std::string, std::string> period_type = {"space", "bytes"})
      : st_(p_), shift_(shift) {
    for (const auto& [type, unit] : types) {
      auto* vt = p_.add_sample_type();
      vt->set_type(st_.index(type));
      vt->set_unit(st_.index(unit));
    }
    p_.mutable_period_type()->set_type(st_.index(period_type.first));
    p_.mutable_period_type()->set_unit(st_.index(period_type.second));
    p_.set_period(period);
    p_.set_time_nanos(1795777200000000000LL);
    auto* m = p_.add_mapping();
    m->set_id(1);
    m->set_memory_start(0x400000 + shift);
    m->set_memory_limit(0x800000 + shift);
    m->set_filename(st_.index("/srv/gateway"));
    m->set_build_id(st_.index("Go-build-id/not-hex"));
    m->set_has_functions(true);
  }

  // A location holding `frames` (function, line) pairs, innermost (inlined) first.
  uint64_t location(const std::vector<std::pair<std::string, int>>& frames) {
    auto* loc = p_.add_location();
    loc->set_id(static_cast<uint64_t>(p_.location_size()));
    loc->set_mapping_id(1);
    loc->set_address(0x401000 + 0x10 * loc->id() + shift_);
    for (const auto& [name, line] : frames) {
      auto* l = loc->add_line();
      l->set_function_id(function(name));
      l->set_line(line);
    }
    return loc->id();
  }
  uint64_t location(const std::string& name, int line) { return location({{name, line}}); }

  // A location with no names: only its address (symbolized from the binary, if at all).
  uint64_t bare_location(uint64_t address) {
    auto* loc = p_.add_location();
    loc->set_id(static_cast<uint64_t>(p_.location_size()));
    loc->set_mapping_id(1);
    loc->set_address(address + shift_);
    return loc->id();
  }

  void sample(const std::vector<uint64_t>& stack, const std::vector<int64_t>& values) {
    auto* s = p_.add_sample();
    for (uint64_t id : stack) s->add_location_id(id);
    for (int64_t v : values) s->add_value(v);
  }

  const pp::Profile& profile() const { return p_; }
  std::string gzipped() const {
    std::string out, error;
    EXPECT_TRUE(pp::serialize_gzipped(p_, out, error)) << error;
    return out;
  }

 private:
  uint64_t function(const std::string& name) {
    for (const auto& f : p_.function()) {
      if (pp::string_at(p_, f.name()) == name) return f.id();
    }
    auto* f = p_.add_function();
    f->set_id(static_cast<uint64_t>(p_.function_size()));
    f->set_name(st_.index(name));
    f->set_system_name(f->name());
    f->set_filename(st_.index(name.rfind("main.", 0) == 0 ? "/src/gateway/sessions.go"
                                                          : "/usr/lib/go/src/runtime/x.go"));
    return f->id();
  }

  pp::Profile p_;
  pp::StringTable st_;
  uint64_t shift_;
};

const std::vector<std::pair<std::string, std::string>> kGoHeapTypes = {{"alloc_objects", "count"},
                                                                       {"alloc_space", "bytes"},
                                                                       {"inuse_objects", "count"},
                                                                       {"inuse_space", "bytes"}};

// A Go heap profile: `sessions` live sessions from main.newDeviceSession (through
// runtime.newobject and runtime.mallocgc, which Go itself may or may not hide), plus a stable
// buffer from main.main.
GoProfile go_heap(int64_t sessions, uint64_t shift = 0) {
  GoProfile g(kGoHeapTypes, shift);
  const uint64_t malloc = g.location("runtime.mallocgc", 1000);
  const uint64_t newobj = g.location("runtime.newobject", 1200);
  const uint64_t site = g.location("main.newDeviceSession", 39);
  // Inlined into openSession: one location, two lines.
  const uint64_t open =
      g.location({{"main.(*gateway).register", 12}, {"main.(*gateway).openSession", 60}});
  const uint64_t root = g.location("main.main", 111);
  g.sample({malloc, newobj, site, open, root},
           {sessions + 2, (sessions + 2) * 6144, sessions, sessions * 6144});
  g.sample({g.location("main.main", 90), root}, {1, 4096, 1, 4096});
  return g;
}

// A Go goroutine profile: `leaked` goroutines parked in select in watch, plus main.
GoProfile go_goroutines(int64_t leaked, uint64_t shift = 0) {
  GoProfile g(std::vector<std::pair<std::string, std::string>>{{"goroutine", "count"}}, shift, 1,
              {"goroutine", "count"});
  const uint64_t park = g.location("runtime.gopark", 363);
  const uint64_t sel = g.location("runtime.selectgo", 328);
  const uint64_t helper = g.location("main.(*deviceSession).waitCommand", 70);
  const uint64_t watch = g.location("main.(*deviceSession).watch", 48);
  const uint64_t start = g.location("main.(*gateway).openSession.func1", 66);
  g.sample({park, sel, helper, watch, start}, {leaked});
  g.sample({park, g.location("runtime.chanrecv1", 442), g.location("main.main", 104),
            g.location("runtime.main", 250)},
           {1});
  return g;
}

Snapshot must_read(const GoProfile& g, const std::string& name, bool gzip = true) {
  Result<Snapshot> r = parse_pprof(gzip ? g.gzipped() : g.profile().SerializeAsString(), name);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(r).value() : Snapshot{};
}

Analysis must_analyze(const std::vector<const Snapshot*>& snaps, Options opts = {}) {
  if (auto e = check_compatible(snaps)) ADD_FAILURE() << e->message;
  Result<Analysis> r = analyze(snaps, {}, opts);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(r).value() : Analysis{};
}

TEST(PprofInput, GoHeapProfileMapsSampleTypesByName) {
  const Snapshot s = must_read(go_heap(7), "heap.pb.gz");
  EXPECT_EQ(s.flavour, Flavour::kPprof);
  EXPECT_EQ(s.kind, "heap");
  EXPECT_EQ(s.sampling, 0);  // period 1: every allocation recorded
  EXPECT_EQ(s.program(), "/srv/gateway");
  ASSERT_TRUE(s.time.has_value());
  EXPECT_DOUBLE_EQ(*s.time, 1795777200.0);
  ASSERT_EQ(s.stacks.size(), 2u);
  EXPECT_EQ(s.stacks[0].counts, (Counts{7, 7 * 6144, 9, 9 * 6144}));
  EXPECT_EQ(s.totals, (Counts{8, 7 * 6144 + 4096, 10, 9 * 6144 + 4096}));
  // The Go build id is not an ELF build-id and is not passed on to the symbolizer.
  EXPECT_TRUE(s.build_ids.empty());
}

TEST(PprofInput, SampledGoHeapKeepsItsRateAndRawBytesReadToo) {
  GoProfile g(kGoHeapTypes, 0, 524288);
  g.sample({g.location("main.f", 1)}, {3, 300, 1, 100});
  const Snapshot s = must_read(g, "raw.pb", /*gzip=*/false);
  EXPECT_EQ(s.sampling, 524288);
  // Values are used as written: Go scaled them already.
  EXPECT_EQ(s.totals, (Counts{1, 100, 3, 300}));
}

TEST(PprofInput, DiffNamesTheUserFunctionPastGoAllocationFrames) {
  const Snapshot a = must_read(go_heap(5), "a.pb.gz");
  // Another build: every address moved, the names did not.
  const Snapshot b = must_read(go_heap(55, 0x100000), "b.pb.gz");
  const Analysis r = must_analyze({&a, &b});
  ASSERT_EQ(r.entries.size(), 1u);
  const Entry& e = r.entries[0];
  EXPECT_EQ(e.delta(), (Counts{50, 50 * 6144, 50, 50 * 6144}));
  EXPECT_EQ(e.site.function, "main.newDeviceSession");
  EXPECT_EQ(e.site.file, "/src/gateway/sessions.go");
  EXPECT_EQ(e.site.line, 39);
  EXPECT_EQ(e.site.module, "/srv/gateway");
  EXPECT_EQ(e.folded, 2u);  // runtime.mallocgc, runtime.newobject
  ASSERT_EQ(e.frames.size(), 4u);
  EXPECT_EQ(e.frames[1].function, "main.(*gateway).register");
  EXPECT_TRUE(e.frames[1].inlined);
  EXPECT_EQ(e.frames[2].function, "main.(*gateway).openSession");
  EXPECT_FALSE(e.frames[2].inlined);
}

TEST(PprofInput, GoroutineProfileCountsPerStackAndSkipsBlockingFrames) {
  const Snapshot a = must_read(go_goroutines(5), "g0.pb.gz");
  const Snapshot b = must_read(go_goroutines(55), "g1.pb.gz");
  EXPECT_EQ(a.kind, "goroutine");
  EXPECT_EQ(b.totals.live_objs, 56);
  EXPECT_EQ(b.totals.live_bytes, 0);
  Options opts;
  opts.sort = SortKey::kBytes;  // count profiles rank by their count whatever is asked
  const Analysis r = must_analyze({&a, &b}, opts);
  EXPECT_TRUE(r.counts_only());
  EXPECT_EQ(r.options.sort, SortKey::kObjects);
  EXPECT_EQ(r.growth_objs, 50);
  ASSERT_EQ(r.entries.size(), 1u);
  const Entry& e = r.entries[0];
  EXPECT_EQ(e.delta().live_objs, 50);
  // runtime.gopark and runtime.selectgo are shown, but the site is the user's function.
  EXPECT_EQ(e.site.function, "main.(*deviceSession).waitCommand");
  EXPECT_EQ(e.site_frame, 2u);
  EXPECT_EQ(e.frames[0].function, "runtime.gopark");
  EXPECT_TRUE(growth_exceeds(r, 49));
  EXPECT_FALSE(growth_exceeds(r, 50));
  opts.fail_on_growth = 10;
  const Analysis gated = must_analyze({&a, &b}, opts);
  ASSERT_TRUE(gated.gate.has_value());
  EXPECT_TRUE(gated.gate->exceeded);
  opts.fail_on_growth.reset();

  // --fold extends the skipped frames past the runtime: the helper is not the site either.
  opts.fold = "waitCommand";
  const Analysis folded = must_analyze({&a, &b}, opts);
  ASSERT_EQ(folded.entries.size(), 1u);
  EXPECT_EQ(folded.entries[0].site.function, "main.(*deviceSession).watch");

  // --by function groups by the site's function; the text report speaks of goroutines.
  opts = {};
  opts.by = GroupBy::kFunction;
  const Analysis by_function = must_analyze({&a, &b}, opts);
  ASSERT_EQ(by_function.entries.size(), 1u);
  EXPECT_EQ(by_function.entries[0].key.text(), "main.(*deviceSession).waitCommand");
  std::ostringstream text;
  const ReportContext ctx;
  write_text_report(text, by_function, ctx);
  EXPECT_NE(text.str().find("diff of 2 goroutine profiles"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("6 -> 56 goroutines: +50"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("main.(*deviceSession).waitCommand"), std::string::npos);
  EXPECT_EQ(text.str().find(" B "), std::string::npos) << "no bytes in a goroutine report";
  std::ostringstream json;
  write_json_report(json, by_function, ctx);
  EXPECT_NE(json.str().find("\"kind\": \"goroutine\""), std::string::npos);
}

TEST(PprofInput, TrendOverGoroutineProfilesClassifiesByCount) {
  const Snapshot s1 = must_read(go_goroutines(10), "1.pb.gz");
  const Snapshot s2 = must_read(go_goroutines(20), "2.pb.gz");
  const Snapshot s3 = must_read(go_goroutines(30), "3.pb.gz");
  const Snapshot s4 = must_read(go_goroutines(40), "4.pb.gz");
  const Analysis r = must_analyze({&s1, &s2, &s3, &s4});
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].trend, Trend::kGrowing);
}

TEST(PprofInput, FocusAndIgnoreMatchTheProfilesNames) {
  const Snapshot a = must_read(go_heap(5), "a.pb.gz");
  const Snapshot b = must_read(go_heap(9), "b.pb.gz");
  Options opts;
  opts.ignore = "newDeviceSession";
  EXPECT_TRUE(must_analyze({&a, &b}, opts).entries.empty());
  opts = {};
  opts.focus = "sessions\\.go:39";
  EXPECT_EQ(must_analyze({&a, &b}, opts).entries.size(), 1u);
}

TEST(PprofInput, ProfilesOfDifferentKindsAreNotCompared) {
  const Snapshot heap = must_read(go_heap(5), "heap.pb.gz");
  const Snapshot goroutines = must_read(go_goroutines(5), "goroutine.pb.gz");
  const auto e = check_compatible({&heap, &goroutines});
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->message,
            "heap.pb.gz is a heap profile and goroutine.pb.gz is a goroutine profile; only "
            "profiles of the same kind can be compared");
  // Nor a text snapshot with a goroutine profile.
  const Snapshot text = testing::must_parse(testing::leakprobe_text({}), "a.heap");
  EXPECT_TRUE(check_compatible({&text, &goroutines}).has_value());
}

TEST(PprofInput, OtherProfileTypesAreRefusedByName) {
  GoProfile cpu(std::vector<std::pair<std::string, std::string>>{{"samples", "count"},
                                                                 {"cpu", "nanoseconds"}},
                0, 10000000, {"cpu", "nanoseconds"});
  cpu.sample({cpu.location("main.spin", 3)}, {4, 40000000});
  Result<Snapshot> r = parse_pprof(cpu.gzipped(), "cpu.pb.gz");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "cpu.pb.gz: a pprof profile of samples/count, cpu/nanoseconds: heapdiff compares "
            "heap profiles (inuse_space, alloc_space, ...) and count profiles (one count per "
            "stack, such as goroutine/count)");
}

TEST(PprofInput, BareLocationsKeepTheirAddressForTheSymbolizer) {
  GoProfile g(std::vector<std::pair<std::string, std::string>>{{"inuse_objects", "count"},
                                                               {"inuse_space", "bytes"}});
  g.sample({g.bare_location(0x401234)}, {1, 64});
  const Snapshot s = must_read(g, "bare.pb.gz");
  std::vector<std::pair<std::string, uint64_t>> asked;
  SymbolSource source = [&asked](const symbolize::ModuleRef& m, uint64_t offset) {
    asked.emplace_back(m.path, offset);
    return std::vector<symbolize::Frame>{{"c_function", "c.c", 7, false}};
  };
  Snapshot empty = s;
  empty.stacks.clear();
  empty.totals = {};
  Result<Analysis> r = analyze({&empty, &s}, source, {});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].first, "/srv/gateway");
  EXPECT_EQ(asked[0].second, 0x401234u - 0x400000u);  // file offset of the location itself
  EXPECT_EQ(r.value().entries.at(0).site.function, "c_function");
}

TEST(PprofInput, BadInputGetsAMessage) {
  for (const std::string& bytes :
       {std::string(), std::string("\x0a\xff\xff\xff\xff", 5), std::string("\x1f\x8b\x08", 3)}) {
    Result<Snapshot> r = parse_pprof(bytes, "bad.pb.gz");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message.rfind("bad.pb.gz: ", 0), 0u) << r.error().message;
  }
  GoProfile g(std::vector<std::pair<std::string, std::string>>{{"goroutine", "count"}});
  g.sample({g.location("main.f", 1)}, {1, 2});  // two values, one sample type
  Result<Snapshot> r = parse_pprof(g.gzipped(), "bad.pb.gz");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("invalid pprof profile"), std::string::npos);
}

// Damaged profiles (flipped bytes, cut short) are either read or refused with a message,
// and whatever is read analyses: never a crash. A fixed seed and a bounded loop; the ASan and
// UBSan build (LEAKPROBE_SANITIZE) makes the "never" strict.
TEST(PprofInput, DamagedProfilesAreReadOrRefusedNeverACrash) {
  const std::string raw = go_goroutines(3).profile().SerializeAsString();
  const std::string heap_raw = go_heap(3).profile().SerializeAsString();
  uint64_t state = 0x9e3779b97f4a7c15ULL;
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  size_t read = 0, refused = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string bytes = (i % 2 == 0) ? raw : heap_raw;
    const int flips = 1 + static_cast<int>(next() % 4);
    for (int k = 0; k < flips; ++k) {
      bytes[next() % bytes.size()] = static_cast<char>(next() & 0xff);
    }
    if (i % 5 == 0) bytes.resize(next() % bytes.size());
    Result<Snapshot> r = parse_pprof(bytes, "damaged.pb");
    if (!r.ok()) {
      ++refused;
      EXPECT_EQ(r.error().message.rfind("damaged.pb: ", 0), 0u) << r.error().message;
      continue;
    }
    ++read;
    const Snapshot& s = r.value();
    Result<Analysis> a = analyze({&s, &s}, {}, {});
    EXPECT_TRUE(a.ok());
  }
  EXPECT_GT(refused, 0u);
  EXPECT_GT(read, 0u);
}

TEST(PprofInput, FilesAreReadByContentNotName) {
  char pattern[] = "/tmp/leakprobe-pprof-input-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  const std::filesystem::path dir = pattern;
  auto write = [&dir](const std::string& name, const std::string& bytes) {
    std::ofstream(dir / name, std::ios::binary) << bytes;
    return (dir / name).string();
  };
  const GoProfile g = go_goroutines(3);
  Result<Snapshot> gz = load_input(write("goroutine", g.gzipped()));
  ASSERT_TRUE(gz.ok()) << gz.error().message;
  EXPECT_EQ(gz.value().kind, "goroutine");
  Result<Snapshot> raw = load_input(write("x.heap", g.profile().SerializeAsString()));
  ASSERT_TRUE(raw.ok()) << raw.error().message;
  EXPECT_EQ(raw.value().totals.live_objs, 4);
  // Text stays text, whatever the name says.
  Result<Snapshot> text = load_input(write("a.pb.gz", testing::leakprobe_text({})));
  ASSERT_TRUE(text.ok()) << text.error().message;
  EXPECT_EQ(text.value().flavour, Flavour::kLeakprobe);
  // Blank lines start with pprof's first tag byte ('\n') but are not a profile.
  EXPECT_FALSE(looks_like_pprof("\n\n\n\n"));
  EXPECT_FALSE(looks_like_pprof(std::string(8, '\0')));
  EXPECT_TRUE(looks_like_pprof(g.profile().SerializeAsString()));
  Result<Snapshot> junk = load_input(write("junk", "not a profile\n"));
  ASSERT_FALSE(junk.ok());
  EXPECT_NE(junk.error().message.find("heap profile"), std::string::npos);
  EXPECT_FALSE(load_input((dir / "missing").string()).ok());
  std::filesystem::remove_all(dir);
}

// heapdiff --pprof of a Go diff is a profile of the same kind, with the names the diff showed,
// for go tool pprof; heapdiff itself recognises it as a delta (issue 24 item 4: it was read
// back as a heap) and refuses it, naming what it is.
TEST(PprofInput, ExportOfAGoDiffIsADeltaThatHeapdiffRefuses) {
  for (const bool goroutines : {true, false}) {
    const Snapshot a = must_read(goroutines ? go_goroutines(5) : go_heap(5), "a.pb.gz");
    const Snapshot b = must_read(goroutines ? go_goroutines(55) : go_heap(55), "b.pb.gz");
    Options opts;
    opts.keep_changed_stacks = true;
    const Analysis r = must_analyze({&a, &b}, opts);
    pp::Profile exported;
    build_pprof_profile(r, exported);
    pp::Profile generic;  // what any pprof reader sees
    std::string error;
    ASSERT_TRUE(pp::parse_profile(exported.SerializeAsString(), generic, error)) << error;
    EXPECT_EQ(pp::string_at(generic, generic.sample_type(0).type()),
              goroutines ? "goroutine" : "inuse_objects");
    ASSERT_EQ(generic.sample_size(), 1);
    EXPECT_EQ(generic.sample(0).value(0), 50);
    ASSERT_GE(generic.comment_size(), 1);
    EXPECT_EQ(pp::string_at(generic, generic.comment(0)).rfind(kDeltaProfileComment, 0), 0u);
    bool named = false;
    for (const auto& f : generic.function()) {
      named =
          named || pp::string_at(generic, f.name()) ==
                       (goroutines ? "main.(*deviceSession).waitCommand" : "main.newDeviceSession");
    }
    EXPECT_TRUE(named);

    Result<Snapshot> back = parse_pprof(exported.SerializeAsString(), "export.pb.gz");
    ASSERT_FALSE(back.ok()) << "a delta read as a heap";
    EXPECT_NE(back.error().message.find("export.pb.gz: this is heapdiff's own --pprof output"),
              std::string::npos)
        << back.error().message;
  }
}

// Issue 23 item 6: values that overflow int64 (written as uint64) or are negative are refused,
// and so are values whose sum overflows; they printed as "-9223372036854775807 objects".
TEST(PprofInput, NegativeOrOverflowingValuesAreRefused) {
  {
    GoProfile g(kGoHeapTypes);
    g.sample({g.location("main.main", 1)}, {1, 100, -9223372036854775807LL, 100});
    Result<Snapshot> r = parse_pprof(g.gzipped(), "neg.pb.gz");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("neg.pb.gz: sample 1 has the value -9223372036854775807 for "
                                     "inuse_objects: negative, or over 2^63-1"),
              std::string::npos)
        << r.error().message;
  }
  {
    GoProfile g(kGoHeapTypes);
    const uint64_t loc = g.location("main.main", 1);
    g.sample({loc}, {1, 100, 1, 9223372036854775807LL});
    g.sample({g.location("main.other", 2)}, {1, 100, 1, 9223372036854775807LL});
    Result<Snapshot> r = parse_pprof(g.gzipped(), "sum.pb.gz");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("add up to more than 2^63-1"), std::string::npos)
        << r.error().message;
  }
}

// Issue 23 item 6: --html on one 300k-frame stack crashed (SIGSEGV) in the flame graph's
// recursion over the stack's depth. No writer recurses over depth now.
TEST(PprofInput, WritersTakeAStackOf300kFrames) {
  GoProfile g(kGoHeapTypes);
  std::vector<uint64_t> stack;
  constexpr int kFrames = 300000;
  stack.reserve(kFrames);
  for (int i = 0; i < kFrames; ++i) stack.push_back(g.bare_location(0x402000 + 16 * i));
  g.sample(stack, {1, 64, 1, 64});
  GoProfile empty(kGoHeapTypes);
  empty.bare_location(0x402000);
  const Snapshot a = must_read(empty, "a.pb.gz");
  const Snapshot b = must_read(g, "b.pb.gz");
  Options opts;
  opts.keep_changed_stacks = true;
  const Analysis r = must_analyze({&a, &b}, opts);
  ASSERT_EQ(r.entries.size(), 1u);
  std::ostringstream html, text, json;
  write_html_report(html, r, ReportContext{});
  write_text_report(text, r, ReportContext{});
  write_json_report(json, r, ReportContext{});
  EXPECT_NE(html.str().find("</html>"), std::string::npos);
  pp::Profile exported;
  build_pprof_profile(r, exported);
  EXPECT_EQ(exported.sample(0).location_id_size(), kFrames);
}

TEST(GoFrames, ShortNamesDropTheImportPathOnly) {
  EXPECT_EQ(short_function_name("github.com/eclipse/paho%2emqtt%2egolang.(*router).addRoute"),
            "paho%2emqtt%2egolang.(*router).addRoute");
  EXPECT_EQ(short_function_name("net/http.(*conn).serve"), "http.(*conn).serve");
  EXPECT_EQ(short_function_name("main.(*gateway).openSession.func1"),
            "main.(*gateway).openSession.func1");
  EXPECT_EQ(short_function_name("net/http.(*conn).serve", NameDetail::kWithTemplates),
            "net/http.(*conn).serve");
  // C++ is unchanged by the Go rules.
  EXPECT_EQ(short_function_name("operator/(int)"), "operator/");
  EXPECT_EQ(short_function_name("ns::f(int)"), "ns::f");
}

TEST(GoFrames, PackagesRuntimeAndStandardLibrary) {
  EXPECT_EQ(go_package("main.(*gateway).openSession.func1"), "main");
  EXPECT_EQ(go_package("net/http.(*conn).serve"), "net/http");
  EXPECT_EQ(go_package("github.com/eclipse/paho%2emqtt%2egolang.(*router).addRoute"),
            "github.com/eclipse/paho%2emqtt%2egolang");
  EXPECT_EQ(go_package("main.Map[go.shape.string_0,github.com/x/y.T]"), "main");
  EXPECT_EQ(go_package("malloc"), "");

  for (const char* f : {"runtime.mallocgc", "runtime.newobject", "runtime.makeslice",
                        "runtime.growslice", "runtime.makemap_small", "runtime.makechan",
                        "runtime.concatstring3", "runtime.convTstring", "runtime.mallocgcTiny"}) {
    EXPECT_TRUE(is_go_allocation_function(f)) << f;
  }
  for (const char* f : {"runtime.gopark", "runtime.selectgo", "main.newobject", "mallocgc"}) {
    EXPECT_FALSE(is_go_allocation_function(f)) << f;
  }
  for (const char* f :
       {"runtime.gopark", "runtime.chanrecv1", "runtime.selectgo", "runtime.semacquire1",
        "sync.runtime_SemacquireMutex", "sync.(*WaitGroup).Wait", "internal/poll.(*FD).Read",
        "time.Sleep", "net/http.(*conn).serve", "vendor/golang.org/x/net/http2.f"}) {
    EXPECT_TRUE(is_go_runtime_function(f)) << f;
  }
  // The user's code: package main, module paths with or without a dot.
  for (const char* f : {"main.main", "main.(*deviceSession).watch", "gateway/internal/x.F",
                        "github.com/eclipse/paho%2emqtt%2egolang.incoming", "malloc",
                        "repro::open_device_session"}) {
    EXPECT_FALSE(is_go_runtime_function(f)) << f;
  }
}

}  // namespace
}  // namespace leakprobe::analysis
