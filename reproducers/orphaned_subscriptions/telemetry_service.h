// The service around the dispatcher: one broker connection; each cycle one device's telemetry
// topic is subscribed, one reading is published to it and received through the dispatcher,
// and the topic is unsubscribed again (the device went offline).
#pragma once

#include <string>

#include "dispatcher.h"
#include "repro/mqtt.h"

namespace repro {

class TelemetryService {
 public:
  TelemetryService(const CommonOptions& options, int devices);
  ~TelemetryService();
  TelemetryService(const TelemetryService&) = delete;
  TelemetryService& operator=(const TelemetryService&) = delete;

  bool connect();
  bool watch_device_once(long cycle);

 private:
  const CommonOptions& options_;
  const int devices_;
  ClientEvents events_;
  mosquitto* client_ = nullptr;
  Dispatcher dispatcher_;
  std::size_t delivered_ = 0;  // messages received from the broker
};

}  // namespace repro
