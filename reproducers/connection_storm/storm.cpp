#include "storm.h"

#include <mosquitto.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <thread>

#include "repro/mqtt.h"

namespace repro {

// The backlog a device buffered while the broker was away: one block per message.
__attribute__((noinline)) std::vector<char*> buffer_backlog(int messages, int bytes, int device) {
  std::vector<char*> backlog;
  backlog.reserve(static_cast<size_t>(messages));
  for (int i = 0; i < messages; ++i) {
    char* m = static_cast<char*>(std::malloc(static_cast<size_t>(bytes)));
    std::memset(m, 'a' + (device + i) % 26, static_cast<size_t>(bytes));
    backlog.push_back(m);
  }
  return backlog;
}

// The record kept for a device after it leaves (last seen, the start of its last message),
// for status queries; replaced every storm.
__attribute__((noinline)) char* make_device_record(const char* last_message) {
  char* record = static_cast<char*>(std::malloc(200));
  std::memcpy(record, last_message, 200);
  return record;
}

bool StormGateway::serve_worker(int worker) {
  struct Connected {
    std::string id;
    ClientEvents events;
    mosquitto* client = nullptr;
    std::vector<char*> backlog;
  };
  std::vector<std::unique_ptr<Connected>> storm;
  bool ok = true;
  // The storm's peak: every device of this worker connected, its backlog handed over.
  for (int d = 0; d < shape_.devices; ++d) {
    auto c = std::make_unique<Connected>();
    c->id = "storm-" + std::to_string(::getpid()) + "-" + std::to_string(worker) + "-" +
            std::to_string(d);
    c->client = connect_client(options_, c->id, /*clean_session=*/true, 60, &c->events);
    if (c->client == nullptr) {
      ok = false;
      break;
    }
    c->backlog = buffer_backlog(shape_.backlog, shape_.message_bytes, d);
    char* record = make_device_record(c->backlog.back());
    {
      std::lock_guard<std::mutex> lock(mutex_);
      Device& device = devices_[c->id];
      std::free(device.record);
      device.record = record;
    }
    storm.push_back(std::move(c));
  }
  // Forward each backlog (QoS 0: sent once the socket took it), then let the device go.
  for (auto& c : storm) {
    const std::string topic = "storm/" + c->id;
    for (char* message : c->backlog) {
      if (mosquitto_publish(c->client, nullptr, topic.c_str(), shape_.message_bytes, message, 0,
                            false) != MOSQ_ERR_SUCCESS)
        ok = false;
    }
    mosquitto* client = c->client;
    if (!loop_until(
            client, [client] { return !mosquitto_want_write(client); }, "forwarding a backlog"))
      ok = false;
    close_client(c->client);
    c->client = nullptr;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& c : storm) {
    if (options_.fixed) {
      for (char* message : c->backlog) std::free(message);
    } else {
      // LEAK-SITE connection_storm: the delivery log keeps every forwarded message
      Device& device = devices_[c->id];
      device.delivered.insert(device.delivered.end(), c->backlog.begin(), c->backlog.end());
    }
  }
  return ok;
}

bool StormGateway::storm(long) {
  std::atomic<bool> ok{true};
  std::vector<std::thread> workers;
  for (int t = 0; t < shape_.threads; ++t)
    workers.emplace_back([this, t, &ok] {
      if (!serve_worker(t)) ok = false;
    });
  for (std::thread& w : workers) w.join();
  return ok;
}

}  // namespace repro
