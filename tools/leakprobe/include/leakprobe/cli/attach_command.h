// `leakprobe attach PID` and `leakprobe detach PID`: their options and their runs, kept out of
// main.cpp. The checks are attach_preflight's, the work attach_injector's; this file only
// gathers the settings and words the outcome.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace leakprobe::cli {

class AttachCommand {
 public:
  explicit AttachCommand(CLI::App& app);
  bool chosen() const { return static_cast<bool>(*attach_) || static_cast<bool>(*detach_); }
  // The exit code: 0 done (or `attach --check` on a process that passes), 1 refused or
  // failed (the process runs on unchanged), 2 bad input.
  int run() const;

 private:
  int attach() const;
  int detach() const;

  CLI::App* attach_ = nullptr;
  CLI::App* detach_ = nullptr;
  std::string pid_text_;
  std::string output_dir_;
  std::string sample_bytes_;
  double timeout_seconds_ = 20;
  bool check_only_ = false;
};

}  // namespace leakprobe::cli
