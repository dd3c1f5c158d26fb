#!/usr/bin/env bash
# Bad input to a reproducer: a one-line message and a non-zero exit, never a hang or a crash.
# Usage: reproducers_bad_input.sh REPRODUCER...
set -uo pipefail
failures=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'no-such-option = 1\n' >"$work/bad.conf"
# A loopback port nobody listens on: bind, read the number, close.
closed_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

# expect EXIT PATTERN -- CMD...: CMD must exit with EXIT within 20 s and print PATTERN on stderr.
expect() {
  local want=$1 pattern=$2
  shift 3
  local rc=0
  timeout 20 "$@" </dev/null >/dev/null 2>"$work/err" || rc=$?
  if [ "$rc" -eq "$want" ] && grep -q -- "$pattern" "$work/err"; then
    echo "ok    $(basename "$1") ${*:2}: exit $rc"
  else
    echo "FAIL  $(basename "$1") ${*:2}: exit $rc (want $want), stderr: $(head -c 300 "$work/err")"
    failures=$((failures + 1))
  fi
}

for repro in "$@"; do
  expect 2 "unrecognised option" -- "$repro" --no-such-option
  expect 2 "is invalid" -- "$repro" --port abc
  expect 2 "must be" -- "$repro" --port 0
  expect 2 "must be" -- "$repro" --iterations -1
  expect 2 "must be" -- "$repro" --iterations 5 --checkpoints 6
  expect 2 "cannot read config file" -- "$repro" --config "$work/missing.conf"
  expect 2 "unrecognised option" -- "$repro" --config "$work/bad.conf"
  expect 1 "failed: Connection refused" -- "$repro" --port "$closed_port" --iterations 1
  # The session-burst gateway's own options.
  case $(basename "$repro") in
    repro_session_burst)
      expect 2 "must be 1..65536" -- "$repro" --buffer-kib 0
      expect 2 "must be 1..65536" -- "$repro" --buffer-kib 65537
      expect 2 "devices >= 1" -- "$repro" --devices 0
      ;;
  esac
done
[ "$failures" -eq 0 ]
