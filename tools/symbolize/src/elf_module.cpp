#include "elf_module.h"

#include <elfutils/libdw.h>
#include <gelf.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace leakprobe::symbolize::detail {

namespace {

std::string hex(const unsigned char* bytes, size_t size) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 0xf]);
  }
  return out;
}

}  // namespace

std::unique_ptr<ElfModule> ElfModule::open(const std::string& file,
                                           const std::vector<std::string>& debug_dirs,
                                           std::string* error) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    *error = std::strerror(errno);
    return nullptr;
  }
  if (!S_ISREG(st.st_mode)) {
    *error = "not a regular file";
    return nullptr;
  }

  std::unique_ptr<ElfModule> m(new ElfModule());
  m->name_ = file.substr(file.rfind('/') + 1);
  // libdwfl's search path syntax: ':'-separated directories; it tries <dir>/.build-id/xx/rest.debug
  // and <dir>/<debuglink> in each. A leading ':' keeps its default of looking beside the file.
  m->debuginfo_path_ = ":";
  for (const std::string& dir : debug_dirs) m->debuginfo_path_ += dir + ":";
  m->debuginfo_path_ += "/usr/lib/debug";
  m->debuginfo_path_ptr_ = m->debuginfo_path_.data();
  m->callbacks_.find_elf = dwfl_build_id_find_elf;
  m->callbacks_.find_debuginfo = dwfl_standard_find_debuginfo;
  m->callbacks_.section_address = dwfl_offline_section_address;
  m->callbacks_.debuginfo_path = &m->debuginfo_path_ptr_;

  m->dwfl_ = dwfl_begin(&m->callbacks_);
  if (m->dwfl_ == nullptr) {
    *error = dwfl_errmsg(-1);
    return nullptr;
  }
  // Base 0 with add_p_vaddr: the module sits at its own link-time addresses (bias 0 for PIE
  // and shared objects), so p_vaddr from the program headers is directly a dwfl address.
  m->module_ = dwfl_report_elf(m->dwfl_, file.c_str(), file.c_str(), -1, 0, true);
  if (m->module_ == nullptr) {
    *error = std::string("not a usable ELF file (") + dwfl_errmsg(-1) + ")";
    return nullptr;
  }
  dwfl_report_end(m->dwfl_, nullptr, nullptr);

  Dwarf_Addr bias = 0;
  Elf* elf = dwfl_module_getelf(m->module_, &bias);
  if (elf == nullptr) {
    *error = std::string("cannot read ELF (") + dwfl_errmsg(-1) + ")";
    return nullptr;
  }
  m->bias_ = bias;

  size_t phnum = 0;
  if (elf_getphdrnum(elf, &phnum) != 0) {
    *error = "no program headers";
    return nullptr;
  }
  for (size_t i = 0; i < phnum; ++i) {
    GElf_Phdr phdr;
    if (gelf_getphdr(elf, static_cast<int>(i), &phdr) == nullptr) continue;
    if (phdr.p_type != PT_LOAD) continue;
    m->segments_.push_back({phdr.p_offset, phdr.p_filesz, phdr.p_vaddr});
  }
  if (m->segments_.empty()) {
    *error = "no loadable segments";
    return nullptr;
  }

  const unsigned char* bits = nullptr;
  GElf_Addr note_vaddr = 0;
  int len = dwfl_module_build_id(m->module_, &bits, &note_vaddr);
  if (len > 0) m->build_id_ = hex(bits, static_cast<size_t>(len));
  return m;
}

ElfModule::~ElfModule() {
  if (dwfl_ != nullptr) dwfl_end(dwfl_);
}

bool ElfModule::address_of(uint64_t file_offset, uint64_t* address) const {
  for (const Segment& s : segments_) {
    if (file_offset >= s.file_offset && file_offset - s.file_offset < s.file_size) {
      *address = file_offset - s.file_offset + s.vaddr + bias_;
      return true;
    }
  }
  return false;
}

bool ElfModule::has_debug_info() {
  Dwarf_Addr bias = 0;
  return dwfl_module_getdwarf(module_, &bias) != nullptr;
}

bool ElfModule::has_symbols() { return dwfl_module_getsymtab(module_) > 0; }

const SymbolIndex& ElfModule::symbols() {
  if (symbols_ == nullptr) symbols_ = std::make_unique<SymbolIndex>(module_);
  return *symbols_;
}

const FdeIndex& ElfModule::fdes() {
  if (fdes_ == nullptr) {
    // The main file, not the separate debug file: .eh_frame is loaded at run time, so
    // strip keeps it (a debug file holds at most an empty NOBITS copy).
    Dwarf_Addr bias = 0;
    fdes_ = std::make_unique<FdeIndex>(dwfl_module_getelf(module_, &bias));
  }
  return *fdes_;
}

}  // namespace leakprobe::symbolize::detail
