// orphaned-subscriptions: per-topic handlers registered on subscribe and left in the
// dispatcher after unsubscribe. See dispatcher.h for what leaks per cycle.
#include <boost/program_options.hpp>
#include <iostream>

#include "repro/cycle_driver.h"
#include "telemetry_service.h"

int main(int argc, char** argv) {
  namespace po = boost::program_options;
  int devices = 8;
  po::options_description specific("orphaned-subscriptions options");
  specific.add_options()("devices", po::value<int>(&devices)->default_value(devices),
                         "devices whose telemetry topics are watched in turn");
  repro::CommonOptions options;
  if (auto exit_status =
          repro::parse_options(argc, argv,
                               "A telemetry service that subscribes, reads and unsubscribes one "
                               "device topic per cycle.",
                               specific, options)) {
    return *exit_status;
  }
  if (devices < 1) {
    std::cerr << argv[0] << ": --devices must be >= 1\n";
    return 2;
  }
  // The harness reads this: the bytes one leaky cycle leaves at the leaking site.
  std::cout << "SITE-BYTES " << sizeof(repro::SubscriptionState) << std::endl;

  repro::MosquittoLibrary library;
  repro::TelemetryService service(options, devices);
  if (!service.connect()) return 1;
  return repro::run_cycles(options, [&](long cycle) { return service.watch_device_once(cycle); });
}
