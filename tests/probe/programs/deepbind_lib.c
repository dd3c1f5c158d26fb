// Opened with RTLD_DEEPBIND by deepbind_program: its free binds to libc's, not the probe's.
#include <stdlib.h>

void release_all(void** blocks, int n) {
  for (int i = 0; i < n; ++i) free(blocks[i]);
}
