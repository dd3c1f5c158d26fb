#include "leakprobe/analysis/site_label.h"

#include <algorithm>
#include <vector>

#include "leakprobe/analysis/names.h"
#include "leakprobe/analysis/units.h"

namespace leakprobe::analysis {
namespace {

template <typename Longer>
void disambiguate(std::map<std::string, std::string>& chosen, Longer longer) {
  std::map<std::string, int> uses;
  for (const auto& [full, shown] : chosen) ++uses[shown];
  for (auto& [full, shown] : chosen) {
    if (uses[shown] > 1) shown = longer(full);
  }
}

}  // namespace

NamePrinter::NamePrinter(const Analysis& a, bool full) : full_(full) {
  if (full_) return;
  std::vector<std::string> functions;
  for (const Entry& e : a.entries) {
    if (!e.site.function.empty()) functions.push_back(e.site.function);
  }
  for (const ResourceEntry& e : a.resources.entries) {
    if (!e.site.function.empty()) functions.push_back(e.site.function);
  }
  std::sort(functions.begin(), functions.end());
  functions.erase(std::unique(functions.begin(), functions.end()), functions.end());
  for (const std::string& f : functions) chosen_[f] = short_function_name(f);
  disambiguate(chosen_, [](const std::string& f) {
    return short_function_name(f, NameDetail::kWithTemplates);
  });
  disambiguate(chosen_, [](const std::string& f) { return rewrite_std_aliases(f); });
}

std::string NamePrinter::operator()(const std::string& function) const {
  if (full_) return function;
  const auto it = chosen_.find(function);
  return it != chosen_.end() ? it->second : short_function_name(function);
}

std::string site_tell(const Entry& e, const NamePrinter& name) {
  std::string out;
  const Distinction& d = e.distinction;
  if (d.kind == Distinction::Kind::kOffset) {
    out += " at +" + format_hex(d.row.offset);
  } else if (d.kind == Distinction::Kind::kCaller &&
             !(e.key.unnamed && !d.same_function && d.row.function == e.named_caller)) {
    // (An unnamed function's caller is named by site_note anyway.)
    const Row& r = d.row;
    out += " via " + (r.function.empty() ? module_offset(r.module, r.offset) : name(r.function));
    if (d.same_function && !r.function.empty()) {
      out += r.file.empty() ? " at +" + format_hex(r.offset)
                            : " " + short_path(r.file, 1) + ":" + std::to_string(r.line);
    }
  }
  return out;
}

std::string site_note(const Entry& e, const NamePrinter& name) {
  if (!e.key.unnamed) return {};
  std::string out = " (unnamed";
  if (!e.named_caller.empty()) out += ", called from " + name(e.named_caller);
  return out + ")";
}

namespace {

std::string location_text(const std::string& file, int line, bool full) {
  return (full ? file : short_path(file, 2)) + ":" + std::to_string(line);
}

}  // namespace

std::string SiteLabel::text() const {
  std::string out = function;
  if (!location.empty()) out += " " + location;
  return out + tell + note;
}

SiteLabel site_label(const Entry& e, const NamePrinter& name) {
  SiteLabel l;
  const GroupKey& k = e.key;
  l.tell = site_tell(e, name);
  l.note = site_note(e, name);
  switch (k.kind) {
    case GroupKey::Kind::kNoFrames:
      l.function = k.text();
      return l;
    case GroupKey::Kind::kAddress:
      l.kind = SiteLabel::Kind::kAddress;
      l.function = k.text();
      l.tail_tells_apart = true;
      return l;
    case GroupKey::Kind::kFunctionAddress:
      l.location = "at +" + format_hex(k.offset);
      l.location_is_offset = true;
      break;
    case GroupKey::Kind::kLocation:
      l.location = location_text(k.file, k.line, name.full());
      break;
    case GroupKey::Kind::kFunction:
      break;
  }
  l.kind = SiteLabel::Kind::kFunction;
  l.function = name(k.function);
  l.tail_tells_apart = k.unnamed;
  return l;
}

SiteLabel site_label(const ResourceEntry& e, const NamePrinter& name) {
  SiteLabel l;
  if (e.inherited) {
    l.function = "descriptors open before the probe loaded (inherited)";
    return l;
  }
  const Row& s = e.site;
  if (s.function.empty()) {
    // The key: module+0xoffset of the site, or "[no frames]".
    l.kind = s.module == "[no frames]" ? SiteLabel::Kind::kNone : SiteLabel::Kind::kAddress;
    l.function = e.key;
    l.tail_tells_apart = l.kind == SiteLabel::Kind::kAddress;
    return l;
  }
  l.kind = SiteLabel::Kind::kFunction;
  l.function = name(s.function);
  l.tail_tells_apart = s.unnamed;
  if (!s.file.empty()) l.location = location_text(s.file, s.line, name.full());
  return l;
}

std::string frame_name(const Row& r, const NamePrinter& name) {
  return r.function.empty() ? module_offset(r.module, r.offset) : name(r.function);
}

std::string sampling_text(int64_t sampling) {
  return is_sampled(sampling) ? "sampled/" + std::to_string(sampling) : "exact";
}

}  // namespace leakprobe::analysis
