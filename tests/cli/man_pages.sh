#!/usr/bin/env bash
# The man pages (packaging/man) say what the commands do: every option that `--help` lists,
# for heapdiff and for each leakprobe subcommand, is documented in the page, and man renders
# both pages without a warning.
# Usage: man_pages.sh LEAKPROBE_CLI HEAPDIFF MAN_DIR
set -u
cli=$1 heapdiff=$2 mandir=$3
. "$(dirname "$0")/testlib.sh"

# options_of HELP_TEXT: the long and short options a CLI11 help lists, one per line.
options_of() {
  grep -E '^ +-' | sed -E 's/^ +//; s/[ =].*//' | tr ',' '\n' | grep -E '^-'
}
# in_page PAGE OPTION: the option is the term of an entry (the line after a .TP), as troff
# writes it (\- for every dash), as a whole word: a mention in an example does not count.
in_page() {
  local re=${2//-/\\\\-}
  awk 'prev == ".TP" { print } { prev = $0 }' "$1" | grep -qE -- "(^|[ \"])$re([ \"]|\\\\f|\$)"
}

check() {  # check PAGE HELP_TEXT WHAT
  local page=$1 help=$2 what=$3 n=0 opt
  while read -r opt; do
    in_page "$page" "$opt" || fail "$what: $opt is in --help but not in $(basename "$page")"
    n=$((n + 1))
  done < <(printf '%s\n' "$help" | options_of)
  [ "$n" -gt 0 ] || fail "$what: no options found in --help (format changed?)"
  echo "  $what: $n options documented"
}

check "$mandir/heapdiff.1" "$("$heapdiff" --help)" "heapdiff"
check "$mandir/leakprobe.1" "$("$cli" --help)" "leakprobe"
# The subcommands, as the top-level help lists them (a new one needs its entry in the page).
subcommands=$("$cli" --help | sed -n '/^Subcommands:/,/^$/p' | sed -nE 's/^  ([a-z]+) .*/\1/p')
[ "$(wc -w <<<"$subcommands")" -ge 5 ] || fail "leakprobe --help lists no subcommands: $subcommands"
for sub in $subcommands; do
  check "$mandir/leakprobe.1" "$("$cli" "$sub" --help)" "leakprobe $sub"
  grep -qE "^\.B $sub( |\$)" "$mandir/leakprobe.1" || fail "leakprobe.1 has no entry for '$sub'"
done
pass "every option of --help is in the man pages"

command -v man >/dev/null || fail "man is not installed (scripts/deps.sh installs man-db)"
for page in "$mandir"/leakprobe.1 "$mandir"/heapdiff.1; do
  warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
  [ -z "$warnings" ] || fail "man warns about $(basename "$page"): $warnings"
  text=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$page" 2>/dev/null)
  expect_contains "$text" "EXIT STATUS" "$(basename "$page") rendered"
done
pass "man renders both pages without warnings"
