#include "unwind_verify.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>

#include "fd_numbers.h"
#include "unwind.h"

namespace leakprobe {
namespace {

// Off by default and meant for tests: libunwind 1.6 keeps a pipe for address validation,
// opened here just below descriptor 1000 (see init_libunwind), which a host that takes that
// number over would share with it.

int (*g_unw_backtrace)(void**, int) = nullptr;
bool (*g_in_probe)(uintptr_t) = nullptr;
std::atomic<uint64_t> g_verified{0};
std::atomic<uint64_t> g_same{0};
std::atomic<uint64_t> g_shorter{0};
std::atomic<uint64_t> g_longer{0};
std::atomic<uint64_t> g_different{0};

bool init_libunwind() {
  void* h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
  if (!h) return false;
  auto fn = reinterpret_cast<int (*)(void**, int)>(dlsym(h, "unw_backtrace"));
  if (!fn) return false;
  // libunwind opens its validation pipe at its first unwind: do that while every low number
  // is taken, so the pipe lands far from the numbers a host hands out.
  constexpr int kHighFd = fd_numbers::kUnwindPipe;
  rlimit lim;
  int high = kHighFd;
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 &&
      lim.rlim_cur < static_cast<rlim_t>(kHighFd) + fd_numbers::kUnwindPipeBelowLimit)
    high =
        lim.rlim_cur > 64 ? static_cast<int>(lim.rlim_cur) - fd_numbers::kUnwindPipeBelowLimit : 0;
  int fillers[kHighFd];
  int n = 0;
  int base = high ? open("/dev/null", O_RDONLY | O_CLOEXEC) : -1;
  if (base >= 0) {
    while (n < kHighFd) {
      int fd = fcntl(base, F_DUPFD_CLOEXEC, 0);
      if (fd < 0) break;
      fillers[n++] = fd;
      if (fd >= high - 3) break;
    }
  }
  void* ips[4];
  fn(ips, 4);
  for (int i = 0; i < n; ++i) close(fillers[i]);
  if (base >= 0) close(base);
  g_unw_backtrace = fn;
  return true;
}

}  // namespace

__attribute__((noinline)) void verify_unwind(const uintptr_t* ours, int n, bool truncated,
                                             int depth) {
  void* raw[kMaxDepth + 32];
  int m = g_unw_backtrace(raw, depth + 32);
  // libunwind's own frame, then the probe's frames (however inlined), then the stack.
  int first = 0;
  if (g_in_probe) {
    while (first < m && !g_in_probe(reinterpret_cast<uintptr_t>(raw[first]))) ++first;
    while (first < m && g_in_probe(reinterpret_cast<uintptr_t>(raw[first]))) ++first;
  } else {
    first = 2;  // unw_backtrace's caller (verify) and capture_stack in a unit test
  }
  int theirs = m - first;
  if (theirs > depth) theirs = depth;
  g_verified.fetch_add(1, std::memory_order_relaxed);
  const int common = n < theirs ? n : theirs;
  for (int i = 0; i < common; ++i) {
    if (ours[i] != reinterpret_cast<uintptr_t>(raw[first + i])) {
      g_different.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  if (n == theirs || (truncated && n == depth && theirs == depth))
    g_same.fetch_add(1, std::memory_order_relaxed);
  else if (n < theirs)
    g_shorter.fetch_add(1, std::memory_order_relaxed);
  else
    g_longer.fetch_add(1, std::memory_order_relaxed);
}

bool verify_unwind_init(bool (*in_probe)(uintptr_t)) {
  g_in_probe = in_probe;
  return init_libunwind();
}

void verify_unwind_counts(UnwindStats* s) {
  s->verified = g_verified.load(std::memory_order_relaxed);
  s->same = g_same.load(std::memory_order_relaxed);
  s->shorter = g_shorter.load(std::memory_order_relaxed);
  s->longer = g_longer.load(std::memory_order_relaxed);
  s->different = g_different.load(std::memory_order_relaxed);
}

}  // namespace leakprobe
