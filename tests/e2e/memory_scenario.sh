#!/usr/bin/env bash
# Is it a leak? against a real broker: the connection-storm gateway (reproducers/connection_storm)
# under libleakprobe, a snapshot before the storms and one after, heapdiff's memory verdict.
#   --mode twin: the gateway frees every backlog; glibc keeps the memory. The verdict must be
#     allocator-retention, and `leakprobe trim` must give back most of the RSS growth, within
#     25% of heapdiff's releasable estimate.
#   --mode leak: the gateway keeps every backlog: live-heap-growth.
# Both: the waterfall adds up to the RSS within 2%; the text report starts with the memory part.
#
#   memory_scenario.sh --work DIR --probe LIB --cli EXE --heapdiff EXE --repro EXE --mode leak|twin
#                      [--iterations N] [-- REPRO_ARGS...]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=../../scripts/lib/broker.sh disable=SC1091
source "$repo/scripts/lib/broker.sh"
# shellcheck source=scenario_lib.sh disable=SC1091
source "$repo/tests/e2e/scenario_lib.sh"

work="" probe="" cli="" heapdiff="" repro="" mode="" iterations=2
repro_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --work) work=$2; shift 2 ;;
    --probe) probe=$2; shift 2 ;;
    --cli) cli=$2; shift 2 ;;
    --heapdiff) heapdiff=$2; shift 2 ;;
    --repro) repro=$2; shift 2 ;;
    --mode) mode=$2; shift 2 ;;
    --iterations) iterations=$2; shift 2 ;;
    --) shift; repro_args=("$@"); break ;;
    *) echo "memory_scenario: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
for required in work probe cli heapdiff repro mode; do
  if [ -z "${!required}" ]; then echo "memory_scenario: --$required is required" >&2; exit 2; fi
done
case $mode in leak|twin) ;; *) echo "memory_scenario: --mode leak|twin" >&2; exit 2 ;; esac

scenario_begin memory_scenario "$work"
mkdir -p "$work/snapshots"

broker_start "$work/broker" || die "mosquitto did not start"
echo "broker pid $BROKER_PID on 127.0.0.1:$BROKER_PORT"

fixed=()
if [ "$mode" = twin ]; then fixed=(--fixed); fi
# No warm-up: the first snapshot is taken before the first storm.
coproc REPRO {
  exec env LD_PRELOAD="$probe" LEAKPROBE_OUTPUT_DIR="$work/snapshots" LEAKPROBE_AT_EXIT=0 \
    "$repro" --port "$BROKER_PORT" --warmup 0 --iterations "$iterations" --sync "${fixed[@]}" \
    "${repro_args[@]}" 2>"$work/repro.stderr"
}
# shellcheck disable=SC2153  # REPRO_PID is set by coproc
repro_pid=$REPRO_PID
repro_out=${REPRO[0]}
repro_in=${REPRO[1]}
expect_line() {  # bounded: 60 s a line (a storm is a few hundred connections)
  local word=$1 line
  while IFS= read -r -t 60 -u "$repro_out" line; do
    echo "$line" >>"$work/repro.stdout"
    case $line in "$word"*) return 0 ;; esac
  done
  die "reproducer never printed $word"
}

expect_line WARM
"$cli" snapshot "$repro_pid" -o "$work/A.heap" --timeout 20 >/dev/null || die "snapshot A failed"
echo go >&"$repro_in"
expect_line DONE
"$cli" snapshot "$repro_pid" -o "$work/B.heap" --timeout 20 >/dev/null || die "snapshot B failed"
"$heapdiff" --json "$work/A.heap" "$work/B.heap" >"$work/report.json" || die "heapdiff --json failed"
"$heapdiff" --top 3 "$work/A.heap" "$work/B.heap" >"$work/report.txt" || die "heapdiff failed"
cat "$work/report.txt"
released=""
if [ "$mode" = twin ]; then
  "$cli" trim "$repro_pid" >"$work/trim.txt" || die "leakprobe trim failed"
  cat "$work/trim.txt"
  released=$(sed -n 's/.*released .*(\(-\{0,1\}[0-9]*\) bytes)$/\1/p' "$work/trim.txt")
fi
echo go >&"$repro_in"
for _ in $(seq 1 100); do kill -0 "$repro_pid" 2>/dev/null || break; sleep 0.1; done
repro_rc=0
wait "$repro_pid" || repro_rc=$?
repro_pid=""
[ "$repro_rc" -eq 0 ] || die "reproducer exited with $repro_rc"

python3 - "$work/report.json" "$work/report.txt" "$mode" "$released" <<'PY'
import json, sys
report, text, mode, released = json.load(open(sys.argv[1])), open(sys.argv[2]).read(), sys.argv[3], sys.argv[4]
m = report["memory"]
if m is None:
    sys.exit("no memory object in the JSON report")
new, change = m["new"], m["change"]
ok = True
def check(what, good, detail):
    global ok
    print("%-50s %s  %s" % (what, "ok  " if good else "FAIL", detail))
    ok = ok and good
rss = new["rss_bytes"]
check("waterfall sum within 2% of RSS", abs(new["waterfall_sum_bytes"] - rss) <= 0.02 * rss,
      "sum %d, RSS %d" % (new["waterfall_sum_bytes"], rss))
check("text report starts with the memory part", text.startswith("memory: "), text[:60])
check("RSS grew by more than 8 MB", change["rss_bytes"] > 8e6, change["rss_bytes"])
if mode == "twin":
    check("verdict allocator-retention", m["verdict"] == "allocator-retention", m["reason"])
    got = int(released)
    check("trim gave back most of the RSS growth", got >= 0.5 * change["rss_bytes"],
          "released %d of +%d" % (got, change["rss_bytes"]))
    check("releasable within 25% of what trim returned",
          abs(m["releasable_bytes"] - got) <= 0.25 * got,
          "releasable %d, released %d" % (m["releasable_bytes"], got))
else:
    check("verdict live-heap-growth", m["verdict"] == "live-heap-growth", m["reason"])
    check("the live heap carries the growth", change["heap_live_bytes"] >= 0.5 * change["rss_bytes"],
          "live +%d of RSS +%d" % (change["heap_live_bytes"], change["rss_bytes"]))
sys.exit(0 if ok else 1)
PY
