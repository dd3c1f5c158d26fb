#!/usr/bin/env bash
# Who the CLI talks to, and who may talk to the probe:
#  1. a uid-65534 process squats the control socket name of a root process whose probe runs
#     without one: `leakprobe snapshot|disable` refuse it (exit 1, nothing on stdout);
#  2. two pid namespaces that share the network namespace (containers with --net=host), each
#     with the same inner pid, take 10 snapshots each at once into one directory: all 20 kept,
#     each namespace gets its own process's files, the host reaches both;
#  3. a process started as root that drops to uid 65534 (as mosquitto does): that user's CLI can
#     snapshot, disable, enable and list it although /proc/PID/maps is root's;
#  4. the same drop into a directory only root can write: the CLI prints the probe's own reason
#     and the fix;
#  5. Debian's mosquitto as shipped (started as root, no `user` line, drops to `mosquitto`):
#     the `mosquitto` user snapshots, lists, disables and enables it.
# Needs root, setpriv and unshare; reports itself skipped (77) otherwise.
# Usage: cli_peer_check.sh LEAKPROBE_CLI TARGET_PROGRAM SQUATTER PROBE_LIBRARY
set -u
cli=$1 target=$2 squatter=$3
export LEAKPROBE_LIBRARY=$4  # the copied CLI below would not find the build tree's
. "$(dirname "$0")/testlib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (setpriv to uid 65534, unshare --pid)"; exit 77; }
for tool in setpriv unshare; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is missing"; exit 77; }
done

work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  pkill -f "^$work/squatter" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
as_nobody() { setpriv --reuid 65534 --regid 65534 --clear-groups "$@"; }
# Started as root, the programs are copied where uid 65534 may run them.
cp "$cli" "$work/leakprobe" && cp "$target" "$work/target" && cp "$squatter" "$work/squatter"
chmod 755 "$work/leakprobe" "$work/target" "$work/squatter"
cli=$work/leakprobe

# start_target NAME [run options --] [target args]: the target under `leakprobe run`, stdin on a
# fifo held open by fd 3 + N; sets $tpid.
start_target() {
  local name=$1; shift
  mkfifo "$work/$name.in"
  "$cli" run "$@" <"$work/$name.in" >"$work/$name.out" 2>"$work/$name.err" &
  tpid=$!
  pids+=("$tpid")
  eval "exec {fd_$name}>\"$work/$name.in\""
  wait_for grep -q READY "$work/$name.out" || fail "$name never became ready: $(cat "$work/$name.err")"
}

# 1. The squatted name.
start_target squat -o "$work/squat-snaps" --control 0 -- "$work/target"
victim=$tpid
grep -q "control socket" "$work/squat.err" && fail "LEAKPROBE_CONTROL=0 still announced a socket: $(cat "$work/squat.err")"
ns=$(stat -L -c %i "/proc/$victim/ns/pid")
# setpriv itself in the background (not the as_nobody function: its subshell's pid would be
# killed at the end and the squatter left running).
setpriv --reuid 65534 --regid 65534 --clear-groups "$work/squatter" "leakprobe.$ns.$victim" \
  "ok /etc/shadow" >"$work/squatter.out" 2>&1 &
pids+=("$!")
wait_for grep -q READY "$work/squatter.out" || fail "the squatter could not bind: $(cat "$work/squatter.out")"
expect_rc 1 "$cli" snapshot "$victim" --timeout 5
[ -z "$out" ] || fail "snapshot printed the squatter's answer: $out"
expect_contains "$err" "refusing to talk to it: the control socket @leakprobe.$ns.$victim is held by pid" "squatted snapshot"
expect_contains "$err" "(uid 65534), not by pid $victim" "squatted snapshot names the holder"
expect_rc 1 "$cli" disable "$victim" --timeout 5
[ -z "$out" ] || fail "disable believed the squatter: $out"
expect_contains "$err" "refusing" "squatted disable"
expect_rc 0 "$cli" list
expect_contains "$out" "$(printf '%s\tno-socket\t' "$victim")" "list shows the squatted probe without a socket"
case "$out" in *"/squatter"*) fail "list shows the squatter as a probe: $out" ;; esac
pass "a squatted control socket is refused, never believed"

# 2. Two pid namespaces, one network namespace, one directory.
shared=$work/shared
mkdir -m 0700 "$shared"
for side in a b; do
  cp "$work/target" "$work/target_$side"
  # In each namespace `sh` is pid 1 and the profiled program pid 2.
  unshare --pid --fork --mount-proc sh -c '
    cli=$1 target=$2 dir=$3 out=$4
    mkfifo "$out.in"
    "$cli" run -o "$dir" --at-exit 0 -- "$target" <"$out.in" >"$out.target" 2>"$out.err" &
    p=$!
    exec 3>"$out.in"
    i=0
    while ! grep -q READY "$out.target" 2>/dev/null; do
      i=$((i + 1)); [ $i -gt 200 ] && { echo "never ready" >"$out.fail"; exit 1; }
      sleep 0.05
    done
    echo "$p" >"$out.pid"
    # Wait until the other side is ready too, so that both write at the same time.
    i=0
    while [ ! -e "$out.go" ]; do
      i=$((i + 1)); [ $i -gt 400 ] && { echo "no go" >"$out.fail"; exit 1; }
      sleep 0.05
    done
    for n in 1 2 3 4 5 6 7 8 9 10; do
      "$cli" snapshot "$p" --timeout 20 >>"$out.paths" 2>>"$out.cli" || echo "snapshot $n failed" >>"$out.fail"
    done
    exec 3>&-
    wait "$p" || echo "target exited $?" >>"$out.fail"
  ' sh "$cli" "$work/target_$side" "$shared" "$work/ns_$side" &
  pids+=("$!")
done
wait_for test -s "$work/ns_a.pid" || fail "namespace a never started: $(cat "$work"/ns_a.* 2>&1)"
wait_for test -s "$work/ns_b.pid" || fail "namespace b never started: $(cat "$work"/ns_b.* 2>&1)"
[ "$(cat "$work/ns_a.pid")" = "$(cat "$work/ns_b.pid")" ] \
  || fail "the two programs should share one inner pid: $(cat "$work/ns_a.pid") vs $(cat "$work/ns_b.pid")"
inner=$(cat "$work/ns_a.pid")
# From the host, both are reachable under their host pids, through the shared network namespace.
host_a=$(pgrep -f "^$work/target_a$") || fail "no host pid for side a"
host_b=$(pgrep -f "^$work/target_b$") || fail "no host pid for side b"
expect_rc 0 "$cli" list
expect_contains "$out" "$(printf '%s\t' "$host_a")" "list from the host shows side a"
expect_contains "$out" "$(printf '%s\t' "$host_b")" "list from the host shows side b"
expect_rc 0 "$cli" snapshot "$host_a" --timeout 20
grep -q "^# leakprobe.exe: $work/target_a$" "$out" || fail "host's snapshot of $host_a is not side a's: $out"
rm -f "$out"
touch "$work/ns_a.go" "$work/ns_b.go"
# Both sides finish (their `sh` exits once the target has): at most 60 s.
side_done() { ! pgrep -f "^$work/target_$1\$" >/dev/null; }
for side in a b; do
  for _ in $(seq 1 600); do side_done "$side" && break; sleep 0.1; done
  side_done "$side" || fail "side $side did not finish in 60 s: $(cat "$work/ns_$side.cli" 2>/dev/null)"
done
for side in a b; do
  [ -e "$work/ns_$side.fail" ] && fail "side $side: $(cat "$work/ns_$side.fail") (cli: $(cat "$work/ns_$side.cli" 2>/dev/null); probe: $(cat "$work/ns_$side.err"))"
  [ "$(wc -l <"$work/ns_$side.paths")" = 10 ] || fail "side $side printed $(wc -l <"$work/ns_$side.paths") paths, want 10"
  while read -r f; do
    [ -f "$f" ] || fail "side $side: $f was reported but is not there"
    grep -q "^# leakprobe.exe: $work/target_$side$" "$f" || fail "side $side got another process's snapshot: $f"
    grep -q "^# leakprobe.pid: $inner$" "$f" || fail "side $side: $f has the wrong pid"
  done <"$work/ns_$side.paths"
  grep -q "Address already in use" "$work/ns_$side.err" && fail "side $side could not open its socket: $(cat "$work/ns_$side.err")"
done
# The headers tell the two processes apart although their pid is one.
ns_of() { sed -n 's/^# leakprobe.pid-namespace: //p' "$(head -1 "$work/ns_$1.paths")"; }
[ -n "$(ns_of a)" ] && [ -n "$(ns_of b)" ] && [ "$(ns_of a)" != "$(ns_of b)" ] \
  || fail "the snapshots' pid-namespace lines do not tell the sides apart: '$(ns_of a)' '$(ns_of b)'"
kept=$(ls "$shared" | grep -c "^leakprobe\.$inner\.[0-9]*\.heap$")
[ "$kept" = 20 ] || fail "$kept of 20 snapshots kept in the shared directory: $(ls -a "$shared")"
ls -a "$shared" | grep -q '\.tmp$' && fail "a temporary file was left: $(ls -a "$shared")"
pass "two pid namespaces sharing a network namespace and a directory: 10 of 10 snapshots each"

# 3. The program's own user after the drop.
owned=$work/owned
mkdir -m 0700 "$owned" && chown 65534:65534 "$owned"
start_target drop -o "$owned" -- "$work/target" --drop-to 65534
dropped=$tpid
[ "$(stat -c %u "/proc/$dropped/status")" = 0 ] || fail "the premise: /proc/$dropped should be root's after the drop"
as_nobody cat "/proc/$dropped/maps" >/dev/null 2>&1 && fail "the premise: uid 65534 should not read /proc/$dropped/maps"
expect_rc 0 as_nobody "$cli" snapshot "$dropped" --timeout 20
case "$out" in "$owned"/leakprobe."$dropped".0001.heap) ;; *) fail "snapshot as the owner printed '$out'" ;; esac
[ -f "$out" ] && [ "$(stat -c %u "$out")" = 65534 ] || fail "$out missing or not the program's user's"
expect_rc 0 as_nobody "$cli" disable "$dropped" --timeout 10
expect_contains "$out" "pid $dropped: dormant" "disable as the owner"
expect_rc 0 as_nobody "$cli" list
expect_contains "$out" "$(printf '%s\tdormant\texact\t-\t41\t' "$dropped")" "list as the owner"
expect_rc 0 as_nobody "$cli" enable "$dropped" --timeout 10
expect_contains "$out" "pid $dropped: recording" "enable as the owner"
# Another unprivileged user is turned away by the probe itself.
expect_rc 1 setpriv --reuid 65533 --regid 65533 --clear-groups "$cli" snapshot "$dropped" --timeout 5
expect_contains "$err" "answered: permission denied: this probe answers root and uid 65534 only" "a stranger is refused by the probe"
pass "the program's own user snapshots, disables, enables and lists after the drop"

# 4. The drop into root's directory: the probe's reason and the fix reach the CLI.
rootdir=$work/rootonly
start_target denied -o "$rootdir" -- "$work/target" --drop-to 65534
expect_rc 1 "$cli" snapshot "$tpid" --timeout 20
expect_contains "$err" "answered: cannot create the snapshot file $rootdir/.leakprobe.$tpid.0001.heap" "denied write: what and where"
expect_contains "$err" "Permission denied; the program changed its user to uid 65534 after start: make $rootdir writable for uid 65534" "denied write: reason and fix"
pass "a write the probe could not make is explained with its reason and fix"

# 5. Debian's mosquitto as shipped, and its own user.
if ! command -v mosquitto >/dev/null || ! id mosquitto >/dev/null 2>&1; then
  echo "note: mosquitto case not run (mosquitto or its user is missing)"
  exit 0
fi
port=$(free_port) || fail "no free port"
printf 'listener %s 127.0.0.1\n' "$port" >"$work/mosq.conf"
chmod 644 "$work/mosq.conf"
"$cli" run -o "$work/mosq" -- mosquitto -c "$work/mosq.conf" >"$work/mosq.log" 2>&1 &
broker=$!
pids+=("$broker")
listening() { ss -ltnH "sport = :$port" 2>/dev/null | grep -q .; }
wait_for listening || fail "mosquitto did not listen on $port: $(cat "$work/mosq.log")"
[ "$(awk '/^Uid:/ { print $3 }' "/proc/$broker/status")" = "$(id -u mosquitto)" ] \
  || fail "the premise: mosquitto should have dropped to its user: $(grep Uid "/proc/$broker/status")"
as_mosquitto() { setpriv --reuid mosquitto --regid mosquitto --clear-groups "$@"; }
expect_rc 0 as_mosquitto "$cli" snapshot "$broker" --timeout 20
case "$out" in "$work"/mosq/leakprobe."$broker".0001.heap) ;; *) fail "mosquitto's user: snapshot printed '$out'" ;; esac
grep -q "^# leakprobe.end$" "$out" || fail "mosquitto's user: $out is incomplete"
expect_rc 0 as_mosquitto "$cli" list
expect_contains "$out" "$(printf '%s\trecording\texact\t-\t41\tmosquitto' "$broker")" "mosquitto's user: list"
expect_rc 0 as_mosquitto "$cli" disable "$broker" --timeout 10
expect_contains "$out" "pid $broker: dormant" "mosquitto's user: disable"
expect_rc 0 as_mosquitto "$cli" enable "$broker" --timeout 10
expect_contains "$out" "pid $broker: recording" "mosquitto's user: enable"
pass "Debian's mosquitto as shipped: its own user snapshots, lists, disables and enables it"
