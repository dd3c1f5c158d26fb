#!/usr/bin/env python3
"""Asserts on heapdiff --json --by function reports of the Go reproducer's pprof profiles.

Leak mode (go_device_sessions without -fixed, N = --sessions):
  * goroutine report: kind "goroutine"; its first entry is main.(*deviceSession).watch with
    exactly +N goroutines, at the line marked "// LEAK-SITE goroutine" in --source;
  * heap report: kind "heap"; its first entry is main.newDeviceSession with exactly +N live
    objects and at least N x 6000 bytes (one session's history), at "// LEAK-SITE heap".
  With --no-heap-site (sampled heap profiles, a few samples) the heap entry is not checked.
Twin mode (-fixed): no growth at all in the program's own functions (main.*) in the goroutine
  report, and less than one session's 6000 bytes of it in the heap report.
Exit 0 when every assertion holds, 1 otherwise (each failure printed), 2 on bad input.
"""
import argparse
import json
import re
import sys

HISTORY_BYTES = 6000  # historyBytes in sessions.go


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        print(f"check_go_report: cannot read report {path}: {e}", file=sys.stderr)
        sys.exit(2)


def marker_line(path, tag):
    pattern = re.compile(r"//\s*LEAK-SITE\s+" + re.escape(tag) + r"\b")
    with open(path) as f:
        for number, text in enumerate(f, start=1):
            if pattern.search(text):
                return number
    print(f"check_go_report: no '// LEAK-SITE {tag}' marker in {path}", file=sys.stderr)
    sys.exit(2)


def own_growth(report, key):
    """Sum of the positive changes (key: delta_live_bytes or delta_live_objects) at main.*"""
    return sum(max(0, e[key]) for e in report["entries"]
               if e["site"]["function"].startswith("main."))


def check_site(failures, report, what, function, source, line, count, min_bytes=None):
    entries = report["entries"]
    if not entries:
        failures.append(f"{what}: no entries")
        return
    top = entries[0]
    site = top["site"]
    if site["function"] != function:
        failures.append(f"{what}: first entry is {site['function']!r}, expected {function!r}")
        return
    if not site["file"].endswith("go_device_sessions/" + source.rsplit("/", 1)[-1]):
        failures.append(f"{what}: site file {site['file']!r} is not the reproducer's")
    if site["line"] != line:
        failures.append(f"{what}: site line {site['line']}, the LEAK-SITE marker is on {line}")
    if top["delta_live_objects"] != count:
        failures.append(f"{what}: {top['delta_live_objects']:+d} at {function}, expected +{count}")
    if min_bytes is not None and top["delta_live_bytes"] < min_bytes:
        failures.append(f"{what}: {top['delta_live_bytes']:+d} bytes at {function}, "
                        f"expected at least {min_bytes}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", choices=["leak", "twin"], required=True)
    p.add_argument("--sessions", type=int, required=True)
    p.add_argument("--source", required=True, help="reproducers/go_device_sessions/sessions.go")
    p.add_argument("--goroutines", required=True, help="report of the goroutine profiles")
    p.add_argument("--heap", required=True, help="report of the heap profiles")
    p.add_argument("--no-heap-site", action="store_true",
                   help="sampled heap profiles: do not assert the heap's site and count")
    args = p.parse_args()
    if args.sessions <= 0:
        print("check_go_report: --sessions must be positive", file=sys.stderr)
        return 2
    goroutines, heap = load(args.goroutines), load(args.heap)
    failures = []
    if goroutines.get("kind") != "goroutine":
        failures.append(f"goroutine report: kind {goroutines.get('kind')!r}")
    if heap.get("kind") != "heap":
        failures.append(f"heap report: kind {heap.get('kind')!r}")

    if args.mode == "leak":
        check_site(failures, goroutines, "goroutine report", "main.(*deviceSession).watch",
                   args.source, marker_line(args.source, "goroutine"), args.sessions)
        if not args.no_heap_site:
            check_site(failures, heap, "heap report", "main.newDeviceSession", args.source,
                       marker_line(args.source, "heap"), args.sessions,
                       min_bytes=args.sessions * HISTORY_BYTES)
    else:
        grown = own_growth(goroutines, "delta_live_objects")
        if grown != 0:
            failures.append(f"goroutine report: the twin's own functions gained {grown} goroutines")
        grown = own_growth(heap, "delta_live_bytes")
        if grown >= HISTORY_BYTES:
            failures.append(f"heap report: the twin's own functions grew by {grown} bytes, "
                            f"not less than one session ({HISTORY_BYTES})")

    for f in failures:
        print("check_go_report: FAIL: " + f, file=sys.stderr)
    if not failures:
        print(f"check_go_report: {args.mode} ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
