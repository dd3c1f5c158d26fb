// Command-line and config-file options shared by every reproducer.
//
// Each reproducer is a small MQTT service; the options are the knobs a test harness or a
// person at a terminal needs: where the broker is, how many cycles to run and how fast, and
// whether to run the leaky code path or its leak-free twin (--fixed).
#pragma once

#include <boost/program_options/options_description.hpp>
#include <optional>
#include <string>

namespace repro {

struct CommonOptions {
  std::string host = "127.0.0.1";
  int port = 1883;
  long warmup = 0;        // cycles before the first handshake (see cycle_driver.h)
  long iterations = 100;  // cycles between the two handshakes; 0 = run until killed
  double rate = 0;        // cycles per second, 0 = as fast as possible
  bool fixed = false;     // run the leak-free twin
  bool sync = false;      // stop after warm-up and after the run, wait for a line on stdin
  long checkpoints = 1;   // with sync: the run is cut into this many parts, MARK between them
};

// Parses argv, then the --config file if one was given (command line wins). `specific` holds
// the reproducer's own options; it may be empty. Prints help or a one-line error itself.
// Returns the exit status main should return right away (0 after --help, 2 on a usage
// error), or nothing when the reproducer should run.
std::optional<int> parse_options(int argc, char** argv, const std::string& summary,
                                 const boost::program_options::options_description& specific,
                                 CommonOptions& out);

}  // namespace repro
