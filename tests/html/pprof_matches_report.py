#!/usr/bin/env python3
"""Checks a `heapdiff --pprof` export against heapdiff's own report of the same snapshots:
`go tool pprof -top` must name the same sites with the same byte changes.

    pprof_matches_report.py HEAPDIFF S1 S2 OUT.pb.gz

heapdiff --by function sums every stack by its site's function; pprof -top's flat column sums
by the innermost function of each sample. With the allocator folded, the two agree where the
site is the innermost kept row (C programs such as mosquitto), so the check is exact: every
site function of the report appears in pprof's top with the same flat bytes, and no module of
the report shows up in pprof as an unnamed [module].
"""
import json
import re
import subprocess
import sys


def main():
    heapdiff, s1, s2, out = sys.argv[1:5]
    report = json.loads(subprocess.run(
        [heapdiff, "--json", "--by", "function", "--top", "0", "--pprof", out, s1, s2],
        check=True, capture_output=True, text=True).stdout)
    top = subprocess.run(["go", "tool", "pprof", "-top", "-nodecount=100000",
                          "-sample_index=inuse_space", "-unit=B", out],
                         check=True, capture_output=True, text=True).stdout
    flat = {}
    row = re.compile(r"^\s*(-?\d+)B\s+\S+%\s+\S+%\s+-?\d+B\s+\S+%\s+(.*)$")
    for line in top.splitlines():
        m = row.match(line)
        if m:
            flat[m.group(2).strip()] = int(m.group(1))
    failures = []
    checked = 0
    for e in report["entries"]:
        function = e["site"]["function"]
        if not function:
            continue
        checked += 1
        want = e["delta_live_bytes"]
        got = flat.get(function)
        status = "ok  " if got == want else "FAIL"
        print(f"{status} {function}: report {want} B, pprof flat {got} B")
        if got != want:
            failures.append(function)
    unnamed = [name for name in flat if re.fullmatch(r"\[[^\]]*mosquitto[^\]]*\]", name)]
    if unnamed:
        failures.append("pprof shows unnamed frames " + ", ".join(unnamed))
        print("FAIL pprof shows unnamed frames: " + ", ".join(unnamed))
    if checked == 0:
        failures.append("the report names no site")
    if failures:
        print(top)
        sys.exit(1)
    print(f"pprof -top names the report's {checked} site functions with the same bytes")


if __name__ == "__main__":
    main()
