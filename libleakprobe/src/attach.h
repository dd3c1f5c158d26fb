// Attach mode: libleakprobe.so dlopen()ed into a process that is already running (`leakprobe
// attach PID`; the injector calls leakprobe_attach with the settings, leakprobe_detach to undo
// it). docs/internals.md, "Attach", says how the pieces fit.
//
// Loaded that way the constructor does nothing visible (no thread, no socket, no stderr
// line): loaded_after_start() (preload_order.h) tells it apart from a preloaded probe. The
// attach then starts the probe as a preloaded one would and rewrites the other modules' calls
// to its functions (got_patch.h); the detach puts them back and leaves the probe dormant.
#pragma once

#include <atomic>
#include <cstddef>

extern "C" {
// `config`: "KEY=VALUE" lines (settings.h's LEAKPROBE_* names, '\n' between them). 0, or a
// negative errno after one stderr line: -EINVAL (unknown key, a line without '='),
// -EEXIST (the probe was preloaded: use `leakprobe enable`), -EALREADY (attached already),
// -ENOMEM (no tables), -ENOSYS (nothing to rewrite).
__attribute__((visibility("default"))) int leakprobe_attach(const char* config);
// 0 once every rewritten slot is back and recording is off; -EINVAL if not attached.
__attribute__((visibility("default"))) int leakprobe_detach(void);
}

namespace leakprobe {

enum class AttachState : int { kPreloaded, kInert, kAttached, kDetached };
namespace detail {
extern std::atomic<int> g_attach_state;
}
inline AttachState attach_state() {
  return static_cast<AttachState>(detail::g_attach_state.load(std::memory_order_acquire));
}

// The constructor found itself dlopen()ed into a running process: stay inert.
void attach_note_loaded_after_start();

// After a dlopen the probe made on the caller's behalf (interpose_dl.cpp): rewrite the
// modules it loaded. No-op unless attached.
void attach_after_dlopen();

}  // namespace leakprobe
