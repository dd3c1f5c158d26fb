// unclosed-connections: a device gateway that opens a broker connection per device session
// and, on reconnect, forgets to close the old one. See gateway.h for what leaks per cycle.
#include <boost/program_options.hpp>
#include <iostream>

#include "gateway.h"
#include "repro/cycle_driver.h"

int main(int argc, char** argv) {
  namespace po = boost::program_options;
  int devices = 8;
  po::options_description specific("unclosed-connections options");
  specific.add_options()("devices", po::value<int>(&devices)->default_value(devices),
                         "devices that take turns reconnecting (one per cycle)");
  repro::CommonOptions options;
  if (auto exit_status =
          repro::parse_options(argc, argv,
                               "A gateway with one MQTT connection per device session; each "
                               "cycle one device reconnects.",
                               specific, options)) {
    return *exit_status;
  }
  if (devices < 1) {
    std::cerr << argv[0] << ": --devices must be >= 1\n";
    return 2;
  }
  // The harness reads this: the bytes one leaky cycle leaves at the leaking site.
  std::cout << "SITE-BYTES " << sizeof(repro::DeviceSession) << std::endl;

  repro::MosquittoLibrary library;
  repro::Gateway gateway(options, devices);
  return repro::run_cycles(options, [&](long cycle) { return gateway.reconnect_device(cycle); });
}
