// gzip with zlib's stream API: pprof files are gzip members (RFC 1952), which inflate reads
// with windowBits 15+16 and deflate writes with the same value.
#include <zlib.h>

#include <algorithm>
#include <climits>

#include "leakprobe/pprof/profile_io.h"

namespace leakprobe::pprof {
namespace {

std::string zlib_message(const z_stream& zs, int rc) {
  if (zs.msg != nullptr) return zs.msg;
  switch (rc) {
    case Z_MEM_ERROR:
      return "out of memory";
    case Z_DATA_ERROR:
      return "corrupt data";
    case Z_BUF_ERROR:
      return "truncated stream";
    default:
      return "zlib error " + std::to_string(rc);
  }
}

// zlib counts in uInt; feed at most this much per call so multi-GiB inputs stay correct.
constexpr size_t kChunk = size_t{1} << 20;

}  // namespace

bool is_gzip(std::string_view bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

bool gunzip(std::string_view in, std::string& out, std::string& error, size_t max_out) {
  out.clear();
  size_t pos = 0;
  // One iteration per gzip member: gzip(1) concatenates members, and so may a tool that
  // appends to a file.
  while (pos < in.size()) {
    if (!is_gzip(in.substr(pos))) {
      error = pos == 0 ? "not gzip data" : "junk after the gzip stream";
      return false;
    }
    z_stream zs{};
    if (inflateInit2(&zs, 15 + 16) != Z_OK) {
      error = "gzip: cannot initialise zlib";
      return false;
    }
    char buf[1 << 16];
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
      if (zs.avail_in == 0 && pos < in.size()) {
        const size_t n = std::min(kChunk, in.size() - pos);
        zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + pos));
        zs.avail_in = static_cast<uInt>(n);
        pos += n;
      }
      zs.next_out = reinterpret_cast<Bytef*>(buf);
      zs.avail_out = sizeof buf;
      rc = inflate(&zs, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END) {
        // Z_BUF_ERROR with no input left means the stream ended early.
        error = "gzip: " + ((rc == Z_BUF_ERROR && zs.avail_in == 0 && pos >= in.size())
                                ? std::string("truncated stream")
                                : zlib_message(zs, rc));
        inflateEnd(&zs);
        return false;
      }
      const size_t produced = sizeof buf - zs.avail_out;
      if (out.size() + produced > max_out) {
        error =
            "gzip: decompressed size exceeds the limit of " + std::to_string(max_out) + " bytes";
        inflateEnd(&zs);
        return false;
      }
      out.append(buf, produced);
      if (rc == Z_OK && produced == 0 && zs.avail_in == 0 && pos >= in.size()) {
        error = "gzip: truncated stream";
        inflateEnd(&zs);
        return false;
      }
    }
    // Input zlib was given but did not consume belongs to the next member.
    pos -= zs.avail_in;
    inflateEnd(&zs);
  }
  if (in.empty()) {
    error = "not gzip data";
    return false;
  }
  return true;
}

bool gzip(std::string_view in, std::string& out, std::string& error) {
  out.clear();
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    error = "gzip: cannot initialise zlib";
    return false;
  }
  size_t pos = 0;
  char buf[1 << 16];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (zs.avail_in == 0 && pos < in.size()) {
      const size_t n = std::min(kChunk, in.size() - pos);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + pos));
      zs.avail_in = static_cast<uInt>(n);
      pos += n;
    }
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = deflate(&zs, pos >= in.size() && zs.avail_in == 0 ? Z_FINISH : Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      error = "gzip: " + zlib_message(zs, rc);
      deflateEnd(&zs);
      return false;
    }
    out.append(buf, sizeof buf - zs.avail_out);
  }
  deflateEnd(&zs);
  return true;
}

}  // namespace leakprobe::pprof
