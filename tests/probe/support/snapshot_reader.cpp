#include "snapshot_reader.h"

#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>

#include "leakprobe/snapshot_format.h"

namespace probe_test {

namespace {
// The same patterns pprof uses for the legacy heap format (profile/legacy_profile.go).
const std::regex kHeader(
    R"(^heap profile: *(\d+): *(\d+) *\[ *(\d+): *(\d+) *\] *@ *(heap[_a-z0-9]*(/\d+)?)$)");
const std::regex kLine(R"(^(-?\d+): *(-?\d+) *\[ *(\d+): *(\d+) *\] @([ x0-9a-f]*)$)");
const std::regex kMeta(R"(^# leakprobe\.([a-z0-9.-]+): (.*)$)");
const std::regex kSectionLine(R"(^#  (\d+): 0 \[(\d+): 0\] @([ x0-9a-f]*)$)");
const std::regex kMap(R"(^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) \S+ \d+ *(.*)$)");
}  // namespace

bool parse_snapshot(const std::string& text, Snapshot* out, std::string* error) {
  *out = Snapshot();
  std::istringstream in(text);
  std::string line;
  int n = 0;
  enum { kHead, kBody, kMaps, kDone } state = kHead;
  std::string section;  // the open section's name, "" outside one
  std::smatch m;
  auto fail = [&](const std::string& why) {
    *error = "line " + std::to_string(n) + ": " + why + ": '" + line + "'";
    return false;
  };
  while (std::getline(in, line)) {
    ++n;
    if (state == kDone) return fail("text after the trailer");
    if (state == kHead) {
      if (!std::regex_match(line, m, kHeader)) return fail("bad header");
      out->live_objs = std::stoll(m[1]);
      out->live_bytes = std::stoll(m[2]);
      out->alloc_objs = std::stoull(m[3]);
      out->alloc_bytes = std::stoull(m[4]);
      out->tag = m[5];
      state = kBody;
    } else if (state == kBody) {
      if (line == leakprobe::format::kTrailer) return fail("trailer before the maps");
      if (std::regex_match(line, m, kMeta)) {
        out->meta.emplace(m[1], m[2]);
        if (m[1] == leakprobe::format::kKeyAgeStack) {
          if (out->stacks.empty() || !out->stacks.back().age.empty())
            return fail("age line not right after a stack line");
          out->stacks.back().age = m[2];
        } else if (m[1] == leakprobe::format::kKeySection) {
          if (!section.empty()) return fail("section inside a section");
          section = m[2];
        } else if (m[1] == leakprobe::format::kKeyEndSection) {
          if (section != m[2]) return fail("end of a section that is not open");
          section.clear();
        }
      } else if (!section.empty()) {
        if (!std::regex_match(line, m, kSectionLine)) return fail("bad section line");
        ResourceLine r;
        r.kind = section;
        r.live = std::stoull(m[1]);
        r.created = std::stoull(m[2]);
        if (r.live > r.created) return fail("more live than created");
        std::istringstream fr(m[3]);
        std::string a;
        while (fr >> a) {
          if (a.rfind("0x", 0) != 0) return fail("frame without 0x");
          r.frames.push_back(std::stoull(a.substr(2), nullptr, 16));
        }
        out->resources.push_back(std::move(r));
      } else if (std::regex_match(line, m, kLine)) {
        StackLine s;
        s.live_objs = std::stoll(m[1]);
        s.live_bytes = std::stoll(m[2]);
        s.alloc_objs = std::stoull(m[3]);
        s.alloc_bytes = std::stoull(m[4]);
        std::istringstream fr(m[5]);
        std::string a;
        while (fr >> a) {
          if (a.rfind("0x", 0) != 0) return fail("frame without 0x");
          s.frames.push_back(std::stoull(a.substr(2), nullptr, 16));
        }
        out->stacks.push_back(std::move(s));
      } else if (line.empty()) {
        // the blank line before MAPPED_LIBRARIES
      } else if (line == leakprobe::format::kMapsSentinel) {
        if (!section.empty()) return fail("section not ended before the maps");
        state = kMaps;
      } else {
        return fail("unexpected line");
      }
    } else if (state == kMaps) {
      if (line == leakprobe::format::kTrailer) {
        out->has_trailer = true;
        state = kDone;
      } else if (std::regex_match(line, m, kMap)) {
        Mapping mp;
        mp.start = std::stoull(m[1], nullptr, 16);
        mp.end = std::stoull(m[2], nullptr, 16);
        mp.perms = m[3];
        mp.offset = std::stoull(m[4], nullptr, 16);
        mp.path = m[5];
        out->maps.push_back(mp);
      } else {
        return fail("bad maps line");
      }
    }
  }
  if (state == kHead) {
    *error = "empty file";
    return false;
  }
  return true;
}

bool read_snapshot_file(const std::string& path, Snapshot* out, std::string* error) {
  std::ifstream f(path);
  if (!f) {
    *error = "cannot open " + path;
    return false;
  }
  std::stringstream ss;
  ss << f.rdbuf();
  if (!parse_snapshot(ss.str(), out, error)) {
    *error = path + ": " + *error;
    return false;
  }
  return true;
}

}  // namespace probe_test
