#include "fd_reserve.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd_numbers.h"

namespace leakprobe {
namespace {

constexpr int kReserve = 2;

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

// Where the reserve goes: fd_numbers::kReserve, or near the top of a smaller descriptor limit; -1
// (no reserve) when the limit is so small that two descriptors are a real share of it.
int reserve_base() {
  rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return -1;
  if (lim.rlim_cur >= static_cast<rlim_t>(fd_numbers::kReserve) + 32) return fd_numbers::kReserve;
  return lim.rlim_cur > 128 ? static_cast<int>(lim.rlim_cur) - fd_numbers::kReserveBelowLimit : -1;
}

}  // namespace

void fd_reserve_fill() {
  const int base = reserve_base();
  if (base < 0) return;
  for (Slot& s : g_slots) {
    if (still_ours(s)) continue;
    s.fd = -1;
    int low = memfd_create("leakprobe-reserve", MFD_CLOEXEC);
    if (low < 0) continue;
    // Never kept at a low number: the host's own numbering stays as it would be.
    int fd = fcntl(low, F_DUPFD_CLOEXEC, base);
    close(low);
    if (fd < 0) continue;
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
