#!/usr/bin/env bash
# LEAKPROBE_PEAK: a service bursts by 100 MiB of session buffers and is SIGKILLed at its peak,
# as the OOM killer would (no exit snapshot). The peak snapshot left on disk must hold at least
# 100 MiB / 1.1 (the set growth, 10%) at the burst's site, be the only peak file (the newest
# replaces the older), be complete, and be what `leakprobe snapshot --peak PID` names.
# usage: peak_oom.sh LEAKPROBE_CLI HEAPDIFF BURST_THEN_WAIT
set -uo pipefail
cli=$1 heapdiff=$2 target=$3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/testlib.sh"
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

"$cli" run --peak 1 --output "$work/snaps" -- "$target" 100 "$work/cue" "$work/done" 2>"$work/err" &
pid=$!
wait_for sh -c "'$cli' list 2>/dev/null | grep -q '^$pid\b'" || fail "the target never ran the probe"
expect_rc 1 "$cli" snapshot --peak "$pid"
expect_contains "$err" "no peak snapshot" "--peak before any peak"
base=$("$cli" snapshot "$pid") || fail "no base snapshot"
touch "$work/cue"
wait_for test -e "$work/done" || fail "the burst never finished"

# The newest peak snapshot: once the writer has seen the whole burst, it holds >= 100 MiB/1.1.
want=$(( 100 * 1048576 * 10 / 11 ))
peak=
for _ in $(seq 1 100); do
  peak=$("$cli" snapshot --peak "$pid" 2>/dev/null) || true
  if [ -n "$peak" ] && [ -f "$peak" ]; then
    live=$(head -1 "$peak" | sed -E 's/^heap profile: *[0-9]+: *([0-9]+) .*/\1/')
    [ "$live" -ge "$want" ] && break
  fi
  sleep 0.2
done
[ -n "$peak" ] && [ "${live:-0}" -ge "$want" ] || fail "no peak snapshot with >= $want B live (last: ${peak:-none}, ${live:-?} B)"
kill -9 "$pid"; wait "$pid" 2>/dev/null || true; pid=

peaks=$(grep -l '^# leakprobe.trigger: peak$' "$work"/snaps/leakprobe.*.heap | wc -l)
[ "$peaks" = 1 ] || fail "$peaks peak snapshots on disk, want only the newest"
[ "$(grep -l '^# leakprobe.trigger: peak$' "$work"/snaps/leakprobe.*.heap)" = "$peak" ] ||
  fail "the file on disk is not the one --peak named"
[ "$(tail -1 "$peak")" = "# leakprobe.end" ] || fail "the peak snapshot is incomplete"
ls "$work"/snaps/.leakprobe.* 2>/dev/null && fail "temporary files left behind"
pass "one complete peak snapshot on disk after SIGKILL: $(basename "$peak"), $live B live"

json=$("$heapdiff" --json "$base" "$peak") || fail "heapdiff failed on base + peak"
python3 - "$json" <<'PY' || fail "the peak snapshot does not name the burst: $json"
import json, sys
d = json.loads(sys.argv[1])
top = d["entries"][0]
ok = "burst_session_buffer" in top["key"] and top["delta_live_bytes"] >= 90_000_000
print(f"top entry {top['key']}: +{top['delta_live_bytes']} B")
sys.exit(0 if ok else 1)
PY
pass "heapdiff base peak names burst_session_buffer with >= 90 MB"

# The peak snapshot alone (often all an operator has after an OOM kill).
json=$("$heapdiff" --json "$peak") || fail "heapdiff failed on the peak snapshot alone"
python3 - "$json" <<'PY' || fail "heapdiff PEAK does not name the burst: $json"
import json, sys
d = json.loads(sys.argv[1])
top = d["entries"][0]
ok = d["mode"] == "live" and "burst_session_buffer" in top["key"] and top["delta_live_bytes"] >= 90_000_000
sys.exit(0 if ok else 1)
PY
pass "heapdiff PEAK alone names burst_session_buffer with >= 90 MB live"
