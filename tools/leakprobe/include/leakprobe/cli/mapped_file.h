// A read-only mapping of a whole file whose every access is bounds-checked: the ELF readers of
// `leakprobe attach` parse files of other processes (their program, their C library), which
// may be truncated, foreign or hostile.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

namespace leakprobe::cli {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      error_ = std::string("cannot open: ") + std::strerror(errno);
      return;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
      error_ = "not a regular, non-empty file";
    } else {
      void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        error_ = std::string("cannot map: ") + std::strerror(errno);
      } else {
        data_ = static_cast<const unsigned char*>(p);
        size_ = static_cast<size_t>(st.st_size);
      }
    }
    ::close(fd);
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<unsigned char*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& error() const { return error_; }
  bool in_bounds(uint64_t offset, uint64_t length) const {
    return data_ && offset <= size_ && length <= size_ - offset;
  }
  template <typename T>
  const T* at(uint64_t offset) const {
    return in_bounds(offset, sizeof(T)) ? reinterpret_cast<const T*>(data_ + offset) : nullptr;
  }
  // A NUL-terminated string inside [table, table + table_size), or "" if it runs off the end.
  std::string string_at(uint64_t table, uint64_t table_size, uint64_t index) const {
    if (!in_bounds(table, table_size) || index >= table_size) return {};
    const char* s = reinterpret_cast<const char*>(data_ + table + index);
    const size_t room = static_cast<size_t>(table_size - index);
    const size_t len = ::strnlen(s, room);
    return len == room ? std::string() : std::string(s, len);
  }

 private:
  const unsigned char* data_ = nullptr;
  size_t size_ = 0;
  std::string error_;
};

}  // namespace leakprobe::cli
