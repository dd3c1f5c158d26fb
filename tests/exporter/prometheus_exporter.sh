#!/usr/bin/env bash
# The exporter under Debian's real Prometheus: a probed target leaks 126 blocks of 1000 B at
# one site; Prometheus (scraping every second) must then hold that site's series at the leaked
# size (within 10%), the process's totals, and lose the process's series once it exits. A second
# probed process without a control socket is shown as failed, never mistaken for data.
# usage: prometheus_exporter.sh LEAKPROBE_CLI LEAK_ON_CUE
set -euo pipefail
cli=$1 target=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/testlib.sh"
command -v prometheus >/dev/null || { echo "SKIP: prometheus is not installed (apt-get install prometheus)"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/snaps"
"$cli" run --output "$work/snaps" -- "$target" "$work/cue" "$work/done" 126 1000 2>"$work/target.err" &
target_pid=$!; pids+=("$target_pid")
LEAKPROBE_CONTROL=0 "$cli" run --output "$work/snaps" -- sleep 60 2>/dev/null &
mute_pid=$!; pids+=("$mute_pid")
wait_for sh -c "'$cli' list 2>/dev/null | grep -q '^$target_pid\b'" || fail "target never ran the probe"

eport=$(free_port) || fail "no free port"
"$cli" exporter --listen "127.0.0.1:$eport" --interval 1s --pid "$target_pid" --pid "$mute_pid" \
  2>"$work/exporter.err" &
pids+=("$!")
pport=$(free_port) || fail "no free port"
cat >"$work/prometheus.yml" <<YML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: leakprobe
    static_configs: [{targets: ['127.0.0.1:$eport']}]
YML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$pport" >"$work/prometheus.log" 2>&1 &
pids+=("$!")

# query PROMQL: prints "<value>" of the single result, or nothing
query() {
  curl -sf --max-time 5 --get "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1" |
    python3 -c 'import json,sys
r=json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if len(r)==1 else "")' 2>/dev/null || true
}
has_value() { [ -n "$(query "$1")" ]; }
poll() {  # poll SECONDS PROMQL
  local i
  for i in $(seq 1 $(( $1 * 5 ))); do has_value "$2" && return 0; sleep 0.2; done
  return 1
}

poll 60 "leakprobe_heap_live_bytes{pid=\"$target_pid\"}" ||
  fail "Prometheus never got the target's heap series (exporter: $(cat "$work/exporter.err"))"
before=$(query "leakprobe_heap_live_bytes{pid=\"$target_pid\"}")
[ -z "$(query "leakprobe_site_live_bytes{pid=\"$target_pid\",site=~\"leak_session_buffer.*\"}")" ] ||
  fail "a site was exported before it grew"
pass "Prometheus scrapes the exporter; live heap before the leak: $before B"

touch "$work/cue"
wait_for test -e "$work/done" || fail "the target never leaked"
t0=$(date +%s.%N)
site_q="leakprobe_site_live_bytes{pid=\"$target_pid\",site=~\"leak_session_buffer .*leak_on_cue.c:[0-9]+\"}"
poll 30 "$site_q" || fail "no series for the leaking site: $(curl -s "127.0.0.1:$eport/metrics" | grep site_live)"
t1=$(date +%s.%N)
site=$(query "$site_q")
python3 - "$site" <<'PY' || fail "site series $site B, want 126000 B within 10%"
import sys; v = float(sys.argv[1]); sys.exit(0 if abs(v - 126000) <= 12600 else 1)
PY
pass "site series leak_session_buffer = $site B (leaked 126000 B) $(python3 -c "print(f'{$t1-$t0:.1f}')") s after the leak (scrape and collection every 1 s)"
objs=$(query "leakprobe_site_live_objects{pid=\"$target_pid\",site=~\"leak_session_buffer.*\"}")
[ "$objs" = 126 ] || fail "site objects $objs, want exactly 126"
pass "site objects exactly 126"
sleep 2
after=$(query "leakprobe_heap_live_bytes{pid=\"$target_pid\"}")
python3 - "$before" "$after" <<'PY' || fail "live heap went $before -> $after, want +126000 within 10%"
import sys; b, a = map(float, sys.argv[1:]); sys.exit(0 if abs((a - b) - 126000) <= 12600 else 1)
PY
pass "live heap total grew by $(python3 -c "print(int($after-$before))") B"
has_value "leakprobe_heap_free_bytes{pid=\"$target_pid\"}" || fail "no heap_free_bytes series"
# The verdict is a state set: exactly one of the four is 1 (126 kB is below heapdiff's
# threshold for calling RSS growth, so which one is heapdiff's business, tested there).
ones=$(curl -sf --max-time 5 "127.0.0.1:$eport/metrics" | grep "^leakprobe_memory_verdict{pid=\"$target_pid\"" | grep -c ' 1$' || true)
[ "$ones" = 1 ] || fail "memory verdict: $ones states set, want exactly 1"
pass "memory: heap_free_bytes served; one memory verdict set"

[ "$(query "leakprobe_recording{pid=\"$mute_pid\",state=\"failed\"}")" = 1 ] ||
  fail "a probe without control socket is not shown as failed"
[ -z "$(query "leakprobe_heap_live_bytes{pid=\"$mute_pid\"}")" ] || fail "data invented for a mute probe"
pass "a probe without control socket: state failed, no heap series"

# Cardinality: at most N (10) + 20 series per process.
page() { curl -sf --max-time 5 "127.0.0.1:$eport/metrics" || true; }
n=$(page | grep -c "pid=\"$target_pid\"" || true)
[ "$n" -le 30 ] || fail "$n series for one process (limit N+20 = 30)"
pass "$n series for the target (limit 30)"

# The exporter leaves no snapshot files behind and survives the target's exit.
left=$(find "$work/snaps" -name 'leakprobe.*.heap' | wc -l)
[ "$left" = 0 ] || fail "the exporter left $left snapshot files behind"
kill "$target_pid"; wait "$target_pid" 2>/dev/null || true
gone=0
for _ in $(seq 1 50); do
  text=$(page)
  case "$text" in *"pid=\"$target_pid\""*) sleep 0.2 ;; "") sleep 0.2 ;; *) gone=1; break ;; esac
done
[ $gone = 1 ] || fail "series of an exited process still served after 10 s"
case "$text" in *$'\nleakprobe_exporter_processes 1\n'*) ;;
  *) fail "exporter does not count the remaining process: $text" ;; esac
pass "the exited process's series are gone; the exporter still serves and left no snapshot files"
