// The probe's lifecycle in a host process: settings, tracker, writer, fork and exit hooks,
// started once from the library constructor.
#include "probe.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "attach.h"
#include "control_socket.h"
#include "fd_scan.h"
#include "fork.h"
#include "guard.h"
#include "log.h"
#include "memory_census.h"
#include "options.h"
#include "preload_order.h"
#include "real_alloc.h"
#include "resource_table.h"
#include "signal_trigger.h"
#include "tracker.h"
#include "writer.h"

extern char** environ;

namespace leakprobe {

// The interposers' one-time setup (interpose_fd.cpp, interpose_thread.cpp,
// interpose_timer.cpp).
void resolve_fd_functions();
void resolve_timer_functions();
void init_thread_tracking();

namespace {

Settings g_settings;  // plain data: no constructor work, no destructor at exit
// Distinct creating stacks of descriptors, timers and threads kept (a few hundred in a broker).
constexpr size_t kResourceStacks = 1 << 16;

}  // namespace

void print_warnings(const char* warnings) {
  const char* line = warnings;
  while (*line) {
    const char* nl = strchr(line, '\n');
    char buf[512];
    size_t n = nl ? static_cast<size_t>(nl - line) : strlen(line);
    if (n >= sizeof(buf)) n = sizeof(buf) - 1;
    memcpy(buf, line, n);
    buf[n] = '\0';
    log_line(buf);
    if (!nl) break;
    line = nl + 1;
  }
}

namespace {

void at_exit() {
  // After `leakprobe detach` the process is to run as if never attached: no file at exit.
  if (attach_state() != AttachState::kDetached) writer_at_exit();
}

// " (signal 41, control socket @leakprobe.<ns>.<pid>)": only what works now. What could not
// be set up (or was turned off) has had its own line already, or was asked for.
void announce_triggers(char* out, size_t size) {
  out[0] = '\0';
  const SignalTrigger& trigger = signal_trigger();
  const ControlSocket& control = control_socket();
  const bool sig = trigger.served(), sock = control.fd() >= 0;
  if (sig && sock)
    snprintf(out, size, " (signal %d, control socket @%s)", trigger.signal(), control.name());
  else if (sig)
    snprintf(out, size, " (signal %d)", trigger.signal());
  else if (sock)
    snprintf(out, size, " (control socket @%s)", control.name());
}

}  // namespace

bool start_probe_parts(const Settings& settings, StartMode how) {
  // Before anything of the probe's own is opened (the unwinder's pipe, the control socket,
  // the descriptor reserve): what is open now was the host's before the probe loaded (or
  // before the attach).
  if (settings.tracker.resources) {
    resolve_fd_functions();
    resolve_timer_functions();
    if (ResourceTable* r = create_resources(kResourceStacks, settings.tracker.depth)) {
      record_inherited_fds(*r);
      init_thread_tracking();
    }
  }
  // Dormant (LEAKPROBE_ENABLED=0) still starts everything: the tracker records nothing until
  // `leakprobe enable PID` arrives on the control socket, which needs the writer thread.
  memory_census_init();
  // Before the tracker starts recording: the heap live now is the host's start-up (or, when
  // attaching, everything the process allocated before the attach).
  if (settings.tracker.enabled) memory_note_recording_started(how == StartMode::kAttach);
  // Another allocator serves the program's malloc: the heap stays unrecorded from the start
  // (a block recorded through the few calls that do reach us would be freed unseen). When
  // attaching, the program's calls reach us through the rewritten slots whichever allocator
  // it uses.
  const bool foreign = how == StartMode::kPreload && check_preload_order();
  Tracker* t = create_tracker(settings.tracker, !foreign);
  if (!t) return false;
  if (foreign) t->note_incomplete(Tracker::Gap::kForeignMalloc, nullptr);  // said just above
  t->set_usable_size(real_alloc().malloc_usable_size);
  install_fork_handlers();
  writer_start(t, settings.writer);
  atexit(at_exit);
  return true;
}

void announce_start(const Settings& settings, const char* attached) {
  if (settings.quiet) return;
  char pid[24], tail[160];
  fmt_u64(pid, static_cast<uint64_t>(getpid()));
  announce_triggers(tail, sizeof(tail));
  if (settings.tracker.enabled) {
    log_line(attached ? attached : "profiling pid ", pid, ", snapshots in ",
             settings.writer.output_dir, tail);
  } else {
    char how[112];
    if (control_socket().fd() >= 0)
      snprintf(how, sizeof(how),
               " (LEAKPROBE_ENABLED=0): recording nothing until `leakprobe enable %d`", getpid());
    else
      snprintf(how, sizeof(how),
               " (LEAKPROBE_ENABLED=0): recording nothing, and without its control socket "
               "nothing can enable it");
    log_line("loaded dormant in pid ", pid, how, tail);
  }
}

namespace {

__attribute__((constructor)) void start_probe() {
  Guard g;
  real_alloc();  // resolve now, while the process is still single-threaded
  // dlopen()ed into a running process (`leakprobe attach`): nothing visible happens until
  // leakprobe_attach() is called; no thread, no socket, no line.
  if (loaded_after_start()) {
    attach_note_loaded_after_start();
    return;
  }
  log_remember_stderr();  // before anything is said: see log.h
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof(cwd))) strcpy(cwd, "/tmp");
  parse_settings(environ, cwd, &g_settings);
  print_warnings(g_settings.warnings);
  if (start_probe_parts(g_settings, StartMode::kPreload)) announce_start(g_settings, nullptr);
}

}  // namespace
}  // namespace leakprobe
