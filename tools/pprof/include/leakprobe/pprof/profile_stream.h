// A profile read as a stream, for readers that need the values per stack and not each sample:
// the string table, mappings, locations, functions and the other small fields are kept (a
// Profile without samples), and samples are folded by their location-id list as they arrive,
// their values summed. Memory is proportional to what is kept (the tables and one entry per
// distinct stack), not to the samples read: a 388 KB gzip of 18 M identical samples (200 MB
// unpacked) is one entry, where decoding the whole message took 5.8 GB (issue 23 item 4).
//
// Protobuf fields may arrive in any order, so samples may come before the locations they
// refer to: folding is by location-id sequence, and the checks that need the tables
// (validate_profile's, on the folded samples) run once the stream has ended.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "leakprobe/pprof/profile_io.h"

struct z_stream_s;  // zlib's z_stream

namespace leakprobe::pprof {

// Where the bytes come from. read() puts up to `cap` bytes into `buf` and sets *got; *got == 0
// means the end. false (with `error`) on a read error.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual bool read(char* buf, size_t cap, size_t* got, std::string& error) = 0;
};

// Bytes in memory.
class MemorySource : public ByteSource {
 public:
  explicit MemorySource(std::string_view bytes) : bytes_(bytes) {}
  bool read(char* buf, size_t cap, size_t* got, std::string& error) override;

 private:
  std::string_view bytes_;
};

// A file descriptor (not closed here), after `prefix`: bytes the caller already read from it
// to tell the format (a pipe cannot be read twice). More than `max_bytes` in all is an error
// ("larger than N bytes, the most heapdiff reads (--max-input)").
class FdSource : public ByteSource {
 public:
  FdSource(int fd, std::string prefix, uint64_t max_bytes)
      : fd_(fd), prefix_(std::move(prefix)), max_(max_bytes) {}
  bool read(char* buf, size_t cap, size_t* got, std::string& error) override;

 private:
  int fd_;
  std::string prefix_;
  size_t prefix_used_ = 0;
  uint64_t total_ = 0, max_;
};

// One distinct stack of a folded profile.
struct FoldedSample {
  std::vector<uint64_t> location_ids;  // leaf first, as in the samples
  // Summed over the samples folded here, wrapping: exact unless FoldedProfile says a column
  // overflowed or held a negative value.
  std::vector<int64_t> values;
  uint64_t samples = 0;  // how many samples were folded here
  uint64_t first = 0;    // 0-based index of the first of them in the profile, for messages
  // The largest string index a label of these samples names, and the sample naming it.
  int64_t max_label_string = 0;
  uint64_t max_label_sample = 0;
};

struct FoldedProfile {
  Profile tables;                     // every field but sample
  std::vector<FoldedSample> samples;  // in order of first appearance
  uint64_t sample_count = 0;          // samples read
  // The first negative value of any sample (a uint64 over 2^63-1 written as int64 reads as
  // one): its sample (0-based), column and value.
  bool negative = false;
  uint64_t negative_sample = 0;
  int negative_column = 0;
  int64_t negative_value = 0;
  // Per column: the sum over all samples does not fit in int64.
  std::vector<bool> overflowed;
};

// Reads a profile from `in`, gzipped or raw protobuf (decided by content), at most
// `max_bytes` once decompressed, folding its samples. The result passed the checks of
// validate_profile(): every string index in range, every id defined, one value per sample
// type in every sample. Messages as parse_profile's.
bool read_folded_profile(ByteSource& in, FoldedProfile& out, std::string& error,
                         size_t max_bytes = kMaxProfileBytes);

// Decompresses gzip members from `in` as a stream (what gunzip() does all at once).
class GunzipSource : public ByteSource {
 public:
  GunzipSource(ByteSource& in, size_t max_out);
  ~GunzipSource() override;
  GunzipSource(const GunzipSource&) = delete;
  GunzipSource& operator=(const GunzipSource&) = delete;
  bool read(char* buf, size_t cap, size_t* got, std::string& error) override;

 private:
  bool fill(std::string& error);

  ByteSource& in_;
  size_t max_out_, produced_ = 0;
  std::unique_ptr<z_stream_s> zs_;
  bool active_ = false, in_eof_ = false, done_ = false;
  unsigned members_ = 0;
  std::vector<char> buf_;
  size_t start_ = 0, end_ = 0;  // unread input in buf_
};

}  // namespace leakprobe::pprof
