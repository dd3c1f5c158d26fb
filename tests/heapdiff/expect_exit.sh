#!/bin/sh
# Runs a command and checks both its exit code and that its stderr contains a message
# (fixed string, not a regex; "-" skips that check). Stdout must not be empty on success and must be empty on
# errors (no half report).
#
#   expect_exit.sh EXPECTED_EXIT EXPECTED_STDERR_TEXT WORKDIR command [args...]
set -u
want_rc=$1 want_err=$2 dir=$3
shift 3
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
(cd "$dir" && "$@") >"$out" 2>"$err"
rc=$?
status=0
if [ "$rc" -ne "$want_rc" ]; then
  echo "FAIL: exit code $rc, expected $want_rc"
  status=1
fi
if [ "$want_err" != - ] && ! grep -qF -- "$want_err" "$err"; then
  echo "FAIL: stderr does not contain: $want_err"
  status=1
fi
if [ "$want_rc" -eq 2 ] && [ -s "$out" ]; then
  echo "FAIL: an input or usage error still printed a report on stdout"
  status=1
fi
if [ "$want_rc" -ne 2 ] && [ ! -s "$out" ]; then
  echo "FAIL: empty report on stdout"
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "--- stderr:"; cat "$err"; echo "--- stdout (head):"; head -20 "$out"
fi
exit $status
