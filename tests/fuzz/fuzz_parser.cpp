// libFuzzer target for the snapshot parser: any byte string must give a Snapshot or an Error,
// never a crash, hang, leak or undefined behaviour (built with address,undefined).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "leakprobe/analysis/parser.h"

namespace {

// The streaming reader must give the same answer however the input is split: the first byte
// picks a piece size, so line boundaries fall inside, at and across pieces.
leakprobe::analysis::Result<leakprobe::analysis::Snapshot> parse_in_pieces(std::string_view text,
                                                                           size_t piece) {
  leakprobe::analysis::SnapshotReader reader("fuzz-input");
  for (size_t at = 0; at < text.size(); at += piece) {
    if (!reader.feed(text.substr(at, piece))) break;
  }
  return reader.finish();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto result = leakprobe::analysis::parse_snapshot(text, "fuzz-input");
  const size_t piece = size > 0 ? 1 + data[0] % 97 : 1;
  auto split = parse_in_pieces(text, piece);
  if (split.ok() != result.ok()) __builtin_trap();
  if (!result.ok()) {
    // Every error must say what is wrong; an empty message is a bug of its own.
    if (result.error().message.empty()) __builtin_trap();
    if (split.error().message != result.error().message) __builtin_trap();
    return 0;
  }
  if (split.value().stacks.size() != result.value().stacks.size() ||
      !(split.value().totals == result.value().totals)) {
    __builtin_trap();
  }
  // Walk what the parser kept, so a dangling view or a bad index in the model shows up here.
  const auto& snapshot = result.value();
  (void)snapshot.program();
  for (const auto& stack : snapshot.stacks) {
    for (uint64_t pc : stack.addrs) (void)snapshot.find_mapping(pc);
  }
  return 0;
}
