// heapdiff: thin command line over the analysis library. Everything that decides something
// lives in tools/analysis; here are only option parsing, wiring and the exit codes
// (0 ok, 1 growth over --fail-on-growth, 2 usage or input error).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "leakprobe/analysis/analysis.h"
#include "leakprobe/analysis/output_file.h"
#include "leakprobe/analysis/parser.h"
#include "leakprobe/analysis/pprof_input.h"
#include "leakprobe/analysis/report.h"
#include "leakprobe/analysis/report_pprof.h"
#include "leakprobe/analysis/units.h"
#include "leakprobe/symbolize/symbolizer.h"

namespace {

namespace la = leakprobe::analysis;

constexpr int kExitOk = 0;
constexpr int kExitGrowth = 1;
constexpr int kExitError = 2;

int fail(const std::string& message) {
  // Messages quote the input (a pprof profile's sample type names, file names): never raw
  // control characters to the terminal.
  std::cerr << "heapdiff: error: " << la::terminal_safe(message) << "\n";
  return kExitError;
}

// Where a file went, as the user can open it from anywhere: its absolute path.
std::string shown_path(const std::string& file) {
  std::error_code ec;
  const std::filesystem::path p = std::filesystem::absolute(file, ec);
  return ec ? file : p.lexically_normal().string();
}

// CLI11 validator for sizes such as 1048576, 512K, 10MiB, 1G.
std::string check_size(const std::string& text) {
  return la::parse_byte_size(text) ? std::string()
                                   : "expected a byte count such as 4096, 512K, 10MiB or 1G";
}

int run(int argc, char** argv) {
  CLI::App app{
      "heapdiff: compare heap snapshots (leakprobe snapshots, gperftools HEAPPROFILE dumps, pprof "
      "heap profiles such as Go's) or pprof goroutine profiles by call stack and name the code "
      "that keeps memory (or goroutines) alive.\n\n"
      "  heapdiff SNAPSHOT          what is live in one snapshot, ranked (e.g. a peak snapshot)\n"
      "  heapdiff BASE NEW          what grew between two snapshots\n"
      "  heapdiff S1 S2 S3 [...]    trend over 3+ snapshots: steady growth (leak suspect),\n"
      "                             grew-then-plateaued, or noise\n\n"
      "Exit status: 0 ok, 1 growth above --fail-on-growth or --fail-on-resource-growth, 2 usage\n"
      "or input error, or a gate over an interval that cannot be trusted (recording off for\n"
      "part of it, a snapshot marked incomplete).\n"
      "Details, JSON schema and trend rules: docs/heapdiff.md",
      "heapdiff"};
  app.get_formatter()->column_width(34);
  app.set_version_flag("--version", "heapdiff (leakprobe) " LEAKPROBE_VERSION);

  std::vector<std::string> files;
  la::Options options;
  std::string sort = "bytes";
  std::string by = "stack";
  std::string fail_on_growth;
  int64_t fail_on_resource_growth = -1;  // -1: no resource gate
  std::string min_bytes;
  std::string max_input;
  bool json = false;
  std::string html_file;
  std::string pprof_file;
  bool no_symbols = false;
  bool full_names = false;
  bool wide = false;
  bool brief = false;
  leakprobe::symbolize::Options sym_options;

  app.add_option("snapshots", files,
                 "Snapshot files, oldest first (3 or more: trend mode, ordered by their "
                 "leakprobe.time when all have one)")
      ->required()
      ->expected(1, -1)
      ->type_name("FILE");
  int64_t top = static_cast<int64_t>(options.top);
  app.add_option("--top", top, "List the N largest entries (0 = all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str()
      ->type_name("N");
  app.add_option("--sort", sort, "Rank by the change in live bytes or in live objects")
      ->check(CLI::IsMember({"bytes", "objects"}))
      ->capture_default_str();
  app.add_option("--by", by,
                 "Group by call stack, by the site's function, or by its function and line "
                 "(the site: the first frame past the allocator and the C/C++ runtime)")
      ->check(CLI::IsMember({"stack", "function", "line"}))
      ->capture_default_str();
  app.add_option("--focus", options.focus,
                 "Keep only stacks with a frame matching REGEX (matched against "
                 "'function file:line module+0xoffset')")
      ->type_name("REGEX");
  app.add_option("--ignore", options.ignore, "Drop stacks with a frame matching REGEX")
      ->type_name("REGEX");
  app.add_option("--fold", options.fold,
                 "Also fold leading frames matching REGEX, like malloc (your own wrappers, "
                 "e.g. 'xmalloc|pool_alloc')")
      ->type_name("REGEX");
  bool keep_wrappers = false;
  app.add_flag("--no-fold-wrappers", keep_wrappers,
               "Do not fold the allocation wrappers heapdiff finds in the stacks (functions "
               "directly above malloc for many callers; the report names the ones it folded)");
  app.add_option("--min-bytes", min_bytes,
                 "Do not list entries whose live size changed by less than SIZE")
      ->check(check_size)
      ->type_name("SIZE");
  app.add_flag("--json", json, "Write the report as JSON (schema in docs/heapdiff.md)");
  app.add_option("--html", html_file,
                 "Also write the report as one self-contained HTML page (flame graph of the "
                 "change, ranked table, trend charts) to FILE; '-': to standard output instead "
                 "of the text report")
      ->type_name("FILE");
  app.add_option("--pprof", pprof_file,
                 "Also write the change as a gzipped pprof profile (delta inuse_space and "
                 "inuse_objects, with heapdiff's function names and file:line) to FILE, for "
                 "go tool pprof, Pyroscope or speedscope")
      ->type_name("FILE");
  app.add_option("--fail-on-growth", fail_on_growth,
                 "Exit 1 when the growth (sum of the live-byte increases of all stacks that "
                 "grew, after --focus/--ignore) exceeds SIZE, e.g. 64K, 10MiB; for goroutine "
                 "profiles SIZE is a number of goroutines")
      ->check(check_size)
      ->type_name("SIZE");
  app.add_option("--fail-on-resource-growth", fail_on_resource_growth,
                 "Exit 1 when the resources (descriptors, POSIX timers, threads) live in the "
                 "last snapshot exceed those in the first by more than N (sum over the creating "
                 "stacks that grew)")
      ->check(CLI::NonNegativeNumber)
      ->type_name("N");
  app.add_option("--debug-dir", sym_options.debug_dirs,
                 "Also look for separate debug info in DIR (repeatable)")
      ->type_name("DIR")
      // One directory per occurrence, so "--debug-dir D a.heap b.heap" keeps the snapshots.
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--sysroot", sym_options.sysroot,
                 "Prefix every mapped path with DIR (snapshots from another machine)")
      ->type_name("DIR");
  app.add_option("--max-input", max_input,
                 "Refuse a snapshot larger than SIZE (default 256MiB), or with more than one "
                 "stack line per 256 bytes of it")
      ->check(check_size)
      ->type_name("SIZE");
  app.add_flag("--allow-different-processes", options.allow_different_processes,
               "Compare snapshots of different processes (pids), live sizes only; refused "
               "otherwise, since what one process allocated the other never saw");
  app.add_flag("--no-symbols", no_symbols, "Do not symbolize: show module+offset only");
  app.add_flag("--full-names", full_names,
               "Text report: full demangled names (parameters, template arguments) and full "
               "source paths instead of short ones");
  app.add_flag("--brief", brief,
               "Text report: the ranked table(s) only, without the inputs, totals and stacks");
  app.add_flag("--wide", wide,
               "Text report: never cut the table's site column (by default it fits 120 columns)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitError;
  }

  options.top = static_cast<size_t>(top);
  options.fold_wrappers = !keep_wrappers;
  options.keep_changed_stacks = !html_file.empty() || !pprof_file.empty();
  options.sort = sort == "objects" ? la::SortKey::kObjects : la::SortKey::kBytes;
  options.by = by == "function" ? la::GroupBy::kFunction
               : by == "line"   ? la::GroupBy::kLine
                                : la::GroupBy::kStack;
  if (!min_bytes.empty()) options.min_bytes = *la::parse_byte_size(min_bytes);
  if (!fail_on_growth.empty()) options.fail_on_growth = la::parse_byte_size(fail_on_growth);
  if (fail_on_resource_growth >= 0) options.fail_on_resource_growth = fail_on_resource_growth;
  la::ReportContext ctx;
  ctx.full_names = full_names;
  ctx.wide = wide;
  ctx.brief = brief;

  std::vector<la::Snapshot> snapshots;
  snapshots.reserve(files.size());
  for (const std::string& file : files) {
    la::Result<la::Snapshot> r = la::load_input(
        file, max_input.empty() ? la::kDefaultMaxInputBytes : *la::parse_byte_size(max_input));
    if (!r) return fail(r.error().message);
    snapshots.push_back(std::move(r).value());
  }
  std::vector<const la::Snapshot*> given;
  for (const la::Snapshot& s : snapshots) given.push_back(&s);

  std::unique_ptr<leakprobe::symbolize::Symbolizer> symbolizer;
  la::SymbolSource source;
  la::SymbolWarnings symbol_warnings;
  if (!no_symbols) {
    symbolizer = std::make_unique<leakprobe::symbolize::Symbolizer>(sym_options);
    source = [&symbolizer](const leakprobe::symbolize::ModuleRef& m, uint64_t offset) {
      return symbolizer->symbolize(m, offset);
    };
    symbol_warnings = [&symbolizer] { return symbolizer->take_warnings(); };
  }

  la::Result<la::Analysis> analysis = la::analyze(given, source, options, symbol_warnings);
  if (!analysis) return fail(analysis.error().message);
  if (options.fail_on_resource_growth && !analysis.value().resources.available) {
    // A gate that passes because there was nothing to look at would hide the leak it guards.
    return fail("--fail-on-resource-growth: resources cannot be compared: " +
                analysis.value().resources.why_not);
  }
  for (const la::Warning& w : analysis.value().warnings) {
    std::cerr << "heapdiff: " << la::terminal_safe(la::warning_text(w)) << "\n";
  }

  if (!html_file.empty() && html_file != "-") {
    std::ostringstream page;
    la::write_html_report(page, analysis.value(), ctx);
    if (auto e = la::write_file_whole(html_file, page.str(), "the HTML report to ")) {
      return fail(e->message);
    }
    // On stderr, so that the report on stdout stays what a script parses.
    std::cerr << "heapdiff: wrote the HTML report to " << shown_path(html_file) << "\n";
  }
  if (!pprof_file.empty()) {
    if (auto e = la::write_pprof_report(pprof_file, analysis.value())) return fail(e->message);
    std::cerr << "heapdiff: wrote the pprof profile to " << shown_path(pprof_file) << "\n";
  }
  if (html_file == "-") {
    la::write_html_report(std::cout, analysis.value(), ctx);
  } else if (json) {
    la::write_json_report(std::cout, analysis.value(), ctx);
  } else {
    la::write_text_report(std::cout, analysis.value(), ctx);
  }
  std::cout.flush();
  if (!std::cout) return fail("cannot write the report to standard output");

  const la::Analysis& a = analysis.value();
  if ((a.gate || a.resources.gate_threshold) && !a.interval_trusted()) {
    // A gate that passes over an interval the probe did not fully record would hide the
    // very growth it guards against: neither pass nor fail, but an error.
    return fail(std::string(a.gate ? "--fail-on-growth" : "--fail-on-resource-growth") +
                ": the interval cannot be trusted (see the warnings above); take the "
                "snapshots again while the probe records");
  }
  bool exceeded = false;
  if (a.resources.gate_threshold && a.resources.gate_exceeded) {
    std::cerr << "heapdiff: resource growth " << a.resources.growth
              << " exceeds --fail-on-resource-growth " << *a.resources.gate_threshold << "\n";
    exceeded = true;
  }
  if (a.gate && a.gate->exceeded) {
    // Count profiles gate on their count (goroutines), heap inputs on bytes.
    if (a.counts_only()) {
      std::cerr << "heapdiff: growth " << a.growth_objs << " exceeds --fail-on-growth "
                << a.gate->threshold << " (" << a.kind << " count)\n";
    } else {
      std::cerr << "heapdiff: growth " << a.growth_bytes << " bytes exceeds --fail-on-growth "
                << a.gate->threshold << " bytes\n";
    }
    return kExitGrowth;
  }
  return exceeded ? kExitGrowth : kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  // The library reports errors as values; this only guards against what cannot be a value
  // (std::bad_alloc on a huge input), so that even then the exit code is 2, not a crash.
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    return fail(std::string("internal error: ") + e.what());
  }
}
