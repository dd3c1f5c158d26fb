// A gateway that takes a connection storm: after an outage every device reconnects at once
// and hands over the backlog it buffered; the gateway holds all of them, forwards each backlog
// to the broker over the device's own connection, and lets the devices go. For each device it
// keeps a small record (last seen, last message), replaced every storm.
//
// The leaky one (default) keeps every forwarded backlog in the device's delivery log, which
// nothing prunes: live heap grows by the whole backlog every storm. The twin (--fixed) frees
// the backlogs once sent: nothing stays live, but the device records, allocated between one
// device's backlog and the next while the storm was at its peak, pin the freed backlogs in
// place, so glibc keeps them (resident) as holes in its arenas: RSS stays up after the clients
// leave. Not a leak: heapdiff says "allocator-retention" and `leakprobe trim` gives it back.
#pragma once

#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "repro/options.h"

namespace repro {

struct StormShape {
  int threads = 4;    // the storm is served by this many worker threads (glibc arenas)
  int devices = 32;   // devices per worker thread, all connected at once
  int backlog = 256;  // messages buffered per device during the outage
  int message_bytes = 1000;
};

class StormGateway {
 public:
  StormGateway(const CommonOptions& options, const StormShape& shape)
      : options_(options), shape_(shape) {}

  // One storm: every device connects, its backlog is forwarded, it disconnects. False if the
  // broker could not be reached.
  bool storm(long index);

 private:
  struct Device {
    std::vector<char*> delivered;  // the leak: forwarded backlogs, never pruned
    char* record = nullptr;        // last seen, last message: replaced every storm
  };
  bool serve_worker(int worker);

  const CommonOptions& options_;
  StormShape shape_;
  std::mutex mutex_;
  std::unordered_map<std::string, Device> devices_;
};

}  // namespace repro
