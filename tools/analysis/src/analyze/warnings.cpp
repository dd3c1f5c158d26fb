#include "leakprobe/analysis/warnings.h"

#include <utility>

namespace leakprobe::analysis {

const char* warning_code(Warning::Kind kind) {
  using K = Warning::Kind;
  switch (kind) {
    case K::kReordered:
      return "reordered";
    case K::kExitLeftOut:
      return "exit-snapshot-left-out";
    case K::kExitSnapshot:
      return "exit-snapshot";
    case K::kOneSnapshot:
      return "one-snapshot";
    case K::kDifferentProcesses:
      return "different-processes";
    case K::kStacksCut:
      return "stacks-cut";
    case K::kForeignMalloc:
      return "foreign-malloc";
    case K::kModuleUnreadable:
      return "module-unreadable";
    case K::kBuildIdMismatch:
      return "build-id-mismatch";
    case K::kNoDebugInfo:
      return "no-debug-info";
    case K::kNoSymbols:
      return "no-symbols";
    case K::kRecordingOff:
      return "recording-off";
    case K::kIncomplete:
      return "incomplete";
  }
  return "warning";
}

void add_symbolizer_warnings(const std::vector<symbolize::Warning>& in, std::vector<Warning>& out) {
  using In = symbolize::Warning::Kind;
  // Where this call put its merged kNoDebugInfo / kNoSymbols warning, if any yet.
  size_t no_debug_info = std::string::npos;
  size_t no_symbols = std::string::npos;
  for (const symbolize::Warning& w : in) {
    Warning::Kind kind = Warning::Kind::kModuleUnreadable;
    size_t* merged = nullptr;
    switch (w.kind) {
      case In::kUnreadable:
        kind = Warning::Kind::kModuleUnreadable;
        break;
      case In::kBuildIdMismatch:
        kind = Warning::Kind::kBuildIdMismatch;
        break;
      case In::kNoDebugInfo:
        kind = Warning::Kind::kNoDebugInfo;
        merged = &no_debug_info;
        break;
      case In::kNoSymbols:
        kind = Warning::Kind::kNoSymbols;
        merged = &no_symbols;
        break;
    }
    if (merged != nullptr && *merged != std::string::npos) {
      out[*merged].subjects.push_back(w.path);
      continue;
    }
    if (merged != nullptr) *merged = out.size();
    Warning v;
    v.kind = kind;
    v.subjects.push_back(w.path);
    v.reason = w.reason;
    v.snapshot_build_id = w.snapshot_build_id;
    v.file_build_id = w.file_build_id;
    out.push_back(std::move(v));
  }
}

}  // namespace leakprobe::analysis
