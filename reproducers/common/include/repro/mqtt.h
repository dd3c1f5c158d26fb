// Thin synchronous helpers over libmosquitto (the C client library Debian ships).
//
// The reproducers drive the client's network loop themselves (no background thread), so
// every cycle is a fixed sequence of MQTT round trips and the memory a cycle leaves behind
// is the same each time.
#pragma once

#include <mosquitto.h>

#include <chrono>
#include <functional>
#include <set>
#include <string>

#include "repro/options.h"

namespace repro {

// mosquitto_lib_init / mosquitto_lib_cleanup for the lifetime of main().
class MosquittoLibrary {
 public:
  MosquittoLibrary();
  ~MosquittoLibrary();
  MosquittoLibrary(const MosquittoLibrary&) = delete;
  MosquittoLibrary& operator=(const MosquittoLibrary&) = delete;
};

// What the broker told one client. libmosquitto reports acknowledgements through callbacks
// with the message id; they are collected here so a caller can wait for "its" mid.
struct ClientEvents {
  bool connected = false;
  int connack_code = -1;
  std::set<int> acked;  // mids of PUBACK (QoS 1), SUBACK and UNSUBACK not yet taken
  std::function<void(const mosquitto_message&)> on_message;  // optional
  std::function<void(int mid)> on_publish_acked;             // optional, before `acked`

  // True once, when `mid` has been acknowledged.
  bool take_ack(int mid) { return acked.erase(mid) > 0; }
};

inline constexpr std::chrono::milliseconds kRoundTripTimeout{5000};

// Creates a client whose callbacks fill `events`, connects it (MQTT 3.1.1) and waits for the
// CONNACK. Returns nullptr after printing why on stderr; nothing is left allocated then.
mosquitto* connect_client(const CommonOptions& options, const std::string& client_id,
                          bool clean_session, int keepalive_s, ClientEvents* events);

// Runs the client's network loop until `done()` is true. Returns false (and says so on
// stderr, naming `what`) on a network error or when `timeout` passes first.
bool loop_until(mosquitto* client, const std::function<bool()>& done, const char* what,
                std::chrono::milliseconds timeout = kRoundTripTimeout);

// Sends DISCONNECT and frees the client: its socket is closed and its memory returned.
void close_client(mosquitto* client);

}  // namespace repro
