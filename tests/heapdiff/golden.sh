#!/bin/sh
# Golden test: runs heapdiff in the golden data directory (relative file names, so the output
# does not depend on where the checkout lives) and compares its stdout byte for byte with the
# expected file. Symbolizer warnings go to stderr and are not compared.
#
#   golden.sh HEAPDIFF DATA_DIR EXPECTED_FILE EXPECTED_EXIT [heapdiff args...]
#
# To regenerate after an intended change of the output, run the golden tests with
# HEAPDIFF_UPDATE_GOLDEN=1 (ctest -L golden), then review `git diff tests/heapdiff/golden`.
# The switch never makes a test pass: a test whose output differs rewrites its expected file
# and still fails (so a stray HEAPDIFF_UPDATE_GOLDEN=1 in CI's environment shows up red); run
# again without it once the diff is reviewed.
set -u
heapdiff=$1 data=$2 expected=$3 want_rc=$4
shift 4
actual=$(mktemp)
trap 'rm -f "$actual"' EXIT
(cd "$data" && "$heapdiff" "$@") >"$actual" 2>/dev/null
rc=$?
if [ "$rc" -ne "$want_rc" ]; then
  echo "FAIL: heapdiff $* exited $rc, expected $want_rc"
  exit 1
fi
if ! cmp -s "$actual" "$expected"; then
  if [ "${HEAPDIFF_UPDATE_GOLDEN:-}" = 1 ]; then
    cp "$actual" "$expected"
    echo "FAIL (on purpose): HEAPDIFF_UPDATE_GOLDEN=1 rewrote $expected; review" \
      "\`git diff\` and run again without HEAPDIFF_UPDATE_GOLDEN"
    exit 1
  fi
  echo "FAIL: output of heapdiff $* differs from $expected:"
  diff -u "$expected" "$actual" | head -80
  exit 1
fi
echo "ok: heapdiff $* matches $(basename "$expected")"
