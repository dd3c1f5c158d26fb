// Names for people: demangled C++ names and source paths shortened the way pprof shows them,
// so a report line reads `repro::open_device_session  unclosed_connections/gateway.cpp:13`
// instead of three lines of template arguments. The JSON keeps the full names; this is only
// what the text report prints (and what JSON adds as `short_function`).
#pragma once

#include <string>
#include <string_view>

namespace leakprobe::analysis {

// Rewrites the standard library's spelled-out aliases: `std::__cxx11::basic_string<char,
// std::char_traits<char>, std::allocator<char> >` -> `std::string` (also wstring, u16string,
// u32string, the string streams and iostreams), then `std::__cxx11::` -> `std::`.
std::string rewrite_std_aliases(std::string_view name);

enum class NameDetail {
  kShort,          // no return type, no parameter lists, no template arguments
  kWithTemplates,  // no return type, no parameter lists; template arguments kept
};

// `void ns::Pool<Session>::put<int>(int, void (*)(int)) const [clone .cold]` ->
// `ns::Pool::put` (kShort) or `ns::Pool<Session>::put<int>` (kWithTemplates). Aliases are
// rewritten first. Operators (`operator<`, `operator()`, `operator new[]`, conversions),
// lambdas (`{lambda(int)#1}` -> `{lambda#1}`), local entities (`f(int)::Local::g()` ->
// `f::Local::g`), `(anonymous namespace)`, ABI tags and GCC clone suffixes (`.cold`,
// `.isra.0`, `[clone .part.0]`) are understood. C names come back unchanged (minus clone
// suffixes); Go names lose their import path's directories (`net/http.(*conn).serve` ->
// `http.(*conn).serve`, whole with kWithTemplates). Whatever cannot be parsed comes back whole
// rather than mangled further.
std::string short_function_name(std::string_view demangled, NameDetail detail = NameDetail::kShort);

// The last `components` components of a path: ("/a/b/c/d.cpp", 2) -> "c/d.cpp".
std::string short_path(std::string_view path, size_t components = 2);

}  // namespace leakprobe::analysis
