// One small change for the tests of the writers that draw every changed stack (--html,
// --pprof): main -> serve -> {accept_client with open_session inlined -> malloc: grows 3000
// bytes; close_cache -> malloc: shrinks 1000} plus an unchanged stack, with exact fake symbols.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "leakprobe/analysis/analysis.h"
#include "test_snapshots.h"

namespace leakprobe::analysis::testing {

inline constexpr uint64_t kChangeBase = 0x555500000000;

inline SymbolSource fake_symbols(std::map<uint64_t, std::vector<symbolize::Frame>> by_offset) {
  return [by_offset](const symbolize::ModuleRef& m, uint64_t off) {
    if (m.path != "/opt/t/app") return std::vector<symbolize::Frame>{};
    auto it = by_offset.find(off);
    return it == by_offset.end() ? std::vector<symbolize::Frame>{} : it->second;
  };
}

struct ChangeFixture {
  Snapshot before, after;
  SymbolSource symbols;
  ChangeFixture() {
    const uint64_t malloc_ret = kChangeBase + 0x1101, open_ret = kChangeBase + 0x1201,
                   cache_ret = kChangeBase + 0x1301, serve_ret = kChangeBase + 0x1401,
                   main_ret = kChangeBase + 0x1501, idle_ret = kChangeBase + 0x1601;
    before = must_parse(
        leakprobe_text({{1, 100, 1, 100, {malloc_ret, open_ret, serve_ret, main_ret}},
                        {20, 2000, 20, 2000, {malloc_ret, cache_ret, serve_ret, main_ret}},
                        {5, 50, 5, 50, {malloc_ret, idle_ret, main_ret}}}),
        "before.heap");
    after = must_parse(
        leakprobe_text({{31, 3100, 31, 3100, {malloc_ret, open_ret, serve_ret, main_ret}},
                        {10, 1000, 20, 2000, {malloc_ret, cache_ret, serve_ret, main_ret}},
                        {5, 50, 5, 50, {malloc_ret, idle_ret, main_ret}}}),
        "after.heap");
    symbols = fake_symbols({
        {0x1100, {{"malloc", "malloc.c", 1, false}}},
        // One address, two rows: open_session was inlined into accept_client.
        {0x1200,
         {{"open_session", "session.c", 12, true}, {"accept_client", "server.c", 40, false}}},
        {0x1300, {{"close_cache", "cache.c", 7, false}}},
        {0x1400, {{"serve", "server.c", 90, false}}},
        {0x1500, {{"main", "main.c", 3, false}}},
        {0x1600, {{"idle", "main.c", 9, false}}},
    });
  }
  // `with_symbols` false: as --no-symbols.
  Analysis analyze_all(bool keep = true, bool with_symbols = true) const {
    Options o;
    o.keep_changed_stacks = keep;
    Result<Analysis> r = analyze({&before, &after}, with_symbols ? symbols : SymbolSource{}, o);
    EXPECT_TRUE(r.ok());
    return std::move(r).value();
  }
};

}  // namespace leakprobe::analysis::testing
