#include "leakprobe/cli/run_args.h"

#include <cstdint>

#include "leakprobe/settings.h"

namespace leakprobe::cli {
namespace s = leakprobe::settings;

namespace {
// The row whose `--flag` or `-letter` is `word`, if it is a flag-kind run option.
const s::Setting* flag_option(const std::string& word) {
  for (const auto& row : s::kTable) {
    if (!row.flag || row.reader != s::Reader::kProbe || row.kind != s::Kind::kFlag) continue;
    if (word == std::string("--") + row.flag) return &row;
    if (row.letter && word == std::string("-") + row.letter) return &row;
  }
  return nullptr;
}
// True if `word` is a run option that takes the next word as its value (`-o DIR`).
bool takes_value(const std::string& word, const std::vector<std::string>& value_options) {
  for (const auto& row : s::kTable) {
    if (!row.flag || row.reader != s::Reader::kProbe || row.kind == s::Kind::kFlag) continue;
    if (word == std::string("--") + row.flag) return true;
    if (row.letter && word == std::string("-") + row.letter) return true;
  }
  for (const auto& o : value_options) {
    if (word == o) return true;
  }
  return false;
}
}  // namespace

std::vector<std::string> join_flag_values(const std::vector<std::string>& args,
                                          const std::vector<std::string>& value_options,
                                          bool dashes_follow) {
  std::vector<std::string> out;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& word = args[i];
    if (word.size() < 2 || word[0] != '-') break;  // the command starts here
    const bool has_next = i + 1 < args.size();
    uint64_t value = 0;
    const s::Setting* row = flag_option(word);
    // Before a `--` every word is run's, so `--enabled 2` is a bad value (refused with the
    // setting's words), never a command named "2".
    if (row && has_next &&
        (s::parse_setting(*row, args[i + 1].c_str(), &value) == s::Verdict::kOk ||
         (dashes_follow && args[i + 1][0] != '-'))) {
      out.push_back(std::string("--") + row->flag + "=" + args[++i]);  // -q 0 too
    } else if (takes_value(word, value_options) && has_next) {
      out.push_back(word);
      out.push_back(args[++i]);
    } else {
      out.push_back(word);
    }
  }
  out.insert(out.end(), args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  return out;
}

std::vector<std::string> command_words(const std::vector<std::string>& leftover, bool had_dashes,
                                       const std::vector<std::string>& after_dashes,
                                       std::string& problem) {
  if (!leftover.empty() && leftover.front().size() > 1 && leftover.front()[0] == '-') {
    problem = "unknown option " + leftover.front() + " (see leakprobe run --help)";
    return {};
  }
  std::vector<std::string> command = leftover;
  if (had_dashes && !leftover.empty()) command.emplace_back("--");
  command.insert(command.end(), after_dashes.begin(), after_dashes.end());
  return command;
}

}  // namespace leakprobe::cli
