// LEAKPROBE_KEEP: interval snapshots must not fill the disk. Of the interval snapshots this
// process image wrote, the first (the baseline every later one is compared with) and the
// newest are kept, at most `keep` in all; older ones are deleted as new ones are published.
// Signal, request and exit snapshots are never deleted, nor is any file the probe did not
// write itself: a file is removed only if its name is one we published and it is still the
// very file (device and inode) we published under that name.
#pragma once

#include <sys/types.h>

#include <cstddef>

#include "snapshot_file.h"

namespace leakprobe {

// Deletes `path` only if it is still the regular file (device `dev`, inode `ino`) the probe
// published there; gone, renamed over or replaced by someone else's file: left alone. True if
// deleted. Interval retention and the peak snapshot's replacement both delete through it.
bool remove_if_same_file(const char* path, dev_t dev, ino_t ino);

class Retention {
 public:
  // `keep` >= 2. The bookkeeping is mapped here (keep entries, touched only as used); false
  // (after one stderr line) if it cannot be, and then nothing is ever deleted.
  bool init(unsigned keep);

  // An interval snapshot was published as `r` (in `dir`, under `pid`): remember it and
  // delete the oldest one beyond the limit (never the first).
  void on_interval_published(const PublishResult& r, const char* dir, int pid);

  // fork: the parent's files are the parent's; the child starts counting afresh.
  void reset_in_child();

  unsigned keep() const { return keep_; }
  unsigned kept() const { return first_ ? 1 + count_ : count_; }  // interval snapshots on disk
  size_t deleted() const { return deleted_; }

 private:
  struct Entry {
    unsigned sequence;
    dev_t dev;
    ino_t ino;
  };
  // Deletes <dir>/leakprobe.<pid>.<seq>.heap if it is still the file `e` describes.
  static void remove_if_ours(const Entry& e, const char* dir, int pid);

  unsigned keep_ = 0;
  Entry* ring_ = nullptr;  // the kept interval snapshots after the first, oldest at head_
  unsigned head_ = 0, count_ = 0, capacity_ = 0;
  bool first_ = false;
  Entry first_entry_{};
  size_t deleted_ = 0;
};

}  // namespace leakprobe
