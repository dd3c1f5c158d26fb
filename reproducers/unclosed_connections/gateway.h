// A device gateway that gives every device session its own MQTT connection to the broker
// (as IoT bridges do, so the broker can apply per-device ACLs and last-will messages).
//
// The leak: when a device reconnects, the leaky gateway opens a fresh session and overwrites
// the old one in its table without closing it. Each reconnect therefore leaves behind
//   - one DeviceSession of sizeof(DeviceSession) bytes, allocated in open_device_session(),
//   - one libmosquitto client (its struct and buffers, allocated inside libmosquitto),
//   - three sockets: the connected TCP socket and the socketpair libmosquitto uses to wake
//     its network loop.
// The twin (--fixed) closes the old session first, so at most `devices` sessions are live.
//
// Like the real thing, the leaky gateway eventually falls over: libmosquitto's loop uses
// select(), which rejects descriptors >= 1024, so after about 335 reconnects (3 fds each)
// every new connection fails with "Invalid function arguments provided".
#pragma once

#include <array>
#include <string>
#include <vector>

#include "repro/mqtt.h"

namespace repro {

inline constexpr std::size_t kRxBufferBytes = 16000;

struct DeviceSession {
  std::string device_id;
  mosquitto* client = nullptr;
  ClientEvents events;  // the client's callbacks point here, so the session must not move
  std::array<unsigned char, kRxBufferBytes> rx_buffer;  // frames from the device, reassembled
};

class Gateway {
 public:
  Gateway(const CommonOptions& options, int devices);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Device number `cycle % devices` drops its link and comes back: the gateway opens a new
  // broker session for it and announces it online. Returns false on a broker failure.
  bool reconnect_device(long cycle);

 private:
  const CommonOptions& options_;
  std::vector<DeviceSession*> sessions_;  // one slot per device; nullptr until it connects
};

// Opens a broker connection for `device_id`. Returns nullptr (reported on stderr) on failure.
DeviceSession* open_device_session(const CommonOptions& options, const std::string& device_id);

// Disconnects the session's client and frees everything the session owns.
void close_device_session(DeviceSession* session);

}  // namespace repro
