#include "host_allocator.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace leakprobe {
namespace {

char g_foreign[PATH_MAX];  // empty: the program calls the probe's malloc

// The chosen object's own functions, null where it has none (the emulations below use them).
RealAlloc g_src;
size_t g_page = 4096;

// Where an address is defined: its object, and whether the symbol there is a definition.
// An executable's canonical PLT stub is an undefined symbol that has an address.
struct Where {
  link_map* obj = nullptr;
  bool defined = false;
};

Where where(void* addr) {
  Where w;
  Dl_info info;
  void* sym_entry = nullptr;
  link_map* lm = nullptr;
  if (!addr || !dladdr1(addr, &info, &sym_entry, RTLD_DL_SYMENT) ||
      !dladdr1(addr, &info, reinterpret_cast<void**>(&lm), RTLD_DL_LINKMAP))
    return w;
  w.obj = lm;
  const auto* sym = static_cast<const ElfW(Sym)*>(sym_entry);
  w.defined = sym && sym->st_shndx != SHN_UNDEF;
  return w;
}

// `obj`'s own definition of `name` (a defined function in its dynamic symbol table), or
// nullptr. Read from the object's GNU hash table directly: dlopen(RTLD_NOLOAD) on it would run
// the constructors of objects not initialised yet, ours included, from inside our own
// constructor (python3, non-PIE, hung for ever in that recursion), and dlsym on a link map
// crashes on objects without a lookup scope (the vDSO). Objects with only DT_HASH, and IFUNCs,
// give nullptr: the caller then keeps looking, and allocators use neither.
void* own_definition(link_map* obj, const char* name) {
  if (!obj->l_ld) return nullptr;
  const ElfW(Sym)* symtab = nullptr;
  const char* strtab = nullptr;
  const uint32_t* gnu_hash = nullptr;
  // glibc relocates the pointers of a writable .dynamic in place; the vDSO's are not.
  auto at = [obj](ElfW(Addr) p) { return p < obj->l_addr ? p + obj->l_addr : p; };
  for (const ElfW(Dyn)* d = obj->l_ld; d->d_tag != DT_NULL; ++d) {
    if (d->d_tag == DT_SYMTAB) symtab = reinterpret_cast<const ElfW(Sym)*>(at(d->d_un.d_ptr));
    if (d->d_tag == DT_STRTAB) strtab = reinterpret_cast<const char*>(at(d->d_un.d_ptr));
    if (d->d_tag == DT_GNU_HASH) gnu_hash = reinterpret_cast<const uint32_t*>(at(d->d_un.d_ptr));
  }
  if (!symtab || !strtab || !gnu_hash) return nullptr;
  const uint32_t nbuckets = gnu_hash[0], symoffset = gnu_hash[1], bloom_size = gnu_hash[2];
  if (nbuckets == 0) return nullptr;
  const uint32_t* buckets = reinterpret_cast<const uint32_t*>(
      reinterpret_cast<const ElfW(Addr)*>(gnu_hash + 4) + bloom_size);
  const uint32_t* chain = buckets + nbuckets;
  uint32_t h = 5381;
  for (const char* c = name; *c; ++c) h = h * 33 + static_cast<unsigned char>(*c);
  uint32_t i = buckets[h % nbuckets];
  if (i < symoffset) return nullptr;
  for (;; ++i) {
    const uint32_t h2 = chain[i - symoffset];
    const ElfW(Sym)& sym = symtab[i];
    if ((h | 1) == (h2 | 1) && strcmp(strtab + sym.st_name, name) == 0 &&
        sym.st_shndx != SHN_UNDEF && ELF64_ST_TYPE(sym.st_info) == STT_FUNC) {
      return reinterpret_cast<void*>(obj->l_addr + sym.st_value);
    }
    if (h2 & 1) return nullptr;
  }
}

// The definition of `name` the program's calls reach: the global lookup scope's, looking
// through a canonical PLT stub to the first real definition after the stub's object (what
// the dynamic linker binds the stub's own jump slot to).
void* host_definition(const char* name, link_map** obj) {
  void* f = dlsym(RTLD_DEFAULT, name);
  Where w = where(f);
  if (w.defined || !w.obj) {
    *obj = w.obj;
    return w.obj ? f : nullptr;
  }
  for (link_map* lm = _r_debug.r_map; lm; lm = lm->l_next) {
    if (lm == w.obj) continue;
    if (void* d = own_definition(lm, name)) {
      *obj = lm;
      return d;
    }
  }
  *obj = nullptr;
  return nullptr;
}

// `name` from `src` only: through the host's lookup when the allocator is the one the host
// calls, else through the probe's next definition. Null if `src` does not define it.
template <typename F>
void take(F& slot, const char* name, link_map* src, bool foreign) {
  void* f;
  link_map* obj = nullptr;
  if (foreign) {
    f = host_definition(name, &obj);
  } else {
    f = dlsym(RTLD_NEXT, name);
    Where w = where(f);
    obj = w.defined ? w.obj : nullptr;
  }
  slot = obj == src ? reinterpret_cast<F>(f) : nullptr;
}

// The emulations, each only over the chosen object's own functions.

bool power_of_two(size_t a) { return a && !(a & (a - 1)); }

// memalign's contract (any alignment, rounded up to a power of two) over whichever aligned
// primitive the object has.
void* aligned(size_t align, size_t n) {
  if (g_src.memalign) return g_src.memalign(align, n);
  size_t a = sizeof(void*);
  while (a < align) {
    if (a > SIZE_MAX / 2) {
      errno = EINVAL;
      return nullptr;
    }
    a <<= 1;
  }
  if (g_src.posix_memalign) {
    void* p = nullptr;
    int rc = g_src.posix_memalign(&p, a, n);
    if (rc) {
      errno = rc;
      return nullptr;
    }
    return p;
  }
  if (g_src.aligned_alloc) {
    size_t rounded;  // C11 wants a multiple of the alignment
    if (__builtin_add_overflow(n, a - 1, &rounded)) {
      errno = ENOMEM;
      return nullptr;
    }
    return g_src.aligned_alloc(a, rounded & ~(a - 1));
  }
  errno = ENOMEM;  // an allocator without any aligned allocation: refuse, never mix heaps
  return nullptr;
}

void* emu_calloc(size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  void* p = g_src.malloc(total);
  if (p) memset(p, 0, total);
  return p;
}

int emu_posix_memalign(void** out, size_t align, size_t n) {
  if (!power_of_two(align) || align % sizeof(void*)) return EINVAL;
  const int saved = errno;
  void* p = aligned(align, n);
  const int rc = p ? 0 : ENOMEM;
  errno = saved;
  if (p) *out = p;
  return rc;
}

void* emu_aligned_alloc(size_t align, size_t n) {
  if (!power_of_two(align)) {
    errno = EINVAL;
    return nullptr;
  }
  return aligned(align, n);
}

void* emu_valloc(size_t n) { return aligned(g_page, n); }

void* emu_pvalloc(size_t n) {
  size_t rounded;
  if (__builtin_add_overflow(n, g_page - 1, &rounded)) {
    errno = ENOMEM;
    return nullptr;
  }
  rounded &= ~(g_page - 1);
  return aligned(g_page, rounded ? rounded : g_page);
}

// Without the object's own answer nothing is known of the block: 0 ("no spare bytes") is
// the one answer that cannot make the program write past its block.
size_t emu_usable_size(void*) { return 0; }

void remember_path(link_map* obj) {
  const char* name = obj->l_name;
  if (!name || !*name) {  // the main program
    ssize_t n = readlink("/proc/self/exe", g_foreign, sizeof(g_foreign) - 1);
    g_foreign[n > 0 ? n : 0] = '\0';
    if (n <= 0) strcpy(g_foreign, "the program itself");
    return;
  }
  strncpy(g_foreign, name, sizeof(g_foreign) - 1);
  g_foreign[sizeof(g_foreign) - 1] = '\0';
}

}  // namespace

void fill_allocator_gaps(RealAlloc* r) {
  long page = sysconf(_SC_PAGESIZE);
  if (page > 0 && power_of_two(static_cast<size_t>(page))) g_page = static_cast<size_t>(page);
  g_src = *r;
  if (!r->calloc) r->calloc = emu_calloc;
  if (!r->posix_memalign) r->posix_memalign = emu_posix_memalign;
  if (!r->aligned_alloc) r->aligned_alloc = emu_aligned_alloc;
  if (!r->memalign) r->memalign = aligned;
  if (!r->valloc) r->valloc = emu_valloc;
  if (!r->pvalloc) r->pvalloc = emu_pvalloc;
  if (!r->malloc_usable_size) r->malloc_usable_size = emu_usable_size;
}

bool resolve_host_allocator(RealAlloc* out) {
  link_map* self = where(reinterpret_cast<void*>(&resolve_host_allocator)).obj;
  if (!self) return false;
  link_map* src = nullptr;
  host_definition("malloc", &src);
  // Foreign only if the probe has a malloc of its own that lost: built into a test program
  // without the interposers, the probe simply forwards.
  const bool foreign = src && src != self && own_definition(self, "malloc");
  if (!foreign) src = where(dlsym(RTLD_NEXT, "malloc")).obj;
  if (!src) return false;

  RealAlloc r{};
  take(r.malloc, "malloc", src, foreign);
  take(r.free, "free", src, foreign);
  take(r.calloc, "calloc", src, foreign);
  take(r.realloc, "realloc", src, foreign);
  take(r.posix_memalign, "posix_memalign", src, foreign);
  take(r.aligned_alloc, "aligned_alloc", src, foreign);
  take(r.memalign, "memalign", src, foreign);
  take(r.valloc, "valloc", src, foreign);
  take(r.pvalloc, "pvalloc", src, foreign);
  take(r.malloc_usable_size, "malloc_usable_size", src, foreign);
  if (!r.malloc || !r.free || !r.realloc) return false;

  fill_allocator_gaps(&r);
  if (foreign) remember_path(src);
  *out = r;
  return true;
}

const char* foreign_allocator() { return g_foreign[0] ? g_foreign : nullptr; }

void forget_foreign_allocator() { g_foreign[0] = '\0'; }

void* host_definition(const char* name) {
  link_map* obj = nullptr;
  return host_definition(name, &obj);
}

}  // namespace leakprobe
