// The settings table (leakprobe/settings.h) is the one definition; these tests keep the
// documentation and the rows' own invariants in line with it.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "leakprobe/settings.h"

namespace s = leakprobe::settings;

namespace {
std::string read_docs() {
  std::ifstream in(LEAKPROBE_SETTINGS_MD);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The docs' table line for a variable: "| `LEAKPROBE_X` | ...".
std::string docs_row(const std::string& docs, const char* name) {
  const std::string start = std::string("| `") + name + "` |";
  size_t at = docs.find(start);
  if (at == std::string::npos) return {};
  return docs.substr(at, docs.find('\n', at) - at);
}
}  // namespace

TEST(SettingsTable, EveryRowIsInDocsSettingsMdWithItsFlagAndDefault) {
  const std::string docs = read_docs();
  ASSERT_FALSE(docs.empty()) << "cannot read " << LEAKPROBE_SETTINGS_MD;
  for (const s::Setting& row : s::kTable) {
    const std::string line = docs_row(docs, row.name);
    ASSERT_FALSE(line.empty()) << row.name << " has no row in docs/settings.md";
    EXPECT_NE(line.find(std::string("| ") + row.default_text + " |"), std::string::npos)
        << row.name << ": the docs' default is not '" << row.default_text << "': " << line;
    if (row.flag && row.reader == s::Reader::kProbe) {
      EXPECT_NE(line.find(std::string("`--") + row.flag), std::string::npos)
          << row.name << ": the docs do not name `--" << row.flag << "`: " << line;
    }
  }
}

TEST(SettingsTable, RowsAreComplete) {
  for (const s::Setting& row : s::kTable) {
    EXPECT_EQ(std::string(row.name).rfind("LEAKPROBE_", 0), 0u) << row.name;
    ASSERT_NE(row.help, nullptr) << row.name;
    EXPECT_LT(std::string(row.help).size(), 100u) << row.name << ": help is one short line";
    EXPECT_EQ(std::string(row.help).find('\n'), std::string::npos) << row.name;
    if (row.kind == s::Kind::kCount || row.kind == s::Kind::kBytes ||
        row.kind == s::Kind::kSeconds) {
      ASSERT_NE(row.noun, nullptr) << row.name;
      EXPECT_LE(row.min, row.default_value) << row.name;
      EXPECT_LE(row.default_value, row.max) << row.name;
    }
  }
}

// The default a row shows is the default it has: the text parses to the value.
TEST(SettingsTable, DefaultTextParsesToTheDefaultValue) {
  for (const s::Setting& row : s::kTable) {
    if (row.kind == s::Kind::kPath) continue;
    std::string text = row.default_text;
    text = text.substr(0, text.find(' '));  // "0 (off)" -> "0"
    uint64_t v = 99;
    ASSERT_EQ(s::parse_setting(row, text.c_str(), &v), s::Verdict::kOk) << row.name;
    if (row.kind == s::Kind::kSignal) {
      EXPECT_EQ(v, static_cast<uint64_t>(SIGRTMIN + 7)) << row.name;
    } else {
      EXPECT_EQ(v, row.default_value) << row.name;
    }
  }
}

TEST(SettingsTable, RefusalsNameTheLimits) {
  char why[160];
  s::describe_refusal(s::setting(s::kDepth), s::Verdict::kMalformed, why, sizeof(why));
  EXPECT_STREQ(why, "is not a depth in 1..128");
  s::describe_refusal(s::setting(s::kInterval), s::Verdict::kMalformed, why, sizeof(why));
  EXPECT_STREQ(why, "is not a number of seconds in 0..31536000 (up to 3 decimals)");
  char tiny[8];
  s::describe_refusal(s::setting(s::kDepth), s::Verdict::kMalformed, tiny, sizeof(tiny));
  EXPECT_STREQ(tiny, "is not ");  // cut, still terminated
}
