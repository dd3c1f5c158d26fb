// `leakprobe attach`'s preflight: everything that decides, before the target is touched at all
// (no ptrace, no signal), whether loading the probe into a running process can work and be
// safe. The decision is a pure function over a plain view of /proc, so unit tests drive every
// refusal with fake inputs; reading the real /proc and the target's ELF files is separate.
// Why each check exists: docs/guide.md, "A service that is already running".
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace leakprobe::cli {

// What an ELF file says about itself, as far as attaching cares.
struct ElfFacts {
  bool readable = false;  // an ELF64 file we could parse; `error` says why not
  std::string error;
  bool has_interp = false;      // PT_INTERP: a dynamically linked program
  bool is_go = false;           // a .go.buildinfo section or a runtime.main symbol
  bool defines_dlopen = false;  // a defined (not imported) dynamic symbol `dlopen`
};

// Parses the ELF file at `path` (bounded: every offset is checked against the file size).
ElfFacts inspect_elf(const std::string& path);

// The fields of /proc/PID/status that matter here.
struct StatusFields {
  bool parsed = false;
  char state = '?';          // R, S, D, T, t, Z, X...
  uid_t uid[3] = {0, 0, 0};  // real, effective, saved
  int tracer_pid = 0;
  int seccomp = 0;  // 0 off, 1 strict, 2 filter
};
StatusFields parse_status(const std::string& text);

// The distinct file paths mapped in /proc/PID/maps, in order of first appearance (" (deleted)"
// kept: the caller decides).
std::vector<std::string> parse_map_paths(const std::string& text);

// Everything the decision needs, gathered by read_process_view or written by a test.
struct ProcessView {
  int pid = 0;
  bool exists = false;
  bool kernel_thread = false;
  bool memory_gone = false;  // /proc/PID/maps readable and empty: on its way out
  StatusFields status;
  bool maps_readable = false;
  std::vector<std::string> map_paths;
  bool dumpable = true;  // /proc/PID is owned by the process's uid (not root's after a
                         // change of user)
  uid_t my_uid = 0;
  bool have_cap_sys_ptrace = false;
  int ptrace_scope = -1;       // kernel.yama.ptrace_scope; -1: no Yama
  bool is_descendant = false;  // the target descends from this process
  std::string tracer_name;     // comm of TracerPid, if any
  ElfFacts exe;                // the program itself (/proc/PID/exe)
  std::string libc_path;       // the mapped libc (or libdl) that provides dlopen, if found
  ElfFacts libc;
  bool libc_found = false;
  // The probe came in through LD_PRELOAD (`leakprobe run`, a systemd drop-in), from
  // /proc/PID/environ: such a probe can be switched off, never taken out. One mapped without
  // it was attached earlier (dlopen) and may be attached again.
  bool probe_preloaded = false;
};

// True when /proc/PID/environ preloads libleakprobe.
bool environ_preloads_probe(int pid);

ProcessView read_process_view(int pid);

// The probe's file name as it appears in /proc/PID/maps.
bool maps_show_probe(const std::vector<std::string>& map_paths);

struct Verdict {
  bool ok = false;
  // One line (no trailing newline) saying why not, and what to do instead.
  std::string reason;
};

// The first reason attaching must not be tried, in the order a user can act on them.
Verdict judge_attach(const ProcessView& view);

}  // namespace leakprobe::cli
