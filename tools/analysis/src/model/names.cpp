// A small scanner over demangled names rather than regular expressions: parameter lists and
// template arguments nest (function pointers, lambdas, `std::function<void (int)>`), and
// operators such as `operator<` or `operator()` look like the brackets being skipped.
#include "leakprobe/analysis/names.h"

#include <cctype>
#include <utility>
#include <vector>

namespace leakprobe::analysis {
namespace {

constexpr size_t npos = std::string::npos;

bool is_ident(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (size_t at = s.find(from); at != npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
}

// The aliases as the demangler spells them out, longest forms first (the __cxx11 ones, then
// the pre-C++11 ABI ones).
const std::vector<std::pair<std::string, std::string>>& alias_table() {
  static const auto table = [] {
    std::vector<std::pair<std::string, std::string>> t;
    const std::pair<const char*, const char*> chars[] = {{"char", ""},
                                                         {"wchar_t", "w"},
                                                         {"char8_t", "u8"},
                                                         {"char16_t", "u16"},
                                                         {"char32_t", "u32"}};
    for (const char* ns : {"std::__cxx11::", "std::"}) {
      for (const auto& [ch, prefix] : chars) {
        const std::string traits = std::string("std::char_traits<") + ch + ">";
        const std::string alloc = std::string("std::allocator<") + ch + ">";
        for (const char* kind : {"string", "stringstream", "istringstream", "ostringstream"}) {
          const std::string base =
              std::string(kind) == "string" ? "basic_string" : std::string("basic_") + kind;
          t.emplace_back(ns + base + "<" + ch + ", " + traits + ", " + alloc + " >",
                         std::string("std::") + prefix + kind);
        }
      }
    }
    for (const char* kind : {"ostream", "istream", "iostream", "ios"}) {
      const std::string base = std::string("std::basic_") + kind;
      t.emplace_back(base + "<char, std::char_traits<char> >", std::string("std::") + kind);
      t.emplace_back(base + "<wchar_t, std::char_traits<wchar_t> >", std::string("std::w") + kind);
    }
    return t;
  }();
  return table;
}

// Index just past the bracket group opening at `open` (one of ( [ { <), or npos if it never
// closes. Brackets of other kinds nest inside; a '>' that closes no '<' (as in `a->b` or
// `(a > b)`) is an ordinary character.
size_t skip_group(std::string_view s, size_t open) {
  std::vector<char> closers;
  for (size_t i = open; i < s.size(); ++i) {
    const char c = s[i];
    switch (c) {
      case '(':
        closers.push_back(')');
        break;
      case '[':
        closers.push_back(']');
        break;
      case '{':
        closers.push_back('}');
        break;
      case '<':
        closers.push_back('>');
        break;
      case ')':
      case ']':
      case '}':
      case '>':
        if (closers.back() == c) {
          closers.pop_back();
          if (closers.empty()) return i + 1;
        } else if (c != '>') {
          return npos;  // mismatched: not a name this scanner understands
        }
        break;
      default:
        break;
    }
  }
  return npos;
}

// Length of the operator spelled at `at` (after "operator"), 0 if none: then it is a
// conversion operator (`operator bool`, `operator std::string`).
size_t operator_symbol(std::string_view s, size_t at) {
  static constexpr std::string_view kSymbols[] = {
      "->*", "<=>", "<<=", ">>=", "()", "[]", "->", "<<", ">>", "<=", ">=", "==",   "!=", "&&",
      "||",  "++",  "--",  "+=",  "-=", "*=", "/=", "%=", "&=", "|=", "^=", "\"\"", "<",  ">",
      "+",   "-",   "*",   "/",   "%",  "^",  "&",  "|",  "~",  "!",  "=",  ","};
  static constexpr std::string_view kWords[] = {"new[]", "delete[]", "new", "delete", "co_await"};
  const std::string_view rest = s.substr(at);
  for (std::string_view w : kWords) {
    if (rest.substr(0, w.size()) == w && (rest.size() == w.size() || !is_ident(rest[w.size()]))) {
      return w.size();
    }
  }
  for (std::string_view sym : kSymbols) {
    if (rest.substr(0, sym.size()) == sym) return sym.size();
  }
  return 0;
}

bool operator_at(std::string_view s, size_t i) {
  constexpr std::string_view kOp = "operator";
  if (s.substr(i, kOp.size()) != kOp) return false;
  if (i > 0 && is_ident(s[i - 1])) return false;
  return i + kOp.size() == s.size() || !is_ident(s[i + kOp.size()]);
}

// After a parameter list: cv/ref qualifiers, ABI tags and "[clone .cold]" until either "::"
// (a local entity or lambda of that function follows; returns its index) or the end (npos).
size_t scope_after_params(std::string_view s, size_t i) {
  while (i < s.size()) {
    if (s.substr(i, 2) == "::") return i;
    const char c = s[i];
    if (c == ' ' || c == '&') {
      ++i;
    } else if (c == '[') {
      i = skip_group(s, i);
      if (i == npos) return npos;
    } else if (is_ident(c)) {
      while (i < s.size() && is_ident(s[i])) ++i;  // const, volatile, noexcept
    } else {
      return npos;
    }
  }
  return npos;
}

// "lambda(int)#1" -> "lambda#1"; "unnamed type#2" unchanged.
std::string without_params(std::string_view inner) {
  std::string out;
  for (size_t i = 0; i < inner.size();) {
    if (inner[i] == '(') {
      const size_t end = skip_group(inner, i);
      if (end == npos) return std::string(inner);
      i = end;
    } else {
      out += inner[i++];
    }
  }
  return out;
}

// GCC's clone suffixes on C symbols from .symtab: handle__publish.cold, f.isra.0, f.part.1.
void strip_clone_suffix(std::string& name) {
  const size_t last_scope = name.rfind("::");
  const size_t from = last_scope == npos ? 0 : last_scope + 2;
  static constexpr std::string_view kClones[] = {
      ".cold", ".part.", ".isra.", ".constprop.", ".lto_priv.", ".localalias", ".clone."};
  for (size_t dot = name.find('.', from); dot != npos; dot = name.find('.', dot + 1)) {
    for (std::string_view c : kClones) {
      if (name.compare(dot, c.size(), c) == 0 && dot > from) {
        name.resize(dot);
        return;
      }
    }
  }
}

}  // namespace

std::string rewrite_std_aliases(std::string_view name) {
  std::string s(name);
  if (s.find("std::") == npos) return s;
  for (const auto& [from, to] : alias_table()) replace_all(s, from, to);
  replace_all(s, "std::__cxx11::", "std::");
  replace_all(s, "std::__1::", "std::");  // libc++'s inline namespace
  return s;
}

std::string short_function_name(std::string_view demangled, NameDetail detail) {
  // Go names (from pprof input) carry their import path and method receivers:
  // "github.com/eclipse/paho%2emqtt%2egolang.(*router).addRoute". Their parentheses are not a
  // parameter list (C++ never writes ".(", nor a '/' outside `operator/`); like pprof, the
  // short name only drops the path's directories: "paho%2emqtt%2egolang.(*router).addRoute".
  const size_t slash = demangled.substr(0, demangled.find_first_of("([")).rfind('/');
  const bool go_path = slash != std::string_view::npos && slash > 0 &&
                       demangled.compare(0, 8, "operator") != 0 &&
                       demangled.find("::") == std::string_view::npos &&
                       demangled.find(' ') == std::string_view::npos;
  if (go_path || demangled.find(".(") != std::string_view::npos) {
    if (detail == NameDetail::kWithTemplates || !go_path) return std::string(demangled);
    return std::string(demangled.substr(slash + 1));
  }
  const std::string s = rewrite_std_aliases(demangled);
  std::string out;
  bool in_conversion = false;  // `operator unsigned long`: spaces belong to the name
  size_t i = 0;
  while (i < s.size()) {
    if (operator_at(s, i)) {
      out += "operator";
      i += 8;
      const bool space = i < s.size() && s[i] == ' ';
      const size_t at = space ? i + 1 : i;
      const size_t len = operator_symbol(s, at);
      if (len > 0) {
        if (is_ident(s[at])) out += ' ';  // operator new, operator delete[]
        out.append(s, at, len);
        i = at + len;
        if (s.compare(at, 2, "\"\"") == 0 && i < s.size() && s[i] == ' ') ++i;  // operator"" _x
        // A template operator's arguments follow after one space: `operator< <int>`.
        if (i + 1 < s.size() && s[i] == ' ' && s[i + 1] == '<') ++i;
      } else if (space) {
        out += ' ';
        i = at;
        in_conversion = true;
      }
      continue;
    }
    const char c = s[i];
    if (c == '<' || c == '[') {
      const size_t end = skip_group(s, i);
      if (end == npos) return s;
      if (c == '<' && detail == NameDetail::kWithTemplates) out.append(s, i, end - i);
      i = end;  // [abi:cxx11], [clone .cold] always go
    } else if (c == '(') {
      constexpr std::string_view kAnon = "(anonymous namespace)";
      if (s.compare(i, kAnon.size(), kAnon) == 0) {
        out += kAnon;
        i += kAnon.size();
        continue;
      }
      const size_t end = skip_group(s, i);
      if (end == npos) return s;
      in_conversion = false;
      i = scope_after_params(s, end);
      if (i == npos) break;
    } else if (c == '{') {
      const size_t end = skip_group(s, i);
      if (end == npos) return s;
      out += '{' + without_params(std::string_view(s).substr(i + 1, end - i - 2)) + '}';
      i = end;
    } else if (c == ' ' && !in_conversion) {
      // A space at the top level ends a return type (`void ns::f<int>(int)`) or a prefix
      // such as `non-virtual thunk to`; the name follows. Before a clone tag it ends nothing.
      if (i + 1 < s.size() && s[i + 1] != '[') out.clear();
      ++i;
    } else {
      out += c;
      ++i;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  strip_clone_suffix(out);
  return out.empty() ? s : out;
}

std::string short_path(std::string_view path, size_t components) {
  if (components == 0) return std::string(path);
  size_t at = path.size();
  for (size_t k = 0; k < components; ++k) {
    if (at == 0) return std::string(path);
    const size_t slash = path.rfind('/', at - 1);
    if (slash == std::string_view::npos) return std::string(path);
    at = slash;
  }
  return std::string(path.substr(at + 1));
}

}  // namespace leakprobe::analysis
