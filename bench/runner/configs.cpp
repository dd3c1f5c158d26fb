#include "configs.h"

#include <unistd.h>

namespace bench {

std::vector<Config> all_configs(const Paths& paths) {
  const bool have_probe = ::access(paths.leakprobe_lib.c_str(), R_OK) == 0;
  const bool have_tcmalloc = ::access(paths.tcmalloc.c_str(), R_OK) == 0;
  std::vector<Config> c = {
      {"none",
       "glibc malloc, no profiler. Also the process the probe was never attached to: attaching "
       "rewrites a process's calls only when asked, so a process never attached runs exactly "
       "this code and costs exactly nothing",
       true, "", 1, 1},
      {"tcmalloc", "libtcmalloc preloaded, no profiling (context for gperftools; alloc only)",
       have_tcmalloc, "libtcmalloc.so.4 missing", 1, 1, false},
      {"lp-exact", "libleakprobe, every allocation", have_probe, "libleakprobe.so not built", 1, 1},
      {"lp-heap-only",
       "libleakprobe, every allocation, LEAKPROBE_RESOURCES=0 (no descriptors, "
       "timers, threads)",
       have_probe, "libleakprobe.so not built", 1, 1},
      {"lp-sampled", "libleakprobe, LEAKPROBE_SAMPLE_BYTES=524288", have_probe,
       "libleakprobe.so not built", 1, 1},
      {"lp-dormant", "libleakprobe preloaded dormant, LEAKPROBE_ENABLED=0", have_probe,
       "libleakprobe.so not built", 1, 1},
      {"heaptrack", "heaptrack (Debian) wrapping the command", true, "", 1, 1},
      {"gperftools", "libtcmalloc + HEAPPROFILE (gperftools heap profiler)", have_tcmalloc,
       "libtcmalloc.so.4 missing", 20, 4},
  };
  // Attached: the program started plain, then `leakprobe attach PID` at a safe point before
  // the measured part (workloads.cpp).
  const std::string why_not = !have_probe ? "libleakprobe.so not built"
                              : ::access(paths.leakprobe_cli.c_str(), X_OK) != 0
                                  ? "the leakprobe command is not built"
                                  : "";
  auto attached = [&](const char* name, const char* what, Attach how, const char* sample) {
    Config a{name, what, why_not.empty(), why_not, 1, 1};
    a.attach = how;
    a.sample_bytes = sample;
    return a;
  };
  c.push_back(attached("lp-attached-exact",
                       "started plain, then `leakprobe attach PID` (its GOT slots rewritten to "
                       "the probe) once up: the broker before the load, bench_alloc with its "
                       "threads idle before the loop; every allocation",
                       Attach::kAttach, ""));
  c.push_back(attached("lp-attached-sampled",
                       "as lp-attached-exact with `--sample-bytes 524288` (as lp-sampled)",
                       Attach::kAttach, "524288"));
  c.push_back(attached("lp-detached",
                       "attached as lp-attached-exact, then `leakprobe detach PID` before the "
                       "load or loop: every call put back, the probe mapped but dormant",
                       Attach::kAttachThenDetach, ""));
  return c;
}

std::vector<std::string> config_names() {
  std::vector<std::string> names;
  for (const Config& c : all_configs(Paths{})) names.push_back(c.name);
  return names;
}

void apply_config(const Config& config, const Paths& paths, const std::string& prof_dir,
                  const std::string& tag, SpawnSpec& spec) {
  // Nothing from the runner's own environment may change what is measured.
  spec.env_unset = {"LD_PRELOAD", "HEAPPROFILE", "HEAPPROFILESIGNAL", "LEAKPROBE_*"};
  spec.cwd = prof_dir;  // tools that write to the working directory write here too
  if (config.name == "tcmalloc") {
    spec.env_set["LD_PRELOAD"] = paths.tcmalloc;
  } else if (config.attach != Attach::kNone) {
    // Started plain: the probe comes in later, by `leakprobe attach` (workloads.cpp).
  } else if (config.name.rfind("lp-", 0) == 0) {
    spec.env_set["LD_PRELOAD"] = paths.leakprobe_lib;
    spec.env_set["LEAKPROBE_OUTPUT_DIR"] = prof_dir;
    if (config.name == "lp-sampled") spec.env_set["LEAKPROBE_SAMPLE_BYTES"] = "524288";
    if (config.name == "lp-dormant") spec.env_set["LEAKPROBE_ENABLED"] = "0";
    if (config.name == "lp-heap-only") spec.env_set["LEAKPROBE_RESOURCES"] = "0";
  } else if (config.name == "heaptrack") {
    std::vector<std::string> argv = {paths.heaptrack, "-o", prof_dir + "/heaptrack." + tag};
    argv.insert(argv.end(), spec.argv.begin(), spec.argv.end());
    spec.argv = std::move(argv);
  } else if (config.name == "gperftools") {
    spec.env_set["LD_PRELOAD"] = paths.tcmalloc;
    spec.env_set["HEAPPROFILE"] = prof_dir + "/gperftools." + tag;
  }
}

}  // namespace bench
