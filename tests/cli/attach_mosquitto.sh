#!/usr/bin/env bash
# `leakprobe attach` on Debian's mosquitto started plain, the packaged way (as root, no `user`
# line: it drops to the `mosquitto` user), while a QoS 1 subscriber receives a numbered stream
# from one publisher connection: 20 attach/detach cycles with the real probe, a snapshot taken
# while attached. Not one message lost, duplicated or reordered, no client error, the same
# broker process (pid, start time, user), and the broker's own output unchanged (the probe's
# "leakprobe:" lines aside: one per attach and per detach). Issue 18.
# Usage: attach_mosquitto.sh LEAKPROBE_CLI LIBLEAKPROBE
set -u
cli=$1
probe=$2
. "$(dirname "$0")/testlib.sh"
. "$(dirname "$0")/qos1_stream.sh"
command -v mosquitto >/dev/null || PATH=$PATH:/usr/sbin
command -v mosquitto >/dev/null || { echo "SKIP: no mosquitto (scripts/deps.sh)"; exit 77; }
nm -D --defined-only "$probe" 2>/dev/null | grep -q ' leakprobe_attach$' ||
  { echo "SKIP: $probe exports no leakprobe_attach (the probe's attach mode is not built)"; exit 77; }
export LEAKPROBE_LIBRARY=$probe
work=$(mktemp -d)
chmod 0755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
skip_without_ptrace "$cli"

port=$(free_port) || fail "no free port"
stream_conf "$work/m.conf"
mosquitto -c "$work/m.conf" >"$work/broker.log" 2>&1 &
broker=$!; pids+=("$broker")
port_open() { ss -ltnH "sport = :$port" | grep -q .; }
wait_for port_open || fail "mosquitto did not listen: $(cat "$work/broker.log")"
started() { awk '{ print $22 }' "/proc/$broker/stat"; }
start_time=$(started)
uid_before=$(awk '/^Uid:/ { print $2 }' "/proc/$broker/status")
[ "$(id -u)" != 0 ] || [ "$uid_before" = "$(id -u mosquitto)" ] ||
  fail "the broker did not drop to the mosquitto user (uid $uid_before)"

# The subscriber, QoS 1, and a publisher fed one number every 10 ms over one connection.
stream_start lp-attach

for c in $(seq 1 20); do
  expect_rc 0 "$cli" attach -o "$work/snaps" "$broker"
  expect_contains "$out" "attached to pid $broker (mosquitto)" "attach $c"
  if [ "$c" = 10 ]; then
    expect_rc 0 "$cli" snapshot "$broker" --timeout 20
    grep -q "^# leakprobe.pid: $broker$" "$out" || fail "the snapshot while attached is not the broker's"
    [ "$(stat -c %u "$out")" = "$uid_before" ] || fail "the snapshot was not written by the broker's user"
  fi
  expect_rc 0 "$cli" detach "$broker"
  expect_contains "$out" "detached from pid $broker" "detach $c"
done
pass "20 attach/detach cycles, a snapshot written by the broker's user in the middle"

stream_check
pass "all $sent QoS 1 messages arrived once each, in order; no client error"

# The broker idle after clients came and went: its one thread waits in epoll_wait, and slots of
# its live frames still hold return addresses into malloc from earlier calls. That is no call
# in progress; every attach here was refused before (never a safe point in 40 tries).
for c in 1 2 3; do
  mosquitto_sub -h 127.0.0.1 -p "$port" -t lp/idle -i "lp-idle-$c" -C 1 -W 1 >/dev/null 2>&1
  expect_rc 0 "$cli" attach -o "$work/snaps" "$broker"
  expect_rc 0 "$cli" detach "$broker"
done
pass "3 more attach/detach cycles on the idle broker after clients came and went"

kill -0 "$broker" 2>/dev/null || fail "the broker is gone"
[ "$(started)" = "$start_time" ] || fail "pid $broker is another process now"
[ "$(awk '/^Uid:/ { print $2 }' "/proc/$broker/status")" = "$uid_before" ] || fail "the broker's user changed"
[ "$(awk '/^TracerPid:/ { print $2 }' "/proc/$broker/status")" = 0 ] || fail "the broker is still traced"
own=$(grep -v '^leakprobe: ' "$work/broker.log")
[ -z "$own" ] || fail "the broker said something (errors or warnings): $own"
[ "$(grep -c '^leakprobe: attached: ' "$work/broker.log")" = 23 ] || fail "not 23 attached lines: $(cat "$work/broker.log")"
[ "$(grep -c '^leakprobe: detached: ' "$work/broker.log")" = 23 ] || fail "not 23 detached lines"
pass "the same broker process (pid $broker), untraced, same user; it logged no error or warning"
echo "mosquitto attach cycles hold"
