// Unnamed functions in stripped binaries: every address inside a function that has no name
// in the stripped file gets the label "<file>!fn@0x<start>" with the function's true start,
// and a named result is always the true name, never a neighbour's. Ground truth is the
// unstripped file's .symtab (local symbols included); the symbolizer only sees the stripped
// copy (.dynsym + .eh_frame), as with Debian's mosquitto.
#include <cxxabi.h>
#include <fcntl.h>
#include <gelf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "leakprobe/symbolize/symbolizer.h"

using leakprobe::symbolize::Frame;
using leakprobe::symbolize::Symbolizer;

namespace {

struct Function {
  uint64_t start;
  uint64_t end;
  std::string name;  // demangled
};

struct Segment {
  uint64_t vaddr, offset, size;
};

std::string demangled(const char* name) {
  int status = 0;
  char* out = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  if (status != 0 || out == nullptr) return name;
  std::string r(out);
  std::free(out);
  return r;
}

// Sized FUNC symbols of `path`'s .symtab and its executable PT_LOAD segment.
struct Truth {
  std::vector<Function> functions;
  Segment text{};
};

Truth read_truth(const std::string& path) {
  Truth t;
  elf_version(EV_CURRENT);
  const int fd = open(path.c_str(), O_RDONLY);
  EXPECT_GE(fd, 0) << path;
  Elf* elf = elf_begin(fd, ELF_C_READ, nullptr);
  size_t phnum = 0;
  elf_getphdrnum(elf, &phnum);
  for (size_t i = 0; i < phnum; ++i) {
    GElf_Phdr ph;
    if (gelf_getphdr(elf, static_cast<int>(i), &ph) && ph.p_type == PT_LOAD &&
        (ph.p_flags & PF_X)) {
      t.text = {ph.p_vaddr, ph.p_offset, ph.p_filesz};
    }
  }
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(elf, scn)) != nullptr) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; ++i) {
      GElf_Sym sym;
      if (!gelf_getsym(data, static_cast<int>(i), &sym)) continue;
      if (GELF_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_size == 0 || sym.st_shndx == SHN_UNDEF) {
        continue;
      }
      const char* name = elf_strptr(elf, sh.sh_link, sym.st_name);
      t.functions.push_back({sym.st_value, sym.st_value + sym.st_size, demangled(name)});
    }
  }
  elf_end(elf);
  close(fd);
  return t;
}

// All true functions holding `vaddr` (aliases share a range).
std::vector<const Function*> holding(const Truth& t, uint64_t vaddr) {
  std::vector<const Function*> out;
  for (const Function& f : t.functions) {
    if (vaddr >= f.start && vaddr < f.end) out.push_back(&f);
  }
  return out;
}

std::string label(const std::string& module, uint64_t start) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "!fn@0x%llx", static_cast<unsigned long long>(start));
  return module + buf;
}

class UnnamedFunctions : public ::testing::Test {
 protected:
  // A debuginfod server named in the environment must not supply the names under test.
  void SetUp() override { unsetenv("DEBUGINFOD_URLS"); }
};

// Checks every address of `addresses`; returns how many came out as unnamed labels.
int check_addresses(const std::string& unstripped, const std::string& stripped,
                    const std::string& module_name, const std::vector<uint64_t>& addresses) {
  const Truth truth = read_truth(unstripped);
  Symbolizer symbolizer;
  int unnamed = 0;
  for (uint64_t vaddr : addresses) {
    const auto truths = holding(truth, vaddr);
    if (truths.empty()) continue;  // padding between functions
    const uint64_t offset = vaddr - truth.text.vaddr + truth.text.offset;
    const std::vector<Frame> frames = symbolizer.symbolize({stripped, ""}, offset);
    if (frames.empty()) {
      ADD_FAILURE() << "no frame at 0x" << std::hex << vaddr << " (in " << truths[0]->name << ")";
      continue;
    }
    const Frame& f = frames.back();
    if (f.unnamed) {
      ++unnamed;
      bool matches = false;
      for (const Function* t : truths) matches |= f.function == label(module_name, t->start);
      EXPECT_TRUE(matches) << "0x" << std::hex << vaddr << " in " << truths[0]->name << " [0x"
                           << truths[0]->start << ", 0x" << truths[0]->end << ") labelled "
                           << f.function;
    } else {
      bool matches = false;
      for (const Function* t : truths) matches |= f.function == t->name;
      EXPECT_TRUE(matches) << "0x" << std::hex << vaddr << " in " << truths[0]->name << " named "
                           << f.function << ": a wrong name";
    }
  }
  return unnamed;
}

TEST_F(UnnamedFunctions, EveryAddressOfTheTestProgram) {
  const Truth truth = read_truth(STRIPPED_SITES_FULL);
  std::vector<uint64_t> addresses;
  for (uint64_t a = truth.text.vaddr; a < truth.text.vaddr + truth.text.size; ++a) {
    addresses.push_back(a);
  }
  const int unnamed =
      check_addresses(STRIPPED_SITES_FULL, STRIPPED_SITES, "stripped_sites", addresses);
  EXPECT_GT(unnamed, 0);
}

TEST_F(UnnamedFunctions, StaticFunctionsBetweenExportedOnesGetTheirOwnStart) {
  const Truth truth = read_truth(STRIPPED_SITES_FULL);
  std::map<std::string, Function> by_name;
  for (const Function& f : truth.functions) by_name[f.name] = f;
  ASSERT_TRUE(by_name.count("keep_three") && by_name.count("keep_config"));
  Symbolizer symbolizer;
  for (const char* name : {"keep_three", "keep_config"}) {
    const Function& f = by_name[name];
    std::set<std::string> labels;
    for (uint64_t a = f.start; a < f.end; ++a) {
      const auto frames =
          symbolizer.symbolize({STRIPPED_SITES, ""}, a - truth.text.vaddr + truth.text.offset);
      ASSERT_FALSE(frames.empty());
      EXPECT_TRUE(frames.back().unnamed) << name;
      labels.insert(frames.back().function);
    }
    // One label for the whole function: its sites group together.
    ASSERT_EQ(labels.size(), 1u) << name;
    EXPECT_EQ(*labels.begin(), label("stripped_sites", f.start));
  }
  // The exported neighbours keep their .dynsym names.
  for (const char* name : {"retain_before", "retain_store", "retain_after"}) {
    const Function& f = by_name[name];
    const auto frames = symbolizer.symbolize({STRIPPED_SITES, ""},
                                             f.start + 4 - truth.text.vaddr + truth.text.offset);
    ASSERT_FALSE(frames.empty());
    EXPECT_EQ(frames.back().function, name);
    EXPECT_FALSE(frames.back().unnamed);
  }
}

// A large C++ program (this test, with gtest and libstdc++ templates: thousands of local and
// inline functions) stripped: 20000 addresses picked with a fixed seed.
TEST_F(UnnamedFunctions, NeverAWrongNameInAStrippedCxxProgram) {
  const Truth truth = read_truth(SELF_FULL);
  std::mt19937_64 rng(12);
  std::vector<uint64_t> addresses;
  for (int i = 0; i < 20000; ++i) addresses.push_back(truth.text.vaddr + rng() % truth.text.size);
  const int unnamed =
      check_addresses(SELF_FULL, SELF_STRIPPED, "unnamed_functions_test", addresses);
  EXPECT_GT(unnamed, 10000);
}

}  // namespace
