// pprof profile -> Snapshot (see pprof_input.h for the mapping and why).
#include "leakprobe/analysis/pprof_input.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <unordered_map>

#include "leakprobe/analysis/go_frames.h"
#include "leakprobe/analysis/parser.h"
#include "leakprobe/analysis/report_pprof.h"
#include "leakprobe/pprof/profile_io.h"
#include "leakprobe/pprof/profile_stream.h"

namespace leakprobe::analysis {
namespace {

namespace pp = leakprobe::pprof;

// Synthetic addresses of named frames have the top bit set: no user-space mapping reaches
// there, so they never meet a real address of a snapshot's stacks.
constexpr uint64_t kNamedBit = uint64_t{1} << 63;

uint64_t fnv1a(uint64_t h, std::string_view s) {
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return (h ^ 0xff) * 1099511628211ULL;  // separator: ("ab","c") != ("a","bc")
}

bool is_hex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

struct Columns {
  int live_objs = -1, live_bytes = -1, alloc_objs = -1, alloc_bytes = -1, count = -1;
};

std::string describe_types(const pp::Profile& p) {
  std::string out;
  for (const auto& vt : p.sample_type()) {
    if (!out.empty()) out += ", ";
    out += pp::string_at(p, vt.type()) + "/" + pp::string_at(p, vt.unit());
  }
  return out;
}

}  // namespace

bool looks_like_pprof(std::string_view first_bytes) {
  if (pp::is_gzip(first_bytes)) return true;
  if (first_bytes.empty()) return false;
  // A raw Profile begins with a field tag (field number << 3 | wire type). Every producer
  // writes sample_type first: 0x0a, a length, then a ValueType, whose own first tag is 0x08
  // or 0x10. 0x0a is also '\n', hence the look at the ValueType: blank lines are text, and
  // get the text parser's message. The next fields' tags (sample 0x12, mapping 0x1a) are
  // not text either; from location (0x22, '"') on, tags are printable and a file starting
  // with one is text (the text parser explains what it expected).
  const auto byte = [&first_bytes](size_t i) {
    return i < first_bytes.size() ? static_cast<unsigned char>(first_bytes[i]) : 0;
  };
  if (byte(0) == 0x12 || byte(0) == 0x1a) return true;
  if (byte(0) != 0x0a) return false;
  size_t i = 1;
  while (i < first_bytes.size() && i < 6 && (byte(i) & 0x80) != 0) ++i;  // the length varint
  return byte(i + 1) == 0x08 || byte(i + 1) == 0x10;
}

namespace {

// The profile is read as a stream, its samples folded by stack (profile_stream.h): memory
// follows the distinct stacks kept, not the samples read.
Result<Snapshot> read_pprof(pp::ByteSource& source, std::string name, size_t max_bytes) {
  pp::FoldedProfile folded;
  std::string error;
  if (!pp::read_folded_profile(source, folded, error, max_bytes)) return Error{name + ": " + error};
  const pp::Profile& p = folded.tables;

  Snapshot snap;
  snap.name = std::move(name);
  snap.flavour = Flavour::kPprof;

  for (int64_t c : p.comment()) {
    if (pp::string_at(p, c).rfind(kDeltaProfileComment, 0) == 0) {
      return Error{snap.name +
                   ": this is heapdiff's own --pprof output, the change between two snapshots "
                   "(negative where memory shrank), not a heap profile; give heapdiff the "
                   "snapshots it was made from"};
    }
  }

  // Which value is which, by sample type name (pprof's convention; the order varies).
  Columns col;
  for (int i = 0; i < p.sample_type_size(); ++i) {
    const std::string& type = pp::string_at(p, p.sample_type(i).type());
    if (type == "inuse_objects") col.live_objs = i;
    if (type == "inuse_space") col.live_bytes = i;
    if (type == "alloc_objects") col.alloc_objs = i;
    if (type == "alloc_space") col.alloc_bytes = i;
  }
  const bool heap =
      col.live_objs >= 0 || col.live_bytes >= 0 || col.alloc_objs >= 0 || col.alloc_bytes >= 0;
  if (heap) {
    snap.kind = "heap";
    // Values are already scaled; the rate is kept only so that profiles sampled at different
    // rates are refused, as for text snapshots.
    if (p.has_period_type() && pp::string_at(p, p.period_type().unit()) == "bytes" &&
        p.period() > 1) {
      snap.sampling = p.period();
    }
  } else if (p.sample_type_size() == 1 && pp::string_at(p, p.sample_type(0).unit()) == "count" &&
             !pp::string_at(p, p.sample_type(0).type()).empty()) {
    snap.kind = pp::string_at(p, p.sample_type(0).type());
    col.count = 0;
  } else {
    return Error{snap.name + ": a pprof profile of " + describe_types(p) +
                 ": heapdiff compares heap profiles (inuse_space, alloc_space, ...) and count "
                 "profiles (one count per stack, such as goroutine/count)"};
  }
  if (p.time_nanos() > 0) snap.time = static_cast<double>(p.time_nanos()) / 1e9;

  // Go profiles name Go functions: their runtime and standard library are told apart by
  // name (go_frames.h). Decided once per profile.
  bool go = false;
  for (const auto& f : p.function()) {
    if (is_go_runtime_package_function(pp::string_at(p, f.name()))) {
      go = true;
      break;
    }
  }

  std::unordered_map<uint64_t, const perftools::profiles::Mapping*> mappings;
  for (const auto& m : p.mapping()) {
    mappings.emplace(m.id(), &m);
    if (m.memory_limit() > m.memory_start()) {
      snap.mappings.push_back(Mapping{m.memory_start(), m.memory_limit(), m.file_offset(),
                                      pp::string_at(p, m.filename())});
      const std::string& build_id = pp::string_at(p, m.build_id());
      // Go build IDs ("abc/def/...") are not ELF build-ids; only those are worth checking.
      if (is_hex(build_id)) {
        std::string lower = build_id;
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](char c) { return static_cast<char>(std::tolower(c)); });
        snap.build_ids[snap.mappings.back().path] = lower;
      }
    }
  }
  std::sort(snap.mappings.begin(), snap.mappings.end(),
            [](const Mapping& a, const Mapping& b) { return a.start < b.start; });
  // pprof lists the main binary's mapping first, as /proc/PID/maps does.
  if (p.mapping_size() > 0) snap.first_mapped_path = pp::string_at(p, p.mapping(0).filename());

  std::unordered_map<uint64_t, const perftools::profiles::Function*> functions;
  for (const auto& f : p.function()) functions.emplace(f.id(), &f);

  // Location id -> the address its stacks carry (synthetic for named frames).
  std::unordered_map<uint64_t, uint64_t> address_of;
  for (const auto& loc : p.location()) {
    NamedFrame named;
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < loc.line_size(); ++i) {
      const auto& line = loc.line(i);
      const auto* f = functions.at(line.function_id());  // validated
      symbolize::Frame frame;
      frame.function = pp::string_at(p, f->name());
      if (frame.function.empty()) frame.function = pp::string_at(p, f->system_name());
      frame.file = pp::string_at(p, f->filename());
      frame.line = static_cast<int>(std::clamp<int64_t>(line.line(), 0, INT32_MAX));
      // pprof lists inlined functions first; the last line is the function they were
      // inlined into, the only one that is not itself inlined.
      frame.inlined = i + 1 < loc.line_size();
      if (frame.function.empty() && frame.file.empty()) continue;
      h = fnv1a(fnv1a(fnv1a(h, frame.function), frame.file), std::to_string(frame.line));
      named.frames.push_back(std::move(frame));
    }
    if (named.frames.empty()) {
      // Unnamed: the real address, for the ELF symbolizer. merge_snapshots takes stack
      // addresses as return addresses and looks up address - 1; pprof's Location.address is
      // the instruction itself, hence + 1.
      address_of.emplace(loc.id(), loc.address() + 1);
      continue;
    }
    if (named.frames.back().inlined) named.frames.back().inlined = false;
    const auto m = mappings.find(loc.mapping_id());
    named.module = m != mappings.end() ? pp::string_at(p, m->second->filename()) : std::string();
    named.address = loc.address();
    named.go = go;
    h = fnv1a(h, named.module);
    const uint64_t address = kNamedBit | (h >> 1);
    address_of.emplace(loc.id(), address);
    snap.named_frames.emplace(address, std::move(named));
  }

  // A count or size is never negative; a value over 2^63 - 1 (a uint64 written as int64)
  // reads as one. Either would print as nonsense and steer the gate, so it is refused.
  if (folded.negative) {
    return Error{snap.name + ": sample " + std::to_string(folded.negative_sample + 1) +
                 " has the value " + std::to_string(folded.negative_value) + " for " +
                 pp::string_at(p, p.sample_type(folded.negative_column).type()) +
                 ": negative, or over 2^63-1 (9223372036854775807); a heap or count "
                 "profile has neither"};
  }
  // With no negative value, no stack's sum can overflow unless its column's total does.
  for (int column : {col.live_objs, col.live_bytes, col.alloc_objs, col.alloc_bytes, col.count}) {
    if (column >= 0 && static_cast<size_t>(column) < folded.overflowed.size() &&
        folded.overflowed[static_cast<size_t>(column)]) {
      return Error{snap.name +
                   ": the sample values add up to more than 2^63-1 "
                   "(9223372036854775807): not a real heap"};
    }
  }

  snap.stacks.reserve(folded.samples.size());
  for (pp::FoldedSample& s : folded.samples) {
    StackSample sample;
    auto value = [&s](int index) { return index >= 0 ? s.values[static_cast<size_t>(index)] : 0; };
    if (col.count >= 0) {
      sample.counts.live_objs = value(col.count);
    } else {
      sample.counts.live_objs = value(col.live_objs);
      sample.counts.live_bytes = value(col.live_bytes);
      sample.counts.alloc_objs = value(col.alloc_objs);
      sample.counts.alloc_bytes = value(col.alloc_bytes);
    }
    sample.addrs.reserve(s.location_ids.size());
    for (uint64_t id : s.location_ids) sample.addrs.push_back(address_of.at(id));  // validated
    // Cannot overflow: every column used has a total that fits (checked above).
    snap.totals.live_objs += sample.counts.live_objs;
    snap.totals.live_bytes += sample.counts.live_bytes;
    snap.totals.alloc_objs += sample.counts.alloc_objs;
    snap.totals.alloc_bytes += sample.counts.alloc_bytes;
    std::vector<uint64_t>().swap(s.location_ids);  // the stack's ids are not needed twice
    snap.stacks.push_back(std::move(sample));
  }
  return snap;
}

}  // namespace

Result<Snapshot> parse_pprof(std::string_view bytes, std::string name, size_t max_bytes) {
  pp::MemorySource source(bytes);
  return read_pprof(source, std::move(name), max_bytes);
}

Result<Snapshot> load_input(const std::string& path, uint64_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{path + ": cannot open: " + std::strerror(errno)};
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  // The first read tells the format; it is handed on, because a pipe cannot be read twice.
  char buf[1 << 16];
  ssize_t n;
  do {
    n = ::read(fd, buf, sizeof buf);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    // A directory (EISDIR) gets the text reader's message.
    if (errno == EISDIR) return load_snapshot_fd(fd, path, max_bytes, {});
    return Error{path + ": read error: " + std::strerror(errno)};
  }
  std::string bytes(buf, static_cast<size_t>(n));
  if (!looks_like_pprof(bytes)) return load_snapshot_fd(fd, path, max_bytes, bytes);

  const size_t limit = static_cast<size_t>(std::min<uint64_t>(max_bytes, pp::kMaxProfileBytes));
  // Read as it is decoded, never whole: the file (compressed) and its content are each
  // bounded by `limit`.
  pp::FdSource source(fd, std::move(bytes), limit);
  return read_pprof(source, path, limit);
}

}  // namespace leakprobe::analysis
