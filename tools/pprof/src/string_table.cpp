// The writer's side of the string table: pprof wants every string once, and index 0 = "".
#include "leakprobe/pprof/profile_io.h"

namespace leakprobe::pprof {

StringTable::StringTable(Profile& profile) : profile_(profile) {
  if (profile_.string_table_size() == 0) profile_.add_string_table("");
  for (int i = 0; i < profile_.string_table_size(); ++i) {
    indexes_.emplace(profile_.string_table(i), i);
  }
}

int64_t StringTable::index(std::string_view s) {
  auto [it, inserted] = indexes_.emplace(std::string(s), profile_.string_table_size());
  if (inserted) profile_.add_string_table(std::string(s));
  return it->second;
}

const std::string& string_at(const Profile& profile, int64_t index) {
  static const std::string kEmpty;
  if (index < 0 || index >= profile.string_table_size()) return kEmpty;
  return profile.string_table(static_cast<int>(index));
}

}  // namespace leakprobe::pprof
