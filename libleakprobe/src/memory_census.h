// Where the process's resident memory is, written into every snapshot (docs/snapshot-format.md,
// "Memory section"): the kernel's view (resident and file-backed from /proc/self/statm, the
// anonymous part split by kind of mapping from /proc/self/maps, page by page with mincore),
// malloc's view (mallinfo2, malloc_info per arena), the probe's own live bytes and what was live
// before recording started. Only facts are written; heapdiff derives the free-but-resident memory,
// what malloc_trim would return and the verdict.
//
// Everything runs on the writer thread (or at exit), never inside a malloc call and holding
// none of our tracker locks. mallinfo2 and malloc_info take each arena's lock in turn for one
// walk of its free lists; heap headers and top chunks are read with process_vm_readv, which
// fails instead of faulting if malloc unmapped them in the meantime.
#pragma once

#include <cstdint>

namespace leakprobe {

class Out;
class Tracker;

// On the constructor's thread, before the writer thread exists: the stdio stream malloc_info
// prints to is made here, once. Made later on the writer thread, its FILE would be that
// thread's first malloc and glibc would create a whole arena for it.
void memory_census_init();

// Recording was switched on for the first time: remember malloc's in-use bytes now, the
// heap that was live before recording (never freed through a path the probe saw as recorded).
// `again`: an attach (leakprobe_attach) starts a new recording over a heap the probe never
// saw, so the figure is taken anew each time.
void memory_note_recording_started(bool again = false);

// What memory_note_recording_started remembered: false if recording never started. The
// memory section's before-recording line and the attach line both read it, so the two
// always agree.
bool memory_before_recording(uint64_t* bytes, int64_t* since);

// Writes the memory section's "# leakprobe.memory.*" lines for `t`. With a foreign
// allocator (`foreign_malloc`: the file whose malloc the program calls, or the probe forwards
// to a malloc that is not glibc's) only the kernel's view is written: glibc's statistics would
// describe an allocator nobody uses.
void write_memory_section(Out& out, const Tracker& t, const char* foreign_malloc);

}  // namespace leakprobe
