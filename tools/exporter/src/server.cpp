#include "leakprobe/exporter/server.h"

#include <httplib.h>
#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <thread>

namespace leakprobe::exporter {

bool parse_listen(const std::string& text, ServerOptions& options, std::string& error) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) {
    error = "expected HOST:PORT, e.g. 127.0.0.1:9465, got '" + text + "'";
    return false;
  }
  std::string host = text.substr(0, colon);
  const std::string port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  char* end = nullptr;
  const long value = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || value < 1 || value > 65535) {
    error = "bad port in '" + text + "' (1-65535)";
    return false;
  }
  options.host = host.empty() ? "0.0.0.0" : host;
  options.port = static_cast<int>(value);
  return true;
}

namespace {

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

}  // namespace

int serve(const ServerOptions& options) {
  // SIGINT/SIGTERM are taken by a waiting thread (sigwait), so no handler runs amid httplib.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  Collector collector(options.collector);
  std::mutex mu;
  std::condition_variable wake;
  std::string page;  // the newest rendering, served as is
  std::atomic<bool> stopping{false};

  httplib::Server server;
  server.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    res.set_content(page, "text/plain; version=0.0.4; charset=utf-8");
  });
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(
        "<html><body><h1>leakprobe exporter</h1><p><a href=\"/metrics\">/metrics</a></p>"
        "</body></html>",
        "text/html");
  });
  if (!server.bind_to_port(options.host, options.port)) {
    std::cerr << "leakprobe exporter: cannot listen on " << options.host << ":" << options.port
              << " (address in use, or not an address of this machine)\n";
    return 1;
  }
  if (!is_loopback(options.host)) {
    std::cerr << "leakprobe exporter: serving on " << options.host << ":" << options.port
              << ": anyone who can reach it reads program paths and function names of every "
                 "profiled process\n";
  }
  std::cerr << "leakprobe exporter: serving http://" << options.host << ":" << options.port
            << "/metrics, collecting every " << options.interval.count() / 1000.0 << " s\n";

  std::thread collecting([&] {
    std::unique_lock<std::mutex> lock(mu);
    while (!stopping) {
      lock.unlock();
      collector.collect();  // no lock held: a scrape meanwhile serves the previous page
      std::string rendered = render_prometheus(collector.processes(), collector.health());
      lock.lock();
      page = std::move(rendered);
      wake.wait_for(lock, options.interval, [&] { return stopping.load(); });
    }
  });
  std::thread listening([&] { server.listen_after_bind(); });

  int sig = 0;
  sigwait(&stop_signals, &sig);
  {
    std::lock_guard<std::mutex> lock(mu);
    stopping = true;
  }
  wake.notify_all();
  server.stop();
  listening.join();
  collecting.join();
  return 0;
}

}  // namespace leakprobe::exporter
