#!/usr/bin/env bash
# The cases are shell, Perl and Python programs in single quotes, expanded by their own
# interpreters, not by this script.
# shellcheck disable=SC2016
# probe.real_programs: real, unmodified Debian programs run twice, without and with
# LD_PRELOAD=libleakprobe.so, must behave the same: same exit status (128+N for a fatal
# signal), same stdout where the program's output is deterministic, and a complete snapshot
# (trailer present, no temporary left) from every profiled process that exits normally.
#
# Usage: battery.sh PROBE_LIB SIGHOST_PROGRAM [CASE_FILTER_REGEX]
# With BATTERY_MODE=verify every case runs once more in that mode only:
# LEAKPROBE_VERIFY_UNWIND=1, and every snapshot must say that each stack the probe's unwinder
# took was the one libunwind gives (different=0 shorter=0 longer=0).
# With BATTERY_MODE=attached (and BATTERY_CLI=the leakprobe command) every case runs started
# without the probe and is given it by `leakprobe attach PID` while it runs (issue 18): same
# exit status and stdout as without, complete snapshots; a program that ends before the attach
# could be made is counted apart (most of them: they end within the ~0.1 s an attach takes),
# and at least two runs must really be attached.
# Bounded: every run has a timeout, the broker is stopped on any exit.
set -u -o pipefail

PROBE_LIB=${1:?usage: battery.sh PROBE_LIB SIGHOST_PROGRAM [FILTER]}
SIGHOST=${2:?usage: battery.sh PROBE_LIB SIGHOST_PROGRAM [FILTER]}
FILTER=${3:-.}
ONLY_MODE=${BATTERY_MODE:-}
PROBE_LIB=$(realpath "$PROBE_LIB") && SIGHOST=$(realpath "$SIGHOST") || exit 1
if [ ! -f "$PROBE_LIB" ] || [ ! -x "$SIGHOST" ]; then
  echo "battery.sh: missing $PROBE_LIB or $SIGHOST" >&2
  exit 1
fi
if [ "$ONLY_MODE" = attached ]; then
  if [ ! -x "${BATTERY_CLI:-}" ]; then
    echo "battery.sh: BATTERY_MODE=attached needs BATTERY_CLI (the leakprobe command)" >&2
    exit 1
  fi
  export LEAKPROBE_LIBRARY=$PROBE_LIB
  sleep 30 &
  if ! "$BATTERY_CLI" attach --check $! >/dev/null 2>&1; then
    kill $!
    echo "SKIP: ptrace is not available here"
    exit 77
  fi
  kill $!
fi
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
PY=/usr/bin/python3
TIMEOUT=20

WORK=$(mktemp -d /tmp/leakprobe-battery.XXXXXX) || exit 1
# shellcheck source=scripts/lib/broker.sh
source "$ROOT/scripts/lib/broker.sh"
cleanup() { broker_stop; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

failures=0
passes=0
fail() { echo "FAIL [$CASE]: $*" >&2; failures=$((failures + 1)); }

# Shared inputs, made once: a few MB to sort and archive.
"$PY" - "$WORK/input" <<'PYEOF'
import random, sys, os
random.seed(7)
os.makedirs(sys.argv[1] + "/tree/a/b", exist_ok=True)
with open(sys.argv[1] + "/lines.txt", "w") as f:
    for i in range(200000):
        f.write("%08x %d\n" % (random.getrandbits(32), i))
for i in range(40):
    with open("%s/tree/a/b/f%02d.txt" % (sys.argv[1], i), "w") as f:
        f.write(("file %d\n" % i) * 2000)
PYEOF
INPUT=$WORK/input

# run_one OUTFILE SNAPDIR [VAR=VALUE...] -- CMD...: runs CMD with the extra environment in a
# fresh directory; prints "PID STATUS". The command is started with `env` in the
# background so that $! is the pid of the program itself (env execs it).
run_one() {
  local out=$1 snaps=$2
  shift 2
  local -a vars=()
  while [ "$1" != "--" ]; do vars+=("$1"); shift; done
  shift
  local dir
  dir=$(mktemp -d "$WORK/run.XXXXXX")
  mkdir -p "$snaps"
  (cd "$dir" && exec timeout -s KILL "$TIMEOUT" env "${vars[@]}" "$@" >"$out" 2>"$out.err" </dev/null) &
  local sub=$!
  wait "$sub"
  local status=$?
  echo "$status"
}

# run_attached OUTFILE SNAPDIR -- CMD...: like run_one without the probe, but attaches it to
# the program as soon as the program runs (env has exec'd it), then waits for the end. Prints
# "STATUS ATTACHED" (ATTACHED 1 when `leakprobe attach` succeeded). Attach failures other than
# "the program was gone" are failures of the case.
ATTACHED=0 GONE=0
still_running() {  # a zombie answers kill -0 too
  local state
  state=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
run_attached() {
  local out=$1 snaps=$2
  shift 3
  local dir
  dir=$(mktemp -d "$WORK/run.XXXXXX")
  mkdir -p "$snaps"
  chmod 0777 "$snaps"
  (cd "$dir" && exec timeout -s KILL "$TIMEOUT" "$@" >"$out" 2>"$out.err" </dev/null) &
  local sub=$! pid="" i attached=0
  for i in $(seq 1 200); do
    pid=$(pgrep -P "$sub" | head -n 1)
    [ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" != "$(readlink -f "$(command -v timeout)")" ] && break
    pid=""
    sleep 0.005
  done
  if [ -n "$pid" ] && "$BATTERY_CLI" attach -o "$snaps" "$pid" >"$out.attach" 2>&1; then
    attached=1
  elif [ -n "$pid" ] && still_running "$pid" && ! grep -q 'no process with pid\|is exiting\|has no threads left\|exited during' "$out.attach"; then
    attached=error
  fi
  wait "$sub"
  echo "$? $attached"
}

# Normalises output that legitimately differs: ld.so --list shows load addresses that change
# with ASLR, and with LD_PRELOAD it also lists the preloaded library and its dependencies.
normalise() {
  case $1 in
    exact) cat ;;
    ldlist) sed -E 's/ \(0x[0-9a-f]+\)//' | sort ;;
    none) : ;;
  esac
}

# same_output NORM REF OUT: exact equality, or (ldlist) every reference line still present.
same_output() {
  if [ "$1" = ldlist ]; then
    [ -z "$(comm -23 <(normalise ldlist <"$2") <(normalise ldlist <"$3"))" ]
  else
    cmp -s <(normalise "$1" <"$2") <(normalise "$1" <"$3")
  fi
}

# check_snaps SNAPDIR EXPECT: every published snapshot is complete, no temporary is left
# behind, and with EXPECT=exit at least one has trigger exit (the profiled program itself
# or one of its children exiting normally).
check_snaps() {
  local snaps=$1 expect=$2 f n=0 exits=0
  for f in "$snaps"/.leakprobe.*.tmp; do
    [ -e "$f" ] && fail "temporary snapshot left behind: $(basename "$f")"
  done
  for f in "$snaps"/leakprobe.*.heap; do
    [ -e "$f" ] || continue
    n=$((n + 1))
    if [ "$(tail -n 1 "$f")" != "# leakprobe.end" ]; then
      fail "snapshot without trailer: $(basename "$f")"
    fi
    if ! head -n 1 "$f" | grep -q '^heap profile: '; then
      fail "snapshot without header: $(basename "$f")"
    fi
    grep -q '^# leakprobe.trigger: exit$' "$f" && exits=$((exits + 1))
  done
  case $expect in
    exit) [ "$exits" -ge 1 ] || fail "no complete exit snapshot (files: $n)" ;;
    none) [ "$n" -eq 0 ] || fail "expected no snapshot, found $n" ;;
    any) : ;;
  esac
}

# check_verify SNAPDIR: in verification mode, every snapshot compared its stacks with
# libunwind's and found none that differs.
check_verify() {
  local f line
  for f in "$1"/leakprobe.*.heap; do
    [ -e "$f" ] || continue
    line=$(grep '^# leakprobe.unwind-verify: ' "$f") || { fail "no unwind-verify line: $(basename "$f")"; continue; }
    if ! [[ $line =~ shorter=0\ longer=0\ different=0$ ]]; then
      fail "unwinder differs from libunwind: ${line#*: } ($(basename "$f"))"
    fi
    VERIFIED=$((VERIFIED + $(sed -E 's/.*stacks=([0-9]+).*/\1/' <<<"$line")))
  done
}
VERIFIED=0

# run_case NAME EXPECT NORM MODES CMD...: EXPECT is exit|none|any (see check_snaps), NORM
# how stdout is compared (exact|ldlist|none), MODES a list of exact (every allocation),
# sampled (LEAKPROBE_SAMPLE_BYTES=64 KiB), interval (exact, and a snapshot every second).
run_case() {
  CASE=$1
  local expect=$2 norm=$3 modes=$4
  shift 4
  [[ $CASE =~ $FILTER ]] || return 0
  [ -n "$ONLY_MODE" ] && modes=$ONLY_MODE
  local base="$WORK/$CASE"
  mkdir -p "$base"
  local ref_status
  ref_status=$(run_one "$base/ref.out" "$base/ref.snaps" LEAKPROBE_UNUSED=1 -- "$@")
  local mode
  for mode in $modes; do
    if [ "$mode" = attached ]; then
      local result status attached before=$failures
      result=$(run_attached "$base/attached.out" "$base/attached.snaps" -- "$@")
      status=${result% *} attached=${result#* }
      case $attached in
        1) ATTACHED=$((ATTACHED + 1)) ;;
        0) GONE=$((GONE + 1)); echo "note [$CASE] not attached: $(head -c 300 "$base/attached.out.attach" 2>/dev/null)" >&2 ;;
        *) fail "attached: leakprobe attach failed: $(cat "$base/attached.out.attach")" ;;
      esac
      [ "$status" = "$ref_status" ] || fail "attached: exit status $status, without the probe $ref_status"
      if ! same_output "$norm" "$base/ref.out" "$base/attached.out"; then
        fail "attached: stdout differs from the run without the probe:"
        diff <(normalise "$norm" <"$base/ref.out") <(normalise "$norm" <"$base/attached.out") | head -n 10 >&2
      fi
      check_snaps "$base/attached.snaps" any
      if [ "$failures" -eq "$before" ]; then
        passes=$((passes + 1))
        echo "ok   [$CASE] attached=$attached (status $status)"
      fi
      continue
    fi
    local -a pvars=(LD_PRELOAD="$PROBE_LIB" LEAKPROBE_OUTPUT_DIR="$base/$mode.snaps"
                    LEAKPROBE_QUIET=1)
    [ "$mode" = sampled ] && pvars+=(LEAKPROBE_SAMPLE_BYTES=65536)
    [ "$mode" = interval ] && pvars+=(LEAKPROBE_INTERVAL=1)
    [ "$mode" = verify ] && pvars+=(LEAKPROBE_VERIFY_UNWIND=1)
    local status
    status=$(run_one "$base/$mode.out" "$base/$mode.snaps" "${pvars[@]}" -- "$@")
    local before=$failures
    [ "$status" = "$ref_status" ] || fail "$mode: exit status $status, without the probe $ref_status"
    if ! same_output "$norm" "$base/ref.out" "$base/$mode.out"; then
      fail "$mode: stdout differs from the run without the probe:"
      diff <(normalise "$norm" <"$base/ref.out") <(normalise "$norm" <"$base/$mode.out") | head -n 10 >&2
    fi
    if grep -q 'cannot be preloaded' "$base/$mode.out.err"; then
      fail "$mode: the probe was not loaded"
    fi
    if grep -q '^leakprobe: ' "$base/$mode.out.err"; then
      echo "note [$CASE] $mode: the probe said:" >&2
      grep '^leakprobe: ' "$base/$mode.out.err" | sort | uniq -c | head -n 5 >&2
    fi
    check_snaps "$base/$mode.snaps" "$expect"
    [ "$mode" = verify ] && check_verify "$base/$mode.snaps"
    if [ "$mode" = interval ] &&
        ! grep -q '^# leakprobe.trigger: interval$' "$base/$mode.snaps"/leakprobe.*.heap; then
      fail "interval: no interval snapshot"
    fi
    if [ "$failures" -eq "$before" ]; then
      passes=$((passes + 1))
      echo "ok   [$CASE] $mode (status $status)"
    else
      echo "stderr of the profiled run:" >&2
      head -n 20 "$base/$mode.out.err" >&2
    fi
  done
}

GITENV=(GIT_AUTHOR_NAME=probe GIT_AUTHOR_EMAIL=p@example.invalid GIT_COMMITTER_NAME=probe
        GIT_COMMITTER_EMAIL=p@example.invalid GIT_AUTHOR_DATE=2026-01-01T00:00:00Z
        GIT_COMMITTER_DATE=2026-01-01T00:00:00Z GIT_CONFIG_NOSYSTEM=1 HOME="$WORK")

# --- the battery -------------------------------------------------------------------------

run_case python_threads_fork exit exact "exact sampled" "$PY" -c '
import subprocess, threading, sys
d = {}
def work(k):
    for i in range(20000):
        d[(k, i)] = [i] * (i % 7)
ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
out = subprocess.run(["/bin/echo", "child"], capture_output=True, text=True).stdout
print(len(d), out.strip(), subprocess.call([sys.executable, "-c", "raise SystemExit(3)"]))'

run_case bash_pipelines exit exact "exact sampled" bash -c '
x=$(seq 1 2000 | sort -rn | head -n 3 | tr "\n" " ")
y=$( (echo sub; (echo subsub) ) | wc -l)
for i in 1 2 3; do echo "$i $(echo $i | md5sum | cut -c1-8)"; done | sort -k2
echo "$x|$y"; exit 7'

run_case git exit exact "exact sampled" env "${GITENV[@]}" bash -c '
git init -q -b main repo && cd repo && printf "a\nb\n" >f && git add f &&
git commit -q -m first && echo c >>f && git commit -q -am second &&
git log --format="%H %s" && git status --porcelain && git gc -q && git fsck --no-progress && echo done'

run_case sort_mb exit exact "exact sampled" sort -k2,2n -k1,1 "$INPUT/lines.txt"

run_case find exit exact exact find "$INPUT/tree" -name "f1*" -size +1k -printf "%P %s\n"

run_case tar_gzip exit exact "exact sampled" bash -c "
tar -C '$INPUT' -czf t.tgz tree && mkdir x && tar -C x -xzf t.tgz &&
diff -r '$INPUT/tree' x/tree && gzip -dc t.tgz | tar -tf - | sort | md5sum"

run_case cmake exit exact exact bash -c '
cmake --version | head -n 1; cmake -E make_directory a/b && cmake -E touch a/b/c &&
cmake -E sha256sum a/b/c && cmake -E echo hi && cmake -E env FOO=1 cmake -E environment | grep ^FOO='

if perl -Mthreads -e 1 2>/dev/null; then
  run_case perl_threads exit exact exact perl -Mthreads -e '
    my @t = map { my $k = $_; threads->create(sub { my %h; $h{$_} = "x" x ($_ % 50) for 1..20000; scalar keys %h }) } 1..4;
    my $s = 0; $s += $_->join for @t; print "$s\n";'
fi

run_case python_fork_mp exit exact "exact sampled" "$PY" -c '
import os, multiprocessing as mp
def sq(x): return [x * x] * 100
if __name__ == "__main__":
    pid = os.fork()
    if pid == 0:
        _ = [bytes(100) for i in range(10000)]
        raise SystemExit(4)
    _, st = os.waitpid(pid, 0)
    with mp.get_context("fork").Pool(2) as p:
        r = p.map(sq, range(200))
    print(os.waitstatus_to_exitcode(st), sum(v[0] for v in r))'

run_case make_xargs exit exact exact bash -c '
printf "all: a b c\na b c:\n\t@echo \$@ > \$@.out\n" > Makefile && make -s -j2 && cat a.out b.out c.out &&
seq 1 40 | xargs -P 4 -n 5 sh -c "echo \$# args" | sort | uniq -c &&
trap "n=\$((n+1))" CHLD; n=0; for i in 1 2 3 4; do (exit $i) & done; wait; echo waited'

# A host that closes stderr and reuses descriptor 2 for its own file: nothing of the
# probe's may end up in it (the probe has something to say here: the host takes its signal).
run_case stderr_reused exit exact exact "$PY" -c '
import os, signal
os.close(2)
fd = os.open("data.txt", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
assert fd == 2
signal.signal(signal.SIGRTMIN + 7, lambda s, f: None)
os.write(fd, b"host data\n"); os.close(fd)
print(open("data.txt").read(), end="")'

# Interval snapshots while threads allocate and the process forks and execs for ~2.5 s:
# snapshots, fork handlers and the exit snapshot must not get in each other's way.
run_case python_busy_interval exit exact interval "$PY" -c '
import subprocess, threading, time, os
stop = time.time() + 2.5
def churn():
    keep = []
    while time.time() < stop:
        keep.append(bytearray(64)); keep = keep[-5000:]
ts = [threading.Thread(target=churn) for _ in range(2)]
[t.start() for t in ts]
n = 0
while time.time() < stop:
    pid = os.fork()
    if pid == 0:
        _ = [bytes(32) for i in range(2000)]
        if n % 2:
            os._exit(0)
        subprocess.run(["/bin/true"])
        raise SystemExit(0)
    os.waitpid(pid, 0); n += 1
[t.join() for t in ts]
print("forks ok", n > 3)'

# A host that runs into EMFILE and exits with every descriptor still open: its exit
# snapshot must still be written (the count of descriptors it got differs by the probe's
# few, so only the outcome is printed).
run_case python_emfile exit exact exact "$PY" -c '
import os
fds = []
try:
    while True: fds.append(os.open("/dev/null", os.O_RDONLY))
except OSError as e:
    print("stopped by errno", e.errno, len(fds) > 100)'

# Go's runtime allocates with mmap and exits with exit_group: no exit snapshot to expect,
# but the host must be untouched.
run_case go_version any exact exact go version

run_case ldso_list any ldlist exact /lib64/ld-linux-x86-64.so.2 --list /bin/true

run_case underscore_exit none exact exact "$PY" -c 'import os, sys; print("bye"); sys.stdout.flush(); os._exit(5)'

run_case killed_by_signal none exact exact "$PY" -c '
import os, signal, sys
print("before"); sys.stdout.flush(); os.kill(os.getpid(), signal.SIGTERM)'

run_case bash_killed none exact exact bash -c 'echo x; kill -SEGV $$'

# The host takes the probe's own signal (SIGRTMIN+7): its handler must get every delivery,
# on its own threads, and it must see the disposition it would see without the probe.
run_case python_sigrtmin7 exit exact exact "$PY" -c '
import os, signal, threading, time
sig = signal.SIGRTMIN + 7
print("before:", signal.getsignal(sig))
n = 0
def h(s, f):
    global n; n += 1
signal.signal(sig, h)
for i in range(20):
    os.kill(os.getpid(), sig); time.sleep(0.001)
deadline = time.time() + 5
while n < 20 and time.time() < deadline: time.sleep(0.01)
print("handled", n)'

run_case python_sigwait exit exact exact "$PY" -c '
import os, signal
sig = signal.SIGRTMIN + 7
signal.pthread_sigmask(signal.SIG_BLOCK, [sig])
n = 0
for i in range(10):
    os.kill(os.getpid(), sig)
    if signal.sigtimedwait([sig], 2) is not None: n += 1
print("waited", n)'

run_case sighost_sigwait exit exact exact "$SIGHOST" sigwait
run_case sighost_sigaction exit exact exact "$SIGHOST" sigaction
run_case sighost_signal exit exact exact "$SIGHOST" signal

# MQTT clients against a private broker that is itself profiled (attached mode: the broker
# has its own attach tests, tests/cli/attach_mosquitto.sh).
if [ "$ONLY_MODE" != attached ] && command -v mosquitto_pub >/dev/null && [ -x "${MOSQUITTO:-/usr/sbin/mosquitto}" ] &&
    [[ mosquitto =~ $FILTER || mqtt =~ $FILTER ]]; then
  CASE=mosquitto_broker
  # As Debian ships it, the broker drops to its own user when started as root: the snapshot
  # directory is that user's, reachable through $WORK.
  chmod 0755 "$WORK"
  broker_snapshot_dir "$WORK/broker/snaps" || fail "cannot prepare the broker's snapshot directory"
  broker_verify=()
  [ "$ONLY_MODE" = verify ] && broker_verify=(--env LEAKPROBE_VERIFY_UNWIND=1)
  if broker_start "$WORK/broker" --env LD_PRELOAD="$PROBE_LIB" --env LEAKPROBE_QUIET=1 \
      --env LEAKPROBE_OUTPUT_DIR="$WORK/broker/snaps" "${broker_verify[@]}"; then
    P=$BROKER_PORT
    run_case mqtt_pub exit exact exact mosquitto_pub -h 127.0.0.1 -p "$P" -t probe/x -r -m hello-retained
    run_case mqtt_sub exit exact exact mosquitto_sub -h 127.0.0.1 -p "$P" -t probe/x -C 1 -W 5
    run_case mqtt_pub_lines exit exact exact bash -c "seq 1 200 | mosquitto_pub -h 127.0.0.1 -p $P -t probe/l -l -q 1"
    # A burst of snapshot signals while clients talk to the broker: every exchange must still
    # complete (the broker's epoll_wait sees EINTR and must carry on).
    CASE=mqtt_under_signals
    if [[ $CASE =~ $FILTER ]]; then
      for _ in $(seq 1 10); do kill -s RTMIN+7 "$BROKER_PID" 2>/dev/null; sleep 0.05; done &
      sigs=$!
      run_case mqtt_under_signals exit exact exact bash -c "
        for i in 1 2 3 4 5; do mosquitto_pub -h 127.0.0.1 -p $P -t probe/s -r -m m\$i -q 1 &&
          mosquitto_sub -h 127.0.0.1 -p $P -t probe/s -C 1 -W 5 || exit 9; done"
      wait "$sigs"
      kill -0 "$BROKER_PID" 2>/dev/null || fail "the broker died under snapshot signals"
      n=$(grep -l '^# leakprobe.trigger: signal$' "$WORK/broker/snaps"/leakprobe.*.heap 2>/dev/null | wc -l)
      [ "$n" -ge 1 ] || fail "no signal snapshot from the broker"
    fi
    CASE=mosquitto_broker
    broker_stop
    before=$failures
    check_snaps "$WORK/broker/snaps" exit
    [ "$ONLY_MODE" = verify ] && check_verify "$WORK/broker/snaps"
    [ "$failures" -eq "$before" ] &&
      echo "ok   [mosquitto_broker] profiled broker stopped by SIGTERM left a complete exit snapshot"
  else
    fail "the private broker did not start"
  fi
fi

[ "$ONLY_MODE" = verify ] && echo "battery: $VERIFIED stacks compared with libunwind"
if [ "$ONLY_MODE" = attached ]; then
  echo "battery: $ATTACHED runs attached while running, $GONE ended before the attach"
  # Most of these programs are done in less time than an attach takes; the ones that run for
  # a second or more (python_busy_interval, python_emfile, ...) must have been attached.
  [ "$ATTACHED" -ge 2 ] ||
    fail "only $ATTACHED of $((ATTACHED + GONE)) runs were attached: the battery proves little"
fi
echo "battery: $passes runs passed, $failures failures"
[ "$failures" -eq 0 ]
