#!/usr/bin/env bash
# End to end, the reference guide's Go method: a private mosquitto, the Go reproducer
# (go_device_sessions, paho.mqtt.golang) or its -fixed twin, /debug/pprof/heap?gc=1 and
# /debug/pprof/goroutine fetched over HTTP after the warm-up and after N more device
# sessions, then heapdiff on each pair; check_go_report.py asserts on the JSON.
#
#   go_pprof_scenario.sh --work DIR --heapdiff EXE --repro EXE --mode leak|twin
#                        [--warmup W] [--sessions N] [--memprofilerate R] [--go EXE]
#
# Leak: heapdiff must name main.(*deviceSession).watch with +N goroutines and
# main.newDeviceSession with +N objects, at their LEAK-SITE lines; the CI gate must trip on
# the goroutines; a heap profile against a goroutine profile must be refused.
# Twin: no growth at the program's own (main.*) functions.
# --memprofilerate R (default 1: every allocation recorded, counts exact) runs the gateway
# with Go's heap sampling at R bytes; then the heap's site and count are not asserted (a few
# samples), only the goroutines. With --go, heapdiff's live totals of each heap profile must
# equal the sum of its inuse_space samples as `go tool pprof -raw` lists them: the values
# are used as written (Go scaled them already), as pprof does.
# Everything (profiles, reports, logs) stays in DIR for a post-mortem.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=../../scripts/lib/broker.sh disable=SC1091
source "$repo/scripts/lib/broker.sh"
# shellcheck source=scenario_lib.sh disable=SC1091
source "$repo/tests/e2e/scenario_lib.sh"

work="" heapdiff="" repro="" mode="" warmup=5 sessions=50 memprofilerate=1 go=""
while [ $# -gt 0 ]; do
  case $1 in
    --work) work=$2; shift 2 ;;
    --heapdiff) heapdiff=$2; shift 2 ;;
    --repro) repro=$2; shift 2 ;;
    --mode) mode=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --sessions) sessions=$2; shift 2 ;;
    --memprofilerate) memprofilerate=$2; shift 2 ;;
    --go) go=$2; shift 2 ;;
    *) echo "go_pprof_scenario: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
for required in work heapdiff repro mode; do
  if [ -z "${!required}" ]; then echo "go_pprof_scenario: --$required is required" >&2; exit 2; fi
done
case $mode in leak|twin) ;; *) echo "go_pprof_scenario: --mode leak|twin" >&2; exit 2 ;; esac

scenario_begin go_pprof_scenario "$work"

broker_start "$work/broker" || die "mosquitto did not start"

fixed=()
if [ "$mode" = twin ]; then fixed=(-fixed); fi
coproc REPRO { exec "$repro" -port "$BROKER_PORT" -warmup "$warmup" -sessions "$sessions" \
  -memprofilerate "$memprofilerate" -sync "${fixed[@]}" 2>"$work/repro.stderr"; }
# shellcheck disable=SC2153  # REPRO_PID is set by coproc
repro_pid=$REPRO_PID
repro_out=${REPRO[0]} repro_in=${REPRO[1]}

# The next protocol line, which must start with WORD; bounded so a stuck run fails, not hangs.
expect() {
  local word=$1 line
  IFS= read -r -t 60 -u "$repro_out" line || die "no '$word' line from the reproducer"
  case $line in "$word "*) printf '%s\n' "${line#"$word "}" ;; *) die "expected '$word', got '$line'" ;; esac
}
# What a user does: fetch the endpoints net/http/pprof serves (loopback only).
fetch() {
  python3 - "$1" "$2" <<'PY'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=30) as r, open(sys.argv[2], "wb") as f:
    f.write(r.read())
PY
}
profiles() {
  fetch "http://$pprof/debug/pprof/heap?gc=1" "$work/heap.$1.pb.gz"
  fetch "http://$pprof/debug/pprof/goroutine" "$work/goroutine.$1.pb.gz"
}

pprof=$(expect PPROF)
case $pprof in 127.0.0.1:*) ;; *) die "pprof listens on '$pprof', not loopback" ;; esac
expect WARM >/dev/null
profiles before
echo >&"$repro_in"
expect DONE >/dev/null
profiles after
echo >&"$repro_in"
wait "$repro_pid" || die "the reproducer exited with status $?"
repro_pid=""

# heapdiff FILE... > OUT (exit status kept in $rc).
run_heapdiff() {
  local out=$1
  shift
  set +e
  "$heapdiff" "$@" >"$out" 2>"$out.stderr"
  rc=$?
  set -e
}
run_heapdiff "$work/goroutine.json" --json --by function --top 0 \
  "$work/goroutine.before.pb.gz" "$work/goroutine.after.pb.gz"
[ $rc -eq 0 ] || die "heapdiff on the goroutine profiles exited $rc: $(cat "$work/goroutine.json.stderr")"
run_heapdiff "$work/heap.json" --json --by function --top 0 \
  "$work/heap.before.pb.gz" "$work/heap.after.pb.gz"
[ $rc -eq 0 ] || die "heapdiff on the heap profiles exited $rc: $(cat "$work/heap.json.stderr")"
# The text reports, for people reading the artifacts.
"$heapdiff" "$work/goroutine.before.pb.gz" "$work/goroutine.after.pb.gz" >"$work/goroutine.txt"
"$heapdiff" "$work/heap.before.pb.gz" "$work/heap.after.pb.gz" >"$work/heap.txt"

heap_site=()
if [ "$memprofilerate" != 1 ]; then heap_site=(--no-heap-site); fi
python3 "$here/check_go_report.py" --mode "$mode" --sessions "$sessions" \
  --source "$repo/reproducers/go_device_sessions/sessions.go" \
  --goroutines "$work/goroutine.json" --heap "$work/heap.json" "${heap_site[@]}"

if [ -n "$go" ]; then
  # pprof's own reading of each heap profile: the sum of the inuse_space column of -raw.
  for i in 0 1; do
    file=$work/heap.$([ $i = 0 ] && echo before || echo after).pb.gz
    pprof_sum=$(HOME=$work PPROF_TMPDIR=$work GOCACHE=$work/go-cache "$go" tool pprof -raw "$file" |
      python3 -c '
import re, sys
lines = sys.stdin.read().splitlines()
head = lines.index("Samples:")
types = lines[head + 1].split()
col = [t.split("/")[0] for t in types].index("inuse_space")
total = 0
for line in lines[head + 2:]:
    m = re.match(r"^\s*((?:-?\d+\s+)*-?\d+):", line)
    if m:
        total += int(m.group(1).split()[col])
    elif line and not line.startswith(" "):
        break
print(total)')
    ours=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["inputs"][int(sys.argv[2])]["live_bytes"])' \
      "$work/heap.json" "$i")
    [ "$pprof_sum" = "$ours" ] ||
      die "$file: go tool pprof sums inuse_space to $pprof_sum, heapdiff reads $ours"
    echo "go_pprof_scenario: $(basename "$file"): inuse_space $ours bytes, as pprof reads it"
  done
fi

if [ "$mode" = leak ]; then
  # The checker must be able to fail: the leaky reports do not pass as a twin's.
  if python3 "$here/check_go_report.py" --mode twin --sessions "$sessions" \
    --source "$repo/reproducers/go_device_sessions/sessions.go" \
    --goroutines "$work/goroutine.json" --heap "$work/heap.json" 2>/dev/null; then
    die "check_go_report.py accepted the leaky run's reports as a twin's"
  fi
  # The CI gate counts goroutines for goroutine profiles: N leaked trip a gate at N - 1.
  run_heapdiff "$work/gate.txt" --fail-on-growth $((sessions - 1)) --focus '^main\.' \
    "$work/goroutine.before.pb.gz" "$work/goroutine.after.pb.gz"
  [ $rc -eq 1 ] || die "--fail-on-growth $((sessions - 1)) on $sessions leaked goroutines exited $rc, not 1"
  grep -q "exceeds --fail-on-growth $((sessions - 1)) (goroutine count)" "$work/gate.txt.stderr" ||
    die "the gate's message is missing: $(cat "$work/gate.txt.stderr")"
  # Profiles of different kinds are refused, with both named.
  run_heapdiff "$work/kinds.txt" "$work/heap.before.pb.gz" "$work/goroutine.after.pb.gz"
  [ $rc -eq 2 ] || die "a heap profile against a goroutine profile exited $rc, not 2"
  grep -q "heap.before.pb.gz is a heap profile and .*goroutine.after.pb.gz is a goroutine profile" \
    "$work/kinds.txt.stderr" || die "unclear refusal: $(cat "$work/kinds.txt.stderr")"
fi
echo "go_pprof_scenario: $mode ok"
