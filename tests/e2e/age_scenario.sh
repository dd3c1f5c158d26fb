#!/usr/bin/env bash
# The age of live memory against a real broker: the churning-cache service
# (reproducers/churning_cache) under libleakprobe, a snapshot in the middle of the run (A) and
# one at its end (B).
#   --mode leak: in ONE snapshot (heapdiff B) the audit trail's mean age is at least 3x the
#     cache's (the leak's blocks are old, the cache's young); over A -> B nearly all of the
#     trail's blocks live in A are still live, almost none of the cache's.
#   --mode twin: the trail is trimmed: its blocks are as young as the cache's and nothing of
#     ours grows from A to B.
# Bounded: a few seconds of cycles at a fixed rate; every wait has a timeout.
#
#   age_scenario.sh --work DIR --probe LIB --cli EXE --heapdiff EXE --repro EXE --mode leak|twin
#                   [--iterations N] [--rate R] [--devices D]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=../../scripts/lib/broker.sh disable=SC1091
source "$repo/scripts/lib/broker.sh"
# shellcheck source=scenario_lib.sh disable=SC1091
source "$repo/tests/e2e/scenario_lib.sh"

work="" probe="" cli="" heapdiff="" repro="" mode="" iterations=1000 rate=100 devices=10
while [ $# -gt 0 ]; do
  case $1 in
    --work) work=$2; shift 2 ;;
    --probe) probe=$2; shift 2 ;;
    --cli) cli=$2; shift 2 ;;
    --heapdiff) heapdiff=$2; shift 2 ;;
    --repro) repro=$2; shift 2 ;;
    --mode) mode=$2; shift 2 ;;
    --iterations) iterations=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --devices) devices=$2; shift 2 ;;
    *) echo "age_scenario: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
for required in work probe cli heapdiff repro mode; do
  if [ -z "${!required}" ]; then echo "age_scenario: --$required is required" >&2; exit 2; fi
done
case $mode in leak|twin) ;; *) echo "age_scenario: --mode leak|twin" >&2; exit 2 ;; esac

scenario_begin age_scenario "$work"
mkdir -p "$work/snapshots"

broker_start "$work/broker" || die "mosquitto did not start"
echo "broker pid $BROKER_PID on 127.0.0.1:$BROKER_PORT"

fixed=()
if [ "$mode" = twin ]; then fixed=(--fixed); fi
coproc REPRO {
  exec env LD_PRELOAD="$probe" LEAKPROBE_OUTPUT_DIR="$work/snapshots" LEAKPROBE_AT_EXIT=0 \
    "$repro" --port "$BROKER_PORT" --warmup 20 --iterations "$iterations" --rate "$rate" \
    --devices "$devices" --checkpoints 2 --sync "${fixed[@]}" 2>"$work/repro.stderr"
}
# shellcheck disable=SC2153  # REPRO_PID is set by coproc
repro_pid=$REPRO_PID
repro_out=${REPRO[0]}
repro_in=${REPRO[1]}
expect_line() {  # bounded: 60 s a line (half the run at the set rate is a few seconds)
  local word=$1 line
  while IFS= read -r -t 60 -u "$repro_out" line; do
    echo "$line" >>"$work/repro.stdout"
    case $line in "$word"*) return 0 ;; esac
  done
  die "reproducer never printed $word"
}

expect_line WARM
echo go >&"$repro_in"
expect_line MARK
"$cli" snapshot "$repro_pid" -o "$work/A.heap" --timeout 20 >/dev/null || die "snapshot A failed"
echo go >&"$repro_in"
expect_line DONE
"$cli" snapshot "$repro_pid" -o "$work/B.heap" --timeout 20 >/dev/null || die "snapshot B failed"
echo go >&"$repro_in"
for _ in $(seq 1 100); do kill -0 "$repro_pid" 2>/dev/null || break; sleep 0.1; done
repro_rc=0
wait "$repro_pid" || repro_rc=$?
repro_pid=""
[ "$repro_rc" -eq 0 ] || die "reproducer exited with $repro_rc"

# One snapshot, the way a user reads it, then as JSON; and the diff A -> B.
"$heapdiff" --by function --top 5 "$work/B.heap" | tee "$work/one.txt"
"$heapdiff" --json --by function --top 0 "$work/B.heap" >"$work/one.json" || die "heapdiff B failed"
"$heapdiff" --json --by function --top 0 "$work/A.heap" "$work/B.heap" >"$work/diff.json" \
  || die "heapdiff A B failed"

python3 - "$work" "$mode" "$iterations" "$devices" <<'PY'
import json, sys
work, mode, iterations, devices = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
one = json.load(open(work + "/one.json"))
diff = json.load(open(work + "/diff.json"))
text = open(work + "/one.txt").read()
ok = True
def check(what, good, detail):
    global ok
    print("%-62s %s  %s" % (what, "ok  " if good else "FAIL", detail))
    ok = ok and good
def entry(report, function):
    found = [e for e in report["entries"] if function in e["site"]["function"]]
    return found[0] if found else None

check("the snapshot says how old its blocks are", one["age"]["known"], one["age"])
check("the text report shows the mean age", "mean age" in text, "")
check("the diff can tell what is still live", diff["age"]["still_live_known"], diff["age"])
trail, cache = entry(one, "AuditTrail::append"), entry(one, "DeviceCache::store")
if trail is None or cache is None:
    sys.exit("the one-snapshot report lists no AuditTrail::append or DeviceCache::store entry")
t_age, c_age = trail["mean_age_s"], cache["mean_age_s"]
t_live, c_live = trail["live_bytes"][-1], cache["live_bytes"][-1]
check("the cache holds one reading per device", devices * 480 <= c_live <= devices * 600,
      "%d bytes for %d devices" % (c_live, devices))
check("the cache's blocks are young (mean age <= 2 s)", c_age is not None and c_age <= 2,
      "mean %s s, by age %s" % (c_age, cache["live_bytes_by_age"]))
dtrail = entry(diff, "AuditTrail::append")  # the cache does not change: not a diff entry
if mode == "leak":
    cycles = 20 + iterations
    check("the trail keeps every record", t_live >= 0.95 * cycles * 240,
          "%d bytes after %d cycles" % (t_live, cycles))
    check("one snapshot: the leak's mean age >= 3x the cache's, and >= 2 s",
          t_age is not None and t_age >= 2 and t_age >= 3 * max(c_age, 1),
          "leak %s s, cache %s s" % (t_age, c_age))
    # Every record live at A is still live at B; the share reads low only by what was
    # allocated within A's own second (counted as after it, never guessed): at most ~1 s of a
    # ~5 s history here.
    check("diff: >= 75% of the trail live at A is still live at B",
          dtrail is not None and (dtrail["still_live_pct"] or 0) >= 75,
          dtrail and dtrail["still_live_pct"])
else:
    check("the trimmed trail holds at most its last records", t_live <= 40 * 256,
          "%d bytes" % t_live)
    check("its blocks are young too (mean age <= 2 s)", t_age is not None and t_age <= 2,
          "mean %s s" % t_age)
    grown = [e for e in diff["entries"] if e["delta_live_bytes"] > 2048]
    check("diff: no function grows by more than 2 KiB from A to B", not grown,
          [(e["key"], e["delta_live_bytes"]) for e in grown])
sys.exit(0 if ok else 1)
PY
