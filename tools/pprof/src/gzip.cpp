// gzip with zlib's stream API: pprof files are gzip members (RFC 1952), which inflate reads
// with windowBits 15+16 and deflate writes with the same value.
#include <zlib.h>

#include <algorithm>
#include <climits>

#include "leakprobe/pprof/profile_io.h"
#include "leakprobe/pprof/profile_stream.h"

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
// Compressed input read at a time by GunzipSource.
constexpr size_t kInputBuffer = size_t{1} << 16;

}  // namespace

bool is_gzip(std::string_view bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

GunzipSource::GunzipSource(ByteSource& in, size_t max_out)
    : in_(in), max_out_(max_out), zs_(std::make_unique<z_stream>()), buf_(kInputBuffer) {}

GunzipSource::~GunzipSource() {
  if (active_) inflateEnd(zs_.get());
}

// Moves the unread input to the front and reads more behind it.
bool GunzipSource::fill(std::string& error) {
  if (start_ > 0) {
    std::copy(buf_.begin() + static_cast<long>(start_), buf_.begin() + static_cast<long>(end_),
              buf_.begin());
    end_ -= start_;
    start_ = 0;
  }
  size_t got = 0;
  if (!in_.read(buf_.data() + end_, buf_.size() - end_, &got, error)) return false;
  if (got == 0) in_eof_ = true;
  end_ += got;
  return true;
}

bool GunzipSource::read(char* out, size_t cap, size_t* got, std::string& error) {
  *got = 0;
  z_stream& zs = *zs_;
  cap = std::min(cap, kChunk);
  // One member after the other: gzip(1) concatenates members, and so may a tool that appends
  // to a file.
  while (!done_) {
    if (!active_) {
      while (end_ - start_ < 2 && !in_eof_) {
        if (!fill(error)) return false;
      }
      if (end_ == start_) {
        if (members_ == 0) {
          error = "not gzip data";
          return false;
        }
        done_ = true;
        break;
      }
      if (!is_gzip(std::string_view(buf_.data() + start_, end_ - start_))) {
        error = members_ == 0 ? "not gzip data" : "junk after the gzip stream";
        return false;
      }
      zs = z_stream{};
      if (inflateInit2(&zs, 15 + 16) != Z_OK) {
        error = "gzip: cannot initialise zlib";
        return false;
      }
      active_ = true;
    }
    if (start_ == end_ && !in_eof_ && !fill(error)) return false;
    zs.next_in = reinterpret_cast<Bytef*>(buf_.data() + start_);
    zs.avail_in = static_cast<uInt>(end_ - start_);
    zs.next_out = reinterpret_cast<Bytef*>(out);
    zs.avail_out = static_cast<uInt>(cap);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    start_ = end_ - zs.avail_in;
    const size_t produced = cap - zs.avail_out;
    if (rc != Z_OK && rc != Z_STREAM_END) {
      // Z_BUF_ERROR with no input left means the stream ended early.
      error = "gzip: " + ((rc == Z_BUF_ERROR && start_ == end_ && in_eof_)
                              ? std::string("truncated stream")
                              : zlib_message(zs, rc));
      return false;
    }
    if (produced > max_out_ - produced_) {
      error = "gzip: decompressed size exceeds the limit of " + std::to_string(max_out_) + " bytes";
      return false;
    }
    produced_ += produced;
    if (rc == Z_STREAM_END) {
      inflateEnd(&zs);
      active_ = false;
      ++members_;
    } else if (produced == 0 && start_ == end_ && in_eof_) {
      error = "gzip: truncated stream";
      return false;
    }
    if (produced > 0) {
      *got = produced;
      return true;
    }
  }
  return true;
}

bool gunzip(std::string_view in, std::string& out, std::string& error, size_t max_out) {
  out.clear();
  MemorySource source(in);
  GunzipSource gz(source, max_out);
  char buf[1 << 16];
  for (;;) {
    size_t got = 0;
    if (!gz.read(buf, sizeof buf, &got, error)) return false;
    if (got == 0) return true;
    out.append(buf, got);
  }
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
