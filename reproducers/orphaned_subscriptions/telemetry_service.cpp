#include "telemetry_service.h"

#include <unistd.h>

#include <iostream>

namespace repro {

TelemetryService::TelemetryService(const CommonOptions& options, int devices)
    : options_(options), devices_(devices) {
  events_.on_message = [this](const mosquitto_message& message) {
    const std::string payload(static_cast<const char*>(message.payload),
                              static_cast<std::size_t>(message.payloadlen));
    dispatcher_.dispatch(message.topic, payload);
    ++delivered_;
  };
}

TelemetryService::~TelemetryService() {
  if (client_ != nullptr) close_client(client_);
}

bool TelemetryService::connect() {
  client_ = connect_client(options_, "telemetry-" + std::to_string(::getpid()),
                           /*clean_session=*/true, /*keepalive_s=*/600, &events_);
  return client_ != nullptr;
}

bool TelemetryService::watch_device_once(long cycle) {
  const std::string topic = "fleet/" + std::to_string(::getpid()) + "/dev" +
                            std::to_string(cycle % devices_) + "/telemetry";
  dispatcher_.add(topic, make_telemetry_handler(topic));

  int mid = 0;
  int rc = mosquitto_subscribe(client_, &mid, topic.c_str(), /*qos=*/1);
  if (rc != MOSQ_ERR_SUCCESS || !loop_until(
                                    client_, [&] { return events_.take_ack(mid); }, "SUBACK")) {
    std::cerr << "subscribe " << topic << " failed: " << mosquitto_strerror(rc) << '\n';
    return false;
  }
  const std::string reading = "{\"cycle\":" + std::to_string(cycle) + ",\"temp\":21.5}";
  const std::size_t delivered_before = delivered_;
  rc = mosquitto_publish(client_, &mid, topic.c_str(), static_cast<int>(reading.size()),
                         reading.data(), /*qos=*/1, /*retain=*/false);
  if (rc != MOSQ_ERR_SUCCESS ||
      !loop_until(
          client_, [&] { return events_.take_ack(mid) && delivered_ > delivered_before; },
          "PUBACK and delivery")) {
    std::cerr << "publish on " << topic << " failed: " << mosquitto_strerror(rc) << '\n';
    return false;
  }
  rc = mosquitto_unsubscribe(client_, &mid, topic.c_str());
  if (rc != MOSQ_ERR_SUCCESS || !loop_until(
                                    client_, [&] { return events_.take_ack(mid); }, "UNSUBACK")) {
    std::cerr << "unsubscribe " << topic << " failed: " << mosquitto_strerror(rc) << '\n';
    return false;
  }
  // The bug: the leaky service only tells the broker; the handler and its state stay.
  if (options_.fixed) dispatcher_.remove(topic);
  return true;
}

}  // namespace repro
