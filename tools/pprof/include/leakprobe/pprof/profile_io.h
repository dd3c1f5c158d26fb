// pprof's profile.proto on disk: the generated message classes (perftools::profiles, from
// tools/pprof/proto/profile.proto) plus the few things every reader and writer of a .pb.gz
// needs around them: gzip, content detection, size limits, validation and a string table.
//
// Readers: read_profile_file() or parse_profile(), then index the profile's tables freely: a
// profile that passed validate_profile() has every string index in range and every id it
// refers to defined. These hold every sample in memory; heapdiff's pprof input reads through
// profile_stream.h instead, which folds samples by stack as they arrive.
// Writers (heapdiff --pprof): fill a Profile with a StringTable, then write_profile_file().
//
// No function throws or asserts on bad input: errors come back as `false` plus a message in
// `error` that names what is wrong ("not a pprof profile", "truncated gzip stream", ...).
// Callers prefix the file name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "profile.pb.h"  // generated; namespace perftools::profiles

namespace leakprobe::pprof {

using perftools::profiles::Profile;

// Decompressed profiles larger than this are refused rather than read into memory: a Go heap
// profile of a large service is a few MiB; 1 GiB is a corrupt or hostile file.
inline constexpr size_t kMaxProfileBytes = size_t{1} << 30;

// True when `bytes` starts with the gzip magic (0x1f 0x8b): how pprof itself tells a
// compressed profile from a raw one.
bool is_gzip(std::string_view bytes);

// Decompresses a complete gzip stream (several concatenated members are accepted, as gzip(1)
// does). Fails on a truncated or corrupt stream, trailing junk, or output above `max_out`.
bool gunzip(std::string_view in, std::string& out, std::string& error,
            size_t max_out = kMaxProfileBytes);

// Compresses `in` as one gzip member (default level). Fails only if zlib cannot allocate.
bool gzip(std::string_view in, std::string& out, std::string& error);

// Parses a profile from file contents: gunzipped first if is_gzip(), then decoded as the
// protobuf message and checked with validate_profile(). Unknown fields are skipped (newer
// producers add some).
bool parse_profile(std::string_view bytes, Profile& out, std::string& error,
                   size_t max_bytes = kMaxProfileBytes);

// The checks pprof's CheckValid makes, and the ones our readers rely on: string_table[0] is
// ""; ids are non-zero and unique; every Sample has one value per sample_type and refers to
// defined locations; every Location's mapping and Line's function exist; every string index
// is inside the table.
bool validate_profile(const Profile& profile, std::string& error);

// Reads and parses a file (parse_profile). Messages do not repeat `path`.
bool read_profile_file(const std::string& path, Profile& out, std::string& error,
                       size_t max_bytes = kMaxProfileBytes);

// Serializes and gzips `profile`, as pprof expects on disk, and writes it to `path` (created
// or truncated). Messages do not repeat `path`.
bool write_profile_file(const std::string& path, const Profile& profile, std::string& error);

// Serialized and gzipped `profile` in memory (what write_profile_file writes).
bool serialize_gzipped(const Profile& profile, std::string& out, std::string& error);

// The string at `index` of the profile's string table, or "" when out of range (a validated
// profile never is).
const std::string& string_at(const Profile& profile, int64_t index);

// Interns strings into a Profile's string_table for writers: the same string always gets the
// same index, and index 0 is "" as the format requires. The profile must outlive the table
// and its string_table must not be edited behind the table's back.
class StringTable {
 public:
  explicit StringTable(Profile& profile);
  int64_t index(std::string_view s);

 private:
  Profile& profile_;
  std::unordered_map<std::string, int64_t> indexes_;
};

}  // namespace leakprobe::pprof
