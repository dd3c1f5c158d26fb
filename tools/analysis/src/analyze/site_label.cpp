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

std::string sampling_text(int64_t sampling) {
  return is_sampled(sampling) ? "sampled/" + std::to_string(sampling) : "exact";
}

}  // namespace leakprobe::analysis
