#include "gateway.h"

#include <unistd.h>

#include <iostream>

namespace repro {

// noinline: the heap profile must name this function as the allocation site, whatever the
// optimiser decides about its callers.
__attribute__((noinline)) DeviceSession* open_device_session(const CommonOptions& options,
                                                             const std::string& device_id) {
  auto* session = new DeviceSession{};  // LEAK-SITE unclosed-connections
  session->device_id = device_id;
  // A unique client id per connection: reusing the device's id would make the broker kick
  // the old connection and hide the pile-up on its side.
  session->client = connect_client(options, device_id, /*clean_session=*/true,
                                   /*keepalive_s=*/600, &session->events);
  if (session->client == nullptr) {
    delete session;
    return nullptr;
  }
  return session;
}

void close_device_session(DeviceSession* session) {
  if (session == nullptr) return;
  close_client(session->client);
  delete session;
}

Gateway::Gateway(const CommonOptions& options, int devices)
    : options_(options), sessions_(static_cast<std::size_t>(devices), nullptr) {}

Gateway::~Gateway() {
  for (DeviceSession* session : sessions_) close_device_session(session);
}

bool Gateway::reconnect_device(long cycle) {
  const std::size_t slot = static_cast<std::size_t>(cycle) % sessions_.size();
  const std::string device_id = "gw" + std::to_string(::getpid()) + "-dev" + std::to_string(slot) +
                                "-c" + std::to_string(cycle);
  if (options_.fixed) {
    close_device_session(sessions_[slot]);
    sessions_[slot] = nullptr;
  }
  DeviceSession* session = open_device_session(options_, device_id);
  if (session == nullptr) return false;
  // The bug: in the leaky build the previous session in this slot is simply overwritten.
  sessions_[slot] = session;

  const std::string topic = "gateway/" + std::to_string(slot) + "/status";
  static const char kOnline[] = "online";
  int mid = 0;
  const int rc = mosquitto_publish(session->client, &mid, topic.c_str(), sizeof kOnline - 1,
                                   kOnline, /*qos=*/1, /*retain=*/false);
  if (rc != MOSQ_ERR_SUCCESS) {
    std::cerr << "publish on " << topic << " failed: " << mosquitto_strerror(rc) << '\n';
    return false;
  }
  return loop_until(
      session->client, [&] { return session->events.take_ack(mid); }, "PUBACK");
}

}  // namespace repro
