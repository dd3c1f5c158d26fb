#!/usr/bin/env bash
# A real broker's growth through heapdiff's HTML report and its pprof export (--pprof):
# Debian's mosquitto, unmodified, under the probe, with persistent sessions that vanished while
# a publisher keeps sending (the session_pileup leak: the broker queues every message for every
# absent session). Two snapshots, then the report is opened in headless Chromium and checked
# like the other browser tests; `go tool pprof -top` reads the export and must name the same
# sites with the same bytes.
# Usage: mosquitto_reports.sh LEAKPROBE_CLI HEAPDIFF NODE CHROMIUM OUT_DIR [SCREENSHOT.png]
set -u
cli=$1 heapdiff=$2 node=$3 chromium=$4 out_dir=$5 screenshot=${6:-}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/testlib.sh"
# shellcheck source=../../scripts/lib/broker.sh disable=SC1091
. "$here/../../scripts/lib/broker.sh"
command -v mosquitto_sub >/dev/null || fail "mosquitto-clients not installed (scripts/deps.sh)"

work=$(mktemp -d)
# mosquitto, started as root, drops to its own user (Debian's configuration has no `user root`):
# `leakprobe run` gives it the snapshot directory, which that user must be able to reach.
chmod 0755 "$work"
cleanup() { broker_stop; rm -rf "$work"; }
trap cleanup EXIT
export HOME=$work GOCACHE=$work/gocache PPROF_TMPDIR=$work/pprof

# The broker starts under `leakprobe run`, as a user would start it.
MOSQUITTO_REAL=${MOSQUITTO:-/usr/sbin/mosquitto}
cat >"$work/mosquitto-under-probe" <<SH
#!/bin/sh
exec "$cli" run -o "$work/snaps" -- "$MOSQUITTO_REAL" "\$@"
SH
chmod +x "$work/mosquitto-under-probe"
MOSQUITTO=$work/mosquitto-under-probe broker_start "$work/broker" \
  --conf "max_queued_messages 0" --conf "max_queued_bytes 0" || fail "broker did not start"
# broker_start's pid is the `leakprobe run` process, which execs mosquitto: same pid.
pid=$BROKER_PID port=$BROKER_PORT

for i in $(seq 1 20); do
  mosquitto_sub -h 127.0.0.1 -p "$port" -c -i "pileup-$i" -q 1 -t lp/pileup -E \
    || fail "persistent subscriber $i did not subscribe"
done
publish() {  # publish COUNT: QoS 1 messages of 300 bytes, each queued for all 20 sessions
  local payload
  payload=$(head -c 300 /dev/zero | tr '\0' m)
  for _ in $(seq 1 "$1"); do echo "$payload"; done |
    mosquitto_pub -h 127.0.0.1 -p "$port" -t lp/pileup -q 1 -l || fail "publish failed"
}
publish 20
expect_rc 0 "$cli" snapshot "$pid" --timeout 20; s1=$out
publish 200
expect_rc 0 "$cli" snapshot "$pid" --timeout 20; s2=$out
pass "two snapshots of mosquitto: $s1 $s2"

args=(--chromium "$chromium" --heapdiff "$heapdiff" --out "$out_dir")
[ -n "$screenshot" ] && args+=(--screenshot "$screenshot")
"$node" "$here/report_in_browser.mjs" "${args[@]}" -- "$s1" "$s2" || fail "browser checks failed"
# The report is about mosquitto's queueing, named from its own symbols.
grep -q "db__message_insert\|sub__messages_queue" "$out_dir/report.html" \
  || fail "the report does not name mosquitto's queueing functions"
pass "mosquitto's report opens and works in Chromium"

# --pprof: go tool pprof names the same sites as the report, from our symbols (Debian's
# mosquitto is stripped: pprof alone shows [mosquitto]).
python3 "$here/pprof_matches_report.py" "$heapdiff" "$s1" "$s2" "$out_dir/growth.pb.gz" \
  || fail "the pprof export does not match the report"
pass "go tool pprof -top on the export names the report's sites"

# The age of the broker's live blocks rides in the export as labels (mean_age in seconds,
# oldest_age), which go tool pprof reads and shows per tag without changing its totals.
tags=$(go tool pprof -tags "$out_dir/growth.pb.gz" 2>&1) || fail "go tool pprof -tags failed: $tags"
echo "$tags" | grep -q "mean_age:" || fail "no mean_age tag in the pprof export: $tags"
echo "$tags" | grep -q "oldest_age:" || fail "no oldest_age tag in the pprof export: $tags"
echo "$tags" | grep -q "under_1m" || fail "the broker's blocks, seconds old, are not under_1m: $tags"
pass "go tool pprof -tags reads the blocks' ages from the export"
