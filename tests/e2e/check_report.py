#!/usr/bin/env python3
"""Asserts on one heapdiff --json report from an e2e run (see run_scenario.sh).

Leak mode (a leaky reproducer):
  * the top growth entry's site is the expected function, in the expected file, on the line
    marked "// LEAK-SITE <tag>" in that file, give or take --line-slack lines (the return
    address of the allocation call can map to a neighbouring line of the same statement);
  * its growth is --iterations x --site-bytes bytes and --iterations objects, within
    --tolerance (default 2 %: the cycles are synchronous, so the real figure is exact);
  * heapdiff --fail-on-growth <floor> exited 1;
  * the reproducer's sockets or timerfds (--fd-kind) grew by --iterations x --fds-per-cycle,
    within --tolerance.
Broker mode (--expect-module): the top entry's site is in that module, and walking its stack
  past the broker's own malloc wrappers (mosquitto__malloc, ...) reaches one of the
  --expect-stack-function names.
Twin mode: the total growth is at most --floor bytes, heapdiff --fail-on-growth <floor>
  exited 0, and the fds of --fd-kind did not grow.
With --trend-report (heapdiff --json over three snapshots of the same run): in leak mode
  the first entry is classified "growing" and has the same site as the top growth above; in
  twin mode no entry is "growing".
Exit 0 when every assertion holds, 1 otherwise (each failure printed), 2 on bad input.
"""
import argparse
import json
import os
import re
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        print(f"check_report: cannot read report {path}: {e}", file=sys.stderr)
        sys.exit(2)


def delta_of(entry):
    """(bytes, objects) by which an entry's live heap grew between the two snapshots."""
    delta = entry["delta"]
    return int(delta["live_bytes"]), int(delta["live_objects"])


def marker_line(path, tag):
    pattern = re.compile(r"//\s*LEAK-SITE\b\s*" + re.escape(tag) + r"\s*$")
    with open(path) as f:
        for number, text in enumerate(f, start=1):
            if pattern.search(text):
                return number
    print(f"check_report: no '// LEAK-SITE {tag}' marker in {path}", file=sys.stderr)
    sys.exit(2)


def within(actual, expected, tolerance):
    return abs(actual - expected) <= tolerance * expected


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--report", required=True)
    p.add_argument("--mode", choices=["leak", "twin"], required=True)
    p.add_argument("--iterations", type=int, required=True)
    p.add_argument("--floor", type=int, required=True)
    p.add_argument("--gate-exit", type=int, required=True,
                   help="exit code of heapdiff --fail-on-growth FLOOR on the same pair")
    p.add_argument("--site-bytes", type=int)
    p.add_argument("--expect-function")
    p.add_argument("--expect-source", help="source file holding the LEAK-SITE marker")
    p.add_argument("--marker", help="tag after LEAK-SITE in the source")
    p.add_argument("--line-slack", type=int, default=1)
    p.add_argument("--expect-module", help="basename the top site's module must have")
    p.add_argument("--expect-stack-function", action="append", default=[])
    p.add_argument("--objects-per-cycle", type=int, default=1)
    p.add_argument("--tolerance", type=float, default=0.02)
    p.add_argument("--trend-report", help="heapdiff --json over 3+ snapshots of the same run")
    p.add_argument("--fd-kind", choices=["socket", "timerfd"])
    p.add_argument("--fd-before", type=int)
    p.add_argument("--fd-after", type=int)
    p.add_argument("--fds-per-cycle", type=int, default=1)
    p.add_argument("--resource", action="append", default=[], metavar="KIND:PER_CYCLE:FUNCTION",
                   help="leak mode: a resource entry of KIND whose site is FUNCTION grew by "
                        "iterations x PER_CYCLE (repeatable)")
    p.add_argument("--resources-flat", action="store_true",
                   help="twin mode: no descriptor, timer or thread grew (resource growth 0)")
    a = p.parse_args()

    report = load(a.report)
    failures = []
    n = a.iterations

    def expect(ok, message):
        print(("ok    " if ok else "FAIL  ") + message)
        if not ok:
            failures.append(message)

    entries = report.get("entries", [])
    growing = [e for e in entries if delta_of(e)[0] > 0]
    growing.sort(key=lambda e: delta_of(e)[0], reverse=True)
    # The same figure heapdiff --fail-on-growth compares: live-byte increases of the stacks that
    # grew, so a shrinking stack cannot hide a growing one.
    total_growth = int(report["growth"]["live_bytes"])

    if a.mode == "leak":
        expect(bool(growing), "the report has a growing entry")
        if growing:
            top = growing[0]
            site = top["site"]
            grew_bytes, grew_objects = delta_of(top)
            print(f"      top entry: {site.get('function')} {site.get('file')}:{site.get('line')}"
                  f" in {site.get('module')}: +{grew_bytes} B in +{grew_objects} objects")
            if a.expect_function:
                expect((site.get("function") or "").split("(")[0] == a.expect_function,
                       f"top site function is {a.expect_function}")
            if a.expect_source:
                line = marker_line(a.expect_source, a.marker)
                expect(os.path.basename(site.get("file") or "") == os.path.basename(a.expect_source),
                       f"top site file is {os.path.basename(a.expect_source)}")
                expect(abs(int(site.get("line") or 0) - line) <= a.line_slack,
                       f"top site line is the LEAK-SITE line {line} (+-{a.line_slack})")
            if a.site_bytes:
                expect(within(grew_bytes, n * a.site_bytes, a.tolerance),
                       f"top growth {grew_bytes} B is {n} x {a.site_bytes} B (+-{a.tolerance:.0%})")
            expect(within(grew_objects, n * a.objects_per_cycle, a.tolerance),
                   f"top growth {grew_objects} objects is {n} x {a.objects_per_cycle}"
                   f" (+-{a.tolerance:.0%})")
            if a.expect_module:
                expect(os.path.basename(site.get("module") or "") == a.expect_module,
                       f"top site module is {a.expect_module}")
            if a.expect_stack_function:
                # Skip the broker's own allocation wrappers: they say "memory", not "why".
                frames = [f.get("function") or "" for f in top.get("frames", [])]
                first_real = next((f for f in frames if not f.startswith("mosquitto__")), "")
                print(f"      first frame past the broker's malloc wrappers: {first_real}")
                expect(first_real in a.expect_stack_function,
                       f"the stack reaches the queueing path ({', '.join(a.expect_stack_function)})")
        expect(a.gate_exit == 1, f"heapdiff --fail-on-growth {a.floor} exited 1 (got {a.gate_exit})")
    else:
        expect(total_growth <= a.floor,
               f"total growth {total_growth} B is within the noise floor {a.floor} B")
        expect(a.gate_exit == 0, f"heapdiff --fail-on-growth {a.floor} exited 0 (got {a.gate_exit})")

    if a.trend_report:
        trend = load(a.trend_report)
        expect(trend.get("mode") == "trend", "the trend report is in trend mode")
        trend_entries = trend.get("entries", [])
        if a.mode == "leak":
            first = trend_entries[0] if trend_entries else {}
            print(f"      trend #1: {first.get('trend')} {first.get('key')}")
            expect(first.get("trend") == "growing", "the first trend entry is classified growing")
            if growing:
                expect(first.get("site") == growing[0]["site"],
                       "the first trend entry is the top growth site of the diff")
        else:
            suspects = [e.get("key") for e in trend_entries if e.get("trend") == "growing"]
            expect(not suspects, f"no trend entry is classified growing {suspects or ''}")

    if a.fd_kind:
        grown = a.fd_after - a.fd_before
        if a.mode == "leak":
            expected = n * a.fds_per_cycle
            expect(within(grown, expected, a.tolerance),
                   f"{a.fd_kind} fds grew by {grown}, expected {n} x {a.fds_per_cycle}"
                   f" (+-{a.tolerance:.0%})")
        else:
            expect(grown <= 0, f"{a.fd_kind} fds did not grow ({a.fd_before} -> {a.fd_after})")

    # Descriptors, timers and threads by creating stack (the report's "resources" list).
    for spec in a.resource:
        kind, per_cycle, function = spec.split(":", 2)
        expect(report.get("resources_compared") is True,
               f"resources were compared ({report.get('resources_not_compared')})")
        matching = [r for r in report.get("resources", []) if r.get("kind") == kind
                    and (r["site"].get("function") or "").split("(")[0] == function]
        grown = sum(int(r["delta_count"]) for r in matching)
        expected = n * int(per_cycle)
        expect(within(grown, expected, a.tolerance),
               f"{kind} resources from {function} grew by {grown}, expected {n} x {per_cycle}"
               f" (+-{a.tolerance:.0%})")
    if a.resources_flat:
        expect(report.get("resources_compared") is True,
               f"resources were compared ({report.get('resources_not_compared')})")
        grown = [f"{r['kind']} {r['key']} {r['delta_count']:+d}" for r in report.get("resources", [])
                 if int(r["delta_count"]) > 0]
        expect(int(report.get("resource_growth", -1)) == 0,
               f"no descriptor, timer or thread grew {grown or ''}")

    if failures:
        print(f"check_report: {len(failures)} assertion(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
