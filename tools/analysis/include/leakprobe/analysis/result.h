// Errors are values in the analysis library: a bad snapshot is an everyday event for a tool
// that reads files copied off production hosts, so it must never become an exception that
// escapes to main or an assert. `main` maps an Error to exit code 2.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace leakprobe::analysis {

struct Error {
  std::string message;  // complete and human-readable, names the file (and line) at fault
};

// A minimal expected<T, Error>: C++17 has no std::expected.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit on purpose
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit on purpose

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace leakprobe::analysis
