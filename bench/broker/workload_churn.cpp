// churn: devices that come and go. 4 churning clients, each in a loop: connect, subscribe to
// 3 filters, publish 8 messages (QoS 0/1/2, 64-1024 bytes), unsubscribe, leave. Client ids
// are reused, so half the sessions are persistent (clean session off: the broker keeps and
// resumes them) and half clean; every fourth cycle sets a Will and drops the connection without
// DISCONNECT, as a crashing device does, so the broker publishes the Will. 2 steady
// subscribers (`churn/#` at QoS 1, `churn/+/status` at QoS 0) see every message and Will, which
// makes the expected deliveries exact; the churning clients' own deliveries (they subscribe to
// each other's topics) are counted too. Connection setup and teardown, session lookup and the
// subscription tree's inserts and removals dominate the broker's work here.
#include <string>
#include <thread>

#include "load_common.h"

namespace bench::load {
namespace {

constexpr int kGroups = 16;
constexpr int kPublishesPerCycle = 8;

struct Steady {
  std::atomic<long long> delivered{0};
  std::atomic<int> connected{0}, subscribed{0};
};

void steady_connect(struct mosquitto*, void* user, int rc) {
  if (rc != 0) die(std::string("connect refused: ") + mosquitto_connack_string(rc));
  static_cast<Steady*>(user)->connected.fetch_add(1);
}
void steady_subscribe(struct mosquitto*, void* user, int, int, const int*) {
  static_cast<Steady*>(user)->subscribed.fetch_add(1);
}
void steady_message(struct mosquitto*, void* user, const struct mosquitto_message*) {
  static_cast<Steady*>(user)->delivered.fetch_add(1, std::memory_order_relaxed);
}

// One churning client's view of its current connection, driven on its own thread.
struct Cycle {
  bool connected = false, disconnected = false;
  int connack = -1;
  int acks = 0;  // SUBACK, UNSUBACK and completed publishes
  long long delivered = 0;
};

void cycle_connect(struct mosquitto*, void* user, int rc) {
  auto* c = static_cast<Cycle*>(user);
  c->connack = rc;
  c->connected = rc == 0;
}
void cycle_disconnect(struct mosquitto*, void* user, int) {
  static_cast<Cycle*>(user)->disconnected = true;
}
void cycle_ack(struct mosquitto*, void* user, int) { ++static_cast<Cycle*>(user)->acks; }
void cycle_subscribe(struct mosquitto*, void* user, int, int, const int*) {
  ++static_cast<Cycle*>(user)->acks;
}
void cycle_message(struct mosquitto*, void* user, const struct mosquitto_message*) {
  ++static_cast<Cycle*>(user)->delivered;
}

struct Totals {
  std::atomic<long long> published{0}, status_published{0}, wills{0}, cycles{0};
  std::atomic<long long> churn_delivered{0};
  std::atomic<bool> failed{false};
};

// One connect ... leave cycle. False (after a message) if something did not happen in time.
bool one_cycle(const Options& o, int worker, long long n, Rng& rng, Totals& totals,
               Clock::time_point deadline) {
  const int slot = static_cast<int>(n % 4);
  const bool persistent = slot % 2 == 1;  // the same id always has the same kind of session
  const bool crash = slot == 3;           // with a Will, dropped without DISCONNECT
  const std::string id = "churn-" + std::to_string(getpid()) + "-" + std::to_string(worker) + "-" +
                         std::to_string(slot);
  const int group = static_cast<int>(rng.next() % kGroups);
  Cycle c;
  Client m = new_client(o, id, !persistent, &c);
  mosquitto_connect_callback_set(m.get(), cycle_connect);
  mosquitto_disconnect_callback_set(m.get(), cycle_disconnect);
  mosquitto_subscribe_callback_set(m.get(), cycle_subscribe);
  mosquitto_unsubscribe_callback_set(m.get(), cycle_ack);
  mosquitto_publish_callback_set(m.get(), cycle_ack);
  mosquitto_message_callback_set(m.get(), cycle_message);
  const std::string will_topic = "churn/will/" + id;
  if (crash && mosquitto_will_set(m.get(), will_topic.c_str(), 64, payload_bytes(), 1, false) !=
                   MOSQ_ERR_SUCCESS)
    die("will_set failed");
  if (!connect_blocking(o, m.get())) return false;
  if (!pump_until(
          m.get(), [&] { return c.connack >= 0; }, deadline) ||
      !c.connected) {
    std::fprintf(stderr, "bench_broker_load: churn connect of %s failed\n", id.c_str());
    return false;
  }
  const std::string filters[] = {"churn/" + std::to_string(group) + "/#", "churn/+/status",
                                 "churn/" + std::to_string((group + 1) % kGroups) + "/data"};
  for (const auto& f : filters) {
    if (mosquitto_subscribe(m.get(), nullptr, f.c_str(), static_cast<int>(n % 3)) !=
        MOSQ_ERR_SUCCESS)
      return false;
  }
  if (!pump_until(
          m.get(), [&] { return c.acks >= 3; }, deadline))
    return false;
  for (int k = 0; k < kPublishesPerCycle; ++k) {
    const bool status = k % 2 == 0;
    const std::string topic = "churn/" + std::to_string(group) + (status ? "/status" : "/data");
    if (mosquitto_publish(m.get(), nullptr, topic.c_str(), rng.between(64, kMaxPayload),
                          payload_bytes(), (k + worker) % 3, false) != MOSQ_ERR_SUCCESS)
      return false;
    totals.published.fetch_add(1, std::memory_order_relaxed);
    if (status) totals.status_published.fetch_add(1, std::memory_order_relaxed);
  }
  // Every publish completes (QoS 0: written; 1: PUBACK; 2: PUBCOMP) before unsubscribing.
  if (!pump_until(
          m.get(), [&] { return c.acks >= 3 + kPublishesPerCycle; }, deadline))
    return false;
  for (const auto& f : filters) {
    if (mosquitto_unsubscribe(m.get(), nullptr, f.c_str()) != MOSQ_ERR_SUCCESS) return false;
  }
  if (!pump_until(
          m.get(), [&] { return c.acks >= 6 + kPublishesPerCycle; }, deadline))
    return false;
  if (crash) {
    totals.wills.fetch_add(1, std::memory_order_relaxed);
    m.reset();  // closes the socket without DISCONNECT: the broker sends the Will
  } else {
    mosquitto_disconnect(m.get());
    if (!pump_until(
            m.get(), [&] { return c.disconnected; }, deadline))
      return false;
  }
  totals.churn_delivered.fetch_add(c.delivered, std::memory_order_relaxed);
  totals.cycles.fetch_add(1, std::memory_order_relaxed);
  return true;
}

}  // namespace

std::vector<PhaseResult> run_churn(const Options& o) {
  const int workers = o.publishers > 0 ? o.publishers : 4;
  const int steady_count = 2;
  Steady steady[steady_count];
  std::vector<Client> steady_clients;
  const char* const steady_filters[] = {"churn/#", "churn/+/status"};
  const std::string tag = std::to_string(getpid());
  for (int i = 0; i < steady_count; ++i) {
    steady_clients.push_back(
        new_client(o, "churn-steady-" + tag + "-" + std::to_string(i), true, &steady[i]));
    auto* m = steady_clients.back().get();
    mosquitto_connect_callback_set(m, steady_connect);
    mosquitto_subscribe_callback_set(m, steady_subscribe);
    mosquitto_message_callback_set(m, steady_message);
    connect_threaded(o, m);
  }
  const auto setup_deadline = Clock::now() + std::chrono::seconds(30);
  for (int i = 0; i < steady_count; ++i) {
    if (!wait_until([&] { return steady[i].connected.load() == 1; }, setup_deadline))
      die("steady subscriber did not connect within 30 s");
    if (mosquitto_subscribe(steady_clients[static_cast<size_t>(i)].get(), nullptr,
                            steady_filters[i], 1 - i) != MOSQ_ERR_SUCCESS)
      die("subscribe failed");
    if (!wait_until([&] { return steady[i].subscribed.load() == 1; }, setup_deadline))
      die("subscription not acknowledged within 30 s");
  }

  PhaseResult r;
  r.phase = "all";
  Totals totals;
  const auto deadline = deadline_after(o.timeout_s);
  PhaseMeter meter(o);
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      const long long mine = o.cycles / workers + (w < o.cycles % workers ? 1 : 0);
      Rng rng(static_cast<uint64_t>(w + 7));
      for (long long n = 0; n < mine && !totals.failed.load(); ++n) {
        if (!one_cycle(o, w, n, rng, totals, deadline)) totals.failed.store(true);
      }
    });
  }
  for (auto& t : threads) t.join();
  // `churn/#` sees every message and every Will; `churn/+/status` the status messages.
  const long long expect0 = totals.published.load() + totals.wills.load();
  const long long expect1 = totals.status_published.load();
  wait_until(
      [&] {
        return totals.failed.load() ||
               (steady[0].delivered.load() >= expect0 && steady[1].delivered.load() >= expect1);
      },
      deadline);
  r.cost = meter.stop();
  const long long steady_delivered = steady[0].delivered.load() + steady[1].delivered.load();
  r.expected = expect0 + expect1;
  r.delivered = steady_delivered + totals.churn_delivered.load();
  r.complete = !totals.failed.load() && totals.cycles.load() == o.cycles &&
               steady[0].delivered.load() >= expect0 && steady[1].delivered.load() >= expect1;
  r.extra = {{"cycles", static_cast<double>(totals.cycles.load())},
             {"wills", static_cast<double>(totals.wills.load())},
             {"published", static_cast<double>(totals.published.load())},
             {"workers", workers}};
  if (r.cost.broker_cpu_s && totals.cycles.load() > 0)
    r.extra.push_back({"broker_cpu_us_per_cycle",
                       *r.cost.broker_cpu_s * 1e6 / static_cast<double>(totals.cycles.load())});

  for (auto& c : steady_clients) mosquitto_disconnect(c.get());
  for (auto& c : steady_clients) mosquitto_loop_stop(c.get(), false);
  return {r};
}

}  // namespace bench::load
