#!/usr/bin/env bash
# The probe only says what it has. Each of its needs is taken away in turn (seccomp denying
# socket(AF_UNIX), rt_sigaction of its signal, or thread creation; RLIMIT_NPROC; the socket's
# name already taken; LEAKPROBE_CONTROL=0; LEAKPROBE_SIGNAL=0), and for each:
#  - the start-up line names the signal and the control socket only when they work;
#  - what could not be set up is said exactly once, with its effect;
#  - the CLI gets a prompt, clear failure (never its timeout) and `leakprobe list` agrees;
#  - the host runs unharmed (it allocates, answers, exits 0).
# Usage: denied_needs.sh PROBE_LIBRARY LEAKPROBE_CLI TARGET_PROGRAM DENY_SYSCALL
set -u
lib=$1 cli=$2 target=$3 deny=$4
. "$(dirname "$0")/../cli/testlib.sh"
work=$(mktemp -d)
chmod 755 "$work"
tpid=""
cleanup() {
  [ -n "$tpid" ] && kill "$tpid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# Probe once whether this machine lets a process install a seccomp filter at all.
"$deny" socket-unix true >/dev/null 2>&1
case $? in 0) ;; 77) echo "SKIP: seccomp filters cannot be installed here"; exit 77 ;; *) fail "deny_syscall does not run" ;; esac

# start CASE PREFIX... : runs TARGET under the probe behind PREFIX (a launcher, env settings),
# stdin on a fifo; sets $tpid, $dir, $errf.
start() {
  local name=$1; shift
  dir=$work/$name errf=$work/$name.err
  mkdir -m 0777 "$dir"
  mkfifo "$work/$name.in"
  "$@" env LD_PRELOAD="$lib" LEAKPROBE_OUTPUT_DIR="$dir" "$target" \
    <"$work/$name.in" >"$work/$name.out" 2>"$errf" &
  tpid=$!
  exec 3>"$work/$name.in"
  wait_for grep -q READY "$work/$name.out" || fail "$name: the host never became ready: $(cat "$errf")"
  echo go >&3  # the host keeps allocating
}
# finish: closes the host's stdin; it must exit 0.
finish() {
  exec 3>&-
  wait "$tpid"; local rc=$?
  tpid=""
  [ "$rc" = 0 ] || fail "$1: the host exited $rc: $(cat "$errf")"
}
start_line() { grep -E '^leakprobe: profiling pid [0-9]+, snapshots in ' "$errf"; }
# said_once TEXT WHAT: exactly one stderr line holds TEXT.
said_once() {
  local n
  n=$(grep -cF -- "$1" "$errf")
  [ "$n" = 1 ] || fail "$2: said $n times, want once: '$1' in: $(cat "$errf")"
}
no_timeout() {
  case "$err" in *"timed out"*) fail "$1: the CLI waited for its timeout: $err" ;; esac
}
ns=$(stat -L -c %i /proc/self/ns/pid)

# 1. socket(AF_UNIX) denied: no control socket; the signal works.
start socket "$deny" socket-unix
said_once "cannot create the control socket: Operation not permitted; \`leakprobe snapshot\`, \`enable\`, \`disable\` and \`list\` cannot reach this process" "socket denied"
[ "$(start_line)" = "leakprobe: profiling pid $tpid, snapshots in $dir (signal 41)" ] \
  || fail "socket denied: start-up line: $(start_line)"
expect_rc 1 "$cli" snapshot "$tpid" --timeout 30
no_timeout "socket denied"
expect_contains "$err" "the probe in pid $tpid does not answer on its control socket @leakprobe.$ns.$tpid" "socket denied: snapshot"
expect_rc 0 "$cli" list
expect_contains "$out" "$(printf '%s\tno-socket\t' "$tpid")" "socket denied: list"
kill -s RTMIN+7 "$tpid"
wait_for test -e "$dir/leakprobe.$tpid.0001.heap" || fail "socket denied: the signal took no snapshot"
finish "socket denied"
pass "socket(AF_UNIX) denied: said once, not announced, the signal still works"

# 2. rt_sigaction of the snapshot signal denied: no signal trigger; the socket works.
start sigaction "$deny" rt-sigaction=41
said_once "cannot install a handler for signal 41: Operation not permitted; the signal trigger is off, and this signal would end the program" "rt_sigaction denied"
[ "$(start_line)" = "leakprobe: profiling pid $tpid, snapshots in $dir (control socket @leakprobe.$ns.$tpid)" ] \
  || fail "rt_sigaction denied: start-up line: $(start_line)"
expect_rc 0 "$cli" list
expect_contains "$out" "$(printf '%s\trecording\texact\t-\toff\t' "$tpid")" "rt_sigaction denied: list"
expect_rc 0 "$cli" snapshot "$tpid" --timeout 30
[ -f "$out" ] || fail "rt_sigaction denied: no snapshot over the socket"
finish "rt_sigaction denied"
pass "rt_sigaction denied: said once, not announced, the socket still works"

# 3. No thread can start (seccomp on clone): no socket, no signal, only the exit snapshot.
start thread "$deny" thread
said_once "cannot start the writer thread: " "thread denied"
said_once "; no snapshots on request, signal or interval, only the exit snapshot" "thread denied"
[ "$(start_line)" = "leakprobe: profiling pid $tpid, snapshots in $dir" ] \
  || fail "thread denied: start-up line: $(start_line)"
expect_rc 1 "$cli" snapshot "$tpid" --timeout 30
no_timeout "thread denied: snapshot"
expect_contains "$err" "does not answer on its control socket" "thread denied: snapshot"
expect_rc 1 "$cli" disable "$tpid" --timeout 10
no_timeout "thread denied: disable"
expect_rc 0 "$cli" list
expect_contains "$out" "$(printf '%s\tno-socket\t' "$tpid")" "thread denied: list"
# Someone follows the guide anyway: the signal no longer offered must not end the program.
kill -s RTMIN+7 "$tpid"
sleep 0.3
kill -0 "$tpid" 2>/dev/null || fail "thread denied: the snapshot signal ended the host"
host=$tpid
finish "thread denied"
[ -f "$dir/leakprobe.$host.0001.heap" ] && grep -q "^# leakprobe.trigger: exit$" "$dir/leakprobe.$host.0001.heap" \
  || fail "thread denied: no exit snapshot: $(ls "$dir"; head -8 "$dir"/*)"
pass "no writer thread (seccomp): socket closed, signal not offered, prompt CLI failure, exit snapshot"

# 4. RLIMIT_NPROC reached by an unprivileged user: the same as 3.
if command -v prlimit >/dev/null && command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
  # A uid nothing else runs as: RLIMIT_NPROC counts every process of the user, and one more
  # (a parallel test's) would stop the exec itself.
  lonely=$((60000 + $$ % 5000))
  start nproc prlimit --nproc=1:1 setpriv --reuid "$lonely" --regid "$lonely" --clear-groups
  said_once "cannot start the writer thread: Resource temporarily unavailable; no snapshots on request, signal or interval, only the exit snapshot" "RLIMIT_NPROC"
  [ "$(start_line)" = "leakprobe: profiling pid $tpid, snapshots in $dir" ] \
    || fail "RLIMIT_NPROC: start-up line: $(start_line)"
  expect_rc 1 "$cli" snapshot "$tpid" --timeout 30
  no_timeout "RLIMIT_NPROC: snapshot"
  finish "RLIMIT_NPROC"
  pass "RLIMIT_NPROC: the writer thread's absence said once, nothing announced"
else
  echo "note: RLIMIT_NPROC case not run (needs root, prlimit and setpriv)"
fi

# 5. The name already taken (EADDRINUSE): said once, the socket not announced.
start taken "$deny" hold-control-name
said_once "cannot open the control socket @leakprobe.$ns.$tpid: Address already in use;" "name taken"
[ "$(start_line)" = "leakprobe: profiling pid $tpid, snapshots in $dir (signal 41)" ] \
  || fail "name taken: start-up line: $(start_line)"
finish "name taken"
pass "a taken name: said once, not announced"

# 6. Turned off on purpose: not announced, nothing to say about it.
start nocontrol env LEAKPROBE_CONTROL=0
[ "$(start_line)" = "leakprobe: profiling pid $tpid, snapshots in $dir (signal 41)" ] \
  || fail "LEAKPROBE_CONTROL=0: start-up line: $(start_line)"
grep -q "control socket" "$errf" && fail "LEAKPROBE_CONTROL=0 still speaks of a control socket: $(cat "$errf")"
finish "LEAKPROBE_CONTROL=0"
start nosignal env LEAKPROBE_SIGNAL=0
[ "$(start_line)" = "leakprobe: profiling pid $tpid, snapshots in $dir (control socket @leakprobe.$ns.$tpid)" ] \
  || fail "LEAKPROBE_SIGNAL=0: start-up line: $(start_line)"
grep -qw "signal" "$errf" && fail "LEAKPROBE_SIGNAL=0 still speaks of a signal: $(cat "$errf")"
expect_rc 0 "$cli" list
expect_contains "$out" "$(printf '%s\trecording\texact\t-\toff\t' "$tpid")" "LEAKPROBE_SIGNAL=0: list"
finish "LEAKPROBE_SIGNAL=0"
pass "LEAKPROBE_CONTROL=0 and LEAKPROBE_SIGNAL=0: nothing announced that is off"
