#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <memory>
#include <string>

#include "options.h"

using leakprobe::Options;
using leakprobe::parse_settings;
using leakprobe::Settings;

namespace {
// A signal spec as the probe reads it (settings::parse_signal_spec): the signal, 0 for none,
// -1 if unparseable, -2 if refused.
int parse_signal(const char* spec) {
  int sig = 0;
  switch (leakprobe::settings::parse_signal_spec(spec, &sig)) {
    case leakprobe::settings::Verdict::kOk:
      return sig;
    case leakprobe::settings::Verdict::kMalformed:
      return -1;
    case leakprobe::settings::Verdict::kRefused:
      return -2;
  }
  return -1;
}

std::unique_ptr<Settings> parse(std::initializer_list<const char*> vars) {
  std::vector<const char*> env(vars);
  env.push_back(nullptr);
  auto o = std::make_unique<Settings>();
  parse_settings(env.data(), "/start/dir", o.get());
  return o;
}
}  // namespace

TEST(Options, DefaultsWhenNothingIsSet) {
  auto o = parse({"PATH=/bin", "HOME=/root"});
  EXPECT_TRUE(o->tracker.enabled);
  EXPECT_STREQ(o->writer.output_dir, "/start/dir");
  EXPECT_EQ(o->writer.signal, SIGRTMIN + 7);
  EXPECT_EQ(o->writer.interval_ms, 0u);
  EXPECT_EQ(o->tracker.depth, 32);
  EXPECT_EQ(o->tracker.sample_bytes, 0u);
  EXPECT_TRUE(o->writer.at_exit);
  EXPECT_FALSE(o->quiet);
  EXPECT_TRUE(o->writer.control_socket);
  EXPECT_EQ(o->tracker.max_stacks, size_t{1} << 18);
  EXPECT_STREQ(o->warnings, "");
}

TEST(Options, GoodValues) {
  auto o = parse({"LEAKPROBE_OUTPUT_DIR=/var/tmp/x", "LEAKPROBE_SIGNAL=SIGRTMIN+3",
                  "LEAKPROBE_INTERVAL=60", "LEAKPROBE_DEPTH=128", "LEAKPROBE_SAMPLE_BYTES=524288",
                  "LEAKPROBE_AT_EXIT=0", "LEAKPROBE_QUIET=1", "LEAKPROBE_ENABLED=0",
                  "LEAKPROBE_CONTROL=0", "LEAKPROBE_MAX_STACKS=4096"});
  EXPECT_STREQ(o->writer.output_dir, "/var/tmp/x");
  EXPECT_EQ(o->writer.signal, SIGRTMIN + 3);
  EXPECT_EQ(o->writer.interval_ms, 60000u);
  EXPECT_EQ(o->tracker.depth, 128);
  EXPECT_EQ(o->tracker.sample_bytes, 524288u);
  EXPECT_FALSE(o->writer.at_exit);
  EXPECT_TRUE(o->quiet);
  EXPECT_FALSE(o->tracker.enabled);
  EXPECT_FALSE(o->writer.control_socket);
  EXPECT_EQ(o->tracker.max_stacks, 4096u);
  EXPECT_STREQ(o->warnings, "");
}

TEST(Options, RelativeOutputDirIsMadeAbsoluteAgainstTheStartDirectory) {
  auto o = parse({"LEAKPROBE_OUTPUT_DIR=snaps"});
  EXPECT_STREQ(o->writer.output_dir, "/start/dir/snaps");
}

TEST(Options, BadValuesFallBackWithOneLineEachNamingTheVariableAndDefault) {
  auto o = parse({"LEAKPROBE_DEPTH=abc", "LEAKPROBE_SIGNAL=SIGUSR1", "LEAKPROBE_INTERVAL=-3",
                  "LEAKPROBE_SAMPLE_BYTES=1x", "LEAKPROBE_AT_EXIT=maybe", "LEAKPROBE_DEPTH2=1",
                  "LEAKPROBE_OUTPUT_DIR="});
  EXPECT_EQ(o->tracker.depth, 32);
  EXPECT_EQ(o->writer.signal, SIGRTMIN + 7);
  EXPECT_EQ(o->writer.interval_ms, 0u);
  EXPECT_EQ(o->tracker.sample_bytes, 0u);
  EXPECT_TRUE(o->writer.at_exit);
  EXPECT_STREQ(o->writer.output_dir, "/start/dir");
  std::string w = o->warnings;
  EXPECT_NE(w.find("LEAKPROBE_DEPTH=abc is not a depth in 1..128; using 32\n"), std::string::npos)
      << w;
  EXPECT_NE(w.find("LEAKPROBE_SIGNAL=SIGUSR1 is refused"), std::string::npos) << w;
  EXPECT_NE(w.find("LEAKPROBE_INTERVAL=-3 is not a number of seconds in 0..31536000 (up to 3 "
                   "decimals); using 0 (off)\n"),
            std::string::npos)
      << w;
  EXPECT_NE(w.find("LEAKPROBE_SAMPLE_BYTES=1x"), std::string::npos);
  EXPECT_NE(w.find("LEAKPROBE_AT_EXIT=maybe"), std::string::npos);
  EXPECT_NE(w.find("LEAKPROBE_DEPTH2 is not a leakprobe setting"), std::string::npos);
  EXPECT_NE(w.find("LEAKPROBE_OUTPUT_DIR= is empty"), std::string::npos);
  EXPECT_EQ(std::count(w.begin(), w.end(), '\n'), 7);
}

// One size syntax in every tool (leakprobe/byte_size.h): what heapdiff takes, the probe takes.
TEST(Options, SampleBytesTakesSizesWithUnits) {
  EXPECT_EQ(parse({"LEAKPROBE_SAMPLE_BYTES=512K"})->tracker.sample_bytes, 524288u);
  EXPECT_EQ(parse({"LEAKPROBE_SAMPLE_BYTES=1MiB"})->tracker.sample_bytes, 1048576u);
  EXPECT_EQ(parse({"LEAKPROBE_SAMPLE_BYTES=64k"})->tracker.sample_bytes, 65536u);
  EXPECT_EQ(parse({"LEAKPROBE_SAMPLE_BYTES=1T"})->tracker.sample_bytes, uint64_t{1} << 40);
  EXPECT_EQ(parse({"LEAKPROBE_SAMPLE_BYTES=2T"})->tracker.sample_bytes, 0u);
}

TEST(Options, DepthBounds) {
  EXPECT_EQ(parse({"LEAKPROBE_DEPTH=0"})->tracker.depth, 32);
  EXPECT_EQ(parse({"LEAKPROBE_DEPTH=129"})->tracker.depth, 32);
  EXPECT_EQ(parse({"LEAKPROBE_DEPTH=1"})->tracker.depth, 1);
}

TEST(Options, SignalSpecs) {
  EXPECT_EQ(parse_signal("SIGRTMIN+7"), SIGRTMIN + 7);
  EXPECT_EQ(parse_signal("RTMIN+7"), SIGRTMIN + 7);
  EXPECT_EQ(parse_signal("SIGRTMAX-1"), SIGRTMAX - 1);
  EXPECT_EQ(parse_signal(std::to_string(SIGRTMIN + 2).c_str()), SIGRTMIN + 2);
  EXPECT_EQ(parse_signal("0"), 0);
  EXPECT_EQ(parse_signal("off"), 0);
  for (const char* refused : {"SIGHUP", "SIGUSR1", "SIGUSR2", "SIGKILL", "SIGSTOP", "SIGSEGV",
                              "USR1", "1", "9", "10", "12", "19"}) {
    EXPECT_EQ(parse_signal(refused), -2) << refused;
  }
  for (const char* bad : {"", "SIGRTMIN+", "SIGRTMIN+99", "banana", "SIGRTMAX+1", "-5"}) {
    EXPECT_EQ(parse_signal(bad), -1) << bad;
  }
}

TEST(Options, VerifyUnwindIsOffByDefaultAndCanBeTurnedOn) {
  EXPECT_FALSE(parse({})->tracker.verify_unwind);
  EXPECT_FALSE(parse({"LEAKPROBE_VERIFY_UNWIND=0"})->tracker.verify_unwind);
  EXPECT_TRUE(parse({"LEAKPROBE_VERIFY_UNWIND=1"})->tracker.verify_unwind);
  auto bad = parse({"LEAKPROBE_VERIFY_UNWIND=maybe"});
  EXPECT_FALSE(bad->tracker.verify_unwind);
  EXPECT_NE(std::string(bad->warnings).find("LEAKPROBE_VERIFY_UNWIND=maybe is not 0 or 1"),
            std::string::npos)
      << bad->warnings;
}

// `leakprobe run --interval 1.5` was accepted by the CLI and then refused here.
TEST(Options, IntervalAcceptsFractionsOfASecond) {
  EXPECT_EQ(parse({"LEAKPROBE_INTERVAL=1.5"})->writer.interval_ms, 1500u);
  EXPECT_EQ(parse({"LEAKPROBE_INTERVAL=0.25"})->writer.interval_ms, 250u);
  EXPECT_EQ(parse({"LEAKPROBE_INTERVAL=.5"})->writer.interval_ms, 500u);
  EXPECT_EQ(parse({"LEAKPROBE_INTERVAL=2.125"})->writer.interval_ms, 2125u);
  EXPECT_EQ(parse({"LEAKPROBE_INTERVAL=31536000"})->writer.interval_ms, 31536000000u);
  for (const char* bad : {"1.", "1.2345", "1,5", "1e3", "+1", " 1", "1.5s", "31536000.001", ""}) {
    auto o = parse({(std::string("LEAKPROBE_INTERVAL=") + bad).c_str()});
    EXPECT_EQ(o->writer.interval_ms, 0u) << bad;
    EXPECT_NE(std::string(o->warnings).find("is not a number of seconds"), std::string::npos)
        << bad << ": " << o->warnings;
  }
}

TEST(Options, DefaultsComeFromTheSettingsTable) {
  namespace s = leakprobe::settings;
  Options plain;
  EXPECT_EQ(plain.depth, static_cast<int>(s::setting(s::kDepth).default_value));
  EXPECT_EQ(plain.max_stacks, s::setting(s::kMaxStacks).default_value);
  auto o = parse({});
  EXPECT_EQ(o->writer.signal, SIGRTMIN + 7);  // parsed from the row's default_text
}

TEST(Options, CliOnlyVariablesAreNotReportedAsTypos) {
  // `leakprobe run` reads LEAKPROBE_LIBRARY and leaves it in the program's environment.
  auto o = parse({"LEAKPROBE_LIBRARY=/usr/lib/x/libleakprobe.so"});
  EXPECT_STREQ(o->warnings, "");
}

// LEAKPROBE_MAX_STACKS at its maximum let the probe's tables outgrow the machine (5.5 GB in
// 30 s): the range is tied to memory, an eighth of it at most.
TEST(Options, MaxStacksIsCutToAnEighthOfMemoryWithOneLine) {
  const uint64_t gib = uint64_t{1} << 30;
  auto o = parse({"LEAKPROBE_MAX_STACKS=67108864"});
  o->warnings[0] = '\0';  // whatever this machine said; judged below on a 1 GiB machine
  o->tracker.max_stacks = size_t{1} << 26;
  leakprobe::fit_max_stacks(o.get(), gib);
  const uint64_t per = leakprobe::stack_bytes(o->tracker.depth);
  EXPECT_GE(per, 128u + 8 * 32) << "a bucket alone is two lines plus 32 frames";
  EXPECT_EQ(o->tracker.max_stacks, gib / 8 / per);
  EXPECT_LE(o->tracker.max_stacks * per, gib / 8);
  const std::string w = o->warnings;
  EXPECT_EQ(std::count(w.begin(), w.end(), '\n'), 1) << w;
  EXPECT_NE(w.find("LEAKPROBE_MAX_STACKS=67108864 would let the stack table grow to"),
            std::string::npos)
      << w;
  EXPECT_NE(w.find("this machine's 1024 MiB"), std::string::npos) << w;

  // The default fits a 1 GiB machine as it is; unknown memory leaves any value alone; a tiny
  // machine still gets the setting's minimum.
  auto d = parse({});
  d->warnings[0] = '\0';
  d->tracker.max_stacks = size_t{1} << 18;
  leakprobe::fit_max_stacks(d.get(), gib);
  EXPECT_EQ(d->tracker.max_stacks, size_t{1} << 18);
  EXPECT_STREQ(d->warnings, "");
  d->tracker.max_stacks = size_t{1} << 26;
  leakprobe::fit_max_stacks(d.get(), 0);
  EXPECT_EQ(d->tracker.max_stacks, size_t{1} << 26);
  leakprobe::fit_max_stacks(d.get(), 1 << 20);
  EXPECT_EQ(d->tracker.max_stacks, 1024u);
}
