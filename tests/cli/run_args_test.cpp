// `leakprobe run`'s own words: flag values given as the next word, and where the command starts.
#include "leakprobe/cli/run_args.h"

#include <gtest/gtest.h>

using leakprobe::cli::command_words;
using leakprobe::cli::join_flag_values;
using V = std::vector<std::string>;

TEST(RunArgs, FlagValueAsNextWordIsJoined) {
  // The bug: `--enabled 0 -- CMD` ran "0". Every flag word, both spellings of the option.
  EXPECT_EQ(join_flag_values({"--enabled", "0"}, {}, true), (V{"--enabled=0"}));
  EXPECT_EQ(join_flag_values({"--at-exit", "off"}, {}, true), (V{"--at-exit=off"}));
  EXPECT_EQ(join_flag_values({"-q", "yes"}, {}, true), (V{"--quiet=yes"}));
  EXPECT_EQ(join_flag_values({"--enabled=0", "-q"}, {}, true), (V{"--enabled=0", "-q"}));
}

TEST(RunArgs, BareFlagStaysBare) {
  EXPECT_EQ(join_flag_values({"-q", "--at-exit", "0"}, {}, true), (V{"-q", "--at-exit=0"}));
  EXPECT_EQ(join_flag_values({"--quiet", "-o", "d"}, {}, true), (V{"--quiet", "-o", "d"}));
}

TEST(RunArgs, BeforeDashesABadFlagValueIsStillTheFlagsValue) {
  // So CLI11 refuses "--enabled: 2 is not 0 or 1" instead of running a program named 2.
  EXPECT_EQ(join_flag_values({"--enabled", "2"}, {}, true), (V{"--enabled=2"}));
}

TEST(RunArgs, WithoutDashesTheCommandStartsAtTheFirstNonOption) {
  // `leakprobe run --quiet mosquitto -c conf`: mosquitto is the command, not a flag value.
  EXPECT_EQ(join_flag_values({"--quiet", "mosquitto", "-c", "c"}, {}, false),
            (V{"--quiet", "mosquitto", "-c", "c"}));
  // The command's own options are left alone, even when they look like ours.
  EXPECT_EQ(join_flag_values({"-q", "1", "tool", "--enabled", "0"}, {}, false),
            (V{"--quiet=1", "tool", "--enabled", "0"}));
}

TEST(RunArgs, ValueOptionsKeepTheirValue) {
  // A directory named "0" after -o is -o's value, not a flag value or a command.
  EXPECT_EQ(join_flag_values({"-o", "0", "--enabled", "0", "tool"}, {}, false),
            (V{"-o", "0", "--enabled=0", "tool"}));
  EXPECT_EQ(join_flag_values({"--output-owner", "mosquitto", "tool"}, {"--output-owner"}, false),
            (V{"--output-owner", "mosquitto", "tool"}));
  EXPECT_EQ(join_flag_values({"--depth", "8", "-q", "tool"}, {}, false),
            (V{"--depth", "8", "-q", "tool"}));
}

TEST(RunArgs, CommandWords) {
  std::string problem;
  EXPECT_EQ(command_words({}, true, {"mosquitto", "-c", "c"}, problem),
            (V{"mosquitto", "-c", "c"}));
  EXPECT_EQ(problem, "");
  EXPECT_EQ(command_words({"mosquitto", "-c", "c"}, false, {}, problem),
            (V{"mosquitto", "-c", "c"}));
  // `leakprobe run tool -- x`: the `--` was the command's own.
  EXPECT_EQ(command_words({"tool"}, true, {"x"}, problem), (V{"tool", "--", "x"}));
  EXPECT_EQ(problem, "");
}

TEST(RunArgs, UnknownOptionIsRefusedNotRun) {
  std::string problem;
  EXPECT_TRUE(command_words({"-x", "0"}, true, {"echo"}, problem).empty());
  EXPECT_NE(problem.find("unknown option -x"), std::string::npos) << problem;
}
