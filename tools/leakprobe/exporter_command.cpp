#include "leakprobe/cli/exporter_command.h"

#include <iostream>
#include <regex>

#include "leakprobe/exporter/server.h"

namespace leakprobe::cli {

ExporterCommand::ExporterCommand(CLI::App& app) {
  command_ = app.add_subcommand(
      "exporter",
      "Serve every profiled process of this machine as Prometheus metrics at /metrics "
      "(totals, descriptors, threads, and the top N sites by growth)");
  command_
      ->add_option("--listen", listen_,
                   "HOST:PORT to serve on; loopback unless you name another address")
      ->capture_default_str();
  command_
      ->add_option("--interval", interval_,
                   "How often to take a snapshot of each process (60s, 5m, 500ms)")
      ->capture_default_str();
  command_->add_option("--top", top_, "Sites per process, by growth since start")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1000}));
  command_->add_option("--pid", pids_, "Only this process (repeatable)")
      ->check(CLI::PositiveNumber);
  command_->add_option("--exe", exe_, "Only programs whose path matches REGEX, e.g. 'mosquitto$'")
      ->type_name("REGEX");
  command_->add_flag("--once", once_,
                     "Collect once, print the metrics page to standard output and exit");
}

int ExporterCommand::run() const {
  exporter::ServerOptions options;
  std::string error;
  if (!exporter::parse_listen(listen_, options, error)) {
    std::cerr << "leakprobe exporter: --listen: " << error << "\n";
    return 2;
  }
  options.interval = exporter::parse_duration(interval_);
  if (options.interval.count() == 0) {
    std::cerr << "leakprobe exporter: --interval: expected a duration such as 60s, 5m or "
                 "500ms, got '"
              << interval_ << "'\n";
    return 2;
  }
  try {
    (void)std::regex(exe_);
  } catch (const std::regex_error& e) {
    std::cerr << "leakprobe exporter: --exe: not a regular expression: " << e.what() << "\n";
    return 2;
  }
  options.collector.top = static_cast<size_t>(top_);
  options.collector.pids = pids_;
  options.collector.exe_regex = exe_;
  if (once_) {
    exporter::Collector collector(options.collector);
    collector.collect();
    std::cout << exporter::render_prometheus(collector.processes(), collector.health());
    return 0;
  }
  return exporter::serve(options);
}

}  // namespace leakprobe::cli
