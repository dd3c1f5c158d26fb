#include "snapshot_writer.h"

#include <fcntl.h>
#include <link.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "age_census.h"
#include "arena.h"
#include "leakprobe/snapshot_format.h"
#include "memory_census.h"
#include "resource_table.h"
#include "resource_writer.h"
#include "tracker.h"
#include "unwind.h"

namespace leakprobe {

namespace fmt = format;

namespace {
const AgeHistory kNoHistory;
}

namespace {

// Counters copied once, so the header totals are exactly the sum of the lines even while
// other threads keep allocating.
struct Row {
  const Bucket* bucket;
  int64_t live_objs;
  int64_t live_bytes;
  uint64_t alloc_objs;
  uint64_t alloc_bytes;
};

// One "incomplete: <reason> since <T>" line per gap the tracker noted (format::kKeyIncomplete).
void incomplete_lines(Out& out, const Tracker& t) {
  static constexpr struct {
    Tracker::Gap gap;
    const char* name;
  } kGaps[] = {
      {Tracker::Gap::kStackTableFull, fmt::kIncompleteStackTableFull},
      {Tracker::Gap::kDeepbindFrees, fmt::kIncompleteDeepbindFrees},
      {Tracker::Gap::kForeignMalloc, fmt::kIncompleteForeignMalloc},
      {Tracker::Gap::kOutOfMemory, fmt::kIncompleteOutOfMemory},
  };
  static_assert(sizeof(kGaps) / sizeof(kGaps[0]) == static_cast<size_t>(Tracker::Gap::kCount));
  for (const auto& g : kGaps) {
    const int64_t since = t.incomplete_since(g.gap);
    if (!since) continue;
    meta_key(out, fmt::kKeyIncomplete);
    out.put(g.name);
    out.put(fmt::kRecordingSince);
    out.put_i64(since);
    out.put_char('\n');
  }
}

void pair(Out& out, bool* first, const char* name, uint64_t v) {
  if (!*first) out.put_char(' ');
  *first = false;
  out.put(name);
  out.put_char('=');
  out.put_u64(v);
}

void unwind_meta(Out& out, const UnwindStats& u) {
  bool first = true;
  for (int i = 1; i < static_cast<int>(RuleWhy::kCount); ++i) {
    if (!u.stopped[i]) continue;
    if (first) meta_key(out, fmt::kKeyUnwindStops);
    pair(out, &first, rule_why_name(static_cast<RuleWhy>(i)), u.stopped[i]);
  }
  const struct {
    const char* name;
    uint64_t n;
  } other[] = {{"unknown_stack", u.stopped_unknown_stack}, {"bad_frame", u.stopped_bad_frame}};
  for (const auto& o : other) {
    if (!o.n) continue;
    if (first) meta_key(out, fmt::kKeyUnwindStops);
    pair(out, &first, o.name, o.n);
  }
  if (!first) out.put_char('\n');
  if (u.walks) {
    meta_key(out, fmt::kKeyUnwindCache);
    first = true;
    pair(out, &first, "walks", u.walks);
    // Misses are counted at once, lookups per thread in batches: never below zero.
    pair(out, &first, "rule_hits",
         u.rule_lookups > u.rule_misses ? u.rule_lookups - u.rule_misses : 0);
    pair(out, &first, "rule_misses", u.rule_misses);
    pair(out, &first, "frames_reused", u.frames_reused);
    out.put_char('\n');
  }
  if (!u.verifying) return;
  meta_key(out, fmt::kKeyUnwindVerify);
  first = true;
  pair(out, &first, "stacks", u.verified);
  pair(out, &first, "same", u.same);
  pair(out, &first, "shorter", u.shorter);
  pair(out, &first, "longer", u.longer);
  pair(out, &first, "different", u.different);
  out.put_char('\n');
}

// Unix seconds with a 6-digit fraction, as `time` is written.
void put_time(Out& out, int64_t sec, int64_t usec) {
  out.put_i64(sec);
  out.put_char('.');
  char frac[7];
  for (int i = 5; i >= 0; --i) {
    frac[i] = static_cast<char>('0' + usec % 10);
    usec /= 10;
  }
  frac[6] = '\0';
  out.put(frac);
}

void put_time_us(Out& out, int64_t us) { put_time(out, us / 1000000, us % 1000000); }

// `recording` and `recording-changed`: whether the figures cover the whole interval a reader
// compares (docs/snapshot-format.md).
void recording_meta(Out& out, const Tracker& t) {
  meta_key(out, fmt::kKeyRecording);
  out.put(t.recording()       ? fmt::kRecordingOn
          : t.ever_recorded() ? fmt::kRecordingOff
                              : fmt::kRecordingDormant);
  out.put(fmt::kRecordingSince);
  put_time_us(out, t.recording_since_us());
  out.put_char('\n');
  if (const int64_t first = t.recording_first_switch_us()) {
    meta_key(out, fmt::kKeyRecordingChanged);
    put_time_us(out, first);
    out.put_char('\n');
  }
}

// `attached`: an attached probe's start and the heap it never saw (format::kKeyAttached).
void attached_meta(Out& out, const Tracker& t) {
  const int64_t since = t.attached_since_us();
  if (!since) return;
  meta_key(out, fmt::kKeyAttached);
  out.put(fmt::kAttachedSince);
  out.put_char('=');
  put_time_us(out, since);
  bool first = false;
  uint64_t before = 0;
  int64_t before_since = 0;
  // The memory section's before-recording figure, so the two lines never disagree.
  if (memory_before_recording(&before, &before_since))
    pair(out, &first, fmt::kAttachedHeapLive, before);
  if (t.counts_unrecorded()) {
    const Tracker::Unrecorded u = t.unrecorded_frees();
    pair(out, &first, fmt::kAttachedUnrecordedFrees, u.frees);
    pair(out, &first, fmt::kAttachedUnrecordedBytes, u.bytes);
  }
  out.put_char('\n');
}

void counts(Out& out, int64_t lo, int64_t lb, uint64_t ao, uint64_t ab) {
  out.put_i64(lo);
  out.put(": ");
  out.put_i64(lb);
  out.put(" [");
  out.put_u64(ao);
  out.put(": ");
  out.put_u64(ab);
  out.put("] @ ");
}

struct BuildIdCtx {
  Out* out;
  const char* exe;
};

// PT_NOTE segments are mapped with the object, so the build-id is read from memory; no
// file is opened (the file may be gone or replaced by an upgrade since it was loaded).
int emit_build_id(struct dl_phdr_info* info, size_t, void* data) {
  auto* ctx = static_cast<BuildIdCtx*>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    const char* p = reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr);
    const char* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      const auto* nh = reinterpret_cast<const ElfW(Nhdr)*>(p);
      const char* name = p + sizeof(ElfW(Nhdr));
      const char* desc = name + ((nh->n_namesz + 3) & ~3u);
      const char* next = desc + ((nh->n_descsz + 3) & ~3u);
      if (next > end) break;
      if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
        const char* path = info->dlpi_name && info->dlpi_name[0] ? info->dlpi_name : ctx->exe;
        meta_key(*ctx->out, fmt::kKeyBuildId);
        for (unsigned k = 0; k < nh->n_descsz; ++k) {
          auto byte = static_cast<unsigned char>(desc[k]);
          ctx->out->put_char("0123456789abcdef"[byte >> 4]);
          ctx->out->put_char("0123456789abcdef"[byte & 15]);
        }
        ctx->out->put_char(' ');
        ctx->out->put(path);
        ctx->out->put_char('\n');
        return 0;
      }
      p = next;
    }
  }
  return 0;
}

bool copy_file(Out& out, const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  char last = '\n';
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.put(buf, static_cast<size_t>(n));
    last = buf[n - 1];
  }
  close(fd);
  if (last != '\n') out.put_char('\n');
  return true;
}

// The age header lines (format::kKeyAge, kKeyAgeCutoff).
void age_meta(Out& out, const AgeCensus& census, const AgeHistory* history) {
  meta_key(out, fmt::kKeyAge);
  out.put("buckets=");
  for (int i = 0; i < fmt::kAgeBuckets - 1; ++i) {
    if (i) out.put_char(',');
    out.put_u64(fmt::kAgeBucketLimitS[i]);
  }
  out.put(" resolution=");
  out.put_u64(census.resolution_s());
  out.put(" census-us=");
  out.put_u64(census.cpu_us());
  out.put(" max-hold-us=");
  out.put_u64(census.max_hold_us());
  out.put_char('\n');
  for (int i = 0; history && i < history->size(); ++i) {
    const AgeCutoff& c = history->at(i);
    meta_key(out, fmt::kKeyAgeCutoff);
    out.put_u64(c.sequence);
    out.put_char(' ');
    put_time(out, c.time_sec, c.time_usec);
    out.put_char('\n');
  }
}

void objs_bytes(Out& out, uint64_t objs, uint64_t bytes) {
  out.put_u64(objs);
  out.put_char(':');
  out.put_u64(bytes);
}

// "# leakprobe.age-stack: ..." after a stack line (format::kKeyAgeStack).
void age_line(Out& out, const StackAge& a, int cutoffs) {
  meta_key(out, fmt::kKeyAgeStack);
  for (int i = 0; i < fmt::kAgeBuckets; ++i) {
    if (i) out.put_char(' ');
    objs_bytes(out, a.objs[i], a.bytes[i]);
  }
  out.put_char(' ');
  out.put(fmt::kAgeMean);
  out.put_u64(a.mean_s());
  for (int c = 0; c < cutoffs; ++c) {
    if (c == 0) {
      out.put_char(' ');
      out.put(fmt::kAgeBefore);
    } else {
      out.put_char(',');
    }
    objs_bytes(out, a.before_objs[c], a.before_bytes[c]);
  }
  out.put_char('\n');
}

}  // namespace

bool write_snapshot(Out& out, const Tracker& t, const SnapshotInfo& info) {
  const Bucket* head = t.stacks().first();  // the list from here on never changes
  size_t n = 0;
  for (const Bucket* b = head; b; b = b->next) ++n;
  size_t rows_bytes = (n ? n : 1) * sizeof(Row);
  auto* rows = static_cast<Row*>(map_pages(rows_bytes));
  if (!rows) return false;

  size_t used = 0;
  int64_t tot_lo = 0, tot_lb = 0;
  uint64_t tot_ao = 0, tot_ab = 0, truncated = 0;
  for (const Bucket* b = head; b && used < n; b = b->next) {
    Bucket::Live live = b->live();  // freed before allocated: never negative
    Row r{b, live.objs, live.bytes, b->alloc_objs.load(std::memory_order_relaxed),
          b->alloc_bytes.load(std::memory_order_relaxed)};
    if (r.alloc_objs == 0) continue;  // created by a thread that has not counted yet
    // Read a little later, the cumulative counters may have moved on; a line must still
    // satisfy live <= allocated.
    if (static_cast<uint64_t>(r.live_objs) > r.alloc_objs) r.live_objs = r.alloc_objs;
    if (static_cast<uint64_t>(r.live_bytes) > r.alloc_bytes) r.live_bytes = r.alloc_bytes;
    rows[used++] = r;
    tot_lo += r.live_objs;
    tot_lb += r.live_bytes;
    tot_ao += r.alloc_objs;
    tot_ab += r.alloc_bytes;
    truncated += b->truncated;
  }

  // After the counters, so the ages describe the same moment as closely as a pass over the
  // pointer map allows (the counters are not frozen meanwhile: see format::kKeyAgeStack).
  AgeCensus census;
  const bool aged = census.take(t, *(info.age_history ? info.age_history : &kNoHistory));
  if (info.age_census_ms) *info.age_census_ms = aged ? census.now_ms() : -1;
  const int cutoffs = aged && info.age_history ? info.age_history->size() : 0;

  const Options& o = t.options();
  out.put(fmt::kHeaderPrefix);
  counts(out, tot_lo, tot_lb, tot_ao, tot_ab);
  if (o.sample_bytes) {
    out.put(fmt::kHeaderTagSampled);
    out.put_char('/');
    out.put_u64(o.sample_bytes);
  } else {
    out.put(fmt::kHeaderTagExact);
  }
  out.put_char('\n');

  char exe[4096];
  ssize_t elen = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  exe[elen > 0 ? elen : 0] = '\0';

  meta(out, fmt::kKeyFormat, fmt::kVersion);
  meta(out, fmt::kKeyPid, static_cast<uint64_t>(info.pid));
  if (info.ppid) meta(out, fmt::kKeyParentPid, static_cast<uint64_t>(info.ppid));
  if (info.pid_namespace) meta(out, fmt::kKeyPidNamespace, info.pid_namespace);
  meta(out, fmt::kKeyExe, exe);
  meta_key(out, fmt::kKeyTime);
  put_time(out, info.time_sec, info.time_usec);
  out.put_char('\n');
  meta(out, fmt::kKeySequence, info.sequence);
  meta(out, fmt::kKeyTrigger, info.trigger);
  meta(out, fmt::kKeySampling, o.sample_bytes);
  meta(out, fmt::kKeyDepth, static_cast<uint64_t>(o.depth));
  meta(out, fmt::kKeyStacks, used);
  meta(out, fmt::kKeyTruncated, truncated);
  meta(out, fmt::kKeyProbeBytes, t.probe_bytes());
  unwind_meta(out, unwind_stats());
  if (info.foreign_malloc) meta(out, fmt::kKeyForeignMalloc, info.foreign_malloc);
  recording_meta(out, t);
  attached_meta(out, t);
  incomplete_lines(out, t);
  if (aged) age_meta(out, census, info.age_history);
  if (info.memory) write_memory_section(out, t, info.foreign_malloc);
  BuildIdCtx ctx{&out, exe};
  dl_iterate_phdr(emit_build_id, &ctx);

  for (size_t i = 0; i < used; ++i) {
    const Row& r = rows[i];
    counts(out, r.live_objs, r.live_bytes, r.alloc_objs, r.alloc_bytes);
    for (uint32_t f = 0; f < r.bucket->depth; ++f) {
      if (f) out.put_char(' ');
      out.put_hex(r.bucket->frames[f]);
    }
    out.put_char('\n');
    if (const StackAge* a = aged ? census.of(r.bucket->index) : nullptr) age_line(out, *a, cutoffs);
  }
  census.release();
  unmap_pages(rows, rows_bytes);
  write_resource_sections(out, resources());

  out.put_char('\n');
  out.put(fmt::kMapsSentinel);
  out.put_char('\n');
  copy_file(out, "/proc/self/maps");
  out.put(fmt::kTrailer);
  out.put_char('\n');
  return out.finish();
}

}  // namespace leakprobe
