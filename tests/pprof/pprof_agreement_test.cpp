// heapdiff --json and `go tool pprof -top` read the same files and must tell the same story:
// the same inuse_space total for one snapshot (B) and for the difference B - A, and the same
// top function. Inputs come from heap_phases (heap_phases.c, whose numbers are known by
// construction) run under gperftools and under libleakprobe. A last test checks that pprof
// accepts a leakprobe snapshot and reports the total written in its header.
//
// What "total" means: pprof's report total is the sum of the absolute values of the samples
// (google/pprof internal/report computeTotal). For one snapshot that is its inuse_space. With
// -base, the base is merged in negated, so the total is the sum over call stacks of
// |Δ inuse_space| (a stack freed in B and a new one allocated in B both count), not the net
// change. heapdiff's counterpart is the sum of |delta_live_bytes| over its `--by stack` entries
// (unchanged stacks contribute 0 to both); the net change is checked separately against
// inputs[1] - inputs[0].
//
// Tolerance: pprof prints sizes scaled to B/kB/MB/GB (powers of 1024) with two decimals, e.g.
// "117.19kB"; a printed value v with unit u stands for bytes in [v - 0.005u, v + 0.005u]. That
// rounding is the only tolerance used; heapdiff's JSON numbers are exact bytes.
//
// pprof symbolizes the local binary itself (binutils addr2line/nm, from the paths in
// MAPPED_LIBRARIES), which is what gives it the function names compared here.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Command {
  int status = -1;  // exit status, or -1 if it did not exit normally
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

class PprofAgreement : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/leakprobe-pprof-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    tmp_ = pattern;
    // pprof writes ~/pprof and go wants a cache: keep both inside the test's directory.
    fs::create_directories(tmp_ / "home");
    env_ = "HOME=" + quote((tmp_ / "home").string()) +
           " GOPATH=" + quote((tmp_ / "home/go").string()) +
           " GOCACHE=" + quote((tmp_ / "home/cache").string()) +
           " PPROF_TMPDIR=" + quote((tmp_ / "home/pprof").string()) + " ";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(tmp_, ec);
  }

  // Runs `command` through the shell with the test's environment, bounded by `timeout`.
  Command run(const std::string& command) {
    const fs::path out = tmp_ / "stdout", err = tmp_ / "stderr";
    std::string line = "cd " + quote(tmp_.string()) + " && " + env_ + "timeout 120 " + command +
                       " >" + quote(out.string()) + " 2>" + quote(err.string());
    int raw = std::system(line.c_str());
    Command c;
    c.status = (raw != -1 && WIFEXITED(raw)) ? WEXITSTATUS(raw) : -1;
    c.out = slurp(out);
    c.err = slurp(err);
    return c;
  }

  fs::path tmp_;
  std::string env_;
};

// One number from pprof's output, in bytes, with the half-unit its rounding may hide.
struct PprofBytes {
  double bytes = 0;
  double tolerance = 0;
};

PprofBytes parse_pprof_bytes(const std::string& text) {
  static const std::regex re(R"((-?[0-9.]+)([kMGTP]?B)?)");
  std::smatch m;
  if (!std::regex_match(text, m, re)) {
    ADD_FAILURE() << "not a pprof size: '" << text << "'";
    return {};
  }
  double value = std::stod(m[1].str());
  double unit = 1;
  const std::string suffix = m[2].str();
  const std::string prefixes = "kMGTP";
  if (suffix.size() == 2) unit = std::pow(1024.0, prefixes.find(suffix[0]) + 1);
  // "0" is printed exactly; anything else with two decimals of its unit.
  return {value * unit, value == 0 ? 0.0 : 0.005 * unit};
}

struct PprofTop {
  PprofBytes total;
  std::string top_function;  // first row (largest flat), empty if no row has flat > 0
};

PprofTop parse_pprof_top(const std::string& out) {
  PprofTop top;
  static const std::regex total_re(R"(Showing nodes accounting for \S+, \S+ of (\S+) total)");
  static const std::regex row_re(R"(^\s*(\S+)\s+\S+%\s+\S+%\s+\S+\s+\S+%\s+(.+)$)");
  std::istringstream in(out);
  std::string line;
  bool rows = false;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_search(line, m, total_re)) {
      top.total = parse_pprof_bytes(m[1].str());
    } else if (line.find("flat%") != std::string::npos) {
      rows = true;
    } else if (rows && std::regex_match(line, m, row_re)) {
      if (parse_pprof_bytes(m[1].str()).bytes > 0) top.top_function = m[2].str();
      break;
    }
  }
  return top;
}

// pprof's view of B alone is a diff against nothing: the same file (same program, maps and
// metadata) with no stack lines and a zero header. heapdiff only diffs, so this is how it is
// asked the same question.
fs::path write_empty_baseline(const fs::path& snapshot, const fs::path& out) {
  std::istringstream in(slurp(snapshot));
  std::ofstream o(out);
  static const std::regex stack_line(R"(^\s*[0-9]+:\s*[0-9]+\s*\[.*)");
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    if (first) {
      o << line.substr(0, line.find(':')) << ":     0:        0 [     0:        0] @ "
        << line.substr(line.rfind("@ ") + 2) << "\n";
      first = false;
    } else if (line.rfind("# leakprobe.stacks:", 0) == 0) {
      o << "# leakprobe.stacks: 0\n";
    } else if (!std::regex_match(line, stack_line) &&
               line.rfind("# leakprobe.age-stack:", 0) != 0) {  // it describes a stack line
      o << line << "\n";
    }
  }
  return out;
}

[[maybe_unused]] int64_t header_live_bytes(const fs::path& snapshot) {
  std::istringstream in(slurp(snapshot));
  std::string line;
  std::getline(in, line);
  static const std::regex re(R"(^heap profile:\s*[0-9]+:\s*([0-9]+)\s*\[)");
  std::smatch m;
  if (!std::regex_search(line, m, re)) {
    ADD_FAILURE() << "bad header in " << snapshot << ": " << line;
    return -1;
  }
  return std::stoll(m[1].str());
}

// Published snapshot files in `dir`, sorted by name (= by sequence).
[[maybe_unused]] std::vector<fs::path> snapshots_in(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name[0] != '.' && e.path().extension() == ".heap") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class Agreement : public PprofAgreement {
 protected:
  PprofTop pprof_top(const std::string& args) {
    Command c = run("go tool pprof -top -sample_index=inuse_space " + args);
    EXPECT_EQ(c.status, 0) << c.err;
    return parse_pprof_top(c.out);
  }
  json heapdiff(const fs::path& a, const fs::path& b, const std::string& by) {
    Command c = run(quote(HEAPDIFF) + " --json --top 0 --by " + by + " " + quote(a.string()) + " " +
                    quote(b.string()));
    EXPECT_EQ(c.status, 0) << c.err;
    try {
      return json::parse(c.out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "heapdiff --json gave no JSON: " << e.what() << "\n" << c.out << c.err;
      return json::object();
    }
  }

  // Σ |delta_live_bytes| over the entries, and Σ delta_live_bytes.
  static std::pair<int64_t, int64_t> sums(const json& report) {
    int64_t abs_sum = 0, net = 0;
    for (const json& e : report["entries"]) {
      const int64_t d = e["delta_live_bytes"].get<int64_t>();
      abs_sum += d < 0 ? -d : d;
      net += d;
    }
    return {abs_sum, net};
  }

  // The whole comparison, on two snapshots A and B of heap_phases.
  void expect_agreement(const fs::path& a, const fs::path& b) {
    SCOPED_TRACE(a.string() + " -> " + b.string());
    // B alone.
    const fs::path empty = write_empty_baseline(b, tmp_ / "empty.heap");
    PprofTop p_b = pprof_top(quote(b.string()));
    json h_b = heapdiff(empty, b, "stack");
    ASSERT_TRUE(h_b.contains("entries")) << h_b.dump();
    const int64_t h_b_total = h_b["inputs"][1]["live_bytes"].get<int64_t>();
    EXPECT_EQ(sums(h_b).second, h_b_total);
    EXPECT_EQ(h_b["totals"]["delta_live_bytes"].get<int64_t>(), h_b_total);
    EXPECT_NEAR(p_b.total.bytes, static_cast<double>(h_b_total), p_b.total.tolerance)
        << "pprof total of B vs heapdiff";
    json h_b_functions = heapdiff(empty, b, "function");
    ASSERT_FALSE(h_b_functions["entries"].empty());
    EXPECT_EQ(p_b.top_function, h_b_functions["entries"][0]["site"]["function"].get<std::string>());
    // What heap_phases is known to leave live by the end of phase B.
    EXPECT_EQ(p_b.top_function, "small_blocks");
    EXPECT_GE(h_b_total, 220000);

    // B - A.
    PprofTop p_d = pprof_top("-base " + quote(a.string()) + " " + quote(b.string()));
    json h_d = heapdiff(a, b, "stack");
    ASSERT_TRUE(h_d.contains("entries")) << h_d.dump();
    const auto [abs_sum, net] = sums(h_d);
    EXPECT_NEAR(p_d.total.bytes, static_cast<double>(abs_sum), p_d.total.tolerance)
        << "pprof total of B - A vs heapdiff's sum of |Δ| per stack";
    EXPECT_EQ(net, h_d["totals"]["delta_live_bytes"].get<int64_t>());
    EXPECT_EQ(net, h_d["inputs"][1]["live_bytes"].get<int64_t>() -
                       h_d["inputs"][0]["live_bytes"].get<int64_t>());
    json h_d_functions = heapdiff(a, b, "function");
    ASSERT_FALSE(h_d_functions["entries"].empty());
    EXPECT_EQ(p_d.top_function, h_d_functions["entries"][0]["site"]["function"].get<std::string>());
    EXPECT_EQ(p_d.top_function, "big_blocks");
    EXPECT_EQ(h_d_functions["entries"][0]["delta_live_bytes"].get<int64_t>(), 20 * 4000);
  }
};

TEST_F(Agreement, GperftoolsDumps) {
  Command c = run("env LD_PRELOAD=libtcmalloc.so.4 HEAPPROFILE=" + quote((tmp_ / "prof").string()) +
                  " " + quote(HEAP_PHASES));
  ASSERT_EQ(c.status, 0) << c.err;
  ASSERT_TRUE(fs::exists(tmp_ / "prof.0001.heap")) << c.err;
  ASSERT_TRUE(fs::exists(tmp_ / "prof.0002.heap")) << c.err;
  expect_agreement(tmp_ / "prof.0001.heap", tmp_ / "prof.0002.heap");
}

// A heap profile written by another tool: pprof's own proto conversion of the gperftools
// dumps (symbolized by pprof, so the frames carry their names). heapdiff must read the pair
// and tell the same story as from the text dumps: same sites, same deltas.
TEST_F(Agreement, GperftoolsDumpsConvertedByPprofReadTheSame) {
  Command c = run("env LD_PRELOAD=libtcmalloc.so.4 HEAPPROFILE=" + quote((tmp_ / "prof").string()) +
                  " " + quote(HEAP_PHASES));
  ASSERT_EQ(c.status, 0) << c.err;
  for (const char* n : {"0001", "0002"}) {
    const fs::path heap = tmp_ / ("prof." + std::string(n) + ".heap");
    ASSERT_TRUE(fs::exists(heap)) << c.err;
    Command conv = run("go tool pprof -proto -output " +
                       quote((tmp_ / ("prof." + std::string(n) + ".pb.gz")).string()) + " " +
                       quote(heap.string()));
    ASSERT_EQ(conv.status, 0) << conv.err;
  }
  const json text = heapdiff(tmp_ / "prof.0001.heap", tmp_ / "prof.0002.heap", "function");
  const json proto = heapdiff(tmp_ / "prof.0001.pb.gz", tmp_ / "prof.0002.pb.gz", "function");
  ASSERT_TRUE(proto.contains("entries")) << proto.dump();
  EXPECT_EQ(proto["kind"], "heap");
  EXPECT_EQ(proto["inputs"][0]["flavour"], "pprof");
  EXPECT_EQ(proto["totals"]["delta_live_bytes"], text["totals"]["delta_live_bytes"]);
  EXPECT_EQ(proto["totals"]["delta_live_objects"], text["totals"]["delta_live_objects"]);
  ASSERT_FALSE(text["entries"].empty());
  ASSERT_EQ(proto["entries"].size(), text["entries"].size());
  EXPECT_EQ(proto["entries"][0]["site"]["function"], "big_blocks");
  for (size_t i = 0; i < text["entries"].size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(proto["entries"][i]["site"]["function"], text["entries"][i]["site"]["function"]);
    EXPECT_EQ(proto["entries"][i]["delta_live_bytes"], text["entries"][i]["delta_live_bytes"]);
    EXPECT_EQ(proto["entries"][i]["delta_live_objects"], text["entries"][i]["delta_live_objects"]);
  }
}

#ifdef LEAKPROBE_PRELOAD
class LeakprobeSnapshots : public Agreement {
 protected:
  // Runs heap_phases under the probe; returns its snapshots (phase A, phase B, at exit).
  std::vector<fs::path> record() {
    fs::create_directories(tmp_ / "snaps");
    Command c = run("env LD_PRELOAD=" + quote(LEAKPROBE_PRELOAD) + " LEAKPROBE_OUTPUT_DIR=" +
                    quote((tmp_ / "snaps").string()) + " " + quote(HEAP_PHASES));
    EXPECT_EQ(c.status, 0) << c.err;
    std::vector<fs::path> snaps = snapshots_in(tmp_ / "snaps");
    EXPECT_GE(snaps.size(), 2u) << c.err;
    return snaps;
  }
};

TEST_F(LeakprobeSnapshots, AgreeWithPprof) {
  std::vector<fs::path> snaps = record();
  ASSERT_GE(snaps.size(), 2u);
  // Snapshot B carries a resource section (heap_phases' socket pairs): pprof skips it, and
  // the agreement below covers files that have one.
  std::ifstream in(snaps[1]);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("# leakprobe.section: unix\n"), std::string::npos);
  // ... and an age line after each heap stack line (the age of live memory), which pprof
  // must skip too.
  EXPECT_NE(text.find("# leakprobe.age: buckets="), std::string::npos);
  const size_t age = text.find("\n# leakprobe.age-stack: ");
  ASSERT_NE(age, std::string::npos);
  const size_t line = text.rfind('\n', age - 1);
  EXPECT_NE(text.substr(line + 1, age - line - 1).find("] @ 0x"), std::string::npos)
      << "the age line follows a stack line";
  expect_agreement(snaps[0], snaps[1]);
  json resources = heapdiff(snaps[0], snaps[1], "function")["resources"];
  ASSERT_EQ(resources.size(), 1u) << resources.dump();
  EXPECT_EQ(resources[0]["kind"], "unix");
  EXPECT_EQ(resources[0]["delta_count"], 6);
  EXPECT_EQ(resources[0]["site"]["function"], "pairs");
}

TEST_F(LeakprobeSnapshots, PprofAcceptsSnapshotWithHeaderTotal) {
  std::vector<fs::path> snaps = record();
  ASSERT_GE(snaps.size(), 2u);
  for (const fs::path& snap : snaps) {
    SCOPED_TRACE(snap.string());
    Command c = run("go tool pprof -top -sample_index=inuse_space " + quote(snap.string()));
    ASSERT_EQ(c.status, 0) << c.err;
    PprofTop top = parse_pprof_top(c.out);
    EXPECT_NEAR(top.total.bytes, static_cast<double>(header_live_bytes(snap)), top.total.tolerance);
  }
}
#endif

}  // namespace
