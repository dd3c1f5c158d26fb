#!/usr/bin/env bash
# `leakprobe attach` / `detach` themselves, with a stand-in library that exports the probe's two
# entry points and only records that they were called (attach_stand_in.c): what the injection
# does to a process, apart from what the probe then does in it (issue 18).
#  1. python3 with threads blocked in epoll_wait, read, accept, recv with SO_RCVTIMEO, nanosleep,
#     futex (raw libc calls
#     through ctypes, where an EINTR shows) and threading.Event/time.sleep: after attach, after
#     detach and after attaching again, every call completes with its right result.
#  2. The probe refusing (-EPERM) and the probe never returning (--timeout): one line, exit 1,
#     and the process works on as before; the attach after that succeeds.
#  4. (stand-in run) a thread waiting inside the dynamic loader (a constructor that blocks,
#     during dlopen): attach refuses with one line instead of hanging on the loader lock, the
#     process runs on, and once the constructor returns, the attach succeeds.
#  3. A C program counting SIGUSR1 (handler without SA_RESTART, main thread in read) while two
#     threads churn malloc: 12 attach/detach cycles while signals are sent one at a time, each
#     waited for: none is lost, no EINTR comes without its signal, the churn goes on.
# With `real` last, LIBRARY is the real libleakprobe.so: parts 1 and 3 again, the probe now
# rewriting calls and recording (and snapshotting) while the threads wait and the signals come;
# part 2 needs the stand-in's switches and is left out.
# Usage: attach_mechanics.sh LEAKPROBE_CLI LIBRARY SIGNAL_COUNTER BLOCKED_CALLS_PY
#          BLOCKING_CTOR_LIBRARY|real
set -u
cli=$1
stand_in=$2
counter=$3
blocked_py=$4
real=""
blocking_ctor=${5:-}
if [ "$blocking_ctor" = real ]; then real=1; blocking_ctor=""; fi
if [ -n "$real" ] && ! nm -D --defined-only "$stand_in" 2>/dev/null | grep -q ' leakprobe_attach$'; then
  echo "SKIP: $stand_in exports no leakprobe_attach"; exit 77
fi
# called WHAT PID N: the library's leakprobe_attach (or _detach) ran N times in PID: the
# stand-in's record, or the real probe's one line per call on the process's stderr.
called() {
  local what=$1 pid=$2 n=$3 log
  if [ -n "$real" ]; then
    log=$4
    [ "$(grep -c "^leakprobe: ${what}ed: " "$log")" = "$n" ]
  else
    [ "$(grep -c "$what $pid" "$work/stand_in.${what}ed")" = "$n" ]
  fi
}
. "$(dirname "$0")/testlib.sh"
export LEAKPROBE_LIBRARY=$stand_in
work=$(mktemp -d)
chmod 0755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
skip_without_ptrace "$cli"

# --- 1. blocked system calls -------------------------------------------------------------
mkfifo "$work/py.in"
python3 "$blocked_py" <"$work/py.in" >"$work/py.out" 2>"$work/py.err" &
py=$!; pids+=("$py")
exec 7>"$work/py.in"
wait_for grep -q '^READY ' "$work/py.out" || fail "python target not ready: $(cat "$work/py.err")"
[ "$(awk '/^READY/ {print $2}' "$work/py.out")" = "$py" ] || fail "python target pid mismatch"
threads_before=$(ls "/proc/$py/task" | wc -l)

round=0
# check_round WHAT: wakes every waiter and expects each to report ok.
check_round() {
  round=$((round + 1))
  echo go >&7
  wait_for_long() { local i; for i in $(seq 1 200); do "$@" && return 0; sleep 0.1; done; return 1; }
  wait_for_long grep -q "^ROUND $round DONE" "$work/py.out" ||
    fail "$1: round $round never finished: $(tail -12 "$work/py.out") $(cat "$work/py.err")"
  local lines
  lines=$(awk -v r="$round" '/^ROUND / { n = $2; next } n == r - 1 && / (ok|FAIL) /' "$work/py.out")
  [ "$(printf '%s\n' "$lines" | grep -c ' ok ')" = 8 ] || fail "$1: not every blocked call completed right: $lines"
  wait_for grep -q "^BLOCKED $round" "$work/py.out" || fail "$1: threads not blocked again"
  sleep 0.3
  pass "$1: epoll_wait, read, accept, recv (SO_RCVTIMEO), nanosleep, futex, Event.wait and sleep all completed right"
}

expect_rc 0 "$cli" attach -o "$work" "$py"
expect_contains "$out" "attached to pid $py (python3): recording every allocation" "attach"
called attach "$py" 1 "$work/py.err" || fail "leakprobe_attach was not called once"
grep -q "$stand_in" "/proc/$py/maps" || fail "the library is not mapped"
if [ -n "$real" ]; then
  expect_rc 0 "$cli" snapshot "$py" --timeout 20
  grep -q '^# leakprobe.attached: since=' "$out" || fail "the snapshot has no attached line: $out"
  pass "a snapshot of the attached python3"
fi
check_round "after attach"

expect_rc 0 "$cli" detach "$py"
expect_contains "$out" "detached from pid $py" "detach"
called detach "$py" 1 "$work/py.err" || fail "leakprobe_detach was not called once"
check_round "after detach"

if [ -n "$real" ]; then
  # The probe keeps its first attach's table sizes and mode: attach again the same way.
  expect_rc 0 "$cli" attach -o "$work" "$py"
else
  expect_rc 0 "$cli" attach -o "$work" --sample-bytes 512k "$py"
  expect_contains "$out" "about one allocation per 524288 bytes" "re-attach, sampled"
fi
called attach "$py" 2 "$work/py.err" || fail "the second attach did not reach the library"
expect_rc 1 "$cli" attach -o "$work" "$py"
expect_contains "$err" "is already recording (attached earlier)" "attach twice"
check_round "after attaching again"
expect_rc 0 "$cli" detach "$py"

if [ -z "$real" ]; then
# --- 2. failures inside the target put it back ----------------------------------------
touch "$work/refuse"
expect_rc 1 "$cli" attach -o "$work" "$py"
expect_contains "$err" "refused to start (Operation not permitted" "the probe refusing"
rm "$work/refuse"
check_round "after the probe refused"

# A call that does not return in time is not abandoned half-way (a lock it took, the loader's
# in dlopen, would stay held for ever): its thread is left to finish it and puts itself back
# through the return frame, untraced.
touch "$work/hang"
expect_rc 1 "$cli" attach -o "$work" --timeout 1 "$py"
expect_contains "$err" "did not return within 1000 ms; thread " "timeout"
expect_contains "$err" "was left to finish it, and puts itself back when it does" "timeout: left"
[ "$(printf '%s\n' "$err" | wc -l)" = 1 ] || fail "timeout: more than one line: $err"
tracer=$(awk '/^TracerPid:/ {print $2}' "/proc/$py/status")
[ "$tracer" = 0 ] || fail "pid $py is still traced by $tracer while the call runs"
called attach "$py" 2 || fail "the timed-out call finished before the hang was lifted"
rm "$work/hang"
wait_for called attach "$py" 3 || fail "the timed-out call never finished once the hang was lifted"
check_round "after a timed-out attach"
[ "$(ls "/proc/$py/task" | wc -l)" = "$threads_before" ] || fail "the thread count changed"
state=$(awk '/^State:/ {print $2}' "/proc/$py/status")
tracer=$(awk '/^TracerPid:/ {print $2}' "/proc/$py/status")
[ "$tracer" = 0 ] || fail "pid $py is still traced by $tracer"
case "$state" in T|t|Z|X) fail "pid $py is in state $state" ;; esac
# The finished call attached the stand-in: detach it, then attach again.
expect_rc 0 "$cli" detach "$py"
expect_rc 0 "$cli" attach -o "$work" "$py"
pass "after a refusal and a timeout the process is untraced, running, the timed-out call finished by itself, and it attaches again"
fi
echo quit >&7
exec 7>&-

# --- 3. signals during attach ------------------------------------------------------------
"$counter" "$work/count" >"$work/sig.out" 2>&1 &
sig=$!; pids+=("$sig")
wait_for grep -q '^READY ' "$work/sig.out" || fail "signal counter not ready"
wait_for test -s "$work/count" || fail "signal counter not counting"
field() { awk -v k="$1" '{ for (i = 1; i < NF; i += 2) if ($i == k) print $(i + 1) }' "$work/count"; }
sent=0
send_one() {
  sent=$((sent + 1))
  kill -USR1 "$sig"
  local i
  for i in $(seq 1 500); do
    [ "$(field usr1)" -ge "$sent" ] 2>/dev/null && return 0
    sleep 0.01
  done
  return 1
}
(
  for c in $(seq 1 12); do
    "$cli" attach -o "$work" "$sig" >>"$work/cycles.out" 2>&1 || { echo "attach $c failed" >>"$work/cycles.err"; }
    "$cli" detach "$sig" >>"$work/cycles.out" 2>&1 || { echo "detach $c failed" >>"$work/cycles.err"; }
  done
  echo done >"$work/cycles.done"
) &
cycler=$!
churn_start=$(field churn)
while [ ! -f "$work/cycles.done" ] || [ "$sent" -lt 100 ]; do
  send_one || fail "SIGUSR1 number $sent was lost (the program counted $(field usr1))"
  [ "$sent" -lt 5000 ] || fail "the cycles never finished: $(cat "$work/cycles.out")"
done
wait "$cycler"
[ ! -s "$work/cycles.err" ] || fail "cycles failed: $(cat "$work/cycles.err") $(tail -5 "$work/cycles.out")"
called attach "$sig" 12 "$work/sig.out" || fail "not 12 attaches reached the library"
[ "$(field usr1)" = "$sent" ] || fail "sent $sent SIGUSR1, counted $(field usr1)"
[ "$(field eintr)" -le "$sent" ] || fail "read saw $(field eintr) EINTR for $sent signals"
[ "$(field other)" = 0 ] || fail "read returned something other than EINTR"
[ "$(field churn)" -gt "$churn_start" ] || fail "the malloc churners stopped"
pass "12 attach/detach cycles under $sent SIGUSR1, each counted once; $(field eintr) EINTR, none unasked; malloc churn went on"

# --- 4. a thread inside the dynamic loader ------------------------------------------------
if [ -n "$blocking_ctor" ]; then
  mkfifo "$work/ctor.fifo"
  ATTACH_BLOCK_FD=3 python3 -c '
import ctypes, sys, threading, time
t = threading.Thread(target=ctypes.CDLL, args=(sys.argv[1],))
print("LOADING", flush=True)  # before: the loading thread keeps the GIL while it waits
t.start()
t.join()
print("LOADED", flush=True)
while True:
    time.sleep(0.05)
' "$blocking_ctor" 3<>"$work/ctor.fifo" >"$work/ctor.out" 2>&1 &
  loader=$!; pids+=("$loader")
  wait_for grep -q LOADING "$work/ctor.out" || fail "the loader target did not start"
  sleep 0.3
  ! grep -q LOADED "$work/ctor.out" || fail "the constructor did not block: $(cat "$work/ctor.out")"
  started=$(date +%s)
  expect_rc 1 "$cli" attach -o "$work" --timeout 5 "$loader"
  expect_contains "$err" "never came to a safe point in 40 tries" "thread in the loader"
  expect_contains "$err" "in a call from the dynamic loader" "thread in the loader"
  [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] || fail "thread in the loader: more than one line: $err"
  refusal=$err
  [ $(( $(date +%s) - started )) -lt 30 ] || fail "the refusal took more than 30 s"
  grep -q "$stand_in" "/proc/$loader/maps" && fail "the library was loaded all the same"
  [ "$(awk '/^TracerPid:/ { print $2 }' "/proc/$loader/status")" = 0 ] || fail "still traced"
  echo x >"$work/ctor.fifo"
  wait_for grep -q LOADED "$work/ctor.out" || fail "the constructor never returned after the refusal"
  expect_rc 0 "$cli" attach -o "$work" "$loader"
  pass "a thread inside the loader: refused ($refusal); once it left, attached"
fi
echo "attach mechanics hold"
