#include "got_patch.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "host_allocator.h"

namespace leakprobe::got {
namespace {

// One hooked name: the probe's function, and what the process bound the name to before us
// (dlsym(RTLD_DEFAULT), which may be an executable's canonical PLT stub, and the definition
// behind such a stub). A slot holding anything else is bound elsewhere and left alone.
struct Hook {
  const char* name;
  uintptr_t ours;
  uintptr_t bound[2];
};
constexpr size_t kMaxHooks = 128;  // the probe exports ~60
Hook g_hooks[kMaxHooks];
size_t g_nhooks = 0;
link_map* g_self = nullptr;

// One rewritten slot. `dynamic` names the module (its l_ld): restore writes only into the
// module it was taken from.
struct Rec {
  uintptr_t* slot;
  uintptr_t old;
  uintptr_t ours;
  const void* dynamic;
};
// Growable array in pages of its own: never the host's malloc (the patch pass runs under the
// loader's lock, and the records must outlive anything the host frees).
Rec* g_recs = nullptr;
size_t g_nrecs = 0, g_cap = 0;

size_t page_size() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

bool grow_records() {
  const size_t cap = g_cap ? g_cap * 2 : 4096;
  void* p =
      mmap(nullptr, cap * sizeof(Rec), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  if (g_recs) {
    memcpy(p, g_recs, g_nrecs * sizeof(Rec));
    munmap(g_recs, g_cap * sizeof(Rec));
  }
  g_recs = static_cast<Rec*>(p);
  g_cap = cap;
  return true;
}

// glibc relocates the pointers of a writable .dynamic in place; the vDSO's are not.
uintptr_t dyn_ptr(const link_map* lm, ElfW(Addr) p) { return p < lm->l_addr ? p + lm->l_addr : p; }

struct Dynamic {
  const ElfW(Sym) * symtab = nullptr;
  const char* strtab = nullptr;
  const uint32_t* gnu_hash = nullptr;
  const ElfW(Rela) * rela = nullptr;
  size_t relasz = 0;
  const ElfW(Rela) * jmprel = nullptr;
  size_t pltrelsz = 0;
  bool plt_is_rela = true;
};

Dynamic read_dynamic(const link_map* lm) {
  Dynamic d;
  if (!lm->l_ld) return d;
  for (const ElfW(Dyn)* e = lm->l_ld; e->d_tag != DT_NULL; ++e) {
    switch (e->d_tag) {
      case DT_SYMTAB:
        d.symtab = reinterpret_cast<const ElfW(Sym)*>(dyn_ptr(lm, e->d_un.d_ptr));
        break;
      case DT_STRTAB:
        d.strtab = reinterpret_cast<const char*>(dyn_ptr(lm, e->d_un.d_ptr));
        break;
      case DT_GNU_HASH:
        d.gnu_hash = reinterpret_cast<const uint32_t*>(dyn_ptr(lm, e->d_un.d_ptr));
        break;
      case DT_RELA:
        d.rela = reinterpret_cast<const ElfW(Rela)*>(dyn_ptr(lm, e->d_un.d_ptr));
        break;
      case DT_RELASZ:
        d.relasz = e->d_un.d_val;
        break;
      case DT_JMPREL:
        d.jmprel = reinterpret_cast<const ElfW(Rela)*>(dyn_ptr(lm, e->d_un.d_ptr));
        break;
      case DT_PLTRELSZ:
        d.pltrelsz = e->d_un.d_val;
        break;
      case DT_PLTREL:
        d.plt_is_rela = e->d_un.d_val == DT_RELA;
        break;
      default:
        break;
    }
  }
  return d;
}

// Number of dynamic symbols, from the GNU hash table (the last chain's end).
size_t symbol_count(const uint32_t* h) {
  const uint32_t nbuckets = h[0], symoffset = h[1], bloom_size = h[2];
  const uint32_t* buckets =
      reinterpret_cast<const uint32_t*>(reinterpret_cast<const ElfW(Addr)*>(h + 4) + bloom_size);
  const uint32_t* chain = buckets + nbuckets;
  uint32_t last = 0;
  for (uint32_t i = 0; i < nbuckets; ++i)
    if (buckets[i] > last) last = buckets[i];
  if (last < symoffset) return symoffset;
  while (!(chain[last - symoffset] & 1)) ++last;
  return last + 1;
}

const Hook* find_hook(const char* name) {
  for (size_t i = 0; i < g_nhooks; ++i)
    if (name[0] == g_hooks[i].name[0] && strcmp(name, g_hooks[i].name) == 0) return &g_hooks[i];
  return nullptr;
}

// The module's RELRO range as glibc protected it (whole pages), from its program headers,
// which the ELF header at the start of its first mapping points to. False if they cannot be
// read: then the module is left alone.
bool relro_range(const link_map* lm, const void* map_start, uintptr_t* start, uintptr_t* end) {
  *start = *end = 0;
  const auto* eh = static_cast<const ElfW(Ehdr)*>(map_start);
  if (!eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_phentsize != sizeof(ElfW(Phdr)))
    return false;
  const auto* ph =
      reinterpret_cast<const ElfW(Phdr)*>(static_cast<const char*>(map_start) + eh->e_phoff);
  const uintptr_t page = page_size();
  for (int i = 0; i < eh->e_phnum; ++i) {
    if (ph[i].p_type != PT_GNU_RELRO) continue;
    *start = (lm->l_addr + ph[i].p_vaddr) & ~(page - 1);
    *end = (lm->l_addr + ph[i].p_vaddr + ph[i].p_memsz) & ~(page - 1);
  }
  return true;
}

// One aligned 8-byte store into a slot, making a RELRO page writable around it.
bool store(uintptr_t* slot, uintptr_t value, uintptr_t relro_start, uintptr_t relro_end) {
  const auto a = reinterpret_cast<uintptr_t>(slot);
  const bool ro = a >= relro_start && a < relro_end;
  void* page = reinterpret_cast<void*>(a & ~(page_size() - 1));
  if (ro && mprotect(page, page_size(), PROT_READ | PROT_WRITE) != 0) return false;
  __atomic_store_n(slot, value, __ATOMIC_RELEASE);
  if (ro) mprotect(page, page_size(), PROT_READ);
  return true;
}

struct Pass {
  bool restore;
  PassResult result;
};

// May `value`, found in `slot` of relocation `type`, be rewritten to the hook? Only if it is
// what the process's lookup gave, or (a lazy JUMP_SLOT not yet bound) the module's own stub.
bool bound_as_expected(const Hook& h, uintptr_t value, uint32_t type, const dl_find_object& fo) {
  if (value == h.bound[0] || value == h.bound[1]) return value != 0;
  const auto start = reinterpret_cast<uintptr_t>(fo.dlfo_map_start);
  const auto end = reinterpret_cast<uintptr_t>(fo.dlfo_map_end);
  return type == R_X86_64_JUMP_SLOT && value >= start && value < end;
}

void patch_relocs(const link_map* lm, const Dynamic& d, const ElfW(Rela) * rel, size_t bytes,
                  const dl_find_object& fo, uintptr_t ro_start, uintptr_t ro_end, PassResult* r) {
  if (!rel || !d.symtab || !d.strtab) return;
  const size_t n = bytes / sizeof(ElfW(Rela));
  for (size_t i = 0; i < n; ++i) {
    const uint32_t type = ELF64_R_TYPE(rel[i].r_info);
    if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) continue;
    const uint32_t sym = ELF64_R_SYM(rel[i].r_info);
    if (!sym) continue;
    const Hook* h = find_hook(d.strtab + d.symtab[sym].st_name);
    if (!h) continue;
    auto* slot = reinterpret_cast<uintptr_t*>(lm->l_addr + rel[i].r_offset);
    const uintptr_t value = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (value == h->ours) continue;  // rewritten by an earlier pass
    if (!bound_as_expected(*h, value, type, fo)) {
      ++r->skipped;
      continue;
    }
    Rec* rec = nullptr;
    for (size_t k = 0; k < g_nrecs && !rec; ++k)
      if (g_recs[k].slot == slot) rec = &g_recs[k];
    const bool fresh = !rec;
    if (fresh) {
      if (g_nrecs == g_cap && !grow_records()) {
        ++r->failed;
        continue;
      }
      rec = &g_recs[g_nrecs++];
    }
    *rec = Rec{slot, value, h->ours, lm->l_ld};
    if (store(slot, h->ours, ro_start, ro_end)) {
      ++r->written;
    } else {
      ++r->failed;
      if (fresh) --g_nrecs;  // not written: nothing to put back
    }
  }
}

// Is `lm` a module we may write into now: fully loaded (dlopen finished relocating it), not
// the probe, not the dynamic linker.
bool usable(link_map* lm, dl_find_object* fo) {
  if (lm == g_self || !lm->l_ld) return false;
  if (lm->l_addr == _r_debug.r_ldbase && lm->l_name && lm->l_name[0]) return false;  // ld.so
  if (_dl_find_object(const_cast<ElfW(Dyn)*>(lm->l_ld), fo) != 0) return false;
  return fo->dlfo_link_map == lm;
}

int pass_callback(dl_phdr_info*, size_t, void* arg) {
  auto* pass = static_cast<Pass*>(arg);
  PassResult& r = pass->result;
  // Inside the callback the loader's write lock is held: _r_debug's list (the base
  // namespace) cannot change, and no module in it can be unmapped.
  for (link_map* lm = _r_debug.r_map; lm; lm = lm->l_next) {
    dl_find_object fo{};
    if (!usable(lm, &fo)) continue;
    uintptr_t ro_start, ro_end;
    if (!relro_range(lm, fo.dlfo_map_start, &ro_start, &ro_end)) continue;
    ++r.modules;
    if (pass->restore) {
      for (size_t k = 0; k < g_nrecs; ++k) {
        Rec& rec = g_recs[k];
        if (rec.dynamic != lm->l_ld || !rec.slot) continue;
        const auto a = reinterpret_cast<uintptr_t>(rec.slot);
        if (a < reinterpret_cast<uintptr_t>(fo.dlfo_map_start) ||
            a >= reinterpret_cast<uintptr_t>(fo.dlfo_map_end))
          continue;
        if (__atomic_load_n(rec.slot, __ATOMIC_ACQUIRE) == rec.ours) {
          if (store(rec.slot, rec.old, ro_start, ro_end))
            ++r.written;
          else
            ++r.failed;
        }
        rec.slot = nullptr;
      }
      continue;
    }
    const Dynamic d = read_dynamic(lm);
    patch_relocs(lm, d, d.rela, d.relasz, fo, ro_start, ro_end, &r);
    if (d.plt_is_rela) patch_relocs(lm, d, d.jmprel, d.pltrelsz, fo, ro_start, ro_end, &r);
  }
  return 1;  // the whole list was walked from the first call
}

int adds_callback(dl_phdr_info* info, size_t size, void* arg) {
  if (size >= offsetof(dl_phdr_info, dlpi_adds) + sizeof(info->dlpi_adds))
    *static_cast<unsigned long long*>(arg) = info->dlpi_adds;
  return 1;
}

struct CallerCheck {
  link_map* caller;
  bool bare;
  bool independent;
};

bool has_tag(const link_map* lm, ElfW(Sxword) tag) {
  if (!lm->l_ld) return false;
  for (const ElfW(Dyn)* e = lm->l_ld; e->d_tag != DT_NULL; ++e)
    if (e->d_tag == tag) return true;
  return false;
}

int caller_callback(dl_phdr_info*, size_t, void* arg) {
  auto* c = static_cast<CallerCheck*>(arg);
  bool in_base = false;
  bool rpath = false;
  for (link_map* lm = _r_debug.r_map; lm; lm = lm->l_next) {
    if (lm == c->caller) in_base = true;
    if (has_tag(lm, DT_RPATH)) rpath = true;
  }
  c->independent = in_base && (!c->bare || (!rpath && !has_tag(c->caller, DT_RUNPATH)));
  return 1;
}

}  // namespace

bool dlopen_caller_independent(const char* file, const void* caller) {
  if (!file) return true;  // the main program's handle, whoever asks
  if (strchr(file, '$')) return false;
  dl_find_object fo{};
  CallerCheck c{nullptr, strchr(file, '/') == nullptr, false};
  // glibc takes an address it cannot place as the main program's.
  c.caller =
      _dl_find_object(const_cast<void*>(caller), &fo) == 0 ? fo.dlfo_link_map : _r_debug.r_map;
  if (!c.caller) return false;
  dl_iterate_phdr(caller_callback, &c);
  return c.independent;
}

bool init_hooks(const void* self) {
#if !defined(__x86_64__)
  (void)self;
  return false;  // the relocation types below are x86_64's: attach refuses elsewhere
#endif
  Dl_info info{};
  link_map* lm = nullptr;
  if (!dladdr1(self, &info, reinterpret_cast<void**>(&lm), RTLD_DL_LINKMAP) || !lm) return false;
  const Dynamic d = read_dynamic(lm);
  if (!d.symtab || !d.strtab || !d.gnu_hash) return false;
  g_self = lm;
  g_nhooks = 0;
  const size_t n = symbol_count(d.gnu_hash);
  for (size_t i = 1; i < n && g_nhooks < kMaxHooks; ++i) {
    const ElfW(Sym)& s = d.symtab[i];
    if (s.st_shndx == SHN_UNDEF || ELF64_ST_TYPE(s.st_info) != STT_FUNC ||
        ELF64_ST_VISIBILITY(s.st_other) != STV_DEFAULT)
      continue;
    const char* name = d.strtab + s.st_name;
    if (strncmp(name, "leakprobe_", 10) == 0) continue;  // the API, not an interposer
    Hook& h = g_hooks[g_nhooks++];
    h.name = name;
    h.ours = lm->l_addr + s.st_value;
    h.bound[0] = reinterpret_cast<uintptr_t>(dlsym(RTLD_DEFAULT, name));
    h.bound[1] = reinterpret_cast<uintptr_t>(host_definition(name));
    for (uintptr_t& b : h.bound)
      if (b == h.ours) b = 0;  // never "restore" to ourselves
  }
  return g_nhooks > 0;
}

size_t hook_count() { return g_nhooks; }

void* own_function(const char* name) {
  const Hook* h = find_hook(name);
  return h ? reinterpret_cast<void*>(h->ours) : nullptr;
}

PassResult patch_all() {
  Pass pass{false, {}};
  if (g_nhooks) dl_iterate_phdr(pass_callback, &pass);
  return pass.result;
}

PassResult restore_all() {
  Pass pass{true, {}};
  if (g_nrecs) dl_iterate_phdr(pass_callback, &pass);
  g_nrecs = 0;  // modules gone since were never written; the rest are back
  return pass.result;
}

size_t patched_slots() { return g_nrecs; }

unsigned long long loader_adds() {
  unsigned long long adds = 0;
  dl_iterate_phdr(adds_callback, &adds);
  return adds;
}

}  // namespace leakprobe::got
