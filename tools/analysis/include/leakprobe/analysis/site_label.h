// How a site prints, decided once for every writer (anchor: pprof's NodeInfo.NameComponents,
// which every pprof output goes through): site_label() gives the function's name as shown,
// where in it, what tells look-alike rows apart, and the note on an unnamed function. The text
// and HTML tables, the resource tables and JSON's "label" lay out these fields and nothing
// else (the text table cuts them to its width, HTML escapes them and shows full names on
// hover). The flame graph names a frame with frame_name(); the pprof export gives pprof the
// full name (pprof shortens names itself) or the same module+0xoffset (Row::label()).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "leakprobe/analysis/analysis.h"

namespace leakprobe::analysis {

// How function names print. Short by default; when two different functions of the report
// would print the same short name (overloads, two instantiations of one template), those keep
// their template arguments, and if that is not enough, their whole (alias-rewritten) name.
// The functions considered are the sites of the listed heap and resource entries.
class NamePrinter {
 public:
  // `full`: whole demangled names and whole paths (--full-names).
  NamePrinter(const Analysis& a, bool full);
  std::string operator()(const std::string& function) const;
  bool full() const { return full_; }

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

struct SiteLabel {
  enum class Kind {
    kFunction,  // a named (or unnamed-but-labelled, "fn@0x…") function
    kAddress,   // no symbol: `function` is module+0xoffset, the module's file name
    kNone,      // no frames: `function` says so ("[no frames]", inherited descriptors)
  };
  Kind kind = Kind::kNone;
  std::string function;  // NamePrinter's name, module+0xoffset, or why there is no function
  // "dir/file.c:12" (the file's last two path components; the whole path with full names),
  // "at +0x1a" (--by line without a line table: the call's offset), or empty.
  std::string location;
  bool location_is_offset = false;  // "at +0x1a": the offset is what tells the rows apart
  std::string tell;                 // site_tell: " at +0x1a", " via handle_connect"; never cut
  std::string note;  // site_note: " (unnamed, called from retain_store)"; gives way first
  // What tells two such names apart is at their end (an unnamed function's label, an
  // address): a writer that must shorten the name cuts its beginning.
  bool tail_tells_apart = false;

  // One line: function, location, tell and note, as the resource table and tests print it.
  std::string text() const;
};

SiteLabel site_label(const Entry& e, const NamePrinter& name);
SiteLabel site_label(const ResourceEntry& e, const NamePrinter& name);

// A frame of a stack, as the flame graph names it: NamePrinter's name, or module+0xoffset (the
// module's file name, as Row::label() spells it) without a symbol.
std::string frame_name(const Row& r, const NamePrinter& name);

// An input's sampling as reports print it: "exact" or "sampled/N" (is_sampled).
std::string sampling_text(int64_t sampling);

}  // namespace leakprobe::analysis
