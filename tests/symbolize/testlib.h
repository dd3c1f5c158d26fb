#pragma once

namespace leakprobe_test {
using Callback = int (*)(int);
int direct_caller(Callback callback, int x);
int inlining_caller(Callback callback, int x);
}  // namespace leakprobe_test
