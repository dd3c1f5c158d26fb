#include "source_frames.h"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cu_index.h"
#include "elf_module.h"

namespace leakprobe::symbolize::detail {

std::string demangle(const char* name) {
  if (name == nullptr) return {};
  if (name[0] != '_' || name[1] != 'Z') return name;
  int status = 0;
  char* out = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  if (status != 0 || out == nullptr) return name;
  std::string result(out);
  std::free(out);
  return result;
}

namespace {

bool is_function(Dwarf_Die* die) {
  int tag = dwarf_tag(die);
  return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine;
}

// The linkage name demangles to the qualified name ("ns::Class::method(int)"); DW_AT_name
// alone would lose the namespace. Both are looked up through abstract_origin/specification,
// which is where inlined instances and out-of-class definitions keep them.
std::string function_name(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  const char* name = nullptr;
  if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) != nullptr ||
      dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr) != nullptr) {
    name = dwarf_formstring(&attr);
  }
  if (name == nullptr && dwarf_attr_integrate(die, DW_AT_name, &attr) != nullptr) {
    name = dwarf_formstring(&attr);
  }
  return demangle(name);
}

void line_of(Dwfl_Module* module, uint64_t address, Frame* frame) {
  Dwfl_Line* line = dwfl_module_getsrc(module, address);
  if (line == nullptr) return;
  int lineno = 0;
  const char* file = dwfl_lineinfo(line, nullptr, &lineno, nullptr, nullptr, nullptr);
  if (file != nullptr) frame->file = file;
  frame->line = lineno;
}

// Where an inlined instance was called from: DW_AT_call_file indexes the CU's file table.
void call_site_of(Dwarf_Die* inlined, Dwarf_Files* files, size_t nfiles, Frame* frame) {
  Dwarf_Attribute attr;
  Dwarf_Word value = 0;
  if (files != nullptr &&
      dwarf_formudata(dwarf_attr(inlined, DW_AT_call_file, &attr), &value) == 0 && value < nfiles) {
    const char* file = dwarf_filesrc(files, value, nullptr, nullptr);
    if (file != nullptr) frame->file = file;
  }
  if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_line, &attr), &value) == 0) {
    frame->line = static_cast<int>(value);
  }
}

// Appends to `chain`, outermost first, the scopes under `parent` that contain `pc`: a single
// walk that only enters scopes holding pc (and namespaces/classes/imported units, which own
// code without having addresses). dwarf_getscopes + dwarf_getscopes_die did the same in two
// walks of the whole CU, plus a third for the abstract origin of an inlined instance; this
// was the bulk of the symbolizer's time on libc with debug info.
// `imported` lists the units already entered through DW_AT_import during this lookup: each is
// walked at most once, so corrupt or cyclic imports cannot make the walk loop or explode.
bool find_scopes(Dwarf_Die* parent, Dwarf_Addr pc, int depth, std::vector<Dwarf_Die>* chain,
                 std::vector<Dwarf_Off>* imported) {
  // Bounded recursion for deeply nested (or corrupt) DWARF.
  if (depth > 64) return false;
  Dwarf_Die child;
  if (dwarf_child(parent, &child) != 0) return false;
  do {
    const int tag = dwarf_tag(&child);
    if (is_code_scope(tag)) {
      if (dwarf_haspc(&child, pc) == 1) {
        chain->push_back(child);
        find_scopes(&child, pc, depth + 1, chain, imported);
        return true;
      }
      continue;  // to the next sibling
    }
    switch (tag) {
      case DW_TAG_namespace:
      case DW_TAG_class_type:
      case DW_TAG_structure_type:
        if (find_scopes(&child, pc, depth + 1, chain, imported)) return true;
        break;
      case DW_TAG_imported_unit: {
        Dwarf_Attribute attr;
        Dwarf_Die unit;
        if (dwarf_formref_die(dwarf_attr(&child, DW_AT_import, &attr), &unit) == nullptr) break;
        const Dwarf_Off offset = dwarf_dieoffset(&unit);
        if (std::find(imported->begin(), imported->end(), offset) != imported->end()) break;
        imported->push_back(offset);
        if (find_scopes(&unit, pc, depth + 1, chain, imported)) return true;
        break;
      }
      default:
        break;
    }
  } while (dwarf_siblingof(&child, &child) == 0);
  return false;
}

std::vector<Frame> dwarf_frames(Dwfl_Module* module, CuIndex* cu_index, uint64_t address) {
  std::vector<Frame> frames;
  Dwarf_Addr bias = 0;
  Dwarf_Die* cudie = dwfl_module_addrdie(module, address, &bias);
  if (cudie == nullptr) return frames;

  // The CU index finds the function; only its own nested scopes are walked per address.
  std::vector<Dwarf_Die> chain;
  Dwarf_Die top;
  if (!cu_index->find(cudie, address - bias, &top)) return frames;
  chain.push_back(top);
  std::vector<Dwarf_Off> imported;
  find_scopes(&top, address - bias, 1, &chain, &imported);

  Dwarf_Files* files = nullptr;
  size_t nfiles = 0;
  if (dwarf_getsrcfiles(cudie, &files, &nfiles) != 0) files = nullptr;

  // Innermost first: the innermost function scope gets the line table's file:line; each
  // outer one gets the call site recorded on the inlined instance just inside it.
  Dwarf_Die* previous = nullptr;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    Dwarf_Die* die = &*it;
    if (!is_function(die)) continue;
    Frame frame;
    frame.function = function_name(die);
    if (previous == nullptr) {
      line_of(module, address, &frame);
    } else {
      call_site_of(previous, files, nfiles, &frame);
    }
    frame.inlined = dwarf_tag(die) == DW_TAG_inlined_subroutine;
    frames.push_back(std::move(frame));
    if (!frames.back().inlined) break;
    previous = die;
  }
  return frames;
}

// The .symtab/.dynsym name of the function holding `address`, or nullptr. A label without a
// size (an assembly symbol) is only believed when it starts inside the FDE that covers the
// address: in a stripped binary the nearest symbol below a static function is a neighbour.
const char* symbol_name(ElfModule& elf, uint64_t address) {
  const SymbolIndex::Match match = elf.symbols().lookup(address);
  if (match.name == nullptr || match.sized) return match.name;
  FdeIndex::Range function;
  if (elf.fdes().find(address - elf.bias(), &function) &&
      match.start - elf.bias() < function.start) {
    return nullptr;
  }
  return match.name;
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

std::string unnamed_function_label(const std::string& module_name, uint64_t start) {
  return module_name + "!fn@" + hex(start);
}

std::vector<Frame> source_frames(ElfModule& elf, uint64_t address) {
  Dwfl_Module* module = elf.dwfl_module();
  std::vector<Frame> frames = dwarf_frames(module, elf.cu_index(), address);
  if (!frames.empty() && !frames.back().function.empty()) return frames;

  // .symtab/.dynsym: the only names in a stripped binary (mosquitto exports its functions),
  // and a fallback for DWARF subprograms without a name.
  std::string name;
  bool unnamed = false;
  if (const char* symbol = symbol_name(elf, address)) {
    name = demangle(symbol);
  } else {
    // No name anywhere: a static function of a stripped binary. Its FDE says where it starts,
    // which is a stable name for it across runs and builds-with-the-same-id.
    FdeIndex::Range function;
    if (elf.fdes().find(address - elf.bias(), &function)) {
      name = unnamed_function_label(elf.name(), function.start);
      unnamed = true;
    }
  }
  if (frames.empty()) {
    Frame frame;
    frame.function = std::move(name);
    frame.unnamed = unnamed;
    line_of(module, address, &frame);
    if (!frame.function.empty() || !frame.file.empty()) frames.push_back(std::move(frame));
  } else {
    frames.back().function = std::move(name);
    frames.back().unnamed = unnamed;
  }
  return frames;
}

}  // namespace leakprobe::symbolize::detail
