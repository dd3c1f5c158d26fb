// Name rules for Go frames. Go's function names carry their package's import path, so the
// runtime and the standard library are recognisable by name alone, with no module map.
#include "leakprobe/analysis/go_frames.h"

#include <algorithm>
#include <iterator>

namespace leakprobe::analysis {
namespace {

bool starts_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.compare(0, p.size(), p) == 0;
}

// The standard library's top-level import path elements (Go 1.19 to 1.23). A list rather
// than Go's "no dot in the first element" rule: module paths without a dot ("gateway",
// "myservice/internal/x") are common for applications, and their code must stay a site.
constexpr std::string_view kStdRoots[] = {
    "archive", "bufio",    "builtin", "bytes",   "cmp",      "compress", "container", "context",
    "crypto",  "database", "debug",   "embed",   "encoding", "errors",   "expvar",    "flag",
    "fmt",     "go",       "hash",    "html",    "image",    "index",    "internal",  "io",
    "iter",    "log",      "maps",    "math",    "mime",     "net",      "os",        "path",
    "plugin",  "reflect",  "regexp",  "runtime", "slices",   "sort",     "strconv",   "strings",
    "sync",    "syscall",  "testing", "text",    "time",     "unicode",  "unique",    "unsafe",
    "vendor",  "weak"};

}  // namespace

std::string_view go_package(std::string_view function) {
  // Type arguments of generic functions ("pkg.F[some/path.T]") may hold slashes and dots.
  const std::string_view s = function.substr(0, function.find('['));
  const size_t slash = s.rfind('/');
  const size_t dot = s.find('.', slash == std::string_view::npos ? 0 : slash + 1);
  if (dot == std::string_view::npos || dot == 0) return {};
  return s.substr(0, dot);
}

bool is_go_runtime_package_function(std::string_view function) {
  return go_package(function) == "runtime";
}

bool is_go_runtime_function(std::string_view function) {
  const std::string_view package = go_package(function);
  if (package.empty()) return false;
  const std::string_view root = package.substr(0, package.find('/'));
  return std::find(std::begin(kStdRoots), std::end(kStdRoots), root) != std::end(kStdRoots);
}

bool is_go_allocation_function(std::string_view function) {
  if (!starts_with(function, "runtime.")) return false;
  const std::string_view name = function.substr(8);
  // Exact names, then families (mallocgc's size-class variants, mapassign_fast*, convT*,
  // concatstring2..5, makeslice64, ...).
  static constexpr std::string_view kPrefixes[] = {"mallocgc",
                                                   "newobject",
                                                   "newarray",
                                                   "makeslice",
                                                   "growslice",
                                                   "makemap",
                                                   "makeBucketArray",
                                                   "mapassign",
                                                   "hashGrow",
                                                   "growWork",
                                                   "makechan",
                                                   "concatstring",
                                                   "concatbytes",
                                                   "rawstring",
                                                   "rawbyteslice",
                                                   "rawruneslice",
                                                   "slicebytetostring",
                                                   "stringtoslicebyte",
                                                   "stringtoslicerune",
                                                   "slicerunetostring",
                                                   "intstring",
                                                   "convT",
                                                   "profilealloc",
                                                   "mProf_Malloc",
                                                   "(*mcache).nextFree",
                                                   "(*mcache).refill",
                                                   "largeAlloc",
                                                   "acquireSudog",
                                                   "malg",
                                                   "newproc1",
                                                   "allocm"};
  for (std::string_view p : kPrefixes) {
    if (starts_with(name, p)) return true;
  }
  return false;
}

}  // namespace leakprobe::analysis
