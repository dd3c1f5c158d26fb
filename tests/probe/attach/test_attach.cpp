// Attach mode without ptrace: this test program dlopen()s libleakprobe.so itself, as the
// injector makes a target do, and calls leakprobe_attach / leakprobe_detach from its own
// code. Each test runs in a fresh process (gtest_discover_tests runs one test per process),
// so the probe's state is never shared between tests.
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "attach_sites.h"
#include "harness.h"

using namespace probe_test;

namespace {

struct Probe {
  void* handle = nullptr;
  int (*attach)(const char*) = nullptr;
  int (*detach)() = nullptr;
};

Probe open_probe() {
  Probe p;
  p.handle = dlopen(PROBE_LIB, RTLD_NOW);
  if (!p.handle) {
    ADD_FAILURE() << "dlopen " << PROBE_LIB << ": " << dlerror();
    return p;
  }
  p.attach = reinterpret_cast<int (*)(const char*)>(dlsym(p.handle, "leakprobe_attach"));
  p.detach = reinterpret_cast<int (*)()>(dlsym(p.handle, "leakprobe_detach"));
  EXPECT_NE(p.attach, nullptr);
  EXPECT_NE(p.detach, nullptr);
  return p;
}

int task_count() {
  int n = 0;
  DIR* d = opendir("/proc/self/task");
  if (!d) return -1;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n;
}

std::string self_exe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
}

// "<value>" of `name=<value>` in a "k=v k=v" metadata value; "" if absent.
std::string field(const std::string& line, const std::string& name) {
  const std::string key = name + "=";
  size_t at = 0;
  while ((at = line.find(key, at)) != std::string::npos) {
    if (at == 0 || line[at - 1] == ' ') {
      const size_t start = at + key.size();
      return line.substr(start, line.find(' ', start) - start);
    }
    at += key.size();
  }
  return "";
}

class Attach : public TempDirTest {
 protected:
  Attach() : TempDirTest("attach") {}

  std::string config(const std::string& extra = "") const {
    return "LEAKPROBE_OUTPUT_DIR=" + dir_ + "\nLEAKPROBE_QUIET=1\n" + extra;
  }

  // A snapshot over the probe's control socket, loaded and checked for well-formedness.
  Snapshot take_snapshot() {
    const std::string reply = control_request(getpid(), "snapshot\n");
    EXPECT_EQ(reply.rfind("ok ", 0), 0u) << reply;
    std::string path = reply.size() > 3 ? reply.substr(3) : "";
    while (!path.empty() && path.back() == '\n') path.pop_back();
    Snapshot s = load(path);
    expect_well_formed(s);
    return s;
  }

  Counts at_site(const Snapshot& s, const std::string& fn, const std::string& module = "") {
    Symbolizer sym;
    sym.add_module(module.empty() ? self_exe() : module, s);
    return site(s, sym, fn);
  }
};

// dlopen alone: no thread, no socket, no stderr line, and the program's calls untouched.
TEST_F(Attach, DlopenWithoutAttachChangesNothing) {
  const int tasks = task_count();
  char path[] = "/tmp/leakprobe-attach-stderr-XXXXXX";
  const int capture = mkstemp(path);
  ASSERT_GE(capture, 0);
  unlink(path);
  const int saved = dup(2);
  dup2(capture, 2);
  Probe p = open_probe();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a thread would be up by now
  void* q = attach_leak_site(100);
  attach_free(q);
  dup2(saved, 2);
  close(saved);
  char buf[256];
  const ssize_t said = pread(capture, buf, sizeof(buf), 0);
  close(capture);
  EXPECT_EQ(said, 0) << std::string(buf, said > 0 ? static_cast<size_t>(said) : 0);
  EXPECT_EQ(task_count(), tasks);
  EXPECT_EQ(control_request(getpid(), "status\n"), "connect failed");
  // The program's malloc is still libc's, not the probe's.
  EXPECT_NE(dlsym(RTLD_DEFAULT, "malloc"), dlsym(p.handle, "malloc"));
  EXPECT_TRUE(all_files(dir_).empty());
}

TEST_F(Attach, RefusesUnknownSettingsBeforeStartingAnything) {
  Probe p = open_probe();
  const int tasks = task_count();
  EXPECT_EQ(p.attach("LEAKPROBE_NO_SUCH_THING=1\n"), -EINVAL);
  EXPECT_EQ(p.attach("not a setting\n"), -EINVAL);
  EXPECT_EQ(p.attach("LEAKPROBE_LIBRARY=/x.so\n"), -EINVAL);  // the CLI's, not the probe's
  EXPECT_EQ(task_count(), tasks);
  EXPECT_EQ(control_request(getpid(), "status\n"), "connect failed");
  EXPECT_EQ(p.detach(), -EINVAL);  // never attached
}

// A preloaded probe has nothing to attach: it says so and points to `enable`, and a
// preloaded probe's constructor did start (it is not mistaken for a dlopen()ed one).
TEST_F(Attach, PreloadedProbeRefusesAttach) {
  const std::string script =
      "import ctypes, sys\n"
      "h = ctypes.CDLL('" PROBE_LIB
      "')\n"
      "sys.exit(0 if h.leakprobe_attach(b'LEAKPROBE_QUIET=1\\n') == -17 else 1)\n";
  const RunResult r = run({"/usr/bin/python3", "-c", script}, dir_, {"LEAKPROBE_QUIET=0"});
  EXPECT_TRUE(r.exited_ok()) << r.err;
  EXPECT_NE(r.err.find("profiling pid"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("was preloaded into this process; nothing to attach"), std::string::npos)
      << r.err;
}

// The leak after the attach is named with exact counts; the heap from before is not in the
// stack lines, its frees (and a realloc of one of its blocks) are counted in `attached`.
TEST_F(Attach, ExactCountsAfterAttachAndPreAttachFreesCounted) {
  Probe p = open_probe();
  std::vector<void*> before;
  before.reserve(50);
  for (int i = 0; i < 50; ++i) before.push_back(attach_churn_site(777));
  void* grows = attach_churn_site(600);
  const std::string settings = config();  // freed after the snapshot, not in between
  ASSERT_EQ(p.attach(settings.c_str()), 0);
  void* leaks[37];
  for (void*& l : leaks) l = attach_leak_site(4321);
  for (void* b : before) attach_free(b);
  void* moved = attach_realloc_site(grows, 5555);
  ASSERT_NE(moved, nullptr);
  const Snapshot s = take_snapshot();
  const Counts leak = at_site(s, "attach_leak_site");
  EXPECT_EQ(leak.live_objs, 37);
  EXPECT_EQ(leak.live_bytes, 37 * 4321);
  EXPECT_EQ(leak.alloc_objs, 37u);
  // The realloc'd pre-attach block: a new block of ours, at the realloc's stack.
  const Counts re = at_site(s, "attach_realloc_site");
  EXPECT_EQ(re.live_objs, 1);
  EXPECT_EQ(re.live_bytes, 5555);
  // Nothing from before the attach is attributed.
  EXPECT_EQ(at_site(s, "attach_churn_site").lines, 0);
  const std::string attached = s.get("attached");
  ASSERT_FALSE(attached.empty());
  EXPECT_FALSE(field(attached, "since").empty());
  EXPECT_EQ(field(attached, "unrecorded-frees"), "51") << attached;
  EXPECT_GE(std::stoull(field(attached, "unrecorded-freed-bytes")), 50u * 777 + 600) << attached;
  EXPECT_GE(std::stoull(field(attached, "heap-live")), 50u * 777 + 600) << attached;
  // The memory section's before-recording figure is the same number.
  EXPECT_EQ(field(s.get("memory.before-recording"), "bytes"), field(attached, "heap-live"));
  EXPECT_EQ(p.detach(), 0);
  for (void* l : leaks) attach_free(l);
  attach_free(moved);
}

// After the detach nothing is recorded (the calls are libc's again); the probe answers,
// dormant.
TEST_F(Attach, DetachStopsRecordingAndPutsCallsBack) {
  Probe p = open_probe();
  void* const libc_malloc = dlsym(RTLD_DEFAULT, "malloc");
  ASSERT_EQ(p.attach(config().c_str()), 0);
  std::vector<void*> keep;
  for (int i = 0; i < 10; ++i) keep.push_back(attach_leak_site(1111));
  ASSERT_EQ(p.detach(), 0);
  EXPECT_EQ(p.detach(), 0);  // twice: nothing more to do
  for (int i = 0; i < 20; ++i) keep.push_back(attach_leak_site(1111));
  const Snapshot s = take_snapshot();
  const Counts leak = at_site(s, "attach_leak_site");
  EXPECT_EQ(leak.live_objs, 10);
  EXPECT_EQ(leak.alloc_objs, 10u);
  EXPECT_EQ(s.get("recording").rfind("off", 0), 0u) << s.get("recording");
  const std::string status = control_request(getpid(), "status\n");
  EXPECT_NE(status.find("attach=detached"), std::string::npos) << status;
  EXPECT_EQ(dlsym(RTLD_DEFAULT, "malloc"), libc_malloc);
  for (void* k : keep) attach_free(k);
}

// A second attach records from scratch: what the first one left is forgotten.
TEST_F(Attach, SecondAttachWorks) {
  Probe p = open_probe();
  ASSERT_EQ(p.attach(config().c_str()), 0);
  for (int i = 0; i < 5; ++i) attach_leak_site(2222);
  ASSERT_EQ(p.detach(), 0);
  ASSERT_EQ(p.attach(config().c_str()), 0);
  EXPECT_EQ(p.attach(config().c_str()), -EALREADY);
  for (int i = 0; i < 7; ++i) attach_leak_site(3333);
  const Snapshot s = take_snapshot();
  const Counts leak = at_site(s, "attach_leak_site");
  EXPECT_EQ(leak.live_objs, 7);
  EXPECT_EQ(leak.live_bytes, 7 * 3333);
  EXPECT_EQ(s.get("recording").rfind("on", 0), 0u);
  // Other settings than the first attach's: refused, the probe stays as it is.
  ASSERT_EQ(p.detach(), 0);
  EXPECT_EQ(p.attach(config("LEAKPROBE_SAMPLE_BYTES=4096\n").c_str()), -EINVAL);
}

// A library dlopen()ed after the attach is covered: its allocations are recorded.
TEST_F(Attach, LibraryOpenedAfterAttachIsCovered) {
  Probe p = open_probe();
  ASSERT_EQ(p.attach(config().c_str()), 0);
  void* lib = dlopen(DLOPEN_LIB, RTLD_NOW);
  ASSERT_NE(lib, nullptr) << dlerror();
  auto fn = reinterpret_cast<void* (*)()>(dlsym(lib, "lib_alloc_50021"));
  ASSERT_NE(fn, nullptr);
  for (int i = 0; i < 3; ++i) fn();
  const Snapshot s = take_snapshot();
  const Counts c = at_site(s, "lib_alloc_50021", DLOPEN_LIB);
  EXPECT_EQ(c.live_objs, 3);
  EXPECT_EQ(c.live_bytes, 3 * 50021);
  EXPECT_EQ(p.detach(), 0);
}

// A dlopen whose file depends on its caller ($ORIGIN: relative to this program) is passed on
// untouched, so glibc sees the real caller; the writer's tick rewrites the library it loaded
// within a few hundred milliseconds.
TEST_F(Attach, LibraryOpenedRelativeToItsCallerIsCoveredByTheTick) {
  const std::string lib = DLOPEN_LIB;
  const std::string exe = self_exe();
  const std::string lib_dir = lib.substr(0, lib.rfind('/'));
  ASSERT_EQ(lib_dir, exe.substr(0, exe.rfind('/'))) << "the build puts both in one directory";
  Probe p = open_probe();
  ASSERT_EQ(p.attach(config().c_str()), 0);
  void* h = dlopen(("$ORIGIN" + lib.substr(lib.rfind('/'))).c_str(), RTLD_NOW);
  ASSERT_NE(h, nullptr) << dlerror();
  auto fn = reinterpret_cast<void* (*)()>(dlsym(h, "lib_alloc_50021"));
  ASSERT_NE(fn, nullptr);
  // Bounded: the tick is 200 ms; 5 s on a loaded machine.
  int seen = 0;
  for (int i = 0; i < 50 && seen == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    fn();
    seen = static_cast<int>(at_site(take_snapshot(), "lib_alloc_50021", lib).live_objs);
  }
  EXPECT_EQ(seen, 1) << "the library's malloc calls were never rewritten";
  EXPECT_EQ(p.detach(), 0);
}

// RTLD_DEEPBIND changes symbol lookup, not the rewritten slots: attached, such a library's
// frees reach the probe, and snapshots do not say deepbind-frees.
TEST_F(Attach, DeepbindLibraryIsCoveredToo) {
  Probe p = open_probe();
  ASSERT_EQ(p.attach(config().c_str()), 0);
  void* lib = dlopen(DEEPBIND_LIB, RTLD_NOW | RTLD_DEEPBIND);
  ASSERT_NE(lib, nullptr) << dlerror();
  auto release_all = reinterpret_cast<void (*)(void**, int)>(dlsym(lib, "release_all"));
  ASSERT_NE(release_all, nullptr);
  void* blocks[12];
  for (void*& b : blocks) b = attach_leak_site(6001);
  release_all(blocks, 12);
  const Snapshot s = take_snapshot();
  const Counts c = at_site(s, "attach_leak_site");
  EXPECT_EQ(c.alloc_objs, 12u);
  EXPECT_EQ(c.live_objs, 0) << "the library's frees were seen";
  EXPECT_EQ(s.get("incomplete"), "");
  EXPECT_EQ(p.detach(), 0);
}

// The control socket's "detach": the CLI's way without ptrace.
TEST_F(Attach, DetachOverTheControlSocket) {
  Probe p = open_probe();
  ASSERT_EQ(p.attach(config().c_str()), 0);
  EXPECT_NE(control_request(getpid(), "status\n").find("attach=attached"), std::string::npos);
  const std::string reply = control_request(getpid(), "detach\n");
  EXPECT_EQ(reply.rfind("ok detached restored=", 0), 0u) << reply;
  EXPECT_GT(std::stoul(field(reply.substr(3), "restored")), 0u) << reply;
  attach_leak_site(4444);
  const Snapshot s = take_snapshot();
  EXPECT_EQ(at_site(s, "attach_leak_site").lines, 0);
  EXPECT_EQ(control_request(getpid(), "detach\n").rfind("error ", 0), 0u);
  EXPECT_EQ(p.attach(config().c_str()), 0);  // and back
  EXPECT_EQ(p.detach(), 0);
}

// Sampled mode through the config: the same layout of blocks, estimates near the truth.
TEST_F(Attach, SampledMode) {
  Probe p = open_probe();
  ASSERT_EQ(p.attach(config("LEAKPROBE_SAMPLE_BYTES=65536\n").c_str()), 0);
  std::vector<void*> keep;
  for (int i = 0; i < 2000; ++i) keep.push_back(attach_leak_site(4096));
  const Snapshot s = take_snapshot();
  EXPECT_EQ(s.tag, "heap_v2/65536");
  // The file holds the sampled blocks; a reader unsamples them (pprof's heap_v2): each
  // 4096-byte block was sampled with probability 1 - exp(-4096/65536). ~121 expected: the
  // bounds are five standard deviations wide.
  const Counts c = at_site(s, "attach_leak_site");
  EXPECT_EQ(c.live_bytes, c.live_objs * 4096);
  const double estimate = static_cast<double>(c.live_objs) / (1 - std::exp(-4096.0 / 65536));
  EXPECT_GT(estimate, 1000);
  EXPECT_LT(estimate, 3000);
  const std::string attached = s.get("attached");
  EXPECT_FALSE(attached.empty());
  EXPECT_TRUE(field(attached, "unrecorded-frees").empty()) << attached;  // not looked up
  EXPECT_EQ(p.detach(), 0);
  for (void* k : keep) attach_free(k);
}

// Threads allocating, reallocating and freeing all through 20 attach/detach cycles: blocks
// allocated in one state and freed in the other, slots rewritten under running calls.
TEST_F(Attach, ThreadsThroughAttachDetachCycles) {
  Probe p = open_probe();
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&stop, t] {
      void* ring[64] = {};
      unsigned seed = 12345u + static_cast<unsigned>(t);
      for (long i = 0; i < 5000000 && !stop.load(std::memory_order_relaxed); ++i) {
        const size_t k = static_cast<size_t>(i) % 64;
        const size_t n = 16 + rand_r(&seed) % 2000;
        if (i % 7 == 0 && ring[k]) {
          ring[k] = attach_realloc_site(ring[k], n);
        } else {
          attach_free(ring[k]);
          ring[k] = attach_churn_site(n);
        }
      }
      for (void* r : ring) attach_free(r);
    });
  }
  for (int cycle = 0; cycle < 20; ++cycle) {
    ASSERT_EQ(p.attach(config().c_str()), 0) << "cycle " << cycle;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_EQ(p.detach(), 0) << "cycle " << cycle;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(p.attach(config().c_str()), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const Snapshot s = take_snapshot();
  EXPECT_GT(at_site(s, "attach_churn_site").alloc_objs, 0u);
  stop.store(true);
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(p.detach(), 0);
}

}  // namespace
