#!/usr/bin/env bash
# The conventions both commands share (issue 24 item 5): `--opt VALUE` and `--opt=VALUE` mean
# the same everywhere, one size syntax, `--version` from the CMake project version, --html and
# --pprof say on stderr where they wrote (stdout stays the report), and --brief is the table
# of the full report and nothing else.
# Usage: cli_conventions.sh LEAKPROBE_CLI HEAPDIFF PROJECT_VERSION DATA_DIR RESOURCE_DATA_DIR
set -u
cli=$1 heapdiff=$2 version=$3 data=$4 resdata=$5
. "$(dirname "$0")/testlib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
base=$data/lp.base.heap new=$data/lp.new.heap

# --version: exit 0, the project version, nothing on stderr.
expect_rc 0 "$heapdiff" --version
[ "$out" = "heapdiff (leakprobe) $version" ] || fail "heapdiff --version printed '$out'"
[ -z "$err" ] || fail "heapdiff --version wrote to stderr: $err"
expect_rc 0 "$cli" --version
[ "$out" = "leakprobe $version" ] || fail "leakprobe --version printed '$out'"
pass "--version: heapdiff (leakprobe) $version, leakprobe $version"

# heapdiff: every option taking a value, spelled both ways, gives the same report and exit code.
# (option value): values chosen so that each one changes the report or is checked.
while read -r opt value; do
  "$heapdiff" --no-symbols "$opt" "$value" "$base" "$new" >"$work/spaced" 2>"$work/spaced.err"
  rc_spaced=$?
  "$heapdiff" --no-symbols "$opt=$value" "$base" "$new" >"$work/joined" 2>"$work/joined.err"
  rc_joined=$?
  [ "$rc_spaced" = "$rc_joined" ] \
    || fail "heapdiff '$opt $value' exited $rc_spaced but '$opt=$value' $rc_joined: $(cat "$work/joined.err")"
  case $rc_spaced in 0 | 1) ;; *) fail "heapdiff $opt $value exited $rc_spaced: $(cat "$work/spaced.err")" ;; esac
  cmp -s "$work/spaced" "$work/joined" \
    || fail "heapdiff '$opt $value' and '$opt=$value' differ: $(diff "$work/spaced" "$work/joined")"
done <<'CASES'
--top 2
--sort objects
--by function
--focus 0x1233
--ignore 0x1233
--fold broker
--min-bytes 1K
--fail-on-growth 64K
--fail-on-growth 10MiB
--max-input 512K
--debug-dir /nonexistent
--sysroot /nonexistent
CASES
rb=$resdata/res.base.heap rn=$resdata/res.new.heap
expect_rc 1 "$heapdiff" --no-symbols --fail-on-resource-growth 0 "$rb" "$rn"
spaced=$out
expect_rc 1 "$heapdiff" --no-symbols --fail-on-resource-growth=0 "$rb" "$rn"
[ "$out" = "$spaced" ] || fail "--fail-on-resource-growth 0 and =0 differ"
pass "heapdiff: --opt VALUE and --opt=VALUE give the same report and exit code"

# The sizes are sizes: --min-bytes 512K lists nothing the golden pair changed by less.
expect_rc 0 "$heapdiff" --no-symbols --min-bytes 512K "$base" "$new"
expect_contains "$out" "changes below --min-bytes not listed" "--min-bytes 512K"
expect_rc 1 "$heapdiff" --no-symbols --fail-on-growth=64K "$base" "$new"
expect_contains "$err" "exceeds --fail-on-growth 65536 bytes" "--fail-on-growth=64K"
expect_rc 2 "$heapdiff" --no-symbols --min-bytes=1.5K "$base" "$new"
pass "heapdiff: 512K, 64K, 10MiB are sizes; 1.5K is refused"

# leakprobe: the options of `run` and of the control commands, spelled both ways.
while read -r opt value; do
  for form in spaced joined; do
    rm -rf "$work/snaps"
    if [ $form = spaced ]; then args=("$opt" "$value"); else args=("$opt=$value"); fi
    expect_rc 0 "$cli" run --output "$work/snaps" "${args[@]}" -- true
    # What reached the probe: the settings in the snapshot's header and the probe's start-up
    # line, without what changes from run to run (the pid).
    { grep -hE '^# leakprobe\.(depth|sampling|trigger|resources):' "$work/snaps"/leakprobe.*.heap
      printf '%s\n' "$err" | sed -E 's/@leakprobe\.[0-9]+\.[0-9]+/@leakprobe.N/g; s/(pid |leakprobe\.|snapshot )[0-9]+/\1N/g'
    } >"$work/$form.seen" 2>/dev/null
  done
  cmp -s "$work/spaced.seen" "$work/joined.seen" \
    || fail "run '$opt $value' and '$opt=$value' differ: $(diff "$work/spaced.seen" "$work/joined.seen")"
done <<'CASES'
--depth 7
--sample-bytes 64K
--max-stacks 2048
--signal SIGRTMIN+3
--interval 0
--keep 5
--resources 0
--control 0
--at-exit 1
CASES
expect_rc 0 "$cli" run --output="$work/d" --depth=7 -- true
grep -q '^# leakprobe.depth: 7$' "$work/d"/leakprobe.*.heap || fail "--depth=7 did not reach the probe"
expect_rc 0 "$cli" run -o "$work/o" -- true
ls "$work/o"/leakprobe.*.heap >/dev/null 2>&1 || fail "run -o DIR wrote no snapshot"
expect_rc 0 "$cli" run --output="$work/eq" -- true
ls "$work/eq"/leakprobe.*.heap >/dev/null 2>&1 || fail "run --output=DIR wrote no snapshot"
# The control commands: a pid with no probe fails the same way (1) in both spellings, and a
# bad timeout is a usage error (2) in both.
sleep 30 &
idle=$!
for args in "--timeout 1" "--timeout=1" "-t 1"; do
  # shellcheck disable=SC2086  # the option and its value are two words in the first case
  expect_rc 1 "$cli" snapshot $args "$idle"
  # shellcheck disable=SC2086
  expect_rc 1 "$cli" enable $args "$idle"
done
for args in "--timeout -1" "--timeout=-1" "--timeout=abc"; do
  # shellcheck disable=SC2086
  expect_rc 2 "$cli" snapshot $args "$idle"
done
kill "$idle" 2>/dev/null
pass "leakprobe: run, snapshot and enable take --opt VALUE and --opt=VALUE alike"

# --html/--pprof say where they wrote, on stderr; stdout is the same report as without them.
expect_rc 0 "$heapdiff" --no-symbols "$base" "$new"
plain=$out
(cd "$work" && "$heapdiff" --no-symbols --html report.html --pprof=delta.pb.gz "$base" "$new" \
  >"$work/with" 2>"$work/with.err") || fail "heapdiff --html --pprof failed: $(cat "$work/with.err")"
[ "$(cat "$work/with")" = "$plain" ] || fail "--html/--pprof changed stdout"
grep -qxF "heapdiff: wrote the HTML report to $work/report.html" "$work/with.err" \
  || fail "no 'wrote the HTML report to $work/report.html' on stderr: $(cat "$work/with.err")"
grep -qxF "heapdiff: wrote the pprof profile to $work/delta.pb.gz" "$work/with.err" \
  || fail "no 'wrote the pprof profile to $work/delta.pb.gz' on stderr: $(cat "$work/with.err")"
[ -s "$work/report.html" ] && [ -s "$work/delta.pb.gz" ] || fail "the files are not there"
expect_rc 0 "$heapdiff" --no-symbols --html - "$base" "$new"
case "$err" in *"wrote the HTML"*) fail "--html - claims to have written a file: $err" ;; esac
pass "--html FILE / --pprof FILE name the absolute path on stderr, stdout unchanged"

# --brief: exactly the full report's table (its title line up to the first blank line), for a
# diff, a trend and a report with resources; nothing else.
table_of() { sed -n '/^top [0-9]* of /,/^$/p' | sed '/^$/d'; }
check_brief() {
  local what=$1
  shift
  "$heapdiff" --no-symbols "$@" >"$work/full" 2>/dev/null
  "$heapdiff" --no-symbols --brief "$@" >"$work/brief" 2>/dev/null
  [ -s "$work/brief" ] || fail "--brief printed nothing for $what"
  local want
  want=$(table_of <"$work/full"; grep -E '^resources \(' "$work/full")
  local got
  got=$(table_of <"$work/brief"; grep -E '^resources \(' "$work/brief")
  [ "$got" = "$want" ] || fail "--brief ($what) is not the full report's tables: $(diff <(echo "$want") <(echo "$got"))"
  grep -qE '^(totals|#1 |  live  |heapdiff: )' "$work/brief" \
    && fail "--brief ($what) prints more than the tables: $(cat "$work/brief")"
  [ "$(grep -c . "$work/brief")" -lt "$(grep -c . "$work/full")" ] || fail "--brief ($what) is not shorter"
}
check_brief "a diff" "$base" "$new"
check_brief "a trend" "$data"/trend.1.heap "$data"/trend.2.heap "$data"/trend.3.heap "$data"/trend.4.heap
check_brief "resources" "$resdata"/res.base.heap "$resdata"/res.new.heap
expect_rc 0 "$heapdiff" --no-symbols --brief "$data"/trend.1.heap "$data"/trend.1.heap
expect_contains "$out" "no growth:" "--brief with nothing changed"
pass "--brief: the ranked tables only"
