// What an entry stands for: the key a site groups under (--by), decided once for the heap and
// the resource analysis alike, so that every writer names an entry the same way.
#pragma once

#include <cstdint>
#include <string>

#include "leakprobe/analysis/options.h"
#include "leakprobe/analysis/symbols.h"

namespace leakprobe::analysis {

// --by stack and --by line key by the site's function and file:line, --by function by the
// function alone; a site without a symbol is keyed by its module+offset.
struct GroupKey {
  enum class Kind {
    kLocation,         // function + file:line
    kFunction,         // function only (--by function, or --by stack without line information)
    kFunctionAddress,  // --by line without line information: function + module+offset
    kAddress,          // no symbol: module + offset
    kNoFrames,         // the stack had no frames at all
  };
  Kind kind = Kind::kNoFrames;
  std::string function;  // kLocation, kFunction
  std::string file;      // kLocation
  int line = 0;          // kLocation
  std::string module;    // kAddress, kFunctionAddress
  uint64_t offset = 0;   // kAddress, kFunctionAddress
  bool unnamed = false;  // `function` is an unnamed function's label (Row::unnamed)

  // "function file:line", "function", "function libfoo.so+0x1234", "libfoo.so+0x1234" (file
  // name of the module) or "[no frames]": the JSON key, and the order of entries that tie on
  // every number.
  std::string text() const;
};

// The one spelling of a frame without a symbol: "libfoo.so.1+0x1234", the module's file name
// (labels, keys, the flame graph), or with `whole_path` its whole path (stack listings).
std::string module_offset(const std::string& module, uint64_t offset, bool whole_path = false);

// What an entry whose site is `site` (nullptr: no frames) is keyed by under `by`.
GroupKey group_key(const Row* site, GroupBy by);

}  // namespace leakprobe::analysis
