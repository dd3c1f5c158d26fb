#!/usr/bin/env bash
# The CLI's bad-input paths: clear message, non-zero exit, and never harm to a process that does
# not run the probe. Usage: cli_errors.sh LEAKPROBE_CLI
set -u
cli=$1
. "$(dirname "$0")/testlib.sh"

expect_rc 2 "$cli"
expect_rc 2 "$cli" snapshot abc
expect_contains "$err" "not a process id" "bad pid"
expect_rc 2 "$cli" snapshot
expect_rc 2 "$cli" run
expect_contains "$err" "no command given" "run without command"
expect_rc 2 "$cli" run --interval -3 -- true
expect_rc 2 "$cli" bogus-subcommand

# A pid that does not exist.
expect_rc 1 "$cli" snapshot 4194303
expect_contains "$err" "no process with pid 4194303" "missing pid"

# A live process without the probe: refused, and the process is untouched (a real-time signal
# sent to it would have killed it).
sleep 30 & victim=$!
trap 'kill $victim 2>/dev/null' EXIT
expect_rc 1 "$cli" snapshot "$victim" --timeout 2
expect_contains "$err" "not loaded" "process without probe"
sleep 0.2
kill -0 "$victim" 2>/dev/null || fail "the probe-less process died"
pass "probe-less process refused and left alive"

# A process that is exiting (a zombie: it ran under the probe, exited, and its parent never
# reaps it) is said to be exiting, not "not your process" (which root used to be told).
zdir=$(mktemp -d)
sh -c '"$1" run -o "$2" -- true >/dev/null 2>&1 & echo $! >"$2/pid"; exec sleep 30' \
  sh "$cli" "$zdir" &
zparent=$!
trap 'kill $victim $zparent 2>/dev/null; rm -rf "$zdir"' EXIT
wait_for test -s "$zdir/pid" || fail "no zombie pid"
zombie=$(cat "$zdir/pid")
wait_for grep -Eq '^[0-9]+ \(.*\) Z ' "/proc/$zombie/stat" || fail "pid $zombie never became a zombie"
expect_rc 1 "$cli" snapshot "$zombie" --timeout 2
expect_contains "$err" "pid $zombie is exiting and can no longer take a snapshot" "exiting process"
case "$err" in *"not your process"*) fail "an exiting process was called not ours: $err" ;; esac
pass "exiting process named as such"

# A kernel thread (PF_KTHREAD in /proc/PID/stat) is named as one, where this machine shows any
# (a container usually does not).
kthread=$(for f in /proc/[0-9]*/stat; do
  rest=$(sed 's/^.*) //' "$f" 2>/dev/null) || continue
  flags=$(echo "$rest" | awk '{ print $7 }')
  [ -n "$flags" ] && [ $(( flags & 0x00200000 )) -ne 0 ] && { basename "$(dirname "$f")"; break; }
done)
if [ -n "$kthread" ]; then
  expect_rc 1 "$cli" snapshot "$kthread" --timeout 2
  expect_contains "$err" "pid $kthread is a kernel thread" "kernel thread"
  pass "kernel thread named as such"
fi

# A command that does not exist.
expect_rc 127 "$cli" run -o "$(mktemp -d)" -- /nonexistent/program
expect_contains "$err" "cannot run /nonexistent/program" "missing command"

# An output directory that cannot be created.
expect_rc 1 "$cli" run -o /proc/nope -- true
expect_contains "$err" "cannot create output directory" "bad output dir"
# A probe library that is not where the user said.
LEAKPROBE_LIBRARY=/nonexistent/libleakprobe.so expect_rc 1 "$cli" run -- true
expect_contains "$err" "LEAKPROBE_LIBRARY=/nonexistent/libleakprobe.so is not a file" "bad library"
pass "all CLI error paths"
