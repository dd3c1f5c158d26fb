// The allocation-heavy loop of the overhead benchmark.
//
// Each thread frees the oldest block of a bounded ring and allocates a new one from one of 20
// call sites, reached through a recursion 10-40 frames deep, so the profiler sees ~620
// distinct stacks of realistic depth and a constant live set (threads x ring). Prints
//   RESULT alloc threads=2 pairs=4000000 wall_s=... ns_per_pair=...
// where ns_per_pair is wall time over all pairs of all threads (the threads run in parallel),
// and cpu_s the process's user+system CPU time (getrusage): on a shared machine wall time
// measures the neighbours, CPU time much less so.
// --sizes small keeps every block at 16-256 bytes with a short ring, as a broker's own
// allocations are: the blocks stay in glibc's thread cache, so per-call costs of a profiler
// show undiluted by the allocator's own.
// With --seconds the loop runs for that long instead of a fixed count (used to show that
// snapshot size does not grow with uptime).
// With --start-fifo PATH the loop starts only once a byte arrives on that FIFO, every thread
// waiting meanwhile (main in read, the others in a condition variable): a safe point where
// `leakprobe attach` can load the probe into the running program (bench_runner's attached
// configurations). The CPU clock starts after it, as without.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench/result_line.h"

namespace {

constexpr int kSites = 20;
constexpr int kMinDepth = 10;
constexpr int kMaxDepth = 40;
// Small to medium sizes, as an MQTT broker or client allocates them; all below glibc's mmap
// threshold so every configuration measures the heap fast path, not mmap.
constexpr size_t kSiteSizes[kSites] = {16,  24,  32,  40,  48,  64,  80,   96,   128,  160,
                                       192, 256, 320, 384, 512, 768, 1024, 2048, 4096, 8192};
// --sizes small: 16-256 bytes (plus 0-15 below), the sizes of a broker's own allocations.
constexpr size_t kSmallSiteSizes[kSites] = {16,  24,  32,  40,  48,  56,  64,  72,  80,  96,
                                            112, 128, 144, 160, 176, 192, 208, 224, 240, 240};

// One distinct function (so one distinct return address) per call site.
template <int N>
__attribute__((noinline)) void* site(size_t size) {
  void* p = std::malloc(size);
  // Touch the block like real code would; also keeps the compiler from pairing malloc/free.
  if (p != nullptr) static_cast<volatile char*>(p)[0] = static_cast<char>(N);
  return p;
}

using SiteFn = void* (*)(size_t);

template <int... N>
constexpr auto make_sites(std::integer_sequence<int, N...>) {
  return std::array<SiteFn, sizeof...(N)>{&site<N>...};
}

const auto kSiteTable = make_sites(std::make_integer_sequence<int, kSites>{});

// Recursion that cannot become a loop or a tail call: the result is used after the call, so
// each level keeps a real frame and the unwinder has to walk depth frames.
__attribute__((noinline)) void* descend(int depth, int site_index, size_t size) {
  if (depth <= 0) return kSiteTable[static_cast<size_t>(site_index)](size);
  void* p = descend(depth - 1, site_index, size);
  asm volatile("" : : "r"(p) : "memory");
  return p;
}

struct Options {
  int threads = 2;
  long long pairs = 2'000'000;  // per thread
  size_t ring = 0;              // live blocks per thread; 0: 4096, or 64 with --sizes small
  double seconds = 0;           // > 0: run for this long instead of `pairs`
  bool small = false;           // --sizes small
  std::string start_fifo;       // --start-fifo: wait for a byte there before the loop
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "bench_alloc: %s\n"
               "usage: bench_alloc [--threads N] [--pairs N per thread] [--ring N (power of 2)]"
               " [--seconds S] [--sizes normal|small] [--start-fifo PATH]\n",
               why);
  std::exit(2);
}

long long parse_count(const char* text, const char* what) {
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v <= 0) usage(what);
  return v;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) usage(("missing value for " + a).c_str());
    const char* v = argv[++i];
    if (a == "--threads") {
      o.threads = static_cast<int>(parse_count(v, "--threads must be a positive integer"));
      if (o.threads > 64) usage("--threads must be at most 64");
    } else if (a == "--pairs") {
      o.pairs = parse_count(v, "--pairs must be a positive integer");
    } else if (a == "--ring") {
      o.ring = static_cast<size_t>(parse_count(v, "--ring must be a positive integer"));
      if ((o.ring & (o.ring - 1)) != 0) usage("--ring must be a power of two");
    } else if (a == "--seconds") {
      char* end = nullptr;
      o.seconds = std::strtod(v, &end);
      if (end == v || *end != '\0' || !(o.seconds > 0) || o.seconds > 86400)
        usage("--seconds must be a number in (0, 86400]");
    } else if (a == "--start-fifo") {
      o.start_fifo = v;
    } else if (a == "--sizes") {
      if (std::strcmp(v, "small") == 0)
        o.small = true;
      else if (std::strcmp(v, "normal") != 0)
        usage("--sizes must be normal or small");
    } else {
      usage(("unknown option " + a).c_str());
    }
  }
  if (o.ring == 0) o.ring = o.small ? 64 : 4096;
  return o;
}

struct Xorshift {
  uint64_t s;
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
};

using Clock = std::chrono::steady_clock;

// User + system CPU time of the whole process so far.
double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

// The threads wait for the start in a condition variable, not a spin on an atomic: a spin's
// length depends on the scheduler, and under callgrind it added millions of instructions that
// differed from run to run, drowning the per-pair counts.
struct StartGate {
  std::mutex m;
  std::condition_variable cv;
  bool open = false;
  void wait() {
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [this] { return open; });
  }
  void start() {
    {
      std::lock_guard<std::mutex> lock(m);
      open = true;
    }
    cv.notify_all();
  }
};

// Returns the number of pairs done.
// `stop` is read only after the gate opened, which publishes the value main wrote into it.
__attribute__((noinline)) long long run_thread(const Options& o, int index, StartGate& go,
                                               const Clock::time_point& stop) {
  std::vector<void*> ring(o.ring, nullptr);
  Xorshift rng{0x9E3779B97F4A7C15ull * static_cast<uint64_t>(index + 1)};
  go.wait();
  const size_t mask = o.ring - 1;
  long long done = 0;
  for (;;) {
    if (o.seconds > 0) {
      // Checking the clock every 1024 pairs keeps its cost out of the measurement.
      if ((done & 1023) == 0 && Clock::now() >= stop) break;
    } else if (done >= o.pairs) {
      break;
    }
    const size_t slot = static_cast<size_t>(done) & mask;
    std::free(ring[slot]);
    const uint64_t r = rng.next();
    const int site_index = static_cast<int>(r % kSites);
    const int depth = kMinDepth + static_cast<int>((r >> 8) % (kMaxDepth - kMinDepth + 1));
    const size_t size = (o.small ? kSmallSiteSizes : kSiteSizes)[site_index] + ((r >> 16) & 15);
    ring[slot] = descend(depth, site_index, size);
    if (ring[slot] == nullptr) {
      std::fprintf(stderr, "bench_alloc: malloc(%zu) failed\n", size);
      std::exit(1);
    }
    ++done;
  }
  for (void* p : ring) std::free(p);
  return done;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  StartGate go;
  std::vector<long long> done(static_cast<size_t>(o.threads), 0);
  std::vector<std::thread> threads;
  const auto budget = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(o.seconds > 0 ? o.seconds : 0));
  Clock::time_point stop{};
  for (int t = 0; t < o.threads; ++t) {
    threads.emplace_back([&, t] { done[static_cast<size_t>(t)] = run_thread(o, t, go, stop); });
  }
  // Threads are created (and their rings allocated) before the clock starts.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (!o.start_fifo.empty()) {
    // O_RDWR: opening a FIFO so never blocks (there is always a writer: us); read then waits
    // for the runner's byte.
    const int fd = ::open(o.start_fifo.c_str(), O_RDWR | O_CLOEXEC);
    char byte = 0;
    ssize_t n = -1;
    if (fd >= 0) {
      do {
        n = ::read(fd, &byte, 1);
      } while (n < 0 && errno == EINTR);
      ::close(fd);
    }
    if (n != 1) {
      std::fprintf(stderr, "bench_alloc: --start-fifo %s: %s\n", o.start_fifo.c_str(),
                   fd < 0 ? std::strerror(errno) : "no start byte");
      std::exit(2);
    }
  }
  const auto start = Clock::now();
  const double cpu_start = cpu_seconds();
  stop = start + budget;
  go.start();
  for (auto& th : threads) th.join();
  const double wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu_s = cpu_seconds() - cpu_start;

  long long total = 0;
  for (long long d : done) total += d;
  bench::ResultLine("alloc")
      .add("threads", static_cast<long long>(o.threads))
      .add("pairs", total)
      .add("ring", static_cast<long long>(o.ring))
      .add("sizes", o.small ? "small" : "normal")
      .add("wall_s", wall_s)
      .add("cpu_s", cpu_s)
      .add("ns_per_pair", wall_s * 1e9 / static_cast<double>(total))
      .add("cpu_ns_per_pair", cpu_s * 1e9 / static_cast<double>(total))
      .print();
  return 0;
}
