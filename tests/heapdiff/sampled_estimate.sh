#!/usr/bin/env bash
# A sampled snapshot through heapdiff, checked against the truth: the target grows by exactly
# 20000 x 1000 B and 40 x 256 KiB between two snapshots taken at --sample-bytes 8192, and
# heapdiff's unsampled estimate (pprof's rule, leakprobe/sampling.h) must land near it.
#
# Bounds: a 1000 B block is sampled with p = 1 - exp(-1000/8192) = 0.115, so ~2300 of the
# 20000 are recorded, with a relative standard deviation of 2%; +-10% is 5 standard
# deviations (a false failure about once in 3 million runs). A 256 KiB block is sampled with
# p = 1 - exp(-32), i.e. always, and its scale is 1: that estimate must be exact.
# Usage: sampled_estimate.sh LEAKPROBE_CLI HEAPDIFF TARGET
set -u
cli=$1 heapdiff=$2 target=$3
. "$(dirname "$0")/../cli/testlib.sh"
work=$(mktemp -d)
cleanup() { exec 3>&- 2>/dev/null; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

mkfifo "$work/in"
"$cli" run --sample-bytes 8192 -o "$work/snaps" -- "$target" <"$work/in" >"$work/out" \
  2>"$work/err" &
pid=$!
exec 3>"$work/in"
wait_for grep -q READY "$work/out" || fail "target never became ready: $(cat "$work/err")"
expect_rc 0 "$cli" snapshot "$pid" -o "$work/base.heap"
echo grow >&3
wait_for grep -q GREW "$work/out" || fail "target never grew: $(cat "$work/err")"
expect_rc 0 "$cli" snapshot "$pid" -o "$work/new.heap"
head -1 "$work/new.heap" | grep -q '@ heap_v2/8192$' || fail "not a sampled snapshot: $(head -1 "$work/new.heap")"

expect_rc 0 "$heapdiff" --json --top 0 "$work/base.heap" "$work/new.heap"
printf '%s\n' "$out" >"$work/report.json"
python3 - "$work/report.json" <<'PY' || fail "estimates off (report in the log above)"
import json, sys
report = json.load(open(sys.argv[1]))
def entry(function):
    found = [e for e in report["entries"] if function in e["site"]["function"]]
    if len(found) != 1:
        print("no single entry for %s in:\n%s" % (function, json.dumps(report, indent=1)[:4000]))
        sys.exit(1)
    return found[0]
ok = True
def check(what, got, truth, tolerance):
    global ok
    off = abs(got - truth) / truth
    print("%-28s estimate %10d  truth %10d  off %5.2f%% (allowed %g%%)" %
          (what, got, truth, 100 * off, 100 * tolerance))
    ok = ok and off <= tolerance
small = entry("sampled_target_small_1000")
check("small: live bytes", small["delta_live_bytes"], 20000 * 1000, 0.10)
check("small: live objects", small["delta_live_objects"], 20000, 0.10)
large = entry("sampled_target_large_262144")
check("large: live bytes", large["delta_live_bytes"], 40 * 262144, 0.0)
check("large: live objects", large["delta_live_objects"], 40, 0.0)
sys.exit(0 if ok else 1)
PY
pass "sampled estimates within bounds"
