#!/usr/bin/env bash
# Debian's mosquitto with the probe installed dormant (LEAKPROBE_ENABLED=0), the way the
# guide's systemd drop-in keeps it: `leakprobe list` shows it dormant, a snapshot says so and
# holds nothing, `leakprobe enable PID` starts recording without a restart, and the next
# snapshot shows what the broker allocated from then on (a retained message's payload, in
# mosquitto's own functions); `leakprobe disable PID` makes it dormant again.
# Usage: cli_dormant_mosquitto.sh LEAKPROBE_CLI LIBLEAKPROBE
set -u
cli=$1
lib=$2
. "$(dirname "$0")/testlib.sh"
# shellcheck source=../../scripts/lib/broker.sh disable=SC1091
. "$(dirname "$0")/../../scripts/lib/broker.sh"  # broker_user, broker_snapshot_dir
command -v mosquitto >/dev/null || PATH=$PATH:/usr/sbin
work=$(mktemp -d)
chmod 0755 "$work"  # the broker's own user must reach its snapshot directory in here
broker=
cleanup() {
  [ -n "$broker" ] && kill "$broker" 2>/dev/null
  if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

port=$(free_port) || fail "no free port"
{
  echo "listener $port 127.0.0.1"
  echo "allow_anonymous true"
  echo "persistence false"
} >"$work/m.conf"
# As Debian ships it: started as root, the broker drops to its `mosquitto` user, so the
# directory is made for that user, as the guide tells an operator preloading by hand.
broker_snapshot_dir "$work/snaps" || fail "cannot prepare the snapshot directory"
LD_PRELOAD=$lib LEAKPROBE_ENABLED=0 LEAKPROBE_OUTPUT_DIR=$work/snaps \
  mosquitto -c "$work/m.conf" >"$work/broker.log" 2>&1 &
broker=$!
port_open() { ss -ltnH "sport = :$1" | grep -q .; }
wait_for port_open "$port" || fail "mosquitto did not listen on $port: $(cat "$work/broker.log")"
expect_contains "$(cat "$work/broker.log")" "loaded dormant in pid $broker" "start-up line"
uid_of() { awk '/^Uid:/ { print $2 }' "/proc/$1/status"; }
runs_as_broker_user() { [ "$(uid_of "$broker")" = "$(id -u "$(broker_user)")" ]; }
wait_for runs_as_broker_user || fail "broker runs as uid $(uid_of "$broker"), not $(broker_user)"

expect_rc 0 "$cli" list
expect_contains "$out" "$(printf '%s\tdormant\texact\t' "$broker")" "list before enabling"
pass "list shows the broker dormant"

payload() { head -c "$1" /dev/zero | tr '\0' x; }
mosquitto_pub -h 127.0.0.1 -p "$port" -t lp/before -r -m "$(payload 5000)" || fail "publish"
expect_rc 0 "$cli" snapshot "$broker" --timeout 20; before=$out
expect_contains "$err" "is dormant (not recording)" "snapshot of a dormant probe"
head -1 "$before" | grep -Eq '^heap profile: *0: *0 \[' || fail "dormant snapshot not empty: $(head -1 "$before")"
pass "a dormant snapshot says so and holds nothing"

expect_rc 0 "$cli" enable "$broker"
expect_contains "$out" "pid $broker: recording from now on" "enable"
expect_rc 0 "$cli" list
expect_contains "$out" "$(printf '%s\trecording\texact\t' "$broker")" "list after enabling"
for i in 1 2 3; do
  mosquitto_pub -h 127.0.0.1 -p "$port" -t "lp/after/$i" -r -m "$(payload 7001)" || fail "publish"
done
expect_rc 0 "$cli" snapshot "$broker" --timeout 20; after=$out
case "$err" in *dormant*) fail "recording probe called dormant: $err" ;; esac
live=$(head -1 "$after" | sed -E 's/^heap profile: *[0-9]+: *([0-9]+) .*/\1/')
# mosquitto stores a retained payload in payloadlen + 1 bytes: the three 7001-byte payloads are
# one stack line of 3 objects, 21006 bytes.
grep -Eq '^ *3: *21006 \[' "$after" || fail "no line with the 3 retained payloads (3: 21006): $after"
# The 5000-byte payload was stored while dormant (5001 bytes) and must not appear.
grep -Eq '^ *1: *5001 \[' "$after" && fail "a block from before enabling is in the snapshot"
pass "after enable the snapshot shows growth from then on ($live live bytes)"

expect_rc 0 "$cli" disable "$broker"
expect_contains "$out" "pid $broker: dormant" "disable"
expect_rc 0 "$cli" list
expect_contains "$out" "$(printf '%s\tdormant\texact\t' "$broker")" "list after disabling"
mosquitto_pub -h 127.0.0.1 -p "$port" -t lp/after/1 -r -n || fail "clear retained"
mosquitto_sub -h 127.0.0.1 -p "$port" -t 'lp/#' -C 3 -W 10 >/dev/null || fail "broker stopped serving"
pass "disable makes it dormant again; the broker keeps serving"

expect_rc 2 "$cli" enable not-a-pid
expect_rc 1 "$cli" enable 999999999
kill "$broker"; wait "$broker" 2>/dev/null; broker=
pass "bad pids are refused"
