#include "text_out.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "leakprobe/snapshot_format.h"

namespace leakprobe {

size_t format_decimal(char* buf, uint64_t v) {
  char tmp[kMaxDecimal];
  size_t n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; ++i) buf[i] = tmp[n - 1 - i];
  buf[n] = '\0';
  return n;
}

void Out::flush() {
  if (used_ && ok_) ok_ = sink(buf_, used_);
  used_ = 0;
}

void Out::put(const char* s, size_t n) {
  while (n) {
    if (used_ == sizeof(buf_)) flush();
    size_t k = sizeof(buf_) - used_;
    if (k > n) k = n;
    memcpy(buf_ + used_, s, k);
    used_ += k;
    s += k;
    n -= k;
  }
}

void Out::put(const char* s) { put(s, strlen(s)); }

void Out::put_char(char c) {
  if (used_ == sizeof(buf_)) flush();
  buf_[used_++] = c;
}

void Out::put_u64(uint64_t v) {
  char digits[kMaxDecimal + 1];
  put(digits, format_decimal(digits, v));
}

void Out::put_i64(int64_t v) {
  if (v < 0) {
    put_char('-');
    put_u64(static_cast<uint64_t>(-(v + 1)) + 1);
  } else {
    put_u64(static_cast<uint64_t>(v));
  }
}

void Out::put_hex(uint64_t v) {
  char tmp[16];
  int n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v);
  put("0x", 2);
  while (n) put_char(tmp[--n]);
}

bool Out::finish() {
  flush();
  return ok_;
}

bool FdOut::sink(const char* data, size_t n) {
  while (n) {
    ssize_t w = write(fd_, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

void meta_key(Out& out, const char* key) {
  out.put(format::kMetaPrefix);
  out.put(key);
  out.put(": ");
}

void meta(Out& out, const char* key, uint64_t value) {
  meta_key(out, key);
  out.put_u64(value);
  out.put_char('\n');
}

void meta(Out& out, const char* key, const char* value) {
  meta_key(out, key);
  out.put(value);
  out.put_char('\n');
}

}  // namespace leakprobe
