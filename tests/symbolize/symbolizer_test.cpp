// The symbolizer against a real shared library built with -g (testlib.cpp): function names,
// file:line, an inlined frame, .dynsym-only names from a stripped copy, separate debug info,
// sysroot, and the warnings (missing file, build-id mismatch, no debug info). Addresses come
// from return addresses captured at run time and are turned into file offsets through
// /proc/self/maps, exactly as a snapshot reader does.
#include "leakprobe/symbolize/symbolizer.h"

#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <gelf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "testlib.h"

namespace fs = std::filesystem;
using leakprobe::symbolize::Frame;
using leakprobe::symbolize::ModuleRef;
using leakprobe::symbolize::Options;
using leakprobe::symbolize::Symbolizer;
using leakprobe::symbolize::Warning;

namespace {

void* g_return_address = nullptr;

__attribute__((noinline)) int record_caller(int x) {
  g_return_address = __builtin_return_address(0);
  return x;
}

struct Location {
  std::string path;
  uint64_t offset = 0;
};

// pc -> (mapped file, file offset) via /proc/self/maps: offset = pc - start + mapping offset.
Location locate(uintptr_t pc) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream in(line);
    std::string range, perms, offset, dev, inode, path;
    in >> range >> perms >> offset >> dev >> inode >> path;
    auto dash = range.find('-');
    uintptr_t start = std::stoull(range.substr(0, dash), nullptr, 16);
    uintptr_t end = std::stoull(range.substr(dash + 1), nullptr, 16);
    if (pc >= start && pc < end) return {path, pc - start + std::stoull(offset, nullptr, 16)};
  }
  return {};
}

// Return address captured inside `caller`, minus one (the call instruction), as a location.
Location call_site_in(int (*caller)(leakprobe_test::Callback, int)) {
  g_return_address = nullptr;
  caller(record_caller, 1);
  EXPECT_NE(g_return_address, nullptr);
  return locate(reinterpret_cast<uintptr_t>(g_return_address) - 1);
}

int marked_line(const std::string& marker) {
  std::ifstream source(TESTLIB_SOURCE);
  std::string line;
  for (int number = 1; std::getline(source, line); ++number) {
    if (line.find("// MARK:" + marker) != std::string::npos) return number;
  }
  ADD_FAILURE() << "marker " << marker << " not in " << TESTLIB_SOURCE;
  return -1;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

std::string build_id_of(const std::string& path) {
  std::string out;
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return out;
  elf_version(EV_CURRENT);
  Elf* elf = elf_begin(fd, ELF_C_READ, nullptr);
  const void* bits = nullptr;
  ssize_t len = elf != nullptr ? dwelf_elf_gnu_build_id(elf, &bits) : -1;
  for (ssize_t i = 0; i < len; ++i) {
    char byte[3];
    snprintf(byte, sizeof byte, "%02x", static_cast<const unsigned char*>(bits)[i]);
    out += byte;
  }
  if (elf != nullptr) elf_end(elf);
  ::close(fd);
  return out;
}

bool contains(const std::vector<Warning>& warnings, const std::string& text) {
  for (const auto& w : warnings) {
    if (message(w).find(text) != std::string::npos) return true;
  }
  return false;
}

class SymbolizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/leakprobe-symbolize-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    tmp_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(tmp_, ec);
  }
  fs::path tmp_;
};

TEST_F(SymbolizerTest, NamesFunctionFileAndLine) {
  Location where = call_site_in(leakprobe_test::direct_caller);
  ASSERT_TRUE(ends_with(where.path, "libsymbolize_testlib.so")) << where.path;
  Symbolizer symbolizer;
  std::vector<Frame> frames = symbolizer.symbolize({where.path, ""}, where.offset);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(starts_with(frames[0].function, "leakprobe_test::direct_caller("))
      << frames[0].function;
  EXPECT_TRUE(ends_with(frames[0].file, "tests/symbolize/testlib.cpp")) << frames[0].file;
  EXPECT_EQ(frames[0].line, marked_line("direct_call"));
  EXPECT_FALSE(frames[0].inlined);
  EXPECT_TRUE(symbolizer.take_warnings().empty());
}

TEST_F(SymbolizerTest, InlinedHelperIsItsOwnFrame) {
  Location where = call_site_in(leakprobe_test::inlining_caller);
  Symbolizer symbolizer;
  std::vector<Frame> frames = symbolizer.symbolize({where.path, ""}, where.offset);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_NE(frames[0].function.find("inlined_helper"), std::string::npos) << frames[0].function;
  EXPECT_TRUE(frames[0].inlined);
  EXPECT_EQ(frames[0].line, marked_line("inlined_call"));
  EXPECT_TRUE(ends_with(frames[0].file, "testlib.cpp")) << frames[0].file;
  EXPECT_TRUE(starts_with(frames[1].function, "leakprobe_test::inlining_caller("))
      << frames[1].function;
  EXPECT_FALSE(frames[1].inlined);
  EXPECT_EQ(frames[1].line, marked_line("helper_call"));
  EXPECT_TRUE(ends_with(frames[1].file, "testlib.cpp")) << frames[1].file;
}

TEST_F(SymbolizerTest, CachedLookupGivesTheSameFrames) {
  Location where = call_site_in(leakprobe_test::inlining_caller);
  Symbolizer symbolizer;
  std::vector<Frame> first = symbolizer.symbolize({where.path, ""}, where.offset);
  Location other = call_site_in(leakprobe_test::direct_caller);
  symbolizer.symbolize({other.path, ""}, other.offset);
  std::vector<Frame> again = symbolizer.symbolize({where.path, ""}, where.offset);
  ASSERT_EQ(first.size(), again.size());
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(first[i].function, again[i].function);
    EXPECT_EQ(first[i].file, again[i].file);
    EXPECT_EQ(first[i].line, again[i].line);
    EXPECT_EQ(first[i].inlined, again[i].inlined);
  }
}

TEST_F(SymbolizerTest, StrippedCopyStillNamesExportedFunctionsFromDynsym) {
  Location where = call_site_in(leakprobe_test::direct_caller);
  Symbolizer symbolizer;
  std::vector<Frame> frames = symbolizer.symbolize({TESTLIB_STRIPPED, ""}, where.offset);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(starts_with(frames[0].function, "leakprobe_test::direct_caller("))
      << frames[0].function;
  EXPECT_EQ(frames[0].file, "");
  EXPECT_EQ(frames[0].line, 0);
  auto warnings = symbolizer.take_warnings();
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].kind, Warning::Kind::kNoDebugInfo);
  EXPECT_EQ(warnings[0].path, TESTLIB_STRIPPED);
  EXPECT_EQ(message(warnings[0]), std::string("no debug info for ") + TESTLIB_STRIPPED +
                                      ": function names only, no file:line");
}

TEST_F(SymbolizerTest, SeparateDebugInfoIsFoundByBuildIdInDebugDirs) {
  std::string build_id = build_id_of(TESTLIB_STRIPPED);
  ASSERT_GT(build_id.size(), 2u);
  fs::path target = tmp_ / ".build-id" / build_id.substr(0, 2) / (build_id.substr(2) + ".debug");
  fs::create_directories(target.parent_path());
  fs::copy_file(TESTLIB_DEBUG, target);

  Location where = call_site_in(leakprobe_test::direct_caller);
  Options options;
  options.debug_dirs.push_back(tmp_.string());
  Symbolizer symbolizer(options);
  std::vector<Frame> frames = symbolizer.symbolize({TESTLIB_STRIPPED, build_id}, where.offset);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(starts_with(frames[0].function, "leakprobe_test::direct_caller("))
      << frames[0].function;
  EXPECT_EQ(frames[0].line, marked_line("direct_call"));
  EXPECT_TRUE(symbolizer.take_warnings().empty());
}

TEST_F(SymbolizerTest, SysrootIsPrefixedToModulePaths) {
  Location where = call_site_in(leakprobe_test::direct_caller);
  fs::path copy = tmp_ / fs::path(where.path).relative_path();
  fs::create_directories(copy.parent_path());
  fs::copy_file(where.path, copy);

  Options options;
  options.sysroot = tmp_.string() + "/";
  Symbolizer symbolizer(options);
  std::vector<Frame> frames = symbolizer.symbolize({where.path, ""}, where.offset);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].line, marked_line("direct_call"));

  // A module absent from the sysroot is missing, even if it exists on this machine.
  std::vector<Frame> none =
      symbolizer.symbolize({"/usr/lib/x86_64-linux-gnu/libc.so.6", ""}, 0x1000);
  EXPECT_TRUE(none.empty());
  EXPECT_TRUE(contains(symbolizer.take_warnings(),
                       "cannot read " + tmp_.string() + "/usr/lib/x86_64-linux-gnu/libc.so.6"));
}

TEST_F(SymbolizerTest, MissingFileWarnsOnceAndGivesNoFrames) {
  Symbolizer symbolizer;
  const std::string path = (tmp_ / "gone" / "libgone.so").string();
  EXPECT_TRUE(symbolizer.symbolize({path, ""}, 0x1234).empty());
  EXPECT_TRUE(symbolizer.symbolize({path, ""}, 0x5678).empty());
  auto warnings = symbolizer.take_warnings();
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].kind, Warning::Kind::kUnreadable);
  EXPECT_EQ(
      message(warnings[0]),
      "cannot read " + path + ": No such file or directory; its frames are shown as module+offset");
  EXPECT_TRUE(symbolizer.take_warnings().empty());
}

TEST_F(SymbolizerTest, BuildIdMismatchWarnsButStillSymbolizes) {
  Location where = call_site_in(leakprobe_test::direct_caller);
  const std::string actual = build_id_of(where.path);
  ASSERT_FALSE(actual.empty());

  Symbolizer symbolizer;
  EXPECT_EQ(symbolizer.symbolize({where.path, actual}, where.offset).size(), 1u);
  EXPECT_TRUE(symbolizer.take_warnings().empty());

  std::vector<Frame> frames = symbolizer.symbolize({where.path, "00112233"}, where.offset);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(starts_with(frames[0].function, "leakprobe_test::direct_caller("));
  auto warnings = symbolizer.take_warnings();
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].kind, Warning::Kind::kBuildIdMismatch);
  EXPECT_EQ(warnings[0].snapshot_build_id, "00112233");
  EXPECT_EQ(warnings[0].file_build_id, actual);
  EXPECT_EQ(message(warnings[0]), "build-id mismatch for " + where.path +
                                      ": snapshot 00112233, file " + actual +
                                      "; symbols may be wrong");
}

TEST_F(SymbolizerTest, UppercaseRecordedBuildIdIsNotAMismatch) {
  Location where = call_site_in(leakprobe_test::direct_caller);
  std::string upper = build_id_of(where.path);
  ASSERT_FALSE(upper.empty());
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  Symbolizer symbolizer;
  EXPECT_EQ(symbolizer.symbolize({where.path, upper}, where.offset).size(), 1u);
  EXPECT_TRUE(symbolizer.take_warnings().empty());
}

TEST_F(SymbolizerTest, DeletedMappingUsesTheFileNowAtThatPath) {
  Location where = call_site_in(leakprobe_test::direct_caller);
  Symbolizer symbolizer;
  std::vector<Frame> frames = symbolizer.symbolize({where.path + " (deleted)", ""}, where.offset);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].line, marked_line("direct_call"));
}

TEST_F(SymbolizerTest, PseudoMappingsGiveNoFramesAndNoWarning) {
  Symbolizer symbolizer;
  EXPECT_TRUE(symbolizer.symbolize({"[vdso]", ""}, 0x10).empty());
  EXPECT_TRUE(symbolizer.symbolize({"linux-vdso.so.1", "ab"}, 0x10).empty());
  EXPECT_TRUE(symbolizer.take_warnings().empty());
}

TEST_F(SymbolizerTest, OffsetOutsideEveryLoadSegmentGivesNoFrames) {
  Location where = call_site_in(leakprobe_test::direct_caller);
  Symbolizer symbolizer;
  EXPECT_TRUE(symbolizer.symbolize({where.path, ""}, 0x7fffffffffffULL).empty());
  EXPECT_TRUE(symbolizer.symbolize({"", ""}, 0x10).empty());
}

TEST_F(SymbolizerTest, MosquittoDynsymNamesComeOut) {
  const char* mosquitto = "/usr/sbin/mosquitto";
  if (access(mosquitto, R_OK) != 0) GTEST_SKIP() << "mosquitto not installed";
  // mosquitto exports mosquitto_broker_publish for plugins; find it in .dynsym ourselves.
  int fd = ::open(mosquitto, O_RDONLY);
  ASSERT_GE(fd, 0);
  elf_version(EV_CURRENT);
  Elf* elf = elf_begin(fd, ELF_C_READ, nullptr);
  ASSERT_NE(elf, nullptr);
  uint64_t value = 0;
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr shdr;
    gelf_getshdr(scn, &shdr);
    if (shdr.sh_type != SHT_DYNSYM) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    for (size_t i = 0; i < shdr.sh_size / shdr.sh_entsize; ++i) {
      GElf_Sym sym;
      gelf_getsym(data, static_cast<int>(i), &sym);
      const char* name = elf_strptr(elf, shdr.sh_link, sym.st_name);
      if (name != nullptr && std::string(name) == "mosquitto_broker_publish") value = sym.st_value;
    }
  }
  uint64_t offset = 0;
  size_t phnum = 0;
  elf_getphdrnum(elf, &phnum);
  for (size_t i = 0; i < phnum; ++i) {
    GElf_Phdr phdr;
    gelf_getphdr(elf, static_cast<int>(i), &phdr);
    if (phdr.p_type == PT_LOAD && value >= phdr.p_vaddr && value < phdr.p_vaddr + phdr.p_filesz) {
      offset = value - phdr.p_vaddr + phdr.p_offset;
    }
  }
  elf_end(elf);
  ::close(fd);
  ASSERT_NE(offset, 0u);

  Symbolizer symbolizer;
  std::vector<Frame> frames = symbolizer.symbolize({mosquitto, ""}, offset + 4);
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames.back().function, "mosquitto_broker_publish");
}

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST_F(SymbolizerTest, GarbageAndTruncatedFilesNeverCrash) {
  Location where = call_site_in(leakprobe_test::direct_caller);
  const std::string good = read_file(where.path);
  ASSERT_GT(good.size(), 4096u);

  std::vector<std::pair<std::string, std::string>> cases = {
      {"empty.so", ""},
      {"text.so", "this is not an ELF file\n"},
      {"magic-only.so",
       "\x7f"
       "ELF"},
      {"header-only.so", good.substr(0, 64)},
      {"first-kb.so", good.substr(0, 1024)},
      {"half.so", good.substr(0, good.size() / 2)},
      {"all-but-last.so", good.substr(0, good.size() - 1)},
  };
  std::mt19937 rng(12345);
  std::string noise(8192, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  cases.emplace_back("noise.so", noise);
  std::string elf_noise = noise;
  elf_noise.replace(0, 16, good.substr(0, 16));
  cases.emplace_back("elf-magic-noise.so", elf_noise);

  for (const auto& [name, bytes] : cases) {
    SCOPED_TRACE(name);
    write_file(tmp_ / name, bytes);
    Symbolizer symbolizer;
    for (uint64_t offset : {uint64_t{0}, uint64_t{0x40}, where.offset, uint64_t{1} << 40}) {
      symbolizer.symbolize({(tmp_ / name).string(), "ab"}, offset);
    }
    if (bytes.size() < 1024) {
      EXPECT_FALSE(symbolizer.take_warnings().empty());
    }
  }

  // Corrupt a few bytes at a time, mostly in the ELF/program/section headers where parsers
  // trust sizes and offsets.
  const fs::path corrupt = tmp_ / "corrupt.so";
  for (int round = 0; round < 200; ++round) {
    std::string bytes = good;
    for (int i = 0; i < 6; ++i) bytes[rng() % 4096] = static_cast<char>(rng());
    for (int i = 0; i < 6; ++i) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    write_file(corrupt, bytes);
    Symbolizer symbolizer;
    symbolizer.symbolize({corrupt.string(), ""}, where.offset);
    symbolizer.symbolize({corrupt.string(), ""}, where.offset + 16);
    symbolizer.take_warnings();
  }
}

TEST_F(SymbolizerTest, DirectoryIsNotAModule) {
  Symbolizer symbolizer;
  EXPECT_TRUE(symbolizer.symbolize({tmp_.string(), ""}, 0).empty());
  EXPECT_TRUE(contains(symbolizer.take_warnings(), "not a regular file"));
}

}  // namespace
