#!/usr/bin/env bash
# Issue 17's goals on the program of the issue (retention_target.c): 4 threads x 50,000 x 1000 B.
#   retain: frees 63 of every 64 -> verdict allocator-retention; heap_free_bytes within 10% of
#           RSS - live - heap from before recording; releasable_bytes within 25% of what
#           `leakprobe trim` then gives back; the waterfall adds up to RSS within 2%.
#   leak:   keeps every block (the same growth, live) -> verdict live-heap-growth; waterfall
#           within 2%.
# Usage: memory_goals.sh retain|leak LEAKPROBE_CLI HEAPDIFF TARGET
set -u
mode=$1 cli=$2 heapdiff=$3 target=$4
. "$(dirname "$0")/../cli/testlib.sh"
work=$(mktemp -d)
cleanup() { exec 3>&- 2>/dev/null; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

mkfifo "$work/in"
"$cli" run -o "$work/snaps" -- "$target" "$mode" <"$work/in" >"$work/out" 2>"$work/err" &
pid=$!
exec 3>"$work/in"
wait_for grep -q READY "$work/out" || fail "target never became ready: $(cat "$work/err")"
expect_rc 0 "$cli" snapshot "$pid" -o "$work/base.heap"
echo work >&3
for _ in $(seq 1 600); do grep -q WORKED "$work/out" && break; sleep 0.1; done
grep -q WORKED "$work/out" || fail "target never finished its work: $(cat "$work/err")"
expect_rc 0 "$cli" snapshot "$pid" -o "$work/new.heap"
grep -q '^# leakprobe.memory.rss: ' "$work/new.heap" || fail "no memory section in the snapshot"

expect_rc 0 "$heapdiff" --json "$work/base.heap" "$work/new.heap"
printf '%s\n' "$out" >"$work/report.json"
expect_rc 0 "$heapdiff" "$work/base.heap" "$work/new.heap"
text=$out
case "$text" in "memory: "*) ;; *) fail "the text report does not start with the memory part: $(printf '%s' "$text" | head -3)" ;; esac

trimmed=""
if [ "$mode" = retain ]; then
  expect_rc 0 "$cli" trim "$pid"
  printf '%s\n' "$out"
  trimmed=$(printf '%s\n' "$out" | sed -n 's/.*released .*(\(-\{0,1\}[0-9]*\) bytes)$/\1/p')
  [ -n "$trimmed" ] || fail "leakprobe trim printed no released figure: $out"
fi

python3 - "$work/report.json" "$mode" "$trimmed" <<'PY' || fail "goals not met (figures above)"
import json, sys
report, mode, trimmed = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
m = report["memory"]
if m is None:
    print("no memory object in the JSON report"); sys.exit(1)
new = m["new"]
ok = True
def check(what, good, detail):
    global ok
    print("%-52s %s  %s" % (what, "ok  " if good else "FAIL", detail))
    ok = ok and good
rss = new["rss_bytes"]
check("waterfall sum within 2% of RSS", abs(new["waterfall_sum_bytes"] - rss) <= 0.02 * rss,
      "sum %d, RSS %d" % (new["waterfall_sum_bytes"], rss))
if mode == "retain":
    check("verdict allocator-retention", m["verdict"] == "allocator-retention", m["verdict"])
    expected = rss - new["heap_live_bytes"] - new["heap_before_recording_bytes"]
    check("heap_free within 10% of RSS - live - before",
          abs(new["heap_free_bytes"] - expected) <= 0.10 * expected,
          "heap_free %d, RSS - live - before %d" % (new["heap_free_bytes"], expected))
    got = int(trimmed)
    check("releasable within 25% of what trim returned",
          got > 0 and abs(m["releasable_bytes"] - got) <= 0.25 * got,
          "releasable %d, trim returned %d" % (m["releasable_bytes"], got))
    check("advice names leakprobe trim", any(a["kind"] == "trim" for a in m["advice"]),
          [a["kind"] for a in m["advice"]])
else:
    check("verdict live-heap-growth", m["verdict"] == "live-heap-growth", m["verdict"])
    check("live heap grew by the leak (>= 190 MB)", m["change"]["heap_live_bytes"] >= 190e6,
          m["change"]["heap_live_bytes"])
sys.exit(0 if ok else 1)
PY
pass "memory goals ($mode)"
