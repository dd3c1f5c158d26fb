#include "leakprobe/analysis/report_pprof.h"

#include <cmath>
#include <map>
#include <unordered_map>
#include <utility>

#include "leakprobe/analysis/output_file.h"

namespace leakprobe::analysis {
namespace {

// Each module's locations live in [base, base + kModuleSpan): far apart, so no two modules'
// ranges overlap whatever their sizes, and far from 0 (pprof treats address 0 as unknown).
constexpr uint64_t kModuleSpan = uint64_t{1} << 36;

}  // namespace

void build_pprof_profile(const Analysis& a, pprof::Profile& p) {
  p.Clear();
  pprof::StringTable strings(p);
  auto sample_type = [&](const char* type, const char* unit) {
    auto* t = p.add_sample_type();
    t->set_type(strings.index(type));
    t->set_unit(strings.index(unit));
  };
  if (a.counts_only()) {
    // A count profile (goroutines) exports as one: its count per stack, as Go writes it.
    sample_type(a.kind.c_str(), "count");
    p.set_default_sample_type(strings.index(a.kind));
    p.mutable_period_type()->set_type(strings.index(a.kind));
    p.mutable_period_type()->set_unit(strings.index("count"));
    p.set_period(1);
  } else {
    sample_type("inuse_objects", "count");
    sample_type("inuse_space", "bytes");
    p.set_default_sample_type(strings.index("inuse_space"));
    p.mutable_period_type()->set_type(strings.index("space"));
    p.mutable_period_type()->set_unit(strings.index("bytes"));
    // Values are already unsampled estimates; the period says how they were sampled.
    const int64_t sampling = a.inputs.empty() ? 0 : a.inputs.front().sampling;
    p.set_period(is_sampled(sampling) ? sampling : 1);
  }
  if (!a.inputs.empty()) {
    const InputInfo& first = a.inputs.front();
    const InputInfo& last = a.inputs.back();
    if (last.time) p.set_time_nanos(static_cast<int64_t>(*last.time * 1e9));
    if (first.time && last.time) {
      p.set_duration_nanos(static_cast<int64_t>((*last.time - *first.time) * 1e9));
    }
    const std::string what = a.counts_only() ? a.kind + " count" : std::string("live memory");
    p.add_comment(strings.index(kDeltaProfileComment + what + " from " + first.name + " to " +
                                last.name + " (" + last.program + ")"));
  }

  const ChangedStacks& cs = a.changed_stacks;
  // Mappings, by module path (and the unknown pseudo-module for addresses outside them all).
  std::map<std::string, uint64_t> mapping_of;
  auto mapping_id = [&](const ChangedFrame& f) {
    auto [it, inserted] = mapping_of.emplace(f.module, p.mapping_size() + 1);
    if (inserted) {
      auto* m = p.add_mapping();
      m->set_id(it->second);
      m->set_memory_start(it->second * kModuleSpan);
      m->set_memory_limit((it->second + 1) * kModuleSpan);
      m->set_file_offset(0);
      m->set_filename(strings.index(f.module));
      m->set_build_id(strings.index(f.build_id));
    }
    auto* m = p.mutable_mapping(static_cast<int>(it->second - 1));
    // Every location gets a function (see below), so pprof never symbolizes on its own.
    m->set_has_functions(true);
    for (const Row& r : f.rows) {
      if (!r.function.empty()) m->set_has_inline_frames(true);
      if (!r.file.empty()) {
        m->set_has_filenames(true);
        m->set_has_line_numbers(true);
      }
    }
    return it->second;
  };

  std::map<std::pair<std::string, std::string>, uint64_t> function_of;
  auto function_id = [&](const Row& r) {
    auto [it, inserted] = function_of.emplace(std::make_pair(r.function, r.file), 0);
    if (inserted) {
      it->second = static_cast<uint64_t>(p.function_size()) + 1;
      auto* fn = p.add_function();
      fn->set_id(it->second);
      fn->set_name(strings.index(r.function));
      fn->set_system_name(strings.index(r.function));
      fn->set_filename(strings.index(r.file));
    }
    return it->second;
  };

  // A location per (frame, rows folded off its inner end): a frame whose innermost rows were
  // the allocator's keeps only the rest.
  std::unordered_map<uint64_t, uint64_t> location_of;
  auto location_id = [&](uint32_t frame, uint32_t skip) {
    const uint64_t key = (static_cast<uint64_t>(frame) << 16) | skip;
    auto [it, inserted] = location_of.emplace(key, 0);
    if (!inserted) return it->second;
    const ChangedFrame& f = cs.frames[frame];
    it->second = static_cast<uint64_t>(p.location_size()) + 1;
    auto* loc = p.add_location();
    loc->set_id(it->second);
    const uint64_t mapping = mapping_id(f);
    loc->set_mapping_id(mapping);
    loc->set_address(mapping * kModuleSpan + (f.offset % kModuleSpan));
    for (size_t k = skip; k < f.rows.size(); ++k) {
      const Row& r = f.rows[k];
      auto* line = loc->add_line();
      if (r.function.empty()) {
        // Unsymbolized: named module+offset, as the text report does, rather than left for
        // pprof to lump together as one [module] node.
        Row named = r;
        named.function = r.label();
        line->set_function_id(function_id(named));
      } else {
        line->set_function_id(function_id(r));
      }
      line->set_line(r.line);
    }
    return it->second;
  };

  for (const ChangedStack& s : cs.stacks) {
    auto* sample = p.add_sample();
    for (size_t i = 0; i < s.frames.size(); ++i) {
      sample->add_location_id(location_id(s.frames[i], i == 0 ? s.skip_rows : 0));
    }
    sample->add_value(s.delta.live_objs);
    if (!a.counts_only()) sample->add_value(s.delta.live_bytes);
    // The age of the stack's live blocks (docs/snapshot-format.md, "Age of live memory") as
    // labels, which pprof keeps with the sample (`-tags`, `-tagfocus=mean_age=3600:`) without
    // changing what it adds up. None where the snapshot did not say.
    const std::optional<double> mean = s.age ? s.age->mean_s() : std::nullopt;
    if (mean) {
      auto* label = sample->add_label();
      label->set_key(strings.index("mean_age"));
      label->set_num(std::llround(*mean));
      label->set_num_unit(strings.index("seconds"));
      label = sample->add_label();
      label->set_key(strings.index("oldest_age"));
      label->set_str(strings.index(format::kAgeBucketNames[s.age->oldest_bucket()]));
    }
  }
}

std::optional<Error> write_pprof_report(const std::string& path, const Analysis& analysis) {
  pprof::Profile profile;
  build_pprof_profile(analysis, profile);
  std::string error, bytes;
  if (!pprof::validate_profile(profile, error) ||
      !pprof::serialize_gzipped(profile, bytes, error)) {
    return Error{"cannot write the pprof profile " + path + ": " + error};
  }
  return write_file_whole(path, bytes, "the pprof profile ");
}

}  // namespace leakprobe::analysis
