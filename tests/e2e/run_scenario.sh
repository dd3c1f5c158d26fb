#!/usr/bin/env bash
# One end-to-end detection run: a private mosquitto, one reproducer (or its --fixed twin)
# under libleakprobe, a snapshot after warm-up, one half-way and one after N more cycles,
# heapdiff on the first and last (diff) and on all three (trend), then check_report.py
# asserts on the result.
#
#   run_scenario.sh --work DIR --probe LIB --heapdiff EXE [--cli EXE] --repro EXE
#                   --mode leak|twin [--target repro|broker] [--warmup W] [--iterations N]
#                   [--fd-kind socket|timerfd] [--floor BYTES] [--control] [--attach]
#                   [-- CHECK_REPORT_ARGS...]
#
# --attach starts the target (reproducer or broker) without the probe and loads it with
#   `leakprobe attach` after warm-up (needs --cli and ptrace rights): every assertion then holds
#   for growth after the attach; the snapshots must carry the attached header line, and
#   `leakprobe detach` must succeed at the end.
# --target broker snapshots the broker (session pile-up) instead of the reproducer.
# --control additionally proves the checker can fail: it re-runs it with a wrong expected
#   site, and a twin-mode check on the leaky report, and requires both to be rejected.
# Everything (snapshots, reports, logs) stays in DIR for a post-mortem.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=../../scripts/lib/broker.sh disable=SC1091
source "$repo/scripts/lib/broker.sh"
# shellcheck source=scenario_lib.sh disable=SC1091
source "$repo/tests/e2e/scenario_lib.sh"

work="" probe="" heapdiff="" cli="" repro="" mode="" target=repro
warmup=20 iterations=200 fd_kind="" floor=8192 control=0 attach=0
check_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --work) work=$2; shift 2 ;;
    --probe) probe=$2; shift 2 ;;
    --heapdiff) heapdiff=$2; shift 2 ;;
    --cli) cli=$2; shift 2 ;;
    --repro) repro=$2; shift 2 ;;
    --mode) mode=$2; shift 2 ;;
    --target) target=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --iterations) iterations=$2; shift 2 ;;
    --fd-kind) fd_kind=$2; shift 2 ;;
    --floor) floor=$2; shift 2 ;;
    --control) control=1; shift ;;
    --attach) attach=1; shift ;;
    --) shift; check_args=("$@"); break ;;
    *) echo "run_scenario: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
for required in work probe heapdiff repro mode; do
  if [ -z "${!required}" ]; then echo "run_scenario: --$required is required" >&2; exit 2; fi
done
case $mode in leak|twin) ;; *) echo "run_scenario: --mode leak|twin" >&2; exit 2 ;; esac
case $target in repro|broker) ;; *) echo "run_scenario: --target repro|broker" >&2; exit 2 ;; esac
if [ "$attach" = 1 ]; then
  if [ -z "$cli" ]; then echo "run_scenario: --attach needs --cli" >&2; exit 2; fi
  export LEAKPROBE_LIBRARY=$probe  # attach loads the very probe the other scenarios preload
  if ! nm -D --defined-only "$probe" 2>/dev/null | grep -q ' leakprobe_attach$'; then
    echo "SKIP: $probe exports no leakprobe_attach (the probe's attach mode is not built)"
    exit 77
  fi
  sleep 30 &
  if ! "$cli" attach --check $! >/dev/null 2>&1; then
    kill $!
    echo "SKIP: ptrace is not available here"
    exit 77
  fi
  kill $!
fi

scenario_begin run_scenario "$work"
mkdir -p "$work/snapshots"
snapshots=$work/snapshots

probe_env=(LD_PRELOAD="$probe" LEAKPROBE_OUTPUT_DIR="$snapshots" LEAKPROBE_AT_EXIT=0)
broker_args=(--conf "max_queued_messages 0" --conf "max_queued_bytes 0")
if [ "$target" = broker ]; then
  if [ "$attach" = 0 ]; then
    for v in "${probe_env[@]}"; do broker_args+=(--env "$v"); done
  fi
  # The broker runs as Debian ships it: started as root it drops to its own user, so the
  # snapshots go to a directory of that user's, as an operator preloading by hand makes it.
  broker_snapshot_dir "$snapshots" || die "cannot prepare the broker's snapshot directory"
fi
broker_start "$work/broker" "${broker_args[@]}" || die "mosquitto did not start"
echo "broker pid $BROKER_PID on 127.0.0.1:$BROKER_PORT"

# Snapshot of PID into FILE: through the CLI when we have it, else the signal + wait for the
# next file, which is what the CLI does over the control socket.
take_snapshot() {
  local pid=$1 out=$2
  if [ -n "$cli" ]; then
    "$cli" snapshot "$pid" -o "$out" --timeout 10 >/dev/null || die "leakprobe snapshot $pid failed"
    return
  fi
  local -a before after
  before=("$snapshots"/leakprobe."$pid".*.heap)
  kill -s RTMIN+7 "$pid"
  for _ in $(seq 1 200); do
    after=("$snapshots"/leakprobe."$pid".*.heap)
    # Unmatched globs stay literal, so compare the last name rather than counting.
    if [ -e "${after[-1]}" ] && [ "${after[-1]}" != "${before[-1]}" ]; then
      cp "${after[-1]}" "$out"  # names carry a 4-digit sequence: the last is the newest
      return
    fi
    sleep 0.1
  done
  die "no snapshot from pid $pid within 20 s"
}

# Sockets and timerfds open in PID, as "<sockets> <timerfds>".
count_fds() {
  local pid=$1
  echo "$(find "/proc/$pid/fd" -lname 'socket:*' 2>/dev/null | wc -l)" \
       "$(find "/proc/$pid/fd" -lname 'anon_inode:\[timerfd\]' 2>/dev/null | wc -l)"
}

fixed=()
if [ "$mode" = twin ]; then fixed=(--fixed); fi
if [ "$target" = broker ] || [ "$attach" = 1 ]; then repro_env=(); else repro_env=("${probe_env[@]}"); fi
coproc REPRO {
  exec env "${repro_env[@]}" "$repro" --port "$BROKER_PORT" --warmup "$warmup" \
    --iterations "$iterations" --sync --checkpoints 2 "${fixed[@]}" 2>"$work/repro.stderr"
}
# shellcheck disable=SC2153  # REPRO_PID is set by coproc
repro_pid=$REPRO_PID
repro_out=${REPRO[0]}
repro_in=${REPRO[1]}

# Reads reproducer lines until one starts with WORD; prints that line. Bounded by 20 s a line.
expect_line() {
  local word=$1 line
  while IFS= read -r -t 20 -u "$repro_out" line; do
    echo "$line" >>"$work/repro.stdout"
    case $line in "$word"*) echo "$line"; return 0 ;; esac
  done
  die "reproducer never printed $word"
}

site_bytes="" subscribers=""
while IFS= read -r -t 20 -u "$repro_out" line; do
  echo "$line" >>"$work/repro.stdout"
  case $line in
    SITE-BYTES*) site_bytes=${line#SITE-BYTES } ;;
    SUBSCRIBERS*) subscribers=${line#SUBSCRIBERS } ;;
    WARM*) break ;;
  esac
done
grep -q '^WARM' "$work/repro.stdout" || die "reproducer never got through warm-up"
if [ "$target" = broker ]; then snap_pid=$BROKER_PID; else snap_pid=$repro_pid; fi

if [ "$attach" = 1 ]; then
  # Started without the probe: load it now, into the same pid, and record from here on. As
  # root the broker has dropped to its user; attach gives it the snapshot directory.
  [ "$target" = broker ] || mkdir -p "$snapshots"
  "$cli" attach -o "$snapshots" "$snap_pid" >"$work/attach.out" 2>&1 ||
    die "leakprobe attach $snap_pid failed: $(cat "$work/attach.out")"
  cat "$work/attach.out"
fi
read -r sockets_a timers_a < <(count_fds "$repro_pid")
read -r broker_sockets_a _ < <(count_fds "$BROKER_PID")
take_snapshot "$snap_pid" "$work/A.heap"
echo go >&"$repro_in"
# Half-way stop: a third snapshot, for heapdiff's trend mode.
expect_line MARK >/dev/null
take_snapshot "$snap_pid" "$work/M.heap"
echo go >&"$repro_in"
expect_line DONE >/dev/null
read -r sockets_b timers_b < <(count_fds "$repro_pid")
read -r broker_sockets_b _ < <(count_fds "$BROKER_PID")
take_snapshot "$snap_pid" "$work/B.heap"
if [ "$attach" = 1 ]; then
  for f in A B; do
    grep -q '^# leakprobe.attached: since=' "$work/$f.heap" ||
      die "$f.heap has no attached header line"
  done
  "$cli" detach "$snap_pid" >"$work/detach.out" 2>&1 ||
    die "leakprobe detach $snap_pid failed: $(cat "$work/detach.out")"
  cat "$work/detach.out"
fi
echo go >&"$repro_in"
for _ in $(seq 1 100); do kill -0 "$repro_pid" 2>/dev/null || break; sleep 0.1; done
repro_rc=0
wait "$repro_pid" || repro_rc=$?
repro_pid=""
[ "$repro_rc" -eq 0 ] || die "reproducer exited with $repro_rc"

{
  echo "reproducer fds: sockets $sockets_a -> $sockets_b, timerfds $timers_a -> $timers_b"
  echo "broker fds: sockets $broker_sockets_a -> $broker_sockets_b"
} | tee "$work/fds.txt"

"$heapdiff" --json "$work/A.heap" "$work/B.heap" >"$work/report.json" \
  || die "heapdiff --json failed"
"$heapdiff" --top 5 "$work/A.heap" "$work/B.heap" >"$work/report.txt" || die "heapdiff failed"
cat "$work/report.txt"
"$heapdiff" --json "$work/A.heap" "$work/M.heap" "$work/B.heap" >"$work/trend.json" \
  || die "heapdiff --json (trend over 3 snapshots) failed"
gate_rc=0
"$heapdiff" --fail-on-growth "$floor" "$work/A.heap" "$work/B.heap" >/dev/null || gate_rc=$?

check=(python3 "$here/check_report.py" --report "$work/report.json" --iterations "$iterations"
       --floor "$floor" --gate-exit "$gate_rc" --trend-report "$work/trend.json")
if [ -n "$site_bytes" ]; then check+=(--site-bytes "$site_bytes"); fi
# The broker queues one entry per absent subscriber for every message.
if [ -n "$subscribers" ]; then check+=(--objects-per-cycle "$subscribers"); fi
if [ -n "$fd_kind" ]; then
  if [ "$fd_kind" = socket ]; then check+=(--fd-kind socket --fd-before "$sockets_a" --fd-after "$sockets_b")
  else check+=(--fd-kind timerfd --fd-before "$timers_a" --fd-after "$timers_b"); fi
fi

"${check[@]}" --mode "$mode" "${check_args[@]}"

if [ "$control" -eq 1 ]; then
  # The checker must be able to say no, or this suite proves nothing.
  if "${check[@]}" --mode "$mode" "${check_args[@]}" --expect-function wrong_site_for_control \
      >"$work/control-wrong-site.txt" 2>&1; then
    die "control: the checker accepted a report whose top site is not the expected one"
  fi
  if "${check[@]}" --mode twin >"$work/control-as-twin.txt" 2>&1; then
    die "control: the checker accepted a leaky report as leak-free"
  fi
  echo "control: the checker rejects a wrong site and a leaky report posing as a twin"
fi
