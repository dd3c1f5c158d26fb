// churning-cache: see device_state.h. One cycle = one device publishes a reading through the
// broker and the service, subscribed to all devices, receives and stores it.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <iostream>
#include <string>

#include "device_state.h"
#include "repro/cycle_driver.h"
#include "repro/mqtt.h"

int main(int argc, char** argv) {
  namespace po = boost::program_options;
  int devices = 20;
  po::options_description specific("churning-cache options");
  specific.add_options()("devices", po::value<int>(&devices)->default_value(devices),
                         "devices taking turns: each cached reading lives that many cycles");
  repro::CommonOptions options;
  if (auto exit_status =
          repro::parse_options(argc, argv,
                               "A device-state service: a cache replaced all the time beside an "
                               "audit trail that (unless --fixed) is never trimmed.",
                               specific, options)) {
    return *exit_status;
  }
  if (devices < 1 || devices > 100000) {
    std::cerr << "churning-cache: --devices must be 1..100000\n";
    return 2;
  }
  repro::MosquittoLibrary library;
  const std::string tag = std::to_string(::getpid());
  const std::string prefix = "cache/" + tag + "/";

  repro::DeviceCache cache;
  repro::AuditTrail audit(/*bounded=*/options.fixed);
  long received = 0;
  repro::ClientEvents service_events;
  service_events.on_message = [&](const mosquitto_message& m) {
    const std::string device = std::string(m.topic).substr(prefix.size());
    const std::string payload(static_cast<const char*>(m.payload),
                              static_cast<std::size_t>(m.payloadlen));
    cache.store(device, received, payload);
    audit.append(device, received);
    ++received;
  };
  mosquitto* service =
      repro::connect_client(options, "cache-" + tag + "-service",
                            /*clean_session=*/true, /*keepalive_s=*/60, &service_events);
  if (service == nullptr) return 1;
  int mid = 0;
  const std::string filter = prefix + "+";
  if (mosquitto_subscribe(service, &mid, filter.c_str(), /*qos=*/0) != MOSQ_ERR_SUCCESS ||
      !repro::loop_until(
          service, [&] { return service_events.take_ack(mid); }, "SUBACK")) {
    std::cerr << "churning-cache: subscribe failed\n";
    return 1;
  }
  repro::ClientEvents device_events;
  mosquitto* device =
      repro::connect_client(options, "cache-" + tag + "-devices",
                            /*clean_session=*/true, /*keepalive_s=*/60, &device_events);
  if (device == nullptr) return 1;

  const std::string reading(200, 'r');
  const int rc = repro::run_cycles(options, [&](long index) {
    const std::string topic = prefix + "dev" + std::to_string(index % devices);
    const long before = received;
    if (mosquitto_publish(device, nullptr, topic.c_str(), static_cast<int>(reading.size()),
                          reading.data(), /*qos=*/0, /*retain=*/false) != MOSQ_ERR_SUCCESS ||
        mosquitto_loop_write(device, 1) != MOSQ_ERR_SUCCESS) {
      std::cerr << "churning-cache: publish failed\n";
      return false;
    }
    const bool ok = repro::loop_until(
        service, [&] { return received > before; }, "telemetry");
    device_events.acked.clear();  // QoS 0 publishes are "acked" when written: nothing to wait for
    return ok;
  });
  repro::close_client(device);
  repro::close_client(service);
  return rc;
}
