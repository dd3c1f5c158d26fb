// Load generator for the broker workload: P publishers and S wildcard subscribers on
// libmosquitto, a QoS 0 phase then a QoS 1 phase, each with a fixed message count and
// 64-256-byte payloads. For each phase it prints
//   RESULT broker qos=0 messages=N delivered=N*S elapsed_s=... msgs_per_s=... complete=1
//          [broker_cpu_s=... broker_cpu_us_per_msg=...]
// msgs_per_s counts deliveries at the subscribers (end to end). With --broker-pid the
// broker's CPU time over the phase is read from /proc and divided by the deliveries.
//
// Publishers are flow-controlled on end-to-end deliveries (at most --window deliveries
// outstanding), so a slow broker is measured as slow instead of being flooded until it drops
// QoS 0 messages, and every configuration delivers the same messages.
#include <mosquitto.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/proc_stat.h"
#include "bench/int_option.h"
#include "bench/result_line.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  int publishers = 2;
  int subscribers = 2;
  long long qos0_messages = 100000;  // per phase, over all publishers
  long long qos1_messages = 50000;
  long long window = 2000;  // deliveries outstanding, over all subscribers
  int inflight = 1000;      // QoS 1 messages a publisher may have unacknowledged
  double timeout_s = 120;   // per phase
  pid_t broker_pid = 0;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "bench_broker_load: %s\n"
               "usage: bench_broker_load --port N [--host H] [--publishers P] [--subscribers S]\n"
               "       [--qos0-messages N] [--qos1-messages N] [--window N] [--inflight N]\n"
               "       [--timeout S]\n"
               "       [--broker-pid PID]\n",
               why.c_str());
  std::exit(2);
}

long long parse_int(const char* text, const std::string& opt, long long min, long long max) {
  return bench::int_option(text, opt, min, max, usage);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) usage("missing value for " + a);
    const char* v = argv[++i];
    if (a == "--host") {
      o.host = v;
    } else if (a == "--port") {
      o.port = static_cast<int>(parse_int(v, a, 1, 65535));
    } else if (a == "--publishers") {
      o.publishers = static_cast<int>(parse_int(v, a, 1, 64));
    } else if (a == "--subscribers") {
      o.subscribers = static_cast<int>(parse_int(v, a, 1, 64));
    } else if (a == "--qos0-messages") {
      o.qos0_messages = parse_int(v, a, 0, 1'000'000'000);
    } else if (a == "--qos1-messages") {
      o.qos1_messages = parse_int(v, a, 0, 1'000'000'000);
    } else if (a == "--window") {
      o.window = parse_int(v, a, 1, 1'000'000);
    } else if (a == "--inflight") {
      o.inflight = static_cast<int>(parse_int(v, a, 1, 65535));
    } else if (a == "--timeout") {
      o.timeout_s = static_cast<double>(parse_int(v, a, 1, 86400));
    } else if (a == "--broker-pid") {
      o.broker_pid = static_cast<pid_t>(parse_int(v, a, 1, 1 << 30));
    } else {
      usage("unknown option " + a);
    }
  }
  if (o.port == 0) usage("--port is required");
  return o;
}

// State shared by every client's callbacks (libmosquitto calls them on its loop threads).
struct Shared {
  std::atomic<long long> delivered{0};
  std::atomic<int> connected{0};
  std::atomic<int> subscribed{0};
  std::atomic<int> failures{0};

  // Flow control. Publishers that find the window full sleep on `cv` until the subscribers
  // have drained it to half; polling instead would burn the CPU the broker needs, more so
  // the slower the broker is, and distort exactly the comparison being made.
  long long window = 0;  // in deliveries
  int subscribers = 1;
  std::atomic<long long> published{0};   // in the current phase
  std::atomic<long long> phase_base{0};  // `delivered` at the start of the phase
  std::atomic<int> waiting{0};
  std::mutex mutex;
  std::condition_variable cv;

  long long outstanding() const {
    return published.load(std::memory_order_relaxed) * subscribers -
           (delivered.load(std::memory_order_relaxed) - phase_base.load(std::memory_order_relaxed));
  }
};

void on_connect(struct mosquitto*, void* user, int rc) {
  auto* s = static_cast<Shared*>(user);
  if (rc == 0) {
    s->connected.fetch_add(1);
  } else {
    std::fprintf(stderr, "bench_broker_load: connect refused: %s\n", mosquitto_connack_string(rc));
    s->failures.fetch_add(1);
  }
}

void on_subscribe(struct mosquitto*, void* user, int, int, const int*) {
  static_cast<Shared*>(user)->subscribed.fetch_add(1);
}

void on_message(struct mosquitto*, void* user, const struct mosquitto_message*) {
  auto* s = static_cast<Shared*>(user);
  s->delivered.fetch_add(1, std::memory_order_relaxed);
  if (s->waiting.load(std::memory_order_relaxed) > 0 && s->outstanding() <= s->window / 2) {
    std::lock_guard<std::mutex> lock(s->mutex);
    s->cv.notify_all();
  }
}

struct MosqDeleter {
  void operator()(struct mosquitto* m) const { mosquitto_destroy(m); }
};
using Client = std::unique_ptr<struct mosquitto, MosqDeleter>;

Client make_client(const Options& o, Shared& shared, const std::string& id) {
  Client c(mosquitto_new(id.c_str(), true, &shared));
  if (!c) {
    std::fprintf(stderr, "bench_broker_load: mosquitto_new failed\n");
    std::exit(1);
  }
  mosquitto_connect_callback_set(c.get(), on_connect);
  mosquitto_subscribe_callback_set(c.get(), on_subscribe);
  mosquitto_message_callback_set(c.get(), on_message);
  // libmosquitto's default of 20 unacknowledged QoS 1 messages would make the QoS 1 phase
  // measure round-trip latency instead of the broker's work (MQTT 3.1.1: this call, not
  // MOSQ_OPT_SEND_MAXIMUM, sets it). The runner raises the broker's limit to match.
  mosquitto_max_inflight_messages_set(c.get(), static_cast<unsigned int>(o.inflight));
  int rc = mosquitto_connect(c.get(), o.host.c_str(), o.port, 60);
  if (rc != MOSQ_ERR_SUCCESS) {
    std::fprintf(stderr, "bench_broker_load: cannot connect to %s:%d: %s\n", o.host.c_str(), o.port,
                 mosquitto_strerror(rc));
    std::exit(1);
  }
  rc = mosquitto_loop_start(c.get());
  if (rc != MOSQ_ERR_SUCCESS) {
    std::fprintf(stderr, "bench_broker_load: loop_start: %s\n", mosquitto_strerror(rc));
    std::exit(1);
  }
  return c;
}

// Waits (bounded) until `counter` reaches `target`; false on timeout or a reported failure.
bool wait_for(const std::atomic<int>& counter, int target, const Shared& s, double timeout_s) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  while (counter.load() < target) {
    if (s.failures.load() > 0 || Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

struct PhaseResult {
  long long delivered = 0;
  double elapsed_s = 0;
  bool complete = false;
  std::optional<double> broker_cpu_s;
};

PhaseResult run_phase(const Options& o, Shared& shared, std::vector<Client>& pubs, int qos,
                      long long messages) {
  const long long expected = messages * o.subscribers;
  const long long base = shared.delivered.load();
  shared.phase_base.store(base);
  shared.published.store(0);
  std::atomic<bool> publish_failed{false};
  const auto deadline = Clock::now() + std::chrono::duration<double>(o.timeout_s);

  std::optional<double> cpu_start;
  if (o.broker_pid > 0) cpu_start = bench::process_cpu_seconds(o.broker_pid);
  const auto start = Clock::now();

  std::vector<std::thread> threads;
  for (size_t p = 0; p < pubs.size(); ++p) {
    threads.emplace_back([&, p] {
      const long long mine =
          messages / o.publishers + (static_cast<long long>(p) < messages % o.publishers ? 1 : 0);
      uint64_t rng = 0x2545F4914F6CDD1Dull * (p + 1) + static_cast<uint64_t>(qos);
      char payload[256];
      for (size_t i = 0; i < sizeof payload; ++i) payload[i] = static_cast<char>('a' + i % 26);
      for (long long n = 0; n < mine; ++n) {
        // End-to-end flow control: wait while too many deliveries are outstanding. The
        // timed wait only guards against a lost wake-up; it is not the normal path.
        if (shared.outstanding() > o.window) {
          std::unique_lock<std::mutex> lock(shared.mutex);
          shared.waiting.fetch_add(1);
          while (shared.outstanding() > o.window / 2) {
            if (Clock::now() > deadline) {
              shared.waiting.fetch_sub(1);
              return;
            }
            shared.cv.wait_for(lock, std::chrono::milliseconds(5));
          }
          shared.waiting.fetch_sub(1);
        }
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        const int len = 64 + static_cast<int>(rng % 193);  // 64..256 bytes
        const std::string topic = "bench/p" + std::to_string(p) + "/t" + std::to_string(n % 8);
        shared.published.fetch_add(1, std::memory_order_relaxed);
        const int rc =
            mosquitto_publish(pubs[p].get(), nullptr, topic.c_str(), len, payload, qos, false);
        if (rc != MOSQ_ERR_SUCCESS) {
          std::fprintf(stderr, "bench_broker_load: publish: %s\n", mosquitto_strerror(rc));
          publish_failed.store(true);
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();

  PhaseResult r;
  while (!publish_failed.load() && shared.delivered.load() - base < expected &&
         Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  r.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  r.delivered = shared.delivered.load() - base;
  r.complete = !publish_failed.load() && r.delivered >= expected;
  if (cpu_start) {
    auto cpu_end = bench::process_cpu_seconds(o.broker_pid);
    if (cpu_end) r.broker_cpu_s = *cpu_end - *cpu_start;
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  mosquitto_lib_init();
  Shared shared;
  shared.window = o.window;
  shared.subscribers = o.subscribers;
  const std::string tag = std::to_string(getpid());

  std::vector<Client> subs, pubs;
  for (int s = 0; s < o.subscribers; ++s)
    subs.push_back(make_client(o, shared, "bench-sub-" + tag + "-" + std::to_string(s)));
  for (int p = 0; p < o.publishers; ++p)
    pubs.push_back(make_client(o, shared, "bench-pub-" + tag + "-" + std::to_string(p)));
  if (!wait_for(shared.connected, o.subscribers + o.publishers, shared, 30)) {
    std::fprintf(stderr, "bench_broker_load: clients did not all connect within 30 s\n");
    return 1;
  }
  // Two kinds of wildcard, as real deployments mix them; both match every published topic.
  for (int s = 0; s < o.subscribers; ++s) {
    const char* filter = (s % 2 == 0) ? "bench/#" : "bench/+/+";
    const int rc = mosquitto_subscribe(subs[static_cast<size_t>(s)].get(), nullptr, filter, 1);
    if (rc != MOSQ_ERR_SUCCESS) {
      std::fprintf(stderr, "bench_broker_load: subscribe: %s\n", mosquitto_strerror(rc));
      return 1;
    }
  }
  if (!wait_for(shared.subscribed, o.subscribers, shared, 30)) {
    std::fprintf(stderr, "bench_broker_load: subscriptions not acknowledged within 30 s\n");
    return 1;
  }

  int status = 0;
  const std::pair<int, long long> phases[] = {{0, o.qos0_messages}, {1, o.qos1_messages}};
  for (const auto& [qos, messages] : phases) {
    if (messages == 0) continue;
    const PhaseResult r = run_phase(o, shared, pubs, qos, messages);
    bench::ResultLine line("broker");
    line.add("qos", static_cast<long long>(qos))
        .add("publishers", static_cast<long long>(o.publishers))
        .add("subscribers", static_cast<long long>(o.subscribers))
        .add("messages", messages)
        .add("delivered", r.delivered)
        .add("elapsed_s", r.elapsed_s)
        .add("msgs_per_s", static_cast<double>(r.delivered) / r.elapsed_s)
        .add("complete", static_cast<long long>(r.complete ? 1 : 0));
    if (r.broker_cpu_s) {
      line.add("broker_cpu_s", *r.broker_cpu_s)
          .add("broker_cpu_us_per_msg",
               r.delivered > 0 ? *r.broker_cpu_s * 1e6 / static_cast<double>(r.delivered) : 0.0);
    }
    line.print();
    if (!r.complete) {
      std::fprintf(stderr, "bench_broker_load: qos %d: %lld of %lld deliveries before timeout\n",
                   qos, r.delivered, messages * o.subscribers);
      status = 3;
      break;
    }
  }

  for (auto& c : subs) mosquitto_disconnect(c.get());
  for (auto& c : pubs) mosquitto_disconnect(c.get());
  for (auto& c : subs) mosquitto_loop_stop(c.get(), false);
  for (auto& c : pubs) mosquitto_loop_stop(c.get(), false);
  subs.clear();
  pubs.clear();
  mosquitto_lib_cleanup();
  return status;
}
