#!/usr/bin/env bash
# Snapshots say what they could not see, and never freeze:
#   - a full stack table (LEAKPROBE_MAX_STACKS=1024, 2048 stacks): frees are still taken out,
#     so a program that freed everything ends with nothing of its own live (it used to show
#     every block recorded before the table filled as live), blocks from stacks without room
#     are counted on one line without frames, and the snapshot says
#     `# leakprobe.incomplete: stack-table-full since T`;
#   - a library opened with RTLD_DEEPBIND frees host blocks through libc: the probe says so
#     once and the snapshot says `deepbind-frees since T`; opened without it, nothing is said.
# The programs' own output and exit status stay as without the probe, and heapdiff over an
# interval ending in such a snapshot says it cannot be trusted (text, JSON, gate exit 2).
# Usage: incomplete_snapshots.sh LIBLEAKPROBE MANY_STACKS_PROGRAM DEEPBIND_PROGRAM DEEPBIND_LIB
#        HEAPDIFF
set -u
probe=$(realpath "$1") many=$(realpath "$2") deepbind=$(realpath "$3") lib=$(realpath "$4")
heapdiff=$(realpath "$5")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# run DIR [VAR=VALUE...] -- CMD...: plain run in DIR/plain, probed run in DIR/probed; the two
# stdout and exit statuses must match. The probed run's snapshot path goes to DIR/snap.
run() {
  local dir=$1
  shift
  local -a vars=()
  while [ "$1" != -- ]; do vars+=("$1"); shift; done
  shift
  mkdir -p "$dir/plain" "$dir/probed"
  (cd "$dir/plain" && "$@" >out 2>err </dev/null; echo $? >status)
  (cd "$dir/probed" && env LD_PRELOAD="$probe" LEAKPROBE_QUIET=1 "${vars[@]}" "$@" >out 2>err \
     </dev/null; echo $? >status)
  cmp -s "$dir/plain/out" "$dir/probed/out" && cmp -s "$dir/plain/status" "$dir/probed/status" ||
    fail "$dir: output or status differ under the probe: $(cat "$dir/probed/out" "$dir/probed/status" "$dir/probed/err")"
  ls "$dir/probed"/leakprobe.*.heap >"$dir/snap" 2>/dev/null && [ "$(wc -l <"$dir/snap")" = 1 ] ||
    fail "$dir: want one exit snapshot"
}
# since_ok FILE REASON: the snapshot has "incomplete: REASON since T" with T in this test's time.
since_ok() {
  local t
  t=$(sed -n "s/^# leakprobe.incomplete: $2 since \([0-9]*\)$/\1/p" "$1")
  [ -n "$t" ] && [ "$t" -ge "$start" ] && [ "$t" -le "$(date +%s)" ]
}
start=$(date +%s)

# --- a full stack table ---------------------------------------------------------------------
d=$work/full
run "$d" LEAKPROBE_MAX_STACKS=1024 -- "$many"
s=$(cat "$d/snap")
since_ok "$s" stack-table-full || fail "full table: no 'incomplete: stack-table-full since T' in $s"
[ "$(grep -c 'leakprobe: the stack table is full' "$d/probed/err")" = 1 ] ||
  fail "full table: want it said once: $(cat "$d/probed/err")"
# The header's live bytes: libc's own few blocks, not the 3 MB recorded before the table filled.
live=$(head -n 1 "$s" | sed -E 's/^heap profile: *[0-9]+: *([0-9]+) .*/\1/')
[ "$live" -lt 100000 ] || fail "full table: $live bytes still live after the program freed everything"
# The line without frames holds the blocks whose stacks found no room.
over=$(awk '/^[0-9]+: [0-9]+ \[[0-9]+: [0-9]+\] @ *$/ { sub(/\[/, ""); print $3 + 0 }' "$s")
[ -n "$over" ] && [ "$over" -ge 3000 ] || fail "full table: no line without frames counting the rest (got '$over')"
[ $failures = 0 ] && echo "ok: full stack table: marked, $live bytes live at exit, $over blocks without a stack"

# --- RTLD_DEEPBIND --------------------------------------------------------------------------
for mode in deepbind plain; do
  d=$work/$mode
  run "$d" -- "$deepbind" "$lib" $mode
  s=$(cat "$d/snap")
  said=$(grep -c "opened with RTLD_DEEPBIND ($lib)" "$d/probed/err")
  if [ $mode = deepbind ]; then
    since_ok "$s" deepbind-frees || fail "deepbind: no 'incomplete: deepbind-frees since T' in $s"
    [ "$said" = 1 ] || fail "deepbind: want it said once, naming the library: $(cat "$d/probed/err")"
  else
    grep -q '^# leakprobe.incomplete' "$s" && fail "plain dlopen: snapshot marked: $(grep incomplete "$s")"
    [ "$said" = 0 ] || fail "plain dlopen: the probe spoke of RTLD_DEEPBIND"
  fi
done
[ $failures = 0 ] && echo "ok: RTLD_DEEPBIND marked, a plain dlopen not"

# --- heapdiff over such intervals -----------------------------------------------------------
# An interval snapshot while the blocks are live, then the exit snapshot after the frees: the
# text, the JSON and the gate must all say the interval cannot be trusted, never "no growth".
# check_diff NAME REASON DIR CMD...
check_diff() {
  local name=$1 reason=$2 dir=$3
  shift 3
  mkdir -p "$dir"
  (cd "$dir" && env LD_PRELOAD="$probe" LEAKPROBE_QUIET=1 LEAKPROBE_INTERVAL=1 "$@" >/dev/null 2>&1 </dev/null)
  local -a snaps
  mapfile -t snaps < <(ls "$dir"/leakprobe.*.heap 2>/dev/null)
  if [ ${#snaps[@]} -lt 2 ]; then
    fail "$name: want an interval and an exit snapshot, got ${#snaps[@]}"
    return
  fi
  local a=${snaps[0]} b=${snaps[-1]} rc
  "$heapdiff" --no-symbols "$a" "$b" >"$dir/text" 2>"$dir/text.err"
  rc=$?
  [ $rc = 0 ] || fail "$name: heapdiff exited $rc: $(cat "$dir/text.err")"
  grep -q "UNTRUSTED" "$dir/text" && grep -q "incomplete ($reason since " "$dir/text" ||
    fail "$name: the text report does not distrust the interval for $reason: $(head -n 20 "$dir/text")"
  grep -qi "no growth" "$dir/text" && fail "$name: the text report says no growth"
  "$heapdiff" --no-symbols --json "$a" "$b" >"$dir/json" 2>/dev/null ||
    fail "$name: heapdiff --json failed"
  python3 - "$dir/json" "$reason" <<'PY' || fail "$name: JSON does not distrust the interval"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["interval_trusted"] is False and d["no_growth"] is False, d
w = [w for w in d["warnings"] if w["code"] == "incomplete" and w["untrusted_interval"]]
assert w and sys.argv[2] in w[0]["message"], d["warnings"]
PY
  "$heapdiff" --no-symbols --fail-on-growth 1G "$a" "$b" >/dev/null 2>&1
  rc=$?
  [ $rc = 2 ] || fail "$name: the gate over an untrusted interval exited $rc, want 2"
  [ $failures = 0 ] && echo "ok: heapdiff over $name: untrusted in text and JSON, gate exit 2"
}
check_diff "a full stack table" stack-table-full "$work/diff-full" \
  env LEAKPROBE_MAX_STACKS=1024 "$many" 2
check_diff "an RTLD_DEEPBIND library" deepbind-frees "$work/diff-deepbind" "$deepbind" "$lib" deepbind 2
[ $failures = 0 ]
