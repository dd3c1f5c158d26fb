#include "preload_order.h"

#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <link.h>
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

bool loaded_after_start() {
  if (!foreign_allocator()) return false;  // the program calls our malloc: preloaded
  Dl_info info{};
  link_map* self = nullptr;
  link_map* libc = nullptr;
  if (!dladdr1(reinterpret_cast<void*>(&loaded_after_start), &info, reinterpret_cast<void**>(&self),
               RTLD_DL_LINKMAP) ||
      !dladdr1(reinterpret_cast<void*>(&gnu_get_libc_version), &info,
               reinterpret_cast<void**>(&libc), RTLD_DL_LINKMAP) ||
      !self || !libc)
    return false;
  for (link_map* lm = _r_debug.r_map; lm; lm = lm->l_next) {
    if (lm == self) return false;  // before libc: loaded with the program
    if (lm == libc) return true;
  }
  return false;
}

}  // namespace leakprobe
