#include "snapshot_trigger.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <exception>
#include <fstream>

#include "leakprobe/snapshot_format.h"

namespace bench {

SnapshotFacts read_snapshot_facts(const std::string& path) {
  SnapshotFacts f;
  struct stat st {};
  std::ifstream in(path);
  if (!in || ::stat(path.c_str(), &st) != 0) {
    f.error = "cannot read " + path;
    return f;
  }
  f.file_bytes = st.st_size;
  const std::string probe_key =
      std::string(leakprobe::format::kMetaPrefix) + leakprobe::format::kKeyProbeBytes + ":";
  const std::string age_key =
      std::string(leakprobe::format::kMetaPrefix) + leakprobe::format::kKeyAge + ":";
  auto number_after = [](const std::string& text, const std::string& name) {
    const size_t at = text.find(" " + name + "=");
    return at == std::string::npos ? -1 : std::stoll(text.substr(at + name.size() + 2));
  };
  std::string line;
  bool header = false;
  try {
    while (std::getline(in, line)) {
      if (!header) {
        if (line.rfind(leakprobe::format::kHeaderPrefix, 0) != 0) {
          f.error = path + ": not a heap profile";
          return f;
        }
        f.live_objects = std::stoll(line.substr(sizeof leakprobe::format::kHeaderPrefix - 1));
        header = true;
      } else if (line.rfind(probe_key, 0) == 0) {
        f.probe_bytes = std::stoll(line.substr(probe_key.size()));
      } else if (line.rfind(age_key, 0) == 0) {
        f.age_census_us = number_after(line, "census-us");
        f.age_max_hold_us = number_after(line, "max-hold-us");
      } else if (line.rfind(leakprobe::format::kMapsSentinel, 0) == 0) {
        break;
      } else if (!line.empty() && line[0] != '#') {
        ++f.stack_lines;
      }
    }
  } catch (const std::exception&) {  // std::stoll on a malformed number
    f.error = path + ": malformed header or probe-bytes line";
    return f;
  }
  f.ok = header;
  if (!header) f.error = path + ": empty file";
  return f;
}

}  // namespace bench
