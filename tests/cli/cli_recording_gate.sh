#!/usr/bin/env bash
# Issue 24 item 3: a pair of snapshots taken while recording was off must not diff as "no
# growth" nor pass `--fail-on-growth`. A real process under the probe, installed dormant, leaks
# 7777 bytes per line it reads; snapshots taken dormant, across `leakprobe enable`, and across
# `leakprobe disable` each say so, and heapdiff refuses the gate (exit 2) over every interval
# where recording was off for any part, while the interval recorded throughout still fails the
# gate on its growth (exit 1).
# Usage: cli_recording_gate.sh LEAKPROBE_CLI LIBLEAKPROBE HEAPDIFF CLI_TARGET
set -u
cli=$1
lib=$2
heapdiff=$3
target=$4
. "$(dirname "$0")/testlib.sh"
work=$(mktemp -d)
pid=
cleanup() {
  exec 3>&- 2>/dev/null
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

mkdir -m 0700 "$work/snaps"
mkfifo "$work/in"
LD_PRELOAD=$lib LEAKPROBE_ENABLED=0 LEAKPROBE_OUTPUT_DIR=$work/snaps LEAKPROBE_AT_EXIT=0 \
  "$target" <"$work/in" >"$work/out" 2>"$work/err" &
pid=$!
exec 3>"$work/in"
ready() { grep -q READY "$work/out"; }
wait_for ready || fail "the target did not start: $(cat "$work/err")"

leak() {  # leak N: N more blocks of 7777 bytes, each overwriting (leaking) an older one
  local i
  for i in $(seq 1 "$1"); do echo x >&3; done
  sleep 0.3  # the target reads them; the snapshot below is taken after
}
snap() {  # snap VAR: a snapshot's path into VAR
  expect_rc 0 "$cli" snapshot "$pid" --timeout 20
  eval "$1=\$out"
}
gate() {  # gate WANT BASE NEW: heapdiff's gate exit code and output
  expect_rc "$1" "$heapdiff" --no-symbols --fail-on-growth 64K "$2" "$3"
}

snap a
leak 20
snap b
grep -q '^# leakprobe.recording: dormant since ' "$b" || fail "no dormant line in $b: $(grep recording "$b")"
gate 2 "$a" "$b"
expect_contains "$err" "the interval cannot be trusted" "gate refusal"
expect_contains "$err" "dormant" "the reason"
expect_contains "$out" "growth unknown" "report over a dormant interval"
case "$out" in *"no growth"*) fail "a dormant interval reads as no growth: $out" ;; esac
expect_rc 0 "$heapdiff" --no-symbols --json "$a" "$b"
python3 - "$out" <<'PY' || fail "JSON over a dormant interval: $out"
import json, sys
d = json.loads(sys.argv[1])
assert d["no_growth"] is False and d["interval_trusted"] is False, d
assert [w["code"] for w in d["warnings"] if w["untrusted_interval"]] == ["recording-off"], d["warnings"]
PY
pass "dormant: no 'no growth', gate exit 2, JSON warning recording-off"

expect_rc 0 "$cli" enable "$pid"
leak 20
snap c
grep -q '^# leakprobe.recording: on since ' "$c" || fail "no 'on' line in $c"
grep -q '^# leakprobe.recording-changed: ' "$c" || fail "no recording-changed line in $c"
gate 2 "$b" "$c"
expect_contains "$err$out" "enabled only at" "enabled within the interval"
leak 20
snap d
gate 1 "$c" "$d"
expect_contains "$err" "exceeds --fail-on-growth" "the recorded interval's gate"
pass "enabled mid-interval: exit 2; recorded throughout: the leak fails the gate (exit 1)"

expect_rc 0 "$cli" disable "$pid"
leak 20
snap e
grep -q '^# leakprobe.recording: off since ' "$e" || fail "no 'off' line in $e"
gate 2 "$d" "$e"
expect_contains "$err$out" "recording was off (disabled)" "disabled within the interval"
pass "disabled mid-interval: exit 2"
