// Allocates 1000 blocks of 1003 bytes (through the probe), hands them to a library opened
// with the dlopen mode given as argv[1] ("deepbind" or "plain") which frees them, and exits.
// Opened with RTLD_DEEPBIND, the library's free is libc's: the probe never sees those frees.
// Usage: deepbind_program LIBRARY deepbind|plain [SECONDS to wait before the frees]
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  int mode = RTLD_NOW | (strcmp(argv[2], "deepbind") == 0 ? RTLD_DEEPBIND : 0);
  void* lib = dlopen(argv[1], mode);
  if (!lib) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 3;
  }
  void (*release_all)(void**, int) = (void (*)(void**, int))dlsym(lib, "release_all");
  if (!release_all) return 4;
  static void* blocks[1000];
  for (int i = 0; i < 1000; ++i) blocks[i] = malloc(1003);
  if (argc > 3) sleep((unsigned)atoi(argv[3]));
  release_all(blocks, 1000);
  printf("1000 blocks freed by the library (%s)\n", argv[2]);
  return 0;
}
