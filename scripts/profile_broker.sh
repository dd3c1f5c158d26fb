#!/usr/bin/env bash
# Where a profiled broker's CPU goes: Debian's mosquitto under one configuration (plain or the
# probe in a mode), driven by each bench workload, sampled by `perf record -e cpu-clock` (a
# software clock: this VM has no hardware counters). Prints, per workload, the broker's CPU
# by DSO and its hottest symbols, for docs/performance.md's "where the time goes".
#
# Usage: scripts/profile_broker.sh [--config none|lp-exact|lp-sampled|lp-dormant|
#                                   lp-attached-exact|lp-attached-sampled|lp-detached]
#                                  [--workloads twopub,fanout,churn,retained] [--keep DIR]
#                                  [--scale N]
#   --scale N: 1/N of the full run's message counts (scripts/bench.sh --quick/--smoke).
# Besides the report, one line per workload "probe_share <workload> <config> <percent>" for
# scripts/bench.sh.
# The lp-attached-* configurations start the broker plain and `leakprobe attach` it before perf
# and the load start (lp-detached: attach, then `leakprobe detach`), with bench_runner's settings;
# a failed attach or detach stops the script (exit 1): a plain broker is never profiled in their
# name.
# Environment: LEAKPROBE_BENCH_BUILD_DIR (default: build-bench), as scripts/bench.sh.
# Needs perf (Debian: linux-perf) and the bench programs built (scripts/bench.sh builds them).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${LEAKPROBE_BENCH_BUILD_DIR:-$here/build-bench}
config=lp-exact
workloads=twopub,fanout,churn,retained
keep=
scale=1
while [ $# -gt 0 ]; do
  case $1 in
    --config) config=$2; shift 2 ;;
    --workloads) workloads=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    *) echo "profile_broker.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
case $scale in ''|*[!0-9]*|0) echo "profile_broker.sh: --scale must be a positive integer" >&2; exit 2 ;; esac
case $config in none|lp-exact|lp-sampled|lp-dormant|lp-attached-exact|lp-attached-sampled|lp-detached) ;;
  *) echo "profile_broker.sh: unknown configuration $config" >&2; exit 2 ;; esac
command -v perf >/dev/null || { echo "profile_broker.sh: perf not found (apt-get install linux-perf)" >&2; exit 1; }
load=$build/bench/broker/bench_broker_load
lib=$build/libleakprobe/libleakprobe.so
[ -x "$load" ] || { echo "profile_broker.sh: $load not built (run scripts/bench.sh first)" >&2; exit 1; }
[ "$config" = none ] || [ -f "$lib" ] || { echo "profile_broker.sh: $lib not built" >&2; exit 1; }
cli=$build/tools/leakprobe/leakprobe
case $config in lp-attached-*|lp-detached)
  [ -x "$cli" ] || { echo "profile_broker.sh: $cli not built" >&2; exit 1; } ;;
esac

work=${keep:-$(mktemp -d)}
mkdir -p "$work"
broker=
perf_pid=
cleanup() {
  [ -n "$perf_pid" ] && kill "$perf_pid" 2>/dev/null
  [ -n "$broker" ] && kill "$broker" 2>/dev/null
  [ -z "$keep" ] && rm -rf "$work"
  return 0
}
trap cleanup EXIT

# The same sizes as the full benchmark run, so the profile is of the measured work.
declare -A counts=(
  [twopub]="--qos0-messages 40000 --qos1-messages 15000"
  [fanout]="--messages 30000"
  [churn]="--cycles 1200"
  [retained]="--rounds 200"
)

port_open() { ss -ltnH "sport = :$1" | grep -q .; }

echo "## Broker profile: $config ($(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg))"
for w in ${workloads//,/ }; do
  [ -n "${counts[$w]:-}" ] || { echo "profile_broker.sh: unknown workload $w" >&2; exit 2; }
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  {
    echo "listener $port 127.0.0.1"
    echo "allow_anonymous true"
    echo "persistence false"
    echo "max_queued_messages 0"
    echo "max_inflight_messages 1000"
    echo "set_tcp_nodelay true"
    [ "$(id -u)" = 0 ] && echo "user root"
  } >"$work/$w.conf"
  env=(env -u LD_PRELOAD -u LEAKPROBE_BENCH_BUILD_DIR)
  case $config in
    lp-exact) env+=(LD_PRELOAD="$lib" LEAKPROBE_OUTPUT_DIR="$work" LEAKPROBE_QUIET=1) ;;
    lp-sampled) env+=(LD_PRELOAD="$lib" LEAKPROBE_OUTPUT_DIR="$work" LEAKPROBE_QUIET=1
                      LEAKPROBE_SAMPLE_BYTES=524288) ;;
    lp-dormant) env+=(LD_PRELOAD="$lib" LEAKPROBE_OUTPUT_DIR="$work" LEAKPROBE_QUIET=1
                      LEAKPROBE_ENABLED=0) ;;
  esac
  # Its own process group (setsid execs, so $! is the broker): the load generator reads the
  # group's CPU.
  setsid "${env[@]}" /usr/sbin/mosquitto -c "$work/$w.conf" 2>"$work/$w.broker.log" &
  broker=$!
  for _ in $(seq 1 100); do port_open "$port" && break; sleep 0.05; done
  port_open "$port" || { echo "mosquitto did not start: $(cat "$work/$w.broker.log")" >&2; exit 1; }
  # Attached: the plain broker gets the probe now, as bench_runner does (the library named
  # explicitly, never another installed copy).
  case $config in
    lp-attached-*|lp-detached)
      attach=(attach --output "$work")
      [ "$config" = lp-attached-sampled ] && attach+=(--sample-bytes 524288)
      env -u LD_PRELOAD LEAKPROBE_LIBRARY="$lib" "$cli" "${attach[@]}" "$broker" >/dev/null ||
        { echo "profile_broker.sh: leakprobe attach $broker failed: not profiling a plain broker as $config" >&2; exit 1; }
      if [ "$config" = lp-detached ]; then
        env -u LD_PRELOAD LEAKPROBE_LIBRARY="$lib" "$cli" detach "$broker" >/dev/null ||
          { echo "profile_broker.sh: leakprobe detach $broker failed" >&2; exit 1; }
      fi
      grep -q '/libleakprobe\.so' "/proc/$broker/maps" ||
        { echo "profile_broker.sh: the probe is not mapped in the broker after attach" >&2; exit 1; } ;;
  esac
  perf record -q -e cpu-clock -F 2000 -g -p "$broker" -o "$work/$w.perf.data" 2>"$work/$w.perf.log" &
  perf_pid=$!
  sleep 0.3
  args=()
  for a in ${counts[$w]}; do
    case $a in --*) args+=("$a") ;; *) args+=("$(( a / scale > 20 ? a / scale : 20 ))") ;; esac
  done
  "$load" --workload "$w" --port "$port" --broker-pgid "$broker" "${args[@]}" >"$work/$w.load.txt"
  kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; perf_pid=
  kill "$broker"; wait "$broker" 2>/dev/null || true; broker=
  cpu=$(grep -Eo 'broker_cpu_us_per_msg=[0-9.]+' "$work/$w.load.txt" | cut -d= -f2 | paste -sd/ || true)
  echo
  echo "### $w (broker CPU per delivery: $cpu µs)"
  echo
  echo "By DSO (self time, share of the broker's samples):"
  echo '```'
  perf report -i "$work/$w.perf.data" --stdio --no-children --sort dso 2>/dev/null |
    grep -E '^ +[0-9.]+%' | head -8 || true  # head closing the pipe early is not a failure
  echo '```'
  echo "Hottest symbols (self):"
  echo '```'
  perf report -i "$work/$w.perf.data" --stdio --no-children --sort dso,sym 2>/dev/null |
    grep -E '^ +[0-9.]+%' | head -14 || true
  echo '```'
  # mosquitto is built without frame pointers, so perf's call graphs cannot attribute
  # inclusive time; the probe's share is the self time of libleakprobe.so (its unwinder is
  # its own code: no other library runs on the probe's behalf).
  perf report -i "$work/$w.perf.data" --stdio --no-children --sort dso 2>/dev/null |
    awk '/^ +[0-9.]+%/ { pct = $1; sub("%", "", pct); dso = $2;
           if (dso ~ /libleakprobe/) probe += pct;
           if (dso ~ /kernel/) kernel += pct; }
         END { printf "probe (libleakprobe): %.1f%%; kernel: %.1f%%\n", probe, kernel }'
  perf report -i "$work/$w.perf.data" --stdio --no-children --sort dso 2>/dev/null |
    awk -v w="$w" -v c="$config" '/^ +[0-9.]+%/ { pct = $1; sub("%", "", pct);
           if ($2 ~ /libleakprobe/) probe += pct }
         END { printf "probe_share %s %s %.2f\n", w, c, probe }'
done
