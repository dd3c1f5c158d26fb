// twopub, the first broker workload: 2 publishers and 2 wildcard subscribers
// (`bench/#`, `bench/+/+`, both matching every topic), a QoS 0 phase then a QoS 1 phase of
// 64-256-byte payloads over 16 topics. Kept as it was so figures stay comparable with earlier
// runs.
#include <string>
#include <thread>

#include "load_common.h"

namespace bench::load {
namespace {

struct State {
  explicit State(long long window) : flow(window) {}
  DeliveryWindow flow;
  std::atomic<int> connected{0}, subscribed{0};
};

void on_connect(struct mosquitto*, void* user, int rc) {
  if (rc != 0) die(std::string("connect refused: ") + mosquitto_connack_string(rc));
  static_cast<State*>(user)->connected.fetch_add(1);
}
void on_subscribe(struct mosquitto*, void* user, int, int, const int*) {
  static_cast<State*>(user)->subscribed.fetch_add(1);
}
void on_message(struct mosquitto*, void* user, const struct mosquitto_message*) {
  static_cast<State*>(user)->flow.on_delivery();
}

PhaseResult phase(const Options& o, State& s, std::vector<Client>& pubs, int subscribers, int qos,
                  long long messages) {
  PhaseResult r;
  r.phase = "qos" + std::to_string(qos);
  const long long base_delivered = s.flow.delivered();
  const long long base_expected = s.flow.expected();
  const auto deadline = deadline_after(o.timeout_s);
  std::atomic<bool> failed{false};
  PhaseMeter meter(o);
  std::vector<std::thread> threads;
  const long long n_pubs = static_cast<long long>(pubs.size());
  for (long long p = 0; p < n_pubs; ++p) {
    threads.emplace_back([&, p] {
      const long long mine = messages / n_pubs + (p < messages % n_pubs ? 1 : 0);
      Rng rng(static_cast<uint64_t>(p * 3 + qos + 1));
      for (long long n = 0; n < mine; ++n) {
        if (!s.flow.admit(subscribers, deadline)) {
          failed.store(true);
          return;
        }
        const int len = rng.between(64, 256);
        const std::string topic = "bench/p" + std::to_string(p) + "/t" + std::to_string(n % 8);
        const int rc = mosquitto_publish(pubs[static_cast<size_t>(p)].get(), nullptr, topic.c_str(),
                                         len, payload_bytes(), qos, false);
        if (rc != MOSQ_ERR_SUCCESS) {
          std::fprintf(stderr, "bench_broker_load: publish: %s\n", mosquitto_strerror(rc));
          failed.store(true);
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  r.expected = s.flow.expected() - base_expected;
  wait_until([&] { return failed.load() || s.flow.delivered() - base_delivered >= r.expected; },
             deadline);
  r.cost = meter.stop();
  r.delivered = s.flow.delivered() - base_delivered;
  r.complete = !failed.load() && r.delivered >= r.expected && r.expected == messages * subscribers;
  return r;
}

}  // namespace

std::vector<PhaseResult> run_two_publishers(const Options& o) {
  const int publishers = o.publishers > 0 ? o.publishers : 2;
  const int subscribers = o.subscribers > 0 ? o.subscribers : 2;
  State s(o.window);
  const std::string tag = std::to_string(getpid());
  std::vector<Client> subs, pubs;
  for (int i = 0; i < subscribers; ++i)
    subs.push_back(new_client(o, "twopub-sub-" + tag + "-" + std::to_string(i), true, &s));
  for (int i = 0; i < publishers; ++i)
    pubs.push_back(new_client(o, "twopub-pub-" + tag + "-" + std::to_string(i), true, &s));
  for (auto* list : {&subs, &pubs}) {
    for (auto& c : *list) {
      mosquitto_connect_callback_set(c.get(), on_connect);
      mosquitto_subscribe_callback_set(c.get(), on_subscribe);
      mosquitto_message_callback_set(c.get(), on_message);
      connect_threaded(o, c.get());
    }
  }
  const auto setup_deadline = Clock::now() + std::chrono::seconds(30);
  if (!wait_until([&] { return s.connected.load() == subscribers + publishers; }, setup_deadline))
    die("clients did not all connect within 30 s");
  // Two kinds of wildcard, as real deployments mix them; both match every published topic.
  for (int i = 0; i < subscribers; ++i) {
    const char* filter = (i % 2 == 0) ? "bench/#" : "bench/+/+";
    if (mosquitto_subscribe(subs[static_cast<size_t>(i)].get(), nullptr, filter, 1) !=
        MOSQ_ERR_SUCCESS)
      die("subscribe failed");
  }
  if (!wait_until([&] { return s.subscribed.load() == subscribers; }, setup_deadline))
    die("subscriptions not acknowledged within 30 s");

  std::vector<PhaseResult> phases;
  for (const auto& [qos, messages] : {std::pair<int, long long>{0, o.qos0_messages},
                                      std::pair<int, long long>{1, o.qos1_messages}}) {
    if (messages == 0) continue;
    phases.push_back(phase(o, s, pubs, subscribers, qos, messages));
    if (!phases.back().complete) break;
  }
  for (auto* list : {&subs, &pubs}) {
    for (auto& c : *list) mosquitto_disconnect(c.get());
    for (auto& c : *list) mosquitto_loop_stop(c.get(), false);
  }
  return phases;
}

}  // namespace bench::load
