#include "leakprobe/analysis/output_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace leakprobe::analysis {

std::optional<Error> write_file_whole(const std::string& path, std::string_view bytes,
                                      const std::string& what) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  auto failed = [&](const char* step, int err) {
    ::unlink(tmp.c_str());
    return Error{"cannot write " + what + path + ": " + step + ": " + std::strerror(err)};
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Error{"cannot write " + what + path + ": cannot create: " + std::strerror(errno)};
  }
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return failed("write error", err);
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return failed("write error", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return failed("cannot rename", errno);
  return std::nullopt;
}

}  // namespace leakprobe::analysis
