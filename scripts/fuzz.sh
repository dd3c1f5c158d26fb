#!/usr/bin/env bash
# Builds the libFuzzer target for the snapshot parser with clang, in its own build directory
# (the main build uses g++, which has no libFuzzer), and runs it for a bounded time over the
# checked-in seed corpus. Exits non-zero if the fuzzer finds a crash, leak, UB or timeout; the
# input that did it is left in <build-dir>/fuzz-artifacts/.
#
# Usage: scripts/fuzz.sh [--build-dir DIR] [--seconds N]
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build="$here/build-fuzz"
seconds=30

while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "fuzz.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: --seconds needs a whole number" >&2; exit 2 ;; esac

clangxx=$(command -v clang++ || command -v clang++-14 || true)
clangc=$(command -v clang || command -v clang-14 || true)
if [ -z "$clangxx" ] || [ -z "$clangc" ]; then
  echo "fuzz.sh: clang not found (Debian package clang, libclang-rt-14-dev)" >&2
  exit 2
fi

# The fuzz target carries its own -fsanitize flags (tests/fuzz/CMakeLists.txt). The rest of the
# project is configured but never built here.
mkdir -p "$build"
cmake -S "$here" -B "$build" \
  -DCMAKE_C_COMPILER="$clangc" -DCMAKE_CXX_COMPILER="$clangxx" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLEAKPROBE_FUZZ=ON -DLEAKPROBE_BUILD_BENCH=OFF -DLEAKPROBE_BUILD_REPRODUCERS=OFF \
  >"$build/configure.log" 2>&1 || { cat "$build/configure.log" >&2; exit 2; }
cmake --build "$build" -j2 --target fuzz_parser

work=$(mktemp -d "${TMPDIR:-/tmp}/leakprobe-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$build/fuzz-artifacts"

# New inputs go to the first (scratch) corpus directory, so the checked-in seeds stay as they are.
# Memory is bounded: the parser keeps what a snapshot holds and one line of at most 64 KiB, so
# a single allocation over 64 MiB, or the process over 1 GiB (ASan included), is a bug.
# -max_len is above the line limit so that over-long lines are fuzzed too.
"$build/tests/fuzz/fuzz_parser" \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -malloc_limit_mb=64 \
  -max_len=131072 \
  -artifact_prefix="$build/fuzz-artifacts/" -print_final_stats=1 \
  "$work/corpus" "$here/tests/fuzz/corpus"
