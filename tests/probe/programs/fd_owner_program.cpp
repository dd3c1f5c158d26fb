// A host that takes descriptor numbers over -- the probe's own and the ones the verification
// mode's libunwind keeps its validation pipe on (998/999) -- and checks, after heavy allocation and
// snapshots, that nothing read from, wrote to or closed its files.
//
// Usage: fd_owner_program MODE [lowlimit]
//   MODE how the host moves its files onto the numbers:
//     dup2, dup3, dupfd (fcntl F_DUPFD onto a free number), close_range (close_range(3, ~0)
//     first, then dup2), closefrom (closefrom(3) first, then dup2)
//   lowlimit: first lower RLIMIT_NOFILE to 128 and re-exec, so the probe starts under it.
// Prints "host-ok N" (N numbers checked) and exits 0, or says what was touched and exits 1.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "prog_util.h"

namespace {

const char kContent[] = "0123456789abcdefghijklmnopqrstuvwxyz";

// The descriptors open now, other than 0-2: at start-up they are the probe's.
std::set<int> open_numbers() {
  std::set<int> out;
  DIR* d = opendir("/proc/self/fd");
  CHECK(d);
  int self = dirfd(d);
  while (dirent* e = readdir(d)) {
    int fd = atoi(e->d_name);
    if (e->d_name[0] != '.' && fd > 2 && fd != self) out.insert(fd);
  }
  closedir(d);
  return out;
}

bool probe_loaded() {
  FILE* f = fopen("/proc/self/maps", "re");
  CHECK(f);
  char line[4096];
  bool found = false;
  while (!found && fgets(line, sizeof line, f)) found = strstr(line, "libleakprobe") != nullptr;
  fclose(f);
  return found;
}

struct Owned {
  int fd;
  ino_t ino;
};

int make_file(int number) {
  std::string path = "host." + std::to_string(number);
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  CHECK(fd >= 0);
  CHECK(write(fd, kContent, sizeof kContent - 1) == static_cast<ssize_t>(sizeof kContent - 1));
  CHECK(lseek(fd, 0, SEEK_SET) == 0);
  return fd;
}

void place(const std::string& mode, int fd, int number) {
  if (fd == number) return;  // the lowest free number was this one already
  if (mode == "dup3") {
    CHECK(dup3(fd, number, O_CLOEXEC) == number);
  } else if (mode == "dupfd") {
    close(number);
    CHECK(fcntl(fd, F_DUPFD_CLOEXEC, number) == number);
  } else {
    CHECK(dup2(fd, number) == number);
  }
  close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  CHECK(argc >= 2);
  const std::string mode = argv[1];
  if (argc > 2 && !strcmp(argv[2], "lowlimit")) {
    rlimit lim{128, 128};
    CHECK(setrlimit(RLIMIT_NOFILE, &lim) == 0);
    execl("/proc/self/exe", argv[0], argv[1], static_cast<char*>(nullptr));
    return 3;
  }
  // Its files go beside the snapshots: concurrent runs must not share them.
  if (const char* dir = getenv("LEAKPROBE_OUTPUT_DIR")) CHECK(chdir(dir) == 0);
  std::set<int> numbers = open_numbers();
  rlimit lim;
  CHECK(getrlimit(RLIMIT_NOFILE, &lim) == 0);
  for (int n : {998, 999, 900, 901, 3, 4})
    if (static_cast<rlim_t>(n) < lim.rlim_cur) numbers.insert(n);
  numbers.insert(static_cast<int>(lim.rlim_cur) - 1);
  numbers.insert(static_cast<int>(lim.rlim_cur) - 2);
  // Descriptors inherited above a lowered limit stay open but no number up there can be taken.
  while (!numbers.empty() && static_cast<rlim_t>(*numbers.rbegin()) >= lim.rlim_cur)
    numbers.erase(std::prev(numbers.end()));
  // Every number the probe holds must be among them, or the check proves less than it says.
  CHECK(numbers.size() >= 4);

  if (mode == "close_range") CHECK(syscall(SYS_close_range, 3, ~0U, 0) == 0);
  if (mode == "closefrom") closefrom(3);
  std::vector<Owned> owned;
  for (int n : numbers) {
    place(mode, make_file(n), n);
    struct stat st;
    CHECK(fstat(n, &st) == 0);
    owned.push_back({n, st.st_ino});
  }

  // Allocation from varied stacks, and (under the probe) snapshots asked for by signal.
  const bool probed = probe_loaded();
  void* keep_slots[128] = {};
  for (unsigned long i = 0; i < 1000000; ++i) {
    free(keep_slots[i % 128]);
    keep_slots[i % 128] = malloc(i % 20000 + 1);
    if (probed && i % 250000 == 0) raise(SIGRTMIN + 7);
  }
  for (void* p : keep_slots) free(p);
  usleep(300 * 1000);  // the writer polls for the signal's request

  int bad = 0;
  for (const Owned& o : owned) {
    struct stat st;
    char buf[sizeof kContent] = {};
    if (fstat(o.fd, &st) != 0 || st.st_ino != o.ino) {
      printf("fd %d: closed or replaced\n", o.fd);
      ++bad;
      continue;
    }
    off_t at = lseek(o.fd, 0, SEEK_CUR);
    ssize_t got = pread(o.fd, buf, sizeof buf, 0);
    if (at != 0 || st.st_size != static_cast<off_t>(sizeof kContent - 1) ||
        got != static_cast<ssize_t>(sizeof kContent - 1) ||
        memcmp(buf, kContent, sizeof kContent - 1)) {
      printf("fd %d: offset %ld size %ld content %s\n", o.fd, static_cast<long>(at),
             static_cast<long>(st.st_size), got > 0 ? "changed" : "unreadable");
      ++bad;
    }
  }
  printf(bad ? "host-harmed %d\n" : "host-ok %zu\n", bad ? bad : owned.size());
  return bad ? 1 : 0;
}
