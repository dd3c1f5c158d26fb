#include "leakprobe/cli/attach_injector.h"

#include <dlfcn.h>
#include <signal.h>
#include <sys/uio.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <thread>

#include "leakprobe/cli/attach_safety.h"
#include "leakprobe/cli/ptrace_session.h"
#include "leakprobe/cli/remote_call.h"
#include "leakprobe/cli/target_symbols.h"

namespace leakprobe::cli {

namespace {

std::string basename_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// A user shadow stack (CET): an injected call's return to an address no call pushed faults.
bool shadow_stack_on(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("x86_Thread_features:", 0) == 0) return line.find("shstk") != std::string::npos;
  }
  return false;
}

// While threads are held, a Ctrl-C or a TERM must not kill us half-way: the kernel would let
// the threads go with an injected call's registers. They wait until everything is put back.
class SignalShield {
 public:
  SignalShield() {
    sigset_t block;
    sigemptyset(&block);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGTSTP}) sigaddset(&block, s);
    ::pthread_sigmask(SIG_BLOCK, &block, &old_);
  }
  ~SignalShield() { ::pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

 private:
  sigset_t old_{};
};

// Everything known about the target's code that the injection needs.
struct TargetCode {
  std::string error;
  uint64_t dlopen = 0, dlsym = 0, dlerror = 0;
  // Where remote_call.h's return trampoline goes: padding of the C library's code (else the
  // loader's), which is never unmapped.
  uint64_t trampoline = 0;
  bool trampoline_in_libc = false;
  std::vector<AddressRange> unsafe;
  std::vector<MapEntry> maps;
};

void add_function_ranges(const LoadedModule& m, std::initializer_list<const char*> names,
                         std::vector<AddressRange>& out) {
  for (const auto& f : m.functions) {
    for (const char* n : names) {
      if (f.name == n && f.size > 0)
        out.push_back({f.value, f.value + f.size, f.name + " (" + basename_of(m.path) + ")"});
    }
  }
}

TargetCode survey(pid_t pid) {
  TargetCode code;
  code.maps = read_maps(pid, code.error);
  if (!code.error.empty()) return code;
  std::vector<std::string> seen;
  for (const auto& e : code.maps) {
    if (e.path.empty() || e.path[0] != '/') continue;
    bool known = false;
    for (const auto& s : seen) known = known || s == e.path;
    if (known) continue;
    seen.push_back(e.path);
    const std::string name = basename_of(e.path);
    const bool libc = starts_with(name, "libc.so") || starts_with(name, "libc-");
    const bool libdl = starts_with(name, "libdl.so") || starts_with(name, "libdl-");
    const bool loader = starts_with(name, "ld-linux") || starts_with(name, "ld-2.");
    const bool allocator = starts_with(name, "libjemalloc") || starts_with(name, "libtcmalloc") ||
                           starts_with(name, "libmimalloc") || starts_with(name, "libhoard");
    const bool probe = starts_with(name, "libleakprobe.so");
    if (!libc && !libdl && !loader && !allocator && !probe) continue;
    LoadedModule m = load_module(pid, code.maps, e.path);
    if ((libc || loader) && !code.trampoline_in_libc) {
      for (const auto& slack : m.code_slack) {
        if (slack.hi - slack.lo < 16) continue;
        code.trampoline = slack.lo;
        code.trampoline_in_libc = libc;
        break;
      }
    }
    if (loader || allocator || probe) {
      // Their whole code: the loader's lock is taken all over it, an allocator's locks too,
      // and the probe's own (a thread held in a hook) would be taken again by attach/detach;
      // the probe's only where a thread executes, since its own threads always have its
      // frames on their stacks while they wait.
      for (auto r : m.text) {
        r.what = (loader      ? "the dynamic loader ("
                  : allocator ? "the allocator ("
                              : "the probe (") +
                 name + ")";
        r.rip_only = probe;
        r.held_across_waits = loader;
        code.unsafe.push_back(r);
      }
      continue;
    }
    if (!m.ok) {
      if (libc)
        code.error = "cannot read the C library of pid " + std::to_string(pid) + ": " + m.error;
      continue;
    }
    if (libc) {
      const AddressRange alloc = allocator_text(m.functions, name);
      if (alloc.hi > alloc.lo) code.unsafe.push_back(alloc);
      // The loader's entry points in libc, and what holds the locks dlopen needs: the loader
      // lock (dl_iterate_phdr runs a callback under it), the stack cache (pthread_create),
      // every arena lock (fork).
      add_function_ranges(
          m,
          {"dlopen", "dlmopen", "dlclose", "dlsym", "dlvsym", "dladdr", "dladdr1", "dlinfo",
           "dlerror", "dl_iterate_phdr", "pthread_create", "fork", "_Fork"},
          code.unsafe);
    }
    if (!code.dlopen && m.address_of("dlopen")) {
      code.dlopen = m.address_of("dlopen");
      code.dlsym = m.address_of("dlsym");
      code.dlerror = m.address_of("dlerror");
    }
  }
  if (code.error.empty() && (!code.dlopen || !code.dlsym))
    code.error = "found no dlopen and dlsym in the C library of pid " + std::to_string(pid);
  // Refused before any thread is held (remote_call.h checks the executor again).
  if (code.error.empty() && !code.trampoline)
    code.error = "found no unused bytes after the code of pid " + std::to_string(pid) +
                 "'s C library or loader for attach's return path";
  if (code.error.empty() && shadow_stack_on(pid))
    code.error = "pid " + std::to_string(pid) +
                 " runs with CET shadow stacks, which attach does not support";
  return code;
}

uint64_t stack_room(const std::vector<MapEntry>& maps, uint64_t rsp) {
  for (const auto& e : maps) {
    if (rsp < e.start || rsp >= e.end) continue;
    // The main thread's stack grows on demand down to its rlimit.
    if (e.path == "[stack]") return 8ULL << 20;
    return rsp - e.start;
  }
  return 0;
}

std::vector<ThreadView> view_threads(PtraceSession& session, const std::vector<MapEntry>& maps) {
  std::vector<ThreadView> views;
  for (const auto& t : session.threads()) {
    if (t.gone) continue;
    ThreadView v;
    v.tid = t.tid;
    v.regs = t.regs;
    v.in_signal_stop = t.stopped_with_signal != 0;
    v.stack_room = stack_room(maps, t.regs.rsp);
    v.stack_words.resize(kStackWordsChecked);
    iovec local{v.stack_words.data(), v.stack_words.size() * sizeof(uint64_t)};
    iovec remote{reinterpret_cast<void*>(t.regs.rsp), local.iov_len};
    const ssize_t got = ::process_vm_readv(session.pid(), &local, 1, &remote, 1, 0);
    v.stack_words.resize(got > 0 ? static_cast<size_t>(got) / sizeof(uint64_t) : 0);
    views.push_back(std::move(v));
  }
  return views;
}

using Work = std::function<InjectResult(PtraceSession&, HeldThread&)>;

// Holds the process at a safe point (retrying a bounded number of times), runs `work` on the
// chosen thread, then lets everything go. The one place where threads are held and let go.
InjectResult at_safe_point(pid_t pid, const std::vector<AddressRange>& unsafe,
                           const std::vector<MapEntry>& maps, const InjectOptions& options,
                           const Work& work) {
  SignalShield shield;
  std::string last_why;
  for (int attempt = 0; attempt < options.attempts; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(options.retry_pause);
    PtraceSession session(pid, options.stop_timeout);
    if (std::string error = session.hold_all(); !error.empty()) return {false, error, 0};
    const std::vector<ThreadView> views = view_threads(session, maps);
    const SafetyVerdict verdict = judge_threads(views, unsafe);
    if (!verdict.safe) {
      last_why = verdict.why;
      if (std::string error = session.release(); !error.empty()) return {false, error, 0};
      continue;
    }
    HeldThread* executor = nullptr;
    for (auto& t : session.threads()) {
      if (t.tid == views[static_cast<size_t>(verdict.executor)].tid) executor = &t;
    }
    InjectResult result = work(session, *executor);
    if (std::string error = session.release(); !error.empty() && result.ok)
      return {false, error, result.probe_code};
    return result;
  }
  return {false,
          "pid " + std::to_string(pid) + " never came to a safe point in " +
              std::to_string(options.attempts) + " tries (" + last_why +
              "); nothing was done to it, try again",
          0};
}

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof(b), "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

}  // namespace

InjectResult inject_attach(pid_t pid, const std::string& library, const std::string& config,
                           const InjectOptions& options) {
  const TargetCode code = survey(pid);
  if (!code.error.empty()) return {false, code.error, 0};
  return at_safe_point(
      pid, code.unsafe, code.maps, options, [&](PtraceSession& session, HeldThread& thread) {
        RemoteCaller caller(session, thread, code.trampoline);
        auto failed = [&](std::string why) {
          const std::string undo = caller.restore();
          InjectResult res{false, undo.empty() ? why : why + "; and " + undo, 0};
          res.left_running = caller.left_running();
          return res;
        };
        if (!caller.error().empty()) return failed(caller.error());
        const uint64_t path = caller.push_string(library);
        if (!path) return failed(caller.error());
        auto r = caller.call(code.dlopen, {path, RTLD_NOW}, options.call_timeout);
        if (!r.ok) return failed("dlopen in pid " + std::to_string(pid) + ": " + r.error);
        const uint64_t handle = r.value;
        if (handle == 0) {
          std::string why = "(no reason given)";
          if (code.dlerror) {
            auto e = caller.call(code.dlerror, {}, options.call_timeout);
            if (e.ok && e.value) why = caller.read_string(e.value, 400);
          }
          return failed("pid " + std::to_string(pid) + " could not load " + library + ": " + why);
        }
        const uint64_t name = caller.push_string("leakprobe_attach");
        if (!name) return failed(caller.error());
        r = caller.call(code.dlsym, {handle, name}, options.call_timeout);
        if (!r.ok) return failed("dlsym in pid " + std::to_string(pid) + ": " + r.error);
        if (r.value == 0)
          return failed(library + " has no leakprobe_attach: it is not a probe this " +
                        "leakprobe can attach");
        const uint64_t attach = r.value;
        const uint64_t text = caller.push_string(config);
        if (!text) return failed(caller.error());
        r = caller.call(attach, {text}, options.call_timeout);
        if (!r.ok)
          return failed("leakprobe_attach at " + hex(attach) + " in pid " + std::to_string(pid) +
                        ": " + r.error);
        InjectResult done{true, {}, static_cast<int>(static_cast<int32_t>(r.value))};
        if (std::string undo = caller.restore(); !undo.empty()) return InjectResult{false, undo, 0};
        return done;
      });
}

InjectResult inject_detach(pid_t pid, const std::string& library_in_maps,
                           const InjectOptions& options) {
  const TargetCode code = survey(pid);
  if (!code.error.empty()) return {false, code.error, 0};
  const LoadedModule probe = load_module(pid, code.maps, library_in_maps);
  if (!probe.ok) return {false, probe.error, 0};
  const uint64_t detach = probe.address_of("leakprobe_detach");
  if (!detach)
    return {false, library_in_maps + " has no leakprobe_detach: this probe cannot be taken out", 0};
  return at_safe_point(
      pid, code.unsafe, code.maps, options, [&](PtraceSession& session, HeldThread& thread) {
        RemoteCaller caller(session, thread, code.trampoline);
        if (!caller.error().empty()) {
          const std::string undo = caller.restore();
          return InjectResult{false, caller.error() + (undo.empty() ? "" : "; and " + undo), 0};
        }
        auto r = caller.call(detach, {}, options.call_timeout);
        const std::string undo = caller.restore();
        if (!r.ok) {
          InjectResult res{false,
                           "leakprobe_detach in pid " + std::to_string(pid) + ": " + r.error +
                               (undo.empty() ? "" : "; and " + undo),
                           0};
          res.left_running = caller.left_running();
          return res;
        }
        if (!undo.empty()) return InjectResult{false, undo, 0};
        return InjectResult{true, {}, static_cast<int>(static_cast<int32_t>(r.value))};
      });
}

}  // namespace leakprobe::cli
