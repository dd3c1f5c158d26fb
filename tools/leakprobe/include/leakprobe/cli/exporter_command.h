// `leakprobe exporter`: its options and its run, kept out of main.cpp (tools/exporter does the
// work; docs/guide.md, "A fleet of brokers").
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace leakprobe::cli {

class ExporterCommand {
 public:
  explicit ExporterCommand(CLI::App& app);
  bool chosen() const { return static_cast<bool>(*command_); }
  // The exit code: 0, 1 (cannot listen), 2 (bad option value).
  int run() const;

 private:
  CLI::App* command_ = nullptr;
  std::string listen_ = "127.0.0.1:9465";
  std::string interval_ = "60s";
  int64_t top_ = 10;
  std::vector<int> pids_;
  std::string exe_;
  bool once_ = false;
};

}  // namespace leakprobe::cli
