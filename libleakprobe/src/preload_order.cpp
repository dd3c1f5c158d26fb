#include "preload_order.h"

#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>

#include "log.h"

namespace leakprobe {
namespace {

char g_foreign[PATH_MAX];  // empty: the program calls the probe's malloc

// The file that defines the `name` the program binds to, if it is not the file `self` is in.
bool bound_elsewhere(const char* name, const Dl_info& self, char* owner, size_t size) {
  void* f = dlsym(RTLD_DEFAULT, name);
  Dl_info info{};
  if (!f || !dladdr(f, &info) || info.dli_fbase == self.dli_fbase) return false;
  const char* path = info.dli_fname && *info.dli_fname ? info.dli_fname : nullptr;
  char exe[PATH_MAX];
  if (!path) {  // the main program: dladdr names it "" (or its argv[0])
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    path = n > 0 ? exe : "the program itself";
  }
  strncpy(owner, path, size - 1);
  owner[size - 1] = '\0';
  return true;
}

}  // namespace

void check_preload_order() {
  Dl_info self{};
  if (!dladdr(reinterpret_cast<void*>(&check_preload_order), &self)) return;
  if (!bound_elsewhere("malloc", self, g_foreign, sizeof(g_foreign)) &&
      !bound_elsewhere("free", self, g_foreign, sizeof(g_foreign)))
    return;
  const char* probe = self.dli_fname ? self.dli_fname : "libleakprobe.so";
  // A program linked with its own allocator comes before every preload: no order fixes it.
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  exe[n > 0 ? n : 0] = '\0';
  if (n > 0 && strcmp(exe, g_foreign) == 0) {
    log_line("this program has its own malloc (linked into ", g_foreign,
             "): no allocation reaches the probe and its snapshots will be empty");
    return;
  }
  log_line("the program calls the malloc of ", g_foreign,
           ", which comes before libleakprobe.so in LD_PRELOAD: no allocation reaches the "
           "probe and its snapshots will be empty. Fix: put the probe first, LD_PRELOAD=",
           probe, ":<the others>");
}

const char* foreign_malloc() { return g_foreign[0] ? g_foreign : nullptr; }

}  // namespace leakprobe
