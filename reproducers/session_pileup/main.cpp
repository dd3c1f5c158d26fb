// session-pileup: the leak lives in the broker, not in this program.
//
// Setup: `--subscribers` clients connect with clean session off, subscribe at QoS 1 to one
// topic and disconnect for good. Each cycle then publishes one QoS 1 message of
// `--payload-bytes` to that topic and waits for the PUBACK. A broker configured to queue
// without bound (max_queued_messages 0, max_queued_bytes 0) keeps every message for every
// absent persistent session, so its heap grows by one stored message plus one queue entry
// per subscriber per cycle, forever. Snapshots are taken of the broker.
//
// The twin (--fixed) subscribes with clean sessions, which the broker discards on
// disconnect, so nothing is queued.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <iostream>
#include <string>

#include "repro/cycle_driver.h"
#include "repro/mqtt.h"

namespace {

// Leaves a persistent (or, with clean_session, throw-away) QoS 1 subscription behind.
bool subscribe_and_vanish(const repro::CommonOptions& options, const std::string& client_id,
                          const std::string& topic) {
  repro::ClientEvents events;
  mosquitto* client = repro::connect_client(options, client_id, /*clean_session=*/options.fixed,
                                            /*keepalive_s=*/60, &events);
  if (client == nullptr) return false;
  int mid = 0;
  const int rc = mosquitto_subscribe(client, &mid, topic.c_str(), /*qos=*/1);
  const bool ok =
      rc == MOSQ_ERR_SUCCESS && repro::loop_until(
                                    client, [&] { return events.take_ack(mid); }, "SUBACK");
  if (!ok) std::cerr << "subscribe " << topic << " failed: " << mosquitto_strerror(rc) << '\n';
  repro::close_client(client);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  namespace po = boost::program_options;
  int subscribers = 20;
  int payload_bytes = 64;
  po::options_description specific("session-pileup options");
  // One option per line reads better than what the formatter makes of the chain.
  // clang-format off
  specific.add_options()
      ("subscribers", po::value<int>(&subscribers)->default_value(subscribers),
       "persistent sessions that subscribe and vanish")
      ("payload-bytes", po::value<int>(&payload_bytes)->default_value(payload_bytes),
       "size of each published message");
  // clang-format on
  repro::CommonOptions options;
  if (auto exit_status =
          repro::parse_options(argc, argv,
                               "Persistent QoS 1 sessions vanish while a publisher keeps "
                               "sending: the broker queues for them.",
                               specific, options)) {
    return *exit_status;
  }
  if (subscribers < 1 || payload_bytes < 0 || payload_bytes > 1 << 20) {
    std::cerr << argv[0] << ": --subscribers must be >= 1 and --payload-bytes 0..1048576\n";
    return 2;
  }
  std::cout << "SUBSCRIBERS " << subscribers << std::endl;

  repro::MosquittoLibrary library;
  const std::string tag = std::to_string(::getpid());
  const std::string topic = "pileup/" + tag + "/data";
  for (int i = 0; i < subscribers; ++i) {
    if (!subscribe_and_vanish(options, "pileup-" + tag + "-sub" + std::to_string(i), topic)) {
      return 1;
    }
  }

  repro::ClientEvents events;
  mosquitto* publisher = repro::connect_client(options, "pileup-" + tag + "-pub",
                                               /*clean_session=*/true, /*keepalive_s=*/60, &events);
  if (publisher == nullptr) return 1;
  const std::string payload(static_cast<std::size_t>(payload_bytes), 'x');
  const int rc = repro::run_cycles(options, [&](long) {
    int mid = 0;
    const int prc = mosquitto_publish(publisher, &mid, topic.c_str(),
                                      static_cast<int>(payload.size()), payload.data(),
                                      /*qos=*/1, /*retain=*/false);
    if (prc != MOSQ_ERR_SUCCESS) {
      std::cerr << "publish failed: " << mosquitto_strerror(prc) << '\n';
      return false;
    }
    return repro::loop_until(
        publisher, [&] { return events.take_ack(mid); }, "PUBACK");
  });
  repro::close_client(publisher);
  return rc;
}
