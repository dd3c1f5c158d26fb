#include "retention.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>

#include "log.h"

namespace leakprobe {

bool Retention::init(unsigned keep) {
  keep_ = keep < 2 ? 2 : keep;
  capacity_ = keep_ - 1;  // the first is kept apart
  // Private memory, never the host's malloc; NORESERVE: only the entries used become pages.
  void* m = mmap(nullptr, sizeof(Entry) * capacity_, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) {
    log_line("cannot map the LEAKPROBE_KEEP bookkeeping; interval snapshots will not be deleted");
    keep_ = 0;
    return false;
  }
  ring_ = static_cast<Entry*>(m);
  return true;
}

bool remove_if_same_file(const char* path, dev_t dev, ino_t ino) {
  struct stat st;
  // Gone, replaced or renamed over by someone else: not ours to delete any more.
  if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_dev != dev || st.st_ino != ino)
    return false;
  return unlink(path) == 0;
}

void Retention::remove_if_ours(const Entry& e, const char* dir, int pid) {
  char path[PATH_MAX];
  if (!snapshot_path(path, dir, "", pid, e.sequence, "")) return;
  remove_if_same_file(path, e.dev, e.ino);
}

void Retention::on_interval_published(const PublishResult& r, const char* dir, int pid) {
  if (!ring_ || !r.ok) return;
  const Entry e{r.sequence, r.dev, r.ino};
  if (!first_) {
    first_ = true;
    first_entry_ = e;
    return;
  }
  if (count_ == capacity_) {
    remove_if_ours(ring_[head_], dir, pid);
    ++deleted_;
    head_ = (head_ + 1) % capacity_;
    --count_;
  }
  ring_[(head_ + count_) % capacity_] = e;
  ++count_;
}

void Retention::reset_in_child() {
  head_ = count_ = 0;
  first_ = false;
  deleted_ = 0;
}

}  // namespace leakprobe
