#!/bin/sh
# HEAPDIFF_UPDATE_GOLDEN=1 must never make a golden test pass: on a wrong expected file it
# rewrites the file and fails; the rewritten file then passes without the switch; on a right
# one it passes like any run.
#   golden_switch_test.sh GOLDEN_SH HEAPDIFF DATA_DIR EXPECTED_FILE
set -u
golden=$1 heapdiff=$2 data=$3 expected=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cp "$expected" "$work/right.txt"
printf 'not what heapdiff prints\n' >"$work/wrong.txt"

HEAPDIFF_UPDATE_GOLDEN=1 sh "$golden" "$heapdiff" "$data" "$work/wrong.txt" 0 \
  lp.base.heap lp.new.heap >"$work/out" && fail "the switch made a wrong golden pass: $(cat "$work/out")"
grep -q "rewrote" "$work/out" || fail "no word that the file was rewritten: $(cat "$work/out")"
cmp -s "$work/wrong.txt" "$expected" || fail "the switch did not rewrite the expected file"
sh "$golden" "$heapdiff" "$data" "$work/wrong.txt" 0 lp.base.heap lp.new.heap >/dev/null \
  || fail "the rewritten file does not pass without the switch"
HEAPDIFF_UPDATE_GOLDEN=1 sh "$golden" "$heapdiff" "$data" "$work/right.txt" 0 \
  lp.base.heap lp.new.heap >/dev/null || fail "a matching golden failed under the switch"
echo "ok: HEAPDIFF_UPDATE_GOLDEN=1 rewrites a differing golden and fails; never passes one"
