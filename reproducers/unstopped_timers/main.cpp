// unstopped-timers: a QoS 1 publisher whose per-message retry timers are never stopped after
// the PUBACK. See retry_timers.h for what leaks per cycle.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <iostream>

#include "repro/cycle_driver.h"
#include "repro/mqtt.h"
#include "retry_timers.h"

namespace {

constexpr int kRetryAfterSeconds = 30;  // far beyond a loopback round trip: never fires in tests

bool publish_reading(mosquitto* client, repro::ClientEvents& events,
                     repro::InFlightTable& in_flight, long cycle) {
  const std::string topic = "meters/" + std::to_string(::getpid()) + "/reading";
  const std::string payload = "{\"cycle\":" + std::to_string(cycle) + ",\"kwh\":3.25}";
  int mid = 0;
  int rc = mosquitto_publish(client, &mid, topic.c_str(), static_cast<int>(payload.size()),
                             payload.data(), /*qos=*/1, /*retain=*/false);
  if (rc != MOSQ_ERR_SUCCESS) {
    std::cerr << "publish failed: " << mosquitto_strerror(rc) << '\n';
    return false;
  }
  repro::RetryTimer* timer = repro::start_retry_timer(mid, topic, payload, kRetryAfterSeconds);
  if (timer == nullptr) return false;
  in_flight.add(timer);
  in_flight.for_each_expired([&](const repro::RetryTimer& expired) {
    mosquitto_publish(client, nullptr, expired.topic.c_str(), static_cast<int>(expired.length),
                      expired.payload.data(), 1, false);
  });
  return repro::loop_until(
      client, [&] { return events.take_ack(mid); }, "PUBACK");
}

}  // namespace

int main(int argc, char** argv) {
  repro::CommonOptions options;
  if (auto exit_status =
          repro::parse_options(argc, argv,
                               "A meter that publishes one QoS 1 reading per cycle with a retry "
                               "timer per message.",
                               {}, options)) {
    return *exit_status;
  }
  // The harness reads this: the bytes one leaky cycle leaves at the leaking site.
  std::cout << "SITE-BYTES " << sizeof(repro::RetryTimer) << std::endl;

  repro::MosquittoLibrary library;
  repro::ClientEvents events;
  repro::InFlightTable in_flight(options.fixed);
  // The PUBACK callback is where the timer should be stopped.
  events.on_publish_acked = [&](int mid) { in_flight.acknowledged(mid); };
  mosquitto* client = repro::connect_client(options, "meter-" + std::to_string(::getpid()),
                                            /*clean_session=*/true, /*keepalive_s=*/600, &events);
  if (client == nullptr) return 1;
  const int rc = repro::run_cycles(
      options, [&](long cycle) { return publish_reading(client, events, in_flight, cycle); });
  repro::close_client(client);
  return rc;
}
