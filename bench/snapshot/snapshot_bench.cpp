// Snapshot cost at scale, run under libleakprobe:
//   phase 1: one live block on each of --stacks distinct call stacks, snapshot;
//   phase 2: --per-stack blocks on each stack (1M over 100k by default), snapshot again while
//            a second thread does malloc/free in a loop and records its longest single call.
// Prints
//   RESULT snapshot stacks=... live=... write_s=... file_bytes=... probe_bytes=...
//          probe_bytes_per_live=... marginal_bytes_per_alloc=... max_malloc_block_us=...
//          baseline_max_malloc_us=... age_census_us=... age_max_shard_hold_us=...
// marginal_bytes_per_alloc = (probe_bytes after phase 2 - after phase 1) / blocks added: the
// probe's cost per live allocation with the stack table held constant. The baseline is the
// same latency loop over the same duration with no snapshot running, because on a shared
// 2-core machine the scheduler alone causes multi-millisecond stalls.
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench/int_option.h"
#include "bench/result_line.h"
#include "leakprobe/cli/control_client.h"
#include "snapshot_trigger.h"

namespace {

// Distinct stacks come from paths through kLevels levels of kFanout distinct functions each:
// every path puts a different set of return addresses on the stack, so kFanout^kLevels
// stacks fit in kLevels frames, far below any unwind depth limit.
constexpr int kLevels = 5;
constexpr int kFanout = 10;
constexpr long long kMaxStacks = 100000;  // kFanout^kLevels

using WalkFn = void* (*)(uint32_t code, size_t size);

template <int Level, int Branch>
void* walk(uint32_t code, size_t size);

template <int Level, int... B>
constexpr std::array<WalkFn, kFanout> level_table(std::integer_sequence<int, B...>) {
  return {&walk<Level, B>...};
}

template <int Level>
constexpr std::array<WalkFn, kFanout> kTable =
    level_table<Level>(std::make_integer_sequence<int, kFanout>{});

template <int Level, int Branch>
__attribute__((noinline)) void* walk(uint32_t code, size_t size) {
  void* p;
  if constexpr (Level + 1 < kLevels) {
    p = kTable<Level + 1>[code % kFanout](code / kFanout, size);
  } else {
    p = std::malloc(size + static_cast<size_t>(Branch));
  }
  // Using the result after the call keeps every frame: no tail call, no merged paths.
  asm volatile("" : : "r"(p) : "memory");
  return p;
}

__attribute__((noinline)) void* allocate_on_stack(uint32_t stack, size_t size) {
  void* p = kTable<0>[stack % kFanout](stack / kFanout, size);
  asm volatile("" : : "r"(p) : "memory");
  return p;
}

struct Options {
  long long stacks = kMaxStacks;
  long long per_stack = 10;
  size_t size = 48;
  int timeout_s = 60;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "bench_snapshot: %s\n"
               "usage: bench_snapshot [--stacks N (<= 100000)] [--per-stack N] [--size BYTES]"
               " [--timeout S]\n"
               "Run it under libleakprobe (LD_PRELOAD=.../libleakprobe.so).\n",
               why.c_str());
  std::exit(2);
}

long long parse_int(const char* text, const std::string& opt, long long min, long long max) {
  return bench::int_option(text, opt, min, max, usage);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) usage("missing value for " + a);
    const char* v = argv[++i];
    if (a == "--stacks") {
      o.stacks = parse_int(v, a, 2, kMaxStacks);
    } else if (a == "--per-stack") {
      o.per_stack = parse_int(v, a, 2, 1000);
    } else if (a == "--size") {
      o.size = static_cast<size_t>(parse_int(v, a, 1, 1 << 20));
    } else if (a == "--timeout") {
      o.timeout_s = static_cast<int>(parse_int(v, a, 1, 3600));
    } else {
      usage("unknown option " + a);
    }
  }
  return o;
}

using Clock = std::chrono::steady_clock;

// A thread that mallocs and frees in a loop and keeps the longest single call.
class LatencyProbe {
 public:
  void start() {
    stop_.store(false);
    max_ns_.store(0);
    calls_.store(0);
    thread_ = std::thread([this] { run(); });
  }
  void stop() {
    stop_.store(true);
    thread_.join();
  }
  double max_us() const { return static_cast<double>(max_ns_.load()) / 1000.0; }
  long long calls() const { return calls_.load(); }

 private:
  void run() {
    long long max_ns = 0, calls = 0;
    while (!stop_.load(std::memory_order_relaxed)) {
      const auto t0 = Clock::now();
      void* p = std::malloc(64);
      const auto t1 = Clock::now();
      asm volatile("" : : "r"(p) : "memory");
      std::free(p);
      const auto t2 = Clock::now();
      const long long a = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
      const long long b = std::chrono::duration_cast<std::chrono::nanoseconds>(t2 - t1).count();
      if (a > max_ns) max_ns = a;
      if (b > max_ns) max_ns = b;
      calls += 2;
    }
    max_ns_.store(max_ns);
    calls_.store(calls);
  }
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<long long> max_ns_{0};
  std::atomic<long long> calls_{0};
};

struct Snap {
  double write_s = 0;
  bench::SnapshotFacts facts;
};

Snap snapshot_or_die(const Options& o) {
  const auto t0 = Clock::now();
  const auto r = leakprobe::cli::request_snapshot(::getpid(), std::chrono::seconds(o.timeout_s));
  Snap s;
  s.write_s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!r.ok) {
    std::fprintf(stderr, "bench_snapshot: %s\n", r.error.c_str());
    std::exit(1);
  }
  s.facts = bench::read_snapshot_facts(r.path);
  if (!s.facts.ok) {
    std::fprintf(stderr, "bench_snapshot: %s\n", s.facts.error.c_str());
    std::exit(1);
  }
  return s;
}

__attribute__((noinline)) void allocate_round(const Options& o, std::vector<void*>& blocks) {
  for (long long s = 0; s < o.stacks; ++s) {
    void* p = allocate_on_stack(static_cast<uint32_t>(s), o.size);
    if (p == nullptr) {
      std::fprintf(stderr, "bench_snapshot: malloc failed after %zu blocks\n", blocks.size());
      std::exit(1);
    }
    blocks.push_back(p);
  }
}

// Phase 1 ends after the first round: one live block per stack.
__attribute__((noinline)) void after_round(const Options& o, long long round, Snap& first) {
  if (round == 0) first = snapshot_or_die(o);
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::vector<void*> blocks;
  blocks.reserve(static_cast<size_t>(o.stacks * o.per_stack));
  Snap first;
  // One call site for every round: a second one (even a peeled first iteration) would mean a
  // second set of 100k stacks. Both calls in the loop body are opaque, so nothing is peeled.
  for (long long round = 0; round < o.per_stack; ++round) {
    allocate_round(o, blocks);
    after_round(o, round, first);
  }

  LatencyProbe latency;
  latency.start();
  const Snap second = snapshot_or_die(o);
  latency.stop();
  const double max_us = latency.max_us();
  const long long calls_during = latency.calls();

  // Same loop, same duration (at least 100 ms), no snapshot: what the machine does anyway.
  latency.start();
  std::this_thread::sleep_for(std::chrono::duration<double>(std::max(second.write_s, 0.1)));
  latency.stop();

  const long long live = static_cast<long long>(blocks.size());
  bench::ResultLine line("snapshot");
  line.add("stacks", o.stacks)
      .add("live", live)
      .add("write_s", second.write_s)
      .add("file_bytes", second.facts.file_bytes)
      .add("stack_lines", second.facts.stack_lines)
      .add("snapshot_live_objects", second.facts.live_objects)
      .add("first_write_s", first.write_s)
      .add("first_file_bytes", first.facts.file_bytes)
      .add("max_malloc_block_us", max_us)
      .add("malloc_calls_during_write", calls_during)
      .add("baseline_max_malloc_us", latency.max_us());
  // The age census's own account (CPU time, so the shared machine's scheduling is not in it):
  // what it cost, and the longest it kept one shard of the pointer map from malloc and free.
  if (second.facts.age_census_us >= 0)
    line.add("age_census_us", second.facts.age_census_us)
        .add("age_max_shard_hold_us", second.facts.age_max_hold_us);
  if (second.facts.probe_bytes >= 0 && first.facts.probe_bytes >= 0) {
    const long long added = live - o.stacks;
    line.add("probe_bytes", second.facts.probe_bytes)
        .add("probe_bytes_per_live",
             static_cast<double>(second.facts.probe_bytes) / static_cast<double>(live))
        .add("marginal_bytes_per_alloc",
             static_cast<double>(second.facts.probe_bytes - first.facts.probe_bytes) /
                 static_cast<double>(added));
  }
  line.print();
  for (void* p : blocks) std::free(p);
  return 0;
}
