#include "leakprobe/analysis/symbols.h"

#include <string_view>

#include "leakprobe/analysis/go_frames.h"
#include "leakprobe/analysis/names.h"
#include "leakprobe/analysis/site.h"
#include "leakprobe/analysis/units.h"

namespace leakprobe::analysis {
namespace {

bool starts_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.compare(0, p.size(), p) == 0;
}

std::string_view basename(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::string Row::label() const {
  if (!function.empty()) {
    if (file.empty()) return function;
    return function + " " + file + ":" + std::to_string(line);
  }
  return module_offset(module, offset);
}

std::string Row::match_text() const {
  return function + " " + file + ":" + std::to_string(line) + " " + module + "+" +
         format_hex(offset);
}

bool is_allocator_function(const std::string& function) {
  // C entry points compare by name (a demangled C++ name may carry its parameter list).
  std::string_view name = std::string_view(function).substr(0, function.find('('));
  // glibc's internal aliases (__GI___strdup, __GI___libc_malloc) are what DWARF names.
  if (starts_with(name, "__GI_")) name.remove_prefix(5);
  static constexpr std::string_view kExact[] = {
      "malloc", "calloc", "realloc", "reallocarray", "free", "posix_memalign", "aligned_alloc",
      "memalign", "valloc", "pvalloc", "__libc_malloc", "__libc_calloc", "__libc_realloc",
      "__libc_memalign", "__posix_memalign", "strdup", "strndup", "__strdup", "__strndup", "wcsdup",
      "_int_malloc", "do_malloc", "cfree", "__libc_valloc", "__libc_pvalloc",
      // gperftools' C entry points, for programs linked statically against tcmalloc (the
      // shared library is folded by its module name).
      "tc_malloc", "tc_calloc", "tc_realloc", "tc_memalign", "tc_posix_memalign", "tc_valloc",
      "tc_new", "tc_newarray", "tc_new_nothrow", "tc_newarray_nothrow",
      // mosquitto's (broker and libmosquitto) memory wrappers: they say "memory", not "why".
      "mosquitto__malloc", "mosquitto__calloc", "mosquitto__realloc", "mosquitto__strdup",
      "mosquitto__strndup", "mosquitto_malloc", "mosquitto_calloc", "mosquitto_realloc",
      "mosquitto_strdup", "mosquitto_strndup"};
  for (std::string_view e : kExact) {
    if (name == e) return true;
  }
  // C++ allocation layers and the allocators' own internals; all inlined into (or called
  // from) the code that asked for memory, which is what the reader wants to see.
  static constexpr std::string_view kPrefixes[] = {"operator new",
                                                   "std::allocator<",
                                                   "std::allocator_traits<",
                                                   "__gnu_cxx::new_allocator<",
                                                   "std::__new_allocator<",
                                                   "__gnu_cxx::__alloc_traits<",
                                                   "tcmalloc::",
                                                   "MallocHook",
                                                   "(anonymous namespace)::do_malloc",
                                                   "(anonymous namespace)::cpp_alloc"};
  for (std::string_view p : kPrefixes) {
    if (starts_with(function, p)) return true;
  }
  return false;
}

bool is_allocator_module(const std::string& path) {
  const std::string_view base = basename(path);
  return starts_with(base, "libtcmalloc") || starts_with(base, "libleakprobe");
}

bool is_runtime_module(const std::string& path) {
  const std::string_view base = basename(path);
  // "libc.so.6" and the old "libc-2.31.so"; "libc++" is LLVM's C++ library.
  return starts_with(base, "libc.so") || starts_with(base, "libc-") ||
         starts_with(base, "libstdc++") || starts_with(base, "libc++") ||
         starts_with(base, "libgcc_s");
}

bool is_runtime_function(const std::string& function) {
  // The short name has no return type, so `void std::vector<...>::_M_realloc_insert<...>`
  // is seen as the std:: function it is.
  const std::string name = short_function_name(function);
  return starts_with(name, "std::") || starts_with(name, "__gnu_cxx::") ||
         starts_with(name, "__cxxabiv1::") || starts_with(name, "__cxa_");
}

SymbolTable::SymbolTable(const MergedProfile& profile, const SymbolSource& source,
                         const std::regex* extra_fold)
    : profile_(profile), source_(source), extra_fold_(extra_fold), frames_(profile.frames.size()) {}

const SymbolTable::Resolved& SymbolTable::resolve(uint32_t frame_id) const {
  Resolved& out = frames_[frame_id];
  if (out.done) return out;
  out.done = true;
  const FrameKey& key = profile_.frames[frame_id];
  const bool known_module = key.module != FrameKey::kNoModule;
  const std::string module =
      known_module ? profile_.modules[static_cast<size_t>(key.module)].path : "[unknown]";
  const NamedFrame* named = frame_id < profile_.named.size() ? profile_.named[frame_id] : nullptr;
  if (named != nullptr) return resolve_named(*named, module, out);
  std::vector<symbolize::Frame> sym;
  if (known_module && source_) {
    const Module& m = profile_.modules[static_cast<size_t>(key.module)];
    sym = source_(symbolize::ModuleRef{m.path, m.build_id}, key.offset);
  }
  const bool module_is_allocator = known_module && is_allocator_module(module);
  const bool module_is_runtime = known_module && is_runtime_module(module);
  auto extra = [this](const Row& r) { return extra_fold(r); };
  if (sym.empty()) {
    out.rows.push_back(Row{"", "", 0, false, module, key.offset});
    out.allocator.push_back(module_is_allocator || extra(out.rows.back()));
    out.runtime.push_back(module_is_runtime);
    return out;
  }
  for (symbolize::Frame& f : sym) {
    const bool alloc = module_is_allocator || is_allocator_function(f.function);
    out.rows.push_back(Row{std::move(f.function), std::move(f.file), f.line, f.inlined, module,
                           key.offset, f.unnamed});
    out.allocator.push_back(alloc || extra(out.rows.back()));
    out.runtime.push_back(module_is_runtime || is_runtime_function(out.rows.back().function) ||
                          folded_function(out.rows.back()));
  }
  return out;
}

bool SymbolTable::extra_fold(const Row& row) const {
  return (extra_fold_ != nullptr && std::regex_search(row.match_text(), *extra_fold_)) ||
         folded_function(row);
}

bool SymbolTable::folded_function(const Row& row) const {
  if (row.function.empty()) return false;
  for (const auto& [module, function] : folded_functions_) {
    if (row.module == module && row.function == function) return true;
  }
  return false;
}

void SymbolTable::fold_function(const std::string& module, const std::string& function) {
  folded_functions_.emplace_back(module, function);
  // Frames resolved before this call learn it here; later ones in resolve().
  for (Resolved& r : frames_) {
    for (size_t k = 0; k < r.rows.size(); ++k) {
      if (r.rows[k].module == module && r.rows[k].function == function) {
        r.allocator[k] = true;
        r.runtime[k] = true;
      }
    }
  }
}

// The profile named this frame (pprof input): its rows are taken as they are, and Go's rules
// say which are allocation helpers and which are runtime; C/C++ names get the native rules.
const SymbolTable::Resolved& SymbolTable::resolve_named(const NamedFrame& named,
                                                        const std::string& module,
                                                        Resolved& out) const {
  for (const symbolize::Frame& f : named.frames) {
    out.rows.push_back(Row{f.function, f.file, f.line, f.inlined, module, named.address});
    const Row& row = out.rows.back();
    const bool alloc =
        named.go ? is_go_allocation_function(f.function) : is_allocator_function(f.function);
    const bool runtime =
        named.go ? is_go_runtime_function(f.function) : is_runtime_function(f.function);
    const bool wrapper = extra_fold(row);
    out.allocator.push_back(alloc || wrapper);
    // A --fold match is never the site either, wherever it is in the stack: in a goroutine
    // profile the user's wrappers sit above runtime.gopark, past the folded leading rows.
    out.runtime.push_back(runtime || wrapper);
  }
  return out;
}

size_t SymbolTable::folded_rows(const std::vector<uint32_t>& stack) const {
  // Stops at the first non-allocator row, so only the leading frames get symbolized here.
  size_t folded = 0;
  for (uint32_t f : stack) {
    for (bool alloc : resolve(f).allocator) {
      if (!alloc) return folded;
      ++folded;
    }
  }
  return 0;  // every row is an allocator row: keep the stack whole
}

size_t SymbolTable::site_rows(const std::vector<uint32_t>& stack, size_t folded) const {
  // Like folded_rows, symbolizes only up to the site.
  size_t index = 0;
  for (uint32_t f : stack) {
    const Resolved& r = resolve(f);
    for (size_t k = 0; k < r.rows.size(); ++k, ++index) {
      if (index >= folded && !r.runtime[k]) return index;
    }
  }
  return folded;
}

std::vector<Row> SymbolTable::stack_rows(const std::vector<uint32_t>& stack, size_t skip) const {
  std::vector<Row> out;
  for (uint32_t f : stack) {
    for (const Row& r : rows(f)) {
      if (skip > 0) {
        --skip;
        continue;
      }
      out.push_back(r);
    }
  }
  return out;
}

}  // namespace leakprobe::analysis
