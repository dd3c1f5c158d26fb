#include "fd_reserve.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace leakprobe {
namespace {

constexpr int kReserve = 2;
// Below the control socket's 900 and libunwind's pipe near 1000; see unwind.cpp.
constexpr int kReserveFd = 880;

struct Slot {
  int fd = -1;
  dev_t dev = 0;
  ino_t ino = 0;
};
Slot g_slots[kReserve];

bool still_ours(const Slot& s) {
  struct stat st;
  return s.fd >= 0 && fstat(s.fd, &st) == 0 && st.st_dev == s.dev && st.st_ino == s.ino;
}

}  // namespace

void fd_reserve_fill() {
  for (Slot& s : g_slots) {
    if (still_ours(s)) continue;
    s.fd = -1;
    int fd = memfd_create("leakprobe-reserve", MFD_CLOEXEC);
    if (fd < 0) continue;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, kReserveFd);
    if (high >= 0) {
      close(fd);
      fd = high;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
      close(fd);
      continue;
    }
    s.fd = fd;
    s.dev = st.st_dev;
    s.ino = st.st_ino;
  }
}

void fd_reserve_release() {
  for (Slot& s : g_slots) {
    if (still_ours(s)) close(s.fd);
    s.fd = -1;
  }
}

}  // namespace leakprobe
