#!/bin/sh
# --html and --pprof files appear whole or not at all (issue 23 item 6): with the file size
# limited to 1 KiB, writing the report fails half-way; heapdiff must exit 2 with a message and
# leave neither the report nor a temporary file behind (it used to leave a partial page).
#   no_partial_output.sh HEAPDIFF BASE NEW
set -u
heapdiff=$1 base=$2 new=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
for opt in --html --pprof; do
  out=$work/report
  # SIGXFSZ ignored: the write then fails with EFBIG, as on a full disk.
  (trap '' XFSZ; ulimit -f 1; "$heapdiff" --no-symbols "$opt" "$out" "$base" "$new") \
    >"$work/stdout" 2>"$work/stderr"
  rc=$?
  [ "$rc" = 2 ] || fail "$opt under a 1 KiB file limit exited $rc, want 2: $(cat "$work/stderr")"
  grep -q "heapdiff: error: cannot write " "$work/stderr" || fail "$opt: no message: $(cat "$work/stderr")"
  left=$(ls -A "$work" | grep -v '^stdout$\|^stderr$')
  [ -z "$left" ] || fail "$opt left files behind: $left"
  echo "ok: $opt leaves nothing on a failed write"
done
# And a successful write leaves exactly the report.
"$heapdiff" --no-symbols --html "$work/r.html" "$base" "$new" >/dev/null 2>&1 || fail "--html failed"
[ "$(ls -A "$work" | grep -c tmp)" = 0 ] || fail "temporary file left after success"
tail -c 8 "$work/r.html" | grep -q "html" || fail "the page is not whole"
echo "ok: a successful write leaves the whole report only"
