// How a site prints, decided once for every writer (text, HTML; JSON carries the same parts as
// fields): the function's name as shown, what tells look-alike rows apart, and the note on an
// unnamed function. A writer only lays these out (and escapes them for HTML).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "leakprobe/analysis/analysis.h"

namespace leakprobe::analysis {

// How function names print. Short by default; when two different functions of the report
// would print the same short name (overloads, two instantiations of one template), those keep
// their template arguments, and if that is not enough, their whole (alias-rewritten) name.
class NamePrinter {
 public:
  // `full`: whole demangled names (--full-names).
  NamePrinter(const Analysis& a, bool full);
  std::string operator()(const std::string& function) const;

 private:
  bool full_;
  std::map<std::string, std::string> chosen_;  // full name -> what the report prints
};

// What follows the site when it alone would not say enough. First what tells the entry apart
// from a listed entry with the same key (" at +0x1a", " via handle_connect", " via f net.c:12";
// the text table never cuts it), then that its function is unnamed and who called it
// (" (unnamed, called from retain_store)"). Plain text: the HTML writer escapes it.
std::string site_tell(const Entry& e, const NamePrinter& name);
std::string site_note(const Entry& e, const NamePrinter& name);

// An input's sampling as reports print it: "exact" or "sampled/N" (is_sampled).
std::string sampling_text(int64_t sampling);

}  // namespace leakprobe::analysis
