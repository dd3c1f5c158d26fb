// The probe's text sink: what the snapshot writer, the resource sections and the memory
// section write through (anchor: heaptrack's src/util/linewriter.h). A fixed buffer flushed to
// a sink, no allocation, no stdio: it runs inside the host, on the writer thread or the exiting
// one, while other threads keep allocating. FdOut writes to a raw descriptor; unit tests
// subclass Out to collect the text in memory.
#pragma once

#include <cstddef>
#include <cstdint>

namespace leakprobe {

// The one decimal formatter of the probe (snapshot numbers, log lines, /proc/self/fd paths):
// the digits of `v` into `buf`, which holds kMaxDecimal + 1 bytes, NUL-terminated. Returns the
// number of digits.
inline constexpr size_t kMaxDecimal = 20;  // 18446744073709551615
size_t format_decimal(char* buf, uint64_t v);

class Out {
 public:
  void put(const char* s);
  void put(const char* s, size_t n);
  void put_char(char c);
  void put_u64(uint64_t v);
  void put_i64(int64_t v);
  void put_hex(uint64_t v);  // "0x..." lowercase, as pprof's stack-line regex expects
  // Flushes what is buffered; false if any write so far failed.
  bool finish();
  bool ok() const { return ok_; }

 protected:
  // Not virtual: a virtual destructor would drag operator delete (and libstdc++) into the
  // preloaded library. Outs are only ever destroyed as their concrete type.
  ~Out() = default;
  // Writes all n bytes or returns false.
  virtual bool sink(const char* data, size_t n) = 0;

 private:
  void flush();
  char buf_[16384];
  size_t used_ = 0;
  bool ok_ = true;
};

class FdOut final : public Out {
 public:
  explicit FdOut(int fd) : fd_(fd) {}
  ~FdOut() = default;

 private:
  bool sink(const char* data, size_t n) override;  // retries EINTR and short writes
  int fd_;
};

// A metadata line of the snapshot format: "# leakprobe.<key>: " (meta_key, the value and the
// newline are the caller's), or the whole line with its value.
void meta_key(Out& out, const char* key);
void meta(Out& out, const char* key, uint64_t value);
void meta(Out& out, const char* key, const char* value);

}  // namespace leakprobe
