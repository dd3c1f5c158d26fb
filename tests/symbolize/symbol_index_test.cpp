// The sorted symbol index must pick the same symbol as libdwfl's own (linear) lookup,
// dwfl_module_addrinfo, for addresses all over real binaries: Debian's stripped mosquitto
// (.dynsym only), libc (with its separate debug info when installed) and the test library.
#include "symbol_index.h"

#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <random>
#include <string>

namespace {

using leakprobe::symbolize::detail::SymbolIndex;

// `min_found`: how many of the sampled addresses must fall in a symbol for the comparison to
// mean something (a stripped binary has gaps where its static functions were).
void expect_same_as_libdwfl(const std::string& path, int min_found) {
  if (access(path.c_str(), R_OK) != 0) GTEST_SKIP() << path << " not installed";
  char* debuginfo_path = nullptr;
  Dwfl_Callbacks callbacks{};
  callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
  callbacks.section_address = dwfl_offline_section_address;
  callbacks.debuginfo_path = &debuginfo_path;
  Dwfl* dwfl = dwfl_begin(&callbacks);
  ASSERT_NE(dwfl, nullptr);
  Dwfl_Module* module = dwfl_report_elf(dwfl, path.c_str(), path.c_str(), -1, 0, true);
  ASSERT_NE(module, nullptr) << dwfl_errmsg(-1);
  dwfl_report_end(dwfl, nullptr, nullptr);

  SymbolIndex index(module);
  ASSERT_GE(index.size(), 2u);

  // Executable segment bounds.
  Dwarf_Addr bias = 0;
  Elf* elf = dwfl_module_getelf(module, &bias);
  ASSERT_NE(elf, nullptr);
  size_t phnum = 0;
  elf_getphdrnum(elf, &phnum);
  uint64_t text_start = 0, text_end = 0;
  for (size_t i = 0; i < phnum; ++i) {
    GElf_Phdr ph;
    if (gelf_getphdr(elf, static_cast<int>(i), &ph) != nullptr && ph.p_type == PT_LOAD &&
        (ph.p_flags & PF_X)) {
      text_start = ph.p_vaddr + bias;
      text_end = ph.p_vaddr + ph.p_filesz + bias;
    }
  }
  ASSERT_LT(text_start, text_end);

  std::mt19937_64 rng(7);
  int found = 0, disagreements = 0;
  const int kSamples = 1000;  // libdwfl scans every symbol per lookup: keep this quick
  for (int i = 0; i < kSamples; ++i) {
    uint64_t address = text_start + rng() % (text_end - text_start);
    GElf_Off offset = 0;
    GElf_Sym sym;
    const char* theirs =
        dwfl_module_addrinfo(module, address, &offset, &sym, nullptr, nullptr, nullptr);
    SymbolIndex::Match ours = index.lookup(address);
    if (theirs != nullptr) ++found;
    const bool same = (theirs == nullptr && ours.name == nullptr) ||
                      (theirs != nullptr && ours.name != nullptr && address - offset == ours.start);
    if (!same) {
      ++disagreements;
      if (disagreements <= 5) {
        ADD_FAILURE() << path << " at 0x" << std::hex << address << ": libdwfl "
                      << (theirs ? theirs : "(none)") << "+0x" << offset << ", index "
                      << (ours.name ? ours.name : "(none)") << " at 0x" << ours.start;
      }
    }
  }
  EXPECT_GE(found, min_found) << "too few addresses had a symbol for the test to mean much";
  EXPECT_EQ(disagreements, 0);
  dwfl_end(dwfl);
}

TEST(SymbolIndex, AgreesWithLibdwflOnMosquitto) {
  expect_same_as_libdwfl("/usr/sbin/mosquitto", 300);
}

TEST(SymbolIndex, AgreesWithLibdwflOnLibc) {
  expect_same_as_libdwfl("/usr/lib/x86_64-linux-gnu/libc.so.6", 300);
}

TEST(SymbolIndex, AgreesWithLibdwflOnStrippedTestLibrary) {
  expect_same_as_libdwfl(TESTLIB_STRIPPED, 50);
}

}  // namespace
