// dlopen a library, leak two blocks from it, snapshot while it is loaded, dlclose, exit.
#include <dlfcn.h>

#include <string>

#include "prog_util.h"

int main(int argc, char** argv) {
  CHECK(argc == 2);
  void* h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 2;
  }
  auto fn = reinterpret_cast<void* (*)()>(dlsym(h, "lib_alloc_50021"));
  CHECK(fn);
  CHECK(fn() && fn());
  std::string reply = request_snapshot(getpid());
  CHECK(reply.rfind("ok /", 0) == 0);
  printf("loaded-snapshot %s\n", reply.c_str() + 3);
  CHECK(dlclose(h) == 0);
  return 0;
}
