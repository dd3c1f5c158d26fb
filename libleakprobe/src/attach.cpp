// leakprobe_attach / leakprobe_detach, and the attach state the rest of the probe asks.
//
// Detach leaves the writer thread, the control socket and the snapshot signal in place,
// dormant (recording off), rather than tearing them down: the detach may arrive on the
// control socket, i.e. on the writer thread itself, which cannot join itself; a dormant probe
// is a state the project already runs and tests (LEAKPROBE_ENABLED=0, `leakprobe disable`);
// a later attach finds them ready. The thread sleeps in ppoll and costs nothing measurable;
// no host call reaches the probe any more, so the process runs at full speed.
#include "attach.h"

#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "got_patch.h"
#include "guard.h"
#include "host_allocator.h"
#include "leakprobe/settings.h"
#include "log.h"
#include "memory_census.h"
#include "probe.h"
#include "tracker.h"
#include "writer.h"

// interpose_dl.cpp: while set, every dlopen goes through its slow path.
extern "C" std::atomic<uint8_t> leakprobe_dlopen_watch;

namespace leakprobe {

namespace detail {
std::atomic<int> g_attach_state{static_cast<int>(AttachState::kPreloaded)};
}

namespace {

pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
bool g_started = false;  // tracker, writer and socket exist (first attach)
Settings g_settings;     // the first attach's: the tables are sized by them
std::atomic<unsigned long long> g_seen_adds{0};

void set_state(AttachState s) {
  detail::g_attach_state.store(static_cast<int>(s), std::memory_order_release);
  leakprobe_dlopen_watch.store(s == AttachState::kAttached ? 1 : 0, std::memory_order_release);
}

// The config as an environ-like array for parse_settings, refusing what parse_settings would
// ignore: an unknown key, or one that only the CLI reads.
constexpr size_t kMaxConfig = 16384;
constexpr size_t kMaxLines = 64;
char g_text[kMaxConfig];
const char* g_env[kMaxLines + 1];

int parse_config(const char* config, Settings* out) {
  if (!config) config = "";
  const size_t len = strnlen(config, kMaxConfig);
  if (len == kMaxConfig) {
    log_line("attach: the settings are longer than 16 KiB; not attaching");
    return -EINVAL;
  }
  memcpy(g_text, config, len + 1);
  size_t n = 0;
  for (char* line = g_text; line && *line;) {
    char* nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    size_t l = strlen(line);
    if (l && line[l - 1] == '\r') line[--l] = '\0';
    if (l) {
      const char* eq = strchr(line, '=');
      const settings::Setting* s =
          eq ? settings::find_setting(line, static_cast<size_t>(eq - line)) : nullptr;
      if (!s || s->reader != settings::Reader::kProbe) {
        log_line("attach: \"", line,
                 eq ? "\" is not a setting of the probe (LEAKPROBE_* names, docs/settings.md)"
                    : "\" is not KEY=VALUE",
                 "; not attaching");
        return -EINVAL;
      }
      if (n == kMaxLines) {
        log_line("attach: more than 64 settings; not attaching");
        return -EINVAL;
      }
      g_env[n++] = line;
    }
    line = nl ? nl + 1 : nullptr;
  }
  g_env[n] = nullptr;
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof(cwd))) strcpy(cwd, "/tmp");
  *out = Settings{};
  parse_settings(g_env, cwd, out);
  return 0;
}

// A second attach reuses the first one's tables and writer: what sized or placed them cannot
// change without a restart.
bool same_setup(const Settings& a, const Settings& b) {
  return a.tracker.sample_bytes == b.tracker.sample_bytes && a.tracker.depth == b.tracker.depth &&
         a.tracker.max_stacks == b.tracker.max_stacks &&
         a.tracker.resources == b.tracker.resources &&
         strcmp(a.writer.output_dir, b.writer.output_dir) == 0;
}

// The writer's 200 ms tick: modules loaded since the last pass by a path that did not come
// back through the probe (a dlopen whose library search depends on its caller, dlmopen into
// the base namespace, a library's own loader calls) are rewritten here.
void tick() {
  if (attach_state() != AttachState::kAttached) return;
  const unsigned long long adds = got::loader_adds();
  if (adds == g_seen_adds.load(std::memory_order_relaxed)) return;
  if (pthread_mutex_trylock(&g_lock) != 0) return;  // an attach, detach or dlopen pass: later
  if (attach_state() == AttachState::kAttached) {
    g_seen_adds.store(adds, std::memory_order_relaxed);
    got::patch_all();
  }
  pthread_mutex_unlock(&g_lock);
}

bool detach_request(char* reply, size_t size) {
  if (attach_state() != AttachState::kAttached) {
    snprintf(reply, size, "%s",
             attach_state() == AttachState::kDetached
                 ? "not attached: detached already"
                 : "the probe was preloaded, not attached: nothing to put back (use disable)");
    return false;
  }
  const size_t before = got::patched_slots();
  leakprobe_detach();
  snprintf(reply, size, "detached restored=%zu", before);
  return true;
}

const char* attach_word() {
  switch (attach_state()) {
    case AttachState::kAttached:
      return "attached";
    case AttachState::kDetached:
      return "detached";
    default:
      return nullptr;
  }
}

int first_attach(const Settings& s) {
  log_remember_stderr();  // the process's stderr as it is now
  print_warnings(s.warnings);
  if (!got::init_hooks(reinterpret_cast<const void*>(&leakprobe_attach))) {
    log_line("attach: cannot read the probe's own symbol table; not attaching");
    return -ENOSYS;
  }
  // The program's calls will reach us through the rewritten slots, whichever allocator the
  // probe forwards to: its malloc is no longer "foreign".
  forget_foreign_allocator();
  writer_set_attach_hooks(AttachHooks{tick, detach_request, attach_word});
  if (!start_probe_parts(s, StartMode::kAttach)) return -ENOMEM;  // said by the tracker
  g_settings = s;
  g_started = true;
  return 0;
}

int again(const Settings& s) {
  if (!same_setup(g_settings, s)) {
    log_line(
        "attach: the probe in this process was set up with other settings (sampling, depth, "
        "stack table, resources or output directory); attach again with the same ones, or "
        "restart the program to change them");
    return -EINVAL;
  }
  print_warnings(s.warnings);
  Tracker* t = tracker();
  if (!t || !t->active()) {
    log_line("attach: the probe stopped after an error earlier; not attaching");
    return -ENOMEM;
  }
  // Everything recorded before the detach was freed unseen since, or is still live but no
  // longer ours to count: start from nothing, like a first attach.
  t->forget_all_blocks();
  if (s.tracker.enabled) memory_note_recording_started(true);
  t->set_recording(s.tracker.enabled);
  return 0;
}

}  // namespace

void attach_note_loaded_after_start() { set_state(AttachState::kInert); }

void attach_after_dlopen() {
  if (attach_state() != AttachState::kAttached) return;
  const int saved = errno;
  Guard g;
  pthread_mutex_lock(&g_lock);
  if (attach_state() == AttachState::kAttached) {
    g_seen_adds.store(got::loader_adds(), std::memory_order_relaxed);
    got::patch_all();
  }
  pthread_mutex_unlock(&g_lock);
  errno = saved;
}

}  // namespace leakprobe

using leakprobe::AttachState;

extern "C" int leakprobe_attach(const char* config) {
  using namespace leakprobe;
  Guard g;
  pthread_mutex_lock(&g_lock);
  int rc = 0;
  const AttachState state = attach_state();
  Settings s;
  if (state == AttachState::kPreloaded) {
    log_line(
        "attach: the probe was preloaded into this process; nothing to attach (use "
        "`leakprobe enable PID` to record)");
    rc = -EEXIST;
  } else if (state == AttachState::kAttached) {
    rc = -EALREADY;
  } else {
    rc = parse_config(config, &s);
    if (rc == 0) rc = g_started ? again(s) : first_attach(s);
  }
  if (rc != 0) {
    pthread_mutex_unlock(&g_lock);
    return rc;
  }
  Tracker* t = tracker();
  // Exact mode counts the frees of blocks it never saw (the heap from before); sampled mode
  // never looks most of them up.
  t->note_attached(0, s.tracker.sample_bytes == 0);
  set_state(AttachState::kAttached);
  g_seen_adds.store(got::loader_adds(), std::memory_order_relaxed);
  const got::PassResult r = got::patch_all();
  if (r.written == 0) {
    set_state(AttachState::kDetached);
    t->set_recording(false);
    pthread_mutex_unlock(&g_lock);
    log_line(
        "attach: no module calls any function the probe records through a GOT slot "
        "(a static program?); not attaching");
    return -ENOSYS;
  }
  char head[160];
  snprintf(head, sizeof(head), "attached: %zu calls in %zu modules rewritten; profiling pid ",
           r.written, r.modules);
  announce_start(s, head);
  pthread_mutex_unlock(&g_lock);
  return 0;
}

extern "C" int leakprobe_detach(void) {
  using namespace leakprobe;
  Guard g;
  pthread_mutex_lock(&g_lock);
  if (attach_state() != AttachState::kAttached) {
    const bool detached = attach_state() == AttachState::kDetached;
    pthread_mutex_unlock(&g_lock);
    return detached ? 0 : -EINVAL;
  }
  // No new pass from here (dlopen wrapper, writer tick), then every slot back, then recording
  // off: a call already inside one of our functions finishes there and is still correct.
  set_state(AttachState::kDetached);
  const got::PassResult r = got::restore_all();
  if (Tracker* t = tracker()) t->set_recording(false);
  char n[24];
  fmt_u64(n, r.written);
  if (!g_settings.quiet)
    log_line("detached: ", n,
             " calls put back; recording off, the library stays loaded (dormant) until the "
             "next attach");
  pthread_mutex_unlock(&g_lock);
  return 0;
}
