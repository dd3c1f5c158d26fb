#!/usr/bin/env bash
# The overhead benchmark, fully automatic: builds the probe and the benchmark
# programs (RelWithDebInfo), profiles the probe's configurations with perf (its share of the
# samples of both alloc loops and of the broker under each workload: printed beside every
# ratio), runs both workloads under every profiler side by side
# (interleaved repetitions), measures snapshot size vs run length and a 1M-allocation snapshot,
# then replaces the generated section of docs/performance.md with the fresh tables and prints
# them. Benchmarks never fail on timing: the exit code only says whether the run itself worked.
#
# Usage: scripts/bench.sh [--quick] [more bench_runner options, e.g. --reps 7]
#   --quick: fewer messages/pairs and 3 repetitions, about 4 minutes. The full run takes
#            about 15 minutes on 2 cores (4 broker workloads, 10 configurations, 5 repetitions);
#            the three attached ones (lp-attached-exact, lp-attached-sampled, lp-detached:
#            `leakprobe attach` into a plain broker or alloc loop) add about a third of the
#            interleaved part and three profiles. `--configs` (comma-separated) runs fewer.
# Environment: LEAKPROBE_BENCH_BUILD_DIR (default: build-bench in the repository).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${LEAKPROBE_BENCH_BUILD_DIR:-$here/build-bench}
doc=$here/docs/performance.md
begin='<!-- bench:begin -->'
end='<!-- bench:end -->'

"$here/scripts/deps.sh"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLEAKPROBE_WERROR=ON >/dev/null
cmake --build "$build" -j2 --target bench_runner bench_alloc bench_broker_load bench_snapshot
# The leakprobe command attaches the probe for the lp-attached-* and lp-detached rows; without
# it the runner reports them as not run.
cmake --build "$build" -j2 --target leakprobe_cli ||
  echo "bench.sh: building the leakprobe command failed; the attached rows will be reported as not run" >&2
# The preload library. If it does not build, an older copy must not be measured in its name:
# it is removed, the runner reports the probe rows as "not run", and the other tools are still
# compared.
if ! cmake --build "$build" -j2 --target leakprobe; then
  echo "bench.sh: building libleakprobe failed; its rows will be reported as not run" >&2
  rm -f "$build/libleakprobe/libleakprobe.so"
fi

section=$(mktemp)
work=$(mktemp -d)
trap 'rm -rf "$section" "$work"' EXIT

# The probe's share of the samples by profile (perf record -e cpu-clock, self time in
# libleakprobe.so) per workload and probe configuration: steadier than time ratios on a shared
# machine. The runner prints each beside its ratios and in the goals.
lib=$build/libleakprobe/libleakprobe.so
shares=$work/shares.txt
case " $* " in
  *" --smoke "*) scale=40; pairs=20000 ;;
  *" --quick "*) scale=4; pairs=400000 ;;
  *) scale=1; pairs=1000000 ;;
esac
# The probe configurations to profile: those --configs names (bench_runner validates the
# names), else all.
profiled="lp-exact lp-sampled lp-dormant lp-attached-exact lp-attached-sampled lp-detached"
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[$i]}" = --configs ] && [ $((i + 1)) -lt ${#args[@]} ]; then
    wanted=" ${args[$((i + 1))]//,/ } "
    kept=
    for cfg in $profiled; do case $wanted in *" $cfg "*) kept="$kept $cfg" ;; esac; done
    profiled=$kept
  fi
done
# An attached configuration's alloc loop under perf, as bench_runner runs it: bench_alloc
# started plain waits at its start FIFO with its threads idle, `leakprobe attach` (then
# `detach` for lp-detached) loads the probe, perf starts on the process, and a byte starts the
# loop: the attach itself is not in the samples. A failed attach is said, and the
# configuration gets no share for this loop.
profile_attached_alloc() {
  local cfg=$1 sizes=$2 fifo=$work/start.fifo pid rec i
  local cli=$build/tools/leakprobe/leakprobe attach=(attach --output "$work")
  [ "$cfg" = lp-attached-sampled ] && attach+=(--sample-bytes 524288)
  rm -f "$fifo" && mkfifo "$fifo" || return 1
  env -u LEAKPROBE_BENCH_BUILD_DIR -u LD_PRELOAD "$build/bench/alloc/bench_alloc" \
    --pairs "$pairs" --sizes "$sizes" --start-fifo "$fifo" >/dev/null 2>"$work/alloc.perf.log" &
  pid=$!
  for ((i = 0; i < 200; i++)); do  # bounded: 20 s
    ls -l "/proc/$pid/fd" 2>/dev/null | grep -qF "$fifo" && break
    sleep 0.1
  done
  if ! LEAKPROBE_LIBRARY=$lib "$cli" "${attach[@]}" "$pid" >/dev/null 2>>"$work/alloc.perf.log" ||
     { [ "$cfg" = lp-detached ] &&
       ! LEAKPROBE_LIBRARY=$lib "$cli" detach "$pid" >/dev/null 2>>"$work/alloc.perf.log"; }; then
    echo "bench.sh: attaching the $sizes alloc loop under $cfg failed, not profiled: $(tail -2 "$work/alloc.perf.log")" >&2
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 1
  fi
  perf record -q -e cpu-clock -F 1999 -p "$pid" -o "$work/alloc.perf" 2>/dev/null &
  rec=$!
  sleep 0.3  # perf's start
  printf g >"$fifo"
  wait "$pid" || { kill -INT "$rec" 2>/dev/null; wait "$rec" 2>/dev/null; return 1; }
  wait "$rec" 2>/dev/null || true  # perf -p ends with its process
}

runner_args=()
if command -v perf >/dev/null && [ -f "$lib" ]; then
  echo "# workload configuration percent (scripts/bench.sh, load average $(cut -d' ' -f1-3 /proc/loadavg))" >"$shares"
  for cfg in $profiled; do
    mode=()
    case $cfg in
      lp-sampled) mode=(LEAKPROBE_SAMPLE_BYTES=524288) ;;
      lp-dormant) mode=(LEAKPROBE_ENABLED=0) ;;
    esac
    for sizes in normal small; do
      name=alloc; [ "$sizes" = small ] && name=alloc-small
      case $cfg in
        lp-attached-*|lp-detached)
          profile_attached_alloc "$cfg" "$sizes" || continue ;;
        *)
          perf record -q -e cpu-clock -F 1999 -o "$work/alloc.perf" -- \
            env -u LEAKPROBE_BENCH_BUILD_DIR LD_PRELOAD="$lib" LEAKPROBE_OUTPUT_DIR="$work" \
            LEAKPROBE_QUIET=1 "${mode[@]}" "$build/bench/alloc/bench_alloc" --pairs "$pairs" \
            --sizes "$sizes" >/dev/null 2>"$work/alloc.perf.log" || continue ;;
      esac
      perf report -i "$work/alloc.perf" --stdio --no-children --sort dso 2>/dev/null |
        awk -v w="$name" -v c="$cfg" '/^ +[0-9.]+%/ { pct = $1; sub("%", "", pct);
               if ($2 ~ /libleakprobe/) probe += pct }
             END { printf "%s %s %.2f\n", w, c, probe }' >>"$shares"
      rm -f "$work"/leakprobe.*.heap
    done
    LEAKPROBE_BENCH_BUILD_DIR=$build "$here/scripts/profile_broker.sh" --config "$cfg" \
      --scale "$scale" | awk '$1 == "probe_share" { print $2, $3, $4 }' >>"$shares" ||
      echo "bench.sh: profiling the broker under $cfg failed" >&2
  done
  runner_args+=(--profile-shares "$shares")
else
  echo "bench.sh: perf or the probe is missing: the probe's share of the samples is not measured" >&2
fi
"$build/bench/runner/bench_runner" --build-dir "$build" --markdown "$section" "${runner_args[@]}" "$@"

# Replace only our generated section; every other part of the file (the heapdiff section,
# the hand-written analysis) is kept as it is.
if [ ! -f "$doc" ]; then
  printf '# Performance\n\n%s\n%s\n' "$begin" "$end" >"$doc"
fi
if ! grep -qF "$begin" "$doc"; then
  printf '\n%s\n%s\n' "$begin" "$end" >>"$doc"
fi
tmp=$(mktemp)
awk -v begin="$begin" -v end="$end" -v section="$section" '
  $0 == begin { print; while ((getline line < section) > 0) print line; skipping = 1; next }
  $0 == end { skipping = 0 }
  !skipping { print }
' "$doc" >"$tmp"
cat "$tmp" >"$doc"
rm -f "$tmp"
echo "bench.sh: wrote the results into $doc" >&2
