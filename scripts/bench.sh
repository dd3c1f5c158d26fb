#!/usr/bin/env bash
# The overhead benchmark, fully automatic: builds the probe and the benchmark
# programs (RelWithDebInfo), runs both workloads under every profiler side by side
# (interleaved repetitions), measures snapshot size vs run length and a 1M-allocation snapshot,
# then replaces the generated section of docs/performance.md with the fresh tables and prints
# them. Benchmarks never fail on timing: the exit code only says whether the run itself worked.
#
# Usage: scripts/bench.sh [--quick] [more bench_runner options, e.g. --reps 7]
#   --quick: fewer messages/pairs and 3 repetitions, about 4 minutes. The full run takes
#            about 15 minutes on 2 cores (4 broker workloads, 7 configurations, 5 repetitions).
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
# The preload library. If it does not build, an older copy must not be measured in its name:
# it is removed, the runner reports the probe rows as "not run", and the other tools are still
# compared.
if ! cmake --build "$build" -j2 --target leakprobe; then
  echo "bench.sh: building libleakprobe failed; its rows will be reported as not run" >&2
  rm -f "$build/libleakprobe/libleakprobe.so"
fi

section=$(mktemp)
trap 'rm -f "$section"' EXIT
"$build/bench/runner/bench_runner" --build-dir "$build" --markdown "$section" "$@"

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
