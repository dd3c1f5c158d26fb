// A host that uses every descriptor it may open (a connection leak taken to EMFILE).
// Usage: fdfull_program exit   fills the table, prints "full", exits without closing
//        fdfull_program first  prints the number its first open() gets
//        fdfull_program hold   fills the table, prints "full", waits for end of stdin,
//                              closes what it opened, prints "freed", lives 2 s more
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

int main(int argc, char** argv) {
  const char* mode = argc == 2 ? argv[1] : "";
  if (strcmp(mode, "first") == 0) {
    printf("%d\n", open("/dev/null", O_RDONLY));
    return 0;
  }
  if (strcmp(mode, "exit") != 0 && strcmp(mode, "hold") != 0) {
    fprintf(stderr, "usage: %s exit|hold|first\n", argv[0]);
    return 2;
  }
  std::vector<int> fds;
  fds.reserve(1 << 16);
  for (int i = 0; i < (1 << 16); ++i) {
    int fd = open("/dev/null", O_RDONLY);
    if (fd < 0) break;
    fds.push_back(fd);
  }
  if (errno != EMFILE) return 3;
  printf("full\n");
  fflush(stdout);
  if (strcmp(mode, "exit") == 0) return 0;
  char buf[64];
  while (read(0, buf, sizeof(buf)) > 0) {
  }
  for (int fd : fds) close(fd);
  printf("freed\n");
  fflush(stdout);
  sleep(2);
  return 0;
}
