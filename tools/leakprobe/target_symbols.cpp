#include "leakprobe/cli/target_symbols.h"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "leakprobe/cli/mapped_file.h"

namespace leakprobe::cli {

std::vector<MapEntry> parse_maps(const std::string& text) {
  std::vector<MapEntry> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    MapEntry e;
    char perms[8] = {};
    unsigned long long start = 0, end = 0, offset = 0;
    int path_at = -1;
    if (std::sscanf(line.c_str(), "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &offset,
                    &path_at) < 4)
      continue;
    e.start = start;
    e.end = end;
    e.offset = offset;
    e.perms = perms;
    if (path_at > 0 && static_cast<size_t>(path_at) <= line.size()) e.path = line.substr(path_at);
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<MapEntry> read_maps(pid_t pid, std::string& error) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/maps");
  std::ostringstream s;
  s << in.rdbuf();
  if (!in || s.str().empty()) {
    error = "cannot read /proc/" + std::to_string(pid) + "/maps";
    return {};
  }
  return parse_maps(s.str());
}

ElfImage read_elf_image(const std::string& path) {
  ElfImage image;
  MappedFile file(path);
  if (!file.error().empty()) {
    image.error = path + ": " + file.error();
    return image;
  }
  const auto* eh = file.at<Elf64_Ehdr>(0);
  if (!eh || std::memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
      eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_phentsize != sizeof(Elf64_Phdr) ||
      eh->e_shentsize != sizeof(Elf64_Shdr)) {
    image.error = path + ": not a 64-bit ELF file";
    return image;
  }
  bool any_load = false;
  for (uint64_t i = 0; i < eh->e_phnum; ++i) {
    const auto* ph = file.at<Elf64_Phdr>(eh->e_phoff + i * sizeof(Elf64_Phdr));
    if (!ph || ph->p_type != PT_LOAD) continue;
    const uint64_t v = ph->p_vaddr & ~uint64_t{0xfff};
    if (!any_load || v < image.first_vaddr) image.first_vaddr = v;
    any_load = true;
    image.loads.push_back({ph->p_vaddr, ph->p_memsz});
  }
  if (!any_load) {
    image.error = path + ": no loadable segment";
    return image;
  }
  auto section = [&](uint64_t i) {
    return i < eh->e_shnum ? file.at<Elf64_Shdr>(eh->e_shoff + i * sizeof(Elf64_Shdr)) : nullptr;
  };
  const Elf64_Shdr* dynsym = nullptr;
  const Elf64_Shdr* versym = nullptr;
  for (uint64_t i = 0; i < eh->e_shnum; ++i) {
    const Elf64_Shdr* sh = section(i);
    if (!sh) break;
    if (sh->sh_type == SHT_DYNSYM && sh->sh_entsize == sizeof(Elf64_Sym)) dynsym = sh;
    if (sh->sh_type == SHT_GNU_versym) versym = sh;
  }
  if (!dynsym) {
    image.error = path + ": no dynamic symbol table";
    return image;
  }
  const Elf64_Shdr* strings = section(dynsym->sh_link);
  if (!strings || !file.in_bounds(dynsym->sh_offset, dynsym->sh_size)) {
    image.error = path + ": a broken dynamic symbol table";
    return image;
  }
  const uint64_t count = dynsym->sh_size / sizeof(Elf64_Sym);
  for (uint64_t k = 0; k < count; ++k) {
    const auto* sym = file.at<Elf64_Sym>(dynsym->sh_offset + k * sizeof(Elf64_Sym));
    if (!sym || sym->st_name == 0 || sym->st_shndx == SHN_UNDEF) continue;
    const int type = ELF64_ST_TYPE(sym->st_info);
    if (type != STT_FUNC && type != STT_GNU_IFUNC) continue;
    ElfFunction f;
    f.name = file.string_at(strings->sh_offset, strings->sh_size, sym->st_name);
    if (f.name.empty()) continue;
    f.value = sym->st_value;
    f.size = sym->st_size;
    // An IFUNC's value is its resolver, not the function: fine for a range, wrong to call.
    if (type == STT_GNU_IFUNC) f.name += "@ifunc";
    if (versym) {
      const auto* v = file.at<uint16_t>(versym->sh_offset + k * sizeof(uint16_t));
      f.default_version = !v || (*v & 0x8000) == 0;
    }
    image.functions.push_back(std::move(f));
  }
  image.ok = true;
  return image;
}

uint64_t LoadedModule::address_of(const std::string& name) const {
  uint64_t fallback = 0;
  for (const auto& f : functions) {
    if (f.name != name) continue;
    if (f.default_version) return f.value;
    if (!fallback) fallback = f.value;
  }
  return fallback;
}

LoadedModule load_module(pid_t pid, const std::vector<MapEntry>& maps, const std::string& path) {
  LoadedModule m;
  m.path = path;
  uint64_t first_start = 0;
  bool found = false;
  for (const auto& e : maps) {
    if (e.path != path) continue;
    if (e.offset == 0 && !found) {
      first_start = e.start;
      found = true;
    }
    if (e.perms.size() > 2 && e.perms[2] == 'x') m.text.push_back({e.start, e.end, path});
  }
  if (!found) {
    m.error = path + " is not mapped in pid " + std::to_string(pid);
    return m;
  }
  ElfImage image = read_elf_image("/proc/" + std::to_string(pid) + "/root" + path);
  if (!image.ok) {
    m.error = image.error;
    return m;
  }
  m.base = first_start - image.first_vaddr;
  for (const auto& t : m.text) {
    // Past the end of whatever segment ends inside this mapping, up to the mapping's end,
    // unless another segment lies there.
    for (const auto& l : image.loads) {
      const uint64_t end = m.base + l.vaddr + l.memsz;
      if (end <= t.lo || end >= t.hi) continue;
      const uint64_t lo = (end + 15) & ~uint64_t{15};
      bool covered = false;
      for (const auto& o : image.loads) {
        const uint64_t olo = m.base + o.vaddr, ohi = olo + o.memsz;
        covered = covered || (olo < t.hi && ohi > lo);
      }
      if (!covered && lo < t.hi) m.code_slack.push_back({lo, t.hi, path});
    }
  }
  for (auto& f : image.functions) {
    f.value += m.base;
    m.functions.push_back(std::move(f));
  }
  m.ok = true;
  return m;
}

AddressRange allocator_text(const std::vector<ElfFunction>& functions, const std::string& module) {
  static const std::set<std::string> kAllocator = {"malloc",          "free",
                                                   "calloc",          "realloc",
                                                   "reallocarray",    "memalign",
                                                   "posix_memalign",  "aligned_alloc",
                                                   "valloc",          "pvalloc",
                                                   "cfree",           "malloc_usable_size",
                                                   "malloc_trim",     "mallopt",
                                                   "mallinfo",        "mallinfo2",
                                                   "malloc_stats",    "malloc_info",
                                                   "__libc_malloc",   "__libc_free",
                                                   "__libc_calloc",   "__libc_realloc",
                                                   "__libc_memalign", "__libc_valloc",
                                                   "__libc_pvalloc",  "__libc_mallinfo",
                                                   "__libc_mallopt",  "__default_morecore"};
  uint64_t lo = UINT64_MAX, hi = 0;
  for (const auto& f : functions) {
    if (!kAllocator.count(f.name)) continue;
    lo = std::min(lo, f.value);
    hi = std::max(hi, f.value + std::max<uint64_t>(f.size, 1));
  }
  if (lo == UINT64_MAX) return {};
  uint64_t before = 0, after = UINT64_MAX;
  for (const auto& f : functions) {
    if (kAllocator.count(f.name)) continue;
    const uint64_t end = f.value + f.size;
    if (f.value < lo && end <= lo) before = std::max(before, end);
    if (f.value >= hi) after = std::min(after, f.value);
  }
  if (before == 0) before = lo;
  if (after == UINT64_MAX) after = hi;
  return {before, after, "malloc (" + module + ")"};
}

}  // namespace leakprobe::cli
