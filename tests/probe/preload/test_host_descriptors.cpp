// The probe never reads, writes or closes a descriptor it does not own, whatever numbers the
// host takes over and however (dup2, dup3, F_DUPFD onto exact numbers, after close_range or
// closefrom, under a low RLIMIT_NOFILE), in exact and in sampled mode: the host's files are
// byte for byte what a plain run leaves, with snapshots written meanwhile.
#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "harness.h"

using namespace probe_test;

namespace {

using Case = std::tuple<const char*, const char*, const char*>;  // mode, limit, sampling

class HostDescriptors : public ::testing::TestWithParam<Case> {};

TEST_P(HostDescriptors, HostFilesAreUntouched) {
  const auto [mode, limit, sampling] = GetParam();
  std::vector<std::string> argv{PROG_FD_OWNER, mode};
  if (*limit) argv.push_back(limit);
  // The plain run: the host's own verdict on itself without the probe.
  std::string plain_dir = make_temp_dir("hostfd_plain");
  RunResult plain = run(argv, plain_dir, {"LD_PRELOAD="}, 60);
  ASSERT_TRUE(plain.exited_ok()) << plain.status << plain.out << plain.err;
  std::string dir = make_temp_dir("hostfd");
  RunResult r = run(argv, dir, {std::string("LEAKPROBE_SAMPLE_BYTES=") + sampling}, 60);
  EXPECT_TRUE(r.exited_ok()) << r.status << "\n" << r.out << r.err;
  EXPECT_NE(r.out.find("host-ok"), std::string::npos) << r.out << r.err;
  // The probed run also takes the probe's own numbers over (counted in "host-ok N").
  EXPECT_NE(plain.out.find("host-ok"), std::string::npos) << plain.out;
  // The probe still did its job: signal snapshots and the exit snapshot, complete.
  std::vector<std::string> files = snapshot_files(dir);
  EXPECT_GE(files.size(), 2u) << r.err;
  for (const std::string& f : files) expect_well_formed(load(f));
  if (!HasFailure()) {
    remove_tree(plain_dir);
    remove_tree(dir);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Modes, HostDescriptors,
    ::testing::Combine(::testing::Values("dup2", "dup3", "dupfd", "close_range", "closefrom"),
                       ::testing::Values("", "lowlimit"), ::testing::Values("0", "65536")));

}  // namespace
