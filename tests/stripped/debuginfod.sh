#!/usr/bin/env bash
# debuginfod end to end: a stripped program's snapshots get file:line from a local
# `debuginfod -F DIR` that serves its split debug file, and none without it (or with the
# server gone). heapdiff reaches the server through elfutils' debuginfod client (libdwfl's
# standard debuginfo lookup), driven only by DEBUGINFOD_URLS; every lookup is bounded by
# DEBUGINFOD_TIMEOUT and cached in a temporary DEBUGINFOD_CACHE_PATH.
#
# The server listens on every interface (debuginfod 0.188 has no listen-address option), so
# when the system allows it the test runs in a private network namespace whose only
# interface is loopback.
#
# Usage: debuginfod.sh HEAPDIFF LIBLEAKPROBE STRIPPED_PROGRAM DEBUG_DIR
set -u
if [ -z "${LP_TRUST_NETNS:-}" ] && unshare -n true 2>/dev/null; then
  exec env LP_TRUST_NETNS=1 unshare -n bash -c 'ip link set lo up && exec bash "$0" "$@"' \
    "$0" "$@"
fi
heapdiff=$1 probe=$2 program=$3 debug_dir=$4
. "$(dirname "$0")/../cli/testlib.sh"
command -v debuginfod >/dev/null || fail "debuginfod is not installed (scripts/deps.sh installs it)"
work=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# A debuginfod named in the caller's environment must not answer for the local one.
unset DEBUGINFOD_URLS DEBUGINFOD_CACHE_PATH

# Two exit snapshots of the stripped program: 1 and 3 objects leaked at every site. Two runs,
# so two processes: heapdiff compares them only with --allow-different-processes.
for n in 1 3; do
  mkdir -p "$work/run$n"
  LD_PRELOAD=$probe LEAKPROBE_OUTPUT_DIR=$work/run$n LEAKPROBE_QUIET=1 LEAKPROBE_CONTROL=0 \
    "$program" "$n" || fail "the stripped program failed under the probe"
  mv "$work"/run$n/leakprobe.*.heap "$work/$n.heap" || fail "no exit snapshot for n=$n"
done

# file:line of the sites in the program's module, as "function file:line" lines.
sites() {
  python3 -c '
import json, sys
for e in json.load(sys.stdin)["entries"]:
    s = e["site"]
    if s["module"].endswith("/stripped_sites"):
        print("%s %s:%d" % (s["function"], s["file"].rsplit("/", 1)[-1], s["line"]))
'
}

expect_rc 0 "$heapdiff" --json --top 0 --allow-different-processes "$work/1.heap" "$work/3.heap"
without=$(printf '%s\n' "$out" | sites)
[ -n "$without" ] || fail "no entries for the stripped program"
case "$without" in *.c:*[1-9]*) fail "file:line without any debug info: $without" ;; esac
expect_contains "$without" "stripped_sites!fn@0x" "unnamed functions without debug info"
pass "no debuginfod: functions only, static ones unnamed"
# The missing-debug-info warning names the fix, on stderr and in the JSON report's warnings.
expect_contains "$err" "DEBUGINFOD_URLS" "the debug-info warning on stderr"
expect_contains "$err" "-dbgsym packages" "the debug-info warning on stderr"
printf '%s\n' "$out" | python3 -c '
import json, sys
warnings = json.load(sys.stdin)["warnings"]
fixes = [w for w in warnings if w["code"] in ("no-debug-info", "no-symbols")
         and "DEBUGINFOD_URLS" in w["message"] and "-dbgsym" in w["message"]]
sys.exit(0 if fixes else "no debug-info warning naming the fix in the JSON: %r" % warnings)
' || fail "the JSON report does not carry the debug-info warning"
pass "no debuginfod: the warning names DEBUGINFOD_URLS and the -dbgsym packages, on stderr and in JSON"

port=8002
if [ -z "${LP_TRUST_NETNS:-}" ]; then port=$(free_port) || fail "no free port"; fi
debuginfod -F "$debug_dir" -p "$port" -d :memory: -c 1 -t 0 -g 0 >"$work/server.log" 2>&1 &
server=$!
build_id=$(readelf -n "$program" | awk '/Build ID/ { print $3 }')
[ -n "$build_id" ] || fail "the stripped program has no build-id"
url="http://127.0.0.1:$port"
# Ready once the scan has indexed the debug file (bounded: ~10 s).
wait_for curl -sf -o /dev/null "$url/buildid/$build_id/debuginfo" ||
  fail "debuginfod never served $build_id: $(cat "$work/server.log")"

export DEBUGINFOD_URLS=$url DEBUGINFOD_TIMEOUT=10 DEBUGINFOD_CACHE_PATH=$work/cache
expect_rc 0 "$heapdiff" --json --top 0 --allow-different-processes "$work/1.heap" "$work/3.heap"
with=$(printf '%s\n' "$out" | sites)
source_file=$(dirname "$0")/stripped_sites.c
for fn in retain_before keep_three keep_config retain_store retain_after; do
  # Every allocation line of the function, as grep -n gives them.
  expect_contains "$with" "$fn stripped_sites.c:" "$fn with file:line from debuginfod"
done
case "$with" in *'!fn@'*) fail "unnamed functions left with debug info: $with" ;; esac
# The lines are the allocation calls of the source.
for line in $(printf '%s\n' "$with" | sed 's/.*\.c://'); do
  sed -n "${line}p" "$source_file" | grep -Eq 'malloc|calloc|strdup' ||
    fail "line $line of stripped_sites.c is not an allocation: $(sed -n "${line}p" "$source_file")"
done
[ -n "$(ls -A "$work/cache" 2>/dev/null)" ] || fail "nothing cached in DEBUGINFOD_CACHE_PATH"
pass "debuginfod: file:line for every site, from the server, cached"

# The server gone (connection refused) and a fresh cache: no file:line, no hang, exit 0.
kill "$server"; wait "$server" 2>/dev/null; server=""
export DEBUGINFOD_CACHE_PATH=$work/cache2 DEBUGINFOD_TIMEOUT=5
expect_rc 0 "$heapdiff" --json --top 0 --allow-different-processes "$work/1.heap" "$work/3.heap"
gone=$(printf '%s\n' "$out" | sites)
case "$gone" in *.c:*[1-9]*) fail "file:line with the server gone: $gone" ;; esac
pass "debuginfod gone: functions only, report complete"
