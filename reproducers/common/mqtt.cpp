#include "repro/mqtt.h"

#include <iostream>

namespace repro {
namespace {

ClientEvents& events_of(void* userdata) { return *static_cast<ClientEvents*>(userdata); }

void on_connect(mosquitto*, void* userdata, int code) {
  events_of(userdata).connack_code = code;
  events_of(userdata).connected = code == 0;
}
void on_disconnect(mosquitto*, void* userdata, int) { events_of(userdata).connected = false; }
void on_publish(mosquitto*, void* userdata, int mid) {
  auto& events = events_of(userdata);
  if (events.on_publish_acked) events.on_publish_acked(mid);
  events.acked.insert(mid);
}
void on_subscribe(mosquitto*, void* userdata, int mid, int, const int*) {
  events_of(userdata).acked.insert(mid);
}
void on_unsubscribe(mosquitto*, void* userdata, int mid) { events_of(userdata).acked.insert(mid); }
void on_message(mosquitto*, void* userdata, const mosquitto_message* message) {
  auto& events = events_of(userdata);
  if (events.on_message && message != nullptr) events.on_message(*message);
}

}  // namespace

MosquittoLibrary::MosquittoLibrary() { mosquitto_lib_init(); }
MosquittoLibrary::~MosquittoLibrary() { mosquitto_lib_cleanup(); }

mosquitto* connect_client(const CommonOptions& options, const std::string& client_id,
                          bool clean_session, int keepalive_s, ClientEvents* events) {
  mosquitto* client = mosquitto_new(client_id.c_str(), clean_session, events);
  if (client == nullptr) {
    std::cerr << "mosquitto_new(" << client_id << ") failed\n";
    return nullptr;
  }
  mosquitto_connect_callback_set(client, on_connect);
  mosquitto_disconnect_callback_set(client, on_disconnect);
  mosquitto_publish_callback_set(client, on_publish);
  mosquitto_subscribe_callback_set(client, on_subscribe);
  mosquitto_unsubscribe_callback_set(client, on_unsubscribe);
  mosquitto_message_callback_set(client, on_message);

  const int rc = mosquitto_connect(client, options.host.c_str(), options.port, keepalive_s);
  if (rc != MOSQ_ERR_SUCCESS) {
    std::cerr << "connect to " << options.host << ':' << options.port
              << " failed: " << mosquitto_strerror(rc) << '\n';
    mosquitto_destroy(client);
    return nullptr;
  }
  if (!loop_until(
          client, [events] { return events->connack_code >= 0; }, "CONNACK") ||
      !events->connected) {
    std::cerr << "broker refused " << client_id << ": "
              << mosquitto_connack_string(events->connack_code) << '\n';
    mosquitto_destroy(client);
    return nullptr;
  }
  return client;
}

bool loop_until(mosquitto* client, const std::function<bool()>& done, const char* what,
                std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      std::cerr << "timed out waiting for " << what << '\n';
      return false;
    }
    const int rc = mosquitto_loop(client, 10, 1);
    if (rc != MOSQ_ERR_SUCCESS) {
      std::cerr << "network error waiting for " << what << ": " << mosquitto_strerror(rc) << '\n';
      return false;
    }
  }
  return true;
}

void close_client(mosquitto* client) {
  mosquitto_disconnect(client);
  mosquitto_destroy(client);
}

}  // namespace repro
