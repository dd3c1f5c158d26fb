// Every LEAKPROBE_* setting, defined once: name, kind, default, limits and a one-line help.
//
// The probe's parser (libleakprobe/src/options.cpp) loops over this table, `leakprobe run`
// builds its command-line options from it and validates them with the same parse_setting(),
// and a CTest test checks that every row is documented in docs/settings.md. A setting added
// here therefore reaches all three, and the CLI cannot accept a value the probe refuses.
//
// Like snapshot_format.h this header is plain constexpr data plus small inline functions: no
// allocation, no libstdc++ types, safe inside the preloaded library.
#pragma once

#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "leakprobe/byte_size.h"

namespace leakprobe::settings {

enum class Kind {
  kFlag,     // 1/0, yes/no, true/false, on/off
  kCount,    // a whole number in min..max
  kBytes,    // a size in min..max bytes, in the syntax of byte_size.h ("512K", "10MiB")
  kSeconds,  // seconds with up to 3 decimals ("1.5"), kept in milliseconds, min..max in ms
  kPath,     // a file-system path
  kSignal,   // a real-time signal spec, or 0/off/none
};

// Who reads the variable. The probe ignores (silently) what only the CLI reads, because
// `leakprobe run` leaves it in the environment the profiled program inherits.
enum class Reader { kProbe, kCli };

enum Id {
  kEnabled,
  kOutputDir,
  kSignal,
  kInterval,
  kAtExit,
  kDepth,
  kSampleBytes,
  kControl,
  kMaxStacks,
  kVerifyUnwind,
  kResources,
  kQuiet,
  kKeep,
  kPeak,
  kPeakGrowth,
  kLibrary,
  kNumSettings,
};

struct Setting {
  Id id;
  const char* name;    // the environment variable
  const char* flag;    // `leakprobe run --<flag>`; nullptr: not a run option
  const char* letter;  // a one-letter alias for the flag, or nullptr
  Kind kind;
  Reader reader;
  uint64_t default_value;    // kFlag 0/1, kCount, kBytes, kSeconds in ms; unused otherwise
  const char* default_text;  // the default as users read it (messages, docs, --help)
  uint64_t min, max;         // kCount, kBytes, kSeconds (ms)
  const char* noun;          // "a depth": the phrase in "is not a depth in 1..128"
  const char* help;          // one line
};

inline constexpr uint64_t kYearMs = 365ull * 86400 * 1000;

inline constexpr Setting kTable[] = {
    {kEnabled, "LEAKPROBE_ENABLED", "enabled", nullptr, Kind::kFlag, Reader::kProbe, 1, "1", 0, 1,
     nullptr, "0 loads the probe dormant: nothing recorded until `leakprobe enable PID`"},
    {kOutputDir, "LEAKPROBE_OUTPUT_DIR", "output", "o", Kind::kPath, Reader::kProbe, 0,
     "the current directory at start-up", 0, 0, nullptr,
     "Directory for snapshots (created, mode 0700; relative paths are made absolute)"},
    {kSignal, "LEAKPROBE_SIGNAL", "signal", nullptr, Kind::kSignal, Reader::kProbe, 0, "SIGRTMIN+7",
     0, 0, nullptr,
     "Real-time signal that triggers a snapshot (SIGRTMIN+k, SIGRTMAX-k, a number; 0 = none)"},
    {kInterval, "LEAKPROBE_INTERVAL", "interval", "i", Kind::kSeconds, Reader::kProbe, 0, "0 (off)",
     0, kYearMs, "a number of seconds",
     "Also write a snapshot every S seconds (fractions allowed, e.g. 1.5; 0 = off)"},
    {kAtExit, "LEAKPROBE_AT_EXIT", "at-exit", nullptr, Kind::kFlag, Reader::kProbe, 1, "1", 0, 1,
     nullptr, "Write a snapshot when the program exits normally"},
    {kDepth, "LEAKPROBE_DEPTH", "depth", nullptr, Kind::kCount, Reader::kProbe, 32, "32", 1, 128,
     "a depth", "Maximum frames kept per stack"},
    {kSampleBytes, "LEAKPROBE_SAMPLE_BYTES", "sample-bytes", nullptr, Kind::kBytes, Reader::kProbe,
     0, "0 (exact)", 0, uint64_t{1} << 40, "a size",
     "Sample one allocation per SIZE bytes on average, e.g. 512K (0 = record all)"},
    {kControl, "LEAKPROBE_CONTROL", "control", nullptr, Kind::kFlag, Reader::kProbe, 1, "1", 0, 1,
     nullptr, "Open the control socket @leakprobe.<ns>.<pid> for `leakprobe snapshot PID`"},
    {kMaxStacks, "LEAKPROBE_MAX_STACKS", "max-stacks", nullptr, Kind::kCount, Reader::kProbe,
     uint64_t{1} << 18, "262144", 1024, uint64_t{1} << 26, "a stack count",
     "Distinct call stacks kept; when full, blocks from new stacks are counted without one"},
    {kVerifyUnwind, "LEAKPROBE_VERIFY_UNWIND", "verify-unwind", nullptr, Kind::kFlag,
     Reader::kProbe, 0, "0", 0, 1, nullptr,
     "Compare every stack with libunwind's and count mismatches (tests only)"},
    {kResources, "LEAKPROBE_RESOURCES", "resources", nullptr, Kind::kFlag, Reader::kProbe, 1, "1",
     0, 1, nullptr,
     "Track descriptors, POSIX timers and threads by creating stack (0 = heap only)"},
    {kQuiet, "LEAKPROBE_QUIET", "quiet", "q", Kind::kFlag, Reader::kProbe, 0, "0", 0, 1, nullptr,
     "1 suppresses the probe's start-up line (warnings are still printed)"},
    {kKeep, "LEAKPROBE_KEEP", "keep", nullptr, Kind::kCount, Reader::kProbe, 100, "100", 2, 100000,
     "a snapshot count",
     "Interval snapshots kept on disk: the first and the newest (others are never deleted)"},
    {kPeak, "LEAKPROBE_PEAK", "peak", nullptr, Kind::kFlag, Reader::kProbe, 0, "0", 0, 1, nullptr,
     "1 writes a snapshot whenever the live heap passes its last peak (newest kept)"},
    {kPeakGrowth, "LEAKPROBE_PEAK_GROWTH", "peak-growth", nullptr, Kind::kCount, Reader::kProbe, 10,
     "10", 1, 1000, "a percentage",
     "How far (%) the live heap must pass the last peak snapshot for a new one"},
    {kLibrary, "LEAKPROBE_LIBRARY", nullptr, nullptr, Kind::kPath, Reader::kCli, 0,
     "the one installed with the leakprobe command", 0, 0, nullptr,
     "Path of libleakprobe.so for `leakprobe run` (read by the CLI, not the probe)"},
};
static_assert(sizeof(kTable) / sizeof(kTable[0]) == kNumSettings, "one row per Id");

inline constexpr bool rows_in_id_order() {
  for (int i = 0; i < kNumSettings; ++i) {
    if (kTable[i].id != i) return false;
  }
  return true;
}
static_assert(rows_in_id_order(), "kTable[id].id == id");

inline constexpr const Setting& setting(Id id) { return kTable[id]; }

// The row for an environment variable name of `len` characters, or nullptr.
inline const Setting* find_setting(const char* name, size_t len) {
  for (const Setting& s : kTable) {
    if (strlen(s.name) == len && memcmp(s.name, name, len) == 0) return &s;
  }
  return nullptr;
}

// Parsing -------------------------------------------------------------------------------------

enum class Verdict { kOk, kMalformed, kRefused };

inline bool parse_u64(const char* s, uint64_t* out) {
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

// "1.5" -> 1500. Up to 3 decimals; no sign, no exponent, no locale.
inline bool parse_milliseconds(const char* s, uint64_t* out) {
  const char* dot = strchr(s, '.');
  char whole[24];
  size_t wlen = dot ? static_cast<size_t>(dot - s) : strlen(s);
  if (wlen >= sizeof(whole)) return false;
  memcpy(whole, s, wlen);
  whole[wlen] = '\0';
  uint64_t sec = 0;
  if (wlen == 0) {
    if (!dot) return false;  // "" is not a number; ".5" is
  } else if (!parse_u64(whole, &sec)) {
    return false;
  }
  uint64_t ms = 0;
  if (dot) {
    const char* f = dot + 1;
    size_t flen = strlen(f);
    if (flen == 0 || flen > 3) return false;
    for (size_t i = 0; i < 3; ++i) {
      char c = i < flen ? f[i] : '0';
      if (c < '0' || c > '9') return false;
      ms = ms * 10 + static_cast<uint64_t>(c - '0');
    }
  }
  if (sec > (UINT64_MAX - ms) / 1000) return false;
  *out = sec * 1000 + ms;
  return true;
}

// A signal spec: a number, "SIGRTMIN+k"/"RTMIN+k"/"SIGRTMAX-k", "SIGRTMIN"/"SIGRTMAX", or
// "0"/"off"/"none" (no signal trigger, *out = 0). kRefused: a signal that is not real-time
// (every classic one already has a meaning to the host: mosquitto uses SIGHUP, SIGUSR1 and
// SIGUSR2; the others stop, kill or report faults).
inline Verdict parse_signal_spec(const char* spec, int* out) {
  if (!strcmp(spec, "0") || !strcmp(spec, "off") || !strcmp(spec, "none")) {
    *out = 0;
    return Verdict::kOk;
  }
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
    static constexpr const char* kClassic[] = {
        "HUP",  "INT",  "QUIT", "ILL",  "TRAP", "ABRT", "BUS",  "FPE",  "KILL", "USR1",
        "SEGV", "USR2", "PIPE", "ALRM", "TERM", "CHLD", "CONT", "STOP", "TSTP", "SYS"};
    for (const char* n : kClassic) {
      if (!strcmp(s, n)) return Verdict::kRefused;
    }
    return Verdict::kMalformed;
  }
  if (sig < 0) return Verdict::kMalformed;
  if (sig < SIGRTMIN || sig > SIGRTMAX) return Verdict::kRefused;
  *out = sig;
  return Verdict::kOk;
}

// Paths leave room for the snapshot file name the writer appends.
inline constexpr size_t kMaxPath = 4096 - 64;

// Checks `text` against the row and, for every kind but kPath, stores the value in *out
// (flags 0/1, counts, milliseconds, the signal number). Paths are only checked here (not
// empty, not too long); making them absolute is the reader's job.
inline Verdict parse_setting(const Setting& s, const char* text, uint64_t* out) {
  uint64_t v = 0;
  switch (s.kind) {
    case Kind::kFlag:
      if (!strcmp(text, "1") || !strcmp(text, "yes") || !strcmp(text, "true") ||
          !strcmp(text, "on")) {
        *out = 1;
        return Verdict::kOk;
      }
      if (!strcmp(text, "0") || !strcmp(text, "no") || !strcmp(text, "false") ||
          !strcmp(text, "off")) {
        *out = 0;
        return Verdict::kOk;
      }
      return Verdict::kMalformed;
    case Kind::kCount:
      if (!parse_u64(text, &v) || v < s.min || v > s.max) return Verdict::kMalformed;
      *out = v;
      return Verdict::kOk;
    case Kind::kBytes:
      if (!parse_byte_size(text, strlen(text), &v) || v < s.min || v > s.max) {
        return Verdict::kMalformed;
      }
      *out = v;
      return Verdict::kOk;
    case Kind::kSeconds:
      if (!parse_milliseconds(text, &v) || v < s.min || v > s.max) return Verdict::kMalformed;
      *out = v;
      return Verdict::kOk;
    case Kind::kPath: {
      size_t len = strlen(text);
      return len == 0 || len >= kMaxPath ? Verdict::kMalformed : Verdict::kOk;
    }
    case Kind::kSignal: {
      int sig = 0;
      Verdict r = parse_signal_spec(text, &sig);
      if (r == Verdict::kOk) *out = static_cast<uint64_t>(sig);
      return r;
    }
  }
  return Verdict::kMalformed;
}

namespace detail {
inline char* put(char* p, char* end, const char* s) {
  while (*s && p < end) *p++ = *s++;
  return p;
}
inline char* put_u64(char* p, char* end, uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  while (n && p < end) *p++ = tmp[--n];
  return p;
}
// A size as byte_size.h reads it, in the largest unit that divides it: 1099511627776 -> "1T".
inline char* put_size(char* p, char* end, uint64_t v) {
  static constexpr const char* kUnits[] = {"", "K", "M", "G", "T"};
  unsigned u = 0;
  while (u < 4 && v != 0 && v % 1024 == 0) {
    v /= 1024;
    ++u;
  }
  p = put_u64(p, end, v);
  return put(p, end, kUnits[u]);
}
}  // namespace detail

// Why a value was refused, as one phrase after "<NAME>=<value> " (the probe) or
// "--<flag> <value>: " (the CLI): "is not a depth in 1..128". Written into buf (NUL-terminated).
inline void describe_refusal(const Setting& s, Verdict v, char* buf, size_t size) {
  if (size == 0) return;
  char* p = buf;
  char* end = buf + size - 1;
  switch (s.kind) {
    case Kind::kFlag:
      p = detail::put(p, end, "is not 0 or 1");
      break;
    case Kind::kCount:
      p = detail::put(p, end, "is not ");
      p = detail::put(p, end, s.noun);
      p = detail::put(p, end, " in ");
      p = detail::put_u64(p, end, s.min);
      p = detail::put(p, end, "..");
      p = detail::put_u64(p, end, s.max);
      break;
    case Kind::kBytes:
      // "is not a size in 0..1T (bytes, or with K, M, G, T: 512K, 10MiB)"
      p = detail::put(p, end, "is not ");
      p = detail::put(p, end, s.noun);
      p = detail::put(p, end, " in ");
      p = detail::put_size(p, end, s.min);
      p = detail::put(p, end, "..");
      p = detail::put_size(p, end, s.max);
      p = detail::put(p, end, " (bytes, or with K, M, G, T: 512K, 10MiB)");
      break;
    case Kind::kSeconds:
      p = detail::put(p, end, "is not ");
      p = detail::put(p, end, s.noun);
      p = detail::put(p, end, " in ");
      p = detail::put_u64(p, end, s.min / 1000);
      p = detail::put(p, end, "..");
      p = detail::put_u64(p, end, s.max / 1000);
      p = detail::put(p, end, " (up to 3 decimals)");
      break;
    case Kind::kPath:
      p = detail::put(p, end, "is empty or too long");
      break;
    case Kind::kSignal:
      p = detail::put(p, end,
                      v == Verdict::kRefused
                          ? "is refused (only real-time signals SIGRTMIN..SIGRTMAX, or 0 for none)"
                          : "is not a signal (SIGRTMIN+k, SIGRTMAX-k, a number, or 0 for none)");
      break;
  }
  *p = '\0';
}

}  // namespace leakprobe::settings
