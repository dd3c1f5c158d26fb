// The exporter's page, without any process: names and types, label escaping, the state set,
// merged duplicate sites, bounded series, and the option parsers.
#include "leakprobe/exporter/metrics.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "leakprobe/exporter/collector.h"
#include "leakprobe/exporter/server.h"

namespace le = leakprobe::exporter;

namespace {

le::ProcessMetrics broker() {
  le::ProcessMetrics p;
  p.pid = 4242;
  p.exe = "/usr/sbin/mosquitto";
  p.state = "recording";
  p.resident_bytes = 1 << 20;
  p.heap_live_bytes = 5000;
  p.heap_live_objects = 50;
  p.descriptors = {{"tcp", 12}, {"unix", 2}};
  p.posix_timers = 0;
  p.threads = 3;
  p.sites = {{"db__message_insert database.c:305", 4000, 40}};
  return p;
}

size_t count_lines_with(const std::string& page, const std::string& needle) {
  std::istringstream in(page);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) != std::string::npos && line[0] != '#') ++n;
  }
  return n;
}

}  // namespace

TEST(ExporterMetrics, NamesValuesAndLabels) {
  const std::string page = le::render_prometheus({broker()}, {});
  EXPECT_NE(page.find("# TYPE leakprobe_heap_live_bytes gauge\n"), std::string::npos);
  EXPECT_NE(page.find("leakprobe_heap_live_bytes{pid=\"4242\",exe=\"/usr/sbin/mosquitto\"} 5000\n"),
            std::string::npos);
  EXPECT_NE(page.find("leakprobe_descriptors{pid=\"4242\",exe=\"/usr/sbin/mosquitto\","
                      "kind=\"tcp\"} 12\n"),
            std::string::npos);
  EXPECT_NE(page.find("leakprobe_site_live_bytes{pid=\"4242\",exe=\"/usr/sbin/mosquitto\","
                      "site=\"db__message_insert database.c:305\"} 4000\n"),
            std::string::npos);
  EXPECT_NE(page.find("leakprobe_recording{pid=\"4242\",exe=\"/usr/sbin/mosquitto\","
                      "state=\"recording\"} 1\n"),
            std::string::npos);
  EXPECT_NE(page.find("state=\"dormant\"} 0\n"), std::string::npos);
  EXPECT_NE(page.find("# TYPE leakprobe_snapshot_errors_total counter\n"), std::string::npos);
}

TEST(ExporterMetrics, MemoryVerdictIsAStateSetAndFreeBytesAGauge) {
  le::ProcessMetrics p = broker();
  p.heap_free_bytes = 7000;
  p.releasable_bytes = 4096;
  p.memory_verdict = "allocator-retention";
  const std::string page = le::render_prometheus({p}, {});
  EXPECT_NE(page.find("leakprobe_heap_free_bytes{pid=\"4242\",exe=\"/usr/sbin/mosquitto\"} 7000\n"),
            std::string::npos);
  EXPECT_NE(page.find("leakprobe_heap_releasable_bytes{pid=\"4242\",exe=\"/usr/sbin/mosquitto\"} "
                      "4096\n"),
            std::string::npos);
  EXPECT_NE(page.find("verdict=\"allocator-retention\"} 1\n"), std::string::npos);
  EXPECT_NE(page.find("verdict=\"live-heap-growth\"} 0\n"), std::string::npos);
  EXPECT_EQ(count_lines_with(page, "leakprobe_memory_verdict{"), 4u);
  // Before a second snapshot (or without glibc's figures) there is no verdict series at all.
  EXPECT_EQ(count_lines_with(le::render_prometheus({broker()}, {}), "leakprobe_memory_verdict{"),
            0u);
}

TEST(ExporterMetrics, DormantProcessHasNoHeapSeries) {
  le::ProcessMetrics p = broker();
  p.state = "dormant";
  p.heap_live_bytes.reset();
  p.heap_live_objects.reset();
  p.sites.clear();
  const std::string page = le::render_prometheus({p}, {});
  EXPECT_EQ(count_lines_with(page, "leakprobe_heap_live_bytes{"), 0u);
  EXPECT_NE(page.find("state=\"dormant\"} 1\n"), std::string::npos);
}

TEST(ExporterMetrics, LabelValuesAreEscaped) {
  le::ProcessMetrics p = broker();
  p.exe = "/opt/a \"b\"\\c\nd";
  p.sites = {{"operator\"\" f\\g\nh", 1, 1}};
  const std::string page = le::render_prometheus({p}, {});
  EXPECT_NE(page.find("exe=\"/opt/a \\\"b\\\"\\\\c\\nd\""), std::string::npos);
  EXPECT_NE(page.find("site=\"operator\\\"\\\" f\\\\g\\nh\""), std::string::npos);
  // No raw newline inside any sample line: every line starts with a metric name or '#'.
  std::istringstream in(page);
  for (std::string line; std::getline(in, line);) {
    ASSERT_TRUE(line.rfind("leakprobe_", 0) == 0 || line.rfind("# ", 0) == 0) << line;
  }
}

TEST(ExporterMetrics, DuplicateSitesAreSummedNotRepeated) {
  le::ProcessMetrics p = broker();
  p.sites = {{"f a.c:1", 100, 1}, {"f a.c:1", 50, 2}};
  const std::string page = le::render_prometheus({p}, {});
  EXPECT_EQ(count_lines_with(page, "leakprobe_site_live_bytes{"), 1u);
  EXPECT_NE(page.find("site=\"f a.c:1\"} 150\n"), std::string::npos);
  EXPECT_NE(page.find("site=\"f a.c:1\"} 3\n"), std::string::npos);
}

TEST(ExporterMetrics, SeriesPerProcessStayWithinTopPlusTwenty) {
  le::ProcessMetrics p = broker();
  p.sites.clear();
  for (int i = 0; i < 10; ++i) p.sites.push_back({"site" + std::to_string(i), i, i});
  p.descriptors.clear();
  for (const char* kind :
       {"tcp", "udp", "unix", "timerfd", "eventfd", "epoll", "pipe", "file", "memfd", "other-fd"}) {
    p.descriptors[kind] = 1;
  }
  // Every kind and every family present: sites count twice (bytes and objects).
  const size_t n = count_lines_with(le::render_prometheus({p}, {}), "pid=\"4242\"");
  EXPECT_LE(n, 2 * 10 + 20u);
}

TEST(ExporterOptions, Durations) {
  EXPECT_EQ(le::parse_duration("60s").count(), 60000);
  EXPECT_EQ(le::parse_duration("60").count(), 60000);
  EXPECT_EQ(le::parse_duration("5m").count(), 300000);
  EXPECT_EQ(le::parse_duration("500ms").count(), 500);
  EXPECT_EQ(le::parse_duration("1.5h").count(), 5400000);
  for (const char* bad : {"", "0", "-1s", "fast", "10 s", "1d", "0.1ms"}) {
    EXPECT_EQ(le::parse_duration(bad).count(), 0) << bad;
  }
}

TEST(ExporterOptions, ListenAddresses) {
  le::ServerOptions o;
  std::string error;
  ASSERT_TRUE(le::parse_listen("127.0.0.1:9465", o, error));
  EXPECT_EQ(o.host, "127.0.0.1");
  EXPECT_EQ(o.port, 9465);
  ASSERT_TRUE(le::parse_listen("[::1]:80", o, error));
  EXPECT_EQ(o.host, "::1");
  ASSERT_TRUE(le::parse_listen(":9000", o, error));
  EXPECT_EQ(o.host, "0.0.0.0");
  for (const char* bad : {"9465", "host:", "host:0", "host:70000", "host:12x"}) {
    EXPECT_FALSE(le::parse_listen(bad, o, error)) << bad;
    EXPECT_FALSE(error.empty());
  }
}
