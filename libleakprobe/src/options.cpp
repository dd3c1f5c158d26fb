#include "options.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <initializer_list>

#include "memory_limit.h"

namespace leakprobe {
namespace {

using settings::Setting;
using settings::Verdict;

void append(Settings* o, std::initializer_list<const char*> parts) {
  size_t n = strlen(o->warnings);
  for (const char* s : parts) {
    size_t len = strlen(s);
    if (n + len + 2 > sizeof(o->warnings)) return;
    memcpy(o->warnings + n, s, len);
    n += len;
  }
  o->warnings[n++] = '\n';
  o->warnings[n] = '\0';
}

// Relative to the start-up directory, made absolute so a later chdir (daemons do chdir("/"))
// does not move the snapshots. False if the result would be too long.
bool set_output_dir(WriterConfig* w, const char* value) {
  size_t len = strlen(value);
  if (value[0] == '/') {
    memcpy(w->output_dir, value, len + 1);
    return true;
  }
  size_t clen = strlen(w->output_dir);
  if (clen + 1 + len + 1 > settings::kMaxPath) return false;
  w->output_dir[clen] = '/';
  memcpy(w->output_dir + clen + 1, value, len + 1);
  return true;
}

// The one place where a parsed value meets its field.
void store(Settings* o, settings::Id id, uint64_t v) {
  switch (id) {
    case settings::kEnabled:
      o->tracker.enabled = v != 0;
      break;
    case settings::kSignal:
      o->writer.signal = static_cast<int>(v);
      break;
    case settings::kInterval:
      o->writer.interval_ms = v;
      break;
    case settings::kAtExit:
      o->writer.at_exit = v != 0;
      break;
    case settings::kDepth:
      o->tracker.depth = static_cast<int>(v);
      break;
    case settings::kSampleBytes:
      o->tracker.sample_bytes = v;
      break;
    case settings::kControl:
      o->writer.control_socket = v != 0;
      break;
    case settings::kMaxStacks:
      o->tracker.max_stacks = v;
      break;
    case settings::kVerifyUnwind:
      o->tracker.verify_unwind = v != 0;
      break;
    case settings::kResources:
      o->tracker.resources = v != 0;
      break;
    case settings::kQuiet:
      o->quiet = v != 0;
      break;
    case settings::kKeep:
      o->writer.keep = static_cast<unsigned>(v);
      break;
    case settings::kPeak:
      o->writer.peak = v != 0;
      break;
    case settings::kPeakGrowth:
      o->writer.peak_growth_pct = static_cast<unsigned>(v);
      break;
    case settings::kOutputDir:  // a path: see set_output_dir
    case settings::kLibrary:    // read by the CLI only
    case settings::kNumSettings:
      break;
  }
}

void reject(Settings* o, const Setting& s, const char* value, Verdict v) {
  char why[160];
  settings::describe_refusal(s, v, why, sizeof(why));
  const char* fallback = s.id == settings::kOutputDir ? o->writer.output_dir : s.default_text;
  append(o, {s.name, "=", value, " ", why, "; using ", fallback});
}

}  // namespace

uint64_t stack_bytes(int depth) {
  // A bucket: two cache lines of header and counters, then its frames, rounded to a line
  // (stack_table.cpp); its index entry; and up to 8 hash slots of 8 bytes (the slot array
  // doubles at 50% load, and the arrays it outgrew are kept for lock-free readers).
  const uint64_t bucket = (128 + 8 * static_cast<uint64_t>(depth > 0 ? depth : 1) + 63) & ~63ull;
  return bucket + 8 + 64;
}

void fit_max_stacks(Settings* out, uint64_t memory_bytes, bool cgroup) {
  if (memory_bytes == 0) return;  // unknown: nothing to tie the range to
  const uint64_t share = memory_bytes / kMaxStacksMemoryShare;
  const uint64_t fit = share / stack_bytes(out->tracker.depth);
  const uint64_t floor = settings::setting(settings::kMaxStacks).min;
  if (out->tracker.max_stacks <= fit || out->tracker.max_stacks <= floor) return;
  const uint64_t use = fit > floor ? fit : floor;
  char asked[24], table[24], machine[24], used[24];
  snprintf(asked, sizeof(asked), "%zu", out->tracker.max_stacks);
  snprintf(table, sizeof(table), "%llu",
           static_cast<unsigned long long>(
               out->tracker.max_stacks * stack_bytes(out->tracker.depth) >> 20));
  snprintf(machine, sizeof(machine), "%llu", static_cast<unsigned long long>(memory_bytes >> 20));
  snprintf(used, sizeof(used), "%llu", static_cast<unsigned long long>(use));
  if (cgroup) {
    append(out, {"LEAKPROBE_MAX_STACKS=", asked, " would let the stack table grow to ", table,
                 " MiB, more than an eighth of the ", machine,
                 " MiB this process's cgroup may use (its memory limit); using ", used});
  } else {
    append(out, {"LEAKPROBE_MAX_STACKS=", asked, " would let the stack table grow to ", table,
                 " MiB, more than an eighth of this machine's ", machine, " MiB; using ", used});
  }
  out->tracker.max_stacks = use;
}

int default_signal() {
  int sig = 0;
  settings::parse_signal_spec(settings::setting(settings::kSignal).default_text, &sig);
  return sig;
}

void parse_settings(const char* const* env, const char* cwd, Settings* out) {
  *out = Settings();
  out->writer.signal = default_signal();
  strncpy(out->writer.output_dir, cwd ? cwd : ".", settings::kMaxPath - 1);
  for (const char* const* e = env; e && *e; ++e) {
    const char* kv = *e;
    if (strncmp(kv, "LEAKPROBE_", 10) != 0) continue;
    const char* eq = strchr(kv, '=');
    if (!eq) continue;
    const char* value = eq + 1;
    const Setting* s = settings::find_setting(kv, static_cast<size_t>(eq - kv));
    if (!s) {
      char key[64];
      size_t klen = static_cast<size_t>(eq - kv);
      if (klen >= sizeof(key)) klen = sizeof(key) - 1;
      memcpy(key, kv, klen);
      key[klen] = '\0';
      append(out, {key, " is not a leakprobe setting; ignored"});
      continue;
    }
    if (s->reader != settings::Reader::kProbe) continue;
    uint64_t v = 0;
    Verdict verdict = settings::parse_setting(*s, value, &v);
    if (verdict == Verdict::kOk && s->id == settings::kOutputDir &&
        !set_output_dir(&out->writer, value))
      verdict = Verdict::kMalformed;
    if (verdict != Verdict::kOk) {
      reject(out, *s, value, verdict);
    } else if (s->id != settings::kOutputDir) {
      store(out, s->id, v);
    }
  }
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  const MemoryLimit memory =
      process_memory_limit("/", pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * page : 0);
  fit_max_stacks(out, memory.bytes, memory.cgroup);
}

}  // namespace leakprobe
