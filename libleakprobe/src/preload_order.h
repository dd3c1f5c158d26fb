// A preload order that defeats the probe: with LD_PRELOAD=libjemalloc.so.2:libleakprobe.so (or
// a program that links its own malloc), the program's malloc is not ours and no allocation
// reaches the probe. The probe then stands aside for the heap (host_allocator.h sends every
// allocation function it exports to that allocator, and nothing is recorded) and says so.
#pragma once

namespace leakprobe {

// If the program's malloc is not the probe's (host_allocator.h decided that when the
// allocator was resolved), says so once on stderr with the fix and returns true: the caller
// then keeps heap recording off for good. Call once, from the constructor.
bool check_preload_order();

// The file whose malloc the program calls instead of the probe's, or nullptr if it calls
// ours. Snapshots carry it (format::kKeyForeignMalloc) so heapdiff can warn.
const char* foreign_malloc();

// True if the probe was dlopen()ed into a process that was already running (`leakprobe
// attach`), not preloaded: the program's malloc is not the probe's, and the probe's object
// comes after libc's in the link map list (a preloaded object, even behind another
// allocator in LD_PRELOAD, comes before every library the program needs). Such a probe stays
// inert until leakprobe_attach(). Valid once the real allocator is resolved.
bool loaded_after_start();

}  // namespace leakprobe
