// A profile decoded field by field from a byte stream (profile_stream.h). Only the top level
// of the Profile message is decoded by hand: each sample's bytes are parsed with the
// generated Sample class and folded, and every other field's bytes are collected and parsed
// once, at the end, as a Profile, so that protobuf's own rules (repeated and packed fields,
// the last of a singular field winning, unknown fields skipped) hold for them unchanged.
#include "leakprobe/pprof/profile_stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <map>
#include <unordered_set>

namespace leakprobe::pprof {

bool MemorySource::read(char* buf, size_t cap, size_t* got, std::string&) {
  *got = std::min(cap, bytes_.size());
  std::memcpy(buf, bytes_.data(), *got);
  bytes_.remove_prefix(*got);
  return true;
}

bool FdSource::read(char* buf, size_t cap, size_t* got, std::string& error) {
  *got = 0;
  if (prefix_used_ < prefix_.size()) {
    *got = std::min(cap, prefix_.size() - prefix_used_);
    std::memcpy(buf, prefix_.data() + prefix_used_, *got);
    prefix_used_ += *got;
  } else {
    ssize_t n;
    do {
      n = ::read(fd_, buf, cap);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      error = std::string("read error: ") + std::strerror(errno);
      return false;
    }
    *got = static_cast<size_t>(n);
  }
  total_ += *got;
  if (total_ > max_) {
    error = "larger than " + std::to_string(max_) + " bytes, the most heapdiff reads (--max-input)";
    return false;
  }
  return true;
}

namespace {

constexpr const char* kNotAProfile = "not a pprof profile (protobuf decoding failed)";

// A buffered pull reader of protobuf's wire format over a ByteSource, counting what it
// consumed against the limit.
class WireReader {
 public:
  WireReader(ByteSource& in, size_t max_bytes) : in_(in), max_(max_bytes), buf_(1 << 16) {}

  uint64_t consumed() const { return consumed_; }

  // The next byte; false at the end (`error` empty) or on an error (`error` set).
  bool byte(uint8_t* b, std::string& error) {
    if (pos_ == len_ && !refill(error)) return false;
    *b = static_cast<uint8_t>(buf_[pos_++]);
    return true;
  }

  // A varint of at most 10 bytes. `*end` is set (and true returned) when the stream ends
  // before its first byte and `end` is given: the end of the message between two fields.
  bool varint(uint64_t* v, std::string& error, bool* end = nullptr) {
    *v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      uint8_t b;
      if (!byte(&b, error)) {
        if (error.empty() && shift == 0 && end) {
          *end = true;
          return true;
        }
        if (error.empty()) error = kNotAProfile;
        return false;
      }
      if (shift == 63 && b > 1) break;  // over 64 bits
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    error = kNotAProfile;
    return false;
  }

  // Appends the next `n` bytes to `out` (or drops them if `out` is null).
  bool bytes(uint64_t n, std::string* out, std::string& error) {
    while (n > 0) {
      if (pos_ == len_ && !refill(error)) {
        if (error.empty()) error = kNotAProfile;  // cut short
        return false;
      }
      const size_t take = static_cast<size_t>(std::min<uint64_t>(n, len_ - pos_));
      if (out) out->append(buf_.data() + pos_, take);
      pos_ += take;
      n -= take;
    }
    return true;
  }

 private:
  bool refill(std::string& error) {
    size_t got = 0;
    if (!in_.read(buf_.data(), buf_.size(), &got, error)) return false;
    pos_ = 0;
    len_ = got;
    consumed_ += got;
    if (consumed_ > max_) {
      error = "profile exceeds the limit of " + std::to_string(max_) + " bytes";
      return false;
    }
    return got > 0;
  }

  ByteSource& in_;
  size_t max_;
  std::vector<char> buf_;
  size_t pos_ = 0, len_ = 0;
  uint64_t consumed_ = 0;
};

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Distinct location-id lists -> their index in FoldedProfile::samples. Open addressing over
// the folded samples themselves, so a lookup needs no key of its own: one probe per sample.
class FoldIndex {
 public:
  explicit FoldIndex(std::vector<FoldedSample>& folded) : folded_(folded), slots_(1024, kEmpty) {}

  // The folded sample with these ids, added (empty values) if new.
  FoldedSample& find_or_add(const uint64_t* ids, size_t n, uint64_t sample_index) {
    const uint64_t h = hash(ids, n);
    size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      const uint32_t slot = slots_[i];
      if (slot == kEmpty) break;
      FoldedSample& f = folded_[slot];
      if (f.location_ids.size() == n && std::equal(ids, ids + n, f.location_ids.begin())) return f;
    }
    if ((folded_.size() + 1) * 2 > slots_.size()) grow();
    mask = slots_.size() - 1;
    size_t i = h & mask;
    while (slots_[i] != kEmpty) i = (i + 1) & mask;
    slots_[i] = static_cast<uint32_t>(folded_.size());
    FoldedSample f;
    f.location_ids.assign(ids, ids + n);
    f.first = sample_index;
    folded_.push_back(std::move(f));
    return folded_.back();
  }

 private:
  static constexpr uint32_t kEmpty = UINT32_MAX;

  static uint64_t hash(const uint64_t* ids, size_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
    for (size_t i = 0; i < n; ++i) {
      h ^= ids[i] + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
      h *= 0xff51afd7ed558ccdULL;
    }
    return h ^ (h >> 33);
  }

  void grow() {
    std::vector<uint32_t> bigger(slots_.size() * 2, kEmpty);
    const size_t mask = bigger.size() - 1;
    for (uint32_t k = 0; k < folded_.size(); ++k) {
      const FoldedSample& f = folded_[k];
      size_t i = hash(f.location_ids.data(), f.location_ids.size()) & mask;
      while (bigger[i] != kEmpty) i = (i + 1) & mask;
      bigger[i] = k;
    }
    slots_.swap(bigger);
  }

  std::vector<FoldedSample>& folded_;
  std::vector<uint32_t> slots_;
};

// Folds one decoded sample into `out`, remembering what validation and the caller need to
// know about it once the tables have arrived.
class Folder {
 public:
  explicit Folder(FoldedProfile& out) : out_(out), index_(out.samples) {}

  bool add(const perftools::profiles::Sample& s, std::string& error) {
    const uint64_t n = out_.sample_count++;
    // More distinct stacks than the index counts can only come from more samples than any
    // limit lets through; refused rather than wrapped.
    if (out_.samples.size() >= UINT32_MAX - 1) {
      error = "more than 4294967294 distinct stacks";
      return false;
    }
    const int values = s.value_size();
    value_counts_.emplace(values, n);  // keeps the first sample of each count
    if (out_.overflowed.size() < static_cast<size_t>(values)) {
      out_.overflowed.resize(static_cast<size_t>(values), false);
      totals_.resize(static_cast<size_t>(values), 0);
    }
    FoldedSample& f =
        index_.find_or_add(s.location_id().data(), static_cast<size_t>(s.location_id_size()), n);
    if (f.samples == 0) f.values.assign(static_cast<size_t>(values), 0);
    ++f.samples;
    // A sample whose value count differs from its stack's first is invalid either way (two
    // counts cannot both match the sample types); validation names it from value_counts_.
    const bool same_shape = f.values.size() == static_cast<size_t>(values);
    for (int i = 0; i < values; ++i) {
      const int64_t v = s.value(i);
      if (v < 0 && !out_.negative) {
        out_.negative = true;
        out_.negative_sample = n;
        out_.negative_column = i;
        out_.negative_value = v;
      }
      if (__builtin_add_overflow(totals_[static_cast<size_t>(i)], v,
                                 &totals_[static_cast<size_t>(i)])) {
        out_.overflowed[static_cast<size_t>(i)] = true;
      }
      if (same_shape) {
        int64_t& sum = f.values[static_cast<size_t>(i)];
        sum = static_cast<int64_t>(static_cast<uint64_t>(sum) + static_cast<uint64_t>(v));
      }
    }
    for (const auto& l : s.label()) {
      for (int64_t index : {l.key(), l.str(), l.num_unit()}) {
        if (index < 0 && !negative_label_) {
          negative_label_ = true;
          negative_label_sample_ = n;
        }
        if (index > f.max_label_string) {
          f.max_label_string = index;
          f.max_label_sample = n;
        }
      }
    }
    return true;
  }

  // validate_profile's sample checks, on the folded samples against the tables: the first
  // offending sample is named as the whole-message check names it.
  bool validate(std::string& error) const {
    const Profile& p = out_.tables;
    const int types = p.sample_type_size();
    uint64_t worst = UINT64_MAX;
    std::string message;
    auto offend = [&](uint64_t sample, std::string text) {
      if (sample < worst) {
        worst = sample;
        message = std::move(text);
      }
    };
    for (const auto& [count, sample] : value_counts_) {
      if (count != types) {
        offend(sample, "sample " + std::to_string(sample) + " has " + std::to_string(count) +
                           " values, the profile has " + std::to_string(types) + " sample types");
      }
    }
    std::unordered_set<uint64_t> locations;
    for (const auto& loc : p.location()) locations.insert(loc.id());
    for (const FoldedSample& f : out_.samples) {
      for (uint64_t id : f.location_ids) {
        if (locations.count(id) == 0) {
          offend(f.first, "sample " + std::to_string(f.first) + " refers to undefined location " +
                              std::to_string(id));
          break;
        }
      }
      if (f.max_label_string >= p.string_table_size()) {
        offend(f.max_label_sample, "sample " + std::to_string(f.max_label_sample) +
                                       " has a label outside the string table");
      }
    }
    if (negative_label_) {
      offend(negative_label_sample_, "sample " + std::to_string(negative_label_sample_) +
                                         " has a label outside the string table");
    }
    if (worst == UINT64_MAX) return true;
    error = message;
    return false;
  }

 private:
  FoldedProfile& out_;
  FoldIndex index_;
  std::vector<int64_t> totals_;
  std::map<int, uint64_t> value_counts_;  // value count -> first sample with it
  bool negative_label_ = false;
  uint64_t negative_label_sample_ = 0;
};

// Reads at least two bytes (or to the end) to tell gzip from raw protobuf.
bool peek(ByteSource& in, std::string& head, std::string& error) {
  char buf[1 << 16];
  while (head.size() < 2) {
    size_t got = 0;
    if (!in.read(buf, sizeof buf, &got, error)) return false;
    if (got == 0) break;
    head.append(buf, got);
  }
  return true;
}

// `head`, then the rest of `in`.
class PrefixedSource : public ByteSource {
 public:
  PrefixedSource(std::string head, ByteSource& in) : head_(std::move(head)), in_(in) {}
  bool read(char* buf, size_t cap, size_t* got, std::string& error) override {
    if (used_ < head_.size()) {
      *got = std::min(cap, head_.size() - used_);
      std::memcpy(buf, head_.data() + used_, *got);
      used_ += *got;
      return true;
    }
    return in_.read(buf, cap, got, error);
  }

 private:
  std::string head_;
  size_t used_ = 0;
  ByteSource& in_;
};

constexpr uint64_t kSampleField = 2;

bool decode(WireReader& r, FoldedProfile& out, Folder& folder, std::string& error) {
  std::string tables;  // every top-level field but the samples, as it came
  std::string sample_bytes;
  perftools::profiles::Sample sample;
  for (;;) {
    uint64_t tag = 0;
    bool end = false;
    if (!r.varint(&tag, error, &end)) return false;
    if (end) break;
    const uint64_t number = tag >> 3;
    const unsigned wire = static_cast<unsigned>(tag & 7);
    if (number == 0 || number > (uint64_t{1} << 29) - 1) {
      error = kNotAProfile;
      return false;
    }
    if (wire == 2) {
      uint64_t len = 0;
      if (!r.varint(&len, error)) return false;
      if (len > INT_MAX) {  // no field of a message protobuf parses is larger
        error = kNotAProfile;
        return false;
      }
      if (number == kSampleField) {
        sample_bytes.clear();
        if (!r.bytes(len, &sample_bytes, error)) return false;
        sample.Clear();
        if (!sample.ParseFromString(sample_bytes)) {
          error = kNotAProfile;
          return false;
        }
        if (!folder.add(sample, error)) return false;
        continue;
      }
      put_varint(tables, tag);
      put_varint(tables, len);
      if (!r.bytes(len, &tables, error)) return false;
    } else if (wire == 0) {
      uint64_t v = 0;
      if (!r.varint(&v, error)) return false;
      put_varint(tables, tag);
      put_varint(tables, v);
    } else if (wire == 1 || wire == 5) {
      put_varint(tables, tag);
      if (!r.bytes(wire == 1 ? 8 : 4, &tables, error)) return false;
    } else {
      // Groups (3, 4) were never part of profile.proto, and 6 and 7 are not wire types.
      error = kNotAProfile;
      return false;
    }
  }
  if (r.consumed() == 0) {
    error = "empty file, not a pprof profile";
    return false;
  }
  if (tables.size() > static_cast<size_t>(INT_MAX) || !out.tables.ParseFromString(tables)) {
    error = kNotAProfile;
    return false;
  }
  return true;
}

}  // namespace

bool read_folded_profile(ByteSource& in, FoldedProfile& out, std::string& error, size_t max_bytes) {
  out = FoldedProfile{};
  error.clear();  // the readers below tell the end of the stream (no error) from a failure
  std::string head;
  if (!peek(in, head, error)) return false;
  if (head.empty()) {
    error = "empty file, not a pprof profile";
    return false;
  }
  const bool gzipped = is_gzip(head);
  PrefixedSource source(std::move(head), in);
  GunzipSource gunzipped(source, max_bytes);
  ByteSource& bytes = gzipped ? static_cast<ByteSource&>(gunzipped) : source;
  // Decompressed bytes are limited by the gunzip (with its own message); raw ones here.
  WireReader reader(bytes, gzipped ? SIZE_MAX : max_bytes);
  Folder folder(out);
  const bool ok = decode(reader, out, folder, error);
  if (!ok) {
    out = FoldedProfile{};
    return false;
  }
  // The whole-message checks on the tables (no samples among them), then the samples'.
  if (!validate_profile(out.tables, error) || !folder.validate(error)) {
    error = "invalid pprof profile: " + error;
    out = FoldedProfile{};
    return false;
  }
  return true;
}

}  // namespace leakprobe::pprof
