#!/usr/bin/env bash
# Debian's mosquitto, unmodified, under the probe, started the way it ships: as root with a
# configuration without a `user` line, so it drops to the `mosquitto` user. `leakprobe run`
# gives that user the snapshot directory (0700); the broker serves real clients, answers two
# `leakprobe snapshot` requests after the drop, and `go tool pprof` reads both files. Then the
# same with `mosquitto -d`, where the daemon child (new pid) must keep profiling on its own,
# and once with `user root`, where everything stays root's. Run by another user, mosquitto
# does not switch and every directory is that user's.
# Usage: mosquitto_under_probe.sh LEAKPROBE_CLI
set -u
cli=$1
. "$(dirname "$0")/testlib.sh"
command -v mosquitto >/dev/null || PATH=$PATH:/usr/sbin
work=$(mktemp -d)
chmod 0755 "$work"  # the broker's own user must reach its snapshot directories in here
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  [ -f "$work/run/daemon.pid" ] && kill "$(cat "$work/run/daemon.pid")" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
export HOME=$work GOCACHE=$work/gocache PPROF_TMPDIR=$work/pprof

write_conf() {  # write_conf FILE PORT [extra lines]
  {
    echo "listener $2 127.0.0.1"
    echo "allow_anonymous true"
    echo "persistence false"
    shift 2; for l in "$@"; do echo "$l"; done
  } >"$1"
}
port_open() { ss -ltnH "sport = :$1" | grep -q .; }
uid_of() { awk '/^Uid:/ { print $2 }' "/proc/$1/status"; }
# The user Debian's mosquitto becomes: `mosquitto` when started by root, else whoever starts it.
if [ "$(id -u)" = 0 ]; then broker_user=mosquitto; else broker_user=$(id -un); fi
broker_uid=$(id -u "$broker_user") || fail "no user $broker_user (is mosquitto installed?)"
# expect_dir DIR UID: DIR is mode 0700 and owned by UID.
expect_dir() {
  [ "$(stat -c '%a %u' "$1")" = "700 $2" ] || fail "$1 is $(stat -c '%a %U' "$1"), want 700 uid $2"
}

port=$(free_port) || fail "no free port"
write_conf "$work/m.conf" "$port"
"$cli" run -o "$work/snaps" -- mosquitto -c "$work/m.conf" >"$work/broker.log" 2>&1 &
broker=$!; pids+=("$broker")
wait_for port_open "$port" || fail "mosquitto did not listen on $port: $(cat "$work/broker.log")"
runs_as_broker_user() { [ "$(uid_of "$broker")" = "$broker_uid" ]; }
wait_for runs_as_broker_user || fail "broker runs as uid $(uid_of "$broker"), want $broker_user"
expect_dir "$work/snaps" "$broker_uid"
pass "the broker runs as $broker_user, who owns its snapshot directory"

# Real clients: 40 QoS 1 messages from a publisher to a wildcard subscriber.
mosquitto_sub -h 127.0.0.1 -p "$port" -t 'lp/#' -q 1 -C 40 -W 20 >"$work/sub.out" &
sub=$!; pids+=("$sub")
sleep 0.5
for i in $(seq 1 40); do echo "message $i"; done |
  mosquitto_pub -h 127.0.0.1 -p "$port" -t lp/test -q 1 -l || fail "publish failed"
wait "$sub" || fail "subscriber did not get 40 messages: $(wc -l <"$work/sub.out")"
[ "$(wc -l <"$work/sub.out")" = 40 ] || fail "subscriber got $(wc -l <"$work/sub.out") messages"
pass "broker under the probe delivered 40/40 messages"

expect_rc 0 "$cli" snapshot "$broker" --timeout 20; s1=$out
mosquitto_pub -h 127.0.0.1 -p "$port" -t lp/retained -r -m "$(head -c 3000 /dev/zero | tr '\0' x)"
expect_rc 0 "$cli" snapshot "$broker" --timeout 20; s2=$out
[ "$s1" != "$s2" ] || fail "two snapshots, one file"
for f in "$s1" "$s2"; do
  grep -q "^# leakprobe.exe: .*mosquitto$" "$f" || fail "$f: exe is not mosquitto"
  header_bytes=$(head -1 "$f" | sed -E 's/^heap profile: *[0-9]+: *([0-9]+) .*/\1/')
  [ "$header_bytes" -gt 0 ] || fail "$f: no live bytes"
  [ "$(stat -c %u "$f")" = "$broker_uid" ] || fail "$f was not written by $broker_user"
  go tool pprof -top -sample_index=inuse_space -unit=B "$f" >"$work/top.txt" 2>"$work/top.err" \
    || fail "go tool pprof rejected $f: $(cat "$work/top.err")"
  total=$(grep -Eo 'of [0-9.]+B total' "$work/top.txt" | grep -Eo '[0-9.]+' | head -1)
  [ "${total%.*}" = "$header_bytes" ] || fail "$f: pprof total '$total' != header $header_bytes"
done
pass "snapshots written by $broker_user after the drop; go tool pprof reads both with the same totals"
kill "$broker"; wait "$broker" 2>/dev/null

# Daemon mode: mosquitto -d forks; the child is the broker that matters.
port=$(free_port) || fail "no free port"
# The pid file is written after the drop: its directory is the broker user's, as Debian's
# unit makes /run/mosquitto (ExecStartPre=chown mosquitto).
mkdir -m 0755 "$work/run" && chown "$broker_user:" "$work/run"
write_conf "$work/d.conf" "$port" "pid_file $work/run/daemon.pid"
"$cli" run -o "$work/dsnaps" -- mosquitto -d -c "$work/d.conf" 2>"$work/d.log" || true
wait_for test -s "$work/run/daemon.pid" || fail "daemon wrote no pid file: $(cat "$work/d.log")"
child=$(cat "$work/run/daemon.pid")
wait_for port_open "$port" || fail "daemon not listening"
mosquitto_pub -h 127.0.0.1 -p "$port" -t lp/d -m hello || fail "publish to daemon failed"
expect_rc 0 "$cli" snapshot "$child" --timeout 20
case "$out" in "$work/dsnaps/leakprobe.$child."*.heap) ;; *) fail "daemon snapshot named $out" ;; esac
grep -q "^# leakprobe.pid: $child$" "$out" || fail "daemon snapshot has the wrong pid"
go tool pprof -top "$out" >/dev/null 2>&1 || fail "pprof rejected the daemon snapshot"
pass "daemonized child keeps profiling under its own pid"
expect_dir "$work/dsnaps" "$broker_uid"
[ "$(uid_of "$child")" = "$broker_uid" ] || fail "daemon child runs as uid $(uid_of "$child")"
kill "$child"

# The other path: a configuration that keeps mosquitto root (`user root`). Nothing is given
# away: the directory stays root's, and the snapshots are root's.
if [ "$(id -u)" = 0 ]; then
  port=$(free_port) || fail "no free port"
  write_conf "$work/r.conf" "$port" "user root"
  "$cli" run -o "$work/rsnaps" -- mosquitto -c "$work/r.conf" >"$work/root.log" 2>&1 &
  broker=$!; pids+=("$broker")
  wait_for port_open "$port" || fail "mosquitto (user root) did not listen: $(cat "$work/root.log")"
  [ "$(uid_of "$broker")" = 0 ] || fail "user root: broker runs as uid $(uid_of "$broker")"
  expect_dir "$work/rsnaps" 0
  expect_rc 0 "$cli" snapshot "$broker" --timeout 20
  [ "$(stat -c %u "$out")" = 0 ] || fail "user root: snapshot not root's"
  kill "$broker"; wait "$broker" 2>/dev/null
  pass "with \`user root\` the broker, its directory and its snapshots stay root's"

  # A directory the broker's user cannot use is refused before mosquitto starts, with the fix.
  mkdir -m 0700 "$work/rootonly"
  expect_rc 1 "$cli" run -o "$work/rootonly" -- mosquitto -c "$work/m.conf"
  expect_contains "$err" "not writable by user mosquitto" "root-only directory"
  expect_contains "$err" "chown mosquitto $work/rootonly" "the fix"
  hidden=$(mktemp -d)  # 0700: mosquitto cannot enter it
  expect_rc 1 "$cli" run -o "$hidden/snaps" -- mosquitto -c "$work/m.conf"
  rmdir "$hidden"
  expect_contains "$err" "cannot enter $hidden" "unreachable parent"
  pass "directories the broker's user could not write are refused before it starts"

  # A program leakprobe knows nothing of: --output-owner names its user; a typo is refused.
  expect_rc 0 "$cli" run -o "$work/owned" --output-owner nobody -- true
  expect_dir "$work/owned" "$(id -u nobody)"
  expect_rc 2 "$cli" run -o "$work/typo" --output-owner no-such-user-here -- true
  expect_contains "$err" "no user named no-such-user-here" "unknown owner"
  [ -e "$work/typo" ] && fail "a directory was made for an unknown owner"
  pass "--output-owner gives a new directory to the user named"
fi
