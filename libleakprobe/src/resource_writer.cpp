#include "resource_writer.h"

#include "arena.h"
#include "fd_scan.h"
#include "leakprobe/snapshot_format.h"
#include "resource_table.h"
#include "text_out.h"

namespace leakprobe {
namespace {

namespace fmt = format;

// Descriptors closed where no interposer sees it are dropped, and the ones opened there are
// counted, before anything is written: both need the kernel's list, which only this (slow,
// writer-thread) path may ask for.
void reconcile(Out& out, ResourceTable& t) {
  const int lim = t.limit();
  constexpr int kBits = ResourceTable::kMaxFds;
  const size_t copy_bytes = (lim ? lim : 1) * sizeof(uint64_t);
  const size_t bits_bytes = kBits / 8;
  auto* before = static_cast<uint64_t*>(map_pages(copy_bytes));
  auto* open_fd = static_cast<uint64_t*>(map_pages(bits_bytes));
  if (before && open_fd) {
    t.copy_entries(before, lim);  // first: see ResourceTable::reconcile
    if (scan_open_fds(open_fd, kBits) >= 0) {
      uint64_t untracked = 0;
      uint64_t released = t.reconcile(before, open_fd, kBits, &untracked);
      meta(out, fmt::kKeyUntrackedFds, untracked);
      meta(out, fmt::kKeyUnseenCloses, released);
    }
  }
  unmap_pages(before, copy_bytes);
  unmap_pages(open_fd, bits_bytes);
}

}  // namespace

void write_resource_sections(Out& out, ResourceTable* t) {
  meta(out, fmt::kKeyResources, t ? 1 : 0);
  if (!t) return;
  reconcile(out, *t);
  const Bucket* head = t->first_bucket();
  for (unsigned k = 0; k < static_cast<unsigned>(fmt::ResourceKind::kCount); ++k) {
    const auto kind = static_cast<fmt::ResourceKind>(k);
    bool open = false;
    for (const Bucket* b = head; b; b = b->next) {
      if (ResourceTable::bucket_kind(b) != kind) continue;
      Bucket::Live live = b->live();
      const uint64_t created = b->alloc_objs.load(std::memory_order_relaxed);
      if (created == 0) continue;
      const uint64_t live_objs =
          static_cast<uint64_t>(live.objs) > created ? created : static_cast<uint64_t>(live.objs);
      if (!open) {
        meta(out, fmt::kKeySection, fmt::kResourceSectionNames[k]);
        open = true;
      }
      out.put(fmt::kSectionLinePrefix);
      out.put_u64(live_objs);
      out.put(": 0 [");
      out.put_u64(created);
      out.put(": 0] @");
      const uint32_t depth = ResourceTable::bucket_depth(b);
      for (uint32_t f = 0; f < depth; ++f) {
        out.put_char(' ');
        out.put_hex(b->frames[f]);
      }
      out.put_char('\n');
    }
    if (open) meta(out, fmt::kKeyEndSection, fmt::kResourceSectionNames[k]);
  }
}

}  // namespace leakprobe
