// One ELF object opened for offline lookups: file offsets -> addresses, build-id, libdwfl handle.
#pragma once

#include <elfutils/libdwfl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cu_index.h"
#include "fde_index.h"
#include "symbol_index.h"

namespace leakprobe::symbolize::detail {

class ElfModule {
 public:
  // Opens `file` (already prefixed with the sysroot). Separate debug info is looked up by
  // build-id and .gnu_debuglink in `debug_dirs` and /usr/lib/debug. Returns nullptr and sets
  // `*error` if the file is missing or is not a usable ELF object.
  static std::unique_ptr<ElfModule> open(const std::string& file,
                                         const std::vector<std::string>& debug_dirs,
                                         std::string* error);
  ~ElfModule();
  ElfModule(const ElfModule&) = delete;
  ElfModule& operator=(const ElfModule&) = delete;

  // Lowercase hex NT_GNU_BUILD_ID of the file on disk, empty if it has none.
  const std::string& build_id() const { return build_id_; }

  // The address in libdwfl's address space of the byte at `file_offset`, found through the
  // PT_LOAD program headers (what the kernel mapped at that offset). False if no loadable
  // segment holds that offset.
  bool address_of(uint64_t file_offset, uint64_t* address) const;

  Dwfl_Module* dwfl_module() const { return module_; }
  bool has_debug_info();  // DWARF, in the file or in separate debug info
  bool has_symbols();     // .symtab or .dynsym entries

  // Sorted .symtab/.dynsym, built on the first lookup in this module.
  const SymbolIndex& symbols();
  // Function extents from .eh_frame, built on the first lookup that needs them.
  const FdeIndex& fdes();
  CuIndex* cu_index() { return &cu_index_; }

  // dwfl address - bias = the link-time address that symbol tables, FDEs and objdump use.
  uint64_t bias() const { return bias_; }
  // File name without directories, as labels of unnamed functions print it ("mosquitto").
  const std::string& name() const { return name_; }

 private:
  ElfModule() = default;

  struct Segment {
    uint64_t file_offset;
    uint64_t file_size;
    uint64_t vaddr;
  };

  // libdwfl keeps pointers to both for the lifetime of the Dwfl.
  std::string debuginfo_path_;
  char* debuginfo_path_ptr_ = nullptr;
  Dwfl_Callbacks callbacks_{};

  Dwfl* dwfl_ = nullptr;
  Dwfl_Module* module_ = nullptr;
  uint64_t bias_ = 0;
  std::vector<Segment> segments_;
  std::string build_id_;
  std::string name_;
  std::unique_ptr<SymbolIndex> symbols_;
  std::unique_ptr<FdeIndex> fdes_;
  CuIndex cu_index_;
};

}  // namespace leakprobe::symbolize::detail
