#include "load_common.h"

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "bench/proc_stat.h"
#include "bench/result_line.h"

namespace bench::load {

void die(const std::string& what) {
  std::fprintf(stderr, "bench_broker_load: %s\n", what.c_str());
  std::exit(1);
}

const char* payload_bytes() {
  static const std::string bytes = [] {
    std::string s(kMaxPayload, 'a');
    for (int i = 0; i < kMaxPayload; ++i)
      s[static_cast<size_t>(i)] = static_cast<char>('a' + i % 26);
    return s;
  }();
  return bytes.data();
}

bool topic_matches(const std::string& filter, const std::string& topic) {
  bool result = false;
  if (mosquitto_topic_matches_sub(filter.c_str(), topic.c_str(), &result) != MOSQ_ERR_SUCCESS)
    die("bad topic filter " + filter);
  return result;
}

Client new_client(const Options& o, const std::string& id, bool clean_session, void* user) {
  Client c(mosquitto_new(id.c_str(), clean_session, user));
  if (!c) die("mosquitto_new failed for " + id);
  // libmosquitto's default of 20 unacknowledged QoS 1/2 messages would make the workloads
  // measure round-trip latency instead of the broker's work (MQTT 3.1.1: this call, not
  // MOSQ_OPT_SEND_MAXIMUM, sets it). The runner raises the broker's limit to match.
  mosquitto_max_inflight_messages_set(c.get(), static_cast<unsigned int>(o.inflight));
  // Without it, Nagle's algorithm holds a client's second small packet until the broker's
  // delayed ACK (40 ms): request/response sequences (connect, subscribe, publish, leave)
  // would measure those timers instead of the broker.
  mosquitto_int_option(c.get(), MOSQ_OPT_TCP_NODELAY, 1);
  return c;
}

void connect_threaded(const Options& o, struct mosquitto* m) {
  int rc = mosquitto_connect(m, o.host.c_str(), o.port, 60);
  if (rc != MOSQ_ERR_SUCCESS)
    die("cannot connect to " + o.host + ":" + std::to_string(o.port) + ": " +
        mosquitto_strerror(rc));
  rc = mosquitto_loop_start(m);
  if (rc != MOSQ_ERR_SUCCESS) die(std::string("loop_start: ") + mosquitto_strerror(rc));
}

bool connect_blocking(const Options& o, struct mosquitto* m) {
  const int rc = mosquitto_connect(m, o.host.c_str(), o.port, 60);
  if (rc != MOSQ_ERR_SUCCESS) {
    std::fprintf(stderr, "bench_broker_load: cannot connect: %s\n", mosquitto_strerror(rc));
    return false;
  }
  return true;
}

bool pump_until(struct mosquitto* m, const std::function<bool()>& done,
                Clock::time_point deadline) {
  while (!done()) {
    if (Clock::now() > deadline) return false;
    const int rc = mosquitto_loop(m, 10, 1);
    if (rc != MOSQ_ERR_SUCCESS) {
      if (done()) return true;  // e.g. the DISCONNECT we sent closed the connection
      std::fprintf(stderr, "bench_broker_load: connection lost: %s\n", mosquitto_strerror(rc));
      return false;
    }
  }
  return true;
}

bool wait_until(const std::function<bool()>& done, Clock::time_point deadline) {
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  return true;
}

bool DeliveryWindow::admit(long long fanout, Clock::time_point deadline) {
  if (outstanding() > window_) {
    std::unique_lock<std::mutex> lock(mutex_);
    waiting_.fetch_add(1);
    while (outstanding() > window_ / 2) {
      if (Clock::now() > deadline) {
        waiting_.fetch_sub(1);
        return false;
      }
      // The timed wait only guards against a lost wake-up; it is not the normal path.
      cv_.wait_for(lock, std::chrono::milliseconds(5));
    }
    waiting_.fetch_sub(1);
  }
  expected_.fetch_add(fanout, std::memory_order_relaxed);
  return true;
}

void DeliveryWindow::on_delivery() {
  delivered_.fetch_add(1, std::memory_order_relaxed);
  if (waiting_.load(std::memory_order_relaxed) > 0 && outstanding() <= window_ / 2) {
    std::lock_guard<std::mutex> lock(mutex_);
    cv_.notify_all();
  }
}

namespace {

double own_cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);  // every thread of this process
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

}  // namespace

PhaseMeter::PhaseMeter(const Options& o) : pgid_(o.broker_pgid) {
  if (pgid_ > 0) {
    broker_start_ = process_group_cpu_seconds(pgid_);
    broker_wait_start_ = process_group_wait_seconds(pgid_);
  }
  load_start_ = own_cpu_seconds();
  start_ = Clock::now();
}

PhaseMeter::Reading PhaseMeter::stop() const {
  Reading r;
  r.elapsed_s = std::chrono::duration<double>(Clock::now() - start_).count();
  r.load_cpu_s = own_cpu_seconds() - load_start_;
  if (broker_start_) {
    if (auto end = process_group_cpu_seconds(pgid_)) r.broker_cpu_s = *end - *broker_start_;
  }
  if (broker_wait_start_) {
    if (auto end = process_group_wait_seconds(pgid_)) r.broker_wait_s = *end - *broker_wait_start_;
  }
  return r;
}

void print_phase(const Options& o, const PhaseResult& r) {
  const double elapsed = r.cost.elapsed_s > 0 ? r.cost.elapsed_s : 1e-9;
  ResultLine line("broker");
  line.add("workload", o.workload)
      .add("phase", r.phase)
      .add("delivered", r.delivered)
      .add("expected", r.expected)
      .add("elapsed_s", r.cost.elapsed_s)
      .add("msgs_per_s", static_cast<double>(r.delivered) / elapsed)
      .add("complete", static_cast<long long>(r.complete ? 1 : 0))
      .add("load_cpu_s", r.cost.load_cpu_s)
      // Share of one core: the load generator near 1 (or the two near 2 on this 2-core
      // machine) would mean the generator, not the broker, sets the rate.
      .add("load_core", r.cost.load_cpu_s / elapsed);
  if (r.cost.broker_cpu_s) {
    line.add("broker_cpu_s", *r.cost.broker_cpu_s)
        .add("broker_core", *r.cost.broker_cpu_s / elapsed)
        .add("broker_cpu_us_per_msg",
             r.delivered > 0 ? *r.cost.broker_cpu_s * 1e6 / static_cast<double>(r.delivered) : 0.0);
  }
  if (r.cost.broker_wait_s) line.add("broker_wait_core", *r.cost.broker_wait_s / elapsed);
  for (const auto& [key, value] : r.extra) line.add(key, value);
  line.print();
}

}  // namespace bench::load
