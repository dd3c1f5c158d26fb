// Module registry, result cache and warnings around ElfModule + source_frames.
#include "leakprobe/symbolize/symbolizer.h"

#include <elfutils/libdwfl.h>

#include <cctype>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "elf_module.h"
#include "source_frames.h"

namespace leakprobe::symbolize {

namespace {

// A module as the snapshot names it: the same path with two different recorded build-ids (two
// snapshots of different builds) must be looked up, and warned about, separately.
struct ModuleState {
  std::unique_ptr<detail::ElfModule> elf;  // null if the file could not be opened
  std::unordered_map<uint64_t, std::vector<Frame>> cache;
};

}  // namespace

std::string message(const Warning& w) {
  switch (w.kind) {
    case Warning::Kind::kUnreadable:
      return "cannot read " + w.path + ": " + w.reason + "; its frames are shown as module+offset";
    case Warning::Kind::kBuildIdMismatch:
      return "build-id mismatch for " + w.path + ": snapshot " + w.snapshot_build_id + ", file " +
             (w.file_build_id.empty() ? std::string("none") : w.file_build_id) +
             "; symbols may be wrong";
    case Warning::Kind::kNoDebugInfo:
      return "no debug info for " + w.path + ": function names only, no file:line";
    case Warning::Kind::kNoSymbols:
      return "no symbols or debug info for " + w.path + "; its frames are shown as module+offset";
  }
  return w.path;
}

struct Symbolizer::Impl {
  Options options;
  std::unordered_map<std::string, std::unique_ptr<ModuleState>> modules;
  // Callers look up many consecutive frames of one module; skip building and hashing the key.
  std::string last_path;
  std::string last_build_id;
  ModuleState* last_state = nullptr;

  std::vector<Warning> warnings;
  std::unordered_set<std::string> warned;  // message(w) of every warning given

  void warn(Warning w) {
    if (warned.insert(message(w)).second) warnings.push_back(std::move(w));
  }

  ModuleState* state_for(const ModuleRef& ref);
  std::unique_ptr<detail::ElfModule> load(const ModuleRef& ref);
};

std::unique_ptr<detail::ElfModule> Symbolizer::Impl::load(const ModuleRef& ref) {
  // Pseudo mappings ([vdso], [heap], anonymous) have no file to read: nothing to warn about.
  if (ref.path.empty() || ref.path[0] != '/') return nullptr;
  std::string path = ref.path;
  // The kernel marks a mapping whose file was replaced after it was mapped (a package upgrade
  // under a running broker) with this suffix; the new file at the same path is the best guess,
  // and the build-id check below says whether it is the same build.
  static const std::string kDeleted = " (deleted)";
  if (path.size() > kDeleted.size() &&
      path.compare(path.size() - kDeleted.size(), kDeleted.size(), kDeleted) == 0) {
    path.resize(path.size() - kDeleted.size());
  }
  const std::string file = options.sysroot.empty() ? path : options.sysroot + path;
  std::string error;
  auto elf = detail::ElfModule::open(file, options.debug_dirs, &error);
  if (elf == nullptr) {
    warn({Warning::Kind::kUnreadable, file, error, "", ""});
    return nullptr;
  }
  std::string recorded = ref.build_id;
  for (char& c : recorded) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!recorded.empty() && recorded != elf->build_id()) {
    warn({Warning::Kind::kBuildIdMismatch, file, "", ref.build_id, elf->build_id()});
  }
  if (!elf->has_debug_info()) {
    warn({elf->has_symbols() ? Warning::Kind::kNoDebugInfo : Warning::Kind::kNoSymbols, file, "",
          "", ""});
  }
  return elf;
}

ModuleState* Symbolizer::Impl::state_for(const ModuleRef& ref) {
  if (last_state != nullptr && ref.path == last_path && ref.build_id == last_build_id) {
    return last_state;
  }
  std::string key = ref.path;
  key.push_back('\0');
  key += ref.build_id;
  auto it = modules.find(key);
  if (it == modules.end()) {
    auto state = std::make_unique<ModuleState>();
    state->elf = load(ref);
    it = modules.emplace(key, std::move(state)).first;
  }
  last_path = ref.path;
  last_build_id = ref.build_id;
  last_state = it->second.get();
  return last_state;
}

Symbolizer::Symbolizer(Options options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  // Trailing slashes would make "sysroot + /usr/lib/x.so" contain "//"; harmless but ugly in
  // warnings.
  while (impl_->options.sysroot.size() > 1 && impl_->options.sysroot.back() == '/') {
    impl_->options.sysroot.pop_back();
  }
  // Separate debug info of a copied root file system lives inside it.
  if (!impl_->options.sysroot.empty()) {
    impl_->options.debug_dirs.push_back(impl_->options.sysroot + "/usr/lib/debug");
  }
}

Symbolizer::~Symbolizer() = default;

std::vector<Frame> Symbolizer::symbolize(const ModuleRef& module, uint64_t file_offset) {
  try {
    ModuleState* state = impl_->state_for(module);
    if (state->elf == nullptr) return {};
    auto cached = state->cache.find(file_offset);
    if (cached != state->cache.end()) return cached->second;
    std::vector<Frame> frames;
    uint64_t address = 0;
    if (state->elf->address_of(file_offset, &address)) {
      frames = detail::source_frames(*state->elf, address);
    }
    state->cache.emplace(file_offset, frames);
    return frames;
  } catch (...) {
    // Only std::bad_alloc can get here; the promise is "never throws", and an unknown frame is
    // the honest answer.
    return {};
  }
}

std::vector<Warning> Symbolizer::take_warnings() {
  std::vector<Warning> out;
  out.swap(impl_->warnings);
  return out;
}

}  // namespace leakprobe::symbolize
