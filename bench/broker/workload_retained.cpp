// retained: device state kept on the broker. 500 topics (`ret/g3/dev13`) in 10 groups; each
// round, 2 publishers set retained messages on a quarter of their topics (QoS 1 and 2,
// 64-1024 bytes) and clear a twentieth (empty retained payload), then 4 subscribers join at
// once, each with a filter over one group, over everything, or over one device
// (`ret/g3/#`, `ret/#`, `ret/g3/+`, `ret/+/dev13`), receive the retained messages the filter
// matches, and leave. The first round sets every topic. A steady subscriber on `ret/#` sees
// every update live. The load generator keeps its own copy of which topics hold a retained
// message, so every joiner knows exactly how many it must receive.
#include <string>
#include <thread>

#include "load_common.h"

namespace bench::load {
namespace {

constexpr int kGroups = 10;

std::string topic_name(int i) {
  return "ret/g" + std::to_string(i % kGroups) + "/dev" + std::to_string(i);
}

struct Threaded {
  std::atomic<long long> delivered{0}, acks{0};
  std::atomic<int> connected{0}, subscribed{0};
};

void t_connect(struct mosquitto*, void* user, int rc) {
  if (rc != 0) die(std::string("connect refused: ") + mosquitto_connack_string(rc));
  static_cast<Threaded*>(user)->connected.fetch_add(1);
}
void t_subscribe(struct mosquitto*, void* user, int, int, const int*) {
  static_cast<Threaded*>(user)->subscribed.fetch_add(1);
}
void t_message(struct mosquitto*, void* user, const struct mosquitto_message*) {
  static_cast<Threaded*>(user)->delivered.fetch_add(1, std::memory_order_relaxed);
}
void t_publish(struct mosquitto*, void* user, int) {
  static_cast<Threaded*>(user)->acks.fetch_add(1, std::memory_order_relaxed);
}

struct Joiner {
  int connack = -1;
  bool subscribed = false, disconnected = false;
  long long delivered = 0;
};

void j_connect(struct mosquitto*, void* user, int rc) { static_cast<Joiner*>(user)->connack = rc; }
void j_subscribe(struct mosquitto*, void* user, int, int, const int*) {
  static_cast<Joiner*>(user)->subscribed = true;
}
void j_message(struct mosquitto*, void* user, const struct mosquitto_message*) {
  ++static_cast<Joiner*>(user)->delivered;
}
void j_disconnect(struct mosquitto*, void* user, int) {
  static_cast<Joiner*>(user)->disconnected = true;
}

// A subscriber that joins, takes the `expected` retained messages its filter matches, leaves.
bool join(const Options& o, const std::string& id, const std::string& filter, long long expected,
          int qos, long long& delivered, Clock::time_point deadline) {
  Joiner j;
  Client m = new_client(o, id, true, &j);
  mosquitto_connect_callback_set(m.get(), j_connect);
  mosquitto_subscribe_callback_set(m.get(), j_subscribe);
  mosquitto_message_callback_set(m.get(), j_message);
  mosquitto_disconnect_callback_set(m.get(), j_disconnect);
  if (!connect_blocking(o, m.get())) return false;
  if (!pump_until(
          m.get(), [&] { return j.connack >= 0; }, deadline) ||
      j.connack != 0)
    return false;
  if (mosquitto_subscribe(m.get(), nullptr, filter.c_str(), qos) != MOSQ_ERR_SUCCESS) return false;
  if (!pump_until(
          m.get(), [&] { return j.subscribed && j.delivered >= expected; }, deadline)) {
    std::fprintf(stderr, "bench_broker_load: joiner on %s got %lld of %lld retained messages\n",
                 filter.c_str(), j.delivered, expected);
    return false;
  }
  mosquitto_disconnect(m.get());
  pump_until(
      m.get(), [&] { return j.disconnected; }, deadline);
  delivered = j.delivered;
  return true;
}

}  // namespace

std::vector<PhaseResult> run_retained(const Options& o) {
  const int publishers = o.publishers > 0 ? o.publishers : 2;
  const int joiners = o.subscribers > 0 ? o.subscribers : 4;
  const int topics = o.topics > 0 ? o.topics : 500;
  std::vector<std::string> names;
  for (int i = 0; i < topics; ++i) names.push_back(topic_name(i));
  // Which topics hold a retained message. Publisher p only writes indices i % publishers == p,
  // and joiners only read it after every publisher's round is acknowledged.
  std::vector<char> is_set(static_cast<size_t>(topics), 0);

  const std::string tag = std::to_string(getpid());
  Threaded steady;
  std::vector<Threaded> pub_state(static_cast<size_t>(publishers));
  Client steady_client = new_client(o, "ret-steady-" + tag, true, &steady);
  std::vector<Client> pubs;
  for (int p = 0; p < publishers; ++p)
    pubs.push_back(new_client(o, "ret-pub-" + tag + "-" + std::to_string(p), true,
                              &pub_state[static_cast<size_t>(p)]));
  for (auto* m : {steady_client.get()}) {
    mosquitto_connect_callback_set(m, t_connect);
    mosquitto_subscribe_callback_set(m, t_subscribe);
    mosquitto_message_callback_set(m, t_message);
    connect_threaded(o, m);
  }
  for (auto& c : pubs) {
    mosquitto_connect_callback_set(c.get(), t_connect);
    mosquitto_publish_callback_set(c.get(), t_publish);
    connect_threaded(o, c.get());
  }
  const auto setup_deadline = Clock::now() + std::chrono::seconds(30);
  if (!wait_until([&] { return steady.connected.load() == 1; }, setup_deadline)) die("no connect");
  for (auto& s : pub_state) {
    if (!wait_until([&] { return s.connected.load() == 1; }, setup_deadline)) die("no connect");
  }
  if (mosquitto_subscribe(steady_client.get(), nullptr, "ret/#", 0) != MOSQ_ERR_SUCCESS)
    die("subscribe failed");
  if (!wait_until([&] { return steady.subscribed.load() == 1; }, setup_deadline))
    die("subscription not acknowledged within 30 s");

  PhaseResult r;
  r.phase = "all";
  const auto deadline = deadline_after(o.timeout_s);
  std::atomic<bool> failed{false};
  std::atomic<long long> updates{0}, joined_delivered{0}, joins{0};
  long long joined_expected = 0;
  std::vector<long long> sent_total(static_cast<size_t>(publishers), 0);  // per publisher
  PhaseMeter meter(o);
  for (long long round = 0; round < o.rounds && !failed.load(); ++round) {
    std::vector<std::thread> threads;
    for (int p = 0; p < publishers; ++p) {
      threads.emplace_back([&, p] {
        Threaded& s = pub_state[static_cast<size_t>(p)];
        Rng rng(static_cast<uint64_t>(round * 31 + p + 1));
        const int own = (topics - p + publishers - 1) / publishers;  // indices p, p+P, ...
        const int sets = round == 0 ? own : std::max(1, own / 4);
        const int clears = round == 0 ? 0 : std::max(1, own / 20);
        long long sent = 0;
        // A run of consecutive own topics from a random start, so no topic is touched twice in
        // a round: the broker applies a QoS 2 PUBLISH only at PUBREL, so a QoS 1 clear sent
        // after a QoS 2 set of the same topic could overtake it.
        const int start =
            round == 0 ? 0 : static_cast<int>(rng.next() % static_cast<uint64_t>(own));
        for (int k = 0; k < sets + clears; ++k) {
          const int i = p + publishers * ((start + k) % own);
          const bool clear = k >= sets;
          const int len = clear ? 0 : rng.between(64, kMaxPayload);
          if (mosquitto_publish(pubs[static_cast<size_t>(p)].get(), nullptr,
                                names[static_cast<size_t>(i)].c_str(), len, payload_bytes(),
                                1 + k % 2, true) != MOSQ_ERR_SUCCESS) {
            failed.store(true);
            return;
          }
          is_set[static_cast<size_t>(i)] = clear ? 0 : 1;
          ++sent;
        }
        updates.fetch_add(sent);
        sent_total[static_cast<size_t>(p)] += sent;
        // Acknowledged (PUBACK/PUBCOMP) means stored: joiners may now count on it.
        if (!wait_until([&] { return s.acks.load() >= sent_total[static_cast<size_t>(p)]; },
                        deadline))
          failed.store(true);
      });
    }
    for (auto& t : threads) t.join();
    if (failed.load()) break;

    threads.clear();
    for (int j = 0; j < joiners; ++j) {
      const int group = static_cast<int>((round * joiners + j) % kGroups);
      const int kind = static_cast<int>((round + j) % 4);
      const std::string filter = kind == 0   ? "ret/g" + std::to_string(group) + "/#"
                                 : kind == 1 ? std::string("ret/#")
                                 : kind == 2
                                     ? "ret/g" + std::to_string(group) + "/+"
                                     : "ret/+/dev" + std::to_string((round * 7 + j) % topics);
      long long expected = 0;
      for (int i = 0; i < topics; ++i)
        expected +=
            is_set[static_cast<size_t>(i)] && topic_matches(filter, names[static_cast<size_t>(i)]);
      joined_expected += expected;
      threads.emplace_back([&, j, filter, expected] {
        long long got = 0;
        const std::string id = "ret-join-" + tag + "-" + std::to_string(j);
        if (!join(o, id, filter, expected, j % 3, got, deadline)) {
          failed.store(true);
          return;
        }
        joined_delivered.fetch_add(got);
        joins.fetch_add(1);
      });
    }
    for (auto& t : threads) t.join();
  }
  wait_until([&] { return failed.load() || steady.delivered.load() >= updates.load(); }, deadline);
  r.cost = meter.stop();
  r.expected = updates.load() + joined_expected;
  r.delivered = steady.delivered.load() + joined_delivered.load();
  r.complete = !failed.load() && steady.delivered.load() >= updates.load() &&
               joined_delivered.load() >= joined_expected && joins.load() == o.rounds * joiners;
  r.extra = {{"rounds", static_cast<double>(o.rounds)},
             {"topics", topics},
             {"updates", static_cast<double>(updates.load())},
             {"joins", static_cast<double>(joins.load())},
             {"retained_delivered", static_cast<double>(joined_delivered.load())}};

  mosquitto_disconnect(steady_client.get());
  for (auto& c : pubs) mosquitto_disconnect(c.get());
  mosquitto_loop_stop(steady_client.get(), false);
  for (auto& c : pubs) mosquitto_loop_stop(c.get(), false);
  return {r};
}

}  // namespace bench::load
