// Reads a snapshot with the installed analysis library and prints what a C++ user would use.
#include <cstdio>

#include "leakprobe/analysis/parser.h"
#include "leakprobe/snapshot_format.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  auto snap = leakprobe::analysis::load_snapshot(argv[1]);
  if (!snap) {
    std::fprintf(stderr, "%s\n", snap.error().message.c_str());
    return 1;
  }
  std::printf("format %d stacks %zu pid %lld\n", leakprobe::format::kVersion,
              snap.value().stacks.size(), static_cast<long long>(snap.value().pid.value_or(-1)));
  return 0;
}
