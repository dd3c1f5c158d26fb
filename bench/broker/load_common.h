// What every broker workload of bench_broker_load shares: its options, the libmosquitto client
// helpers, end-to-end flow control, and the cost of a phase (broker CPU including the
// profiler's helper processes, the load generator's own CPU, wall time) printed as a RESULT
// line.
#pragma once

#include <mosquitto.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bench::load {

using Clock = std::chrono::steady_clock;

inline Clock::time_point deadline_after(double seconds) {
  return Clock::now() +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

struct Options {
  std::string workload = "twopub";  // twopub | fanout | churn | retained
  std::string host = "127.0.0.1";
  int port = 0;
  int publishers = 0;               // 0: the workload's default (churn: churning clients)
  int subscribers = 0;              // 0: the workload's default (retained: joiners per round)
  long long qos0_messages = 40000;  // twopub
  long long qos1_messages = 15000;  // twopub
  long long messages = 40000;       // fanout, over all publishers
  long long cycles = 800;           // churn: connect/subscribe/publish/leave cycles, all clients
  long long rounds = 20;            // retained: update-then-join rounds
  int topics = 0;                   // 0: the workload's default
  long long window = 2000;          // deliveries outstanding, over all subscribers
  int inflight = 1000;              // QoS 1/2 messages a client may have unacknowledged
  double timeout_s = 120;           // per phase
  pid_t broker_pgid = 0;            // the broker's process group: its CPU includes profiler helpers
};

[[noreturn]] void die(const std::string& what);

// A message payload of `len` bytes (<= kMaxPayload), the same bytes every time.
inline constexpr int kMaxPayload = 1024;
const char* payload_bytes();

// xorshift64: reproducible choices without a shared generator between threads.
struct Rng {
  uint64_t state;
  explicit Rng(uint64_t seed) : state(seed * 0x2545F4914F6CDD1Dull + 1) {}
  uint64_t next() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  }
  int between(int lo, int hi) { return lo + static_cast<int>(next() % (hi - lo + 1)); }
};

bool topic_matches(const std::string& filter, const std::string& topic);

struct MosqDeleter {
  void operator()(struct mosquitto* m) const { mosquitto_destroy(m); }
};
using Client = std::unique_ptr<struct mosquitto, MosqDeleter>;

// A client with the workload's inflight limit; `user` is passed to its callbacks.
Client new_client(const Options& o, const std::string& id, bool clean_session, void* user);
// Connects and starts libmosquitto's own network thread for the client.
void connect_threaded(const Options& o, struct mosquitto* m);
// Connects without a network thread: the caller drives it with pump_until().
bool connect_blocking(const Options& o, struct mosquitto* m);
// Runs the client's network loop on this thread until `done()` or the deadline; false if the
// deadline passed or the connection broke.
bool pump_until(struct mosquitto* m, const std::function<bool()>& done, Clock::time_point deadline);
// Polls `done()` (for clients with their own network thread) until it holds or the deadline.
bool wait_until(const std::function<bool()>& done, Clock::time_point deadline);

// End-to-end flow control: publishers announce how many deliveries each message will cause
// and wait while too many are outstanding, so a slow (profiled) broker is measured as slow
// instead of being flooded, and every configuration delivers the same messages. Waiters sleep
// on a condition variable: polling would burn the CPU the broker needs, the more so the slower
// the broker, and distort exactly the comparison being made.
class DeliveryWindow {
 public:
  explicit DeliveryWindow(long long window) : window_(window) {}
  // Before publishing a message that `fanout` subscribers receive. False at the deadline.
  bool admit(long long fanout, Clock::time_point deadline);
  // From a subscriber's message callback.
  void on_delivery();
  long long delivered() const { return delivered_.load(std::memory_order_relaxed); }
  long long expected() const { return expected_.load(std::memory_order_relaxed); }

 private:
  long long outstanding() const { return expected() - delivered(); }
  const long long window_;
  std::atomic<long long> expected_{0}, delivered_{0};
  std::atomic<int> waiting_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
};

// The cost of one phase, measured from its start to stop().
class PhaseMeter {
 public:
  explicit PhaseMeter(const Options& o);
  struct Reading {
    double elapsed_s = 0;
    std::optional<double> broker_cpu_s;   // the broker's process group, helpers included
    std::optional<double> broker_wait_s;  // its time runnable but waiting for a core
    double load_cpu_s = 0;                // this load generator, all threads
  };
  Reading stop() const;

 private:
  pid_t pgid_;
  Clock::time_point start_;
  std::optional<double> broker_start_, broker_wait_start_;
  double load_start_;
};

struct PhaseResult {
  std::string phase;  // "all" for single-phase workloads
  long long delivered = 0;
  long long expected = 0;  // deliveries the phase had to see to be complete
  bool complete = false;
  PhaseMeter::Reading cost;
  std::vector<std::pair<std::string, double>> extra;  // workload-specific counts
};

// One RESULT line for the phase.
void print_phase(const Options& o, const PhaseResult& r);

// The workloads; each returns its phases in order.
std::vector<PhaseResult> run_two_publishers(const Options& o);
std::vector<PhaseResult> run_fanout(const Options& o);
std::vector<PhaseResult> run_churn(const Options& o);
std::vector<PhaseResult> run_retained(const Options& o);

}  // namespace bench::load
