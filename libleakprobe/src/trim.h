// `leakprobe trim PID`: the probe's own thread asks glibc to give freed memory back
// (malloc_trim(0)) and reports the resident set before and after, so an operator can prove
// "allocator retention" on the live process. Never called inside a host's malloc.
#pragma once

#include <cstddef>

namespace leakprobe {

// The "trim" control request: writes "rss-before=<bytes> rss-after=<bytes> released=<0|1>"
// (after "ok ") into `reply`, or the reason it cannot (after "error ") and returns false.
bool trim_request(char* reply, size_t size);

}  // namespace leakprobe
