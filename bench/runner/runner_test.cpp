// The parts of the benchmark whose mistakes would silently misreport: the RESULT line
// round trip, the statistics, and the goal verdicts written into docs/performance.md.
#include <gtest/gtest.h>

#include "attach_step.h"
#include "bench/result_line.h"
#include "configs.h"
#include "report.h"
#include "results.h"

namespace bench {
namespace {

TEST(ResultLine, ParsesWhatIsPrinted) {
  auto r = parse_result_line("RESULT alloc threads=2 pairs=4000000 ns_per_pair=170.099");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->workload, "alloc");
  EXPECT_DOUBLE_EQ(*r->number("ns_per_pair"), 170.099);
  EXPECT_DOUBLE_EQ(*r->number("pairs"), 4000000);
  EXPECT_FALSE(r->number("missing"));
}

TEST(ResultLine, RejectsOtherLinesAndMalformedFields) {
  EXPECT_FALSE(parse_result_line("Heaptrack finished! Now run the following"));
  EXPECT_FALSE(parse_result_line("RESULT"));
  EXPECT_FALSE(parse_result_line("RESULT alloc novalue"));
  auto r = parse_result_line("RESULT alloc ns_per_pair=12abc");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->number("ns_per_pair"));  // not a number: never read as 12
}

TEST(Summarize, MedianMinMax) {
  EXPECT_FALSE(summarize({}));
  auto odd = summarize({5, 1, 3});
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->median, 3);
  EXPECT_EQ(odd->min, 1);
  EXPECT_EQ(odd->max, 5);
  EXPECT_EQ(odd->n, 3u);
  EXPECT_EQ(summarize({4, 1, 3, 2})->median, 2.5);
}

Results with_configs() {
  Results r;
  r.mode = "test";
  r.reps = 3;
  for (const char* name :
       {"none", "lp-exact", "lp-sampled", "lp-dormant", "heaptrack", "gperftools"}) {
    Config c;
    c.name = name;
    c.description = name;
    r.configs.push_back(c);
  }
  return r;
}

// The goals row for `what`, as rendered.
std::string goal_row(const std::string& md, const std::string& what) {
  const auto at = md.find("| " + what + " |");
  if (at == std::string::npos) return "";
  return md.substr(at, md.find('\n', at) - at);
}

TEST(Report, BrokerRowsNameTheirPhases) {
  EXPECT_EQ(broker_row("fanout", "all"), "fanout");
  EXPECT_EQ(broker_row("twopub", "qos1"), "twopub-qos1");
  std::vector<std::string> names;
  for (const auto& w : broker_workloads("full")) names.push_back(w.name);
  EXPECT_EQ(names, (std::vector<std::string>{"twopub", "fanout", "churn", "retained"}));
}

TEST(Report, RatiosOfMediansDecideTheGoalsPerWorkload) {
  Results r = with_configs();
  r.broker_rows = {"fanout", "churn"};
  r.series["fanout:cpu_us_per_msg"]["none"] = {10, 11, 9};        // median 10
  r.series["fanout:cpu_us_per_msg"]["lp-exact"] = {12, 30, 11};   // median 12: 1.2x
  r.series["fanout:cpu_us_per_msg"]["heaptrack"] = {20, 20, 20};  // 2x
  r.series["fanout:cpu_us_per_msg"]["lp-sampled"] = {10.6, 10.6, 10.6};
  r.series["churn:cpu_us_per_msg"]["none"] = {100};
  r.series["churn:cpu_us_per_msg"]["lp-exact"] = {125};   // within 1.25x ...
  r.series["churn:cpu_us_per_msg"]["heaptrack"] = {120};  // ... but not below heaptrack
  r.series["fanout:msgs_per_s"]["none"] = {1000, 1100, 900};
  r.series["fanout:msgs_per_s"]["lp-exact"] = {950, 10, 920};  // median 920: 0.92x
  r.series["ns_per_pair"]["none"] = {100, 100, 100};
  r.series["ns_per_pair"]["lp-exact"] = {350, 350, 350};  // 3.5x
  const std::string md = render_markdown(r);
  const std::string cpu = goal_row(md, "broker CPU per delivered message, fanout");
  EXPECT_NE(cpu.find("| 1.20×: met (heaptrack 2.00×) |"), std::string::npos) << cpu;
  EXPECT_NE(cpu.find("| 1.06×: missed by 0.01× (0.95% over) |"), std::string::npos) << cpu;
  EXPECT_NE(cpu.find("| not measured |"), std::string::npos) << cpu;  // no dormant run
  const std::string churn = goal_row(md, "broker CPU per delivered message, churn");
  EXPECT_NE(churn.find("1.25×: not below heaptrack (1.20×)"), std::string::npos) << churn;
  EXPECT_NE(goal_row(md, "broker throughput, fanout").find("| 0.92×: met |"), std::string::npos)
      << goal_row(md, "broker throughput, fanout");
  const std::string alloc = goal_row(md, "alloc loop");
  EXPECT_NE(alloc.find("3.50×: missed by 1× (40.0% over)"), std::string::npos) << alloc;
}

TEST(Report, ProfileSharesAreParsedAndShownBesideTheRatiosAndGoals) {
  Results r = with_configs();
  std::string error;
  ASSERT_TRUE(parse_profile_shares(
      "# workload config percent\nalloc-small lp-exact 48.5\nalloc-small lp-dormant 2\n"
      "fanout lp-exact 11.0\ntwopub lp-exact 13.25\n\n",
      &r.probe_share, &error))
      << error;
  r.broker_workloads = {BrokerWorkload{}};
  r.broker_workloads[0].name = "twopub";
  r.broker_rows = {"twopub-qos0"};
  r.series["twopub-qos0:cpu_us_per_msg"]["none"] = {10};
  r.series["twopub-qos0:cpu_us_per_msg"]["lp-exact"] = {12};
  r.series["ns_per_pair"]["none"] = {100};
  r.series["small_cpu_ns_per_pair"]["none"] = {100};
  r.series["small_cpu_ns_per_pair"]["lp-exact"] = {200};
  const std::string md = render_markdown(r);
  const std::string tight = goal_row(md, "probe's share of the tight loop's samples (perf record)");
  EXPECT_NE(tight.find("| 48.5% (alloc-small): met |"), std::string::npos) << tight;
  EXPECT_NE(tight.find("| 2% (alloc-small): missed by 0.50 points |"), std::string::npos) << tight;
  EXPECT_NE(tight.find("| not measured |"), std::string::npos) << tight;  // sampled
  const std::string broker =
      goal_row(md, "probe's share of the broker's samples, fanout and twopub");
  EXPECT_NE(broker.find("11% (fanout), 13.2% (twopub): missed by 1.25 points"), std::string::npos)
      << broker;
  // Beside the ratios: the broker matrix cell and the tight loop's table row.
  EXPECT_NE(md.find("| lp-exact | 1.20× · probe 13.2% (12 µs) |"), std::string::npos) << md;
  EXPECT_NE(md.find("2.00× · probe 48.5% |"), std::string::npos);
}

TEST(Report, MalformedProfileSharesAreRefusedWithTheLine) {
  std::map<std::string, std::map<std::string, double>> shares;
  std::string error;
  EXPECT_FALSE(parse_profile_shares("alloc lp-exact\n", &shares, &error));
  EXPECT_NE(error.find("line 1"), std::string::npos) << error;
  EXPECT_FALSE(parse_profile_shares("alloc lp-exact 12%\n", &shares, &error));
  EXPECT_FALSE(parse_profile_shares("alloc lp-exact 101\n", &shares, &error));
  EXPECT_FALSE(parse_profile_shares("alloc lp-exact 5 extra\n", &shares, &error));
  EXPECT_NE(error.find("5 extra"), std::string::npos) << error;
}

TEST(Report, BeatingTheRivalsIsCheckedPerRowAndDirection) {
  Results r = with_configs();
  r.broker_rows = {"fanout"};
  r.series["ns_per_pair"]["lp-exact"] = {300};
  r.series["ns_per_pair"]["heaptrack"] = {1000};
  r.series["ns_per_pair"]["gperftools"] = {20000};
  r.series["fanout:msgs_per_s"]["lp-exact"] = {500};
  r.series["fanout:msgs_per_s"]["heaptrack"] = {600};  // heaptrack wins this row
  const std::string md = render_markdown(r);
  const std::string row = goal_row(md, "beat heaptrack and gperftools on every row, lp-exact");
  EXPECT_NE(row.find("2/3 won"), std::string::npos) << row;
  EXPECT_NE(row.find("fanout:msgs_per_s vs heaptrack"), std::string::npos) << row;
}

TEST(Report, SnapshotGoalsNeedTheFullScale) {
  Results r = with_configs();
  RunResult small;
  small.ok = true;
  small.metrics = {{"live", 6000}, {"write_s", 0.01}, {"marginal_bytes_per_alloc", 0}};
  r.snapshot_runs = {small};
  std::string md = render_markdown(r);
  EXPECT_NE(goal_row(md, "snapshot of 1M live allocations over 100k stacks")
                .find("not measured at scale"),
            std::string::npos);

  RunResult big = small;
  big.metrics = {{"live", 1e6}, {"write_s", 1.25}, {"marginal_bytes_per_alloc", 72}};
  r.snapshot_runs = {big};
  md = render_markdown(r);
  EXPECT_NE(
      goal_row(md, "snapshot of 1M live allocations over 100k stacks").find("missed by 0.25 s"),
      std::string::npos);
  EXPECT_NE(goal_row(md, "probe memory per live allocation").find("72 B: missed by 24 B"),
            std::string::npos)
      << goal_row(md, "probe memory per live allocation");
}

TEST(Report, UptimeGoalComparesShortestAndLongestRun) {
  Results r = with_configs();
  r.uptime = {{"lp-exact", 10, true, "", 185000, 0, 0, 0},
              {"lp-exact", 60, true, "", 186000, 0, 0, 0},
              {"heaptrack", 60, true, "", 0, 24000000, 1, 0}};
  std::string md = render_markdown(r);
  EXPECT_NE(goal_row(md, "snapshot size independent of uptime (exact)").find("| met |"),
            std::string::npos);
  r.uptime[1].last_snapshot_bytes = 370000;  // doubled: grows with uptime
  md = render_markdown(r);
  EXPECT_NE(goal_row(md, "snapshot size independent of uptime (exact)").find("missed: grows"),
            std::string::npos);
}

// An attached broker's snapshot, as the probe writes it (docs/snapshot-format.md), with one
// stack through mosquitto's own code and one not.
std::string attached_snapshot(const std::string& tag, const std::string& recording,
                              bool attached_line = true) {
  std::string s = "heap profile:     1:   64 [   120:   9000] @ " + tag +
                  "\n# leakprobe.format: 1\n# leakprobe.exe: /usr/sbin/mosquitto\n"
                  "# leakprobe.recording: " +
                  recording + "\n";
  if (attached_line)
    s += "# leakprobe.attached: since=1000.5 heap-live=213488 unrecorded-frees=0 "
         "unrecorded-freed-bytes=0\n";
  s += "     1:       64 [   100:   8000] @ 0x7f0000001000 0x55d0c0a01234 0x7f3a12029d90\n"
       "     0:        0 [    20:   1000] @ 0x7f0000001000 0x7f3a12029d90\n\n"
       "MAPPED_LIBRARIES:\n"
       "55d0c0a00000-55d0c0a20000 r-xp 00001000 fd:01 1234 /usr/sbin/mosquitto\n"
       "7f0000000000-7f0000100000 r-xp 00001000 fd:01 99 /build/libleakprobe.so\n"
       "# leakprobe.end\n";
  return s;
}

Config named_in(const std::vector<Config>& configs, const std::string& name) {
  for (const Config& c : configs) {
    if (c.name == name) return c;
  }
  ADD_FAILURE() << "no configuration " << name;
  return Config{};
}

Config named(const std::string& name) { return named_in(all_configs(Paths{}), name); }

TEST(Attach, TheNewConfigurationsExist) {
  for (const char* n : {"lp-attached-exact", "lp-attached-sampled", "lp-detached"}) {
    const Config c = named(n);
    EXPECT_NE(c.attach, Attach::kNone) << n;
    EXPECT_TRUE(c.broker) << n;
  }
  EXPECT_EQ(named("lp-attached-sampled").sample_bytes, "524288");  // as lp-sampled
  EXPECT_EQ(named("lp-detached").attach, Attach::kAttachThenDetach);
  EXPECT_EQ(named("lp-exact").attach, Attach::kNone);
  // Without the probe built they are not run, with the reason; never run as a plain broker.
  EXPECT_FALSE(named("lp-attached-exact").available);
  Paths p;
  p.leakprobe_lib = "/proc/self/exe";  // readable: "built"
  p.leakprobe_cli = "/nonexistent/leakprobe";
  for (const Config& c : all_configs(p))
    if (c.attach != Attach::kNone) {
      EXPECT_FALSE(c.available) << c.name;
      EXPECT_EQ(c.unavailable_reason, "the leakprobe command is not built");
    }
  p.leakprobe_cli = "/proc/self/exe";
  EXPECT_TRUE(named_in(all_configs(p), "lp-detached").available);
}

TEST(Attach, SnapshotFactsAreRead) {
  const SnapshotFacts f = parse_snapshot_facts(attached_snapshot("heapprofile", "on since 1000.5"));
  EXPECT_TRUE(f.parsed);
  EXPECT_EQ(f.tag, "heapprofile");
  EXPECT_EQ(f.alloc_objs, 120);
  EXPECT_TRUE(f.attached);
  EXPECT_EQ(f.recording, "on");
  EXPECT_DOUBLE_EQ(f.recording_since, 1000.5);
  EXPECT_EQ(f.stacks, 2u);
  EXPECT_EQ(f.stacks_in_exe, 1u);
  EXPECT_FALSE(parse_snapshot_facts("leakprobe: no such process\n").parsed);
}

TEST(Attach, ASnapshotMustProveTheConfiguration) {
  const Config exact = named("lp-attached-exact"), sampled = named("lp-attached-sampled"),
               detached = named("lp-detached");
  auto check = [](const Config& c, const std::string& text, double load_started = 2000) {
    return check_snapshot(c, parse_snapshot_facts(text), load_started);
  };
  EXPECT_EQ(check(exact, attached_snapshot("heapprofile", "on since 1000.5")), "");
  EXPECT_EQ(check(sampled, attached_snapshot("heap_v2/524288", "on since 1000.5")), "");
  EXPECT_EQ(check(detached, attached_snapshot("heapprofile", "off since 1001.0")), "");
  // A preloaded probe (no attached line), the wrong mode, recording off, nothing in mosquitto.
  EXPECT_NE(check(exact, attached_snapshot("heapprofile", "on since 1000.5", false)), "");
  EXPECT_NE(check(exact, attached_snapshot("heap_v2/524288", "on since 1000.5")), "");
  EXPECT_NE(check(sampled, attached_snapshot("heapprofile", "on since 1000.5")), "");
  EXPECT_NE(check(exact, attached_snapshot("heapprofile", "off since 1001.0")), "");
  std::string elsewhere = attached_snapshot("heapprofile", "on since 1000.5");
  elsewhere.replace(elsewhere.find("0x55d0c0a01234"), 14, "0x7f0000002000");
  EXPECT_NE(check(exact, elsewhere).find("no stack through the broker's own code"),
            std::string::npos)
      << check(exact, elsewhere);
  // Detached: recording must be off since before the load, not switched off after it.
  EXPECT_NE(check(detached, attached_snapshot("heapprofile", "on since 1000.5")), "");
  EXPECT_NE(check(detached, attached_snapshot("heapprofile", "off since 2500.0")), "");
  EXPECT_NE(check(exact, "not a snapshot\n"), "");
}

TEST(Attach, ADetachedProbeMustTakeNoSamples) {
  Results r = with_configs();
  const std::string what =
      "detached probe (calls put back, library mapped): its share of the "
      "samples";
  EXPECT_NE(goal_row(render_markdown(r), what).find("| not measured |"), std::string::npos);
  std::string error;
  ASSERT_TRUE(
      parse_profile_shares("fanout lp-detached 0\nalloc-small lp-detached 0.00\n"
                           "fanout lp-dormant 0.6\n",
                           &r.probe_share, &error))
      << error;
  EXPECT_NE(goal_row(render_markdown(r), what).find("| met |"), std::string::npos)
      << goal_row(render_markdown(r), what);
  ASSERT_TRUE(parse_profile_shares("twopub lp-detached 0.4\n", &r.probe_share, &error));
  const std::string row = goal_row(render_markdown(r), what);
  EXPECT_NE(row.find("at most 0.40% (twopub) | missed by 0.40 points"), std::string::npos) << row;
}

TEST(Attach, TheReportPutsEachAttachedConfigurationBesideItsPreloadedTwin) {
  Results r;
  r.mode = "test";
  r.reps = 1;
  for (const char* n : {"none", "lp-exact", "lp-attached-exact", "lp-dormant", "lp-detached"})
    r.configs.push_back(named(n));
  r.broker_workloads = {BrokerWorkload{}};
  r.broker_workloads[0].name = "fanout";
  r.broker_rows = {"fanout"};
  r.series["fanout:cpu_us_per_msg"]["none"] = {10};
  r.series["fanout:cpu_us_per_msg"]["lp-exact"] = {14};
  r.series["fanout:cpu_us_per_msg"]["lp-attached-exact"] = {13};
  r.series["fanout:cpu_us_per_msg"]["lp-detached"] = {10};
  r.series["fanout:attach_s"]["lp-attached-exact"] = {0.030, 0.020, 0.025};
  r.series["fanout:attach_s"]["lp-detached"] = {0.018};
  r.series["fanout:detach_s"]["lp-detached"] = {0.004};
  r.series["fanout:calls_rewritten"]["lp-detached"] = {211};
  const std::string md = render_markdown(r);
  EXPECT_NE(md.find("| workload | lp-exact | lp-attached-exact | lp-dormant | lp-detached |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| fanout | 1.40× | 1.30× | – | 1.00× |"), std::string::npos) << md;
  EXPECT_NE(md.find("| lp-attached-exact | fanout | 25 | 20–30 | – | – | 3 |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("| lp-detached | fanout | 18 | 18–18 | 4 | 211 | 1 |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("never attached is the none row itself"), std::string::npos);
}

}  // namespace
}  // namespace bench
