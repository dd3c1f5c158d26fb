// `leakprobe attach PID` and `leakprobe detach PID`: their options and their runs, kept out of
// main.cpp. The checks are attach_preflight's; this file only words the outcome.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace leakprobe::cli {

class AttachCommand {
 public:
  explicit AttachCommand(CLI::App& app);
  bool chosen() const { return static_cast<bool>(*attach_) || static_cast<bool>(*detach_); }
  // The exit code: 0 (only `attach --check` on a process that passes), 1 refused or failed,
  // 2 bad input.
  int run() const;

 private:
  int attach() const;
  int detach() const;

  CLI::App* attach_ = nullptr;
  CLI::App* detach_ = nullptr;
  std::string pid_text_;
  std::string output_dir_;
  std::string sample_bytes_;
  bool check_only_ = false;
};

}  // namespace leakprobe::cli
