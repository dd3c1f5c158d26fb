#!/usr/bin/env bash
# `leakprobe run` + `leakprobe snapshot`: two on-demand snapshots of a running program, each
# complete, private (0600), sequenced, and counting the program's allocations.
# Usage: cli_run_snapshot.sh LEAKPROBE_CLI TARGET_PROGRAM
set -u
cli=$1 target=$2
. "$(dirname "$0")/testlib.sh"
work=$(mktemp -d)
cleanup() { exec 3>&- 2>/dev/null; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

mkfifo "$work/in"
"$cli" run -o "$work/snaps" -- "$target" <"$work/in" >"$work/out" 2>"$work/err" &
pid=$!
exec 3>"$work/in"
wait_for grep -q READY "$work/out" || fail "target never became ready: $(cat "$work/err")"
grep -q "READY $pid" "$work/out" || fail "run must keep the pid ($pid): $(cat "$work/out")"
expect_contains "$(cat "$work/err")" "profiling pid $pid" "run announces the pid"

expect_rc 0 "$cli" list
expect_contains "$out" "$pid" "list shows the profiled process"

expect_rc 0 "$cli" snapshot "$pid" --timeout 20
first=$out
[ -f "$first" ] || fail "snapshot path '$first' does not exist"
echo go >&3   # one more allocation between the snapshots
expect_rc 0 "$cli" snapshot "$pid" -o "$work/copy.heap"
[ "$out" = "$work/copy.heap" ] || fail "-o must print the copy's path, got '$out'"
second=$(ls "$work/snaps"/leakprobe."$pid".0002.heap 2>/dev/null) || fail "second snapshot missing"

for f in "$first" "$second"; do
  case "$(basename "$f")" in leakprobe."$pid".000[12].heap) ;; *) fail "bad name $f" ;; esac
  [ "$(stat -c %a "$f")" = 600 ] || fail "$f has mode $(stat -c %a "$f"), want 600"
  head -1 "$f" | grep -Eq '^heap profile: +[0-9]+: +[0-9]+ \[ *[0-9]+: +[0-9]+\] @ heapprofile$' \
    || fail "$f: bad header: $(head -1 "$f")"
  [ "$(tail -1 "$f")" = "# leakprobe.end" ] || fail "$f: no trailer"
  grep -q "^# leakprobe.trigger: request$" "$f" || fail "$f: trigger is not 'request'"
  grep -q "^# leakprobe.pid: $pid$" "$f" || fail "$f: wrong pid"
  grep -q "^MAPPED_LIBRARIES:$" "$f" || fail "$f: no maps"
done
cmp -s "$second" "$work/copy.heap" || fail "-o copy differs from the published snapshot"
ls -a "$work/snaps" | grep -q '\.tmp$' && fail "a temporary file was left behind"

# The target's own site, exactly: 3 blocks of 7777 live in the first snapshot, 4 in the second
# (rows and their object counts summed: the compiler may give each call its own stack).
live_7777() { awk '/^ *[0-9]+: +[0-9]+ \[/ { if ($2 % 7777 == 0 && $2 > 0) { n += $1; s += $2 } } END { print n + 0, s + 0 }' "$1"; }
[ "$(live_7777 "$first")" = "3 $((3 * 7777))" ] \
  || fail "first snapshot: $(live_7777 "$first") (objects bytes) of 7777, want exactly 3 $((3 * 7777))"
[ "$(live_7777 "$second")" = "4 $((4 * 7777))" ] \
  || fail "second snapshot: $(live_7777 "$second") (objects bytes) of 7777, want exactly 4 $((4 * 7777))"

exec 3>&-
wait "$pid"; rc=$?
[ "$rc" = 0 ] || fail "the profiled program exited $rc"
pass "run/snapshot/list"
