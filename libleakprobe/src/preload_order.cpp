#include "preload_order.h"

#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <cstring>

#include "host_allocator.h"
#include "log.h"

namespace leakprobe {

bool check_preload_order() {
  const char* foreign = foreign_allocator();
  if (!foreign) return false;
  Dl_info self{};
  const char* probe = "libleakprobe.so";
  if (dladdr(reinterpret_cast<void*>(&check_preload_order), &self) && self.dli_fname)
    probe = self.dli_fname;
  // A program linked with its own allocator comes before every preload: no order fixes it.
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  exe[n > 0 ? n : 0] = '\0';
  if (n > 0 && strcmp(exe, foreign) == 0) {
    log_line("this program has its own malloc (linked into ", foreign,
             "): no allocation reaches the probe, which records no heap (its snapshots carry "
             "only descriptors, timers and threads)");
    return true;
  }
  log_line("the program calls the malloc of ", foreign,
           ", which comes before libleakprobe.so in LD_PRELOAD: the probe stands aside and "
           "records no heap (every allocation call it receives goes to that allocator). Fix: "
           "put the probe first, LD_PRELOAD=",
           probe, ":<the others>");
  return true;
}

const char* foreign_malloc() { return foreign_allocator(); }

}  // namespace leakprobe
