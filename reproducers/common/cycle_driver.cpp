#include "repro/cycle_driver.h"

#include <unistd.h>

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
  long index = 0;
  auto run_phase = [&](long count) {
    // count == 0 only means "forever" for the main phase (a demo or a manual run).
    for (long i = 0; count == 0 || i < count; ++i, ++index) {
      if (options.rate > 0) {
        // Pace against the start time, not the previous cycle, so slow cycles do not drift.
        std::this_thread::sleep_until(
            start + std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(index / options.rate)));
      }
      if (!cycle(index)) return false;
    }
    return true;
  };

  if (options.warmup > 0 && !run_phase(options.warmup)) return 1;
  if (options.sync) handshake("WARM", index);
  if (!run_phase(options.iterations)) return 1;
  if (options.sync) handshake("DONE", index);
  return 0;
}

}  // namespace repro
