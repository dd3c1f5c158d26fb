// A preload order that defeats the probe: with LD_PRELOAD=libjemalloc.so.2:libleakprobe.so (or
// a program that links its own malloc), the program's malloc is not ours, no allocation
// reaches the probe and every snapshot would be silently empty. Checked once at start-up.
#pragma once

namespace leakprobe {

// Looks up the malloc and free the program calls (the global lookup scope, as the dynamic
// linker binds them) and, if either is not the probe's, says so once on stderr with the fix
// and remembers the file that provides it. Call once, from the constructor.
void check_preload_order();

// The file whose malloc the program calls instead of the probe's, or nullptr if it calls
// ours. Snapshots carry it (format::kKeyForeignMalloc) so heapdiff can warn.
const char* foreign_malloc();

}  // namespace leakprobe
