#include "log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "text_out.h"

namespace leakprobe {
namespace {

// 0: not remembered yet, 1: remembered, 2: descriptor 2 was closed at start (never write).
std::atomic<int> g_stderr_state{0};
dev_t g_stderr_dev = 0;
ino_t g_stderr_ino = 0;

bool stderr_is_still_ours() {
  int state = g_stderr_state.load(std::memory_order_acquire);
  if (state == 0) return true;
  if (state == 2) return false;
  struct stat st;
  return fstat(STDERR_FILENO, &st) == 0 && st.st_dev == g_stderr_dev && st.st_ino == g_stderr_ino;
}

}  // namespace

void log_remember_stderr() {
  const int saved_errno = errno;
  struct stat st;
  if (fstat(STDERR_FILENO, &st) == 0) {
    g_stderr_dev = st.st_dev;
    g_stderr_ino = st.st_ino;
    g_stderr_state.store(1, std::memory_order_release);
  } else {
    g_stderr_state.store(2, std::memory_order_release);
  }
  errno = saved_errno;
}

void log_line(const char* a, const char* b, const char* c, const char* d, const char* e) {
  const int saved_errno = errno;
  if (!stderr_is_still_ours()) {
    errno = saved_errno;
    return;
  }
  char line[512];
  size_t n = 0;
  auto put = [&](const char* s) {
    if (!s) return;
    size_t len = strlen(s);
    if (len > sizeof(line) - 1 - n) len = sizeof(line) - 1 - n;
    memcpy(line + n, s, len);
    n += len;
  };
  put("leakprobe: ");
  put(a);
  put(b);
  put(c);
  put(d);
  put(e);
  line[n++] = '\n';
  // A short write to stderr is not worth retrying from inside the host.
  ssize_t ignored = write(STDERR_FILENO, line, n);
  (void)ignored;
  errno = saved_errno;
}

void log_once(std::atomic<bool>& flag, const char* a, const char* b, const char* c, const char* d,
              const char* e) {
  if (flag.exchange(true, std::memory_order_relaxed)) return;
  log_line(a, b, c, d, e);
}

const char* fmt_u64(char* buf, uint64_t v) {
  format_decimal(buf, v);
  return buf;
}

}  // namespace leakprobe
