// A small, strict reader of leakprobe snapshots for the probe's own tests. Deliberately
// independent of heapdiff's parser (written in parallel): the writer is checked against the
// format document, not against another implementation of it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace probe_test {

struct StackLine {
  int64_t live_objs = 0, live_bytes = 0;
  uint64_t alloc_objs = 0, alloc_bytes = 0;
  std::vector<uint64_t> frames;  // leaf first
  std::string age;               // the age-stack line after it ("" if none)
};

// One line of a resource section ("tcp", "thread", ...): live and created counts.
struct ResourceLine {
  std::string kind;
  uint64_t live = 0, created = 0;
  std::vector<uint64_t> frames;  // empty: inherited
};

struct Mapping {
  uint64_t start = 0, end = 0, offset = 0;
  std::string perms, path;
};

struct Snapshot {
  int64_t live_objs = 0, live_bytes = 0;
  uint64_t alloc_objs = 0, alloc_bytes = 0;
  std::string tag;  // "heapprofile" or "heap_v2/N"
  std::multimap<std::string, std::string> meta;
  std::vector<StackLine> stacks;
  std::vector<ResourceLine> resources;
  std::vector<Mapping> maps;
  bool has_trailer = false;

  std::string get(const std::string& key) const {
    auto it = meta.find(key);
    return it == meta.end() ? std::string() : it->second;
  }
};

// Parses the text; on a grammar violation returns false and says where in *error.
bool parse_snapshot(const std::string& text, Snapshot* out, std::string* error);
bool read_snapshot_file(const std::string& path, Snapshot* out, std::string* error);

}  // namespace probe_test
