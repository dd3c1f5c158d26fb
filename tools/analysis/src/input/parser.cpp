// Hand-written, single-pass, streaming parser: snapshots of a busy broker carry 100k+ stack
// lines, and pprof's regular expressions are what makes `go tool pprof` slow on them. Every
// malformed byte is reported with file and line instead of being skipped, except lines of
// MAPPED_LIBRARIES that are not mappings, which pprof also skips (it may hold "a=b"
// assignments). The input is read a line at a time and judged as it comes: a file that is not
// a heap profile is refused on its first line, and no line may be longer than kMaxLineBytes,
// so /dev/zero or a snapshot padded with gigabytes of zeros costs a few KiB of reading.
#include "leakprobe/analysis/parser.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <optional>
#include <tuple>

#include "leakprobe/sampling.h"
#include "leakprobe/snapshot_format.h"

namespace leakprobe::analysis {
namespace {

namespace fmt = leakprobe::format;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

// Unix seconds such as 1795777200.125 (leakprobe.time and the "since" of other keys).
bool parse_unix_time(std::string_view text, double& out) {
  text = trim(text);
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size() && std::isfinite(out);
}

// A short, printable excerpt of a bad line for error messages (the line may be binary junk).
std::string excerpt(std::string_view line) {
  constexpr size_t kMax = 60;
  std::string out;
  for (size_t i = 0; i < line.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  if (line.size() > kMax) out += "...";
  return out;
}

// Cursor over one line; each read consumes what it matched.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  void skip_spaces() {
    while (!s_.empty() && is_space(s_.front())) s_.remove_prefix(1);
  }
  bool consume(char c) {
    skip_spaces();
    if (s_.empty() || s_.front() != c) return false;
    s_.remove_prefix(1);
    return true;
  }
  bool consume(std::string_view word) {
    skip_spaces();
    if (!starts_with(s_, word)) return false;
    s_.remove_prefix(word.size());
    return true;
  }
  // A run of non-space characters.
  std::string_view token() {
    skip_spaces();
    size_t n = 0;
    while (n < s_.size() && !is_space(s_[n])) ++n;
    auto t = s_.substr(0, n);
    s_.remove_prefix(n);
    return t;
  }
  // Characters up to (not including) `stop`, or up to the end.
  std::string_view until(char stop) {
    skip_spaces();
    size_t n = s_.find(stop);
    if (n == std::string_view::npos) n = s_.size();
    auto t = s_.substr(0, n);
    s_.remove_prefix(n);
    return t;
  }
  std::string_view rest() const { return s_; }
  bool at_end() {
    skip_spaces();
    return s_.empty();
  }

 private:
  std::string_view s_;
};

enum class NumStatus { kOk, kMalformed, kOverflow };

NumStatus to_int64(std::string_view digits, int64_t& out) {
  if (digits.empty()) return NumStatus::kMalformed;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
  if (ec == std::errc::result_out_of_range) return NumStatus::kOverflow;
  if (ec != std::errc() || ptr != digits.data() + digits.size()) return NumStatus::kMalformed;
  return NumStatus::kOk;
}

// Hex digits only, as in /proc/self/maps ("7f3a12028000", "00028000").
NumStatus to_hex(std::string_view digits, uint64_t& out) {
  if (digits.empty()) return NumStatus::kMalformed;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out, 16);
  if (ec == std::errc::result_out_of_range) return NumStatus::kOverflow;
  if (ec != std::errc() || ptr != digits.data() + digits.size()) return NumStatus::kMalformed;
  return NumStatus::kOk;
}

// Reads decimal digits (with an optional '-', which we then reject with a clear message).
std::string_view number_token(Cursor& c) {
  c.skip_spaces();
  std::string_view r = c.rest();
  size_t n = 0;
  if (n < r.size() && r[n] == '-') ++n;
  while (n < r.size() && r[n] >= '0' && r[n] <= '9') ++n;
  // Swallow trailing alphanumerics so "12a" is reported as malformed rather than as a
  // missing ':' after "12".
  while (n < r.size() && (std::isalnum(static_cast<unsigned char>(r[n])) || r[n] == '.')) ++n;
  auto t = r.substr(0, n);
  c.consume(t);
  return t;
}

// "0x" and hex digits, as in stack lines: pprof reads only 0x-prefixed numbers as addresses
// and would silently drop "4005d0", or the "05d0" of "0x40 05d0".
NumStatus to_address(std::string_view token, uint64_t& out) {
  if (!starts_with(token, "0x") && !starts_with(token, "0X")) return NumStatus::kMalformed;
  return to_hex(token.substr(2), out);
}

bool all_hex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) {
    return std::isxdigit(static_cast<unsigned char>(ch)) != 0;
  });
}

// Blank lines at the start before the first line is judged anyway: `yes ''` is not a profile.
constexpr int64_t kMaxLeadingBlankLines = 1000;

}  // namespace

uint64_t max_bytes_for(uint64_t max_stacks) { return max_stacks * kInputBytesPerStack; }

// A limit as the user gave it: "256 MiB", "64 KiB", or "768 bytes".
std::string limit_text(uint64_t bytes) {
  if (bytes >= (uint64_t{1} << 20) && bytes % (uint64_t{1} << 20) == 0) {
    return std::to_string(bytes >> 20) + " MiB";
  }
  if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

namespace detail {

// Fed one line at a time (SnapshotReader splits the bytes); finish() at the end of input.
class Parser {
 public:
  Parser(std::string name, uint64_t max_stacks) : max_stacks_(max_stacks) {
    snap_.name = std::move(name);
  }

  // One line without its '\n'. `cut`: the line went on past kMaxLineBytes and this is only its
  // beginning, which is always an error (the most telling one is returned).
  std::optional<Error> line(std::string_view line, bool cut);
  Result<Snapshot> finish();

 private:
  Error at_line(const std::string& what) const {
    return Error{snap_.name + ":" + std::to_string(line_no_) + ": " + what};
  }
  Error whole_file(const std::string& what) const { return Error{snap_.name + ": " + what}; }

  std::optional<Error> parse_header(std::string_view line);
  std::optional<Error> parse_stack_line(std::string_view line);
  std::optional<Error> parse_sample(std::string_view line, Counts& counts,
                                    std::vector<uint64_t>& addrs);
  std::optional<Error> parse_resource_line(std::string_view line);
  std::optional<Error> parse_count_pair(Cursor& c, const char* what, int64_t& objs, int64_t& bytes);
  std::optional<Error> parse_meta(std::string_view line);
  std::optional<Error> parse_age_header(std::string_view value);
  std::optional<Error> parse_age_cutoff(std::string_view value);
  std::optional<Error> parse_age_stack(std::string_view value);
  std::optional<Error> parse_maps_line(std::string_view line);
  std::optional<Error> add_to_totals(const Counts& c);

  uint64_t max_stacks_;  // 0: no limit
  int64_t line_no_ = 0;
  Snapshot snap_;
  bool header_done_ = false;
  bool first_line_blank_ = false;  // judged when the first non-blank line (or the end) comes
  bool in_maps_ = false;
  bool saw_trailer_ = false;
  std::string_view last_nonempty_;  // only compared with the trailer: a static string
  bool saw_meta_ = false;
  bool in_section_ = false;
  std::string section_name_;
  bool in_resource_section_ = false;
  std::optional<int64_t> meta_sampling_;
  // The last stack line's unsampling scale (1 when exact): its age line is scaled the same.
  double last_scale_ = 1;
  bool age_buckets_unknown_ = false;  // a newer probe's buckets: its age lines are skipped
  bool last_line_was_stack_ = false;  // an age-stack line must follow its stack line at once
  bool prev_was_stack_ = false;
};

std::optional<Error> Parser::parse_count_pair(Cursor& c, const char* what, int64_t& objs,
                                              int64_t& bytes) {
  const std::string_view o = number_token(c);
  if (!c.consume(':')) {
    return o.empty() ? at_line(std::string("expected the ") + what + " object count")
                     : at_line(std::string("expected ':' after the ") + what + " object count");
  }
  const std::string_view b = number_token(c);
  for (auto [tok, out, unit] :
       {std::tuple{o, &objs, "object count"}, std::tuple{b, &bytes, "byte count"}}) {
    switch (to_int64(tok, *out)) {
      case NumStatus::kOk:
        break;
      case NumStatus::kOverflow:
        return at_line(std::string(what) + " " + unit + " '" + excerpt(tok) +
                       "' is out of range (more than 2^63-1)");
      case NumStatus::kMalformed:
        return at_line(std::string("malformed ") + what + " " + unit + " '" + excerpt(tok) + "'");
    }
    if (*out < 0) {
      return at_line(std::string("negative ") + what + " " + unit + " '" + excerpt(tok) + "'");
    }
  }
  if (objs == 0 && bytes != 0) {
    return at_line(std::string(what) + " object count is 0 but " + what + " bytes is " +
                   std::to_string(bytes));
  }
  return std::nullopt;
}

std::optional<Error> Parser::parse_header(std::string_view line) {
  Cursor c(line);
  // pprof accepts any spacing after the colon, so match the keyword without its space.
  if (!c.consume(trim(fmt::kHeaderPrefix))) {
    return at_line(
        "not a heap profile: the first line must be 'heap profile: ...' "
        "(leakprobe snapshot or gperftools HEAPPROFILE dump), found '" +
        excerpt(line) + "'");
  }
  int64_t o1 = 0, b1 = 0, o2 = 0, b2 = 0;
  if (auto e = parse_count_pair(c, "header live", o1, b1)) return e;
  if (!c.consume('[')) return at_line("malformed header: expected '['");
  if (auto e = parse_count_pair(c, "header allocated", o2, b2)) return e;
  if (!c.consume(']')) return at_line("malformed header: expected ']'");
  if (!c.consume('@')) return at_line("malformed header: expected '@'");
  const std::string_view tag = c.token();
  if (!c.at_end()) return at_line("malformed header: unexpected text after the profile type");
  const std::string_view sampled_prefix = fmt::kHeaderTagSampled;
  if (tag == fmt::kHeaderTagExact) {
    snap_.sampling = 0;
  } else if (starts_with(tag, sampled_prefix) && tag.size() > sampled_prefix.size() &&
             tag[sampled_prefix.size()] == '/') {
    int64_t rate = 0;
    const auto digits = tag.substr(sampled_prefix.size() + 1);
    if (to_int64(digits, rate) != NumStatus::kOk || rate <= 0) {
      return at_line("malformed sampling rate '" + excerpt(digits) + "' in '" + excerpt(tag) +
                     "' (expected a positive number of bytes)");
    }
    snap_.sampling = rate;
  } else {
    return at_line("unsupported profile type '" + excerpt(tag) +
                   "' (heapdiff reads 'heapprofile' and 'heap_v2/<bytes>' heap profiles)");
  }
  return std::nullopt;
}

std::optional<Error> Parser::add_to_totals(const Counts& c) {
  Counts& t = snap_.totals;
  if (__builtin_add_overflow(t.live_objs, c.live_objs, &t.live_objs) ||
      __builtin_add_overflow(t.live_bytes, c.live_bytes, &t.live_bytes) ||
      __builtin_add_overflow(t.alloc_objs, c.alloc_objs, &t.alloc_objs) ||
      __builtin_add_overflow(t.alloc_bytes, c.alloc_bytes, &t.alloc_bytes)) {
    return at_line("the sum of the counts overflows 64 bits");
  }
  return std::nullopt;
}

// "<objs>: <bytes> [<objs>: <bytes>] @ <addresses>", shared by heap and resource lines.
std::optional<Error> Parser::parse_sample(std::string_view line, Counts& counts,
                                          std::vector<uint64_t>& addrs) {
  Cursor c(line);
  if (auto e = parse_count_pair(c, "live", counts.live_objs, counts.live_bytes)) return e;
  if (!c.consume('[')) {
    return at_line(
        "malformed stack line: expected '<objs>: <bytes> [<objs>: <bytes>] @ "
        "<addresses>', found '" +
        excerpt(line) + "'");
  }
  if (auto e = parse_count_pair(c, "allocated", counts.alloc_objs, counts.alloc_bytes)) {
    return e;
  }
  if (!c.consume(']') || !c.consume('@')) {
    return at_line("malformed stack line: expected '] @' before the addresses, found '" +
                   excerpt(line) + "'");
  }
  while (!c.at_end()) {
    const std::string_view tok = c.token();
    uint64_t addr = 0;
    switch (to_address(tok, addr)) {
      case NumStatus::kOk:
        break;
      case NumStatus::kOverflow:
        return at_line("address '" + excerpt(tok) + "' does not fit in 64 bits");
      case NumStatus::kMalformed:
        return at_line("malformed address '" + excerpt(tok) + "' (expected hex like 0x4005d0)");
    }
    addrs.push_back(addr);
  }
  return std::nullopt;
}

std::optional<Error> Parser::parse_resource_line(std::string_view line) {
  Counts counts;
  ResourceSample r;
  r.kind = section_name_;
  if (auto e = parse_sample(line, counts, r.addrs)) return e;
  if (counts.live_bytes != 0 || counts.alloc_bytes != 0) {
    return at_line("resource line in section '" + excerpt(section_name_) +
                   "' has non-zero byte counts (they are always 0)");
  }
  if (counts.live_objs > counts.alloc_objs) {
    return at_line("resource line in section '" + excerpt(section_name_) + "' has " +
                   std::to_string(counts.live_objs) + " live but only " +
                   std::to_string(counts.alloc_objs) + " created");
  }
  r.live = counts.live_objs;
  r.created = counts.alloc_objs;
  snap_.resources.push_back(std::move(r));
  if (max_stacks_ > 0 && snap_.resources.size() > max_stacks_) {
    return at_line("more than " + std::to_string(max_stacks_) +
                   " resource lines, the most heapdiff keeps of one snapshot (--max-input "
                   "raises it)");
  }
  return std::nullopt;
}

std::optional<Error> Parser::parse_stack_line(std::string_view line) {
  StackSample s;
  if (auto e = parse_sample(line, s.counts, s.addrs)) return e;
  last_scale_ = 1;
  if (is_sampled(snap_.sampling) && s.counts.live_objs > 0 && s.counts.live_bytes > 0) {
    last_scale_ = format::unsample_scale(static_cast<double>(s.counts.live_objs),
                                         static_cast<double>(s.counts.live_bytes),
                                         static_cast<double>(snap_.sampling));
  }
  if (is_sampled(snap_.sampling)) {
    s.counts.live_samples = s.counts.live_objs;
    unsample(s.counts.live_objs, s.counts.live_bytes, snap_.sampling);
    unsample(s.counts.alloc_objs, s.counts.alloc_bytes, snap_.sampling);
  }
  if (auto e = add_to_totals(s.counts)) return e;
  snap_.stacks.push_back(std::move(s));
  last_line_was_stack_ = true;
  return std::nullopt;
}

// "buckets=60,3600,86400 resolution=<s> ...": other buckets than this reader's mean a newer
// probe; its age lines are skipped (age unknown) rather than misread.
std::optional<Error> Parser::parse_age_header(std::string_view value) {
  std::string expected = "buckets=";
  for (int i = 0; i < fmt::kAgeBuckets - 1; ++i) {
    if (i) expected += ',';
    expected += std::to_string(fmt::kAgeBucketLimitS[i]);
  }
  Cursor c(value);
  if (!c.consume(std::string_view(expected)) || !(c.rest().empty() || is_space(c.rest().front()))) {
    age_buckets_unknown_ = true;
    return std::nullopt;
  }
  AgeHeader h;
  const size_t at = value.find(" resolution=");
  if (at != std::string_view::npos) {
    Cursor r(value.substr(at + std::strlen(" resolution=")));
    int64_t v = 0;
    if (to_int64(number_token(r), v) != NumStatus::kOk || v < 1)
      return at_line("malformed leakprobe.age resolution in '" + excerpt(value) + "'");
    h.resolution_s = static_cast<uint32_t>(std::min<int64_t>(v, UINT32_MAX));
  }
  if (!snap_.stacks.empty()) return at_line("leakprobe.age after the first stack line");
  snap_.age = std::move(h);
  return std::nullopt;
}

// "<sequence> <unix time>"
std::optional<Error> Parser::parse_age_cutoff(std::string_view value) {
  if (age_buckets_unknown_) return std::nullopt;
  if (!snap_.age) return at_line("leakprobe.age-cutoff before leakprobe.age");
  if (!snap_.stacks.empty()) return at_line("leakprobe.age-cutoff after the first stack line");
  Cursor c(value);
  AgeHeader::Cutoff cut;
  if (to_int64(number_token(c), cut.sequence) != NumStatus::kOk || cut.sequence < 1 ||
      !parse_unix_time(c.rest(), cut.time)) {
    return at_line("malformed leakprobe.age-cutoff value '" + excerpt(value) +
                   "' (expected '<sequence> <unix seconds>')");
  }
  if (snap_.age->cutoffs.size() >= static_cast<size_t>(fmt::kAgeMaxCutoffs))
    return at_line("more than " + std::to_string(fmt::kAgeMaxCutoffs) +
                   " leakprobe.age-cutoff lines");
  snap_.age->cutoffs.push_back(cut);
  return std::nullopt;
}

// "<o>:<b> <o>:<b> <o>:<b> <o>:<b> mean=<s>[ before=<o>:<b>,...]" after a stack line.
std::optional<Error> Parser::parse_age_stack(std::string_view value) {
  if (age_buckets_unknown_) return std::nullopt;
  if (!snap_.age) return at_line("leakprobe.age-stack without a leakprobe.age line");
  const size_t index = snap_.stacks.size() - 1;
  if (snap_.stacks.empty() || !prev_was_stack_ ||
      (index < snap_.stack_age_seen.size() && snap_.stack_age_seen[index]))
    return at_line("leakprobe.age-stack not right after a stack line");
  const double scale = last_scale_;
  auto scaled = [scale](int64_t v) {
    if (scale == 1) return v;
    const double x = static_cast<double>(v) * scale;
    return x < 9.2e18 ? static_cast<int64_t>(x) : static_cast<int64_t>(9.2e18);
  };
  AgeCounts a;
  Cursor c(value);
  for (int i = 0; i < fmt::kAgeBuckets; ++i) {
    int64_t o = 0, b = 0;
    if (parse_count_pair(c, "age bucket", o, b)) {
      return at_line("malformed leakprobe.age-stack '" + excerpt(value) + "' (expected " +
                     std::to_string(fmt::kAgeBuckets) +
                     " buckets '<objects>:<bytes>', then mean=)");
    }
    a.objs[static_cast<size_t>(i)] = scaled(o);
    a.bytes[static_cast<size_t>(i)] = scaled(b);
  }
  int64_t mean = 0;
  if (!c.consume(std::string_view(fmt::kAgeMean)) ||
      to_int64(number_token(c), mean) != NumStatus::kOk || mean < 0) {
    return at_line("malformed leakprobe.age-stack mean in '" + excerpt(value) + "'");
  }
  a.byte_seconds = static_cast<double>(mean) * static_cast<double>(a.total_bytes());
  a.obj_seconds = static_cast<double>(mean) * static_cast<double>(a.total_objs());
  const size_t cutoffs = snap_.age->cutoffs.size();
  if (cutoffs > 0) {
    if (!c.consume(std::string_view(fmt::kAgeBefore)))
      return at_line("leakprobe.age-stack without the before= list its age-cutoff lines call for");
    for (size_t i = 0; i < cutoffs; ++i) {
      if (i > 0 && !c.consume(','))
        return at_line("leakprobe.age-stack has fewer before= pairs than age-cutoff lines");
      int64_t o = 0, b = 0;
      if (auto e = parse_count_pair(c, "age before", o, b)) return e;
      a.before_bytes.push_back(scaled(b));
    }
  }
  c.skip_spaces();
  if (!c.rest().empty())
    return at_line("unexpected text in leakprobe.age-stack: '" + excerpt(c.rest()) + "'");
  snap_.stack_ages.resize(snap_.stacks.size());
  snap_.stack_age_seen.resize(snap_.stacks.size());
  snap_.stack_ages[index] = std::move(a);
  snap_.stack_age_seen[index] = true;
  return std::nullopt;
}

std::optional<Error> Parser::parse_meta(std::string_view line) {
  // line starts with kMetaPrefix
  std::string_view body = line.substr(std::strlen(fmt::kMetaPrefix));
  const size_t colon = body.find(':');
  if (colon == std::string_view::npos) return std::nullopt;  // e.g. the trailer "# leakprobe.end"
  const std::string_view key = body.substr(0, colon);
  const std::string_view value = trim(body.substr(colon + 1));
  saw_meta_ = true;

  auto integer = [&](std::optional<int64_t>& out) -> std::optional<Error> {
    int64_t v = 0;
    switch (to_int64(value, v)) {
      case NumStatus::kOk:
        out = v;
        return std::nullopt;
      case NumStatus::kOverflow:
        return at_line("leakprobe." + std::string(key) + " value '" + excerpt(value) +
                       "' is out of range");
      case NumStatus::kMalformed:
        break;
    }
    return at_line("malformed leakprobe." + std::string(key) + " value '" + excerpt(value) +
                   "' (expected an integer)");
  };

  if (key == fmt::kKeyFormat) {
    std::optional<int64_t> v;
    if (auto e = integer(v)) return e;
    if (*v > fmt::kVersion || *v < 1) {
      return at_line("snapshot format " + std::to_string(*v) +
                     " is not supported (this heapdiff "
                     "reads format " +
                     std::to_string(fmt::kVersion) + ")");
    }
    snap_.format = static_cast<int>(*v);
  } else if (key == fmt::kKeyPid) {
    return integer(snap_.pid);
  } else if (key == fmt::kKeyParentPid) {
    return integer(snap_.ppid);
  } else if (key == fmt::kKeyPidNamespace) {
    return integer(snap_.pid_namespace);
  } else if (key == fmt::kKeyExe) {
    snap_.exe = std::string(value);
  } else if (key == fmt::kKeyTime) {
    double t = 0;
    if (!parse_unix_time(value, t)) {
      return at_line("malformed leakprobe.time value '" + excerpt(value) +
                     "' (expected unix seconds like 1795777200.125)");
    }
    snap_.time = t;
  } else if (key == fmt::kKeySequence) {
    return integer(snap_.sequence);
  } else if (key == fmt::kKeyTrigger) {
    snap_.trigger = std::string(value);
  } else if (key == fmt::kKeySampling) {
    return integer(meta_sampling_);
  } else if (key == fmt::kKeyDepth) {
    return integer(snap_.depth);
  } else if (key == fmt::kKeyStacks) {
    if (auto e = integer(snap_.declared_stacks)) return e;
    if (*snap_.declared_stacks < 0) return at_line("negative leakprobe.stacks");
  } else if (key == fmt::kKeyTruncated) {
    return integer(snap_.truncated_stacks);
  } else if (key == fmt::kKeyForeignMalloc) {
    snap_.foreign_malloc = std::string(value);
  } else if (key == fmt::kKeyAge) {
    return parse_age_header(value);
  } else if (key == fmt::kKeyAgeCutoff) {
    return parse_age_cutoff(value);
  } else if (key == fmt::kKeyAgeStack) {
    return parse_age_stack(value);
  } else if (key == fmt::kKeyRecording || key == fmt::kKeyIncomplete) {
    // "<word> since <unix time>"; the time is optional for incomplete marks.
    const std::string_view since = fmt::kRecordingSince;
    const size_t at = value.find(since);
    const std::string_view word = at == std::string_view::npos ? value : value.substr(0, at);
    std::optional<double> t;
    if (at != std::string_view::npos) {
      double v = 0;
      if (!parse_unix_time(value.substr(at + since.size()), v)) {
        return at_line("malformed leakprobe." + std::string(key) + " value '" + excerpt(value) +
                       "' (expected '<state> since <unix seconds>')");
      }
      t = v;
    }
    if (word.empty() || word.find(' ') != std::string_view::npos) {
      return at_line("malformed leakprobe." + std::string(key) + " value '" + excerpt(value) +
                     "' (expected '<word> since <unix seconds>')");
    }
    if (key == fmt::kKeyIncomplete) {
      snap_.incomplete.push_back(IncompleteMark{std::string(word), t});
    } else {
      if (!t) {
        return at_line("malformed leakprobe.recording value '" + excerpt(value) +
                       "' (expected '<on|off|dormant> since <unix seconds>')");
      }
      std::optional<double> first = snap_.recording ? snap_.recording->first_switch : std::nullopt;
      snap_.recording = RecordingState{std::string(word), *t, first};
    }
  } else if (key == fmt::kKeyAttached) {
    // "since=<unix time> heap-live=<bytes> unrecorded-frees=<n> unrecorded-freed-bytes=<n>";
    // names this reader does not know are skipped, as in the memory section.
    AttachInfo info;
    bool have_since = false;
    Cursor c(value);
    for (std::string_view tok = c.token(); !tok.empty(); tok = c.token()) {
      const size_t eq = tok.find('=');
      const std::string_view name = tok.substr(0, eq), v = tok.substr(eq + 1);
      int64_t n = 0;
      const bool number =
          eq != std::string_view::npos && to_int64(v, n) == NumStatus::kOk && n >= 0;
      if (name == fmt::kAttachedSince && eq != std::string_view::npos) {
        have_since = parse_unix_time(v, info.since);
        if (!have_since) break;
      } else if (name == fmt::kAttachedHeapLive || name == fmt::kAttachedUnrecordedFrees ||
                 name == fmt::kAttachedUnrecordedBytes) {
        if (!number) {
          have_since = false;
          break;
        }
        (name == fmt::kAttachedHeapLive          ? info.heap_live
         : name == fmt::kAttachedUnrecordedFrees ? info.unrecorded_frees
                                                 : info.unrecorded_freed_bytes) = n;
      }
    }
    if (!have_since) {
      return at_line("malformed leakprobe.attached value '" + excerpt(value) +
                     "' (expected 'since=<unix seconds> heap-live=<bytes> ...')");
    }
    snap_.attached = info;
  } else if (key == fmt::kKeyRecordingChanged) {
    double v = 0;
    if (!parse_unix_time(value, v)) {
      return at_line("malformed leakprobe.recording-changed value '" + excerpt(value) +
                     "' (expected unix seconds like 1795777200.125)");
    }
    if (!snap_.recording) snap_.recording = RecordingState{"", 0, std::nullopt};
    snap_.recording->first_switch = v;
  } else if (key == fmt::kKeyProbeBytes) {
    return integer(snap_.probe_bytes);
  } else if (key == fmt::kKeyBuildId) {
    Cursor c(value);
    std::string hex(c.token());
    std::string path(trim(c.rest()));
    const bool is_hex = !hex.empty() && std::all_of(hex.begin(), hex.end(), [](char ch) {
      return std::isxdigit(static_cast<unsigned char>(ch)) != 0;
    });
    if (!is_hex || path.empty()) {
      return at_line("malformed leakprobe.build-id value '" + excerpt(value) +
                     "' (expected '<hex> <path>')");
    }
    std::transform(hex.begin(), hex.end(), hex.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    snap_.build_ids[path] = hex;
  } else if (key == fmt::kKeySection) {
    if (in_section_) {
      return at_line("section '" + excerpt(value) + "' starts inside section '" +
                     excerpt(section_name_) + "'");
    }
    in_section_ = true;
    section_name_ = std::string(value);
    // Sections this reader does not know are skipped, as the format requires.
    in_resource_section_ =
        std::any_of(std::begin(fmt::kResourceSectionNames), std::end(fmt::kResourceSectionNames),
                    [&](const char* name) { return value == name; });
  } else if (key == fmt::kKeyEndSection) {
    if (!in_section_ || value != section_name_) {
      return at_line("end of section '" + excerpt(value) + "' without its start");
    }
    in_section_ = false;
    in_resource_section_ = false;
  } else if (key == fmt::kKeyResources) {
    std::optional<int64_t> v;
    if (auto e = integer(v)) return e;
    if (*v != 0 && *v != 1) return at_line("leakprobe.resources must be 0 or 1");
    snap_.resources_tracked = *v == 1;
  } else if (key == fmt::kKeyUntrackedFds) {
    return integer(snap_.untracked_fds);
  } else if (key == fmt::kKeyUnseenCloses) {
    return integer(snap_.unseen_closes);
  } else if (key.rfind("memory.", 0) == 0) {
    if (auto e = parse_memory_meta(key, value, snap_.memory))
      return at_line(*e + " '" + excerpt(value) + "'");
  }
  // Unknown keys are ignored, as the format requires.
  return std::nullopt;
}

// "start-end perms offset dev inode [path]". A line whose first word is not "hex-hex" is not
// a mapping and is skipped, as pprof does; in a mapping, every number must be well-formed.
std::optional<Error> Parser::parse_maps_line(std::string_view line) {
  Cursor c(line);
  const std::string_view range = c.token();
  const size_t dash = range.find('-');
  if (dash == std::string_view::npos || !all_hex(range.substr(0, dash)) ||
      !all_hex(range.substr(dash + 1))) {
    return std::nullopt;
  }
  Mapping m;
  if (to_hex(range.substr(0, dash), m.start) != NumStatus::kOk ||
      to_hex(range.substr(dash + 1), m.end) != NumStatus::kOk) {
    return at_line("mapping range '" + excerpt(range) + "' does not fit in 64 bits");
  }
  if (m.end <= m.start) {
    return at_line("mapping range '" + excerpt(range) + "' does not end after it starts");
  }
  const std::string_view perms = c.token();
  if (perms.size() < 4) {
    return at_line("malformed mapping: expected permissions like 'r-xp' after '" + excerpt(range) +
                   "'");
  }
  const std::string_view offset = c.token();
  switch (to_hex(offset, m.offset)) {
    case NumStatus::kOk:
      break;
    case NumStatus::kOverflow:
      return at_line("mapping offset '" + excerpt(offset) + "' does not fit in 64 bits");
    case NumStatus::kMalformed:
      return at_line("malformed mapping offset '" + excerpt(offset) +
                     "' (expected hex like 00028000)");
  }
  c.token();  // device
  c.token();  // inode
  c.skip_spaces();
  std::string_view path = trim(c.rest());
  constexpr std::string_view kDeleted = " (deleted)";
  if (path.size() > kDeleted.size() && path.substr(path.size() - kDeleted.size()) == kDeleted) {
    path.remove_suffix(kDeleted.size());
  }
  m.path = std::string(path);
  if (snap_.first_mapped_path.empty() && starts_with(path, "/")) snap_.first_mapped_path = m.path;
  if (perms[2] == 'x') snap_.mappings.push_back(std::move(m));
  return std::nullopt;
}

std::optional<Error> Parser::line(std::string_view raw, bool cut) {
  ++line_no_;
  // Besides its stack lines a snapshot has some metadata, extension-section rows and its
  // maps; twice the stack limit is far more. Bounds the time spent on millions of blank or
  // comment lines, which cost nothing to keep but ~25 ns each to look at.
  if (max_stacks_ > 0 && static_cast<uint64_t>(line_no_) > 2 * max_stacks_ + 65536) {
    return at_line("more lines than a snapshot of at most " +
                   limit_text(max_bytes_for(max_stacks_)) + " has (--max-input raises it)");
  }
  const std::string_view line = trim(raw);
  if (!header_done_) {
    if (line.empty() && !cut) {
      // Judged later: an all-blank file is "empty", blank lines before a header are not.
      if (line_no_ == 1) first_line_blank_ = true;
      if (line_no_ < kMaxLeadingBlankLines) return std::nullopt;
    }
    if (first_line_blank_) {
      line_no_ = 1;
      return parse_header("");
    }
    if (auto e = parse_header(line)) return e;
    header_done_ = true;
    if (cut)
      return at_line("the header line is longer than " + std::to_string(kMaxLineBytes) + " bytes");
    return std::nullopt;
  }
  if (saw_trailer_ && !line.empty()) {
    return at_line(std::string("unexpected data after '") + fmt::kTrailer +
                   "', the last line of a snapshot: '" + excerpt(line) + "'");
  }
  if (cut) {
    return at_line("line longer than " + std::to_string(kMaxLineBytes) +
                   " bytes (not a heap profile line): '" + excerpt(line) + "'");
  }
  if (line.empty()) return std::nullopt;
  last_nonempty_ = line == fmt::kTrailer ? std::string_view(fmt::kTrailer) : std::string_view();
  prev_was_stack_ = last_line_was_stack_;
  last_line_was_stack_ = false;
  if (line.front() == '#') {
    if (starts_with(line, fmt::kMetaPrefix)) {
      if (line == fmt::kTrailer) saw_trailer_ = true;
      return parse_meta(line);
    }
    if (in_resource_section_ && !in_maps_) return parse_resource_line(line.substr(1));
    return std::nullopt;  // other comments, and the rows of sections this reader does not know
  }
  if (in_maps_) return parse_maps_line(line);
  if (line == fmt::kMapsSentinel) {
    in_maps_ = true;
    return std::nullopt;
  }
  if (in_section_) return std::nullopt;
  if (auto e = parse_stack_line(line)) return e;
  if (max_stacks_ > 0 && snap_.stacks.size() > max_stacks_) {
    // Each kept stack costs ~100 bytes of memory even when its line is 20: bounded here.
    return at_line("more than " + std::to_string(max_stacks_) +
                   " stack lines, the most heapdiff keeps of one snapshot of at most " +
                   limit_text(max_bytes_for(max_stacks_)) + " (--max-input raises both)");
  }
  if (snap_.declared_stacks && static_cast<int64_t>(snap_.stacks.size()) > *snap_.declared_stacks) {
    // Said now rather than at the end: a snapshot that goes on past its count is corrupt.
    return whole_file("corrupt leakprobe snapshot: more stack lines than leakprobe.stacks says (" +
                      std::to_string(*snap_.declared_stacks) + ")");
  }
  return std::nullopt;
}

Result<Snapshot> Parser::finish() {
  if (!header_done_) {
    if (line_no_ == 0 || first_line_blank_) return whole_file("empty file");
  }
  const bool in_maps = in_maps_;
  const std::string_view last_nonempty = last_nonempty_;
  snap_.flavour = saw_meta_ ? Flavour::kLeakprobe : Flavour::kGperftools;
  if (snap_.flavour == Flavour::kLeakprobe && last_nonempty != fmt::kTrailer) {
    return whole_file(std::string("truncated leakprobe snapshot: the last line is not '") +
                      fmt::kTrailer + "' (" + std::to_string(line_no_) + " lines read)");
  }
  if (snap_.declared_stacks &&
      *snap_.declared_stacks != static_cast<int64_t>(snap_.stacks.size())) {
    const bool fewer = *snap_.declared_stacks > static_cast<int64_t>(snap_.stacks.size());
    return whole_file(std::string(fewer ? "truncated leakprobe snapshot: "
                                        : "corrupt leakprobe "
                                          "snapshot: ") +
                      std::to_string(snap_.stacks.size()) +
                      " stack lines but leakprobe.stacks "
                      "says " +
                      std::to_string(*snap_.declared_stacks));
  }
  if (in_section_) {
    return whole_file("section '" + excerpt(section_name_) + "' is never ended");
  }
  if (!in_maps) {
    return whole_file(std::string("truncated heap profile: no ") + fmt::kMapsSentinel +
                      " section (" + std::to_string(line_no_) + " lines read)");
  }
  if (meta_sampling_ && *meta_sampling_ != snap_.sampling &&
      (is_sampled(*meta_sampling_) || is_sampled(snap_.sampling))) {
    return whole_file("leakprobe.sampling " + std::to_string(*meta_sampling_) +
                      " disagrees with the header's sampling rate " +
                      std::to_string(snap_.sampling));
  }
  std::sort(snap_.mappings.begin(), snap_.mappings.end(),
            [](const Mapping& a, const Mapping& b) { return a.start < b.start; });
  return std::move(snap_);
}

}  // namespace detail

void unsample(int64_t& count, int64_t& size, int64_t rate) {
  if (count == 0 || size == 0) {
    // pprof returns (0, 0) here; count==0 with size!=0 was rejected by the parser already.
    count = 0;
    size = 0;
    return;
  }
  if (rate <= 1) return;
  const double scale = format::unsample_scale(static_cast<double>(count), static_cast<double>(size),
                                              static_cast<double>(rate));
  // Go converts float64 -> int64 by truncation; values beyond int64 are clamped here rather
  // than left undefined.
  auto to_i64 = [](double v) {
    if (!(v < 9.2e18)) return static_cast<int64_t>(9.2e18);
    return static_cast<int64_t>(v);
  };
  count = to_i64(static_cast<double>(count) * scale);
  size = to_i64(static_cast<double>(size) * scale);
}

SnapshotReader::SnapshotReader(std::string name, uint64_t max_stacks)
    : parser_(std::make_unique<detail::Parser>(std::move(name), max_stacks)) {}

SnapshotReader::~SnapshotReader() = default;

bool SnapshotReader::feed(std::string_view bytes) {
  while (!error_ && !bytes.empty()) {
    const size_t newline = bytes.find('\n');
    const std::string_view piece = bytes.substr(0, newline);
    if (partial_.size() + piece.size() > kMaxLineBytes) {
      // Only the beginning of an over-long line is kept: enough to say what it is.
      partial_.append(piece.substr(0, kMaxLineBytes - partial_.size()));
      error_ = parser_->line(partial_, true);
      break;
    }
    if (newline == std::string_view::npos) {
      partial_.append(piece);
      break;
    }
    if (partial_.empty()) {
      error_ = parser_->line(piece, false);  // the common case: no copy
    } else {
      partial_.append(piece);
      error_ = parser_->line(partial_, false);
      partial_.clear();
    }
    bytes.remove_prefix(newline + 1);
  }
  return !error_;
}

Result<Snapshot> SnapshotReader::finish() {
  if (error_) return *error_;
  if (!partial_.empty()) {  // a last line without '\n'
    error_ = parser_->line(partial_, false);
    partial_.clear();
    if (error_) return *error_;
  }
  return parser_->finish();
}

Result<Snapshot> parse_snapshot(std::string_view text, std::string name) {
  SnapshotReader reader(std::move(name));
  reader.feed(text);
  return reader.finish();
}

Result<Snapshot> load_snapshot(const std::string& path, uint64_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{path + ": cannot open: " + std::strerror(errno)};
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  return load_snapshot_fd(fd, path, max_bytes, {});
}

Result<Snapshot> load_snapshot_fd(int fd, const std::string& path, uint64_t max_bytes,
                                  std::string_view already_read) {
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    return Error{path + ": cannot read: is a directory"};
  }
  const auto too_large = [&] {
    return Error{path + ": larger than " + limit_text(max_bytes) +
                 ", the most heapdiff reads of one snapshot (--max-input raises it)"};
  };
  SnapshotReader reader(path, max_bytes / kInputBytesPerStack);
  uint64_t total = 0;
  // Streamed: memory is the kept snapshot plus this buffer and one line, whatever the input.
  char buf[1 << 16];
  for (bool first = true;; first = false) {
    std::string_view chunk;
    if (first && !already_read.empty()) {
      chunk = already_read;
    } else {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n == 0) break;
      if (n < 0) {
        if (errno == EINTR) continue;
        return Error{path + ": read error: " + std::strerror(errno)};
      }
      chunk = std::string_view(buf, static_cast<size_t>(n));
    }
    if (!reader.feed(chunk)) break;
    total += chunk.size();
    // The file's size is looked at only after its first 16 MiB: what is wrong with the
    // content (garbage, a snapshot followed by gigabytes of zeros) is said first, and is
    // found within the first line or the first over-long one.
    constexpr uint64_t kJudgeContentFirst = uint64_t{16} << 20;
    if (total > max_bytes || (total > kJudgeContentFirst && S_ISREG(st.st_mode) &&
                              static_cast<uint64_t>(st.st_size) > max_bytes)) {
      return too_large();
    }
  }
  return reader.finish();
}

std::string Snapshot::program() const {
  if (exe && !exe->empty()) return *exe;
  return first_mapped_path;
}

const Mapping* Snapshot::find_mapping(uint64_t pc) const {
  auto it = std::upper_bound(mappings.begin(), mappings.end(), pc,
                             [](uint64_t v, const Mapping& m) { return v < m.start; });
  if (it == mappings.begin()) return nullptr;
  --it;
  return pc < it->end ? &*it : nullptr;
}

}  // namespace leakprobe::analysis
