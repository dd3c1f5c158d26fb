#!/usr/bin/env bash
# Debian's mosquitto, unmodified, under the probe: it serves real clients, answers two
# `leakprobe snapshot` requests, and `go tool pprof` reads both files. Then the same with
# `mosquitto -d`, where the daemon child (new pid) must keep profiling on its own.
# Usage: mosquitto_under_probe.sh LEAKPROBE_CLI
set -u
cli=$1
. "$(dirname "$0")/testlib.sh"
command -v mosquitto >/dev/null || PATH=$PATH:/usr/sbin
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  [ -f "$work/daemon.pid" ] && kill "$(cat "$work/daemon.pid")" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
export HOME=$work GOCACHE=$work/gocache PPROF_TMPDIR=$work/pprof

write_conf() {  # write_conf FILE PORT [extra lines]
  {
    echo "listener $2 127.0.0.1"
    echo "allow_anonymous true"
    echo "persistence false"
    # mosquitto drops root privileges to user 'mosquitto' unless told otherwise; the profiled
    # broker must stay able to write into our (0700, root-owned) snapshot directory.
    [ "$(id -u)" = 0 ] && echo "user root"
    shift 2; for l in "$@"; do echo "$l"; done
  } >"$1"
}
port_open() { ss -ltnH "sport = :$1" | grep -q .; }

port=$(free_port) || fail "no free port"
write_conf "$work/m.conf" "$port"
"$cli" run -o "$work/snaps" -- mosquitto -c "$work/m.conf" >"$work/broker.log" 2>&1 &
broker=$!; pids+=("$broker")
wait_for port_open "$port" || fail "mosquitto did not listen on $port: $(cat "$work/broker.log")"

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
  go tool pprof -top -sample_index=inuse_space -unit=B "$f" >"$work/top.txt" 2>"$work/top.err" \
    || fail "go tool pprof rejected $f: $(cat "$work/top.err")"
  total=$(grep -Eo 'of [0-9.]+B total' "$work/top.txt" | grep -Eo '[0-9.]+' | head -1)
  [ "${total%.*}" = "$header_bytes" ] || fail "$f: pprof total '$total' != header $header_bytes"
done
pass "go tool pprof reads both snapshots with the same totals"
kill "$broker"; wait "$broker" 2>/dev/null

# Daemon mode: mosquitto -d forks; the child is the broker that matters.
port=$(free_port) || fail "no free port"
write_conf "$work/d.conf" "$port" "pid_file $work/daemon.pid"
"$cli" run -o "$work/dsnaps" -- mosquitto -d -c "$work/d.conf" 2>"$work/d.log" || true
wait_for test -s "$work/daemon.pid" || fail "daemon wrote no pid file: $(cat "$work/d.log")"
child=$(cat "$work/daemon.pid")
wait_for port_open "$port" || fail "daemon not listening"
mosquitto_pub -h 127.0.0.1 -p "$port" -t lp/d -m hello || fail "publish to daemon failed"
expect_rc 0 "$cli" snapshot "$child" --timeout 20
case "$out" in "$work/dsnaps/leakprobe.$child."*.heap) ;; *) fail "daemon snapshot named $out" ;; esac
grep -q "^# leakprobe.pid: $child$" "$out" || fail "daemon snapshot has the wrong pid"
go tool pprof -top "$out" >/dev/null 2>&1 || fail "pprof rejected the daemon snapshot"
pass "daemonized child keeps profiling under its own pid"
