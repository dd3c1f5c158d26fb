#include "leakprobe/analysis/warnings.h"

#include <string_view>

namespace leakprobe::analysis {
namespace {

// The symbolizer's wording (tools/symbolize/src/symbolizer.cpp); a warning that does not
// match exactly is passed through unchanged, so a change there costs only the merging.
struct Kind {
  std::string_view prefix;
  std::string_view suffix;
  std::string_view merged;  // what the merged line says before the module list
};
constexpr Kind kKinds[] = {
    {"no debug info for ", ": function names only, no file:line",
     "no debug info (the report shows their function names only, no file:line) for: "},
    {"no symbols or debug info for ", "; its frames are shown as module+offset",
     "no symbols or debug info (their frames are shown as module+0xoffset) for: "},
};

std::string_view file_name(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::vector<std::string> collapse_symbolizer_warnings(const std::vector<std::string>& warnings) {
  std::vector<std::string> out;
  size_t merged_at[std::size(kKinds)];
  for (size_t& m : merged_at) m = std::string::npos;
  for (const std::string& w : warnings) {
    const std::string_view text = w;
    bool merged = false;
    for (size_t k = 0; k < std::size(kKinds) && !merged; ++k) {
      const Kind& kind = kKinds[k];
      if (text.size() <= kind.prefix.size() + kind.suffix.size() ||
          text.substr(0, kind.prefix.size()) != kind.prefix ||
          text.substr(text.size() - kind.suffix.size()) != kind.suffix) {
        continue;
      }
      const std::string_view path =
          text.substr(kind.prefix.size(), text.size() - kind.prefix.size() - kind.suffix.size());
      if (merged_at[k] == std::string::npos) {
        merged_at[k] = out.size();
        out.emplace_back(std::string(kind.merged) + std::string(file_name(path)));
      } else {
        out[merged_at[k]] += ", " + std::string(file_name(path));
      }
      merged = true;
    }
    if (!merged) out.push_back(w);
  }
  return out;
}

}  // namespace leakprobe::analysis
