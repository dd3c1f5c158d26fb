# Helpers for `leakprobe attach`'s refusal tests: start a target that proves it runs by bumping a
# counter file, and check that a refusal left it exactly as it was.
. "$(dirname "$0")/testlib.sh"

lp_tmp=$(mktemp -d)
chmod 1777 "$lp_tmp"  # the "dropped" target writes its counter as uid 65534
lp_kill=()
lp_cleanup() {
  local p
  for p in "${lp_kill[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$lp_tmp"
}
trap lp_cleanup EXIT

# start_target NAME CMD... : runs CMD (which prints "READY <target pid>") with the counter file
# $lp_tmp/NAME.count as its last argument; sets $target.
start_target() {
  local name=$1; shift
  : >"$lp_tmp/$name.out"
  "$@" "$lp_tmp/$name.count" >"$lp_tmp/$name.out" 2>"$lp_tmp/$name.err" &
  lp_kill+=($!)
  wait_for grep -q '^READY ' "$lp_tmp/$name.out" ||
    fail "$name: the target never said READY: $(cat "$lp_tmp/$name.err")"
  target=$(awk '/^READY/ { print $2; exit }' "$lp_tmp/$name.out")
  lp_kill+=("$target")
  wait_for test -s "$lp_tmp/$name.count" || fail "$name: the target never counted"
}

counter() { local n; n=$(cat "$lp_tmp/$1.count" 2>/dev/null); echo "${n:-0}"; }

# maps_of PID: what must not change. Every mapping by default; with lp_maps=files only the files
# mapped (a Go runtime maps and unmaps anonymous memory as it runs; an attach would add a file).
lp_maps=all
maps_of() {
  if [ "$lp_maps" = files ]; then
    awk 'NF >= 6 { print $6 }' "/proc/$1/maps" | sort -u
  else
    cat "/proc/$1/maps"
  fi
}

counted_past() { [ "$(counter "$1")" -gt "$2" ]; }

# still_runs NAME PID MAPS_BEFORE: the same process, not stopped, still counting, same mappings.
still_runs() {
  local name=$1 pid=$2 before=$3 state start
  kill -0 "$pid" 2>/dev/null || fail "$name: pid $pid is gone after the refusal"
  state=$(awk '/^State:/ { print $2 }' "/proc/$pid/status")
  case "$state" in T|t|Z|X) fail "$name: pid $pid is in state $state after the refusal" ;; esac
  start=$(counter "$name")
  wait_for counted_past "$name" "$start" ||
    fail "$name: pid $pid stopped counting after the refusal"
  [ "$(maps_of "$pid")" = "$before" ] || fail "$name: pid $pid's mappings changed"
}

# expect_refused NAME PID WORDS [RUNNER...]: attach (and attach --check) exit 1 with one line
# naming WORDS, and the target runs on unchanged.
expect_refused() {
  local name=$1 pid=$2 words=$3; shift 3
  local maps
  maps=$(maps_of "$pid") || fail "$name: cannot read /proc/$pid/maps"
  expect_rc 1 "$@" "$cli" attach "$pid"
  expect_contains "$err" "$words" "$name"
  [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] || fail "$name: more than one line: $err"
  [ -z "$out" ] || fail "$name: a refusal printed on stdout: $out"
  expect_rc 1 "$@" "$cli" attach --check "$pid"
  expect_contains "$err" "$words" "$name (--check)"
  still_runs "$name" "$pid" "$maps"
  pass "$name: refused ($err), and pid $pid runs on unchanged"
}
