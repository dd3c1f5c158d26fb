#include "leakprobe/analysis/site.h"

#include "leakprobe/analysis/units.h"

namespace leakprobe::analysis {

std::string module_offset(const std::string& module, uint64_t offset, bool whole_path) {
  const size_t slash = whole_path ? std::string::npos : module.rfind('/');
  return (slash == std::string::npos ? module : module.substr(slash + 1)) + "+" +
         format_hex(offset);
}

GroupKey group_key(const Row* site, GroupBy by) {
  GroupKey k;
  if (site == nullptr) return k;
  if (site->function.empty()) {
    k.kind = GroupKey::Kind::kAddress;
    k.module = site->module;
    k.offset = site->offset;
    return k;
  }
  k.function = site->function;
  k.unnamed = site->unnamed;
  if (by == GroupBy::kLine && site->file.empty()) {
    // No line table: the call's offset is the finest place known, for named and unnamed
    // functions alike.
    k.kind = GroupKey::Kind::kFunctionAddress;
    k.module = site->module;
    k.offset = site->offset;
    return k;
  }
  if (by == GroupBy::kFunction || site->file.empty()) {
    k.kind = GroupKey::Kind::kFunction;
    return k;
  }
  k.kind = GroupKey::Kind::kLocation;
  k.file = site->file;
  k.line = site->line;
  return k;
}

std::string GroupKey::text() const {
  switch (kind) {
    case Kind::kLocation:
      return function + " " + file + ":" + std::to_string(line);
    case Kind::kFunction:
      return function;
    case Kind::kFunctionAddress: {
      Row r;
      r.module = module;
      r.offset = offset;
      return function + " " + r.label();
    }
    case Kind::kAddress: {
      Row r;
      r.module = module;
      r.offset = offset;
      return r.label();
    }
    case Kind::kNoFrames:
      break;
  }
  return "[no frames]";
}

}  // namespace leakprobe::analysis
