#include "snapshot_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "leakprobe/snapshot_format.h"
#include "log.h"

namespace leakprobe {

bool snapshot_path(char* out, const char* dir, const char* prefix, int pid, unsigned seq,
                   const char* suffix) {
  // snprintf with only integer and string conversions does not allocate in glibc.
  int n = snprintf(out, PATH_MAX, "%s/%s%s%d.%04u%s%s", dir, prefix, format::kFilePrefix, pid, seq,
                   format::kFileSuffix, suffix);
  return n > 0 && n < PATH_MAX;
}

namespace {

// A token for the temporary name where the pid namespace is unknown (no /proc): the clock and
// an address, different between processes that share a pid in two namespaces.
unsigned long long unique_token() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  unsigned long long x = static_cast<unsigned long long>(ts.tv_nsec) ^
                         (static_cast<unsigned long long>(ts.tv_sec) << 30) ^
                         reinterpret_cast<uintptr_t>(&ts);
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  return x ^ (x >> 33);
}

}  // namespace

PublishResult publish_snapshot(const char* dir, int pid, unsigned long long pid_namespace,
                               unsigned first_sequence, ContentFn content, void* ctx) {
  PublishResult r;
  unsigned seq = first_sequence;
  for (unsigned tries = 0; tries < 100000; ++tries, ++seq) {
    if (!snapshot_path(r.path, dir, "", pid, seq, "")) break;
    if (access(r.path, F_OK) != 0) break;
  }
  // ".leakprobe.<pid>.<seq>.heap.<pid namespace>.tmp": no other live process can have this
  // name, so one found is a leftover of a process with our pid in our namespace that died
  // mid-write (or of this process before an exec), never a twin's file in progress.
  char suffix[48];
  if (pid_namespace)
    snprintf(suffix, sizeof(suffix), ".%llu.tmp", pid_namespace);
  else
    snprintf(suffix, sizeof(suffix), ".r%llx.tmp", unique_token());
  char tmp[PATH_MAX];
  if (!snapshot_path(tmp, dir, ".", pid, seq, suffix)) {
    r.error = "output path too long";
    r.err = ENAMETOOLONG;
    return r;
  }
  memcpy(r.path, tmp, sizeof(tmp));
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0 && errno == EEXIST && pid_namespace) {
    // A leftover from a process that died mid-write with our pid (pid reuse).
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  }
  if (fd < 0) {
    r.err = errno;
    r.error = "cannot create the snapshot file";
    return r;
  }
  // The umask may have narrowed 0600 further; the contract is exactly 0600.
  fchmod(fd, 0600);
  bool wrote = content(fd, seq, ctx);
  struct stat st;
  if (wrote && fstat(fd, &st) == 0) {
    r.dev = st.st_dev;
    r.ino = st.st_ino;
  }
  int write_errno = errno;
  if (close(fd) != 0 && wrote) {
    wrote = false;
    write_errno = errno;
  }
  if (!wrote) {
    unlink(tmp);
    r.err = write_errno;
    r.error = "cannot write the snapshot file";
    return r;
  }
  // The file's own "sequence" line says `seq`; should another image of this pid have taken
  // that name meanwhile, the next free name is used rather than losing the snapshot.
  for (unsigned last = seq + 1000; seq < last; ++seq) {
    if (!snapshot_path(r.path, dir, "", pid, seq, "")) break;
    if (link(tmp, r.path) == 0) {
      unlink(tmp);
      r.ok = true;
      r.sequence = seq;
      return r;
    }
    if (errno == EEXIST) continue;
    if (errno == EPERM || errno == EOPNOTSUPP || errno == EMLINK) {
      // File systems without hard links: rename without replacing.
      if (renameat2(AT_FDCWD, tmp, AT_FDCWD, r.path, RENAME_NOREPLACE) == 0) {
        r.ok = true;
        r.sequence = seq;
        return r;
      }
      if (errno == EEXIST) continue;
    }
    break;
  }
  r.err = errno;
  r.error = "cannot publish the snapshot file";
  unlink(tmp);
  return r;
}

}  // namespace leakprobe
