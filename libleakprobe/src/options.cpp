#include "options.h"

#include <csignal>
#include <cstring>
#include <initializer_list>

#include "log.h"

namespace leakprobe {
namespace {

bool parse_u64(const char* s, uint64_t* out) {
  if (!*s) return false;
  uint64_t v = 0;
  for (; *s; ++s) {
    if (*s < '0' || *s > '9') return false;
    uint64_t d = static_cast<uint64_t>(*s - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

bool parse_bool(const char* s, bool* out) {
  if (!strcmp(s, "1") || !strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "on")) {
    *out = true;
    return true;
  }
  if (!strcmp(s, "0") || !strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "off")) {
    *out = false;
    return true;
  }
  return false;
}

void append(Options* o, const char* a, const char* b = "", const char* c = "", const char* d = "",
            const char* e = "") {
  size_t n = strlen(o->warnings);
  for (const char* s : {a, b, c, d, e}) {
    size_t len = strlen(s);
    if (n + len + 2 > sizeof(o->warnings)) return;
    memcpy(o->warnings + n, s, len);
    n += len;
  }
  o->warnings[n++] = '\n';
  o->warnings[n] = '\0';
}

void reject(Options* o, const char* key, const char* value, const char* why, const char* fallback) {
  append(o, key, "=", value, why, fallback);
}

}  // namespace

int default_signal() { return SIGRTMIN + 7; }

int parse_signal(const char* spec) {
  if (!strcmp(spec, "0") || !strcmp(spec, "off") || !strcmp(spec, "none")) return 0;
  const char* s = spec;
  if (!strncmp(s, "SIG", 3)) s += 3;
  int sig = -1;
  uint64_t v = 0;
  if (!strncmp(s, "RTMIN", 5)) {
    s += 5;
    if (!*s) {
      sig = SIGRTMIN;
    } else if (*s == '+' && parse_u64(s + 1, &v) && v <= 64) {
      sig = SIGRTMIN + static_cast<int>(v);
    }
  } else if (!strncmp(s, "RTMAX", 5)) {
    s += 5;
    if (!*s) {
      sig = SIGRTMAX;
    } else if (*s == '-' && parse_u64(s + 1, &v) && v <= 64) {
      sig = SIGRTMAX - static_cast<int>(v);
    }
  } else if (parse_u64(s, &v) && v < 1024) {
    sig = static_cast<int>(v);
  } else {
    // Names of classic signals are recognised only to refuse them with a clear reason.
    static const char* const kNames[] = {"HUP",  "INT",  "QUIT", "ILL",  "TRAP", "ABRT", "BUS",
                                         "FPE",  "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM",
                                         "TERM", "CHLD", "CONT", "STOP", "TSTP", "SYS"};
    for (const char* n : kNames) {
      if (!strcmp(s, n)) return -2;
    }
    return -1;
  }
  if (sig < 0) return -1;
  // Only real-time signals: every classic one already has a meaning to the host (mosquitto
  // uses SIGHUP, SIGUSR1, SIGUSR2; others stop, kill or report faults).
  if (sig < SIGRTMIN || sig > SIGRTMAX) return -2;
  return sig;
}

void parse_options(const char* const* env, const char* cwd, Options* out) {
  *out = Options();
  out->signal = default_signal();
  strncpy(out->output_dir, cwd ? cwd : ".", sizeof(out->output_dir) - 1);
  char num[24];
  for (const char* const* e = env; e && *e; ++e) {
    const char* kv = *e;
    if (strncmp(kv, "LEAKPROBE_", 10) != 0) continue;
    const char* eq = strchr(kv, '=');
    if (!eq) continue;
    const char* value = eq + 1;
    size_t klen = static_cast<size_t>(eq - kv);
    char key[64];
    if (klen >= sizeof(key)) klen = sizeof(key) - 1;
    memcpy(key, kv, klen);
    key[klen] = '\0';
    uint64_t v = 0;
    bool b = false;

    if (!strcmp(key, "LEAKPROBE_ENABLED")) {
      if (parse_bool(value, &b))
        out->enabled = b;
      else
        reject(out, key, value, " is not 0 or 1; using ", "1");
    } else if (!strcmp(key, "LEAKPROBE_AT_EXIT")) {
      if (parse_bool(value, &b))
        out->at_exit = b;
      else
        reject(out, key, value, " is not 0 or 1; using ", "1");
    } else if (!strcmp(key, "LEAKPROBE_QUIET")) {
      if (parse_bool(value, &b))
        out->quiet = b;
      else
        reject(out, key, value, " is not 0 or 1; using ", "0");
    } else if (!strcmp(key, "LEAKPROBE_STACK_CACHE")) {
      if (parse_bool(value, &b))
        out->stack_cache = b;
      else
        reject(out, key, value, " is not 0 or 1; using ", "1");
    } else if (!strcmp(key, "LEAKPROBE_CONTROL")) {
      if (parse_bool(value, &b))
        out->control_socket = b;
      else
        reject(out, key, value, " is not 0 or 1; using ", "1");
    } else if (!strcmp(key, "LEAKPROBE_OUTPUT_DIR")) {
      size_t len = strlen(value);
      if (len == 0 || len >= sizeof(out->output_dir) - 64) {
        reject(out, key, value, " is empty or too long; using ", out->output_dir);
      } else if (value[0] == '/') {
        memcpy(out->output_dir, value, len + 1);
      } else {
        // Relative to the start-up directory, made absolute so a later chdir (daemons do
        // chdir("/")) does not move the snapshots.
        char abs[PATH_MAX];
        size_t clen = strlen(out->output_dir);
        if (clen + 1 + len + 1 > sizeof(out->output_dir) - 64) {
          reject(out, key, value, " is too long; using ", out->output_dir);
        } else {
          memcpy(abs, out->output_dir, clen);
          abs[clen] = '/';
          memcpy(abs + clen + 1, value, len + 1);
          memcpy(out->output_dir, abs, clen + 1 + len + 1);
        }
      }
    } else if (!strcmp(key, "LEAKPROBE_SIGNAL")) {
      int sig = parse_signal(value);
      if (sig == -1)
        reject(out, key, value, " is not a signal; using ", "SIGRTMIN+7");
      else if (sig == -2)
        reject(out, key, value,
               " is refused (only real-time signals SIGRTMIN..SIGRTMAX, or 0 for none); using ",
               "SIGRTMIN+7");
      else
        out->signal = sig;
    } else if (!strcmp(key, "LEAKPROBE_INTERVAL")) {
      if (parse_u64(value, &v) && v <= 86400 * 365)
        out->interval_s = static_cast<unsigned>(v);
      else
        reject(out, key, value, " is not a number of seconds; using ", "0 (off)");
    } else if (!strcmp(key, "LEAKPROBE_DEPTH")) {
      if (parse_u64(value, &v) && v >= 1 && v <= 128)
        out->depth = static_cast<int>(v);
      else
        reject(out, key, value, " is not a depth in 1..128; using ", fmt_u64(num, 32));
    } else if (!strcmp(key, "LEAKPROBE_SAMPLE_BYTES")) {
      if (parse_u64(value, &v) && v <= (uint64_t{1} << 40))
        out->sample_bytes = v;
      else
        reject(out, key, value, " is not a byte count; using ", "0 (exact)");
    } else if (!strcmp(key, "LEAKPROBE_MAX_STACKS")) {
      if (parse_u64(value, &v) && v >= 1024 && v <= (uint64_t{1} << 26))
        out->max_stacks = v;
      else
        reject(out, key, value, " is not in 1024..67108864; using ", fmt_u64(num, 1 << 18));
    } else {
      append(out, key, " is not a leakprobe setting; ignored");
    }
  }
}

}  // namespace leakprobe
