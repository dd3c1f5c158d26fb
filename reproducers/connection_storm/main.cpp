// connection-storm: every device reconnects at once and the gateway forwards its backlog; see
// storm.h. The leaky gateway keeps every forwarded message; the twin (--fixed) frees them, and
// its RSS stays up anyway: glibc keeps the freed memory (allocator retention, not a leak).
#include <unistd.h>

#include <iostream>

#include "repro/cycle_driver.h"
#include "repro/mqtt.h"
#include "storm.h"

int main(int argc, char** argv) {
  namespace po = boost::program_options;
  repro::CommonOptions options;
  repro::StormShape shape;
  po::options_description specific("connection-storm options");
  specific.add_options()("threads", po::value<int>(&shape.threads)->default_value(shape.threads),
                         "worker threads serving each storm")(
      "devices", po::value<int>(&shape.devices)->default_value(shape.devices),
      "devices per worker thread")("backlog",
                                   po::value<int>(&shape.backlog)->default_value(shape.backlog),
                                   "messages each device buffered")(
      "message-bytes", po::value<int>(&shape.message_bytes)->default_value(shape.message_bytes),
      "bytes per message");
  if (auto exit_status = repro::parse_options(
          argc, argv,
          "A gateway taking connection storms: each cycle every device reconnects and its "
          "backlog is forwarded.",
          specific, options)) {
    return *exit_status;
  }
  if (shape.threads < 1 || shape.devices < 1 || shape.backlog < 1 || shape.message_bytes < 64) {
    std::cerr << "connection-storm: --threads, --devices, --backlog must be >= 1 and "
                 "--message-bytes >= 64\n";
    return 2;
  }
  // What one leaky storm leaves at the LEAK-SITE's stack (buffer_backlog).
  std::cout << "SITE-BYTES "
            << static_cast<long>(shape.threads) * shape.devices * shape.backlog *
                   shape.message_bytes
            << std::endl;
  repro::MosquittoLibrary library;
  repro::StormGateway gateway(options, shape);
  const int rc = repro::run_cycles(options, [&](long index) { return gateway.storm(index); });
  std::cout.flush();
  _exit(rc);  // the delivery log is left as it is
}
