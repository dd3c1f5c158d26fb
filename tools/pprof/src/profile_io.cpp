// Profiles to and from bytes and files. Content decides the encoding (gzip or raw protobuf),
// never the file name: `curl -o heap` and `go tool pprof -proto` both produce files whose
// names say nothing.
#include "leakprobe/pprof/profile_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace leakprobe::pprof {

bool parse_profile(std::string_view bytes, Profile& out, std::string& error, size_t max_bytes) {
  out.Clear();
  std::string inflated;
  if (is_gzip(bytes)) {
    if (!gunzip(bytes, inflated, error, max_bytes)) return false;
    bytes = inflated;
  } else if (bytes.size() > max_bytes) {
    error = "profile exceeds the limit of " + std::to_string(max_bytes) + " bytes";
    return false;
  }
  if (bytes.empty()) {
    error = "empty file, not a pprof profile";
    return false;
  }
  // protobuf's array parser takes an int size.
  if (bytes.size() > static_cast<size_t>(INT_MAX) ||
      !out.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    out.Clear();
    error = "not a pprof profile (protobuf decoding failed)";
    return false;
  }
  if (!validate_profile(out, error)) {
    error = "invalid pprof profile: " + error;
    out.Clear();
    return false;
  }
  return true;
}

bool read_profile_file(const std::string& path, Profile& out, std::string& error,
                       size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = std::string("cannot open: ") + std::strerror(errno);
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    error = "cannot read: is a directory";
    return false;
  }
  std::string bytes;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      error = std::string("read error: ") + std::strerror(errno);
      ::close(fd);
      return false;
    }
    // A compressed file can legitimately be as large as the limit only if nothing compresses.
    if (bytes.size() + static_cast<size_t>(n) > max_bytes) {
      ::close(fd);
      error = "file exceeds the limit of " + std::to_string(max_bytes) + " bytes";
      return false;
    }
    bytes.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return parse_profile(bytes, out, error, max_bytes);
}

bool serialize_gzipped(const Profile& profile, std::string& out, std::string& error) {
  std::string raw;
  if (!profile.SerializeToString(&raw)) {
    error = "cannot serialize the profile";
    return false;
  }
  return gzip(raw, out, error);
}

bool write_profile_file(const std::string& path, const Profile& profile, std::string& error) {
  std::string bytes;
  if (!serialize_gzipped(profile, bytes, error)) return false;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = std::string("cannot create: ") + std::strerror(errno);
    return false;
  }
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = std::string("write error: ") + std::strerror(errno);
      ::close(fd);
      return false;
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) {
    error = std::string("write error: ") + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace leakprobe::pprof
