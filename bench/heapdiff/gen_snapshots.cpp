// Writes two synthetic leakprobe snapshots ("before" and "after") of a large, busy program for
// benchmarking heapdiff against `go tool pprof` on the same files.
//
// Realistic in the ways that cost time: every return address lies in the executable segment
// of a real ELF file on this machine (Debian's /usr/sbin/mosquitto, libc, libstdc++), so the
// symbolizer does real .dynsym/DWARF work; stacks are ~20 frames deep and share most of their
// frames (a few thousand call chains, tens of thousands of allocation sites), like a server's
// stacks do; the two snapshots share 90% of their stacks with changed counters.
//
// Usage: gen_heapdiff_snapshots BEFORE AFTER [STACKS] [SEED]     (STACKS defaults to 100000)
#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <gelf.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

namespace {

struct Segment {
  uint64_t vaddr, memsz, offset, filesz;
  bool exec, write;
};

struct Module {
  std::string path;
  uint64_t base;  // load bias chosen for the fake process
  std::string build_id;
  std::vector<Segment> segments;
  uint64_t text_start = 0, text_end = 0;  // executable segment, link-time addresses
};

bool load_module(const std::string& path, uint64_t base, Module* m) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  elf_version(EV_CURRENT);
  Elf* elf = elf_begin(fd, ELF_C_READ, nullptr);
  size_t phnum = 0;
  bool ok = elf != nullptr && elf_getphdrnum(elf, &phnum) == 0;
  m->path = path;
  m->base = base;
  for (size_t i = 0; ok && i < phnum; ++i) {
    GElf_Phdr ph;
    if (gelf_getphdr(elf, static_cast<int>(i), &ph) == nullptr || ph.p_type != PT_LOAD) continue;
    Segment s{ph.p_vaddr,
              ph.p_memsz,
              ph.p_offset,
              ph.p_filesz,
              (ph.p_flags & PF_X) != 0,
              (ph.p_flags & PF_W) != 0};
    m->segments.push_back(s);
    if (s.exec) {
      m->text_start = s.vaddr;
      m->text_end = s.vaddr + s.filesz;
    }
  }
  const void* bits = nullptr;
  ssize_t len = ok ? dwelf_elf_gnu_build_id(elf, &bits) : -1;
  for (ssize_t i = 0; i < len; ++i) {
    char b[3];
    snprintf(b, sizeof b, "%02x", static_cast<const unsigned char*>(bits)[i]);
    m->build_id += b;
  }
  if (elf != nullptr) elf_end(elf);
  close(fd);
  return ok && m->text_end > m->text_start;
}

struct Stack {
  std::vector<uint64_t> pcs;
  int64_t size;  // bytes per object
  int64_t live_objs, alloc_objs;
};

void write_snapshot(const char* path, const std::vector<Module>& modules,
                    const std::vector<const Stack*>& stacks, int sequence) {
  FILE* f = fopen(path, "w");
  if (f == nullptr) {
    perror(path);
    exit(2);
  }
  int64_t lo = 0, lb = 0, ao = 0, ab = 0;
  for (const Stack* s : stacks) {
    lo += s->live_objs;
    lb += s->live_objs * s->size;
    ao += s->alloc_objs;
    ab += s->alloc_objs * s->size;
  }
  fprintf(f, "heap profile: %" PRId64 ": %" PRId64 " [%" PRId64 ": %" PRId64 "] @ heapprofile\n",
          lo, lb, ao, ab);
  fprintf(f, "# leakprobe.format: 1\n# leakprobe.pid: 4242\n# leakprobe.exe: %s\n",
          modules[0].path.c_str());
  fprintf(f, "# leakprobe.time: %d.000000\n# leakprobe.sequence: %d\n", 1795777200 + 600 * sequence,
          sequence);
  fprintf(f, "# leakprobe.trigger: request\n# leakprobe.sampling: 0\n# leakprobe.depth: 32\n");
  fprintf(f, "# leakprobe.stacks: %zu\n# leakprobe.truncated-stacks: 0\n", stacks.size());
  fprintf(f, "# leakprobe.probe-bytes: 67108864\n");
  for (const Module& m : modules) {
    if (!m.build_id.empty()) {
      fprintf(f, "# leakprobe.build-id: %s %s\n", m.build_id.c_str(), m.path.c_str());
    }
  }
  for (const Stack* s : stacks) {
    fprintf(f, "%" PRId64 ": %" PRId64 " [%" PRId64 ": %" PRId64 "] @", s->live_objs,
            s->live_objs * s->size, s->alloc_objs, s->alloc_objs * s->size);
    for (uint64_t pc : s->pcs) fprintf(f, " 0x%" PRIx64, pc);
    fputc('\n', f);
  }
  fprintf(f, "\nMAPPED_LIBRARIES:\n");
  int inode = 1000;
  for (const Module& m : modules) {
    for (const Segment& s : m.segments) {
      uint64_t start = m.base + (s.vaddr & ~0xfffULL);
      uint64_t end = m.base + ((s.vaddr + s.memsz + 0xfff) & ~0xfffULL);
      fprintf(f, "%" PRIx64 "-%" PRIx64 " r%c%cp %08" PRIx64 " fd:01 %d %s\n", start, end,
              s.write ? 'w' : '-', s.exec ? 'x' : '-', static_cast<uint64_t>(s.offset & ~0xfffULL),
              inode, m.path.c_str());
    }
    ++inode;
  }
  fprintf(f, "# leakprobe.end\n");
  if (fclose(f) != 0) {
    perror(path);
    exit(2);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 5) {
    fprintf(stderr, "usage: %s BEFORE AFTER [STACKS] [SEED]\n", argv[0]);
    return 2;
  }
  const long n = argc > 3 ? strtol(argv[3], nullptr, 10) : 100000;
  const unsigned seed = argc > 4 ? static_cast<unsigned>(strtoul(argv[4], nullptr, 10)) : 1;
  if (n < 10 || n > 10000000) {
    fprintf(stderr, "STACKS must be between 10 and 10000000\n");
    return 2;
  }

  // The executable first: readers take the program name from it.
  const struct {
    const char* path;
    uint64_t base;
    int weight;  // share of frames that land in this module
  } wanted[] = {
      {"/usr/sbin/mosquitto", 0x55d0c0a00000ULL, 60},
      {"/usr/lib/x86_64-linux-gnu/libc.so.6", 0x7f3a11e00000ULL, 30},
      {"/usr/lib/x86_64-linux-gnu/libstdc++.so.6", 0x7f3a12400000ULL, 10},
  };
  std::vector<Module> modules;
  std::vector<int> weights;
  for (const auto& w : wanted) {
    Module m;
    if (load_module(w.path, w.base, &m)) {
      modules.push_back(m);
      weights.push_back(w.weight);
    } else if (modules.empty()) {
      fprintf(stderr, "cannot read %s (Debian package mosquitto)\n", w.path);
      return 2;
    }
  }

  std::mt19937_64 rng(seed);
  std::discrete_distribution<int> pick_module(weights.begin(), weights.end());
  auto random_pc = [&]() {
    const Module& m = modules[pick_module(rng)];
    uint64_t vaddr = m.text_start + rng() % (m.text_end - m.text_start);
    return m.base + vaddr + 1;  // a return address: readers look up pc - 1
  };
  auto pool = [&](size_t count) {
    std::vector<uint64_t> p(count);
    for (auto& pc : p) pc = random_pc();
    return p;
  };
  // Call sites: many distinct allocation sites, fewer mid-level callers, few roots; then
  // a few thousand fixed call chains ("trunks") that most stacks end in.
  const std::vector<uint64_t> leaves = pool(static_cast<size_t>(std::max(100L, n / 4)));
  const std::vector<uint64_t> mids = pool(5000);
  const std::vector<uint64_t> roots = pool(20);
  std::vector<std::vector<uint64_t>> trunks(2000);
  for (auto& t : trunks) {
    size_t depth = 10 + rng() % 8;
    for (size_t i = 0; i + 2 < depth; ++i) t.push_back(mids[rng() % mids.size()]);
    t.push_back(roots[rng() % roots.size()]);
    t.push_back(roots[rng() % 3]);
  }
  const int64_t sizes[] = {16, 24, 32, 48, 64, 128, 256, 512, 1024, 4096};

  // 110% of N distinct stacks: the first 100% go in BEFORE, the last 100% in AFTER.
  const size_t total = static_cast<size_t>(n + n / 10);
  std::vector<Stack> all;
  all.reserve(total);
  std::unordered_set<std::string> seen;
  while (all.size() < total) {
    Stack s;
    s.pcs.push_back(leaves[rng() % leaves.size()]);
    for (size_t i = rng() % 5; i > 0; --i) s.pcs.push_back(mids[rng() % mids.size()]);
    const auto& trunk = trunks[rng() % trunks.size()];
    s.pcs.insert(s.pcs.end(), trunk.begin(), trunk.end());
    std::string key(reinterpret_cast<const char*>(s.pcs.data()), s.pcs.size() * sizeof(uint64_t));
    if (!seen.insert(key).second) continue;
    s.size = sizes[rng() % (sizeof sizes / sizeof sizes[0])];
    s.live_objs = static_cast<int64_t>(rng() % 40);
    s.alloc_objs = s.live_objs + static_cast<int64_t>(rng() % 200);
    all.push_back(std::move(s));
  }

  std::vector<const Stack*> before, after_ptrs;
  for (long i = 0; i < n; ++i) before.push_back(&all[static_cast<size_t>(i)]);
  write_snapshot(argv[1], modules, before, 1);

  // AFTER: stacks n/10 .. end. Shared ones change: 15% grow, 5% shrink, the rest keep their
  // live counts; cumulative allocation counters only grow.
  std::vector<Stack> after(all.begin() + n / 10, all.end());
  for (size_t i = 0; i + static_cast<size_t>(n / 10) < after.size(); ++i) {
    Stack& s = after[i];
    const unsigned roll = static_cast<unsigned>(rng() % 100);
    int64_t grow = 0;
    if (roll < 15) grow = 1 + static_cast<int64_t>(rng() % 20);
    if (roll >= 15 && roll < 20) grow = -std::min<int64_t>(s.live_objs, 1 + rng() % 10);
    s.live_objs += grow;
    s.alloc_objs += std::max<int64_t>(grow, 0) + static_cast<int64_t>(rng() % 50);
  }
  for (const Stack& s : after) after_ptrs.push_back(&s);
  write_snapshot(argv[2], modules, after_ptrs, 2);
  return 0;
}
