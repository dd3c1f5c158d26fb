// session-burst: a device gateway whose memory bursts in a reconnect storm. Each cycle one
// device sends `hello` (a session with a --buffer-kib receive buffer opens) and `bye` through
// the broker. The leaky gateway keeps every closed session's buffer (session_store.h), so
// --iterations 100 at 1 MiB is a 100 MiB burst; the twin (--fixed) frees each on `bye`.
// The peak test (tests/e2e/peak_burst_scenario.sh) SIGKILLs it at the burst's peak, as the
// OOM killer would, and reads the peak snapshot left on disk.
#include <unistd.h>

#include <array>
#include <boost/program_options.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "repro/cycle_driver.h"
#include "repro/mqtt.h"
#include "session_store.h"

int main(int argc, char** argv) {
  namespace po = boost::program_options;
  long buffer_kib = 1024;
  int devices = 1000;
  po::options_description specific("session-burst options");
  specific.add_options()("buffer-kib", po::value<long>(&buffer_kib)->default_value(buffer_kib),
                         "receive buffer per session, KiB (1..65536)")(
      "devices", po::value<int>(&devices)->default_value(devices),
      "distinct devices that reconnect in turn");
  repro::CommonOptions options;
  if (auto exit_status = repro::parse_options(
          argc, argv,
          "A device gateway that opens a session with a large receive buffer per device hello "
          "and closes it on bye; in a reconnect storm its memory bursts.",
          specific, options)) {
    return *exit_status;
  }
  if (buffer_kib < 1 || buffer_kib > 65536 || devices < 1) {
    std::cerr << argv[0] << ": --buffer-kib must be 1..65536 and --devices >= 1\n";
    return 2;
  }
  const std::size_t buffer_bytes = static_cast<std::size_t>(buffer_kib) * 1024;
  std::cout << "SITE-BYTES " << buffer_bytes << std::endl;

  repro::MosquittoLibrary library;
  // What every gateway holds whatever the traffic: a record per known device (2 KiB each,
  // 2 MB at the default 1000). Above LEAKPROBE_PEAK's 1 MiB floor, so the twin has a peak
  // snapshot too, of its steady state.
  std::vector<std::array<char, 2048>> registry(static_cast<std::size_t>(devices));
  for (auto& record : registry) record.fill(0);
  repro::SessionStore store(buffer_bytes, options.fixed);
  const std::string prefix = "gateway/" + std::to_string(::getpid()) + "/";
  std::size_t delivered = 0;
  repro::ClientEvents events;
  events.on_message = [&](const mosquitto_message& m) {
    const std::string topic = m.topic;  // gateway/<pid>/<device>/<hello|bye>
    const std::size_t slash = topic.rfind('/');
    if (slash == std::string::npos || slash < prefix.size()) return;
    const std::string device = topic.substr(prefix.size(), slash - prefix.size());
    if (topic.compare(slash + 1, std::string::npos, "hello") == 0) store.hello(device);
    if (topic.compare(slash + 1, std::string::npos, "bye") == 0) store.bye(device);
    ++delivered;
  };
  mosquitto* client = repro::connect_client(options, "gateway-" + std::to_string(::getpid()),
                                            /*clean_session=*/true, /*keepalive_s=*/600, &events);
  if (client == nullptr) return 1;
  int mid = 0;
  const std::string filter = prefix + "+/+";
  int rc = mosquitto_subscribe(client, &mid, filter.c_str(), /*qos=*/1);
  if (rc != MOSQ_ERR_SUCCESS || !repro::loop_until(
                                    client, [&] { return events.take_ack(mid); }, "SUBACK")) {
    std::cerr << "subscribe " << filter << " failed: " << mosquitto_strerror(rc) << '\n';
    repro::close_client(client);
    return 1;
  }
  // One device's hello then bye, each delivered back through the broker before the next.
  auto say = [&](const std::string& topic) {
    const std::size_t before = delivered;
    int m = 0;
    const int r = mosquitto_publish(client, &m, topic.c_str(), 0, nullptr, /*qos=*/1, false);
    if (r != MOSQ_ERR_SUCCESS ||
        !repro::loop_until(
            client, [&] { return events.take_ack(m) && delivered > before; },
            "PUBACK and delivery")) {
      std::cerr << "publish on " << topic << " failed: " << mosquitto_strerror(r) << '\n';
      return false;
    }
    return true;
  };
  const int status = repro::run_cycles(options, [&](long cycle) {
    const std::string device = prefix + "dev" + std::to_string(cycle % devices);
    return say(device + "/hello") && say(device + "/bye");
  });
  repro::close_client(client);
  return status;
}
