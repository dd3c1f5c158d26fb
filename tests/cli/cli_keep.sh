#!/usr/bin/env bash
# LEAKPROBE_KEEP end to end: `leakprobe run --interval 0.1 --keep 3` leaves the first interval
# snapshot and the two newest, never deletes the request or exit snapshot, and `leakprobe list`
# shows how many are kept. Usage: cli_keep.sh LEAKPROBE_CLI TARGET_PROGRAM
set -u
cli=$1 target=$2
. "$(dirname "$0")/testlib.sh"
work=$(mktemp -d)
cleanup() { exec 3>&- 2>/dev/null; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
snaps=$work/snaps

mkfifo "$work/in"
"$cli" run -o "$snaps" --interval 0.1 --keep 3 -- "$target" <"$work/in" >"$work/out" 2>"$work/err" &
pid=$!
exec 3>"$work/in"
wait_for grep -q READY "$work/out" || fail "target never became ready: $(cat "$work/err")"

list_shows_full() { "$cli" list 2>/dev/null | grep -q "^$pid	[a-z]*	[^	]*	3/3	"; }
wait_for list_shows_full || fail "leakprobe list never showed 3/3: $("$cli" list 2>&1)"
pass "leakprobe list shows KEPT 3/3"

expect_rc 0 "$cli" snapshot "$pid"
request=$out
request_seq=$(basename "$request" .heap); request_seq=$((10#${request_seq##*.}))
newest_seq() { ls "$snaps" | sed -n "s/^leakprobe\.$pid\.0*\([0-9][0-9]*\)\.heap$/\1/p" | sort -n | tail -1; }
rotated_past_request() { [ "$(newest_seq)" -ge $((request_seq + 4)) ]; }
wait_for rotated_past_request || fail "no interval snapshots after the request one"
exec 3>&-
wait "$pid" || fail "the profiled program failed: $(cat "$work/err")"
pid_done=$pid; pid=

interval_files=$(grep -l '^# leakprobe.trigger: interval$' "$snaps"/leakprobe."$pid_done".*.heap | sort)
[ "$(wc -l <<<"$interval_files")" = 3 ] || fail "want 3 interval snapshots, got: $interval_files"
grep -q "leakprobe.$pid_done.0001.heap" <<<"$interval_files" || fail "the first interval snapshot is gone"
[ -f "$request" ] || fail "the request snapshot $request was deleted"
grep -l '^# leakprobe.trigger: exit$' "$snaps"/*.heap >/dev/null || fail "no exit snapshot"
last_interval=$(tail -1 <<<"$interval_files")
newest_interval=$(grep -l '^# leakprobe.trigger: interval$' "$snaps"/*.heap | sort | tail -1)
[ "$last_interval" = "$newest_interval" ] || fail "the newest interval snapshot is not kept"
ls -a "$snaps" | grep -q '\.tmp$' && fail "a temporary file was left behind"
pass "first + 2 newest interval snapshots kept, request and exit snapshots kept"
