// Builders for small in-memory snapshots, so each unit test states its input next to its
// assertions instead of pointing at a file.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "leakprobe/analysis/parser.h"
#include "leakprobe/analysis/units.h"

namespace leakprobe::analysis::testing {

struct Line {
  int64_t live_objs, live_bytes, alloc_objs, alloc_bytes;
  std::vector<uint64_t> addrs;
};

inline std::string stack_lines(const std::vector<Line>& lines) {
  std::string out;
  for (const Line& l : lines) {
    out += std::to_string(l.live_objs) + ": " + std::to_string(l.live_bytes) + " [" +
           std::to_string(l.alloc_objs) + ": " + std::to_string(l.alloc_bytes) + "] @";
    for (uint64_t a : l.addrs) out += " " + format_hex(a);
    out += "\n";
  }
  return out;
}

// A leakprobe snapshot whose program text (/opt/t/app) is mapped executable at
// [base + 0x1000, base + 0x20000) with file offset 0x1000, so address base + X has file
// offset X (and pc = X - 1).
inline std::string leakprobe_text(const std::vector<Line>& lines, uint64_t base = 0x555500000000,
                                  const std::string& exe = "/opt/t/app", int64_t pid = 100,
                                  const std::string& extra_meta = "") {
  std::string t = "heap profile: 0: 0 [0: 0] @ heapprofile\n# leakprobe.format: 1\n";
  t += "# leakprobe.pid: " + std::to_string(pid) + "\n# leakprobe.exe: " + exe + "\n";
  t += "# leakprobe.stacks: " + std::to_string(lines.size()) + "\n" + extra_meta;
  t += stack_lines(lines);
  char maps[256];
  std::snprintf(maps, sizeof maps,
                "\nMAPPED_LIBRARIES:\n%llx-%llx r--p 00000000 fd:01 7 %s\n"
                "%llx-%llx r-xp 00001000 fd:01 7 %s\n",
                static_cast<unsigned long long>(base),
                static_cast<unsigned long long>(base + 0x1000), exe.c_str(),
                static_cast<unsigned long long>(base + 0x1000),
                static_cast<unsigned long long>(base + 0x20000), exe.c_str());
  t += maps;
  t += "7f0000000000-7f0000100000 r-xp 00010000 fd:01 8 /opt/t/libtcmalloc.so.4\n";
  t += "# leakprobe.end\n";
  return t;
}

inline Snapshot must_parse(const std::string& text, const std::string& name = "t.heap") {
  Result<Snapshot> r = parse_snapshot(text, name);
  if (!r) {
    std::fprintf(stderr, "unexpected parse error: %s\n", r.error().message.c_str());
    std::abort();
  }
  return std::move(r).value();
}

}  // namespace leakprobe::analysis::testing
