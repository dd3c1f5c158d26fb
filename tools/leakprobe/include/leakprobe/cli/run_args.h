// `leakprobe run`'s own words, before the profiled command: what CLI11 cannot decide alone.
#pragma once

#include <string>
#include <vector>

namespace leakprobe::cli {

// A probe flag (`--enabled`, `--at-exit`, `--quiet`/`-q`, ...) may stand alone (= 1), carry
// its value after `=` (`--enabled=0`), or take it as the next word (`--enabled 0`). CLI11's
// flags know only the first two, and `run` hands the first word it does not know to the
// profiled program, so `--enabled 0 -- CMD` used to run "0". This joins "--flag WORD" into
// "--flag=WORD" when WORD is one of the flag words (1/0, yes/no, true/false, on/off), and
// leaves every other word alone. It stops at the first word that is neither an option nor an
// option's value: that is the command, and its own options are not run's business.
// `value_options`: run's options that take a value besides the probe settings' (which it
// knows from the settings table), e.g. "--output-owner". `dashes_follow`: `args` end where the
// user wrote `--`, so any word after a flag is that flag's value, good or bad (`--enabled 2`
// is then refused as a value rather than run as a command).
std::vector<std::string> join_flag_values(const std::vector<std::string>& args,
                                          const std::vector<std::string>& value_options,
                                          bool dashes_follow);

// The profiled command from what CLI11 left over (`leftover`, from the first word run did not
// take) and the words after the first `--` (`after_dashes`; `had_dashes`: there was one).
// A leftover word means the command started before any `--`, which then belongs to the
// command itself (`leakprobe run tool -- x` runs `tool -- x`). Sets `problem` and returns
// nothing when the leftover starts with an option run does not know (`-x`), which must not
// be run as a program.
std::vector<std::string> command_words(const std::vector<std::string>& leftover, bool had_dashes,
                                       const std::vector<std::string>& after_dashes,
                                       std::string& problem);

}  // namespace leakprobe::cli
