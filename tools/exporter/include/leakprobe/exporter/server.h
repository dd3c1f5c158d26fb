// `leakprobe exporter`: collects on its own thread every interval and serves the newest
// collection at /metrics over HTTP (cpp-httplib). A separate process on the node, never inside
// a profiled program.
#pragma once

#include <chrono>
#include <string>

#include "leakprobe/exporter/collector.h"

namespace leakprobe::exporter {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 9465;
  std::chrono::milliseconds interval{60000};
  CollectorOptions collector;
};

// "HOST:PORT", "[V6]:PORT" or ":PORT" (all addresses) into `options`; false with `error` set
// when it is not one of those.
bool parse_listen(const std::string& text, ServerOptions& options, std::string& error);

// Runs until SIGINT or SIGTERM; 0 on a clean stop, 1 when the address cannot be bound (the
// reason on stderr).
int serve(const ServerOptions& options);

}  // namespace leakprobe::exporter
