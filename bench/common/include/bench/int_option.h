// Integer command-line values for the benchmark workloads: strict decimal, range-checked, with
// the failure reported through the workload's own usage() (which prints and exits 2).
#pragma once

#include <cerrno>
#include <cstdlib>
#include <string>

namespace bench {

template <typename Usage>
long long int_option(const char* text, const std::string& opt, long long min, long long max,
                     Usage&& usage) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < min || v > max)
    usage(opt + " must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) +
          "]");
  return v;
}

}  // namespace bench
