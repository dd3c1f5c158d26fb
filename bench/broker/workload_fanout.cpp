// fanout: what a busy IoT broker does most of the time. 4 publishers spread messages over 64
// topics at depths 3 and 4 (`a/x/c`, `b/w/f/n1`, ...), QoS 0, 1 and 2 interleaved message by
// message, payloads of 64-1024 bytes. 6 subscribers hold overlapping wildcard filters (`#`,
// `+/x/#`, `a/+/c`, `a/#`, `+/+/c/#`, `b/+/+`), one filter each and granted QoS 2, 1 or 0,
// so one message reaches 0-5 of them and the broker walks its subscription tree for every
// message. Each subscriber has one filter because MQTT 3.1.1 leaves duplicates for overlapping
// filters of one client to the broker; with one filter each the deliveries are exact.
#include <string>
#include <thread>

#include "load_common.h"

namespace bench::load {
namespace {

const char* const kFilters[] = {"#",       "+/x/#", "a/+/c",   "a/#",
                                "+/+/c/#", "b/+/+", "+/+/+/+", "a/x/c/#"};
constexpr int kFilterCount = sizeof kFilters / sizeof kFilters[0];

std::string topic_name(int i) {
  static const char* const level2[] = {"x", "y", "z", "w"};
  static const char* const level3[] = {"c", "d", "e", "f"};
  std::string t =
      std::string(i % 2 == 0 ? "a" : "b") + "/" + level2[(i / 2) % 4] + "/" + level3[(i / 8) % 4];
  if (i >= 32) t += "/n" + std::to_string(i / 32);  // the deeper half, for `#` and `+/+/+/+`
  return t;
}

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

}  // namespace

std::vector<PhaseResult> run_fanout(const Options& o) {
  const int publishers = o.publishers > 0 ? o.publishers : 4;
  const int subscribers = o.subscribers > 0 ? o.subscribers : 6;
  const int topics = o.topics > 0 ? o.topics : 64;
  std::vector<std::string> names;
  std::vector<long long> fanout;  // subscribers each topic reaches
  for (int t = 0; t < topics; ++t) {
    names.push_back(topic_name(t));
    long long n = 0;
    for (int s = 0; s < subscribers; ++s)
      n += topic_matches(kFilters[s % kFilterCount], names.back());
    fanout.push_back(n);
  }

  State st(o.window);
  const std::string tag = std::to_string(getpid());
  std::vector<Client> subs, pubs;
  for (int i = 0; i < subscribers; ++i)
    subs.push_back(new_client(o, "fanout-sub-" + tag + "-" + std::to_string(i), true, &st));
  for (int i = 0; i < publishers; ++i)
    pubs.push_back(new_client(o, "fanout-pub-" + tag + "-" + std::to_string(i), true, &st));
  for (auto* list : {&subs, &pubs}) {
    for (auto& c : *list) {
      mosquitto_connect_callback_set(c.get(), on_connect);
      mosquitto_subscribe_callback_set(c.get(), on_subscribe);
      mosquitto_message_callback_set(c.get(), on_message);
      connect_threaded(o, c.get());
    }
  }
  const auto setup_deadline = Clock::now() + std::chrono::seconds(30);
  if (!wait_until([&] { return st.connected.load() == subscribers + publishers; }, setup_deadline))
    die("clients did not all connect within 30 s");
  for (int i = 0; i < subscribers; ++i) {
    const int granted = 2 - i % 3;  // 2, 1, 0, 2, ...: deliveries at min(publish, granted)
    if (mosquitto_subscribe(subs[static_cast<size_t>(i)].get(), nullptr, kFilters[i % kFilterCount],
                            granted) != MOSQ_ERR_SUCCESS)
      die("subscribe failed");
  }
  if (!wait_until([&] { return st.subscribed.load() == subscribers; }, setup_deadline))
    die("subscriptions not acknowledged within 30 s");

  PhaseResult r;
  r.phase = "all";
  const auto deadline = deadline_after(o.timeout_s);
  std::atomic<bool> failed{false};
  std::atomic<long long> published{0};
  PhaseMeter meter(o);
  std::vector<std::thread> threads;
  for (long long p = 0; p < publishers; ++p) {
    threads.emplace_back([&, p] {
      const long long mine = o.messages / publishers + (p < o.messages % publishers ? 1 : 0);
      Rng rng(static_cast<uint64_t>(p + 101));
      for (long long n = 0; n < mine; ++n) {
        const int t = static_cast<int>(rng.next() % static_cast<uint64_t>(topics));
        if (!st.flow.admit(fanout[static_cast<size_t>(t)], deadline)) {
          failed.store(true);
          return;
        }
        const int qos = static_cast<int>((n + p) % 3);
        const int rc = mosquitto_publish(pubs[static_cast<size_t>(p)].get(), nullptr,
                                         names[static_cast<size_t>(t)].c_str(),
                                         rng.between(64, kMaxPayload), payload_bytes(), qos, false);
        if (rc != MOSQ_ERR_SUCCESS) {
          std::fprintf(stderr, "bench_broker_load: publish: %s\n", mosquitto_strerror(rc));
          failed.store(true);
          return;
        }
        published.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (auto& t : threads) t.join();
  r.expected = st.flow.expected();
  wait_until([&] { return failed.load() || st.flow.delivered() >= r.expected; }, deadline);
  r.cost = meter.stop();
  r.delivered = st.flow.delivered();
  r.complete = !failed.load() && r.delivered >= r.expected && published.load() == o.messages;
  r.extra = {{"messages", static_cast<double>(published.load())},
             {"publishers", publishers},
             {"subscribers", subscribers},
             {"topics", topics}};

  for (auto* list : {&subs, &pubs}) {
    for (auto& c : *list) mosquitto_disconnect(c.get());
    for (auto& c : *list) mosquitto_loop_stop(c.get(), false);
  }
  return {r};
}

}  // namespace bench::load
