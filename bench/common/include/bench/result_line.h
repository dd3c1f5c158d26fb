// One machine-readable line per measurement: "RESULT <workload> key=value key=value ...".
//
// The workloads print it on stdout and bench_runner parses it back, so both sides share this
// header instead of agreeing on a format by convention. Values never contain spaces.
#pragma once

#include <cstdio>
#include <map>
#include <optional>
#include <sstream>
#include <string>

namespace bench {

inline constexpr const char kResultPrefix[] = "RESULT ";

class ResultLine {
 public:
  explicit ResultLine(std::string workload) : text_(kResultPrefix + std::move(workload)) {}

  ResultLine& add(const std::string& key, const std::string& value) {
    text_ += ' ' + key + '=' + value;
    return *this;
  }
  ResultLine& add(const std::string& key, double value) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", value);
    return add(key, std::string(buf));
  }
  ResultLine& add(const std::string& key, long long value) {
    return add(key, std::to_string(value));
  }

  // Printed and flushed at once: the runner may kill the process right after reading it.
  void print() const {
    std::printf("%s\n", text_.c_str());
    std::fflush(stdout);
  }

 private:
  std::string text_;
};

struct ParsedResult {
  std::string workload;
  std::map<std::string, std::string> values;

  std::optional<double> number(const std::string& key) const {
    auto it = values.find(key);
    if (it == values.end()) return std::nullopt;
    try {
      size_t used = 0;
      double v = std::stod(it->second, &used);
      if (used != it->second.size()) return std::nullopt;
      return v;
    } catch (...) {
      return std::nullopt;
    }
  }
};

// Parses one line; nullopt if it is not a RESULT line.
inline std::optional<ParsedResult> parse_result_line(const std::string& line) {
  if (line.rfind(kResultPrefix, 0) != 0) return std::nullopt;
  std::istringstream in(line.substr(sizeof kResultPrefix - 1));
  ParsedResult r;
  if (!(in >> r.workload)) return std::nullopt;
  std::string field;
  while (in >> field) {
    auto eq = field.find('=');
    if (eq == std::string::npos || eq == 0) return std::nullopt;
    r.values[field.substr(0, eq)] = field.substr(eq + 1);
  }
  return r;
}

}  // namespace bench
