#include "source_frames.h"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>

#include <cstdlib>
#include <cstring>

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
  if (files != nullptr && dwarf_formudata(dwarf_attr(inlined, DW_AT_call_file, &attr), &value) == 0 &&
      value < nfiles) {
    const char* file = dwarf_filesrc(files, value, nullptr, nullptr);
    if (file != nullptr) frame->file = file;
  }
  if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_line, &attr), &value) == 0) {
    frame->line = static_cast<int>(value);
  }
}

std::vector<Frame> dwarf_frames(Dwfl_Module* module, uint64_t address) {
  std::vector<Frame> frames;
  Dwarf_Addr bias = 0;
  Dwarf_Die* cudie = dwfl_module_addrdie(module, address, &bias);
  if (cudie == nullptr) return frames;

  // dwarf_getscopes finds the innermost scope but, past an inlined instance, continues into the
  // inlinee's abstract definition; dwarf_getscopes_die on that innermost DIE gives the concrete
  // nesting (inlined instance -> caller -> ... -> subprogram), which is the chain we print.
  Dwarf_Die* scopes = nullptr;
  int nscopes = dwarf_getscopes(cudie, address - bias, &scopes);
  if (nscopes <= 0) {
    std::free(scopes);
    return frames;
  }
  Dwarf_Die innermost = scopes[0];
  std::free(scopes);
  scopes = nullptr;
  nscopes = dwarf_getscopes_die(&innermost, &scopes);
  if (nscopes <= 0) {
    std::free(scopes);
    return frames;
  }

  Dwarf_Files* files = nullptr;
  size_t nfiles = 0;
  if (dwarf_getsrcfiles(cudie, &files, &nfiles) != 0) files = nullptr;

  Dwarf_Die* previous = nullptr;  // the inlined instance just inside the current frame
  for (int i = 0; i < nscopes; ++i) {
    Dwarf_Die* die = &scopes[i];
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
  std::free(scopes);
  return frames;
}

}  // namespace

std::vector<Frame> source_frames(Dwfl_Module* module, const SymbolIndex& symbols,
                                 uint64_t address) {
  std::vector<Frame> frames = dwarf_frames(module, address);

  // .symtab/.dynsym: the only names in a stripped binary (mosquitto exports its functions),
  // and a fallback for DWARF subprograms without a name.
  if (frames.empty() || frames.back().function.empty()) {
    const char* name = symbols.lookup(address).name;
    if (name != nullptr) {
      if (frames.empty()) {
        Frame frame;
        frame.function = demangle(name);
        line_of(module, address, &frame);
        frames.push_back(std::move(frame));
      } else {
        frames.back().function = demangle(name);
      }
    } else if (frames.empty()) {
      Frame frame;
      line_of(module, address, &frame);
      if (!frame.file.empty()) frames.push_back(std::move(frame));
    }
  }
  return frames;
}

}  // namespace leakprobe::symbolize::detail
