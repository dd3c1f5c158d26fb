#include "repro/options.h"

#include <boost/program_options.hpp>
#include <fstream>
#include <iostream>

namespace po = boost::program_options;

namespace repro {

std::optional<int> parse_options(int argc, char** argv, const std::string& summary,
                                 const po::options_description& specific, CommonOptions& out) {
  std::string config_path;
  po::options_description common("Common options");
  // One option per line reads better than what the formatter makes of the chain.
  // clang-format off
  common.add_options()
      ("help,h", "show this help")
      ("config", po::value<std::string>(&config_path), "read options from FILE (key = value lines)")
      ("host", po::value<std::string>(&out.host)->default_value(out.host), "broker host")
      ("port", po::value<int>(&out.port)->default_value(out.port), "broker port")
      ("warmup", po::value<long>(&out.warmup)->default_value(out.warmup),
       "cycles to run before the first handshake")
      ("iterations", po::value<long>(&out.iterations)->default_value(out.iterations),
       "cycles to run after warm-up (0 = until killed)")
      ("rate", po::value<double>(&out.rate)->default_value(out.rate),
       "cycles per second (0 = as fast as possible)")
      ("fixed", po::bool_switch(&out.fixed), "run the leak-free twin")
      ("sync", po::bool_switch(&out.sync),
       "print WARM and DONE lines and wait for a line on stdin after each")
      ("checkpoints", po::value<long>(&out.checkpoints)->default_value(out.checkpoints),
       "with --sync: cut the run into this many equal parts, MARK (and wait) between them");
  // clang-format on
  po::options_description all;
  all.add(common).add(specific);

  const char* program = argc > 0 ? argv[0] : "reproducer";
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, all), vm);
    if (vm.count("help")) {
      std::cout << "Usage: " << program << " [options]\n" << summary << "\n\n" << all << "\n";
      return 0;
    }
    // Options from the command line were stored first, so they win over the file.
    if (vm.count("config")) {
      std::ifstream file(vm["config"].as<std::string>());
      if (!file) {
        std::cerr << program << ": cannot read config file '" << vm["config"].as<std::string>()
                  << "'\n";
        return 2;
      }
      po::store(po::parse_config_file(file, all), vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << program << ": " << e.what() << " (try --help)\n";
    return 2;
  }
  if (out.port <= 0 || out.port > 65535 || out.warmup < 0 || out.iterations < 0 || out.rate < 0) {
    std::cerr << program << ": --port must be 1..65535 and --warmup, --iterations, --rate >= 0\n";
    return 2;
  }
  if (out.checkpoints < 1 || (out.iterations > 0 && out.checkpoints > out.iterations)) {
    std::cerr << program << ": --checkpoints must be 1..iterations\n";
    return 2;
  }
  return std::nullopt;
}

}  // namespace repro
