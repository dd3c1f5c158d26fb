// The allocation-heavy loop of the overhead benchmark.
//
// Each thread frees the oldest block of a bounded ring and allocates a new one from one of 20
// call sites, reached through a recursion 10-40 frames deep, so the profiler sees ~620
// distinct stacks of realistic depth and a constant live set (threads x ring). Prints
//   RESULT alloc threads=2 pairs=4000000 wall_s=... ns_per_pair=...
// where ns_per_pair is wall time over all pairs of all threads (the threads run in parallel).
// With --seconds the loop runs for that long instead of a fixed count (used to show that
// snapshot size does not grow with uptime).
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
  size_t ring = 4096;           // live blocks per thread
  double seconds = 0;           // > 0: run for this long instead of `pairs`
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "bench_alloc: %s\n"
               "usage: bench_alloc [--threads N] [--pairs N per thread] [--ring N (power of 2)]"
               " [--seconds S]\n",
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
    } else {
      usage(("unknown option " + a).c_str());
    }
  }
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

// Returns the number of pairs done.
// `stop` is read only after `go` is seen, which publishes the value main wrote into it.
long long run_thread(const Options& o, int index, std::atomic<bool>& go,
                     const Clock::time_point& stop) {
  std::vector<void*> ring(o.ring, nullptr);
  Xorshift rng{0x9E3779B97F4A7C15ull * static_cast<uint64_t>(index + 1)};
  while (!go.load(std::memory_order_acquire)) {
  }
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
    const size_t size = kSiteSizes[site_index] + ((r >> 16) & 15);
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
  std::atomic<bool> go{false};
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
  const auto start = Clock::now();
  stop = start + budget;
  go.store(true, std::memory_order_release);
  for (auto& th : threads) th.join();
  const double wall_s = std::chrono::duration<double>(Clock::now() - start).count();

  long long total = 0;
  for (long long d : done) total += d;
  bench::ResultLine("alloc")
      .add("threads", static_cast<long long>(o.threads))
      .add("pairs", total)
      .add("ring", static_cast<long long>(o.ring))
      .add("wall_s", wall_s)
      .add("ns_per_pair", wall_s * 1e9 / static_cast<double>(total))
      .print();
  return 0;
}
