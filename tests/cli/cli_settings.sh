#!/usr/bin/env bash
# `leakprobe run --X V` and LEAKPROBE_X=V are one setting (libleakprobe/include/leakprobe/
# settings.h): the same values are accepted, and a refused value gets the same words from the
# CLI (before anything runs) as from the probe (at start-up, falling back to the default).
# Usage: cli_settings.sh LEAKPROBE_CLI TARGET_PROGRAM
set -u
cli=$1 target=$2
. "$(dirname "$0")/testlib.sh"
work=$(mktemp -d)
cleanup() { exec 3>&- 2>/dev/null; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# Refused by both, with the same phrase. (flag value variable)
while read -r flag value var; do
  expect_rc 2 "$cli" run "--$flag" "$value" -o "$work/x" -- true
  cli_line=$(printf '%s\n' "$err" | grep -- "--$flag: ") || fail "no '--$flag:' line in: $err"
  cli_phrase=${cli_line#"--$flag: $value "}
  [ "$cli_phrase" != "$cli_line" ] || fail "the CLI's line does not quote '$value': $cli_line"
  expect_rc 0 env "$var=$value" "$cli" run -o "$work/x" -- true
  probe_line=$(printf '%s\n' "$err" | grep -- "leakprobe: $var=$value ") \
    || fail "the probe did not refuse $var=$value: $err"
  probe_phrase=${probe_line#"leakprobe: $var=$value "}
  probe_phrase=${probe_phrase%%; using *}
  [ "$cli_phrase" = "$probe_phrase" ] \
    || fail "$flag/$var differ: CLI '$cli_phrase' vs probe '$probe_phrase'"
done <<'CASES'
interval 1.5x LEAKPROBE_INTERVAL
interval -3 LEAKPROBE_INTERVAL
interval 1.2345 LEAKPROBE_INTERVAL
depth 0 LEAKPROBE_DEPTH
depth 129 LEAKPROBE_DEPTH
sample-bytes 1x LEAKPROBE_SAMPLE_BYTES
sample-bytes 2T LEAKPROBE_SAMPLE_BYTES
sample-bytes 1.5K LEAKPROBE_SAMPLE_BYTES
max-stacks 10 LEAKPROBE_MAX_STACKS
signal SIGUSR1 LEAKPROBE_SIGNAL
signal banana LEAKPROBE_SIGNAL
CASES
pass "refused values: same words from the CLI and the probe"

# Accepted by both: --interval 0.3 writes interval snapshots and the probe does not complain
# (the CLI once took 1.5 and the probe then said it was not a number).
mkfifo "$work/in"
"$cli" run -o "$work/snaps" --interval 0.3 --depth 16 --at-exit=0 -- "$target" \
  <"$work/in" >"$work/out" 2>"$work/err" &
pid=$!
exec 3>"$work/in"
wait_for grep -q READY "$work/out" || fail "target never became ready: $(cat "$work/err")"
has_two_interval_snapshots() {
  [ "$(grep -l '^# leakprobe.trigger: interval$' "$work/snaps"/leakprobe.*.heap 2>/dev/null |
    wc -l)" -ge 2 ]
}
wait_for has_two_interval_snapshots || fail "no interval snapshots with --interval 0.3"
exec 3>&-
wait "$pid" || fail "the profiled program failed"
pid=
grep -q "LEAKPROBE_" "$work/err" && fail "the probe refused a value the CLI accepted: $(cat "$work/err")"
grep -q '^# leakprobe.depth: 16$' "$work/snaps"/leakprobe.*.0001.heap || fail "--depth 16 not applied"
grep -l '^# leakprobe.trigger: exit$' "$work/snaps"/*.heap && fail "--at-exit=0 not applied"
pass "--interval 0.3 --depth 16 --at-exit=0 reach the probe"

# A flag's value as the next word is the flag's value, never the command (`--enabled 0 -- CMD`
# once ran "0"); `-q` is --quiet. Each form must reach the probe.
expect_rc 0 "$cli" run -o "$work/f1" --enabled 0 -- "$target" </dev/null
expect_contains "$err" "loaded dormant" "--enabled 0 -- CMD"
expect_rc 0 "$cli" run -o "$work/f2" --at-exit 0 -q -- "$target" </dev/null
expect_contains "$out" "READY" "--at-exit 0 -q -- CMD ran the target"
case "$err" in *"leakprobe: profiling pid"*", snapshots in"*) fail "-q: the probe's start-up line was printed: $err" ;; esac
ls "$work/f2"/leakprobe.*.heap >/dev/null 2>&1 && fail "--at-exit 0: an exit snapshot was written"
expect_rc 0 "$cli" run -o "$work/f3" -q 1 --at-exit=no "$target" </dev/null
case "$err" in *"snapshots in"*) fail "-q 1 without --: start-up line printed: $err" ;; esac
ls "$work/f3"/leakprobe.*.heap >/dev/null 2>&1 && fail "--at-exit=no: an exit snapshot was written"
expect_rc 0 "$cli" run -o "$work/f4" --at-exit -- "$target" </dev/null
ls "$work/f4"/leakprobe.*.heap >/dev/null 2>&1 || fail "--at-exit alone: no exit snapshot"
pass "--enabled 0, --at-exit 0, -q, -q 1, --at-exit=no, --at-exit: options, not the command"

# Before `--`, a bad flag value is refused as a value, and an unknown option as an option:
# neither is run as a program (exit 127 would mean it was).
expect_rc 2 "$cli" run -o "$work/x" --enabled 2 -- true
expect_contains "$err" "--enabled: 2 is not 0 or 1" "bad flag value"
expect_rc 2 "$cli" run -o "$work/x" -x 0 -- true
expect_contains "$err" "unknown option -x" "unknown option"
pass "bad flag values and unknown options are refused before anything runs"

# One size syntax in every tool (leakprobe/byte_size.h): heapdiff's 64K is run's 512K too, in
# both option spellings, and the probe reads the same value from its variable.
for args in "--sample-bytes 512K" "--sample-bytes=512K" "--sample-bytes=512KiB" \
    "--sample-bytes 524288"; do
  rm -rf "$work/size"
  # shellcheck disable=SC2086  # the option and its value are two words on purpose
  expect_rc 0 "$cli" run $args -o "$work/size" -- true
  grep -q '^# leakprobe.sampling: 524288$' "$work/size"/leakprobe.*.heap \
    || fail "$args: no 'leakprobe.sampling: 524288' in the exit snapshot: $err"
done
rm -rf "$work/size"
expect_rc 0 env LEAKPROBE_SAMPLE_BYTES=512K "$cli" run -o "$work/size" -- true
grep -q '^# leakprobe.sampling: 524288$' "$work/size"/leakprobe.*.heap \
  || fail "LEAKPROBE_SAMPLE_BYTES=512K did not reach the probe: $err"
pass "--sample-bytes 512K, --sample-bytes=512K and LEAKPROBE_SAMPLE_BYTES=512K sample per 512 KiB"
