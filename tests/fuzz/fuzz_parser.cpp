// libFuzzer target for the snapshot parser: any byte string must give a Snapshot or an Error,
// never a crash, hang, leak or undefined behaviour (built with address,undefined).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "leakprobe/analysis/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto result = leakprobe::analysis::parse_snapshot(text, "fuzz-input");
  if (!result.ok()) {
    // Every error must say what is wrong; an empty message is a bug of its own.
    if (result.error().message.empty()) __builtin_trap();
    return 0;
  }
  // Walk what the parser kept, so a dangling view or a bad index in the model shows up here.
  const auto& snapshot = result.value();
  (void)snapshot.program();
  for (const auto& stack : snapshot.stacks) {
    for (uint64_t pc : stack.addrs) (void)snapshot.find_mapping(pc);
  }
  return 0;
}
