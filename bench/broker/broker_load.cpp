// bench_broker_load: the load generator of the broker benchmarks. It drives a running broker
// with one of four workloads (see the workload_*.cpp files) and prints one RESULT line per
// phase:
//   RESULT broker workload=fanout phase=all delivered=N expected=N elapsed_s=... msgs_per_s=...
//          complete=1 load_cpu_s=... load_core=... [broker_cpu_s=... broker_core=...
//          broker_cpu_us_per_msg=...] [workload-specific counts]
// msgs_per_s counts deliveries at the subscribers (end to end). With --broker-pgid the CPU of
// the broker's whole process group (a profiler's helper processes included) is read from /proc
// over the phase and divided by the deliveries. The generator's own CPU is printed beside it,
// so a run can show whether the generator or the broker set the rate.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/int_option.h"
#include "load_common.h"

namespace {

using bench::load::Options;

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "bench_broker_load: %s\n"
               "usage: bench_broker_load --port N [--workload twopub|fanout|churn|retained]\n"
               "       [--host H] [--publishers P] [--subscribers S] [--topics T]\n"
               "       [--qos0-messages N] [--qos1-messages N]   (twopub)\n"
               "       [--messages N]                           (fanout)\n"
               "       [--cycles N]                             (churn)\n"
               "       [--rounds N]                             (retained)\n"
               "       [--window N] [--inflight N] [--timeout S] [--broker-pgid PGID]\n",
               why.c_str());
  std::exit(2);
}

long long parse_int(const char* text, const std::string& opt, long long min, long long max) {
  return bench::int_option(text, opt, min, max, usage);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) usage("missing value for " + a);
    const char* v = argv[++i];
    if (a == "--workload") {
      o.workload = v;
      if (o.workload != "twopub" && o.workload != "fanout" && o.workload != "churn" &&
          o.workload != "retained")
        usage("unknown workload " + o.workload);
    } else if (a == "--host") {
      o.host = v;
    } else if (a == "--port") {
      o.port = static_cast<int>(parse_int(v, a, 1, 65535));
    } else if (a == "--publishers") {
      o.publishers = static_cast<int>(parse_int(v, a, 1, 64));
    } else if (a == "--subscribers") {
      o.subscribers = static_cast<int>(parse_int(v, a, 1, 64));
    } else if (a == "--topics") {
      o.topics = static_cast<int>(parse_int(v, a, 1, 100000));
    } else if (a == "--qos0-messages") {
      o.qos0_messages = parse_int(v, a, 0, 1'000'000'000);
    } else if (a == "--qos1-messages") {
      o.qos1_messages = parse_int(v, a, 0, 1'000'000'000);
    } else if (a == "--messages") {
      o.messages = parse_int(v, a, 1, 1'000'000'000);
    } else if (a == "--cycles") {
      o.cycles = parse_int(v, a, 1, 100'000'000);
    } else if (a == "--rounds") {
      o.rounds = parse_int(v, a, 1, 1'000'000);
    } else if (a == "--window") {
      o.window = parse_int(v, a, 1, 1'000'000);
    } else if (a == "--inflight") {
      o.inflight = static_cast<int>(parse_int(v, a, 1, 65535));
    } else if (a == "--timeout") {
      o.timeout_s = static_cast<double>(parse_int(v, a, 1, 86400));
    } else if (a == "--broker-pgid") {
      o.broker_pgid = static_cast<pid_t>(parse_int(v, a, 1, 1 << 30));
    } else {
      usage("unknown option " + a);
    }
  }
  if (o.port == 0) usage("--port is required");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  mosquitto_lib_init();
  std::vector<bench::load::PhaseResult> phases;
  if (o.workload == "twopub") {
    phases = bench::load::run_two_publishers(o);
  } else if (o.workload == "fanout") {
    phases = bench::load::run_fanout(o);
  } else if (o.workload == "churn") {
    phases = bench::load::run_churn(o);
  } else {
    phases = bench::load::run_retained(o);
  }
  int status = 0;
  for (const auto& r : phases) {
    bench::load::print_phase(o, r);
    if (!r.complete) {
      std::fprintf(stderr,
                   "bench_broker_load: %s phase %s incomplete: %lld of %lld expected deliveries "
                   "before the timeout or a failure\n",
                   o.workload.c_str(), r.phase.c_str(), r.delivered, r.expected);
      status = 3;
    }
  }
  if (phases.empty()) status = 3;
  mosquitto_lib_cleanup();
  return status;
}
