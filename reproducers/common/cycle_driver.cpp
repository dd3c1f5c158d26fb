#include "repro/cycle_driver.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <string>
#include <thread>

namespace repro {
namespace {

void handshake(const char* word, long cycles_done) {
  std::cout << word << ' ' << ::getpid() << ' ' << cycles_done << std::endl;
  std::string ignored;
  std::getline(std::cin, ignored);
}

}  // namespace

int run_cycles(const CommonOptions& options, const Cycle& cycle) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const long total = options.warmup + options.iterations;
  const long part = options.iterations / std::max(options.checkpoints, 1L);
  // One loop with one call of `cycle`: warm-up and run must allocate from the very same call
  // stack, or the twin's steady state would show up as one stack shrinking and another
  // growing between the two snapshots.
  for (long index = 0; options.iterations == 0 || index < total; ++index) {
    if (options.sync && index >= options.warmup) {
      const long done = index - options.warmup;
      if (done == 0) {
        handshake("WARM", index);
      } else if (part > 0 && done % part == 0 && done / part < options.checkpoints) {
        handshake("MARK", index);
      }
    }
    if (options.rate > 0) {
      // Pace against the start time, not the previous cycle, so slow cycles do not drift.
      std::this_thread::sleep_until(start +
                                    std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(index / options.rate)));
    }
    if (!cycle(index)) return 1;
  }
  if (options.sync) handshake("DONE", total);
  return 0;
}

}  // namespace repro
