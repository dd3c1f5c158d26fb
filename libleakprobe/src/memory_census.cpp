#include "memory_census.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <malloc.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "arena.h"
#include "leakprobe/snapshot_format.h"
#include "real_alloc.h"
#include "stack_table.h"
#include "text_out.h"
#include "tracker.h"

namespace leakprobe {
namespace {

namespace fmt = format;

constexpr uintptr_t kPage = 4096;
// glibc's HEAP_MAX_SIZE on 64-bit (2 * DEFAULT_MMAP_THRESHOLD_MAX): every non-main arena heap
// is a mapping of this size at an address aligned to it, with the unused tail PROT_NONE.
constexpr uintptr_t kHeapMax = uintptr_t{64} << 20;
// Offset of `top` in glibc's struct malloc_state (mutex, flags, have_fastchunks, 10 fastbins),
// unchanged since glibc 2.27. Every value read through it is checked against the heap it must
// lie in, so a different layout gives "unknown", never a wrong figure.
constexpr uintptr_t kTopOffset = 96;

struct Before {
  bool known = false;
  uint64_t bytes = 0;
  int64_t since = 0;
};
Before g_before;

// The file of the malloc the probe forwards to when it is not glibc's (jemalloc or tcmalloc
// after us in LD_PRELOAD, or linked into the program): "" for glibc's.
char g_forward_malloc[512];

FILE* g_info_stream = nullptr;
char g_info_buffer[4096];  // the stream's buffer: stdio must not malloc one on first use

// CPU time of the calling thread: what the census costs, whatever else the machine runs.
uint64_t now_us() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

// Reads our own memory without trusting it to stay mapped: malloc may unmap a heap between
// /proc/self/maps listing it and us looking. process_vm_readv fails (EFAULT) on an unmapped
// address instead of faulting, and needs no descriptor (the unwinder reads stacks the same way).
bool read_own(uintptr_t addr, void* out, size_t n) {
  iovec local{out, n};
  iovec remote{reinterpret_cast<void*>(addr), n};
  return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == static_cast<ssize_t>(n);
}

// ---- malloc_info, parsed as it is printed ------------------------------------------------

uint64_t attr(const char* line, const char* name) {
  const char* p = strstr(line, name);
  if (!p) return 0;
  p += strlen(name);
  uint64_t v = 0;
  while (*p >= '0' && *p <= '9') v = v * 10 + static_cast<uint64_t>(*p++ - '0');
  return v;
}

// One <heap> element of malloc_info's XML, turned into one memory.arena line at </heap>.
struct InfoParser {
  Out* out = nullptr;
  char line[512];
  size_t used = 0;
  bool in_heap = false;
  uint64_t nr = 0, fast = 0, fast_chunks = 0, rest = 0, rest_chunks = 0, system = 0;
  uint64_t subheaps = 0, listed_total = 0;
  char sizes[8192];  // "<from>-<to>:<count>:<total>,..." for this arena
  size_t sizes_used = 0;
  unsigned arenas = 0;

  void add_size(const char* l) {
    const uint64_t from = attr(l, "from=\""), to = attr(l, "to=\"");
    const uint64_t total = attr(l, "total=\""), count = attr(l, "count=\"");
    listed_total += total;
    char item[96];
    int n =
        snprintf(item, sizeof(item), "%s%llu-%llu:%llu:%llu", sizes_used ? "," : "",
                 static_cast<unsigned long long>(from), static_cast<unsigned long long>(to),
                 static_cast<unsigned long long>(count), static_cast<unsigned long long>(total));
    if (n > 0 && sizes_used + static_cast<size_t>(n) < sizeof(sizes)) {
      memcpy(sizes + sizes_used, item, static_cast<size_t>(n));
      sizes_used += static_cast<size_t>(n);
    }
  }

  void end_heap() {
    // malloc_info's "rest" is the top chunk plus every binned chunk; the listed sizes are the
    // bins and the fast bins; so what is left over is the top chunk.
    const uint64_t binned = listed_total > fast ? listed_total - fast : 0;
    const uint64_t top = rest > binned ? rest - binned : 0;
    char buf[320];
    snprintf(buf, sizeof(buf),
             "nr=%llu system=%llu fast=%llu fast-chunks=%llu rest=%llu rest-chunks=%llu "
             "top=%llu subheaps=%llu sizes=",
             static_cast<unsigned long long>(nr), static_cast<unsigned long long>(system),
             static_cast<unsigned long long>(fast), static_cast<unsigned long long>(fast_chunks),
             static_cast<unsigned long long>(rest), static_cast<unsigned long long>(rest_chunks),
             static_cast<unsigned long long>(top), static_cast<unsigned long long>(subheaps));
    out->put(fmt::kMetaPrefix);
    out->put(fmt::kKeyMemoryArena);
    out->put(": ");
    out->put(buf);
    out->put(sizes, sizes_used);
    out->put_char('\n');
    ++arenas;
  }

  void on_line(const char* l) {
    while (*l == ' ') ++l;
    if (strncmp(l, "<heap nr=", 9) == 0) {
      in_heap = true;
      nr = attr(l, "nr=\"");
      fast = fast_chunks = rest = rest_chunks = system = subheaps = listed_total = 0;
      sizes_used = 0;
    } else if (!in_heap) {
      return;  // the process-wide totals after the last heap: mallinfo2 has them
    } else if (strncmp(l, "<size ", 6) == 0 || strncmp(l, "<unsorted ", 10) == 0) {
      add_size(l);
    } else if (strncmp(l, "<total type=\"fast\"", 18) == 0) {
      fast = attr(l, "size=\"");
      fast_chunks = attr(l, "count=\"");
    } else if (strncmp(l, "<total type=\"rest\"", 18) == 0) {
      rest = attr(l, "size=\"");
      rest_chunks = attr(l, "count=\"");
    } else if (strncmp(l, "<system type=\"current\"", 22) == 0) {
      system = attr(l, "size=\"");
    } else if (strncmp(l, "<aspace type=\"subheaps\"", 23) == 0) {
      subheaps = attr(l, "size=\"");
    } else if (strncmp(l, "</heap>", 7) == 0) {
      end_heap();
      in_heap = false;
    }
  }

  void feed(const char* data, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      if (data[i] == '\n') {
        line[used] = '\0';
        on_line(line);
        used = 0;
      } else if (used + 1 < sizeof(line)) {
        line[used++] = data[i];
      }
    }
  }
};

InfoParser* g_parser = nullptr;  // set only while malloc_info runs (writer serialised)

ssize_t info_write(void*, const char* data, size_t n) {
  if (g_parser) g_parser->feed(data, n);
  return static_cast<ssize_t>(n);
}

// ---- /proc/self/maps, statm and mincore --------------------------------------------------

struct HeapInfo {  // glibc's heap_info, the first fields
  uintptr_t ar_ptr;
  uintptr_t prev;
  uintptr_t size;
  uintptr_t mprotect_size;
};

struct ArenaHeap {
  uintptr_t start;
  HeapInfo info;
  uint64_t resident;
};

struct Vma {
  uintptr_t start = 0, end = 0;
  char perms[5] = {};
  bool file = false;   // backed by a file, or a kernel-provided mapping ([vdso], ...)
  bool anon = false;   // anonymous: no path, or an [anon:name]
  bool brk = false;    // [heap]
  bool stack = false;  // [stack]
};

struct Census {
  uint64_t total = 0, heap = 0, arena_heaps = 0, stacks = 0, anon = 0, file = 0;
  uintptr_t heap_start = 0, heap_end = 0;
  Vma prev;  // the mapping before the current one
  ArenaHeap heaps[512];
  int nheaps = 0;
  uint64_t mincore_us = 0;

  void reset() {
    mincore_us = 0;
    total = heap = arena_heaps = stacks = anon = file = 0;
    heap_start = heap_end = 0;
    prev = Vma();
    nheaps = 0;
  }
};

uint64_t parse_hex(const char*& p) {
  uint64_t v = 0;
  for (;; ++p) {
    const char c = *p;
    if (c >= '0' && c <= '9')
      v = v * 16 + static_cast<uint64_t>(c - '0');
    else if (c >= 'a' && c <= 'f')
      v = v * 16 + static_cast<uint64_t>(c - 'a' + 10);
    else
      return v;
  }
}

// "start-end perms offset dev inode   path"
Vma parse_vma(const char* l) {
  Vma v;
  const char* p = l;
  v.start = parse_hex(p);
  if (*p == '-') ++p;
  v.end = parse_hex(p);
  while (*p == ' ') ++p;
  for (int i = 0; i < 4 && *p && *p != ' '; ++i) v.perms[i] = *p++;
  for (int field = 0; field < 3; ++field) {  // offset, dev, inode
    while (*p == ' ') ++p;
    const char* f = p;
    while (*p && *p != ' ') ++p;
    if (field == 2) v.file = !(p - f == 1 && *f == '0');
  }
  while (*p == ' ') ++p;
  if (*p == '\0' || strncmp(p, "[anon:", 6) == 0) {
    v.anon = !v.file;
  } else if (strcmp(p, "[heap]") == 0) {
    v.brk = true;
  } else if (strncmp(p, "[stack", 6) == 0) {
    v.stack = true;
  } else {
    v.file = true;  // a path, [vdso], [vvar], [vsyscall]: not the program's anonymous memory
  }
  return v;
}

// Non-main arena heaps that start in [v.start, v.end): each one begins at a HEAP_MAX-aligned
// address with a heap_info whose fields must be consistent. Their resident pages are counted
// exactly (mincore), since the kernel may have merged the heap with a neighbouring mapping.
bool find_arena_heaps(Census& c, const Vma& v) {
  uint64_t resident = 0;
  bool found = false;
  for (uintptr_t a = (v.start + kHeapMax - 1) & ~(kHeapMax - 1); a < v.end && a >= v.start;
       a += kHeapMax) {
    HeapInfo h;
    if (!read_own(a, &h, sizeof(h))) continue;
    const bool sane = h.size && h.size % kPage == 0 && h.size <= h.mprotect_size &&
                      h.mprotect_size <= kHeapMax && a + h.mprotect_size <= v.end;
    const bool first = h.prev == 0 && h.ar_ptr > a && h.ar_ptr < a + kPage;
    const bool later =
        h.prev != 0 && h.prev % kHeapMax == 0 && (h.ar_ptr < a || h.ar_ptr >= a + kHeapMax);
    if (!sane || !(first || later) ||
        c.nheaps == static_cast<int>(sizeof(c.heaps) / sizeof(c.heaps[0])))
      continue;
    ArenaHeap& ah = c.heaps[c.nheaps++];
    found = true;
    ah.start = a;
    ah.info = h;
    const uint64_t t0 = now_us();
    ah.resident = resident_bytes(a, h.mprotect_size);
    c.mincore_us += now_us() - t0;
    resident += ah.resident;
    c.arena_heaps += ah.resident;
  }
  (void)resident;
  return found;
}

// The kernel's own counters say how much is resident and how much of it is file-backed
// (statm: resident, shared = RssFile + RssShmem); the anonymous part is then split with
// mincore over the mappings we can recognise. Reading /proc/self/smaps instead would cost
// ~25 us per resident MiB (it computes PSS page by page); mincore walks the same pages 40
// times faster.
void on_vma(Census& c, const Vma& v) {
  if (v.brk) {
    c.heap += resident_bytes(v.start, v.end - v.start);
    c.heap_start = v.start;
    c.heap_end = v.end;
  } else if (v.stack) {
    c.stacks += resident_bytes(v.start, v.end - v.start);
  } else if (v.anon && strcmp(v.perms, "rw-p") == 0) {
    if (find_arena_heaps(c, v)) return;
    // glibc puts a thread's stack right above its PROT_NONE guard, in one mapping made for
    // both; a heap's PROT_NONE tail lies *above* the heap, so it never precedes one this way.
    const bool after_guard = c.prev.end == v.start && strcmp(c.prev.perms, "---p") == 0 &&
                             c.prev.anon && c.prev.end - c.prev.start <= (uintptr_t{16} << 20);
    if (after_guard) c.stacks += resident_bytes(v.start, v.end - v.start);
  }
}

// Drops heaps that claim an arena no first heap has (coincidental data at an aligned
// address): their pages go back to "other anonymous".
void check_heap_owners(Census& c) {
  int kept = 0;
  for (int i = 0; i < c.nheaps; ++i) {
    const ArenaHeap& h = c.heaps[i];
    bool ok = h.info.prev == 0;
    for (int j = 0; !ok && j < c.nheaps; ++j)
      ok = c.heaps[j].info.prev == 0 && c.heaps[j].info.ar_ptr == h.info.ar_ptr;
    if (ok) {
      c.heaps[kept++] = h;
    } else {
      c.arena_heaps -= h.resident;  // stays in "other anonymous", derived at the end
    }
  }
  c.nheaps = kept;
}

uint64_t read_u64(const char*& p) {
  while (*p == ' ') ++p;
  uint64_t v = 0;
  while (*p >= '0' && *p <= '9') v = v * 10 + static_cast<uint64_t>(*p++ - '0');
  return v;
}

// statm: "size resident shared text lib data dt", in pages.
bool read_statm(Census& c) {
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[256];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  const char* p = buf;
  read_u64(p);  // size
  c.total = read_u64(p) * kPage;
  c.file = read_u64(p) * kPage;
  return c.total != 0;
}

bool read_maps(Census& c) {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[8192];
  size_t have = 0;
  for (;;) {
    ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    have += static_cast<size_t>(n);
    size_t start = 0;
    for (size_t i = 0; i < have; ++i) {
      if (buf[i] != '\n') continue;
      buf[i] = '\0';
      const Vma v = parse_vma(buf + start);
      start = i + 1;
      on_vma(c, v);
      c.prev = v;
    }
    memmove(buf, buf + start, have - start);
    have -= start;
    if (have == sizeof(buf) - 1) have = 0;  // a line longer than the buffer: drop it
  }
  close(fd);
  return read_statm(c);
}

// Resident bytes in whole pages of the top chunks: the main arena's from the brk end and
// mallinfo2's keepcost (its top size); every other arena's from its malloc_state's `top`,
// accepted only where the chunk lies in one of that arena's heaps and ends at its end.
struct Tops {
  uint64_t resident = 0, main = 0;
  unsigned measured = 0, arenas = 0;
};

uint64_t whole_pages_resident(uintptr_t from, uintptr_t to) {
  from = (from + kPage - 1) & ~(kPage - 1);
  to &= ~(kPage - 1);
  return to > from ? resident_bytes(from, to - from) : 0;
}

Tops measure_tops(const Census& c, uint64_t main_top) {
  Tops t;
  ++t.arenas;
  const auto brk = reinterpret_cast<uintptr_t>(sbrk(0));
  if (c.heap_end && brk > c.heap_start && brk <= c.heap_end && main_top <= brk - c.heap_start) {
    t.main = whole_pages_resident(brk - main_top, brk);
    t.resident += t.main;
    ++t.measured;
  }
  for (int i = 0; i < c.nheaps; ++i) {
    if (c.heaps[i].info.prev != 0) continue;  // one arena per first heap
    ++t.arenas;
    uintptr_t top = 0;
    uint64_t size_field = 0;
    if (!read_own(c.heaps[i].info.ar_ptr + kTopOffset, &top, sizeof(top)) ||
        !read_own(top + sizeof(uintptr_t), &size_field, sizeof(size_field)))
      continue;
    const uintptr_t size = size_field & ~uintptr_t{7};
    for (int j = 0; j < c.nheaps; ++j) {
      const ArenaHeap& h = c.heaps[j];
      if (h.info.ar_ptr != c.heaps[i].info.ar_ptr || top < h.start ||
          top >= h.start + h.info.size || top + size != h.start + h.info.size)
        continue;
      t.resident += whole_pages_resident(top, top + size);
      ++t.measured;
      break;
    }
  }
  return t;
}

void field(Out& out, const char* name, uint64_t v, bool last = false) {
  out.put(name);
  out.put_char('=');
  out.put_u64(v);
  out.put_char(last ? '\n' : ' ');
}

}  // namespace

void memory_census_init() {
  if (g_info_stream) return;
  Dl_info where{};
  if (dladdr(reinterpret_cast<void*>(real_alloc().malloc), &where) && where.dli_fname &&
      !strstr(where.dli_fname, "/libc.so"))
    snprintf(g_forward_malloc, sizeof(g_forward_malloc), "%s", where.dli_fname);
  cookie_io_functions_t io{nullptr, info_write, nullptr, nullptr};
  g_info_stream = fopencookie(nullptr, "w", io);
  if (g_info_stream) setvbuf(g_info_stream, g_info_buffer, _IOFBF, sizeof(g_info_buffer));
}

void memory_note_recording_started(bool again) {
  if (g_before.known && !again) return;
  const struct mallinfo2 mi = mallinfo2();
  g_before.bytes = mi.uordblks + mi.hblkhd;
  g_before.since = time(nullptr);
  g_before.known = true;
}

bool memory_before_recording(uint64_t* bytes, int64_t* since) {
  if (!g_before.known) return false;
  *bytes = g_before.bytes;
  *since = static_cast<int64_t>(g_before.since);
  return true;
}

void write_memory_section(Out& out, const Tracker& t, const char* foreign_malloc) {
  // Either way glibc's statistics would describe an allocator nobody uses.
  if (!foreign_malloc && g_forward_malloc[0]) foreign_malloc = g_forward_malloc;
  const uint64_t t0 = now_us();
  static Census c;  // 28 KiB of heap records: not on the stack of an exiting host thread
  c.reset();
  const bool maps_ok = read_maps(c);
  check_heap_owners(c);
  const uint64_t t_probe = now_us();
  uint64_t unlisted = 0;
  uint64_t probe = resident_probe_bytes(&unlisted);  // unlisted: none while under 1024 maps
  // Whatever anonymous memory is not malloc's heaps, a stack or the probe's.
  uint64_t anon = c.total > c.file ? c.total - c.file : 0;
  uint64_t* const parts[] = {&c.heap, &c.arena_heaps, &c.stacks, &probe};
  for (uint64_t* part : parts) {
    if (*part > anon) *part = anon;  // counters read moments apart: never below zero
    anon -= *part;
  }
  c.anon = anon;
  const uint64_t t1 = now_us();

  // The probe's own live bytes: requested, and usable (what malloc_usable_size gave them).
  uint64_t blocks = 0, requested = 0, slack = 0;
  for (const Bucket* b = t.stacks().first(); b; b = b->next) {
    const Bucket::Live live = b->live();
    blocks += static_cast<uint64_t>(live.objs);
    requested += static_cast<uint64_t>(live.bytes);
    slack += b->live_slack.load(std::memory_order_relaxed);
  }

  if (maps_ok) {
    meta_key(out, fmt::kKeyMemoryRss);
    field(out, "total", c.total);
    field(out, "heap", c.heap);
    field(out, "arena-heaps", c.arena_heaps);
    field(out, "stacks", c.stacks);
    field(out, "anon", c.anon);
    field(out, "file", c.file);
    field(out, "probe", probe, unlisted == 0);
    if (unlisted) field(out, "probe-unlisted", unlisted, true);
  }
  meta_key(out, fmt::kKeyMemoryRecorded);
  field(out, "blocks", blocks);
  field(out, "requested", requested);
  field(out, "usable", requested + slack, true);
  if (g_before.known) {
    meta_key(out, fmt::kKeyMemoryBeforeRecording);
    field(out, "bytes", g_before.bytes);
    field(out, "since", static_cast<uint64_t>(g_before.since), true);
  }
  if (foreign_malloc) {
    meta_key(out, fmt::kKeyMemoryAllocator);
    out.put("foreign ");
    out.put(foreign_malloc);
    out.put_char('\n');
    meta_key(out, fmt::kKeyMemoryCensusUs);
    field(out, "total", now_us() - t0);
    field(out, "maps", t1 - t0 - c.mincore_us, true);
    return;
  }
  meta_key(out, fmt::kKeyMemoryAllocator);
  out.put("glibc ");
  out.put(gnu_get_libc_version());
  out.put_char('\n');

  const uint64_t t2 = now_us();
  const struct mallinfo2 mi = mallinfo2();
  const uint64_t t3 = now_us();
  meta_key(out, fmt::kKeyMemoryMallinfo);
  field(out, "arena", mi.arena);
  field(out, "ordblks", mi.ordblks);
  field(out, "smblks", mi.smblks);
  field(out, "hblks", mi.hblks);
  field(out, "hblkhd", mi.hblkhd);
  field(out, "fsmblks", mi.fsmblks);
  field(out, "uordblks", mi.uordblks);
  field(out, "fordblks", mi.fordblks);
  field(out, "keepcost", mi.keepcost, true);

  uint64_t info_us = 0;
  if (g_info_stream) {
    static InfoParser parser;  // 8.5 KiB: not on the stack
    parser.out = &out;
    parser.used = parser.sizes_used = 0;
    parser.in_heap = false;
    g_parser = &parser;
    const uint64_t t4 = now_us();
    malloc_info(0, g_info_stream);
    fflush(g_info_stream);
    info_us = now_us() - t4;
    g_parser = nullptr;
  }

  if (maps_ok) {
    const Tops tops = measure_tops(c, mi.keepcost);
    meta_key(out, fmt::kKeyMemoryTopResident);
    field(out, "bytes", tops.resident);
    field(out, "main", tops.main);
    field(out, "measured", tops.measured);
    field(out, "arenas", tops.arenas, true);
  }
  meta_key(out, fmt::kKeyMemoryCensusUs);
  field(out, "total", now_us() - t0);
  field(out, "maps", t_probe - t0 - c.mincore_us);
  field(out, "heap-mincore", c.mincore_us);
  field(out, "probe-mincore", t1 - t_probe);
  field(out, "mallinfo2", t3 - t2);
  field(out, "malloc-info", info_us, true);
}

}  // namespace leakprobe
