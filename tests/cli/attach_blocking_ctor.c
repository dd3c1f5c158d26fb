/* A library whose constructor blocks: it reads one byte from the descriptor named by
 * $ATTACH_BLOCK_FD. The thread that dlopen()s it then waits inside the dynamic loader for as
 * long as the test wants: `leakprobe attach` must see that and refuse, since a dlopen of its
 * own would then run in the middle of another one (re-entered on that thread, or on another
 * thread against whatever loader state and locks that one holds), and must attach once the
 * constructor returned. */
#include <stdlib.h>
#include <unistd.h>

__attribute__((constructor)) static void wait_in_the_loader(void) {
  const char* fd = getenv("ATTACH_BLOCK_FD");
  char c;
  if (fd) (void)!read(atoi(fd), &c, 1);
}
