// Code whose addresses the symbolizer tests look up. Call sites carry "MARK:" comments; the
// tests find the expected line numbers by searching this file for them, so editing the file
// never silently breaks an assertion.
#include "testlib.h"

namespace leakprobe_test {

namespace {

// always_inline: the call below must show up as an inlined frame inside inlining_caller.
__attribute__((always_inline)) inline int inlined_helper(Callback callback, int x) {
  int r = callback(x);  // MARK:inlined_call
  return r * 3 + 1;
}

}  // namespace

// noinline + work after the call: keeps a real frame and a return address inside each
// function (no tail call).
__attribute__((noinline)) int direct_caller(Callback callback, int x) {
  int r = callback(x);  // MARK:direct_call
  return r + 7;
}

__attribute__((noinline)) int inlining_caller(Callback callback, int x) {
  int r = inlined_helper(callback, x + 1);  // MARK:helper_call
  return r + 5;
}

}  // namespace leakprobe_test
