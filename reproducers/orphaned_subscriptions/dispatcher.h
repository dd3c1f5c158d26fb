// A topic dispatcher: MQTT messages arriving on one client are routed to handlers
// (closures) registered per topic. Handlers capture per-subscription state.
//
// The leak: the service subscribes a device's telemetry topic, reads one message, then
// unsubscribes at the broker but never removes the handler from the dispatcher. Each cycle
// leaves behind one handler whose closure owns one SubscriptionState (sizeof bytes, allocated
// in make_telemetry_handler()), plus the std::function and vector slot holding it. Stale
// handlers also keep being called for later messages on the same topic. The twin (--fixed)
// removes the handler on unsubscribe.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace repro {

using Handler = std::function<void(const std::string& payload)>;

class Dispatcher {
 public:
  void add(const std::string& topic, Handler handler);
  // Drops every handler registered for `topic`.
  void remove(const std::string& topic);
  // Calls every handler registered for `topic`; returns how many ran.
  std::size_t dispatch(const std::string& topic, const std::string& payload) const;
  std::size_t handler_count() const;

 private:
  std::map<std::string, std::vector<Handler>> handlers_;
};

inline constexpr std::size_t kTelemetryHistoryBytes = 6000;

// What a telemetry handler remembers about its subscription.
struct SubscriptionState {
  std::string topic;
  long messages = 0;
  std::size_t last_length = 0;
  std::array<char, kTelemetryHistoryBytes> last_payload;  // latest reading, for deltas
};

// Builds the handler for one telemetry subscription; it owns a fresh SubscriptionState.
Handler make_telemetry_handler(const std::string& topic);

}  // namespace repro
