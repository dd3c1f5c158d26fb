// Where things are inside another process: its mappings, and the addresses of functions in the
// modules it has loaded, read from those modules' own files (through /proc/PID/root, so a
// process in another mount namespace is read from its files, not ours) plus the load base in
// /proc/PID/maps. Never an offset borrowed from our own C library: the target's may differ.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace leakprobe::cli {

struct MapEntry {
  uint64_t start = 0, end = 0, offset = 0;
  std::string perms;  // "r-xp"
  std::string path;   // "" for anonymous memory, "[stack]", or a file path
};
std::vector<MapEntry> parse_maps(const std::string& text);
std::vector<MapEntry> read_maps(pid_t pid, std::string& error);

struct ElfFunction {
  std::string name;  // without its version ("dlopen", not "dlopen@@GLIBC_2.34")
  uint64_t value = 0, size = 0;
  bool default_version = true;  // false for a hidden compatibility version (name@VER)
};

// The defined functions of a shared object's dynamic symbol table, and the lowest address its
// PT_LOAD segments ask for (page-aligned), which the load base is measured from.
struct ElfImage {
  bool ok = false;
  std::string error;
  std::vector<ElfFunction> functions;
  uint64_t first_vaddr = 0;
  struct Load {
    uint64_t vaddr = 0, memsz = 0;  // [vaddr, vaddr + memsz), unrelocated
  };
  std::vector<Load> loads;  // every PT_LOAD segment
};
ElfImage read_elf_image(const std::string& path);

struct AddressRange {
  uint64_t lo = 0, hi = 0;  // [lo, hi)
  std::string what;         // for messages: "malloc (libc.so.6)"
  // Unsafe only to be executing in, not to have on the stack: the probe's own threads always
  // have its frames there, waiting in a system call without a lock held.
  bool rip_only = false;
  // Unsafe on the stack of a thread in any system call, even one that only waits: the loader
  // holds its lock while a constructor it runs waits in whatever call it likes. Every other
  // range is never on the way to a pure wait (epoll_wait, accept, nanosleep, ...), so a word
  // pointing into it from such a thread's stack is stale (a slot of a live frame that an
  // earlier call wrote and nothing overwrote), not a call in progress.
  bool held_across_waits = false;
  bool contains(uint64_t a) const { return a >= lo && a < hi; }
};

// The module `path` (as /proc/PID/maps names it) as loaded in the target: its base and its
// functions at their run-time addresses.
struct LoadedModule {
  bool ok = false;
  std::string error;
  std::string path;
  uint64_t base = 0;
  std::vector<ElfFunction> functions;  // value = run-time address
  std::vector<AddressRange> text;      // its executable mappings
  // Bytes of its executable mappings that no segment covers (the tail of the last page of its
  // code, after the segment ends): mapped executable, never executed, never read.
  std::vector<AddressRange> code_slack;
  uint64_t address_of(const std::string& name) const;  // 0 if absent
};
LoadedModule load_module(pid_t pid, const std::vector<MapEntry>& maps, const std::string& path);

// glibc compiles its whole allocator (malloc.c, with arena.c, hooks.c and morecore.c included)
// as one object, so its private functions (_int_malloc, _int_free, sysmalloc...) lie in one run
// of .text together with the exported ones. The range returned is that run, widened to the
// nearest exported function that is not the allocator's on either side: a little too wide is
// safe (a thread there is only waited for), too narrow is not. Empty if no malloc is defined.
AddressRange allocator_text(const std::vector<ElfFunction>& functions, const std::string& module);

}  // namespace leakprobe::cli
