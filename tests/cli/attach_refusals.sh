#!/usr/bin/env bash
# `leakprobe attach` refuses, before touching the process, everything that cannot work or be safe
# (issue 18), each case on a real process; the process runs on unchanged (same pid, not stopped,
# still working, same mappings). Usage:
#   attach_refusals.sh LEAKPROBE_CLI ATTACH_FIXTURE                  every case but static
#   attach_refusals.sh LEAKPROBE_CLI ATTACH_FIXTURE static [STATIC]  the static program (77: none)
set -u
cli=$1
fixture=$2
. "$(dirname "$0")/attach_lib.sh"

if [ "${3:-}" = static ]; then
  static=${4:-}
  [ -n "$static" ] && [ -x "$static" ] || { echo "SKIP: no static libc to link a static target"; exit 77; }
  start_target static "$static" plain
  expect_refused static "$target" "is a statically linked program"
  exit 0
fi

# Bad input and missing processes.
expect_rc 2 "$cli" attach
expect_rc 2 "$cli" attach abc
expect_contains "$err" "'abc' is not a process id" "bad pid"
expect_rc 2 "$cli" detach -5
expect_rc 1 "$cli" attach 4194303
expect_contains "$err" "no process with pid 4194303" "missing pid"
expect_rc 1 "$cli" detach 4194303
expect_contains "$err" "no process with pid 4194303" "detach: missing pid"

# A plain dynamic program passes every check, and --check does nothing to it (detach has
# nothing to take out). The attach itself: attach_mechanics.sh and attach_mosquitto.sh.
start_target plain "$fixture" plain
plain=$target
maps=$(cat "/proc/$plain/maps")
expect_rc 0 "$cli" attach --check "$plain"
expect_contains "$out" "every check passed; nothing was done to it" "attachable"
expect_rc 2 "$cli" attach --sample-bytes lots "$plain"
expect_contains "$err" "--sample-bytes: lots is not a size" "bad --sample-bytes"
: >"$lp_tmp/a_file"
expect_rc 2 "$cli" attach --output "$lp_tmp/a_file" "$plain"
expect_contains "$err" "is not a directory" "bad --output"
expect_rc 1 "$cli" detach "$plain"
expect_contains "$err" "has no probe loaded: nothing to detach" "detach without probe"
still_runs plain "$plain" "$maps"
pass "a plain program passes the checks and is left alone"

start_target seccomp "$fixture" seccomp
expect_refused seccomp "$target" "runs under seccomp (a filter)"

start_target traced "$fixture" traced
tracer=$(awk '/^TracerPid:/ { print $2 }' "/proc/$target/status")
[ "$tracer" != 0 ] || fail "the traced fixture is not traced"
expect_refused traced "$target" "is already traced by pid $tracer (attach_fixture)"

# The probe already there (started with `leakprobe run`): point to enable; detach says it cannot
# take a preloaded probe out.
start_target loaded "$cli" run -o "$lp_tmp" -- "$fixture" plain
expect_refused loaded "$target" "already has the probe loaded: \`leakprobe enable $target\`"
expect_rc 1 "$cli" detach "$target"
expect_contains "$err" "started with the probe preloaded, not attached" "detach preloaded"
expect_contains "$err" "leakprobe disable $target" "detach preloaded points to disable"

# Another uid, and a process that changed user (not dumpable): only root may attach.
if [ "$(id -u)" = 0 ]; then
  nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
  start_target other_uid "$fixture" plain
  expect_refused other_uid "$target" "runs as uid 0 and you are uid 65534: attach as that user, or as root" "${nobody[@]}"
  start_target dropped "$fixture" dropped
  expect_refused dropped "$target" "changed user after it started" "${nobody[@]}"
  # ...and root itself may (it passes the checks).
  expect_rc 0 "$cli" attach --check "$target"
  pass "root passes the checks on a process that changed user"
else
  # Not root: any root-owned process is another uid's.
  expect_rc 1 "$cli" attach --check 1
  expect_contains "$err" "and you are uid $(id -u)" "another uid"
  pass "another uid refused"
fi
echo "all attach refusals hold"
