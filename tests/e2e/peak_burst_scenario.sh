#!/usr/bin/env bash
# After an OOM kill: the session-burst gateway (reproducers/session_burst) under the probe with
# LEAKPROBE_PEAK=1, against a private mosquitto. It runs a reconnect storm of --iterations
# device sessions; the leaky gateway keeps every session's 1 MiB buffer, a 100 MiB burst. The
# test then SIGKILLs it at its peak, as the OOM killer would (no exit snapshot), and reads only
# what is left on disk:
#   leak: one peak snapshot, and `heapdiff PEAK` (one snapshot) ranks first the buffer's site
#         (repro::open_session_buffer at the LEAK-SITE line) with >= 90 MB live;
#   twin: --fixed frees each buffer on `bye`; its peak snapshot (if the live heap ever passed
#         the 1 MiB floor) holds far less than one burst at that site.
# tests/peak/peak_oom.sh covers the peak file's life (one file, complete, what --peak names,
# base + peak diff) on a plain program; this is the same question asked of an MQTT service.
#
#   peak_burst_scenario.sh --work DIR --probe LIB --cli EXE --heapdiff EXE --repro EXE
#                          --mode leak|twin [--iterations N] [--source FILE]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=../../scripts/lib/broker.sh disable=SC1091
source "$repo/scripts/lib/broker.sh"
# shellcheck source=scenario_lib.sh disable=SC1091
source "$repo/tests/e2e/scenario_lib.sh"

work="" probe="" cli="" heapdiff="" repro="" mode="" iterations=100
source_file=$repo/reproducers/session_burst/session_store.cpp
while [ $# -gt 0 ]; do
  case $1 in
    --work) work=$2; shift 2 ;;
    --probe) probe=$2; shift 2 ;;
    --cli) cli=$2; shift 2 ;;
    --heapdiff) heapdiff=$2; shift 2 ;;
    --repro) repro=$2; shift 2 ;;
    --mode) mode=$2; shift 2 ;;
    --iterations) iterations=$2; shift 2 ;;
    --source) source_file=$2; shift 2 ;;
    *) echo "peak_burst_scenario: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
for required in work probe cli heapdiff repro mode; do
  if [ -z "${!required}" ]; then echo "peak_burst_scenario: --$required is required" >&2; exit 2; fi
done
case $mode in leak|twin) ;; *) echo "peak_burst_scenario: --mode leak|twin" >&2; exit 2 ;; esac

scenario_begin peak_burst_scenario "$work"
mkdir -p "$work/snapshots"
snapshots=$work/snapshots

broker_start "$work/broker" || die "mosquitto did not start"
echo "broker pid $BROKER_PID on 127.0.0.1:$BROKER_PORT"

fixed=()
if [ "$mode" = twin ]; then fixed=(--fixed); fi
coproc REPRO {
  exec env LD_PRELOAD="$probe" LEAKPROBE_OUTPUT_DIR="$snapshots" LEAKPROBE_AT_EXIT=0 \
    LEAKPROBE_PEAK=1 "$repro" --port "$BROKER_PORT" --warmup 2 --iterations "$iterations" \
    --sync "${fixed[@]}" 2>"$work/repro.stderr"
}
# shellcheck disable=SC2153  # REPRO_PID is set by coproc
repro_pid=$REPRO_PID
repro_out=${REPRO[0]}
repro_in=${REPRO[1]}

# Reads reproducer lines until one starts with WORD. Bounded by 30 s a line.
expect_line() {
  local word=$1 line
  while IFS= read -r -t 30 -u "$repro_out" line; do
    echo "$line" >>"$work/repro.stdout"
    case $line in "$word"*) return 0 ;; esac
  done
  die "reproducer never printed $word"
}
expect_line WARM
site_bytes=$(sed -n 's/^SITE-BYTES //p' "$work/repro.stdout")
[ -n "$site_bytes" ] || die "no SITE-BYTES line"
burst=$(( site_bytes * iterations ))
echo go >&"$repro_in"
expect_line DONE  # the storm is over; the gateway waits on stdin, its memory as the storm left it

# The peak: the writer thread adds up the live heap every 250 ms. The leaky gateway holds the
# whole burst now, so a peak snapshot of >= burst/1.1 (LEAKPROBE_PEAK_GROWTH 10%) must come;
# the twin holds one buffer at most, and a second of checks is what it gets.
want=$(( burst * 10 / 11 ))
peak="" live=0
live_of() { head -1 "$1" | sed -E 's/^heap profile: *[0-9]+: *([0-9]+) .*/\1/'; }
if [ "$mode" = leak ]; then
  for _ in $(seq 1 100); do
    peak=$("$cli" snapshot --peak "$repro_pid" 2>/dev/null) || true
    if [ -n "$peak" ] && [ -f "$peak" ]; then
      live=$(live_of "$peak")
      [ "$live" -ge "$want" ] && break
    fi
    sleep 0.2
  done
  [ "${live:-0}" -ge "$want" ] || die "no peak snapshot with >= $want B live (last: ${peak:-none}, $live B)"
else
  sleep 1.5
fi
rss_kib=$(awk '/^VmRSS/ {print $2}' "/proc/$repro_pid/status")
echo "gateway RSS at the kill: $rss_kib KiB"
kill -KILL "$repro_pid"
wait "$repro_pid" 2>/dev/null || true
repro_pid=""

# Only the disk now, as after a real OOM kill.
mapfile -t peaks < <(grep -l '^# leakprobe.trigger: peak$' "$snapshots"/leakprobe.*.heap 2>/dev/null || true)
echo "peak snapshots on disk: ${#peaks[@]} ${peaks[*]:-}"
[ "${#peaks[@]}" -le 1 ] || die "${#peaks[@]} peak snapshots on disk, want only the newest"
site_line=$(grep -n 'LEAK-SITE session-burst' "$source_file" | cut -d: -f1)
[ -n "$site_line" ] || die "no LEAK-SITE marker in $source_file"

[ "${#peaks[@]}" -eq 1 ] || die "no peak snapshot on disk after the kill (the device registry alone passes the 1 MiB floor)"
"$heapdiff" --json "${peaks[0]}" >"$work/peak.json" || die "heapdiff PEAK failed"
"$heapdiff" --top 5 "${peaks[0]}" | tee "$work/peak.txt"
check() {
  python3 - "$work/peak.json" "$1" "$burst" "$(basename "$source_file")" "$site_line" <<'PY'
import json, sys
path, mode, burst, source, line = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
d = json.load(open(path))
assert d["mode"] == "live", d["mode"]
site = "%s:%s" % (source, line)
at_site = [e for e in d["entries"] if "repro::open_session_buffer" in e["key"]]
live = sum(e["delta_live_bytes"] for e in at_site)
print("peak snapshot: %d B live at repro::open_session_buffer (burst %d B)" % (live, burst))
if mode == "leak":
    top = d["entries"][0]
    problems = []
    if "repro::open_session_buffer" not in top["key"]:
        problems.append("the top entry is %r, not the burst's site" % top["key"])
    if site not in json.dumps(top):
        problems.append("the top entry does not name %s" % site)
    if top["delta_live_bytes"] < 90_000_000:
        problems.append("%d B at the site, want >= 90 MB" % top["delta_live_bytes"])
    if problems:
        sys.exit("FAIL: " + "; ".join(problems))
    print("ok (leak): the peak snapshot left by SIGKILL names %s with %d B" % (site, top["delta_live_bytes"]))
else:
    # One buffer may be open when the writer looks; a burst's worth never is.
    if live >= burst // 10:
        sys.exit("FAIL: the twin's peak snapshot holds %d B at the site (burst %d B)" % (live, burst))
    print("ok (twin): %d B at the site, under a tenth of the burst" % live)
PY
}
check "$mode" || die "the peak snapshot does not say what it should (mode $mode)"
if [ "$mode" = leak ]; then
  # The twin's check must be able to fail: on the leak's peak snapshot it does.
  if check twin >"$work/control-as-twin.txt" 2>&1; then
    die "control: the twin's check accepted the leak's peak snapshot"
  fi
  echo "control: the twin's check rejects the leak's peak snapshot"
fi
