#!/usr/bin/env bash
# `leakprobe attach` killed with SIGKILL half-way: the target must not notice. The kernel lets
# every thread go when its tracer dies, the one running our injected call included; that call
# must come back into the thread's own state by itself (remote_call.h: an rt_sigframe and a
# return trampoline), and the other threads' interrupted calls must resume.
#  python  (LIBRARY = the stand-in): python3 with threads blocked in epoll_wait, read, accept,
#          recv with SO_RCVTIMEO, nanosleep, futex, Event.wait and sleep (attach_blocked_calls.py).
#          The CLI is killed (1) while the executor thread waits inside dlopen (a library whose
#          constructor blocks until the test lets it go: no help from the CLI needed, so this
#          part fails on a CLI without the return frame), and, through the CLI's test-only
#          LEAKPROBE_ATTACH_TEST_PAUSE, (2) with the thread's registers set for dlopen, not yet
#          resumed, (3) right after resuming it into dlopen, (4) stopped between dlopen and
#          dlsym, (5) with the registers set for dlsym, (6) between dlsym and leakprobe_attach,
#          (7) inside leakprobe_attach, (8) half-way through putting the thread back. After each
#          kill: same pid, untraced, not stopped, and every blocked call returns its right result
#          when woken, twice; a normal attach/detach works after (1)-(6). Then a C program counting
#          SIGUSR1 (handler without SA_RESTART, main thread in read, the executor): killed while
#          parked with a SIGUSR1 sent meanwhile, it counts it once, its malloc churn goes on.
#          And a thread that keeps a pattern in ymm7 across its read (attach_vector_keeper.c):
#          it is still there after a kill inside dlopen, a kill between the calls and an attach.
#  mosquitto (LIBRARY = the real probe): Debian's mosquitto started plain, a QoS 1 stream
#          running; the CLI is killed inside dlopen (the blocking constructor again: the broker's
#          environment names its descriptor; fails on a CLI without the return frame), right
#          after resuming into dlopen of the probe, between the calls, after leakprobe_attach
#          returned, and while putting the thread back; after each, attach/detach work again.
#          Every message arrives once, in order, no client error, same broker, no broker error.
# Usage: attach_killed.sh python LEAKPROBE_CLI STAND_IN SIGNAL_COUNTER BLOCKED_CALLS_PY BLOCKING_CTOR
#          VECTOR_KEEPER
#        attach_killed.sh mosquitto LEAKPROBE_CLI LIBLEAKPROBE BLOCKING_CTOR
set -u
mode=$1
cli=$2
library=$3
. "$(dirname "$0")/testlib.sh"
. "$(dirname "$0")/qos1_stream.sh"
export LEAKPROBE_LIBRARY=$library
work=$(mktemp -d)
chmod 0755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
skip_without_ptrace "$cli"

# untouched NAME PID: the same process, running, untraced.
untouched() {
  local name=$1 pid=$2 state tracer i
  kill -0 "$pid" 2>/dev/null || fail "$name: pid $pid is gone"
  # The kernel detaches a dead tracer's tracees as it reaps it: give it a moment.
  for i in $(seq 1 50); do
    [ -r "/proc/$pid/status" ] || fail "$name: pid $pid is gone (crashed?)"
    tracer=$(awk '/^TracerPid:/ { print $2 }' "/proc/$pid/status")
    [ "$tracer" = 0 ] && break
    sleep 0.1
  done
  [ "$tracer" = 0 ] || fail "$name: pid $pid is still traced by $tracer"
  state=$(awk '/^State:/ { print $2 }' "/proc/$pid/status")
  case "$state" in T|t|Z|X) fail "$name: pid $pid is in state $state" ;; esac
}

# kill_at POINT PID [LIBRARY]: starts an attach (the test-only pause at POINT, or none when
# POINT is "dlopen-blocked": then it waits until LIBRARY is mapped), SIGKILLs the CLI there
# (after running $before_kill, if set).
before_kill=
kill_at() {
  local point=$1 pid=$2 lib=${3:-$library} c
  : >"$work/cli.err"
  if [ "$point" = dlopen-blocked ]; then
    LEAKPROBE_LIBRARY=$lib "$cli" attach -o "$work/snaps" --timeout 60 "$pid" >/dev/null 2>"$work/cli.err" &
    c=$!
    mapped() { grep -q "$lib" "/proc/$pid/maps"; }
    wait_for mapped || { kill -9 "$c"; fail "$point: $lib never got mapped: $(cat "$work/cli.err")"; }
    sleep 0.3  # on into its constructor
  else
    LEAKPROBE_ATTACH_TEST_PAUSE=$point "$cli" attach -o "$work/snaps" "$pid" >/dev/null 2>"$work/cli.err" &
    c=$!
    paused() { grep -q "test pause at $point" "$work/cli.err"; }
    wait_for paused || { kill -9 "$c"; fail "$point: the CLI never paused there: $(cat "$work/cli.err")"; }
  fi
  [ -z "$before_kill" ] || "$before_kill"
  kill -0 "$c" 2>/dev/null || fail "$point: the CLI ended before the kill: $(cat "$work/cli.err")"
  kill -9 "$c"
  wait "$c" 2>/dev/null
}

if [ "$mode" = python ]; then
  counter=$4
  blocked_py=$5
  blocking_ctor=$6
  keeper=$7
  command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
  mkfifo "$work/py.in" "$work/ctor.fifo"
  ATTACH_BLOCK_FD=3 python3 "$blocked_py" <"$work/py.in" >"$work/py.out" 2>"$work/py.err" \
    3<>"$work/ctor.fifo" &
  py=$!; pids+=("$py")
  exec 7>"$work/py.in"
  wait_for grep -q '^READY ' "$work/py.out" || fail "python target not ready: $(cat "$work/py.err")"
  threads_before=$(ls "/proc/$py/task" | wc -l)
  round=0
  # check_round WHAT: wakes every waiter and expects each to report ok.
  check_round() {
    round=$((round + 1))
    echo go >&7
    local i lines
    for i in $(seq 1 200); do grep -q "^ROUND $round DONE" "$work/py.out" && break; sleep 0.1; done
    grep -q "^ROUND $round DONE" "$work/py.out" ||
      fail "$1: round $round never finished: $(tail -12 "$work/py.out") $(cat "$work/py.err")"
    lines=$(awk -v r="$round" '/^ROUND / { n = $2; next } n == r - 1 && / (ok|FAIL) /' "$work/py.out")
    [ "$(printf '%s\n' "$lines" | grep -c ' ok ')" = 8 ] ||
      fail "$1: not every blocked call completed right: $lines"
    wait_for grep -q "^BLOCKED $round" "$work/py.out" || fail "$1: threads not blocked again"
    sleep 0.3
  }
  after_kill() {
    untouched "$1" "$py"
    check_round "$1"
    check_round "$1 (again)"
    [ "$(ls "/proc/$py/task" | wc -l)" = "$threads_before" ] || fail "$1: the thread count changed"
    pass "$1: python3 (pid $py) runs on; all 8 blocked calls returned right, twice"
  }
  attach_works() {
    expect_rc 0 "$cli" attach -o "$work/snaps" "$py"
    expect_rc 0 "$cli" detach "$py"
    check_round "$1: attach/detach after the kill"
  }

  kill_at dlopen-blocked "$py" "$blocking_ctor"
  untouched "killed inside dlopen" "$py"
  echo x >"$work/ctor.fifo"  # the constructor returns, dlopen returns: into the frame
  after_kill "killed inside dlopen (a blocking constructor)"
  grep -q "$blocking_ctor" "/proc/$py/maps" || fail "the blocking library is not loaded after all"
  for point in entering-1 in-call-1 after-call-1 entering-2 after-call-2; do
    kill_at "$point" "$py"
    after_kill "killed at $point"
    attach_works "killed at $point"
  done
  for point in in-call-3 restoring; do
    kill_at "$point" "$py"
    after_kill "killed at $point"
  done
  echo quit >&7
  exec 7>&-

  "$counter" "$work/count" >"$work/sig.out" 2>&1 &
  sig=$!; pids+=("$sig")
  wait_for grep -q '^READY ' "$work/sig.out" || fail "signal counter not ready"
  wait_for test -s "$work/count" || fail "signal counter not counting"
  field() { awk -v k="$1" '{ for (i = 1; i < NF; i += 2) if ($i == k) print $(i + 1) }' "$work/count"; }
  churn=$(field churn)
  # One: signals of one number sent while a thread is held coalesce, as for any stopped thread.
  send_one() { kill -USR1 "$sig"; sleep 0.2; [ "$(field usr1)" = 0 ] || fail "counted while held"; }
  before_kill=send_one
  kill_at after-call-1 "$sig"
  before_kill=""
  untouched "signal counter" "$sig"
  counted_1() { [ "$(field usr1)" = 1 ]; }
  wait_for counted_1 || fail "a SIGUSR1 sent while the CLI was parked, then killed: $(field usr1) counted"
  [ "$(field other)" = 0 ] || fail "read returned something other than EINTR"
  [ "$(field eintr)" -le 1 ] || fail "read saw $(field eintr) EINTR for 1 signal"
  churning() { [ "$(field churn)" -gt "$churn" ]; }
  wait_for churning || fail "the malloc churners stopped"
  pass "signal counter killed while parked: the SIGUSR1 sent meanwhile was counted once; churn goes on"

  # The executor's vector registers: ymm7 held across its read, through a normal attach, a kill
  # inside dlopen and a kill between the calls.
  mkfifo "$work/vec.in" "$work/vec.fifo"
  ATTACH_BLOCK_FD=3 "$keeper" <"$work/vec.in" >"$work/vec.out" 2>&1 3<>"$work/vec.fifo" &
  vec=$!; pids+=("$vec")
  exec 8>"$work/vec.in"
  wait_for grep -qE '^(READY|NOAVX) ' "$work/vec.out" || fail "vector keeper not ready"
  grep -q '^NOAVX' "$work/vec.out" && echo "note: no AVX here, xmm7 only"
  sleep 0.2
  vec_round() {
    local want=$(( $(grep -c '^ymm7\|^read' "$work/vec.out") + 1 )) got
    printf x >&8
    vec_done() { [ "$(grep -c '^ymm7\|^read' "$work/vec.out")" -ge "$want" ]; }
    wait_for vec_done || fail "$1: the vector keeper did not answer: $(cat "$work/vec.out")"
    got=$(grep '^ymm7\|^read' "$work/vec.out" | tail -1)
    [ "$got" = "ymm7 ok" ] || fail "$1: $got"
  }
  kill_at dlopen-blocked "$vec" "$blocking_ctor"
  echo x >"$work/vec.fifo"
  untouched "vector keeper killed inside dlopen" "$vec"
  vec_round "killed inside dlopen"
  kill_at after-call-1 "$vec"
  untouched "vector keeper killed between the calls" "$vec"
  vec_round "killed between the calls"
  expect_rc 0 "$cli" attach -o "$work/snaps" "$vec"
  vec_round "after an attach"
  pass "ymm7 kept across the executor's read: killed inside dlopen, killed between calls, attached"
  exec 8>&-
  echo "a killed attach leaves python3 and a C program running right"
  exit 0
fi

[ "$mode" = mosquitto ] || fail "unknown mode $mode"
command -v mosquitto >/dev/null || PATH=$PATH:/usr/sbin
command -v mosquitto >/dev/null || { echo "SKIP: no mosquitto (scripts/deps.sh)"; exit 77; }
nm -D --defined-only "$library" 2>/dev/null | grep -q ' leakprobe_attach$' ||
  { echo "SKIP: $library exports no leakprobe_attach"; exit 77; }
port=$(free_port) || fail "no free port"
stream_conf "$work/m.conf"
blocking_ctor=$4
mkfifo "$work/ctor.fifo"
ATTACH_BLOCK_FD=3 mosquitto -c "$work/m.conf" >"$work/broker.log" 2>&1 3<>"$work/ctor.fifo" &
broker=$!; pids+=("$broker")
port_open() { ss -ltnH "sport = :$port" | grep -q .; }
wait_for port_open || fail "mosquitto did not listen: $(cat "$work/broker.log")"
started() { awk '{ print $22 }' "/proc/$broker/stat"; }
start_time=$(started)
stream_start lp-killed

kill_at dlopen-blocked "$broker" "$blocking_ctor"
untouched "mosquitto killed inside dlopen" "$broker"
echo x >"$work/ctor.fifo"
n=$(received)
wait_for flowing "$n" || fail "killed inside dlopen: the stream stopped at $n"
pass "mosquitto killed inside dlopen (a blocking constructor): it serves on"

for point in in-call-1 after-call-1 after-call-3 restoring; do
  kill_at "$point" "$broker"
  untouched "mosquitto killed at $point" "$broker"
  n=$(received)
  wait_for flowing "$n" || fail "killed at $point: the stream stopped at $n"
  # The probe may be attached now (killed after leakprobe_attach): detach first then.
  "$cli" detach "$broker" >/dev/null 2>&1
  expect_rc 0 "$cli" attach -o "$work/snaps" "$broker"
  expect_rc 0 "$cli" detach "$broker"
  pass "mosquitto killed at $point: it serves on, and attaches again"
done

stream_check
[ "$(started)" = "$start_time" ] || fail "pid $broker is another process now"
untouched "mosquitto at the end" "$broker"
own=$(grep -v '^leakprobe: ' "$work/broker.log")
[ -z "$own" ] || fail "the broker said something (errors or warnings): $own"
pass "all $sent QoS 1 messages arrived once each, in order; no client error; same broker, no error"
echo "a killed attach leaves mosquitto serving"
