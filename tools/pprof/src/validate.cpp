// What a reader may assume after validate_profile(): pprof's CheckValid plus index checks, so
// that code walking samples -> locations -> lines -> functions -> strings never needs to
// test a lookup again.
#include <unordered_set>

#include "leakprobe/pprof/profile_io.h"

namespace leakprobe::pprof {
namespace {

bool string_ok(const Profile& p, int64_t index) {
  return index >= 0 && index < p.string_table_size();
}

template <typename Items>
bool ids_ok(const Items& items, const char* what, std::unordered_set<uint64_t>& ids,
            std::string& error) {
  for (const auto& item : items) {
    if (item.id() == 0) {
      error = std::string(what) + " with id 0";
      return false;
    }
    if (!ids.insert(item.id()).second) {
      error = std::string("duplicate ") + what + " id " + std::to_string(item.id());
      return false;
    }
  }
  return true;
}

}  // namespace

bool validate_profile(const Profile& p, std::string& error) {
  if (p.string_table_size() == 0 || !p.string_table(0).empty()) {
    error = "string table must start with the empty string";
    return false;
  }
  if (p.sample_type_size() == 0) {
    error = "no sample types";
    return false;
  }
  for (const auto& vt : p.sample_type()) {
    if (!string_ok(p, vt.type()) || !string_ok(p, vt.unit())) {
      error = "sample type names a string outside the string table";
      return false;
    }
  }
  if (p.has_period_type() &&
      (!string_ok(p, p.period_type().type()) || !string_ok(p, p.period_type().unit()))) {
    error = "period type names a string outside the string table";
    return false;
  }
  if (!string_ok(p, p.default_sample_type()) || !string_ok(p, p.drop_frames()) ||
      !string_ok(p, p.keep_frames()) || !string_ok(p, p.doc_url())) {
    error = "profile field names a string outside the string table";
    return false;
  }
  for (int64_t c : p.comment()) {
    if (!string_ok(p, c)) {
      error = "comment names a string outside the string table";
      return false;
    }
  }

  std::unordered_set<uint64_t> mappings, functions, locations;
  if (!ids_ok(p.mapping(), "mapping", mappings, error) ||
      !ids_ok(p.function(), "function", functions, error) ||
      !ids_ok(p.location(), "location", locations, error)) {
    return false;
  }
  for (const auto& m : p.mapping()) {
    if (!string_ok(p, m.filename()) || !string_ok(p, m.build_id())) {
      error = "mapping " + std::to_string(m.id()) + " names a string outside the string table";
      return false;
    }
  }
  for (const auto& f : p.function()) {
    if (!string_ok(p, f.name()) || !string_ok(p, f.system_name()) || !string_ok(p, f.filename())) {
      error = "function " + std::to_string(f.id()) + " names a string outside the string table";
      return false;
    }
  }
  for (const auto& loc : p.location()) {
    if (loc.mapping_id() != 0 && mappings.count(loc.mapping_id()) == 0) {
      error = "location " + std::to_string(loc.id()) + " refers to undefined mapping " +
              std::to_string(loc.mapping_id());
      return false;
    }
    for (const auto& line : loc.line()) {
      if (functions.count(line.function_id()) == 0) {
        error = "location " + std::to_string(loc.id()) + " refers to undefined function " +
                std::to_string(line.function_id());
        return false;
      }
    }
  }
  const int values = p.sample_type_size();
  for (int i = 0; i < p.sample_size(); ++i) {
    const auto& s = p.sample(i);
    if (s.value_size() != values) {
      error = "sample " + std::to_string(i) + " has " + std::to_string(s.value_size()) +
              " values, the profile has " + std::to_string(values) + " sample types";
      return false;
    }
    for (uint64_t id : s.location_id()) {
      if (locations.count(id) == 0) {
        error =
            "sample " + std::to_string(i) + " refers to undefined location " + std::to_string(id);
        return false;
      }
    }
    for (const auto& l : s.label()) {
      if (!string_ok(p, l.key()) || !string_ok(p, l.str()) || !string_ok(p, l.num_unit())) {
        error = "sample " + std::to_string(i) + " has a label outside the string table";
        return false;
      }
    }
  }
  return true;
}

}  // namespace leakprobe::pprof
